//! The vocabulary section: the raw bytes of the byte-level BPE tokens 0..=50256.
//!
//! CTranslate2 stores tokens in GPT-2's printable "byte-level unicode" spelling (`Ġ` for a
//! space, ...); whisper.cpp wants the bytes themselves, so each character is mapped back
//! through the inverse of GPT-2's `bytes_to_unicode` table. Special tokens after 50256 are
//! not written: whisper.cpp generates them itself from `n_vocab`.

use super::ImportError;
use super::source::{VocabFile, VocabFormat};

/// Tokens written to the file: the 50256 byte-level merges plus id 50256 (`<|endoftext|>`
/// in the English-only vocabulary, the empty token in the multilingual one).
pub(super) const N_BYTE_LEVEL_TOKENS: usize = 50257;

/// Decodes the first [`N_BYTE_LEVEL_TOKENS`] tokens, after checking that the vocabulary
/// has one token per row of the model's embedding (a vocabulary of another model fails).
pub(super) fn decode(file: &VocabFile, n_vocab: u32) -> Result<Vec<Vec<u8>>, ImportError> {
    let err = |problem: String| ImportError::Vocabulary {
        file: file.label.clone(),
        problem,
    };
    let tokens = match file.format {
        VocabFormat::Text => split_lines(&file.bytes)
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect(),
        VocabFormat::Json => parse_json_strings(&file.bytes)
            .map_err(|e| err(format!("not a JSON array of strings: {e}")))?,
    };
    if tokens.len() != n_vocab as usize {
        return Err(err(format!(
            "has {} tokens but the model's embedding has {n_vocab} rows: vocabulary and model.bin are from different models",
            tokens.len()
        )));
    }
    tokens
        .iter()
        .take(N_BYTE_LEVEL_TOKENS)
        .enumerate()
        .map(|(id, token)| {
            let text = std::str::from_utf8(token)
                .map_err(|_| err(format!("token {id} (line {}) is not UTF-8", id + 1)))?;
            token_bytes(text).ok_or_else(|| {
                err(format!(
                    "token {id} (line {}) `{text}` has a character outside GPT-2's byte-level alphabet",
                    id + 1
                ))
            })
        })
        .collect()
}

/// One token per line, split on `\n` only: the multilingual vocabulary has an empty token
/// (id 50256), so blank lines are tokens. Only the final newline ends the file.
fn split_lines(bytes: &[u8]) -> Vec<&[u8]> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    body.split(|&b| b == b'\n').collect()
}

/// Whether GPT-2's `bytes_to_unicode` spells byte `b` as the character with the same code:
/// `!`..=`~`, `¡`..=`¬` and `®`..=`ÿ`.
const fn is_printable(b: u32) -> bool {
    matches!(b, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// The 68 other bytes, in increasing order: GPT-2 spells the n-th of them U+0100 + n.
const SHIFTED: [u8; 68] = {
    let mut table = [0u8; 68];
    let (mut b, mut n) = (0u32, 0usize);
    while b < 0x100 {
        if !is_printable(b) {
            table[n] = b as u8;
            n += 1;
        }
        b += 1;
    }
    table
};

/// Inverse of GPT-2's `bytes_to_unicode`.
fn byte_of(c: char) -> Option<u8> {
    let code = c as u32;
    if code < 0x100 {
        return is_printable(code).then_some(code as u8);
    }
    SHIFTED.get((code - 0x100) as usize).copied()
}

/// The bytes a token stands for, or `None` if it uses a character outside the alphabet.
fn token_bytes(token: &str) -> Option<Vec<u8>> {
    token.chars().map(byte_of).collect()
}

/// A minimal reader for `vocabulary.json`, a flat JSON array of strings. Written here
/// rather than pulling in serde_json for one array.
fn parse_json_strings(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 ({e})"))?;
    let mut chars = text.char_indices().peekable();
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        while chars.next_if(|(_, c)| c.is_ascii_whitespace()).is_some() {}
    };
    let expect =
        |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, want: char| match chars.next()
        {
            Some((_, c)) if c == want => Ok(()),
            Some((i, c)) => Err(format!("expected `{want}` at byte {i}, found `{c}`")),
            None => Err(format!("expected `{want}`, found the end")),
        };
    let mut out = Vec::new();
    skip_ws(&mut chars);
    expect(&mut chars, '[')?;
    skip_ws(&mut chars);
    if chars.next_if(|&(_, c)| c == ']').is_none() {
        loop {
            skip_ws(&mut chars);
            expect(&mut chars, '"')?;
            out.push(json_string_body(&mut chars)?.into_bytes());
            skip_ws(&mut chars);
            match chars.next() {
                Some((_, ',')) => continue,
                Some((_, ']')) => break,
                Some((i, c)) => {
                    return Err(format!("expected `,` or `]` at byte {i}, found `{c}`"));
                }
                None => return Err("unterminated array".to_owned()),
            }
        }
    }
    skip_ws(&mut chars);
    match chars.next() {
        None => Ok(out),
        Some((i, _)) => Err(format!("trailing data at byte {i}")),
    }
}

/// The rest of a JSON string after its opening quote, with escapes resolved.
fn json_string_body(
    chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
) -> Result<String, String> {
    let mut s = String::new();
    let hex4 = |chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>| -> Result<u32, String> {
        let mut v = 0;
        for _ in 0..4 {
            let (i, c) = chars.next().ok_or("unterminated \\u escape")?;
            v = v * 16
                + c.to_digit(16)
                    .ok_or(format!("bad hex digit `{c}` at byte {i}"))?;
        }
        Ok(v)
    };
    loop {
        let (i, c) = chars.next().ok_or("unterminated string")?;
        match c {
            '"' => return Ok(s),
            '\\' => {
                let (_, e) = chars.next().ok_or("unterminated escape")?;
                s.push(match e {
                    '"' => '"',
                    '\\' => '\\',
                    '/' => '/',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'u' => {
                        let hi = hex4(chars)?;
                        let code = if (0xD800..0xDC00).contains(&hi) {
                            if chars.next().map(|(_, c)| c) != Some('\\')
                                || chars.next().map(|(_, c)| c) != Some('u')
                            {
                                return Err(format!("lone surrogate at byte {i}"));
                            }
                            let lo = hex4(chars)?;
                            if !(0xDC00..0xE000).contains(&lo) {
                                return Err(format!("bad surrogate pair at byte {i}"));
                            }
                            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        } else {
                            hi
                        };
                        char::from_u32(code).ok_or(format!("invalid code point at byte {i}"))?
                    }
                    other => return Err(format!("bad escape `\\{other}` at byte {i}")),
                });
            }
            c if (c as u32) < 0x20 => {
                return Err(format!("control character in a string at byte {i}"));
            }
            c => s.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_alphabet_round_trips_all_256_bytes() {
        let mut seen = [false; 256];
        for code in (0x21..0x100).chain(0x100..0x144) {
            if let Some(b) = char::from_u32(code).and_then(byte_of) {
                assert!(!seen[b as usize], "byte {b} mapped twice");
                seen[b as usize] = true;
            }
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(byte_of('\u{144}'), None);
        assert_eq!(byte_of(' '), None);
    }

    #[test]
    fn decodes_gpt2_spellings() {
        let cases: &[(&str, &[u8])] = &[
            ("Ġhello", b" hello"),
            ("Ċ", b"\n"),
            ("ĉ", b"\t"),
            ("<|endoftext|>", b"<|endoftext|>"),
            ("", b""),
            ("Ã©", "é".as_bytes()),
            ("Ā", &[0x00]),
            ("ł", &[0xA0]),
            ("Ń", &[0xAD]),
        ];
        for (token, bytes) in cases {
            assert_eq!(token_bytes(token).as_deref(), Some(*bytes), "{token}");
        }
        assert_eq!(token_bytes("a b"), None);
    }

    #[test]
    fn blank_lines_are_tokens_but_the_final_newline_is_not() {
        assert_eq!(split_lines(b"a\n\nb\n"), vec![&b"a"[..], b"", b"b"]);
        assert_eq!(split_lines(b"a\n\nb"), vec![&b"a"[..], b"", b"b"]);
        assert_eq!(split_lines(b"a\n\n"), vec![&b"a"[..], b""]);
        assert!(split_lines(b"").is_empty());
    }

    #[test]
    fn reads_json_vocabularies() {
        let parsed =
            parse_json_strings(br#" ["a", "\u0120b", "", "\"\\\/", "\ud83d\ude00" ] "#).unwrap();
        let expected: Vec<Vec<u8>> = vec![
            b"a".to_vec(),
            "Ġb".as_bytes().to_vec(),
            Vec::new(),
            b"\"\\/".to_vec(),
            "😀".as_bytes().to_vec(),
        ];
        assert_eq!(parsed, expected);
        assert_eq!(parse_json_strings(b"[]").unwrap(), Vec::<Vec<u8>>::new());
        for bad in [
            &b"["[..],
            b"[\"a\"",
            b"[\"a\",]",
            b"{}",
            b"[\"a\"] x",
            b"[\"\\ud800\"]",
            b"[1]",
        ] {
            assert!(
                parse_json_strings(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}

//! Text preparation: Unicode folding (so look-alike digits and invisible characters cannot
//! hide an identifier) and tokenisation of the per-track window.

use crate::transcript::EntityKind;

/// Code points of the digit zero of every decimal-digit block we fold to ASCII.
const DIGIT_ZEROS: &[u32] = &[
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x11066, 0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E950, 0x1FBF0,
];

/// What one original character becomes in the folded text.
enum Fold {
    Keep(char),
    To(char),
    Drop,
}

fn fold(c: char) -> Fold {
    let u = c as u32;
    if c.is_ascii() {
        return if c.is_ascii_control() {
            Fold::To(' ')
        } else {
            Fold::Keep(c)
        };
    }
    for &z in DIGIT_ZEROS {
        if u >= z && u < z + 10 {
            return Fold::To(char::from(b'0' + (u - z) as u8));
        }
    }
    match u {
        // zero-width and other invisible format characters, soft hyphen
        0x00AD
        | 0x034F
        | 0x180E
        | 0x200B..=0x200F
        | 0x202A..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x206F
        | 0xFEFF => Fold::Drop,
        // superscript / subscript / circled digits
        0x00B9 => Fold::To('1'),
        0x00B2 => Fold::To('2'),
        0x00B3 => Fold::To('3'),
        0x2070 => Fold::To('0'),
        0x2074..=0x2079 => Fold::To(char::from(b'0' + (u - 0x2070) as u8)),
        0x2080..=0x2089 => Fold::To(char::from(b'0' + (u - 0x2080) as u8)),
        0x2460..=0x2468 => Fold::To(char::from(b'1' + (u - 0x2460) as u8)),
        0x24EA => Fold::To('0'),
        // full-width ASCII
        0xFF01..=0xFF5E => Fold::To(char::from_u32(u - 0xFF01 + 0x21).unwrap_or(' ')),
        0x2010..=0x2015 | 0x2212 | 0xFE63 => Fold::To('-'),
        0x2018 | 0x2019 | 0x201B | 0x2032 => Fold::To('\''),
        0x3002 | 0xFF61 => Fold::To('.'),
        _ if c.is_whitespace() || c.is_control() => Fold::To(' '),
        _ => Fold::Keep(c),
    }
}

/// What `c` reads as for detection: `None` for an invisible character, the ASCII digit for a
/// look-alike digit, a space for whitespace and control characters, else itself.
pub(crate) fn fold_char(c: char) -> Option<char> {
    match fold(c) {
        Fold::Keep(k) | Fold::To(k) => Some(k),
        Fold::Drop => None,
    }
}

/// A hesitation ("uh", "um", "er" …): skipped by cues and names, and allowed anywhere in a
/// spoken number.
pub(crate) fn is_filler(lower: &str) -> bool {
    matches!(lower, "uh" | "um" | "umm" | "er" | "erm" | "ah" | "hmm")
}

/// The length in characters of the redaction label `text` starts with (`[PHONE]`,
/// `[NAME_2]`: text redacted before, as a reprocess reads it), else 0. A label is read as a
/// mask (`#` characters), like `####`, so that its letters and its pseudonym number never join
/// the words or digits around it: redacting redacted text finds nothing new.
fn label_len(text: &[char]) -> usize {
    if text.first() != Some(&'[') {
        return 0;
    }
    let Some(close) = text.iter().take(32).position(|&c| c == ']') else {
        return 0;
    };
    let inner: String = text[1..close].iter().collect();
    let kind = match inner.rsplit_once('_') {
        Some((kind, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => kind,
        _ => inner.as_str(),
    };
    if EntityKind::ALL.iter().any(|k| k.label() == kind) {
        close + 1
    } else {
        0
    }
}

/// A segment's text folded for detection, with a map back to the original characters.
#[derive(Clone)]
pub(crate) struct Folded {
    /// The folded text (ASCII digits, no invisible characters, no newlines).
    pub text: String,
    /// For every byte of `text`, the index of the original character it came from.
    pub orig: Vec<u32>,
    /// Number of characters in the original text.
    pub orig_len: u32,
}

impl Folded {
    pub fn new(original: &str) -> Folded {
        let mut text = String::with_capacity(original.len());
        let mut orig = Vec::with_capacity(original.len());
        let mut n = 0u32;
        let mut label_left = 0usize;
        let chars: Vec<char> = original.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            if label_left == 0 {
                label_left = label_len(&chars[i..]);
            }
            let folded = if label_left > 0 {
                label_left -= 1;
                Fold::To('#')
            } else {
                fold(c)
            };
            let out = match folded {
                Fold::Keep(k) | Fold::To(k) => k,
                Fold::Drop => {
                    n = i as u32 + 1;
                    continue;
                }
            };
            let before = text.len();
            text.push(out);
            orig.extend(std::iter::repeat_n(i as u32, text.len() - before));
            n = i as u32 + 1;
        }
        Folded {
            text,
            orig,
            orig_len: n,
        }
    }

    /// Original character range covered by folded byte range `[a, b)` (b > a).
    pub fn orig_range(&self, a: usize, b: usize) -> (u32, u32) {
        let s = self.orig[a];
        let e = self.orig[b - 1] + 1;
        (s, e)
    }
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// Letters (any script) with inner apostrophes.
    Word,
    /// ASCII digits.
    Digits,
    /// One punctuation or symbol character.
    Punct,
    /// The boundary between two consecutive segments of one track.
    Break,
}

/// One token of the window text.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub kind: TokKind,
    pub start: usize,
    pub end: usize,
    /// Lower-case form for words; the digits for digit tokens; the character for punctuation.
    pub lower: String,
    /// Whitespace (or a segment break) precedes this token.
    pub gap_before: bool,
    /// Words: first letter is upper case.
    pub cap: bool,
    /// Words: every letter is upper case.
    pub all_caps: bool,
}

impl Token {
    pub fn is_word(&self) -> bool {
        self.kind == TokKind::Word
    }
    pub fn is(&self, w: &str) -> bool {
        self.lower == w
    }
    pub fn punct(&self) -> Option<char> {
        if self.kind == TokKind::Punct {
            self.lower.chars().next()
        } else {
            None
        }
    }
    /// Ends a sentence: `.`, `?`, `!`.
    pub fn is_sentence_end(&self) -> bool {
        matches!(self.punct(), Some('.' | '?' | '!'))
    }
}

/// The marker put between two segments of one track in the window text.
pub(crate) const BREAK: char = '\n';

/// Splits window text into tokens.
pub(crate) fn tokenize(text: &str) -> Vec<Token> {
    let mut toks: Vec<Token> = Vec::with_capacity(text.len() / 4 + 4);
    let mut it = text.char_indices().peekable();
    let mut gap = true;
    while let Some((i, c)) = it.next() {
        if c == BREAK {
            toks.push(Token {
                kind: TokKind::Break,
                start: i,
                end: i + 1,
                lower: String::new(),
                gap_before: true,
                cap: false,
                all_caps: false,
            });
            gap = true;
            continue;
        }
        if c.is_whitespace() {
            gap = true;
            continue;
        }
        if c.is_ascii_digit() {
            let mut end = i + 1;
            while let Some(&(j, d)) = it.peek() {
                if d.is_ascii_digit() {
                    end = j + 1;
                    it.next();
                } else {
                    break;
                }
            }
            toks.push(Token {
                kind: TokKind::Digits,
                start: i,
                end,
                lower: text[i..end].to_string(),
                gap_before: gap,
                cap: false,
                all_caps: false,
            });
        } else if c.is_alphabetic() {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = it.peek() {
                if d.is_alphabetic() || d.is_mark() {
                    end = j + d.len_utf8();
                    it.next();
                } else if d == '\'' {
                    // keep an inner apostrophe ("o'clock", "it's") when a letter follows
                    let rest = &text[j + 1..];
                    if rest.chars().next().is_some_and(|n| n.is_alphabetic()) {
                        end = j + 1;
                        it.next();
                    } else {
                        break;
                    }
                } else {
                    break;
                }
            }
            let word = &text[i..end];
            let cap = c.is_uppercase();
            let all_caps = word.chars().all(|l| !l.is_lowercase());
            toks.push(Token {
                kind: TokKind::Word,
                start: i,
                end,
                lower: word.to_lowercase(),
                gap_before: gap,
                cap,
                all_caps,
            });
        } else {
            toks.push(Token {
                kind: TokKind::Punct,
                start: i,
                end: i + c.len_utf8(),
                lower: c.to_string(),
                gap_before: gap,
                cap: false,
                all_caps: false,
            });
        }
        gap = false;
    }
    toks
}

trait IsMark {
    fn is_mark(&self) -> bool;
}

impl IsMark for char {
    /// Combining marks (Devanagari vowel signs, accents) continue a word.
    fn is_mark(&self) -> bool {
        let u = *self as u32;
        matches!(u, 0x0300..=0x036F | 0x0900..=0x0903 | 0x093A..=0x094F | 0x0951..=0x0957
            | 0x0962 | 0x0963 | 0x0981..=0x0983 | 0x09BC..=0x09D7 | 0x0A01..=0x0A03
            | 0x0A3C..=0x0A51 | 0x0A81..=0x0A83 | 0x0ABC..=0x0ACD | 0x0B01..=0x0B03
            | 0x0BBE..=0x0BCD | 0x0C00..=0x0C04 | 0x0C3E..=0x0C56 | 0x0C81..=0x0C83
            | 0x0CBC..=0x0CD6 | 0x0D00..=0x0D03 | 0x0D3E..=0x0D57)
    }
}

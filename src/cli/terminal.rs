//! Text from the store shown on the operator's terminal. Audit rows can hold what a client sent
//! (a key id, a provider name, a source address) and whatever someone with the database's
//! file wrote into it; printed raw, an escape sequence could rewrite the screen, a newline
//! forge a row, a 10 kB value bury the rest. Nothing read back from the store reaches the
//! terminal except through [`printable`] (text) or [`json_line`] (JSON).

use std::io;

/// Bidirectional-text controls: they reorder what follows on the line ("Trojan Source"),
/// so a row could read differently from what it holds.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` must not reach a terminal as it is: C0 controls (ESC, CR, LF, …), DEL, C1
/// controls (U+0080–U+009F, among them the one-character CSI) and bidi controls.
fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// `field` as one line safe to print: unsafe characters escaped as Rust writes them (`\n`,
/// `\r`, `\u{1b}`, `\u{202e}`), backslashes doubled (so an escape cannot be faked by sending
/// its text), and at most `max` characters of output, then `…[+N bytes]` for the rest.
pub fn printable(field: &str, max: usize) -> String {
    let mut out = String::with_capacity(field.len().min(max) + 16);
    let mut shown = 0;
    for (i, c) in field.char_indices() {
        let piece: String = if c == '\\' {
            "\\\\".into()
        } else if is_bidi_control(c) {
            c.escape_unicode().collect()
        } else if c.is_control() {
            c.escape_debug().collect()
        } else {
            c.into()
        };
        let width = piece.chars().count();
        if shown + width > max {
            out.push_str(&format!("…[+{} bytes]", field.len() - i));
            return out;
        }
        out.push_str(&piece);
        shown += width;
    }
    out
}

/// One JSON line for `value`, with every character [`printable`] escapes written as a `\uXXXX`
/// escape: the same JSON value, lossless and uncut (it is for programs), but nothing in it a
/// terminal acts on. (serde_json escapes only quotes, backslashes and U+0000–U+001F.)
pub fn json_line<T: serde::Serialize>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, TerminalSafe);
    value.serialize(&mut ser)?;
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

/// serde_json's compact output, with [`is_unsafe`] characters outside its own escapes escaped.
struct TerminalSafe;

impl serde_json::ser::Formatter for TerminalSafe {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if is_unsafe(c) {
                writer.write_all(&fragment.as_bytes()[start..i])?;
                // every unsafe character outside serde_json's own escapes is in the BMP
                write!(writer, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::{json_line, printable};

    #[test]
    fn escape_sequences_newlines_and_long_values_are_neutralised() {
        let cases = [
            ("csk_abcd2345", "csk_abcd2345"),
            // clear the screen, then a colour: ESC and CSI shown, not acted on
            ("\u{1b}[2J\u{1b}[31mred", "\\u{1b}[2J\\u{1b}[31mred"),
            ("\u{9b}31m", "\\u{9b}31m"),
            // a forged second row
            (
                "x\n    42  2026-01-01 00:00:00  operator:root",
                "x\\n    42  2026-01-01 00:00:00  operator:root",
            ),
            ("a\rb\tc\u{7f}\u{0}", "a\\rb\\tc\\u{7f}\\0"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
            // the escape's own text, sent as text, stays distinguishable
            ("\\u{1b}", "\\\\u{1b}"),
            ("café ☎ 電話", "café ☎ 電話"),
        ];
        for (raw, shown) in cases {
            assert_eq!(printable(raw, 200), shown, "{raw:?}");
            assert!(!printable(raw, 200).chars().any(char::is_control));
        }
        let long = format!("{}\u{1b}]0;pwned\u{7}", "A".repeat(10_000));
        let shown = printable(&long, 200);
        assert!(shown.starts_with(&"A".repeat(200)), "{shown}");
        assert!(shown.ends_with("…[+9810 bytes]"), "{shown}");
        assert!(shown.chars().count() < 220);
        // an escape is never cut in half by the limit
        assert_eq!(printable("ab\u{1b}", 7), "ab…[+1 bytes]");
        assert_eq!(printable("ab\u{1b}", 8), "ab\\u{1b}");
    }

    #[test]
    fn json_lines_escape_what_serde_leaves_raw() {
        let v = serde_json::json!({"detail": "\u{1b}[2J\u{9b}1m\u{202e}x\ny\u{7f}é"});
        let line = json_line(&v).unwrap();
        assert_eq!(line, r#"{"detail":"\u001b[2J\u009b1m\u202ex\ny\u007fé"}"#);
        assert!(!line.chars().any(|c| c.is_control()));
        let back: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back, v, "the same value");
    }
}

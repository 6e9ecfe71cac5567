//! Check-digit schemes. They only *label* a detection (a digit run that fails Luhn is still
//! removed when its context says "card"); they never let an identifier through on their own.

/// Luhn (ISO/IEC 7812) over ASCII digits.
pub(crate) fn luhn(digits: &str) -> bool {
    if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/// Verhoeff check (Aadhaar's last digit).
pub(crate) fn verhoeff(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let mut c = 0usize;
    for (i, b) in digits.bytes().rev().enumerate() {
        let d = usize::from(b - b'0');
        c = usize::from(VERHOEFF_D[c][usize::from(VERHOEFF_P[i % 8][d])]);
    }
    c == 0
}

/// The Verhoeff check digit to append to `digits` (tests build valid Aadhaar numbers with it).
#[cfg(test)]
pub(crate) fn verhoeff_digit(digits: &str) -> char {
    (0..10u8)
        .map(|d| char::from(b'0' + d))
        .find(|&d| verhoeff(&format!("{digits}{d}")))
        .unwrap_or('0')
}

/// IBAN mod-97 check on an upper-case alphanumeric string.
pub(crate) fn iban_mod97(iban: &str) -> bool {
    if iban.len() < 15 || iban.len() > 34 || !iban.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (head, tail) = iban.split_at(4);
    let mut rem = 0u32;
    for b in tail.bytes().chain(head.bytes()) {
        let v = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b.to_ascii_uppercase() - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

const GST_CHARS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// GSTIN check character (mod 36 over the first 14 characters).
pub(crate) fn gstin_check(gstin: &str) -> bool {
    let b = gstin.as_bytes();
    if b.len() != 15 {
        return false;
    }
    let mut sum = 0u32;
    for (i, &c) in b[..14].iter().enumerate() {
        let Some(v) = GST_CHARS.iter().position(|&x| x == c.to_ascii_uppercase()) else {
            return false;
        };
        let prod = v as u32 * if i % 2 == 0 { 1 } else { 2 };
        sum += prod / 36 + prod % 36;
    }
    let check = (36 - sum % 36) % 36;
    GST_CHARS[check as usize] == b[14].to_ascii_uppercase()
}

/// North American numbering plan: area and exchange codes start 2–9.
pub(crate) fn nanp(digits: &str) -> bool {
    let d = digits
        .strip_prefix('1')
        .filter(|r| r.len() == 10)
        .unwrap_or(digits);
    let b = d.as_bytes();
    b.len() == 10 && (b'2'..=b'9').contains(&b[0]) && (b'2'..=b'9').contains(&b[3])
}

/// Indian mobile: 10 digits starting 6–9, optionally after 91 or 0.
pub(crate) fn indian_mobile(digits: &str) -> bool {
    let d = digits
        .strip_prefix("91")
        .filter(|r| r.len() == 10)
        .or_else(|| digits.strip_prefix('0').filter(|r| r.len() == 10))
        .unwrap_or(digits);
    d.len() == 10 && matches!(d.as_bytes()[0], b'6'..=b'9')
}

/// Indian landline: trunk 0 + STD code + subscriber number, 11 digits (or 91 + 10).
pub(crate) fn indian_landline(digits: &str) -> bool {
    (digits.len() == 11 && digits.starts_with('0') && !digits.starts_with("00"))
        || (digits.len() == 12
            && digits.starts_with("91")
            && matches!(digits.as_bytes()[2], b'1'..=b'5'))
}

/// UK number: 0 + 9 or 10 digits, or 44 + 9 or 10 digits.
pub(crate) fn uk_phone(digits: &str) -> bool {
    let rest = digits
        .strip_prefix("44")
        .or_else(|| digits.strip_prefix('0'));
    rest.is_some_and(|r| (9..=10).contains(&r.len()) && !r.starts_with('0'))
}

/// US social security number rules (area not 000/666/9xx, group not 00, serial not 0000).
pub(crate) fn ssn_valid(d: &str) -> bool {
    d.len() == 9
        && !d.starts_with("000")
        && !d.starts_with("666")
        && !d.starts_with('9')
        && &d[3..5] != "00"
        && &d[5..] != "0000"
}

/// US ITIN: 9xx with group 50–65, 70–88, 90–92 or 94–99.
pub(crate) fn itin_valid(d: &str) -> bool {
    if d.len() != 9 || !d.starts_with('9') {
        return false;
    }
    let g: u32 = d[3..5].parse().unwrap_or(0);
    matches!(g, 50..=65 | 70..=88 | 90..=92 | 94..=99)
}

//! Spoken-number normalisation: turns runs of digits and number words ("nine eight four one
//! five double two oh seven six", "ninety eight forty one", "98415-22076", "4 1 1 1",
//! "one lakh fifty thousand", and the recogniser's hyphen-joined "4-triple-1",
//! "double-1-double-1", "6-oh") into the digit string a listener would write down.
//!
//! The reading follows how people say identifiers: every spoken group is written out and the
//! groups are concatenated ("twenty seven fifty two" → `2752`, "oh seven" → `07`), while a
//! single compositional number keeps its value ("five hundred and ninety nine" → `599`,
//! "thirty two thousand" → `32000`), which is what lets prices and quantities be told apart.

use super::text::{TokKind, Token, is_filler};

/// One spoken or written group inside a run.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub digits: String,
    /// Written with digit characters (not number words).
    pub written: bool,
    /// The separator character before this group ('\0' = none or a space, '\n' = segment break).
    pub sep_before: char,
}

/// A maximal run of number tokens in the window.
#[derive(Clone, Debug)]
pub(crate) struct NumRun {
    /// Token index range `[lo, hi)`.
    pub lo: usize,
    pub hi: usize,
    pub groups: Vec<Group>,
    /// The digit reading (all groups concatenated), capped at `MAX_DIGITS`.
    pub digits: String,
    /// A scale word (hundred, thousand, lakh, crore, million) was used.
    pub has_scale: bool,
    /// Spoken or written with a leading plus ("+91", "plus nine one").
    pub plus: bool,
}

/// Runs longer than this are truncated for classification (they are redacted whole anyway).
pub(crate) const MAX_DIGITS: usize = 64;

impl NumRun {
    pub fn n(&self) -> usize {
        self.digits.len()
    }
    /// A single compositional number that used a scale word: a quantity reading.
    pub fn single_value_with_scale(&self) -> bool {
        self.has_scale && self.groups.len() == 1
    }
}

pub(crate) fn ones(w: &str) -> Option<u64> {
    Some(match w {
        "zero" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        _ => return None,
    })
}

pub(crate) fn teens(w: &str) -> Option<u64> {
    Some(match w {
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        _ => return None,
    })
}

pub(crate) fn tens(w: &str) -> Option<u64> {
    Some(match w {
        "twenty" => 20,
        "thirty" => 30,
        "forty" | "fourty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        _ => return None,
    })
}

pub(crate) fn scale(w: &str) -> Option<u64> {
    Some(match w {
        "thousand" => 1_000,
        "lakh" | "lakhs" | "lac" | "lacs" => 100_000,
        "million" | "millions" => 1_000_000,
        "crore" | "crores" => 10_000_000,
        "billion" => 1_000_000_000,
        _ => return None,
    })
}

/// Ordinal words and their value ("third" → 3, "twentieth" → 20).
pub(crate) fn ordinal(w: &str) -> Option<u64> {
    Some(match w {
        "first" => 1,
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "fifth" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        "tenth" => 10,
        "eleventh" => 11,
        "twelfth" => 12,
        "thirteenth" => 13,
        "fourteenth" => 14,
        "fifteenth" => 15,
        "sixteenth" => 16,
        "seventeenth" => 17,
        "eighteenth" => 18,
        "nineteenth" => 19,
        "twentieth" => 20,
        "thirtieth" => 30,
        _ => return None,
    })
}

/// A word that is a number by itself (not "oh", "double", "and", which depend on neighbours).
pub(crate) fn is_number_word(w: &str) -> bool {
    ones(w).is_some() || teens(w).is_some() || tens(w).is_some() || w == "hundred"
}

fn single_digit_word(t: &Token) -> Option<char> {
    match t.kind {
        TokKind::Digits if t.lower.len() == 1 => t.lower.chars().next(),
        TokKind::Word => match t.lower.as_str() {
            "oh" | "o" => Some('0'),
            w => ones(w).map(|v| char::from(b'0' + v as u8)),
        },
        _ => None,
    }
}

/// Index of the first token at or after `i` that is not a segment break.
fn after_break(toks: &[Token], i: usize) -> Option<usize> {
    (i..toks.len()).find(|&k| toks[k].kind != TokKind::Break)
}

/// What a "double" / "triple" multiplies in token `t`: its digit, and any digits written after
/// it in the same token — the recogniser writes "triple five oh one oh one" as "Triple 50101".
fn multiplied_digit(t: &Token) -> Option<(char, &str)> {
    if let Some(d) = single_digit_word(t) {
        return Some((d, ""));
    }
    match t.kind {
        TokKind::Digits => t.lower.chars().next().map(|d| (d, &t.lower[1..])),
        _ => None,
    }
}

/// The token holding the digit a "double" / "triple" at `i` multiplies: the next token, or the
/// first one of the next segment, or the one after a glued hyphen ("triple-1", "double-oh").
fn multiplied_at(toks: &[Token], i: usize) -> Option<usize> {
    let mut k = after_break(toks, i + 1)?;
    // "2, 3, double, 2, 9": the recogniser's comma between "double" and its digit
    if toks[k].punct() == Some(',') {
        k = after_break(toks, k + 1)?;
    }
    let t = toks.get(k)?;
    if t.punct() == Some('-') && !t.gap_before {
        let n = toks.get(k + 1)?;
        return (!n.gap_before && multiplied_digit(n).is_some()).then_some(k + 1);
    }
    multiplied_digit(t).is_some().then_some(k)
}

/// Separator words that may stand between the groups of one spoken identifier.
fn is_sep_word(w: &str) -> bool {
    matches!(
        w,
        "dash" | "hyphen" | "space" | "dot" | "point" | "slash" | "stroke" | "oblique"
    )
}

/// Whether token `i` is a number atom by itself.
fn core_numeric(toks: &[Token], i: usize) -> bool {
    let t = &toks[i];
    match t.kind {
        TokKind::Digits => true,
        TokKind::Word => {
            let w = t.lower.as_str();
            if is_number_word(w) {
                return true;
            }
            if scale(w).is_some() {
                // a scale word counts only after a number ("two lakh", not "lakhs of people")
                return i > 0 && core_numeric_no_scale(&toks[i - 1]);
            }
            false
        }
        _ => false,
    }
}

fn core_numeric_no_scale(t: &Token) -> bool {
    match t.kind {
        TokKind::Digits => true,
        TokKind::Word => is_number_word(&t.lower),
        _ => false,
    }
}

/// Whether token `i` belongs to a number run, given its neighbours.
fn numeric_at(toks: &[Token], i: usize) -> bool {
    if core_numeric(toks, i) {
        return true;
    }
    let t = &toks[i];
    if t.kind != TokKind::Word {
        return false;
    }
    let next_core = i + 1 < toks.len() && core_numeric(toks, i + 1);
    let prev_core = i > 0 && core_numeric(toks, i - 1);
    match t.lower.as_str() {
        // "oh" / "o" is zero next to other digits ("oh seven", "four oh four")
        "oh" | "o" => {
            let next_oh = toks.get(i + 1).is_some_and(|n| {
                n.is("oh")
                    || n.is("o")
                    || ((n.is("double") || n.is("triple")) && numeric_at(toks, i + 1))
            });
            let multiplied = |k: usize| toks[k].is("double") || toks[k].is("triple");
            // "double oh", "double-oh"
            let after_mult = (i > 0 && multiplied(i - 1))
                || (i > 1
                    && toks[i - 1].punct() == Some('-')
                    && !toks[i - 1].gap_before
                    && !t.gap_before
                    && multiplied(i - 2));
            // "6-oh", "oh-7": written joined to a digit by a hyphen
            let glued = |h: usize, d: usize| {
                toks[h].punct() == Some('-')
                    && !toks[h].gap_before
                    && !toks[h.max(d)].gap_before
                    && !toks[h.max(i)].gap_before
                    && core_numeric(toks, d)
            };
            let hyphen_core =
                (i > 1 && glued(i - 1, i - 2)) || (i + 2 < toks.len() && glued(i + 1, i + 2));
            next_core || prev_core || next_oh || after_mult || hyphen_core
        }
        "double" | "triple" | "quadruple" => multiplied_at(toks, i).is_some(),
        // a digit the recogniser wrote as a word that sounds like it, between two numbers:
        // "0 to 32", "769 to 36 to 38" (amounts "3 to 5 days" are told apart later, by unit)
        w if homophone_digit(w).is_some() => prev_core && next_core,
        "a" => toks
            .get(i + 1)
            .is_some_and(|n| n.is("hundred") || n.is("thousand") || n.is("lakh")),
        _ => false,
    }
}

/// The digit a word sounds like ("to" 2, "for" 4, "won" 1, "ate" 8, "tree" 3).
pub(crate) fn homophone_digit(w: &str) -> Option<u64> {
    match w {
        "won" => Some(1),
        "to" | "too" => Some(2),
        "tree" | "free" => Some(3),
        "for" | "fore" => Some(4),
        "ate" => Some(8),
        _ => None,
    }
}

/// Finds every number run in the token list.
pub(crate) fn find_runs(toks: &[Token]) -> Vec<NumRun> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if !numeric_at(toks, i) {
            i += 1;
            continue;
        }
        let lo = i;
        let mut plus = false;
        if lo > 0 && (toks[lo - 1].is("plus") || toks[lo - 1].punct() == Some('+')) {
            plus = true;
        }
        // extend: numeric tokens, separators between numeric tokens, "and" after hundred/scale
        let mut hi = i + 1;
        loop {
            if hi < toks.len() && numeric_at(toks, hi) {
                // letters glued to digits ("7B", "5G") end the run before the glued token
                hi += 1;
                continue;
            }
            // one or two separators followed by a numeric token
            let mut j = hi;
            let mut seps = 0;
            while j < toks.len() && seps < 2 {
                let t = &toks[j];
                let is_sep = match t.kind {
                    TokKind::Break => true,
                    TokKind::Punct => {
                        !matches!(t.punct(), Some('?' | '!' | '%' | '$' | '₹' | '£' | '€'))
                    }
                    TokKind::Word => {
                        is_sep_word(&t.lower)
                            || is_filler(&t.lower)
                            || (t.is("and")
                                && j > 0
                                && (toks[j - 1].is("hundred")
                                    || scale(&toks[j - 1].lower).is_some())
                                && toks.get(j + 1).is_some_and(|n| {
                                    n.kind == TokKind::Word && is_number_word(&n.lower)
                                }))
                    }
                    TokKind::Digits => false,
                };
                if !is_sep {
                    break;
                }
                // a hesitation inside a number ("one five, uh, eight two") does not end it
                if !is_filler(&t.lower) {
                    seps += 1;
                }
                j += 1;
            }
            if seps > 0 && j < toks.len() && numeric_at(toks, j) && !is_ordinal_suffix(toks, j) {
                hi = j + 1;
                continue;
            }
            break;
        }
        runs.push(parse_run(toks, lo, hi, plus));
        i = hi;
    }
    runs
}

/// "st", "nd", "rd", "th" glued to the digits before it.
fn is_ordinal_suffix(toks: &[Token], i: usize) -> bool {
    let t = &toks[i];
    t.kind == TokKind::Word
        && !t.gap_before
        && i > 0
        && toks[i - 1].kind == TokKind::Digits
        && matches!(t.lower.as_str(), "st" | "nd" | "rd" | "th")
}

#[derive(Clone, Copy, PartialEq)]
enum Last {
    None,
    Ones,
    Teens,
    Tens,
    Hundred,
    HundredAnd,
    Scale,
}

struct Parser {
    groups: Vec<Group>,
    total: u64,
    cur: Option<u64>,
    last: Last,
    active: bool,
    pending_sep: char,
}

impl Parser {
    fn flush(&mut self) {
        if self.active && !(self.total == 0 && self.cur.is_none()) {
            let v = self.total.saturating_add(self.cur.unwrap_or(0));
            self.push(v.to_string(), false);
        }
        self.total = 0;
        self.cur = None;
        self.last = Last::None;
        self.active = false;
    }
    fn push(&mut self, digits: String, written: bool) {
        let sep = std::mem::replace(&mut self.pending_sep, '\0');
        self.groups.push(Group {
            digits,
            written,
            sep_before: sep,
        });
    }
    fn small(&mut self, v: u64, typ: Last) {
        match self.cur {
            None => {
                if self.last != Last::Scale && self.active {
                    self.flush();
                }
                self.cur = Some(v);
            }
            Some(c) => {
                let tens_then_ones = typ == Last::Ones
                    && self.last == Last::Tens
                    && c % 10 == 0
                    && c % 100 != 0
                    && v != 0;
                let after_hundred =
                    (self.last == Last::Hundred && v != 0) || self.last == Last::HundredAnd;
                if tens_then_ones || after_hundred {
                    self.cur = Some(c + v);
                } else {
                    self.flush();
                    self.cur = Some(v);
                }
            }
        }
        self.active = true;
        self.last = typ;
    }
}

/// Parses the tokens `[lo, hi)` as one run (used to read the parts of a run split at a
/// segment break).
pub(crate) fn parse_range(toks: &[Token], lo: usize, hi: usize, plus: bool) -> NumRun {
    parse_run(toks, lo, hi, plus)
}

fn parse_run(toks: &[Token], lo: usize, hi: usize, plus: bool) -> NumRun {
    let mut p = Parser {
        groups: Vec::new(),
        total: 0,
        cur: None,
        last: Last::None,
        active: false,
        pending_sep: '\0',
    };
    let mut has_scale = false;
    let mut i = lo;
    while i < hi {
        let t = &toks[i];
        match t.kind {
            TokKind::Digits => {
                p.flush();
                p.push(t.lower.clone(), true);
            }
            TokKind::Break => {
                p.flush();
                p.pending_sep = '\n';
            }
            TokKind::Punct => {
                p.flush();
                if p.pending_sep != '\n' {
                    p.pending_sep = t.punct().unwrap_or('\0');
                }
            }
            TokKind::Word => {
                let w = t.lower.as_str();
                if let Some(v) = ones(w) {
                    p.small(v, Last::Ones);
                } else if w == "oh" || w == "o" {
                    p.small(0, Last::Ones);
                } else if let Some(v) = teens(w) {
                    p.small(v, Last::Teens);
                } else if let Some(v) = tens(w) {
                    p.small(v, Last::Tens);
                } else if w == "hundred" {
                    has_scale = true;
                    match p.cur {
                        None => p.cur = Some(100),
                        Some(c) if c < 100 => p.cur = Some(c * 100),
                        Some(_) => {
                            p.flush();
                            p.cur = Some(100);
                        }
                    }
                    p.active = true;
                    p.last = Last::Hundred;
                } else if let Some(m) = scale(w) {
                    has_scale = true;
                    p.total = p.total.saturating_add(p.cur.unwrap_or(1).saturating_mul(m));
                    p.cur = None;
                    p.active = true;
                    p.last = Last::Scale;
                } else if w == "and" {
                    if p.last == Last::Hundred {
                        p.last = Last::HundredAnd;
                    }
                } else if w == "a" {
                    p.small(1, Last::Ones);
                } else if let Some(v) = homophone_digit(w) {
                    p.small(v, Last::Ones);
                } else if matches!(w, "double" | "triple" | "quadruple") {
                    let k = match w {
                        "double" => 2,
                        "triple" => 3,
                        _ => 4,
                    };
                    // "double" may end one segment and its digit begin the next
                    let at = multiplied_at(toks, i).filter(|&j| j < hi);
                    if let Some((j, (d, rest))) =
                        at.and_then(|j| toks.get(j).and_then(multiplied_digit).map(|d| (j, d)))
                    {
                        p.flush();
                        p.push(
                            std::iter::repeat_n(d, k).chain(rest.chars()).collect(),
                            false,
                        );
                        i = j + 1;
                        continue;
                    }
                } else if is_sep_word(w) {
                    p.flush();
                    if p.pending_sep != '\n' {
                        p.pending_sep = match w {
                            "dot" | "point" => '.',
                            "slash" | "stroke" | "oblique" => '/',
                            _ => '-',
                        };
                    }
                }
            }
        }
        i += 1;
    }
    p.flush();
    let mut digits = String::new();
    for g in &p.groups {
        if digits.len() + g.digits.len() > MAX_DIGITS {
            digits.push_str(&g.digits[..MAX_DIGITS - digits.len()]);
            break;
        }
        digits.push_str(&g.digits);
    }
    NumRun {
        lo,
        hi,
        groups: p.groups,
        digits,
        has_scale,
        plus,
    }
}

/// Parses a standalone number phrase (tests and cue helpers): the digit reading.
#[cfg(test)]
pub(crate) fn digits_of(text: &str) -> String {
    let toks = super::text::tokenize(text);
    find_runs(&toks)
        .into_iter()
        .map(|r| r.digits)
        .collect::<Vec<_>>()
        .join(" ")
}

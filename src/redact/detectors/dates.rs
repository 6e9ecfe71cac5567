//! Dates said with a month name ("10th October 1960", "June eighteenth, nineteen sixty
//! nine"): dates of birth and card expiry dates, told by the cue words around them; other dates
//! are kept, except full dates old enough to be a birth date. It only hands its finds to
//! `detect`: it never logs or keeps the text it reads.

use crate::redact::cues::Cue;
use crate::redact::numbers;
use crate::redact::text::{TokKind, Token};
use crate::transcript::EntityKind as K;
use crate::transcript::EntityKind;

use super::lexicon::{MONTHS, MONTHS_ALSO_WORDS, ORDINAL_SUFFIXES};
use super::{Found, Scan};

fn month_at(toks: &[Token], i: usize) -> bool {
    let t = &toks[i];
    if t.kind != TokKind::Word || !MONTHS.contains(&t.lower.as_str()) {
        return false;
    }
    // "may", "march" are ordinary words unless capitalised or next to a number
    if MONTHS_ALSO_WORDS.contains(&t.lower.as_str()) {
        let near_num = |k: usize| {
            toks.get(k).is_some_and(|x| {
                x.kind == TokKind::Digits
                    || numbers::is_number_word(&x.lower)
                    || numbers::ordinal(&x.lower).is_some()
            })
        };
        return t.cap
            && (near_num(i + 1)
                || (i > 0 && near_num(i - 1))
                || (i > 1 && toks[i - 1].is("of") && near_num(i - 2)));
    }
    true
}

fn is_day_token(t: &Token) -> bool {
    numbers::ordinal(&t.lower).is_some() || ORDINAL_SUFFIXES.contains(&t.lower.as_str())
}

/// Dates said in full (day, month name and year) more than this many years ago are taken for
/// dates of birth even with no word about birth: on a support call such a date is nearly always
/// the caller's birth date given for verification (the recogniser often drops the question).
const BIRTH_MIN_AGE_YEARS: i64 = 16;

/// The current calendar year (UTC), from the system clock; 2025 if the clock is unset.
fn current_year() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let y = 1970 + (secs as i64) / 31_556_952;
    if y < 2025 { 2025 } else { y }
}

/// Whether the tokens `[lo, hi)` around a month name hold a day and a year at least
/// [`BIRTH_MIN_AGE_YEARS`] in the past: "10th October 1960", "June 18, 1969".
fn full_old_date(scan: &Scan<'_>, lo: usize, hi: usize) -> bool {
    let (toks, runs, run_of_tok) = (scan.toks, &scan.runs, &scan.run_of_tok);
    let latest = current_year() - BIRTH_MIN_AGE_YEARS;
    let mut day = toks[lo..hi]
        .iter()
        .any(|t| numbers::ordinal(&t.lower).is_some_and(|d| (1..=31).contains(&d)));
    let mut year = false;
    let mut seen = Vec::new();
    for &ri in run_of_tok[lo..hi].iter().flatten() {
        if seen.contains(&ri) {
            continue;
        }
        seen.push(ri);
        for g in &runs[ri].groups {
            let v = g.digits.parse::<i64>().unwrap_or(-1);
            if g.digits.len() == 4 && (1900..=latest).contains(&v) {
                year = true;
            } else if g.digits.len() <= 2 && (1..=31).contains(&v) {
                day = true;
            }
        }
    }
    day && year
}

/// Dates said with a month name: a date of birth when the context says so, a card expiry date
/// when that is the context. Other dates are left alone.
pub(super) fn dates(scan: &Scan<'_>, out: &mut Vec<Found>) {
    let (toks, run_of_tok, cue_hits, ctx) = (scan.toks, &scan.run_of_tok, &scan.cue_hits, scan.ctx);
    for i in 0..toks.len() {
        if !month_at(toks, i) {
            continue;
        }
        // left: "the tenth of", "10th", "twenty third"
        let mut lo = i;
        let mut k = i;
        let mut steps = 0;
        while k > 0 && steps < 5 {
            let p = &toks[k - 1];
            let ok = is_day_token(p)
                || run_of_tok[k - 1].is_some()
                || p.is("of")
                || p.is("the")
                || p.kind == TokKind::Break
                || matches!(p.punct(), Some(',' | '-' | '/'));
            if !ok {
                break;
            }
            k -= 1;
            steps += 1;
            if is_day_token(p) || run_of_tok[k].is_some() {
                lo = k;
            }
        }
        // right: day and year ("June eighteenth, nineteen sixty nine"), within the segment
        let mut hi = i + 1;
        let mut k = i + 1;
        while k < toks.len() && k - i < 12 {
            let p = &toks[k];
            if p.is_sentence_end() && toks.get(k + 1).is_none_or(|x| x.gap_before) {
                break;
            }
            let ok = p.kind == TokKind::Break
                || is_day_token(p)
                || run_of_tok[k].is_some()
                || p.is("the")
                || p.is("of")
                || matches!(p.punct(), Some(',' | '-' | '/'));
            if !ok {
                break;
            }
            k += 1;
            if is_day_token(p) || run_of_tok[k - 1].is_some() {
                hi = k;
            }
        }
        let near = |kind: EntityKind| {
            cue_hits
                .iter()
                .any(|h| h.cue == Cue::Entity(kind) && h.hi <= lo && h.hi + 16 >= lo)
                || cue_hits
                    .iter()
                    .any(|h| h.cue == Cue::Entity(kind) && h.lo >= hi && h.lo <= hi + 3)
                || ctx
                    .inherited
                    .get(lo)
                    .is_some_and(|c| c.contains(&Cue::Entity(kind)))
        };
        let kind = if near(K::DateOfBirth) {
            K::DateOfBirth
        } else if near(K::CardExpiry) {
            K::CardExpiry
        } else if full_old_date(scan, lo, hi) {
            K::DateOfBirth
        } else {
            continue;
        };
        let canon = toks[lo..hi]
            .iter()
            .filter(|t| t.kind != TokKind::Punct)
            .map(|t| t.lower.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        out.push(scan.found(kind, lo, hi, canon));
    }
}

//! Identifiers said as numbers: phone numbers, payment cards, bank accounts, sort codes,
//! Aadhaar, SSN and ITIN, OTPs, PINs, CVVs, ZIP codes and IPv4 addresses, told from quantities,
//! prices and times by the cue words around a number run, the other party's question, and the
//! run's shape. Like every detector it only hands its finds to `detect`: it never logs or keeps
//! the text it reads.

use crate::redact::checksums;
use crate::redact::cues::{self, Cue, CueHit};
use crate::redact::numbers::{self, NumRun};
use crate::redact::text::{TokKind, Token};
use crate::transcript::EntityKind as K;
use crate::transcript::EntityKind;

use super::lexicon::{
    ANSWER_FILLERS, ANSWER_OPENERS, CLOCK_WORDS, DAY_PARTS, MONEY_LINKS, MONTHS,
    QUALIFIER_DETERMINERS, QUALIFIER_PREPOSITIONS, WEEKDAYS, is_clause_word, is_digit_homophone,
};
use super::{Found, Scan};

/// The tail of a dictated identifier that the recogniser cut off from it with a misheard word:
/// "[PHONE] to 8 6" ("… double oh, two eight six"), "IFSCICIC, Trippolo 2543" ("… triple oh
/// two five four three"). A number run not found by itself, not a quantity, that follows an
/// identifier in the same sentence with at most one word between is taken with it when either
/// the word sounds like a digit and the run is dictated digit by digit (or has 3+ digits), or
/// the run has 3+ digits and ends the sentence.
pub(super) fn continuations(scan: &Scan<'_>, out: &mut Vec<Found>) {
    let (toks, ws) = (scan.toks, scan.words);
    let numeric = |k: EntityKind| {
        matches!(
            k,
            K::Phone
                | K::Card
                | K::BankAccount
                | K::Ifsc
                | K::IdNumber
                | K::Iban
                | K::Swift
                | K::Aadhaar
                | K::Pan
                | K::Passport
                | K::VoterId
                | K::Gstin
                | K::Ssn
                | K::Itin
                | K::SortCode
                | K::Otp
        )
    };
    let mut extra = Vec::new();
    for r in &scan.runs {
        let n = r.n();
        let (rs, re) = (toks[r.lo].start, toks[r.hi - 1].end);
        if n < 2 || out.iter().any(|f| f.start < re && f.end > rs) || is_quantity(scan, r) {
            continue;
        }
        // the identifier ending closest before the run
        let Some(prev) = out
            .iter()
            .filter(|f| f.end <= rs && numeric(f.kind))
            .max_by_key(|f| f.end)
        else {
            continue;
        };
        let gap_lo = toks.partition_point(|t| t.start < prev.end);
        let gap = &toks[gap_lo..r.lo];
        if gap.len() > 3
            || gap
                .iter()
                .any(|t| t.is_sentence_end() || t.kind == TokKind::Digits)
        {
            continue;
        }
        let words: Vec<&Token> = gap.iter().filter(|t| t.kind == TokKind::Word).collect();
        if words.len() > 1
            || gap
                .iter()
                .any(|t| t.kind == TokKind::Punct && !matches!(t.punct(), Some(',' | '-')))
        {
            continue;
        }
        let dictated = r.groups.iter().all(|g| g.digits.len() == 1);
        let ends_sentence = toks
            .get(r.hi)
            .is_none_or(|t| t.is_sentence_end() || t.kind == TokKind::Break);
        let ok = match words.first() {
            Some(w) if is_digit_homophone(&w.lower) => dictated || n >= 3,
            Some(w) => {
                n >= 3
                    && ends_sentence
                    && w.cap
                    && !is_clause_word(&w.lower)
                    && !ws.units.contains(w.lower.as_str())
                    && !ws.money.contains(w.lower.as_str())
                    && !MONTHS.contains(&w.lower.as_str())
                    && !WEEKDAYS.contains(&w.lower.as_str())
            }
            None => n >= 3 && ends_sentence,
        };
        if ok {
            extra.push(Found {
                kind: prev.kind,
                start: prev.start,
                end: re,
                canon: format!("{}{}", prev.canon, r.digits),
            });
        }
    }
    out.extend(extra);
}

/// A run that continues across a segment break is read whole (the parts of one identifier);
/// when every part is an identifier on its own, each keeps its own kind.
pub(super) fn classify_across_breaks(scan: &Scan<'_>, r: &NumRun, out: &mut Vec<Found>) {
    let toks = scan.toks;
    let whole = classify_run(scan, r);
    let breaks: Vec<usize> = (r.lo..r.hi)
        .filter(|&k| toks[k].kind == TokKind::Break)
        .collect();
    if breaks.is_empty() {
        if let Some((kind, lo, hi)) = whole {
            out.push(scan.found(kind, lo, hi, r.digits.clone()));
        }
        return;
    }
    let mut parts = Vec::new();
    let mut s = r.lo;
    for &b in breaks.iter().chain(std::iter::once(&r.hi)) {
        let (mut a, mut e) = (s, b);
        while a < e && matches!(toks[a].kind, TokKind::Punct | TokKind::Break) {
            a += 1;
        }
        while e > a && matches!(toks[e - 1].kind, TokKind::Punct | TokKind::Break) {
            e -= 1;
        }
        if a < e {
            parts.push(numbers::parse_range(toks, a, e, s == r.lo && r.plus));
        }
        s = b + 1;
    }
    let each: Vec<_> = parts.iter().map(|p| classify_run(scan, p)).collect();
    // a card said group by group over several segments: the checksum of the whole settles it
    let whole_card = whole.is_some_and(|(k, _, _)| k == K::Card)
        && (13..=19).contains(&r.n())
        && checksums::luhn(&r.digits);
    // parts that are only identifiers of unknown kind (said digit by digit) are the pieces
    // of a whole whose kind is known: "nine eight four one five | double two oh seven six"
    let whole_known = whole.is_some_and(|(k, _, _)| k != K::IdNumber)
        && each
            .iter()
            .all(|c| c.is_some_and(|(k, _, _)| k == K::IdNumber));
    if each.iter().all(Option::is_some) && !whole_card && !whole_known {
        for (p, c) in parts.iter().zip(each) {
            if let Some((kind, lo, hi)) = c {
                out.push(scan.found(kind, lo, hi, p.digits.clone()));
            }
        }
    } else if let Some((kind, lo, hi)) = whole {
        out.push(scan.found(kind, lo, hi, r.digits.clone()));
    } else {
        for (p, c) in parts.iter().zip(each) {
            if let Some((kind, lo, hi)) = c {
                out.push(scan.found(kind, lo, hi, p.digits.clone()));
            }
        }
    }
}

/// Whether a number run reads as a quantity, price, duration, time or decimal.
fn is_quantity(scan: &Scan<'_>, r: &NumRun) -> bool {
    let (toks, ws) = (scan.toks, scan.words);
    let n = r.n();
    if r.single_value_with_scale() {
        return true;
    }
    // unit after ("200 rupees", "5 %", "2 GB", "7 working days")
    if let Some(t) = toks.get(r.hi) {
        if t.punct() == Some('%') {
            return true;
        }
        if t.kind == TokKind::Word && ws.units.contains(t.lower.as_str()) {
            return !(t.lower == "k" || t.lower == "x") || !t.gap_before;
        }
        if t.kind == TokKind::Word && (t.lower == "g" || t.lower == "gb") && n <= 2 {
            return true;
        }
    }
    // money word or currency symbol just before
    for back in 1..=3 {
        let Some(j) = r.lo.checked_sub(back) else {
            break;
        };
        let t = &toks[j];
        if ws.money.contains(t.lower.as_str()) {
            // "$80.265" after "Colorado": no price has three decimals; the recogniser formatted
            // a ZIP code (or another identifier) as money
            return !r
                .groups
                .iter()
                .any(|g| g.sep_before == '.' && g.digits.len() >= 3);
        }
        if t.kind == TokKind::Break || t.is_sentence_end() {
            break;
        }
        if back == 1 && t.kind == TokKind::Word && !MONEY_LINKS.contains(&t.lower.as_str()) {
            break;
        }
    }
    let gs = &r.groups;
    // written with thousands separators: 4,999 / 1,50,000 / 12,345,678
    if gs.len() >= 2
        && gs.iter().all(|g| g.written)
        && gs.iter().skip(1).all(|g| g.sep_before == ',')
    {
        let western = gs[0].digits.len() <= 3 && gs[1..].iter().all(|g| g.digits.len() == 3);
        let indian = gs[0].digits.len() <= 2
            && gs.last().is_some_and(|g| g.digits.len() == 3)
            && gs[1..gs.len() - 1].iter().all(|g| g.digits.len() == 2);
        if western || indian {
            return true;
        }
    }
    // decimals: 4.5, 99.99
    if gs.len() == 2 && gs[1].sep_before == '.' && gs[1].digits.len() <= 2 && n <= 7 {
        return true;
    }
    // times: 7:30, 10.30 am, 7:30-8:30, "seven thirty pm"
    if looks_like_times(r) {
        return true;
    }
    if n <= 4
        && let Some(t) = toks.get(r.hi)
    {
        if CLOCK_WORDS.contains(&t.lower.as_str()) {
            return true;
        }
        if t.lower == "a" || t.lower == "p" {
            return toks.get(r.hi + 1).is_some_and(|d| d.punct() == Some('.'))
                || toks.get(r.hi + 1).is_some_and(|m| m.lower == "m");
        }
        if t.lower == "in" && toks.get(r.hi + 1).is_some_and(|x| x.lower == "the") {
            return toks
                .get(r.hi + 2)
                .is_some_and(|x| DAY_PARTS.contains(&x.lower.as_str()));
        }
    }
    false
}

fn looks_like_times(r: &NumRun) -> bool {
    let gs = &r.groups;
    if gs.len() < 2 || !gs.len().is_multiple_of(2) {
        return false;
    }
    gs.chunks(2).all(|p| {
        p[1].sep_before == ':'
            && p[0].digits.len() <= 2
            && p[1].digits.len() == 2
            && p[0].digits.parse::<u32>().is_ok_and(|h| h <= 23)
            && p[1].digits.parse::<u32>().is_ok_and(|m| m <= 59)
    }) && gs
        .chunks(2)
        .skip(1)
        .all(|p| matches!(p[0].sep_before, '-' | ',' | '\0'))
}

/// The kind a cue gives a run of `n` digits, if it fits.
fn cue_kind(cue: Cue, n: usize, further: Option<Cue>, r: &NumRun) -> Option<EntityKind> {
    let digits = r.digits.as_str();
    match cue {
        // a year of birth is 19xx or 20xx; "eleven thirty" after "date of birth" is a time,
        // "1/5/85" a date
        Cue::Entity(K::DateOfBirth) if n == 4 => (digits
            .parse::<u32>()
            .is_ok_and(|y| (1900..=2030).contains(&y))
            || (r.groups.len() == 3
                && r.groups[1..]
                    .iter()
                    .all(|g| matches!(g.sep_before, '/' | '-' | '.'))))
        .then_some(K::DateOfBirth),
        Cue::Entity(k) if cues::fits(k, n) => Some(k),
        Cue::Number if n >= 6 => Some(K::IdNumber),
        Cue::Ending => match further {
            Some(Cue::Entity(k)) if cues::fits_ending(k, n) => Some(k),
            _ if (2..=6).contains(&n) => Some(K::IdNumber),
            _ => None,
        },
        _ => None,
    }
}

/// Label of an identifier run found on its shape alone (no cue).
fn shape_kind(r: &NumRun) -> Option<EntityKind> {
    let d = r.digits.as_str();
    let n = r.n();
    if r.plus && (8..=15).contains(&n) {
        return Some(K::Phone);
    }
    let phone = checksums::indian_mobile(d)
        || checksums::indian_landline(d)
        || checksums::nanp(d)
        || checksums::uk_phone(d);
    match n {
        0..=5 => None,
        6 => Some(K::IdNumber),
        9 => {
            let spaced = r.groups.len() == 3
                && r.groups[0].digits.len() == 3
                && r.groups[1].digits.len() == 2;
            // 3-3-3: a North American phone number missing a digit, not an SSN (3-2-4)
            let phone_like = r.groups.len() == 3 && r.groups.iter().all(|g| g.digits.len() == 3);
            if phone_like {
                Some(K::Phone)
            } else if checksums::itin_valid(d) {
                Some(K::Itin)
            } else if spaced || checksums::ssn_valid(d) {
                Some(K::Ssn)
            } else {
                Some(K::IdNumber)
            }
        }
        10 | 11 if phone => Some(K::Phone),
        12 if checksums::verhoeff(d) && !d.starts_with('0') && !d.starts_with('1') => {
            Some(K::Aadhaar)
        }
        12 if phone => Some(K::Phone),
        13..=19 if checksums::luhn(d) => Some(K::Card),
        _ => Some(K::IdNumber),
    }
}

fn classify_run(scan: &Scan<'_>, r: &NumRun) -> Option<(EntityKind, usize, usize)> {
    let (toks, cue_hits, ws, ctx) = (scan.toks, &scan.cue_hits, scan.words, scan.ctx);
    let n = r.n();
    if n == 0 {
        return None;
    }
    let lo = if r.plus && r.lo > 0 { r.lo - 1 } else { r.lo };
    let (lo, hi) = widen_brackets(toks, lo, r.hi);
    // IPv4, written or spoken with "dot"
    if r.groups.len() == 4
        && r.groups.iter().skip(1).all(|g| g.sep_before == '.')
        && r.groups.iter().all(|g| g.digits.len() <= 3 && g.digits.parse::<u32>().is_ok_and(|v| v <= 255))
        // written dots are glued ("10.0.0.1"); "4. Triple 1. Double 1." is sentences
        && (r.lo..r.hi).all(|k| toks[k].punct() != Some('.') || toks.get(k + 1).is_some_and(|n| !n.gap_before))
    {
        return Some((K::IpAddress, lo, hi));
    }
    // the same digits as an identifier said earlier in the call: a read-back or a repeat
    if let Some(kind) = ctx.memory.recall_number(&r.digits) {
        return Some((kind, lo, hi));
    }
    let quantity = is_quantity(scan, r);
    if quantity && (n <= 8 || r.has_scale) {
        return None;
    }
    // own cues to the left in the same sentence (nearest first), then just to the right,
    // then the other party's last words
    let shape = shape_kind(r);
    let left_limit = left_cue_limit(scan, r.lo);
    let mut kind = None;
    // a cue followed by a mask (`####`, or a label read as one) before the run was answered
    // already: text redacted before ("PIN ####, … 8120") does not lend its cue to a later run
    let answered = |h: &CueHit| toks[h.hi..r.lo].iter().any(|t| t.punct() == Some('#'));
    let left: Vec<&CueHit> = cue_hits
        .iter()
        .filter(|h| h.hi <= r.lo && h.lo >= left_limit && !answered(h))
        .collect();
    // a cue that only qualifies another noun ("the phone number on the account") gives way
    // to a cue that names the thing asked for
    for weak_too in [false, true] {
        for (k, h) in left.iter().enumerate().rev() {
            if !weak_too && is_qualifier_cue(toks, h) {
                continue;
            }
            let further = left[..k]
                .iter()
                .rev()
                .map(|h| h.cue)
                .find(|c| matches!(c, Cue::Entity(_)));
            if let Some(kd) = cue_kind(h.cue, n, further, r) {
                kind = Some(kd);
                break;
            }
        }
        if kind.is_some() {
            break;
        }
    }
    // "the account number is 2319": the named identifier said right after its name is removed
    // even when the recogniser dropped some of its digits
    if kind.is_none() && n >= 3 {
        kind = left.last().and_then(|h| direct_answer(toks, h, r.lo));
    }
    if kind.is_none() {
        // a cue just to the right labels the run ("4821, that is my PIN"), but not one in a
        // following question ("… 0101. And the account holder's name?")
        kind = cue_hits
            .iter()
            .filter(|h| h.lo >= r.hi && h.lo <= r.hi + 4 && !in_later_question(toks, r.hi, h.lo))
            .find_map(|h| cue_kind(h.cue, n, None, r));
    }
    if kind.is_none()
        && let Some(inh) = ctx.inherited.get(r.lo)
    {
        // the kind the question asked for that also fits the run's shape, else the first
        // specific kind asked for, else a generic "number"
        let fitting: Vec<EntityKind> = inh
            .iter()
            .filter_map(|c| cue_kind(*c, n, None, r))
            .collect();
        let specific = |k: &EntityKind| *k != K::IdNumber;
        kind = fitting
            .iter()
            .find(|k| Some(**k) == shape && specific(k))
            .or_else(|| fitting.iter().find(|k| specific(k)))
            .or(fitting.first())
            .copied();
    }
    // a 5-digit run right after a US state name is a ZIP code (4 digits too, not a year: the
    // recogniser drops digits of a ZIP said fast)
    let not_year = || {
        !(n == 4
            && r.digits
                .parse::<u32>()
                .is_ok_and(|y| (1900..=2099).contains(&y)))
    };
    if kind.is_none() && ((4..=5).contains(&n) && not_year() || n == 9) {
        let mut j = r.lo;
        while j > 0 && matches!(toks[j - 1].kind, TokKind::Punct | TokKind::Break) {
            j -= 1;
        }
        if j > 0 && ws.states.contains(toks[j - 1].lower.as_str()) && toks[j - 1].cap {
            kind = Some(K::Postcode);
        }
    }
    // a bare answer to a question for an identifier ("Two eight three seven...", "It's
    // twenty forty two."): the number is (the first part of) what was asked for, whatever its
    // length — an answer split across turns, a short postcode, a dropped digit
    if kind.is_none() && n >= 2 && !quantity && bare_answer(toks, r, &left) {
        let asked = left.iter().rev().map(|h| h.cue).chain(
            ctx.inherited
                .get(r.lo)
                .copied()
                .unwrap_or_default()
                .iter()
                .copied(),
        );
        kind = asked
            .filter_map(|c| match c {
                Cue::Entity(k) if !matches!(k, K::Name | K::Address | K::Email) => Some(k),
                _ => None,
            })
            .next();
    }
    let kind = match kind {
        // a cue of "number" or an unknown identifier: prefer the shape's label
        Some(K::IdNumber) => shape_kind(r).or(Some(K::IdNumber)),
        Some(K::Phone) if n >= 13 && checksums::luhn(&r.digits) && !r.plus => Some(K::Card),
        Some(k) => Some(k),
        None if quantity => None,
        None => shape_kind(r).or_else(|| (n >= 4 && said_digit_by_digit(r)).then_some(K::IdNumber)),
    };
    let kind = match kind {
        Some(k) => k,
        // interim text: anything long enough to be a piece of an identifier
        None if ctx.interim && n >= 3 && !quantity => K::IdNumber,
        None => return None,
    };
    Some((kind, lo, hi))
}

/// How far left a cue for the run starting at token `lo` may be: 14 tokens, within the sentence
/// (a full stop that ends a segment does not count), and not across a segment break when the
/// other party spoke in between (their question is the context then).
///
/// On a mixed (mono) track the question and its answer share a segment: when the run's own
/// sentence is only a short answer opener ("It is 7811.", "Yes, it's …"), the sentence before
/// it (the question, however it was punctuated) is searched too.
fn left_cue_limit(scan: &Scan<'_>, lo: usize) -> usize {
    let (toks, ctx) = (scan.toks, scan.ctx);
    let other_spoke = ctx
        .inherited
        .get(lo)
        .is_some_and(|c| c.contains(&Cue::Turn));
    let mut k = lo;
    let mut crossed = false;
    while k > 0 && lo - k < if crossed { 20 } else { 14 } {
        let t = &toks[k - 1];
        if t.kind == TokKind::Break && other_spoke {
            break;
        }
        // a full stop or question mark that ends a segment is soft: the next segment may be
        // the answer (a mixed track) or the rest of the sentence
        let soft_stop = matches!(t.punct(), Some('.' | '?'))
            && toks.get(k).is_some_and(|n| n.kind == TokKind::Break);
        if t.is_sentence_end() && !soft_stop {
            if crossed || !is_answer_opener(&toks[k..lo]) || !answer_ends_at_run(toks, lo) {
                break;
            }
            crossed = true;
        }
        k -= 1;
    }
    k
}

/// Whether a run was said one digit at a time ("seven double zero five", "4 1 9 2"): nobody
/// says an amount, a count or a time that way, only an identifier.
fn said_digit_by_digit(r: &NumRun) -> bool {
    r.groups.len() >= 3
        && r.groups.iter().all(|g| {
            let b = g.digits.as_bytes();
            !b.is_empty() && b.len() <= 3 && b.iter().all(|&c| c == b[0])
        })
}

/// Whether the run is all its segment says besides a short answer opening: "Two eight three
/// seven...", "Um, it's twenty forty two."
/// The opening may also name what is given ("My social is …"): the words of a cue.
fn bare_answer(toks: &[Token], r: &NumRun, cues: &[&CueHit]) -> bool {
    let mut s = r.lo;
    while s > 0 && toks[s - 1].kind != TokKind::Break {
        s -= 1;
    }
    let in_cue = |k: usize| cues.iter().any(|h| (h.lo..h.hi).contains(&k));
    let opening = &toks[s..r.lo];
    let only_opening = opening.iter().enumerate().all(|(k, t)| {
        t.kind == TokKind::Punct && t.punct() == Some(',')
            || t.kind == TokKind::Word
                && (ANSWER_OPENERS.contains(&t.lower.as_str())
                    || matches!(
                        t.lower.as_str(),
                        "of" | "course"
                            | "certainly"
                            | "absolutely"
                            | "well"
                            | "number"
                            | "i"
                            | "mean"
                            | "sorry"
                            | "no"
                            | "let"
                            | "me"
                            | "check"
                            | "see"
                    )
                    || in_cue(s + k))
    }) && opening
        .iter()
        .enumerate()
        .filter(|&(k, t)| t.kind == TokKind::Word && !in_cue(s + k))
        .count()
        <= 4;
    // the rest of the sentence: "Sure, it's 983. Great, thank you." is a bare answer too
    let rest_empty = toks[r.hi..]
        .iter()
        .take_while(|t| t.kind != TokKind::Break && !t.is_sentence_end())
        .all(|t| t.kind == TokKind::Punct);
    only_opening && rest_empty
}

/// Whether the tokens before a number are only the opening of a short answer ("it is",
/// "yes, it's", "sure, that's").
fn is_answer_opener(toks: &[Token]) -> bool {
    let words: Vec<&Token> = toks.iter().filter(|t| t.kind == TokKind::Word).collect();
    words.len() <= 4
        && toks
            .iter()
            .all(|t| t.kind != TokKind::Break && !t.is_sentence_end())
        && words
            .iter()
            .all(|t| ANSWER_OPENERS.contains(&t.lower.as_str()))
}

/// Whether the number run starting at `lo` is the whole rest of its sentence ("It is 7811."),
/// so that the answer is the number itself and not a clause that merely contains one.
fn answer_ends_at_run(toks: &[Token], lo: usize) -> bool {
    let runs = numbers::find_runs(&toks[lo..toks.len().min(lo + 64)]);
    let Some(r) = runs.first().filter(|r| r.lo == 0) else {
        return false;
    };
    toks.get(lo + r.hi)
        .is_none_or(|t| t.is_sentence_end() || t.kind == TokKind::Break || t.punct() == Some(','))
}

/// A one-word cue that qualifies another noun: "… on the account", "… for the card".
fn is_qualifier_cue(toks: &[Token], h: &CueHit) -> bool {
    h.hi - h.lo == 1
        && h.lo >= 2
        && QUALIFIER_DETERMINERS.contains(&toks[h.lo - 1].lower.as_str())
        && QUALIFIER_PREPOSITIONS.contains(&toks[h.lo - 2].lower.as_str())
}

/// "the account number is 2319", "card no: 4111": a cue that names an identifier ("… number",
/// "… no") followed only by "is"/"was"/":" and the run.
fn direct_answer(toks: &[Token], h: &CueHit, lo: usize) -> Option<EntityKind> {
    let Cue::Entity(kind) = h.cue else {
        return None;
    };
    if !matches!(
        kind,
        K::BankAccount
            | K::Card
            | K::Phone
            | K::Aadhaar
            | K::Pan
            | K::Passport
            | K::Ssn
            | K::Itin
            | K::IdNumber
            | K::VoterId
    ) {
        return None;
    }
    if h.hi - h.lo < 2 || !matches!(toks[h.hi - 1].lower.as_str(), "number" | "no") {
        return None;
    }
    let between = &toks[h.hi..lo];
    let filler = |t: &Token| ANSWER_FILLERS.contains(&t.lower.as_str()) || t.kind == TokKind::Break;
    (between.len() <= 3 && between.iter().all(filler)).then_some(kind)
}

/// Whether the cue at `cue_lo` lies in a question that starts after a sentence end following
/// the run ending at `run_hi`.
fn in_later_question(toks: &[Token], run_hi: usize, cue_lo: usize) -> bool {
    if !toks[run_hi..cue_lo].iter().any(Token::is_sentence_end) {
        return false;
    }
    toks[cue_lo..]
        .iter()
        .find(|t| t.is_sentence_end() || t.kind == TokKind::Break)
        .is_some_and(|t| t.punct() == Some('?'))
}

/// Takes in a "(" glued before and a ")" inside or right after a run.
fn widen_brackets(toks: &[Token], lo: usize, hi: usize) -> (usize, usize) {
    let lo = if lo > 0 && toks[lo - 1].punct() == Some('(') {
        lo - 1
    } else {
        lo
    };
    let hi = if toks.get(hi).is_some_and(|t| t.punct() == Some(')'))
        && toks[lo..hi].iter().any(|t| t.punct() == Some('('))
    {
        hi + 1
    } else {
        hi
    };
    (lo, hi)
}

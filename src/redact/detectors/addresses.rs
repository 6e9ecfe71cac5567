//! Street addresses: a house number and a street name ending in a street word, the chunks
//! after an "address" cue, or a dwelling word and its number, each extended over the chunks
//! that still look like an address (unit, locality, city, state, postcode). It only hands its
//! finds to `detect`: it never logs or keeps the text it reads.

use crate::redact::cues::Cue;
use crate::redact::numbers;
use crate::redact::text::{TokKind, Token};
use crate::transcript::EntityKind as K;

use super::lexicon::{
    NUMBER_MARKS, ORDINAL_SUFFIXES, STREETS_ALONE, is_clause_word, is_digit_homophone,
    is_dwelling_word,
};
use super::{Found, Scan};

/// Street addresses: a house number, a street name ending in a street word, and the chunks
/// after it that still look like an address (unit, locality, city, state, postcode); or the
/// chunks after "my address is" / "deliver to".
pub(super) fn addresses(scan: &Scan<'_>, out: &mut Vec<Found>) {
    let (toks, run_of_tok, cue_hits) = (scan.toks, &scan.run_of_tok, &scan.cue_hits);
    let (ws, ctx) = (scan.words, scan.ctx);
    let street_word = |t: &Token| t.kind == TokKind::Word && ws.street.contains(t.lower.as_str());
    let name_word = |t: &Token| {
        (t.kind == TokKind::Word && (t.cap || t.lower.len() == 1) && !ctx.gaz.is_stop(&t.lower))
            || (t.kind == TokKind::Word
                && ORDINAL_SUFFIXES.contains(&t.lower.as_str())
                && !t.gap_before)
    };
    let mut covered_to = 0;
    // in lower case (the recogniser's way with street names: "27 cedar lane") a street name is
    // up to three words that are not function words; a house number must come before it
    let lower_name_word = |t: &Token| {
        t.kind == TokKind::Word
            && t.lower.chars().count() >= 2
            && !ctx.gaz.is_stop(&t.lower)
            && !is_clause_word(&t.lower)
    };
    for i in 0..toks.len() {
        if i < covered_to || !street_word(&toks[i]) {
            continue;
        }
        let lower = !(toks[i].cap || i > 0 && toks[i - 1].cap);
        // street name words before the street word
        let mut k = i;
        while k > 0
            && i - k < if lower { 3 } else { 6 }
            && ((name_word(&toks[k - 1])
                || lower && lower_name_word(&toks[k - 1]) && run_of_tok[k - 1].is_none())
                // a street word may be part of the name ("Park Crescent", "St Johns Road")
                && (!street_word(&toks[k - 1]) || toks[k - 1].cap == toks[i].cap)
                || toks[k - 1].kind == TokKind::Digits && !toks[k].gap_before
                || toks[k - 1].kind == TokKind::Break)
        {
            k -= 1;
        }
        while k < i && toks[k].kind == TokKind::Break {
            k += 1;
        }
        if k == i && !STREETS_ALONE.contains(&toks[i].lower.as_str()) {
            // "Park", "Heights" alone: not a street
            if toks.get(i + 1).is_none_or(|t| t.punct() != Some(','))
                || k == 0
                || run_of_tok[k - 1].is_none()
            {
                continue;
            }
        }
        // a house number right before, or "flat 5," / "no. 12," in the chunk before
        let mut lo = k;
        let mut house = false;
        let mut j = k;
        while j > 0
            && (matches!(toks[j - 1].punct(), Some(',' | '-' | '/' | '#'))
                || toks[j - 1].kind == TokKind::Break)
        {
            j -= 1;
        }
        // "twenty seven fifty two Cedar Lane" heard as "2750 to Cedar Lane": a digit-like word
        // between the house number and the street name belongs to the number
        if j > 1
            && toks[j - 1].kind == TokKind::Word
            && is_digit_homophone(&toks[j - 1].lower)
            && run_of_tok[j - 2].is_some()
        {
            j -= 1;
        }
        if j > 0 && run_of_tok[j - 1].is_some() {
            let mut s = j - 1;
            while s > 0 && run_of_tok[s - 1] == run_of_tok[j - 1] {
                s -= 1;
            }
            lo = s;
            house = true;
            // "flat", "no", "house" before the number
            if s > 0 && ws.address.contains(toks[s - 1].lower.as_str()) {
                lo = s - 1;
            }
        }
        let cue = cue_hits
            .iter()
            .any(|h| h.cue == Cue::Entity(K::Address) && h.hi <= k && h.hi + 10 >= k);
        if !house && (!cue || lower) {
            continue;
        }
        let hi = extend_address(scan, i + 1);
        out.push(scan.found(K::Address, lo, hi, String::new()));
        covered_to = hi;
    }
    // "my address is …", "deliver it to …" with no street word: take the address-like chunks
    // … and the answer to the other party's "what is your address?" (a segment that inherits
    // the cue), after its opening words
    let answers = (0..toks.len()).filter(|&s| {
        (s == 0 || toks[s - 1].kind == TokKind::Break)
            && toks[s].kind != TokKind::Break
            && ctx
                .inherited
                .get(s)
                .is_some_and(|c| c.contains(&Cue::Entity(K::Address)))
    });
    let starts: Vec<(usize, bool)> = cue_hits
        .iter()
        .filter(|h| h.cue == Cue::Entity(K::Address))
        .map(|h| (h.hi, false))
        .chain(answers.map(|s| (s, true)))
        .collect();
    for (from, answer) in starts {
        let mut s = from;
        while s < toks.len()
            && (toks[s].is("is")
                || toks[s].is("it")
                || answer
                    && matches!(
                        toks[s].lower.as_str(),
                        "it's"
                            | "yes"
                            | "yeah"
                            | "sure"
                            | "so"
                            | "um"
                            | "uh"
                            | "my"
                            | "address"
                            | "that's"
                            | "its"
                            | "okay"
                            | "ok"
                    )
                || toks[s].punct() == Some(':')
                || toks[s].punct() == Some(','))
        {
            s += 1;
        }
        // (an address found from its street word may start later than the cue's answer:
        // "address flat 378, sunrise heights, MG Road, …" — the spans are merged)
        if s >= toks.len() {
            continue;
        }
        let first = &toks[s];
        let starts = run_of_tok[s].is_some()
            || ws.address.contains(first.lower.as_str()) && first.lower != "near";
        if !starts {
            continue;
        }
        let hi = extend_address(scan, s);
        if hi > s + 1 {
            out.push(scan.found(K::Address, s, hi, String::new()));
        }
    }
    // no cue, no capitals: "flat 378, sunrise heights, …", "house no 12, gandhi nagar, …" — a
    // dwelling word and its number followed by at least one more address chunk
    for s in 0..toks.len() {
        if !is_dwelling_word(&toks[s].lower) {
            continue;
        }
        let mut d = s + 1;
        while d < toks.len()
            && (NUMBER_MARKS.contains(&toks[d].lower.as_str()) || toks[d].punct() == Some('.'))
            && d - s < 3
        {
            d += 1;
        }
        let Some(ri) = run_of_tok.get(d).copied().flatten() else {
            continue;
        };
        let num_end = (d..toks.len())
            .find(|&k| run_of_tok[k] != Some(ri))
            .unwrap_or(toks.len());
        let hi = extend_address(scan, s + 1);
        if hi > num_end + 1 && toks[num_end..hi].iter().any(|t| t.kind == TokKind::Word) {
            out.push(scan.found(K::Address, s, hi, String::new()));
        }
    }
}

/// Extends an address to the right over chunks that look like address parts.
fn extend_address(scan: &Scan<'_>, from: usize) -> usize {
    let (toks, run_of_tok, ws) = (scan.toks, &scan.run_of_tok, scan.words);
    let addr_tok = |k: usize| {
        let t = &toks[k];
        run_of_tok[k].is_some()
            || (t.kind == TokKind::Word
                && ((t.cap && !is_clause_word(&t.lower))
                    || t.lower.len() == 1
                    || ws.address.contains(t.lower.as_str())
                    || ws.street.contains(t.lower.as_str())))
            || (t.kind == TokKind::Word
                && !t.gap_before
                && ORDINAL_SUFFIXES.contains(&t.lower.as_str()))
            || t.kind == TokKind::Digits
            || matches!(t.punct(), Some('-' | '/' | '#'))
    };
    let mut hi = from;
    // words glued to the street ("Cedar Lane apartment 7B")
    while hi < toks.len() && hi - from < 8 && addr_tok(hi) && toks[hi].kind != TokKind::Break {
        hi += 1;
    }
    let mut k = hi;
    let mut chunks = 0;
    while k < toks.len() && chunks < 8 {
        // a comma (or a segment break) then a chunk made only of address tokens
        // "St." style abbreviations are not a sentence end
        let Some(sep) = address_sep(toks, k) else {
            break;
        };
        k = sep;
        let mut e = k + 1;
        while e < toks.len() && e - k < 10 && addr_tok(e) {
            e += 1;
        }
        // a short chunk whatever its case that ends in a street or building word ("sunrise
        // heights", "gandhi nagar"): the recogniser does not capitalise names reliably
        if !chunk_end(toks, e) || e == k + 1 {
            let mut f = k + 1;
            while f < toks.len()
                && f - k <= 4
                && toks[f].kind == TokKind::Word
                && !is_clause_word(&toks[f].lower)
            {
                f += 1;
            }
            if f > k + 2 && chunk_end(toks, f) && ws.street.contains(toks[f - 1].lower.as_str()) {
                e = f;
            }
        }
        let ended = chunk_end(toks, e);
        if e == k + 1 || !ended {
            if let Some(end) = place_names_then_postcode(scan, k) {
                hi = end;
            }
            break;
        }
        hi = e;
        k = e;
        chunks += 1;
    }
    hi
}

/// If a separator of address chunks (a comma or a segment break) is at `k`, the last of the
/// separators that begin there ("Road," then the segment's end is one separator).
fn address_sep(toks: &[Token], k: usize) -> Option<usize> {
    let is_sep = |i: usize| {
        toks.get(i)
            .is_some_and(|t| t.punct() == Some(',') || t.kind == TokKind::Break)
    };
    if !is_sep(k) {
        return None;
    }
    let mut k = k;
    while is_sep(k + 1) {
        k += 1;
    }
    Some(k)
}

/// Whether an address chunk ends at `e`: a clause's punctuation, a segment break, or the end.
fn chunk_end(toks: &[Token], e: usize) -> bool {
    e >= toks.len()
        || matches!(toks[e].punct(), Some(',' | '.' | '?' | '!' | ';'))
        || toks[e].kind == TokKind::Break
}

/// The end of "…, katra, pune, 411, 083" after an address: at most three short chunks of place
/// names in any case (the recogniser garbles and lower-cases them), then a postcode-shaped
/// number that ends the address — 6 digits (Indian PIN), 5 or 9 (US ZIP), however the
/// recogniser split it ("411, 083", "802.21", "80 221"). `k` is the comma or break that ends
/// the address so far. Without the postcode at the end nothing is taken.
fn place_names_then_postcode(scan: &Scan<'_>, k: usize) -> Option<usize> {
    let (toks, run_of_tok) = (scan.toks, &scan.run_of_tok);
    let mut k = k;
    for _ in 0..4 {
        k = address_sep(toks, k)?;
        let mut e = k + 1;
        // place-name words
        while e < toks.len()
            && e - k <= 3
            && toks[e].kind == TokKind::Word
            && run_of_tok[e].is_none()
            && !is_clause_word(&toks[e].lower)
        {
            e += 1;
        }
        if let Some(ri) = toks.get(e).and_then(|_| run_of_tok[e]) {
            // the number run (its separators included) must end the address
            let lo = e;
            let mut end = e;
            while end < toks.len() && run_of_tok[end] == Some(ri) {
                end += 1;
            }
            let mut hi = end;
            while hi > lo
                && toks[hi - 1].kind != TokKind::Digits
                && toks[hi - 1].kind != TokKind::Word
            {
                hi -= 1;
            }
            if hi == lo
                || !chunk_end(toks, end)
                || run_of_tok[..lo].last().copied().flatten() == Some(ri)
            {
                return None;
            }
            let r = numbers::parse_range(toks, lo, hi, false);
            let d = r.digits.as_str();
            let postcode = !r.has_scale
                && match r.n() {
                    6 => !d.starts_with('0'),
                    5 | 9 => true,
                    _ => false,
                };
            return postcode.then_some(hi);
        }
        if e == k + 1 || !chunk_end(toks, e) {
            return None;
        }
        k = e;
    }
    None
}

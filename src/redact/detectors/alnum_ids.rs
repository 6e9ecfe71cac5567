//! Identifiers written or spelled in letters and digits: IFSC, PAN, GSTIN, IBAN, SWIFT, voter
//! ID, Indian passport, UK postcode, and long letter-and-digit IDs of unknown type. Spelled
//! letters and number runs are joined into one compact string and matched against the
//! patterns and their checksums. It only hands its finds to `detect`: it never logs or keeps
//! the text it reads.

use regex::Regex;

use crate::redact::checksums;
use crate::redact::cues::Cue;
use crate::redact::text::TokKind;
use crate::transcript::EntityKind as K;
use crate::transcript::EntityKind;

use super::{Found, Scan};

/// Letter-and-digit identifiers: IFSC, PAN, GSTIN, IBAN, SWIFT, voter ID, passport, UK postcode.
pub(super) fn alnum_ids(scan: &Scan<'_>, out: &mut Vec<Found>) {
    let (toks, runs, run_of_tok, ws) = (scan.toks, &scan.runs, &scan.run_of_tok, scan.words);
    // atoms: (compact text, token lo, token hi)
    let mut i = 0;
    let max_atoms = 48;
    while i < toks.len() {
        let mut atoms: Vec<(String, usize, usize)> = Vec::new();
        let mut j = i;
        while j < toks.len() && atoms.len() < max_atoms {
            let t = &toks[j];
            if let Some(ri) = run_of_tok[j] {
                let r = &runs[ri];
                atoms.push((r.digits.clone(), r.lo.max(j), r.hi));
                j = r.hi;
                continue;
            }
            let is_letters = t.kind == TokKind::Word
                && t.lower.is_ascii()
                && ((t.lower.len() == 1 && (t.cap || (t.lower != "a" && t.lower != "i")))
                    || (t.all_caps
                        && (2..=11).contains(&t.lower.len())
                        && !ws.acronyms.contains(&t.lower)));
            if is_letters {
                atoms.push((t.lower.to_ascii_uppercase(), j, j + 1));
                j += 1;
                continue;
            }
            let sep = matches!(t.kind, TokKind::Break)
                || matches!(t.punct(), Some(',' | '-' | '/' | '.'));
            if sep && !atoms.is_empty() {
                j += 1;
                continue;
            }
            break;
        }
        let bank_code = atoms.len() == 1
            && atoms[0].0.len() == 4
            && atoms[0].0.bytes().all(|b| b.is_ascii_alphabetic());
        if atoms.len() >= 2
            || bank_code
            || atoms
                .first()
                .is_some_and(|a| a.0.len() >= 8 && a.0.bytes().any(|b| b.is_ascii_alphabetic()))
        {
            scan_atoms(scan, &atoms, out);
        }
        i = if j > i { j } else { i + 1 };
    }
}

fn scan_atoms(scan: &Scan<'_>, atoms: &[(String, usize, usize)], out: &mut Vec<Found>) {
    let (toks, cue_hits, ctx) = (scan.toks, &scan.cue_hits, scan.ctx);
    let mut compact = String::new();
    let mut ends = Vec::with_capacity(atoms.len()); // compact byte end of each atom
    for a in atoms {
        compact.push_str(&a.0);
        ends.push(compact.len());
    }
    let starts: Vec<usize> = std::iter::once(0)
        .chain(ends.iter().copied())
        .take(atoms.len())
        .collect();
    let cue_near = |kind: EntityKind, tok: usize| {
        cue_hits
            .iter()
            .any(|h| h.cue == Cue::Entity(kind) && h.hi <= tok && h.hi + 10 >= tok)
            || ctx
                .inherited
                .get(tok)
                .is_some_and(|c| c.contains(&Cue::Entity(kind)))
    };
    let mut a = 0;
    while a < atoms.len() {
        let s = starts[a];
        let rest = &compact[s..];
        let tok = atoms[a].1;
        let mut best: Option<(EntityKind, usize)> = None; // (kind, compact end)
        let aligned = |len: usize| ends.iter().position(|&e| e == s + len);
        let mut try_pat = |re: &Regex, kind: EntityKind, check: &dyn Fn(&str) -> bool| {
            if best.is_some() {
                return;
            }
            if let Some(m) = re.find(rest) {
                // the match must end at an atom boundary (or be extended to the atom end)
                let mut len = m.end();
                while len > 0 && aligned(len).is_none() {
                    len += 1;
                    if s + len > compact.len() {
                        return;
                    }
                }
                if check(&rest[..m.end()]) {
                    best = Some((kind, len));
                }
            }
        };
        try_pat(&ctx.pat.gstin, K::Gstin, &|m| checksums::gstin_check(m));
        if best.is_none()
            && let Some(m) = ctx.pat.iban.find(rest)
        {
            // the longest prefix that ends on an atom and passes mod-97
            let mut len = m.end();
            while len >= 15 {
                if aligned(len).is_some() && checksums::iban_mod97(&rest[..len]) {
                    best = Some((K::Iban, len));
                    break;
                }
                len -= 1;
            }
        }
        let mut try_pat = |re: &Regex, kind: EntityKind, need_cue: bool| {
            if best.is_some() || (need_cue && !cue_near(kind, tok)) {
                return;
            }
            if let Some(m) = re.find(rest) {
                let mut len = m.end();
                while aligned(len).is_none() {
                    len += 1;
                    if s + len > compact.len() {
                        return;
                    }
                }
                best = Some((kind, len));
            }
        };
        try_pat(&ctx.pat.ifsc, K::Ifsc, false);
        try_pat(&ctx.pat.pan, K::Pan, false);
        try_pat(&ctx.pat.voter, K::VoterId, false);
        try_pat(&ctx.pat.swift, K::Swift, true);
        try_pat(&ctx.pat.passport_in, K::Passport, false);
        try_pat(&ctx.pat.uk_postcode, K::Postcode, false);
        // after "IFSC": the four-letter bank code, even when the rest was misheard (the rest
        // is then taken by the continuation rule: "IFSC KKBK, Tripoli 4471")
        if best.is_none()
            && a == 0
            && rest.len() >= 4
            && rest[..4].bytes().all(|b| b.is_ascii_alphabetic())
            && aligned(4).is_some()
            && cue_near(K::Ifsc, tok)
        {
            best = Some((K::Ifsc, 4));
        }
        if best.is_none() {
            // generic: letters and at least four digits, six or more characters
            let mut len = 0;
            let (mut letters, mut digits) = (0, 0);
            for (k, at) in atoms[a..].iter().enumerate() {
                len += at.0.len();
                letters += at.0.bytes().filter(u8::is_ascii_alphabetic).count();
                digits += at.0.bytes().filter(u8::is_ascii_digit).count();
                if k > 0 && letters >= 2 && digits >= 4 && len >= 6 {
                    best = Some((K::IdNumber, len));
                }
            }
            if best.is_some() && letters == 0 {
                best = None;
            }
        }
        match best {
            Some((kind, len)) => {
                let last = ends
                    .iter()
                    .position(|&e| e == s + len)
                    .unwrap_or(atoms.len() - 1);
                let (mut lo, mut hi) = (atoms[a].1, atoms[last].2);
                // letters or digits glued to the identifier are part of it ("IFSC HDFC0a0",
                // "cvv2C00012": no part of the run stays in clear beside its placeholder)
                while lo > 0
                    && !toks[lo].gap_before
                    && matches!(toks[lo - 1].kind, TokKind::Word | TokKind::Digits)
                {
                    lo -= 1;
                }
                while hi < toks.len()
                    && !toks[hi].gap_before
                    && matches!(toks[hi].kind, TokKind::Word | TokKind::Digits)
                {
                    hi += 1;
                }
                let canon = compact[s..s + len].to_string();
                out.push(Found {
                    kind,
                    start: toks[lo].start,
                    end: toks[hi - 1].end,
                    canon,
                });
                a = last + 1;
            }
            None => a += 1,
        }
    }
}

//! The detectors: number runs (phones, cards, Aadhaar, SSN, OTPs …), letter-and-digit
//! identifiers (IFSC, PAN, GSTIN, IBAN, postcodes …), e-mail and UPI handles written or
//! spoken, dates of birth and card expiry dates, street addresses, and names. Each returns
//! byte ranges of the window text; overlapping finds are merged afterwards.
//!
//! This file owns what every detector shares: the [`Scan`] each one reads (the tokens, with
//! their number runs and cue words read once), the [`Found`] each one writes, the compiled
//! [`Patterns`], and [`detect`], which runs them in order. Each detector family has a file:
//! `numeric_ids` (number runs), `alnum_ids` (letters and digits), `emails` (e-mail and UPI),
//! `dates`, `addresses`; names are found by `super::names`. The word lists they judge by are
//! data in `lexicon`. The family files import only from here and from `lexicon`, never from
//! one another.
//!
//! Nothing found here leaves `redact/`: a [`Found`] holds the value's canonical form only so
//! that it can be hashed for a pseudonym.

mod addresses;
mod alnum_ids;
mod dates;
mod emails;
mod lexicon;
mod numeric_ids;

use regex::Regex;

use super::cues::{self, Cue, CueHit};
use super::names::{self, Gazetteer, NameCtx, NameMemory};
use super::numbers::{self, NumRun};
use super::text::{TokKind, Token};
use crate::transcript::EntityKind as K;
use crate::transcript::EntityKind;

pub(crate) use lexicon::WordSets;

/// One detection, in window byte offsets.
#[derive(Clone, Debug)]
pub(crate) struct Found {
    pub kind: EntityKind,
    pub start: usize,
    pub end: usize,
    /// Canonical value (digits, lower-case letters): only ever hashed for pseudonyms.
    pub canon: String,
}

/// Compiled patterns, built once per `Redactor`.
#[derive(Clone)]
pub(crate) struct Patterns {
    email: Regex,
    ipv6: Regex,
    gstin: Regex,
    iban: Regex,
    ifsc: Regex,
    pan: Regex,
    voter: Regex,
    passport_in: Regex,
    uk_postcode: Regex,
    swift: Regex,
}

impl Patterns {
    pub fn new() -> Patterns {
        // the patterns are constants; a failure here is a programming error caught by tests
        let re = |p: &str| Regex::new(p).expect("built-in pattern compiles");
        Patterns {
            email: re(r"(?i)[a-z0-9][a-z0-9._%+\-]*@[a-z0-9][a-z0-9\-]*(?:\.[a-z0-9\-]+)*"),
            ipv6: re(r"(?i)\b(?:[0-9a-f]{1,4}:){2,7}:?[0-9a-f]{1,4}\b"),
            gstin: re(r"^[0-3][0-9][A-Z]{3}[ABCFGHLJPTK][A-Z][0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]"),
            iban: re(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}"),
            ifsc: re(r"^[A-Z]{4}0[A-Z0-9]{6}"),
            pan: re(r"^[A-Z]{3}[ABCFGHLJPTK][A-Z][0-9]{4}[A-Z]"),
            voter: re(r"^[A-Z]{3}[0-9]{7}"),
            passport_in: re(r"^[A-Z][0-9]{7}"),
            uk_postcode: re(r"^[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}"),
            swift: re(r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?"),
        }
    }
}

/// Everything detection needs besides the window text.
pub(crate) struct DetectCtx<'a> {
    pub gaz: &'a Gazetteer,
    pub pat: &'a Patterns,
    pub memory: &'a NameMemory,
    /// Interim text: mask any number run that could be part of an identifier.
    pub interim: bool,
    /// Per token: cues inherited from the other party's last words (their question).
    pub inherited: &'a [&'a [Cue]],
    /// Token ranges where the other party just asked for a name.
    pub asked_name: Option<(usize, usize)>,
}

/// One detection pass over a chunk of the window: what every detector reads. Built once per
/// chunk by [`detect`]; the detectors take it with at most two arguments of their own.
struct Scan<'a> {
    /// The whole window text: token offsets are byte offsets into it.
    text: &'a str,
    /// The chunk's tokens.
    toks: &'a [Token],
    /// The number runs among the tokens (digits and number words, read as digit strings).
    runs: Vec<NumRun>,
    /// Per token: the index in `runs` of the run it is part of.
    run_of_tok: Vec<Option<usize>>,
    /// The cue words and phrases among the tokens ("card number", "date of birth").
    cue_hits: Vec<CueHit>,
    /// The word lists, as sets.
    words: &'a WordSets,
    /// The compiled patterns, names and the other party's question.
    ctx: &'a DetectCtx<'a>,
}

impl<'a> Scan<'a> {
    /// The part of the window text the tokens of this chunk cover, and its offset.
    fn chunk_text(&self) -> (usize, &'a str) {
        match (self.toks.first(), self.toks.last()) {
            (Some(a), Some(b)) => (a.start, &self.text[a.start..b.end]),
            _ => (0, ""),
        }
    }

    /// A find of `kind` over tokens `[lo, hi)`, less the separators and segment breaks at its
    /// edges.
    fn found(&self, kind: EntityKind, lo: usize, hi: usize, canon: String) -> Found {
        let toks = self.toks;
        // trim separators and segment breaks at the edges
        let (mut lo, mut hi) = (lo, hi);
        while lo + 1 < hi
            && matches!(toks[lo].kind, TokKind::Punct | TokKind::Break)
            && toks[lo].punct() != Some('+')
        {
            lo += 1;
        }
        while hi > lo + 1
            && matches!(toks[hi - 1].kind, TokKind::Punct | TokKind::Break)
            && toks[hi - 1].punct() != Some(')')
        {
            hi -= 1;
        }
        Found {
            kind,
            start: toks[lo].start,
            end: toks[hi - 1].end,
            canon,
        }
    }
}

/// Runs every detector over the window tokens.
pub(crate) fn detect(
    text: &str,
    toks: &[Token],
    ws: &WordSets,
    ctx: &DetectCtx<'_>,
) -> (Vec<Found>, Vec<names::NameHit>) {
    let runs = numbers::find_runs(toks);
    let cue_hits = cues::find_cues(toks);
    let mut out: Vec<Found> = Vec::new();
    let mut run_of_tok: Vec<Option<usize>> = vec![None; toks.len()];
    for (ri, r) in runs.iter().enumerate() {
        for slot in &mut run_of_tok[r.lo..r.hi] {
            *slot = Some(ri);
        }
    }
    let scan = Scan {
        text,
        toks,
        runs,
        run_of_tok,
        cue_hits,
        words: ws,
        ctx,
    };
    for r in &scan.runs {
        numeric_ids::classify_across_breaks(&scan, r, &mut out);
    }
    alnum_ids::alnum_ids(&scan, &mut out);
    emails::emails(&scan, &mut out);
    dates::dates(&scan, &mut out);
    addresses::addresses(&scan, &mut out);
    let (base, slice) = scan.chunk_text();
    let ipv6 = ctx
        .pat
        .ipv6
        .find_iter(slice)
        .filter(|m| m.as_str().bytes().filter(|b| *b == b':').count() >= 3);
    for m in ipv6 {
        out.push(Found {
            kind: K::IpAddress,
            start: base + m.start(),
            end: base + m.end(),
            canon: m.as_str().to_lowercase(),
        });
    }
    numeric_ids::continuations(&scan, &mut out);
    let nctx = NameCtx {
        gaz: ctx.gaz,
        memory: ctx.memory,
        asked: ctx.asked_name,
        places: &ws.states,
    };
    let name_hits = names::find_names(toks, &nctx);
    for h in &name_hits {
        let canon = toks[h.lo..h.hi]
            .iter()
            .filter(|t| t.is_word())
            .map(|t| t.lower.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        out.push(Found {
            kind: K::Name,
            start: toks[h.lo].start,
            end: toks[h.hi - 1].end,
            canon,
        });
    }
    (out, name_hits)
}

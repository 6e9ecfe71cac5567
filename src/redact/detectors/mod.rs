//! The detectors: number runs (phones, cards, Aadhaar, SSN, OTPs …), letter-and-digit
//! identifiers (IFSC, PAN, GSTIN, IBAN, postcodes …), e-mail and UPI handles written or
//! spoken, dates of birth and card expiry dates, street addresses, and names. Each returns
//! byte ranges of the window text; overlapping finds are merged afterwards.

use regex::Regex;

use super::checksums;
use super::cues::{self, Cue, CueHit};
use super::entity::EntityKind as K;
use super::entity::EntityKind;
use super::names::{self, Gazetteer, NameCtx, NameMemory};
use super::numbers::{self, NumRun};
use super::text::{TokKind, Token};

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

/// Words after a number that make it a quantity, price, duration or time.
const UNITS: &str =
    "rupees rupee rs inr dollars dollar bucks usd pounds pound quid gbp euros euro paise
cents cent pence percent per days day weeks week months month years year yrs yr hours hour hrs
hr minutes minute mins min seconds second secs sec am pm a.m p.m o'clock oclock gb mb kb tb gbs
gig gigs mbps kbps kg kgs kilos kilo grams gram km kms kilometres kilometers miles mile metres
meters feet foot ft inches inch litres liters litre liter ml mg tablets tablet capsules times
items item pieces piece units unit people persons kids children calls messages sms charges
boxes box emis instalments installments nights night lakh lakhs crore crores thousand million
billion k x plan plans members adults seats rooms orders bags packets bottles kurtas laptops
phones cars bikes points stars floors storeys steps rounds attempts tries digits characters
letters business working";

/// Words shortly before a number that make it money.
const MONEY_BEFORE: &str =
    "rs inr usd gbp $ ₹ £ € price prices cost costs costing amount fee fees bill
balance emi charge charged pay paid premium refund total salary limit worth rupees dollars
pounds discount cashback";

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
];

const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "today",
    "tomorrow",
    "tonight",
];

/// Street-type words that end a street name.
const STREET: &str =
    "road rd street st lane ln avenue ave drive dr boulevard blvd way court ct place pl
terrace close crescent gardens grove square sq marg nagar colony layout cross main circle
highway hwy parkway pkwy heights park row mews hill vihar enclave chowk gali sector block
phase apartments apartment residency towers tower society bagh path wharf walk trail loop
pike alley estate plaza complex quarters mohalla peth wadi puram pet halli palya";

/// Words that open or belong to an address chunk.
const ADDRESS_WORDS: &str =
    "flat apartment apt suite unit floor block sector phase building bldg tower
wing house door plot no number near opposite behind beside behind cross main stage
district dist taluk tehsil po post village pin pincode zip postcode";

const US_STATES: &str = "alabama alaska arizona arkansas california colorado connecticut delaware
florida georgia hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland
massachusetts michigan minnesota mississippi missouri montana nebraska nevada hampshire
jersey mexico york carolina dakota ohio oklahoma oregon pennsylvania rhode tennessee texas
utah vermont virginia washington wisconsin wyoming";

/// Acronyms that are cue words, never letters of an identifier.
const CUE_ACRONYMS: &str =
    "IFSC PAN UPI OTP CVV CVC ID SSN GST GSTIN PIN IBAN BIC SWIFT ATM KYC OK USA
UK US EMI SIM DOB ITIN EPIC NRI TV AC AM PM UPI VPA NEFT IMPS RTGS SMS MPIN II III";

#[derive(Clone)]
pub(crate) struct WordSets {
    units: std::collections::HashSet<&'static str>,
    money: std::collections::HashSet<&'static str>,
    street: std::collections::HashSet<&'static str>,
    address: std::collections::HashSet<&'static str>,
    states: std::collections::HashSet<&'static str>,
    acronyms: std::collections::HashSet<String>,
    upi: std::collections::HashSet<&'static str>,
    hosts: std::collections::HashSet<&'static str>,
    tlds: std::collections::HashSet<&'static str>,
}

impl WordSets {
    pub fn new() -> WordSets {
        let set = |s: &'static str| s.split_whitespace().collect();
        WordSets {
            units: set(UNITS),
            money: set(MONEY_BEFORE),
            street: set(STREET),
            address: set(ADDRESS_WORDS),
            states: set(US_STATES),
            acronyms: CUE_ACRONYMS
                .split_whitespace()
                .map(|s| s.to_lowercase())
                .collect(),
            upi: set(UPI_HANDLES),
            hosts: set(MAIL_HOSTS),
            tlds: set(TLDS),
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
    for r in &runs {
        classify_across_breaks(toks, r, &cue_hits, ws, ctx, &mut out);
    }
    alnum_ids(toks, &runs, &run_of_tok, &cue_hits, ws, ctx, &mut out);
    emails(text, toks, &cue_hits, ws, ctx, &mut out);
    dates(toks, &runs, &run_of_tok, &cue_hits, ctx, &mut out);
    addresses(toks, &run_of_tok, &cue_hits, ws, ctx, &mut out);
    let (base, slice) = chunk_text(text, toks);
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
    continuations(toks, &runs, ws, &mut out);
    let nctx = NameCtx {
        gaz: ctx.gaz,
        memory: ctx.memory,
        asked: ctx.asked_name,
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

/// Words the recogniser writes for a spoken digit ("two" → "to", "oh" → "no").
fn is_digit_homophone(w: &str) -> bool {
    matches!(
        w,
        "to" | "too" | "for" | "fore" | "oh" | "o" | "no" | "ate" | "won" | "tree" | "free"
    )
}

/// The tail of a dictated identifier that the recogniser cut off from it with a misheard word:
/// "[PHONE] to 8 6" ("… double oh, two eight six"), "IFSCICIC, Trippolo 2543" ("… triple oh
/// two five four three"). A number run not found by itself, not a quantity, that follows an
/// identifier in the same sentence with at most one word between is taken with it when either
/// the word sounds like a digit and the run is dictated digit by digit (or has 3+ digits), or
/// the run has 3+ digits and ends the sentence.
fn continuations(toks: &[Token], runs: &[NumRun], ws: &WordSets, out: &mut Vec<Found>) {
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
    for r in runs {
        let n = r.n();
        let (rs, re) = (toks[r.lo].start, toks[r.hi - 1].end);
        if n < 2 || out.iter().any(|f| f.start < re && f.end > rs) || is_quantity(toks, r, ws) {
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

/// The part of the window text the tokens of this chunk cover, and its offset.
fn chunk_text<'t>(text: &'t str, toks: &[Token]) -> (usize, &'t str) {
    match (toks.first(), toks.last()) {
        (Some(a), Some(b)) => (a.start, &text[a.start..b.end]),
        _ => (0, ""),
    }
}

/// A run that continues across a segment break is read whole (the parts of one identifier);
/// when every part is an identifier on its own, each keeps its own kind.
fn classify_across_breaks(
    toks: &[Token],
    r: &NumRun,
    cue_hits: &[CueHit],
    ws: &WordSets,
    ctx: &DetectCtx<'_>,
    out: &mut Vec<Found>,
) {
    let whole = classify_run(toks, r, cue_hits, ws, ctx);
    let breaks: Vec<usize> = (r.lo..r.hi)
        .filter(|&k| toks[k].kind == TokKind::Break)
        .collect();
    if breaks.is_empty() {
        if let Some((kind, lo, hi)) = whole {
            out.push(found(toks, kind, lo, hi, r.digits.clone()));
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
    let each: Vec<_> = parts
        .iter()
        .map(|p| classify_run(toks, p, cue_hits, ws, ctx))
        .collect();
    // a card said group by group over several segments: the checksum of the whole settles it
    let whole_card = whole.is_some_and(|(k, _, _)| k == K::Card)
        && (13..=19).contains(&r.n())
        && checksums::luhn(&r.digits);
    if each.iter().all(Option::is_some) && !whole_card {
        for (p, c) in parts.iter().zip(each) {
            if let Some((kind, lo, hi)) = c {
                out.push(found(toks, kind, lo, hi, p.digits.clone()));
            }
        }
    } else if let Some((kind, lo, hi)) = whole {
        out.push(found(toks, kind, lo, hi, r.digits.clone()));
    } else {
        for (p, c) in parts.iter().zip(each) {
            if let Some((kind, lo, hi)) = c {
                out.push(found(toks, kind, lo, hi, p.digits.clone()));
            }
        }
    }
}

fn found(toks: &[Token], kind: EntityKind, lo: usize, hi: usize, canon: String) -> Found {
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

/// Whether a number run reads as a quantity, price, duration, time or decimal.
fn is_quantity(toks: &[Token], r: &NumRun, ws: &WordSets) -> bool {
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
        if back == 1
            && t.kind == TokKind::Word
            && !matches!(
                t.lower.as_str(),
                "of" | "is"
                    | "was"
                    | "the"
                    | "a"
                    | "only"
                    | "just"
                    | "about"
                    | "around"
                    | "be"
                    | "will"
            )
        {
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
        if matches!(
            t.lower.as_str(),
            "am" | "pm" | "o'clock" | "oclock" | "noon" | "hrs"
        ) {
            return true;
        }
        if t.lower == "a" || t.lower == "p" {
            return toks.get(r.hi + 1).is_some_and(|d| d.punct() == Some('.'))
                || toks.get(r.hi + 1).is_some_and(|m| m.lower == "m");
        }
        if t.lower == "in" && toks.get(r.hi + 1).is_some_and(|x| x.lower == "the") {
            return toks.get(r.hi + 2).is_some_and(|x| {
                matches!(
                    x.lower.as_str(),
                    "morning" | "evening" | "afternoon" | "night"
                )
            });
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
fn cue_kind(cue: Cue, n: usize, further: Option<Cue>, digits: &str) -> Option<EntityKind> {
    match cue {
        // a year of birth is 19xx or 20xx; "eleven thirty" after "date of birth" is a time
        Cue::Entity(K::DateOfBirth) if n == 4 => digits
            .parse::<u32>()
            .is_ok_and(|y| (1900..=2030).contains(&y))
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

fn classify_run(
    toks: &[Token],
    r: &NumRun,
    cue_hits: &[CueHit],
    ws: &WordSets,
    ctx: &DetectCtx<'_>,
) -> Option<(EntityKind, usize, usize)> {
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
    let quantity = is_quantity(toks, r, ws);
    if quantity && (n <= 8 || r.has_scale) {
        return None;
    }
    // own cues to the left in the same sentence (nearest first), then just to the right,
    // then the other party's last words
    let shape = shape_kind(r);
    let left_limit = left_cue_limit(toks, r.lo, ctx);
    let mut kind = None;
    let left: Vec<&CueHit> = cue_hits
        .iter()
        .filter(|h| h.hi <= r.lo && h.lo >= left_limit)
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
            if let Some(kd) = cue_kind(h.cue, n, further, &r.digits) {
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
            .find_map(|h| cue_kind(h.cue, n, None, &r.digits));
    }
    if kind.is_none()
        && let Some(inh) = ctx.inherited.get(r.lo)
    {
        // the kind the question asked for that also fits the run's shape, else the first
        // specific kind asked for, else a generic "number"
        let fitting: Vec<EntityKind> = inh
            .iter()
            .filter_map(|c| cue_kind(*c, n, None, &r.digits))
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
    let kind = match kind {
        // a cue of "number" or an unknown identifier: prefer the shape's label
        Some(K::IdNumber) => shape_kind(r).or(Some(K::IdNumber)),
        Some(K::Phone) if n >= 13 && checksums::luhn(&r.digits) && !r.plus => Some(K::Card),
        Some(k) => Some(k),
        None if quantity => None,
        None => shape_kind(r),
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
fn left_cue_limit(toks: &[Token], lo: usize, ctx: &DetectCtx<'_>) -> usize {
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

/// Whether the tokens before a number are only the opening of a short answer ("it is",
/// "yes, it's", "sure, that's").
fn is_answer_opener(toks: &[Token]) -> bool {
    let words: Vec<&Token> = toks.iter().filter(|t| t.kind == TokKind::Word).collect();
    words.len() <= 4
        && toks
            .iter()
            .all(|t| t.kind != TokKind::Break && !t.is_sentence_end())
        && words.iter().all(|t| {
            matches!(
                t.lower.as_str(),
                "it" | "it's"
                    | "its"
                    | "is"
                    | "was"
                    | "that"
                    | "that's"
                    | "this"
                    | "yes"
                    | "yeah"
                    | "yep"
                    | "sure"
                    | "ok"
                    | "okay"
                    | "so"
                    | "um"
                    | "uh"
                    | "er"
                    | "hmm"
                    | "right"
                    | "and"
                    | "the"
                    | "mine"
                    | "my"
            )
        })
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
        && matches!(
            toks[h.lo - 1].lower.as_str(),
            "the" | "your" | "my" | "this" | "that"
        )
        && matches!(
            toks[h.lo - 2].lower.as_str(),
            "on" | "for" | "of" | "in" | "to" | "with" | "from" | "under" | "linked"
        )
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
    let filler = |t: &Token| {
        matches!(t.lower.as_str(), "is" | "was" | "it's" | ":" | "-" | ",")
            || t.kind == TokKind::Break
    };
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

/// Letter-and-digit identifiers: IFSC, PAN, GSTIN, IBAN, SWIFT, voter ID, passport, UK postcode.
fn alnum_ids(
    toks: &[Token],
    runs: &[NumRun],
    run_of_tok: &[Option<usize>],
    cue_hits: &[CueHit],
    ws: &WordSets,
    ctx: &DetectCtx<'_>,
    out: &mut Vec<Found>,
) {
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
            scan_atoms(toks, &atoms, cue_hits, ctx, out);
        }
        i = if j > i { j } else { i + 1 };
    }
}

fn scan_atoms(
    toks: &[Token],
    atoms: &[(String, usize, usize)],
    cue_hits: &[CueHit],
    ctx: &DetectCtx<'_>,
    out: &mut Vec<Found>,
) {
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
                let (lo, hi) = (atoms[a].1, atoms[last].2);
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

/// Known UPI handle suffixes (payment service providers' handles).
const UPI_HANDLES: &str =
    "ybl ibl axl upi paytm okaxis okhdfcbank okicici oksbi apl yapl ptyes ptaxis pthdfc
ptsbi axisbank hdfcbank icici sbi kotak yesbank fbl idfcbank pnb boi unionbank freecharge
jupiteraxis waaxis wahdfcbank wasbi waicici ikwik postbank airtel jio abfspay axisb ezeepay
indus federal rbl barodampay aubank dbs hsbc citi kbl kvb tjsb sib equitas idbi cnrb";

const MAIL_HOSTS: &str =
    "gmail yahoo hotmail outlook rediffmail rediff icloud protonmail proton aol live msn
ymail zoho mail gmx yandex fastmail";

const TLDS: &str = "com in org net co uk us edu gov io info biz me ai app dev ac ca au de fr";

fn is_local_stop(w: &str) -> bool {
    matches!(
        w,
        "is" | "was"
            | "my"
            | "id"
            | "email"
            | "mail"
            | "address"
            | "it"
            | "it's"
            | "its"
            | "to"
            | "me"
            | "at"
            | "on"
            | "the"
            | "upi"
            | "use"
            | "send"
            | "write"
            | "and"
            | "or"
            | "vpa"
            | "please"
            | "that's"
            | "this"
            | "your"
            | "our"
            | "handle"
            | "e"
            | "i"
            | "a"
            | "from"
            | "by"
            | "yes"
            | "no"
            | "okay"
            | "so"
            | "sure"
            | "called"
    )
}

/// E-mail addresses and UPI IDs, written ("priya.s87@gmail.com") or spoken ("priya dot s
/// eighty seven at gmail dot com", "rohan dot g at i b l").
fn emails(
    text: &str,
    toks: &[Token],
    cue_hits: &[CueHit],
    ws: &WordSets,
    ctx: &DetectCtx<'_>,
    out: &mut Vec<Found>,
) {
    let (upi, hosts, tlds) = (&ws.upi, &ws.hosts, &ws.tlds);
    let (base, slice) = chunk_text(text, toks);
    for m in ctx.pat.email.find_iter(slice) {
        let s = m.as_str();
        let domain = s.rsplit('@').next().unwrap_or("");
        let kind = if domain.contains('.') {
            K::Email
        } else {
            K::Upi
        };
        out.push(Found {
            kind,
            start: base + m.start(),
            end: base + m.end(),
            canon: s.to_lowercase(),
        });
    }
    let upi_cue = |tok: usize| {
        cue_hits
            .iter()
            .any(|h| h.cue == Cue::Entity(K::Upi) && h.hi <= tok && h.hi + 12 >= tok)
            || ctx
                .inherited
                .get(tok)
                .is_some_and(|c| c.contains(&Cue::Entity(K::Upi)))
    };
    let email_cue = |tok: usize| {
        cue_hits
            .iter()
            .any(|h| h.cue == Cue::Entity(K::Email) && h.hi <= tok && h.hi + 12 >= tok)
            || ctx
                .inherited
                .get(tok)
                .is_some_and(|c| c.contains(&Cue::Entity(K::Email)))
    };
    let is_piece = |t: &Token| {
        matches!(t.kind, TokKind::Word | TokKind::Digits) && !t.is("at") && !t.is("dot")
    };
    let is_conn = |t: &Token| {
        matches!(
            t.lower.as_str(),
            "dot" | "underscore" | "dash" | "hyphen" | "." | "_" | "-"
        )
    };
    for (i, t) in toks.iter().enumerate() {
        // "at", "@" with spaces, or "at the rate (of)"
        let (at_lo, mut dom) = if t.is("at") {
            if toks.get(i + 1).is_some_and(|x| x.is("the"))
                && toks.get(i + 2).is_some_and(|x| x.is("rate"))
            {
                let k = if toks.get(i + 3).is_some_and(|x| x.is("of")) {
                    i + 4
                } else {
                    i + 3
                };
                (i, k)
            } else {
                (i, i + 1)
            }
        } else if t.punct() == Some('@')
            && (t.gap_before || toks.get(i + 1).is_some_and(|x| x.gap_before))
        {
            (i, i + 1)
        } else {
            continue;
        };
        // domain: pieces joined by "dot"; spelled letters are gathered into one label
        let dom_lo = dom;
        let mut labels: Vec<String> = Vec::new();
        let mut cur = String::new();
        let mut has_dot_tld = false;
        while dom < toks.len() && dom - dom_lo < 12 {
            let d = &toks[dom];
            if d.kind == TokKind::Word && (d.is("dot") || d.punct() == Some('.'))
                || d.punct() == Some('.')
            {
                if cur.is_empty() || !toks.get(dom + 1).is_some_and(is_piece) {
                    break;
                }
                // a written full stop followed by a space ends the sentence ("… dot com. It
                // costs …"): dots inside a written domain have no space after them
                if d.punct() == Some('.') && toks.get(dom + 1).is_some_and(|x| x.gap_before) {
                    break;
                }
                labels.push(std::mem::take(&mut cur));
                dom += 1;
                continue;
            }
            if is_piece(d)
                && (cur.is_empty()
                    || d.lower.len() == 1
                        && cur.len() <= 8
                        && cur.bytes().all(|b| b.is_ascii_alphabetic())
                        && toks[dom - 1].lower.len() == 1)
            {
                if !cur.is_empty() && !d.lower.bytes().all(|b| b.is_ascii_alphabetic()) {
                    break;
                }
                cur.push_str(&d.lower);
                dom += 1;
                continue;
            }
            break;
        }
        if !cur.is_empty() {
            labels.push(cur);
        }
        if labels.is_empty() {
            continue;
        }
        if labels.len() >= 2 && labels.last().is_some_and(|l| tlds.contains(l.as_str())) {
            has_dot_tld = true;
        }
        let first = labels[0].as_str();
        let kind = if has_dot_tld || hosts.contains(first) {
            K::Email
        } else if upi.contains(first) && labels.len() == 1 {
            K::Upi
        } else if labels.len() == 1
            && first.len() <= 12
            && first.bytes().all(|b| b.is_ascii_alphabetic())
            && upi_cue(i)
        {
            K::Upi
        } else if labels.len() == 1 && email_cue(i) && first.len() >= 3 {
            K::Email
        } else {
            continue;
        };
        // local part: pieces (and connectors between them) going left from "at"
        let mut lo = at_lo;
        let mut pieces = 0;
        let mut k = at_lo;
        while k > 0 && at_lo - k < 10 {
            let p = &toks[k - 1];
            if is_piece(p) && !is_local_stop(&p.lower) {
                lo = k - 1;
                pieces += 1;
                k -= 1;
                continue;
            }
            if is_conn(p) && k >= 2 && is_piece(&toks[k - 2]) && !is_local_stop(&toks[k - 2].lower)
            {
                k -= 1;
                continue;
            }
            break;
        }
        if pieces == 0 {
            continue;
        }
        let hi = dom;
        let canon = toks[lo..hi]
            .iter()
            .map(|t| t.lower.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        out.push(Found {
            kind,
            start: toks[lo].start,
            end: toks[hi - 1].end,
            canon,
        });
    }
    garbled_emails(toks, ws, &email_cue, out);
}

/// E-mail addresses whose "at" the recogniser lost or misheard ("emily dot carter has yahoo dot
/// com", "m.really.carterat.com"): anchored on the domain ("yahoo.com", "gmail dot com"), taken
/// as an address when the host is a mail provider or the talk is about e-mail, with the words
/// joined to it on the left as the local part.
fn garbled_emails(
    toks: &[Token],
    ws: &WordSets,
    email_cue: &dyn Fn(usize) -> bool,
    out: &mut Vec<Found>,
) {
    let is_dot = |t: &Token| t.is("dot") || t.punct() == Some('.');
    let is_piece = |t: &Token| {
        matches!(t.kind, TokKind::Word | TokKind::Digits)
            && !t.is("dot")
            && !is_local_stop(&t.lower)
    };
    // what "at" becomes in recognised speech, and written connectors
    let is_joint = |t: &Token| {
        is_dot(t)
            || matches!(
                t.lower.as_str(),
                "at" | "has" | "hat" | "add" | "underscore" | "dash" | "hyphen" | "_" | "-" | "@"
            )
    };
    for tld in 2..toks.len() {
        let t = &toks[tld];
        if t.kind != TokKind::Word || !ws.tlds.contains(t.lower.as_str()) || !is_dot(&toks[tld - 1])
        {
            continue;
        }
        let host = tld - 2;
        let h = &toks[host];
        if h.kind != TokKind::Word || h.lower.len() < 2 || is_local_stop(&h.lower) {
            continue;
        }
        // a full stop with a space after it ends a sentence: "… at home. Com…" is not a domain
        if toks[tld - 1].punct() == Some('.') && t.gap_before {
            continue;
        }
        let cue = email_cue(host);
        if !cue && !ws.hosts.contains(h.lower.as_str()) {
            continue;
        }
        let (mut lo, mut k, mut pieces) = (host, host, 0);
        while k >= 2 && host - k < 12 && is_joint(&toks[k - 1]) && is_piece(&toks[k - 2]) {
            k -= 2;
            lo = k;
            pieces += 1;
            // further pieces may follow one another with no joint ("m l dot carter")
            while k >= 1 && host - k < 12 && is_piece(&toks[k - 1]) && toks[k - 1].lower.len() <= 2
            {
                k -= 1;
                lo = k;
            }
        }
        // a mail provider named alone ("I use gmail.com") is no address
        if pieces == 0 && !cue {
            continue;
        }
        let canon = toks[lo..=tld]
            .iter()
            .map(|t| t.lower.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        out.push(Found {
            kind: K::Email,
            start: toks[lo].start,
            end: t.end,
            canon,
        });
    }
}

fn month_at(toks: &[Token], i: usize) -> bool {
    let t = &toks[i];
    if t.kind != TokKind::Word || !MONTHS.contains(&t.lower.as_str()) {
        return false;
    }
    // "may", "march" are ordinary words unless capitalised or next to a number
    if matches!(
        t.lower.as_str(),
        "may"
            | "march"
            | "dec"
            | "jan"
            | "mar"
            | "sep"
            | "oct"
            | "nov"
            | "aug"
            | "jun"
            | "jul"
            | "apr"
            | "feb"
    ) {
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
    numbers::ordinal(&t.lower).is_some() || matches!(t.lower.as_str(), "st" | "nd" | "rd" | "th")
}

/// Dates said with a month name: a date of birth when the context says so, a card expiry date
/// when that is the context. Other dates are left alone.
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
fn full_old_date(
    toks: &[Token],
    runs: &[NumRun],
    run_of_tok: &[Option<usize>],
    lo: usize,
    hi: usize,
) -> bool {
    let latest = current_year() - BIRTH_MIN_AGE_YEARS;
    let mut day = toks[lo..hi]
        .iter()
        .any(|t| numbers::ordinal(&t.lower).is_some_and(|d| (1..=31).contains(&d)));
    let mut year = false;
    let mut seen = Vec::new();
    for k in lo..hi {
        let Some(ri) = run_of_tok[k] else { continue };
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

fn dates(
    toks: &[Token],
    runs: &[NumRun],
    run_of_tok: &[Option<usize>],
    cue_hits: &[CueHit],
    ctx: &DetectCtx<'_>,
    out: &mut Vec<Found>,
) {
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
        } else if full_old_date(toks, runs, run_of_tok, lo, hi) {
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
        out.push(found(toks, kind, lo, hi, canon));
    }
}

/// Street addresses: a house number, a street name ending in a street word, and the chunks
/// after it that still look like an address (unit, locality, city, state, postcode); or the
/// chunks after "my address is" / "deliver to".
fn addresses(
    toks: &[Token],
    run_of_tok: &[Option<usize>],
    cue_hits: &[CueHit],
    ws: &WordSets,
    ctx: &DetectCtx<'_>,
    out: &mut Vec<Found>,
) {
    let street_word = |t: &Token| t.kind == TokKind::Word && ws.street.contains(t.lower.as_str());
    let name_word = |t: &Token| {
        (t.kind == TokKind::Word && (t.cap || t.lower.len() == 1) && !ctx.gaz.is_stop(&t.lower))
            || (t.kind == TokKind::Word
                && matches!(t.lower.as_str(), "st" | "nd" | "rd" | "th")
                && !t.gap_before)
    };
    let mut covered_to = 0;
    for i in 0..toks.len() {
        if i < covered_to || !street_word(&toks[i]) || !(toks[i].cap || i > 0 && toks[i - 1].cap) {
            continue;
        }
        // street name words before the street word
        let mut k = i;
        while k > 0
            && i - k < 6
            && (name_word(&toks[k - 1]) && !street_word(&toks[k - 1])
                || toks[k - 1].kind == TokKind::Digits && !toks[k].gap_before
                || toks[k - 1].kind == TokKind::Break)
        {
            k -= 1;
        }
        while k < i && toks[k].kind == TokKind::Break {
            k += 1;
        }
        if k == i && !(toks[i].is("nagar") || toks[i].is("colony") || toks[i].is("layout")) {
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
        while j > 0 && matches!(toks[j - 1].punct(), Some(',' | '-' | '/' | '#'))
            || j > 0 && toks[j - 1].kind == TokKind::Break
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
        if !house && !cue {
            continue;
        }
        let hi = extend_address(toks, i + 1, run_of_tok, ws);
        out.push(found(toks, K::Address, lo, hi, String::new()));
        covered_to = hi;
    }
    // "my address is …", "deliver it to …" with no street word: take the address-like chunks
    for h in cue_hits.iter().filter(|h| h.cue == Cue::Entity(K::Address)) {
        let mut s = h.hi;
        while s < toks.len()
            && (toks[s].is("is")
                || toks[s].is("it")
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
        let hi = extend_address(toks, s, run_of_tok, ws);
        if hi > s + 1 {
            out.push(found(toks, K::Address, s, hi, String::new()));
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
            && (matches!(toks[d].lower.as_str(), "no" | "number" | "#")
                || toks[d].punct() == Some('.'))
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
        let hi = extend_address(toks, s + 1, run_of_tok, ws);
        if hi > num_end + 1 && toks[num_end..hi].iter().any(|t| t.kind == TokKind::Word) {
            out.push(found(toks, K::Address, s, hi, String::new()));
        }
    }
}

/// Words that name a dwelling and are followed by its number.
fn is_dwelling_word(w: &str) -> bool {
    matches!(
        w,
        "flat" | "apartment" | "apt" | "suite" | "house" | "plot" | "door" | "villa" | "bungalow"
    )
}

/// Words that start a clause, not an address part, even when capitalised.
fn is_clause_word(w: &str) -> bool {
    matches!(
        w,
        "i" | "i'm"
            | "i'll"
            | "it"
            | "it's"
            | "is"
            | "that"
            | "that's"
            | "this"
            | "the"
            | "and"
            | "but"
            | "so"
            | "yes"
            | "no"
            | "okay"
            | "ok"
            | "please"
            | "thanks"
            | "thank"
            | "can"
            | "could"
            | "will"
            | "would"
            | "should"
            | "do"
            | "does"
            | "did"
            | "are"
            | "was"
            | "were"
            | "what"
            | "when"
            | "where"
            | "how"
            | "why"
            | "who"
            | "sir"
            | "madam"
            | "we"
            | "you"
            | "he"
            | "she"
            | "they"
            | "my"
            | "your"
            | "right"
            | "correct"
            | "sure"
            | "also"
            | "then"
            | "if"
    )
}

/// Extends an address to the right over chunks that look like address parts.
fn extend_address(
    toks: &[Token],
    from: usize,
    run_of_tok: &[Option<usize>],
    ws: &WordSets,
) -> usize {
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
                && matches!(t.lower.as_str(), "st" | "nd" | "rd" | "th"))
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
            if let Some(end) = place_names_then_postcode(toks, k, run_of_tok) {
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
fn place_names_then_postcode(
    toks: &[Token],
    k: usize,
    run_of_tok: &[Option<usize>],
) -> Option<usize> {
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

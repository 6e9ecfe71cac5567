//! Person names: a gazetteer of common Indian, US and UK given names and surnames, the cues
//! people use around names ("my name is", "this is", "Mr", "speaking with", "nominee"), and a
//! per-call memory so a name learned once is removed everywhere in the call, on both tracks.
//!
//! What it cannot catch: a rare name said without any cue and never introduced ("ask Xochitl
//! about it"), a name the ASR wrote in lower case that is not in the gazetteer, and names that
//! are ordinary words ("Will", "Grace", "Brown") at the start of a sentence with no cue.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use super::text::{TokKind, Token, is_filler};

const GAZETTEER: &str = include_str!("names.txt");

/// Ordinary English words, lower case (`scripts/make-wordlist.sh`): in a slot where a name is
/// expected, a word the recogniser wrote in lower case is a name unless it is one of these.
const ENGLISH: &str = include_str!("english.txt");

/// How a gazetteer word may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NameClass {
    First,
    Surname,
    /// Also an ordinary word: needs capitalisation away from a sentence start, or a cue.
    Ambiguous,
}

/// Words that are never taken as names, even capitalised after a cue.
const STOPWORDS: &str =
    "i i'm i'll i've i'd me my mine myself we us our you your yours he him his she her it its
they them their this that these those there here what which who whom whose when where why how
a an the and or but so if then than as at by for from in into of off on onto out over to up
with without about after before again all also am are is was were be been being do does did
done have has had having can could shall should will would may might must not no nor yes yeah
yep ok okay alright right sure fine good great well very just only really actually please
thank thanks thankyou sorry hello hi hey bye goodbye welcome morning afternoon evening night
sir madam ma'am mam mr mrs ms miss mister dr doctor dear calling call speaking talking
one two three four five six seven eight nine ten zero oh double triple hundred thousand lakh
crore million first second third last next new old same other another each every some any
monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday
january february march april june july august september october november december
bank card account number phone mobile email address name customer care support team
service services department manager agent officer executive assistant representative
indian american british english hindi tamil telugu marathi bengali gujarati punjabi kannada
malayalam urdu canadian australian irish scottish welsh hindu muslim christian sikh
india america england london scotland wales ireland usa uk us delhi mumbai
god jesus lord allah ji sahab saheb bhai didi uncle aunty aunt anna amma appa papa mummy
mom dad mother father brother sister son daughter wife husband baby friend
upi otp pin pan cvv ifsc id kyc emi sim atm gst sms ssn dob apt flat
visa mastercard amex rupay paytm gpay phonepe google apple amazon flipkart whatsapp
premium gold silver platinum prime plus pro max basic standard
uh um umm hmm mm mhm er erm ah ahh oh wow";

/// Words after a capitalised word that make it an organisation or a place, not a person.
const ORG_WORDS: &str = "bank banking telecom telecoms wireless mobile mobiles communications
insurance assurance hospital hospitals clinic clinics airlines airways motors industries
services solutions finance financial technologies tech ltd limited inc corp corporation
group university college school institute labs pharmacy pharma foods stores store mart
retail electronics energy power broadband cable credit capital securities health healthcare
medical travels tours hotel hotels restaurant cafe express logistics courier couriers
network networks systems consulting enterprises traders associates company co plc llc
foundation trust society fund mutual life general road rd street st lane ln avenue ave
nagar colony marg drive boulevard way court place terrace close crescent gardens park
heights square circle highway parkway apartments residency towers enclave vihar layout
city county state district town village river mountain station airport mall centre center";

/// Cues that, on the speaker's own track, introduce the speaker ("this is Asha").
const SELF_CUES: &[&[&str]] = &[
    &["my", "name", "is"],
    &["name", "is"],
    &["name's"],
    &["this", "is"],
    &["i", "am"],
    &["i'm"],
    &["myself"],
    &["speaking", "with"],
    &["speaking", "to"],
    &["talking", "to"],
];

/// Cues that introduce somebody's name whoever says them.
const OTHER_STRONG_CUES: &[&[&str]] = &[
    &["mr"],
    &["mrs"],
    &["ms"],
    &["miss"],
    &["mister"],
    &["missus"],
    &["dr"],
    &["shri"],
    &["shrimati"],
    &["smt"],
    &["sri"],
    &["nominee", "is"],
    &["nominee"],
    &["named"],
    &["called"],
    &["holder", "is"],
    &["beneficiary", "is"],
    &["spouse", "is"],
    &["husband", "is"],
    &["wife", "is"],
    &["father's", "name"],
    &["mother's", "name"],
    &["maiden", "name"],
    &["surname", "is"],
    &["it", "is"],
    &["it's"],
    &["for"],
    &["ask", "for"],
];

/// Greetings and thanks: only gazetteer names (including ambiguous ones, when capitalised).
const WEAK_CUES: &[&str] = &[
    "thank",
    "thanks",
    "hi",
    "hello",
    "hey",
    "dear",
    "bye",
    "goodbye",
    "sorry",
    "okay",
    "ok",
    "yes",
    "sure",
    "right",
    "morning",
    "afternoon",
    "evening",
    "you",
];

/// The loaded gazetteer and word lists; built once per `Redactor`.
#[derive(Clone)]
pub(crate) struct Gazetteer {
    names: HashMap<&'static str, NameClass>,
    stop: HashSet<&'static str>,
    org: HashSet<&'static str>,
    english: Arc<HashSet<&'static str>>,
}

/// The word list, parsed once per process (it is large and never changes).
fn english() -> Arc<HashSet<&'static str>> {
    static WORDS: OnceLock<Arc<HashSet<&'static str>>> = OnceLock::new();
    WORDS
        .get_or_init(|| {
            Arc::new(
                ENGLISH
                    .lines()
                    .filter(|l| !l.starts_with('#') && !l.is_empty())
                    .collect(),
            )
        })
        .clone()
}

impl Gazetteer {
    pub fn load() -> Gazetteer {
        let mut names = HashMap::new();
        let mut section = NameClass::First;
        for line in GAZETTEER.lines() {
            let line = line.trim();
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            match line {
                "[first]" => section = NameClass::First,
                "[surname]" => section = NameClass::Surname,
                "[ambiguous]" => section = NameClass::Ambiguous,
                _ => {
                    for w in line.split_whitespace() {
                        // an ambiguous listing wins over a first-name or surname listing
                        let e = names.entry(w).or_insert(section);
                        if section == NameClass::Ambiguous {
                            *e = NameClass::Ambiguous;
                        }
                    }
                }
            }
        }
        let stop: HashSet<&'static str> = STOPWORDS.split_whitespace().collect();
        for w in &stop {
            names.remove(w);
        }
        Gazetteer {
            names,
            stop,
            org: ORG_WORDS.split_whitespace().collect(),
            english: english(),
        }
    }

    pub fn class(&self, lower: &str) -> Option<NameClass> {
        self.names.get(lower).copied()
    }
    pub fn is_stop(&self, lower: &str) -> bool {
        self.stop.contains(lower)
    }
    pub fn is_org(&self, lower: &str) -> bool {
        self.org.contains(lower)
    }
    /// An ordinary English word (any case).
    pub fn is_english(&self, lower: &str) -> bool {
        self.english.contains(lower)
    }
    /// Removes names from the gazetteer (held-out evaluation only).
    pub fn remove(&mut self, lower: &str) {
        self.names.remove(lower);
    }
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.names.len()
    }
}

/// Names learned earlier in the call (lower case → needs capitalisation to match), and the
/// number identifiers found so far, so that a read-back ("so that was nine four zero six?")
/// is removed like the answer it repeats.
#[derive(Default)]
pub(crate) struct NameMemory {
    pub learned: HashMap<String, bool>,
    /// Names agents gave for themselves.
    pub agent: HashSet<String>,
    /// HMAC-SHA256 (keyed with `key`) of each number identifier's digits → its kind: the
    /// digits themselves are not kept.
    numbers: HashMap<[u8; 32], crate::transcript::EntityKind>,
    key: [u8; 32],
}

impl NameMemory {
    /// A memory whose number digests are keyed with `key` (the call's key).
    pub fn with_key(key: [u8; 32]) -> NameMemory {
        NameMemory {
            key,
            ..NameMemory::default()
        }
    }

    fn digest(&self, digits: &str) -> [u8; 32] {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes any key length");
        mac.update(b"number\0");
        mac.update(digits.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Remembers a number identifier of this call (at least 3 digits; digits only).
    pub fn remember_number(&mut self, digits: &str, kind: crate::transcript::EntityKind) {
        if digits.len() >= 3 && digits.bytes().all(|b| b.is_ascii_digit()) {
            let d = self.digest(digits);
            self.numbers.entry(d).or_insert(kind);
        }
    }

    /// The kind of a number identifier said earlier in the call with these digits.
    pub fn recall_number(&self, digits: &str) -> Option<crate::transcript::EntityKind> {
        if digits.len() < 3 || self.numbers.is_empty() {
            return None;
        }
        self.numbers.get(&self.digest(digits)).copied()
    }
}

impl std::fmt::Debug for NameMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never print the names themselves
        write!(
            f,
            "NameMemory {{ learned: {}, agent: {}, numbers: {} }}",
            self.learned.len(),
            self.agent.len(),
            self.numbers.len()
        )
    }
}

/// One detected name: token range and whether the speaker introduced themself with it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NameHit {
    pub lo: usize,
    pub hi: usize,
    pub self_intro: bool,
}

/// Index of the previous token that matters for cues (skips commas, fillers, dots after titles).
fn prev_sig(toks: &[Token], i: usize) -> Option<usize> {
    let mut j = i;
    while j > 0 {
        j -= 1;
        let t = &toks[j];
        if is_filler(&t.lower) || matches!(t.punct(), Some(',' | '.' | '-' | ':')) {
            continue;
        }
        return Some(j);
    }
    None
}

/// Whether the cue phrase ends right before token `i` (skipping commas and fillers).
fn cue_before(toks: &[Token], i: usize, phrase: &[&str]) -> bool {
    let mut j = i;
    for w in phrase.iter().rev() {
        match prev_sig(toks, j) {
            Some(p) if toks[p].lower == *w => j = p,
            _ => return false,
        }
    }
    true
}

pub(crate) fn sentence_initial(toks: &[Token], i: usize) -> bool {
    let mut j = i;
    while j > 0 {
        j -= 1;
        let t = &toks[j];
        if matches!(t.punct(), Some('"' | '\'' | '(' | '-')) {
            continue;
        }
        return t.kind == TokKind::Break || t.is_sentence_end();
    }
    true
}

/// Inputs of name finding besides the tokens.
pub(crate) struct NameCtx<'a> {
    pub gaz: &'a Gazetteer,
    pub memory: &'a NameMemory,
    /// Token range of text answering a "what is your name" question from the other party.
    pub asked: Option<(usize, usize)>,
    /// Place names (US states …), lower case: never a name on their own.
    pub places: &'a HashSet<&'static str>,
}

impl NameCtx<'_> {
    fn plausible(&self, t: &Token) -> bool {
        t.is_word()
            && t.lower.chars().count() >= 2
            && !self.gaz.is_stop(&t.lower)
            && !self.gaz.is_org(&t.lower)
    }

    /// A word in lower case that can only be a name where a name is expected: not an ordinary
    /// English word, not a stop word, at least three letters ("priya raghunathan" after "my
    /// name is", written so by the recogniser).
    fn unusual(&self, t: &Token) -> bool {
        self.plausible(t)
            && !t.cap
            && t.lower.chars().count() >= 3
            && t.lower.chars().all(char::is_alphabetic)
            && !self.gaz.is_english(&t.lower)
    }

    /// A word that is a name by itself (gazetteer or memory), wherever it stands.
    fn known(&self, toks: &[Token], i: usize) -> bool {
        let t = &toks[i];
        if !t.is_word() || self.gaz.is_stop(&t.lower) {
            return false;
        }
        if let Some(&needs_cap) = self.memory.learned.get(&t.lower)
            && (!needs_cap || (t.cap && !t.all_caps))
        {
            return true;
        }
        match self.gaz.class(&t.lower) {
            Some(NameClass::First | NameClass::Surname) => {
                !(t.all_caps && t.lower.len() > 1 && t.lower.len() <= 3)
            }
            Some(NameClass::Ambiguous) => {
                t.cap
                    && !t.all_caps
                    && !sentence_initial(toks, i)
                    && !toks.get(i + 1).is_some_and(|n| self.gaz.is_org(&n.lower))
            }
            None => false,
        }
    }

    /// A word that may continue a name already found ("Pillai" after "Meera").
    fn continues(&self, t: &Token) -> bool {
        if !t.is_word() || self.gaz.is_stop(&t.lower) || self.gaz.is_org(&t.lower) {
            return false;
        }
        (t.cap && !(t.all_caps && t.lower.chars().count() > 1))
            || self.unusual(t)
            || matches!(
                self.gaz.class(&t.lower),
                Some(NameClass::First | NameClass::Surname)
            )
            || self.memory.learned.contains_key(&t.lower)
    }
}

/// Finds person names in the window tokens.
pub(crate) fn find_names(toks: &[Token], ctx: &NameCtx<'_>) -> Vec<NameHit> {
    let mut hits: Vec<NameHit> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if !t.is_word() {
            i += 1;
            continue;
        }
        let mut self_intro = false;
        let mut accept = false;
        let cap_ok = t.cap && ctx.plausible(t);
        for cue in SELF_CUES {
            if cue_before(toks, i, cue) {
                if cap_ok
                    || (ctx.plausible(t) && ctx.gaz.class(&t.lower).is_some())
                    || ctx.unusual(t)
                {
                    accept = true;
                    self_intro = true;
                }
                break;
            }
        }
        if !accept {
            for cue in OTHER_STRONG_CUES {
                if cue_before(toks, i, cue) {
                    // "it is", "for" are weak cues: a known name or a capitalised unknown word
                    // that is not at a sentence start
                    let weak = matches!(cue, ["it", "is"] | ["it's"] | ["for"] | ["ask", "for"]);
                    let title = cue.len() == 1
                        && !matches!(cue[0], "for" | "it's" | "named" | "called" | "nominee");
                    if title || !weak {
                        accept = cap_ok
                            || (ctx.plausible(t) && ctx.gaz.class(&t.lower).is_some())
                            || ctx.unusual(t);
                    } else {
                        accept = ctx.known(toks, i);
                    }
                    if accept {
                        break;
                    }
                }
            }
        }
        if !accept && ctx.known(toks, i) {
            accept = true;
        }
        if !accept
            && t.cap
            && !t.all_caps
            && (cap_ok || ctx.gaz.class(&t.lower) == Some(NameClass::Ambiguous))
            // "Thanks. Perfect." — an ordinary word is a name here only if the gazetteer says so
            && (!ctx.gaz.is_english(&t.lower) || ctx.gaz.class(&t.lower).is_some())
        {
            // "Thank you, Shruti." / "Hi Grace," — a capitalised word addressed after a greeting
            // or thanks, standing alone before punctuation (or before a surname)
            if let Some(p) = prev_sig(toks, i) {
                let after_greeting = WEAK_CUES.contains(&toks[p].lower.as_str())
                    && !(toks[p].is("you")
                        && !(p > 0 && matches!(toks[p - 1].lower.as_str(), "thank" | "see")));
                let alone = toks
                    .get(i + 1)
                    .is_none_or(|n| !n.is_word() || (n.cap && ctx.continues(n)));
                accept = after_greeting
                    && alone
                    && !toks.get(i + 1).is_some_and(|n| ctx.gaz.is_org(&n.lower));
            }
        }
        // "Gaurav here." / "Priya Menon speaking," at the start of a sentence or clause: one
        // to three capitalised words (or words that are not ordinary English)
        let name_len = (i..toks.len().min(i + 3))
            .take_while(|&k| {
                let w = &toks[k];
                (w.cap && ctx.plausible(w)) || ctx.unusual(w)
            })
            .count();
        let intro_at = (1..=name_len).find(|&n| {
            toks.get(i + n)
                .is_some_and(|w| w.is("here") || w.is("speaking"))
        });
        if !accept
            && cap_ok
            && let Some(n) = intro_at
        {
            // (after a company's name too: "thanks for calling Castle Insurance Benedict
            // speaking", the recogniser's punctuation lost)
            let starts = sentence_initial(toks, i)
                || prev_sig(toks, i).is_some_and(|p| {
                    matches!(toks[p].lower.as_str(), "is" | "hi" | "hello")
                        || ctx.gaz.is_org(&toks[p].lower)
                })
                || (i > 0 && toks[i - 1].punct() == Some(','));
            let ends = toks.get(i + n + 1).is_none_or(|w| !w.is_word());
            if starts && ends {
                accept = true;
                self_intro = true;
            }
        }
        // a capitalised word that is not ordinary English, mid-sentence or beside another such
        // word ("… transferred to Okonkwo", "Tanushree Chitnis will call"): the recogniser
        // capitalises names, and a word no English dictionary has is, in a call, nearly always
        // a name (brands and places before "Bank", "Road", … are organisations, not names)
        let foreign_cap = |w: &Token| {
            w.cap
                && !w.all_caps
                && ctx.plausible(w)
                && w.lower.chars().count() >= 3
                && w.lower.chars().all(char::is_alphabetic)
                && !ctx.gaz.is_english(&w.lower)
                && !ctx.places.contains(w.lower.as_str())
        };
        if !accept
            && foreign_cap(t)
            && (!sentence_initial(toks, i) || toks.get(i + 1).is_some_and(foreign_cap))
        {
            accept = true;
        }
        if !accept
            && cap_ok
            && !t.all_caps
            && !ctx.gaz.is_english(&t.lower)
            && sentence_initial(toks, i)
            && toks.get(i + 1).is_none_or(|n| {
                matches!(n.punct(), Some(',' | '?' | '.' | '!')) || n.kind == TokKind::Break
            })
        {
            // a person addressed by name: "Henrietta, for verification …", "… anything else?
            // Delaney?" — a capitalised word that is not ordinary English, alone before a comma
            // or as its own sentence
            accept = t.lower.chars().count() >= 3;
        }
        if !accept
            && (cap_ok || ctx.unusual(t))
            && let Some((lo, hi)) = ctx.asked
        {
            // in the answer to "your name?": a word that is not ordinary English, a known name,
            // or a capitalised word beside another (an ordinary word is capitalised at the
            // start of a sentence: "Let me check. Um, …")
            let unusual_cap = |w: &Token| {
                w.cap && ctx.plausible(w) && !ctx.gaz.is_english(&w.lower)
                    || ctx.unusual(w)
                    || ctx.gaz.class(&w.lower).is_some()
            };
            let paired = toks.get(i + 1).is_some_and(|n| n.cap && unusual_cap(n))
                || (i > 0 && toks[i - 1].cap && unusual_cap(&toks[i - 1]));
            accept = i >= lo
                && i < hi
                && t.lower.chars().count() >= 3
                && (unusual_cap(t) || (!sentence_initial(toks, i) || paired) && t.cap);
        }
        if !accept {
            i += 1;
            continue;
        }
        // extend right over surnames and initials; a segment break may sit inside a name
        let mut hi = i + 1;
        let mut extra = 0;
        while hi < toks.len() && extra < 3 {
            let n = &toks[hi];
            if n.kind == TokKind::Break {
                if toks.get(hi + 1).is_some_and(|m| ctx.continues(m) && m.cap) {
                    hi += 1;
                    continue;
                }
                break;
            }
            let initial = n.is_word()
                && n.lower.chars().count() == 1
                && n.cap
                && n.lower != "i"
                && n.lower != "a";
            if ctx.continues(n) || initial {
                hi += 1;
                extra += 1;
                if initial
                    && toks
                        .get(hi)
                        .is_some_and(|d| d.punct() == Some('.') && !d.gap_before)
                {
                    hi += 1;
                }
                continue;
            }
            break;
        }
        // trailing break / dot must not end the span
        while hi > i + 1 && !toks[hi - 1].is_word() {
            hi -= 1;
        }
        // extend left over one capitalised unknown word ("Xochitl Sharma")
        let mut lo = i;
        if let Some(p) = lo.checked_sub(1) {
            let pt = &toks[p];
            if pt.is_word()
                && pt.cap
                && !pt.all_caps
                && ctx.plausible(pt)
                && !sentence_initial(toks, p)
                && pt.lower.chars().count() > 1
            {
                lo = p;
            }
        }
        // a capitalised name right before an organisation or street word is that place's name
        let next_org = toks
            .get(hi)
            .is_some_and(|n| ctx.gaz.is_org(&n.lower) && n.cap);
        if next_org {
            i = hi;
            continue;
        }
        match hits.last_mut() {
            Some(h) if h.hi >= lo => {
                h.hi = h.hi.max(hi);
                h.self_intro |= self_intro;
            }
            _ => hits.push(NameHit { lo, hi, self_intro }),
        }
        i = hi;
    }
    let spelled = spelled_names(toks, ctx, &hits);
    if !spelled.is_empty() {
        hits.extend(spelled);
        hits.sort_by_key(|h| h.lo);
    }
    hits
}

/// Letters said one by one ("O K O N K W O", "O-K-O-N-K-W-O"): a name being spelled where a
/// name is asked for, right after a name, or after "spell"; and any run of five or more letters
/// (on a support call a long spelling is a name, an address or an e-mail, never small talk).
/// Letters glued to digits are an alphanumeric identifier, left to the other detectors.
fn spelled_names(toks: &[Token], ctx: &NameCtx<'_>, hits: &[NameHit]) -> Vec<NameHit> {
    let letter = |t: &Token| t.is_word() && t.lower.chars().count() == 1;
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if !letter(&toks[i]) {
            i += 1;
            continue;
        }
        let lo = i;
        // "K for Kilo", "A as in Alpha": the letter's key word belongs to the spelling
        let keyword_end = |j: usize| {
            let w = |k: usize| {
                toks.get(k)
                    .is_some_and(|t| t.is_word() && t.lower.len() > 1)
            };
            if toks.get(j).is_some_and(|t| t.is("for")) && w(j + 1) {
                j + 2
            } else if toks.get(j).is_some_and(|t| t.is("as"))
                && toks.get(j + 1).is_some_and(|t| t.is("in"))
                && w(j + 2)
            {
                j + 3
            } else {
                j
            }
        };
        let (mut hi, mut count) = (keyword_end(i + 1), 1);
        loop {
            let mut j = hi;
            while j < toks.len() && j - hi < 2 && matches!(toks[j].punct(), Some('-' | ',' | '.')) {
                j += 1;
            }
            if j < toks.len() && letter(&toks[j]) {
                hi = keyword_end(j + 1);
                count += 1;
            } else {
                break;
            }
        }
        i = hi;
        let digits_beside = toks.get(hi).is_some_and(|t| t.kind == TokKind::Digits)
            || (lo > 0 && toks[lo - 1].kind == TokKind::Digits);
        if count < 3 || digits_beside {
            continue;
        }
        let asked = ctx.asked.is_some_and(|(a, b)| lo >= a && lo < b);
        let before = prev_sig(toks, lo);
        // (a name found before may already have taken the first letter as an initial)
        let after_name = before.is_some_and(|p| hits.iter().any(|h| h.lo <= p && h.hi > p))
            || hits.iter().any(|h| h.lo < lo && h.hi > lo);
        let after_spell = toks[lo.saturating_sub(6)..lo].iter().any(|t| {
            matches!(
                t.lower.as_str(),
                "spell" | "spelled" | "spelt" | "spelling" | "spells"
            )
        });
        if count >= 5 || asked || after_name || after_spell {
            out.push(NameHit {
                lo,
                hi,
                self_intro: false,
            });
        }
    }
    out
}

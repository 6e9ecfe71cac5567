//! The word lists the detectors judge by, as data: units and money words that make a number a
//! quantity, cue acronyms, UPI handles and mail hosts, months, street and address words, and
//! the closed lists of small words (answer openers, clause words, dwellings, digit
//! sound-alikes). Only words live here, no detection logic; it imports nothing.
//!
//! Two shapes: open-ended vocabularies are whitespace-separated strings, turned into hash sets
//! once per `Redactor` ([`WordSets`]); short closed lists are `&[&str]` slices checked in place
//! (four behind an `is_…` predicate, for readable call sites). They are Rust constants rather
//! than `.txt` files like `names.txt`: each is short, carries a comment saying what it decides,
//! and a misspelt constant name fails to compile.

// Numbers: quantities, prices, times, and the answers that give an identifier.

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

/// Words that may stand right before an amount whose money word is a little further left
/// ("price of 500", "cost only 200").
pub(super) const MONEY_LINKS: &[&str] = &[
    "of", "is", "was", "the", "a", "only", "just", "about", "around", "be", "will",
];

/// Words after a number of at most four digits that make it a clock time ("7 pm", "10 hrs").
pub(super) const CLOCK_WORDS: &[&str] = &["am", "pm", "o'clock", "oclock", "noon", "hrs"];

/// Parts of the day that make a short number before "in the …" a clock time.
pub(super) const DAY_PARTS: &[&str] = &["morning", "evening", "afternoon", "night"];

/// Whether the recogniser may have written `w` for a spoken digit: a sound-alike
/// (`numbers::homophone_digit`: "two" → "to") or a zero ("oh", "o", "no").
pub(super) fn is_digit_homophone(w: &str) -> bool {
    crate::redact::numbers::homophone_digit(w).is_some() || matches!(w, "oh" | "o" | "no")
}

/// The words a short answer may open with before its number ("it is", "yes, it's", "sure,
/// that's").
pub(super) const ANSWER_OPENERS: &[&str] = &[
    "it", "it's", "its", "is", "was", "that", "that's", "this", "yes", "yeah", "yep", "sure", "ok",
    "okay", "so", "um", "uh", "er", "hmm", "right", "and", "the", "mine", "my",
];

/// Prepositions that, with a [`QUALIFIER_DETERMINERS`] word, make a one-word cue after them
/// qualify another noun ("… on the account", "… for the card").
pub(super) const QUALIFIER_PREPOSITIONS: &[&str] = &[
    "on", "for", "of", "in", "to", "with", "from", "under", "linked",
];

/// Determiners between a [`QUALIFIER_PREPOSITIONS`] word and a one-word cue.
pub(super) const QUALIFIER_DETERMINERS: &[&str] = &["the", "your", "my", "this", "that"];

/// Tokens that may stand between an identifier's name and its value ("the account number is
/// 2319", "card no: 4111").
pub(super) const ANSWER_FILLERS: &[&str] = &["is", "was", "it's", ":", "-", ","];

// Letter-and-digit identifiers.

/// Acronyms that are cue words, never letters of an identifier.
const CUE_ACRONYMS: &str =
    "IFSC PAN UPI OTP CVV CVC ID SSN GST GSTIN PIN IBAN BIC SWIFT ATM KYC OK USA
UK US EMI SIM DOB ITIN EPIC NRI TV AC AM PM UPI VPA NEFT IMPS RTGS SMS MPIN II III";

// E-mail addresses and UPI IDs.

/// Known UPI handle suffixes (payment service providers' handles).
const UPI_HANDLES: &str =
    "ybl ibl axl upi paytm okaxis okhdfcbank okicici oksbi apl yapl ptyes ptaxis pthdfc
ptsbi axisbank hdfcbank icici sbi kotak yesbank fbl idfcbank pnb boi unionbank freecharge
jupiteraxis waaxis wahdfcbank wasbi waicici ikwik postbank airtel jio abfspay axisb ezeepay
indus federal rbl barodampay aubank dbs hsbc citi kbl kvb tjsb sib equitas idbi cnrb";

/// Mail providers: a domain starting with one of them is an e-mail address.
const MAIL_HOSTS: &str =
    "gmail yahoo hotmail outlook rediffmail rediff icloud protonmail proton aol live msn
ymail zoho mail gmx yandex fastmail";

/// Top-level domains that end a spoken e-mail domain ("… dot com").
const TLDS: &str = "com in org net co uk us edu gov io info biz me ai app dev ac ca au de fr";

/// Words that never belong to the local part of a spoken e-mail or UPI ID ("my email is …").
const LOCAL_STOPS: &[&str] = &[
    "is", "was", "my", "id", "email", "mail", "address", "it", "it's", "its", "to", "me", "at",
    "on", "the", "upi", "use", "send", "write", "and", "or", "vpa", "please", "that's", "this",
    "your", "our", "handle", "e", "i", "a", "from", "by", "yes", "no", "okay", "so", "sure",
    "called",
];

/// Whether `w` is one of the [`LOCAL_STOPS`].
pub(super) fn is_local_stop(w: &str) -> bool {
    LOCAL_STOPS.contains(&w)
}

/// Connectors said or written between the pieces of an e-mail's local part ("priya dot s").
pub(super) const LOCAL_CONNECTORS: &[&str] =
    &["dot", "underscore", "dash", "hyphen", ".", "_", "-"];

/// What "at" becomes in recognised speech ("has", "hat", "add"), and the connectors written
/// between the pieces of an e-mail address (a dot is a joint too).
pub(super) const GARBLED_JOINTS: &[&str] = &[
    "at",
    "has",
    "hat",
    "add",
    "underscore",
    "dash",
    "hyphen",
    "_",
    "-",
    "@",
];

// Dates.

/// Month names and their abbreviations.
pub(super) const MONTHS: &[&str] = &[
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

/// Months and abbreviations that are also ordinary words ("may", "march", "dec"): a month only
/// when capitalised and next to a number.
pub(super) const MONTHS_ALSO_WORDS: &[&str] = &[
    "may", "march", "dec", "jan", "mar", "sep", "oct", "nov", "aug", "jun", "jul", "apr", "feb",
];

/// Day names and day words ("today"): one between an identifier and a number keeps them apart.
pub(super) const WEEKDAYS: &[&str] = &[
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

/// Ordinal endings, as tokens of their own after a number ("21st", "2 nd").
pub(super) const ORDINAL_SUFFIXES: &[&str] = &["st", "nd", "rd", "th"];

// Addresses.

/// Street-type words that end a street name.
const STREET: &str =
    "road rd street st lane ln avenue ave drive dr boulevard blvd way court ct place pl
terrace close crescent gardens grove square sq marg nagar colony layout cross main circle
highway hwy parkway pkwy heights park row mews hill vihar enclave chowk gali sector block
phase apartments apartment residency towers tower society bagh path wharf walk trail loop
pike alley estate plaza complex quarters mohalla peth wadi puram pet halli palya";

/// Street words taken for a street even with no name word before them (other street words
/// alone, "Park", "Heights", need a house number before them and a comma after).
pub(super) const STREETS_ALONE: &[&str] = &["nagar", "colony", "layout"];

/// Words that open or belong to an address chunk.
const ADDRESS_WORDS: &str =
    "flat apartment apt suite unit floor block sector phase building bldg tower
wing house door plot no number near opposite behind beside behind cross main stage
district dist taluk tehsil po post village pin pincode zip postcode";

/// US state names (and the second words of two-word ones): a 4-, 5- or 9-digit number right
/// after a capitalised one is a ZIP code.
const US_STATES: &str = "alabama alaska arizona arkansas california colorado connecticut delaware
florida georgia hawaii idaho illinois indiana iowa kansas kentucky louisiana maine maryland
massachusetts michigan minnesota mississippi missouri montana nebraska nevada hampshire
jersey mexico york carolina dakota ohio oklahoma oregon pennsylvania rhode tennessee texas
utah vermont virginia washington wisconsin wyoming";

/// Words between a dwelling word and its number ("flat no 5", "house # 12").
pub(super) const NUMBER_MARKS: &[&str] = &["no", "number", "#"];

/// Words that name a dwelling and are followed by its number.
const DWELLING_WORDS: &[&str] = &[
    "flat",
    "apartment",
    "apt",
    "suite",
    "house",
    "plot",
    "door",
    "villa",
    "bungalow",
];

/// Whether `w` is one of the [`DWELLING_WORDS`].
pub(super) fn is_dwelling_word(w: &str) -> bool {
    DWELLING_WORDS.contains(&w)
}

/// Words that start a clause, not an address part, even when capitalised.
const CLAUSE_WORDS: &[&str] = &[
    "i", "i'm", "i'll", "it", "it's", "is", "that", "that's", "this", "the", "and", "but", "so",
    "yes", "no", "okay", "ok", "please", "thanks", "thank", "can", "could", "will", "would",
    "should", "do", "does", "did", "are", "was", "were", "what", "when", "where", "how", "why",
    "who", "sir", "madam", "we", "you", "he", "she", "they", "my", "your", "right", "correct",
    "sure", "also", "then", "if",
];

/// Whether `w` is one of the [`CLAUSE_WORDS`].
pub(super) fn is_clause_word(w: &str) -> bool {
    CLAUSE_WORDS.contains(&w)
}

// The vocabularies as sets.

/// The vocabularies above as sets, built once per `Redactor`.
#[derive(Clone)]
pub(crate) struct WordSets {
    pub(super) units: std::collections::HashSet<&'static str>,
    pub(super) money: std::collections::HashSet<&'static str>,
    pub(super) street: std::collections::HashSet<&'static str>,
    pub(super) address: std::collections::HashSet<&'static str>,
    pub(super) states: std::collections::HashSet<&'static str>,
    pub(super) acronyms: std::collections::HashSet<String>,
    pub(super) upi: std::collections::HashSet<&'static str>,
    pub(super) hosts: std::collections::HashSet<&'static str>,
    pub(super) tlds: std::collections::HashSet<&'static str>,
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

//! Context cues: the words people use around an identifier ("my card number is", "the OTP
//! is", "date of birth", "sort code"). A cue decides the kind of a number run and lets short
//! runs (a 3-digit CVV, a 6-digit OTP, a 4-digit PIN) be removed that would be kept without it.

use super::text::{TokKind, Token};
use crate::transcript::EntityKind;

/// What a cue announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cue {
    Entity(EntityKind),
    /// "number", "no." — some identifier; only long runs are taken on its word.
    Number,
    /// "last four", "ending in" — a fragment of an identifier announced further left.
    Ending,
    /// Not a phrase: marks that the other party spoke since this speaker's last segment.
    Turn,
}

use Cue::{Ending, Entity as E, Number};

use EntityKind as K;

/// Cue phrases, longest first where one is a prefix of another.
const PHRASES: &[(&[&str], Cue)] = &[
    (&["account", "number"], E(K::BankAccount)),
    (&["account", "no"], E(K::BankAccount)),
    (&["card", "number"], E(K::Card)),
    (&["card", "no"], E(K::Card)),
    (&["phone", "number"], E(K::Phone)),
    (&["mobile", "number"], E(K::Phone)),
    (&["contact", "number"], E(K::Phone)),
    (&["callback", "number"], E(K::Phone)),
    (&["aadhaar", "number"], E(K::Aadhaar)),
    (&["aadhar", "number"], E(K::Aadhaar)),
    (&["pan", "number"], E(K::Pan)),
    (&["passport", "number"], E(K::Passport)),
    (&["social", "security", "number"], E(K::Ssn)),
    (&["date", "of", "birth"], E(K::DateOfBirth)),
    (&["birth", "date"], E(K::DateOfBirth)),
    (&["birthday"], E(K::DateOfBirth)),
    (&["birth"], E(K::DateOfBirth)),
    (&["born"], E(K::DateOfBirth)),
    (&["dob"], E(K::DateOfBirth)),
    (&["d", "o", "b"], E(K::DateOfBirth)),
    (&["pin", "code"], E(K::Postcode)),
    (&["pincode"], E(K::Postcode)),
    (&["zip", "code"], E(K::Postcode)),
    (&["zip"], E(K::Postcode)),
    (&["zipcode"], E(K::Postcode)),
    (&["postcode"], E(K::Postcode)),
    (&["post", "code"], E(K::Postcode)),
    (&["postal", "code"], E(K::Postcode)),
    (&["postal"], E(K::Postcode)),
    (&["sort", "code"], E(K::SortCode)),
    (&["security", "code"], E(K::Cvv)),
    (&["security", "number"], E(K::Cvv)),
    (&["card", "verification"], E(K::Cvv)),
    (&["three", "digits"], E(K::Cvv)),
    (&["3", "digits"], E(K::Cvv)),
    (&["cvv"], E(K::Cvv)),
    (&["cvv2"], E(K::Cvv)),
    (&["cvc"], E(K::Cvv)),
    (&["c", "v", "v"], E(K::Cvv)),
    (&["c", "v", "c"], E(K::Cvv)),
    (&["back", "of", "the", "card"], E(K::Cvv)),
    (&["otp"], E(K::Otp)),
    (&["o", "t", "p"], E(K::Otp)),
    (&["one", "time", "password"], E(K::Otp)),
    (&["verification", "code"], E(K::Otp)),
    (&["confirmation", "code"], E(K::Otp)),
    (&["passcode"], E(K::Otp)),
    (&["code"], E(K::Otp)),
    (&["atm", "pin"], E(K::Pin)),
    (&["upi", "pin"], E(K::Pin)),
    (&["mpin"], E(K::Pin)),
    (&["pin"], E(K::Pin)),
    (&["password"], E(K::Pin)),
    (&["expiry"], E(K::CardExpiry)),
    (&["expiration"], E(K::CardExpiry)),
    (&["expires"], E(K::CardExpiry)),
    (&["expiring"], E(K::CardExpiry)),
    (&["expire"], E(K::CardExpiry)),
    (&["valid", "thru"], E(K::CardExpiry)),
    (&["valid", "through"], E(K::CardExpiry)),
    (&["valid", "till"], E(K::CardExpiry)),
    (&["valid", "until"], E(K::CardExpiry)),
    (&["valid", "upto"], E(K::CardExpiry)),
    (&["credit", "card"], E(K::Card)),
    (&["debit", "card"], E(K::Card)),
    (&["card"], E(K::Card)),
    (&["visa"], E(K::Card)),
    (&["mastercard"], E(K::Card)),
    (&["amex"], E(K::Card)),
    (&["rupay"], E(K::Card)),
    (&["ifsc"], E(K::Ifsc)),
    (&["i", "f", "s", "c"], E(K::Ifsc)),
    (&["iban"], E(K::Iban)),
    (&["swift"], E(K::Swift)),
    (&["bic"], E(K::Swift)),
    (&["routing"], E(K::BankAccount)),
    (&["account"], E(K::BankAccount)),
    (&["acct"], E(K::BankAccount)),
    (&["aadhaar"], E(K::Aadhaar)),
    (&["aadhar"], E(K::Aadhaar)),
    (&["adhaar"], E(K::Aadhaar)),
    (&["adhar"], E(K::Aadhaar)),
    (&["uid"], E(K::Aadhaar)),
    (&["uidai"], E(K::Aadhaar)),
    (&["permanent", "account", "number"], E(K::Pan)),
    (&["pan"], E(K::Pan)),
    (&["gstin"], E(K::Gstin)),
    (&["gst"], E(K::Gstin)),
    (&["social", "security"], E(K::Ssn)),
    (&["ssn"], E(K::Ssn)),
    (&["s", "s", "n"], E(K::Ssn)),
    (&["social"], E(K::Ssn)),
    (&["itin"], E(K::Itin)),
    (&["taxpayer"], E(K::Itin)),
    (&["tax", "id"], E(K::Itin)),
    (&["passport"], E(K::Passport)),
    (&["voter"], E(K::VoterId)),
    (&["epic"], E(K::VoterId)),
    (&["upi"], E(K::Upi)),
    (&["vpa"], E(K::Upi)),
    (&["email"], E(K::Email)),
    (&["e", "mail"], E(K::Email)),
    (&["mail", "id"], E(K::Email)),
    (&["ip", "address"], E(K::IpAddress)),
    (&["address"], E(K::Address)),
    (&["live", "at"], E(K::Address)),
    (&["staying", "at"], E(K::Address)),
    (&["residing", "at"], E(K::Address)),
    (&["deliver", "to"], E(K::Address)),
    (&["delivered", "to"], E(K::Address)),
    (&["ship", "to"], E(K::Address)),
    (&["shipped", "to"], E(K::Address)),
    (&["policy", "number"], E(K::IdNumber)),
    (&["customer", "id"], E(K::IdNumber)),
    (&["customer", "number"], E(K::IdNumber)),
    (&["member", "id"], E(K::IdNumber)),
    (&["membership"], E(K::IdNumber)),
    (&["loan", "number"], E(K::IdNumber)),
    (&["claim", "number"], E(K::IdNumber)),
    (&["consumer", "number"], E(K::IdNumber)),
    (&["registration", "number"], E(K::IdNumber)),
    (&["licence"], E(K::IdNumber)),
    (&["license"], E(K::IdNumber)),
    (&["employee", "id"], E(K::IdNumber)),
    (&["id"], E(K::IdNumber)),
    (&["full", "name"], E(K::Name)),
    (&["name"], E(K::Name)),
    (&["name's"], E(K::Name)),
    (&["names"], E(K::Name)),
    (&["nominee"], E(K::Name)),
    (&["beneficiary"], E(K::Name)),
    (&["spell"], E(K::Name)),
    (&["surname"], E(K::Name)),
    (&["phone"], E(K::Phone)),
    (&["mobile"], E(K::Phone)),
    (&["cell"], E(K::Phone)),
    (&["cellphone"], E(K::Phone)),
    (&["telephone"], E(K::Phone)),
    (&["landline"], E(K::Phone)),
    (&["whatsapp"], E(K::Phone)),
    (&["contact"], E(K::Phone)),
    (&["call", "me"], E(K::Phone)),
    (&["text", "me"], E(K::Phone)),
    (&["reach", "me"], E(K::Phone)),
    (&["call", "back"], E(K::Phone)),
    (&["callback"], E(K::Phone)),
    (&["last", "four"], Ending),
    (&["last", "4"], Ending),
    (&["last", "few"], Ending),
    (&["last", "digits"], Ending),
    (&["ending", "in"], Ending),
    (&["ending", "with"], Ending),
    (&["ends", "with"], Ending),
    (&["ends", "in"], Ending),
    (&["number"], Number),
    (&["numbers"], Number),
    (&["no"], Number),
    (&["digits"], Number),
];

/// One cue found in the window.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CueHit {
    pub lo: usize,
    pub hi: usize,
    pub cue: Cue,
}

/// Finds every cue phrase, longest match first at each position.
pub(crate) fn find_cues(toks: &[Token]) -> Vec<CueHit> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if toks[i].kind != TokKind::Word && toks[i].kind != TokKind::Digits {
            i += 1;
            continue;
        }
        let mut best: Option<CueHit> = None;
        for (words, cue) in PHRASES {
            if i + words.len() > toks.len() {
                continue;
            }
            if words
                .iter()
                .enumerate()
                .all(|(k, w)| toks[i + k].lower == *w)
                && best.is_none_or(|b| b.hi - b.lo < words.len())
            {
                best = Some(CueHit {
                    lo: i,
                    hi: i + words.len(),
                    cue: *cue,
                });
            }
        }
        match best {
            Some(h) => {
                // "no" is a cue only as an abbreviation ("A/C no. 1234"), not as an answer
                let keep =
                    !(toks[i].is("no") && toks.get(i + 1).is_none_or(|t| t.punct() != Some('.')));
                if keep {
                    out.push(h);
                }
                i = h.hi;
            }
            None => i += 1,
        }
    }
    out
}

/// Whether a run of `n` digits can be an identifier of `kind` announced by a cue.
pub(crate) fn fits(kind: EntityKind, n: usize) -> bool {
    match kind {
        K::Phone => (7..=15).contains(&n),
        K::Card => (12..=19).contains(&n),
        K::CardExpiry => (3..=6).contains(&n),
        K::Cvv => (3..=4).contains(&n),
        K::Otp => (4..=8).contains(&n),
        K::Pin => (4..=6).contains(&n),
        K::BankAccount => (6..=18).contains(&n),
        K::SortCode => n == 6,
        K::Aadhaar => n == 12,
        K::Ssn | K::Itin => n == 9,
        K::Passport => (7..=9).contains(&n),
        K::VoterId => (7..=10).contains(&n),
        // 4 digits: Australian, Swiss, Danish … postcodes (only ever on a cue's word)
        K::Postcode => (4..=6).contains(&n) || n == 9,
        // a year; or day, month and year in any spelling: "1/5/85", "12/5/1985", "05031980"
        K::DateOfBirth => (4..=8).contains(&n),
        K::IdNumber => (4..=20).contains(&n),
        K::IpAddress => (4..=12).contains(&n),
        _ => false,
    }
}

/// Whether a fragment of `n` digits after an "ending in" cue belongs to `kind`.
pub(crate) fn fits_ending(kind: EntityKind, n: usize) -> bool {
    (2..=6).contains(&n)
        && matches!(
            kind,
            K::Card
                | K::Phone
                | K::BankAccount
                | K::Aadhaar
                | K::Ssn
                | K::Itin
                | K::IdNumber
                | K::Pan
                | K::Passport
        )
}

//! The kinds of personal data the redactor knows, and the placeholder each one becomes.

use serde::{Deserialize, Serialize};

/// One kind of personal identifier. Serialised as `SCREAMING_SNAKE_CASE`; the placeholder
/// written into redacted text is the same name in brackets (`[PHONE]`, `[DATE_OF_BIRTH]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityKind {
    Name,
    Phone,
    Card,
    CardExpiry,
    Cvv,
    BankAccount,
    Ifsc,
    SortCode,
    Iban,
    Swift,
    Aadhaar,
    Pan,
    Gstin,
    Upi,
    VoterId,
    Passport,
    Ssn,
    Itin,
    Email,
    DateOfBirth,
    Address,
    Postcode,
    Otp,
    Pin,
    IpAddress,
    /// A long run of digits (or letters and digits) that is clearly an identifier but whose
    /// type cannot be told: policy, customer, member and licence numbers, or a number whose
    /// checksum fits no known scheme. Removing it is the safe default.
    IdNumber,
}

impl EntityKind {
    /// Every kind, in declaration order (the default policy redacts all of them).
    pub const ALL: [EntityKind; 26] = [
        EntityKind::Name,
        EntityKind::Phone,
        EntityKind::Card,
        EntityKind::CardExpiry,
        EntityKind::Cvv,
        EntityKind::BankAccount,
        EntityKind::Ifsc,
        EntityKind::SortCode,
        EntityKind::Iban,
        EntityKind::Swift,
        EntityKind::Aadhaar,
        EntityKind::Pan,
        EntityKind::Gstin,
        EntityKind::Upi,
        EntityKind::VoterId,
        EntityKind::Passport,
        EntityKind::Ssn,
        EntityKind::Itin,
        EntityKind::Email,
        EntityKind::DateOfBirth,
        EntityKind::Address,
        EntityKind::Postcode,
        EntityKind::Otp,
        EntityKind::Pin,
        EntityKind::IpAddress,
        EntityKind::IdNumber,
    ];

    /// The serialised name, which is also the text inside the placeholder.
    pub fn label(self) -> &'static str {
        match self {
            EntityKind::Name => "NAME",
            EntityKind::Phone => "PHONE",
            EntityKind::Card => "CARD",
            EntityKind::CardExpiry => "CARD_EXPIRY",
            EntityKind::Cvv => "CVV",
            EntityKind::BankAccount => "BANK_ACCOUNT",
            EntityKind::Ifsc => "IFSC",
            EntityKind::SortCode => "SORT_CODE",
            EntityKind::Iban => "IBAN",
            EntityKind::Swift => "SWIFT",
            EntityKind::Aadhaar => "AADHAAR",
            EntityKind::Pan => "PAN",
            EntityKind::Gstin => "GSTIN",
            EntityKind::Upi => "UPI",
            EntityKind::VoterId => "VOTER_ID",
            EntityKind::Passport => "PASSPORT",
            EntityKind::Ssn => "SSN",
            EntityKind::Itin => "ITIN",
            EntityKind::Email => "EMAIL",
            EntityKind::DateOfBirth => "DATE_OF_BIRTH",
            EntityKind::Address => "ADDRESS",
            EntityKind::Postcode => "POSTCODE",
            EntityKind::Otp => "OTP",
            EntityKind::Pin => "PIN",
            EntityKind::IpAddress => "IP_ADDRESS",
            EntityKind::IdNumber => "ID_NUMBER",
        }
    }

    /// `[KIND]`, the default placeholder.
    pub fn placeholder(self) -> String {
        format!("[{}]", self.label())
    }

    /// Which kind wins when two detections overlap: the more specific, checksum-backed kinds
    /// first, then structured contexts, then names (the loosest detector).
    pub(crate) fn priority(self) -> u8 {
        match self {
            EntityKind::Email | EntityKind::Upi | EntityKind::IpAddress => 90,
            EntityKind::Iban | EntityKind::Gstin | EntityKind::Pan | EntityKind::Ifsc => 85,
            EntityKind::Card | EntityKind::Aadhaar | EntityKind::Ssn | EntityKind::Itin => 80,
            EntityKind::VoterId | EntityKind::Passport | EntityKind::Swift => 75,
            EntityKind::Phone | EntityKind::BankAccount | EntityKind::SortCode => 70,
            EntityKind::CardExpiry | EntityKind::Cvv | EntityKind::Otp | EntityKind::Pin => 65,
            EntityKind::DateOfBirth => 60,
            EntityKind::Postcode => 55,
            EntityKind::Address => 50,
            EntityKind::IdNumber => 40,
            EntityKind::Name => 30,
        }
    }
}

impl std::fmt::Display for EntityKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

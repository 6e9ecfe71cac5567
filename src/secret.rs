//! A secret held as text — an API key, an ingest token — that never shows itself: `Debug`
//! prints `"<redacted>"`, so a derived `Debug` of anything carrying one (a call start, a
//! command line, client options) cannot put it in a log or a panic message; and its memory is
//! zeroised on drop. At the bottom of the house: it imports nothing of callscribe's.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Text that is a secret. Read it with [`SecretString::expose`], only where it is used.
#[derive(Clone, Default)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(text: impl Into<String>) -> SecretString {
        SecretString(Zeroizing::new(text.into()))
    }

    /// The secret itself: to send it or check it, never to show it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// Compared in constant time (lengths may differ in time: they are not secret).
impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SecretString {}

/// As a setting (an auth token in the config file): read as a plain string, written back out
/// as `"<redacted>"`.
impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as serde::Deserialize>::deserialize(d).map(SecretString::new)
    }
}

impl serde::Serialize for SecretString {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

impl From<String> for SecretString {
    fn from(text: String) -> Self {
        SecretString::new(text)
    }
}

impl From<&str> for SecretString {
    fn from(text: &str) -> Self {
        SecretString::new(text)
    }
}

/// For command-line options (clap parses values through `FromStr`).
impl std::str::FromStr for SecretString {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(SecretString::new(text))
    }
}

#[cfg(test)]
mod tests {
    use super::SecretString;

    #[test]
    fn debug_never_shows_the_secret() {
        let s = SecretString::from("csk_abcd2345_topsecret");
        assert_eq!(format!("{s:?}"), "\"<redacted>\"");
        assert_eq!(format!("{:?}", Some(&s)), "Some(\"<redacted>\")");
        assert_eq!(s.expose(), "csk_abcd2345_topsecret");
        assert_eq!(s, SecretString::from("csk_abcd2345_topsecret".to_string()));
        assert_ne!(s, SecretString::from("csk_abcd2345_topsecreT"));
    }

    #[test]
    fn as_a_setting_it_is_read_in_full_and_written_redacted() {
        let s: SecretString = serde_json::from_str("\"tok-123\"").unwrap();
        assert_eq!(s.expose(), "tok-123");
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("tok-123"), "{json}");
    }
}

//! The error of a configuration value that cannot be used. Each stage owns its config table
//! (`[live]`, `[live.vad]`, `[web]`, `[web.limits]`) and validates it at start-up; the message
//! names the setting and says what is allowed, for the operator at the terminal.

/// A setting that cannot be used: the message names it and says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError(message.into())
    }

    /// Whether the message is about `setting` (for tests and callers that point at a field).
    pub fn names(&self, setting: &str) -> bool {
        self.0.contains(setting)
    }
}

/// A secret setting (an auth token): its value never shows in `Debug` output or when the
/// config is written back out, and is wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(zeroize::Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(zeroize::Zeroizing::new(value.into()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

impl<'de> serde::Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as serde::Deserialize>::deserialize(d).map(Secret::new)
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<secret>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("tok-123");
        assert_eq!(s.expose(), "tok-123");
        assert!(!format!("{s:?}").contains("tok-123"));
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("tok-123"), "{json}");
        let back: Secret = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back.expose(), "abc");
    }
}

//! The error of a configuration value that cannot be used. Each stage owns its config table
//! (`[live]`, `[live.vad]`, `[web]`, `[web.limits]`, `[store]`) and validates it at start-up; the message
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

//! `Policy`: what to redact and how, as data. Validated once when a `Redactor` is built.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::transcript::EntityKind;

/// How a detected identifier is written in the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `[PHONE]`, `[NAME]` …: readable, and says what was there.
    #[default]
    Placeholder,
    /// `####` — always four characters, so the mask does not leak the value's length.
    Mask,
    /// `[NAME_1]`, `[PHONE_2]` …: the same value gets the same number everywhere in one call
    /// (both tracks), keyed by an HMAC with the call's key, so nothing is joinable across calls.
    Pseudonym,
}

/// A redaction policy. Stored beside every redacted output by its `version`, so a transcript
/// can be re-redacted later under a newer policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Recorded in every `RedactedSegment`; must be at least 1.
    pub version: u32,
    /// Placeholder (default), mask or pseudonym.
    pub mode: Mode,
    /// The kinds to remove; default: all of them. An empty set is refused (it would silently
    /// turn redaction off).
    pub entities: BTreeSet<EntityKind>,
    /// Keep the names agents give for themselves ("this is Asha") on both tracks of a call.
    pub keep_agent_names: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            version: 1,
            mode: Mode::Placeholder,
            entities: EntityKind::ALL.into_iter().collect(),
            keep_agent_names: false,
        }
    }
}

/// Why a policy was refused.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy version must be 1 or more (got 0)")]
    ZeroVersion,
    #[error(
        "policy lists no entity types to redact; list at least one (or omit `entities` for all)"
    )]
    NoEntities,
    #[error("policy is not valid JSON for a redaction policy: {0}")]
    Parse(#[from] serde_json::Error),
}

impl Policy {
    /// Parses a policy from JSON (unknown fields are errors) and validates it.
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = serde_json::from_str(text)?;
        policy.validate()?;
        Ok(policy)
    }

    /// Checks the invariants `Redactor::new` relies on.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.version == 0 {
            return Err(PolicyError::ZeroVersion);
        }
        if self.entities.is_empty() {
            return Err(PolicyError::NoEntities);
        }
        Ok(())
    }

    /// Whether this policy removes `kind`.
    pub fn redacts(&self, kind: EntityKind) -> bool {
        self.entities.contains(&kind)
    }
}

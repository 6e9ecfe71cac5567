//! What a transcript is made of, shared by every stage that handles one: recognised words with
//! their times, redaction spans (kind and range, never the value), segments and whole
//! transcripts. At the bottom of the house: it imports no stage, so `asr/`, `redact/`,
//! `output`, `store/` and `live/` all use it without importing each other.

mod entity;

use serde::{Deserialize, Serialize};

pub use entity::EntityKind;

/// One recognised word with its time (seconds from the start of the track) and probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub word: String,
    pub start: f32,
    pub end: f32,
    pub p: f32,
}

/// One redaction: its kind, the placeholder's character range in the redacted text, and the
/// audio time it covers (from the word timestamps). Never the value itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Span {
    pub kind: EntityKind,
    pub start: usize,
    pub end: usize,
    pub t_start: Option<f32>,
    pub t_end: Option<f32>,
}

/// One segment of a transcript as emitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptSegment {
    pub start: f32,
    pub end: f32,
    pub speaker: String,
    pub text: String,
    pub words: Vec<Word>,
    /// What was redacted: type and character range in `text`, time range — never the value.
    #[serde(default)]
    pub redactions: Vec<Span>,
    /// Version of the redaction policy that produced `text` (0: not redacted).
    #[serde(default)]
    pub policy_version: u32,
}

/// A whole call's transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub call_id: String,
    pub segments: Vec<TranscriptSegment>,
}

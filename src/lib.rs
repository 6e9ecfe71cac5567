//! callscribe: self-hosted, real-time voice-call transcription with PII redaction.
//!
//! Audio flows one way through the stages below; each stage takes owned data from the one
//! before and hands owned data to the next (see `docs/ARCHITECTURE.md`):
//!
//! ```text
//! files ──► audio (decode, resample to 16 kHz) ──► segment (VAD, utterances) ──► asr (whisper pool)
//!       ──► redact (PII out) ──► output / store (sealed: AES-256-GCM, sqlx)
//! ```
//!
//! `main.rs` only parses the command line and calls [`cli::run`]; everything is testable here.

pub mod api;
pub mod asr;
pub mod audio;
pub mod batch;
pub mod cli;
pub mod client;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
pub mod ingest;
pub mod live;
pub mod metrics;
pub mod output;
pub mod redact;
pub mod secret;
pub mod segment;
pub mod store;
pub mod sys;
pub mod transcript;

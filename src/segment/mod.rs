//! Segmentation: voice-activity detection and endpointing per track. Decides where utterances
//! begin and end, cutting at pauses (never inside a word) and, when speech runs on past the
//! maximum length, at the quietest moment. It sees samples only to measure them; it never
//! stores or logs audio.

pub mod stream;
pub mod vad;

pub use stream::{Kind as UtteranceKind, TrackEvent, TrackStream, UtteranceAudio};
pub use vad::{Endpointer, FrameClass, SpeechSpan, VadConfig, find_speech};

//! What travels between a caller and the workers: a job (audio and where its result goes) and
//! its result. Shared by the FIFO pool and the real-time scheduler, so neither imports the
//! other for it. The result's text is *unredacted* (see `asr/`).

use crossbeam_channel::Sender;

use super::{AsrError, Hypothesis};

/// One utterance to transcribe.
pub struct AsrJob {
    /// Caller's identifier, returned with the result.
    pub id: u64,
    /// 16 kHz mono samples (moved in; dropped by the worker once transcribed).
    pub audio: Vec<f32>,
    /// Time of the first sample from the start of the track, for word timestamps.
    pub offset_s: f32,
    /// Pauses inside the audio (track seconds) between utterances the VAD told apart and batch
    /// joined into one window; empty for a single utterance. A sentence said on both sides of
    /// one is speech, not a decoder loop (see [`super::guard::cut_repetition_loops`]).
    pub pauses: Vec<(f32, f32)>,
    pub reply: Reply,
    /// Overrides [`super::DecodeOptions::context_min`] for this job. Interims use 0 (the context sized
    /// to the audio: much faster on short audio, good enough for text the final replaces);
    /// live finals use `live.final_context_min`.
    pub context_floor: Option<u32>,
    /// Overrides [`super::DecodeOptions::context_margin`] for this job (interims: provisional text,
    /// a shorter trailing context is cheaper).
    pub context_margin: Option<u32>,
}

/// Where a job's result goes: a crossbeam channel (batch, tools) or a tokio channel (a live
/// call's task, which must not block its runtime thread).
pub enum Reply {
    Channel(Sender<AsrResult>),
    Async(tokio::sync::mpsc::UnboundedSender<AsrResult>),
}

impl Reply {
    pub(super) fn send(self, r: AsrResult) {
        // The receiver may have gone (a call that ended): the result is simply dropped.
        match self {
            Reply::Channel(tx) => drop(tx.send(r)),
            Reply::Async(tx) => drop(tx.send(r)),
        }
    }
}

/// The outcome of one job.
pub struct AsrResult {
    pub id: u64,
    pub hypothesis: Result<Hypothesis, AsrError>,
    /// Seconds of audio in the job, and seconds the worker spent on it.
    pub audio_s: f32,
    pub busy_s: f32,
    /// CPU seconds the worker's thread used on it (whisper's own share of the server's CPU).
    pub cpu_s: f32,
}

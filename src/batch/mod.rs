//! Batch transcription of recorded calls: decode → resample → VAD → worker pool → transcript.
//! Files are decoded on one thread while the pool transcribes earlier files, so the model is
//! never idle waiting for I/O; each file succeeds or fails on its own.

mod collect;
mod plan;
mod segments;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::asr::{AsrJob, AsrResult, Hypothesis, Reply, WhisperPool};
use crate::audio::ChannelMode;
use crate::redact::Redactor;
use crate::segment::VadConfig;
use crate::transcript::Transcript;

use collect::{Planned, collect};
use plan::{PlannedFile, PlannedJob, plan_file};
pub use plan::{Window, pack_spans};

#[derive(Clone)]
pub struct BatchOptions {
    pub channels: ChannelMode,
    pub vad: VadConfig,
    /// Skip voice-activity detection: each track is transcribed whole, in windows of at most
    /// `vad.max_utterance_s` (for audio that is already cut into utterances).
    pub no_vad: bool,
    /// Consecutive utterances of a track are sent to whisper together, as the contiguous audio
    /// from the first one's start to the last one's end, while that stays within this many
    /// seconds and no pause between them is longer than [`PACK_MAX_GAP_S`]; 0 sends each
    /// utterance on its own. See [`pack_spans`].
    pub window_s: f32,
    pub redaction: Redaction,
}

/// The default batch window: with the 4 s of silence margin after it (200 encoder positions),
/// 24 s stays inside the model's 30 s context.
pub const DEFAULT_WINDOW_S: f32 = 24.0;

/// The longest window that, with that margin, fits the model's 30 s.
pub const MAX_WINDOW_S: f32 = 26.0;

/// The longest pause a window is stretched over: longer ones (the other party's turn in a
/// split recording, hold music cut out by the VAD) start a new window, so the model is not fed
/// long stretches of non-speech.
pub const PACK_MAX_GAP_S: f32 = 2.0;

/// Whether transcripts pass through `redact/`. The command line always redacts; only the
/// evaluation tools that measure the recogniser's own accuracy use [`Redaction::DisabledForEvaluation`].
#[derive(Clone)]
pub enum Redaction {
    Policy(Arc<Redactor>),
    /// Raw recogniser output, for measuring word error rate against reference transcripts.
    DisabledForEvaluation,
}

/// One finished file.
#[derive(Debug)]
pub struct FileOutcome {
    pub index: usize,
    pub path: PathBuf,
    /// Seconds of audio in the file (0 when it could not be decoded).
    pub audio_s: f64,
    pub result: Result<Transcript, String>,
}

/// The call id of a file: its name up to the first dot (`call01.8k.mulaw.wav` → `call01`).
pub fn call_id(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.split('.').next() {
        Some(stem) if !stem.is_empty() => stem.to_string(),
        _ => name,
    }
}

/// An utterance waiting for (or holding) its hypothesis.
struct PendingUtterance {
    track: usize,
    start_s: f32,
    end_s: f32,
    /// Pauses inside the window: its text is split there too.
    pauses: Vec<Pause>,
    hypothesis: Option<Hypothesis>,
}

/// A pause between two utterances joined in one window, in seconds of the recording.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pause {
    start_s: f32,
    end_s: f32,
}

/// Transcribes `files` through `pool`, calling `on_file` as each file completes (in completion
/// order). Returns when every file has been reported.
pub fn run(
    files: &[PathBuf],
    opts: &BatchOptions,
    pool: &WhisperPool,
    mut on_file: impl FnMut(FileOutcome),
) {
    let (plan_tx, plan_rx) = crossbeam_channel::bounded::<Planned>(4);
    let (result_tx, result_rx) = crossbeam_channel::unbounded::<AsrResult>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut next_job = 0u64;
            for (index, path) in files.iter().enumerate() {
                let planned = match plan_file(path, opts) {
                    Ok(PlannedFile {
                        audio_s,
                        speakers,
                        utterances,
                        jobs,
                    }) => {
                        let first_job = next_job;
                        next_job += jobs.len() as u64;
                        if plan_tx
                            .send(Planned::File {
                                index,
                                audio_s,
                                speakers,
                                utterances,
                                first_job,
                            })
                            .is_err()
                        {
                            return;
                        }
                        for (
                            i,
                            PlannedJob {
                                samples,
                                offset_s,
                                pauses,
                            },
                        ) in jobs.into_iter().enumerate()
                        {
                            let job = AsrJob {
                                id: first_job + i as u64,
                                audio: samples,
                                offset_s,
                                pauses,
                                reply: Reply::Channel(result_tx.clone()),
                                context_floor: None,
                                context_margin: None,
                            };
                            if pool.submit(job).is_err() {
                                return;
                            }
                        }
                        continue;
                    }
                    Err(error) => Planned::Failed { index, error },
                };
                if plan_tx.send(planned).is_err() {
                    return;
                }
            }
        });
        collect(files, &opts.redaction, plan_rx, result_rx, &mut on_file);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids() {
        assert_eq!(call_id(Path::new("/x/call01.8k.mulaw.wav")), "call01");
        assert_eq!(call_id(Path::new("plain")), "plain");
        assert_eq!(call_id(Path::new(".hidden.wav")), ".hidden.wav");
    }
}

//! Collecting: the collector matches whisper's results to the planned files, whichever order
//! they arrive in, and reports each file as it completes or fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crossbeam_channel::{Receiver, never, select};

use super::segments::redact_file;
use super::{FileOutcome, PendingUtterance, Redaction, call_id};
use crate::asr::AsrResult;
use crate::transcript::Transcript;

/// What the decoding thread tells the collector about a file.
pub(super) enum Planned {
    File {
        index: usize,
        audio_s: f64,
        speakers: Vec<String>,
        utterances: Vec<PendingUtterance>,
        first_job: u64,
    },
    Failed {
        index: usize,
        error: String,
    },
}

struct FileState {
    audio_s: f64,
    speakers: Vec<String>,
    utterances: Vec<PendingUtterance>,
    first_job: u64,
    remaining: usize,
    error: Option<String>,
}

/// The first job id of a planned file: its jobs are numbered on from there.
#[derive(Clone, Copy)]
struct JobOwner {
    first_job: u64,
    /// The file's index in the batch.
    file: usize,
}

pub(super) fn collect(
    files: &[PathBuf],
    redaction: &Redaction,
    mut plans: Receiver<Planned>,
    mut results: Receiver<AsrResult>,
    on_file: &mut impl FnMut(FileOutcome),
) {
    let mut states: HashMap<usize, FileState> = HashMap::new();
    // job id → file index, for jobs whose file is planned.
    let mut owner: Vec<JobOwner> = Vec::new();
    let mut early: Vec<AsrResult> = Vec::new();
    let mut reported = 0usize;
    let mut plans_open = true;
    let mut pool_gone = false;
    while reported < files.len() {
        let mut finished = Vec::new();
        select! {
            recv(plans) -> msg => match msg {
                Ok(Planned::File { index, audio_s, speakers, utterances, first_job }) => {
                    let remaining = utterances.len();
                    owner.push(JobOwner { first_job, file: index });
                    let error = pool_gone.then(|| "transcription workers stopped".to_string());
                    states.insert(index, FileState { audio_s, speakers, utterances, first_job, remaining, error });
                    if remaining == 0 || pool_gone {
                        finished.push(index);
                    }
                    for r in std::mem::take(&mut early) {
                        apply(r, &owner, &mut states, &mut early, &mut finished);
                    }
                }
                Ok(Planned::Failed { index, error }) => {
                    on_file(FileOutcome { index, path: files[index].clone(), audio_s: 0.0, result: Err(error) });
                    reported += 1;
                }
                Err(_) => {
                    // A disconnected channel is always ready: stop selecting on it, or the
                    // collector spins and takes CPU from the whisper workers.
                    plans = never();
                    plans_open = false;
                }
            },
            recv(results) -> msg => match msg {
                Ok(r) => apply(r, &owner, &mut states, &mut early, &mut finished),
                Err(_) => {
                    // The pool is gone: whatever is still pending can never finish.
                    results = never();
                    for (&index, state) in states.iter_mut() {
                        state.error.get_or_insert_with(|| "transcription workers stopped".to_string());
                        finished.push(index);
                    }
                    pool_gone = true;
                }
            }
        }
        for index in finished {
            if let Some(state) = states.remove(&index) {
                on_file(finish_file(index, &files[index], state, redaction));
                reported += 1;
            }
        }
        if !plans_open && states.is_empty() {
            break;
        }
    }
}

fn apply(
    r: AsrResult,
    owner: &[JobOwner],
    states: &mut HashMap<usize, FileState>,
    early: &mut Vec<AsrResult>,
    finished: &mut Vec<usize>,
) {
    // Owners are pushed in increasing first_job order: the owner is the last one ≤ id.
    let pos = owner.partition_point(|o| o.first_job <= r.id);
    let Some(JobOwner { file: index, .. }) = pos.checked_sub(1).and_then(|p| owner.get(p)).copied()
    else {
        early.push(r);
        return;
    };
    let Some(state) = states.get_mut(&index) else {
        return;
    };
    let Some(utt) = state.utterances.get_mut((r.id - state.first_job) as usize) else {
        early.push(r);
        return;
    };
    match r.hypothesis {
        Ok(h) => {
            // Times, probabilities and the guard's decision only: never text.
            tracing::debug!(
                file = index,
                start = utt.start_s,
                end = utt.end_s,
                no_speech = h.no_speech_prob,
                logprob = h.avg_logprob,
                words = h.words.len(),
                dropped = ?h.dropped,
                busy_s = r.busy_s,
                "utterance"
            );
            utt.hypothesis = Some(h);
        }
        Err(e) => state.error = Some(format!("transcription failed at {:.1}s: {e}", utt.start_s)),
    }
    state.remaining -= 1;
    if state.remaining == 0 {
        finished.push(index);
    }
}

fn finish_file(index: usize, path: &Path, state: FileState, redaction: &Redaction) -> FileOutcome {
    let result = match state.error {
        Some(e) => Err(e),
        None => Ok(Transcript {
            call_id: call_id(path),
            segments: redact_file(&state.speakers, state.utterances, redaction),
        }),
    };
    FileOutcome {
        index,
        path: path.to_path_buf(),
        audio_s: state.audio_s,
        result,
    }
}

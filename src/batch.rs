//! Batch transcription of recorded calls: decode → resample → VAD → worker pool → transcript.
//! Files are decoded on one thread while the pool transcribes earlier files, so the model is
//! never idle waiting for I/O; each file succeeds or fails on its own.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crossbeam_channel::{Receiver, never, select};

use crate::asr::{AsrJob, AsrResult, Hypothesis, Reply, WhisperPool};
use crate::audio::{self, SAMPLE_RATE, decode_file, resample_to_16k};
use crate::redact::{RawSegment, RedactedSegment, Redactor};
use crate::segment::{SpeechSpan, VadConfig, find_speech};
use crate::transcript::{Transcript, TranscriptSegment};

/// How to treat multi-channel recordings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChannelMode {
    /// Average all channels into one track (speaker "unknown").
    Mix,
    /// One track per channel: channel 0 is the caller, channel 1 the agent.
    Split,
}

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
/// evaluation tools that measure the recogniser's own accuracy use [`Redaction::Disabled`].
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

/// Speaker label of channel `ch` of `n` in split mode.
pub fn speaker_of_channel(ch: usize, n: usize, mode: ChannelMode) -> String {
    match (mode, n, ch) {
        (ChannelMode::Mix, _, _) | (_, 1, _) => "unknown".into(),
        (ChannelMode::Split, _, 0) => "caller".into(),
        (ChannelMode::Split, _, 1) => "agent".into(),
        (ChannelMode::Split, _, c) => format!("channel{c}"),
    }
}

/// An utterance waiting for (or holding) its hypothesis.
struct PendingUtterance {
    track: usize,
    start_s: f32,
    end_s: f32,
    /// Pauses inside the window (seconds): its text is split there too.
    pauses: Vec<(f32, f32)>,
    hypothesis: Option<Hypothesis>,
}

/// What the decoding thread tells the collector about a file.
enum Planned {
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

/// Decodes a file into 16 kHz tracks with their speaker labels.
pub fn load_tracks(
    path: &Path,
    mode: ChannelMode,
) -> Result<(Vec<Vec<f32>>, Vec<String>, f64), audio::AudioError> {
    let decoded = decode_file(path)?;
    let duration = decoded.duration_s();
    let n = decoded.channels.len();
    let channels = match mode {
        ChannelMode::Mix => vec![audio::mix_to_mono(&decoded.channels)],
        ChannelMode::Split => decoded.channels,
    };
    let speakers = (0..channels.len())
        .map(|c| speaker_of_channel(c, n, mode))
        .collect();
    let tracks = channels
        .iter()
        .map(|c| resample_to_16k(c, decoded.sample_rate))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((tracks, speakers, duration))
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
                    Ok((audio_s, speakers, utterances, audio)) => {
                        let first_job = next_job;
                        next_job += audio.len() as u64;
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
                        ) in audio.into_iter().enumerate()
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

/// A file ready for the pool: duration, speakers, the utterances, and each one's job.
type PlannedFile = (f64, Vec<String>, Vec<PendingUtterance>, Vec<PlannedJob>);

/// A window's samples, its time offset and the pauses inside it (seconds).
struct PlannedJob {
    samples: Vec<f32>,
    offset_s: f32,
    pauses: Vec<(f32, f32)>,
}

fn plan_file(path: &Path, opts: &BatchOptions) -> Result<PlannedFile, String> {
    let (tracks, speakers, audio_s) =
        load_tracks(path, opts.channels).map_err(|e| e.to_string())?;
    let mut windows: Vec<(usize, Window)> = Vec::new();
    if opts.no_vad {
        let window = (opts.vad.max_utterance_s * SAMPLE_RATE as f32) as usize;
        for (track, samples) in tracks.iter().enumerate() {
            windows.extend((0..samples.len()).step_by(window.max(1)).map(|start| {
                (
                    track,
                    Window {
                        span: SpeechSpan {
                            start,
                            end: (start + window).min(samples.len()),
                        },
                        pauses: Vec::new(),
                    },
                )
            }));
        }
    } else {
        let speech: Vec<Vec<SpeechSpan>> = tracks
            .iter()
            .map(|samples| find_speech(samples, &opts.vad))
            .collect();
        let window = (opts.window_s * SAMPLE_RATE as f32) as usize;
        let max_gap = (PACK_MAX_GAP_S * SAMPLE_RATE as f32) as usize;
        for (track, own) in speech.iter().enumerate() {
            let others: Vec<SpeechSpan> = speech
                .iter()
                .enumerate()
                .filter(|(t, _)| *t != track)
                .flat_map(|(_, s)| s.iter().copied())
                .collect();
            windows.extend(
                pack_spans(own, window, max_gap, &others)
                    .into_iter()
                    .map(|w| (track, w)),
            );
        }
    }
    // Interleave tracks in time order so the transcript reads as the conversation went.
    windows.sort_by_key(|(track, w)| (w.span.start, *track));
    let secs = |i: usize| i as f32 / SAMPLE_RATE as f32;
    let (utterances, jobs) = windows
        .into_iter()
        .map(|(track, w)| {
            let (start_s, end_s) = (secs(w.span.start), secs(w.span.end));
            let pauses: Vec<(f32, f32)> = w
                .pauses
                .iter()
                .map(|p| (secs(p.start), secs(p.end)))
                .collect();
            let samples = tracks[track][w.span.start..w.span.end].to_vec();
            (
                PendingUtterance {
                    track,
                    start_s,
                    end_s,
                    pauses: pauses.clone(),
                    hypothesis: None,
                },
                PlannedJob {
                    samples,
                    offset_s: start_s,
                    pauses,
                },
            )
        })
        .unzip();
    Ok((audio_s, speakers, utterances, jobs))
}

/// A stretch of contiguous audio sent to whisper as one job: one utterance or several joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub span: SpeechSpan,
    /// The pauses between the joined utterances (sample indices), in order.
    pub pauses: Vec<SpeechSpan>,
}

/// Joins consecutive speech spans (in time order, as the VAD returns them) into windows of
/// contiguous audio: a span joins the current window when the window, stretched to the span's
/// end, is at most `window` samples long, the pause before the span is at most `max_gap`, and
/// no span of `others` (the other tracks of a split recording) is spoken in that pause — a
/// window never reaches across the other party's turn, so its text stays in conversation
/// order.
///
/// Why: each encoder pass costs the same whatever the speech in it (batch windows have a 20 s
/// context floor), so fewer, fuller windows cost less, and the model hears the conversation's
/// context as it was trained to. The audio stays contiguous, so word times are the recording's
/// own and need no mapping back (an earlier packing that cut the pauses out had words drift
/// into the neighbouring utterance). A forced cut of an over-long utterance overlaps the next
/// span by its padding; joined, the word at the cut is heard whole (and it is no pause).
/// `window` 0 joins nothing.
pub fn pack_spans(
    spans: &[SpeechSpan],
    window: usize,
    max_gap: usize,
    others: &[SpeechSpan],
) -> Vec<Window> {
    let mut out: Vec<Window> = Vec::with_capacity(spans.len());
    for &s in spans {
        if let Some(w) = out.last_mut()
            && s.end.max(w.span.end) - w.span.start <= window
            && s.start.saturating_sub(w.span.end) <= max_gap
            && !others
                .iter()
                .any(|o| o.start < s.start && o.end > w.span.end)
        {
            if s.start > w.span.end {
                w.pauses.push(SpeechSpan {
                    start: w.span.end,
                    end: s.start,
                });
            }
            w.span.end = w.span.end.max(s.end);
            continue;
        }
        out.push(Window {
            span: s,
            pauses: Vec::new(),
        });
    }
    out
}

fn collect(
    files: &[PathBuf],
    redaction: &Redaction,
    mut plans: Receiver<Planned>,
    mut results: Receiver<AsrResult>,
    on_file: &mut impl FnMut(FileOutcome),
) {
    let mut states: HashMap<usize, FileState> = HashMap::new();
    // job id → file index, for jobs whose file is planned.
    let mut owner: Vec<(u64, usize)> = Vec::new();
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
                    owner.push((first_job, index));
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
    owner: &[(u64, usize)],
    states: &mut HashMap<usize, FileState>,
    early: &mut Vec<AsrResult>,
    finished: &mut Vec<usize>,
) {
    // Owners are pushed in increasing first_job order: the owner is the last one ≤ id.
    let pos = owner.partition_point(|(first, _)| *first <= r.id);
    let Some(&(_, index)) = pos.checked_sub(1).and_then(|p| owner.get(p)) else {
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

/// Passes a file's utterances (in time order) through one redaction call with a track per
/// speaker, so identifiers split across a speaker's segments are still found.
fn redact_file(
    speakers: &[String],
    utterances: Vec<PendingUtterance>,
    redaction: &Redaction,
) -> Vec<TranscriptSegment> {
    let raw = utterances.into_iter().flat_map(|u| {
        let track = u.track;
        let h = u.hypothesis.filter(|h| !h.text.is_empty());
        h.map(|h| to_raw_segments(u.start_s, u.end_s, &u.pauses, h))
            .unwrap_or_default()
            .into_iter()
            .map(move |s| (track, s))
    });
    let redactor = match redaction {
        Redaction::Policy(r) => r,
        Redaction::DisabledForEvaluation => {
            return raw
                .map(|(track, seg)| {
                    let unredacted = RedactedSegment {
                        start: seg.start,
                        end: seg.end,
                        text: seg.text,
                        words: seg.words,
                        spans: Vec::new(),
                        policy_version: 0,
                    };
                    output_segment(&speakers[track], unredacted)
                })
                .collect();
        }
    };
    let call = redactor.call(crate::sys::random_key());
    let mut tracks: Vec<_> = speakers.iter().map(|s| call.track(s == "agent")).collect();
    let mut out: Vec<(usize, RedactedSegment)> = Vec::new();
    for (track, seg) in raw {
        out.extend(
            tracks[track]
                .push_final(seg)
                .into_iter()
                .map(|r| (track, r)),
        );
    }
    for (track, t) in tracks.iter_mut().enumerate() {
        out.extend(t.flush().into_iter().map(|r| (track, r)));
    }
    out.sort_by(|a, b| a.1.start.total_cmp(&b.1.start));
    out.into_iter()
        .map(|(track, r)| output_segment(&speakers[track], r))
        .collect()
}

fn output_segment(speaker: &str, r: RedactedSegment) -> TranscriptSegment {
    TranscriptSegment {
        start: r.start,
        end: r.end,
        speaker: speaker.to_string(),
        text: r.text,
        words: r.words,
        redactions: r.spans,
        policy_version: r.policy_version,
    }
}

/// Splits a window's hypothesis at whisper's segment breaks and at the pauses between the
/// utterances the window joins (whisper sometimes runs one segment across a turn change). Segment
/// times come from the words when they are sane, else from the VAD span.
fn to_raw_segments(
    span_start: f32,
    span_end: f32,
    pauses: &[(f32, f32)],
    h: Hypothesis,
) -> Vec<RawSegment> {
    let mut bounds = h.breaks.clone();
    bounds.extend(pause_breaks(&h.words, pauses));
    bounds.sort_unstable();
    if bounds.first() != Some(&0) {
        bounds.insert(0, 0);
    }
    bounds.push(h.words.len());
    bounds.dedup();
    let n = bounds.len() - 1;
    let mut out = Vec::with_capacity(n);
    // whisper.cpp's token times drift late over a long window (by up to ~2 s at 24 s); a word
    // is never reported outside the audio it was heard in
    let mut words = h.words.into_iter().map(|mut w| {
        w.start = w.start.clamp(span_start, span_end);
        w.end = w.end.clamp(w.start, span_end);
        w
    });
    for (k, pair) in bounds.windows(2).enumerate() {
        let seg_words: Vec<_> = words.by_ref().take(pair[1] - pair[0]).collect();
        let lo = if k == 0 {
            span_start
        } else {
            seg_words.first().map_or(span_start, |w| w.start)
        };
        let hi = if k + 1 == n {
            span_end
        } else {
            seg_words.last().map_or(span_end, |w| w.end)
        };
        let (mut start, mut end) = (lo, hi);
        if let (Some(first), Some(last)) = (seg_words.first(), seg_words.last())
            && first.start < last.end
        {
            (start, end) = (first.start, last.end);
        }
        let text = crate::asr::guard::join_words(&seg_words);
        if !text.is_empty() {
            out.push(RawSegment {
                start,
                end,
                text,
                words: seg_words,
            });
        }
    }
    out
}

/// For each pause, the index of the first word that starts after its middle (none at either end
/// of the words): where a segment break belongs if whisper did not put one there.
fn pause_breaks(words: &[crate::asr::Word], pauses: &[(f32, f32)]) -> Vec<usize> {
    pauses
        .iter()
        .filter_map(|&(ps, pe)| {
            let mid = (ps + pe) / 2.0;
            let k = words.partition_point(|w| w.start < mid);
            (k > 0 && k < words.len()).then_some(k)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(a: f32, b: f32) -> SpeechSpan {
        SpeechSpan {
            start: (a * 16000.0) as usize,
            end: (b * 16000.0) as usize,
        }
    }

    #[test]
    fn spans_are_packed_into_contiguous_windows() {
        let (w, g) = (16000 * 10, 16000 * 2);
        let spans_of = |ws: Vec<Window>| ws.into_iter().map(|w| w.span).collect::<Vec<_>>();
        // joined while the window stays within 10 s and pauses within 2 s
        let spans = vec![
            span(0.0, 3.0),
            span(4.0, 6.0),
            span(7.5, 9.5),
            span(10.0, 12.0),
            span(13.5, 16.0),
            span(16.5, 17.0),
        ];
        let packed = pack_spans(&spans, w, g, &[]);
        assert_eq!(
            spans_of(packed.clone()),
            vec![span(0.0, 9.5), span(10.0, 17.0)]
        );
        assert_eq!(packed[0].pauses, vec![span(3.0, 4.0), span(6.0, 7.5)]);
        assert_eq!(packed[1].pauses, vec![span(12.0, 13.5), span(16.0, 16.5)]);
        // a pause over 2 s starts a new window even with room left
        assert_eq!(
            spans_of(pack_spans(&[span(0.0, 1.0), span(3.5, 4.0)], w, g, &[])),
            vec![span(0.0, 1.0), span(3.5, 4.0)]
        );
        // a forced cut's overlapping padding is joined, never duplicated, and is no pause
        let cut = pack_spans(&[span(0.0, 5.0), span(4.8, 8.0)], w, g, &[]);
        assert_eq!(
            cut,
            vec![Window {
                span: span(0.0, 8.0),
                pauses: Vec::new()
            }]
        );
        // a span longer than the window stays whole and alone
        let long = [span(0.0, 1.0), span(1.5, 13.0), span(13.2, 14.0)];
        assert_eq!(spans_of(pack_spans(&long, w, g, &[])), long.to_vec());
        // window 0: every span on its own
        assert_eq!(spans_of(pack_spans(&spans, 0, g, &[])), spans);
        assert!(pack_spans(&[], w, g, &[]).is_empty());
        // the other party speaking in a pause (split recordings) ends the window there; speech
        // of theirs that overlaps this track's own is no turn between two of its utterances
        let other = [span(9.6, 9.9), span(12.5, 13.0)];
        assert_eq!(
            spans_of(pack_spans(&spans, w, g, &other)),
            vec![span(0.0, 9.5), span(10.0, 12.0), span(13.5, 17.0)]
        );
        assert_eq!(
            spans_of(pack_spans(&spans, w, g, &[span(1.0, 2.0)])),
            vec![span(0.0, 9.5), span(10.0, 17.0)]
        );
    }

    #[test]
    fn window_text_is_split_at_its_pauses() {
        let w = |word: &str, start: f32| crate::asr::Word {
            word: format!(" {word}"),
            start,
            end: start + 0.3,
            p: 0.9,
        };
        let words = vec![
            w("Is", 0.2),
            w("that", 0.5),
            w("right?", 0.8),
            w("Yes,", 2.6),
            w("it", 2.9),
            w("is.", 3.2),
            w("Good.", 5.0),
        ];
        // whisper gave one segment; the window joined three utterances (pauses 1.1–2.5, 3.5–4.9)
        let h = Hypothesis {
            text: String::new(),
            words,
            breaks: vec![0],
            ..Default::default()
        };
        let segs = to_raw_segments(0.0, 5.5, &[(1.1, 2.5), (3.5, 4.9)], h.clone());
        let texts: Vec<&str> = segs.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["Is that right?", "Yes, it is.", "Good."]);
        assert!((segs[1].start - 2.6).abs() < 1e-6 && (segs[2].start - 5.0).abs() < 1e-6);
        // a break whisper already made at a pause is not doubled; no pauses, no extra breaks
        let h2 = Hypothesis {
            breaks: vec![0, 3],
            ..h.clone()
        };
        assert_eq!(to_raw_segments(0.0, 5.5, &[(1.1, 2.5)], h2).len(), 2);
        assert_eq!(to_raw_segments(0.0, 5.5, &[], h).len(), 1);
    }

    #[test]
    fn call_ids_and_speakers() {
        assert_eq!(call_id(Path::new("/x/call01.8k.mulaw.wav")), "call01");
        assert_eq!(call_id(Path::new("plain")), "plain");
        assert_eq!(call_id(Path::new(".hidden.wav")), ".hidden.wav");
        assert_eq!(speaker_of_channel(0, 2, ChannelMode::Split), "caller");
        assert_eq!(speaker_of_channel(1, 2, ChannelMode::Split), "agent");
        assert_eq!(speaker_of_channel(0, 1, ChannelMode::Split), "unknown");
        assert_eq!(speaker_of_channel(1, 2, ChannelMode::Mix), "unknown");
    }
}

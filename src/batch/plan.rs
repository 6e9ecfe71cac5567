//! Planning: a file's tracks become windows of contiguous speech (VAD spans joined by
//! [`pack_spans`]), each with the utterance that waits for its text and the job sent to whisper.

use std::path::Path;

use super::{BatchOptions, PACK_MAX_GAP_S, Pause, PendingUtterance};
use crate::audio::SAMPLE_RATE;
use crate::audio::{LoadedTracks, load_tracks};
use crate::segment::{SpeechSpan, find_speech};

/// A file ready for the pool: its utterances in time order and, at the same index, each one's
/// job.
pub(super) struct PlannedFile {
    /// Seconds of audio in the file.
    pub(super) audio_s: f64,
    /// One speaker label per track.
    pub(super) speakers: Vec<String>,
    pub(super) utterances: Vec<PendingUtterance>,
    pub(super) jobs: Vec<PlannedJob>,
}

/// A window's samples, its time offset and the pauses inside it (seconds).
pub(super) struct PlannedJob {
    pub(super) samples: Vec<f32>,
    pub(super) offset_s: f32,
    /// `(start, end)` as the ASR job takes them.
    pub(super) pauses: Vec<(f32, f32)>,
}

/// A window of one track of the file.
struct TrackWindow {
    track: usize,
    window: Window,
}

pub(super) fn plan_file(path: &Path, opts: &BatchOptions) -> Result<PlannedFile, String> {
    let LoadedTracks {
        tracks,
        speakers,
        audio_s,
    } = load_tracks(path, opts.channels).map_err(|e| e.to_string())?;
    let mut windows: Vec<TrackWindow> = Vec::new();
    if opts.no_vad {
        let window = (opts.vad.max_utterance_s * SAMPLE_RATE as f32) as usize;
        for (track, samples) in tracks.iter().enumerate() {
            windows.extend(
                (0..samples.len())
                    .step_by(window.max(1))
                    .map(|start| TrackWindow {
                        track,
                        window: Window {
                            span: SpeechSpan {
                                start,
                                end: (start + window).min(samples.len()),
                            },
                            pauses: Vec::new(),
                        },
                    }),
            );
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
                    .map(|window| TrackWindow { track, window }),
            );
        }
    }
    // Interleave tracks in time order so the transcript reads as the conversation went.
    windows.sort_by_key(|tw| (tw.window.span.start, tw.track));
    let secs = |i: usize| i as f32 / SAMPLE_RATE as f32;
    let mut utterances = Vec::with_capacity(windows.len());
    let mut jobs = Vec::with_capacity(windows.len());
    for TrackWindow { track, window: w } in windows {
        let (start_s, end_s) = (secs(w.span.start), secs(w.span.end));
        let pauses: Vec<Pause> = w
            .pauses
            .iter()
            .map(|p| Pause {
                start_s: secs(p.start),
                end_s: secs(p.end),
            })
            .collect();
        let samples = tracks[track][w.span.start..w.span.end].to_vec();
        jobs.push(PlannedJob {
            samples,
            offset_s: start_s,
            pauses: pauses.iter().map(|p| (p.start_s, p.end_s)).collect(),
        });
        utterances.push(PendingUtterance {
            track,
            start_s,
            end_s,
            pauses,
            hypothesis: None,
        });
    }
    Ok(PlannedFile {
        audio_s,
        speakers,
        utterances,
        jobs,
    })
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
}

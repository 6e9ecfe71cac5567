//! Transcript segments: a window's hypothesis is split at whisper's breaks and the window's
//! pauses, and a file's segments are redacted with a track per speaker.

use super::{Pause, PendingUtterance, Redaction};
use crate::asr::Hypothesis;
use crate::redact::{RawSegment, RedactedSegment, TrackSegment, redact_recording};
use crate::transcript::TranscriptSegment;

/// Passes a file's utterances (in time order) through [`redact_recording`], one redaction call
/// with a track per speaker, so identifiers split across a speaker's segments are still found;
/// the segments come back in time order.
pub(super) fn redact_file(
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
            .map(move |segment| TrackSegment { track, segment })
    });
    let redactor = match redaction {
        Redaction::Policy(r) => r,
        Redaction::DisabledForEvaluation => {
            return raw
                .map(|r| {
                    let unredacted = RedactedSegment {
                        start: r.segment.start,
                        end: r.segment.end,
                        text: r.segment.text,
                        words: r.segment.words,
                        spans: Vec::new(),
                        policy_version: 0,
                    };
                    output_segment(&speakers[r.track], unredacted)
                })
                .collect();
        }
    };
    let mut out = redact_recording(redactor, crate::sys::random_key(), speakers, raw);
    out.sort_by(|a, b| a.segment.start.total_cmp(&b.segment.start));
    out.into_iter()
        .map(|r| output_segment(&speakers[r.track], r.segment))
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
    pauses: &[Pause],
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
fn pause_breaks(words: &[crate::asr::Word], pauses: &[Pause]) -> Vec<usize> {
    pauses
        .iter()
        .filter_map(|p| {
            let mid = (p.start_s + p.end_s) / 2.0;
            let k = words.partition_point(|w| w.start < mid);
            (k > 0 && k < words.len()).then_some(k)
        })
        .collect()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_text_is_split_at_its_pauses() {
        let pause = |start_s, end_s| Pause { start_s, end_s };
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
        let segs = to_raw_segments(0.0, 5.5, &[pause(1.1, 2.5), pause(3.5, 4.9)], h.clone());
        let texts: Vec<&str> = segs.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, ["Is that right?", "Yes, it is.", "Good."]);
        assert!((segs[1].start - 2.6).abs() < 1e-6 && (segs[2].start - 5.0).abs() < 1e-6);
        // a break whisper already made at a pause is not doubled; no pauses, no extra breaks
        let h2 = Hypothesis {
            breaks: vec![0, 3],
            ..h.clone()
        };
        assert_eq!(to_raw_segments(0.0, 5.5, &[pause(1.1, 2.5)], h2).len(), 2);
        assert_eq!(to_raw_segments(0.0, 5.5, &[], h).len(), 1);
    }
}

//! Redacting a whole recording: its segments go through one call's tracks, a track per speaker,
//! so identifiers split across a speaker's segments are found. Batch transcription and the
//! store's reprocessing both redact recordings this way.

use std::sync::Arc;

use super::{RawSegment, RedactedSegment, Redactor};

/// A segment of one track of a recording: `track` indexes the recording's speakers.
#[derive(Clone, Debug, PartialEq)]
pub struct TrackSegment<S> {
    pub track: usize,
    pub segment: S,
}

/// Redacts a recording with one call keyed by `call_key` (pseudonyms) and a track per speaker
/// (the speaker "agent" is the agent's track): each segment is pushed as a final on its track in
/// the order given, then every track is flushed, in speaker order.
///
/// Returns the redacted segments in the order the tracks gave them back: each track's in its
/// input order, one per input segment, but a held segment comes after segments of other tracks
/// given later.
pub fn redact_recording<S: AsRef<str>>(
    redactor: &Arc<Redactor>,
    call_key: [u8; 32],
    speakers: &[S],
    segments: impl IntoIterator<Item = TrackSegment<RawSegment>>,
) -> Vec<TrackSegment<RedactedSegment>> {
    let call = redactor.call(call_key);
    let mut tracks: Vec<_> = speakers
        .iter()
        .map(|s| call.track(s.as_ref() == "agent"))
        .collect();
    let mut out: Vec<TrackSegment<RedactedSegment>> = Vec::new();
    for TrackSegment { track, segment } in segments {
        out.extend(
            tracks[track]
                .push_final(segment)
                .into_iter()
                .map(|segment| TrackSegment { track, segment }),
        );
    }
    for (track, t) in tracks.iter_mut().enumerate() {
        out.extend(
            t.flush()
                .into_iter()
                .map(|segment| TrackSegment { track, segment }),
        );
    }
    out
}

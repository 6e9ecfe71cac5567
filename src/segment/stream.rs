//! Live endpointing of one track: 16 kHz samples go in as they arrive; out come interim
//! requests (about every second of an open utterance, over its audio so far) and one final per
//! utterance when a pause ends it or it reaches the maximum length. Audio is kept only while it
//! can still belong to an utterance: the open utterance plus a short tail for the VAD's
//! look-back, at most `max_utterance_s` + 1 s.
//!
//! Early finals: once the speaker has paused for `early_final_ms` (less than the endpoint's
//! `min_silence_ms`), the utterance's final audio is already known — the endpoint would close
//! it with exactly that span if the pause lasts. It goes out then as an [`Kind::EarlyFinal`],
//! so the transcription can start before the endpoint; at the endpoint a
//! [`TrackEvent::Confirm`] follows (no audio), or, when speech resumed first, a
//! [`TrackEvent::Retract`] and the utterance carries on. The text is the same as without (same audio, deterministic decoding); only
//! the wait is shorter.

use super::vad::{Endpointer, SpeechSpan, VadConfig};
use crate::audio::SAMPLE_RATE;

/// Audio kept before an utterance opens (covers the endpointer's onset look-back and padding).
const TAIL_S: f32 = 1.0;

/// What an [`UtteranceAudio`] asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The open utterance's audio so far.
    Interim,
    /// A closed utterance.
    Final,
    /// The final audio of an utterance that is pausing but not yet closed.
    EarlyFinal,
}

/// What the track asks of the call: audio to transcribe, or a verdict on an early final.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackEvent {
    Transcribe(UtteranceAudio),
    /// The utterance closed exactly as its early final said.
    Confirm {
        segment_id: u64,
    },
    /// Speech resumed (or the span changed): the early final is void.
    Retract {
        segment_id: u64,
    },
}

/// What the track needs transcribed.
#[derive(Debug, Clone, PartialEq)]
pub struct UtteranceAudio {
    /// The utterance's id within the call: interims and the final share it.
    pub segment_id: u64,
    pub kind: Kind,
    /// Seconds from the start of the track to the first sample.
    pub start_s: f32,
    pub end_s: f32,
    pub samples: Vec<f32>,
}

/// Endpointing of one live track.
pub struct TrackStream {
    endpointer: Endpointer,
    /// Samples from `origin` (a sample index from the start of the track) to `total`.
    buf: Vec<f32>,
    origin: usize,
    total: usize,
    interim_every: usize,
    /// The first interim comes once the utterance holds this much audio (padding included).
    first_interim: usize,
    last_interim_at: usize,
    current: Option<u64>,
    closed: Vec<SpeechSpan>,
    /// Pause (ms) after which an early final goes out; 0: never.
    early_final_ms: u32,
    /// The early final of the open utterance: its id and span (samples).
    early: Option<(u64, SpeechSpan)>,
}

impl TrackStream {
    /// `interim_every_ms` = 0 disables interims.
    pub fn new(vad: VadConfig, interim_every_ms: u32) -> Self {
        Self::with_early_finals(vad, interim_every_ms, 0)
    }

    /// The same with early finals after `early_final_ms` of pause (0: off; it must lie between
    /// the VAD's padding and its `min_silence_ms` to have any effect).
    pub fn with_early_finals(vad: VadConfig, interim_every_ms: u32, early_final_ms: u32) -> Self {
        let rate = SAMPLE_RATE as usize;
        Self {
            endpointer: Endpointer::new(vad),
            buf: Vec::new(),
            origin: 0,
            total: 0,
            interim_every: rate * interim_every_ms as usize / 1000,
            first_interim: rate * 4 / 5,
            last_interim_at: 0,
            current: None,
            closed: Vec::new(),
            early_final_ms,
            early: None,
        }
    }

    /// Samples seen so far.
    pub fn position(&self) -> usize {
        self.total
    }

    /// Samples held in memory (bounded by the maximum utterance length plus the tail).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The id of the open utterance, if one is open.
    pub fn open_segment(&self) -> Option<u64> {
        self.current
    }

    /// Feeds samples. `next_id` hands out segment ids (shared by the call's tracks). Returns
    /// the utterances to transcribe: finals in order, then at most one interim.
    pub fn push(&mut self, samples: &[f32], next_id: &mut impl FnMut() -> u64) -> Vec<TrackEvent> {
        self.buf.extend_from_slice(samples);
        self.total += samples.len();
        let mut closed = std::mem::take(&mut self.closed);
        self.endpointer.push(samples, &mut closed);
        let mut out = self.finals(&mut closed, next_id);
        self.closed = closed;
        if self.endpointer.in_speech() && self.current.is_none() {
            self.current = Some(next_id());
            self.last_interim_at = 0;
        }
        self.early_final(&mut out);
        if let (Some(id), Some(since)) = (self.current, self.endpointer.open_since())
            && self.early.is_none()
            && self.interim_every > 0
            && self.total.saturating_sub(since) >= self.first_interim
            && (self.last_interim_at <= since
                || self.total - self.last_interim_at >= self.interim_every)
        {
            self.last_interim_at = self.total;
            let from = since.max(self.origin);
            out.push(TrackEvent::Transcribe(UtteranceAudio {
                segment_id: id,
                kind: Kind::Interim,
                start_s: from as f32 / SAMPLE_RATE as f32,
                end_s: self.total as f32 / SAMPLE_RATE as f32,
                samples: self.buf[from - self.origin..].to_vec(),
            }));
        }
        self.trim();
        out
    }

    /// End of the track: the open utterance becomes a final.
    pub fn finish(&mut self, next_id: &mut impl FnMut() -> u64) -> Vec<TrackEvent> {
        let mut closed = std::mem::take(&mut self.closed);
        self.endpointer.finish(&mut closed);
        let out = self.finals(&mut closed, next_id);
        self.buf = Vec::new();
        self.origin = self.total;
        out
    }

    /// A discontinuity: the open utterance becomes a final (with the audio heard so far), then
    /// the track moves on `n` samples that are never analysed or transcribed — positions, and
    /// so timestamps, stay true to the stream.
    pub fn skip(&mut self, n: usize, next_id: &mut impl FnMut() -> u64) -> Vec<TrackEvent> {
        let mut closed = std::mem::take(&mut self.closed);
        self.endpointer.skip(n, &mut closed);
        let out = self.finals(&mut closed, next_id);
        self.closed = closed;
        self.total += n;
        self.buf.clear();
        self.origin = self.total;
        self.last_interim_at = 0;
        out
    }

    fn finals(
        &mut self,
        closed: &mut Vec<SpeechSpan>,
        next_id: &mut impl FnMut() -> u64,
    ) -> Vec<TrackEvent> {
        let mut out = Vec::new();
        for span in closed.drain(..) {
            let id = self.current.take().unwrap_or_else(&mut *next_id);
            let start = span.start.max(self.origin);
            let end = span.end.min(self.total);
            match self.early.take() {
                Some((eid, espan))
                    if eid == id && espan.start.max(self.origin) == start && espan.end == end =>
                {
                    out.push(TrackEvent::Confirm { segment_id: id });
                    continue;
                }
                Some((eid, _)) => out.push(TrackEvent::Retract { segment_id: eid }),
                None => {}
            }
            if end <= start {
                continue;
            }
            out.push(TrackEvent::Transcribe(self.audio(
                id,
                Kind::Final,
                start,
                end,
            )));
        }
        out
    }

    /// Sends the open utterance's early final once it has paused long enough; takes it back
    /// when speech resumes (or the pending span moved).
    fn early_final(&mut self, out: &mut Vec<TrackEvent>) {
        if self.early_final_ms == 0 {
            return;
        }
        let pending = self.endpointer.pending_close(self.early_final_ms);
        match (self.early, pending, self.current) {
            (Some((eid, espan)), p, _) if p != Some(espan) => {
                out.push(TrackEvent::Retract { segment_id: eid });
                self.early = None;
                if let (Some(p), Some(id)) = (p, self.current) {
                    self.send_early(id, p, out);
                }
            }
            (None, Some(p), Some(id)) => self.send_early(id, p, out),
            _ => {}
        }
    }

    fn send_early(&mut self, id: u64, span: SpeechSpan, out: &mut Vec<TrackEvent>) {
        let start = span.start.max(self.origin);
        let end = span.end.min(self.total);
        if end > start {
            out.push(TrackEvent::Transcribe(self.audio(
                id,
                Kind::EarlyFinal,
                start,
                end,
            )));
            self.early = Some((id, span));
        }
    }

    fn audio(&self, id: u64, kind: Kind, start: usize, end: usize) -> UtteranceAudio {
        UtteranceAudio {
            segment_id: id,
            kind,
            start_s: start as f32 / SAMPLE_RATE as f32,
            end_s: end as f32 / SAMPLE_RATE as f32,
            samples: self.buf[start - self.origin..end - self.origin].to_vec(),
        }
    }

    /// Drops audio that can no longer belong to an utterance.
    fn trim(&mut self) {
        let tail = (TAIL_S * SAMPLE_RATE as f32) as usize;
        let keep_from = match self.endpointer.open_since() {
            Some(since) => since.min(self.total.saturating_sub(tail)),
            None => self.total.saturating_sub(tail),
        };
        if keep_from > self.origin {
            self.buf.drain(..keep_from - self.origin);
            self.origin = keep_from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::vad::tests::voiced;

    /// Every request of the track in one flat shape, so the tables below read as sequences.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Interim,
        Final,
        EarlyFinal,
        Confirm,
        Retract,
    }

    /// A [`TrackEvent`] as the tests read it (a verdict has no audio and no times).
    #[derive(Debug, Clone, PartialEq)]
    struct UtteranceAudio {
        segment_id: u64,
        kind: Kind,
        start_s: f32,
        end_s: f32,
        samples: Vec<f32>,
    }

    fn view(ev: TrackEvent) -> UtteranceAudio {
        let signal = |segment_id, kind| UtteranceAudio {
            segment_id,
            kind,
            start_s: f32::NAN,
            end_s: f32::NAN,
            samples: Vec::new(),
        };
        match ev {
            TrackEvent::Transcribe(u) => UtteranceAudio {
                segment_id: u.segment_id,
                kind: match u.kind {
                    super::Kind::Interim => Kind::Interim,
                    super::Kind::Final => Kind::Final,
                    super::Kind::EarlyFinal => Kind::EarlyFinal,
                },
                start_s: u.start_s,
                end_s: u.end_s,
                samples: u.samples,
            },
            TrackEvent::Confirm { segment_id } => signal(segment_id, Kind::Confirm),
            TrackEvent::Retract { segment_id } => signal(segment_id, Kind::Retract),
        }
    }

    fn feed(ts: &mut TrackStream, audio: &[f32], ids: &mut u64) -> Vec<UtteranceAudio> {
        let mut out = Vec::new();
        let mut next = || {
            *ids += 1;
            *ids
        };
        for chunk in audio.chunks(320) {
            out.extend(ts.push(chunk, &mut next).into_iter().map(view));
        }
        out
    }

    #[test]
    fn a_skip_closes_the_open_utterance_and_keeps_timestamps_true() {
        let mut ts = TrackStream::new(VadConfig::default(), 0);
        let mut ids = 0;
        let mut audio = vec![0.0; 16000];
        audio.extend(voiced(2.0));
        let before = feed(&mut ts, &audio, &mut ids);
        assert!(before.is_empty(), "the utterance is still open: {before:?}");
        let mut next = || {
            ids += 1;
            ids
        };
        let cut: Vec<_> = ts
            .skip(60 * 16000, &mut next)
            .into_iter()
            .map(view)
            .collect();
        assert_eq!(cut.len(), 1, "the open utterance became a final: {cut:?}");
        assert_eq!(cut[0].kind, Kind::Final);
        assert!(
            (cut[0].start_s - 1.0).abs() < 0.5 && (cut[0].end_s - 3.0).abs() < 0.1,
            "{cut:?}"
        );
        assert_eq!(ts.position(), 63 * 16000);
        assert_eq!(ts.buffered(), 0, "nothing of the skipped minute is held");
        // speech after the jump is timed from the stream's position, skip included
        let mut after = voiced(2.0);
        after.extend(vec![0.0; 32000]);
        let later = feed(&mut ts, &after, &mut ids);
        let finals: Vec<_> = later.iter().filter(|u| u.kind == Kind::Final).collect();
        assert_eq!(finals.len(), 1, "{later:?}");
        assert!(
            (finals[0].start_s - 63.0).abs() < 0.5,
            "{:?}",
            finals[0].start_s
        );
        assert!(
            (finals[0].end_s - 65.0).abs() < 0.5,
            "{:?}",
            finals[0].end_s
        );
    }

    #[test]
    fn interims_then_one_final_sharing_the_segment_id() {
        let mut audio = vec![0.0; 16000];
        audio.extend(voiced(3.0));
        audio.extend(vec![0.0; 16000]);
        let mut ts = TrackStream::new(VadConfig::default(), 1000);
        let mut ids = 0;
        let out = feed(&mut ts, &audio, &mut ids);
        let finals: Vec<_> = out.iter().filter(|u| u.kind == Kind::Final).collect();
        let interims: Vec<_> = out.iter().filter(|u| u.kind == Kind::Interim).collect();
        assert_eq!(finals.len(), 1, "one utterance");
        assert!(
            (3..=4).contains(&interims.len()),
            "the first after ~0.6 s of speech, then about one per second: {}",
            interims.len()
        );
        assert!(
            interims
                .iter()
                .all(|i| i.segment_id == finals[0].segment_id)
        );
        // interims grow and start where the final starts
        assert!(
            interims
                .windows(2)
                .all(|w| w[1].samples.len() > w[0].samples.len())
        );
        assert!((interims[0].start_s - finals[0].start_s).abs() < 0.01);
        let f = finals[0];
        assert!(
            f.start_s > 0.7 && f.start_s < 1.0,
            "starts near 1 s: {}",
            f.start_s
        );
        assert!(f.end_s > 3.9 && f.end_s < 4.4, "ends near 4 s: {}", f.end_s);
        assert_eq!(
            f.samples.len(),
            ((f.end_s - f.start_s) * 16000.0).round() as usize
        );
        assert!(
            ts.buffered() <= 16000 + 320,
            "only the tail is kept after the utterance: {}",
            ts.buffered()
        );
    }

    /// Feeds 20 ms chunks; returns each request with the track position (samples) it came at.
    fn feed_timed(ts: &mut TrackStream, audio: &[f32]) -> Vec<(usize, UtteranceAudio)> {
        let mut ids = 0;
        let mut out = Vec::new();
        for (i, chunk) in audio.chunks(320).enumerate() {
            let mut next = || {
                ids += 1;
                ids
            };
            out.extend(
                ts.push(chunk, &mut next)
                    .into_iter()
                    .map(|u| (i * 320 + chunk.len(), view(u))),
            );
        }
        out
    }

    fn not_interims(out: &[(usize, UtteranceAudio)]) -> Vec<(usize, &UtteranceAudio)> {
        out.iter()
            .filter(|(_, u)| u.kind != Kind::Interim)
            .map(|(p, u)| (*p, u))
            .collect()
    }

    #[test]
    fn an_early_final_carries_the_final_audio_and_the_endpoint_confirms_it() {
        let mut audio = vec![0.0; 16000];
        audio.extend(voiced(2.5));
        audio.extend(vec![0.0; 16000]);
        let plain = feed_timed(&mut TrackStream::new(VadConfig::default(), 1000), &audio);
        let plain = not_interims(&plain);
        assert_eq!(plain.len(), 1);
        let (endpoint, fin) = plain[0];
        assert_eq!(fin.kind, Kind::Final);
        let early = feed_timed(
            &mut TrackStream::with_early_finals(VadConfig::default(), 1000, 300),
            &audio,
        );
        let early = not_interims(&early);
        assert_eq!(
            early.iter().map(|(_, u)| u.kind).collect::<Vec<_>>(),
            [Kind::EarlyFinal, Kind::Confirm]
        );
        let (sent, e) = early[0];
        assert_eq!(
            (e.segment_id, e.start_s, e.end_s, &e.samples),
            (fin.segment_id, fin.start_s, fin.end_s, &fin.samples),
            "the same audio as the final"
        );
        assert_eq!(
            early[1].0, endpoint,
            "confirmed when the endpoint closes it"
        );
        assert!(early[1].1.samples.is_empty() && early[1].1.segment_id == fin.segment_id);
        let ahead_ms = (endpoint - sent) as f32 / 16.0;
        assert!(
            (180.0..=220.0).contains(&ahead_ms),
            "sent {ahead_ms} ms before the endpoint"
        );
    }

    #[test]
    fn speech_resuming_retracts_the_early_final_and_the_utterance_goes_on() {
        let mut audio = vec![0.0; 16000];
        audio.extend(voiced(2.0));
        audio.extend(vec![0.0; 16000 * 2 / 5]); // a 400 ms pause: past 300, short of 500
        audio.extend(voiced(1.5));
        audio.extend(vec![0.0; 16000]);
        let plain = feed_timed(&mut TrackStream::new(VadConfig::default(), 1000), &audio);
        let plain = not_interims(&plain);
        assert_eq!(plain.len(), 1, "one utterance across the short pause");
        let fin = plain[0].1;
        let out = feed_timed(
            &mut TrackStream::with_early_finals(VadConfig::default(), 1000, 300),
            &audio,
        );
        let kinds: Vec<Kind> = not_interims(&out).iter().map(|(_, u)| u.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::EarlyFinal,
                Kind::Retract,
                Kind::EarlyFinal,
                Kind::Confirm
            ]
        );
        assert!(
            out.iter().all(|(_, u)| u.segment_id == fin.segment_id),
            "one utterance, one id"
        );
        let last_early = not_interims(&out)
            .into_iter()
            .rfind(|(_, u)| u.kind == Kind::EarlyFinal)
            .unwrap()
            .1;
        assert_eq!(
            (last_early.start_s, last_early.end_s, &last_early.samples),
            (fin.start_s, fin.end_s, &fin.samples)
        );
        // interims stop while an early final is out and resume after the retraction
        let retracted_at = out.iter().find(|(_, u)| u.kind == Kind::Retract).unwrap().0;
        let first_early = out
            .iter()
            .find(|(_, u)| u.kind == Kind::EarlyFinal)
            .unwrap()
            .0;
        assert!(
            !out.iter()
                .any(|(p, u)| u.kind == Kind::Interim && *p > first_early && *p < retracted_at)
        );
        assert!(
            out.iter()
                .any(|(p, u)| u.kind == Kind::Interim && *p > retracted_at)
        );
    }

    #[test]
    fn two_utterances_get_two_ids_and_memory_stays_bounded() {
        let mut audio = voiced(2.0);
        audio.extend(vec![0.0; 16000]);
        audio.extend(voiced(2.0));
        audio.extend(vec![0.0; 16000 * 20]);
        let mut ts = TrackStream::new(VadConfig::default(), 0);
        let mut ids = 0;
        let out = feed(&mut ts, &audio, &mut ids);
        assert_eq!(out.len(), 2, "interims are off");
        assert_ne!(out[0].segment_id, out[1].segment_id);
        assert!(out[0].end_s <= out[1].start_s);
        assert!(ts.buffered() <= 16000 + 320);
    }

    #[test]
    fn long_speech_is_cut_and_finish_closes_the_open_utterance() {
        let cfg = VadConfig {
            max_utterance_s: 5.0,
            ..VadConfig::default()
        };
        let mut ts = TrackStream::new(cfg, 0);
        let mut ids = 0;
        let mut out = feed(&mut ts, &voiced(12.0), &mut ids);
        assert!(
            ts.buffered() <= 16000 * 6 + 320,
            "bounded by the maximum length: {}",
            ts.buffered()
        );
        let mut next = || 99;
        out.extend(ts.finish(&mut next).into_iter().map(view));
        assert!(
            out.len() >= 3,
            "cut at least twice, then finished: {}",
            out.len()
        );
        assert!(
            out.iter()
                .all(|u| u.kind == Kind::Final && u.samples.len() <= 16000 * 5 + 3200)
        );
        let last = out.last().unwrap();
        assert!(last.end_s > 11.9, "the tail is not lost: {}", last.end_s);
    }
}

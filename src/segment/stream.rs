//! Live endpointing of one track: 16 kHz samples go in as they arrive; out come interim
//! requests (about every second of an open utterance, over its audio so far) and one final per
//! utterance when a pause ends it or it reaches the maximum length. Audio is kept only while it
//! can still belong to an utterance: the open utterance plus a short tail for the VAD's
//! look-back, at most `max_utterance_s` + 1 s.

use super::vad::{Endpointer, SpeechSpan, VadConfig};
use crate::audio::SAMPLE_RATE;

/// Audio kept before an utterance opens (covers the endpointer's onset look-back and padding).
const TAIL_S: f32 = 1.0;

/// What the track needs transcribed.
#[derive(Debug, Clone, PartialEq)]
pub struct UtteranceAudio {
    /// The utterance's id within the call: interims and the final share it.
    pub segment_id: u64,
    pub is_final: bool,
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
}

impl TrackStream {
    /// `interim_every_ms` = 0 disables interims.
    pub fn new(vad: VadConfig, interim_every_ms: u32) -> Self {
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
    pub fn push(&mut self, samples: &[f32], next_id: &mut impl FnMut() -> u64) -> Vec<UtteranceAudio> {
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
        if let (Some(id), Some(since)) = (self.current, self.endpointer.open_since())
            && self.interim_every > 0
            && self.total.saturating_sub(since) >= self.first_interim
            && (self.last_interim_at <= since || self.total - self.last_interim_at >= self.interim_every)
        {
            self.last_interim_at = self.total;
            let from = since.max(self.origin);
            out.push(UtteranceAudio {
                segment_id: id,
                is_final: false,
                start_s: from as f32 / SAMPLE_RATE as f32,
                end_s: self.total as f32 / SAMPLE_RATE as f32,
                samples: self.buf[from - self.origin..].to_vec(),
            });
        }
        self.trim();
        out
    }

    /// End of the track: the open utterance becomes a final.
    pub fn finish(&mut self, next_id: &mut impl FnMut() -> u64) -> Vec<UtteranceAudio> {
        let mut closed = std::mem::take(&mut self.closed);
        self.endpointer.finish(&mut closed);
        let out = self.finals(&mut closed, next_id);
        self.buf = Vec::new();
        self.origin = self.total;
        out
    }

    fn finals(&mut self, closed: &mut Vec<SpeechSpan>, next_id: &mut impl FnMut() -> u64) -> Vec<UtteranceAudio> {
        let mut out = Vec::new();
        for span in closed.drain(..) {
            let id = self.current.take().unwrap_or_else(&mut *next_id);
            let start = span.start.max(self.origin);
            let end = span.end.min(self.total);
            if end <= start {
                continue;
            }
            out.push(UtteranceAudio {
                segment_id: id,
                is_final: true,
                start_s: start as f32 / SAMPLE_RATE as f32,
                end_s: end as f32 / SAMPLE_RATE as f32,
                samples: self.buf[start - self.origin..end - self.origin].to_vec(),
            });
        }
        out
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

    fn feed(ts: &mut TrackStream, audio: &[f32], ids: &mut u64) -> Vec<UtteranceAudio> {
        let mut out = Vec::new();
        let mut next = || {
            *ids += 1;
            *ids
        };
        for chunk in audio.chunks(320) {
            out.extend(ts.push(chunk, &mut next));
        }
        out
    }

    #[test]
    fn interims_then_one_final_sharing_the_segment_id() {
        let mut audio = vec![0.0; 16000];
        audio.extend(voiced(3.0));
        audio.extend(vec![0.0; 16000]);
        let mut ts = TrackStream::new(VadConfig::default(), 1000);
        let mut ids = 0;
        let out = feed(&mut ts, &audio, &mut ids);
        let finals: Vec<_> = out.iter().filter(|u| u.is_final).collect();
        let interims: Vec<_> = out.iter().filter(|u| !u.is_final).collect();
        assert_eq!(finals.len(), 1, "one utterance");
        assert!((3..=4).contains(&interims.len()), "the first after ~0.6 s of speech, then about one per second: {}", interims.len());
        assert!(interims.iter().all(|i| i.segment_id == finals[0].segment_id));
        // interims grow and start where the final starts
        assert!(interims.windows(2).all(|w| w[1].samples.len() > w[0].samples.len()));
        assert!((interims[0].start_s - finals[0].start_s).abs() < 0.01);
        let f = finals[0];
        assert!(f.start_s > 0.7 && f.start_s < 1.0, "starts near 1 s: {}", f.start_s);
        assert!(f.end_s > 3.9 && f.end_s < 4.4, "ends near 4 s: {}", f.end_s);
        assert_eq!(f.samples.len(), ((f.end_s - f.start_s) * 16000.0).round() as usize);
        assert!(ts.buffered() <= 16000 + 320, "only the tail is kept after the utterance: {}", ts.buffered());
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
        let cfg = VadConfig { max_utterance_s: 5.0, ..VadConfig::default() };
        let mut ts = TrackStream::new(cfg, 0);
        let mut ids = 0;
        let mut out = feed(&mut ts, &voiced(12.0), &mut ids);
        assert!(ts.buffered() <= 16000 * 6 + 320, "bounded by the maximum length: {}", ts.buffered());
        let mut next = || 99;
        out.extend(ts.finish(&mut next));
        assert!(out.len() >= 3, "cut at least twice, then finished: {}", out.len());
        assert!(out.iter().all(|u| u.is_final && u.samples.len() <= 16000 * 5 + 3200));
        let last = out.last().unwrap();
        assert!(last.end_s > 11.9, "the tail is not lost: {}", last.end_s);
    }
}

//! The per-track reorder buffer. Frames are placed by their position in the stream (the
//! provider's timestamp, else its chunk counter, else arrival order); in-order frames pass
//! straight through, a missing frame is waited for up to the reorder window and then replaced
//! by silence of the same length (so word timestamps stay true to call time), and duplicates
//! or frames that arrive after their place was passed are dropped and counted.
//!
//! Bounds (everything here is fed from outside): the buffer holds at most the reorder window's
//! worth of audio (plus the frame that reached it: bytes are bounded by the window and the
//! message size) — reaching it forces the release, filling what is missing, and frames for
//! places already passed are dropped and counted as late; a gap is filled with silence only up to
//! `max_gap_ms` — a longer jump is a discontinuity ([`Released::Skip`]: the timeline moves on,
//! no audio is made or processed); and a frame placed further ahead than the caller's limit
//! (the wall clock plus its margin) is refused.

use std::collections::BTreeMap;

use super::{MediaFrame, ProtocolError};

/// What leaves the buffer, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum Released {
    /// Encoded payload bytes of one frame.
    Audio(Vec<u8>),
    /// Samples of silence standing in for frames that never came.
    Silence(usize),
    /// A discontinuity: the stream jumped this many samples ahead, longer than the gap bound;
    /// the timeline moves on without audio.
    Skip(usize),
}

/// Counters of what the buffer did (for logs and metrics; no audio).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub frames: u64,
    pub reordered: u64,
    pub duplicates: u64,
    pub late: u64,
    pub gaps: u64,
    pub gap_samples: u64,
    /// Jumps longer than the gap bound, and the samples they skipped.
    pub discontinuities: u64,
    pub skipped_samples: u64,
}

pub struct JitterBuffer {
    rate: u32,
    bytes_per_sample: usize,
    window: u64,
    max_gap: u64,
    next: u64,
    pending: BTreeMap<u64, Vec<u8>>,
    held_samples: u64,
    held_bytes: usize,
    pub stats: JitterStats,
}

impl JitterBuffer {
    /// `rate`: samples per second of one track; `window_ms`: how long to wait for a missing
    /// frame; `max_gap_ms`: the longest gap filled with silence.
    pub fn new(rate: u32, bytes_per_sample: usize, window_ms: u32, max_gap_ms: u32) -> Self {
        let bytes_per_sample = bytes_per_sample.max(1);
        let ms = |ms: u32| rate as u64 * ms as u64 / 1000;
        Self {
            rate,
            bytes_per_sample,
            window: ms(window_ms),
            max_gap: ms(max_gap_ms),
            next: 0,
            pending: BTreeMap::new(),
            held_samples: 0,
            held_bytes: 0,
            stats: JitterStats::default(),
        }
    }

    /// Samples released so far, skips included (the track's position in the stream).
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Frames held, waiting for an earlier one.
    pub fn held(&self) -> usize {
        self.pending.len()
    }

    /// Bytes of audio held.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    fn ms(&self, samples: u64) -> u64 {
        // in u128: a timestamp near u64::MAX ms places a frame where `samples * 1000` overflows
        (u128::from(samples) * 1000 / u128::from(self.rate)) as u64
    }

    /// Places one frame; appends what can now be released to `out`. `limit`: the furthest
    /// position (samples) a frame may start at — the wall clock plus the margin.
    pub fn push(
        &mut self,
        frame: MediaFrame,
        limit: u64,
        out: &mut Vec<Released>,
    ) -> Result<(), ProtocolError> {
        let n = (frame.payload.len() / self.bytes_per_sample) as u64;
        if n == 0 {
            return Ok(());
        }
        self.stats.frames += 1;
        let pos = match (frame.timestamp_ms, frame.chunk) {
            (Some(ts), _) => ts.saturating_mul(self.rate as u64) / 1000,
            (None, Some(chunk)) => chunk.saturating_sub(1).saturating_mul(n),
            (None, None) => self.next + self.pending_samples_after_next(),
        };
        if pos.saturating_add(n) <= self.next {
            self.stats.late += 1;
            return Ok(());
        }
        if pos > limit {
            return Err(ProtocolError {
                code: super::close::POLICY,
                reason: format!(
                    "media at {} ms runs ahead of the wall clock: only {} ms of call time may \
                     have been sent by now",
                    self.ms(pos),
                    self.ms(limit)
                ),
            });
        }
        if self.pending.contains_key(&pos) {
            self.stats.duplicates += 1;
            return Ok(());
        }
        if pos != self.next || !self.pending.is_empty() {
            self.stats.reordered +=
                u64::from(pos < self.pending.keys().next_back().copied().unwrap_or(0));
        }
        self.held_samples += n;
        self.held_bytes += frame.payload.len();
        self.pending.insert(pos, frame.payload);
        self.release(false, out);
        Ok(())
    }

    /// End of the stream: releases everything held, filling gaps.
    pub fn flush(&mut self, out: &mut Vec<Released>) {
        self.release(true, out);
    }

    /// Where arrival-ordered frames go: after the last held frame.
    fn pending_samples_after_next(&self) -> u64 {
        match self.pending.iter().next_back() {
            Some((pos, p)) => pos + (p.len() / self.bytes_per_sample) as u64 - self.next,
            None => 0,
        }
    }

    fn release(&mut self, all: bool, out: &mut Vec<Released>) {
        loop {
            let Some((&pos, _)) = self.pending.iter().next() else {
                return;
            };
            if pos > self.next {
                let newest_end = self
                    .pending
                    .iter()
                    .next_back()
                    .map(|(p, b)| p + (b.len() / self.bytes_per_sample) as u64)
                    .unwrap_or(pos);
                if !all
                    && newest_end.saturating_sub(self.next) < self.window
                    && self.held_samples < self.window
                {
                    return; // the missing frame may still come
                }
                let gap = pos - self.next;
                if gap > self.max_gap {
                    self.stats.discontinuities += 1;
                    self.stats.skipped_samples += gap;
                    out.push(Released::Skip(gap as usize));
                } else {
                    self.stats.gaps += 1;
                    self.stats.gap_samples += gap;
                    out.push(Released::Silence(gap as usize));
                }
                self.next = pos;
            }
            let Some(mut payload) = self.pending.remove(&pos) else {
                return;
            };
            let n = (payload.len() / self.bytes_per_sample) as u64;
            self.held_samples -= n;
            self.held_bytes -= payload.len();
            if pos < self.next {
                // overlaps what was already released: keep only the new part
                let skip = (self.next - pos).min(n);
                if skip == n {
                    self.stats.duplicates += 1;
                    continue;
                }
                payload.drain(..(skip as usize * self.bytes_per_sample));
            }
            self.next = pos.max(self.next) + (payload.len() / self.bytes_per_sample) as u64;
            out.push(Released::Audio(payload));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_LIMIT: u64 = u64::MAX;

    fn frame(ts: u64, fill: u8) -> MediaFrame {
        MediaFrame {
            track: 0,
            timestamp_ms: Some(ts),
            chunk: None,
            payload: vec![fill; 160],
        }
    }

    fn audio_fills(out: &[Released]) -> Vec<String> {
        out.iter()
            .map(|r| match r {
                Released::Audio(p) => format!("a{}", p[0]),
                Released::Silence(n) => format!("s{n}"),
                Released::Skip(n) => format!("k{n}"),
            })
            .collect()
    }

    #[test]
    fn in_order_frames_pass_straight_through() {
        let mut jb = JitterBuffer::new(8000, 1, 200, 5000);
        let mut out = Vec::new();
        for k in 0..5 {
            jb.push(frame(k * 20, k as u8), NO_LIMIT, &mut out).unwrap();
            assert_eq!(out.len(), k as usize + 1, "frame {k} released at once");
        }
        assert_eq!(audio_fills(&out), ["a0", "a1", "a2", "a3", "a4"]);
        assert_eq!(jb.position(), 800);
    }

    #[test]
    fn swapped_frames_are_put_back_in_order() {
        let mut jb = JitterBuffer::new(8000, 1, 200, 5000);
        let mut out = Vec::new();
        jb.push(frame(0, 0), NO_LIMIT, &mut out).unwrap();
        jb.push(frame(40, 2), NO_LIMIT, &mut out).unwrap();
        assert_eq!(out.len(), 1, "frame 2 waits for frame 1");
        jb.push(frame(20, 1), NO_LIMIT, &mut out).unwrap();
        assert_eq!(audio_fills(&out), ["a0", "a1", "a2"]);
        assert_eq!(jb.held(), 0);
    }

    #[test]
    fn duplicates_and_late_frames_are_dropped() {
        let mut jb = JitterBuffer::new(8000, 1, 200, 5000);
        let mut out = Vec::new();
        jb.push(frame(0, 0), NO_LIMIT, &mut out).unwrap();
        jb.push(frame(0, 9), NO_LIMIT, &mut out).unwrap();
        jb.push(frame(40, 2), NO_LIMIT, &mut out).unwrap();
        jb.push(frame(40, 9), NO_LIMIT, &mut out).unwrap();
        jb.push(frame(20, 1), NO_LIMIT, &mut out).unwrap();
        assert_eq!(audio_fills(&out), ["a0", "a1", "a2"]);
        assert_eq!(jb.stats.late + jb.stats.duplicates, 2);
    }

    #[test]
    fn a_lost_frame_becomes_silence_after_the_window() {
        let mut jb = JitterBuffer::new(8000, 1, 100, 5000);
        let mut out = Vec::new();
        jb.push(frame(0, 0), NO_LIMIT, &mut out).unwrap();
        // frame at 20 ms never comes
        for k in 2..8 {
            jb.push(frame(k * 20, k as u8), NO_LIMIT, &mut out).unwrap();
        }
        let fills = audio_fills(&out);
        assert_eq!(fills[..3], ["a0", "s160", "a2"], "{fills:?}");
        assert_eq!(jb.stats.gaps, 1);
        // the lost frame arriving now is late and dropped
        jb.push(frame(20, 1), NO_LIMIT, &mut out).unwrap();
        assert_eq!(jb.stats.late, 1);
        // time is preserved: 8 frames of 160 samples
        jb.flush(&mut out);
        assert_eq!(jb.position(), 8 * 160);
    }

    #[test]
    fn flush_fills_gaps_at_the_end() {
        let mut jb = JitterBuffer::new(8000, 1, 1000, 5000);
        let mut out = Vec::new();
        jb.push(frame(0, 0), NO_LIMIT, &mut out).unwrap();
        jb.push(frame(60, 3), NO_LIMIT, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        jb.flush(&mut out);
        assert_eq!(audio_fills(&out), ["a0", "s320", "a3"]);
    }

    #[test]
    fn frames_without_timestamps_use_chunks_or_arrival_order() {
        let mut jb = JitterBuffer::new(8000, 2, 200, 5000);
        let mut out = Vec::new();
        let f = |chunk: Option<u64>, fill: u8| MediaFrame {
            track: 0,
            timestamp_ms: None,
            chunk,
            payload: vec![fill; 320],
        };
        jb.push(f(Some(2), 1), NO_LIMIT, &mut out).unwrap();
        jb.push(f(Some(1), 0), NO_LIMIT, &mut out).unwrap();
        assert_eq!(audio_fills(&out), ["a0", "a1"]);
        jb.push(f(None, 2), NO_LIMIT, &mut out).unwrap();
        assert_eq!(audio_fills(&out), ["a0", "a1", "a2"]);
        assert_eq!(jb.position(), 480);
    }

    #[test]
    fn frames_ahead_of_the_limit_are_refused() {
        let mut jb = JitterBuffer::new(8000, 1, 200, 5000);
        let mut out = Vec::new();
        jb.push(frame(0, 0), 8000, &mut out).unwrap();
        // 1 s of call time allowed so far: a frame at 1.5 s is refused, one at 1 s is not
        let err = jb.push(frame(1500, 1), 8000, &mut out).unwrap_err();
        assert!(err.reason.contains("ahead of the wall clock"), "{err}");
        assert!(err.reason.contains("1500 ms"), "{err}");
        jb.push(frame(1000, 1), 8000, &mut out).unwrap();
    }

    #[test]
    fn a_frame_at_the_largest_timestamp_is_refused_without_overflow() {
        let mut jb = JitterBuffer::new(8000, 1, 200, 5000);
        let mut out = Vec::new();
        let err = jb.push(frame(u64::MAX, 0), 8000, &mut out).unwrap_err();
        // placed at u64::MAX / 1000 samples (the timestamp saturates), reported in ms
        assert!(err.reason.contains("2305843009213693 ms"), "{err}");
    }

    #[test]
    fn a_jump_longer_than_the_gap_bound_is_a_discontinuity_not_silence() {
        let mut jb = JitterBuffer::new(8000, 1, 0, 2000);
        let mut out = Vec::new();
        jb.push(frame(0, 0), NO_LIMIT, &mut out).unwrap();
        jb.push(frame(1020, 1), NO_LIMIT, &mut out).unwrap();
        jb.push(frame(61_040, 2), NO_LIMIT, &mut out).unwrap();
        assert_eq!(
            audio_fills(&out),
            ["a0", "s8000", "a1", "k480000", "a2"],
            "a 1 s gap is silence, a 60 s jump a skip"
        );
        assert_eq!((jb.stats.gaps, jb.stats.discontinuities), (1, 1));
        assert_eq!(jb.position(), 61_060 * 8);
    }

    #[test]
    fn the_buffer_holds_at_most_the_window_of_audio() {
        // The newest frame is placed first (small), then frames just before it, each large:
        // without the bound they would all wait for the frame at 0 that never comes.
        let mut jb = JitterBuffer::new(8000, 1, 200, 5000);
        let mut out = Vec::new();
        jb.push(frame(0, 0), NO_LIMIT, &mut out).unwrap();
        jb.push(frame(190, 9), NO_LIMIT, &mut out).unwrap();
        let mut most = 0;
        for k in (1..180).rev() {
            let big = MediaFrame {
                track: 0,
                timestamp_ms: Some(k),
                chunk: None,
                payload: vec![k as u8; 4000],
            };
            jb.push(big, NO_LIMIT, &mut out).unwrap();
            most = most.max(jb.held_bytes());
        }
        assert!(most <= 1600 + 4000, "held {most} bytes, window is 1600");
        jb.flush(&mut out);
        assert_eq!(jb.held_bytes(), 0);
    }
}

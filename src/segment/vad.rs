//! An energy + spectral-shape voice-activity detector with a streaming endpointer.
//!
//! Why not a neural VAD: every maintained one needs an ONNX runtime (a large native download
//! at build time, unavailable here) or a model we cannot ship. Telephone speech against a line
//! noise floor is separated well by three cheap per-frame measurements:
//! - energy relative to an adaptive noise floor (fast to fall, slow to rise);
//! - spectral flatness in the speech band, which is high for hiss and broadband noise;
//! - peak concentration, which is high for tones (dial, DTMF, beeps) and low for voiced speech,
//!   whose energy spreads over many harmonics and formants.
//!
//! What slips through (music-on-hold, babble) is caught after the model by the hallucination
//! guards in `asr::guard` and whisper's own no-speech probability.

use crate::config::ConfigError;
use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};
use serde::{Deserialize, Serialize};

use crate::audio::SAMPLE_RATE;

/// 20 ms frames at 16 kHz.
pub const FRAME: usize = 320;
const FFT_LEN: usize = 512;
const FRAME_S: f32 = FRAME as f32 / SAMPLE_RATE as f32;

/// Tuning of the detector and endpointer. Defaults suit 8 kHz telephone and 16 kHz wideband.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VadConfig {
    /// A frame is loud enough for speech when this many dB above the noise floor.
    pub threshold_db: f32,
    /// ... and above this absolute level (dBFS), so digital near-silence never counts.
    pub min_level_dbfs: f32,
    /// Speech-like frames needed within the onset window to open an utterance.
    pub onset_ms: u32,
    /// A pause this long closes the utterance (the endpoint).
    pub min_silence_ms: u32,
    /// Audio kept before the first and after the last speech frame.
    pub pad_ms: u32,
    /// Utterances longer than this are cut at the quietest point of their second half.
    pub max_utterance_s: f32,
    /// Utterances with less speech than this are dropped as clicks or breaths.
    pub min_speech_ms: u32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold_db: 9.0,
            min_level_dbfs: -52.0,
            onset_ms: 60,
            min_silence_ms: 500,
            pad_ms: 200,
            max_utterance_s: 15.0,
            min_speech_ms: 160,
        }
    }
}

impl VadConfig {
    /// Batch transcription's defaults: utterances end at 1 s pauses instead of 0.5 s, so each
    /// window gives whisper more context (live calls keep 0.5 s for latency; the WER it saves is
    /// in docs/PERFORMANCE.md).
    pub fn batch() -> Self {
        Self {
            min_silence_ms: 1000,
            ..Self::default()
        }
    }

    /// Checks ranges; returns a message naming the bad field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1.0..=60.0).contains(&self.max_utterance_s) {
            return Err(ConfigError::new(format!(
                "max_utterance_s must be 1..=60, got {}",
                self.max_utterance_s
            )));
        }
        if !(100..=5000).contains(&self.min_silence_ms) {
            return Err(ConfigError::new(format!(
                "min_silence_ms must be 100..=5000, got {}",
                self.min_silence_ms
            )));
        }
        if self.pad_ms > 1000 {
            return Err(ConfigError::new(format!(
                "pad_ms must be at most 1000, got {}",
                self.pad_ms
            )));
        }
        Ok(())
    }

    fn frames(ms: u32) -> usize {
        ((ms as f32 / 1000.0) / FRAME_S).round().max(1.0) as usize
    }
}

/// What one frame sounds like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameClass {
    pub level_db: f32,
    pub flatness: f32,
    pub peakiness: f32,
    pub speech_like: bool,
}

/// A stretch of speech, in 16 kHz sample indices from the start of the track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeechSpan {
    pub start: usize,
    pub end: usize,
}

impl SpeechSpan {
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Per-frame spectral measurements (owns its FFT plan and scratch buffers: no allocation per
/// frame).
struct Analyser {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    input: Vec<f32>,
    spectrum: Vec<realfft::num_complex::Complex<f32>>,
    scratch: Vec<realfft::num_complex::Complex<f32>>,
    power: Vec<f32>,
}

/// Speech band used for the shape measures: 150 Hz – 3.8 kHz (what a phone line carries).
const BAND_LO: usize = 150 * FFT_LEN / SAMPLE_RATE as usize;
const BAND_HI: usize = 3800 * FFT_LEN / SAMPLE_RATE as usize;

impl Analyser {
    fn new() -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FFT_LEN);
        let window = (0..FRAME)
            .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / (FRAME - 1) as f32).cos())
            .collect();
        Self {
            input: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            power: vec![0.0; BAND_HI - BAND_LO],
            fft,
            window,
        }
    }

    /// Returns (flatness, peakiness, the two strongest bins) of the frame within the speech
    /// band.
    fn shape(&mut self, frame: &[f32]) -> (f32, f32, [usize; 2]) {
        for ((dst, &s), &w) in self.input.iter_mut().zip(frame).zip(&self.window) {
            *dst = s * w;
        }
        self.input[FRAME..].fill(0.0);
        if self
            .fft
            .process_with_scratch(&mut self.input, &mut self.spectrum, &mut self.scratch)
            .is_err()
        {
            return (1.0, 0.0, [0, 0]);
        }
        for (p, c) in self.power.iter_mut().zip(&self.spectrum[BAND_LO..BAND_HI]) {
            *p = c.norm_sqr() + 1e-12;
        }
        let n = self.power.len() as f32;
        let total: f32 = self.power.iter().sum();
        let log_mean = self.power.iter().map(|p| p.ln()).sum::<f32>() / n;
        let flatness = log_mean.exp() / (total / n);
        // Energy within ±2 bins of the two strongest peaks (DTMF is two tones).
        let (k1, _) = argmax(&self.power, None);
        let near1 = window_sum(&self.power, k1);
        let (k2, _) = argmax(&self.power, Some(k1));
        let near2 = if k2.abs_diff(k1) > 4 {
            window_sum(&self.power, k2)
        } else {
            0.0
        };
        (flatness, ((near1 + near2) / total).min(1.0), [k1, k2])
    }
}

fn argmax(p: &[f32], exclude_near: Option<usize>) -> (usize, f32) {
    let mut best = (0, f32::MIN);
    for (i, &v) in p.iter().enumerate() {
        if exclude_near.is_some_and(|k| i.abs_diff(k) <= 4) {
            continue;
        }
        if v > best.1 {
            best = (i, v);
        }
    }
    best
}

fn window_sum(p: &[f32], k: usize) -> f32 {
    p[k.saturating_sub(2)..(k + 3).min(p.len())].iter().sum()
}

/// Frames over which the noise floor is the minimum level (1.5 s).
const FLOOR_WINDOW: usize = 75;

/// A frame with nearly all band energy in one or two narrow peaks may be a tone...
const TONAL_PEAKINESS: f32 = 0.95;
/// ... and it is one when the strongest peak holds its frequency this long: a steady voice
/// can be that peaky for a few frames, but no vowel holds a pure line for half a second.
const TONE_FRAMES: usize = 25;
/// Frames this flat across the band are hiss or broadband noise.
const NOISE_FLATNESS: f32 = 0.5;

/// The streaming endpointer: feed 16 kHz samples of one track in any chunk sizes; it reports
/// closed speech spans. Call [`Endpointer::finish`] at the end of the track.
pub struct Endpointer {
    cfg: VadConfig,
    analyser: Analyser,
    carry: Vec<f32>,
    /// Index of the next frame to be analysed.
    frame_idx: usize,
    /// Levels of the last [`FLOOR_WINDOW`] frames; the noise floor is their minimum.
    levels: std::collections::VecDeque<f32>,
    /// Speech-like flags of the last `onset_window` frames.
    recent: std::collections::VecDeque<bool>,
    open: Option<OpenUtterance>,
    /// Consecutive peaky frames whose strongest bins stayed put, and those bins.
    tone_run: usize,
    tone_bins: [usize; 2],
}

struct OpenUtterance {
    start_frame: usize,
    last_speech_frame: usize,
    speech_frames: usize,
    /// Level of every frame since `start_frame`, to find the quietest cut point.
    levels: Vec<f32>,
}

impl Endpointer {
    pub fn new(cfg: VadConfig) -> Self {
        Self {
            cfg,
            analyser: Analyser::new(),
            carry: Vec::with_capacity(FRAME),
            frame_idx: 0,
            levels: std::collections::VecDeque::with_capacity(FLOOR_WINDOW + 1),
            recent: std::collections::VecDeque::new(),
            open: None,
            tone_run: 0,
            tone_bins: [0, 0],
        }
    }

    /// True while an utterance is open (speech started and has not yet ended).
    pub fn in_speech(&self) -> bool {
        self.open.is_some()
    }

    /// Start (in samples) of the open utterance, if any.
    pub fn open_since(&self) -> Option<usize> {
        self.open.as_ref().map(|o| self.pad_start(o.start_frame))
    }

    /// The span the open utterance will close with if no speech comes before the endpoint,
    /// once it has been silent for at least `early_ms` (which must exceed the padding, so the
    /// padded end is already heard): exactly the span the endpoint then closes — unless
    /// speech resumes, a tone is taken back or the maximum length cuts it first. `None` while
    /// speech goes on, after the endpoint, or when the utterance is too short to be kept.
    pub fn pending_close(&self, early_ms: u32) -> Option<SpeechSpan> {
        let open = self.open.as_ref()?;
        let idx = self.frame_idx.checked_sub(1)?;
        let silence = idx - open.last_speech_frame;
        let pad = Self::frames(self.cfg.pad_ms);
        if early_ms <= self.cfg.pad_ms
            || silence < Self::frames(early_ms)
            || silence >= Self::frames(self.cfg.min_silence_ms)
        {
            return None;
        }
        if (open.speech_frames as f32 * FRAME_S * 1000.0) < self.cfg.min_speech_ms as f32 {
            return None;
        }
        let end_frame = open.last_speech_frame + 1 + pad;
        (end_frame <= idx + 1).then(|| SpeechSpan {
            start: self.pad_start(open.start_frame),
            end: end_frame * FRAME,
        })
    }

    /// Feeds samples; appends spans that closed to `closed`.
    pub fn push(&mut self, mut samples: &[f32], closed: &mut Vec<SpeechSpan>) {
        if !self.carry.is_empty() {
            let need = FRAME - self.carry.len();
            let take = need.min(samples.len());
            self.carry.extend_from_slice(&samples[..take]);
            samples = &samples[take..];
            if self.carry.len() < FRAME {
                return;
            }
            let frame = std::mem::take(&mut self.carry);
            self.frame(&frame, closed);
            self.carry = frame;
            self.carry.clear();
        }
        let mut chunks = samples.chunks_exact(FRAME);
        for frame in &mut chunks {
            self.frame(frame, closed);
        }
        self.carry.extend_from_slice(chunks.remainder());
    }

    /// Ends the track: closes any open utterance.
    pub fn finish(&mut self, closed: &mut Vec<SpeechSpan>) {
        if let Some(open) = self.open.take() {
            let end_frame =
                (open.last_speech_frame + 1 + Self::frames(self.cfg.pad_ms)).min(self.frame_idx);
            let end = end_frame * FRAME
                + if end_frame == self.frame_idx {
                    self.carry.len()
                } else {
                    0
                };
            self.close(open.start_frame, open.speech_frames, end, closed);
        }
    }

    /// A discontinuity in the stream: closes any open utterance (as [`Endpointer::finish`]
    /// does) and moves on `n` samples without analysing them; the noise floor is kept.
    pub fn skip(&mut self, n: usize, closed: &mut Vec<SpeechSpan>) {
        self.finish(closed);
        let pos = self.frame_idx * FRAME + self.carry.len() + n;
        self.frame_idx = pos / FRAME;
        self.carry.clear();
        self.carry.resize(pos % FRAME, 0.0);
        self.recent.clear();
        self.tone_run = 0;
    }

    /// Classifies one frame (exposed for tests and benchmarks).
    pub fn classify(&mut self, frame: &[f32]) -> FrameClass {
        let energy = frame.iter().map(|s| s * s).sum::<f32>() / frame.len().max(1) as f32;
        let level_db = 10.0 * (energy + 1e-10).log10();
        // Minimum statistics: the quietest frame of the last 1.5 s is the floor. Speech always
        // has gaps between words that reach it; steady noise raises it within 1.5 s.
        self.levels.push_back(level_db);
        if self.levels.len() > FLOOR_WINDOW {
            self.levels.pop_front();
        }
        let floor = self
            .levels
            .iter()
            .copied()
            .fold(f32::MAX, f32::min)
            .max(-90.0);
        let loud = level_db > floor + self.cfg.threshold_db && level_db > self.cfg.min_level_dbfs;
        let (flatness, peakiness, bins) = if loud {
            self.analyser.shape(frame)
        } else {
            (1.0, 0.0, [0, 0])
        };
        // Two tones of equal level (DTMF) swap places as the strongest from frame to frame:
        // the strongest bin must stay near either of the previous frame's two peaks.
        let steady = self.tone_run == 0 || self.tone_bins.iter().any(|b| b.abs_diff(bins[0]) <= 1);
        if loud && peakiness > TONAL_PEAKINESS && steady {
            self.tone_run += 1;
        } else {
            self.tone_run = 0;
        }
        self.tone_bins = bins;
        let tonal = self.tone_run >= TONE_FRAMES;
        let speech_like = loud && flatness < NOISE_FLATNESS && !tonal;
        FrameClass {
            level_db,
            flatness,
            peakiness,
            speech_like,
        }
    }

    fn frames(ms: u32) -> usize {
        VadConfig::frames(ms)
    }

    fn pad_start(&self, start_frame: usize) -> usize {
        start_frame.saturating_sub(Self::frames(self.cfg.pad_ms)) * FRAME
    }

    fn frame(&mut self, frame: &[f32], closed: &mut Vec<SpeechSpan>) {
        let class = self.classify(frame);
        let idx = self.frame_idx;
        self.frame_idx += 1;
        if self.tone_run == TONE_FRAMES {
            // The last TONE_FRAMES frames were a tone after all: take them back. An utterance
            // that the tone itself opened is cancelled.
            let tone_start = idx + 1 - TONE_FRAMES;
            if let Some(open) = &mut self.open {
                if open.start_frame + 2 >= tone_start {
                    self.open = None;
                } else {
                    open.speech_frames = open.speech_frames.saturating_sub(TONE_FRAMES - 1);
                    open.last_speech_frame =
                        open.last_speech_frame.min(tone_start.saturating_sub(1));
                }
            }
            self.recent.iter_mut().for_each(|s| *s = false);
        }
        let onset_window = Self::frames(self.cfg.onset_ms).max(2) + 1;
        self.recent.push_back(class.speech_like);
        if self.recent.len() > onset_window {
            self.recent.pop_front();
        }
        match &mut self.open {
            None => {
                let speech = self.recent.iter().filter(|&&s| s).count();
                if speech >= onset_window - 1 {
                    let first = idx + 1 - self.recent.len()
                        + self.recent.iter().position(|&s| s).unwrap_or(0);
                    self.open = Some(OpenUtterance {
                        start_frame: first,
                        last_speech_frame: idx,
                        speech_frames: speech,
                        levels: vec![class.level_db],
                    });
                }
            }
            Some(open) => {
                open.levels.push(class.level_db);
                if class.speech_like {
                    open.last_speech_frame = idx;
                    open.speech_frames += 1;
                }
                let silence = idx - open.last_speech_frame;
                if silence >= Self::frames(self.cfg.min_silence_ms) {
                    let open = self.open.take().expect("open utterance");
                    let end_frame = open.last_speech_frame + 1 + Self::frames(self.cfg.pad_ms);
                    self.close(
                        open.start_frame,
                        open.speech_frames,
                        end_frame.min(idx + 1) * FRAME,
                        closed,
                    );
                } else if idx + 1 - open.start_frame
                    >= (self.cfg.max_utterance_s / FRAME_S) as usize
                {
                    self.cut_long(idx, closed);
                }
            }
        }
    }

    /// Cuts an over-long utterance at the quietest 100 ms of its second half and keeps the
    /// rest open: speech is never cut mid-word when a pause exists, and the cut lands in the
    /// least harmful place when none does.
    fn cut_long(&mut self, idx: usize, closed: &mut Vec<SpeechSpan>) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        let n = open.levels.len();
        let smooth = 5usize;
        let from = n / 2;
        let mut best = (n - 1, f32::MAX);
        for i in from..n.saturating_sub(smooth) {
            let mean = open.levels[i..i + smooth].iter().sum::<f32>() / smooth as f32;
            if mean < best.1 {
                best = (i + smooth / 2, mean);
            }
        }
        let cut_frame = open.start_frame + best.0;
        let start_frame = open.start_frame;
        // The remainder starts at the cut; its levels are the tail of the old ones.
        open.levels.drain(..best.0);
        open.start_frame = cut_frame;
        open.speech_frames = open.levels.len();
        open.last_speech_frame = open.last_speech_frame.max(cut_frame).min(idx);
        // Unlike `close`, a span after a forced cut keeps its 200 ms of padding before the cut
        // (it overlaps the previous span): clamping it cost 1.9 points of WER on the dev calls,
        // most likely because a word at the cut is then heard whole by neither window.
        let start = self.pad_start(start_frame);
        closed.push(SpeechSpan {
            start,
            end: cut_frame * FRAME,
        });
    }

    fn close(
        &self,
        start_frame: usize,
        speech_frames: usize,
        end: usize,
        closed: &mut Vec<SpeechSpan>,
    ) {
        if (speech_frames as f32 * FRAME_S * 1000.0) < self.cfg.min_speech_ms as f32 {
            return;
        }
        // Padding never reaches back before the end of the previous span.
        let floor = closed.last().map_or(0, |s| s.end);
        let start = self.pad_start(start_frame).max(floor);
        if end > start {
            closed.push(SpeechSpan { start, end });
        }
    }
}

/// Finds the speech spans of a whole 16 kHz track.
pub fn find_speech(samples: &[f32], cfg: &VadConfig) -> Vec<SpeechSpan> {
    let mut ep = Endpointer::new(cfg.clone());
    let mut spans = Vec::new();
    ep.push(samples, &mut spans);
    ep.finish(&mut spans);
    spans
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::f32::consts::TAU;

    /// A deterministic pseudo-random generator, so tests need no extra crate.
    fn noise(n: usize, amp: f32, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0) * amp
            })
            .collect()
    }

    /// A crude voiced sound: a 120 Hz pulse train through two formant-like resonances,
    /// amplitude-modulated at a syllable rate, so it has speech's harmonic spread.
    pub(crate) fn voiced(secs: f32) -> Vec<f32> {
        let n = (secs * 16000.0) as usize;
        (0..n)
            .map(|i| {
                let t = i as f32 / 16000.0;
                let env = 0.55 + 0.45 * (TAU * 4.0 * t).sin();
                let mut v = 0.0;
                for h in 1..30 {
                    let f = 120.0 * h as f32;
                    let formant = (-((f - 700.0) / 300.0).powi(2)).exp()
                        + 0.6 * (-((f - 1800.0) / 400.0).powi(2)).exp()
                        + 0.05;
                    v += formant * (TAU * f * t).sin() / h as f32;
                }
                0.1 * env * v
            })
            .collect()
    }

    #[test]
    fn silence_and_low_noise_give_nothing() {
        let cfg = VadConfig::default();
        assert!(find_speech(&vec![0.0; 16000 * 5], &cfg).is_empty());
        assert!(
            find_speech(&noise(16000 * 5, 0.3, 1), &cfg).is_empty(),
            "white noise"
        );
    }

    #[test]
    fn tones_give_nothing() {
        let cfg = VadConfig::default();
        let tone: Vec<f32> = (0..16000 * 4)
            .map(|i| 0.4 * (TAU * 440.0 * i as f32 / 16000.0).sin())
            .collect();
        assert!(find_speech(&tone, &cfg).is_empty(), "440 Hz tone");
        let dtmf: Vec<f32> = (0..16000 * 2)
            .map(|i| {
                let t = i as f32 / 16000.0;
                0.2 * (TAU * 697.0 * t).sin() + 0.2 * (TAU * 1209.0 * t).sin()
            })
            .collect();
        assert!(find_speech(&dtmf, &cfg).is_empty(), "DTMF '1'");
    }

    #[test]
    fn speech_between_pauses_is_found_with_padding() {
        let cfg = VadConfig::default();
        let mut x = noise(16000, 0.002, 3);
        x.extend(voiced(2.0));
        x.extend(noise(16000, 0.002, 4));
        x.extend(voiced(1.0));
        x.extend(noise(16000, 0.002, 5));
        let spans = find_speech(&x, &cfg);
        assert_eq!(spans.len(), 2, "{spans:?}");
        let s0 = spans[0];
        // Starts up to pad_ms before 1.0 s, ends up to pad_ms after 3.0 s.
        assert!((12_000..=16_000).contains(&s0.start), "{s0:?}");
        assert!((48_000..=52_000).contains(&s0.end), "{s0:?}");
        assert!(spans[1].start >= s0.end);
    }

    #[test]
    fn long_speech_is_cut_under_the_maximum_at_a_quiet_point() {
        let cfg = VadConfig {
            max_utterance_s: 6.0,
            ..Default::default()
        };
        // 14 s of speech with a 300 ms dip (shorter than the endpoint pause) at 5 s.
        let mut x = voiced(5.0);
        x.extend(noise(4800, 0.001, 9));
        x.extend(voiced(9.0));
        let spans = find_speech(&x, &cfg);
        assert!(spans.len() >= 3, "{spans:?}");
        for s in &spans {
            assert!(s.len() <= 6 * 16000 + FRAME * 12, "span too long: {s:?}");
        }
        // The first cut lands in the dip.
        let cut = spans[0].end;
        assert!((80_000..=84_800).contains(&cut), "cut at {cut}");
        // Nothing lost: spans tile the speech.
        for w in spans.windows(2) {
            assert!(w[1].start <= w[0].end + FRAME, "gap between {w:?}");
        }
    }

    #[test]
    fn chunk_size_does_not_change_the_result() {
        let cfg = VadConfig::default();
        let mut x = noise(8000, 0.002, 7);
        x.extend(voiced(1.5));
        x.extend(noise(16000, 0.002, 8));
        let whole = find_speech(&x, &cfg);
        let mut ep = Endpointer::new(cfg);
        let mut spans = Vec::new();
        for c in x.chunks(137) {
            ep.push(c, &mut spans);
        }
        ep.finish(&mut spans);
        assert_eq!(spans, whole);
        assert_eq!(whole.len(), 1);
    }
}

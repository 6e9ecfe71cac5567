//! Resampling to 16 kHz with rubato's windowed-sinc resampler, in a streaming form (live calls
//! push 20 ms frames) that batch decoding uses too, so both paths hear the same audio.

use rubato::{
    Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType, WindowFunction,
    calculate_cutoff,
};

use super::{AudioError, SAMPLE_RATE};

/// Sinc length: 128 taps with a Blackman-Harris window keeps the passband flat to ~7.5 kHz and
/// the stopband below -100 dB, so nothing above 8 kHz of a 48 kHz source folds into speech.
const SINC_LEN: usize = 128;
const OVERSAMPLING: usize = 256;

/// A mono streaming resampler from `rate_in` to 16 kHz. Push any number of samples; get back
/// what is ready. `finish` flushes the tail so the output length is exactly
/// `round(n_in * 16000 / rate_in)` and aligned in time with the input (the filter delay is
/// removed).
pub struct StreamResampler {
    inner: Option<SincFixedIn<f32>>,
    ratio: f64,
    pending: Vec<f32>,
    out_buf: Vec<Vec<f32>>,
    delay_left: usize,
    consumed_in: u64,
    produced_out: u64,
}

impl StreamResampler {
    /// `chunk` is the number of input samples processed at a time (latency vs call overhead).
    pub fn new(rate_in: u32, chunk: usize) -> Result<Self, AudioError> {
        Self::between(rate_in, SAMPLE_RATE, chunk)
    }

    /// A resampler to another output rate (the replay client makes 8 kHz telephone audio).
    pub fn between(rate_in: u32, rate_out: u32, chunk: usize) -> Result<Self, AudioError> {
        for rate in [rate_in, rate_out] {
            if !(1000..=384_000).contains(&rate) {
                return Err(AudioError::SampleRate(rate));
            }
        }
        let ratio = rate_out as f64 / rate_in as f64;
        let inner = if rate_in == rate_out {
            None
        } else {
            let window = WindowFunction::BlackmanHarris2;
            // When every output position falls on the filter's oversampled grid (8, 24, 32,
            // 48 kHz → 16 kHz: the input step times the oversampling is whole), the nearest
            // tabulated sinc *is* the exact one: one dot product per output sample instead of
            // the two that linear interpolation blends (half the work for telephone audio).
            let on_grid = (rate_in as u64 * OVERSAMPLING as u64).is_multiple_of(rate_out as u64);
            let params = SincInterpolationParameters {
                sinc_len: SINC_LEN,
                f_cutoff: calculate_cutoff(SINC_LEN, window),
                interpolation: if on_grid {
                    SincInterpolationType::Nearest
                } else {
                    SincInterpolationType::Linear
                },
                oversampling_factor: OVERSAMPLING,
                window,
            };
            Some(
                SincFixedIn::<f32>::new(ratio, 1.0, params, chunk.max(16), 1)
                    .map_err(|e| AudioError::Resample(e.to_string()))?,
            )
        };
        let (delay_left, out_buf) = match &inner {
            Some(r) => (r.output_delay(), vec![vec![0.0; r.output_frames_max()]]),
            None => (0, Vec::new()),
        };
        Ok(Self {
            inner,
            ratio,
            pending: Vec::new(),
            out_buf,
            delay_left,
            consumed_in: 0,
            produced_out: 0,
        })
    }

    /// Adds input samples and appends whatever 16 kHz output is ready to `out`.
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        self.consumed_in += input.len() as u64;
        let Some(r) = &mut self.inner else {
            out.extend_from_slice(input);
            self.produced_out += input.len() as u64;
            return Ok(());
        };
        self.pending.extend_from_slice(input);
        let mut start = 0;
        while self.pending.len() - start >= r.input_frames_next() {
            let need = r.input_frames_next();
            let (_, n_out) = r
                .process_into_buffer(
                    &[&self.pending[start..start + need]],
                    &mut self.out_buf,
                    None,
                )
                .map_err(|e| AudioError::Resample(e.to_string()))?;
            start += need;
            emit(
                &self.out_buf[0][..n_out],
                &mut self.delay_left,
                &mut self.produced_out,
                out,
            );
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Flushes the remaining input; afterwards the total output matches the input duration.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let expected = (self.consumed_in as f64 * self.ratio).round() as u64;
        let Some(r) = &mut self.inner else {
            return Ok(());
        };
        let mut rest = std::mem::take(&mut self.pending);
        // Feed zeros until the filter has pushed out every real sample (delay + tail).
        let mut guard = 0;
        while self.produced_out < expected && guard < 64 {
            let (_, n_out) = if rest.is_empty() {
                r.process_partial_into_buffer(None::<&[&[f32]]>, &mut self.out_buf, None)
            } else {
                r.process_partial_into_buffer(Some(&[&rest[..]]), &mut self.out_buf, None)
            }
            .map_err(|e| AudioError::Resample(e.to_string()))?;
            rest.clear();
            let room = (expected - self.produced_out) as usize;
            let take = n_out.min(room + self.delay_left);
            emit(
                &self.out_buf[0][..take],
                &mut self.delay_left,
                &mut self.produced_out,
                out,
            );
            guard += 1;
        }
        Ok(())
    }
}

fn emit(chunk: &[f32], delay_left: &mut usize, produced: &mut u64, out: &mut Vec<f32>) {
    let skip = (*delay_left).min(chunk.len());
    *delay_left -= skip;
    out.extend_from_slice(&chunk[skip..]);
    *produced += (chunk.len() - skip) as u64;
}

/// Resamples a whole mono signal to 16 kHz.
pub fn resample_to_16k(input: &[f32], rate_in: u32) -> Result<Vec<f32>, AudioError> {
    if rate_in == SAMPLE_RATE {
        return Ok(input.to_vec());
    }
    let mut r = StreamResampler::new(rate_in, 4096)?;
    let mut out = Vec::with_capacity((input.len() as f64 * r.ratio) as usize + 16);
    r.push(input, &mut out)?;
    r.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::TAU;

    fn tone(freq: f32, rate: u32, secs: f32) -> Vec<f32> {
        (0..(rate as f32 * secs) as usize)
            .map(|i| 0.5 * (TAU * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    /// Power of `x` at `freq` Hz (single-bin DFT, Goertzel-style) relative to total power.
    fn power_at(x: &[f32], rate: u32, freq: f32) -> f32 {
        let (mut re, mut im) = (0.0f64, 0.0f64);
        for (i, &s) in x.iter().enumerate() {
            let ph = (TAU * freq * i as f32 / rate as f32) as f64;
            re += s as f64 * ph.cos();
            im -= s as f64 * ph.sin();
        }
        let n = x.len() as f64;
        let p = 2.0 * (re * re + im * im) / (n * n);
        let total = x.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / n;
        (p / total) as f32
    }

    #[test]
    fn tone_keeps_its_frequency_and_length() {
        for rate in [8000, 22050, 44100, 48000] {
            let x = tone(1000.0, rate, 1.0);
            let y = resample_to_16k(&x, rate).unwrap();
            assert_eq!(y.len(), 16000, "length from {rate} Hz");
            // Skip the edges (filter warm-up) and check the energy sits at 1 kHz.
            let mid = &y[1600..14400];
            assert!(
                power_at(mid, 16000, 1000.0) > 0.98,
                "1 kHz tone from {rate} Hz moved"
            );
            assert!(power_at(mid, 16000, 1100.0) < 0.01);
        }
    }

    #[test]
    fn no_aliasing_from_48k() {
        // 11 kHz cannot exist at 16 kHz; a naive decimator would fold it to 5 kHz.
        let x = tone(11_000.0, 48_000, 1.0);
        let y = resample_to_16k(&x, 48_000).unwrap();
        let mid = &y[1600..14400];
        let rms_in = (x.iter().map(|s| s * s).sum::<f32>() / x.len() as f32).sqrt();
        let rms_out = (mid.iter().map(|s| s * s).sum::<f32>() / mid.len() as f32).sqrt();
        assert!(
            rms_out < rms_in * 1e-3,
            "11 kHz leaked through: {rms_out} vs {rms_in}"
        );
    }

    #[test]
    fn streaming_in_small_frames_equals_one_shot() {
        let x = tone(440.0, 8000, 0.5);
        let whole = resample_to_16k(&x, 8000).unwrap();
        let mut r = StreamResampler::new(8000, 160).unwrap();
        let mut out = Vec::new();
        for frame in x.chunks(160) {
            r.push(frame, &mut out).unwrap();
        }
        r.finish(&mut out).unwrap();
        assert_eq!(out.len(), whole.len());
        let max_diff = out
            .iter()
            .zip(&whole)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(max_diff < 1e-3, "stream and batch differ by {max_diff}");
    }

    #[test]
    fn passthrough_at_16k_and_bad_rates() {
        let x = tone(300.0, 16000, 0.1);
        assert_eq!(resample_to_16k(&x, 16000).unwrap(), x);
        assert!(StreamResampler::new(0, 160).is_err());
        assert!(StreamResampler::new(10_000_000, 160).is_err());
    }
}

//! The mel filterbank stored in the ggml header: librosa's
//! `filters.mel(sr=16000, n_fft=400, n_mels=N, htk=False, norm="slaney")`, which is what
//! openai-whisper's `mel_filters.npz` holds. Computing it keeps openai-whisper's assets out
//! of the build.
//!
//! The arithmetic follows librosa step by step in f64, including its float32 rounding of
//! the triangles before the Slaney normalisation; the result equals the npz's `mel_80` and
//! `mel_128` exactly (openai-whisper 20250625), and for 80 bands is bit-identical to the
//! filters in whisper.cpp's `models/for-tests-ggml-*.bin`.

const SAMPLE_RATE: f64 = 16_000.0;
const N_FFT: usize = 400;
/// Frequency bins of a real FFT of `N_FFT` samples.
pub(super) const N_FREQ: usize = N_FFT / 2 + 1;

// Slaney's mel scale: linear below 1 kHz, logarithmic above.
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;

fn min_log_mel() -> f64 {
    MIN_LOG_HZ / F_SP
}

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        min_log_mel() + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= min_log_mel() {
        MIN_LOG_HZ * (log_step() * (mel - min_log_mel())).exp()
    } else {
        F_SP * mel
    }
}

/// numpy's `linspace(start, stop, n)`: `start + i·step`, with the last point exactly `stop`.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    let step = (stop - start) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + start).collect();
    v[n - 1] = stop;
    v
}

/// `n_mels` rows of [`N_FREQ`] weights, row-major.
pub(super) fn slaney_filterbank(n_mels: u32) -> Vec<f32> {
    let n_mels = n_mels as usize;
    let fft_freqs = linspace(0.0, SAMPLE_RATE / 2.0, N_FREQ);
    let mel_points = linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2.0), n_mels + 2);
    let hz: Vec<f64> = mel_points.into_iter().map(mel_to_hz).collect();

    let mut weights = Vec::with_capacity(n_mels * N_FREQ);
    for m in 0..n_mels {
        let (lo, mid, hi) = (hz[m], hz[m + 1], hz[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for &f in &fft_freqs {
            let lower = -(lo - f) / (mid - lo);
            let upper = (hi - f) / (hi - mid);
            let peak = lower.min(upper);
            // max(0, peak) with +0.0 for the -0.0 of the very first bin, as in whisper.cpp's
            // own model files (the npz has -0.0 there). librosa stores the triangle in a
            // float32 array, then scales it in place.
            let triangle = if peak > 0.0 { peak } else { 0.0 } as f32;
            weights.push((f64::from(triangle) * enorm) as f32);
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values of openai-whisper's `mel_filters.npz` (release 20250625): the first, middle
    /// and last non-zero weight of some rows, and each matrix's f64 sum.
    /// (row, bin, value) triples.
    type Spots = &'static [(usize, usize, f32)];

    const REFERENCE: &[(u32, Spots, f64)] = &[
        (
            80,
            &[
                (0, 1, 0.024862595),
                (1, 1, 0.001990822),
                (1, 2, 0.022871772),
                (7, 7, 0.013935752),
                (7, 8, 0.010926841),
                (20, 19, 0.0109722),
                (20, 20, 0.013890394),
                (39, 40, 0.0014180476),
                (39, 42, 0.010089745),
                (39, 43, 0.00040022287),
                (40, 42, 0.0054111048),
                (40, 43, 0.014735566),
                (40, 44, 0.00651819),
                (55, 74, 0.0009245911),
                (55, 77, 0.0072833435),
                (55, 79, 0.0016129047),
                (79, 186, 0.00036674167),
                (79, 193, 0.0031413133),
                (79, 199, 0.000448759),
            ],
            1.999024092387117,
        ),
        (
            128,
            &[
                (0, 1, 0.012373987),
                (3, 2, 0.01801858),
                (64, 42, 0.0067496826),
                (64, 43, 0.018091518),
                (100, 100, 0.002578351),
                (100, 102, 0.0094094165),
                (100, 104, 0.001214476),
                (127, 191, 0.0004756951),
                (127, 195, 0.0050416016),
                (127, 199, 0.0011142802),
            ],
            3.1909855409403463,
        ),
    ];

    #[test]
    fn matches_openai_whisper_mel_filters() {
        for &(n_mels, values, sum) in REFERENCE {
            let w = slaney_filterbank(n_mels);
            assert_eq!(w.len(), n_mels as usize * N_FREQ);
            for &(m, k, want) in values {
                assert_eq!(w[m * N_FREQ + k], want, "mel_{n_mels}[{m}][{k}]");
            }
            let total: f64 = w.iter().map(|&x| f64::from(x)).sum();
            assert!(
                (total - sum).abs() < 1e-9,
                "mel_{n_mels} sums to {total}, not {sum}"
            );
            // The npz stores -0.0 in its very first cell, whisper.cpp's files +0.0.
            assert!(w[0] == 0.0 && w[0].is_sign_positive());
        }
    }

    #[test]
    fn filters_are_non_negative_triangles() {
        for n_mels in [80, 128] {
            let w = slaney_filterbank(n_mels);
            for m in 0..n_mels as usize {
                let row = &w[m * N_FREQ..(m + 1) * N_FREQ];
                assert!(row.iter().all(|&x| x >= 0.0 && x.is_finite()));
                assert!(row.iter().any(|&x| x > 0.0), "mel {m} of {n_mels} is empty");
            }
        }
    }
}

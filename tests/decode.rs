//! Every decoder path on small fixtures, and every kind of bad file: each fails with a clear
//! error, never a panic.

mod common;

use callscribe::audio::{AudioError, decode_file, mix_to_mono, resample_to_16k};
use common::fixture;

/// Estimated frequency of a (near-)sinusoid from its zero crossings.
fn frequency(x: &[f32], rate: f32) -> f32 {
    let crossings = x.windows(2).filter(|w| w[0] <= 0.0 && w[1] > 0.0).count();
    crossings as f32 / (x.len() as f32 / rate)
}

#[test]
fn every_container_and_codec_decodes_to_the_same_tone() {
    // (file, sample rate, channels)
    let cases = [
        ("tone.u8.wav", 16000, 1),
        ("tone.s16.wav", 16000, 1),
        ("tone.s24.stereo48k.wav", 48000, 2),
        ("tone.s32.wav", 22050, 1),
        ("tone.f32.wav", 44100, 1),
        ("tone.mulaw8k.wav", 8000, 1),
        ("tone.alaw8k.wav", 8000, 1),
        ("tone.stereo44k.flac", 44100, 2),
        ("tone.stereo44k.mp3", 44100, 2),
        ("tone.32k.ogg", 32000, 1),
        ("tone.24k.m4a", 24000, 1),
    ];
    for (name, rate, channels) in cases {
        let audio = decode_file(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(audio.sample_rate, rate, "{name}");
        assert_eq!(audio.channels.len(), channels, "{name}");
        // Lossy codecs add priming/padding frames: allow 80 ms.
        assert!(
            (audio.duration_s() - 1.0).abs() < 0.08,
            "{name}: {} s",
            audio.duration_s()
        );
        let pcm = resample_to_16k(&mix_to_mono(&audio.channels), audio.sample_rate).unwrap();
        let mid = &pcm[2000..pcm.len() - 2000];
        let f = frequency(mid, 16000.0);
        assert!((f - 440.0).abs() < 5.0, "{name}: {f} Hz");
        let peak = mid.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        // -6 dBFS, give or take codec and µ-law error.
        assert!((0.4..0.62).contains(&peak), "{name}: peak {peak}");
    }
}

/// Whether an error is the one a bad file should give.
type Expected = fn(&AudioError) -> bool;

#[test]
fn bad_files_fail_with_what_is_wrong() {
    let cases: [(&str, Expected); 6] = [
        ("empty.wav", |e| matches!(e, AudioError::EmptyFile)),
        ("truncated.wav", |e| {
            matches!(e, AudioError::Truncated { .. })
        }),
        ("truncated.flac", |e| {
            matches!(e, AudioError::Truncated { .. } | AudioError::Corrupt(_))
        }),
        ("not-audio.wav", |e| {
            matches!(e, AudioError::UnknownFormat(_))
        }),
        ("zero-samples.wav", |e| matches!(e, AudioError::NoSamples)),
        ("does-not-exist.wav", |e| matches!(e, AudioError::Open(_))),
    ];
    for (name, expected) in cases {
        let err = decode_file(&fixture(name)).expect_err(name);
        assert!(expected(&err), "{name}: unexpected error {err:?}");
        assert!(!err.to_string().is_empty());
    }
    // A directory is not a file.
    let err = decode_file(&fixture("")).expect_err("directory");
    assert!(!err.to_string().is_empty());
}

#[test]
fn truncated_error_names_the_missing_part() {
    let err = decode_file(&fixture("truncated.wav")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("truncated") && msg.contains("16000"), "{msg}");
}

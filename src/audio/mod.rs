//! Audio: decoding (files through symphonia, G.711 µ-law/A-law, L16) and resampling to the
//! 16 kHz mono `f32` the model wants. Audio lives only in memory here: nothing in this module
//! ever writes samples to disk, a log or an error message.

pub mod codec;
pub mod decode;
pub mod g711;
pub mod resample;
pub mod tracks;

pub use codec::Codec;
pub use decode::{DecodedAudio, MAX_SAMPLES_PER_BYTE, decode_bytes, decode_file};
pub use resample::{StreamResampler, resample_to_16k};
pub use tracks::{ChannelMode, LoadedTracks, load_tracks, speaker_of_channel};

/// The sample rate every stage after `audio/` works at.
pub const SAMPLE_RATE: u32 = 16_000;

/// Errors from decoding or resampling audio. Messages say what is wrong, never contain samples.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("cannot open: {0}")]
    Open(#[source] std::io::Error),
    #[error("file is empty (0 bytes)")]
    EmptyFile,
    #[error("not a recognised audio file ({0})")]
    UnknownFormat(String),
    #[error("no audio track in the file")]
    NoTrack,
    #[error("unsupported codec: {0}")]
    UnsupportedCodec(String),
    #[error("contains no audio samples")]
    NoSamples,
    #[error("truncated: the header declares {declared} frames but only {found} could be read")]
    Truncated { declared: u64, found: u64 },
    #[error("corrupt audio data: {0}")]
    Corrupt(String),
    #[error(
        "decodes to more than {} samples per byte of file (a crafted or broken file); refused \
         to keep memory bounded",
        decode::MAX_SAMPLES_PER_BYTE
    )]
    Inflated,
    #[error("unsupported sample rate {0} Hz (must be 1000..=384000)")]
    SampleRate(u32),
    #[error("resampler: {0}")]
    Resample(String),
}

/// Averages interleaved or per-channel audio down to one channel.
pub fn mix_to_mono(channels: &[Vec<f32>]) -> Vec<f32> {
    match channels {
        [] => Vec::new(),
        [one] => one.clone(),
        many => {
            let len = many.iter().map(Vec::len).min().unwrap_or(0);
            let scale = 1.0 / many.len() as f32;
            (0..len)
                .map(|i| many.iter().map(|c| c[i]).sum::<f32>() * scale)
                .collect()
        }
    }
}

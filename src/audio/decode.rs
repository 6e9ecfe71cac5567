//! Decoding audio files with symphonia: WAV (PCM 8–32 bit, float, µ-law, A-law), FLAC, MP3,
//! Ogg Vorbis, MP4/M4A AAC, at any sample rate, mono or multi-channel.

use std::fs::File;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use super::AudioError;

/// A decoded file: one sample vector per channel at the file's own rate.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    pub sample_rate: u32,
    pub channels: Vec<Vec<f32>>,
}

impl DecodedAudio {
    /// Duration in seconds (of the shortest channel).
    pub fn duration_s(&self) -> f64 {
        let frames = self.channels.iter().map(Vec::len).min().unwrap_or(0);
        frames as f64 / self.sample_rate.max(1) as f64
    }
}

/// Packets that fail to decode in a row before the file is declared corrupt. A single bad
/// packet in an MP3 is routine (symphonia recommends skipping it); a run of them is not.
const MAX_CONSECUTIVE_DECODE_ERRORS: usize = 16;

/// Decodes a whole file into memory. Errors name what is wrong; the caller adds the path.
pub fn decode_file(path: &Path) -> Result<DecodedAudio, AudioError> {
    let file = File::open(path).map_err(AudioError::Open)?;
    let len = file.metadata().map_err(AudioError::Open)?.len();
    if len == 0 {
        return Err(AudioError::EmptyFile);
    }
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = path.extension().and_then(|e| e.to_str()) {
        hint.with_extension(ext);
    }
    let probed = symphonia::default::get_probe()
        .format(
            &hint,
            mss,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(|e| AudioError::UnknownFormat(describe(&e)))?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or(AudioError::NoTrack)?;
    let track_id = track.id;
    let declared_frames = track.codec_params.n_frames;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(|e| AudioError::UnsupportedCodec(describe(&e)))?;

    let mut channels: Vec<Vec<f32>> = Vec::new();
    let mut sample_rate = track.codec_params.sample_rate.unwrap_or(0);
    let mut sample_buf: Option<SampleBuffer<f32>> = None;
    let mut bad_in_a_row = 0usize;
    let mut hit_io_error = false;
    loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            // End of stream is reported as an unexpected EOF by every symphonia reader.
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymError::IoError(_)) => {
                hit_io_error = true;
                break;
            }
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(AudioError::Corrupt(describe(&e))),
        };
        if packet.track_id() != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(decoded) => {
                bad_in_a_row = 0;
                let spec = *decoded.spec();
                sample_rate = spec.rate;
                let n_ch = spec.channels.count().max(1);
                if channels.is_empty() {
                    channels = vec![Vec::new(); n_ch];
                }
                let buf = match &mut sample_buf {
                    Some(b) if b.capacity() >= decoded.capacity() * n_ch => b,
                    slot => slot.insert(SampleBuffer::new(decoded.capacity() as u64, spec)),
                };
                buf.copy_interleaved_ref(decoded);
                for frame in buf.samples().chunks_exact(n_ch) {
                    for (ch, &s) in channels.iter_mut().zip(frame) {
                        ch.push(s);
                    }
                }
            }
            Err(SymError::DecodeError(msg)) => {
                bad_in_a_row += 1;
                if bad_in_a_row >= MAX_CONSECUTIVE_DECODE_ERRORS {
                    return Err(AudioError::Corrupt(msg.to_string()));
                }
            }
            Err(SymError::IoError(_)) => {
                hit_io_error = true;
                break;
            }
            Err(e) => return Err(AudioError::Corrupt(describe(&e))),
        }
    }

    let found = channels.first().map_or(0, |c| c.len() as u64);
    if let Some(declared) = declared_frames {
        // A header that promises more than the file holds means the file was cut short. A few
        // frames of slack absorb codec priming/padding differences.
        let slack = (declared / 1000).max(2048);
        if found + slack < declared {
            return Err(AudioError::Truncated { declared, found });
        }
    } else if hit_io_error && found == 0 {
        return Err(AudioError::Corrupt("read error before any audio".into()));
    }
    if found == 0 {
        return Err(AudioError::NoSamples);
    }
    if !(1000..=384_000).contains(&sample_rate) {
        return Err(AudioError::SampleRate(sample_rate));
    }
    Ok(DecodedAudio {
        sample_rate,
        channels,
    })
}

fn describe(e: &SymError) -> String {
    match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "file ends before its header is complete".into()
        }
        SymError::Unsupported(what) => format!("unsupported {what}"),
        other => other.to_string(),
    }
}

//! Decoding audio files with symphonia: WAV (PCM 8–32 bit, float, µ-law, A-law), FLAC, MP3,
//! Ogg Vorbis, MP4/M4A AAC, at any sample rate, mono or multi-channel.
//!
//! Memory is bounded by the input: a file never decodes to more than
//! [`MAX_SAMPLES_PER_BYTE`] samples (all channels together) per byte of file, so the decoded
//! `f32` samples take at most 4 KiB per byte of file, whatever the file claims.

use std::fs::File;
use std::io::Cursor;
use std::panic::AssertUnwindSafe;
use std::path::Path;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSource, MediaSourceStream};
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

/// Decoded samples (all channels together) a file may hold per byte of its size. Real
/// recordings stay far below it (speech codecs give tens of samples per byte, digital silence
/// in FLAC or Vorbis a few hundred); a crafted file of constant FLAC frames would otherwise
/// expand about 20,000-fold (a 1 MB file to 80 GB of samples). A file past it is refused as
/// [`AudioError::Inflated`] before the samples are kept.
pub const MAX_SAMPLES_PER_BYTE: u64 = 1024;

/// Decodes a whole file into memory. Errors name what is wrong; the caller adds the path.
pub fn decode_file(path: &Path) -> Result<DecodedAudio, AudioError> {
    let file = File::open(path).map_err(AudioError::Open)?;
    let len = file.metadata().map_err(AudioError::Open)?.len();
    let extension = path.extension().and_then(|e| e.to_str());
    decode_source(Box::new(file), len, extension)
}

/// Decodes a file held in memory, as [`decode_file`] does one on disk; `extension` is the
/// file name's (a hint for formats without a signature, such as MP3).
pub fn decode_bytes(bytes: Vec<u8>, extension: Option<&str>) -> Result<DecodedAudio, AudioError> {
    let len = bytes.len() as u64;
    decode_source(Box::new(Cursor::new(bytes)), len, extension)
}

/// Decodes `source`, turning a panic inside symphonia into the file's error: it panics on some
/// crafted files (0.5.5: an ADTS stream shorter than four bytes past its header makes it step
/// by 0), and one bad file must fail alone, not end the batch.
fn decode_source(
    source: Box<dyn MediaSource>,
    len: u64,
    extension: Option<&str>,
) -> Result<DecodedAudio, AudioError> {
    // Nothing outlives a panic: the source and every symphonia object are dropped with it.
    std::panic::catch_unwind(AssertUnwindSafe(|| decode_stream(source, len, extension)))
        .unwrap_or_else(|_| {
            Err(AudioError::Corrupt(
                "the decoder failed on this file".into(),
            ))
        })
}

fn decode_stream(
    source: Box<dyn MediaSource>,
    len: u64,
    extension: Option<&str>,
) -> Result<DecodedAudio, AudioError> {
    if len == 0 {
        return Err(AudioError::EmptyFile);
    }
    let max_samples = len.saturating_mul(MAX_SAMPLES_PER_BYTE);
    let mss = MediaSourceStream::new(source, Default::default());
    let mut hint = Hint::new();
    if let Some(ext) = extension {
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
    let mut kept = 0u64;
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
                kept += decoded.frames() as u64 * channels.len().min(n_ch) as u64;
                if kept > max_samples {
                    return Err(AudioError::Inflated);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn crc8(bytes: &[u8]) -> u8 {
        bytes.iter().fold(0u8, |mut crc, &b| {
            crc ^= b;
            for _ in 0..8 {
                crc = if crc & 0x80 != 0 {
                    (crc << 1) ^ 0x07
                } else {
                    crc << 1
                };
            }
            crc
        })
    }

    fn crc16(bytes: &[u8]) -> u16 {
        bytes.iter().fold(0u16, |mut crc, &b| {
            crc ^= u16::from(b) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x8005
                } else {
                    crc << 1
                };
            }
            crc
        })
    }

    /// A FLAC file of `frames` frames of 65,535 samples × 8 channels, each channel one
    /// constant subframe: 26 bytes a frame for 524,280 samples.
    fn constant_flac(frames: u8) -> Vec<u8> {
        let mut f = b"fLaC".to_vec();
        f.extend([0x80, 0, 0, 34]); // the last metadata block: STREAMINFO, 34 bytes
        f.extend([0xFF, 0xFF, 0xFF, 0xFF]); // block sizes: 65535
        f.extend([0; 6]); // frame sizes unknown
        // 8000 Hz (20 bits), 8 channels (3 bits: 7), 8 bits (5 bits: 7), total unknown (36 bits)
        let packed: u64 = (8000 << 44) | (7 << 41) | (7 << 36);
        f.extend(packed.to_be_bytes());
        f.extend([0; 16]); // MD5 unknown
        for n in 0..frames {
            // sync, fixed blocking; block size from the header's 16 bits, 8 kHz; 8 independent
            // channels of 8 bits; frame number n (< 128: one byte); block size - 1
            let mut frame = vec![0xFF, 0xF8, 0x74, 0x72, n, 0xFF, 0xFE];
            frame.push(crc8(&frame));
            for _ in 0..8 {
                frame.extend([0x00, 0x00]); // CONSTANT subframe of value 0
            }
            let crc = crc16(&frame);
            frame.extend(crc.to_be_bytes());
            f.extend(frame);
        }
        f
    }

    #[test]
    fn a_file_that_makes_symphonia_panic_is_a_corrupt_file() {
        // found by the decode_file fuzz target: ADTS sync words and too few bytes after them
        let adts = vec![
            0x7F, 0xF1, 0x66, 0x4C, 0x03, 0x49, 0x44, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
            0x55, 0x5D, 0x02, 0xFF, 0xF1, 0x66, 0x4C, 0x03, 0x49, 0x44, 0x55, 0x55, 0x55, 0x55,
            0x55, 0x55, 0x55, 0x55, 0x5D, 0x55, 0x43, 0x00, 0x00,
        ];
        assert!(matches!(
            decode_bytes(adts, Some("flac")),
            Err(AudioError::Corrupt(_))
        ));
    }

    #[test]
    fn a_file_expanding_past_the_bound_is_refused_before_its_samples_are_kept() {
        // 1 KiB that would decode to 21 million samples (84 MB of f32)
        let bomb = constant_flac(40);
        assert!(bomb.len() < 1100, "{} bytes", bomb.len());
        assert!(matches!(
            decode_bytes(bomb, Some("flac")),
            Err(AudioError::Inflated)
        ));
    }
}

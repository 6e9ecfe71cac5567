//! A recording as the tracks callscribe transcribes: decoded, mixed to one track or split one
//! per channel (channel 0 the caller, channel 1 the agent), resampled to 16 kHz, each with its
//! speaker label. Audio stays in memory.

use std::path::Path;

use super::{AudioError, decode_file, mix_to_mono, resample_to_16k};

/// How to treat multi-channel recordings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChannelMode {
    /// Average all channels into one track (speaker "unknown").
    Mix,
    /// One track per channel: channel 0 is the caller, channel 1 the agent.
    Split,
}

/// Speaker label of channel `ch` of `n` in split mode.
pub fn speaker_of_channel(ch: usize, n: usize, mode: ChannelMode) -> String {
    match (mode, n, ch) {
        (ChannelMode::Mix, _, _) | (_, 1, _) => "unknown".into(),
        (ChannelMode::Split, _, 0) => "caller".into(),
        (ChannelMode::Split, _, 1) => "agent".into(),
        (ChannelMode::Split, _, c) => format!("channel{c}"),
    }
}

/// A decoded file: its tracks at 16 kHz, one speaker label per track, and its duration.
#[derive(Debug)]
pub struct LoadedTracks {
    pub tracks: Vec<Vec<f32>>,
    pub speakers: Vec<String>,
    /// Seconds of audio in the file.
    pub audio_s: f64,
}

/// Decodes a file into 16 kHz tracks with their speaker labels.
pub fn load_tracks(path: &Path, mode: ChannelMode) -> Result<LoadedTracks, AudioError> {
    let decoded = decode_file(path)?;
    let duration = decoded.duration_s();
    let n = decoded.channels.len();
    let channels = match mode {
        ChannelMode::Mix => vec![mix_to_mono(&decoded.channels)],
        ChannelMode::Split => decoded.channels,
    };
    let speakers = (0..channels.len())
        .map(|c| speaker_of_channel(c, n, mode))
        .collect();
    let tracks = channels
        .iter()
        .map(|c| resample_to_16k(c, decoded.sample_rate))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(LoadedTracks {
        tracks,
        speakers,
        audio_s: duration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speakers_follow_the_channel_mode() {
        assert_eq!(speaker_of_channel(0, 2, ChannelMode::Split), "caller");
        assert_eq!(speaker_of_channel(1, 2, ChannelMode::Split), "agent");
        assert_eq!(speaker_of_channel(0, 1, ChannelMode::Split), "unknown");
        assert_eq!(speaker_of_channel(1, 2, ChannelMode::Mix), "unknown");
    }
}

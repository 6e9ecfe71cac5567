//! Live ingest: one adapter per telephony protocol, each turning the provider's WebSocket
//! messages into the same events (a call start with its tracks and audio format, media frames
//! per track, stop), and the per-track reorder buffer that puts frames back in order, drops
//! duplicates and fills real gaps with silence.
//!
//! Adapters are pure (bytes in, events out) so every protocol and every bad input is tested
//! without a socket. The server (`api/`) owns the sockets; `live/` owns what happens next.

pub mod jitter;
pub mod protocols;
pub mod signature;

use std::fmt;

pub use crate::audio::Codec;
use crate::secret::SecretString;
pub use jitter::{JitterBuffer, Released};
pub use protocols::{Protocol, adapter_for};

/// The audio format of a call's media frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaFormat {
    pub codec: Codec,
    pub sample_rate: u32,
    /// Interleaved channels in each frame (the native protocol's stereo); 1 otherwise.
    pub channels: u16,
}

/// One track of a call as the provider names it, and the speaker label callscribe gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSpec {
    pub name: String,
    /// `caller`, `agent`, or `unknown` (a mixed stream), or the native client's own label.
    pub speaker: String,
}

/// What a `start` message says about the call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallStart {
    /// The provider's call id (Twilio callSid, Telnyx call_control_id, …).
    pub external_id: String,
    pub tracks: Vec<TrackSpec>,
    pub format: MediaFormat,
    /// An ingest key carried inside the stream (Twilio cannot send headers); `Debug` shows
    /// `"<redacted>"`, never the key.
    pub token: Option<SecretString>,
    /// The client asked for the call's transcript events on this socket
    /// (`customParameters.transcripts = "on"`; always on for the native protocol).
    pub echo: bool,
}

/// One frame of media for one track.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaFrame {
    /// Index into [`CallStart::tracks`].
    pub track: usize,
    /// Where the frame starts, in ms from the start of the stream, when the provider says so.
    pub timestamp_ms: Option<u64>,
    /// The provider's per-track chunk counter (from 1), when it sends one.
    pub chunk: Option<u64>,
    pub payload: Vec<u8>,
}

/// What an adapter makes of one message.
#[derive(Debug, Clone, PartialEq)]
pub enum IngestEvent {
    Start(CallStart),
    Media(MediaFrame),
    /// A keypad digit was pressed; the digit itself is never kept (it may be a card PIN).
    Dtmf,
    Mark,
    Stop,
    /// A known message that carries nothing for transcription (`connected`, …).
    Ignored,
}

/// A protocol violation: closes the connection with this WebSocket close code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    pub code: u16,
    pub reason: String,
}

/// WebSocket close codes used by the ingest endpoints (RFC 6455 §7.4.1).
pub mod close {
    /// Normal end of the call.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// A message of a kind the protocol does not allow (binary on a JSON protocol, …).
    pub const UNSUPPORTED: u16 = 1003;
    /// A message that is not what the protocol says (bad JSON, bad base64, wrong sizes, …).
    pub const INVALID: u16 = 1007;
    /// Authentication failed, or the order of messages is wrong.
    pub const POLICY: u16 = 1008;
    /// A message larger than the limit.
    pub const TOO_BIG: u16 = 1009;
    /// Something failed inside the server (store unreachable …).
    pub const INTERNAL: u16 = 1011;
    /// Past capacity: the call is refused; try again later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// No message within the idle timeout (application code).
    pub const IDLE: u16 = 4008;

    /// Longest close reason in bytes: a close frame is a control frame of at most 125 bytes,
    /// two of them the code (RFC 6455 §5.5); peers fail the connection on a longer one.
    pub const MAX_REASON_BYTES: usize = 123;

    /// `reason` cut to fit a close frame, at a character boundary.
    pub fn fit_reason(reason: &str) -> String {
        let mut end = reason.len().min(MAX_REASON_BYTES);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason[..end].to_string()
    }
}

impl ProtocolError {
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self {
            code: close::INVALID,
            reason: reason.into(),
        }
    }
    pub fn unsupported(reason: impl Into<String>) -> Self {
        Self {
            code: close::UNSUPPORTED,
            reason: reason.into(),
        }
    }
    pub fn policy(reason: impl Into<String>) -> Self {
        Self {
            code: close::POLICY,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (close code {})", self.reason, self.code)
    }
}

impl std::error::Error for ProtocolError {}

/// Turns one provider's messages into [`IngestEvent`]s. An adapter keeps the little state its
/// protocol needs (the start it saw, the format of binary frames).
pub trait Adapter: Send {
    fn on_text(&mut self, text: &str) -> Result<IngestEvent, ProtocolError>;
    fn on_binary(&mut self, data: &[u8]) -> Result<IngestEvent, ProtocolError>;
    /// Further events produced by the last message (the other channels of a stereo frame).
    fn next_pending(&mut self) -> Option<IngestEvent> {
        None
    }
    /// Whether the server sends the call's transcript events back on this socket.
    fn echoes_transcript(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::close;

    #[test]
    fn close_reasons_are_cut_to_fit_a_close_frame_at_a_character_boundary() {
        // 200 bytes of two-byte characters: 120 characters would be 240 bytes, over the frame
        let long = "é".repeat(100);
        let cut = close::fit_reason(&long);
        assert_eq!(cut.len(), 122, "61 whole characters");
        assert!(long.starts_with(&cut));
        assert_eq!(close::fit_reason("unknown event"), "unknown event");
        assert_eq!(
            close::fit_reason(&"x".repeat(300)).len(),
            close::MAX_REASON_BYTES
        );
    }
}

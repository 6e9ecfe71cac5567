//! The telephony encodings a live stream's media frames arrive in, and decoding each to f32
//! samples. Never stores or logs audio.

/// Telephony audio encodings (what ingest adapters accept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Mulaw,
    Alaw,
    /// 16-bit signed PCM, little-endian.
    L16Le,
    /// 16-bit signed PCM, big-endian (RTP's L16, as Telnyx sends it).
    L16Be,
}

impl Codec {
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Codec::Mulaw | Codec::Alaw => 1,
            Codec::L16Le | Codec::L16Be => 2,
        }
    }

    /// Decodes `bytes` to f32 samples in [-1, 1), appending to `out`.
    pub fn decode(self, bytes: &[u8], out: &mut Vec<f32>) {
        match self {
            Codec::Mulaw => super::g711::decode_mulaw(bytes, out),
            Codec::Alaw => super::g711::decode_alaw(bytes, out),
            Codec::L16Le => super::g711::decode_l16_le(bytes, out),
            Codec::L16Be => super::g711::decode_l16_be(bytes, out),
        }
    }
}

//! G.711 µ-law and A-law expansion (ITU-T G.711) and 16-bit linear PCM, the codecs telephony
//! streams carry. Lookup tables are built at compile time, so decoding is one load per sample.

/// µ-law byte → linear sample in [-1, 1).
pub static MULAW_TO_F32: [f32; 256] = build_mulaw();
/// A-law byte → linear sample in [-1, 1).
pub static ALAW_TO_F32: [f32; 256] = build_alaw();

const fn mulaw_to_i16(byte: u8) -> i16 {
    let u = !byte;
    let sign = u & 0x80;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_to_i16(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let sign = a & 0x80;
    let exponent = ((a >> 4) & 0x07) as i32;
    let mantissa = (a & 0x0F) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if sign != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn build_mulaw() -> [f32; 256] {
    let mut t = [0.0f32; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = mulaw_to_i16(i as u8) as f32 / 32768.0;
        i += 1;
    }
    t
}

const fn build_alaw() -> [f32; 256] {
    let mut t = [0.0f32; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = alaw_to_i16(i as u8) as f32 / 32768.0;
        i += 1;
    }
    t
}

/// Expands µ-law bytes, appending to `out` (no allocation when `out` has capacity).
pub fn decode_mulaw(bytes: &[u8], out: &mut Vec<f32>) {
    out.extend(bytes.iter().map(|&b| MULAW_TO_F32[b as usize]));
}

/// Expands A-law bytes, appending to `out`.
pub fn decode_alaw(bytes: &[u8], out: &mut Vec<f32>) {
    out.extend(bytes.iter().map(|&b| ALAW_TO_F32[b as usize]));
}

/// Decodes 16-bit little-endian PCM, appending to `out`. A trailing odd byte is ignored.
pub fn decode_l16_le(bytes: &[u8], out: &mut Vec<f32>) {
    out.extend(
        bytes
            .chunks_exact(2)
            .map(|p| i16::from_le_bytes([p[0], p[1]]) as f32 / 32768.0),
    );
}

/// Decodes 16-bit big-endian PCM (network order, as RTP L16 and Vonage send it).
pub fn decode_l16_be(bytes: &[u8], out: &mut Vec<f32>) {
    out.extend(
        bytes
            .chunks_exact(2)
            .map(|p| i16::from_be_bytes([p[0], p[1]]) as f32 / 32768.0),
    );
}

/// Compresses a linear sample to µ-law (used by tests, the load generator and fixtures).
pub fn encode_mulaw(sample: f32) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut pcm = (sample.clamp(-1.0, 1.0) * 32767.0) as i32;
    let sign = if pcm < 0 {
        pcm = -pcm;
        0x80
    } else {
        0
    };
    pcm = pcm.min(CLIP) + BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && pcm & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (pcm >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// Compresses a linear sample to A-law.
pub fn encode_alaw(sample: f32) -> u8 {
    let mut pcm = (sample.clamp(-1.0, 1.0) * 32767.0) as i32;
    let sign = if pcm >= 0 { 0x80 } else { 0 };
    if pcm < 0 {
        pcm = -pcm - 1;
    }
    pcm = pcm.min(32767);
    let byte = if pcm < 256 {
        (pcm >> 4) as u8
    } else {
        let mut exponent = 1;
        let mut v = pcm >> 8;
        while v > 1 {
            v >>= 1;
            exponent += 1;
        }
        ((exponent << 4) | ((pcm >> (exponent + 3)) & 0x0F)) as u8
    };
    (byte | sign) ^ 0x55
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mulaw_known_values() {
        // 0xFF and 0x7F are the two zeros of µ-law; 0x00 / 0x80 the extremes.
        assert_eq!(mulaw_to_i16(0xFF), 0);
        assert_eq!(mulaw_to_i16(0x7F), 0);
        assert_eq!(mulaw_to_i16(0x00), -32124);
        assert_eq!(mulaw_to_i16(0x80), 32124);
    }

    #[test]
    fn alaw_known_values() {
        assert_eq!(alaw_to_i16(0xD5), 8);
        assert_eq!(alaw_to_i16(0x55), -8);
        assert_eq!(alaw_to_i16(0xAA), 32256);
        assert_eq!(alaw_to_i16(0x2A), -32256);
    }

    #[test]
    fn round_trips_stay_within_quantisation_error() {
        for i in -100..=100 {
            let x = i as f32 / 101.0;
            let m = MULAW_TO_F32[encode_mulaw(x) as usize];
            let a = ALAW_TO_F32[encode_alaw(x) as usize];
            // Logarithmic companding: error grows with amplitude, ~3% of the value at most.
            let tol = 0.002 + x.abs() * 0.04;
            assert!((m - x).abs() < tol, "mulaw {x} -> {m}");
            assert!((a - x).abs() < tol, "alaw {x} -> {a}");
        }
    }

    #[test]
    fn l16_endianness() {
        let mut le = Vec::new();
        decode_l16_le(&[0x00, 0x40, 0x00, 0xC0, 0x7F], &mut le);
        assert_eq!(le, vec![0.5, -0.5]);
        let mut be = Vec::new();
        decode_l16_be(&[0x40, 0x00, 0xC0, 0x00], &mut be);
        assert_eq!(be, vec![0.5, -0.5]);
    }
}

//! Writes whisper.cpp's legacy ggml model file, the format `convert-pt-to-ggml.py` writes
//! and `whisper_model_load()` reads. All values are little endian:
//! ```text
//! u32 magic 0x67676d6c
//! i32 × 11 hparams (see plan::Hparams)
//! i32 n_mels, i32 n_fft (201), f32 filters[n_mels · n_fft]
//! i32 n_tokens, n × { u32 len, bytes }
//! tensors: { i32 n_dims, i32 name_len, i32 ttype (0 f32, 1 f16, 8 q8_0), i32 ne[n_dims]
//!            (numpy shape reversed), name, data }
//! q8_0 data: per row, blocks of 32 weights as { f16 d, i8 q[32] } with w ≈ d·q,
//! d = max|w| / 127 (ggml's `quantize_row_q8_0_ref`).
//! ```

use std::io::{self, Write};

use super::ct2::Dtype;
use super::mel::N_FREQ;
use super::plan::{OutType, Plan, Q8_0_BLOCK, Tensor};

const MAGIC: u32 = 0x6767_6d6c;

/// Writes the whole file to `w` and returns its size in bytes.
pub(super) fn write<W: Write>(
    w: &mut W,
    plan: &Plan<'_>,
    filters: &[f32],
    tokens: &[Vec<u8>],
) -> io::Result<u64> {
    let mut w = Counting { inner: w, bytes: 0 };
    let hp = &plan.hparams;

    w.write_all(&MAGIC.to_le_bytes())?;
    for v in [
        hp.n_vocab,
        hp.n_audio_ctx,
        hp.n_audio_state,
        hp.n_audio_head,
        hp.n_audio_layer,
        hp.n_text_ctx,
        hp.n_text_state,
        hp.n_text_head,
        hp.n_text_layer,
        hp.n_mels,
        hp.ftype,
    ] {
        w.write_all(&v.to_le_bytes())?;
    }

    w.write_all(&hp.n_mels.to_le_bytes())?;
    w.write_all(&(N_FREQ as u32).to_le_bytes())?;
    for f in filters {
        w.write_all(&f.to_le_bytes())?;
    }

    // Lengths fit: the plan checked the counts, and a token is one line of a small file.
    w.write_all(&(tokens.len() as u32).to_le_bytes())?;
    for t in tokens {
        w.write_all(&(t.len() as u32).to_le_bytes())?;
        w.write_all(t)?;
    }

    let mut buf = Vec::new();
    for t in &plan.tensors {
        w.write_all(&(t.shape.len() as u32).to_le_bytes())?;
        w.write_all(&(t.name.len() as u32).to_le_bytes())?;
        w.write_all(&t.out.ggml_type().to_le_bytes())?;
        for &d in t.shape.iter().rev() {
            w.write_all(&(d as u32).to_le_bytes())?;
        }
        w.write_all(t.name.as_bytes())?;
        convert(t, &mut buf);
        w.write_all(&buf)?;
    }
    w.flush()?;
    Ok(w.bytes)
}

/// The tensor's data in its output type. An f16 source written as f16 is copied bit for
/// bit; everything else goes through f32 (exact for f16/bf16, `q / scale` for integers)
/// and is rounded to nearest-even if the output is f16, or quantised in blocks for q8_0.
fn convert(t: &Tensor<'_>, out: &mut Vec<u8>) {
    let src = t.source;
    let row_len = t.row_len();
    let elems = t.rows.start * row_len..t.rows.end * row_len;
    out.clear();
    if t.out == OutType::F16 && src.dtype == Dtype::F16 {
        out.extend_from_slice(&src.data[elems.start * 2..elems.end * 2]);
        return;
    }
    let value = |i: usize| {
        let x = src.get_f32(i);
        match t.scale {
            Some(scale) => x / scale.get_f32(if scale.numel() == 1 { 0 } else { i / row_len }),
            None => x,
        }
    };
    match t.out {
        OutType::F32 => {
            out.reserve(elems.len() * 4);
            for i in elems {
                out.extend_from_slice(&value(i).to_le_bytes());
            }
        }
        OutType::F16 => {
            out.reserve(elems.len() * 2);
            for i in elems {
                out.extend_from_slice(&half::f16::from_f32(value(i)).to_le_bytes());
            }
        }
        OutType::Q8_0 => {
            // The plan checked that the output rows (the last dimension) hold whole blocks.
            let mut block = [0f32; Q8_0_BLOCK];
            out.reserve(elems.len() / Q8_0_BLOCK * (2 + Q8_0_BLOCK));
            for start in elems.step_by(Q8_0_BLOCK) {
                for (k, b) in block.iter_mut().enumerate() {
                    *b = value(start + k);
                }
                quantize_q8_0(&block, out);
            }
        }
    }
}

/// One q8_0 block, exactly as ggml's reference quantiser makes it (round half away from zero).
pub(super) fn quantize_q8_0(block: &[f32; Q8_0_BLOCK], out: &mut Vec<u8>) {
    let amax = block.iter().fold(0f32, |m, x| m.max(x.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
    out.extend(block.iter().map(|x| ((x * id).round() as i8) as u8));
}

/// Counts what passes through, for the report.
struct Counting<'w, W: Write> {
    inner: &'w mut W,
    bytes: u64,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

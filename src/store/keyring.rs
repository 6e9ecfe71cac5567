//! The master keys: read from `CALLSCRIBE_MASTER_KEY` or a key file (mode 0600), never from
//! or into the database. Several versions can be present at once while a rotation re-wraps the
//! tenant keys; the highest registered version seals new wraps.
//!
//! Format (variable and file alike): entries `VERSION:BASE64` separated by commas, spaces or
//! newlines; a bare `BASE64` is version 1; `#` starts a comment in a file. Each key is 32
//! bytes of standard base64.
//!
//! Key material — the variable's text, a key file's text, decoded bytes, entries written out —
//! lives only in zeroising buffers. The binary takes the variable out of its environment at
//! start ([`take_master_key_env`]), so a child process or `/proc/PID/environ` never shows it.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::crypto::SecretKey;

/// The environment variable that holds master keys (it wins over the key file).
pub const MASTER_KEY_ENV: &str = "CALLSCRIBE_MASTER_KEY";

/// [`MASTER_KEY_ENV`] as [`take_master_key_env`] took it out of the environment.
static TAKEN_FROM_ENV: OnceLock<Option<Zeroizing<String>>> = OnceLock::new();

/// Takes [`MASTER_KEY_ENV`] out of this process's environment: keeps its value (for
/// [`master_key_from_env`]), overwrites the value's bytes where the environment holds them (for
/// an inherited variable that is the block `/proc/PID/environ` shows, which removing alone
/// leaves untouched), then removes the variable, so child processes do not inherit it either.
///
/// # Safety
///
/// Nothing may read or change the environment concurrently: call it at the start of `main`,
/// before any thread of the program is started (see `main.rs`).
pub unsafe fn take_master_key_env() {
    let value = read_master_key_env();
    let prefix = format!("{MASTER_KEY_ENV}=");
    // SAFETY: the caller guarantees no concurrent access to the environment. `environ` is a
    // null-terminated array of pointers to NUL-terminated, writable strings (the block the
    // kernel put on the stack at exec, or copies made by setenv); the length is measured
    // before anything is written, and only the bytes after `NAME=` are overwritten.
    unsafe {
        let mut entry = libc::environ;
        while !entry.is_null() && !(*entry).is_null() {
            let text = *entry;
            let len = libc::strlen(text);
            let starts = len >= prefix.len()
                && std::slice::from_raw_parts(text.cast::<u8>(), prefix.len()) == prefix.as_bytes();
            if starts {
                std::ptr::write_bytes(text.add(prefix.len()), 0, len - prefix.len());
            }
            entry = entry.add(1);
        }
        std::env::remove_var(MASTER_KEY_ENV);
    }
    let _ = TAKEN_FROM_ENV.set(value);
}

/// The value of [`MASTER_KEY_ENV`]: the one taken out of the environment at start, or else
/// (a library user that did not take it) read from the environment now. Unset, empty or not
/// UTF-8: `None`.
pub fn master_key_from_env() -> Option<Zeroizing<String>> {
    match TAKEN_FROM_ENV.get() {
        Some(taken) => taken.clone(),
        None => read_master_key_env(),
    }
}

fn read_master_key_env() -> Option<Zeroizing<String>> {
    use std::os::unix::ffi::OsStringExt;
    let bytes = Zeroizing::new(std::env::var_os(MASTER_KEY_ENV)?.into_vec());
    std::str::from_utf8(&bytes)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .map(|s| Zeroizing::new(s.to_string()))
}

/// Where the master keys came from (named in every error about them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The `CALLSCRIBE_MASTER_KEY` environment variable.
    Env,
    /// A key file.
    File(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Env => f.write_str("CALLSCRIBE_MASTER_KEY"),
            KeySource::File(p) => write!(f, "master key file {}", p.display()),
        }
    }
}

/// Problems with the master keys, written for the operator.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "{source_name}: entry {entry} is not a valid master key: {why} (expected VERSION:BASE64 of 32 bytes)"
    )]
    Malformed {
        source_name: String,
        entry: usize,
        why: String,
    },
    #[error("{0}: no master key in it")]
    Empty(String),
    #[error("{0}: version {1} appears twice")]
    Duplicate(String, u32),
    #[error(
        "master key file {path} is readable by group or others (mode {mode:o}); run: chmod 600 {path}"
    )]
    Permissions { path: String, mode: u32 },
    #[error("cannot read master key file {path}: {err}")]
    Read { path: String, err: std::io::Error },
    #[error("cannot write master key file {path}: {err}")]
    Write { path: String, err: std::io::Error },
    #[error(
        "no master key: set CALLSCRIBE_MASTER_KEY (base64 of 32 random bytes, e.g. from `callscribe keys generate`) or provide {0}"
    )]
    Missing(String),
}

/// The master key versions available to this process.
pub struct MasterKeyring {
    keys: BTreeMap<u32, SecretKey>,
    source: KeySource,
}

impl std::fmt::Debug for MasterKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKeyring")
            .field("versions", &self.versions())
            .field("source", &self.source)
            .finish()
    }
}

impl MasterKeyring {
    /// Parses keys in the format described in the module docs.
    pub fn parse(text: &str, source: KeySource) -> Result<MasterKeyring, KeyError> {
        let name = source.to_string();
        let mut keys = BTreeMap::new();
        let cleaned: String = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let cleaned = Zeroizing::new(cleaned);
        for (i, entry) in cleaned
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let (version, b64) = match entry.split_once(':') {
                Some((v, k)) => {
                    let v = v
                        .trim_start_matches(['v', 'V'])
                        .parse::<u32>()
                        .ok()
                        .filter(|v| *v > 0)
                        .ok_or_else(|| KeyError::Malformed {
                            source_name: name.clone(),
                            entry: i + 1,
                            why: "the version is not a positive number".into(),
                        })?;
                    (v, k)
                }
                None => (1, entry),
            };
            let mut bytes =
                Zeroizing::new(STANDARD.decode(b64).map_err(|_| KeyError::Malformed {
                    source_name: name.clone(),
                    entry: i + 1,
                    why: "not base64".into(),
                })?);
            let len = bytes.len();
            let key = SecretKey::from_bytes(&mut bytes).ok_or_else(|| KeyError::Malformed {
                source_name: name.clone(),
                entry: i + 1,
                why: format!("{len} bytes, not 32"),
            })?;
            if keys.insert(version, key).is_some() {
                return Err(KeyError::Duplicate(name, version));
            }
        }
        if keys.is_empty() {
            return Err(KeyError::Empty(name));
        }
        Ok(MasterKeyring { keys, source })
    }

    /// Loads the keys: `env` (the variable's value) wins; else the key file, which must be
    /// mode 0600. `Ok(None)` when neither exists.
    pub fn load(
        env: Option<Zeroizing<String>>,
        key_file: &Path,
    ) -> Result<Option<MasterKeyring>, KeyError> {
        if let Some(text) = env {
            return MasterKeyring::parse(&text, KeySource::Env).map(Some);
        }
        let meta = match std::fs::metadata(key_file) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => {
                return Err(KeyError::Read {
                    path: key_file.display().to_string(),
                    err,
                });
            }
        };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Permissions {
                path: key_file.display().to_string(),
                mode,
            });
        }
        let text =
            Zeroizing::new(
                std::fs::read_to_string(key_file).map_err(|err| KeyError::Read {
                    path: key_file.display().to_string(),
                    err,
                })?,
            );
        MasterKeyring::parse(&text, KeySource::File(key_file.to_path_buf())).map(Some)
    }

    /// Generates version 1 into a new key file created with mode 0600 (never overwriting one).
    pub fn generate_file(key_file: &Path) -> Result<MasterKeyring, KeyError> {
        let key = SecretKey::generate();
        write_new(key_file, &format_entry(1, &key))?;
        let mut keys = BTreeMap::new();
        keys.insert(1, key);
        Ok(MasterKeyring {
            keys,
            source: KeySource::File(key_file.to_path_buf()),
        })
    }

    /// Adds a freshly generated version after the highest one and, for a key file, rewrites
    /// the file (0600, via a temporary file and rename) with every version. Keys from the
    /// environment cannot be extended: the operator adds the new version to the variable.
    pub fn generate_next(&mut self) -> Result<u32, KeyError> {
        let KeySource::File(path) = &self.source else {
            return Err(KeyError::Missing(
                "a new version in CALLSCRIBE_MASTER_KEY (VERSION:BASE64 entries; keys come from the environment, so callscribe cannot add one itself)".into(),
            ));
        };
        let version = self.keys.keys().next_back().copied().unwrap_or(0) + 1;
        let key = SecretKey::generate();
        let header = "# callscribe master keys (VERSION:BASE64). Back this file up; without it nothing stored can be read.\n";
        // sized up front: a growing buffer would leave copies of the keys behind in freed memory
        let mut text = Zeroizing::new(String::with_capacity(
            header.len() + ENTRY_CAPACITY * (self.keys.len() + 1),
        ));
        text.push_str(header);
        for (v, k) in &self.keys {
            text.push_str(&format_entry(*v, k));
        }
        text.push_str(&format_entry(version, &key));
        let tmp = path.with_extension("key.new");
        let _ = std::fs::remove_file(&tmp);
        write_new(&tmp, &text)?;
        std::fs::rename(&tmp, path).map_err(|err| KeyError::Write {
            path: path.display().to_string(),
            err,
        })?;
        self.keys.insert(version, key);
        Ok(version)
    }

    pub fn get(&self, version: u32) -> Option<&SecretKey> {
        self.keys.get(&version)
    }

    pub fn versions(&self) -> Vec<u32> {
        self.keys.keys().copied().collect()
    }

    pub fn source(&self) -> &KeySource {
        &self.source
    }
}

/// The fingerprint recorded in the database for a master key version: an HMAC under the key,
/// which identifies it without revealing anything about it.
pub fn fingerprint(key: &SecretKey) -> [u8; 32] {
    key.mac(&[b"callscribe master key fingerprint v1"])
}

/// A new random key as one `1:BASE64` entry (for `callscribe keys generate`).
pub fn generate_entry(version: u32) -> Zeroizing<String> {
    let mut entry = format_entry(version, &SecretKey::generate());
    entry.pop(); // the newline
    entry
}

/// Room for one entry: a `u32` version, `:`, 44 characters of base64 and a newline.
const ENTRY_CAPACITY: usize = 10 + 1 + 44 + 1;

/// `VERSION:BASE64\n`, built in one zeroising buffer that never grows (no stray copies).
fn format_entry(version: u32, key: &SecretKey) -> Zeroizing<String> {
    let mut entry = Zeroizing::new(String::with_capacity(ENTRY_CAPACITY));
    entry.push_str(&version.to_string());
    entry.push(':');
    STANDARD.encode_string(key.expose(), &mut entry);
    entry.push('\n');
    debug_assert!(entry.len() <= ENTRY_CAPACITY);
    entry
}

fn write_new(path: &Path, text: &str) -> Result<(), KeyError> {
    let err = |err| KeyError::Write {
        path: path.display().to_string(),
        err,
    };
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions_and_rejects_bad_entries() {
        let k = STANDARD.encode([7u8; 32]);
        let ring = MasterKeyring::parse(&k, KeySource::Env).unwrap();
        assert_eq!(ring.versions(), vec![1]);
        let ring =
            MasterKeyring::parse(&format!("2:{k}, 1:{k}\n# comment\n"), KeySource::Env).unwrap();
        assert_eq!(ring.versions(), vec![1, 2]);
        let entry = generate_entry(4_000_000_000);
        assert!(entry.starts_with("4000000000:") && !entry.ends_with('\n'));
        let ring = MasterKeyring::parse(&entry, KeySource::Env).unwrap();
        assert_eq!(ring.versions(), vec![4_000_000_000]);
        for (text, needle) in [
            ("", "no master key"),
            ("1:notbase64!", "not base64"),
            (&*format!("0:{k}"), "positive"),
            (&*format!("1:{}", STANDARD.encode([1u8; 16])), "16 bytes"),
            (&*format!("1:{k} 1:{k}"), "twice"),
        ] {
            let e = MasterKeyring::parse(text, KeySource::Env)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains(needle) && e.contains("CALLSCRIBE_MASTER_KEY"),
                "{text:?}: {e}"
            );
            assert!(!e.contains(&k), "errors never echo key material");
        }
    }

    #[test]
    fn key_files_are_0600_and_extended_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        assert!(MasterKeyring::load(None, &path).unwrap().is_none());
        let ring = MasterKeyring::generate_file(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            MasterKeyring::generate_file(&path).is_err(),
            "never overwrites a key file"
        );
        let fp1 = fingerprint(ring.get(1).unwrap());
        let mut loaded = MasterKeyring::load(None, &path).unwrap().unwrap();
        assert_eq!(fingerprint(loaded.get(1).unwrap()), fp1);
        assert_eq!(loaded.generate_next().unwrap(), 2);
        let reloaded = MasterKeyring::load(None, &path).unwrap().unwrap();
        assert_eq!(reloaded.versions(), vec![1, 2]);
        assert_eq!(fingerprint(reloaded.get(1).unwrap()), fp1);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = MasterKeyring::load(None, &path).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }
}

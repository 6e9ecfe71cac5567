//! The master keys: read from `CALLSCRIBE_MASTER_KEY` or a key file (mode 0600), never from
//! or into the database. Several versions can be present at once while a rotation re-wraps the
//! tenant keys; the highest registered version seals new wraps.
//!
//! Format (variable and file alike): entries `VERSION:BASE64` separated by commas, spaces or
//! newlines; a bare `BASE64` is version 1; `#` starts a comment in a file. Each key is 32
//! bytes of standard base64.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use super::crypto::SecretKey;

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
        let mut text = Zeroizing::new(String::from(
            "# callscribe master keys (VERSION:BASE64). Back this file up; without it nothing stored can be read.\n",
        ));
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
    Zeroizing::new(
        format_entry(version, &SecretKey::generate())
            .trim_end()
            .to_string(),
    )
}

fn format_entry(version: u32, key: &SecretKey) -> String {
    format!("{version}:{}\n", STANDARD.encode(key.expose()))
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

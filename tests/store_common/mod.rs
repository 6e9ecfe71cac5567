//! Test databases for the store suites: a SQLite file in a temporary directory, or a fresh
//! PostgreSQL database per test (created on 127.0.0.1:5432, or `CALLSCRIBE_TEST_POSTGRES`,
//! and dropped afterwards). PostgreSQL tests fail when the server is unreachable unless
//! `CALLSCRIBE_SKIP_POSTGRES=1` is set.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use callscribe::store::{Backend, StoreConfig};
use callscribe::transcript::TranscriptSegment;
use sqlx::Connection;
use zeroize::Zeroizing;

pub fn pg_base() -> String {
    std::env::var("CALLSCRIBE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn skip_postgres() -> bool {
    std::env::var("CALLSCRIBE_SKIP_POSTGRES").is_ok_and(|v| v == "1")
}

/// One test's database.
pub struct TestDb {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    /// PostgreSQL database name.
    pub pg_name: Option<String>,
}

pub fn random_key() -> String {
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).unwrap();
    base64::engine::general_purpose::STANDARD.encode(k)
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let pg_name = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let name = format!("callscribe_test_{}", &callscribe::sys::random_id("")[..16]);
                sqlx::any::install_default_drivers();
                let mut conn = sqlx::AnyConnection::connect(&format!("{}/postgres", pg_base())).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL at {} is unreachable ({e}); start it, or set CALLSCRIBE_SKIP_POSTGRES=1 to skip the PostgreSQL tests",
                        pg_base()
                    )
                });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
                Some(name)
            }
        };
        TestDb {
            backend,
            dir,
            pg_name,
        }
    }

    pub fn url(&self) -> Option<String> {
        self.pg_name.as_ref().map(|n| format!("{}/{n}", pg_base()))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A copy of the database as a backup holds it (the store must be closed): the SQLite
    /// file, or a PostgreSQL database made from it as a template. Returns its URL.
    pub async fn backup(&self) -> String {
        match &self.pg_name {
            None => {
                let path = self.dir.path().join("backup.db");
                std::fs::copy(self.data_dir().join("callscribe.db"), &path).unwrap();
                format!("sqlite://{}", path.display())
            }
            Some(name) => {
                sqlx::any::install_default_drivers();
                let mut conn = sqlx::AnyConnection::connect(&format!("{}/postgres", pg_base()))
                    .await
                    .unwrap();
                // the closed pool's sessions may take a moment to leave the server
                let mut tries = 0;
                while let Err(e) =
                    sqlx::query(&format!("CREATE DATABASE {name}_bak TEMPLATE {name}"))
                        .execute(&mut conn)
                        .await
                {
                    tries += 1;
                    assert!(tries < 50, "cannot copy the database: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                conn.close().await.unwrap();
                format!("{}/{name}_bak", pg_base())
            }
        }
    }

    /// Deletes the key vault (the store must be closed).
    pub async fn drop_vault(&self) {
        match &self.pg_name {
            None => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let _ = std::fs::remove_file(
                        self.data_dir().join(format!("callscribe.keys.db{suffix}")),
                    );
                }
            }
            Some(name) => {
                let mut conn = sqlx::AnyConnection::connect(&format!("{}/postgres", pg_base()))
                    .await
                    .unwrap();
                sqlx::query(&format!("DROP DATABASE {name}_keys WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.unwrap();
            }
        }
    }

    /// A configuration with an explicit master key value (tests never touch the process
    /// environment: they run in parallel).
    pub fn config(&self, master_key: &str) -> StoreConfig {
        StoreConfig {
            database_url: self.url(),
            data_dir: self.data_dir(),
            master_key: Some(Zeroizing::new(master_key.to_string())),
            master_key_file: None,
            key_vault_url: None,
            settings: Default::default(),
        }
    }

    /// The key vault's location (the default beside the database).
    pub fn vault_url(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!(
                "sqlite://{}",
                self.data_dir().join("callscribe.keys.db").display()
            ),
            Backend::Postgres => format!("{}_keys", self.url().unwrap()),
        }
    }

    /// A connection with the owner's rights (not the application role): what an attacker
    /// or a careless administrator with database access has.
    pub async fn owner(&self) -> sqlx::AnyConnection {
        let url = match self.backend {
            Backend::Sqlite => format!(
                "sqlite://{}",
                self.data_dir().join("callscribe.db").display()
            ),
            Backend::Postgres => self.url().unwrap(),
        };
        Self::connect_owner(&url, self.backend).await
    }

    /// The same on the key vault.
    pub async fn vault_owner(&self) -> sqlx::AnyConnection {
        Self::connect_owner(&self.vault_url(), self.backend).await
    }

    pub async fn connect_owner(url: &str, backend: Backend) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
        if backend == Backend::Sqlite {
            sqlx::query("PRAGMA busy_timeout = 30000")
                .execute(&mut c)
                .await
                .unwrap();
        }
        c
    }

    /// Everything an attacker holding the database gets, as bytes: the SQLite file and its
    /// journal files, or a `pg_dump` of the database.
    pub fn raw_bytes(&self) -> Vec<u8> {
        self.raw_bytes_of("callscribe.db", self.url())
    }

    /// The same for the key vault.
    pub fn vault_raw_bytes(&self) -> Vec<u8> {
        self.raw_bytes_of(
            "callscribe.keys.db",
            self.pg_name.as_ref().map(|_| self.vault_url()),
        )
    }

    fn raw_bytes_of(&self, file: &str, url: Option<String>) -> Vec<u8> {
        match self.backend {
            Backend::Sqlite => {
                let mut all = Vec::new();
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let p = self.data_dir().join(format!("{file}{suffix}"));
                    if let Ok(b) = std::fs::read(&p) {
                        all.extend(b);
                    }
                }
                assert!(!all.is_empty(), "no database file");
                all
            }
            Backend::Postgres => {
                let out = Command::new("pg_dump")
                    .args(["--dbname", &url.unwrap(), "--data-only", "--inserts"])
                    .output()
                    .expect("pg_dump (postgresql-client) is needed by the PostgreSQL tests");
                assert!(
                    out.status.success(),
                    "pg_dump: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let dump = String::from_utf8_lossy(&out.stdout);
                assert!(
                    dump.contains("INSERT INTO public.tenants")
                        || dump.contains("INSERT INTO public.vault_info"),
                    "the dump holds the data"
                );
                out.stdout
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            let _ = Command::new("psql")
                .args([
                    "--dbname",
                    &format!("{}/postgres", pg_base()),
                    "-q",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .output();
            for db in [
                format!("{name}_keys"),
                format!("{name}_bak"),
                format!("{name}_bak_keys"),
            ] {
                let _ = Command::new("psql")
                    .args([
                        "--dbname",
                        &format!("{}/postgres", pg_base()),
                        "-q",
                        "-c",
                        &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
                    ])
                    .output();
            }
        }
    }
}

/// Whether `needle` occurs in `haystack` as bytes or hex-encoded (as a dump shows BYTEA).
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let hex: String = needle.iter().map(|b| format!("{b:02x}")).collect();
    haystack.windows(needle.len()).any(|w| w == needle)
        || haystack
            .windows(hex.len())
            .any(|w| w.eq_ignore_ascii_case(hex.as_bytes()))
}

/// Known words for plaintext searches: none of them occurs by chance in binary data.
pub const KNOWN: [&str; 4] = ["periwinkle", "xylophone", "marmalade", "Zanzibar"];

pub fn segment(speaker: &str, start: f32, text: &str) -> TranscriptSegment {
    let words = text
        .split(' ')
        .enumerate()
        .map(|(i, w)| callscribe::asr::Word {
            word: if i == 0 {
                w.to_string()
            } else {
                format!(" {w}")
            },
            start: start + i as f32 * 0.3,
            end: start + i as f32 * 0.3 + 0.25,
            p: 0.9,
        })
        .collect();
    TranscriptSegment {
        start,
        end: start + 2.0,
        speaker: speaker.into(),
        text: text.into(),
        words,
        redactions: vec![],
        policy_version: 1,
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

pub fn sqlite_file(dir: &Path) -> PathBuf {
    dir.join("callscribe.db")
}

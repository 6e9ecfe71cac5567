//! Sealed storage: tenants, API keys, calls and their redacted segments, retention and the
//! audit trail, in SQLite (the embedded default) or PostgreSQL through sqlx.
//!
//! Only redacted text reaches this module, and it never writes any text in the clear: every
//! segment, word list and provider call id is sealed with AES-256-GCM under the call's data key
//! ([`crypto`]), which is sealed under the tenant's key-encryption key, which is sealed under a
//! master key that lives outside the database ([`keyring`]). The data keys themselves live in
//! the key vault, a database of their own (`vault.rs`), so that a deleted call's key exists in
//! no copy of the main database. Every repository method takes the
//! tenant and scopes its queries by it; on PostgreSQL row-level security enforces the same
//! scoping in the database (see `docs/ARCHITECTURE.md`).

pub mod audit;
pub mod crypto;
pub mod keyring;

mod apikeys;
mod calls;
mod db;
mod keys;
mod nodes;
mod reprocess;
mod retention;
mod sessions;
mod sql;
mod tenants;
mod vault;

use std::path::{Path, PathBuf};

pub use apikeys::{ApiKeyInfo, AuthError, NewApiKey, Principal, Role, public_key_id};
pub use audit::{Actor, AuditBreak, AuditEvent, AuditReport, TenantAuditBreak, TenantAuditReport};
pub use calls::{
    CallInfo, CallPage, CallQuery, CallState, CallStatus, ExportedCall, NewCall, NewSegment,
    TenantExport,
};
pub use keys::RotationReport;
pub use nodes::InterruptedCall;
pub use reprocess::{ReprocessFailure, ReprocessReport};
pub use retention::{PurgeReport, run_periodic_purge};
pub use sessions::{NewWebSession, SessionTimes, WebSession};
pub use sql::Backend;
pub(crate) use sql::redact_url;
pub use tenants::Tenant;

use crate::config::ConfigError;
use crypto::CryptoError;
use keyring::{KeyError, MasterKeyring};
use zeroize::Zeroizing;

/// Default retention of a new tenant's calls.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// Default lifetime of a new API key (or [`StoreSettings::max_key_ttl_days`] when lower).
pub const DEFAULT_KEY_TTL_DAYS: u32 = 90;
/// The largest value [`StoreSettings::max_key_ttl_days`] may take (ten years).
pub const KEY_TTL_DAYS_CEILING: u32 = 3650;

/// `[store]` in the config file: limits the store enforces for every caller, so the API and
/// the command line get the same answer. Validated at start-up by [`StoreSettings::validate`]
/// (and again by [`Store::open`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// The longest lifetime an API key may be created with, in days (1..=3650). A key that
    /// leaks stays usable until it expires or is revoked: a short ceiling bounds that.
    pub max_key_ttl_days: u32,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            max_key_ttl_days: DEFAULT_KEY_TTL_DAYS,
        }
    }
}

impl StoreSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=KEY_TTL_DAYS_CEILING).contains(&self.max_key_ttl_days) {
            return Err(ConfigError::new(format!(
                "[store] max_key_ttl_days must be between 1 and {KEY_TTL_DAYS_CEILING} days, not {}",
                self.max_key_ttl_days
            )));
        }
        Ok(())
    }
}

/// How to reach the database and the master keys. Validated by [`Store::open`].
#[derive(Clone)]
pub struct StoreConfig {
    /// `sqlite://PATH` or `postgres://…`; default: SQLite at `DATA_DIR/callscribe.db`.
    pub database_url: Option<String>,
    /// Holds the SQLite database and the generated master key file.
    pub data_dir: PathBuf,
    /// The value of `CALLSCRIBE_MASTER_KEY`, when set (wins over the key file).
    pub master_key: Option<Zeroizing<String>>,
    /// The master key file [default: `DATA_DIR/master.key`].
    pub master_key_file: Option<PathBuf>,
    /// The key vault holding the calls' data keys: `sqlite://PATH` or `postgres://…`;
    /// default: beside the main database (`callscribe.keys.db`, or the PostgreSQL database's
    /// name + `_keys`).
    pub key_vault_url: Option<String>,
    /// The `[store]` limits (key lifetimes).
    pub settings: StoreSettings,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field(
                "database_url",
                &self.database_url.as_deref().map(sql::redact_url),
            )
            .field("data_dir", &self.data_dir)
            .field("master_key", &self.master_key.as_ref().map(|_| "<set>"))
            .field("master_key_file", &self.master_key_file)
            .field(
                "key_vault_url",
                &self.key_vault_url.as_deref().map(sql::redact_url),
            )
            .field("settings", &self.settings)
            .finish()
    }
}

impl StoreConfig {
    /// A configuration for `data_dir` with everything else from the environment
    /// (`CALLSCRIBE_MASTER_KEY`, as [`keyring::master_key_from_env`] has it).
    pub fn new(data_dir: impl Into<PathBuf>, database_url: Option<String>) -> StoreConfig {
        StoreConfig {
            database_url,
            data_dir: data_dir.into(),
            master_key: keyring::master_key_from_env(),
            master_key_file: None,
            key_vault_url: None,
            settings: StoreSettings::default(),
        }
    }

    fn key_file(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }
}

/// Everything that can go wrong in the store, each naming what and where. Never contains
/// transcript text or key material.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error while {what}: {source}")]
    Database { what: String, source: sqlx::Error },
    #[error("cannot open the database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("invalid store configuration: {0}")]
    Config(String),
    #[error(transparent)]
    MasterKey(#[from] KeyError),
    #[error(
        "{source_name} version {version} is not the master key this database was sealed with (fingerprint mismatch); nothing was changed — use the right key"
    )]
    WrongMasterKey { source_name: String, version: u32 },
    #[error(
        "{what} is sealed under master key version {version}, which {source_name} does not contain; add that version back (VERSION:BASE64)"
    )]
    MasterKeyVersionMissing {
        what: String,
        version: u32,
        source_name: String,
    },
    #[error("cannot decrypt {what}: {source}")]
    Decrypt { what: String, source: CryptoError },
    #[error("{what} is corrupt: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("no tenant {0}")]
    TenantNotFound(String),
    #[error("a tenant named {0} already exists")]
    TenantExists(String),
    #[error("no call {call} in tenant {tenant}")]
    CallNotFound { call: String, tenant: String },
    #[error("{call} matches {} calls in tenant {tenant}: {}; use callscribe's call id", candidates.len(), candidates.join(", "))]
    AmbiguousCall {
        call: String,
        tenant: String,
        candidates: Vec<String>,
    },
    #[error("call {call} (tenant {tenant}) has been deleted: its data key is destroyed")]
    CallShredded { call: String, tenant: String },
    #[error("no API key {key} in tenant {tenant}")]
    ApiKeyNotFound { key: String, tenant: String },
    #[error("segment {seq} of call {call} is already stored")]
    DuplicateSegment { call: String, seq: u64 },
    #[error("invalid input: {0}")]
    Invalid(String),
}

impl StoreError {
    fn db(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> StoreError {
        let what = what.into();
        move |source| StoreError::Database { what, source }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The store: the main database, the key vault and the master keys.
pub struct Store {
    db: db::Db,
    vault: vault::Vault,
    keys: MasterKeyring,
    generated_key: Option<PathBuf>,
    /// Failed key checks waiting to be audited in aggregate (see `apikeys.rs`).
    failed_auths: apikeys::FailedAuths,
    /// Successful key checks waiting to be audited in aggregate.
    used_keys: apikeys::UsedKeys,
    settings: StoreSettings,
    /// The node this store serves as (`serve` registers it; recorded on every call created).
    node: std::sync::OnceLock<String>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.db.backend)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database, applies migrations, and checks the master keys
    /// against the fingerprints recorded in the database. On the embedded default with no key
    /// anywhere and an empty database, a master key file is generated (see
    /// [`Store::generated_master_key`]).
    pub async fn open(config: &StoreConfig) -> Result<Store> {
        config
            .settings
            .validate()
            .map_err(|e| StoreError::Config(e.to_string()))?;
        sqlx::any::install_default_drivers();
        let (url, backend, sqlite_path) = sql::resolve(config)?;
        let vault = vault::Vault::open(config, backend, &url, sqlite_path.as_deref()).await?;
        let (db, before) = db::Db::connect(config, &vault).await?;
        let key_file = config.key_file();
        let registered = db.registered_master_keys().await?;
        let mut generated_key = None;
        let keys = match MasterKeyring::load(config.master_key.clone(), &key_file)? {
            Some(k) => k,
            None if db.backend == Backend::Sqlite && registered.is_empty() => {
                if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
                    sql::create_private_dir(dir)?;
                }
                generated_key = Some(key_file.clone());
                MasterKeyring::generate_file(&key_file)?
            }
            None => {
                return Err(
                    KeyError::Missing(format!("the key file {}", key_file.display())).into(),
                );
            }
        };
        let store = Store {
            db,
            vault,
            keys,
            generated_key,
            failed_auths: apikeys::FailedAuths::default(),
            used_keys: apikeys::UsedKeys::default(),
            settings: config.settings.clone(),
            node: std::sync::OnceLock::new(),
        };
        store.check_master_keys(&registered).await?;
        store.pair_vault(before).await?;
        Ok(store)
    }

    /// Binds a new key vault to this database, or checks that the vault is this database's.
    /// A database that already had a vault and holds tenants is refused a new, empty one:
    /// every call would read as deleted (the vault was lost, or is looked for elsewhere).
    async fn pair_vault(&self, before: i64) -> Result<()> {
        if before >= 3 && !self.vault.is_paired().await? && !self.list_tenants().await?.is_empty() {
            return Err(StoreError::Config(format!(
                "the key vault {} is new, but this database's calls have their keys in a vault made earlier; \
                 restore that vault from its backup or point --key-vault-url at it (nothing was changed)",
                self.vault.location()
            )));
        }
        let registered = self.db.registered_master_keys().await?;
        let (_, first) = registered
            .first()
            .ok_or_else(|| StoreError::Config("no master key is registered".into()))?;
        self.vault.pair(first).await
    }

    /// Where the key vault is (password removed).
    pub fn key_vault(&self) -> &str {
        self.vault.location()
    }

    /// The key file generated by [`Store::open`], if it made one: the operator must back it up.
    pub fn generated_master_key(&self) -> Option<&Path> {
        self.generated_key.as_deref()
    }

    pub fn backend(&self) -> Backend {
        self.db.backend
    }

    /// The SQLite database file, for the embedded default.
    pub fn sqlite_path(&self) -> Option<&Path> {
        self.db.sqlite_path.as_deref()
    }

    /// Closes the pools (and, on SQLite, checkpoints the write-ahead logs into the files).
    pub async fn close(self) {
        self.db.close().await;
        self.vault.close().await
    }

    /// Verifies every available key version whose fingerprint is recorded; registers the
    /// keys on a new database. A key that does not match fails before anything is read or
    /// written.
    async fn check_master_keys(&self, registered: &[(u32, Vec<u8>)]) -> Result<()> {
        for (version, fp) in registered {
            if let Some(key) = self.keys.get(*version) {
                let ours = keyring::fingerprint(key);
                if !bool::from(subtle::ConstantTimeEq::ct_eq(&ours[..], &fp[..])) {
                    return Err(StoreError::WrongMasterKey {
                        source_name: self.keys.source().to_string(),
                        version: *version,
                    });
                }
            }
        }
        if registered.is_empty() {
            for v in self.keys.versions() {
                self.db
                    .register_master_key(
                        v,
                        &keyring::fingerprint(self.keys.get(v).expect("listed version")),
                    )
                    .await?;
            }
        } else if !registered.iter().any(|(v, _)| self.keys.get(*v).is_some()) {
            let versions: Vec<String> = registered.iter().map(|(v, _)| v.to_string()).collect();
            return Err(StoreError::Config(format!(
                "{} holds none of this database's master key versions ({}); use the right key",
                self.keys.source(),
                versions.join(", ")
            )));
        }
        Ok(())
    }

    /// The master key version that seals new wraps: the highest version that is both
    /// registered in the database and available.
    async fn current_master(&self) -> Result<(u32, &crypto::SecretKey)> {
        let registered = self.db.registered_master_keys().await?;
        registered
            .iter()
            .rev()
            .find_map(|(v, _)| self.keys.get(*v).map(|k| (*v, k)))
            .ok_or_else(|| {
                StoreError::Config(format!(
                    "{} holds no registered master key version",
                    self.keys.source()
                ))
            })
    }

    fn master(&self, version: u32, what: impl FnOnce() -> String) -> Result<&crypto::SecretKey> {
        self.keys
            .get(version)
            .ok_or_else(|| StoreError::MasterKeyVersionMissing {
                what: what(),
                version,
                source_name: self.keys.source().to_string(),
            })
    }
}

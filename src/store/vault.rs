//! The key vault: the calls' data keys, in a database of their own.
//!
//! A call's data key (sealed by its tenant's key-encryption key) is the one secret without
//! which its segments cannot be opened. Kept beside the segments, it would survive in every
//! copy of the main database — a nightly backup, a replica, a stolen file — and deleting the
//! call would only delete the live copy. Kept here instead, deleting the call destroys the one
//! copy callscribe has, and any copy of the main database taken before the deletion is useless
//! for that call (tested: `tests/store.rs`, `a_backup_taken_before_a_deletion_cannot_open_the_call`).
//!
//! Where: SQLite `DATA_DIR/callscribe.keys.db` by default (beside a `sqlite://PATH` database:
//! `PATH` with `.keys.db`), or the main PostgreSQL database's name + `_keys` on the same server
//! (created on first start when the user may); `--key-vault-url` puts it anywhere else.
//! The vault records which store it belongs to (the fingerprint of the store's first master
//! key version) and refuses to serve another.
//!
//! Like the main database: SQLite with WAL, `synchronous=FULL`, `secure_delete`, and a WAL
//! checkpoint after every destruction; PostgreSQL as the application role under row-level
//! security per tenant. Every statement here is its own short transaction and never waits on
//! the main database, so it cannot deadlock with it.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use sqlx::any::AnyConnectOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Connection, Row};

use super::sql::{
    Backend, Tx, checkpoint, create_private_dir, open_pool, parse_url, private_file, redact_url,
    set_tenant, sqlite_at,
};
use super::{Result, StoreConfig, StoreError};

/// A data key as the vault holds it.
pub(crate) struct VaultKey {
    pub call: String,
    pub kek_version: u32,
    pub wrapped: Vec<u8>,
}

pub(crate) struct Vault {
    pool: AnyPool,
    backend: Backend,
    /// Where it is, for messages (passwords removed).
    location: String,
}

fn migrator(backend: Backend) -> Migrator {
    let (sql, desc) = match backend {
        Backend::Sqlite => (
            include_str!("../../migrations/sqlite/vault/0001_call_keys.sql"),
            "key vault (sqlite)",
        ),
        Backend::Postgres => (
            include_str!("../../migrations/postgres/vault/0001_call_keys.sql"),
            "key vault (postgres)",
        ),
    };
    let migrations = vec![Migration::new(
        1,
        Cow::Borrowed(desc),
        MigrationType::Simple,
        Cow::Borrowed(sql),
        false,
    )];
    Migrator {
        migrations: Cow::Owned(migrations),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
}

/// The vault's default place beside a SQLite database file: `x/callscribe.db` →
/// `x/callscribe.keys.db`.
pub(crate) fn sqlite_vault_path(main: &Path) -> PathBuf {
    let stem = main
        .file_stem()
        .map_or_else(|| "callscribe".into(), |s| s.to_string_lossy().into_owned());
    main.with_file_name(format!("{stem}.keys.db"))
}

/// The default vault database beside a PostgreSQL URL: the same server and options, the
/// database name + `_keys`. Returns (URL, database name).
pub(crate) fn postgres_vault_url(main: &str) -> Result<(String, String)> {
    let scheme_end = main.find("://").map(|i| i + 3).unwrap_or(0);
    let (base, query) = match main.find('?') {
        Some(q) => (&main[..q], &main[q..]),
        None => (main, ""),
    };
    let name = base[scheme_end..]
        .split_once('/')
        .map(|(_, db)| db)
        .unwrap_or("");
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::Config(format!(
            "cannot derive the key vault's database from {} (it needs a database name of letters, digits and _); set --key-vault-url",
            redact_url(main)
        )));
    }
    let vault = format!("{name}_keys");
    Ok((
        format!("{}{vault}{query}", &base[..base.len() - name.len()]),
        vault,
    ))
}

impl Vault {
    /// Opens (creating if needed) the vault that belongs with the main database `main_url`
    /// (already resolved to a `sqlite://` or `postgres://` URL) and applies its migrations.
    pub async fn open(
        config: &StoreConfig,
        backend: Backend,
        main_url: &str,
        main_sqlite: Option<&Path>,
    ) -> Result<Vault> {
        let (url, vault_backend, sqlite_path) = match (&config.key_vault_url, backend) {
            (Some(u), _) => parse_url(u, "key vault")?,
            (None, Backend::Sqlite) => sqlite_at(sqlite_vault_path(
                main_sqlite.expect("a SQLite store has a path"),
            )),
            (None, Backend::Postgres) => {
                let (url, name) = postgres_vault_url(main_url)?;
                create_postgres_database(main_url, &name).await?;
                (url, Backend::Postgres, None)
            }
        };
        if let Some(dir) = sqlite_path
            .as_deref()
            .and_then(Path::parent)
            .filter(|d| !d.as_os_str().is_empty())
        {
            create_private_dir(dir)?;
        }
        if let Some(path) = &sqlite_path {
            private_file(path)?;
        }
        let location = sqlite_path
            .as_ref()
            .map_or_else(|| redact_url(&url), |p| p.display().to_string());
        let connect_err = |source| StoreError::Connect {
            url: format!("{location} (the key vault)"),
            source,
        };
        let options: AnyConnectOptions = url.parse().map_err(connect_err)?;
        if vault_backend == Backend::Postgres {
            let mut conn = sqlx::AnyConnection::connect_with(&options)
                .await
                .map_err(connect_err)?;
            migrator(vault_backend).run(&mut conn).await?;
            conn.close().await.map_err(StoreError::db(
                "closing the key vault's migration connection",
            ))?;
        }
        let pool = open_pool(options, vault_backend, 4)
            .await
            .map_err(connect_err)?;
        if vault_backend == Backend::Sqlite {
            migrator(vault_backend).run(&pool).await?;
        }
        if let Some(p) = &sqlite_path {
            restrict_file(p)?;
        }
        Ok(Vault {
            pool,
            backend: vault_backend,
            location,
        })
    }

    /// Where the vault is (password removed).
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Binds the vault to the store whose first master key has `fingerprint` (on first use),
    /// or checks that it is that store's vault.
    pub async fn pair(&self, fingerprint: &[u8]) -> Result<()> {
        let what = "pairing the key vault with the database";
        let row = sqlx::query("SELECT fingerprint FROM vault_info WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db(what))?;
        match row {
            Some(r) => {
                let theirs: Vec<u8> = r.get(0);
                if !bool::from(subtle::ConstantTimeEq::ct_eq(&theirs[..], fingerprint)) {
                    return Err(StoreError::Config(format!(
                        "the key vault {} belongs to another database (its master key fingerprint differs); point --key-vault-url at this database's vault",
                        self.location
                    )));
                }
            }
            None => {
                let inserted = sqlx::query(
                    "INSERT INTO vault_info (id, fingerprint, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
                )
                .bind(fingerprint.to_vec())
                .bind(crate::sys::now())
                .execute(&self.pool)
                .await
                .map_err(StoreError::db(what))?
                .rows_affected();
                if inserted == 0 {
                    // another node paired it at the same moment: check against theirs
                    return Box::pin(self.pair(fingerprint)).await;
                }
            }
        }
        Ok(())
    }

    /// Whether the vault has been paired with a store (a new vault beside a database that
    /// already had one means the vault was lost or misplaced).
    pub async fn is_paired(&self) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM vault_info WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::db("reading the key vault's pairing"))?
            .is_some())
    }

    async fn scoped(&self, tenant: &str) -> Result<Tx> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(StoreError::db("starting a key vault transaction"))?;
        set_tenant(&mut tx, self.backend, tenant).await?;
        Ok(tx)
    }

    /// Stores a new call's data key (an existing key for the call is an error).
    pub async fn put(&self, tenant: &str, key: &VaultKey) -> Result<()> {
        self.insert(tenant, key, "", "storing").await
    }

    /// Stores a key moved from the main database by an upgrade; a key already there is kept.
    pub async fn adopt(&self, tenant: &str, key: &VaultKey) -> Result<()> {
        self.insert(tenant, key, " ON CONFLICT (call_id) DO NOTHING", "moving")
            .await
    }

    async fn insert(
        &self,
        tenant: &str,
        key: &VaultKey,
        on_conflict: &str,
        doing: &str,
    ) -> Result<()> {
        let mut tx = self.scoped(tenant).await?;
        sqlx::query(&format!(
            "INSERT INTO call_keys (call_id, tenant_id, kek_version, wrapped, created_at) VALUES ($1, $2, $3, $4, $5){on_conflict}"
        ))
        .bind(&key.call)
        .bind(tenant)
        .bind(key.kek_version as i64)
        .bind(&key.wrapped)
        .bind(crate::sys::now())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db(format!("{doing} the data key of call {} in the key vault", key.call)))?;
        tx.commit().await.map_err(StoreError::db(format!(
            "{doing} a data key in the key vault"
        )))
    }

    /// The call's sealed data key and the tenant key version it is sealed by; `None` when it
    /// was destroyed (or never stored).
    pub async fn get(&self, tenant: &str, call: &str) -> Result<Option<VaultKey>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query(
            "SELECT kek_version, wrapped FROM call_keys WHERE call_id = $1 AND tenant_id = $2",
        )
        .bind(call)
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db(format!(
            "reading the data key of call {call} from the key vault"
        )))?;
        tx.commit()
            .await
            .map_err(StoreError::db("reading the key vault"))?;
        Ok(row.map(|r| VaultKey {
            call: call.to_string(),
            kek_version: r.get::<i64, _>(0) as u32,
            wrapped: r.get(1),
        }))
    }

    /// Destroys one call's data key; returns whether there was one.
    pub async fn destroy(&self, tenant: &str, call: &str) -> Result<bool> {
        let mut tx = self.scoped(tenant).await?;
        let n = sqlx::query("DELETE FROM call_keys WHERE call_id = $1 AND tenant_id = $2")
            .bind(call)
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(format!(
                "destroying the data key of call {call}"
            )))?
            .rows_affected();
        tx.commit()
            .await
            .map_err(StoreError::db("destroying a data key"))?;
        self.checkpoint().await;
        Ok(n > 0)
    }

    /// Destroys every data key of a tenant; returns how many.
    pub async fn destroy_tenant(&self, tenant: &str) -> Result<u64> {
        let mut tx = self.scoped(tenant).await?;
        let n = sqlx::query("DELETE FROM call_keys WHERE tenant_id = $1")
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db(format!(
                "destroying the data keys of tenant {tenant}"
            )))?
            .rows_affected();
        tx.commit()
            .await
            .map_err(StoreError::db("destroying a tenant's data keys"))?;
        self.checkpoint().await;
        Ok(n)
    }

    /// One of the tenant's keys sealed by a tenant key version below `version`.
    pub async fn next_below(&self, tenant: &str, version: u32) -> Result<Option<VaultKey>> {
        let mut tx = self.scoped(tenant).await?;
        let row = sqlx::query(
            "SELECT call_id, kek_version, wrapped FROM call_keys WHERE tenant_id = $1 AND kek_version < $2 ORDER BY call_id LIMIT 1",
        )
        .bind(tenant)
        .bind(version as i64)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("finding data keys to re-wrap"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("reading the key vault"))?;
        Ok(row.map(|r| VaultKey {
            call: r.get(0),
            kek_version: r.get::<i64, _>(1) as u32,
            wrapped: r.get(2),
        }))
    }

    /// Replaces a key sealed by `old_version` with `key` (sealed by `key.kek_version`); a key
    /// changed meanwhile is left alone. Returns whether it was replaced.
    pub async fn rewrap(&self, tenant: &str, old_version: u32, key: &VaultKey) -> Result<bool> {
        let mut tx = self.scoped(tenant).await?;
        let n = sqlx::query("UPDATE call_keys SET wrapped = $1, kek_version = $2 WHERE call_id = $3 AND tenant_id = $4 AND kek_version = $5")
            .bind(&key.wrapped)
            .bind(key.kek_version as i64)
            .bind(&key.call)
            .bind(tenant)
            .bind(old_version as i64)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("re-wrapping a data key"))?
            .rows_affected();
        tx.commit()
            .await
            .map_err(StoreError::db("re-wrapping a data key"))?;
        Ok(n > 0)
    }

    /// How many of the tenant's keys are sealed by a tenant key version below `version`.
    pub async fn count_below(&self, tenant: &str, version: u32) -> Result<u64> {
        let mut tx = self.scoped(tenant).await?;
        let n =
            sqlx::query("SELECT COUNT(*) FROM call_keys WHERE tenant_id = $1 AND kek_version < $2")
                .bind(tenant)
                .bind(version as i64)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::db("counting data keys to re-wrap"))?
                .get::<i64, _>(0);
        tx.commit()
            .await
            .map_err(StoreError::db("reading the key vault"))?;
        Ok(n as u64)
    }

    /// Checkpoints the SQLite write-ahead log, so destroyed keys do not linger in it.
    pub async fn checkpoint(&self) {
        checkpoint(&self.pool, self.backend, "key vault").await
    }

    pub async fn close(self) {
        self.checkpoint().await;
        self.pool.close().await;
    }
}

/// Creates the PostgreSQL database `name` on the server of `main_url` unless it exists.
async fn create_postgres_database(main_url: &str, name: &str) -> Result<()> {
    let shown = redact_url(main_url);
    let options: AnyConnectOptions = main_url.parse().map_err(|source| StoreError::Connect {
        url: shown.clone(),
        source,
    })?;
    let mut conn = sqlx::AnyConnection::connect_with(&options)
        .await
        .map_err(|source| StoreError::Connect {
            url: shown.clone(),
            source,
        })?;
    let exists = sqlx::query("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut conn)
        .await
        .map_err(StoreError::db("looking for the key vault's database"))?
        .is_some();
    if !exists
        && let Err(e) = sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
    {
        // 42P04: created by another node meanwhile
        let duplicate = e
            .as_database_error()
            .and_then(|d| d.code())
            .is_some_and(|c| c == "42P04" || c == "23505");
        if !duplicate {
            return Err(StoreError::Config(format!(
                "cannot create the key vault database {name} on {shown}: {e}; create it (CREATE DATABASE {name}) or set --key-vault-url"
            )));
        }
    }
    let _ = conn.close().await;
    Ok(())
}

/// The vault file is readable by its owner only (its directory already is).
fn restrict_file(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        StoreError::Config(format!(
            "cannot restrict the key vault file {}: {e}",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_places_sit_beside_the_main_database() {
        assert_eq!(
            sqlite_vault_path(Path::new("data/callscribe.db")),
            Path::new("data/callscribe.keys.db")
        );
        assert_eq!(
            sqlite_vault_path(Path::new("/x/store")),
            Path::new("/x/store.keys.db")
        );
        assert_eq!(
            postgres_vault_url("postgres://app:pw@db:5432/calls?sslmode=require").unwrap(),
            (
                "postgres://app:pw@db:5432/calls_keys?sslmode=require".to_string(),
                "calls_keys".to_string()
            )
        );
        assert_eq!(
            postgres_vault_url("postgres://db/c1").unwrap().0,
            "postgres://db/c1_keys"
        );
        for bad in [
            "postgres://db",
            "postgres://db/",
            "postgres://db/a-b",
            "postgres://db/x\"y",
        ] {
            let e = postgres_vault_url(bad).unwrap_err().to_string();
            assert!(e.contains("--key-vault-url"), "{bad}: {e}");
        }
    }
}

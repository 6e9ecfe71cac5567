//! SQL plumbing shared by the store's database (`db.rs`) and the key vault (`vault.rs`):
//! which backend a URL names, opening a pool with the store's connection settings, scoping a
//! transaction to a tenant, and the WAL checkpoint. Never sees keys or transcript text.

use std::path::PathBuf;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Connection, Transaction};

use super::{Result, StoreConfig, StoreError};

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A transaction; tenant-scoped ones carry the tenant for row-level security.
pub(crate) type Tx = Transaction<'static, Any>;

/// The URL with any password replaced, for messages.
pub(crate) fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s && url[s + 3..at].contains(':') => {
            let user = url[s + 3..at].split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Where the main database is: (URL for sqlx, backend, SQLite file).
pub(crate) fn resolve(config: &StoreConfig) -> Result<(String, Backend, Option<PathBuf>)> {
    match &config.database_url {
        Some(u) => parse_url(u, "database"),
        None => Ok(sqlite_at(config.data_dir.join("callscribe.db"))),
    }
}

/// A `sqlite://PATH` or `postgres://…` URL as (URL for sqlx, backend, SQLite file); `what`
/// names it in the error.
pub(crate) fn parse_url(u: &str, what: &str) -> Result<(String, Backend, Option<PathBuf>)> {
    if u.starts_with("postgres://") || u.starts_with("postgresql://") {
        return Ok((u.to_string(), Backend::Postgres, None));
    }
    if u.starts_with("sqlite:") {
        let path = u
            .trim_start_matches("sqlite://")
            .trim_start_matches("sqlite:");
        return Ok(sqlite_at(PathBuf::from(
            path.split('?').next().unwrap_or(path),
        )));
    }
    Err(StoreError::Config(format!(
        "unsupported {what} URL {}: use sqlite://PATH or postgres://USER@HOST/DB",
        redact_url(u)
    )))
}

/// The SQLite file at `path`, created if missing.
pub(crate) fn sqlite_at(path: PathBuf) -> (String, Backend, Option<PathBuf>) {
    (
        format!("sqlite://{}?mode=rwc", path.display()),
        Backend::Sqlite,
        Some(path),
    )
}

/// A pool whose connections are set up for the store: SQLite with WAL, `synchronous=FULL`,
/// foreign keys, `secure_delete` and a busy timeout; PostgreSQL as the application role.
pub(crate) async fn open_pool(
    options: AnyConnectOptions,
    backend: Backend,
    max_connections: u32,
) -> std::result::Result<AnyPool, sqlx::Error> {
    AnyPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        // A connection must come out of the pool outside any transaction. One can go back in
        // still inside one: when a write fails because the disk is full, SQLite may roll the
        // transaction back by itself, the ROLLBACK sqlx then sends fails, and sqlx keeps
        // counting the transaction as open, so every later BEGIN on that connection would
        // fail for good, even once the disk has room (tests/durability.rs found this). Such a
        // connection is closed and a fresh one opened instead.
        .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                let statements: &[&str] = match backend {
                    Backend::Sqlite => &[
                        "PRAGMA journal_mode = WAL",
                        "PRAGMA synchronous = FULL",
                        "PRAGMA foreign_keys = ON",
                        "PRAGMA secure_delete = ON",
                        "PRAGMA busy_timeout = 30000",
                    ],
                    Backend::Postgres => &["SET ROLE callscribe_app"],
                };
                for s in statements {
                    sqlx::query(s).execute(&mut *conn).await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await
}

/// Sets the tenant of a transaction for row-level security (PostgreSQL; no-op on SQLite).
pub(crate) async fn set_tenant(tx: &mut Tx, backend: Backend, tenant: &str) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(tenant)
            .execute(&mut **tx)
            .await
            .map_err(StoreError::db("setting the tenant of a transaction"))?;
    }
    Ok(())
}

/// Folds a SQLite write-ahead log into its file and truncates it, so pages holding deleted
/// rows do not linger in the log. No-op on PostgreSQL.
pub(crate) async fn checkpoint(pool: &AnyPool, backend: Backend, what: &str) {
    if backend == Backend::Sqlite
        && let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(pool)
            .await
    {
        tracing::warn!(error = %e, "{what} WAL checkpoint failed; it will happen on a later write");
    }
}

/// The data directory, created owner-only (0700) if missing.
pub(crate) fn create_private_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            StoreError::Config(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })
}

/// A SQLite file readable by its owner only (0600): created so if missing, tightened (with a
/// warning) if it is open to others. SQLite gives its `-wal` and `-shm` files the database
/// file's permissions, so they follow.
pub(crate) fn private_file(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let failed = |e: std::io::Error| {
        StoreError::Config(format!(
            "cannot make {} private (0600): {e}",
            path.display()
        ))
    };
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(failed)?;
        }
        Err(e) => return Err(failed(e)),
        Ok(m) if m.permissions().mode() & 0o077 != 0 => {
            tracing::warn!(
                file = %path.display(),
                "the database file was open to other users; made it 0600"
            );
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(failed)?;
        }
        Ok(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_appear_in_messages() {
        assert_eq!(
            super::redact_url("postgres://app:s3cret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            super::redact_url("sqlite://data/x.db"),
            "sqlite://data/x.db"
        );
        assert_eq!(
            super::redact_url("postgres://app@db/x"),
            "postgres://app@db/x"
        );
    }

    #[test]
    fn private_file_creates_and_tightens_to_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let new = dir.path().join("new.db");
        super::private_file(&new).unwrap();
        assert_eq!(mode(&new), 0o600);
        let open = dir.path().join("open.db");
        std::fs::write(&open, b"").unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
        super::private_file(&open).unwrap();
        assert_eq!(mode(&open), 0o600);
    }

    #[tokio::test]
    async fn the_database_its_wal_and_the_key_vault_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&crate::store::StoreConfig {
            master_key: None,
            ..crate::store::StoreConfig::new(dir.path(), None)
        })
        .await
        .unwrap();
        store
            .create_tenant(&crate::store::Actor::System("test"), "acme", None)
            .await
            .unwrap();
        let mut checked = 0;
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name.contains(".db") {
                let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{name}");
                checked += 1;
            }
        }
        assert!(
            checked >= 3,
            "the database, its WAL and the vault: {checked} files"
        );
    }
}

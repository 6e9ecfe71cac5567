//! The connection pool, migrations and transactions. One SQL dialect serves both backends
//! (numbered `$N` parameters, BIGINT/INTEGER, BYTEA/BLOB); the migrations differ.
//!
//! SQLite: WAL journal, `synchronous=FULL` (a commit is on disk when it returns),
//! `secure_delete` (deleted rows are overwritten, not left in free pages), every writing
//! transaction `BEGIN IMMEDIATE` (writers queue on the lock instead of failing on upgrade);
//! reads ([`Db::read`], [`Db::scoped_read`]) take no lock, so a long export or transcript read
//! never holds up a call's writes.
//! PostgreSQL: migrations run as the connecting user; the pool's connections then
//! `SET ROLE callscribe_app`, and a tenant-scoped transaction sets `app.tenant_id` for
//! row-level security.

use std::borrow::Cow;
use std::path::PathBuf;

use sqlx::any::AnyConnectOptions;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyConnection, AnyPool, Connection, Row};

use super::sql::{
    Backend, Tx, checkpoint, create_private_dir, open_pool, private_file, redact_url, resolve,
    set_tenant,
};
use super::vault::{Vault, VaultKey};
use super::{Result, StoreConfig, StoreError};

pub(crate) struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    pub sqlite_path: Option<PathBuf>,
}

fn migrator(backend: Backend) -> Migrator {
    let files: [(&'static str, &'static str); 4] = match backend {
        Backend::Sqlite => [
            (
                include_str!("../../migrations/sqlite/0001_sealed_storage.sql"),
                "sealed storage (sqlite)",
            ),
            (
                include_str!("../../migrations/sqlite/0002_web_sessions.sql"),
                "web sessions (sqlite)",
            ),
            (
                include_str!("../../migrations/sqlite/0003_keys_leave_the_database.sql"),
                "data keys to the key vault (sqlite)",
            ),
            (
                include_str!("../../migrations/sqlite/0004_call_ownership.sql"),
                "call ownership and node heartbeats (sqlite)",
            ),
        ],
        Backend::Postgres => [
            (
                include_str!("../../migrations/postgres/0001_sealed_storage.sql"),
                "sealed storage (postgres)",
            ),
            (
                include_str!("../../migrations/postgres/0002_web_sessions.sql"),
                "web sessions (postgres)",
            ),
            (
                include_str!("../../migrations/postgres/0003_keys_leave_the_database.sql"),
                "data keys to the key vault (postgres)",
            ),
            (
                include_str!("../../migrations/postgres/0004_call_ownership.sql"),
                "call ownership and node heartbeats (postgres)",
            ),
        ],
    };
    let migrations = files
        .into_iter()
        .zip(1..)
        .map(|((sql, desc), version)| {
            Migration::new(
                version,
                Cow::Borrowed(desc),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                false,
            )
        })
        .collect();
    Migrator {
        migrations: Cow::Owned(migrations),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
}

/// The highest migration applied to the database before this start (0: a new database).
async fn applied_version(conn: &mut AnyConnection, backend: Backend) -> Result<i64> {
    let what = "reading the applied migrations";
    let table = match backend {
        Backend::Sqlite => {
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
        }
    };
    if sqlx::query(table)
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::db(what))?
        .is_none()
    {
        return Ok(0);
    }
    Ok(
        sqlx::query("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await
            .map_err(StoreError::db(what))?
            .get::<i64, _>(0),
    )
}

/// Before migration 3 the calls' sealed data keys were a column of `calls`: they move to the
/// key vault (kept there if already moved by an interrupted earlier start), then migration 3
/// drops the column. Runs as the owner, which row-level security does not restrict.
async fn move_keys_to_vault(conn: &mut AnyConnection, vault: &Vault) -> Result<u64> {
    let first = sqlx::query("SELECT fingerprint FROM master_keys ORDER BY version LIMIT 1")
        .fetch_optional(&mut *conn)
        .await
        .map_err(StoreError::db("reading master key fingerprints"))?;
    if let Some(r) = first {
        vault.pair(&r.get::<Vec<u8>, _>(0)).await?;
    }
    let rows = sqlx::query(
        "SELECT id, tenant_id, kek_version, data_key FROM calls WHERE data_key IS NOT NULL",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(StoreError::db(
        "reading the data keys to move to the key vault",
    ))?;
    for r in &rows {
        let tenant: String = r.get(1);
        let key = VaultKey {
            call: r.get(0),
            kek_version: r.get::<i64, _>(2) as u32,
            wrapped: r.get(3),
        };
        vault.adopt(&tenant, &key).await?;
    }
    Ok(rows.len() as u64)
}

impl Db {
    /// Connects, moves data keys out of a database from before the key vault, and applies
    /// the migrations. Returns the migration level the database had before (0: new).
    pub async fn connect(config: &StoreConfig, vault: &Vault) -> Result<(Db, i64)> {
        sqlx::any::install_default_drivers();
        let (url, backend, sqlite_path) = resolve(config)?;
        if let Some(path) = &sqlite_path
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            create_private_dir(dir)?;
        }
        if let Some(path) = &sqlite_path {
            private_file(path)?;
        }
        let shown = redact_url(&url);
        let connect_err = |source| StoreError::Connect {
            url: shown.clone(),
            source,
        };
        let options: AnyConnectOptions = url.parse().map_err(connect_err)?;
        let mut before = 0;
        if backend == Backend::Postgres {
            // migrations as the connecting user (the owner), before the pool drops to the app role
            let mut conn = sqlx::AnyConnection::connect_with(&options)
                .await
                .map_err(connect_err)?;
            before = applied_version(&mut conn, backend).await?;
            if (1..3).contains(&before) {
                let n = move_keys_to_vault(&mut conn, vault).await?;
                tracing::info!(
                    keys = n,
                    vault = vault.location(),
                    "moved the calls' data keys to the key vault"
                );
            }
            migrator(backend).run(&mut conn).await?;
            conn.close()
                .await
                .map_err(StoreError::db("closing the migration connection"))?;
        }
        let pool = open_pool(
            options,
            backend,
            if backend == Backend::Sqlite { 4 } else { 8 },
        )
        .await
        .map_err(connect_err)?;
        if backend == Backend::Sqlite {
            let mut conn = pool
                .acquire()
                .await
                .map_err(StoreError::db("reading the applied migrations"))?;
            before = applied_version(&mut conn, backend).await?;
            if (1..3).contains(&before) {
                let n = move_keys_to_vault(&mut conn, vault).await?;
                tracing::info!(
                    keys = n,
                    vault = vault.location(),
                    "moved the calls' data keys to the key vault"
                );
            }
            drop(conn);
            migrator(backend).run(&pool).await?;
        }
        Ok((
            Db {
                pool,
                backend,
                sqlite_path,
            },
            before,
        ))
    }

    /// A transaction outside any tenant (tenants, master keys, the audit trail). On
    /// PostgreSQL tenant-owned rows are invisible in it.
    pub async fn global(&self) -> Result<Tx> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
        .map_err(StoreError::db("starting a transaction"))
    }

    /// A transaction scoped to `tenant`: on PostgreSQL, row-level security shows it only that
    /// tenant's rows (the setting ends with the transaction).
    pub async fn scoped(&self, tenant: &str) -> Result<Tx> {
        let mut tx = self.global().await?;
        set_tenant(&mut tx, self.backend, tenant).await?;
        Ok(tx)
    }

    /// A read-only transaction outside any tenant: one consistent snapshot of the database,
    /// taken without the write lock. It must never write: on SQLite a deferred transaction
    /// that tries to would fail when another writer committed since its snapshot (that is what
    /// `BEGIN IMMEDIATE` avoids for writers); on PostgreSQL it is `READ ONLY`.
    pub async fn read(&self) -> Result<Tx> {
        match self.backend {
            // WAL: a reader sees the snapshot of its first read and neither waits for writers
            // nor holds them up
            Backend::Sqlite => self.pool.begin_with("BEGIN DEFERRED").await,
            // one snapshot for the whole transaction, as on SQLite; a read-only transaction
            // never fails with a serialization error
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await
            }
        }
        .map_err(StoreError::db("starting a read transaction"))
    }

    /// [`Db::read`] scoped to `tenant` (row-level security, as [`Db::scoped`]).
    pub async fn scoped_read(&self, tenant: &str) -> Result<Tx> {
        let mut tx = self.read().await?;
        set_tenant(&mut tx, self.backend, tenant).await?;
        Ok(tx)
    }

    pub async fn registered_master_keys(&self) -> Result<Vec<(u32, Vec<u8>)>> {
        let rows = sqlx::query("SELECT version, fingerprint FROM master_keys ORDER BY version")
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::db("reading master key fingerprints"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<i64, _>(0) as u32, r.get::<Vec<u8>, _>(1)))
            .collect())
    }

    pub async fn register_master_key(&self, version: u32, fingerprint: &[u8; 32]) -> Result<()> {
        sqlx::query(
            "INSERT INTO master_keys (version, fingerprint, created_at) VALUES ($1, $2, $3)",
        )
        .bind(version as i64)
        .bind(fingerprint.to_vec())
        .bind(crate::sys::now())
        .execute(&self.pool)
        .await
        .map_err(StoreError::db("registering a master key version"))?;
        Ok(())
    }

    /// Checkpoints the SQLite write-ahead log (see [`super::sql::checkpoint`]).
    pub async fn checkpoint(&self) {
        checkpoint(&self.pool, self.backend, "database").await
    }

    pub async fn close(self) {
        self.checkpoint().await;
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::{Actor, Role, Store, StoreConfig};

    /// A bound on how long the other side may take, so a regression fails with a message
    /// instead of hanging (SQLite's busy timeout is 30 s); not a performance check.
    const LIVENESS: Duration = Duration::from_secs(10);

    /// On SQLite (WAL) a read transaction holds no lock writers wait for, and a pure read does
    /// not wait for a writer: a long export or transcript read cannot stall a call's writes.
    #[tokio::test]
    async fn sqlite_reads_and_writes_do_not_wait_for_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig {
            master_key: None,
            ..StoreConfig::new(dir.path(), None)
        })
        .await
        .unwrap();
        let op = Actor::System("test");
        let t = store.create_tenant(&op, "acme", None).await.unwrap().id;
        let count = "SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1";

        // a read transaction, held open after its first read (its snapshot is taken) …
        let mut read = store.db.scoped_read(&t).await.unwrap();
        let n: i64 = sqlx::query_scalar(count)
            .bind(&t)
            .fetch_one(&mut *read)
            .await
            .unwrap();
        assert_eq!(n, 0);
        // … does not stop a write transaction from committing
        tokio::time::timeout(LIVENESS, store.create_api_key(&op, &t, Role::Agent, None))
            .await
            .expect("a write waited for an open read transaction")
            .unwrap();
        let n: i64 = sqlx::query_scalar(count)
            .bind(&t)
            .fetch_one(&mut *read)
            .await
            .unwrap();
        assert_eq!(n, 0, "the read transaction keeps its snapshot");
        read.commit().await.unwrap();

        // a write transaction, held open after writing, does not stop a pure read
        let mut write = store.db.scoped(&t).await.unwrap();
        sqlx::query("UPDATE tenants SET retention_days = 7 WHERE id = $1")
            .bind(&t)
            .execute(&mut *write)
            .await
            .unwrap();
        let keys = tokio::time::timeout(LIVENESS, store.list_api_keys(&t))
            .await
            .expect("a read waited for an open write transaction")
            .unwrap();
        assert_eq!(
            keys.len(),
            1,
            "the committed key, read beside the open write"
        );
        write.commit().await.unwrap();
    }
}

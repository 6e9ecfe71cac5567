//! Tenants (workspaces) and their keys: a key-encryption key per version (sealed by a master
//! key) and an index key for keyed lookups of provider call ids. Deleting a tenant destroys
//! its keys, which makes everything it stored unreadable, and then its rows.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::audit::{self, Actor};
use super::crypto::{self, Aad, Purpose, SecretKey};
use super::sql::Tx;
use super::{DEFAULT_RETENTION_DAYS, Result, Store, StoreError};

/// A tenant as listed (no key material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    pub retention_days: u32,
    pub created_at: i64,
}

pub(crate) fn kek_aad(tenant: &str, kek_version: u32, master_version: u32) -> Aad<'_> {
    Aad {
        purpose: Purpose::TenantKek,
        tenant,
        call: "",
        seq: kek_version as u64,
        key_version: master_version,
    }
}

pub(crate) fn index_aad(tenant: &str, master_version: u32) -> Aad<'_> {
    Aad {
        purpose: Purpose::TenantIndexKey,
        tenant,
        call: "",
        seq: 0,
        key_version: master_version,
    }
}

fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 100 || name.chars().any(|c| c.is_control()) {
        return Err(StoreError::Invalid(format!(
            "tenant name {name:?} must be 1–100 printable characters"
        )));
    }
    Ok(())
}

impl Store {
    /// Creates a tenant with a fresh key-encryption key (version 1) and index key.
    pub async fn create_tenant(
        &self,
        actor: &Actor,
        name: &str,
        retention_days: Option<u32>,
    ) -> Result<Tenant> {
        validate_name(name)?;
        let retention_days = retention_days.unwrap_or(DEFAULT_RETENTION_DAYS);
        if retention_days == 0 {
            return Err(StoreError::Invalid(
                "retention must be at least 1 day".into(),
            ));
        }
        let (mv, master) = self.current_master().await?;
        let id = crate::sys::random_id("t_");
        let now = crate::sys::now();
        let kek = SecretKey::generate();
        let index = SecretKey::generate();
        // one transaction, scoped to the new tenant so its key row passes row-level security
        let mut tx = self.db.scoped(&id).await?;
        let exists = sqlx::query("SELECT 1 FROM tenants WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("checking tenant names"))?;
        if exists.is_some() {
            return Err(StoreError::TenantExists(name.to_string()));
        }
        sqlx::query(
            "INSERT INTO tenants (id, name, retention_days, created_at, index_key, index_master_version) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(name)
        .bind(retention_days as i64)
        .bind(now)
        .bind(crypto::wrap(master, &index_aad(&id, mv), &index))
        .bind(mv as i64)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("creating a tenant"))?;
        sqlx::query("INSERT INTO tenant_keys (tenant_id, version, master_version, wrapped, created_at) VALUES ($1, 1, $2, $3, $4)")
            .bind(&id)
            .bind(mv as i64)
            .bind(crypto::wrap(master, &kek_aad(&id, 1, mv), &kek))
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("storing a tenant key"))?;
        audit::append(
            &mut tx,
            actor,
            "tenant.create",
            Some(&id),
            Some(&id),
            json!({"retention_days": retention_days}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(StoreError::db("storing a tenant key"))?;
        tracing::info!(tenant = %id, "tenant created");
        Ok(Tenant {
            id,
            name: name.to_string(),
            retention_days,
            created_at: now,
        })
    }

    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let rows = sqlx::query(
            "SELECT id, name, retention_days, created_at FROM tenants ORDER BY created_at, id",
        )
        .fetch_all(&self.db.pool)
        .await
        .map_err(StoreError::db("listing tenants"))?;
        Ok(rows.iter().map(tenant_from_row).collect())
    }

    /// Finds a tenant by id or by name.
    pub async fn tenant(&self, id_or_name: &str) -> Result<Tenant> {
        let row = sqlx::query(
            "SELECT id, name, retention_days, created_at FROM tenants WHERE id = $1 OR name = $1",
        )
        .bind(id_or_name)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::db("looking up a tenant"))?;
        row.as_ref()
            .map(tenant_from_row)
            .ok_or_else(|| StoreError::TenantNotFound(id_or_name.to_string()))
    }

    /// A per-workspace setting from a table keyed by workspace id or name (the operator may
    /// write either): the entry for `tenant` (an id), looking its name up only when the id has
    /// none and the table is not empty.
    pub async fn tenant_setting<'a, V>(
        &self,
        table: &'a std::collections::BTreeMap<String, V>,
        tenant: &str,
    ) -> Result<Option<&'a V>> {
        if table.is_empty() {
            return Ok(None);
        }
        if let Some(v) = table.get(tenant) {
            return Ok(Some(v));
        }
        Ok(table.get(&self.tenant(tenant).await?.name))
    }

    /// Changes how long a tenant's calls are kept.
    pub async fn set_retention(&self, actor: &Actor, tenant: &str, days: u32) -> Result<()> {
        if days == 0 {
            return Err(StoreError::Invalid(
                "retention must be at least 1 day".into(),
            ));
        }
        let mut tx = self.db.global().await?;
        let n = sqlx::query("UPDATE tenants SET retention_days = $1 WHERE id = $2")
            .bind(days as i64)
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("setting retention"))?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::TenantNotFound(tenant.to_string()));
        }
        audit::append(
            &mut tx,
            actor,
            "tenant.retention",
            Some(tenant),
            Some(tenant),
            json!({"retention_days": days}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(StoreError::db("setting retention"))
    }

    /// Deletes a tenant by crypto-shredding: its calls' data keys (in the key vault) are
    /// destroyed first, then, in one transaction, its key-encryption keys and index key, its
    /// calls, segments, API keys and the tenant row. Returns the number of calls deleted.
    pub async fn delete_tenant(&self, actor: &Actor, tenant: &str) -> Result<u64> {
        self.tenant(tenant).await?;
        self.vault.destroy_tenant(tenant).await?;
        let mut tx = self.db.scoped(tenant).await?;
        let mut calls = 0;
        for (what, sql) in [
            (
                "destroying the tenant's keys",
                "DELETE FROM tenant_keys WHERE tenant_id = $1",
            ),
            (
                "deleting segments",
                "DELETE FROM segments WHERE tenant_id = $1",
            ),
            ("deleting calls", "DELETE FROM calls WHERE tenant_id = $1"),
            (
                "deleting browser sessions",
                "DELETE FROM web_sessions WHERE tenant_id = $1",
            ),
            (
                "deleting API keys",
                "DELETE FROM api_keys WHERE tenant_id = $1",
            ),
            ("deleting the tenant", "DELETE FROM tenants WHERE id = $1"),
        ] {
            let n = sqlx::query(sql)
                .bind(tenant)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db(what))?
                .rows_affected();
            if sql.starts_with("DELETE FROM calls") {
                calls = n;
            }
        }
        audit::append(
            &mut tx,
            actor,
            "tenant.delete",
            Some(tenant),
            Some(tenant),
            json!({"calls": calls}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(StoreError::db("deleting a tenant"))?;
        self.db.checkpoint().await;
        tracing::info!(tenant, calls, "tenant deleted (keys destroyed)");
        Ok(calls)
    }

    /// The tenant's key-encryption key of `version`, unwrapped (inside a scoped transaction).
    pub(crate) async fn tenant_kek(
        &self,
        tx: &mut Tx,
        tenant: &str,
        version: u32,
    ) -> Result<SecretKey> {
        let row = sqlx::query(
            "SELECT master_version, wrapped FROM tenant_keys WHERE tenant_id = $1 AND version = $2",
        )
        .bind(tenant)
        .bind(version as i64)
        .fetch_optional(&mut **tx)
        .await
        .map_err(StoreError::db("reading a tenant key"))?;
        let Some(row) = row else {
            return Err(StoreError::Corrupt {
                what: format!("tenant {tenant}"),
                detail: format!(
                    "its key version {version} does not exist (destroyed, or the tenant was deleted)"
                ),
            });
        };
        let mv = row.get::<i64, _>(0) as u32;
        let wrapped: Vec<u8> = row.get(1);
        let master = self.master(mv, || format!("tenant {tenant}'s key version {version}"))?;
        crypto::unwrap(master, &kek_aad(tenant, version, mv), &wrapped).map_err(|source| {
            StoreError::Decrypt {
                what: format!("tenant {tenant}'s key version {version}"),
                source,
            }
        })
    }

    /// The tenant's newest key-encryption key and its version.
    pub(crate) async fn current_kek(&self, tx: &mut Tx, tenant: &str) -> Result<(u32, SecretKey)> {
        let version = sqlx::query("SELECT MAX(version) FROM tenant_keys WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&mut **tx)
            .await
            .map_err(StoreError::db("reading tenant key versions"))?
            .get::<Option<i64>, _>(0)
            .ok_or_else(|| StoreError::TenantNotFound(tenant.to_string()))?
            as u32;
        Ok((version, self.tenant_kek(tx, tenant, version).await?))
    }

    /// The tenant's index key.
    pub(crate) async fn index_key(&self, tx: &mut Tx, tenant: &str) -> Result<SecretKey> {
        let row = sqlx::query("SELECT index_key, index_master_version FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_optional(&mut **tx)
            .await
            .map_err(StoreError::db("reading a tenant"))?
            .ok_or_else(|| StoreError::TenantNotFound(tenant.to_string()))?;
        let wrapped: Vec<u8> = row.get(0);
        let mv = row.get::<i64, _>(1) as u32;
        let master = self.master(mv, || format!("tenant {tenant}'s index key"))?;
        crypto::unwrap(master, &index_aad(tenant, mv), &wrapped).map_err(|source| {
            StoreError::Decrypt {
                what: format!("tenant {tenant}'s index key"),
                source,
            }
        })
    }
}

fn tenant_from_row(r: &sqlx::any::AnyRow) -> Tenant {
    Tenant {
        id: r.get(0),
        name: r.get(1),
        retention_days: r.get::<i64, _>(2) as u32,
        created_at: r.get(3),
    }
}

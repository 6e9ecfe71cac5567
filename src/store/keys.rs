//! Key rotation. Rotating never decrypts data: a new master key version re-wraps the tenant
//! keys (and index keys); a new tenant key version re-wraps the calls' data keys. Each
//! re-wrap is its own transaction, so an interrupted rotation loses nothing and the next
//! `rotate` call finishes it (instead of starting another). Old versions stay readable until
//! nothing is wrapped under them; a tenant's old key versions are then destroyed.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::audit::{self, Actor};
use super::calls::data_key_aad;
use super::crypto;
use super::keyring;
use super::tenants::{index_aad, kek_aad};
use super::vault::VaultKey;
use super::{Result, Store, StoreError};

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationReport {
    /// The version everything is being re-wrapped under.
    pub version: u32,
    /// Whether this call finished an earlier, interrupted rotation instead of starting one.
    pub resumed: bool,
    /// Keys re-wrapped by this call.
    pub rewrapped: u64,
    /// Keys still under older versions (non-zero only when stopped by a limit).
    pub remaining: u64,
    /// Master key versions nothing is wrapped under any more (they may be removed from the
    /// key file or variable) / tenant key versions destroyed.
    pub retired: Vec<u32>,
}

impl Store {
    /// Rotates the master key: registers a new version (generated into the key file, or the
    /// next version found in `CALLSCRIBE_MASTER_KEY`) and re-wraps every tenant key and index
    /// key under it. Finishes an interrupted rotation first.
    pub async fn rotate_master_key(&mut self, actor: &Actor) -> Result<RotationReport> {
        let registered = self.db.registered_master_keys().await?;
        let newest = registered.last().map_or(0, |(v, _)| *v);
        let tenants = self.list_tenants().await?;
        let mut pending = 0;
        for t in &tenants {
            pending += self.master_pending(&t.id, newest).await?;
        }
        let resumed = pending > 0;
        let target = if resumed {
            newest
        } else {
            let next = match self.keys.versions().into_iter().find(|v| *v > newest) {
                Some(v) => v,
                None => self.keys.generate_next()?,
            };
            let key = self.keys.get(next).expect("version just found or made");
            let fp = keyring::fingerprint(key);
            if registered.iter().any(|(_, f)| f[..] == fp[..]) {
                return Err(StoreError::Config(format!(
                    "master key version {next} is the same key as an older version; generate a new one"
                )));
            }
            self.db.register_master_key(next, &fp).await?;
            next
        };
        let new_master = self.master(target, || "the new master key".into())?;
        let mut rewrapped = 0;
        for t in &tenants {
            let mut tx = self.db.scoped(&t.id).await?;
            let row =
                sqlx::query("SELECT index_key, index_master_version FROM tenants WHERE id = $1")
                    .bind(&t.id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::db("reading a tenant's index key"))?;
            let mut n = 0u64;
            let imv = row.get::<i64, _>(1) as u32;
            if imv != target {
                let wrapped: Vec<u8> = row.get(0);
                let old = self.master(imv, || format!("tenant {}'s index key", t.id))?;
                let key =
                    crypto::unwrap(old, &index_aad(&t.id, imv), &wrapped).map_err(|source| {
                        StoreError::Decrypt {
                            what: format!("tenant {}'s index key", t.id),
                            source,
                        }
                    })?;
                sqlx::query(
                    "UPDATE tenants SET index_key = $1, index_master_version = $2 WHERE id = $3",
                )
                .bind(crypto::wrap(new_master, &index_aad(&t.id, target), &key))
                .bind(target as i64)
                .bind(&t.id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("re-wrapping an index key"))?;
                n += 1;
            }
            let rows = sqlx::query("SELECT version, master_version, wrapped FROM tenant_keys WHERE tenant_id = $1 AND master_version <> $2")
                .bind(&t.id)
                .bind(target as i64)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::db("reading tenant keys"))?;
            for r in rows {
                let (v, mv) = (r.get::<i64, _>(0) as u32, r.get::<i64, _>(1) as u32);
                let old = self.master(mv, || format!("tenant {}'s key version {v}", t.id))?;
                let kek = crypto::unwrap(old, &kek_aad(&t.id, v, mv), &r.get::<Vec<u8>, _>(2))
                    .map_err(|source| StoreError::Decrypt {
                        what: format!("tenant {}'s key version {v}", t.id),
                        source,
                    })?;
                sqlx::query("UPDATE tenant_keys SET wrapped = $1, master_version = $2 WHERE tenant_id = $3 AND version = $4")
                    .bind(crypto::wrap(new_master, &kek_aad(&t.id, v, target), &kek))
                    .bind(target as i64)
                    .bind(&t.id)
                    .bind(v as i64)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::db("re-wrapping a tenant key"))?;
                n += 1;
            }
            if n > 0 {
                audit::append(
                    &mut tx,
                    actor,
                    "keys.rotate_master",
                    Some(&t.id),
                    Some(&t.id),
                    json!({"to": target, "rewrapped": n}),
                )
                .await?;
            }
            tx.commit()
                .await
                .map_err(StoreError::db("re-wrapping tenant keys"))?;
            rewrapped += n;
        }
        let retired = registered
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| *v != target)
            .collect();
        self.audit(
            actor,
            "keys.rotate_master.done",
            None,
            None,
            json!({"version": target, "resumed": resumed}),
        )
        .await?;
        Ok(RotationReport {
            version: target,
            resumed,
            rewrapped,
            remaining: 0,
            retired,
        })
    }

    /// Keys of `tenant` wrapped under master versions other than `version`.
    async fn master_pending(&self, tenant: &str, version: u32) -> Result<u64> {
        let mut tx = self.db.scoped_read(tenant).await?;
        let a = sqlx::query(
            "SELECT COUNT(*) FROM tenant_keys WHERE tenant_id = $1 AND master_version <> $2",
        )
        .bind(tenant)
        .bind(version as i64)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db("counting tenant keys"))?
        .get::<i64, _>(0);
        let b = sqlx::query(
            "SELECT COUNT(*) FROM tenants WHERE id = $1 AND index_master_version <> $2",
        )
        .bind(tenant)
        .bind(version as i64)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::db("counting index keys"))?
        .get::<i64, _>(0);
        tx.commit().await.map_err(StoreError::db("counting keys"))?;
        Ok((a + b) as u64)
    }

    /// Rotates a tenant's key-encryption key: a new version, then every call's data key is
    /// re-wrapped under it (at most `limit` calls per invocation, when given), then the old
    /// versions are destroyed. Finishes an interrupted rotation instead of starting another.
    pub async fn rotate_tenant_key(
        &self,
        actor: &Actor,
        tenant: &str,
        limit: Option<u64>,
    ) -> Result<RotationReport> {
        self.tenant(tenant).await?;
        let mut tx = self.db.scoped(tenant).await?;
        let newest = sqlx::query("SELECT MAX(version) FROM tenant_keys WHERE tenant_id = $1")
            .bind(tenant)
            .fetch_one(&mut *tx)
            .await
            .map_err(StoreError::db("reading tenant key versions"))?
            .get::<Option<i64>, _>(0)
            .ok_or_else(|| StoreError::Corrupt {
                what: format!("tenant {tenant}"),
                detail: "it has no key".into(),
            })? as u32;
        let pending = self.vault.count_below(tenant, newest).await?;
        let resumed = pending > 0;
        let target = if resumed {
            newest
        } else {
            let (mv, master) = self.current_master().await?;
            let kek = crypto::SecretKey::generate();
            let target = newest + 1;
            sqlx::query("INSERT INTO tenant_keys (tenant_id, version, master_version, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(tenant)
                .bind(target as i64)
                .bind(mv as i64)
                .bind(crypto::wrap(master, &kek_aad(tenant, target, mv), &kek))
                .bind(crate::sys::now())
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("storing a new tenant key"))?;
            audit::append(
                &mut tx,
                actor,
                "keys.rotate_tenant",
                Some(tenant),
                Some(tenant),
                json!({"to": target}),
            )
            .await?;
            target
        };
        tx.commit()
            .await
            .map_err(StoreError::db("rotating a tenant key"))?;

        let mut rewrapped = 0u64;
        loop {
            if limit.is_some_and(|l| rewrapped >= l) {
                break;
            }
            let Some(old) = self.vault.next_below(tenant, target).await? else {
                break;
            };
            let mut tx = self.db.scoped(tenant).await?;
            let old_kek = self.tenant_kek(&mut tx, tenant, old.kek_version).await?;
            let new_kek = self.tenant_kek(&mut tx, tenant, target).await?;
            tx.commit()
                .await
                .map_err(StoreError::db("reading tenant keys"))?;
            let call = old.call;
            let dek = crypto::unwrap(
                &old_kek,
                &data_key_aad(tenant, &call, old.kek_version),
                &old.wrapped,
            )
            .map_err(|source| StoreError::Decrypt {
                what: format!("the data key of call {call} (tenant {tenant})"),
                source,
            })?;
            let wrapped = crypto::wrap(&new_kek, &data_key_aad(tenant, &call, target), &dek);
            if !self
                .vault
                .rewrap(
                    tenant,
                    old.kek_version,
                    &VaultKey {
                        call,
                        kek_version: target,
                        wrapped,
                    },
                )
                .await?
            {
                // deleted or re-wrapped meanwhile: look again
                continue;
            }
            rewrapped += 1;
        }

        let remaining = self.vault.count_below(tenant, target).await?;
        let mut tx = self.db.scoped(tenant).await?;
        let mut retired = Vec::new();
        if remaining == 0 {
            let rows = sqlx::query("SELECT version FROM tenant_keys WHERE tenant_id = $1 AND version < $2 ORDER BY version")
                .bind(tenant)
                .bind(target as i64)
                .fetch_all(&mut *tx)
                .await
                .map_err(StoreError::db("listing old tenant keys"))?;
            retired = rows.iter().map(|r| r.get::<i64, _>(0) as u32).collect();
            sqlx::query("DELETE FROM tenant_keys WHERE tenant_id = $1 AND version < $2")
                .bind(tenant)
                .bind(target as i64)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("destroying old tenant keys"))?;
            audit::append(
                &mut tx,
                actor,
                "keys.rotate_tenant.done",
                Some(tenant),
                Some(tenant),
                json!({"version": target, "rewrapped": rewrapped, "destroyed": retired}),
            )
            .await?;
        }
        tx.commit()
            .await
            .map_err(StoreError::db("finishing a tenant key rotation"))?;
        if remaining == 0 {
            self.db.checkpoint().await;
            self.vault.checkpoint().await;
        }
        Ok(RotationReport {
            version: target,
            resumed,
            rewrapped,
            remaining,
            retired,
        })
    }
}

//! API keys: `csk_<id>_<secret>` where the id (8 characters) is public and the secret is 256
//! random bits. Only the SHA-256 of the whole key is stored; authentication compares hashes in
//! constant time, and unknown, expired and revoked keys fail identically.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::audit::{self, Actor};
use super::crypto;
use super::sql::Backend;
use super::{DEFAULT_KEY_TTL_DAYS, Result, Store, StoreError};

const KEY_PREFIX: &str = "csk_";

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Stream calls in.
    Ingest,
    /// Watch live transcripts and read stored ones.
    Agent,
    /// Manage the tenant's keys, calls and exports.
    Admin,
    /// Read the audit trail.
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Agent => "agent",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Role> {
        [Role::Ingest, Role::Agent, Role::Admin, Role::Auditor]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: String,
    pub role: Role,
    /// The key's public id (for the audit trail).
    pub key_id: String,
}

/// Authentication failed. One variant on purpose: callers learn nothing about why.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid API key")]
    Invalid,
    /// A valid key whose role may not do what was asked.
    #[error("this key's role may not use this endpoint")]
    WrongRole,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    /// What the client is told (HTTP body, close reason): never the store's own error, which
    /// is logged instead.
    pub fn public_message(&self) -> &'static str {
        match self {
            AuthError::Invalid => "invalid, expired or revoked API key",
            AuthError::WrongRole => "this key's role may not use this endpoint",
            AuthError::Store(_) => "cannot check the key now",
        }
    }
}

/// A key as created: shown once, never stored.
pub struct NewApiKey {
    pub id: String,
    /// The full key. Zeroised on drop.
    pub secret: Zeroizing<String>,
    pub expires_at: i64,
}

/// A key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyInfo {
    /// The public part, `csk_<id>`.
    pub prefix: String,
    pub role: Role,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// The lifetime in days a new key gets: `requested` (default [`DEFAULT_KEY_TTL_DAYS`], or `max`
/// when lower), refused when 0 or above `max`.
fn check_key_ttl(requested: Option<u32>, max: u32) -> Result<u32> {
    let ttl = requested.unwrap_or(DEFAULT_KEY_TTL_DAYS.min(max));
    if ttl == 0 {
        return Err(StoreError::Invalid(
            "a key's lifetime (ttl_days) must be at least 1 day".into(),
        ));
    }
    if ttl > max {
        return Err(StoreError::Invalid(format!(
            "a key's lifetime (ttl_days) of {ttl} days is above this installation's maximum of {max} days \
             ([store] max_key_ttl_days, --max-key-ttl-days, CALLSCRIBE_MAX_KEY_TTL_DAYS)"
        )));
    }
    Ok(ttl)
}

fn key_hash(key: &str) -> [u8; 32] {
    crypto::sha256(key.as_bytes())
}

/// The public id of a presented key, if it is shaped like one.
/// The public part of a presented key (`csk_<id>_…`), if it is well-formed: safe to log, to
/// audit and to key a back-off on.
pub fn public_key_id(key: &str) -> Option<&str> {
    key_id(key)
}

fn key_id(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    // only ids a key could have: nothing a client sends reaches the audit trail unchecked
    (id.len() == 8 && id.bytes().all(|b| b.is_ascii_alphanumeric()) && secret.len() == 43)
        .then_some(id)
}

/// How long failed key checks from one source are counted before they are audited together.
const FAILED_AUTH_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// Sources counted at once; past it the rest are counted under one "other" source.
const FAILED_AUTH_SOURCES: usize = 10_000;

/// Failed key checks not yet audited, per source (the client's address). The first failure of
/// a source in a window is audited at once; the rest of the window is audited as one row with
/// a count when the window ends — at the next failure after it, or by
/// [`Store::flush_failed_auths`] — so a client trying keys costs at most one audit write per
/// minute, never one per attempt.
#[derive(Debug, Default)]
pub(crate) struct FailedAuths {
    state: std::sync::Mutex<FailedAuthWindow>,
}

/// Successful key checks not yet audited, per key: the first use of a key in a window updates
/// its `last_used_at` and is audited (`key.auth`) at once; further uses in the window are
/// counted and written as one `key.auth` row with the count when it ends (at the key's next
/// use after it, or by [`Store::flush_failed_auths`]). A client starting calls as fast as it
/// can with a valid key thus costs one write a minute, not one fsynced transaction per start
/// contending with every call's segment writes. `last_used_at` is exact to the window.
#[derive(Debug, Default)]
pub(crate) struct UsedKeys {
    state: std::sync::Mutex<std::collections::HashMap<String, KeyUse>>,
}

#[derive(Debug)]
struct KeyUse {
    tenant: String,
    role: Role,
    started: std::time::Instant,
    /// Uses after the first in this window.
    more: u64,
}

#[derive(Debug, Default)]
struct FailedAuthWindow {
    started: Option<std::time::Instant>,
    /// Failures after the first, per source.
    counts: std::collections::HashMap<String, u64>,
}

impl Store {
    /// Creates a key for `tenant` valid for `ttl_days` (default 90, or the maximum when it is
    /// lower). A lifetime above `[store] max_key_ttl_days` is refused here, the one place every
    /// caller (API, command line) passes through.
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        tenant: &str,
        role: Role,
        ttl_days: Option<u32>,
    ) -> Result<NewApiKey> {
        let ttl = check_key_ttl(ttl_days, self.settings.max_key_ttl_days)?;
        self.tenant(tenant).await?;
        let id = crate::sys::random_id("")[..8].to_string();
        let mut secret = Zeroizing::new([0u8; 32]);
        crate::sys::fill_random(secret.as_mut());
        let key = Zeroizing::new(format!(
            "{KEY_PREFIX}{id}_{}",
            URL_SAFE_NO_PAD.encode(secret.as_ref())
        ));
        let now = crate::sys::now();
        let expires_at = now + ttl as i64 * 86_400;
        let mut tx = self.db.scoped(tenant).await?;
        sqlx::query("INSERT INTO api_keys (id, tenant_id, hash, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(&id)
            .bind(tenant)
            .bind(key_hash(&key).to_vec())
            .bind(role.as_str())
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("storing an API key"))?;
        audit::append(
            &mut tx,
            actor,
            "key.create",
            Some(tenant),
            Some(&format!("{KEY_PREFIX}{id}")),
            json!({"role": role.as_str(), "ttl_days": ttl}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(StoreError::db("storing an API key"))?;
        Ok(NewApiKey {
            id: format!("{KEY_PREFIX}{id}"),
            secret: key,
            expires_at,
        })
    }

    /// Revokes a key (by its prefix `csk_<id>` or id) of `tenant`.
    pub async fn revoke_api_key(&self, actor: &Actor, tenant: &str, key: &str) -> Result<()> {
        let id = key.strip_prefix(KEY_PREFIX).unwrap_or(key);
        let id = id.split('_').next().unwrap_or(id);
        let mut tx = self.db.scoped(tenant).await?;
        let n = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND tenant_id = $3 AND revoked_at IS NULL")
            .bind(crate::sys::now())
            .bind(id)
            .bind(tenant)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("revoking an API key"))?
            .rows_affected();
        if n == 0 {
            return Err(StoreError::ApiKeyNotFound {
                key: format!("{KEY_PREFIX}{id}"),
                tenant: tenant.to_string(),
            });
        }
        audit::append(
            &mut tx,
            actor,
            "key.revoke",
            Some(tenant),
            Some(&format!("{KEY_PREFIX}{id}")),
            json!({}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(StoreError::db("revoking an API key"))
    }

    pub async fn list_api_keys(&self, tenant: &str) -> Result<Vec<ApiKeyInfo>> {
        let mut tx = self.db.scoped_read(tenant).await?;
        let rows = sqlx::query(
            "SELECT id, role, created_at, expires_at, revoked_at, last_used_at FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id",
        )
        .bind(tenant)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db("listing API keys"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("listing API keys"))?;
        rows.iter()
            .map(|r| {
                let id: String = r.get(0);
                let role: String = r.get(1);
                Ok(ApiKeyInfo {
                    role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt {
                        what: format!("API key {KEY_PREFIX}{id}"),
                        detail: format!("unknown role {role:?}"),
                    })?,
                    prefix: format!("{KEY_PREFIX}{id}"),
                    created_at: r.get(2),
                    expires_at: r.get(3),
                    revoked_at: r.get(4),
                    last_used_at: r.get(5),
                })
            })
            .collect()
    }

    /// [`Store::authenticate`] for a client at `source` (its address: failures are audited in
    /// aggregate per source), then checks the key's role is one of `roles`; a store failure
    /// is logged here (clients get [`AuthError::public_message`]).
    pub async fn authenticate_as(
        &self,
        presented: &str,
        roles: &[Role],
        source: Option<std::net::IpAddr>,
    ) -> Result<Principal, AuthError> {
        match self.authenticate_from(presented, source).await {
            Ok(p) if roles.contains(&p.role) => Ok(p),
            Ok(_) => Err(AuthError::WrongRole),
            Err(AuthError::Store(e)) => {
                tracing::error!("authentication: {e}");
                Err(AuthError::Store(e))
            }
            Err(e) => Err(e),
        }
    }

    /// Authenticates a presented key. The stored hash is compared in constant time, and an
    /// unknown id is compared against a dummy hash, so timing does not tell unknown from wrong;
    /// unknown, wrong, expired and revoked keys all return [`AuthError::Invalid`]. Successes and
    /// failures are audited (`key.auth`, `key.auth_failed`).
    pub async fn authenticate(&self, presented: &str) -> Result<Principal, AuthError> {
        self.authenticate_from(presented, None).await
    }

    /// Writes the aggregated rows of key checks, failed and successful, whose window has ended
    /// (the server calls it periodically, so a burst's count is audited even if nothing
    /// follows).
    pub async fn flush_failed_auths(&self) -> Result<()> {
        self.audit_failed_auth(None).await?;
        self.flush_key_uses(None).await
    }

    /// A successful check of key `id`: written at once when it is the key's first use in the
    /// window, else counted (see [`UsedKeys`]).
    async fn record_key_use(&self, p: &Principal, id: &str) -> Result<()> {
        let first = {
            let mut uses = self
                .used_keys
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match uses.get_mut(&p.key_id) {
                Some(u) if u.started.elapsed() < FAILED_AUTH_WINDOW => {
                    u.more += 1;
                    false
                }
                _ => true,
            }
        };
        if !first {
            return Ok(());
        }
        // the key's previous window (if any) is written first, then this use opens a new one
        self.flush_key_uses(Some(&p.key_id)).await?;
        let now = crate::sys::now();
        let mut tx = self.db.scoped(&p.tenant).await?;
        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND tenant_id = $3")
            .bind(now)
            .bind(id)
            .bind(&p.tenant)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("recording API key use"))?;
        audit::append(
            &mut tx,
            &Actor::ApiKey(p.key_id.clone()),
            "key.auth",
            Some(&p.tenant),
            None,
            json!({"role": p.role.as_str()}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(StoreError::db("recording API key use"))?;
        self.used_keys
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                p.key_id.clone(),
                KeyUse {
                    tenant: p.tenant.clone(),
                    role: p.role,
                    started: std::time::Instant::now(),
                    more: 0,
                },
            );
        Ok(())
    }

    /// Writes one `key.auth` row (with the count) per key whose window has ended and that was
    /// used again in it — only `key` when given (it is about to open a new window).
    async fn flush_key_uses(&self, key: Option<&str>) -> Result<()> {
        let finished: Vec<(String, KeyUse)> = {
            let mut uses = self
                .used_keys
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let done: Vec<String> = uses
                .iter()
                .filter(|(k, u)| {
                    key.is_none_or(|key| key == k.as_str())
                        && u.started.elapsed() >= FAILED_AUTH_WINDOW
                })
                .map(|(k, _)| k.clone())
                .collect();
            done.into_iter()
                .filter_map(|k| uses.remove(&k).map(|u| (k, u)))
                .collect()
        };
        let now = crate::sys::now();
        for (key_id, u) in finished.into_iter().filter(|(_, u)| u.more > 0) {
            let mut tx = self.db.scoped(&u.tenant).await?;
            sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND tenant_id = $3")
                .bind(now)
                .bind(key_id.strip_prefix(KEY_PREFIX).unwrap_or(&key_id))
                .bind(&u.tenant)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("recording API key use"))?;
            audit::append(
                &mut tx,
                &Actor::ApiKey(key_id.clone()),
                "key.auth",
                Some(&u.tenant),
                None,
                json!({"role": u.role.as_str(), "count": u.more, "window_s": FAILED_AUTH_WINDOW.as_secs()}),
            )
            .await?;
            tx.commit()
                .await
                .map_err(StoreError::db("recording API key use"))?;
        }
        Ok(())
    }

    /// Audits a failed check from `source` (`None`: only flushes a finished window).
    async fn audit_failed_auth(&self, failed: Option<(&str, &str)>) -> Result<()> {
        let (first, finished) = {
            let mut w = self
                .failed_auths
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let now = std::time::Instant::now();
            let finished = match w.started {
                Some(t) if now.duration_since(t) >= FAILED_AUTH_WINDOW => {
                    w.started = None;
                    std::mem::take(&mut w.counts)
                }
                _ => Default::default(),
            };
            let first = failed.and_then(|(source, who)| {
                w.started.get_or_insert(now);
                let n = w.counts.len();
                let source = if w.counts.contains_key(source) || n < FAILED_AUTH_SOURCES {
                    source
                } else {
                    "other"
                };
                match w.counts.get_mut(source) {
                    Some(c) => {
                        *c += 1;
                        None
                    }
                    None => {
                        w.counts.insert(source.to_string(), 0);
                        Some((source.to_string(), who.to_string()))
                    }
                }
            });
            (first, finished)
        };
        for (source, count) in finished.into_iter().filter(|(_, c)| *c > 0) {
            self.audit(
                &Actor::System("auth"),
                "key.auth_failed",
                None,
                None,
                json!({"source": source, "count": count, "window_s": FAILED_AUTH_WINDOW.as_secs()}),
            )
            .await?;
        }
        if let Some((source, who)) = first {
            self.audit(
                &Actor::ApiKey(who),
                "key.auth_failed",
                None,
                None,
                json!({"source": source, "count": 1}),
            )
            .await?;
        }
        Ok(())
    }

    /// [`Store::authenticate`] for a client at `source`.
    pub async fn authenticate_from(
        &self,
        presented: &str,
        source: Option<std::net::IpAddr>,
    ) -> Result<Principal, AuthError> {
        let hash = key_hash(presented);
        let id = key_id(presented).unwrap_or("");
        let row = match self.db.backend {
            // Before the tenant is known, row-level security hides every key: a
            // SECURITY DEFINER function returns the one row with this public id.
            Backend::Postgres => sqlx::query(
                "SELECT tenant_id, hash, role, expires_at, revoked_at FROM api_key_lookup($1)",
            ),
            Backend::Sqlite => sqlx::query(
                "SELECT tenant_id, hash, role, expires_at, revoked_at FROM api_keys WHERE id = $1",
            ),
        }
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::db("looking up an API key"))?;
        let dummy = [0u8; 32];
        let (stored, found): (Vec<u8>, _) = match &row {
            Some(r) => (r.get(1), true),
            None => (dummy.to_vec(), false),
        };
        let hash_ok: bool = stored.ct_eq(&hash[..]).into();
        let now = crate::sys::now();
        let principal = row.filter(|_| found && hash_ok).and_then(|r| {
            let expires: i64 = r.get(3);
            let revoked: Option<i64> = r.get(4);
            let role = Role::parse(&r.get::<String, _>(2))?;
            (revoked.is_none() && expires > now).then(|| Principal {
                tenant: r.get(0),
                role,
                key_id: format!("{KEY_PREFIX}{id}"),
            })
        });
        match principal {
            Some(p) => {
                self.record_key_use(&p, id).await?;
                Ok(p)
            }
            None => {
                // only the public id, and only when it is well-formed: never the secret
                let who = if id.is_empty() {
                    "malformed".to_string()
                } else {
                    format!("{KEY_PREFIX}{id}")
                };
                let source = source.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
                self.audit_failed_auth(Some((&source, &who))).await?;
                Err(AuthError::Invalid)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_lifetimes_default_below_the_maximum_and_are_refused_above_it() {
        assert_eq!(super::check_key_ttl(None, 90).unwrap(), 90);
        assert_eq!(
            super::check_key_ttl(None, 30).unwrap(),
            30,
            "the default fits the maximum"
        );
        assert_eq!(super::check_key_ttl(Some(90), 90).unwrap(), 90);
        let e = super::check_key_ttl(Some(91), 90).unwrap_err().to_string();
        assert!(
            e.contains("91 days") && e.contains("max_key_ttl_days"),
            "{e}"
        );
        let e = super::check_key_ttl(Some(0), 90).unwrap_err().to_string();
        assert!(e.contains("at least 1 day"), "{e}");
    }

    #[test]
    fn key_ids_are_parsed_only_from_well_formed_keys() {
        let secret = "A".repeat(43);
        assert_eq!(
            super::key_id(&format!("csk_abcd2345_{secret}")),
            Some("abcd2345")
        );
        assert_eq!(super::key_id("csk_abcd2345_short"), None);
        assert_eq!(super::key_id(&format!("xyz_abcd2345_{secret}")), None);
        assert_eq!(super::key_id(""), None);
    }
}

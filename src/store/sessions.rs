//! Browser sessions: an agent or admin key exchanged for a short-lived session token that
//! the web page holds in an HttpOnly cookie. Tokens are `css_<id>_<secret>` (256-bit secret);
//! only SHA-256 hashes of the token and of its CSRF token are stored. A session ends when it
//! expires (idle or absolute lifetime), is signed out, is rotated away, or the key it came
//! from is revoked or expires. Sign-in and sign-out are audited.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sqlx::Row;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::apikeys::{AuthError, Principal, Role};
use super::audit::{self, Actor};
use super::crypto;
use super::sql::Backend;
use super::{Result, Store, StoreError};

const TOKEN_PREFIX: &str = "css_";
/// A rotated-away token stays valid this long, for requests already in flight.
const ROTATION_GRACE_S: i64 = 30;

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    /// Expiry after this long without a rotation (activity rotates).
    pub idle_s: i64,
    /// Expiry this long after sign-in, whatever happens.
    pub max_s: i64,
    /// A session older than this is replaced by a fresh token on its next use.
    pub rotate_s: i64,
}

/// A session as issued: shown to the browser once, never stored.
pub struct NewWebSession {
    pub token: Zeroizing<String>,
    pub csrf: Zeroizing<String>,
    pub expires_at: i64,
}

/// A valid session.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub principal: Principal,
    id: String,
    csrf_hash: Vec<u8>,
    pub created_at: i64,
    pub signed_in_at: i64,
    pub expires_at: i64,
}

impl WebSession {
    /// Does `presented` match this session's CSRF token? (constant time)
    pub fn csrf_matches(&self, presented: &str) -> bool {
        crypto::sha256(presented.as_bytes())
            .ct_eq(&self.csrf_hash[..])
            .into()
    }

    /// Is it time to replace the token?
    pub fn due_for_rotation(&self, times: &SessionTimes, now: i64) -> bool {
        now - self.created_at >= times.rotate_s
    }
}

fn random_secret() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    crate::sys::fill_random(bytes.as_mut());
    Zeroizing::new(URL_SAFE_NO_PAD.encode(bytes.as_ref()))
}

/// The public id of a presented token, if it is shaped like one.
fn token_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == 16 && secret.len() == 43 && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(id)
}

/// The raw api_keys id of a principal's `csk_<id>`.
fn raw_key_id(p: &Principal) -> &str {
    p.key_id.strip_prefix("csk_").unwrap_or(&p.key_id)
}

impl Store {
    /// Signs in: a new session for a principal authenticated by its key (audited: `session.create`).
    pub async fn create_web_session(
        &self,
        principal: &Principal,
        times: &SessionTimes,
    ) -> Result<NewWebSession> {
        if !matches!(principal.role, Role::Agent | Role::Admin) {
            return Err(StoreError::Invalid(
                "only agent and admin keys may sign in to the web page".into(),
            ));
        }
        let now = crate::sys::now();
        let csrf = random_secret();
        let (token, expires_at) = self
            .insert_session(
                principal,
                &crypto::sha256(csrf.as_bytes()),
                now,
                now,
                now + times.idle_s.min(times.max_s),
                Some("session.create"),
            )
            .await?;
        Ok(NewWebSession {
            token,
            csrf,
            expires_at,
        })
    }

    /// Stores a new session row; `audit`: the audit action to record with it, if any.
    async fn insert_session(
        &self,
        p: &Principal,
        csrf_hash: &[u8],
        now: i64,
        signed_in_at: i64,
        expires_at: i64,
        audit: Option<&str>,
    ) -> Result<(Zeroizing<String>, i64)> {
        // 16 of random_id's 26 base32 characters: 80 bits, the public part of the token
        let id = crate::sys::random_id("")[..16].to_string();
        let token = Zeroizing::new(format!("{TOKEN_PREFIX}{id}_{}", random_secret().as_str()));
        let mut tx = self.db.scoped(&p.tenant).await?;
        sqlx::query(
            "INSERT INTO web_sessions (id, tenant_id, key_id, hash, csrf_hash, role, created_at, signed_in_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(&p.tenant)
        .bind(raw_key_id(p))
        .bind(crypto::sha256(token.as_bytes()).to_vec())
        .bind(csrf_hash.to_vec())
        .bind(p.role.as_str())
        .bind(now)
        .bind(signed_in_at)
        .bind(expires_at)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("storing a session"))?;
        if let Some(action) = audit {
            audit::append(
                &mut tx,
                &Actor::ApiKey(p.key_id.clone()),
                action,
                Some(&p.tenant),
                Some(&format!("{TOKEN_PREFIX}{id}")),
                json!({"role": p.role.as_str()}),
            )
            .await?;
        }
        tx.commit()
            .await
            .map_err(StoreError::db("storing a session"))?;
        Ok((token, expires_at))
    }

    /// The session a presented token belongs to, if it is valid now. Unknown, wrong, expired
    /// and revoked tokens, and tokens whose key was revoked or expired, fail identically.
    pub async fn web_session(&self, presented: &str) -> Result<WebSession, AuthError> {
        let hash = crypto::sha256(presented.as_bytes());
        let id = token_id(presented).unwrap_or("");
        let row = match self.db.backend {
            Backend::Postgres => sqlx::query(
                "SELECT tenant_id, key_id, hash, csrf_hash, role, created_at, signed_in_at, expires_at, revoked_at, key_expires_at, key_revoked_at \
                 FROM web_session_lookup($1)",
            ),
            Backend::Sqlite => sqlx::query(
                "SELECT s.tenant_id, s.key_id, s.hash, s.csrf_hash, s.role, s.created_at, s.signed_in_at, s.expires_at, s.revoked_at, \
                 k.expires_at, k.revoked_at FROM web_sessions s JOIN api_keys k ON k.id = s.key_id AND k.tenant_id = s.tenant_id \
                 WHERE s.id = $1",
            ),
        }
        .bind(id)
        .fetch_optional(&self.db.pool)
        .await
        .map_err(StoreError::db("looking up a session"))?;
        let dummy = [0u8; 32];
        let stored: Vec<u8> = row.as_ref().map_or(dummy.to_vec(), |r| r.get(2));
        let hash_ok: bool = stored.ct_eq(&hash[..]).into();
        let now = crate::sys::now();
        let row = row
            .filter(|_| hash_ok && !id.is_empty())
            .ok_or(AuthError::Invalid)?;
        let expires_at: i64 = row.get(7);
        let revoked: Option<i64> = row.get(8);
        let key_expires: i64 = row.get(9);
        let key_revoked: Option<i64> = row.get(10);
        let role = Role::parse(&row.get::<String, _>(4)).ok_or(AuthError::Invalid)?;
        if revoked.is_some() || expires_at <= now || key_revoked.is_some() || key_expires <= now {
            return Err(AuthError::Invalid);
        }
        Ok(WebSession {
            principal: Principal {
                tenant: row.get(0),
                role,
                key_id: format!("csk_{}", row.get::<String, _>(1)),
            },
            id: id.to_string(),
            csrf_hash: row.get(3),
            created_at: row.get(5),
            signed_in_at: row.get(6),
            expires_at,
        })
    }

    /// Replaces a session's token by a fresh one (same CSRF token, same sign-in time, idle
    /// expiry renewed within the absolute lifetime); the old token expires after a short grace.
    pub async fn rotate_web_session(
        &self,
        s: &WebSession,
        times: &SessionTimes,
    ) -> Result<(Zeroizing<String>, i64)> {
        let now = crate::sys::now();
        let expires_at = (now + times.idle_s).min(s.signed_in_at + times.max_s);
        let (token, expires_at) = self
            .insert_session(
                &s.principal,
                &s.csrf_hash,
                now,
                s.signed_in_at,
                expires_at,
                None,
            )
            .await?;
        let mut tx = self.db.scoped(&s.principal.tenant).await?;
        sqlx::query("UPDATE web_sessions SET expires_at = $1 WHERE id = $2 AND tenant_id = $3 AND expires_at > $1")
            .bind(now + ROTATION_GRACE_S)
            .bind(&s.id)
            .bind(&s.principal.tenant)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("expiring a rotated session"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("expiring a rotated session"))?;
        Ok((token, expires_at))
    }

    /// Whether a long-lived request's credentials still hold (a subscription asks every few
    /// seconds): the key is neither revoked nor expired and, for a browser session, a token of
    /// the same sign-in (rotation hands out new ones) is neither revoked nor expired.
    pub async fn credentials_hold(
        &self,
        principal: &Principal,
        session: Option<&WebSession>,
    ) -> Result<bool> {
        let key_id = principal
            .key_id
            .strip_prefix("csk_")
            .unwrap_or(&principal.key_id);
        let now = crate::sys::now();
        let mut tx = self.db.scoped_read(&principal.tenant).await?;
        let key = sqlx::query(
            "SELECT 1 FROM api_keys WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL \
             AND expires_at > $3",
        )
        .bind(key_id)
        .bind(&principal.tenant)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("checking a key"))?;
        let mut holds = key.is_some();
        if let (true, Some(s)) = (holds, session) {
            holds = sqlx::query(
                "SELECT 1 FROM web_sessions WHERE tenant_id = $1 AND key_id = $2 \
                 AND signed_in_at = $3 AND csrf_hash = $4 AND revoked_at IS NULL \
                 AND expires_at > $5 LIMIT 1",
            )
            .bind(&principal.tenant)
            .bind(key_id)
            .bind(s.signed_in_at)
            .bind(&s.csrf_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("checking a session"))?
            .is_some();
        }
        tx.commit()
            .await
            .map_err(StoreError::db("checking a key"))?;
        Ok(holds)
    }

    /// Signs out: every token of this sign-in (audited: `session.revoke`).
    pub async fn revoke_web_session(&self, s: &WebSession) -> Result<()> {
        let mut tx = self.db.scoped(&s.principal.tenant).await?;
        // the whole sign-in: the token in use and the rotated ones still in their grace
        sqlx::query(
            "UPDATE web_sessions SET revoked_at = $1 WHERE tenant_id = $2 AND key_id = $3 \
             AND signed_in_at = $4 AND csrf_hash = $5 AND revoked_at IS NULL",
        )
        .bind(crate::sys::now())
        .bind(&s.principal.tenant)
        .bind(
            s.principal
                .key_id
                .strip_prefix("csk_")
                .unwrap_or(&s.principal.key_id),
        )
        .bind(s.signed_in_at)
        .bind(&s.csrf_hash)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("revoking a session"))?;
        audit::append(
            &mut tx,
            &Actor::ApiKey(s.principal.key_id.clone()),
            "session.revoke",
            Some(&s.principal.tenant),
            Some(&format!("{TOKEN_PREFIX}{}", s.id)),
            json!({}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(StoreError::db("revoking a session"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_ids_are_parsed_only_from_well_formed_tokens() {
        let secret = "A".repeat(43);
        assert_eq!(
            super::token_id(&format!("css_abcdEFGH12345678_{secret}")),
            Some("abcdEFGH12345678")
        );
        assert_eq!(super::token_id(&format!("css_abcd_{secret}")), None);
        assert_eq!(
            super::token_id(&format!("csk_abcdEFGH12345678_{secret}")),
            None
        );
        assert_eq!(super::token_id("css_abcd'--_x"), None);
    }
}

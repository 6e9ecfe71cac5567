//! The audit trail: who did what, when — never transcript text or other PII (targets are
//! callscribe ids, details are counts and versions). Entries are appended in the same
//! transaction as the change they record; each carries the SHA-256 of the previous entry, and
//! `audit_head` holds the latest sequence number and hash, so an edited, removed or
//! truncated entry breaks the chain at a point [`Store::verify_audit`] reports. The chain is
//! one for the installation; a workspace's auditor gets [`Store::verify_audit_for`], the same
//! walk reported for that workspace's entries only.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::sql::Tx;
use super::{Result, Store, StoreError};

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person at the command line (their login name).
    Operator(String),
    /// A request authenticated with an API key (its public id).
    ApiKey(String),
    /// callscribe itself (e.g. the periodic retention purge).
    System(&'static str),
}

impl Actor {
    /// The operator running this process, from `$USER`.
    pub fn operator() -> Actor {
        Actor::Operator(
            std::env::var("USER")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| "unknown".into()),
        )
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Operator(u) => write!(f, "operator:{u}"),
            Actor::ApiKey(k) => write!(f, "key:{k}"),
            Actor::System(s) => write!(f, "system:{s}"),
        }
    }
}

/// One entry of the trail.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEvent {
    pub seq: u64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub tenant: Option<String>,
    pub target: Option<String>,
    /// Small JSON object: counts, versions, roles.
    pub detail: String,
    #[serde(serialize_with = "hex")]
    pub hash: [u8; 32],
}

fn hex<S: serde::Serializer>(h: &[u8; 32], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&to_hex(h))
}

pub fn to_hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first place the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBreak {
    /// Sequence number of the first entry that does not verify (or where one is missing).
    pub seq: u64,
    pub reason: String,
}

/// The result of [`Store::verify_audit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: u64,
    /// Hash of the last entry (record it elsewhere to detect a rewritten trail).
    pub head_hash: String,
    pub broken: Option<AuditBreak>,
}

/// The result of [`Store::verify_audit_for`]: the chain as one workspace's auditor may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantAuditReport {
    /// The workspace's entries verified (all of them when the chain is intact).
    pub entries: u64,
    /// Hash of the workspace's last verified entry, as `GET /v1/audit` shows it (record it
    /// elsewhere to detect a rewritten trail).
    pub last_hash: Option<String>,
    pub broken: Option<TenantAuditBreak>,
}

/// Where the chain breaks, as a workspace may learn it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantAuditBreak {
    /// The workspace's own entry that does not verify; `None` when the break is elsewhere in
    /// the installation's trail (another workspace's entry, the installation's, or entries
    /// missing), which a workspace is not shown.
    pub seq: Option<u64>,
    pub reason: String,
}

/// What a walk of the chain found: in all, and for the tenant it was asked for.
struct ChainWalk {
    /// Entries verified in all.
    entries: u64,
    /// Hash of the last verified entry (zeros before the first).
    head: [u8; 32],
    broken: Option<ChainBreak>,
    tenant_entries: u64,
    tenant_last: Option<[u8; 32]>,
}

struct ChainBreak {
    at: AuditBreak,
    owner: BreakOwner,
}

/// Whose entry the chain breaks at, for a tenant's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BreakOwner {
    /// The tenant's own entry.
    Tenant,
    /// Another tenant's, the installation's, or no entry (missing ones, the head).
    Elsewhere,
}

/// The fields of one audit entry that its hash covers (after the previous entry's hash).
struct EntryFields<'a> {
    seq: u64,
    at: i64,
    actor: &'a str,
    action: &'a str,
    tenant: Option<&'a str>,
    target: Option<&'a str>,
    detail: &'a str,
}

/// The entry's hash: chained to `prev`, every field length-prefixed (absent fields marked).
fn entry_hash(prev: &[u8], e: &EntryFields) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"callscribe.audit.v1");
    h.update(prev);
    h.update(e.seq.to_be_bytes());
    h.update(e.at.to_be_bytes());
    for field in [
        Some(e.actor),
        Some(e.action),
        e.tenant,
        e.target,
        Some(e.detail),
    ] {
        match field {
            None => h.update([0u8]),
            Some(s) => {
                h.update([1u8]);
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
        }
    }
    h.finalize().into()
}

/// Appends an entry inside `tx`. Taking the head row's lock first (UPDATE … RETURNING) keeps
/// concurrent writers in one order on both backends.
pub(crate) async fn append(
    tx: &mut Tx,
    actor: &Actor,
    action: &str,
    tenant: Option<&str>,
    target: Option<&str>,
    detail: serde_json::Value,
) -> Result<()> {
    let row = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut **tx)
        .await
        .map_err(StoreError::db("advancing the audit trail"))?;
    let seq = row.get::<i64, _>(0) as u64;
    let prev: Vec<u8> = row.get(1);
    let at = crate::sys::now();
    let actor = actor.to_string();
    let detail = detail.to_string();
    let hash = entry_hash(
        &prev,
        &EntryFields {
            seq,
            at,
            actor: &actor,
            action,
            tenant,
            target,
            detail: &detail,
        },
    );
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, action, tenant_id, target, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(seq as i64)
    .bind(at)
    .bind(actor)
    .bind(action)
    .bind(tenant)
    .bind(target)
    .bind(detail)
    .bind(prev)
    .bind(hash.to_vec())
    .execute(&mut **tx)
    .await
    .map_err(StoreError::db("appending to the audit trail"))?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(hash.to_vec())
        .execute(&mut **tx)
        .await
        .map_err(StoreError::db("advancing the audit trail"))?;
    Ok(())
}

const PAGE: i64 = 1000;

impl Store {
    /// Records an event on its own (for reads that change nothing else).
    pub async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        tenant: Option<&str>,
        target: Option<&str>,
        detail: serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.db.global().await?;
        append(&mut tx, actor, action, tenant, target, detail).await?;
        tx.commit()
            .await
            .map_err(StoreError::db("committing an audit entry"))
    }

    /// Audit entries, oldest first, optionally only one tenant's, starting after `after`.
    pub async fn audit_events(
        &self,
        tenant: Option<&str>,
        after: u64,
        limit: u32,
    ) -> Result<Vec<AuditEvent>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, action, tenant_id, target, detail, hash FROM audit_log \
             WHERE seq > $1 AND (CAST($2 AS TEXT) IS NULL OR tenant_id = CAST($2 AS TEXT)) ORDER BY seq LIMIT $3",
        )
        .bind(after as i64)
        .bind(tenant)
        .bind(limit as i64)
        .fetch_all(&self.db.pool)
        .await
        .map_err(StoreError::db("reading the audit trail"))?;
        rows.iter().map(event_from_row).collect()
    }

    /// Walks the whole chain: sequence numbers contiguous from 1, each entry's `prev_hash` the
    /// previous entry's hash, each hash recomputed from the entry, and the head matching the
    /// last entry. Reports the first broken link. Installation-wide: for the operator
    /// (`callscribe audit verify`), never for a workspace (see [`Store::verify_audit_for`]).
    pub async fn verify_audit(&self) -> Result<AuditReport> {
        let walk = self.walk_audit_chain(None).await?;
        Ok(AuditReport {
            entries: walk.entries,
            head_hash: to_hex(&walk.head),
            broken: walk.broken.map(|b| b.at),
        })
    }

    /// The chain verified for one workspace's auditor: the same walk of the whole chain (an
    /// entry of `tenant` that was removed shows only as a gap or a broken link at its
    /// neighbour, which may be another workspace's entry), reported for `tenant`'s own entries
    /// only — how many verified, the hash of the last, and where it broke only when the break
    /// is one of them. Nothing about other workspaces' entries (their count, sequence numbers
    /// or hashes, the installation's head) is in the report.
    pub async fn verify_audit_for(&self, tenant: &str) -> Result<TenantAuditReport> {
        let walk = self.walk_audit_chain(Some(tenant)).await?;
        Ok(TenantAuditReport {
            entries: walk.tenant_entries,
            last_hash: walk.tenant_last.as_ref().map(|h| to_hex(h)),
            broken: walk.broken.map(|b| match b.owner {
                BreakOwner::Tenant => TenantAuditBreak {
                    seq: Some(b.at.seq),
                    reason: b.at.reason,
                },
                BreakOwner::Elsewhere => TenantAuditBreak {
                    seq: None,
                    reason: "the installation's audit trail does not verify at a point outside \
                             this workspace's own entries (another workspace's entry, or entries \
                             missing or cut off, which may have been anyone's); this workspace's \
                             entries from there on cannot be vouched for; the operator's \
                             `callscribe audit verify` shows where"
                        .into(),
                },
            }),
        })
    }

    /// The walk behind both reports, in one read snapshot (entries appended meanwhile neither
    /// wait for it nor make the head look wrong). With `tenant`, also counts that tenant's
    /// entries verified and keeps the hash of its last one.
    async fn walk_audit_chain(&self, tenant: Option<&str>) -> Result<ChainWalk> {
        let mut tx = self.db.read().await?;
        let mut walk = ChainWalk {
            entries: 0,
            head: [0u8; 32],
            broken: None,
            tenant_entries: 0,
            tenant_last: None,
        };
        let mut expected = 1u64;
        let broke = |mut walk: ChainWalk, seq: u64, reason: String, owner: BreakOwner| {
            walk.broken = Some(ChainBreak {
                at: AuditBreak { seq, reason },
                owner,
            });
            walk
        };
        loop {
            let rows = sqlx::query(
                "SELECT seq, at, actor, action, tenant_id, target, detail, prev_hash, hash FROM audit_log \
                 WHERE seq >= $1 ORDER BY seq LIMIT $2",
            )
            .bind(expected as i64)
            .bind(PAGE)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db("reading the audit trail"))?;
            let n = rows.len();
            for row in rows {
                let seq = row.get::<i64, _>(0) as u64;
                if seq != expected {
                    return Ok(broke(
                        walk,
                        expected,
                        format!("entries {expected}..{} are missing", seq - 1),
                        BreakOwner::Elsewhere,
                    ));
                }
                let entry_tenant: Option<String> = row.get(4);
                let owner = match (tenant, entry_tenant.as_deref()) {
                    (Some(t), Some(e)) if t == e => BreakOwner::Tenant,
                    _ => BreakOwner::Elsewhere,
                };
                let stored_prev: Vec<u8> = row.get(7);
                let stored_hash: Vec<u8> = row.get(8);
                if stored_prev != walk.head {
                    return Ok(broke(
                        walk,
                        seq,
                        "its link to the previous entry does not match".into(),
                        owner,
                    ));
                }
                let target: Option<String> = row.get(5);
                let (actor, action, detail): (String, String, String) =
                    (row.get(2), row.get(3), row.get(6));
                let hash = entry_hash(
                    &walk.head,
                    &EntryFields {
                        seq,
                        at: row.get(1),
                        actor: &actor,
                        action: &action,
                        tenant: entry_tenant.as_deref(),
                        target: target.as_deref(),
                        detail: &detail,
                    },
                );
                if stored_hash != hash {
                    return Ok(broke(
                        walk,
                        seq,
                        "its contents were changed after it was written".into(),
                        owner,
                    ));
                }
                walk.head = hash;
                walk.entries += 1;
                if owner == BreakOwner::Tenant {
                    walk.tenant_entries += 1;
                    walk.tenant_last = Some(hash);
                }
                expected += 1;
            }
            if n < PAGE as usize {
                break;
            }
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("reading the audit head"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("reading the audit trail"))?;
        let Some(head) = head else {
            return Ok(broke(
                walk,
                expected,
                "the audit head row is missing".into(),
                BreakOwner::Elsewhere,
            ));
        };
        let head_seq = head.get::<i64, _>(0) as u64;
        let head_hash: Vec<u8> = head.get(1);
        let entries = walk.entries;
        if head_seq != entries {
            return Ok(broke(
                walk,
                entries + 1,
                format!(
                    "the trail ends at entry {entries} but {head_seq} were written: entries after {entries} were removed"
                ),
                BreakOwner::Elsewhere,
            ));
        }
        if head_hash != walk.head {
            return Ok(broke(
                walk,
                entries,
                "the last entry does not match the recorded head".into(),
                BreakOwner::Elsewhere,
            ));
        }
        Ok(walk)
    }
}

fn event_from_row(row: &sqlx::any::AnyRow) -> Result<AuditEvent> {
    let hash: Vec<u8> = row.get(7);
    let seq = row.get::<i64, _>(0) as u64;
    Ok(AuditEvent {
        seq,
        at: row.get(1),
        actor: row.get(2),
        action: row.get(3),
        tenant: row.get(4),
        target: row.get(5),
        detail: row.get(6),
        hash: hash.try_into().map_err(|_| StoreError::Corrupt {
            what: format!("audit entry {seq}"),
            detail: "hash is not 32 bytes".into(),
        })?,
    })
}

//! Calls and their segments. A segment is stored (and durable) when `append_segment` returns:
//! its redacted text and its words/spans are sealed under the call's data key, which is
//! sealed under the tenant's current key-encryption key. Reading a transcript or exporting a
//! tenant decrypts in memory only and is audited.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;

use super::apikeys::ApiKeyInfo;
use super::audit::{self, Actor, AuditEvent};
use super::crypto::{self, Aad, Purpose, SecretKey};
use super::sql::Tx;
use super::tenants::Tenant;
use super::vault::VaultKey;
use super::{Result, Store, StoreError};
use crate::asr::Word;
use crate::redact::Span;
use crate::transcript::{Transcript, TranscriptSegment};

/// Version of a call's data key bound into its blobs. Data keys are never replaced in place:
/// rotating a tenant key re-wraps them, which leaves the blobs untouched.
pub(crate) const DATA_KEY_VERSION: u32 = 1;

/// A call to be stored.
#[derive(Debug, Clone)]
pub struct NewCall {
    /// The provider's id of the call (Twilio callSid, the batch file's call id …). Sealed;
    /// found again through a keyed hash.
    pub external_id: String,
    /// `file`, `twilio`, …
    pub provider: String,
    /// Speaker labels of the tracks (`caller`, `agent`, `unknown`).
    pub tracks: Vec<String>,
    pub started_at: i64,
}

/// A final segment handed to the store: only ever redacted output.
#[derive(Debug, Clone)]
pub struct NewSegment<'a> {
    /// Position in the call, from 0.
    pub seq: u64,
    pub segment: &'a TranscriptSegment,
}

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallStatus {
    /// Segments are still arriving (or the writer stopped before finishing it).
    Open,
    Complete,
    /// The call did not end by itself: its connection dropped or broke the protocol, the
    /// server shut down, or the server stopped without closing it (marked on recovery).
    /// Every final stored before stays stored.
    Interrupted,
    /// The server could not keep the call: its finals could not be stored (the store was
    /// unavailable past the bound).
    Failed,
}

impl CallStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CallStatus::Open => "open",
            CallStatus::Complete => "complete",
            CallStatus::Interrupted => "interrupted",
            CallStatus::Failed => "failed",
        }
    }
    fn parse(s: &str) -> Option<CallStatus> {
        [
            CallStatus::Open,
            CallStatus::Complete,
            CallStatus::Interrupted,
            CallStatus::Failed,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// A call as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallInfo {
    pub id: String,
    pub external_id: String,
    pub provider: String,
    pub tracks: Vec<String>,
    pub status: CallStatus,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub segments: u64,
}

/// Which calls a page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallState {
    #[default]
    All,
    /// Still open (segments may arrive).
    Live,
    /// Complete or failed.
    Ended,
}

/// A page of a tenant's calls, newest first.
#[derive(Debug, Clone, Default)]
pub struct CallQuery {
    pub state: CallState,
    /// Calls started at or after (unix seconds).
    pub since: Option<i64>,
    /// Calls started at or before (unix seconds).
    pub until: Option<i64>,
    /// Continue after this call (the previous page's `next`).
    pub after: Option<(i64, String)>,
    /// At most this many (1–200).
    pub limit: u32,
}

/// One page and where the next one starts.
#[derive(Debug, Clone, Serialize)]
pub struct CallPage {
    pub calls: Vec<CallInfo>,
    #[serde(skip)]
    pub next: Option<(i64, String)>,
}

/// Everything a tenant has (a data-subject access export).
#[derive(Debug, Clone, Serialize)]
pub struct TenantExport {
    pub tenant: Tenant,
    pub exported_at: i64,
    pub calls: Vec<ExportedCall>,
    pub api_keys: Vec<ApiKeyInfo>,
    pub audit: Vec<AuditEvent>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportedCall {
    #[serde(flatten)]
    pub info: CallInfo,
    pub transcript: Transcript,
}

/// The words and spans of a segment, sealed as one JSON blob.
#[derive(Serialize, Deserialize)]
struct SegmentDetail {
    words: Vec<Word>,
    redactions: Vec<Span>,
}

pub(crate) fn data_key_aad<'a>(tenant: &'a str, call: &'a str, kek_version: u32) -> Aad<'a> {
    Aad {
        purpose: Purpose::CallDataKey,
        tenant,
        call,
        seq: 0,
        key_version: kek_version,
    }
}

pub(crate) fn segment_aad<'a>(
    purpose: Purpose,
    tenant: &'a str,
    call: &'a str,
    seq: u64,
    key_version: u32,
) -> Aad<'a> {
    Aad {
        purpose,
        tenant,
        call,
        seq,
        key_version,
    }
}

fn external_aad<'a>(tenant: &'a str, call: &'a str) -> Aad<'a> {
    Aad {
        purpose: Purpose::CallExternalId,
        tenant,
        call,
        seq: 0,
        key_version: DATA_KEY_VERSION,
    }
}

fn external_ref(index: &SecretKey, external_id: &str) -> Vec<u8> {
    index
        .mac(&[b"external-id", external_id.as_bytes()])
        .to_vec()
}

fn ms(secs: f32) -> i64 {
    (secs as f64 * 1000.0).round() as i64
}

/// A segment row, still sealed.
pub(crate) struct SealedSegment {
    pub seq: u64,
    pub speaker: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub policy_version: u32,
    pub key_version: u32,
    pub text: Vec<u8>,
    pub detail: Vec<u8>,
}

/// Seals a segment's text and detail under the call's data key.
pub(crate) fn seal_segment(
    dek: &SecretKey,
    tenant: &str,
    call: &str,
    seq: u64,
    seg: &TranscriptSegment,
) -> (Vec<u8>, Vec<u8>) {
    let detail = serde_json::to_vec(&SegmentDetail {
        words: seg.words.clone(),
        redactions: seg.redactions.clone(),
    })
    .expect("words and spans serialise");
    let detail = zeroize::Zeroizing::new(detail);
    (
        crypto::seal(
            dek,
            &segment_aad(Purpose::SegmentText, tenant, call, seq, DATA_KEY_VERSION),
            seg.text.as_bytes(),
        ),
        crypto::seal(
            dek,
            &segment_aad(Purpose::SegmentDetail, tenant, call, seq, DATA_KEY_VERSION),
            &detail,
        ),
    )
}

/// Opens a sealed segment into an output segment.
pub(crate) fn open_segment(
    dek: &SecretKey,
    tenant: &str,
    call: &str,
    s: &SealedSegment,
) -> Result<TranscriptSegment> {
    let what = |part: &str| {
        format!(
            "the {part} of segment {} of call {call} (tenant {tenant})",
            s.seq
        )
    };
    let text = crypto::open(
        dek,
        &segment_aad(Purpose::SegmentText, tenant, call, s.seq, s.key_version),
        &s.text,
    )
    .map_err(|source| StoreError::Decrypt {
        what: what("text"),
        source,
    })?;
    let detail = crypto::open(
        dek,
        &segment_aad(Purpose::SegmentDetail, tenant, call, s.seq, s.key_version),
        &s.detail,
    )
    .map_err(|source| StoreError::Decrypt {
        what: what("words"),
        source,
    })?;
    let text = String::from_utf8(text.to_vec()).map_err(|_| StoreError::Corrupt {
        what: what("text"),
        detail: "not UTF-8".into(),
    })?;
    let detail: SegmentDetail =
        serde_json::from_slice(&detail).map_err(|e| StoreError::Corrupt {
            what: what("words"),
            detail: e.to_string(),
        })?;
    Ok(TranscriptSegment {
        start: s.start_ms as f32 / 1000.0,
        end: s.end_ms as f32 / 1000.0,
        speaker: s.speaker.clone(),
        text,
        words: detail.words,
        redactions: detail.redactions,
        policy_version: s.policy_version,
    })
}

impl Store {
    /// Creates a call with a fresh data key; returns callscribe's call id.
    pub async fn create_call(&self, actor: &Actor, tenant: &str, call: &NewCall) -> Result<String> {
        if call.tracks.is_empty() || call.tracks.iter().any(|t| t.is_empty() || t.contains(',')) {
            return Err(StoreError::Invalid(
                "a call needs at least one track label, without commas".into(),
            ));
        }
        if call.external_id.is_empty() {
            return Err(StoreError::Invalid(
                "a call needs the provider's call id".into(),
            ));
        }
        let id = crate::sys::random_id("c_");
        let dek = SecretKey::generate();
        let mut tx = self.db.scoped(tenant).await?;
        let index = self.index_key(&mut tx, tenant).await?;
        let (kek_version, kek) = self.current_kek(&mut tx, tenant).await?;
        // the key first: a call row never exists without its key unless it was deleted
        let wrapped = crypto::wrap(&kek, &data_key_aad(tenant, &id, kek_version), &dek);
        self.vault
            .put(
                tenant,
                &VaultKey {
                    call: id.clone(),
                    kek_version,
                    wrapped,
                },
            )
            .await?;
        let stored = async {
            sqlx::query(
                "INSERT INTO calls (id, tenant_id, external_ref, external_id, provider, tracks, status, started_at, created_at, node_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&id)
            .bind(tenant)
            .bind(external_ref(&index, &call.external_id))
            .bind(crypto::seal(&dek, &external_aad(tenant, &id), call.external_id.as_bytes()))
            .bind(&call.provider)
            .bind(call.tracks.join(","))
            .bind(CallStatus::Open.as_str())
            .bind(call.started_at)
            .bind(crate::sys::now())
            .bind(self.node.get())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("creating a call"))?;
            audit::append(&mut tx, actor, "call.create", Some(tenant), Some(&id), json!({"provider": call.provider})).await?;
            tx.commit().await.map_err(StoreError::db("creating a call"))
        }
        .await;
        if let Err(e) = stored {
            if let Err(e2) = self.vault.destroy(tenant, &id).await {
                tracing::warn!(call = %id, error = %e2, "could not remove the key of a call that was not created");
            }
            return Err(e);
        }
        Ok(id)
    }

    /// Stores one final segment. When this returns the segment is committed to disk (SQLite
    /// `synchronous=FULL`, PostgreSQL commit) and survives a crash of the process.
    pub async fn append_segment(
        &self,
        actor: &Actor,
        tenant: &str,
        call: &str,
        seg: NewSegment<'_>,
    ) -> Result<()> {
        let s = seg.segment;
        if !(s.start.is_finite() && s.end.is_finite()) || s.end < s.start || s.start < 0.0 {
            return Err(StoreError::Invalid(format!(
                "segment {} of call {call} has invalid times",
                seg.seq
            )));
        }
        let mut tx = self.db.scoped(tenant).await?;
        let dek = self.call_data_key(&mut tx, tenant, call).await?;
        let exists = sqlx::query(
            "SELECT 1 FROM segments WHERE call_id = $1 AND seq = $2 AND tenant_id = $3",
        )
        .bind(call)
        .bind(seg.seq as i64)
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::db("storing a segment"))?;
        if exists.is_some() {
            return Err(StoreError::DuplicateSegment {
                call: call.to_string(),
                seq: seg.seq,
            });
        }
        let (text, detail) = seal_segment(&dek, tenant, call, seg.seq, s);
        sqlx::query(
            "INSERT INTO segments (call_id, tenant_id, seq, speaker, start_ms, end_ms, policy_version, key_version, text, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(call)
        .bind(tenant)
        .bind(seg.seq as i64)
        .bind(&s.speaker)
        .bind(ms(s.start))
        .bind(ms(s.end))
        .bind(s.policy_version as i64)
        .bind(DATA_KEY_VERSION as i64)
        .bind(text)
        .bind(detail)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("storing a segment"))?;
        audit::append(
            &mut tx,
            actor,
            "segment.store",
            Some(tenant),
            Some(call),
            json!({"seq": seg.seq}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(StoreError::db("storing a segment"))
    }

    /// Marks a call complete or failed.
    pub async fn finish_call(
        &self,
        actor: &Actor,
        tenant: &str,
        call: &str,
        status: CallStatus,
        ended_at: i64,
    ) -> Result<()> {
        let mut tx = self.db.scoped(tenant).await?;
        let n = sqlx::query(
            "UPDATE calls SET status = $1, ended_at = $2 WHERE id = $3 AND tenant_id = $4",
        )
        .bind(status.as_str())
        .bind(ended_at)
        .bind(call)
        .bind(tenant)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("finishing a call"))?
        .rows_affected();
        if n == 0 {
            return Err(StoreError::CallNotFound {
                call: call.to_string(),
                tenant: tenant.to_string(),
            });
        }
        audit::append(
            &mut tx,
            actor,
            "call.finish",
            Some(tenant),
            Some(call),
            json!({"status": status.as_str()}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(StoreError::db("finishing a call"))
    }

    /// Resolves CALL (callscribe's id or the provider's) to callscribe's id within `tenant`.
    pub async fn find_call(&self, tenant: &str, call: &str) -> Result<String> {
        let mut tx = self.db.scoped_read(tenant).await?;
        let direct = sqlx::query("SELECT id FROM calls WHERE id = $1 AND tenant_id = $2")
            .bind(call)
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await
            .map_err(StoreError::db("looking up a call"))?;
        if let Some(r) = direct {
            return Ok(r.get(0));
        }
        let index = self.index_key(&mut tx, tenant).await?;
        let rows = sqlx::query("SELECT id FROM calls WHERE tenant_id = $1 AND external_ref = $2 ORDER BY started_at, id")
            .bind(tenant)
            .bind(external_ref(&index, call))
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db("looking up a call"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("looking up a call"))?;
        let mut ids: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        match ids.len() {
            0 => Err(StoreError::CallNotFound {
                call: call.to_string(),
                tenant: tenant.to_string(),
            }),
            1 => Ok(ids.remove(0)),
            _ => Err(StoreError::AmbiguousCall {
                call: call.to_string(),
                tenant: tenant.to_string(),
                candidates: ids,
            }),
        }
    }

    /// Lists a tenant's calls, newest first (audited: `calls.list`). Read without the write
    /// lock; the audit entry is written after the read and before anything is returned.
    pub async fn list_calls(&self, actor: &Actor, tenant: &str) -> Result<Vec<CallInfo>> {
        let mut tx = self.db.scoped_read(tenant).await?;
        let ids = call_ids(&mut tx, tenant, true, "listing calls").await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in &ids {
            out.extend(self.listed_call_info(&mut tx, tenant, id).await?);
        }
        tx.commit().await.map_err(StoreError::db("listing calls"))?;
        self.audit(
            actor,
            "calls.list",
            Some(tenant),
            None,
            json!({"calls": out.len()}),
        )
        .await?;
        Ok(out)
    }

    /// A page of a tenant's calls, newest first (audited: `calls.list`; read as
    /// [`Store::list_calls`]).
    pub async fn list_calls_page(
        &self,
        actor: &Actor,
        tenant: &str,
        q: &CallQuery,
    ) -> Result<CallPage> {
        let limit = q.limit.clamp(1, 200);
        let statuses = match q.state {
            CallState::All => ["open", "complete", "interrupted", "failed"],
            CallState::Live => ["open", "open", "open", "open"],
            CallState::Ended => ["complete", "interrupted", "failed", "failed"],
        };
        let (after_t, after_id) = q.after.clone().unwrap_or((i64::MAX, String::new()));
        let mut tx = self.db.scoped_read(tenant).await?;
        let ids: Vec<(String, i64)> = sqlx::query(
            "SELECT id, started_at FROM calls WHERE tenant_id = $1 AND started_at >= $2 AND started_at <= $3 \
             AND status IN ($4, $5, $6, $7) AND (started_at < $8 OR (started_at = $8 AND id > $9)) \
             ORDER BY started_at DESC, id LIMIT $10",
        )
        .bind(tenant)
        .bind(q.since.unwrap_or(i64::MIN))
        .bind(q.until.unwrap_or(i64::MAX))
        .bind(statuses[0])
        .bind(statuses[1])
        .bind(statuses[2])
        .bind(statuses[3])
        .bind(after_t)
        .bind(after_id)
        .bind(limit as i64 + 1)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::db("listing calls"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
        let more = ids.len() > limit as usize;
        let mut calls = Vec::with_capacity(ids.len().min(limit as usize));
        for (id, _) in ids.iter().take(limit as usize) {
            calls.extend(self.listed_call_info(&mut tx, tenant, id).await?);
        }
        let next = more
            .then(|| ids.get(limit as usize - 1).map(|(id, t)| (*t, id.clone())))
            .flatten();
        tx.commit().await.map_err(StoreError::db("listing calls"))?;
        self.audit(
            actor,
            "calls.list",
            Some(tenant),
            None,
            json!({"calls": calls.len()}),
        )
        .await?;
        Ok(CallPage { calls, next })
    }

    /// A call's details and transcript, decrypted (audited: `transcript.read`). Read without
    /// the write lock; the audit entry is written after the read and before anything is
    /// returned.
    pub async fn transcript(
        &self,
        actor: &Actor,
        tenant: &str,
        call: &str,
    ) -> Result<(CallInfo, Transcript)> {
        let mut tx = self.db.scoped_read(tenant).await?;
        let info = self.call_info(&mut tx, tenant, call).await?;
        let transcript = self.read_transcript(&mut tx, tenant, &info).await?;
        tx.commit()
            .await
            .map_err(StoreError::db("reading a transcript"))?;
        self.audit(
            actor,
            "transcript.read",
            Some(tenant),
            Some(call),
            json!({"segments": transcript.segments.len()}),
        )
        .await?;
        Ok((info, transcript))
    }

    /// Deletes a call by crypto-shredding: its data key is destroyed, then its segments and
    /// row (one transaction), and on SQLite the write-ahead log is checkpointed so the old
    /// pages do not linger.
    pub async fn delete_call(&self, actor: &Actor, tenant: &str, call: &str) -> Result<()> {
        let mut tx = self.db.scoped(tenant).await?;
        self.shred_call(&mut tx, tenant, call).await?;
        audit::append(
            &mut tx,
            actor,
            "call.delete",
            Some(tenant),
            Some(call),
            json!({}),
        )
        .await?;
        tx.commit()
            .await
            .map_err(StoreError::db("deleting a call"))?;
        self.db.checkpoint().await;
        Ok(())
    }

    /// Destroys the call's data key in the vault (committed at once), then deletes its
    /// segments and row in `tx`. Should `tx` fail, the call stays listed but can no longer be
    /// opened (`CallShredded`), and deleting it again finishes the job.
    pub(crate) async fn shred_call(&self, tx: &mut Tx, tenant: &str, call: &str) -> Result<()> {
        self.ensure_call(tx, tenant, call).await?;
        self.vault.destroy(tenant, call).await?;
        for (what, sql) in [
            (
                "deleting a call's segments",
                "DELETE FROM segments WHERE call_id = $1 AND tenant_id = $2",
            ),
            (
                "deleting a call",
                "DELETE FROM calls WHERE id = $1 AND tenant_id = $2",
            ),
        ] {
            sqlx::query(sql)
                .bind(call)
                .bind(tenant)
                .execute(&mut **tx)
                .await
                .map_err(StoreError::db(what))?;
        }
        Ok(())
    }

    /// `CallNotFound` unless the tenant has the call.
    async fn ensure_call(&self, tx: &mut Tx, tenant: &str, call: &str) -> Result<()> {
        sqlx::query("SELECT 1 FROM calls WHERE id = $1 AND tenant_id = $2")
            .bind(call)
            .bind(tenant)
            .fetch_optional(&mut **tx)
            .await
            .map_err(StoreError::db("reading a call"))?
            .map(|_| ())
            .ok_or_else(|| StoreError::CallNotFound {
                call: call.to_string(),
                tenant: tenant.to_string(),
            })
    }

    /// Everything the tenant has, decrypted, as one document (audited: `export`). The calls are
    /// read without the write lock (an export can be long); the audit entry is written after
    /// the read and before anything is returned.
    pub async fn export_tenant(&self, actor: &Actor, tenant: &str) -> Result<TenantExport> {
        let t = self.tenant(tenant).await?;
        let api_keys = self.list_api_keys(tenant).await?;
        let mut audit_events = Vec::new();
        let mut after = 0;
        loop {
            let page = self.audit_events(Some(tenant), after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            audit_events.extend(page);
        }
        let mut tx = self.db.scoped_read(tenant).await?;
        let ids = call_ids(&mut tx, tenant, false, "exporting calls").await?;
        let mut calls = Vec::with_capacity(ids.len());
        for id in &ids {
            let Some(info) = self.listed_call_info(&mut tx, tenant, id).await? else {
                continue;
            };
            let transcript = self.read_transcript(&mut tx, tenant, &info).await?;
            calls.push(ExportedCall { info, transcript });
        }
        tx.commit().await.map_err(StoreError::db("exporting"))?;
        self.audit(
            actor,
            "export",
            Some(tenant),
            None,
            json!({"calls": calls.len()}),
        )
        .await?;
        Ok(TenantExport {
            tenant: t,
            exported_at: crate::sys::now(),
            calls,
            api_keys,
            audit: audit_events,
        })
    }

    /// Unwraps a call's data key (from the vault, under the tenant key).
    pub(crate) async fn call_data_key(
        &self,
        tx: &mut Tx,
        tenant: &str,
        call: &str,
    ) -> Result<SecretKey> {
        self.ensure_call(tx, tenant, call).await?;
        self.vault_data_key(tx, tenant, call).await
    }

    /// The same for a call already known to exist in the tenant.
    async fn vault_data_key(&self, tx: &mut Tx, tenant: &str, call: &str) -> Result<SecretKey> {
        let Some(key) = self.vault.get(tenant, call).await? else {
            return Err(StoreError::CallShredded {
                call: call.to_string(),
                tenant: tenant.to_string(),
            });
        };
        let kek = self.tenant_kek(tx, tenant, key.kek_version).await?;
        crypto::unwrap(
            &kek,
            &data_key_aad(tenant, call, key.kek_version),
            &key.wrapped,
        )
        .map_err(|source| StoreError::Decrypt {
            what: format!("the data key of call {call} (tenant {tenant})"),
            source,
        })
    }

    /// A call's info for a listing: `None` for a call whose data key is destroyed (a deletion
    /// interrupted after the key went, or a copy of the database restored after it): it is
    /// deleted as far as anyone can tell, and must not make the whole listing fail.
    async fn listed_call_info(
        &self,
        tx: &mut Tx,
        tenant: &str,
        call: &str,
    ) -> Result<Option<CallInfo>> {
        match self.call_info(tx, tenant, call).await {
            Ok(info) => Ok(Some(info)),
            Err(StoreError::CallShredded { .. }) => {
                tracing::warn!(
                    call,
                    tenant,
                    "call listed without its data key (deleted); delete it again to remove its rows"
                );
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn call_info(&self, tx: &mut Tx, tenant: &str, call: &str) -> Result<CallInfo> {
        let row = sqlx::query(
            "SELECT c.external_id, c.provider, c.tracks, c.status, c.started_at, c.ended_at, \
             (SELECT COUNT(*) FROM segments s WHERE s.call_id = c.id AND s.tenant_id = c.tenant_id) \
             FROM calls c WHERE c.id = $1 AND c.tenant_id = $2",
        )
        .bind(call)
        .bind(tenant)
        .fetch_optional(&mut **tx)
        .await
        .map_err(StoreError::db("reading a call"))?
        .ok_or_else(|| StoreError::CallNotFound { call: call.to_string(), tenant: tenant.to_string() })?;
        let dek = self.vault_data_key(tx, tenant, call).await?;
        let sealed_ext: Vec<u8> = row.get(0);
        let ext =
            crypto::open(&dek, &external_aad(tenant, call), &sealed_ext).map_err(|source| {
                StoreError::Decrypt {
                    what: format!("the provider id of call {call} (tenant {tenant})"),
                    source,
                }
            })?;
        let status: String = row.get(3);
        let tracks: String = row.get(2);
        Ok(CallInfo {
            id: call.to_string(),
            external_id: String::from_utf8(ext.to_vec()).map_err(|_| StoreError::Corrupt {
                what: format!("call {call}"),
                detail: "provider id is not UTF-8".into(),
            })?,
            provider: row.get(1),
            tracks: tracks.split(',').map(str::to_string).collect(),
            status: CallStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
                what: format!("call {call}"),
                detail: format!("unknown status {status:?}"),
            })?,
            started_at: row.get(4),
            ended_at: row.get(5),
            segments: row.get::<i64, _>(6) as u64,
        })
    }

    pub(crate) async fn sealed_segments(
        &self,
        tx: &mut Tx,
        tenant: &str,
        call: &str,
    ) -> Result<Vec<SealedSegment>> {
        let rows = sqlx::query(
            "SELECT seq, speaker, start_ms, end_ms, policy_version, key_version, text, detail FROM segments \
             WHERE call_id = $1 AND tenant_id = $2 ORDER BY seq",
        )
        .bind(call)
        .bind(tenant)
        .fetch_all(&mut **tx)
        .await
        .map_err(StoreError::db("reading segments"))?;
        Ok(rows
            .iter()
            .map(|r| SealedSegment {
                seq: r.get::<i64, _>(0) as u64,
                speaker: r.get(1),
                start_ms: r.get(2),
                end_ms: r.get(3),
                policy_version: r.get::<i64, _>(4) as u32,
                key_version: r.get::<i64, _>(5) as u32,
                text: r.get(6),
                detail: r.get(7),
            })
            .collect())
    }

    async fn read_transcript(
        &self,
        tx: &mut Tx,
        tenant: &str,
        info: &CallInfo,
    ) -> Result<Transcript> {
        let dek = self.call_data_key(tx, tenant, &info.id).await?;
        let sealed = self.sealed_segments(tx, tenant, &info.id).await?;
        let segments = sealed
            .iter()
            .map(|s| open_segment(&dek, tenant, &info.id, s))
            .collect::<Result<Vec<_>>>()?;
        Ok(Transcript {
            call_id: info.external_id.clone(),
            segments,
        })
    }
}

/// A tenant's call ids by start time (newest first or oldest first).
async fn call_ids(
    tx: &mut Tx,
    tenant: &str,
    newest_first: bool,
    doing: &'static str,
) -> Result<Vec<String>> {
    let sql = if newest_first {
        "SELECT id FROM calls WHERE tenant_id = $1 ORDER BY started_at DESC, id"
    } else {
        "SELECT id FROM calls WHERE tenant_id = $1 ORDER BY started_at, id"
    };
    Ok(sqlx::query(sql)
        .bind(tenant)
        .fetch_all(&mut **tx)
        .await
        .map_err(StoreError::db(doing))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

//! Retention: calls older than their tenant's retention period are crypto-shredded (data key
//! destroyed, then rows), by `callscribe purge` and periodically by [`run_periodic_purge`].

use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use super::audit::{self, Actor};
use super::{Result, Store, StoreError};

/// What a purge removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    pub tenants: u64,
    pub calls: u64,
    /// Browser sessions that ended (expired or signed out) more than a day before.
    pub sessions: u64,
}

/// Ended browser sessions are kept this long (for a support question about a sign-out), then
/// deleted by the purge.
const ENDED_SESSIONS_KEPT_S: i64 = 86_400;

impl Store {
    /// Shreds every call whose start is older than its tenant's retention period at time
    /// `now` (unix seconds). One transaction per call: an interrupted purge resumes next time.
    pub async fn purge_expired(&self, actor: &Actor, now: i64) -> Result<PurgeReport> {
        let mut report = PurgeReport::default();
        for t in self.list_tenants().await? {
            let cutoff = now - t.retention_days as i64 * 86_400;
            let mut tx = self.db.scoped(&t.id).await?;
            let ids: Vec<String> = sqlx::query(
                "SELECT id FROM calls WHERE tenant_id = $1 AND started_at < $2 ORDER BY started_at",
            )
            .bind(&t.id)
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::db("finding expired calls"))?
            .iter()
            .map(|r| r.get(0))
            .collect();
            let ended = now - ENDED_SESSIONS_KEPT_S;
            let sessions = sqlx::query("DELETE FROM web_sessions WHERE tenant_id = $1 AND (expires_at < $2 OR revoked_at < $2)")
                .bind(&t.id)
                .bind(ended)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::db("deleting ended sessions"))?
                .rows_affected();
            report.sessions += sessions;
            tx.commit()
                .await
                .map_err(StoreError::db("finding expired calls"))?;
            for id in &ids {
                let mut tx = self.db.scoped(&t.id).await?;
                self.shred_call(&mut tx, &t.id, id).await?;
                audit::append(
                    &mut tx,
                    actor,
                    "call.purge",
                    Some(&t.id),
                    Some(id),
                    json!({"retention_days": t.retention_days}),
                )
                .await?;
                tx.commit()
                    .await
                    .map_err(StoreError::db("purging a call"))?;
            }
            if !ids.is_empty() {
                report.tenants += 1;
                report.calls += ids.len() as u64;
            }
        }
        self.audit(
            actor,
            "purge",
            None,
            None,
            json!({"tenants": report.tenants, "calls": report.calls, "sessions": report.sessions}),
        )
        .await?;
        self.db.checkpoint().await;
        Ok(report)
    }
}

/// Runs [`Store::purge_expired`] every `every` until `shutdown` resolves (for `serve`). A failed
/// purge is logged and retried at the next tick.
pub async fn run_periodic_purge(
    store: &Store,
    every: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        match store
            .purge_expired(&Actor::System("retention"), crate::sys::now())
            .await
        {
            Ok(r) if r.calls > 0 => {
                tracing::info!(calls = r.calls, tenants = r.tenants, "retention purge")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "retention purge failed; retrying at the next interval")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = &mut shutdown => return,
        }
    }
}

//! Which server holds each live call. A `serve` registers itself as a node, records its node
//! on every call it creates, and writes a heartbeat; calls left `open` by a node that stopped
//! without closing them (killed, crashed, lost its machine) are marked `interrupted` — by the
//! same node when it restarts under its id, or by any node once the dead one's heartbeat is
//! stale. Every call so marked is audited (`call.interrupt`). Only ownership and times are
//! written here: never text.

use serde_json::json;
use sqlx::Row;

use super::audit::{self, Actor};
use super::sql::Backend;
use super::{CallStatus, Result, Store, StoreError};

/// A call marked `interrupted` by recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterruptedCall {
    pub tenant: String,
    pub call: String,
    /// The node that held it.
    pub node: String,
}

/// Which open calls a recovery pass takes.
enum Orphans<'a> {
    /// Every open call of this node (it is restarting: none of them can still be held).
    Of(&'a str),
    /// Open calls of nodes whose last heartbeat is older than this (unix seconds).
    StaleBefore(i64),
}

impl Store {
    /// Registers this server as node `id` (recorded on the calls it creates from now on) and
    /// marks `interrupted` the calls an earlier process under the same id left open. Call once,
    /// before taking calls; the id must not be used by another running server.
    pub async fn register_node(&self, id: &str) -> Result<Vec<InterruptedCall>> {
        if self.node.get().is_some_and(|n| n != id) {
            return Err(StoreError::Invalid(format!(
                "this store already serves as node {}",
                self.node.get().map_or("", |s| s.as_str())
            )));
        }
        let _ = self.node.set(id.to_string());
        let now = crate::sys::now();
        let mut tx = self.db.global().await?;
        sqlx::query(
            "INSERT INTO nodes (id, started_at, heartbeat_at) VALUES ($1, $2, $2) \
             ON CONFLICT (id) DO UPDATE SET started_at = $2, heartbeat_at = $2",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("registering this node"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("registering this node"))?;
        self.interrupt_orphans(Orphans::Of(id)).await
    }

    /// This server's node id, once registered.
    pub fn node(&self) -> Option<&str> {
        self.node.get().map(String::as_str)
    }

    /// Records that this node is alive (a write: it also proves the store takes writes).
    pub async fn heartbeat(&self) -> Result<()> {
        let Some(id) = self.node.get() else {
            return Ok(());
        };
        let now = crate::sys::now();
        let mut tx = self.db.global().await?;
        sqlx::query(
            "INSERT INTO nodes (id, started_at, heartbeat_at) VALUES ($1, $2, $2) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = $2",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::db("writing this node's heartbeat"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("writing this node's heartbeat"))
    }

    /// Marks `interrupted` the open calls of every node whose heartbeat is older than
    /// `stale_s` seconds (they stopped without closing them).
    pub async fn interrupt_calls_of_dead_nodes(
        &self,
        stale_s: u64,
    ) -> Result<Vec<InterruptedCall>> {
        let before = crate::sys::now() - stale_s as i64;
        self.interrupt_orphans(Orphans::StaleBefore(before)).await
    }

    /// Removes this node (a clean shutdown, after every call was closed).
    pub async fn deregister_node(&self) -> Result<()> {
        let Some(id) = self.node.get() else {
            return Ok(());
        };
        let mut tx = self.db.global().await?;
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::db("removing this node"))?;
        tx.commit()
            .await
            .map_err(StoreError::db("removing this node"))
    }

    async fn interrupt_orphans(&self, which: Orphans<'_>) -> Result<Vec<InterruptedCall>> {
        let what = "marking the calls of a stopped server interrupted";
        let now = crate::sys::now();
        let (only, stale_before) = match which {
            Orphans::Of(id) => (Some(id), i64::MIN),
            Orphans::StaleBefore(t) => (None, t),
        };
        let mut tx = self.db.global().await?;
        let rows = match self.db.backend {
            // row-level security hides calls outside a tenant: a function running as the
            // owner finds and marks them
            Backend::Postgres => {
                sqlx::query("SELECT tenant_id, id, node_id FROM interrupt_orphaned_calls($1, $2, $3)")
                    .bind(only)
                    .bind(stale_before)
                    .bind(now)
                    .fetch_all(&mut *tx)
                    .await
            }
            Backend::Sqlite => {
                sqlx::query(
                    "UPDATE calls SET status = $1, ended_at = $2 \
                     WHERE status = $3 AND node_id IS NOT NULL \
                       AND (node_id = $4 OR ($4 IS NULL AND NOT EXISTS \
                            (SELECT 1 FROM nodes n WHERE n.id = calls.node_id AND n.heartbeat_at >= $5))) \
                     RETURNING tenant_id, id, node_id",
                )
                .bind(CallStatus::Interrupted.as_str())
                .bind(now)
                .bind(CallStatus::Open.as_str())
                .bind(only)
                .bind(stale_before)
                .fetch_all(&mut *tx)
                .await
            }
        }
        .map_err(StoreError::db(what))?;
        let calls: Vec<InterruptedCall> = rows
            .iter()
            .map(|r| InterruptedCall {
                tenant: r.get(0),
                call: r.get(1),
                node: r.get(2),
            })
            .collect();
        for c in &calls {
            audit::append(
                &mut tx,
                &Actor::System("recovery"),
                "call.interrupt",
                Some(&c.tenant),
                Some(&c.call),
                json!({"node": c.node, "reason": "the server holding the call stopped without closing it"}),
            )
            .await?;
        }
        tx.commit().await.map_err(StoreError::db(what))?;
        Ok(calls)
    }
}

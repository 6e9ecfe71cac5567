//! The server's standing duties toward the store while it serves: it registers as a node
//! (recovering the calls an earlier process under its id left open), writes a heartbeat every
//! `[live] heartbeat_s` — which is also the probe that tells [`super::StoreHealth`] whether the
//! store takes writes when no call is writing — marks `interrupted` the open calls of servers
//! whose heartbeat went stale, and records the ends of calls that closed while the store was
//! down. It writes no text.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use crate::store::{Actor, CallStatus, InterruptedCall, StoreError};

/// Calls whose end is remembered for a retry at most; past it the oldest is left to recovery
/// (the call stays `open` until this server restarts, or dies and another marks it).
const MAX_UNFINISHED: usize = 10_000;

/// A heartbeat not written within this counts as failed (a store that hangs is down too).
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// While the store is down the heartbeat probes it this often, so that it is seen back soon.
const PROBE_WHEN_DOWN: Duration = Duration::from_secs(1);

/// A call that ended while its end could not be recorded.
#[derive(Debug, Clone)]
pub(crate) struct Unfinished {
    pub actor: Actor,
    pub tenant: String,
    pub call: String,
    pub status: CallStatus,
    pub ended_at: i64,
}

/// This server's default node id: the host's name and the port it listens on (no two running
/// servers on one host can share a port).
pub fn default_node_id(listen: SocketAddr) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", listen.port())
}

fn log_interrupted(calls: &[InterruptedCall], why: &str) {
    for c in calls {
        tracing::warn!(call = %c.call, tenant = %c.tenant, node = %c.node, "call marked interrupted: {why}");
    }
}

impl Engine {
    /// Registers this server as a node of the store (`[live] node_id`, else
    /// [`default_node_id`]) and marks `interrupted` the calls an earlier process under the
    /// same id left open. Returns the node id.
    pub async fn start_node(&self, listen: SocketAddr) -> Result<String, StoreError> {
        let id = self
            .config
            .node_id
            .clone()
            .unwrap_or_else(|| default_node_id(listen));
        let recovered = self.store.register_node(&id).await?;
        log_interrupted(&recovered, "this server stopped earlier without closing it");
        tracing::info!(node = %id, recovered = recovered.len(), "registered as a node of the store");
        Ok(id)
    }

    /// Remembers a call whose end could not be recorded, for the upkeep to retry.
    pub(crate) fn remember_unfinished(&self, u: Unfinished) {
        let mut q = self.unfinished.lock().unwrap_or_else(|e| e.into_inner());
        if q.len() >= MAX_UNFINISHED
            && let Some(old) = q.pop_front()
        {
            tracing::error!(call = %old.call, "too many call ends wait for the store; this one stays open until recovery");
        }
        q.push_back(u);
    }

    /// Calls whose end waits to be recorded.
    pub fn unfinished_count(&self) -> usize {
        self.unfinished
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Records the ends remembered by [`Engine::remember_unfinished`]; stops at the first failure.
    async fn retry_unfinished(&self) {
        loop {
            let next = self
                .unfinished
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .front()
                .cloned();
            let Some(u) = next else { return };
            match self
                .store
                .finish_call(&u.actor, &u.tenant, &u.call, u.status, u.ended_at)
                .await
            {
                Err(e @ StoreError::Database { .. }) => {
                    tracing::warn!(call = %u.call, "cannot record the call's end yet: {e}");
                    return;
                }
                Err(e) => tracing::error!(call = %u.call, "cannot record the call's end: {e}"),
                Ok(()) => {
                    tracing::info!(call = %u.call, "recorded the end of a call that closed while the store was down")
                }
            }
            self.unfinished
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
        }
    }

    /// One round: heartbeat (the write probe), then — if the store took it — the ends of calls
    /// waiting to be recorded and the calls of dead servers.
    async fn upkeep_round(&self) {
        let beat = tokio::time::timeout(HEARTBEAT_TIMEOUT, self.store.heartbeat())
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Invalid(format!(
                    "no answer from the store in {} s",
                    HEARTBEAT_TIMEOUT.as_secs()
                )))
            });
        match beat {
            Ok(()) => self.store_health.probe(Ok(())),
            Err(e) => {
                tracing::warn!("heartbeat not written: {e}");
                self.store_health.probe(Err(&e.to_string()));
                return;
            }
        }
        self.retry_unfinished().await;
        match self
            .store
            .interrupt_calls_of_dead_nodes(self.config.node_dead_after_s)
            .await
        {
            Ok(calls) => log_interrupted(
                &calls,
                "the server holding it stopped (its heartbeat is stale)",
            ),
            Err(e) => tracing::warn!("cannot look for calls of stopped servers: {e}"),
        }
    }

    /// Runs the upkeep until `stop` resolves, then records what ends it still can and
    /// removes this node (a clean stop leaves nothing to recover).
    pub async fn run_upkeep(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        let every = Duration::from_secs(self.config.heartbeat_s);
        tokio::pin!(stop);
        loop {
            self.upkeep_round().await;
            let wait = if self.store_health.down().is_some() {
                PROBE_WHEN_DOWN
            } else {
                every
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = &mut stop => break,
            }
        }
    }

    /// At a clean stop, after every call has closed: records the remaining call ends and
    /// removes this node.
    pub async fn leave_store(&self) {
        self.retry_unfinished().await;
        let left = self.unfinished_count();
        if left > 0 {
            tracing::error!(
                calls = left,
                "stopping with call ends unrecorded: they are marked interrupted when this node restarts"
            );
            return;
        }
        if let Err(e) = self.store.deregister_node().await {
            tracing::warn!("cannot remove this node from the store: {e}");
        }
    }
}

/// Node ids made from listen addresses.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_node_id_is_the_host_and_port() {
        let id = default_node_id("127.0.0.1:8123".parse().unwrap());
        assert!(id.ends_with(":8123"), "{id}");
        assert!(id.len() > ":8123".len(), "{id}");
    }
}

//! Live fan-out of transcript events. Inside one process a broadcast channel per tenant; the
//! [`EventBus`] trait is what a multi-node implementation (NATS) replaces. A subscriber that
//! falls too far behind is told it lagged and is disconnected by its socket task — a slow
//! reader never slows a call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;

use crate::transcript::TranscriptSegment;

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One redaction as subscribers see it: the type and the placeholder's character range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedactionOut {
    #[serde(rename = "type")]
    pub kind: crate::redact::EntityKind,
    pub start: usize,
    pub end: usize,
}

/// The body of an event, serialised with `"type"` as the tag.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    CallStarted {
        call_id: String,
        provider: String,
        tracks: Vec<String>,
        started_at: i64,
    },
    Transcript {
        call_id: String,
        /// Shared by an utterance's interims and its final.
        segment_id: u64,
        /// Finals only: the position in the stored transcript (0, 1, 2 … in the order finals
        /// were emitted) — the cursor a subscriber resumes from.
        #[serde(skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        track: usize,
        speaker: String,
        is_final: bool,
        start_ms: i64,
        end_ms: i64,
        text: String,
        redactions: Vec<RedactionOut>,
        policy_version: u32,
    },
    CallEnded {
        call_id: String,
        status: String,
        ended_at: i64,
        /// Finals stored for the call (every final published was stored).
        segments: u64,
        /// Finals the store did not take (the call then ends `failed`); absent when none.
        #[serde(skip_serializing_if = "is_zero")]
        finals_not_stored: u64,
        /// Interim hypotheses delivered, and those asked for but not delivered (superseded by a
        /// newer one or by the final while waiting for a worker — the load shedding of
        /// interims — or stale or empty when they came back).
        #[serde(skip_serializing_if = "Option::is_none")]
        interims: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        interims_skipped: Option<u64>,
    },
}

/// An event with the tenant it belongs to (never serialised to subscribers).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEvent {
    pub tenant: String,
    pub call_id: String,
    pub body: EventBody,
}

impl LiveEvent {
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.body).expect("events serialise")
    }

    /// The final's seq, if this is a stored final.
    pub fn final_seq(&self) -> Option<u64> {
        match &self.body {
            EventBody::Transcript {
                is_final: true,
                seq,
                ..
            } => *seq,
            _ => None,
        }
    }

    /// A stored segment as a final transcript event (for subscribers catching up).
    pub fn from_stored(
        tenant: &str,
        call_id: &str,
        seq: u64,
        track: usize,
        s: &TranscriptSegment,
    ) -> LiveEvent {
        LiveEvent {
            tenant: tenant.to_string(),
            call_id: call_id.to_string(),
            body: EventBody::Transcript {
                call_id: call_id.to_string(),
                segment_id: u64::MAX,
                seq: Some(seq),
                track,
                speaker: s.speaker.clone(),
                is_final: true,
                start_ms: (s.start * 1000.0).round() as i64,
                end_ms: (s.end * 1000.0).round() as i64,
                text: s.text.clone(),
                redactions: s
                    .redactions
                    .iter()
                    .map(|r| RedactionOut {
                        kind: r.kind,
                        start: r.start,
                        end: r.end,
                    })
                    .collect(),
                policy_version: s.policy_version,
            },
        }
    }
}

/// Fan-out of live events to subscribers of a tenant.
pub trait EventBus: Send + Sync {
    fn publish(&self, event: Arc<LiveEvent>);
    /// Events of `tenant` from now on.
    fn subscribe(&self, tenant: &str) -> broadcast::Receiver<Arc<LiveEvent>>;
}

/// The in-process bus: one broadcast channel per tenant.
pub struct LocalBus {
    capacity: usize,
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<LiveEvent>>>>,
}

impl LocalBus {
    /// `capacity`: events a subscriber may fall behind before it is dropped.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(16),
            channels: Mutex::new(HashMap::new()),
        }
    }
}

impl EventBus for LocalBus {
    fn publish(&self, event: Arc<LiveEvent>) {
        let mut ch = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        let tenant = event.tenant.clone();
        // An error means nobody listens any more: forget the channel.
        if let Some(tx) = ch.get(&tenant)
            && tx.send(event).is_err()
        {
            ch.remove(&tenant);
        }
    }

    fn subscribe(&self, tenant: &str) -> broadcast::Receiver<Arc<LiveEvent>> {
        let mut ch = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        ch.entry(tenant.to_string())
            .or_insert_with(|| broadcast::channel(self.capacity).0)
            .subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(tenant: &str, n: u64) -> Arc<LiveEvent> {
        Arc::new(LiveEvent {
            tenant: tenant.into(),
            call_id: "c".into(),
            body: EventBody::CallEnded {
                call_id: "c".into(),
                status: "complete".into(),
                ended_at: n as i64,
                segments: n,
                finals_not_stored: 0,
                interims: None,
                interims_skipped: None,
            },
        })
    }

    #[tokio::test]
    async fn tenants_only_see_their_own_events() {
        let bus = LocalBus::new(16);
        let mut a = bus.subscribe("t_a");
        let mut b = bus.subscribe("t_b");
        bus.publish(ev("t_a", 1));
        bus.publish(ev("t_b", 2));
        assert_eq!(a.recv().await.unwrap().tenant, "t_a");
        assert!(a.try_recv().is_err());
        assert_eq!(b.recv().await.unwrap().tenant, "t_b");
    }

    #[tokio::test]
    async fn a_slow_subscriber_lags_and_the_publisher_never_waits() {
        let bus = LocalBus::new(16);
        let mut slow = bus.subscribe("t");
        for n in 0..100 {
            bus.publish(ev("t", n)); // never blocks
        }
        assert!(matches!(
            slow.recv().await,
            Err(broadcast::error::RecvError::Lagged(_))
        ));
    }

    #[test]
    fn events_serialise_with_their_type() {
        let json = ev("t", 3).to_json();
        assert!(json.contains("\"type\":\"call_ended\""), "{json}");
        assert!(!json.contains("t_"), "the tenant is not part of the event");
    }
}

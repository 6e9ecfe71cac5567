//! Live calls: the engine behind `callscribe serve`. It owns the worker pool (behind the
//! real-time scheduler), the store, the redactor and the event bus, decides whether a new call
//! can be taken (admission control), and runs each call's pipeline ([`LiveCall`]): reordered
//! frames → G.711/L16 decode → 16 kHz → VAD endpointing → interims and finals through the pool
//! → `redact/` → sealed into the store → published to subscribers.

pub mod call;
pub mod connection;
pub mod hub;
pub mod upkeep;
pub mod writer;

use crate::config::ConfigError;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::asr::scheduler::LoadShed;
use crate::asr::{DecodeOptions, Model, PoolLayout, RtQueue, WhisperPool};
use crate::redact::Redactor;
use crate::segment::VadConfig;
use crate::store::Store;

pub use call::{CallEnd, LiveCall};
pub use hub::{EventBody, EventBus, LiveEvent, LocalBus};
pub use writer::StoreHealth;

/// Tuning of live calls (the `[live]` table of the config file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveConfig {
    /// An interim hypothesis about this often while an utterance is open (0: none).
    pub interim_every_ms: u32,
    /// How long a missing frame is waited for before it is replaced by silence.
    pub reorder_window_ms: u32,
    /// The longest gap in a stream's timeline that is filled with silence (and so processed
    /// like audio). A longer jump is a discontinuity: the open utterance ends and the timeline
    /// moves on with nothing synthesised or analysed. A frame timed further ahead of the wall
    /// clock than `max_audio_ahead_ms` (plus the reorder window and a second) ends the call.
    pub max_gap_fill_ms: u32,
    /// A call that sends no audio for this long is closed (finalised). Pings, marks and other
    /// messages without audio do not count: they cannot hold a call slot open.
    pub idle_timeout_s: u64,
    /// An ingest connection must start its call (a valid key and `start`) within this long of
    /// connecting, or it is closed; nothing sent before `start` extends it.
    pub start_timeout_s: u64,
    /// How far a call's audio may run ahead of the wall clock (ms since its start). A client
    /// sending faster is back-pressured: its socket is not read until real time catches up, so
    /// no call can queue more work than it could have spoken.
    pub max_audio_ahead_ms: u64,
    /// Finals of one call waiting for the pool; past it the call's socket is not read until
    /// one comes back (its backlog stays its own).
    pub max_queued_finals_per_call: usize,
    /// Calls held at once; past it new calls are refused (0: 10 per worker).
    pub max_calls: usize,
    /// Calls one tenant may hold at once (0: no limit below `max_calls`). With several
    /// tenants, set it so that no one tenant can take every slot.
    pub max_calls_per_tenant: usize,
    /// Per-tenant exceptions to `max_calls_per_tenant`, by tenant id (`callscribe tenant
    /// list`): `[live.tenant_max_calls]` then `t_… = 40`.
    pub tenant_max_calls: BTreeMap<String, usize>,
    /// Twilio auth tokens by workspace id or name (`[live.twilio_auth_tokens]`): a Twilio
    /// stream into a workspace listed here must carry a valid `X-Twilio-Signature` on its
    /// upgrade, or its `start` is refused (1008) before any audio is processed.
    pub twilio_auth_tokens: BTreeMap<String, crate::secret::SecretString>,
    /// New calls are refused while a queued final is this late (the pool is behind real time).
    pub max_final_lateness_ms: u64,
    /// Smallest encoder context of a live final, in 20 ms positions (batch uses
    /// `[decode] context_min`, 1000). 0 sizes it to the utterance: a final then takes
    /// about a third of the time, for a little WER (docs/PERFORMANCE.md).
    pub final_context_min: u32,
    /// Encoder positions (20 ms) of trailing silence in an interim's context (finals use
    /// `[decode] context_margin`, 200): interims are provisional, a shorter context is cheaper and
    /// brings the first interim sooner (docs/PERFORMANCE.md).
    pub interim_context_margin: u32,
    /// Workers that may run interims at the same time (0: all but one, at least one). The
    /// others stay free for finals — which also preempt a running interim when every worker is
    /// busy — and leave CPU to the rest of the server.
    pub interim_workers: usize,
    /// Under load — a final waited `final_shed_after_ms` in the queue or has others behind
    /// it — finals are decoded with this trailing context instead of `[decode]
    /// context_margin` (0: never): cheaper, a few tenths of a point of WER.
    pub final_shed_context_margin: u32,
    pub final_shed_after_ms: u64,
    /// The latency a final aims at after its utterance ends (its scheduling deadline).
    pub final_target_ms: u64,
    /// A final held back by the redactor (its tail could begin an identifier) is released
    /// after this long without the speaker going on (and after four times this in any case).
    pub redaction_hold_ms: u64,
    /// Largest WebSocket message accepted.
    pub max_message_bytes: usize,
    /// Events a subscriber may fall behind before it is disconnected.
    pub subscriber_buffer: usize,
    /// Early finals: after this much pause (ms, between the VAD's `pad_ms` and its
    /// `min_silence_ms`) the utterance's final audio goes to the pool at once; the endpoint then
    /// confirms it, or speech resuming takes it back. Same text, the final that much sooner
    /// (0: off).
    pub early_final_ms: u32,
    /// Finals of one call waiting to be stored (the store is slow or down); past it the call
    /// is closed (1011, `failed`) — what was stored stays stored.
    pub max_unstored_finals_per_call: usize,
    /// How long a final may wait for the store (its write retried with back-off) before the
    /// call is closed (1011, `failed`). A store outage shorter than this loses no final.
    pub store_retry_s: u64,
    /// This server's id among the servers sharing a store: recorded on the calls it holds, so
    /// that its calls left open by a crash are marked `interrupted` when it restarts under the
    /// same id (or by another server once its heartbeat is stale). Must be unique among
    /// running servers [default: HOSTNAME:PORT].
    pub node_id: Option<String>,
    /// How often the server writes its heartbeat (which also probes that the store takes
    /// writes) and looks for calls of dead servers.
    pub heartbeat_s: u64,
    /// A server whose heartbeat is older than this is dead: its open calls are marked
    /// `interrupted`. Servers' clocks must agree to well within it.
    pub node_dead_after_s: u64,
    /// Endpointing of live tracks (utterances end at `min_silence_ms` of pause).
    pub vad: VadConfig,
}

impl Default for LiveConfig {
    fn default() -> Self {
        Self {
            interim_every_ms: 1000,
            reorder_window_ms: 200,
            max_gap_fill_ms: 5000,
            idle_timeout_s: 20,
            start_timeout_s: 10,
            max_audio_ahead_ms: 3000,
            max_queued_finals_per_call: 8,
            max_calls: 0,
            max_calls_per_tenant: 0,
            tenant_max_calls: BTreeMap::new(),
            twilio_auth_tokens: BTreeMap::new(),
            max_final_lateness_ms: 3000,
            final_context_min: 0,
            interim_context_margin: 64,
            interim_workers: 0,
            final_shed_context_margin: 128,
            final_shed_after_ms: 150,
            final_target_ms: 800,
            redaction_hold_ms: 1000,
            max_message_bytes: 512 * 1024,
            subscriber_buffer: 1024,
            early_final_ms: 300,
            max_unstored_finals_per_call: 256,
            store_retry_s: 120,
            node_id: None,
            heartbeat_s: 5,
            node_dead_after_s: 30,
            vad: VadConfig::default(),
        }
    }
}

impl LiveConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.vad.validate()?;
        if self.interim_every_ms != 0 && !(200..=10_000).contains(&self.interim_every_ms) {
            return Err(ConfigError::new(format!(
                "interim_every_ms must be 0 or 200..=10000, got {}",
                self.interim_every_ms
            )));
        }
        if self.interim_context_margin > 1500 {
            return Err(ConfigError::new(format!(
                "interim_context_margin must be at most 1500 (30 s), got {}",
                self.interim_context_margin
            )));
        }
        if self.final_shed_context_margin > 1500 {
            return Err(ConfigError::new(format!(
                "final_shed_context_margin must be at most 1500 (30 s), got {}",
                self.final_shed_context_margin
            )));
        }
        if self.final_context_min > 1500 {
            return Err(ConfigError::new(format!(
                "final_context_min must be at most 1500 (30 s), got {}",
                self.final_context_min
            )));
        }
        if self.early_final_ms != 0
            && !(self.vad.pad_ms < self.early_final_ms
                && self.early_final_ms < self.vad.min_silence_ms)
        {
            return Err(ConfigError::new(format!(
                "early_final_ms must be 0 or between [live.vad] pad_ms ({}) and min_silence_ms ({}), got {}",
                self.vad.pad_ms, self.vad.min_silence_ms, self.early_final_ms
            )));
        }
        if self.reorder_window_ms > 5000 {
            return Err(ConfigError::new(format!(
                "reorder_window_ms must be at most 5000, got {}",
                self.reorder_window_ms
            )));
        }
        if self.max_gap_fill_ms > 60_000 {
            return Err(ConfigError::new(format!(
                "max_gap_fill_ms must be at most 60000, got {}",
                self.max_gap_fill_ms
            )));
        }
        if let Some((w, _)) = self
            .twilio_auth_tokens
            .iter()
            .find(|(_, t)| t.expose().trim().is_empty())
        {
            return Err(ConfigError::new(format!(
                "[live.twilio_auth_tokens] {w}: the auth token is empty"
            )));
        }
        if !(500..=600_000).contains(&self.max_audio_ahead_ms) {
            return Err(ConfigError::new(format!(
                "max_audio_ahead_ms must be 500..=600000, got {}",
                self.max_audio_ahead_ms
            )));
        }
        if !(1..=1000).contains(&self.max_queued_finals_per_call) {
            return Err(ConfigError::new(format!(
                "max_queued_finals_per_call must be 1..=1000, got {}",
                self.max_queued_finals_per_call
            )));
        }
        if !(1..=300).contains(&self.start_timeout_s) {
            return Err(ConfigError::new(format!(
                "start_timeout_s must be 1..=300, got {}",
                self.start_timeout_s
            )));
        }
        if !(1..=3600).contains(&self.idle_timeout_s) {
            return Err(ConfigError::new(format!(
                "idle_timeout_s must be 1..=3600, got {}",
                self.idle_timeout_s
            )));
        }
        if !(1..=100_000).contains(&self.max_unstored_finals_per_call) {
            return Err(ConfigError::new(format!(
                "max_unstored_finals_per_call must be 1..=100000, got {}",
                self.max_unstored_finals_per_call
            )));
        }
        if !(1..=3600).contains(&self.store_retry_s) {
            return Err(ConfigError::new(format!(
                "store_retry_s must be 1..=3600, got {}",
                self.store_retry_s
            )));
        }
        if !(1..=300).contains(&self.heartbeat_s) {
            return Err(ConfigError::new(format!(
                "heartbeat_s must be 1..=300, got {}",
                self.heartbeat_s
            )));
        }
        if self.node_dead_after_s < 3 * self.heartbeat_s || self.node_dead_after_s > 86_400 {
            return Err(ConfigError::new(format!(
                "node_dead_after_s must be at least three heartbeats (3 × heartbeat_s = {}) and at most 86400, got {}",
                3 * self.heartbeat_s,
                self.node_dead_after_s
            )));
        }
        if let Some(id) = &self.node_id
            && (id.is_empty() || id.len() > 200 || id.chars().any(char::is_control))
        {
            return Err(ConfigError::new(
                "node_id must be 1 to 200 printable characters",
            ));
        }
        if !(4096..=16 * 1024 * 1024).contains(&self.max_message_bytes) {
            return Err(ConfigError::new(format!(
                "max_message_bytes must be 4096..=16777216, got {}",
                self.max_message_bytes
            )));
        }
        Ok(())
    }
}

/// A call the engine is holding.
#[derive(Debug, Clone, Serialize)]
pub struct ActiveCall {
    pub call_id: String,
    #[serde(skip)]
    pub tenant: String,
    pub provider: String,
    pub tracks: Vec<String>,
    pub started_at: i64,
}

/// Counters since start (metrics, logs). Never text or identifiers.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub calls_started: AtomicU64,
    pub calls_refused: AtomicU64,
    pub calls_ended: AtomicU64,
    pub finals: AtomicU64,
    pub interims: AtomicU64,
    pub store_errors: AtomicU64,
    /// Times a call's socket was paused because it ran ahead of real time or queued too many
    /// finals (back-pressure).
    pub paced: AtomicU64,
    /// Jumps in a stream's timeline longer than `max_gap_fill_ms` (skipped, not filled).
    pub discontinuities: AtomicU64,
    /// Media frames dropped by the reorder buffers: duplicates, and frames for a place in the
    /// stream already passed (late, or beyond the buffer's bound).
    pub frames_dropped: AtomicU64,
    /// Media messages whose decoding and endpointing ran off the runtime threads (more than a
    /// second of audio in one message).
    pub dsp_offloaded: AtomicU64,
    /// Provider streams refused because their signature was missing or wrong.
    pub unsigned_refused: AtomicU64,
    /// Early finals confirmed by the endpoint / taken back because speech resumed.
    pub early_finals_confirmed: AtomicU64,
    pub early_finals_retracted: AtomicU64,
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// Call slots taken, in all and per tenant. Taken and checked under one lock, so simultaneous
/// starts can never pass the limits together.
#[derive(Debug, Default)]
struct Slots {
    total: usize,
    by_tenant: HashMap<String, usize>,
}

/// One admitted call's slot: released when dropped (the call ended, failed to start, or its
/// task was aborted). Its id keys the call's tracks in the scheduler.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Mutex<Slots>>,
    tenant: String,
    pub id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut s = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        s.total = s.total.saturating_sub(1);
        if let Some(n) = s.by_tenant.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.by_tenant.remove(&self.tenant);
            }
        }
    }
}

pub struct Engine {
    pub store: Store,
    pub redactor: Arc<Redactor>,
    pub queue: Arc<RtQueue>,
    pub bus: Arc<dyn EventBus>,
    pub config: LiveConfig,
    pub stats: EngineStats,
    /// Latency histograms and rates for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Whether the store takes writes (finals, heartbeats): `/readyz` and admission read it.
    pub store_health: StoreHealth,
    /// Calls whose end could not be recorded (the store was down): retried by the upkeep.
    unfinished: Mutex<std::collections::VecDeque<upkeep::Unfinished>>,
    pub layout: PoolLayout,
    max_calls: usize,
    slots: Arc<Mutex<Slots>>,
    pool: Mutex<Option<WhisperPool>>,
    active: Mutex<HashMap<String, ActiveCall>>,
    next_slot: AtomicU64,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl Engine {
    /// Starts the workers (behind the real-time scheduler) and the in-process event bus.
    pub fn new(
        model: &Model,
        layout: PoolLayout,
        decode: DecodeOptions,
        store: Store,
        redactor: Arc<Redactor>,
        config: LiveConfig,
    ) -> anyhow::Result<Arc<Engine>> {
        let queue = Self::queue_for(&config, layout)?;
        let pool = WhisperPool::with_scheduler(model, layout, decode, queue.clone())?;
        Ok(Self::assemble(
            store,
            redactor,
            config,
            layout,
            queue,
            Some(pool),
        ))
    }

    /// An engine with the scheduler but no workers: jobs wait in [`Engine::queue`] until
    /// someone takes them (`queue.next_job()`) and answers on the job's reply. For tests of the
    /// call rules with canned hypotheses, and tools that need no model.
    pub fn without_workers(
        store: Store,
        redactor: Arc<Redactor>,
        config: LiveConfig,
        layout: PoolLayout,
    ) -> anyhow::Result<Arc<Engine>> {
        let queue = Self::queue_for(&config, layout)?;
        Ok(Self::assemble(store, redactor, config, layout, queue, None))
    }

    /// The real-time scheduler the configuration asks for (validated first).
    fn queue_for(config: &LiveConfig, layout: PoolLayout) -> anyhow::Result<Arc<RtQueue>> {
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid live configuration: {e}"))?;
        let interim_workers = if config.interim_workers == 0 {
            layout.workers.saturating_sub(1).max(1)
        } else {
            config.interim_workers.min(layout.workers)
        };
        let shed = (config.final_shed_context_margin != 0).then(|| LoadShed {
            after: Duration::from_millis(config.final_shed_after_ms),
            context_margin: config.final_shed_context_margin,
        });
        Ok(Arc::new(
            RtQueue::with_interim_limit(interim_workers).with_load_shed(shed),
        ))
    }

    fn assemble(
        store: Store,
        redactor: Arc<Redactor>,
        config: LiveConfig,
        layout: PoolLayout,
        queue: Arc<RtQueue>,
        pool: Option<WhisperPool>,
    ) -> Arc<Engine> {
        let bus: Arc<dyn EventBus> = Arc::new(LocalBus::new(config.subscriber_buffer));
        let max_calls = if config.max_calls == 0 {
            10 * layout.workers
        } else {
            config.max_calls
        };
        Arc::new(Engine {
            store,
            redactor,
            queue,
            bus,
            stats: EngineStats::default(),
            metrics: Arc::new(crate::metrics::Metrics::default()),
            store_health: StoreHealth::default(),
            unfinished: Mutex::default(),
            layout,
            max_calls,
            config,
            slots: Arc::default(),
            pool: Mutex::new(pool),
            active: Mutex::new(HashMap::new()),
            next_slot: AtomicU64::new(1),
            shutdown: tokio::sync::watch::channel(false).0,
        })
    }

    pub fn max_calls(&self) -> usize {
        self.max_calls
    }

    /// Calls being held now.
    pub fn active_calls(&self, tenant: Option<&str>) -> Vec<ActiveCall> {
        let active = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let mut calls: Vec<ActiveCall> = active
            .values()
            .filter(|c| tenant.is_none_or(|t| c.tenant == t))
            .cloned()
            .collect();
        calls.sort_by(|a, b| (a.started_at, &a.call_id).cmp(&(b.started_at, &b.call_id)));
        calls
    }

    /// How many calls are being held now.
    pub fn active_count(&self) -> usize {
        self.active.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_active(&self, call_id: &str) -> bool {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(call_id)
    }

    /// The most calls `tenant` may hold at once.
    pub fn tenant_limit(&self, tenant: &str) -> usize {
        let per_tenant = match self.config.tenant_max_calls.get(tenant) {
            Some(&n) => n,
            None if self.config.max_calls_per_tenant > 0 => self.config.max_calls_per_tenant,
            None => self.max_calls,
        };
        per_tenant.min(self.max_calls)
    }

    /// Admission control: may one more call of `tenant` start now? The slot is taken at once
    /// (atomically with the check) and held until the returned [`Slot`] is dropped.
    pub fn admit(&self, tenant: &str) -> Result<Slot, Refused> {
        let refuse = |why: String| Err(self.refused(why));
        if *self.shutdown.borrow() {
            return refuse("the server is shutting down".into());
        }
        self.check_store()?;
        let late = self.queue.final_lateness(Instant::now());
        if late > Duration::from_millis(self.config.max_final_lateness_ms) {
            return refuse(format!(
                "behind real time: a queued final is {} ms late",
                late.as_millis()
            ));
        }
        let limit = self.tenant_limit(tenant);
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.total >= self.max_calls {
            let active = slots.total;
            drop(slots);
            return refuse(format!(
                "at capacity: {active} calls active (max_calls {})",
                self.max_calls
            ));
        }
        let held = slots.by_tenant.get(tenant).copied().unwrap_or(0);
        if held >= limit {
            drop(slots);
            return refuse(format!(
                "this workspace holds {held} calls, its limit (max_calls_per_tenant {limit})"
            ));
        }
        slots.total += 1;
        *slots.by_tenant.entry(tenant.to_string()).or_default() += 1;
        Ok(Slot {
            slots: self.slots.clone(),
            tenant: tenant.to_string(),
            id: self.next_slot.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Counts and logs a refused call.
    fn refused(&self, why: String) -> Refused {
        self.stats.calls_refused.fetch_add(1, Ordering::Relaxed);
        let depth = self.queue.depth();
        tracing::warn!(
            max_calls = self.max_calls,
            finals_queued = depth.finals,
            interims_queued = depth.interims,
            "call refused: {why}"
        );
        Refused(why)
    }

    /// A new call is refused while the store does not take writes (it could not be stored).
    pub fn check_store(&self) -> Result<(), Refused> {
        match self.store_health.down() {
            None => Ok(()),
            Some((for_, _)) => Err(self.refused(format!(
                "the transcript store has not taken writes for {} s; try again later",
                for_.as_secs()
            ))),
        }
    }

    pub(crate) fn register(&self, call: ActiveCall) {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(call.call_id.clone(), call);
    }

    pub(crate) fn unregister(&self, call_id: &str) {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(call_id);
    }

    /// Tells every call to finish (graceful shutdown); new calls are refused from now on.
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Stops the workers after the queued jobs (call after every call has finished).
    pub fn stop_workers(&self) {
        let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(pool);
    }
}

//! A call's finals on their way into the store. The durability rule: **a final is published —
//! to subscribers, and echoed to the provider's socket — only once it is stored** (committed
//! with `synchronous=FULL` on SQLite, committed on PostgreSQL). So no one ever sees a final that
//! a crash, an outage or a full disk could take back.
//!
//! Each call has one writer task: the call hands it finals in order through a bounded queue
//! (`[live] max_unstored_finals_per_call`) and goes on; the writer stores them one by one, in
//! order, retrying a failed write with back-off for up to `[live] store_retry_s`. Past either
//! bound the writer gives up: the call is closed with 1011 and marked `failed`, what was stored
//! stays stored, and every final that could not be stored is counted and logged (call and
//! sequence number, never text). The store's health ([`StoreHealth`]) is what `/readyz` and
//! admission read: while a write is failing, new calls are refused with 1013.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Engine, LiveEvent};
use crate::store::{Actor, NewSegment, StoreError};
use crate::transcript::TranscriptSegment;

/// The longest one write may take before it counts as failed (and is retried).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Back-off between retries of a failed write: doubling from the first to the last.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(2);

/// Whether the store takes writes: down while any call's writer is retrying a failed write or
/// the last probe failed (the node's heartbeat, a write; or `/readyz`'s read). Counters for
/// `/metrics`.
#[derive(Debug, Default)]
pub struct StoreHealth {
    /// Writers retrying a failed write now.
    retrying: AtomicU64,
    probe_failed: std::sync::atomic::AtomicBool,
    /// Since when writes fail, and the last error (for `/readyz` and the refusal reason).
    down: Mutex<Option<(Instant, String)>>,
    /// Finals handed to writers and not yet stored or given up.
    pub pending: AtomicU64,
    /// Write attempts that failed (each retry counts).
    pub write_failures: AtomicU64,
    /// Finals that could not be stored at all (never published).
    pub finals_lost: AtomicU64,
}

impl StoreHealth {
    /// `None` while the store takes writes; otherwise how long it has not, and the last error.
    pub fn down(&self) -> Option<(Duration, String)> {
        if self.retrying.load(Ordering::Relaxed) == 0 && !self.probe_failed.load(Ordering::Relaxed)
        {
            return None;
        }
        let down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            down.as_ref()
                .map_or((Duration::ZERO, String::new()), |(t, e)| {
                    (t.elapsed(), e.clone())
                }),
        )
    }

    fn failed(&self, error: &str) {
        self.write_failures.fetch_add(1, Ordering::Relaxed);
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        match down.as_mut() {
            Some((_, e)) => *e = error.to_string(),
            None => *down = Some((Instant::now(), error.to_string())),
        }
    }

    fn recovered_if_all_up(&self) {
        if self.retrying.load(Ordering::Relaxed) == 0 && !self.probe_failed.load(Ordering::Relaxed)
        {
            let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((since, _)) = down.take() {
                tracing::info!(
                    down_s = since.elapsed().as_secs_f32(),
                    "the store takes writes again"
                );
            }
        }
    }

    /// The outcome of a probe of the store: the node's heartbeat (a write), or `/readyz`'s
    /// read when it fails (a success there proves no write: only the heartbeat clears it).
    pub fn probe(&self, result: Result<(), &str>) {
        match result {
            Ok(()) => {
                self.probe_failed.store(false, Ordering::Relaxed);
                self.recovered_if_all_up();
            }
            Err(e) => {
                self.probe_failed.store(true, Ordering::Relaxed);
                self.failed(e);
            }
        }
    }
}

/// One final waiting to be stored, with the event that announces it once it is.
pub(crate) struct Unstored {
    pub seq: u64,
    pub segment: TranscriptSegment,
    pub event: Arc<LiveEvent>,
    /// When its utterance ended (the final-latency metric counts to its publication).
    pub submitted: Instant,
    /// When it was handed to the writer (the retry bound counts from here).
    pub queued: Instant,
}

/// What the writer tells the call's connection.
#[derive(Debug)]
pub enum WriterNote {
    /// A final was stored and published: echo it if the connection echoes.
    Stored(Arc<LiveEvent>),
    /// A final the store refused (it never will take it): lost, the call goes on.
    Lost(u64),
    /// The writer gave up on a final (the reason, for the close frame and the log): the call
    /// must end.
    GaveUp(String),
}

/// Finals stored and lost by a call's writer.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriterReport {
    pub stored: u64,
    pub lost: u64,
}

/// The call's side of its writer.
pub(crate) struct FinalWriter {
    tx: Option<mpsc::Sender<Unstored>>,
    notes: mpsc::Receiver<WriterNote>,
    task: Option<JoinHandle<WriterReport>>,
    capacity: usize,
    engine: Arc<Engine>,
    call: String,
    /// Finals the queue refused (it was full): lost, never published.
    refused: u64,
    /// Finals queued, and notes received (the writer sends one note per final).
    queued: u64,
    noted: u64,
}

impl FinalWriter {
    pub fn start(engine: Arc<Engine>, actor: Actor, tenant: String, call: String) -> Self {
        let capacity = engine.config.max_unstored_finals_per_call;
        let (tx, rx) = mpsc::channel(capacity);
        let (notes_tx, notes) = mpsc::channel(capacity);
        let task = tokio::spawn(run(
            engine.clone(),
            actor,
            tenant,
            call.clone(),
            rx,
            notes_tx,
        ));
        FinalWriter {
            tx: Some(tx),
            notes,
            task: Some(task),
            capacity,
            engine,
            call,
            refused: 0,
            queued: 0,
            noted: 0,
        }
    }

    /// Hands a final to the writer. `Err` with the reason when the queue is full (the final is
    /// lost, counted and logged; the call must end).
    pub fn push(&mut self, u: Unstored) -> Result<(), String> {
        let Some(tx) = &self.tx else {
            return Err("the call's writer has stopped".into());
        };
        let seq = u.seq;
        let health = &self.engine.store_health;
        health.pending.fetch_add(1, Ordering::Relaxed);
        if tx.try_send(u).is_err() {
            health.pending.fetch_sub(1, Ordering::Relaxed);
            health.finals_lost.fetch_add(1, Ordering::Relaxed);
            self.refused += 1;
            tracing::error!(call = %self.call, seq, "final not stored: {} finals already wait for the store", self.capacity);
            return Err(format!(
                "the transcript store is not keeping up: {} finals wait to be stored; the call is closed",
                self.capacity
            ));
        }
        self.queued += 1;
        Ok(())
    }

    /// The next note from the writer (pending for ever once the writer is done).
    pub async fn next_note(&mut self) -> WriterNote {
        match self.notes.recv().await {
            Some(n) => {
                self.noted += 1;
                n
            }
            None => std::future::pending().await,
        }
    }

    /// Waits until every final queued so far has its note; returns the stored ones' events.
    #[cfg(test)]
    pub async fn settled(&mut self) -> Vec<Arc<LiveEvent>> {
        let mut out = Vec::new();
        while self.noted < self.queued {
            if let WriterNote::Stored(ev) = self.next_note().await {
                out.push(ev);
            }
        }
        out
    }

    /// Closes the queue and waits for the writer to store (or give up on) what it holds;
    /// returns the events it published meanwhile (to echo) and its report.
    pub async fn finish(&mut self) -> (Vec<Arc<LiveEvent>>, WriterReport) {
        self.tx = None;
        let mut events = Vec::new();
        let Some(mut task) = self.task.take() else {
            return (events, WriterReport::default());
        };
        let mut report = loop {
            tokio::select! {
                note = self.notes.recv() => match note {
                    Some(WriterNote::Stored(ev)) => events.push(ev),
                    Some(WriterNote::Lost(_) | WriterNote::GaveUp(_)) => {}
                    None => break (&mut task).await.unwrap_or_default(),
                },
                r = &mut task => break r.unwrap_or_default(),
            }
        };
        while let Ok(note) = self.notes.try_recv() {
            if let WriterNote::Stored(ev) = note {
                events.push(ev);
            }
        }
        report.lost += self.refused;
        (events, report)
    }
}

/// Whether a failed write may succeed if tried again (the database was unreachable, full,
/// locked, timed out) or never will (the segment itself was refused).
fn transient(e: &StoreError) -> bool {
    matches!(e, StoreError::Database { .. } | StoreError::Connect { .. })
}

/// What became of one final.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Stored,
    /// The store refused the segment itself (it will never take it): lost, the call goes on.
    Refused,
    /// The store did not take it within the retry bound: lost, and the call must end.
    GaveUp,
}

async fn run(
    engine: Arc<Engine>,
    actor: Actor,
    tenant: String,
    call: String,
    mut rx: mpsc::Receiver<Unstored>,
    notes: mpsc::Sender<WriterNote>,
) -> WriterReport {
    let health = &engine.store_health;
    let retry_limit = Duration::from_secs(engine.config.store_retry_s);
    let mut report = WriterReport::default();
    let mut gave_up = false;
    while let Some(u) = rx.recv().await {
        if gave_up {
            health.pending.fetch_sub(1, Ordering::Relaxed);
            health.finals_lost.fetch_add(1, Ordering::Relaxed);
            report.lost += 1;
            tracing::error!(call = %call, seq = u.seq, "final not stored: the call's writer gave up");
            let _ = notes.send(WriterNote::Lost(u.seq)).await;
            continue;
        }
        let mut backoff = FIRST_RETRY;
        let mut retrying = false;
        let outcome = loop {
            let write = engine.store.append_segment(
                &actor,
                &tenant,
                &call,
                NewSegment {
                    seq: u.seq,
                    segment: &u.segment,
                },
            );
            let result = match tokio::time::timeout(WRITE_TIMEOUT, write).await {
                Ok(r) => r,
                Err(_) => Err(StoreError::Database {
                    what: format!(
                        "storing a segment (no answer in {} s)",
                        WRITE_TIMEOUT.as_secs()
                    ),
                    source: sqlx::Error::PoolTimedOut,
                }),
            };
            match result {
                // a retry of a write whose commit went through before its error reached us
                Ok(()) | Err(StoreError::DuplicateSegment { .. }) => break Outcome::Stored,
                Err(e) if !transient(&e) => {
                    tracing::error!(call = %call, seq = u.seq, "final not stored: {e}");
                    break Outcome::Refused;
                }
                Err(e) => {
                    let msg = e.to_string();
                    if !retrying {
                        retrying = true;
                        health.retrying.fetch_add(1, Ordering::Relaxed);
                    }
                    health.failed(&msg);
                    let waited = u.queued.elapsed();
                    if waited >= retry_limit {
                        tracing::error!(call = %call, seq = u.seq, waited_s = waited.as_secs(), "final not stored, giving up: {msg}");
                        break Outcome::GaveUp;
                    }
                    tracing::warn!(call = %call, seq = u.seq, retry_in_ms = backoff.as_millis() as u64, "cannot store a final yet: {msg}");
                    tokio::time::sleep(backoff.min(retry_limit - waited)).await;
                    backoff = (backoff * 2).min(LAST_RETRY);
                }
            }
        };
        if retrying {
            health.retrying.fetch_sub(1, Ordering::Relaxed);
            health.recovered_if_all_up();
        }
        health.pending.fetch_sub(1, Ordering::Relaxed);
        if outcome == Outcome::Stored {
            report.stored += 1;
            engine.metrics.final_latency.observe(u.submitted.elapsed());
            engine.bus.publish(u.event.clone());
            let _ = notes.send(WriterNote::Stored(u.event)).await;
            continue;
        }
        report.lost += 1;
        health.finals_lost.fetch_add(1, Ordering::Relaxed);
        engine.stats.store_errors.fetch_add(1, Ordering::Relaxed);
        if outcome == Outcome::Refused {
            let _ = notes.send(WriterNote::Lost(u.seq)).await;
        } else {
            gave_up = true;
            let reason = format!(
                "the transcript store has not taken final {} for {} s; the call is closed (the finals before it are stored)",
                u.seq,
                u.queued.elapsed().as_secs()
            );
            let _ = notes.send(WriterNote::GaveUp(reason)).await;
        }
    }
    report
}

/// The store's health as admission and `/readyz` read it, and which failures are retried.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_down_while_a_probe_or_a_writer_fails() {
        let h = StoreHealth::default();
        assert!(h.down().is_none());
        h.probe(Err("connection refused"));
        assert_eq!(h.down().map(|(_, e)| e), Some("connection refused".into()));
        h.probe(Ok(()));
        assert!(
            h.down().is_none(),
            "a heartbeat that gets through clears it"
        );
        // a writer retrying keeps the store down whatever the heartbeat says
        h.retrying.fetch_add(1, Ordering::Relaxed);
        h.failed("disk full");
        h.probe(Ok(()));
        assert_eq!(h.down().map(|(_, e)| e), Some("disk full".into()));
        h.retrying.fetch_sub(1, Ordering::Relaxed);
        h.recovered_if_all_up();
        assert!(h.down().is_none());
        assert_eq!(h.write_failures.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn database_errors_are_retried_and_a_refused_segment_is_not() {
        let db = StoreError::Database {
            what: "storing a segment".into(),
            source: sqlx::Error::PoolTimedOut,
        };
        assert!(transient(&db));
        assert!(!transient(&StoreError::Invalid("bad times".into())));
        assert!(!transient(&StoreError::CallNotFound {
            call: "c".into(),
            tenant: "t".into()
        }));
    }
}

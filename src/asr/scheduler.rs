//! Real-time scheduling for live calls, in front of the worker pool. Workers take the next job
//! from here the moment they are free, so the choice is made as late as possible:
//!
//! 1. finals before interims — a final is what the agent and the store keep;
//! 2. among finals, the earliest deadline first (a deadline is the utterance's end plus the
//!    latency target, so this is also first come, first served across calls: fair);
//! 3. among interims, the one waiting longest. Each track has at most one queued interim: a
//!    newer one replaces it (the older is *skipped*, counted) and inherits its place in line, so
//!    under load interims thin out instead of piling up, and no track starves.
//!
//! An early final (queued before its utterance's endpoint, see `segment::stream`) that speech
//! resuming makes void is cancelled: dropped from the queue, or aborted on its worker.
//!
//! Finals are never skipped, and never wait for an interim: when a final is queued and no
//! worker is free, the worker on the most recently started interim is asked to abort it
//! (whisper.cpp checks an abort flag between graph nodes and decoding steps, so it stops
//! within milliseconds) and takes the final instead; the aborted interim counts as skipped.
//!
//! The queue's depths and the age of its oldest final are what the
//! live engine's admission control reads to refuse new calls before everyone falls behind.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::job::AsrJob;

/// Which track an interim belongs to: (call slot, track index).
pub type TrackKey = (u64, usize);

#[derive(Default)]
struct State {
    /// Finals by (deadline, arrival), with the instant each was queued.
    finals: BTreeMap<(Instant, u64), (Instant, AsrJob)>,
    interims: HashMap<TrackKey, (Instant, u64, AsrJob)>,
    seq: u64,
    closed: bool,
    /// Registered workers waiting for a job.
    idle: usize,
    /// At most this many registered workers run interims at once (0: no limit).
    interim_limit: usize,
    /// Under load, finals decode with this trailing context margin instead of their own.
    load_shed: Option<LoadShed>,
    workers: Vec<WorkerSlot>,
}

/// What a registered worker is doing, and its abort flag.
struct WorkerSlot {
    running: Running,
    abort: Arc<AtomicBool>,
}

impl WorkerSlot {
    /// Asks the worker to abort the interim it runs. False when it runs none, or is already
    /// aborting it.
    fn abort_interim(&mut self) -> bool {
        let Running::Interim {
            key,
            since,
            aborting: false,
        } = self.running
        else {
            return false;
        };
        self.running = Running::Interim {
            key,
            since,
            aborting: true,
        };
        self.abort.store(true, Ordering::Relaxed);
        true
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Running {
    Nothing,
    /// Final job `id`; `aborting` once cancelled.
    Final {
        id: u64,
        aborting: bool,
    },
    /// An interim of track `key` started at this instant; `aborting` once asked to stop.
    Interim {
        key: TrackKey,
        since: Instant,
        aborting: bool,
    },
}

/// How finals get cheaper when they queue up: a final that waited at least `after` in the
/// queue, or has others queued behind it, is decoded with `context_margin` (a shorter trailing
/// context: less work per final for a little WER; docs/PERFORMANCE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadShed {
    pub after: Duration,
    pub context_margin: u32,
}

/// A job as a worker receives it.
pub struct Assigned {
    pub job: AsrJob,
    /// Run it with the worker's abort flag (every job of a registered worker): raised when a
    /// final needs the worker (interims only) or the job is cancelled (early finals).
    pub abortable: bool,
}

/// Counters since start (for metrics and logs; never text).
#[derive(Debug, Default)]
pub struct SchedulerStats {
    pub finals_queued: AtomicU64,
    pub interims_queued: AtomicU64,
    pub interims_skipped: AtomicU64,
    /// Interims aborted half-way because a final needed their worker (also counted skipped).
    pub interims_preempted: AtomicU64,
    /// Finals decoded with the shorter context because they queued up.
    pub finals_shed: AtomicU64,
    /// Jobs whose worker panicked (the job failed alone; the worker was replaced).
    pub worker_panics: AtomicU64,
    /// Test hook: the next this many jobs panic inside their worker
    /// ([`RtQueue::inject_worker_panics`]).
    injected_panics: AtomicU64,
}

/// A snapshot of the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueDepth {
    pub finals: usize,
    pub interims: usize,
}

#[derive(Default)]
pub struct RtQueue {
    state: Mutex<State>,
    ready: Condvar,
    pub stats: SchedulerStats,
    /// Hands out job ids unique across every user of the queue (what `cancel_final` matches).
    next_id: AtomicU64,
}

impl RtQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Fault injection for tests: the next `n` jobs a worker takes from this queue panic inside
    /// the worker (as a bug in the recogniser would), to show the job fails alone and the
    /// worker is replaced. Nothing else sets it.
    #[doc(hidden)]
    pub fn inject_worker_panics(&self, n: u64) {
        self.stats.injected_panics.store(n, Ordering::SeqCst);
    }

    /// Whether the job a worker is about to run must panic (see
    /// [`RtQueue::inject_worker_panics`]).
    pub(crate) fn take_injected_panic(&self) -> bool {
        self.stats
            .injected_panics
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// A queue whose registered workers run at most `limit` interims at once (0: no limit),
    /// so that the other workers stay free for finals and the rest of the server.
    pub fn with_interim_limit(limit: usize) -> Self {
        let q = Self::default();
        q.lock().interim_limit = limit;
        q
    }

    /// Makes queued-up finals cheaper (see [`LoadShed`]).
    pub fn with_load_shed(self, shed: Option<LoadShed>) -> Self {
        self.lock().load_shed = shed;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a final; `deadline` orders finals (earliest first).
    pub fn push_final(&self, job: AsrJob, deadline: Instant) {
        let mut st = self.lock();
        if st.closed {
            return; // dropping the job drops its reply: the caller sees the pool closed
        }
        st.seq += 1;
        let seq = st.seq;
        st.finals.insert((deadline, seq), (Instant::now(), job));
        self.stats.finals_queued.fetch_add(1, Ordering::Relaxed);
        if st.finals.len() > st.idle {
            self.preempt_one(&mut st);
        }
        drop(st);
        self.ready.notify_one();
    }

    /// Asks the worker on the most recently started interim (the one with the most still to
    /// do) to abort it.
    fn preempt_one(&self, st: &mut State) {
        let newest = st
            .workers
            .iter_mut()
            .filter_map(|w| match w.running {
                Running::Interim {
                    since,
                    aborting: false,
                    ..
                } => Some((since, w)),
                _ => None,
            })
            .max_by_key(|(since, _)| *since);
        if let Some((_, w)) = newest
            && w.abort_interim()
        {
            self.stats
                .interims_preempted
                .fetch_add(1, Ordering::Relaxed);
            self.stats.interims_skipped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Registers a worker: its index for [`RtQueue::next_for`] and the abort flag its
    /// abortable jobs must watch.
    pub fn register_worker(&self) -> (usize, Arc<AtomicBool>) {
        let mut st = self.lock();
        let abort = Arc::new(AtomicBool::new(false));
        st.workers.push(WorkerSlot {
            running: Running::Nothing,
            abort: abort.clone(),
        });
        (st.workers.len() - 1, abort)
    }

    /// Queues an interim for `key`, replacing (skipping) one still waiting for the same track.
    pub fn push_interim(&self, key: TrackKey, mut job: AsrJob) {
        job.context_floor = Some(0);
        let mut st = self.lock();
        if st.closed {
            return;
        }
        st.seq += 1;
        let seq = st.seq;
        let since = match st.interims.remove(&key) {
            Some((since, _, _old)) => {
                self.stats.interims_skipped.fetch_add(1, Ordering::Relaxed);
                since
            }
            None => Instant::now(),
        };
        st.interims.insert(key, (since, seq, job));
        self.stats.interims_queued.fetch_add(1, Ordering::Relaxed);
        drop(st);
        self.ready.notify_one();
    }

    /// A job id no other job of this queue has (live calls number their jobs with it, so that
    /// cancelling one call's job can never touch another's).
    pub fn job_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Cancels final job `id` (an early final that speech resuming made void): drops it from
    /// the queue, or asks the worker running it to abort. Returns whether it was found.
    pub fn cancel_final(&self, id: u64) -> bool {
        let mut st = self.lock();
        if let Some(k) = st
            .finals
            .iter()
            .find(|(_, (_, j))| j.id == id)
            .map(|(k, _)| *k)
        {
            st.finals.remove(&k);
            return true;
        }
        for w in &mut st.workers {
            if let Running::Final {
                id: running,
                aborting: false,
            } = w.running
                && running == id
            {
                w.running = Running::Final { id, aborting: true };
                w.abort.store(true, Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    /// Drops the queued interim of `key` and aborts one running (its utterance became final:
    /// the result would be stale). Returns how many were dropped.
    pub fn cancel_interim(&self, key: TrackKey) -> usize {
        let mut st = self.lock();
        let mut n = usize::from(st.interims.remove(&key).is_some());
        for w in &mut st.workers {
            if matches!(w.running, Running::Interim { key: k, .. } if k == key) && w.abort_interim()
            {
                n += 1;
            }
        }
        self.stats
            .interims_skipped
            .fetch_add(n as u64, Ordering::Relaxed);
        n
    }

    pub fn depth(&self) -> QueueDepth {
        let st = self.lock();
        QueueDepth {
            finals: st.finals.len(),
            interims: st.interims.len(),
        }
    }

    /// How far past its deadline the most overdue queued final is (zero when none is late).
    pub fn final_lateness(&self, now: Instant) -> Duration {
        self.lock()
            .finals
            .keys()
            .next()
            .map_or(Duration::ZERO, |(deadline, _)| {
                now.saturating_duration_since(*deadline)
            })
    }

    /// Wakes the workers and makes `next_job` return `None` once the queue is empty.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }

    /// Blocks until a job is ready (or the queue is closed and empty). For unregistered
    /// consumers (tools, tests): nothing they run is preempted.
    pub fn next_job(&self) -> Option<AsrJob> {
        self.take(None).map(|a| a.job)
    }

    /// The next job for registered worker `worker` (which has finished its previous one).
    pub fn next_for(&self, worker: usize) -> Option<Assigned> {
        self.take(Some(worker))
    }

    fn take(&self, worker: Option<usize>) -> Option<Assigned> {
        let mut st = self.lock();
        let slot = worker.filter(|&w| w < st.workers.len());
        if let Some(w) = slot {
            if matches!(st.workers[w].running, Running::Interim { .. })
                && st.interim_limit != 0
                && !st.interims.is_empty()
            {
                // an interim slot is free again: a worker waiting for one may take it
                self.ready.notify_all();
            }
            st.workers[w].running = Running::Nothing;
            st.workers[w].abort.store(false, Ordering::Relaxed);
            st.idle += 1;
        }
        let assigned = loop {
            if let Some((_, (queued, mut job))) = st.finals.pop_first() {
                if let Some(shed) = st.load_shed
                    && job.context_margin.is_none()
                    && (!st.finals.is_empty() || queued.elapsed() >= shed.after)
                {
                    job.context_margin = Some(shed.context_margin);
                    self.stats.finals_shed.fetch_add(1, Ordering::Relaxed);
                }
                // abortable only by `cancel_final`: never a victim of preemption
                break Some((
                    Assigned {
                        job,
                        abortable: slot.is_some(),
                    },
                    None,
                ));
            }
            let interims_allowed = slot.is_none()
                || st.interim_limit == 0
                || st
                    .workers
                    .iter()
                    .filter(|w| matches!(w.running, Running::Interim { .. }))
                    .count()
                    < st.interim_limit;
            let oldest = if interims_allowed {
                st.interims
                    .iter()
                    .min_by_key(|(_, (since, seq, _))| (*since, *seq))
                    .map(|(k, _)| *k)
            } else {
                None
            };
            if let Some(key) = oldest
                && let Some((_, _, job)) = st.interims.remove(&key)
            {
                break Some((
                    Assigned {
                        job,
                        abortable: slot.is_some(),
                    },
                    Some(key),
                ));
            }
            if st.closed {
                break None;
            }
            st = self.ready.wait(st).unwrap_or_else(|e| e.into_inner());
        };
        if let Some(w) = slot {
            st.idle -= 1;
            st.workers[w].running = match &assigned {
                Some((_, Some(key))) => Running::Interim {
                    key: *key,
                    since: Instant::now(),
                    aborting: false,
                },
                Some((a, None)) => Running::Final {
                    id: a.job.id,
                    aborting: false,
                },
                None => Running::Nothing,
            };
        }
        assigned.map(|(a, _)| a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::job::Reply;

    fn job(id: u64) -> AsrJob {
        let (tx, _rx) = crossbeam_channel::unbounded();
        AsrJob {
            id,
            audio: Vec::new(),
            offset_s: 0.0,
            pauses: Vec::new(),
            reply: Reply::Channel(tx),
            context_floor: None,
            context_margin: None,
        }
    }

    #[test]
    fn finals_first_earliest_deadline_first() {
        let q = RtQueue::new();
        let t0 = Instant::now();
        q.push_interim((1, 0), job(10));
        q.push_final(job(2), t0 + Duration::from_millis(200));
        q.push_final(job(1), t0 + Duration::from_millis(100));
        assert_eq!(
            q.depth(),
            QueueDepth {
                finals: 2,
                interims: 1
            }
        );
        let order: Vec<u64> = (0..3).map(|_| q.next_job().unwrap().id).collect();
        assert_eq!(order, [1, 2, 10]);
    }

    #[test]
    fn a_newer_interim_replaces_the_waiting_one_and_keeps_its_place() {
        let q = RtQueue::new();
        q.push_interim((1, 0), job(1));
        std::thread::sleep(Duration::from_millis(2));
        q.push_interim((2, 0), job(2));
        q.push_interim((1, 0), job(3)); // replaces 1, keeps call 1's place ahead of call 2
        assert_eq!(q.stats.interims_skipped.load(Ordering::Relaxed), 1);
        let first = q.next_job().unwrap();
        assert_eq!(first.id, 3);
        assert_eq!(
            first.context_floor,
            Some(0),
            "interims decode with the sized context"
        );
        assert_eq!(q.next_job().unwrap().id, 2);
    }

    #[test]
    fn cancelled_interims_are_never_run_and_close_ends_the_workers() {
        let q = std::sync::Arc::new(RtQueue::new());
        q.push_interim((1, 0), job(1));
        assert_eq!(q.cancel_interim((1, 0)), 1);
        assert_eq!(q.cancel_interim((1, 0)), 0);
        let worker = {
            let q = q.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(j) = q.next_job() {
                    got.push(j.id);
                }
                got
            })
        };
        q.push_final(job(5), Instant::now());
        std::thread::sleep(Duration::from_millis(20));
        q.close();
        assert_eq!(worker.join().unwrap(), [5]);
        q.push_final(job(6), Instant::now());
        assert!(q.next_job().is_none(), "nothing is accepted after close");
    }

    /// Two registered workers, each running an interim: worker 0 on track (1, 0) (job 1),
    /// worker 1, started later, on track (2, 0) (job 2).
    fn two_workers_on_interims(q: &RtQueue) -> [(usize, Arc<AtomicBool>); 2] {
        let (w0, abort0) = q.register_worker();
        let (w1, abort1) = q.register_worker();
        q.push_interim((1, 0), job(1));
        q.push_interim((2, 0), job(2));
        let a = q.next_for(w0).unwrap();
        assert!(a.abortable, "interims run under the abort flag");
        std::thread::sleep(Duration::from_millis(2));
        let b = q.next_for(w1).unwrap();
        assert_eq!((a.job.id, b.job.id), (1, 2));
        [(w0, abort0), (w1, abort1)]
    }

    #[test]
    fn a_final_preempts_the_newest_interim_only_when_no_worker_is_free() {
        let q = RtQueue::new();
        let [(w0, abort0), (w1, abort1)] = two_workers_on_interims(&q);
        q.push_final(job(3), Instant::now());
        assert!(
            abort1.load(Ordering::Relaxed),
            "the most recently started interim is aborted"
        );
        assert!(!abort0.load(Ordering::Relaxed));
        q.push_final(job(4), Instant::now());
        assert!(
            abort0.load(Ordering::Relaxed),
            "a second final takes the other worker"
        );
        q.push_final(job(5), Instant::now());
        assert_eq!(
            q.stats.interims_preempted.load(Ordering::Relaxed),
            2,
            "nothing left to preempt"
        );
        // the aborted worker comes back: the flag is lowered and it gets a final
        let c = q.next_for(w1).unwrap();
        assert_eq!(c.job.id, 3);
        assert!(!abort1.load(Ordering::Relaxed));
        // a final running is never preempted
        let d = q.next_for(w0).unwrap();
        assert_eq!(d.job.id, 4);
        q.push_final(job(6), Instant::now());
        assert!(!abort0.load(Ordering::Relaxed) && !abort1.load(Ordering::Relaxed));
    }

    #[test]
    fn cancelling_a_tracks_interims_aborts_the_running_one_too() {
        let q = RtQueue::new();
        let [(_, abort0), (_, abort1)] = two_workers_on_interims(&q);
        q.push_interim((1, 0), job(3)); // a newer interim of track (1, 0) waits
        assert_eq!(
            q.cancel_interim((1, 0)),
            2,
            "the queued one and the running one"
        );
        assert!(
            abort0.load(Ordering::Relaxed),
            "the running interim of that track is aborted"
        );
        assert!(!abort1.load(Ordering::Relaxed), "another track's is not");
        assert_eq!(q.depth().interims, 0);
        assert_eq!(
            q.cancel_interim((1, 0)),
            0,
            "an interim already aborting is not counted twice"
        );
    }

    #[test]
    fn job_ids_are_unique_across_every_user_of_the_queue() {
        // live calls number their jobs from the queue: one call cancelling its job 7 must not
        // hit another call's job 7 (a per-call counter did, and lost finals under load)
        let q = std::sync::Arc::new(RtQueue::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let q = q.clone();
                std::thread::spawn(move || (0..1000).map(|_| q.job_id()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4000);
    }

    #[test]
    fn a_cancelled_final_leaves_the_queue_or_is_aborted_on_its_worker() {
        let q = RtQueue::new();
        let (w0, abort0) = q.register_worker();
        q.push_final(job(1), Instant::now());
        q.push_final(job(2), Instant::now() + Duration::from_millis(10));
        assert!(q.cancel_final(2), "queued: dropped");
        assert_eq!(q.depth().finals, 1);
        let a = q.next_for(w0).unwrap();
        assert_eq!(a.job.id, 1);
        assert!(a.abortable);
        // a final pushed while every worker is busy with finals preempts nothing
        q.push_final(job(3), Instant::now());
        assert!(!abort0.load(Ordering::Relaxed));
        assert!(q.cancel_final(1), "running: aborted");
        assert!(abort0.load(Ordering::Relaxed));
        assert!(!q.cancel_final(1), "already aborting");
        assert!(!q.cancel_final(99), "unknown");
        assert_eq!(q.stats.interims_preempted.load(Ordering::Relaxed), 0);
        // the worker comes back: flag lowered, next final
        assert_eq!(q.next_for(w0).unwrap().job.id, 3);
        assert!(!abort0.load(Ordering::Relaxed));
    }

    #[test]
    fn a_final_with_a_free_worker_preempts_nothing() {
        let q = std::sync::Arc::new(RtQueue::new());
        let (w0, abort0) = q.register_worker();
        let (w1, _abort1) = q.register_worker();
        q.push_interim((1, 0), job(1));
        assert!(q.next_for(w0).unwrap().abortable);
        let idle = {
            let q = q.clone();
            std::thread::spawn(move || q.next_for(w1).map(|a| a.job.id))
        };
        // wait until the second worker is waiting in the queue
        while q.lock().idle == 0 {
            std::thread::yield_now();
        }
        q.push_final(job(2), Instant::now());
        assert_eq!(idle.join().unwrap(), Some(2));
        assert!(!abort0.load(Ordering::Relaxed));
        assert_eq!(q.stats.interims_preempted.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn interims_run_on_at_most_the_limit_of_workers() {
        let q = std::sync::Arc::new(RtQueue::with_interim_limit(1));
        let (w0, _) = q.register_worker();
        let (w1, _) = q.register_worker();
        q.push_interim((1, 0), job(1));
        q.push_interim((2, 0), job(2));
        assert_eq!(q.next_for(w0).unwrap().job.id, 1);
        let second = {
            let q = q.clone();
            std::thread::spawn(move || q.next_for(w1).map(|a| (a.job.id, a.abortable)))
        };
        while q.lock().idle == 0 {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            q.depth().interims,
            1,
            "the second worker does not take an interim while one runs"
        );
        // a final is taken by the waiting worker at once, without preempting the interim
        q.push_final(job(3), Instant::now());
        assert_eq!(second.join().unwrap(), Some((3, true)));
        assert_eq!(q.stats.interims_preempted.load(Ordering::Relaxed), 0);
        // once the first interim is done, its worker (or another) may run the next interim
        assert_eq!(q.next_for(w0).unwrap().job.id, 2);
    }

    #[test]
    fn finals_that_queue_up_get_the_shorter_context() {
        let shed = LoadShed {
            after: Duration::from_millis(50),
            context_margin: 96,
        };
        let q = RtQueue::new().with_load_shed(Some(shed));
        let now = Instant::now();
        q.push_final(job(1), now);
        assert_eq!(
            q.next_job().unwrap().context_margin,
            None,
            "taken at once: full context"
        );
        q.push_final(job(2), now);
        q.push_final(job(3), now + Duration::from_millis(1));
        assert_eq!(
            q.next_job().unwrap().context_margin,
            Some(96),
            "another final waits behind it"
        );
        assert_eq!(
            q.next_job().unwrap().context_margin,
            None,
            "the last one, taken at once"
        );
        q.push_final(job(4), now);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            q.next_job().unwrap().context_margin,
            Some(96),
            "it waited past `after`"
        );
        assert_eq!(q.stats.finals_shed.load(Ordering::Relaxed), 2);
        let plain = RtQueue::new();
        plain.push_final(job(5), now);
        plain.push_final(job(6), now);
        assert_eq!(
            plain.next_job().unwrap().context_margin,
            None,
            "no shedding unless configured"
        );
    }

    #[test]
    fn lateness_of_the_oldest_final() {
        let q = RtQueue::new();
        let now = Instant::now();
        assert_eq!(q.final_lateness(now), Duration::ZERO);
        q.push_final(job(1), now);
        assert!(q.final_lateness(now + Duration::from_secs(2)) >= Duration::from_secs(2));
    }
}

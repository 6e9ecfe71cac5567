//! One live call's pipeline, driven by its connection's task: media frames in; interim and
//! final transcript events out (redacted), finals sealed into the store as they are produced.
//!
//! Raw audio lives only in the bounded buffers here (the reorder window, the open utterance)
//! and in the job handed to a worker, which drops it once transcribed. Unredacted text lives
//! only between a worker's result and the track's redactor, inside [`LiveCall::on_result`].

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::hub::{EventBody, LiveEvent, RedactionOut};
use super::upkeep::Unfinished;
use super::writer::{FinalWriter, Unstored, WriterNote};
use super::{ActiveCall, Engine, Refused, Slot};
use crate::asr::{AsrJob, AsrResult, Hypothesis, Reply};
use crate::audio::StreamResampler;
use crate::ingest::{
    CallStart, Codec, JitterBuffer, MediaFrame, Protocol, ProtocolError, Released,
};
use crate::redact::{RawSegment, RedactedSegment, TrackRedactor};
use crate::segment::{TrackEvent, TrackStream, UtteranceAudio, UtteranceKind};
use crate::store::{Actor, CallStatus, NewCall, Principal};
use crate::transcript::TranscriptSegment;

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallEnd {
    /// The provider said stop (or, for Vonage, closed the socket).
    Stopped,
    /// The connection dropped, timed out or broke the protocol: finals so far are kept.
    Interrupted,
    /// The server is shutting down: open utterances were finalised first.
    Shutdown,
    /// The call's finals could not be stored (the store was unavailable past the bound).
    Failed,
}

struct JobInfo {
    track: usize,
    segment_id: u64,
    is_final: bool,
    start_s: f32,
    end_s: f32,
    submitted: Instant,
}

/// Where a final's transcription stands.
enum Outcome {
    /// Not back from the pool yet.
    Waiting,
    /// Speech was heard: the unredacted hypothesis, for the track's redactor only.
    Heard(Hypothesis),
    /// Back with no text: noise, guarded out, or the job failed.
    Nothing,
}

impl Outcome {
    fn is_back(&self) -> bool {
        !matches!(self, Outcome::Waiting)
    }
}

struct PendingFinal {
    job: u64,
    track: usize,
    segment_id: u64,
    start_s: f32,
    end_s: f32,
    submitted: Instant,
    outcome: Outcome,
    /// False for an early final until the endpoint confirms it (it waits, result or not).
    confirmed: bool,
    /// The track's `last_final` before this one (restored if an early final is retracted).
    prev_last_final: Option<u64>,
}

struct LiveTrack {
    speaker: String,
    jitter: JitterBuffer,
    resampler: StreamResampler,
    stream: TrackStream,
    redactor: TrackRedactor,
    /// Segment ids of finals handed to the redactor and not yet emitted (held back).
    held: VecDeque<(u64, Instant)>,
    /// Newest segment finalised: interims of it or older are stale.
    last_final: Option<u64>,
    /// The interim on screen: its segment and audio end, so an older result never replaces it.
    shown: Option<(u64, f32)>,
    last_final_at: Instant,
    /// Where (track seconds) the audio of the newest final handed to the redactor ended.
    last_final_end_s: f32,
}

/// Per-call counters (logged at the end; no text).
#[derive(Debug, Default, Clone, Copy)]
pub struct CallStats {
    pub frames: u64,
    pub finals: u64,
    pub interims: u64,
    /// Interims asked of the pool (delivered + skipped + empty).
    pub interims_requested: u64,
    /// Interims that came back with no text or were stale on arrival.
    pub interims_dropped: u64,
    pub empty_finals: u64,
    pub failed_jobs: u64,
    /// Early finals the endpoint confirmed / that speech resuming took back.
    pub early_finals_confirmed: u64,
    pub early_finals_retracted: u64,
}

pub struct LiveCall {
    engine: Arc<Engine>,
    pub tenant: String,
    pub id: String,
    actor: Actor,
    /// The call's admission slot (released when the call is dropped).
    slot: Slot,
    provider: Protocol,
    codec: Codec,
    /// Samples per second of each track as sent.
    rate: u32,
    started: Instant,
    tracks: Vec<LiveTrack>,
    next_segment: u64,
    next_seq: u64,
    jobs: HashMap<u64, JobInfo>,
    /// Finals sent to the pool, in the order their utterances ended, across tracks. Results may
    /// come back out of order; they go to the redactors in this order, so each track's
    /// redactor sees the other party's question before the answer ("And your e-mail?").
    outstanding: VecDeque<PendingFinal>,
    tx: mpsc::UnboundedSender<AsrResult>,
    rx: mpsc::UnboundedReceiver<AsrResult>,
    decoded: Vec<f32>,
    resampled: Vec<f32>,
    released: Vec<Released>,
    pub stats: CallStats,
    /// Stores the finals, in order, and publishes each once stored.
    writer: FinalWriter,
    /// Why the call must end now (a final could not be handed to the writer).
    failure: Option<String>,
    closed: bool,
    /// An early final was confirmed (or one ahead retracted) with its result already back.
    confirmed_ready: bool,
}

/// What [`LiveCall::next_input`] brings. (No `Debug`: a result holds unredacted text.)
pub enum CallInput {
    /// A worker's result (`None`: the pool has shut down).
    Result(Option<AsrResult>),
    Note(WriterNote),
}

/// Why a call could not start.
#[derive(Debug)]
pub enum StartError {
    Refused(Refused),
    Invalid(ProtocolError),
    Store(String),
}

impl LiveCall {
    /// Admits the call, creates it in the store and announces it. Returns the call and its
    /// `call_started` event.
    pub async fn start(
        engine: Arc<Engine>,
        principal: &Principal,
        provider: Protocol,
        start: CallStart,
    ) -> Result<(LiveCall, Arc<LiveEvent>), StartError> {
        let slot = engine
            .admit(&principal.tenant)
            .map_err(StartError::Refused)?;
        let format = start.format;
        let cfg = &engine.config;
        let mut tracks = Vec::with_capacity(start.tracks.len());
        let redaction = engine.redactor.call(crate::sys::random_key());
        for spec in &start.tracks {
            let resampler =
                StreamResampler::new(format.sample_rate, (format.sample_rate / 50) as usize)
                    .map_err(|e| StartError::Invalid(ProtocolError::unsupported(e.to_string())))?;
            tracks.push(LiveTrack {
                speaker: spec.speaker.clone(),
                jitter: JitterBuffer::new(
                    format.sample_rate,
                    format.codec.bytes_per_sample(),
                    cfg.reorder_window_ms,
                    cfg.max_gap_fill_ms,
                ),
                resampler,
                stream: TrackStream::with_early_finals(
                    cfg.vad.clone(),
                    cfg.interim_every_ms,
                    cfg.early_final_ms,
                ),
                redactor: redaction.track(spec.speaker == "agent"),
                held: VecDeque::new(),
                last_final: None,
                shown: None,
                last_final_at: Instant::now(),
                last_final_end_s: 0.0,
            });
        }
        let actor = Actor::ApiKey(principal.key_id.clone());
        let speakers: Vec<String> = start.tracks.iter().map(|t| t.speaker.clone()).collect();
        let started_at = crate::sys::now();
        let new = NewCall {
            external_id: start.external_id.clone(),
            provider: provider.as_str().into(),
            tracks: speakers.clone(),
            started_at,
        };
        let id = engine
            .store
            .create_call(&actor, &principal.tenant, &new)
            .await
            .map_err(|e| StartError::Store(e.to_string()))?;
        engine.register(ActiveCall {
            call_id: id.clone(),
            tenant: principal.tenant.clone(),
            provider: provider.as_str().into(),
            tracks: speakers.clone(),
            started_at,
        });
        engine.stats.calls_started.fetch_add(1, Ordering::Relaxed);
        tracing::info!(call = %id, tenant = %principal.tenant, provider = provider.as_str(), tracks = ?speakers,
            codec = ?format.codec, rate = format.sample_rate, "call started");
        let (tx, rx) = mpsc::unbounded_channel();
        let event = Arc::new(LiveEvent {
            tenant: principal.tenant.clone(),
            call_id: id.clone(),
            body: EventBody::CallStarted {
                call_id: id.clone(),
                provider: provider.as_str().into(),
                tracks: speakers,
                started_at,
            },
        });
        engine.bus.publish(event.clone());
        let writer = FinalWriter::start(
            engine.clone(),
            actor.clone(),
            principal.tenant.clone(),
            id.clone(),
        );
        let call = LiveCall {
            tenant: principal.tenant.clone(),
            id,
            actor,
            slot,
            provider,
            codec: format.codec,
            rate: format.sample_rate,
            started: Instant::now(),
            tracks,
            next_segment: 1,
            next_seq: 0,
            jobs: HashMap::new(),
            outstanding: VecDeque::new(),
            tx,
            rx,
            decoded: Vec::new(),
            resampled: Vec::new(),
            released: Vec::new(),
            stats: CallStats::default(),
            writer,
            failure: None,
            closed: false,
            confirmed_ready: false,
            engine,
        };
        Ok((call, event))
    }

    /// The next thing that happened to the call off the socket, for the connection's select
    /// loop: a worker's result, or a note from the call's writer (a final stored and published,
    /// to echo; or that the writer gave up on the store and the call must end).
    pub async fn next_input(&mut self) -> CallInput {
        tokio::select! {
            r = self.rx.recv() => CallInput::Result(r),
            n = self.writer.next_note() => CallInput::Note(n),
        }
    }

    /// Waits until every final handed to the writer is stored (or lost); returns the events
    /// published meanwhile.
    #[cfg(test)]
    pub(crate) async fn settled(&mut self) -> Vec<Arc<LiveEvent>> {
        self.writer.settled().await
    }

    /// Why the call must end now, if it must: a final could not be queued for the store.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// One media frame: reorder, decode, resample, endpoint; utterances go to the scheduler.
    /// A message carrying more than a second of audio (or a filled gap that long) is processed
    /// off the runtime threads that serve every socket.
    pub fn on_media(&mut self, frame: MediaFrame) -> Result<(), ProtocolError> {
        self.stats.frames += 1;
        let track = frame.track;
        if track >= self.tracks.len() {
            return Err(ProtocolError::invalid(format!(
                "media for track {track}, the call has {}",
                self.tracks.len()
            )));
        }
        let mut released = std::mem::take(&mut self.released);
        released.clear();
        let before = self.tracks[track].jitter.stats;
        let limit = self.media_limit();
        let result = self.tracks[track].jitter.push(frame, limit, &mut released);
        let after = self.tracks[track].jitter.stats;
        let stats = &self.engine.stats;
        for (counter, delta) in [
            (
                &stats.discontinuities,
                after.discontinuities - before.discontinuities,
            ),
            (
                &stats.frames_dropped,
                after.late + after.duplicates - before.late - before.duplicates,
            ),
        ] {
            if delta > 0 {
                counter.fetch_add(delta, Ordering::Relaxed);
            }
        }
        let bytes_per_sample = self.codec.bytes_per_sample().max(1);
        let work: usize = released
            .iter()
            .map(|r| match r {
                Released::Audio(b) => b.len() / bytes_per_sample,
                Released::Silence(n) => *n,
                Released::Skip(_) => 0,
            })
            .sum();
        let heavy = work > self.rate as usize
            && tokio::runtime::Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if heavy {
            stats.dsp_offloaded.fetch_add(1, Ordering::Relaxed);
            tokio::task::block_in_place(|| self.feed(track, &mut released, false));
        } else {
            self.feed(track, &mut released, false);
        }
        self.released = released;
        result
    }

    /// The furthest position (samples at the call's rate) a frame may start at now: the time
    /// since the call started, plus the pacing margin, the reorder window and a second.
    fn media_limit(&self) -> u64 {
        let cfg = &self.engine.config;
        let ms = self.started.elapsed().as_millis() as u64
            + cfg.max_audio_ahead_ms
            + cfg.reorder_window_ms as u64
            + 1000;
        ms * self.rate as u64 / 1000
    }

    /// Decodes released frames of `track` and feeds them through the resampler and endpointer;
    /// a discontinuity moves the track on without audio.
    fn feed(&mut self, track: usize, released: &mut Vec<Released>, last: bool) {
        let codec = self.codec;
        self.decoded.clear();
        for r in released.drain(..) {
            match r {
                Released::Audio(bytes) => codec.decode(&bytes, &mut self.decoded),
                Released::Silence(n) => self.decoded.resize(self.decoded.len() + n, 0.0),
                Released::Skip(n) => {
                    self.process(track, false);
                    self.decoded.clear();
                    let n16 =
                        (n as u64 * crate::audio::SAMPLE_RATE as u64 / self.rate as u64) as usize;
                    let next_segment = &mut self.next_segment;
                    let mut next_id = || {
                        let id = *next_segment;
                        *next_segment += 1;
                        id
                    };
                    let events = self.tracks[track].stream.skip(n16, &mut next_id);
                    for ev in events {
                        self.on_track_event(track, ev);
                    }
                }
            }
        }
        self.process(track, last);
    }

    /// Resamples and endpoints the decoded samples of `track` (`last`: the end of its audio).
    fn process(&mut self, track: usize, last: bool) {
        let t = &mut self.tracks[track];
        self.resampled.clear();
        let ok = if last {
            t.resampler
                .push(&self.decoded, &mut self.resampled)
                .and_then(|_| t.resampler.finish(&mut self.resampled))
        } else {
            t.resampler.push(&self.decoded, &mut self.resampled)
        };
        if let Err(e) = ok {
            tracing::error!(call = %self.id, track, "resampler failed: {e}");
        }
        let next_segment = &mut self.next_segment;
        let mut next_id = || {
            let id = *next_segment;
            *next_segment += 1;
            id
        };
        let mut utts = t.stream.push(&self.resampled, &mut next_id);
        if last {
            utts.extend(t.stream.finish(&mut next_id));
        }
        for ev in utts {
            self.on_track_event(track, ev);
        }
    }

    /// What the track's endpointer asked for: audio to transcribe, or a verdict on an early
    /// final.
    fn on_track_event(&mut self, track: usize, ev: TrackEvent) {
        match ev {
            TrackEvent::Transcribe(u) => self.submit(track, u),
            TrackEvent::Confirm { segment_id } => self.confirm(track, segment_id),
            TrackEvent::Retract { segment_id } => self.retract(track, segment_id),
        }
    }

    fn submit(&mut self, track: usize, u: UtteranceAudio) {
        let is_final = u.kind != UtteranceKind::Interim;
        let id = self.engine.queue.job_id();
        let submitted = Instant::now();
        self.jobs.insert(
            id,
            JobInfo {
                track,
                segment_id: u.segment_id,
                is_final,
                start_s: u.start_s,
                end_s: u.end_s,
                submitted,
            },
        );
        let job = AsrJob {
            id,
            audio: u.samples,
            offset_s: u.start_s,
            pauses: Vec::new(),
            reply: Reply::Async(self.tx.clone()),
            context_floor: Some(self.engine.config.final_context_min),
            context_margin: (!is_final).then_some(self.engine.config.interim_context_margin),
        };
        let key = (self.slot.id, track);
        if is_final {
            let prev_last_final = self.tracks[track].last_final;
            self.outstanding.push_back(PendingFinal {
                job: id,
                track,
                segment_id: u.segment_id,
                start_s: u.start_s,
                end_s: u.end_s,
                submitted,
                outcome: Outcome::Waiting,
                confirmed: u.kind == UtteranceKind::Final,
                prev_last_final,
            });
            self.tracks[track].last_final = Some(u.segment_id);
            self.engine.queue.cancel_interim(key);
            // interims of this utterance still on their way are stale
            self.jobs
                .retain(|_, j| j.is_final || j.track != track || j.segment_id > u.segment_id);
            let deadline =
                Instant::now() + Duration::from_millis(self.engine.config.final_target_ms);
            self.engine.queue.push_final(job, deadline);
        } else {
            self.stats.interims_requested += 1;
            self.engine.queue.push_interim(key, job);
        }
    }

    /// The endpoint closed the utterance as its early final said: the final counts from now
    /// (the latency metric measures from the endpoint, as for any final).
    fn confirm(&mut self, track: usize, segment_id: u64) {
        if let Some(p) = self
            .outstanding
            .iter_mut()
            .find(|p| p.track == track && p.segment_id == segment_id && !p.confirmed)
        {
            p.confirmed = true;
            p.submitted = Instant::now();
            self.confirmed_ready |= p.outcome.is_back();
            self.stats.early_finals_confirmed += 1;
            self.engine
                .stats
                .early_finals_confirmed
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Speech resumed after an early final: its job is cancelled (dropped from the queue, or
    /// aborted if a worker runs it) and its result, should one still come, ignored.
    fn retract(&mut self, track: usize, segment_id: u64) {
        let Some(i) = self
            .outstanding
            .iter()
            .position(|p| p.track == track && p.segment_id == segment_id && !p.confirmed)
        else {
            return;
        };
        let p = self.outstanding.remove(i).expect("position found");
        self.jobs.remove(&p.job);
        self.engine.queue.cancel_final(p.job);
        self.tracks[track].last_final = p.prev_last_final;
        self.stats.early_finals_retracted += 1;
        self.engine
            .stats
            .early_finals_retracted
            .fetch_add(1, Ordering::Relaxed);
        // a result waiting behind this one may now be first in line
        self.confirmed_ready |= self
            .outstanding
            .front()
            .is_some_and(|p| p.confirmed && p.outcome.is_back());
    }

    /// How long the connection should stop reading this call's socket: while its audio runs
    /// more than `max_audio_ahead_ms` ahead of the wall clock (until it no longer would), or
    /// while `max_queued_finals_per_call` finals wait for the pool (a short wait, then ask again).
    /// `None`: read on.
    pub fn pacing_pause(&self) -> Option<Duration> {
        let cfg = &self.engine.config;
        if self.outstanding.len() >= cfg.max_queued_finals_per_call {
            return Some(Duration::from_millis(50));
        }
        let heard = self
            .tracks
            .iter()
            .map(|t| t.stream.position())
            .max()
            .unwrap_or(0);
        let audio = Duration::from_secs_f64(heard as f64 / crate::audio::SAMPLE_RATE as f64);
        let allowed = self.started.elapsed() + Duration::from_millis(cfg.max_audio_ahead_ms);
        audio.checked_sub(allowed).filter(|d| !d.is_zero())
    }

    /// Whether finals became ready to emit while media was fed (an early final confirmed after
    /// its result came back): call [`LiveCall::emit_ready`].
    pub fn has_ready(&self) -> bool {
        self.confirmed_ready
    }

    /// Emits the finals that are ready, in order.
    pub fn emit_ready(&mut self) -> Vec<Arc<LiveEvent>> {
        self.confirmed_ready = false;
        self.drain_outstanding()
    }

    /// A worker's result: an interim becomes an event at once (conservatively redacted); a
    /// final waits for the earlier finals of its track, then goes through the track's
    /// redactor, into the store, and out as events.
    pub fn on_result(&mut self, r: AsrResult) -> Vec<Arc<LiveEvent>> {
        // Every job's time counts, also a stale interim's (its utterance became final while it
        // ran) and an aborted one's, whose audio was not transcribed.
        let aborted = matches!(r.hypothesis, Err(crate::asr::AsrError::Aborted));
        let info = self.jobs.remove(&r.id);
        let is_final = info.as_ref().is_some_and(|i| i.is_final);
        self.engine.metrics.asr_job(
            usize::from(!is_final),
            if aborted { 0.0 } else { r.audio_s },
            r.busy_s,
            r.cpu_s,
        );
        let Some(info) = info else { return Vec::new() };
        // times only: never text
        tracing::debug!(call = %self.id, track = info.track, segment = info.segment_id, is_final = info.is_final,
            audio_s = r.audio_s, busy_s = r.busy_s, "utterance transcribed");
        let heard = match r.hypothesis {
            Ok(h) => Some(h).filter(|h| !h.text.is_empty()),
            // an interim preempted by a final: skipped, like one replaced in the queue
            Err(crate::asr::AsrError::Aborted) if !info.is_final => None,
            Err(e) => {
                self.stats.failed_jobs += 1;
                tracing::error!(call = %self.id, track = info.track, start = info.start_s, "transcription failed: {e}");
                None
            }
        };
        if !info.is_final {
            return self.interim(info, heard).into_iter().collect();
        }
        if let Some(p) = self.outstanding.iter_mut().find(|p| p.job == r.id) {
            p.outcome = heard.map_or(Outcome::Nothing, Outcome::Heard);
        }
        self.drain_outstanding()
    }

    /// Hands the finals at the front of the line that have their result and are confirmed to
    /// the redactors, in order, and emits what they release.
    fn drain_outstanding(&mut self) -> Vec<Arc<LiveEvent>> {
        let mut out = Vec::new();
        let mut cleared = Vec::new();
        while self
            .outstanding
            .front()
            .is_some_and(|p| p.outcome.is_back() && p.confirmed)
        {
            let mut p = self.outstanding.pop_front().expect("front exists");
            let t = &mut self.tracks[p.track];
            match std::mem::replace(&mut p.outcome, Outcome::Waiting) {
                Outcome::Heard(h) => {
                    let raw = RawSegment {
                        start: p.start_s,
                        end: p.end_s,
                        text: h.text,
                        words: h.words,
                    };
                    t.held.push_back((p.segment_id, p.submitted));
                    t.last_final_at = Instant::now();
                    t.last_final_end_s = p.end_s;
                    let emitted = t.redactor.push_final(raw);
                    out.push((p.track, emitted));
                }
                Outcome::Nothing | Outcome::Waiting => {
                    self.stats.empty_finals += 1;
                    // The utterance was noise: if interims were shown, an empty final clears them.
                    if t.shown.is_some_and(|(sid, _)| sid == p.segment_id) {
                        t.shown = None;
                        cleared.push(p);
                    }
                }
            }
        }
        let version = self.engine.redactor.policy().version;
        let events = cleared
            .into_iter()
            .map(|p| {
                let ev = self.transcript_event(
                    p.track,
                    SegmentUpdate {
                        segment_id: p.segment_id,
                        seq: None,
                        is_final: true,
                        start_s: p.start_s,
                        end_s: p.end_s,
                        text: String::new(),
                        redactions: Vec::new(),
                        policy_version: version,
                    },
                );
                self.engine.bus.publish(ev.clone());
                ev
            })
            .collect();
        self.finish_emitted(out, events)
    }

    /// Hands the redactors' released finals to the writer; returns `events` (published
    /// already: empty finals that clear an interim).
    fn finish_emitted(
        &mut self,
        batches: Vec<(usize, Vec<RedactedSegment>)>,
        events: Vec<Arc<LiveEvent>>,
    ) -> Vec<Arc<LiveEvent>> {
        for (track, emitted) in batches {
            for seg in emitted {
                self.emit_final(track, seg);
            }
        }
        events
    }

    fn interim(&mut self, info: JobInfo, h: Option<Hypothesis>) -> Option<Arc<LiveEvent>> {
        let t = &mut self.tracks[info.track];
        let stale = t.last_final.is_some_and(|f| info.segment_id <= f) // its final is on the way
            || t.shown.is_some_and(|(sid, end)| sid == info.segment_id && end >= info.end_s); // a newer one is shown
        let Some(h) = h.filter(|_| !stale) else {
            self.stats.interims_dropped += 1;
            return None;
        };
        let raw = RawSegment {
            start: info.start_s,
            end: info.end_s,
            text: h.text,
            words: h.words,
        };
        let red = t.redactor.interim(&raw);
        t.shown = Some((info.segment_id, info.end_s));
        self.stats.interims += 1;
        self.engine.stats.interims.fetch_add(1, Ordering::Relaxed);
        self.engine
            .metrics
            .interim_latency
            .observe(info.submitted.elapsed());
        let ev = self.transcript_event(
            info.track,
            SegmentUpdate {
                segment_id: info.segment_id,
                seq: None,
                is_final: false,
                start_s: red.start,
                end_s: red.end,
                redactions: redactions_out(&red.spans),
                text: red.text,
                policy_version: red.policy_version,
            },
        );
        self.engine.bus.publish(ev.clone());
        Some(ev)
    }

    /// The event that tells subscribers about one segment of `track`.
    fn transcript_event(&self, track: usize, u: SegmentUpdate) -> Arc<LiveEvent> {
        Arc::new(LiveEvent {
            tenant: self.tenant.clone(),
            call_id: self.id.clone(),
            body: EventBody::Transcript {
                call_id: self.id.clone(),
                segment_id: u.segment_id,
                seq: u.seq,
                track,
                speaker: self.tracks[track].speaker.clone(),
                is_final: u.is_final,
                start_ms: (u.start_s * 1000.0).round() as i64,
                end_ms: (u.end_s * 1000.0).round() as i64,
                text: u.text,
                redactions: u.redactions,
                policy_version: u.policy_version,
            },
        })
    }

    /// Hands one redacted final to the call's writer, which publishes it once it is stored.
    fn emit_final(&mut self, track: usize, seg: RedactedSegment) {
        let t = &mut self.tracks[track];
        let (segment_id, submitted) = t.held.pop_front().unwrap_or((0, Instant::now()));
        if t.shown.is_some_and(|(sid, _)| sid == segment_id) {
            t.shown = None;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let stored = TranscriptSegment {
            start: seg.start,
            end: seg.end,
            speaker: t.speaker.clone(),
            text: seg.text,
            words: seg.words,
            redactions: seg.spans,
            policy_version: seg.policy_version,
        };
        self.stats.finals += 1;
        self.engine.stats.finals.fetch_add(1, Ordering::Relaxed);
        let event = self.transcript_event(
            track,
            SegmentUpdate {
                segment_id,
                seq: Some(seq),
                is_final: true,
                start_s: stored.start,
                end_s: stored.end,
                redactions: redactions_out(&stored.redactions),
                text: stored.text.clone(),
                policy_version: stored.policy_version,
            },
        );
        let pushed = self.writer.push(Unstored {
            seq,
            segment: stored,
            event,
            submitted,
            queued: Instant::now(),
        });
        if let Err(why) = pushed {
            self.failure.get_or_insert(why);
        }
    }

    /// Periodic housekeeping: releases finals the redactor holds (their tail could begin an
    /// identifier) once their speaker has been silent for the hold time after the held audio
    /// ended — counted in the track's audio, so decoding and queueing time do not add to it —
    /// and in any case four times the hold after the final came back (a speaker who goes
    /// straight on would otherwise hold it for the whole next utterance; a stream that stops
    /// sending audio would hold it for ever).
    pub fn tick(&mut self) -> Vec<Arc<LiveEvent>> {
        let hold = Duration::from_millis(self.engine.config.redaction_hold_ms);
        let mut batches = Vec::new();
        for (i, t) in self.tracks.iter_mut().enumerate() {
            if t.held.is_empty() {
                continue;
            }
            let heard_s = t.stream.position() as f32 / crate::audio::SAMPLE_RATE as f32;
            let silent_for = Duration::from_secs_f32((heard_s - t.last_final_end_s).max(0.0));
            let quiet =
                !self.outstanding.iter().any(|p| p.track == i) && t.stream.open_segment().is_none();
            if quiet && silent_for >= hold || t.last_final_at.elapsed() >= hold * 4 {
                batches.push((i, t.redactor.flush()));
            }
        }
        self.finish_emitted(batches, Vec::new())
    }

    /// End of the audio: flushes the reorder buffers and resamplers and finalises every open
    /// utterance. Then pump [`LiveCall::next_input`]'s results into [`LiveCall::on_result`] until
    /// [`LiveCall::drained`], and call [`LiveCall::close`].
    pub fn end_audio(&mut self) {
        for track in 0..self.tracks.len() {
            let mut released = Vec::new();
            self.tracks[track].jitter.flush(&mut released);
            self.feed(track, &mut released, true);
        }
    }

    /// Every final has come back from the pool.
    pub fn drained(&self) -> bool {
        self.outstanding.is_empty()
    }

    /// Emits what the redactors still hold, marks the call finished in the store and announces
    /// its end.
    pub async fn close(mut self, how: CallEnd) -> Vec<Arc<LiveEvent>> {
        if !self.outstanding.is_empty() {
            tracing::warn!(call = %self.id, lost = self.outstanding.len(), "finals still in the pool at close");
            // nobody will read them: they must not keep the workers (and other calls) waiting
            for p in &self.outstanding {
                self.engine.queue.cancel_final(p.job);
            }
        }
        let mut batches = Vec::new();
        for (i, t) in self.tracks.iter_mut().enumerate() {
            batches.push((i, t.redactor.flush()));
        }
        let mut events = self.finish_emitted(batches, Vec::new());
        // every final is handed over: wait until each is stored (or the writer gave up)
        let (stored, report) = self.writer.finish().await;
        events.extend(stored);
        let status = match how {
            // a call some of whose finals were lost is not complete, however it ended
            _ if report.lost > 0 => CallStatus::Failed,
            CallEnd::Stopped => CallStatus::Complete,
            CallEnd::Interrupted | CallEnd::Shutdown => CallStatus::Interrupted,
            CallEnd::Failed => CallStatus::Failed,
        };
        let ended_at = crate::sys::now();
        if let Err(e) = self
            .engine
            .store
            .finish_call(&self.actor, &self.tenant, &self.id, status, ended_at)
            .await
        {
            tracing::error!(call = %self.id, "cannot record the call's end now (retried in the background): {e}");
            self.engine.remember_unfinished(Unfinished {
                actor: self.actor.clone(),
                tenant: self.tenant.clone(),
                call: self.id.clone(),
                status,
                ended_at,
            });
        }
        if report.lost > 0 {
            tracing::error!(call = %self.id, stored = report.stored, lost = report.lost, "call ended with finals the store did not take");
        }
        let status_str = match how {
            _ if report.lost > 0 => "failed",
            CallEnd::Stopped => "complete",
            CallEnd::Interrupted => "interrupted",
            CallEnd::Shutdown => "shutdown",
            CallEnd::Failed => "failed",
        };
        let ev = Arc::new(LiveEvent {
            tenant: self.tenant.clone(),
            call_id: self.id.clone(),
            body: EventBody::CallEnded {
                call_id: self.id.clone(),
                status: status_str.into(),
                ended_at,
                segments: report.stored,
                finals_not_stored: report.lost,
                interims: Some(self.stats.interims),
                interims_skipped: Some(
                    self.stats
                        .interims_requested
                        .saturating_sub(self.stats.interims),
                ),
            },
        });
        self.engine.bus.publish(ev.clone());
        events.push(ev);
        self.closed = true;
        self.engine.unregister(&self.id);
        self.engine
            .stats
            .calls_ended
            .fetch_add(1, Ordering::Relaxed);
        let jitter: Vec<_> = self.tracks.iter().map(|t| t.jitter.stats).collect();
        tracing::info!(call = %self.id, provider = self.provider.as_str(), how = status_str, secs = self.started.elapsed().as_secs_f32(), frames = self.stats.frames,
            finals = self.stats.finals, interims = self.stats.interims, interims_requested = self.stats.interims_requested, interims_dropped = self.stats.interims_dropped, empty_finals = self.stats.empty_finals,
            early_finals_confirmed = self.stats.early_finals_confirmed, early_finals_retracted = self.stats.early_finals_retracted, failed_jobs = self.stats.failed_jobs, jitter = ?jitter, "call ended");
        events
    }
}

impl Drop for LiveCall {
    fn drop(&mut self) {
        if !self.closed {
            // Dropped without close (a task aborted): the call is no longer active.
            self.engine.unregister(&self.id);
            for i in 0..self.tracks.len() {
                self.engine.queue.cancel_interim((self.slot.id, i));
            }
            for p in &self.outstanding {
                self.engine.queue.cancel_final(p.job);
            }
        }
    }
}

/// What a transcript event says about one segment (already redacted).
struct SegmentUpdate {
    segment_id: u64,
    /// The final's place in the stored transcript; `None` for interims and cleared lines.
    seq: Option<u64>,
    is_final: bool,
    start_s: f32,
    end_s: f32,
    text: String,
    redactions: Vec<RedactionOut>,
    policy_version: u32,
}

fn redactions_out(spans: &[crate::redact::Span]) -> Vec<RedactionOut> {
    spans
        .iter()
        .map(|s| RedactionOut {
            kind: s.kind,
            start: s.start,
            end: s.end,
        })
        .collect()
}

/// The call's rules with canned hypotheses: an engine without workers, jobs taken from its
/// queue and answered by hand. No model, no audio processing.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::{AsrError, PoolLayout};
    use crate::ingest::{MediaFormat, TrackSpec};
    use crate::live::LiveConfig;
    use crate::store::{Role, Store, StoreConfig};

    struct Bench {
        engine: Arc<Engine>,
        call: LiveCall,
        _dir: tempfile::TempDir,
    }

    async fn bench(config: LiveConfig) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig::new(dir.path(), None))
            .await
            .unwrap();
        let tenant = store
            .create_tenant(&Actor::System("test"), "acme", None)
            .await
            .unwrap();
        let redactor = crate::cli::load_redactor(None).unwrap();
        let layout = PoolLayout {
            workers: 2,
            threads: 1,
        };
        let engine = Engine::without_workers(store, redactor, config, layout).unwrap();
        let principal = Principal {
            tenant: tenant.id,
            role: Role::Ingest,
            key_id: "csk_testtest".into(),
        };
        let start = CallStart {
            external_id: "CA1".into(),
            tracks: ["caller", "agent"]
                .map(|s| TrackSpec {
                    name: s.into(),
                    speaker: s.into(),
                })
                .to_vec(),
            format: MediaFormat {
                codec: Codec::Mulaw,
                sample_rate: 8000,
                channels: 1,
            },
            token: None,
            echo: false,
        };
        let (call, _) = LiveCall::start(engine.clone(), &principal, Protocol::Twilio, start)
            .await
            .unwrap();
        Bench {
            engine,
            call,
            _dir: dir,
        }
    }

    impl Bench {
        /// A result, and what it published once every final it released is stored.
        async fn result(&mut self, r: AsrResult) -> Vec<Arc<LiveEvent>> {
            let mut out = self.call.on_result(r);
            out.extend(self.call.settled().await);
            out
        }

        async fn tick(&mut self) -> Vec<Arc<LiveEvent>> {
            let mut out = self.call.tick();
            out.extend(self.call.settled().await);
            out
        }

        async fn emit_ready(&mut self) -> Vec<Arc<LiveEvent>> {
            let mut out = self.call.emit_ready();
            out.extend(self.call.settled().await);
            out
        }
    }

    fn utterance(segment_id: u64, kind: UtteranceKind, start_s: f32) -> TrackEvent {
        TrackEvent::Transcribe(UtteranceAudio {
            segment_id,
            kind,
            start_s,
            end_s: start_s + 1.0,
            samples: vec![0.0; 16000],
        })
    }

    /// The job the call queued last (finals before interims, as the scheduler hands them).
    fn take_job(b: &Bench) -> AsrJob {
        assert!(b.engine.queue.depth().finals + b.engine.queue.depth().interims > 0);
        b.engine.queue.next_job().expect("a job is queued")
    }

    fn heard(job: &AsrJob, text: &str) -> AsrResult {
        let words = text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| crate::asr::Word {
                word: w.into(),
                start: job.offset_s + i as f32 * 0.2,
                end: job.offset_s + i as f32 * 0.2 + 0.15,
                p: 0.9,
            })
            .collect();
        AsrResult {
            id: job.id,
            hypothesis: Ok(Hypothesis {
                text: text.into(),
                words,
                breaks: vec![0],
                ..Hypothesis::default()
            }),
            audio_s: 1.0,
            busy_s: 0.1,
            cpu_s: 0.1,
        }
    }

    /// (track, is_final, text) of each transcript event.
    fn lines(events: &[Arc<LiveEvent>]) -> Vec<(usize, bool, String)> {
        events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Transcript {
                    track,
                    is_final,
                    text,
                    ..
                } => Some((*track, *is_final, text.clone())),
                _ => None,
            })
            .collect()
    }

    fn line(track: usize, is_final: bool, text: &str) -> (usize, bool, String) {
        (track, is_final, text.into())
    }

    #[tokio::test]
    async fn finals_reach_the_redactors_in_the_order_their_utterances_ended() {
        let mut b = bench(LiveConfig::default()).await;
        b.call
            .on_track_event(0, utterance(1, UtteranceKind::Final, 0.0));
        b.call
            .on_track_event(1, utterance(2, UtteranceKind::Final, 1.5));
        let first = take_job(&b);
        let second = take_job(&b);
        // the agent's final comes back first: it waits for the caller's
        let early = b.result(heard(&second, "Let me check that.")).await;
        assert!(lines(&early).is_empty(), "{:?}", lines(&early));
        let both = b.result(heard(&first, "Hello there.")).await;
        assert_eq!(
            lines(&both),
            [
                line(0, true, "Hello there."),
                line(1, true, "Let me check that.")
            ]
        );
        let seqs: Vec<_> = both.iter().filter_map(|e| e.final_seq()).collect();
        assert_eq!(seqs, [0, 1], "stored in that order");
    }

    #[tokio::test]
    async fn an_early_final_waits_for_its_confirmation_and_holds_later_finals_back() {
        let mut b = bench(LiveConfig::default()).await;
        b.call
            .on_track_event(0, utterance(1, UtteranceKind::EarlyFinal, 0.0));
        b.call
            .on_track_event(1, utterance(2, UtteranceKind::Final, 1.5));
        let early = take_job(&b);
        let other = take_job(&b);
        assert!(lines(&b.result(heard(&early, "Thank you.")).await).is_empty());
        assert!(lines(&b.result(heard(&other, "Sure.")).await).is_empty());
        assert!(!b.call.has_ready());
        b.call
            .on_track_event(0, TrackEvent::Confirm { segment_id: 1 });
        assert!(b.call.has_ready(), "confirmed with its result back");
        let out = b.emit_ready().await;
        assert_eq!(
            lines(&out),
            [line(0, true, "Thank you."), line(1, true, "Sure.")]
        );
        assert_eq!(b.call.stats.early_finals_confirmed, 1);
        assert!(b.call.drained());
    }

    #[tokio::test]
    async fn a_retracted_early_final_is_cancelled_and_its_late_result_ignored() {
        let mut b = bench(LiveConfig::default()).await;
        b.call
            .on_track_event(0, utterance(1, UtteranceKind::EarlyFinal, 0.0));
        b.call
            .on_track_event(1, utterance(2, UtteranceKind::Final, 1.5));
        assert_eq!(b.engine.queue.depth().finals, 2);
        b.call
            .on_track_event(0, TrackEvent::Retract { segment_id: 1 });
        assert_eq!(b.engine.queue.depth().finals, 1, "its job left the queue");
        assert_eq!(b.call.stats.early_finals_retracted, 1);
        // the other track's final is now first in line and goes out at once
        let other = take_job(&b);
        let out = b.result(heard(&other, "Go on.")).await;
        assert_eq!(lines(&out), [line(1, true, "Go on.")]);
        // a result for the retracted job (a worker already had it) is ignored
        let stale = AsrResult {
            id: other.id - 1,
            hypothesis: Err(AsrError::Aborted),
            audio_s: 1.0,
            busy_s: 0.0,
            cpu_s: 0.0,
        };
        assert!(b.result(stale).await.is_empty());
        // the utterance goes on: its interims are not stale
        b.call
            .on_track_event(0, utterance(1, UtteranceKind::Interim, 0.0));
        let interim = take_job(&b);
        let shown = b.result(heard(&interim, "My name is")).await;
        assert_eq!(lines(&shown), [line(0, false, "My name is")]);
        assert!(b.call.drained());
    }

    #[tokio::test]
    async fn an_interim_of_an_utterance_already_final_is_dropped() {
        let mut b = bench(LiveConfig::default()).await;
        b.call
            .on_track_event(0, utterance(1, UtteranceKind::Interim, 0.0));
        let interim = take_job(&b);
        b.call
            .on_track_event(0, utterance(1, UtteranceKind::Final, 0.0));
        let fin = take_job(&b);
        assert!(b.result(heard(&interim, "Hello")).await.is_empty());
        assert_eq!(b.call.stats.interims, 0, "nothing shown");
        let out = b.result(heard(&fin, "Hello there.")).await;
        assert_eq!(lines(&out), [line(0, true, "Hello there.")]);
    }

    #[tokio::test]
    async fn an_empty_final_clears_the_interim_on_screen() {
        let mut b = bench(LiveConfig::default()).await;
        b.call
            .on_track_event(0, utterance(1, UtteranceKind::Interim, 0.0));
        let interim = take_job(&b);
        let shown = b.result(heard(&interim, "Mm")).await;
        assert_eq!(lines(&shown), [line(0, false, "Mm")]);
        b.call
            .on_track_event(0, utterance(1, UtteranceKind::Final, 0.0));
        let fin = take_job(&b);
        let out = b.result(heard(&fin, "")).await;
        assert_eq!(lines(&out), [line(0, true, "")], "a final with no text");
        assert!(
            out.iter().all(|e| e.final_seq().is_none()),
            "nothing stored"
        );
        assert_eq!(b.call.stats.empty_finals, 1);
    }

    #[tokio::test]
    async fn a_held_tail_is_released_by_the_tick_after_the_hold() {
        let config = LiveConfig {
            redaction_hold_ms: 50,
            ..LiveConfig::default()
        };
        let mut b = bench(config).await;
        b.call
            .on_track_event(0, utterance(1, UtteranceKind::Final, 0.0));
        let fin = take_job(&b);
        // the tail could begin a phone number: the redactor holds it
        let out = b.result(heard(&fin, "My number is nine eight")).await;
        assert!(lines(&out).is_empty(), "{:?}", lines(&out));
        assert!(
            lines(&b.tick().await).is_empty(),
            "not yet: the hold has not passed"
        );
        // no audio arrives, so the track's clock stands still: the wall-clock bound (4 × hold)
        // releases it
        tokio::time::sleep(Duration::from_millis(250)).await;
        let out = b.tick().await;
        assert_eq!(lines(&out), [line(0, true, "My number is nine eight")]);
        assert_eq!(out[0].final_seq(), Some(0), "stored when released");
    }

    #[tokio::test]
    async fn close_flushes_what_the_redactors_hold_and_stores_it() {
        let mut b = bench(LiveConfig::default()).await;
        b.call
            .on_track_event(0, utterance(1, UtteranceKind::Final, 0.0));
        let fin = take_job(&b);
        assert!(lines(&b.result(heard(&fin, "My number is nine eight")).await).is_empty());
        let (tenant, id) = (b.call.tenant.clone(), b.call.id.clone());
        let out = b.call.close(CallEnd::Stopped).await;
        assert_eq!(lines(&out).len(), 1, "the held final is emitted at close");
        assert!(matches!(
            out.last().map(|e| &e.body),
            Some(EventBody::CallEnded { .. })
        ));
        let actor = Actor::System("test");
        let (_, transcript) = b
            .engine
            .store
            .transcript(&actor, &tenant, &id)
            .await
            .unwrap();
        assert_eq!(transcript.segments.len(), 1, "and stored");
        assert!(!b.engine.is_active(&id));
    }
}

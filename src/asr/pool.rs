//! The worker pool: one shared `WhisperContext`, one `WhisperState` per worker thread (created
//! up front, so a pool that starts can always decode), jobs handed over through a bounded
//! crossbeam channel, results returned through the sender each job carries.
//!
//! Whisper runs on dedicated OS threads, never on an async runtime. workers × threads must not
//! exceed the cores: ggml's thread pool spin-waits, and oversubscription is many times slower
//! (docs/PERFORMANCE.md), so [`PoolLayout::fit`] clamps and says so.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperState};

use super::guard::{self, DropReason};
use super::job::{AsrJob, AsrResult, Reply};
use super::scheduler::RtQueue;
use super::{AsrError, DecodeOptions, Hypothesis, Model, Word};
use crate::audio::SAMPLE_RATE;

/// How many workers and how many whisper threads each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLayout {
    pub workers: usize,
    pub threads: usize,
}

impl PoolLayout {
    /// Fits the requested layout to `cores`: defaults fill the machine with single-threaded
    /// workers (measured best for throughput); explicit values are clamped so that
    /// workers × threads ≤ cores. Returns the layout and a warning when it had to clamp.
    pub fn fit(
        workers: Option<usize>,
        threads: Option<usize>,
        cores: usize,
    ) -> (Self, Option<String>) {
        let cores = cores.max(1);
        let threads_req = threads.unwrap_or(1).max(1);
        let workers_req = workers.unwrap_or((cores / threads_req).max(1)).max(1);
        let mut layout = Self {
            workers: workers_req,
            threads: threads_req,
        };
        if layout.workers * layout.threads <= cores {
            return (layout, None);
        }
        layout.workers = layout.workers.min(cores);
        layout.threads = (cores / layout.workers).max(1);
        let warning = format!(
            "{workers_req} workers × {threads_req} threads would oversubscribe {cores} cores \
             (whisper slows down 17–35× when it does); using {} × {}",
            layout.workers, layout.threads
        );
        (layout, Some(warning))
    }
}

/// Where workers take their jobs from.
enum Source {
    /// First come, first served (batch).
    Fifo(Receiver<AsrJob>),
    /// The real-time scheduler (live calls): this worker's index and abort flag there.
    Rt(Arc<RtQueue>, usize, Arc<AtomicBool>),
}

impl Source {
    /// Whether a test asked the next job to panic (the real-time queue's fault hook).
    fn panic_injected(&self) -> bool {
        matches!(self, Source::Rt(q, _, _) if q.take_injected_panic())
    }

    /// Counts a job whose worker panicked.
    fn count_panic(&self) {
        if let Source::Rt(q, _, _) = self {
            q.stats.worker_panics.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The next job, and the abort flag to run it under when it may be preempted.
    fn next(&self) -> Option<(AsrJob, Option<&AtomicBool>)> {
        match self {
            Source::Fifo(rx) => rx.recv().ok().map(|job| (job, None)),
            Source::Rt(q, worker, abort) => q
                .next_for(*worker)
                .map(|a| (a.job, a.abortable.then_some(&**abort))),
        }
    }
}

/// The pool. Dropping it closes the queue and joins the workers after they finish.
pub struct WhisperPool {
    jobs: Option<Sender<AsrJob>>,
    rt: Option<Arc<RtQueue>>,
    handles: Vec<JoinHandle<()>>,
    layout: PoolLayout,
}

impl WhisperPool {
    /// A pool taking jobs first come, first served through [`WhisperPool::submit`].
    pub fn new(model: &Model, layout: PoolLayout, opts: DecodeOptions) -> Result<Self, AsrError> {
        let (tx, rx) = crossbeam_channel::bounded::<AsrJob>(layout.workers * 4);
        let mut pool = Self::start(model, layout, opts, || Source::Fifo(rx.clone()))?;
        pool.jobs = Some(tx);
        Ok(pool)
    }

    /// A pool whose workers take jobs from the real-time scheduler `queue` (live calls).
    pub fn with_scheduler(
        model: &Model,
        layout: PoolLayout,
        opts: DecodeOptions,
        queue: Arc<RtQueue>,
    ) -> Result<Self, AsrError> {
        let mut pool = Self::start(model, layout, opts, || {
            let (index, abort) = queue.register_worker();
            Source::Rt(queue.clone(), index, abort)
        })?;
        pool.rt = Some(queue);
        Ok(pool)
    }

    fn start(
        model: &Model,
        layout: PoolLayout,
        opts: DecodeOptions,
        source: impl Fn() -> Source,
    ) -> Result<Self, AsrError> {
        let language: Arc<str> = if model.is_multilingual() {
            let lang = opts.language.clone().unwrap_or_else(|| "en".into());
            if whisper_rs::get_lang_id(&lang).is_none() {
                return Err(AsrError::Language(lang));
            }
            lang.into()
        } else {
            "en".into()
        };
        let mut handles = Vec::with_capacity(layout.workers);
        for i in 0..layout.workers {
            let state = model
                .ctx
                .create_state()
                .map_err(|e| AsrError::Whisper(e.to_string()))?;
            let worker = Worker {
                ctx: Arc::clone(&model.ctx),
                state,
                threads: layout.threads,
                multilingual: model.is_multilingual(),
                language: Arc::clone(&language),
                opts: opts.clone(),
            };
            let src = source();
            let handle = std::thread::Builder::new()
                .name(format!("asr-{i}"))
                .spawn(move || worker.run(src))
                .map_err(|e| AsrError::Whisper(format!("cannot start worker thread: {e}")))?;
            handles.push(handle);
        }
        Ok(Self {
            jobs: None,
            rt: None,
            handles,
            layout,
        })
    }

    pub fn layout(&self) -> PoolLayout {
        self.layout
    }

    /// Transcribes one utterance and waits for the result (tests, benchmarks, tools).
    pub fn transcribe_blocking(
        &self,
        audio: Vec<f32>,
        offset_s: f32,
    ) -> Result<Hypothesis, AsrError> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        let job = AsrJob {
            id: 0,
            audio,
            offset_s,
            pauses: Vec::new(),
            reply: Reply::Channel(reply),
            context_floor: None,
            context_margin: None,
        };
        match &self.rt {
            Some(q) => q.push_final(job, Instant::now()),
            None => self.submit(job)?,
        }
        rx.recv().map_err(|_| AsrError::PoolClosed)?.hypothesis
    }

    /// Queues a job; blocks while the queue is full (back-pressure on the producer).
    pub fn submit(&self, job: AsrJob) -> Result<(), AsrError> {
        self.jobs
            .as_ref()
            .ok_or(AsrError::PoolClosed)?
            .send(job)
            .map_err(|_| AsrError::PoolClosed)
    }
}

impl Drop for WhisperPool {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(q) = &self.rt {
            q.close();
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

struct Worker {
    ctx: Arc<WhisperContext>,
    state: WhisperState,
    threads: usize,
    multilingual: bool,
    language: Arc<str>,
    opts: DecodeOptions,
}

/// whisper.cpp refuses input shorter than 1 s; shorter utterances are padded with silence.
const MIN_SAMPLES: usize = SAMPLE_RATE as usize * 11 / 10;
/// whisper works on windows of at most 30 s.
const MAX_SAMPLES: usize = SAMPLE_RATE as usize * 30;

impl Worker {
    fn run(mut self, jobs: Source) {
        while let Some((job, abort)) = jobs.next() {
            let started = Instant::now();
            let cpu0 = crate::metrics::thread_cpu_seconds();
            let audio_s = job.audio.len() as f32 / SAMPLE_RATE as f32;
            // A panic (a bug here or in whisper-rs) fails this job alone: the worker's whisper
            // state, which the panic may have left half-updated, is replaced and the worker
            // takes the next job. No text is in the log: the panic message is code's, and the
            // job's audio is only dropped.
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if jobs.panic_injected() {
                    panic!("injected worker panic (test hook)");
                }
                self.transcribe(
                    &job.audio,
                    job.offset_s,
                    &job.pauses,
                    job.context_floor,
                    job.context_margin,
                    abort,
                )
            }));
            let hypothesis = match run {
                Ok(h) => h,
                Err(_) => {
                    jobs.count_panic();
                    let thread = std::thread::current();
                    let name = thread.name().unwrap_or("asr");
                    match self.ctx.create_state() {
                        Ok(state) => {
                            self.state = state;
                            tracing::error!(
                                worker = name,
                                job = job.id,
                                "recogniser worker panicked: the utterance failed, the worker's state was replaced"
                            );
                        }
                        Err(e) => tracing::error!(
                            worker = name,
                            job = job.id,
                            "recogniser worker panicked and its state could not be replaced ({e}); it goes on with the old one"
                        ),
                    }
                    Err(AsrError::WorkerPanicked)
                }
            };
            drop(job.audio);
            job.reply.send(AsrResult {
                id: job.id,
                hypothesis,
                audio_s,
                busy_s: started.elapsed().as_secs_f32(),
                cpu_s: (crate::metrics::thread_cpu_seconds() - cpu0) as f32,
            });
        }
    }

    fn transcribe(
        &mut self,
        audio: &[f32],
        offset_s: f32,
        pauses: &[(f32, f32)],
        context_floor: Option<u32>,
        context_margin: Option<u32>,
        abort: Option<&AtomicBool>,
    ) -> Result<Hypothesis, AsrError> {
        let audio = &audio[..audio.len().min(MAX_SAMPLES)];
        let input: Cow<[f32]> = if audio.len() < MIN_SAMPLES {
            let mut v = Vec::with_capacity(MIN_SAMPLES);
            v.extend_from_slice(audio);
            v.resize(MIN_SAMPLES, 0.0);
            Cow::Owned(v)
        } else {
            Cow::Borrowed(audio)
        };
        let secs = input.len() as f32 / SAMPLE_RATE as f32;
        let opts = &self.opts;
        let mut p = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        p.set_n_threads(self.threads as i32);
        p.set_language(Some(&self.language));
        p.set_translate(false);
        p.set_no_context(true);
        p.set_single_segment(false);
        p.set_token_timestamps(true);
        p.set_print_special(false);
        p.set_print_progress(false);
        p.set_print_realtime(false);
        p.set_print_timestamps(false);
        p.set_suppress_blank(true);
        p.set_suppress_nst(true);
        p.set_temperature_inc(opts.temperature_inc);
        p.set_max_tokens((opts.max_tokens_base as f32 + opts.max_tokens_per_s * secs) as i32);
        if !opts.full_context {
            let floor = context_floor.unwrap_or(opts.context_min) as i32;
            p.set_audio_ctx(
                audio_ctx_for(secs, context_margin.unwrap_or(opts.context_margin))
                    .max(floor)
                    .min(1500),
            );
        }
        if let Some(flag) = abort {
            // SAFETY: whisper.cpp calls `abort_requested` with this pointer only during the
            // `full` call below, while `flag` (owned by the pool's `Source`) is alive; the
            // callback only reads the atomic.
            unsafe {
                p.set_abort_callback(Some(abort_requested));
                p.set_abort_callback_user_data(std::ptr::from_ref(flag).cast_mut().cast());
            }
        }
        if let Err(e) = self.state.full(p, &input) {
            return Err(if abort.is_some_and(|f| f.load(Ordering::Relaxed)) {
                AsrError::Aborted
            } else {
                AsrError::Whisper(e.to_string())
            });
        }

        let mut words: Vec<Word> = Vec::new();
        let mut breaks = Vec::new();
        let (mut logprob_sum, mut n_text_tokens) = (0.0f32, 0usize);
        let mut no_speech_prob = 0.0f32;
        let eot = self.ctx.token_eot();
        for seg in self.state.as_iter() {
            no_speech_prob = no_speech_prob.max(seg.no_speech_probability());
            let mut seg_start = true;
            for t in 0..seg.n_tokens() {
                let Some(tok) = seg.get_token(t) else {
                    continue;
                };
                let data = tok.token_data();
                if data.id >= eot {
                    continue; // special and timestamp tokens
                }
                let piece = tok
                    .to_str_lossy()
                    .map(|s| s.into_owned())
                    .unwrap_or_default();
                logprob_sum += data.plog;
                n_text_tokens += 1;
                let t0 = offset_s + data.t0.max(0) as f32 / 100.0;
                let t1 = offset_s + data.t1.max(0) as f32 / 100.0;
                let starts_word = piece.starts_with(' ') || words.is_empty() || seg_start;
                if starts_word {
                    if seg_start {
                        breaks.push(words.len());
                        seg_start = false;
                    }
                    words.push(Word {
                        word: piece,
                        start: t0,
                        end: t1,
                        p: data.p,
                    });
                } else if let Some(last) = words.last_mut() {
                    let last: &mut Word = last;
                    last.word.push_str(&piece);
                    last.end = t1.max(last.end);
                    last.p = last.p.min(data.p);
                }
            }
        }
        if self.multilingual {
            no_speech_prob = self.multilingual_no_speech_prob().unwrap_or(no_speech_prob);
        }
        let avg_logprob = if n_text_tokens > 0 {
            logprob_sum / n_text_tokens as f32
        } else {
            0.0
        };
        finish_hypothesis(words, breaks, no_speech_prob, avg_logprob, pauses)
    }

    /// whisper.cpp 1.8.3 reads the no-speech probability from an unwritten logits row when the
    /// prompt is longer than `[sot]` (every multilingual prompt), reporting ~0. Decoding `[sot]`
    /// alone against the encoder output the state still holds gives the right value (3–6 ms).
    fn multilingual_no_speech_prob(&mut self) -> Option<f32> {
        let sot = self.ctx.token_sot();
        self.state.decode(&[sot], 0, self.threads).ok()?;
        let logits = self.state.get_logits().ok()?;
        let nosp = self.ctx.token_nosp() as usize;
        // Softmax over the text vocabulary only (as whisper.cpp does).
        let max = logits.iter().copied().fold(f32::MIN, f32::max);
        let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
        logits.get(nosp).map(|l| (l - max).exp() / sum)
    }
}

/// whisper.cpp's abort callback: the worker's abort flag (see [`RtQueue`]'s preemption).
unsafe extern "C" fn abort_requested(flag: *mut std::ffi::c_void) -> bool {
    // SAFETY: `flag` is the `&AtomicBool` set beside this callback in `Worker::transcribe`.
    unsafe { (*flag.cast::<AtomicBool>()).load(Ordering::Relaxed) }
}

fn finish_hypothesis(
    words: Vec<Word>,
    breaks: Vec<usize>,
    no_speech_prob: f32,
    avg_logprob: f32,
    pauses: &[(f32, f32)],
) -> Result<Hypothesis, AsrError> {
    let had_words = !words.is_empty();
    let (words, breaks) = guard::strip_tags(words, breaks);
    let (words, _looped) = guard::cut_repetition_loops(words, pauses);
    let (words, breaks) = guard::spell_ranges(words, breaks);
    // Judged on the words that would be emitted: tags ("♪") and loops ("A A A A …") are
    // decoded confidently and would prop up the mean.
    let mean_word_p = if words.is_empty() {
        1.0
    } else {
        words.iter().map(|w| w.p).sum::<f32>() / words.len() as f32
    };
    if guard::is_no_speech(no_speech_prob, avg_logprob, mean_word_p) {
        return Ok(Hypothesis {
            no_speech_prob,
            avg_logprob,
            dropped: Some(DropReason::NoSpeech),
            ..Default::default()
        });
    }
    let breaks: Vec<usize> = breaks.into_iter().filter(|&b| b < words.len()).collect();
    let text = guard::join_words(&words);
    let dropped = (had_words && text.is_empty()).then_some(DropReason::OnlyTags);
    Ok(Hypothesis {
        text,
        words,
        breaks,
        no_speech_prob,
        avg_logprob,
        dropped,
    })
}

/// The encoder's audio context for `secs` of audio: 50 positions per second plus `margin`
/// positions of the silence after it, rounded up to a multiple of 64, at most the model's 1500.
///
/// The margin matters: with barely any silence after the speech tiny.en repeats short
/// utterances ("done, done, done…"); docs/PERFORMANCE.md has the WER at each margin.
pub fn audio_ctx_for(secs: f32, margin: u32) -> i32 {
    let positions = (secs * 50.0).ceil() as i32 + margin as i32;
    (((positions + 63) / 64) * 64).min(1500)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_defaults_fill_the_cores_with_single_threaded_workers() {
        assert_eq!(
            PoolLayout::fit(None, None, 2).0,
            PoolLayout {
                workers: 2,
                threads: 1
            }
        );
        assert_eq!(
            PoolLayout::fit(None, Some(2), 2).0,
            PoolLayout {
                workers: 1,
                threads: 2
            }
        );
        assert_eq!(
            PoolLayout::fit(Some(1), None, 8).0,
            PoolLayout {
                workers: 1,
                threads: 1
            }
        );
    }

    #[test]
    fn oversubscription_is_clamped_with_a_warning() {
        let (l, w) = PoolLayout::fit(Some(2), Some(2), 2);
        assert!(l.workers * l.threads <= 2);
        assert!(w.unwrap().contains("oversubscribe"));
        let (l, w) = PoolLayout::fit(Some(8), None, 2);
        assert_eq!(
            l,
            PoolLayout {
                workers: 2,
                threads: 1
            }
        );
        assert!(w.is_some());
        assert!(PoolLayout::fit(Some(2), Some(1), 2).1.is_none());
    }

    #[test]
    fn audio_ctx_is_sized_to_the_audio() {
        assert_eq!(audio_ctx_for(11.0, 64), 640);
        assert_eq!(audio_ctx_for(8.6, 64), 512);
        assert_eq!(audio_ctx_for(1.1, 64), 128);
        assert_eq!(audio_ctx_for(1.1, 200), 256);
        assert_eq!(audio_ctx_for(29.2, 200), 1500);
    }
}

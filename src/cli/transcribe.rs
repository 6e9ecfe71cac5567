//! `callscribe transcribe FILES...`: batch transcription of recorded calls.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::asr::{DecodeOptions, Model, PoolLayout, WhisperPool};
use crate::audio::ChannelMode;
use crate::batch::{self, BatchOptions, FileOutcome, Redaction};
use crate::output::{self, Format};
use crate::segment::VadConfig;
use crate::store::{Actor, CallStatus, NewCall, NewSegment, Store};
use crate::transcript::Transcript;

#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// Audio files to transcribe.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Model: a name (tiny.en, base) looked up in --models-dir, or a ggml file.
    #[arg(long, env = "CALLSCRIBE_MODEL", default_value = crate::asr::model::DEFAULT_MODEL)]
    pub model: String,
    #[arg(long, env = "CALLSCRIBE_MODELS_DIR", default_value = "models")]
    pub models_dir: PathBuf,
    /// Worker threads, each with its own decoding state [default: cores / threads].
    #[arg(long)]
    pub workers: Option<usize>,
    /// whisper threads per worker [default: 1]. workers × threads is kept ≤ cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Spoken language for multilingual models (e.g. en, hi, de). English-only models: en.
    #[arg(long)]
    pub language: Option<String>,
    /// mix: one track; split: channel 0 = caller, channel 1 = agent.
    #[arg(long, value_enum, default_value = "mix")]
    pub channels: ChannelMode,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write one file per input into this directory (NAME.txt/.json/.srt/.vtt) instead of
    /// stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Longest utterance in seconds; longer speech is cut at its quietest point.
    #[arg(long, default_value_t = 15.0)]
    pub max_utterance: f32,
    /// Pause in milliseconds that ends an utterance [default: 1000]. Batch windows are longer
    /// than live ones: whisper recognises better with more context.
    #[arg(long)]
    pub min_silence_ms: Option<u32>,
    /// Longest batch window in seconds: consecutive utterances of a track with pauses of at most
    /// 2 s between them are transcribed together as one stretch of audio up to this long (fewer,
    /// fuller encoder passes); 0 transcribes each utterance on its own. At most 26.
    #[arg(long, default_value_t = crate::batch::DEFAULT_WINDOW_S, value_parser = parse_window)]
    pub window: f32,
    /// Redaction policy (JSON: version, mode, entities, keep_agent_names) [default: all
    /// entity types as typed placeholders].
    #[arg(long, env = "CALLSCRIBE_POLICY")]
    pub policy: Option<PathBuf>,
    /// Retry hard utterances at higher temperatures (random sampling: output is then not
    /// reproducible run to run).
    #[arg(long)]
    pub fallback: bool,
    /// Do not look for speech: transcribe each track whole, in windows of --max-utterance
    /// seconds (for audio already cut into utterances).
    #[arg(long)]
    pub no_vad: bool,
    /// Encode every utterance in a full 30 s window (slower; identical to other Whisper
    /// runtimes, for comparisons).
    #[arg(long)]
    pub full_context: bool,
    /// Store each transcript (redacted, sealed) as a call of --tenant instead of printing it;
    /// prints `CALL_ID FILE` per stored file. Segments are durable as each is written.
    #[arg(long, requires = "tenant", conflicts_with = "out")]
    pub store: bool,
    /// The tenant (id or name) whose calls the transcripts become (with --store).
    #[arg(long, requires = "store")]
    pub tenant: Option<String>,
    #[command(flatten)]
    pub store_args: super::StoreArgs,
}

/// A window longer than 26 s plus the 4 s margin would not fit the model's 30 s context.
fn parse_window(v: &str) -> Result<f32, String> {
    let s: f32 = v
        .parse()
        .map_err(|e| format!("not a number of seconds: {e}"))?;
    if (0.0..=crate::batch::MAX_WINDOW_S).contains(&s) {
        Ok(s)
    } else {
        Err(format!(
            "must be 0 to {} seconds, got {s}",
            crate::batch::MAX_WINDOW_S
        ))
    }
}

pub fn run(args: TranscribeArgs) -> anyhow::Result<ExitCode> {
    // Fail on a bad policy before loading the model.
    super::load_redactor(args.policy.as_deref())?;
    let defaults = VadConfig::batch();
    let vad = VadConfig {
        max_utterance_s: args.max_utterance,
        min_silence_ms: args.min_silence_ms.unwrap_or(defaults.min_silence_ms),
        ..defaults
    };
    vad.validate()
        .map_err(anyhow::Error::msg)
        .context("invalid segmentation options")?;
    if let Some(out) = &args.out {
        // Two inputs with the same call id would overwrite each other's transcript.
        let mut seen: std::collections::HashMap<String, &PathBuf> =
            std::collections::HashMap::new();
        for f in &args.files {
            if let Some(first) = seen.insert(batch::call_id(f), f) {
                bail!(
                    "{} and {} would both be written to {}: call ids are file names up to the first dot; rename one or use separate runs",
                    first.display(),
                    f.display(),
                    out.join(format!("{}.{}", batch::call_id(f), args.format.extension()))
                        .display()
                );
            }
        }
        std::fs::create_dir_all(out)
            .with_context(|| format!("cannot create output directory {}", out.display()))?;
    }
    // Open the store (and check the master key) before the slow model load.
    let target = match (&args.store, &args.tenant) {
        (true, Some(tenant)) => Some(StoreTarget::open(&args.store_args, tenant)?),
        _ => None,
    };
    let model_path = Model::resolve(&args.model, &args.models_dir)?;
    let model = Model::load(&model_path)?;
    if let Some(lang) = &args.language
        && !model.is_multilingual()
        && lang != "en"
    {
        bail!(
            "{} is an English-only model; --language {lang} needs a multilingual model such as base",
            model_path.display()
        );
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (layout, warning) = PoolLayout::fit(args.workers, args.threads, cores);
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
    let opts = DecodeOptions {
        language: args.language.clone(),
        temperature_inc: if args.fallback { 0.2 } else { 0.0 },
        full_context: args.full_context,
        ..DecodeOptions::default()
    };
    let pool = WhisperPool::new(&model, layout, opts)?;
    tracing::info!(
        model = %model_path.display(),
        workers = layout.workers,
        threads = layout.threads,
        files = args.files.len(),
        "transcribing"
    );

    let redactor = super::load_redactor(args.policy.as_deref())?;
    let batch_opts = BatchOptions {
        channels: args.channels,
        vad,
        no_vad: args.no_vad,
        window_s: args.window,
        redaction: Redaction::Policy(redactor),
    };
    let progress = progress_bar(args.files.len());
    let started = Instant::now();
    let mut sink = Sink::new(&args, target);
    let mut audio_total = 0.0f64;
    batch::run(&args.files, &batch_opts, &pool, |outcome| {
        audio_total += outcome.audio_s;
        let elapsed = started.elapsed().as_secs_f64().max(1e-3);
        progress.set_message(format!(
            "{:.2} h audio, {:.1}× real time",
            audio_total / 3600.0,
            audio_total / elapsed
        ));
        progress.inc(1);
        progress.suspend(|| sink.accept(outcome));
    });
    progress.finish_and_clear();
    if let Some(t) = sink.store.take() {
        t.runtime.block_on(t.store.close());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let ok = args.files.len() - sink.failed;
    eprintln!(
        "transcribed {ok} of {} files ({:.1} min of audio) in {elapsed:.1}s, {:.1}× real time{}",
        args.files.len(),
        audio_total / 60.0,
        audio_total / elapsed.max(1e-3),
        if sink.failed > 0 {
            format!("; {} failed", sink.failed)
        } else {
            String::new()
        }
    );
    Ok(if sink.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The bar shows files done, audio processed, speed and ETA; it is hidden when stdout or
/// stderr is not a terminal (pipes and CI logs get only the summary line).
fn progress_bar(files: usize) -> ProgressBar {
    if !std::io::stdout().is_terminal() || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(files as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} files  {msg}  ETA {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// `--store`: the store, the tenant, and the runtime its calls run on.
struct StoreTarget {
    runtime: tokio::runtime::Runtime,
    store: Store,
    tenant: String,
}

impl StoreTarget {
    fn open(args: &super::StoreArgs, tenant: &str) -> anyhow::Result<StoreTarget> {
        let runtime = super::store::runtime()?;
        let (store, tenant) = runtime.block_on(async {
            let store = super::store::open(args).await?;
            let id = super::store::tenant_id(&store, tenant).await?;
            anyhow::Ok((store, id))
        })?;
        Ok(StoreTarget {
            runtime,
            store,
            tenant,
        })
    }

    /// Stores one transcript as a call, segment by segment (each durable when written).
    fn save(&self, file: &std::path::Path, t: &Transcript) -> anyhow::Result<(String, usize)> {
        let actor = Actor::operator();
        self.runtime.block_on(async {
            let mut tracks: Vec<String> = Vec::new();
            for s in &t.segments {
                if !tracks.contains(&s.speaker) {
                    tracks.push(s.speaker.clone());
                }
            }
            if tracks.is_empty() {
                tracks.push("unknown".into());
            }
            let call = NewCall { external_id: t.call_id.clone(), provider: "file".into(), tracks, started_at: crate::sys::now() };
            let id = self.store.create_call(&actor, &self.tenant, &call).await?;
            for (seq, segment) in t.segments.iter().enumerate() {
                self.store.append_segment(&actor, &self.tenant, &id, NewSegment { seq: seq as u64, segment }).await?;
            }
            self.store.finish_call(&actor, &self.tenant, &id, CallStatus::Complete, crate::sys::now()).await?;
            tracing::info!(call = %id, tenant = %self.tenant, file = %file.display(), segments = t.segments.len(), "stored");
            anyhow::Ok((id, t.segments.len()))
        })
    }
}

/// Writes transcripts as files complete: into --out, into the store, or to stdout in input
/// order.
struct Sink<'a> {
    args: &'a TranscribeArgs,
    store: Option<StoreTarget>,
    failed: usize,
    next_stdout: usize,
    held: BTreeMap<usize, Option<String>>,
}

impl<'a> Sink<'a> {
    fn new(args: &'a TranscribeArgs, store: Option<StoreTarget>) -> Self {
        Self {
            args,
            store,
            failed: 0,
            next_stdout: 0,
            held: BTreeMap::new(),
        }
    }

    fn accept(&mut self, outcome: FileOutcome) {
        if let Some(target) = &self.store {
            match outcome.result {
                Ok(t) => match target.save(&outcome.path, &t) {
                    Ok((id, n)) => {
                        println!("{id}\t{}", outcome.path.display());
                        let _ = std::io::stdout().flush();
                        eprintln!(
                            "stored {} as call {id} ({n} segments)",
                            outcome.path.display()
                        );
                    }
                    Err(e) => {
                        eprintln!(
                            "error: {}: cannot store the transcript: {e:#}",
                            outcome.path.display()
                        );
                        self.failed += 1;
                    }
                },
                Err(e) => {
                    eprintln!("error: {}: {e}", outcome.path.display());
                    self.failed += 1;
                }
            }
            return;
        }
        let rendered = match outcome.result {
            Ok(t) => Some(output::render(&t, self.args.format)),
            Err(e) => {
                eprintln!("error: {}: {e}", outcome.path.display());
                self.failed += 1;
                None
            }
        };
        match (&self.args.out, rendered) {
            (Some(dir), Some(text)) => {
                let name = format!(
                    "{}.{}",
                    batch::call_id(&outcome.path),
                    self.args.format.extension()
                );
                let path = dir.join(name);
                if let Err(e) = std::fs::write(&path, text) {
                    eprintln!(
                        "error: {}: cannot write {}: {e}",
                        outcome.path.display(),
                        path.display()
                    );
                    self.failed += 1;
                }
            }
            (Some(_), None) => {}
            (None, rendered) => {
                self.held.insert(outcome.index, rendered);
                let mut stdout = std::io::stdout().lock();
                while let Some(r) = self.held.remove(&self.next_stdout) {
                    if let Some(text) = r {
                        if self.args.files.len() > 1 && self.args.format == Format::Text {
                            let _ = writeln!(
                                stdout,
                                "== {} ==",
                                self.args.files[self.next_stdout].display()
                            );
                        }
                        let _ = stdout.write_all(text.as_bytes());
                    }
                    self.next_stdout += 1;
                }
                let _ = stdout.flush();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_window;

    #[test]
    fn window_must_fit_the_model_context() {
        assert_eq!(parse_window("24"), Ok(24.0));
        assert_eq!(parse_window("0"), Ok(0.0));
        assert_eq!(parse_window("26"), Ok(26.0));
        for bad in ["26.5", "30", "-1", "NaN", "ten"] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }
}

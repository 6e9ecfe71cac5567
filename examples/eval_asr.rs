//! Evaluation tool: transcribes files with redaction *disabled* and writes the raw recogniser
//! output as JSON (one file per input), to measure word error rate against reference
//! transcripts and to feed the redactor's own evaluation. Not part of the product: the
//! `callscribe` binary always redacts.
//!
//! cargo run --release --example eval_asr -- OUT_DIR [--full-context] [--no-vad] [--model=SPEC] [--margin=POSITIONS] [--floor=POSITIONS] [--min-silence=MS] [--max-utterance=S] [--window=S] FILES...

use std::path::PathBuf;

use callscribe::asr::{DecodeOptions, Model, PoolLayout, WhisperPool};
use callscribe::audio::ChannelMode;
use callscribe::batch::{self, BatchOptions, Redaction};
use callscribe::output::{Format, render};

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(args.remove(0));
    let full_context = args.iter().any(|a| a == "--full-context");
    let no_vad = args.iter().any(|a| a == "--no-vad");
    let num = |key: &str| {
        args.iter()
            .find_map(|a| a.strip_prefix(key))
            .map(|v| v.parse::<u32>().expect("a number of positions"))
    };
    let defaults = DecodeOptions::default();
    let decode = DecodeOptions {
        full_context,
        context_margin: num("--margin=").unwrap_or(defaults.context_margin),
        context_min: num("--floor=").unwrap_or(defaults.context_min),
        ..defaults
    };
    let spec = args
        .iter()
        .find_map(|a| a.strip_prefix("--model="))
        .unwrap_or("tiny.en")
        .to_string();
    let files: Vec<PathBuf> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
        .collect();
    std::fs::create_dir_all(&out)?;
    let model = Model::load(&Model::resolve(&spec, "models".as_ref())?)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pool = WhisperPool::new(&model, PoolLayout::fit(None, None, cores).0, decode)?;
    let mut vad = callscribe::segment::VadConfig::batch();
    vad.min_silence_ms = num("--min-silence=").unwrap_or(vad.min_silence_ms);
    vad.max_utterance_s = num("--max-utterance=").map_or(vad.max_utterance_s, |s| s as f32);
    let window_s = num("--window=").map_or(batch::DEFAULT_WINDOW_S, |s| s as f32);
    let opts = BatchOptions {
        channels: ChannelMode::Mix,
        vad,
        no_vad,
        window_s,
        redaction: Redaction::DisabledForEvaluation,
    };
    batch::run(&files, &opts, &pool, |o| match o.result {
        Ok(t) => std::fs::write(
            out.join(format!("{}.json", t.call_id)),
            render(&t, Format::Json),
        )
        .expect("write"),
        Err(e) => eprintln!("{}: {e}", o.path.display()),
    });
    Ok(())
}

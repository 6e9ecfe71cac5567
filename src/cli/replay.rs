//! `callscribe replay`: streams a recorded call to a running `serve` over a real WebSocket and
//! prints the live, redacted transcript as it arrives.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::audio::ChannelMode;
use crate::client::replay::{ReplayOptions, format_final, replay};
use crate::ingest::Protocol;
use crate::secret::SecretString;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recorded call (any format `transcribe` reads).
    pub file: PathBuf,
    /// The server: ws://127.0.0.1:PORT (loopback only).
    #[arg(long, default_value = "ws://127.0.0.1:8080")]
    pub url: String,
    /// native (16 kHz PCM; events come back on the socket) or twilio (8 kHz µ-law JSON).
    #[arg(long, value_enum, default_value = "native")]
    pub protocol: Protocol,
    /// 1 = real time, 2 = twice as fast, 0 = as fast as possible.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f32,
    /// split: a stereo file is two tracks (channel 0 caller, channel 1 agent); mix: one track.
    #[arg(long, value_enum, default_value = "split")]
    pub channels: ChannelMode,
    /// An ingest key of the tenant.
    #[arg(long, env = "CALLSCRIBE_INGEST_KEY", hide_env_values = true)]
    pub ingest_key: SecretString,
    /// An agent key (needed with --protocol twilio, to follow the call's events).
    #[arg(long, env = "CALLSCRIBE_AGENT_KEY", hide_env_values = true)]
    pub agent_key: Option<SecretString>,
    /// The provider call id to send [default: the file name up to its first dot].
    #[arg(long)]
    pub call_id: Option<String>,
    /// Also print interim hypotheses (to stderr, marked with "…").
    #[arg(long)]
    pub interims: bool,
    /// Print every event as a JSON line instead of the transcript.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..=100.0).contains(&args.speed) {
        anyhow::bail!("--speed must be between 0 and 100");
    }
    let opts = ReplayOptions {
        url: args.url.clone(),
        protocol: args.protocol,
        speed: args.speed,
        ingest_key: args.ingest_key.clone(),
        agent_key: args.agent_key.clone(),
        call_id: args
            .call_id
            .clone()
            .unwrap_or_else(|| crate::batch::call_id(&args.file)),
        channels: args.channels,
        linger: Duration::from_secs(30),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let summary = runtime.block_on(replay(&args.file, &opts, |ev| {
        let mut out = std::io::stdout().lock();
        if args.json {
            let _ = writeln!(out, "{ev}");
        } else if let Some(line) = format_final(ev) {
            let _ = writeln!(out, "{line}");
        } else if args.interims
            && ev.get("is_final") == Some(&serde_json::Value::Bool(false))
            && let (Some(s), Some(t)) = (
                ev.get("speaker").and_then(|v| v.as_str()),
                ev.get("text").and_then(|v| v.as_str()),
            )
        {
            eprintln!("  … {s}: {t}");
        }
    }))?;
    eprintln!(
        "replayed {:.1} s of audio: {} finals, {} interims{}",
        summary.audio_s,
        summary.finals,
        summary.interims,
        summary
            .call_id
            .as_deref()
            .map(|c| format!(", stored as call {c}"))
            .unwrap_or_default()
    );
    if let Some((code, reason)) = &summary.close
        && *code != 1000
    {
        eprintln!("error: the server closed the stream: {reason} (code {code})");
        return Ok(ExitCode::FAILURE);
    }
    if !summary.ended {
        eprintln!("error: the call did not end within the wait");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

//! The command line: one clap definition per command, each running library code. Errors are
//! written for the person at the terminal: what failed, on which input, what to do.

mod admin;
mod calls;
mod loadtest;
mod model;
mod redact;
mod replay;
mod serve;
mod store;
mod terminal;
mod transcribe;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use clap::{Parser, Subcommand};

pub use serve::ServeConfig;
pub use store::StoreArgs;
pub use transcribe::TranscribeArgs;

/// callscribe: self-hosted voice-call transcription with PII redaction.
#[derive(Debug, Parser)]
#[command(name = "callscribe", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Transcribe recorded calls (WAV, FLAC, MP3, Ogg Vorbis, MP4/M4A AAC).
    Transcribe(TranscribeArgs),
    /// Serve live calls: telephony WebSocket ingest, live transcript events, health.
    Serve(serve::ServeArgs),
    /// Stream a recorded call to a running server and print its live transcript.
    Replay(replay::ReplayArgs),
    /// Load a running server with N concurrent real-time calls and measure latency and capacity.
    Loadtest(loadtest::LoadtestArgs),
    /// Obtain and convert Whisper models.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Redact text read from stdin, one segment per line (consecutive lines are consecutive
    /// segments of one speaker); for trying a policy.
    Redact(redact::RedactArgs),
    /// Manage tenants (workspaces).
    #[command(subcommand)]
    Tenant(admin::TenantCommand),
    /// Manage a tenant's API keys.
    #[command(subcommand)]
    Key(admin::ApiKeyCommand),
    /// Encryption keys: rotation, generating a master key.
    #[command(subcommand)]
    Keys(admin::KeysCommand),
    /// Stored calls.
    #[command(subcommand)]
    Calls(calls::CallsCommand),
    /// Stored transcripts.
    #[command(subcommand)]
    Transcript(calls::TranscriptCommand),
    /// Export everything a tenant has as JSON (data-subject access request); audited.
    Export(calls::ExportArgs),
    /// Delete stored data (crypto-shredding).
    #[command(subcommand)]
    Delete(calls::DeleteCommand),
    /// Shred calls older than their tenant's retention period.
    Purge(admin::PurgeArgs),
    /// Re-redact stored segments under the current policy and re-seal them (resumable).
    Reprocess(calls::ReprocessArgs),
    /// The audit trail.
    #[command(subcommand)]
    Audit(admin::AuditCommand),
}

/// Loads a redaction policy file (or the default policy) and compiles the redactor.
pub fn load_redactor(policy: Option<&Path>) -> anyhow::Result<Arc<crate::redact::Redactor>> {
    let policy = match policy {
        None => crate::redact::Policy::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read policy file {}", path.display()))?;
            crate::redact::Policy::from_json(&text)
                .with_context(|| format!("invalid policy file {}", path.display()))?
        }
    };
    Ok(Arc::new(
        crate::redact::Redactor::new(policy).context("invalid redaction policy")?,
    ))
}

/// Where models live by default: `models/` under the working directory.
pub fn default_models_dir() -> PathBuf {
    PathBuf::from("models")
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    init_logging();
    let result = match cli.command {
        Command::Transcribe(args) => transcribe::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Loadtest(args) => loadtest::run_cmd(args),
        Command::Model(cmd) => model::run(cmd),
        Command::Redact(args) => redact::run(args),
        Command::Tenant(cmd) => admin::tenant(cmd),
        Command::Key(cmd) => admin::api_key(cmd),
        Command::Keys(cmd) => admin::keys(cmd),
        Command::Calls(cmd) => calls::calls(cmd),
        Command::Transcript(cmd) => calls::transcript(cmd),
        Command::Export(args) => calls::export(args),
        Command::Delete(cmd) => calls::delete(cmd),
        Command::Purge(args) => admin::purge(args),
        Command::Reprocess(args) => calls::reprocess(args),
        Command::Audit(cmd) => admin::audit(cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; `CALLSCRIBE_LOG` (or `RUST_LOG`) sets the filter, default `info`.
fn init_logging() {
    let filter = std::env::var("CALLSCRIBE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

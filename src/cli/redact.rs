//! `callscribe redact [--policy FILE] [--format text|json]`: the redactor on its own.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::redact::{LineFormat, redact_lines};

#[derive(Debug, Args)]
pub struct RedactArgs {
    /// Redaction policy (JSON) [default: all entity types as typed placeholders].
    #[arg(long, env = "CALLSCRIBE_POLICY")]
    pub policy: Option<PathBuf>,
    /// text: one redacted line per input line; json: one object per line with text, spans
    /// and policy_version.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

pub fn run(args: RedactArgs) -> anyhow::Result<ExitCode> {
    let redactor = super::load_redactor(args.policy.as_deref())?;
    let format: LineFormat = args
        .format
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown format {}", args.format))?;
    redact_lines(
        &redactor,
        std::io::stdin().lock(),
        std::io::stdout().lock(),
        format,
    )
    .context("reading stdin or writing stdout")?;
    Ok(ExitCode::SUCCESS)
}

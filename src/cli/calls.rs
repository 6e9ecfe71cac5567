//! Operator commands on stored calls: list, show a transcript, export a tenant, delete a call,
//! reprocess under the current redaction policy. Every read is audited by the store.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::admin::ListFormat;
use super::store::{StoreArgs, open, runtime, tenant_id, utc};
use crate::output::{self, Format};
use crate::store::Actor;

#[derive(Debug, Subcommand)]
pub enum CallsCommand {
    /// List a tenant's calls (newest first).
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TranscriptCommand {
    /// Print a stored transcript (decrypted in memory; audited). CALL is callscribe's call id
    /// or the provider's (e.g. Twilio's callSid, a batch file's call id).
    Show {
        call: String,
        #[arg(long)]
        tenant: String,
        /// json: the same schema as `transcribe --format json`.
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[arg(long)]
    tenant: String,
    /// Write the export (JSON) here; created with mode 0600, never overwritten.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Subcommand)]
pub enum DeleteCommand {
    /// Delete a call: its data key is destroyed, then its segments.
    Call {
        call: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Args)]
pub struct ReprocessArgs {
    /// Reprocess this tenant's calls.
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    tenant: Option<String>,
    /// Reprocess every tenant's calls.
    #[arg(long)]
    all: bool,
    /// The redaction policy to apply (JSON) [default: all entity types as placeholders].
    #[arg(long, env = "CALLSCRIBE_POLICY")]
    policy: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn calls(cmd: CallsCommand) -> anyhow::Result<ExitCode> {
    let CallsCommand::List {
        tenant,
        format,
        store,
    } = cmd;
    runtime()?.block_on(async {
        let s = open(&store).await?;
        let id = tenant_id(&s, &tenant).await?;
        let calls = s.list_calls(&Actor::operator(), &id).await?;
        match format {
            ListFormat::Json => println!("{}", serde_json::to_string_pretty(&calls)?),
            ListFormat::Text => {
                for c in calls {
                    println!(
                        "{}  {}  {}  {}  {:?}  {} segments  tracks {}",
                        c.id,
                        c.external_id,
                        c.provider,
                        utc(c.started_at),
                        c.status,
                        c.segments,
                        c.tracks.join(",")
                    );
                }
            }
        }
        s.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

pub fn transcript(cmd: TranscriptCommand) -> anyhow::Result<ExitCode> {
    let TranscriptCommand::Show {
        call,
        tenant,
        format,
        store,
    } = cmd;
    runtime()?.block_on(async {
        let s = open(&store).await?;
        let id = tenant_id(&s, &tenant).await?;
        let call_id = s.find_call(&id, &call).await?;
        let (_, t) = s.transcript(&Actor::operator(), &id, &call_id).await?;
        let text = output::render(
            &t,
            if format == ListFormat::Json {
                Format::Json
            } else {
                Format::Text
            },
        );
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        s.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

pub fn export(args: ExportArgs) -> anyhow::Result<ExitCode> {
    use std::os::unix::fs::OpenOptionsExt;
    runtime()?.block_on(async {
        let s = open(&args.store).await?;
        let id = tenant_id(&s, &args.tenant).await?;
        // open the file first: a refused path must not leave an audited export behind
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&args.out)
            .with_context(|| {
                format!(
                    "cannot create {} (it must not exist yet)",
                    args.out.display()
                )
            })?;
        let export = s.export_tenant(&Actor::operator(), &id).await?;
        serde_json::to_writer_pretty(&mut file, &export)
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        eprintln!(
            "exported {} calls of tenant {id} to {}",
            export.calls.len(),
            args.out.display()
        );
        s.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

pub fn delete(cmd: DeleteCommand) -> anyhow::Result<ExitCode> {
    let DeleteCommand::Call {
        call,
        tenant,
        store,
    } = cmd;
    runtime()?.block_on(async {
        let s = open(&store).await?;
        let id = tenant_id(&s, &tenant).await?;
        let call_id = s.find_call(&id, &call).await?;
        s.delete_call(&Actor::operator(), &id, &call_id).await?;
        eprintln!("call {call_id} deleted: data key destroyed, segments removed");
        s.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

pub fn reprocess(args: ReprocessArgs) -> anyhow::Result<ExitCode> {
    let redactor = super::load_redactor(args.policy.as_deref())?;
    runtime()?.block_on(async {
        let s = open(&args.store).await?;
        let tenants = match &args.tenant {
            Some(t) => vec![tenant_id(&s, t).await?],
            None => s.list_tenants().await?.into_iter().map(|t| t.id).collect(),
        };
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} calls  ETA {eta}").unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        } else {
            ProgressBar::hidden()
        };
        let report = s
            .reprocess(&Actor::operator(), &tenants, &redactor, |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .await?;
        bar.finish_and_clear();
        for f in &report.failures {
            match f.seq {
                Some(seq) => eprintln!("error: tenant {} call {} segment {seq}: {}", f.tenant, f.call, f.error),
                None => eprintln!("error: tenant {} call {}: {}", f.tenant, f.call, f.error),
            }
        }
        eprintln!(
            "reprocessed {} calls under policy version {}: {} segments updated, {} already current, {} failed",
            report.calls,
            redactor.policy().version,
            report.updated,
            report.skipped,
            report.failures.len()
        );
        s.close().await;
        Ok(if report.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    })
}

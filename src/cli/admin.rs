//! Operator commands on tenants, API keys, encryption keys, retention and the audit trail.

use std::process::ExitCode;

use anyhow::bail;
use clap::{Args, Subcommand, ValueEnum};

use super::store::{StoreArgs, open, runtime, tenant_id, utc};
use super::terminal::{json_line, printable};
use crate::store::{Actor, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant; prints its id.
    Create {
        name: String,
        /// Days a call is kept before `purge` shreds it.
        #[arg(long, default_value_t = crate::store::DEFAULT_RETENTION_DAYS)]
        retention_days: u32,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List tenants.
    List {
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Change a tenant's retention period.
    Retention {
        tenant: String,
        days: u32,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Delete a tenant: its keys are destroyed (crypto-shredding), then all its data.
    Delete {
        tenant: String,
        /// Required: there is no undo.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn tenant(cmd: TenantCommand) -> anyhow::Result<ExitCode> {
    let actor = Actor::operator();
    runtime()?.block_on(async {
        match cmd {
            TenantCommand::Create { name, retention_days, store } => {
                let s = open(&store).await?;
                let t = s.create_tenant(&actor, &name, Some(retention_days)).await?;
                println!("{}", t.id);
                s.close().await;
            }
            TenantCommand::List { format, store } => {
                let s = open(&store).await?;
                let tenants = s.list_tenants().await?;
                match format {
                    ListFormat::Json => println!("{}", serde_json::to_string_pretty(&tenants)?),
                    ListFormat::Text => {
                        for t in tenants {
                            println!("{}  {}  retention {} days  created {}", t.id, t.name, t.retention_days, utc(t.created_at));
                        }
                    }
                }
                s.close().await;
            }
            TenantCommand::Retention { tenant, days, store } => {
                let s = open(&store).await?;
                let id = tenant_id(&s, &tenant).await?;
                s.set_retention(&actor, &id, days).await?;
                eprintln!("tenant {id}: calls are kept {days} days");
                s.close().await;
            }
            TenantCommand::Delete { tenant, yes, store } => {
                if !yes {
                    bail!("deleting tenant {tenant} destroys its keys and all its calls; there is no undo. Add --yes to proceed");
                }
                let s = open(&store).await?;
                let id = tenant_id(&s, &tenant).await?;
                let calls = s.delete_tenant(&actor, &id).await?;
                eprintln!("tenant {id} deleted: keys destroyed, {calls} calls removed");
                s.close().await;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key; prints it once, alone on stdout. Only its hash is stored.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long, value_enum)]
        role: Role,
        /// Days until the key expires, at most --max-key-ttl-days [default: 90, or that
        /// maximum when lower].
        #[arg(long)]
        ttl_days: Option<u32>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a key by its prefix (csk_XXXXXXXX).
    Revoke {
        prefix: String,
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List a tenant's keys: prefix, role, created, expires, last used — never the key.
    List {
        #[arg(long)]
        tenant: String,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn api_key(cmd: ApiKeyCommand) -> anyhow::Result<ExitCode> {
    let actor = Actor::operator();
    runtime()?.block_on(async {
        match cmd {
            ApiKeyCommand::Create {
                tenant,
                role,
                ttl_days,
                store,
            } => {
                let s = open(&store).await?;
                let id = tenant_id(&s, &tenant).await?;
                let key = s.create_api_key(&actor, &id, role, ttl_days).await?;
                println!("{}", key.secret.as_str());
                eprintln!(
                    "key {} ({}) expires {}; it is shown only this once",
                    key.id,
                    role.as_str(),
                    utc(key.expires_at)
                );
                s.close().await;
            }
            ApiKeyCommand::Revoke {
                prefix,
                tenant,
                store,
            } => {
                let s = open(&store).await?;
                let id = tenant_id(&s, &tenant).await?;
                s.revoke_api_key(&actor, &id, &prefix).await?;
                eprintln!("revoked {prefix}");
                s.close().await;
            }
            ApiKeyCommand::List {
                tenant,
                format,
                store,
            } => {
                let s = open(&store).await?;
                let id = tenant_id(&s, &tenant).await?;
                let keys = s.list_api_keys(&id).await?;
                match format {
                    ListFormat::Json => println!("{}", serde_json::to_string_pretty(&keys)?),
                    ListFormat::Text => {
                        let now = crate::sys::now();
                        for k in keys {
                            let state = match k.revoked_at {
                                Some(t) => format!("revoked {}", utc(t)),
                                None if k.expires_at <= now => "expired".into(),
                                None => "active".into(),
                            };
                            println!(
                                "{}  {:<7}  created {}  expires {}  last used {}  {state}",
                                k.prefix,
                                k.role.as_str(),
                                utc(k.created_at),
                                utc(k.expires_at),
                                k.last_used_at.map_or("never".into(), utc)
                            );
                        }
                    }
                }
                s.close().await;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Rotate the master key or a tenant's key: a new version, then everything under the old
    /// one is re-wrapped (never decrypted to disk). Re-run to finish an interrupted rotation.
    Rotate(RotateArgs),
    /// Print a new random master key entry (VERSION:BASE64) for CALLSCRIBE_MASTER_KEY.
    Generate {
        #[arg(long, default_value_t = 1)]
        version: u32,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct RotateTarget {
    /// Rotate the master key (with a key file: a new version is generated into it; with
    /// CALLSCRIBE_MASTER_KEY: add the next VERSION:BASE64 entry to it first).
    #[arg(long)]
    master: bool,
    /// Rotate this tenant's key-encryption key.
    #[arg(long)]
    tenant: Option<String>,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    target: RotateTarget,
    /// Re-wrap at most N call keys in this run (tenant rotation); run again to continue.
    #[arg(long)]
    limit: Option<u64>,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn keys(cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    let actor = Actor::operator();
    match cmd {
        KeysCommand::Generate { version } => {
            println!("{}", crate::store::keyring::generate_entry(version.max(1)).as_str());
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Rotate(args) => runtime()?.block_on(async {
            let mut s = open(&args.store).await?;
            if args.target.master {
                let r = s.rotate_master_key(&actor).await?;
                eprintln!(
                    "{} master key version {}: {} keys re-wrapped",
                    if r.resumed { "finished rotating to" } else { "rotated to" },
                    r.version,
                    r.rewrapped
                );
                if !r.retired.is_empty() {
                    let v: Vec<String> = r.retired.iter().map(u32::to_string).collect();
                    eprintln!(
                        "nothing is wrapped under master key version(s) {} any more: back up the new key, then remove them from {}",
                        v.join(", "),
                        match s.generated_master_key() {
                            Some(p) => p.display().to_string(),
                            None => "the key file or CALLSCRIBE_MASTER_KEY".into(),
                        }
                    );
                }
            } else if let Some(tenant) = &args.target.tenant {
                let id = tenant_id(&s, tenant).await?;
                let r = s.rotate_tenant_key(&actor, &id, args.limit).await?;
                eprintln!(
                    "tenant {id}: {} key version {}: {} call keys re-wrapped, {} remaining{}",
                    if r.resumed { "resumed rotation to" } else { "rotated to" },
                    r.version,
                    r.rewrapped,
                    r.remaining,
                    if r.retired.is_empty() { String::new() } else { format!("; destroyed versions {:?}", r.retired) }
                );
                if r.remaining > 0 {
                    eprintln!("run the same command again to continue");
                }
            }
            s.close().await;
            Ok(ExitCode::SUCCESS)
        }),
    }
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    store: StoreArgs,
}

/// `callscribe purge`: shreds calls past their tenant's retention.
pub fn purge(args: PurgeArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let s = open(&args.store).await?;
        let r = s
            .purge_expired(&Actor::operator(), crate::sys::now())
            .await?;
        eprintln!(
            "purged {} expired calls in {} tenants, {} ended browser sessions",
            r.calls, r.tenants, r.sessions
        );
        s.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; exit code 1 and the first broken link if it does not verify.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Print the trail (oldest first), optionally one tenant's.
    List {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Characters of an audit row's actor, action, tenant or target shown in text (ids are far
/// shorter; anything longer was not written by callscribe).
const FIELD_MAX: usize = 100;
/// Characters of an audit row's detail (a small JSON object) shown in text.
const DETAIL_MAX: usize = 500;

pub fn audit(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        match cmd {
            AuditCommand::Verify { store } => {
                let s = open(&store).await?;
                let r = s.verify_audit().await?;
                s.close().await;
                match r.broken {
                    None => {
                        println!(
                            "audit trail intact: {} entries, head {}",
                            r.entries, r.head_hash
                        );
                        Ok(ExitCode::SUCCESS)
                    }
                    Some(b) => {
                        println!(
                            "audit trail BROKEN at entry {}: {} ({} entries verified before it)",
                            b.seq, b.reason, r.entries
                        );
                        Ok(ExitCode::FAILURE)
                    }
                }
            }
            AuditCommand::List {
                tenant,
                format,
                store,
            } => {
                let s = open(&store).await?;
                let tenant = match tenant {
                    Some(t) => Some(tenant_id(&s, &t).await?),
                    None => None,
                };
                let mut after = 0;
                loop {
                    let page = s.audit_events(tenant.as_deref(), after, 1000).await?;
                    let Some(last) = page.last() else { break };
                    after = last.seq;
                    // rows can hold what clients sent: never printed raw (see terminal.rs)
                    for e in page {
                        match format {
                            ListFormat::Json => println!("{}", json_line(&e)?),
                            ListFormat::Text => println!(
                                "{:>6}  {}  {:<24} {:<22} tenant={} target={} {}",
                                e.seq,
                                utc(e.at),
                                printable(&e.actor, FIELD_MAX),
                                printable(&e.action, FIELD_MAX),
                                printable(e.tenant.as_deref().unwrap_or("-"), FIELD_MAX),
                                printable(e.target.as_deref().unwrap_or("-"), FIELD_MAX),
                                printable(&e.detail, DETAIL_MAX)
                            ),
                        }
                    }
                }
                s.close().await;
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

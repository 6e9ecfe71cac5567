//! `callscribe loadtest`: N concurrent real-time calls against a running server (loopback
//! only), with latency percentiles, refusals, missing finals and the server's CPU time;
//! `--find-capacity` searches the largest N that holds under a p95 bound.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::client::loadtest::{LoadOptions, LoadReport, find_capacity, held, load_calls, run};
use crate::ingest::Protocol;
use crate::secret::SecretString;

#[derive(Debug, Args)]
pub struct LoadtestArgs {
    /// The server: ws://127.0.0.1:PORT (loopback only).
    #[arg(long, default_value = "ws://127.0.0.1:8080")]
    pub url: String,
    /// A directory of calls: stereo files (caller, agent), or mono files with NAME.json turns
    /// (`{"turns": [{"speaker", "start", "end"}]}`) beside them.
    #[arg(long)]
    pub audio: PathBuf,
    /// Concurrent calls (the starting point with --find-capacity).
    #[arg(long, default_value_t = 1)]
    pub calls: usize,
    /// Start the calls evenly over this many seconds.
    #[arg(long, default_value_t = 0.0)]
    pub ramp: f64,
    /// 1 = real time.
    #[arg(long, default_value_t = 1.0)]
    pub speed: f32,
    #[arg(long, value_enum, default_value = "twilio")]
    pub protocol: Protocol,
    /// Keep N calls going for this many seconds (each slot starts its next call when one ends)
    /// [default: each slot streams one call].
    #[arg(long)]
    pub duration: Option<f64>,
    /// Write the report (every run's with --find-capacity) as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    #[arg(long, env = "CALLSCRIBE_INGEST_KEY", hide_env_values = true)]
    pub ingest_key: SecretString,
    /// Needed with --protocol twilio (the events are followed on a subscription).
    #[arg(long, env = "CALLSCRIBE_AGENT_KEY", hide_env_values = true)]
    pub agent_key: Option<SecretString>,
    /// Raise N until the p95 final latency passes --bound-ms or a call is refused.
    #[arg(long)]
    pub find_capacity: bool,
    #[arg(long, default_value_t = 1500.0)]
    pub bound_ms: f64,
    /// The largest N --find-capacity tries.
    #[arg(long, default_value_t = 64)]
    pub max_calls: usize,
}

fn ms(p: Option<f64>) -> String {
    p.map_or("-".into(), |v| format!("{v:.0}"))
}

fn print(r: &LoadReport) {
    eprintln!(
        "{} calls: held {}, refused {}, failed {} · finals {}/{} ({} missing) · final latency p50 {} p95 {} p99 {} ms · first interim p50 {} p95 {} p99 {} ms · interims {} delivered, {} skipped · server CPU {} s over {:.1} s wall ({} whisper, overhead {})",
        r.calls,
        r.calls_held,
        r.calls_refused,
        r.calls_failed,
        r.finals_expected - r.finals_missing,
        r.finals_expected,
        r.finals_missing,
        ms(r.final_latency_ms.p50),
        ms(r.final_latency_ms.p95),
        ms(r.final_latency_ms.p99),
        ms(r.first_interim_latency_ms.p50),
        ms(r.first_interim_latency_ms.p95),
        ms(r.first_interim_latency_ms.p99),
        r.interims_delivered,
        r.interims_skipped,
        r.server_cpu_seconds
            .map_or("?".into(), |c| format!("{c:.1}")),
        r.wall_seconds,
        r.whisper_cpu_seconds
            .map_or("?".into(), |c| format!("{c:.1} s")),
        r.overhead_fraction
            .map_or("?".into(), |f| format!("{:.1}%", f * 100.0)),
    );
}

pub fn run_cmd(args: LoadtestArgs) -> anyhow::Result<ExitCode> {
    crate::client::replay::require_loopback(&args.url)?;
    anyhow::ensure!(args.calls >= 1, "--calls must be at least 1");
    anyhow::ensure!(
        args.speed > 0.0 && args.speed <= 100.0,
        "--speed must be above 0 and at most 100 (latency needs a pace)"
    );
    anyhow::ensure!(
        matches!(args.protocol, Protocol::Twilio | Protocol::Native),
        "--protocol twilio or native"
    );
    if args.protocol == Protocol::Twilio && args.agent_key.is_none() {
        anyhow::bail!(
            "--protocol twilio needs --agent-key (or CALLSCRIBE_AGENT_KEY) to follow the calls' events"
        );
    }
    let calls = load_calls(&args.audio, args.protocol)?;
    eprintln!(
        "loaded {} calls ({:.0} s of audio) from {}",
        calls.len(),
        calls.iter().map(|c| c.audio_s).sum::<f64>(),
        args.audio.display()
    );
    let opts = LoadOptions {
        url: args.url.clone(),
        calls: args.calls,
        ramp_s: args.ramp,
        speed: args.speed,
        protocol: args.protocol,
        duration_s: args.duration,
        ingest_key: args.ingest_key.clone(),
        agent_key: args.agent_key.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (json, ok) = runtime.block_on(async {
        if args.find_capacity {
            let (best, reports) =
                find_capacity(&calls, &opts, args.bound_ms, args.max_calls, |r, ok| {
                    print(r);
                    eprintln!("  → {}", if ok { "held" } else { "did not hold" });
                })
                .await?;
            eprintln!(
                "capacity: {best} concurrent calls held with p95 final latency ≤ {} ms",
                args.bound_ms
            );
            anyhow::Ok((
                serde_json::json!({"capacity": best, "bound_ms": args.bound_ms, "runs": reports}),
                best > 0,
            ))
        } else {
            let r = run(&calls, &opts).await?;
            print(&r);
            // success when every call was held (latency is reported, not judged, without --find-capacity)
            let ok = held(&r, f64::INFINITY);
            anyhow::Ok((serde_json::to_value(&r)?, ok))
        }
    })?;
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&json)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

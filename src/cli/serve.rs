//! `callscribe serve`: live ingest, subscriptions and health on one listener.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::api::{ServeOptions, TlsConfig, WebConfig};
use crate::asr::{DecodeOptions, Model, PoolLayout};
use crate::live::{Engine, LiveConfig};
use crate::store::StoreSettings;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080, or `listen` in --config].
    #[arg(long, env = "CALLSCRIBE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Model: a name (tiny.en, base) looked up in --models-dir, or a ggml file.
    #[arg(long, env = "CALLSCRIBE_MODEL")]
    pub model: Option<String>,
    #[arg(long, env = "CALLSCRIBE_MODELS_DIR", default_value = "models")]
    pub models_dir: PathBuf,
    /// Configuration file (TOML: listen, model, workers, threads, policy, purge_every_s, [live], [live.vad], [decode], [web], [store]; see the README).
    #[arg(long, env = "CALLSCRIBE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Worker threads [default: cores / threads].
    #[arg(long)]
    pub workers: Option<usize>,
    /// whisper threads per worker [default: 1]. workers × threads is kept ≤ cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Redaction policy file (JSON) [default: every entity type as typed placeholders].
    #[arg(long, env = "CALLSCRIBE_POLICY")]
    pub policy: Option<PathBuf>,
    /// Serve HTTPS and wss:// with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "CALLSCRIBE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "CALLSCRIBE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    #[command(flatten)]
    pub store_args: super::StoreArgs,
}

/// The config file. Command-line options override it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    pub listen: Option<SocketAddr>,
    pub model: Option<String>,
    pub workers: Option<usize>,
    pub threads: Option<usize>,
    pub policy: Option<PathBuf>,
    /// How often the retention purge runs, in seconds (0: never; `callscribe purge` still works).
    pub purge_every_s: Option<u64>,
    pub live: LiveConfig,
    pub decode: DecodeOptions,
    /// Sessions, rate limits, security.txt.
    pub web: WebConfig,
    /// HTTPS certificate and key (the flags override).
    pub tls: Option<TlsConfig>,
    /// Limits the store enforces (key lifetimes; the flags override).
    pub store: StoreSettings,
}

impl ServeConfig {
    pub fn load(path: &std::path::Path) -> anyhow::Result<ServeConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        Self::load_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Parses and validates a config file's text.
    pub fn load_str(text: &str) -> anyhow::Result<ServeConfig> {
        let cfg: ServeConfig = toml::from_str(text)?;
        cfg.live
            .validate()
            .map_err(anyhow::Error::msg)
            .context("invalid [live]")?;
        cfg.web
            .validate()
            .map_err(anyhow::Error::msg)
            .context("invalid [web]")?;
        cfg.store
            .validate()
            .map_err(anyhow::Error::msg)
            .context("invalid [store]")?;
        Ok(cfg)
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
const DEFAULT_PURGE_EVERY_S: u64 = 3600;

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let cfg = match &args.config {
        Some(p) => ServeConfig::load(p)?,
        None => ServeConfig::default(),
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsConfig {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => cfg.tls.clone(),
    };
    match &tls {
        // read the files now: a wrong path or a key that does not fit fails before the model loads
        Some(t) => crate::api::tls_check(t, &cfg.web.client_certs)?,
        None if cfg.web.client_certs.enabled() => {
            anyhow::bail!(
                "[web.client_certs] needs TLS: give --tls-cert and --tls-key (or [tls] in the config)"
            )
        }
        None => {}
    }
    let listen = args
        .listen
        .or(cfg.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default"));
    let policy = args.policy.clone().or(cfg.policy.clone());
    let redactor = super::load_redactor(policy.as_deref())?;
    let model_name = args
        .model
        .clone()
        .or(cfg.model.clone())
        .unwrap_or_else(|| crate::asr::model::DEFAULT_MODEL.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (layout, warning) = PoolLayout::fit(
        args.workers.or(cfg.workers),
        args.threads.or(cfg.threads),
        cores,
    );
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.clamp(1, 4))
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let store = super::store::open_with(&args.store_args, &cfg.store).await?;
        let model_path = Model::resolve(&model_name, &args.models_dir)?;
        let model = Model::load(&model_path)?;
        if let Some(lang) = &cfg.decode.language
            && !model.is_multilingual()
            && lang != "en"
        {
            bail!("{} is an English-only model; language {lang} needs a multilingual model", model_path.display());
        }
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let local = listener.local_addr()?;
        let backend = store.backend();
        let key_vault = store.key_vault().to_string();
        let engine = Engine::new(&model, layout, cfg.decode.clone(), store, redactor, cfg.live.clone())?;
        drop(model);
        tracing::info!(
            listen = %local,
            model = %model_path.display(),
            workers = layout.workers,
            threads = layout.threads,
            store = ?backend,
            key_vault = %key_vault,
            max_calls = engine.max_calls(),
            interim_every_ms = cfg.live.interim_every_ms,
            idle_timeout_s = cfg.live.idle_timeout_s,
            "serving: ingest at ws://{local}/v1/ingest/{{twilio,telnyx,exotel,vonage,stream}}, events at ws://{local}/v1/calls/{{id}}/events"
        );
        let purge_every = cfg.purge_every_s.unwrap_or(DEFAULT_PURGE_EVERY_S);
        if purge_every > 0 {
            let engine = engine.clone();
            let mut stop = engine.shutdown_signal();
            tokio::spawn(async move {
                let e = engine.clone();
                crate::store::run_periodic_purge(&e.store, Duration::from_secs(purge_every), async move {
                    let _ = stop.changed().await;
                })
                .await;
            });
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!("agent page at {scheme}://{local}/");
        let opts = ServeOptions { web: cfg.web.clone(), tls };
        crate::api::serve(engine.clone(), listener, opts, shutdown_signal()).await.context("server failed")?;
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!("cannot listen for SIGTERM: {e}");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every config example in the README parses and validates; the full one (with `listen`)
    /// holds the values it shows.
    #[test]
    fn the_readme_config_example_is_valid() {
        let readme = include_str!("../../README.md");
        let blocks: Vec<&str> = readme
            .split("```toml\n")
            .skip(1)
            .filter_map(|b| b.split("```").next())
            .collect();
        assert!(
            blocks.len() >= 3,
            "the README's toml blocks: {}",
            blocks.len()
        );
        for b in &blocks {
            let cfg: ServeConfig =
                toml::from_str(b).unwrap_or_else(|e| panic!("a README config example: {e}\n{b}"));
            cfg.live.validate().unwrap();
            cfg.web.validate().unwrap();
        }
        let block = blocks
            .iter()
            .find(|b| b.starts_with("listen =") || b.contains("\nlisten ="))
            .expect("the full config example");
        let cfg: ServeConfig = toml::from_str(block).expect("the README's config parses");
        assert_eq!(cfg.listen, Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!(cfg.live.interim_every_ms, 1000);
        assert_eq!(cfg.live.vad.min_silence_ms, 500);
        assert_eq!(cfg.decode.context_min, 1000);
        cfg.live.validate().unwrap();
        cfg.web.validate().unwrap();
        assert_eq!(
            (
                cfg.web.limits.per_minute,
                cfg.web.limits.burst,
                cfg.web.limits.writes_per_minute
            ),
            (300, 15, 30)
        );
        assert_eq!(
            cfg.web.security_txt.as_ref().unwrap().contact,
            ["mailto:security@example.com"]
        );
        assert_eq!(cfg.store.max_key_ttl_days, 90);
        assert_eq!(
            cfg,
            ServeConfig::load_str(block).unwrap(),
            "load() accepts it too"
        );
    }

    #[test]
    fn unknown_and_out_of_range_settings_are_refused() {
        assert!(toml::from_str::<ServeConfig>("[live]\ninterim_every = 3").is_err());
        assert!(toml::from_str::<ServeConfig>("colour = 1").is_err());
        let cfg: ServeConfig = toml::from_str("[live]\nidle_timeout_s = 0").unwrap();
        assert!(cfg.live.validate().unwrap_err().names("idle_timeout_s"));
        let err = format!(
            "{:#}",
            ServeConfig::load_str("[web.limits]\nburst = 0").unwrap_err()
        );
        assert!(
            err.contains("[web.limits] burst must be at least 1"),
            "{err}"
        );
        let err = format!(
            "{:#}",
            ServeConfig::load_str(
                "[web.security_txt]\ncontact = [\"a@b.c\"]\nexpires = \"2027-01-01T00:00:00Z\""
            )
            .unwrap_err()
        );
        assert!(err.contains("\"a@b.c\" is not a mailto:"), "{err}");
        assert!(
            ServeConfig::load_str("[tls]\ncert = \"c.pem\"").is_err(),
            "a certificate needs its key"
        );
        for bad in ["0", "3651"] {
            let err = format!(
                "{:#}",
                ServeConfig::load_str(&format!("[store]\nmax_key_ttl_days = {bad}")).unwrap_err()
            );
            assert!(
                err.contains("[store] max_key_ttl_days must be between 1 and 3650 days, not")
                    && err.contains(bad),
                "{err}"
            );
        }
        assert!(ServeConfig::load_str("[store]\nmax_key_days = 30").is_err());
    }
}

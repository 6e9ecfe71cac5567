//! HTTP and WebSocket endpoints of `callscribe serve`: telephony ingest (one path per
//! protocol), live transcript subscriptions, health. Errors are JSON with a stable code and a
//! human message; nothing in them or in the logs carries transcript text or key material.

mod assets;
pub mod auth;
mod browser;
pub mod config;
mod conn;
mod error;
mod events;
mod ingest;
pub mod limits;
pub mod mtls;
pub mod proxy;
mod rest;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::sync::Notify;

use crate::ingest::Protocol;
use crate::live::Engine;
pub use config::{TlsConfig, WebConfig};
pub use error::ApiError;

/// What every handler sees.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    sockets: Arc<OpenSockets>,
    web: Arc<auth::Web>,
    subscriptions: Arc<events::Subscriptions>,
}

/// Open WebSockets (ingest and subscriptions), so shutdown can wait for calls to be finalised.
#[derive(Default)]
struct OpenSockets {
    open: AtomicUsize,
    changed: Notify,
}

/// Held by a WebSocket task while it runs.
struct SocketGuard(Arc<OpenSockets>);

impl SocketGuard {
    fn new(s: &Arc<OpenSockets>) -> Self {
        s.open.fetch_add(1, Ordering::SeqCst);
        SocketGuard(s.clone())
    }
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

/// How the server is exposed.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    pub web: WebConfig,
    /// Serve HTTPS and wss:// (TLS 1.3 preferred, 1.2 minimum) instead of plain HTTP.
    pub tls: Option<TlsConfig>,
}

/// Every route and the roles it admits (the table in docs/ARCHITECTURE.md; the API tests
/// walk it). `public` routes need no credentials; `session` needs a signed-in browser.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/", "public"),
    ("GET", "/app.js", "public"),
    ("GET", "/app.css", "public"),
    ("GET", "/healthz", "public"),
    ("GET", "/readyz", "public"),
    ("GET", "/metrics", "public"),
    ("GET", "/.well-known/security.txt", "public"),
    ("GET", "/v1/openapi.json", "public"),
    ("POST", "/v1/session", "agent,admin (key in body)"),
    ("GET", "/v1/session", "any"),
    ("DELETE", "/v1/session", "session"),
    ("GET", "/v1/calls", "agent,admin"),
    ("GET", "/v1/calls/{id}", "agent,admin"),
    ("DELETE", "/v1/calls/{id}", "admin"),
    ("GET", "/v1/calls/{id}/events", "agent,admin"),
    ("GET", "/v1/calls/live", "agent,admin"),
    ("GET", "/v1/export", "admin"),
    ("GET", "/v1/keys", "admin"),
    ("POST", "/v1/keys", "admin"),
    ("DELETE", "/v1/keys/{prefix}", "admin"),
    ("GET", "/v1/audit", "auditor"),
    ("GET", "/v1/audit/verify", "auditor"),
    ("GET", "/v1/ingest/twilio", "ingest"),
    ("GET", "/v1/ingest/telnyx", "ingest"),
    ("GET", "/v1/ingest/exotel", "ingest"),
    ("GET", "/v1/ingest/vonage", "ingest"),
    ("GET", "/v1/ingest/stream", "ingest"),
];

/// The router of every endpoint.
pub fn router(engine: Arc<Engine>, opts: &ServeOptions) -> (Router, AppState) {
    let state = AppState {
        engine,
        sockets: Arc::new(OpenSockets::default()),
        subscriptions: Arc::new(events::Subscriptions::default()),
        web: Arc::new(auth::Web::new(opts.web.clone(), opts.tls.is_some())),
    };
    use axum::routing::{delete, post};
    // authenticated API routes: credentials checked, CSRF, rate limits (see auth::auth_layer)
    let api = Router::new()
        .route(
            "/v1/session",
            post(browser::sign_in)
                .get(browser::whoami)
                .delete(browser::sign_out),
        )
        .route("/v1/calls", get(rest::list_calls))
        .route("/v1/calls/live", get(events::live_calls))
        .route(
            "/v1/calls/{id}",
            get(rest::get_call).delete(rest::delete_call),
        )
        .route("/v1/calls/{id}/events", get(events::call_events))
        .route("/v1/export", get(rest::export))
        .route("/v1/keys", get(rest::list_keys).post(rest::create_key))
        .route("/v1/keys/{prefix}", delete(rest::revoke_key))
        .route("/v1/audit", get(rest::audit_events))
        .route("/v1/audit/verify", get(rest::audit_verify))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::auth_layer,
        ));
    let mut r = Router::new()
        .route("/", get(|| assets::asset("index.html")))
        .route("/app.js", get(|| assets::asset("app.js")))
        .route("/app.css", get(|| assets::asset("app.css")))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(rest::metrics))
        .route("/.well-known/security.txt", get(assets::security_txt))
        .route("/v1/openapi.json", get(rest::openapi))
        .merge(api);
    // ingest authenticates itself (providers put keys in odd places)
    for p in [
        Protocol::Twilio,
        Protocol::Telnyx,
        Protocol::Exotel,
        Protocol::Vonage,
        Protocol::Native,
    ] {
        r = r.route(
            p.path(),
            get(
                move |st: State<AppState>,
                      addr: axum::extract::ConnectInfo<SocketAddr>,
                      headers: HeaderMap,
                      uri: axum::http::Uri,
                      peer: mtls::PeerCert,
                      ws: axum::extract::ws::WebSocketUpgrade| {
                    ingest::upgrade(st, addr, p, headers, uri, peer, ws)
                },
            ),
        );
    }
    let r = r
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this endpoint does not take that method",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            assets::security_headers,
        ))
        .with_state(state.clone());
    (r, state)
}

/// Reads and checks the TLS files (precise errors before anything else starts).
pub fn tls_check(t: &TlsConfig, client_certs: &mtls::ClientCerts) -> std::io::Result<()> {
    tls::server_config(t, client_certs).map(|_| ())
}

/// Serves until `shutdown` resolves; then finalises every call (open utterances become
/// finals, stored) before returning.
pub async fn serve(
    engine: Arc<Engine>,
    listener: tokio::net::TcpListener,
    opts: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // this server's calls are recorded as held by its node; calls an earlier process under the
    // same node id left open are marked interrupted now
    engine
        .start_node(listener.local_addr()?)
        .await
        .map_err(std::io::Error::other)?;
    let (stop_upkeep, upkeep_stopped) = tokio::sync::oneshot::channel::<()>();
    let upkeep = tokio::spawn(engine.clone().run_upkeep(async move {
        let _ = upkeep_stopped.await;
    }));
    let (app, state) = router(engine.clone(), &opts);
    let eng = engine.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: finalising open calls");
        eng.begin_shutdown();
    };
    let make = app.into_make_service_with_connect_info::<SocketAddr>();
    // Failed key checks are audited in aggregate: write each finished window's counts.
    let flusher = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                every.tick().await;
                if let Err(e) = engine.store.flush_failed_auths().await {
                    tracing::error!("cannot audit failed authentications: {e}");
                }
            }
        })
    };
    let limits = conn::ConnLimits::new(
        opts.web.max_connections,
        opts.web.max_connections_per_address,
        proxy::TrustedProxies::parse(&opts.web.trusted_proxies).unwrap_or_default(),
        engine.metrics.clone(),
    );
    let timeouts = tls::Timeouts {
        header_read: Duration::from_secs(opts.web.header_read_timeout_s),
        tls_handshake: Duration::from_secs(opts.web.tls_handshake_timeout_s),
    };
    tls::serve(
        listener,
        opts.tls.as_ref(),
        &opts.web.client_certs,
        limits,
        timeouts,
        make,
        signal,
    )
    .await?;
    // Upgraded sockets outlive the HTTP server: wait for their calls to be finalised.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let notified = state.sockets.changed.notified();
        let open = state.sockets.open.load(Ordering::SeqCst);
        if open == 0 {
            break;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            tracing::warn!(
                open,
                "shutdown: sockets still open after 120 s; stopping anyway"
            );
            break;
        }
    }
    flusher.abort();
    if let Err(e) = engine.store.flush_failed_auths().await {
        tracing::error!("cannot audit failed authentications: {e}");
    }
    let _ = stop_upkeep.send(());
    let _ = upkeep.await;
    engine.leave_store().await;
    engine.stop_workers();
    Ok(())
}

/// Ready: the store takes writes (no final is waiting on a failed write, the last heartbeat
/// was written) and answers a read. Not ready while it does not — new calls are refused then.
async fn readyz(State(st): State<AppState>) -> Result<Response, ApiError> {
    // the error itself is in the log, not on this unauthenticated endpoint
    if let Some((for_, _)) = st.engine.store_health.down() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            format!("the store has not taken writes for {} s", for_.as_secs()),
        ));
    }
    let read = tokio::time::timeout(Duration::from_secs(5), st.engine.store.list_tenants()).await;
    if let Err(e) =
        read.unwrap_or_else(|_| Err(crate::store::StoreError::Invalid("no answer in 5 s".into())))
    {
        // the store is down for the calls too: refuse new ones until a heartbeat gets through
        st.engine.store_health.probe(Err(&e.to_string()));
        tracing::error!("readiness: store unreachable: {e}");
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unreachable",
            "the store cannot be reached",
        ));
    }
    let body = json!({"status": "ready", "model": "loaded", "store": "reachable"});
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

//! HTTP and WebSocket endpoints of `callscribe serve`: telephony ingest (one path per
//! protocol), live transcript subscriptions, health. Errors are JSON with a stable code and a
//! human message; nothing in them or in the logs carries transcript text or key material.

mod events;
mod ingest;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use serde_json::json;
use tokio::sync::Notify;

use crate::ingest::Protocol;
use crate::live::Engine;
use crate::store::{AuthError, Principal, Role};

/// What every handler sees.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    sessions: Arc<Sessions>,
}

/// Open WebSocket sessions, so shutdown can wait for calls to be finalised.
#[derive(Default)]
struct Sessions {
    open: AtomicUsize,
    changed: Notify,
}

/// Held by a WebSocket task while it runs.
struct SessionGuard(Arc<Sessions>);

impl SessionGuard {
    fn new(s: &Arc<Sessions>) -> Self {
        s.open.fetch_add(1, Ordering::SeqCst);
        SessionGuard(s.clone())
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

/// The router of every endpoint.
pub fn router(engine: Arc<Engine>) -> (Router, AppState) {
    let state = AppState { engine, sessions: Arc::new(Sessions::default()) };
    let mut r = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/v1/calls/live", get(events::live_calls))
        .route("/v1/calls/{id}/events", get(events::call_events));
    for p in [Protocol::Twilio, Protocol::Telnyx, Protocol::Exotel, Protocol::Vonage, Protocol::Native] {
        r = r.route(p.path(), get(move |st: State<AppState>, headers: HeaderMap, ws: axum::extract::ws::WebSocketUpgrade| ingest::upgrade(st, p, headers, ws)));
    }
    (r.fallback(|| async { api_error(StatusCode::NOT_FOUND, "not_found", "no such endpoint") }).with_state(state.clone()), state)
}

/// Serves until `shutdown` resolves; then finalises every call (open utterances become
/// finals, stored) before returning.
pub async fn serve(engine: Arc<Engine>, listener: tokio::net::TcpListener, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let (app, state) = router(engine.clone());
    let eng = engine.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: finalising open calls");
        eng.begin_shutdown();
    };
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).with_graceful_shutdown(signal).await?;
    // Upgraded sockets outlive the HTTP server: wait for their calls to be finalised.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let notified = state.sessions.changed.notified();
        let open = state.sessions.open.load(Ordering::SeqCst);
        if open == 0 {
            break;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            tracing::warn!(open, "shutdown: sessions still open after 120 s; stopping anyway");
            break;
        }
    }
    engine.stop_workers();
    Ok(())
}

async fn readyz(State(st): State<AppState>) -> Response {
    match st.engine.store.list_tenants().await {
        Ok(_) => (StatusCode::OK, axum::Json(json!({"status": "ready", "model": "loaded", "store": "reachable"}))).into_response(),
        Err(e) => {
            tracing::error!("readiness: store unreachable: {e}");
            api_error(StatusCode::SERVICE_UNAVAILABLE, "store_unreachable", "the store cannot be reached")
        }
    }
}

/// A JSON error: `{"error": {"code", "message"}}`.
pub fn api_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

/// The API key presented in `Authorization` (Bearer, or Basic with the key as password or
/// user name — Exotel embeds credentials in the URL), if any.
fn presented_keys(headers: &HeaderMap) -> Vec<String> {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return Vec::new() };
    let value = value.trim();
    if let Some(token) = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")) {
        return vec![token.trim().to_string()];
    }
    if let Some(b64) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))
        && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim())
        && let Ok(text) = String::from_utf8(raw)
    {
        let (user, pass) = text.split_once(':').unwrap_or((text.as_str(), ""));
        return [pass, user].into_iter().filter(|s| !s.is_empty()).map(str::to_string).collect();
    }
    vec![String::new()]
}

/// Authenticates a presented key for one of `roles`.
pub async fn authenticate(engine: &Engine, key: &str, roles: &[Role]) -> Result<Principal, (StatusCode, &'static str, &'static str)> {
    match engine.store.authenticate(key).await {
        Ok(p) if roles.contains(&p.role) => Ok(p),
        Ok(_) => Err((StatusCode::FORBIDDEN, "forbidden", "this key's role may not use this endpoint")),
        Err(AuthError::Invalid) => Err((StatusCode::UNAUTHORIZED, "unauthorized", "invalid, expired or revoked API key")),
        Err(AuthError::Store(e)) => {
            tracing::error!("authentication: {e}");
            Err((StatusCode::SERVICE_UNAVAILABLE, "store_unreachable", "cannot check the key now"))
        }
    }
}

/// Authenticates the request's `Authorization` header, if it has one.
async fn header_principal(engine: &Engine, headers: &HeaderMap, roles: &[Role]) -> Result<Option<Principal>, Response> {
    let keys = presented_keys(headers);
    if keys.is_empty() {
        return Ok(None);
    }
    let mut last = None;
    for k in keys {
        match authenticate(engine, &k, roles).await {
            Ok(p) => return Ok(Some(p)),
            Err(e) => last = Some(e),
        }
    }
    let (status, code, msg) = last.expect("at least one key was tried");
    Err(api_error(status, code, msg))
}

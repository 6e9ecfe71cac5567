//! Live subscriptions: `GET /v1/calls/{id}/events` (one call; catches up from the store, then
//! follows live; resumable with `?after=SEQ`) and `GET /v1/calls/live` (every active call of
//! the tenant). Agent or admin keys of the call's tenant only.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::auth::Auth;
use super::error::ApiError;
use super::{AppState, SocketGuard};
use crate::ingest::close;
use crate::live::{Engine, EventBody, LiveEvent};
use crate::store::{Actor, Principal, Role, StoreError};

/// Close code for a subscriber that fell too far behind (it may reconnect and resume).
pub const CLOSE_TOO_SLOW: u16 = 4009;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

fn not_websocket(e: WebSocketUpgradeRejection) -> ApiError {
    ApiError::new(
        e.status(),
        "websocket_required",
        "this endpoint is a WebSocket: send an Upgrade request",
    )
}

fn require_agent(auth: &Auth) -> Result<Principal, ApiError> {
    auth.require(&[Role::Agent, Role::Admin]).cloned()
}

/// The query string of `GET /v1/calls/{id}/events`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct EventsParams {
    after: Option<String>,
}

pub(super) async fn call_events(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<EventsParams>,
    Extension(auth): Extension<Auth>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    // credentials first: an unauthenticated caller learns nothing, not even "not a WebSocket"
    let principal = require_agent(&auth)?;
    let after = q.after.map(|s| s.parse::<u64>()).transpose().map_err(|_| {
        ApiError::bad_request(
            "after must be the seq (a non-negative integer) of the last final seen",
        )
    })?;
    // Another tenant's call is "not found", exactly like a call that does not exist.
    let call = match st.engine.store.find_call(&principal.tenant, &id).await {
        Ok(c) => c,
        Err(e @ (StoreError::CallNotFound { .. } | StoreError::AmbiguousCall { .. })) => {
            return Err(ApiError::store("looking a call up", e));
        }
        Err(e) => {
            tracing::error!("subscription: {e}");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unreachable",
                "cannot look the call up now",
            ));
        }
    };
    let ws = ws.map_err(not_websocket)?;
    let guard = SocketGuard::new(&st.sockets);
    Ok(ws.on_upgrade(move |socket| async move {
        let _guard = guard;
        follow_call(st.engine, principal, call, after, socket).await;
    }))
}

pub(super) async fn live_calls(
    State(st): State<AppState>,
    Extension(auth): Extension<Auth>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let principal = require_agent(&auth)?;
    let ws = ws.map_err(not_websocket)?;
    let guard = SocketGuard::new(&st.sockets);
    Ok(ws.on_upgrade(move |socket| async move {
        let _guard = guard;
        follow_tenant(st.engine, principal, socket).await;
    }))
}

/// False for a final already sent (from the store during catch-up, or before a reconnect);
/// records the seq of a new one.
fn is_new(ev: &LiveEvent, last_seq: &mut Option<u64>) -> bool {
    match ev.final_seq() {
        Some(seq) if last_seq.is_some_and(|l| seq <= l) => false,
        Some(seq) => {
            *last_seq = Some(seq);
            true
        }
        None => true,
    }
}

async fn send(socket: &mut WebSocket, ev: &LiveEvent) -> bool {
    matches!(
        tokio::time::timeout(
            SEND_TIMEOUT,
            socket.send(Message::Text(ev.to_json().into()))
        )
        .await,
        Ok(Ok(()))
    )
}

async fn close_with(socket: &mut WebSocket, code: u16, reason: &str) {
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: reason.to_string().into(),
        })))
        .await;
}

async fn follow_call(
    engine: Arc<Engine>,
    principal: Principal,
    call: String,
    after: Option<u64>,
    mut socket: WebSocket,
) {
    // Subscribe first, then read the store: a final published in between is in both, and the
    // seq filter below drops the second copy. Nothing falls in a gap.
    let mut rx = engine.bus.subscribe(&principal.tenant);
    let actor = Actor::ApiKey(principal.key_id.clone());
    let (info, transcript) = match engine
        .store
        .transcript(&actor, &principal.tenant, &call)
        .await
    {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(call = %call, "subscription catch-up: {e}");
            close_with(
                &mut socket,
                close::INTERNAL,
                "cannot read the call's transcript",
            )
            .await;
            return;
        }
    };
    let mut last_seq: Option<u64> = after;
    for (seq, seg) in transcript.segments.iter().enumerate() {
        let seq = seq as u64;
        if after.is_some_and(|a| seq <= a) {
            continue;
        }
        let track = info
            .tracks
            .iter()
            .position(|t| *t == seg.speaker)
            .unwrap_or(0);
        if !send(
            &mut socket,
            &LiveEvent::from_stored(&principal.tenant, &call, seq, track, seg),
        )
        .await
        {
            return;
        }
        last_seq = Some(seq);
    }
    if !engine.is_active(&call) {
        let ended = LiveEvent {
            tenant: principal.tenant.clone(),
            call_id: call.clone(),
            body: EventBody::CallEnded {
                call_id: call.clone(),
                status: serde_json::to_value(info.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                ended_at: info.ended_at.unwrap_or(info.started_at),
                segments: info.segments,
                interims: None,
                interims_skipped: None,
            },
        };
        send(&mut socket, &ended).await;
        close_with(&mut socket, close::NORMAL, "call ended").await;
        return;
    }
    let mut shutdown = engine.shutdown_signal();
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) if ev.call_id == call => {
                    if !is_new(&ev, &mut last_seq) {
                        continue;
                    }
                    if !send(&mut socket, &ev).await {
                        return;
                    }
                    if matches!(ev.body, EventBody::CallEnded { .. }) {
                        close_with(&mut socket, close::NORMAL, "call ended").await;
                        return;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(call = %call, skipped = n, "subscriber too slow; disconnected");
                    let reason = match last_seq {
                        Some(s) => format!("too slow: reconnect with ?after={s}"),
                        None => "too slow: reconnect to resume".to_string(),
                    };
                    close_with(&mut socket, CLOSE_TOO_SLOW, &reason).await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                _ => {}
            },
            _ = shutdown.changed() => {
                // let the calls' final events through first: they end within the drain limit
                continue_until_ended(&mut rx, &mut socket, &call, &mut last_seq).await;
                close_with(&mut socket, close::GOING_AWAY, "server shutting down").await;
                return;
            }
        }
    }
}

/// During shutdown: forward the call's remaining events until it ends (bounded).
async fn continue_until_ended(
    rx: &mut tokio::sync::broadcast::Receiver<Arc<LiveEvent>>,
    socket: &mut WebSocket,
    call: &str,
    last_seq: &mut Option<u64>,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Ok(Ok(ev)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        if ev.call_id != call || !is_new(&ev, last_seq) {
            continue;
        }
        if !send(socket, &ev).await || matches!(ev.body, EventBody::CallEnded { .. }) {
            return;
        }
    }
}

async fn follow_tenant(engine: Arc<Engine>, principal: Principal, mut socket: WebSocket) {
    let mut rx = engine.bus.subscribe(&principal.tenant);
    for c in engine.active_calls(Some(&principal.tenant)) {
        let ev = LiveEvent {
            tenant: principal.tenant.clone(),
            call_id: c.call_id.clone(),
            body: EventBody::CallStarted {
                call_id: c.call_id,
                provider: c.provider,
                tracks: c.tracks,
                started_at: c.started_at,
            },
        };
        if !send(&mut socket, &ev).await {
            return;
        }
    }
    let mut shutdown = engine.shutdown_signal();
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    if !send(&mut socket, &ev).await {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    close_with(&mut socket, CLOSE_TOO_SLOW, "too slow: reconnect").await;
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                _ => {}
            },
            _ = shutdown.changed() => {
                close_with(&mut socket, close::GOING_AWAY, "server shutting down").await;
                return;
            }
        }
    }
}

//! Live subscriptions: `GET /v1/calls/{id}/events` (one call; catches up from the store, then
//! follows live; resumable with `?after=SEQ`) and `GET /v1/calls/live` (every active call of
//! the tenant). Agent or admin keys of the call's tenant only.
//!
//! Bounds: a workspace holds at most `[web] max_subscriptions_per_tenant` subscriptions (429
//! past it); a subscriber sends nothing but control frames, so its messages are capped at
//! [`MAX_CLIENT_MESSAGE`]; it is pinged every `subscriber_ping_s` and closed when it stops
//! answering; its key (and browser session) is checked again every `subscription_recheck_s`,
//! so revoking the key or signing out closes it within seconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::auth::{Auth, Caller};
use super::error::ApiError;
use super::{AppState, SocketGuard};
use crate::ingest::close;
use crate::live::{Engine, EventBody, LiveEvent};
use crate::store::{Actor, Principal, Role, StoreError, WebSession};

/// Close code for a subscriber that fell too far behind (it may reconnect and resume).
pub const CLOSE_TOO_SLOW: u16 = 4009;
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest a credentials recheck may wait for the store (it is tried again next time).
const RECHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest message a subscriber may send (it has nothing to say but pongs and a close).
pub const MAX_CLIENT_MESSAGE: usize = 4096;

/// Open subscriptions per workspace.
#[derive(Debug, Default)]
pub(super) struct Subscriptions(Mutex<HashMap<String, usize>>);

/// One open subscription of a workspace; released when dropped.
pub(super) struct SubscriptionSlot {
    all: Arc<Subscriptions>,
    tenant: String,
}

impl Subscriptions {
    /// Takes a slot for `tenant`, or says why not (429).
    fn take(
        all: &Arc<Subscriptions>,
        tenant: &str,
        limit: usize,
    ) -> Result<SubscriptionSlot, ApiError> {
        let mut held = all.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(tenant.to_string()).or_default();
        if *n >= limit {
            return Err(ApiError::too_many(
                Duration::from_secs(5),
                "too_many_subscriptions",
                format!(
                    "this workspace has {n} subscriptions open, its limit ([web] max_subscriptions_per_tenant)"
                ),
            ));
        }
        *n += 1;
        Ok(SubscriptionSlot {
            all: all.clone(),
            tenant: tenant.to_string(),
        })
    }
}

impl Drop for SubscriptionSlot {
    fn drop(&mut self) {
        let mut held = self.all.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.tenant) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.tenant);
            }
        }
    }
}

/// What keeps a subscription honest while it runs: pings, and the periodic check that its
/// credentials still hold.
struct Keepalive {
    engine: Arc<Engine>,
    principal: Principal,
    session: Option<WebSession>,
    ping: tokio::time::Interval,
    recheck: tokio::time::Interval,
    ping_every: Duration,
    heard: Instant,
    _slot: SubscriptionSlot,
}

impl Keepalive {
    fn new(st: &AppState, caller: Caller, slot: SubscriptionSlot) -> Self {
        let cfg = &st.web.config;
        let every = |s: u64| {
            let d = Duration::from_secs(s);
            let mut i = tokio::time::interval_at(tokio::time::Instant::now() + d, d);
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            i
        };
        Keepalive {
            engine: st.engine.clone(),
            principal: caller.principal,
            session: caller.session,
            ping: every(cfg.subscriber_ping_s),
            recheck: every(cfg.subscription_recheck_s),
            ping_every: Duration::from_secs(cfg.subscriber_ping_s),
            heard: Instant::now(),
            _slot: slot,
        }
    }

    /// A ping is due: `Some(close)` when the subscriber stopped answering.
    async fn on_ping(&mut self, socket: &mut WebSocket) -> Option<(u16, String)> {
        if self.heard.elapsed() > self.ping_every * 2 {
            return Some((
                close::IDLE,
                format!(
                    "no answer to pings for {} s",
                    self.heard.elapsed().as_secs()
                ),
            ));
        }
        let sent =
            tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Ping(Default::default())))
                .await;
        (!matches!(sent, Ok(Ok(()))))
            .then(|| (close::GOING_AWAY, "cannot reach the subscriber".into()))
    }

    /// The recheck is due: `Some(close)` when the key or the session no longer holds. A store
    /// that cannot answer keeps the subscription (it is checked again next time).
    async fn on_recheck(&mut self) -> Option<(u16, String)> {
        // bounded: while the store hangs (an outage), waiting on it would stop this loop from
        // reading the subscriber's pongs, and the subscriber would be closed as silent
        let check = tokio::time::timeout(
            RECHECK_TIMEOUT,
            self.engine
                .store
                .credentials_hold(&self.principal, self.session.as_ref()),
        )
        .await
        .unwrap_or_else(|_| {
            Err(crate::store::StoreError::Invalid(format!(
                "no answer from the store in {} s",
                RECHECK_TIMEOUT.as_secs()
            )))
        });
        match check {
            Ok(true) => None,
            Ok(false) => Some((
                close::POLICY,
                "the key was revoked or expired, or the session ended: sign in again".into(),
            )),
            Err(e) => {
                tracing::warn!("subscription: cannot recheck credentials: {e}");
                None
            }
        }
    }

    /// Reads the subscriber (answering nothing but counting it as heard), pings it and rechecks
    /// its credentials until the subscription must end: `None` when the subscriber is gone,
    /// else the close code and reason to send it.
    async fn ended(&mut self, socket: &mut WebSocket) -> Option<(u16, String)> {
        loop {
            tokio::select! {
                msg = socket.recv() => if !self.on_message(msg) {
                    return None;
                },
                _ = self.ping.tick() => if let Some(stop) = self.on_ping(socket).await {
                    return Some(stop);
                },
                _ = self.recheck.tick() => if let Some(stop) = self.on_recheck().await {
                    return Some(stop);
                },
            }
        }
    }

    /// A message from the subscriber: `false` when it is gone (closed, broken, too big).
    fn on_message(&mut self, msg: Option<Result<Message, axum::Error>>) -> bool {
        match msg {
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => false,
            Some(Ok(_)) => {
                self.heard = Instant::now();
                true
            }
        }
    }
}

fn not_websocket(e: WebSocketUpgradeRejection) -> ApiError {
    ApiError::new(
        e.status(),
        "websocket_required",
        "this endpoint is a WebSocket: send an Upgrade request",
    )
}

/// The caller (an agent or admin key of the workspace, or its browser session) and a
/// subscription slot of its workspace.
fn subscriber(st: &AppState, auth: &Auth) -> Result<(Caller, SubscriptionSlot), ApiError> {
    auth.require(&[Role::Agent, Role::Admin])?;
    let caller = auth.0.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "credentials required",
        )
    })?;
    let slot = Subscriptions::take(
        &st.subscriptions,
        &caller.principal.tenant,
        st.web.config.max_subscriptions_per_tenant,
    )?;
    Ok((caller, slot))
}

fn limit_messages(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
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
    let principal = auth.require(&[Role::Agent, Role::Admin])?.clone();
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
    let ws = limit_messages(ws.map_err(not_websocket)?);
    let (caller, slot) = subscriber(&st, &auth)?;
    let guard = SocketGuard::new(&st.sockets);
    Ok(ws.on_upgrade(move |socket| async move {
        let _guard = guard;
        let ka = Keepalive::new(&st, caller, slot);
        follow_call(st.engine, principal, call, after, socket, ka).await;
    }))
}

pub(super) async fn live_calls(
    State(st): State<AppState>,
    Extension(auth): Extension<Auth>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (caller, slot) = subscriber(&st, &auth)?;
    let ws = limit_messages(ws.map_err(not_websocket)?);
    let guard = SocketGuard::new(&st.sockets);
    Ok(ws.on_upgrade(move |socket| async move {
        let _guard = guard;
        let principal = caller.principal.clone();
        let ka = Keepalive::new(&st, caller, slot);
        follow_tenant(st.engine, principal, socket, ka).await;
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
    mut ka: Keepalive,
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
                finals_not_stored: 0,
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
            stop = ka.ended(&mut socket) => {
                if let Some((code, reason)) = stop {
                    close_with(&mut socket, code, &reason).await;
                }
                return;
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

async fn follow_tenant(
    engine: Arc<Engine>,
    principal: Principal,
    mut socket: WebSocket,
    mut ka: Keepalive,
) {
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
            stop = ka.ended(&mut socket) => {
                if let Some((code, reason)) = stop {
                    close_with(&mut socket, code, &reason).await;
                }
                return;
            },
            _ = shutdown.changed() => {
                close_with(&mut socket, close::GOING_AWAY, "server shutting down").await;
                return;
            }
        }
    }
}

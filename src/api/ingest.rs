//! The ingest socket: one task per connection reads the provider's messages through its
//! adapter, runs the call's pipeline, and finalises the call however the connection ends.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use tokio::time::{Instant, sleep_until};

use super::{AppState, SessionGuard, authenticate, header_principal};
use crate::asr::AsrResult;
use crate::ingest::{Adapter, IngestEvent, Protocol, ProtocolError, adapter_for, close};
use crate::live::call::StartError;
use crate::live::{CallEnd, Engine, LiveCall, LiveEvent};
use crate::store::{Principal, Role};

/// Bytes read from a media socket at a time. tungstenite zero-fills its read buffer up to this
/// before every read (128 KiB by default: 20% of the server's non-recogniser CPU at 16 calls
/// went to that memset); a media message is a few hundred bytes, larger ones take more reads.
const READ_BUFFER: usize = 8 * 1024;

/// How long, after the audio ended, the remaining finals may take.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

pub(super) async fn upgrade(
    State(st): State<AppState>,
    protocol: Protocol,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // A key in the headers is checked before the upgrade; Twilio sends its key in `start`.
    let principal = match header_principal(&st.engine, &headers, &[Role::Ingest]).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let max = st.engine.config.max_message_bytes;
    let guard = SessionGuard::new(&st.sessions);
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| async move {
            let _guard = guard;
            Session {
                engine: st.engine,
                protocol,
                socket,
                adapter: adapter_for(protocol),
                principal,
                call: None,
                echo: false,
            }
            .run()
            .await;
        })
}

struct Session {
    engine: Arc<Engine>,
    protocol: Protocol,
    socket: WebSocket,
    adapter: Box<dyn Adapter>,
    principal: Option<Principal>,
    call: Option<LiveCall>,
    /// Send the call's events back on this socket.
    echo: bool,
}

/// Why the read loop stopped: how the call ends, and the close code and reason to send.
struct Stop(CallEnd, u16, String);

async fn next_result(call: &mut Option<LiveCall>) -> Option<AsrResult> {
    match call {
        Some(c) => c.next_result().await,
        None => std::future::pending().await,
    }
}

impl Session {
    async fn run(mut self) {
        let idle = Duration::from_secs(self.engine.config.idle_timeout_s);
        let mut last_msg = Instant::now();
        let mut shutdown = self.engine.shutdown_signal();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let Stop(how, code, reason) = loop {
            tokio::select! {
                msg = self.socket.recv() => {
                    last_msg = Instant::now();
                    match msg {
                        None => break self.dropped("connection closed without stop"),
                        Some(Err(e)) => {
                            let text = e.to_string();
                            if text.contains("too long") || text.contains("Space limit") {
                                break Stop(CallEnd::Interrupted, close::TOO_BIG, format!("message over {} bytes", self.engine.config.max_message_bytes));
                            }
                            break self.dropped("connection error");
                        }
                        Some(Ok(Message::Close(_))) => break self.dropped("client closed the connection without stop"),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(m)) => {
                            let first = match m {
                                Message::Text(t) => self.adapter.on_text(t.as_str()),
                                Message::Binary(b) => self.adapter.on_binary(&b),
                                _ => continue,
                            };
                            if let Some(stop) = self.handle(first).await {
                                break stop;
                            }
                        }
                    }
                }
                r = next_result(&mut self.call) => {
                    if let (Some(r), Some(call)) = (r, self.call.as_mut()) {
                        let events = call.on_result(r).await;
                        self.echo(&events).await;
                    }
                }
                _ = tick.tick() => {
                    if let Some(call) = self.call.as_mut() {
                        let events = call.tick().await;
                        self.echo(&events).await;
                    }
                }
                _ = sleep_until(last_msg + idle) => {
                    break Stop(CallEnd::Interrupted, close::IDLE, format!("no message for {} s", idle.as_secs()));
                }
                _ = shutdown.changed() => {
                    break Stop(CallEnd::Shutdown, close::GOING_AWAY, "the server is shutting down; the call was finalised".into());
                }
            }
        };
        if code != close::NORMAL {
            tracing::warn!(
                protocol = self.protocol.as_str(),
                call = self.call.as_ref().map(|c| c.id.as_str()),
                code,
                "ingest closed: {reason}"
            );
        }
        self.finish(how).await;
        let frame = CloseFrame {
            code,
            reason: reason.chars().take(120).collect::<String>().into(),
        };
        let _ = self.socket.send(Message::Close(Some(frame))).await;
    }

    fn dropped(&self, why: &str) -> Stop {
        if self.protocol.ends_on_close() && self.call.is_some() {
            Stop(CallEnd::Stopped, close::NORMAL, "call ended".into())
        } else {
            Stop(CallEnd::Interrupted, close::NORMAL, why.into())
        }
    }

    /// Handles the events of one message; returns `Some` when the connection must end.
    async fn handle(&mut self, first: Result<IngestEvent, ProtocolError>) -> Option<Stop> {
        let mut next = Some(first);
        while let Some(ev) = next.take() {
            let ev = match ev {
                Ok(ev) => ev,
                Err(e) => return Some(Stop(CallEnd::Interrupted, e.code, e.reason)),
            };
            match ev {
                IngestEvent::Start(start) => {
                    if let Some(stop) = self.start(start).await {
                        return Some(stop);
                    }
                }
                IngestEvent::Media(frame) => {
                    let Some(call) = self.call.as_mut() else {
                        return Some(Stop(
                            CallEnd::Interrupted,
                            close::POLICY,
                            "media before start".into(),
                        ));
                    };
                    if let Err(e) = call.on_media(frame) {
                        return Some(Stop(CallEnd::Interrupted, e.code, e.reason));
                    }
                    if call.has_ready() {
                        let events = call.emit_ready().await;
                        self.echo(&events).await;
                    }
                }
                IngestEvent::Stop => {
                    if self.call.is_none() {
                        return Some(Stop(
                            CallEnd::Interrupted,
                            close::POLICY,
                            "stop before start".into(),
                        ));
                    }
                    return Some(Stop(CallEnd::Stopped, close::NORMAL, "call ended".into()));
                }
                IngestEvent::Dtmf | IngestEvent::Mark | IngestEvent::Ignored => {}
            }
            next = self.adapter.next_pending().map(Ok);
        }
        None
    }

    async fn start(&mut self, start: crate::ingest::CallStart) -> Option<Stop> {
        let principal = match (&self.principal, &start.token) {
            (Some(p), _) => p.clone(),
            (None, Some(token)) => match authenticate(&self.engine, token, &[Role::Ingest]).await {
                Ok(p) => p,
                Err((_, _, msg)) => {
                    return Some(Stop(CallEnd::Interrupted, close::POLICY, msg.into()));
                }
            },
            (None, None) => {
                return Some(Stop(
                    CallEnd::Interrupted,
                    close::POLICY,
                    "no ingest key: send it as start customParameters.token or an Authorization header".into(),
                ));
            }
        };
        self.echo = start.echo || self.adapter.echoes_transcript();
        match LiveCall::start(self.engine.clone(), &principal, self.protocol, start).await {
            Ok((call, started)) => {
                self.call = Some(call);
                self.echo(&[started]).await;
                None
            }
            Err(StartError::Refused(r)) => Some(Stop(
                CallEnd::Interrupted,
                close::TRY_AGAIN_LATER,
                format!("call refused: {}", r.0),
            )),
            Err(StartError::Invalid(e)) => Some(Stop(CallEnd::Interrupted, e.code, e.reason)),
            Err(StartError::Store(e)) => {
                tracing::error!("cannot create a call: {e}");
                Some(Stop(
                    CallEnd::Interrupted,
                    close::INTERNAL,
                    "cannot store the call now".into(),
                ))
            }
        }
    }

    /// The native protocol (and a provider stream that asked with `transcripts=on`) gets the
    /// call's events back on its own socket. A failed send is ignored: the call goes on and its
    /// finals are stored regardless.
    async fn echo(&mut self, events: &[Arc<LiveEvent>]) {
        if !self.echo {
            return;
        }
        for ev in events {
            let send = self.socket.send(Message::Text(ev.to_json().into()));
            if tokio::time::timeout(Duration::from_secs(5), send)
                .await
                .is_err()
            {
                tracing::warn!("native client is not reading its events; skipping");
            }
        }
    }

    /// Finalises the call: open utterances become finals, every final is stored, the call is
    /// closed in the store and announced as ended.
    async fn finish(&mut self, how: CallEnd) {
        let Some(mut call) = self.call.take() else {
            return;
        };
        call.end_audio();
        if call.has_ready() {
            let events = call.emit_ready().await;
            self.echo(&events).await;
        }
        let deadline = Instant::now() + DRAIN_LIMIT;
        while !call.drained() {
            tokio::select! {
                r = call.next_result() => match r {
                    Some(r) => {
                        let events = call.on_result(r).await;
                        self.echo(&events).await;
                    }
                    None => break,
                },
                _ = sleep_until(deadline) => {
                    tracing::error!(call = %call.id, "finals did not come back within {} s", DRAIN_LIMIT.as_secs());
                    break;
                }
            }
        }
        let events = call.close(how).await;
        self.echo(&events).await;
    }
}

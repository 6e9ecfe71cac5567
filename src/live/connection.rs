//! One ingest connection's call, from its first message to its close. The provider's messages
//! go through the protocol's adapter; `start` authenticates (when the upgrade carried no key)
//! and admits the call; media runs the call's pipeline; worker results and the redaction hold's
//! tick are pumped; and however the connection ends — `stop`, a drop, a protocol error, the idle
//! timeout, shutdown — the call is drained (open utterances become finals, every final comes
//! back from the pool and is stored) and closed.
//!
//! The transport (the API's WebSocket) only moves messages: it hands in what the socket
//! received as [`Inbound`] and sends out what it is given; the close code and reason come back
//! from [`Connection::run`]. Nothing here sends unredacted text: events come from [`LiveCall`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use super::call::{CallInput, StartError};
use super::writer::WriterNote;
use super::{CallEnd, Engine, LiveCall, LiveEvent};
use crate::ingest::signature::SignedUpgrade;
use crate::ingest::{Adapter, CallStart, IngestEvent, Protocol, ProtocolError, adapter_for, close};
use crate::store::Principal;

/// How long, after the audio ended, the remaining finals may take.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// How often held finals are looked at (the redaction hold is counted in these steps).
const TICK: Duration = Duration::from_millis(100);

/// How long an echoed event may wait for a client that does not read.
const ECHO_TIMEOUT: Duration = Duration::from_secs(5);

/// What the socket received, as the connection needs to know it.
#[derive(Debug)]
pub enum Inbound {
    Text(String),
    Binary(Vec<u8>),
    /// A ping or pong: the peer is alive, nothing to process.
    Control,
    /// The stream ended without a close frame.
    Ended,
    /// The peer sent a close frame.
    ClosedByPeer,
    /// A message over the size limit.
    TooBig,
    /// The connection broke (I/O or WebSocket protocol error).
    Broken,
}

/// The socket under a connection.
pub trait Transport: Send {
    /// The next thing the socket received.
    fn recv(&mut self) -> impl Future<Output = Inbound> + Send;
    /// Sends one text message; a failure is ignored (the call goes on, finals are stored).
    fn send_text(&mut self, text: String) -> impl Future<Output = ()> + Send;
    /// Checks the ingest key a `start` carries (the API adds its per-address back-off);
    /// `Err` holds the close code and reason: 1008 for a key that does not hold, 1013 when
    /// it cannot be checked now (the store is unavailable).
    fn authenticate(
        &mut self,
        key: &str,
    ) -> impl Future<Output = Result<Principal, (u16, String)>> + Send;
}

/// How the connection ends: the close code and reason to send the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closing {
    pub code: u16,
    pub reason: String,
}

/// Why the read loop stopped: how the call ends, and what the peer is told.
struct Stop {
    how: CallEnd,
    code: u16,
    reason: String,
}

impl Stop {
    fn interrupted(code: u16, reason: impl Into<String>) -> Stop {
        Stop {
            how: CallEnd::Interrupted,
            code,
            reason: reason.into(),
        }
    }

    fn stopped() -> Stop {
        Stop {
            how: CallEnd::Stopped,
            code: close::NORMAL,
            reason: "call ended".into(),
        }
    }
}

impl From<ProtocolError> for Stop {
    fn from(e: ProtocolError) -> Stop {
        Stop::interrupted(e.code, e.reason)
    }
}

/// One ingest connection and the call it carries.
pub struct Connection {
    engine: Arc<Engine>,
    protocol: Protocol,
    adapter: Box<dyn Adapter>,
    /// Authenticated from the upgrade's headers; otherwise the key comes in `start`.
    principal: Option<Principal>,
    call: Option<LiveCall>,
    /// Send the call's events back on this connection.
    echo: bool,
    /// When the call last sent audio (or started): the idle timeout counts from here.
    heard_at: Instant,
    /// What the upgrade carried to prove it came from the provider (Twilio's signature).
    signed: Option<SignedUpgrade>,
}

async fn next_input(call: &mut Option<LiveCall>) -> CallInput {
    match call {
        Some(c) => c.next_input().await,
        None => std::future::pending().await,
    }
}

impl Stop {
    /// Admission refused the call (1013: try again later).
    fn refused(r: super::Refused) -> Stop {
        Stop::interrupted(close::TRY_AGAIN_LATER, format!("call refused: {}", r.0))
    }

    /// The store did not take the call's finals: the call ends `failed`.
    fn store_failed(reason: String) -> Stop {
        Stop {
            how: CallEnd::Failed,
            code: close::INTERNAL,
            reason,
        }
    }
}

impl Connection {
    pub fn new(engine: Arc<Engine>, protocol: Protocol, principal: Option<Principal>) -> Self {
        Connection {
            engine,
            protocol,
            adapter: adapter_for(protocol),
            principal,
            call: None,
            echo: false,
            heard_at: Instant::now(),
            signed: None,
        }
    }

    /// The upgrade's provider signature, checked at `start` against the workspace's token.
    pub fn with_signature(mut self, signed: SignedUpgrade) -> Self {
        self.signed = Some(signed);
        self
    }

    /// A Twilio stream into a workspace with an auth token configured must be signed with it.
    /// (A free function of what it needs: the connection itself is not `Sync`.)
    async fn check_provider_signature(
        engine: &Engine,
        protocol: Protocol,
        signed: Option<&SignedUpgrade>,
        principal: &Principal,
    ) -> Result<(), Stop> {
        let tokens = &engine.config.twilio_auth_tokens;
        if protocol != Protocol::Twilio {
            return Ok(());
        }
        let token = match engine.store.tenant_setting(tokens, &principal.tenant).await {
            Ok(t) => t,
            Err(e) => {
                tracing::error!("cannot look the workspace up: {e}");
                return Err(Stop::interrupted(
                    close::INTERNAL,
                    "cannot check the stream's signature now",
                ));
            }
        };
        match token {
            Some(t) if !signed.is_some_and(|s| s.verifies(t.expose())) => {
                engine
                    .stats
                    .unsigned_refused
                    .fetch_add(1, Ordering::Relaxed);
                Err(Stop::interrupted(
                    close::POLICY,
                    "X-Twilio-Signature is missing or does not match this workspace's Twilio \
                     auth token",
                ))
            }
            _ => Ok(()),
        }
    }

    /// Runs the connection to its end; returns the close code and reason for the peer.
    pub async fn run<T: Transport>(mut self, io: &mut T) -> Closing {
        let idle = Duration::from_secs(self.engine.config.idle_timeout_s);
        let start_by = Instant::now() + Duration::from_secs(self.engine.config.start_timeout_s);
        let mut shutdown = self.engine.shutdown_signal();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop = loop {
            if let Some(why) = self.call.as_ref().and_then(LiveCall::failure) {
                break Stop::store_failed(why.to_string());
            }
            // Back-pressure: a call ahead of real time (or with too many finals queued) is not
            // read until it is not; results and the tick go on meanwhile.
            let pause = self.call.as_ref().and_then(LiveCall::pacing_pause);
            if pause.is_some() {
                self.engine.stats.paced.fetch_add(1, Ordering::Relaxed);
            }
            tokio::select! {
                _ = tokio::time::sleep(pause.unwrap_or_default()), if pause.is_some() => {
                    // time spent paused is the server's choice, not the client's silence
                    self.heard_at = Instant::now();
                }
                msg = io.recv(), if pause.is_none() => {
                    let first = match msg {
                        Inbound::Ended => break self.dropped("connection closed without stop"),
                        Inbound::ClosedByPeer => {
                            break self.dropped("client closed the connection without stop")
                        }
                        Inbound::Broken => break self.dropped("connection error"),
                        Inbound::TooBig => break Stop::interrupted(
                            close::TOO_BIG,
                            format!("message over {} bytes", self.engine.config.max_message_bytes),
                        ),
                        Inbound::Control => continue,
                        Inbound::Text(t) => self.adapter.on_text(&t),
                        Inbound::Binary(b) => self.adapter.on_binary(&b),
                    };
                    if let Some(stop) = self.handle(first, io).await {
                        break stop;
                    }
                }
                input = next_input(&mut self.call) => match input {
                    CallInput::Result(r) => {
                        if let (Some(r), Some(call)) = (r, self.call.as_mut()) {
                            let events = call.on_result(r);
                            self.echo(io, &events).await;
                        }
                    }
                    CallInput::Note(WriterNote::Stored(ev)) => self.echo(io, &[ev]).await,
                    CallInput::Note(WriterNote::Lost(_)) => {}
                    CallInput::Note(WriterNote::GaveUp(why)) => break Stop::store_failed(why),
                },
                _ = tick.tick() => {
                    if let Some(call) = self.call.as_mut() {
                        let events = call.tick();
                        self.echo(io, &events).await;
                    }
                }
                _ = sleep_until(start_by), if self.call.is_none() => {
                    break Stop::interrupted(
                        close::POLICY,
                        format!(
                            "no call started within {} s of connecting",
                            self.engine.config.start_timeout_s
                        ),
                    );
                }
                _ = sleep_until(self.heard_at + idle), if pause.is_none() && self.call.is_some() => {
                    break Stop::interrupted(
                        close::IDLE,
                        format!("no audio for {} s", idle.as_secs()),
                    );
                }
                _ = shutdown.changed() => {
                    break Stop {
                        how: CallEnd::Shutdown,
                        code: close::GOING_AWAY,
                        reason: "the server is shutting down; the call was finalised".into(),
                    };
                }
            }
        };
        if stop.code != close::NORMAL {
            tracing::warn!(
                protocol = self.protocol.as_str(),
                call = self.call.as_ref().map(|c| c.id.as_str()),
                code = stop.code,
                "ingest closed: {}",
                stop.reason
            );
        }
        self.finish(stop.how, io).await;
        Closing {
            code: stop.code,
            reason: close::fit_reason(&stop.reason),
        }
    }

    /// The connection went away: for a protocol whose calls end by closing (Vonage) that is the
    /// call's end; otherwise the call was interrupted.
    fn dropped(&self, why: &str) -> Stop {
        if self.protocol.ends_on_close() && self.call.is_some() {
            Stop::stopped()
        } else {
            Stop::interrupted(close::NORMAL, why)
        }
    }

    /// Handles the events of one message; returns `Some` when the connection must end.
    async fn handle<T: Transport>(
        &mut self,
        first: Result<IngestEvent, ProtocolError>,
        io: &mut T,
    ) -> Option<Stop> {
        let mut next = Some(first);
        while let Some(ev) = next.take() {
            match ev {
                Err(e) => return Some(e.into()),
                Ok(IngestEvent::Start(start)) => {
                    if let Err(stop) = self.start(start, io).await {
                        return Some(stop);
                    }
                    self.heard_at = Instant::now();
                }
                Ok(IngestEvent::Media(frame)) => {
                    let Some(call) = self.call.as_mut() else {
                        return Some(Stop::interrupted(close::POLICY, "media before start"));
                    };
                    if let Err(e) = call.on_media(frame) {
                        return Some(e.into());
                    }
                    self.heard_at = Instant::now();
                    if call.has_ready() {
                        let events = call.emit_ready();
                        self.echo(io, &events).await;
                    }
                }
                Ok(IngestEvent::Stop) => {
                    if self.call.is_none() {
                        return Some(Stop::interrupted(close::POLICY, "stop before start"));
                    }
                    return Some(Stop::stopped());
                }
                Ok(IngestEvent::Dtmf | IngestEvent::Mark | IngestEvent::Ignored) => {}
            }
            next = self.adapter.next_pending().map(Ok);
        }
        None
    }

    /// Authenticates (if the upgrade did not) and admits the call.
    async fn start<T: Transport>(&mut self, start: CallStart, io: &mut T) -> Result<(), Stop> {
        // before the key check, which needs the store too: a call that cannot be stored is
        // not taken, and the provider is told to retry rather than that its key is wrong
        self.engine.check_store().map_err(Stop::refused)?;
        let principal = match (&self.principal, &start.token) {
            (Some(p), _) => p.clone(),
            (None, Some(token)) => io
                .authenticate(token.expose())
                .await
                .map_err(|(code, reason)| Stop::interrupted(code, reason))?,
            (None, None) => {
                return Err(Stop::interrupted(
                    close::POLICY,
                    "no ingest key: send it as start customParameters.token or an Authorization \
                     header",
                ));
            }
        };
        let signed = self.signed.clone();
        Self::check_provider_signature(&self.engine, self.protocol, signed.as_ref(), &principal)
            .await?;
        self.echo = start.echo || self.adapter.echoes_transcript();
        match LiveCall::start(self.engine.clone(), &principal, self.protocol, start).await {
            Ok((call, started)) => {
                self.call = Some(call);
                self.echo(io, &[started]).await;
                Ok(())
            }
            Err(StartError::Refused(r)) => Err(Stop::refused(r)),
            Err(StartError::Invalid(e)) => Err(e.into()),
            Err(StartError::Store(e)) => {
                tracing::error!("cannot create a call: {e}");
                Err(Stop::interrupted(
                    close::INTERNAL,
                    "cannot store the call now",
                ))
            }
        }
    }

    /// The native protocol (and a provider stream that asked with `transcripts=on`) gets the
    /// call's events back on its own connection. A client that does not read is skipped: the
    /// call goes on and its finals are stored regardless.
    async fn echo<T: Transport>(&mut self, io: &mut T, events: &[Arc<LiveEvent>]) {
        if !self.echo {
            return;
        }
        for ev in events {
            let send = io.send_text(ev.to_json());
            if tokio::time::timeout(ECHO_TIMEOUT, send).await.is_err() {
                tracing::warn!("native client is not reading its events; skipping");
            }
        }
    }

    /// Finalises the call: open utterances become finals, every final is stored (or, the
    /// store being down past the bound, counted lost), the call is closed in the store and
    /// announced as ended.
    async fn finish<T: Transport>(&mut self, how: CallEnd, io: &mut T) {
        let Some(mut call) = self.call.take() else {
            return;
        };
        call.end_audio();
        if call.has_ready() {
            let events = call.emit_ready();
            self.echo(io, &events).await;
        }
        let deadline = Instant::now() + DRAIN_LIMIT;
        while !call.drained() {
            tokio::select! {
                input = call.next_input() => match input {
                    CallInput::Result(Some(r)) => {
                        let events = call.on_result(r);
                        self.echo(io, &events).await;
                    }
                    CallInput::Result(None) => break,
                    // finals stored meanwhile (the writer waits for this side to take its notes)
                    CallInput::Note(WriterNote::Stored(ev)) => self.echo(io, &[ev]).await,
                    CallInput::Note(_) => {}
                },
                _ = sleep_until(deadline) => {
                    tracing::error!(
                        call = %call.id,
                        "finals did not come back within {} s",
                        DRAIN_LIMIT.as_secs()
                    );
                    break;
                }
            }
        }
        let events = call.close(how).await;
        self.echo(io, &events).await;
    }
}

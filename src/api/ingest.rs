//! The ingest socket: authenticates a key in the upgrade's headers, then hands the socket to a
//! [`Connection`] (`live/`), which owns the call from `start` to close; this file only moves
//! WebSocket messages in and out and sends the close frame.

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio_tungstenite::tungstenite;

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;

use super::auth::{KeyRefused, checked_key, header_principal};
use super::error::ApiError;
use super::limits::Attempt;
use super::mtls::PeerCert;
use super::{AppState, SocketGuard};
use crate::ingest::signature::SignedUpgrade;
use crate::ingest::{Protocol, close};
use crate::live::connection::{Closing, Connection, Inbound, Transport};
use crate::store::{AuthError, Principal, Role};

/// Bytes read from a media socket at a time. tungstenite zero-fills its read buffer up to this
/// before every read (128 KiB by default: a large share of the server's non-recogniser CPU,
/// docs/PERFORMANCE.md); a media message is a few hundred bytes, larger ones take more reads.
const READ_BUFFER: usize = 8 * 1024;

pub(super) async fn upgrade(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    protocol: Protocol,
    headers: HeaderMap,
    uri: Uri,
    peer: PeerCert,
    ws: WebSocketUpgrade,
) -> Response {
    // A route that needs a client certificate refuses before anything else is read.
    if let Some(names) = st.web.config.client_certs.routes.get(protocol.path())
        && !peer.valid_for_any(names)
    {
        return cert_refused(
            "this route needs a client certificate valid for one of its allowed names",
        )
        .into_response();
    }
    // A key in the headers is checked before the upgrade; Twilio sends its key in `start`.
    // Failed checks count toward the address's back-off, as on every other route.
    let ip = st.web.proxies.client(addr.ip(), &headers);
    let principal = match header_principal(&st, ip, &headers, &[Role::Ingest]).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if let Some(p) = &principal
        && let Err(why) = tenant_cert_ok(&st, &peer, p).await
    {
        return cert_refused(why).into_response();
    }
    let signed = SignedUpgrade::new(
        headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
        uri.path_and_query().map_or(uri.path(), |p| p.as_str()),
    );
    let max = st.engine.config.max_message_bytes;
    let guard = SocketGuard::new(&st.sockets);
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| async move {
            let _guard = guard;
            let engine = st.engine.clone();
            let mut io = WsTransport {
                socket,
                state: st,
                ip,
                peer,
            };
            let Closing { code, reason } = Connection::new(engine, protocol, principal)
                .with_signature(signed)
                .run(&mut io)
                .await;
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = io.socket.send(Message::Close(Some(frame))).await;
        })
}

/// The ingest WebSocket as the live connection's transport, with the client's address for
/// the back-off of failed key checks.
struct WsTransport {
    socket: WebSocket,
    state: AppState,
    ip: IpAddr,
    peer: PeerCert,
}

fn cert_refused(why: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "client_certificate_required", why)
}

/// A workspace listed in `[web.client_certs.tenants]` takes ingest only from a client whose
/// certificate is valid for one of its names.
async fn tenant_cert_ok(st: &AppState, peer: &PeerCert, p: &Principal) -> Result<(), String> {
    let rules = &st.web.config.client_certs.tenants;
    let names = match st.engine.store.tenant_setting(rules, &p.tenant).await {
        Ok(n) => n,
        Err(e) => {
            tracing::error!("cannot look the workspace up: {e}");
            return Err("cannot check the client certificate now".into());
        }
    };
    match names {
        Some(n) if !peer.valid_for_any(n) => Err(
            "this workspace takes ingest only with a client certificate valid for one of its \
             allowed names"
                .into(),
        ),
        _ => Ok(()),
    }
}

impl Transport for WsTransport {
    async fn recv(&mut self) -> Inbound {
        match self.socket.recv().await {
            None => Inbound::Ended,
            Some(Err(e)) => match e.into_inner().downcast::<tungstenite::Error>() {
                Ok(e) if matches!(*e, tungstenite::Error::Capacity(_)) => Inbound::TooBig,
                _ => Inbound::Broken,
            },
            Some(Ok(Message::Close(_))) => Inbound::ClosedByPeer,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Inbound::Control,
            Some(Ok(Message::Text(t))) => Inbound::Text(t.as_str().to_owned()),
            Some(Ok(Message::Binary(b))) => Inbound::Binary(b.into()),
        }
    }

    async fn send_text(&mut self, text: String) {
        let _ = self.socket.send(Message::Text(text.into())).await;
    }

    async fn authenticate(&mut self, key: &str) -> Result<Principal, (u16, String)> {
        let who = Attempt::new(self.ip, key);
        let p = checked_key(&self.state, &who, &[key], &[Role::Ingest])
            .await
            .map_err(|e| match e {
                KeyRefused::Auth(AuthError::Store(_)) => (
                    close::TRY_AGAIN_LATER,
                    format!("{}; try again later", e.message()),
                ),
                e => (close::POLICY, e.message()),
            })?;
        tenant_cert_ok(&self.state, &self.peer, &p)
            .await
            .map_err(|reason| (close::POLICY, reason))?;
        Ok(p)
    }
}

//! Client certificates (mutual TLS, `[web.client_certs]`): providers and SBCs that present a
//! certificate can be required to. The listener verifies certificates against a CA bundle
//! (every connection must present one when `required`); then an ingest route, or ingest into a
//! workspace, can demand that the certificate be valid for one of a list of names (DNS names or
//! IP addresses in its subject alternative names, wildcards as in web PKI). The peer's
//! certificate reaches the handlers as a request extension ([`PeerCert`]), added by
//! [`PeerCertAcceptor`] around the TLS acceptor.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum_server::accept::Accept;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;
use crate::ingest::Protocol;

/// `[web.client_certs]` in the config file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientCerts {
    /// PEM bundle of the CAs client certificates must chain to (needs TLS).
    pub ca: Option<PathBuf>,
    /// Every connection must present a valid certificate (the agent page's browsers too);
    /// false: a certificate is asked for, and only the routes and workspaces below need one.
    pub required: bool,
    /// Ingest route (`/v1/ingest/twilio` …) → names, one of which the client's certificate must
    /// be valid for; no certificate, or none of the names: HTTP 403 before the upgrade.
    pub routes: BTreeMap<String, Vec<String>>,
    /// Workspace (name or id) → names, for ingest into it; checked at `start` (1008).
    pub tenants: BTreeMap<String, Vec<String>>,
}

impl ClientCerts {
    pub fn enabled(&self) -> bool {
        self.ca.is_some()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let needs_ca = self.required || !self.routes.is_empty() || !self.tenants.is_empty();
        if needs_ca && self.ca.is_none() {
            return Err(ConfigError::new(
                "[web.client_certs] required, routes and tenants need ca (a PEM bundle of the \
                 client certificates' CAs)",
            ));
        }
        let ingest: Vec<&str> = [
            Protocol::Twilio,
            Protocol::Telnyx,
            Protocol::Exotel,
            Protocol::Vonage,
            Protocol::Native,
        ]
        .iter()
        .map(|p| p.path())
        .collect();
        for route in self.routes.keys() {
            if !ingest.contains(&route.as_str()) {
                return Err(ConfigError::new(format!(
                    "[web.client_certs.routes] {route:?} is not an ingest route ({})",
                    ingest.join(", ")
                )));
            }
        }
        for (what, names) in self.routes.iter().chain(&self.tenants) {
            if names.is_empty() {
                return Err(ConfigError::new(format!(
                    "[web.client_certs] {what}: the list of allowed names is empty"
                )));
            }
            for n in names {
                if ServerName::try_from(n.as_str()).is_err() {
                    return Err(ConfigError::new(format!(
                        "[web.client_certs] {what}: {n:?} is not a DNS name or IP address"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The client-certificate verifier for the listener.
    pub fn verifier(
        &self,
        provider: Arc<rustls::crypto::CryptoProvider>,
    ) -> io::Result<Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>> {
        let Some(ca) = &self.ca else {
            return Ok(None);
        };
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).map_err(|e| {
            invalid(format!(
                "cannot read the client CA bundle {}: {e}",
                ca.display()
            ))
        })? {
            let cert = cert.map_err(|e| {
                invalid(format!(
                    "the client CA bundle {} is not valid PEM: {e}",
                    ca.display()
                ))
            })?;
            roots.add(cert).map_err(|e| {
                invalid(format!(
                    "the client CA bundle {} holds a bad certificate: {e}",
                    ca.display()
                ))
            })?;
        }
        if roots.is_empty() {
            return Err(invalid(format!(
                "the client CA bundle {} holds no CERTIFICATE block",
                ca.display()
            )));
        }
        let builder =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
        let builder = if self.required {
            builder
        } else {
            builder.allow_unauthenticated()
        };
        builder
            .build()
            .map(Some)
            .map_err(|e| invalid(format!("client certificate verification: {e}")))
    }
}

/// The certificate the client presented (already verified against the CA by the handshake);
/// `None` without one, or on a plain connection.
#[derive(Debug, Clone, Default)]
pub struct PeerCert(pub Option<Arc<CertificateDer<'static>>>);

impl PeerCert {
    /// Is the certificate valid for one of `names`?
    pub fn valid_for_any(&self, names: &[String]) -> bool {
        let Some(der) = &self.0 else {
            return false;
        };
        let Ok(cert) = webpki::EndEntityCert::try_from(der.as_ref()) else {
            return false;
        };
        names.iter().any(|n| {
            ServerName::try_from(n.as_str())
                .is_ok_and(|name| cert.verify_is_valid_for_subject_name(&name).is_ok())
        })
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PeerCert {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<PeerCert>()
            .cloned()
            .unwrap_or_default())
    }
}

/// Wraps the TLS acceptor: each connection's service adds the peer's certificate to every
/// request it serves.
#[derive(Clone)]
pub struct PeerCertAcceptor<A>(pub A);

impl<I, S, A, IO> Accept<I, S> for PeerCertAcceptor<A>
where
    A: Accept<I, S, Stream = tokio_rustls::server::TlsStream<IO>>,
    A::Future: Send + 'static,
    A::Service: Send + 'static,
    IO: Send + 'static,
{
    type Stream = tokio_rustls::server::TlsStream<IO>;
    type Service = WithPeerCert<A::Service>;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let inner = self.0.accept(stream, service);
        Box::pin(async move {
            let (stream, service) = inner.await?;
            let cert = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(|c| Arc::new(c.clone().into_owned()));
            Ok((
                stream,
                WithPeerCert {
                    inner: service,
                    cert: PeerCert(cert),
                },
            ))
        })
    }
}

/// A connection's service that adds [`PeerCert`] to each request.
#[derive(Clone)]
pub struct WithPeerCert<S> {
    inner: S,
    cert: PeerCert,
}

impl<S, B> tower::Service<axum::http::Request<B>> for WithPeerCert<S>
where
    S: tower::Service<axum::http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: axum::http::Request<B>) -> Self::Future {
        req.extensions_mut().insert(self.cert.clone());
        self.inner.call(req)
    }
}

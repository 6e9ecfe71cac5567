//! HTTPS and wss:// on the same listener, through rustls: TLS 1.3 preferred, TLS 1.2 the
//! minimum, HTTP/1.1 (WebSocket upgrades), certificates and keys from PEM files; and the one
//! place the server is built, plain or TLS, with its connection limits and timeouts.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};

use super::config::TlsConfig;
use super::conn::ConnLimits;
use super::mtls::{ClientCerts, PeerCertAcceptor};

/// The rustls server configuration, with precise errors for unreadable or mismatched files.
pub fn server_config(
    tls: &TlsConfig,
    client_certs: &ClientCerts,
) -> std::io::Result<rustls::ServerConfig> {
    let invalid = |msg: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, msg);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert)
        .map_err(|e| {
            invalid(format!(
                "cannot read the TLS certificate {}: {e}",
                tls.cert.display()
            ))
        })?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            invalid(format!(
                "the TLS certificate {} is not valid PEM: {e}",
                tls.cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(invalid(format!(
            "the TLS certificate file {} holds no CERTIFICATE block",
            tls.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&tls.key).map_err(|e| {
        invalid(format!(
            "cannot read a private key from {}: {e} (PEM PKCS#8, PKCS#1 or SEC1 expected)",
            tls.key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| invalid(format!("TLS setup: {e}")))?;
    let builder = match client_certs.verifier(provider)? {
        Some(v) => builder.with_client_cert_verifier(v),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        invalid(format!(
            "the TLS key {} does not fit the certificate {}: {e}",
            tls.key.display(),
            tls.cert.display()
        ))
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// How long a client may take before it has said anything useful.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// A request's headers, and the first request of a connection.
    pub header_read: Duration,
    pub tls_handshake: Duration,
}

/// Serves `make` on `listener` — plain HTTP, or HTTPS when `tls` is given — with the connection
/// limits and the timeouts, until `shutdown`; then stops accepting and lets requests in flight
/// finish (up to 30 s).
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<&TlsConfig>,
    client_certs: &ClientCerts,
    limits: ConnLimits,
    timeouts: Timeouts,
    make: IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        // like axum::serve: stop accepting, let requests in flight finish
        h.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    let mut server = axum_server::from_tcp(listener.into_std()?)?
        .handle(handle)
        .first_request_timeout(timeouts.header_read);
    server
        .http_builder()
        .http1()
        .header_read_timeout(Some(timeouts.header_read));
    match tls {
        None => server.acceptor(limits).serve(make).await,
        Some(tls) => {
            let config = RustlsConfig::from_config(Arc::new(server_config(tls, client_certs)?));
            let acceptor = RustlsAcceptor::new(config)
                .handshake_timeout(timeouts.tls_handshake)
                .acceptor(limits);
            server
                .acceptor(PeerCertAcceptor(acceptor))
                .serve(make)
                .await
        }
    }
}

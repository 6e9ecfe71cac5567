//! HTTPS and wss:// on the same listener, through rustls: TLS 1.3 preferred, TLS 1.2 the
//! minimum, HTTP/1.1 (WebSocket upgrades), certificates and keys from PEM files.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::config::TlsConfig;

/// The rustls server configuration, with precise errors for unreadable or mismatched files.
pub fn server_config(tls: &TlsConfig) -> std::io::Result<rustls::ServerConfig> {
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
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| invalid(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            invalid(format!(
                "the TLS key {} does not fit the certificate {}: {e}",
                tls.key.display(),
                tls.cert.display()
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: &TlsConfig,
    make: IntoMakeServiceWithConnectInfo<axum::Router, SocketAddr>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(server_config(tls)?));
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        // like axum::serve: stop accepting, let requests in flight finish
        h.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    let std_listener = listener.into_std()?;
    axum_server::from_tcp_rustls(std_listener, config)?
        .handle(handle)
        .serve(make)
        .await
}

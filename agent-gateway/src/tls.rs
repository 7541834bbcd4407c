//! The gateway listener: TLS with optional client certificates (required
//! later, per route, for `/agent/*`), a handshake timeout (tokio-rustls has
//! none); serving itself is [`crate::listener::serve_with`].

use axum::{http::Extensions, Router};
use rustls::{
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    server::WebPkiClientVerifier,
    RootCertStore, ServerConfig,
};
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The verified client certificate of the connection, if one was sent.
#[derive(Clone, Debug)]
pub struct PeerCertificate(pub Option<CertificateDer<'static>>);

/// The remote address of the connection.
#[derive(Clone, Copy, Debug)]
pub struct RemoteAddr(pub SocketAddr);

#[derive(Debug, thiserror::Error)]
#[error("gateway TLS: {0}")]
pub struct TlsError(String);

/// Server configuration: our certificate chain and key, and the CA that
/// client certificates must chain to. Clients without a certificate are let
/// through the handshake; routes that need one refuse them with 401.
pub fn server_config(chain_pem: &str, key_pem: &str, ca_pem: &str) -> Result<Arc<ServerConfig>, TlsError> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError(format!("certificate chain: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| TlsError(format!("private key: {e}")))?;
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(ca.map_err(|e| TlsError(format!("CA: {e}")))?)
            .map_err(|e| TlsError(format!("CA: {e}")))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .allow_unauthenticated()
    .build()
    .map_err(|e| TlsError(format!("client verifier: {e}")))?;
    let mut config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| TlsError(format!("server certificate: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Session resumption (tickets) keeps reconnecting agents cheap.
    config.ticketer = rustls::crypto::ring::Ticketer::new().map_err(|e| TlsError(e.to_string()))?;
    Ok(Arc::new(config))
}

/// Serves `router` over TLS until `shutdown` resolves, then drains. Each
/// request carries the connection's [`PeerCertificate`] and
/// [`RemoteAddr`].
pub async fn serve(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(config);
    crate::listener::serve_with(listener, router, shutdown, move |stream, remote| {
        let acceptor = acceptor.clone();
        async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, %remote, "TLS handshake refused");
                    return None;
                }
                Err(_) => {
                    tracing::debug!(%remote, "TLS handshake timed out");
                    return None;
                }
            };
            let mut extensions = Extensions::new();
            extensions.insert(PeerCertificate(
                tls.get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .map(|c| c.clone().into_owned()),
            ));
            extensions.insert(RemoteAddr(remote));
            Some((tls, extensions))
        }
    })
    .await;
}

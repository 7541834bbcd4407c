//! The gateway listener: TLS with optional client certificates (required
//! later, per route, for `/agent/*`), a handshake timeout (tokio-rustls has
//! none), and a per-address cap on connections without a certificate;
//! serving itself is [`crate::listener::serve_with_limits`].

use crate::{
    error::json_body,
    listener::{Holding, Limits},
    GatewayErrorCode,
};
use axum::{http::Extensions, Router};
use rustls::{
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    server::WebPkiClientVerifier,
    RootCertStore, ServerConfig,
};
use std::{
    collections::HashMap,
    future::Future,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{server::TlsStream, TlsAcceptor};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// TLS handshakes in progress one address may have, per connection
/// without a certificate it may hold.
const HANDSHAKES_PER_ANONYMOUS: usize = 8;

/// Connections without a client certificate one address may hold, when
/// not configured.
pub const DEFAULT_ANONYMOUS_PER_IP: usize = 32;

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

/// [`serve_limited`] with [`Limits::default`] and
/// [`DEFAULT_ANONYMOUS_PER_IP`].
pub async fn serve(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()>,
) {
    serve_limited(
        listener,
        config,
        router,
        Limits::default(),
        DEFAULT_ANONYMOUS_PER_IP,
        shutdown,
    )
    .await;
}

/// Serves `router` over TLS until `shutdown` resolves, then drains. Each
/// request carries the connection's [`PeerCertificate`] and
/// [`RemoteAddr`].
///
/// Besides the listener's `limits`, one address may hold at most
/// `anonymous_per_ip` connections without a client certificate, and eight
/// times as many TLS handshakes in progress. Connections with a
/// certificate are not counted per address once their handshake is done:
/// a whole fleet behind one NAT presents them.
pub async fn serve_limited(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    router: Router,
    limits: Limits,
    anonymous_per_ip: usize,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(config);
    // Handshakes are counted too, or one address could fill the listener
    // with handshakes it never finishes (each held up to the handshake
    // timeout). A real one takes milliseconds, so even a fleet behind one
    // NAT reconnecting at once has few in progress; the margin is for such
    // bursts.
    let handshaking = PerAddress::new(anonymous_per_ip.saturating_mul(HANDSHAKES_PER_ANONYMOUS));
    let anonymous = PerAddress::new(anonymous_per_ip);
    crate::listener::serve_with_limits(listener, router, limits, shutdown, move |stream, remote| {
        let (acceptor, handshaking, anonymous) = (acceptor.clone(), handshaking.clone(), anonymous.clone());
        async move {
            let Some(handshake) = handshaking.try_take(remote.ip()) else {
                tracing::debug!(%remote, "too many TLS handshakes from this address");
                return None;
            };
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
            drop(handshake);
            let certificate = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .map(|c| c.clone().into_owned());
            let slot = match certificate {
                Some(_) => None,
                None => match anonymous.try_take(remote.ip()) {
                    Some(slot) => Some(slot),
                    None => {
                        tracing::debug!(%remote, "too many connections without a certificate from this address");
                        refuse(tls).await;
                        return None;
                    }
                },
            };
            let mut extensions = Extensions::new();
            extensions.insert(PeerCertificate(certificate));
            extensions.insert(RemoteAddr(remote));
            Some((Holding::new(tls, slot), extensions))
        }
    })
    .await;
}

/// Tells an HTTP/1 client why its connection closes; an HTTP/2 client
/// only sees the close (an answer needs a stream it has not opened yet).
async fn refuse(mut tls: TlsStream<TcpStream>) {
    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
        return;
    }
    let body = json_body(
        GatewayErrorCode::RateLimited,
        "Too many connections without a client certificate from this address",
    );
    let mut answer = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 10\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    let send = async {
        tls.write_all(&answer).await?;
        tls.shutdown().await
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), send).await;
}

/// What one client is counted as: its IPv4 address, or its IPv6 /64 (what
/// one subscriber usually holds, and can rotate addresses within).
pub fn subscriber_block(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::from(u64::MAX)))),
        },
    }
}

/// Connections per client address (per [`subscriber_block`]), up to a
/// maximum.
struct PerAddress {
    max: usize,
    counts: Mutex<HashMap<IpAddr, usize>>,
}

impl PerAddress {
    fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            counts: Mutex::new(HashMap::new()),
        })
    }

    fn try_take(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let key = subscriber_block(ip);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            owner: self.clone(),
            key,
        })
    }
}

/// One connection counted for an address, until dropped.
struct AddressSlot {
    owner: Arc<PerAddress>,
    key: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.owner.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_address_slots_are_capped_and_given_back() {
        let limits = PerAddress::new(2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let (a, b) = (limits.try_take(ip).unwrap(), limits.try_take(ip).unwrap());
        assert!(limits.try_take(ip).is_none());
        assert!(limits.try_take("192.0.2.2".parse().unwrap()).is_some());
        drop(a);
        let c = limits.try_take(ip).unwrap();
        drop((b, c));
        assert!(limits.counts.lock().unwrap().is_empty());
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let limits = PerAddress::new(1);
        let _a = limits.try_take("2001:db8::1".parse().unwrap()).unwrap();
        assert!(limits.try_take("2001:db8::ffff:2".parse().unwrap()).is_none());
        assert!(limits.try_take("2001:db8:0:1::1".parse().unwrap()).is_some());
        let _v4 = limits.try_take("192.0.2.9".parse().unwrap()).unwrap();
        assert!(limits.try_take("::ffff:192.0.2.9".parse().unwrap()).is_none());
    }
}

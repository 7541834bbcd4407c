//! Agent gateway benchmarks, each against a baseline in the same run:
//! - heartbeats/s over warm mTLS connections vs a no-op route served by the
//!   same TLS stack (same certificates, same listener code);
//! - full TLS handshakes/s with a client certificate vs resumed handshakes.
//!
//! Run: cargo bench -p optralis --bench gateway   (BENCH_SECONDS=5)

use optralis::{app::AppState, config::Config, gateway};
use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

mod support;
use support::{EMAIL, PASSWORD};

async fn closed_loop(
    client: reqwest::Client,
    url: String,
    body: Option<String>,
    workers: usize,
    secs: f64,
) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (client, url, body, done) = (client.clone(), url.clone(), body.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < stop {
                    let req = match &body {
                        Some(b) => client
                            .post(&url)
                            .header("content-type", "application/json")
                            .body(b.clone()),
                        None => client.get(&url),
                    };
                    let resp = req.send().await.unwrap();
                    let ok = resp.status().is_success();
                    let _ = resp.bytes().await;
                    if ok {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed)
}

/// Handshakes per second on fresh TCP connections, one at a time per worker.
async fn handshakes(
    config: Arc<rustls::ClientConfig>,
    addr: std::net::SocketAddr,
    workers: usize,
    secs: f64,
) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (config, done) = (config.clone(), done.clone());
            tokio::spawn(async move {
                let connector = tokio_rustls::TlsConnector::from(config);
                while Instant::now() < stop {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                    let name = ServerName::try_from("127.0.0.1").unwrap();
                    let Ok(mut tls) = connector.connect(name, tcp).await else {
                        continue;
                    };
                    // One request, so the client also reads the session
                    // ticket TLS 1.3 sends after the handshake.
                    let _ = tls
                        .write_all(b"GET /noop HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
                        .await;
                    let mut sink = Vec::new();
                    if tls.read_to_end(&mut sink).await.is_ok() || !sink.is_empty() {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed)
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let vars: HashMap<String, String> = [
            ("OPTRALIS_DATA_DIR", dir.path().display().to_string()),
            ("DEFAULT_ADMIN_EMAIL", EMAIL.into()),
            ("DEFAULT_ADMIN_PASSWORD", PASSWORD.into()),
            ("AGENT_RATE_LIMIT_PER_MINUTE", "100000000".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        // Background jobs are not started: they would only add noise to what
    // is measured.
    let (state, _workers) = AppState::build(Config::from_vars(&vars).unwrap()).await.unwrap();
    support::settle_first_admin(&state).await;
        let tls = gateway::tls_config(&state).unwrap();

        // The real gateway, and a no-op route behind the same TLS config
        // and listener code.
        let real = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let real_addr = real.local_addr().unwrap();
        tokio::spawn(agent_gateway::tls::serve(real, tls.clone(), gateway::router(state.clone()), std::future::pending()));
        let noop = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let noop_addr = noop.local_addr().unwrap();
        let noop_router = axum::Router::new().route("/noop", axum::routing::get(|| async { "{}" }));
        tokio::spawn(agent_gateway::tls::serve(noop, tls, noop_router, std::future::pending()));

        // Enrol one machine through the public interface.
        use optralis::domain::auth::{Credential, LoginOutcome};
        let LoginOutcome::Session(session) = state.services.auth.login(EMAIL, PASSWORD, &Default::default()).await.unwrap() else {
            unreachable!("no MFA on the bench account")
        };
        let principal = state
            .services
            .auth
            .authenticate(Credential::Bearer(&session.access_token))
            .await
            .unwrap()
            .unwrap();
        let token = state
            .services
            .install_tokens
            .create(&principal, Some("bench"), Some(60), Some(0), &Default::default())
            .await
            .unwrap();
        let ca_pem = state.services.agents.ca().cert_pem().to_owned();
        let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
        let plain = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca.clone())
            .build()
            .unwrap();
        let enrolled: serde_json::Value = plain
            .post(format!("https://127.0.0.1:{}/api/public/bootstrap", real_addr.port()))
            .json(&json!({ "token": token.secret, "hostname": "bench-01", "hardware_id": "HW-BENCH", "os": "linux", "os_version": "Debian 12", "arch": "amd64" }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (cert_pem, key_pem) = (
            enrolled["certificate"].as_str().unwrap().to_owned(),
            enrolled["private_key"].as_str().unwrap().to_owned(),
        );
        let agent = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .identity(reqwest::Identity::from_pem(format!("{cert_pem}{key_pem}").as_bytes()).unwrap())
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        let beat = json!({ "hostname": "bench-01", "hardware_id": "HW-BENCH", "os": "linux", "os_version": "Debian 12", "ip": "10.0.0.1", "agent_version": "2.1.0" }).to_string();

        let workers = 16;
        let noop_n = closed_loop(agent.clone(), format!("https://127.0.0.1:{}/noop", noop_addr.port()), None, workers, secs).await;
        let beat_n = closed_loop(
            agent,
            format!("https://127.0.0.1:{}/agent/heartbeat", real_addr.port()),
            Some(beat),
            workers,
            secs,
        )
        .await;

        // Handshakes: a client with our certificate, without and with
        // session resumption.
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap()).unwrap();
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes()).map(Result::unwrap).collect();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let make = |resume: bool| {
            let mut c = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots.clone())
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .unwrap();
            c.alpn_protocols = vec![b"http/1.1".to_vec()];
            if !resume {
                c.resumption = rustls::client::Resumption::disabled();
            }
            Arc::new(c)
        };
        let full = handshakes(make(false), noop_addr, 8, secs).await;
        let resumed = handshakes(make(true), noop_addr, 8, secs).await;

        println!("gateway benchmark ({} cores, {secs} s per phase, server and client in one process)", std::thread::available_parallelism().map_or(1, |n| n.get()));
        println!(
            "heartbeats over warm mTLS: {:.0}/s vs no-op route on the same TLS stack: {:.0}/s = {:.0}% (goal >= 50%)",
            beat_n as f64 / secs,
            noop_n as f64 / secs,
            100.0 * beat_n as f64 / noop_n.max(1) as f64
        );
        println!(
            "TLS handshakes with a client certificate: full {:.0}/s, resumed {:.0}/s = {:.1}x (goal >= 3x)",
            full as f64 / secs,
            resumed as f64 / secs,
            resumed as f64 / full.max(1) as f64
        );
    });
}

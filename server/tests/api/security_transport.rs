//! The transport under attack, through the real listeners: slow bodies and
//! silent sockets, connection floods on the agent gateway with and without
//! a client certificate, a flood on each port while the other must keep
//! answering, and malformed or oversized requests, which must all get a
//! JSON `{error, code}` answer on both ports.

use crate::{
    helpers::{heartbeat_body, TestAgent, TestEnv, TestServer},
    process::ServerProcess,
};
use futures::future::join_all;
use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
use serde_json::Value;
use std::{net::SocketAddr, sync::Arc, time::Duration};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
    time::Instant,
};
use tokio_rustls::TlsConnector;

/// Far above every limit the server applies (request timeout, idle and
/// handshake deadlines): reaching it means the server never acted.
const BOUND: Duration = Duration::from_secs(45);

trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}
type Stream = Box<dyn Duplex>;

/// One of the two listeners, spoken to in HTTP/1.1 byte by byte: plain
/// TCP for the main port, TLS without a client certificate for the gateway.
#[derive(Clone)]
enum Port {
    Api(SocketAddr),
    Gateway(SocketAddr, TlsConnector),
}

impl Port {
    fn gateway(addr: SocketAddr, ca_pem: &[u8]) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            roots.add(cert.unwrap()).unwrap();
        }
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self::Gateway(addr, TlsConnector::from(Arc::new(config)))
    }

    fn name(&self) -> &'static str {
        match self {
            Self::Api(_) => "main port",
            Self::Gateway(..) => "gateway",
        }
    }

    /// A POST route reading a JSON body.
    fn json_route(&self) -> &'static str {
        match self {
            Self::Api(_) => "/graphql",
            Self::Gateway(..) => "/api/public/bootstrap",
        }
    }

    /// A connection (the TLS handshake done), or why there is none.
    async fn connect(&self) -> std::io::Result<Stream> {
        match self {
            Self::Api(addr) => Ok(Box::new(TcpStream::connect(addr).await?)),
            Self::Gateway(addr, tls) => {
                let tcp = TcpStream::connect(addr).await?;
                let name = ServerName::try_from("127.0.0.1").unwrap();
                Ok(Box::new(tls.connect(name, tcp).await?))
            }
        }
    }
}

/// An HTTP/1.1 request with `host` and, unless `keep_alive`,
/// `connection: close`.
fn request(method: &str, target: &str, headers: &[(&str, &str)], keep_alive: bool) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !keep_alive {
        out.push_str("connection: close\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    /// Why this is not a JSON error with `code`, if it is not.
    fn json_error(&self, status: u16, code: &str) -> Result<(), String> {
        let body: Value = serde_json::from_slice(&self.body).map_err(|_| {
            format!(
                "{} with a non-JSON body {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })?;
        let typed = self.head.lines().any(|l| {
            l.to_ascii_lowercase()
                .starts_with("content-type: application/json")
        });
        if self.status != status || !typed || body["code"] != code || !body["error"].is_string() {
            return Err(format!("{} {body} (content-type JSON: {typed})", self.status));
        }
        Ok(())
    }
}

/// Parses one complete answer at the start of `buf`.
fn parse_answer(buf: &[u8]) -> Option<Answer> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head.get(9..12)?.parse().ok()?;
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let rest = &buf[end..];
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let line_end = rest[at..].windows(2).position(|w| w == b"\r\n")? + at;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[at..line_end]).ok()?.trim(), 16).ok()?;
            let data = line_end + 2;
            if size == 0 {
                break body;
            }
            body.extend_from_slice(rest.get(data..data + size)?);
            at = data + size + 2;
        }
    } else {
        let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        rest.get(..length)?.to_vec()
    };
    Some(Answer { status, head, body })
}

/// Reads until one answer is complete, the connection closes or `limit`
/// passes: the answer if one came, and whether the connection closed.
async fn read_answer(stream: &mut (impl AsyncRead + Unpin), limit: Duration) -> (Option<Answer>, bool) {
    let deadline = Instant::now() + limit;
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        if let Some(answer) = parse_answer(&buf) {
            return (Some(answer), false);
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return (None, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (parse_answer(&buf), true),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Sends `bytes` (concurrently with reading, so that an early answer to an
/// oversized request is not lost) and reads the answer.
async fn exchange(port: &Port, bytes: Vec<u8>) -> Result<Answer, String> {
    let stream = port.connect().await.map_err(|e| format!("connect: {e}"))?;
    let (mut read, mut write) = tokio::io::split(stream);
    let writer = tokio::spawn(async move {
        let _ = write.write_all(&bytes).await;
        let _ = write.flush().await;
        write
    });
    let (answer, _) = read_answer(&mut read, BOUND).await;
    writer.abort();
    answer.ok_or_else(|| "no answer".to_owned())
}

/// A connection that has sent the headers of a JSON POST announcing 1000
/// bytes of body and sends one more byte every `every`, as the probe did;
/// it ends when the server answers or closes.
async fn slow_body(
    port: Port,
    every: Duration,
) -> std::io::Result<tokio::task::JoinHandle<(Option<Answer>, bool)>> {
    let mut stream = port.connect().await?;
    let head = request(
        "POST",
        port.json_route(),
        &[("content-type", "application/json"), ("content-length", "1000")],
        false,
    );
    stream.write_all(&head).await?;
    stream.write_all(b"{").await?;
    stream.flush().await?;
    let (mut read, mut write) = tokio::io::split(stream);
    Ok(tokio::spawn(async move {
        let trickle = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if write.write_all(b" ").await.is_err() || write.flush().await.is_err() {
                    return;
                }
            }
        });
        let outcome = read_answer(&mut read, BOUND).await;
        trickle.abort();
        outcome
    }))
}

#[tokio::test]
async fn slow_bodies_and_silent_connections_are_cut_on_both_ports() {
    let server = TestServer::spawn_env(TestEnv::new().await.set("REQUEST_TIMEOUT_SECONDS", "2")).await;
    let ca = server.state.services.agents.ca().cert_pem().to_owned();
    let ports = [
        Port::Api(server.addr),
        Port::gateway(server.gateway_addr, ca.as_bytes()),
    ];

    let mut slow = Vec::new();
    let mut silent = Vec::new();
    for port in &ports {
        for _ in 0..3 {
            slow.push((
                port.name(),
                slow_body(port.clone(), Duration::from_secs(1)).await.unwrap(),
            ));
        }
        for _ in 0..2 {
            // Connected (TLS done on the gateway), never a byte sent.
            let mut stream = port.connect().await.unwrap();
            silent.push((
                port.name(),
                tokio::spawn(async move { read_answer(&mut stream, BOUND).await }),
            ));
        }
    }

    let attempts = slow.len() + silent.len();
    let mut held = Vec::new();
    for (name, task) in slow {
        match task.await.unwrap() {
            (Some(answer), _) => {
                if let Err(e) = answer.json_error(408, "REQUEST_TIMEOUT") {
                    held.push(format!("{name}: slow body answered {e}"));
                }
            }
            (None, true) => {}
            (None, false) => held.push(format!("{name}: slow body still open after {BOUND:?}")),
        }
    }
    for (name, task) in silent {
        if let (None, false) = task.await.unwrap() {
            held.push(format!("{name}: silent connection still open after {BOUND:?}"));
        }
    }
    eprintln!(
        "slow bodies and silent sockets: {} of {attempts} held past the limits",
        held.len()
    );
    assert!(
        held.is_empty(),
        "{} of {attempts} attacks held: {held:#?}",
        held.len()
    );
}

/// A cert-less gateway connection that answered one request (so the
/// server admitted it), then holds a bootstrap whose body never comes.
async fn admitted_and_held(port: &Port) -> Option<Stream> {
    let mut stream = port.connect().await.ok()?;
    stream
        .write_all(&request("GET", "/agent/requirements", &[], true))
        .await
        .ok()?;
    match read_answer(&mut stream, BOUND).await {
        (Some(answer), _) if answer.status == 200 => {}
        _ => return None,
    }
    let hold = request(
        "POST",
        "/api/public/bootstrap",
        &[("content-type", "application/json"), ("content-length", "100")],
        false,
    );
    stream.write_all(&hold).await.ok()?;
    stream.flush().await.ok()?;
    Some(stream)
}

/// Whether a fresh cert-less connection gets a 200 from the gateway.
async fn anonymous_request_succeeds(port: &Port) -> bool {
    exchange(port, request("GET", "/agent/requirements", &[], false))
        .await
        .is_ok_and(|a| a.status == 200)
}

#[tokio::test]
async fn connections_without_a_certificate_are_capped_per_address_and_agents_are_not() {
    const PER_IP: usize = 8;
    let env = TestEnv::new()
        .await
        .set("AGENT_ANONYMOUS_CONNECTIONS_PER_IP", &PER_IP.to_string())
        .set("REQUEST_TIMEOUT_SECONDS", "300");
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&env, dir.path()).await;
    let admin = server.admin_token().await;
    let install = server.install_token(&admin, 0).await;
    let agent = TestAgent::enrol(&server, &install, "nat-agent-01", "HW-nat-agent-01").await;
    let gateway = Port::gateway(
        SocketAddr::from(([127, 0, 0, 1], server.agent_port)),
        &std::fs::read(dir.path().join("ca.crt")).unwrap(),
    );

    // Fill the address's allowance; the enrolment's connection may take a
    // moment to be seen closed.
    let mut held = Vec::new();
    for _ in 0..200 {
        if held.len() == PER_IP {
            break;
        }
        match admitted_and_held(&gateway).await {
            Some(stream) => held.push(stream),
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert_eq!(
        held.len(),
        PER_IP,
        "the first {PER_IP} cert-less connections are served"
    );

    let attempts = 10;
    let mut served = 0;
    for _ in 0..attempts {
        match exchange(&gateway, request("GET", "/agent/requirements", &[], false)).await {
            Ok(answer) if answer.status == 200 => served += 1,
            Ok(answer) => answer
                .json_error(429, "RATE_LIMITED")
                .unwrap_or_else(|e| panic!("a refusal, when it has an answer, is JSON: {e}")),
            Err(_) => {}
        }
    }
    eprintln!("past the per-address cap: {served} of {attempts} connections served");
    assert_eq!(
        served, 0,
        "{served} of {attempts} connections past the per-address cap were served"
    );

    let health = reqwest::get(format!("http://127.0.0.1:{}/health", server.port))
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the main port answers meanwhile");
    let beat = agent.post_heartbeat(&heartbeat_body("nat-agent-01")).await;
    assert_eq!(
        beat.status(),
        200,
        "an agent with its certificate is not counted per address"
    );

    // A closed connection gives its place back.
    held.pop();
    let mut freed = false;
    for _ in 0..100 {
        if anonymous_request_succeeds(&gateway).await {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(freed, "a closed cert-less connection frees its place");
}

#[tokio::test]
async fn a_flood_on_either_port_leaves_the_other_answering() {
    // The server gets few descriptors, so that the flood reaches the limit.
    const OPEN_FILES: u64 = 256;
    const FLOOD: usize = 300;
    optralis::serve::raise_open_file_limit();
    let env = TestEnv::new()
        .await
        // Only the listener's cap applies here.
        .set("AGENT_ANONYMOUS_CONNECTIONS_PER_IP", "1000000")
        .set("REQUEST_TIMEOUT_SECONDS", "300");
    let caps = optralis::serve::connection_caps(&env.config(), OPEN_FILES).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start_with(&env, dir.path(), |cmd| {
        // SAFETY: setrlimit is async-signal-safe and touches no memory of
        // the parent.
        unsafe {
            cmd.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: OPEN_FILES,
                    rlim_max: OPEN_FILES,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    })
    .await;
    let gateway = Port::gateway(
        SocketAddr::from(([127, 0, 0, 1], server.agent_port)),
        &std::fs::read(dir.path().join("ca.crt")).unwrap(),
    );
    let http = reqwest::Client::builder().timeout(BOUND).build().unwrap();
    let health = || async {
        http.get(format!("http://127.0.0.1:{}/health", server.port))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    };

    // The gateway: slow bootstraps, each held open as long as the server
    // lets it.
    let flood = join_all((0..FLOOD).map(|_| {
        let gateway = gateway.clone();
        async move {
            let mut stream = tokio::time::timeout(Duration::from_secs(15), gateway.connect())
                .await
                .ok()?
                .ok()?;
            let head = request(
                "POST",
                "/api/public/bootstrap",
                &[("content-type", "application/json"), ("content-length", "1000")],
                false,
            );
            stream.write_all(&head).await.ok()?;
            stream.flush().await.ok()?;
            Some(stream)
        }
    }))
    .await;
    let held: Vec<Stream> = flood.into_iter().flatten().collect();
    eprintln!(
        "gateway flood: {} of {FLOOD} held (cap {}, main port cap {})",
        held.len(),
        caps.agent.max_connections,
        caps.api.max_connections
    );
    assert!(
        health().await,
        "the main port answers while the gateway is full ({} held of {FLOOD})",
        held.len()
    );
    assert!(
        held.len() <= caps.agent.max_connections,
        "{} gateway connections held, cap {}",
        held.len(),
        caps.agent.max_connections
    );
    drop(held);
    let mut back = false;
    for _ in 0..100 {
        if anonymous_request_succeeds(&gateway).await {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "the gateway serves again once the flood is gone");

    // The main port: silent connections.
    let flood = join_all((0..FLOOD).map(|_| async {
        tokio::time::timeout(
            Duration::from_secs(15),
            TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], server.port))),
        )
        .await
        .ok()?
        .ok()
    }))
    .await;
    let opened = flood.iter().flatten().count();
    eprintln!("main port flood: {opened} of {FLOOD} TCP connects (past the cap closed at once)");
    assert!(
        anonymous_request_succeeds(&gateway).await,
        "the gateway answers while the main port is flooded ({opened} connections)"
    );
    drop(flood);
    let mut back = false;
    for _ in 0..100 {
        if health().await {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(back, "the main port serves again once the flood is gone");
}

#[tokio::test]
async fn every_bad_request_gets_a_json_error_on_both_ports() {
    let server = TestServer::spawn().await;
    let ca = server.state.services.agents.ca().cert_pem().to_owned();
    let api = Port::Api(server.addr);
    let gateway = Port::gateway(server.gateway_addr, ca.as_bytes());
    let long_target = |len: usize| format!("/health?q={}", "a".repeat(len));
    let big_header = |len: usize| ("x-big", "a".repeat(len));
    let many_headers = |n: usize| {
        (0..n)
            .map(|i| (format!("x-h{i}"), "1".to_owned()))
            .collect::<Vec<_>>()
    };
    let with = |method: &str, target: &str, headers: &[(String, String)], body: &[u8]| {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let mut bytes = request(method, target, &headers, false);
        bytes.extend_from_slice(body);
        bytes
    };
    let h = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    let too_large = (20 * 1024 * 1024).to_string();

    // (port, what, request bytes, status, code)
    let mut cases: Vec<(&Port, &str, Vec<u8>, u16, &str)> = Vec::new();
    for port in [&api, &gateway] {
        let json_route = port.json_route();
        cases.extend([
            (
                port,
                "unknown route",
                with("GET", "/no/such/route", &[], b""),
                404,
                "NOT_FOUND",
            ),
            (
                port,
                "POST on the CRL",
                with("POST", "/api/public/crl", &[], b""),
                405,
                "METHOD_NOT_ALLOWED",
            ),
            (
                port,
                "declared body over 10 MiB",
                with(
                    "POST",
                    json_route,
                    &h(&[
                        ("content-type", "application/json"),
                        ("content-length", &too_large),
                    ]),
                    b"",
                ),
                413,
                "PAYLOAD_TOO_LARGE",
            ),
            (
                port,
                "16 KiB target",
                with("GET", &long_target(16 * 1024), &[], b""),
                414,
                "URI_TOO_LONG",
            ),
            (
                port,
                "100 KiB target",
                with("GET", &long_target(100 * 1024), &[], b""),
                414,
                "URI_TOO_LONG",
            ),
            (
                port,
                "40 KiB header",
                with(
                    "GET",
                    "/health",
                    &[big_header(40 * 1024)].map(|(n, v)| (n.to_owned(), v)),
                    b"",
                ),
                431,
                "HEADERS_TOO_LARGE",
            ),
            (
                port,
                "300 KiB header",
                with(
                    "GET",
                    "/health",
                    &[big_header(300 * 1024)].map(|(n, v)| (n.to_owned(), v)),
                    b"",
                ),
                431,
                "HEADERS_TOO_LARGE",
            ),
            (
                port,
                "150 headers",
                with("GET", "/health", &many_headers(150), b""),
                431,
                "HEADERS_TOO_LARGE",
            ),
            (
                port,
                "600 headers",
                with("GET", "/health", &many_headers(600), b""),
                431,
                "HEADERS_TOO_LARGE",
            ),
            (
                port,
                "no request line",
                b"GARBAGE\r\n\r\n".to_vec(),
                400,
                "BAD_REQUEST",
            ),
            (
                port,
                "broken JSON",
                with(
                    "POST",
                    json_route,
                    &h(&[("content-type", "application/json"), ("content-length", "1")]),
                    b"{",
                ),
                400,
                "BAD_REQUEST",
            ),
        ]);
    }
    cases.extend([
        (
            &api,
            "DELETE on /health",
            with("DELETE", "/health", &[], b""),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            &api,
            "text/plain GraphQL",
            with(
                "POST",
                "/graphql",
                &h(&[("content-type", "text/plain"), ("content-length", "2")]),
                b"{}",
            ),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            &gateway,
            "GET on bootstrap",
            with("GET", "/api/public/bootstrap", &[], b""),
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            &gateway,
            "brotli bootstrap",
            with(
                "POST",
                "/api/public/bootstrap",
                &h(&[
                    ("content-type", "application/json"),
                    ("content-encoding", "br"),
                    ("content-length", "2"),
                ]),
                b"{}",
            ),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
    ]);

    let attempts = cases.len();
    let mut bare = Vec::new();
    for (port, what, bytes, status, code) in cases {
        let outcome = exchange(port, bytes)
            .await
            .and_then(|answer| answer.json_error(status, code));
        if let Err(e) = outcome {
            bare.push(format!(
                "{} {what}: expected {status} {code}, got {e}",
                port.name()
            ));
        }
    }

    // The same over HTTP/2, which curl (and agents built on it) negotiate
    // on the gateway.
    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.crt");
    std::fs::write(&ca_path, &ca).unwrap();
    let long_query = format!("/agent/requirements?q={}", "a".repeat(16 * 1024));
    let big = format!("x-big: {}", "a".repeat(40 * 1024));
    let h2_cases: [(&str, &str, Option<&str>, u16, &str); 4] = [
        ("GET", "/no/such/route", None, 404, "NOT_FOUND"),
        ("PUT", "/api/public/bootstrap", None, 405, "METHOD_NOT_ALLOWED"),
        ("GET", &long_query, None, 414, "URI_TOO_LONG"),
        ("GET", "/agent/requirements", Some(&big), 431, "HEADERS_TOO_LARGE"),
    ];
    let attempts = attempts + h2_cases.len();
    for (method, target, header, status, code) in h2_cases {
        let body_path = dir.path().join("body");
        let mut curl = tokio::process::Command::new("curl");
        curl.args(["-s", "--http2", "-X", method, "-o"])
            .arg(&body_path)
            .args(["-w", "%{http_code} %{http_version} %{content_type}", "--cacert"])
            .arg(&ca_path)
            .arg(server.gateway_url(target));
        if let Some(header) = header {
            curl.args(["-H", header]);
        }
        let out = curl.output().await.expect("curl is installed");
        let written = String::from_utf8_lossy(&out.stdout).into_owned();
        let body: Value =
            serde_json::from_slice(&std::fs::read(&body_path).unwrap_or_default()).unwrap_or(Value::Null);
        let expected = format!("{status} 2 application/json");
        if written != expected || body["code"] != code {
            bare.push(format!(
                "gateway over HTTP/2 {target:.40}: expected {expected} {code}, got {written} {body}"
            ));
        }
        let _ = std::fs::remove_file(&body_path);
    }
    eprintln!(
        "bad requests: {} of {attempts} without their JSON error",
        bare.len()
    );
    assert!(
        bare.is_empty(),
        "{} of {attempts} bad requests without their JSON error: {bare:#?}",
        bare.len()
    );
}

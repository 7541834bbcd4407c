//! Subscription fan-out: N graphql-transport-ws subscribers of
//! `machineMetrics` (spread over 100 machines) each receiving one update
//! per second, then ten per second; deliveries/s, latency from the agent's
//! POST to the subscriber (an upper bound of commit-to-client), server CPU
//! and memory per idle connection. The same clients and load run against a
//! bare tokio broadcast + axum WebSocket server (this binary re-run as a
//! child) rendering the same frames, for the ratio.
//!
//! Run: cargo bench -p optralis --bench fanout
//!   FANOUT_SUBSCRIBERS=1000,10000  FANOUT_SECONDS=10

use axum::{
    extract::{
        ws::{Message as AxMessage, Utf8Bytes, WebSocket, WebSocketUpgrade},
        Path, State,
    },
    routing::{get, post},
    Json, Router,
};
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};
use tokio::sync::broadcast;
mod support;
use support::{cpu_seconds, free_port, raise_open_files, rss_bytes as rss, wait_healthy, ServerProcess};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, http::HeaderValue, Message};

const MACHINES: usize = 100;
const SHARDS: usize = 32;
/// Same per-connection buffers on both servers: the comparison is of the
/// machinery, not of a setting.
const WS_BUFFER: usize = 4 * 1024;
const METRICS: &str = "subscription($m: ID!) { machineMetrics(machineId: $m) { machineId at cpuPercent ramPercent uptimeSeconds } }";

fn main() {
    raise_open_files();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Ok(port) = std::env::var("FANOUT_BASELINE_PORT") {
        rt.block_on(baseline_server(port.parse().unwrap()));
        return;
    }
    rt.block_on(run());
}

/// What the clients measure, shared by every connection task.
struct Probe {
    /// Send instant (µs since `epoch`) of each sample, by sequence number.
    sent: Vec<AtomicU64>,
    next_seq: AtomicU64,
    delivered: AtomicU64,
    latency: Vec<Mutex<Histogram<u64>>>,
    epoch: Instant,
}

impl Probe {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            sent: (0..4_000_000).map(|_| AtomicU64::new(0)).collect(),
            next_seq: AtomicU64::new(1),
            delivered: AtomicU64::new(0),
            latency: (0..SHARDS)
                .map(|_| Mutex::new(Histogram::new(3).unwrap()))
                .collect(),
            epoch: Instant::now(),
        })
    }

    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn stamp(&self) -> u64 {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        self.sent[seq as usize % self.sent.len()].store(self.now_us(), Ordering::Relaxed);
        seq
    }

    fn received(&self, shard: usize, frame: &str) {
        let Some(seq) = frame.split_once("\"uptimeSeconds\":").and_then(|(_, rest)| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse::<usize>()
                .ok()
        }) else {
            return;
        };
        self.delivered.fetch_add(1, Ordering::Relaxed);
        let sent = self.sent[seq % self.sent.len()].load(Ordering::Relaxed);
        let _ = self.latency[shard % SHARDS]
            .lock()
            .unwrap()
            .record(self.now_us().saturating_sub(sent));
    }

    fn reset_latency(&self) {
        for h in &self.latency {
            h.lock().unwrap().reset();
        }
    }

    fn latency_ms(&self) -> (f64, f64) {
        let mut all = Histogram::<u64>::new(3).unwrap();
        for h in &self.latency {
            all.add(&*h.lock().unwrap()).unwrap();
        }
        (
            all.value_at_quantile(0.5) as f64 / 1000.0,
            all.value_at_quantile(0.99) as f64 / 1000.0,
        )
    }
}

/// A server under test: ours (GraphQL over graphql-transport-ws, samples
/// posted by agents over mutual TLS) or the bare baseline.
enum Target {
    Ours {
        port: u16,
        agent_port: u16,
        token: String,
        agents: Vec<(String, reqwest::Client)>,
        pid: u32,
        _server: ServerProcess,
    },
    Baseline {
        port: u16,
        machines: Vec<String>,
        http: reqwest::Client,
        pid: u32,
        _child: tokio::process::Child,
    },
}

impl Target {
    fn name(&self) -> &'static str {
        match self {
            Self::Ours { .. } => "optralis",
            Self::Baseline { .. } => "baseline",
        }
    }

    fn pid(&self) -> u32 {
        match self {
            Self::Ours { pid, .. } | Self::Baseline { pid, .. } => *pid,
        }
    }

    async fn ours() -> Self {
        let server = ServerProcess::start().await;
        let token = server.admin_token().await;
        let secret = server.install_token(&token).await;
        let mut agents = Vec::new();
        for i in 0..MACHINES {
            agents.push(server.enrol(&secret, &format!("fan-{i:03}")).await);
        }
        Self::Ours {
            port: server.port,
            agent_port: server.agent_port,
            token,
            agents,
            pid: server.pid,
            _server: server,
        }
    }

    async fn baseline() -> Self {
        let port = free_port();
        let child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .env("FANOUT_BASELINE_PORT", port.to_string())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        let http = reqwest::Client::new();
        wait_healthy(&http, port).await;
        let machines = (0..MACHINES).map(|_| uuid::Uuid::new_v4().to_string()).collect();
        Self::Baseline {
            port,
            machines,
            http,
            pid,
            _child: child,
        }
    }

    fn machine(&self, i: usize) -> &str {
        match self {
            Self::Ours { agents, .. } => &agents[i % MACHINES].0,
            Self::Baseline { machines, .. } => &machines[i % MACHINES],
        }
    }

    /// Opens one subscriber of machine `i % 100` and reads until `stop`.
    async fn subscriber(
        &self,
        i: usize,
        probe: Arc<Probe>,
        stop: Arc<AtomicBool>,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let (url, frames) = match self {
            Self::Ours { port, token, .. } => (
                format!("ws://127.0.0.1:{port}/graphql/ws"),
                vec![
                    json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
                    json!({ "id": "m", "type": "subscribe", "payload": { "query": METRICS, "variables": { "m": self.machine(i) } } }),
                ],
            ),
            Self::Baseline { port, .. } => (
                format!("ws://127.0.0.1:{port}/ws"),
                vec![json!({ "machine": i % MACHINES })],
            ),
        };
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.ok()?;
        for frame in frames {
            socket.send(Message::Text(frame.to_string().into())).await.ok()?;
        }
        Some(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(500), socket.next()).await {
                    Ok(Some(Ok(Message::Text(text)))) => probe.received(i, &text),
                    Ok(Some(Ok(_))) | Err(_) => {}
                    Ok(Some(Err(_)) | None) => break,
                }
            }
            let _ = socket.close(None).await;
        }))
    }

    /// Subscriptions the server holds.
    async fn subscriptions(&self) -> i64 {
        match self {
            Self::Ours { port, token, .. } => {
                let body: Value = reqwest::Client::new()
                    .post(format!("http://127.0.0.1:{port}/graphql"))
                    .bearer_auth(token)
                    .json(&json!({ "query": "{ serverStats { liveSubscriptions } }" }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                body["data"]["serverStats"]["liveSubscriptions"]
                    .as_i64()
                    .unwrap_or(0)
            }
            Self::Baseline { port, http, .. } => http
                .get(format!("http://127.0.0.1:{port}/stats"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["subscribers"]
                .as_i64()
                .unwrap_or(0),
        }
    }

    /// One metrics sample of machine `m`, stamped with sequence `seq`.
    async fn publish(&self, m: usize, seq: u64) -> bool {
        let cpu = (seq % 100) as f64;
        let at = chrono::Utc::now();
        match self {
            Self::Ours { agent_port, agents, .. } => agents[m]
                .1
                .post(format!("https://127.0.0.1:{agent_port}/agent/collect"))
                .json(&json!({ "collector": "metrics", "collected_at": at, "data": { "cpu_percent": cpu, "ram_percent": 50.0, "uptime_seconds": seq } }))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
            Self::Baseline { port, machines, http, .. } => http
                .post(format!("http://127.0.0.1:{port}/publish/{m}"))
                .json(&json!({ "machineId": machines[m], "at": at, "cpuPercent": cpu, "ramPercent": 50.0, "uptimeSeconds": seq }))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
        }
    }
}

struct Phase {
    deliveries_per_s: f64,
    expected_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_share: f64,
}

/// Every machine publishes `rate` samples a second for `secs`.
async fn phase(target: &Arc<Target>, probe: &Arc<Probe>, subscribers: usize, rate: f64, secs: u64) -> Phase {
    probe.reset_latency();
    let delivered0 = probe.delivered.load(Ordering::Relaxed);
    let cpu0 = cpu_seconds(target.pid());
    let started = Instant::now();
    let published = Arc::new(AtomicU64::new(0));
    let publishers: Vec<_> = (0..MACHINES)
        .map(|m| {
            let (target, probe, published) = (target.clone(), probe.clone(), published.clone());
            tokio::spawn(async move {
                let every = Duration::from_secs_f64(1.0 / rate);
                let first = tokio::time::Instant::now() + every.mul_f64(m as f64 / MACHINES as f64);
                let mut ticker = tokio::time::interval_at(first, every);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                let end = tokio::time::Instant::now() + Duration::from_secs(secs);
                loop {
                    ticker.tick().await;
                    if tokio::time::Instant::now() >= end {
                        break;
                    }
                    if target.publish(m, probe.stamp()).await {
                        published.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for p in publishers {
        p.await.unwrap();
    }
    // Stragglers still in flight count for this phase.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(target.pid()) - cpu0;
    let delivered = probe.delivered.load(Ordering::Relaxed) - delivered0;
    let (p50_ms, p99_ms) = probe.latency_ms();
    let per_machine = subscribers as f64 / MACHINES as f64;
    Phase {
        deliveries_per_s: delivered as f64 / secs as f64,
        expected_per_s: published.load(Ordering::Relaxed) as f64 * per_machine / secs as f64,
        p50_ms,
        p99_ms,
        cpu_share: cpu / wall / 2.0,
    }
}

struct Run {
    idle_bytes_per_conn: f64,
    paced: Phase,
    busy: Phase,
}

async fn measure(target: Arc<Target>, subscribers: usize, secs: u64) -> Run {
    let probe = Probe::new();
    let stop = Arc::new(AtomicBool::new(false));
    let rss0 = rss(target.pid());
    let opened = Arc::new(tokio::sync::Semaphore::new(256));
    let mut handles = Vec::with_capacity(subscribers);
    let mut connecting = Vec::with_capacity(subscribers);
    for i in 0..subscribers {
        let (target, probe, stop, gate) = (target.clone(), probe.clone(), stop.clone(), opened.clone());
        connecting.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            target.subscriber(i, probe, stop).await
        }));
    }
    for c in connecting {
        if let Some(h) = c.await.unwrap() {
            handles.push(h);
        }
    }
    for _ in 0..600 {
        if target.subscriptions().await >= subscribers as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_bytes_per_conn = (rss(target.pid()) - rss0) / subscribers as f64;
    let paced = phase(&target, &probe, subscribers, 1.0, secs).await;
    let busy = phase(&target, &probe, subscribers, 10.0, secs.min(5)).await;
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.await;
    }
    // Let the server release everything before the next run.
    tokio::time::sleep(Duration::from_secs(2)).await;
    Run {
        idle_bytes_per_conn,
        paced,
        busy,
    }
}

async fn run() {
    let sizes: Vec<usize> = std::env::var("FANOUT_SUBSCRIBERS")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let secs: u64 = std::env::var("FANOUT_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let ours = Arc::new(Target::ours().await);
    let baseline = Arc::new(Target::baseline().await);
    println!("fan-out: {MACHINES} machines, subscribers spread evenly, {secs} s at 1 update/s per subscriber, then 10/s");
    for n in sizes {
        let mut runs = Vec::new();
        for target in [&ours, &baseline] {
            let r = measure(target.clone(), n, secs).await;
            for (label, p) in [("1/s", &r.paced), ("10/s", &r.busy)] {
                println!(
                    "{n:>6} subscribers {:<8} {label:>4}: {:>8.0} deliveries/s ({:.1}% of {:.0} expected), latency p50 {:.1} ms p99 {:.1} ms, server CPU {:.0}% of 2 cores",
                    target.name(),
                    p.deliveries_per_s,
                    100.0 * p.deliveries_per_s / p.expected_per_s.max(1.0),
                    p.expected_per_s,
                    p.p50_ms,
                    p.p99_ms,
                    p.cpu_share * 100.0,
                );
            }
            println!(
                "{n:>6} subscribers {:<8} idle memory: {:.1} KiB per connection",
                target.name(),
                r.idle_bytes_per_conn / 1024.0
            );
            runs.push(r);
        }
        let (o, b) = (&runs[0], &runs[1]);
        println!(
            "{n:>6} subscribers ratio optralis/baseline: deliveries/s {:.2} (1/s) {:.2} (10/s); CPU {:.1}x; memory per idle connection {:.1}x",
            o.paced.deliveries_per_s / b.paced.deliveries_per_s.max(1.0),
            o.busy.deliveries_per_s / b.busy.deliveries_per_s.max(1.0),
            o.busy.cpu_share / b.busy.cpu_share.max(1e-6),
            o.idle_bytes_per_conn / b.idle_bytes_per_conn.max(1.0),
        );
    }
}

// ---- baseline: bare tokio broadcast + axum WebSocket ----

#[derive(Clone)]
struct Channels(Arc<Vec<broadcast::Sender<Utf8Bytes>>>);

async fn baseline_server(port: u16) {
    let channels = Channels(Arc::new(
        (0..MACHINES).map(|_| broadcast::channel(16).0).collect(),
    ));
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/stats", get(|State(c): State<Channels>| async move {
            Json(json!({ "subscribers": c.0.iter().map(|tx| tx.receiver_count()).sum::<usize>() }))
        }))
        .route("/publish/{m}", post(|State(c): State<Channels>, Path(m): Path<usize>, Json(sample): Json<Value>| async move {
            let frame = json!({ "id": "m", "type": "next", "payload": { "data": { "machineMetrics": sample } } }).to_string();
            let _ = c.0[m % MACHINES].send(frame.into());
        }))
        .route("/ws", get(|State(c): State<Channels>, ws: WebSocketUpgrade| async move {
            ws.protocols(["graphql-transport-ws"])
                .read_buffer_size(WS_BUFFER)
                .write_buffer_size(WS_BUFFER)
                .on_upgrade(move |socket| baseline_socket(socket, c))
        }))
        .with_state(channels);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    axum::serve(listener, app).await.unwrap();
}

async fn baseline_socket(mut socket: WebSocket, channels: Channels) {
    let Some(Ok(AxMessage::Text(hello))) = socket.recv().await else {
        return;
    };
    let m = serde_json::from_str::<Value>(&hello)
        .ok()
        .and_then(|v| v["machine"].as_u64())
        .unwrap_or(0) as usize;
    let mut rx = channels.0[m % MACHINES].subscribe();
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Ok(frame) => if socket.send(AxMessage::Text(frame)).await.is_err() { break },
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(AxMessage::Close(_))) | None | Some(Err(_)) => break,
                _ => {}
            },
        }
    }
}

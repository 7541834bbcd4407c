//! What live sockets cost and keep: closing them gives back every
//! subscription, topic, task and byte they held; a Redis restart leaves
//! them open and delivery resumes through Redis once it is back.

use crate::{
    collect::metrics_sample,
    helpers::{fleet, TestAgent, TestEnv, TestServer, WsClient},
    process::ServerProcess,
};
use serde_json::{json, Value};
use std::{process::Stdio, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const METRICS: &str =
    "subscription($m: ID!) { machineMetrics(machineId: $m) { machineId cpuPercent ramPercent } }";
const STATS: &str =
    "{ serverStats { websocketConnections liveSubscriptions liveTopics runtimeTasks residentMemoryBytes } }";

async fn stats(server: &ServerProcess, root: &str) -> Value {
    let body = server.graphql(Some(root), STATS, json!({})).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["serverStats"].clone()
}

/// Polls serverStats until `done` holds (10 s at most).
async fn stats_until(server: &ServerProcess, root: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let s = stats(server, root).await;
        if done(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("serverStats never showed {what}: {}", stats(server, root).await);
}

fn n(v: &Value, field: &str) -> i64 {
    v[field].as_i64().unwrap_or_else(|| panic!("{field} in {v}"))
}

/// The next `next` frame of subscription `id`.
async fn next_of(ws: &mut WsClient, id: &str) -> Value {
    loop {
        let frame = ws.recv().await;
        if frame["id"] == id && frame["type"] == "next" {
            return frame["payload"]["data"].clone();
        }
        assert!(
            frame["close"].is_null() && frame["error"].is_null(),
            "socket ended: {frame}"
        );
    }
}

#[tokio::test]
async fn closing_sockets_frees_their_subscriptions_tasks_and_memory() {
    const SOCKETS: usize = 120;
    // A process of its own: its memory and tasks are the server's alone.
    let env = TestEnv::new().await;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&env, dir.path()).await;
    let root = server.admin_token().await;
    let install = server.install_token(&root, 2).await;
    let mut machines = Vec::new();
    for i in 0..2 {
        let host = format!("churn-{i}");
        machines.push(TestAgent::enrol(&server, &install, &host, &format!("HW-{host}")).await);
    }
    let post = |i: usize, cpu: f64| machines[i].collect(metrics_sample(chrono::Utc::now(), cpu, 20.0));
    let baseline = stats(&server, &root).await;
    assert_eq!(
        (
            n(&baseline, "websocketConnections"),
            n(&baseline, "liveSubscriptions"),
            n(&baseline, "liveTopics")
        ),
        (0, 0, 0),
        "{baseline}"
    );
    let baseline_tasks = n(&baseline, "runtimeTasks");
    let mut memory_after_first_round = 0.0;

    for round in 0..4 {
        let mut sockets = Vec::with_capacity(SOCKETS);
        for i in 0..SOCKETS {
            let mut ws = WsClient::connect(&server.ws_url()).await;
            ws.init_with(&root).await;
            ws.subscribe("m", METRICS, json!({ "m": machines[i % 2].machine_id }))
                .await;
            ws.subscribe(
                "s",
                "subscription { machineStatusChanged { machineId status } }",
                json!({}),
            )
            .await;
            sockets.push(ws);
        }
        let open = stats_until(&server, &root, "every subscription registered", |s| {
            n(s, "liveSubscriptions") == 2 * SOCKETS as i64
        })
        .await;
        assert_eq!(n(&open, "websocketConnections"), SOCKETS as i64, "{open}");
        assert_eq!(
            n(&open, "liveTopics"),
            3,
            "two machines and the tenant's status: {open}"
        );
        // Each socket runs at least one task; the baseline may have held a
        // few transient ones (a job tick, a closing connection).
        assert!(
            n(&open, "runtimeTasks") >= baseline_tasks + SOCKETS as i64 * 9 / 10,
            "{open}"
        );

        // Every socket is live: one sample reaches each watcher of its machine.
        assert_eq!(post(0, 10.0 + round as f64).await.0, 200);
        assert_eq!(post(1, 30.0).await.0, 200);
        for (i, ws) in sockets.iter_mut().enumerate() {
            let data = next_of(ws, "m").await;
            assert_eq!(
                data["machineMetrics"]["machineId"],
                machines[i % 2].machine_id.to_string()
            );
        }

        // Half leave politely, half just drop the connection.
        for (i, mut ws) in sockets.into_iter().enumerate() {
            if i % 2 == 0 {
                ws.send(json!({ "id": "m", "type": "complete" })).await;
                ws.send(json!({ "id": "s", "type": "complete" })).await;
            }
            drop(ws);
        }
        let closed = stats_until(&server, &root, "everything released", |s| {
            n(s, "websocketConnections") == 0
                && n(s, "liveSubscriptions") == 0
                && n(s, "liveTopics") == 0
                && n(s, "runtimeTasks") <= baseline_tasks + 2
        })
        .await;
        let rss = closed["residentMemoryBytes"].as_f64().unwrap_or_default();
        if round == 0 {
            memory_after_first_round = rss;
        } else if rss > 0.0 {
            // The allocator keeps what the first round touched; further
            // rounds reuse it rather than growing with every socket.
            let growth = rss - memory_after_first_round;
            assert!(
                growth < 8.0 * 1024.0 * 1024.0,
                "round {round}: resident memory grew by {:.1} MiB since round 0",
                growth / 1048576.0
            );
        }
    }
}

/// A redis-server of the test's own on a free port, so restarting it
/// disturbs no other test.
struct PrivateRedis {
    child: Option<tokio::process::Child>,
    port: u16,
}

impl PrivateRedis {
    fn binary_available() -> bool {
        std::process::Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts on a port the system says is free; when another process
    /// takes it before redis-server binds it, redis-server exits and this
    /// tries again on a fresh port.
    async fn start_on_free_port() -> Self {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if let Some(redis) = Self::try_start(port).await {
                return redis;
            }
        }
        panic!("redis-server found no free port in 5 attempts");
    }

    /// Starts on `port`, which must be free: panics otherwise.
    async fn start(port: u16) -> Self {
        Self::try_start(port)
            .await
            .unwrap_or_else(|| panic!("redis-server could not bind port {port}"))
    }

    /// None when redis-server exits before answering (its port was taken).
    async fn try_start(port: u16) -> Option<Self> {
        let child = tokio::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        let mut redis = Self {
            child: Some(child),
            port,
        };
        for _ in 0..100 {
            if redis.command(&["PING"]).await.is_some_and(|r| r.contains("PONG")) {
                return Some(redis);
            }
            if let Some(child) = redis.child.as_mut() {
                if child.try_wait().unwrap().is_some() {
                    return None;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server on port {port} did not answer");
    }

    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }

    /// One command in RESP; the raw reply.
    async fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await.ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for a in args {
            request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut reply = vec![0u8; 4096];
        let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut reply))
            .await
            .ok()?
            .ok()?;
        Some(String::from_utf8_lossy(&reply[..read]).into_owned())
    }

    /// The integer ending a reply (`:1` of PUBLISH or PUBSUB NUMSUB).
    async fn integer(&self, args: &[&str]) -> Option<i64> {
        let reply = self.command(args).await?;
        reply
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix(':')?.trim().parse().ok())
    }
}

#[tokio::test]
async fn live_sockets_survive_a_redis_restart_and_delivery_resumes() {
    if !PrivateRedis::binary_available() {
        crate::helpers::skip(
            "live_resources::live_sockets_survive_a_redis_restart_and_delivery_resumes",
            "redis-server is not installed",
        );
        return;
    }
    let mut redis = PrivateRedis::start_on_free_port().await;
    let port = redis.port;
    let env = TestEnv::new()
        .await
        .set("REDIS_URL", &format!("redis://127.0.0.1:{port}"))
        .set("REDIS_KEY_PREFIX", "restart-test:");
    let server = TestServer::spawn_env(env).await;
    let channel = "restart-test:events";
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Outage", 1).await;
    let me = server.graphql_as(&admin, "{ me { clientId } }", json!({})).await;
    let client_id = me["data"]["me"]["clientId"].as_str().unwrap().to_owned();
    let machine = agents[0].machine_id.to_string();

    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&admin).await;
    ws.subscribe("m", METRICS, json!({ "m": machine })).await;
    ws.subscribe("t", "subscription { serverTime(intervalMs: 200) }", json!({}))
        .await;
    next_of(&mut ws, "t").await;
    assert_eq!(redis.integer(&["PUBSUB", "NUMSUB", channel]).await, Some(1));

    // Through Redis: an agent's sample, then an event published by another
    // instance (here: straight into the channel).
    let sample = |cpu: f64| metrics_sample(chrono::Utc::now(), cpu, 50.0);
    assert_eq!(agents[0].collect(sample(11.0)).await.0, 200);
    assert_eq!(next_of(&mut ws, "m").await["machineMetrics"]["cpuPercent"], 11.0);
    let foreign = |cpu: f64| {
        json!({
            "kind": "machine_collect",
            "client_id": client_id,
            "sample": {
                "machine_id": machine, "collector": "metrics", "collected_at": chrono::Utc::now(),
                "figures": { "type": "metrics", "cpu_percent": cpu, "ram_percent": 1.0, "uptime_seconds": 5, "cpu_temp": null }
            }
        })
        .to_string()
    };
    assert_eq!(
        redis.integer(&["PUBLISH", channel, &foreign(22.0)]).await,
        Some(1)
    );
    assert_eq!(next_of(&mut ws, "m").await["machineMetrics"]["cpuPercent"], 22.0);

    // Redis dies: the socket stays open and this instance's own events
    // still reach it; agents are still answered.
    redis.kill().await;
    next_of(&mut ws, "t").await;
    assert_eq!(agents[0].collect(sample(33.0)).await.0, 200);
    assert_eq!(next_of(&mut ws, "m").await["machineMetrics"]["cpuPercent"], 33.0);
    next_of(&mut ws, "t").await;

    // Redis is back on the same port: the bus resubscribes by itself and
    // events from other instances flow to the very same socket again.
    let redis = PrivateRedis::start(port).await;
    let mut resubscribed = false;
    for _ in 0..200 {
        if redis.integer(&["PUBSUB", "NUMSUB", channel]).await == Some(1) {
            resubscribed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(resubscribed, "the bus subscribed again within 20 s");
    assert_eq!(
        redis.integer(&["PUBLISH", channel, &foreign(44.0)]).await,
        Some(1)
    );
    assert_eq!(next_of(&mut ws, "m").await["machineMetrics"]["cpuPercent"], 44.0);
    assert_eq!(agents[0].collect(sample(55.0)).await.0, 200);
    assert_eq!(next_of(&mut ws, "m").await["machineMetrics"]["cpuPercent"], 55.0);
    next_of(&mut ws, "t").await;
    drop(redis);
}

//! A stand-in Docker engine: the Engine API endpoints bollard calls, on a
//! unix socket in a temp dir, answering JSON shaped like a real engine's
//! (recorded from Docker 27), logs in the multiplexed frame format, and
//! container state that start/stop/restart change.

use axum::{
    body::Body,
    extract::State,
    http::{header, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    Router,
};
use serde_json::{json, Value};
use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
};
use tempfile::TempDir;

pub const API_ID: &str = "4f1c2a9e8b7d6c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e";
pub const DB_ID: &str = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b";
/// In the api container's environment: must never reach a client.
pub const ENV_SECRET: &str = "s3cr3t-db-password";

struct Container {
    id: &'static str,
    name: &'static str,
    image: &'static str,
    running: bool,
    started: u32,
    logs: Vec<(u8, &'static str)>,
}

#[derive(Default)]
pub struct Seen {
    /// Query strings of the log requests.
    pub log_queries: Vec<String>,
    pub stats_queries: Vec<String>,
}

#[derive(Clone)]
struct Engine {
    containers: Arc<Mutex<Vec<Container>>>,
    seen: Arc<Mutex<Seen>>,
}

pub struct StandIn {
    pub socket: PathBuf,
    pub seen: Arc<Mutex<Seen>>,
    _dir: TempDir,
}

impl StandIn {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        let engine = Engine {
            containers: Arc::new(Mutex::new(vec![
                Container {
                    id: API_ID,
                    name: "optralis-api",
                    image: "optralis/server:1.4.2",
                    running: true,
                    started: 1,
                    logs: vec![
                        (1, "INFO listening on :3000"),
                        (1, "INFO migrations applied"),
                        (2, "WARN slow query (1200 ms)"),
                        (1, "INFO agent enrolled"),
                        (1, "INFO heartbeat"),
                        (2, "WARN webhook retry"),
                        (1, "INFO alert sent"),
                        (1, "INFO ready"),
                    ],
                },
                Container {
                    id: DB_ID,
                    name: "optralis-db",
                    image: "timescale/timescaledb:2.17.2-pg16",
                    running: false,
                    started: 0,
                    logs: vec![(1, "database system is shut down")],
                },
            ])),
            seen: Arc::new(Mutex::new(Seen::default())),
        };
        let seen = engine.seen.clone();
        let app = Router::new().fallback(handle).with_state(engine);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            socket,
            seen,
            _dir: dir,
        }
    }
}

fn time(n: u32) -> String {
    format!("2026-11-29T1{n}:00:00.123456789Z")
}

fn not_found(id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "message": format!("No such container: {id}") })),
    )
        .into_response()
}

async fn handle(State(engine): State<Engine>, method: Method, uri: Uri) -> Response {
    // Clients may prefix a version (/v1.47/...); the engine serves both.
    let mut path = uri.path();
    if let Some(rest) = path.strip_prefix("/v") {
        if let Some(slash) = rest.find('/') {
            if rest[..slash].chars().all(|c| c.is_ascii_digit() || c == '.') {
                path = &rest[slash..];
            }
        }
    }
    let query = uri.query().unwrap_or_default().to_owned();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (&method, parts.as_slice()) {
        (&Method::GET, ["_ping"]) => "OK".into_response(),
        (&Method::GET, ["version"]) => axum::Json(json!({
            "Platform": { "Name": "Docker Engine - Community" },
            "Version": "27.3.1",
            "ApiVersion": "1.47",
            "MinAPIVersion": "1.24",
            "GitCommit": "41ca978",
            "GoVersion": "go1.22.7",
            "Os": "linux",
            "Arch": "amd64",
            "KernelVersion": "6.8.0-49-generic"
        }))
        .into_response(),
        (&Method::GET, ["containers", "json"]) => {
            let all = query.contains("all=true");
            let list = engine.containers.lock().unwrap();
            let body: Vec<Value> = list.iter().filter(|c| all || c.running).map(summary).collect();
            axum::Json(body).into_response()
        }
        (_, ["containers", id, action]) => {
            let mut list = engine.containers.lock().unwrap();
            let Some(c) = list
                .iter_mut()
                .find(|c| c.id == *id || c.name == *id || (id.len() >= 4 && c.id.starts_with(id)))
            else {
                return not_found(id);
            };
            match (method, *action) {
                (Method::GET, "json") => axum::Json(inspect(c)).into_response(),
                (Method::GET, "logs") => {
                    engine.seen.lock().unwrap().log_queries.push(query.clone());
                    logs(c, &query)
                }
                (Method::GET, "stats") => {
                    engine.seen.lock().unwrap().stats_queries.push(query.clone());
                    if !c.running {
                        // A stopped container reports zeros and no precpu.
                        return axum::Json(json!({ "read": "0001-01-01T00:00:00Z", "cpu_stats": {}, "precpu_stats": {}, "memory_stats": {} })).into_response();
                    }
                    format!("{}\n", stats(c)).into_response()
                }
                (Method::POST, "start") if c.running => StatusCode::NOT_MODIFIED.into_response(),
                (Method::POST, "stop") if !c.running => StatusCode::NOT_MODIFIED.into_response(),
                (Method::POST, "start" | "restart") => {
                    c.running = true;
                    c.started += 1;
                    StatusCode::NO_CONTENT.into_response()
                }
                (Method::POST, "stop") => {
                    c.running = false;
                    StatusCode::NO_CONTENT.into_response()
                }
                _ => StatusCode::NOT_FOUND.into_response(),
            }
        }
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "message": format!("page not found: {path}") })),
        )
            .into_response(),
    }
}

fn summary(c: &Container) -> Value {
    json!({
        "Id": c.id,
        "Names": [format!("/{}", c.name)],
        "Image": c.image,
        "ImageID": "sha256:7d3c3f6b1a0e9c8b5d4a2f1e0c9b8a7d6e5f4c3b2a1f0e9d8c7b6a5f4e3d2c1b",
        "Command": if c.name == "optralis-api" { "/usr/local/bin/optralis serve" } else { "docker-entrypoint.sh postgres" },
        "Created": 1_764_000_000,
        "Ports": if c.running && c.name == "optralis-api" {
            json!([{ "IP": "0.0.0.0", "PrivatePort": 3000, "PublicPort": 3000, "Type": "tcp" }, { "PrivatePort": 8443, "Type": "tcp" }])
        } else { json!([]) },
        "Labels": { "com.docker.compose.project": "optralis", "com.docker.compose.service": c.name.trim_start_matches("optralis-") },
        "State": if c.running { "running" } else { "exited" },
        "Status": if c.running { "Up 2 hours (healthy)" } else { "Exited (0) 3 days ago" },
        "HostConfig": { "NetworkMode": "optralis_default" },
        "NetworkSettings": { "Networks": { "optralis_default": { "IPAddress": "172.18.0.3", "Gateway": "172.18.0.1", "MacAddress": "02:42:ac:12:00:03" } } },
        "Mounts": [{ "Type": "volume", "Name": "optralis-data", "Source": "/var/lib/docker/volumes/optralis-data/_data", "Destination": "/data", "Driver": "local", "Mode": "z", "RW": true, "Propagation": "" }]
    })
}

fn inspect(c: &Container) -> Value {
    json!({
        "Id": c.id,
        "Created": "2026-11-20T08:00:00.123456789Z",
        "Path": if c.name == "optralis-api" { "/usr/local/bin/optralis" } else { "docker-entrypoint.sh" },
        "Args": [if c.name == "optralis-api" { "serve" } else { "postgres" }],
        "State": {
            "Status": if c.running { "running" } else { "exited" },
            "Running": c.running,
            "Paused": false,
            "Restarting": false,
            "OOMKilled": false,
            "Dead": false,
            "Pid": if c.running { 4242 } else { 0 },
            "ExitCode": 0,
            "Error": "",
            "StartedAt": if c.started > 0 { time(c.started) } else { "0001-01-01T00:00:00Z".into() },
            "FinishedAt": if c.running { "0001-01-01T00:00:00Z".to_owned() } else { "2026-11-26T09:30:00Z".to_owned() },
            "Health": { "Status": if c.running { "healthy" } else { "unhealthy" }, "FailingStreak": 0, "Log": [] }
        },
        "Image": "sha256:7d3c3f6b1a0e9c8b5d4a2f1e0c9b8a7d6e5f4c3b2a1f0e9d8c7b6a5f4e3d2c1b",
        "ResolvConfPath": format!("/var/lib/docker/containers/{}/resolv.conf", c.id),
        "Name": format!("/{}", c.name),
        "RestartCount": 2,
        "Driver": "overlay2",
        "Platform": "linux",
        "HostConfig": { "NetworkMode": "optralis_default", "RestartPolicy": { "Name": "unless-stopped", "MaximumRetryCount": 0 } },
        "Mounts": [{ "Type": "volume", "Name": "optralis-data", "Source": "/var/lib/docker/volumes/optralis-data/_data", "Destination": "/data", "Driver": "local", "Mode": "z", "RW": true, "Propagation": "" },
                   { "Type": "bind", "Source": "/etc/optralis/Caddyfile", "Destination": "/etc/caddy/Caddyfile", "Mode": "ro", "RW": false, "Propagation": "rprivate" }],
        "Config": {
            "Hostname": &c.id[..12],
            "Image": c.image,
            "Env": [format!("DATABASE_URL=postgres://monitoring:{ENV_SECRET}@db/monitoring"), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"],
            "Cmd": ["serve"],
            "ExposedPorts": { "3000/tcp": {}, "8443/tcp": {} },
            "Labels": { "com.docker.compose.project": "optralis", "com.docker.compose.service": c.name.trim_start_matches("optralis-") }
        },
        "NetworkSettings": {
            "SandboxID": "c0ffee",
            "Ports": if c.running { json!({ "3000/tcp": [{ "HostIp": "0.0.0.0", "HostPort": "3000" }], "8443/tcp": null }) } else { json!({}) },
            "Networks": { "optralis_default": { "IPAddress": if c.running { "172.18.0.3" } else { "" }, "Gateway": "172.18.0.1", "MacAddress": "02:42:ac:12:00:03", "NetworkID": "5e1f" } }
        }
    })
}

/// Frames as the engine writes them for a container without a TTY: one
/// 8-byte header (stream, 0, 0, 0, big-endian length) per payload.
fn logs(c: &Container, query: &str) -> Response {
    let params: HashMap<&str, &str> = query.split('&').filter_map(|kv| kv.split_once('=')).collect();
    let tail = params
        .get("tail")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(c.logs.len());
    let timestamps = params.get("timestamps") == Some(&"true");
    let mut body = Vec::new();
    let skip = c.logs.len().saturating_sub(tail);
    for (i, (stream, line)) in c.logs.iter().enumerate().skip(skip) {
        if (*stream == 1 && params.get("stdout") != Some(&"true"))
            || (*stream == 2 && params.get("stderr") != Some(&"true"))
        {
            continue;
        }
        let payload = if timestamps {
            format!("2026-11-29T11:5{i}:00.000000001Z {line}\n")
        } else {
            format!("{line}\n")
        };
        body.push(*stream);
        body.extend_from_slice(&[0, 0, 0]);
        body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        body.extend_from_slice(payload.as_bytes());
    }
    Response::builder()
        .header(header::CONTENT_TYPE, "application/vnd.docker.multiplexed-stream")
        .body(Body::from(body))
        .unwrap()
}

fn stats(c: &Container) -> Value {
    let cpu = |total: u64, system: u64| {
        json!({
            "cpu_usage": { "total_usage": total, "usage_in_kernelmode": total / 4, "usage_in_usermode": total / 4 * 3 },
            "system_cpu_usage": system,
            "online_cpus": 4,
            "throttling_data": { "periods": 0, "throttled_periods": 0, "throttled_time": 0 }
        })
    };
    json!({
        "name": format!("/{}", c.name),
        "id": c.id,
        "read": "2026-11-29T12:00:01.500000000Z",
        "preread": "2026-11-29T12:00:00.500000000Z",
        "pids_stats": { "current": 12, "limit": 4915 },
        "blkio_stats": {
            "io_service_bytes_recursive": [
                { "major": 8, "minor": 0, "op": "read", "value": 10_485_760 },
                { "major": 8, "minor": 0, "op": "write", "value": 4_194_304 },
                { "major": 8, "minor": 16, "op": "read", "value": 1_048_576 }
            ],
            "io_serviced_recursive": null, "io_queue_recursive": null, "io_service_time_recursive": null,
            "io_wait_time_recursive": null, "io_merged_recursive": null, "io_time_recursive": null, "sectors_recursive": null
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu(1_400_000_000, 20_000_000_000),
        "precpu_stats": cpu(1_000_000_000, 16_000_000_000),
        "memory_stats": {
            "usage": 314_572_800u64,
            "stats": { "active_anon": 0, "active_file": 20_971_520, "anon": 226_492_416, "file": 67_108_864, "inactive_file": 46_137_344, "pgfault": 123_456 },
            "limit": 1_073_741_824u64
        },
        "networks": {
            "eth0": { "rx_bytes": 5_000, "rx_packets": 50, "rx_errors": 0, "rx_dropped": 0, "tx_bytes": 7_000, "tx_packets": 60, "tx_errors": 0, "tx_dropped": 0 },
            "eth1": { "rx_bytes": 1_000, "rx_packets": 10, "rx_errors": 0, "rx_dropped": 0, "tx_bytes": 500, "tx_packets": 5, "tx_errors": 0, "tx_dropped": 0 }
        }
    })
}

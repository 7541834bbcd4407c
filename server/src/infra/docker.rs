//! The Docker Engine API on its unix socket (bollard), as the domain's
//! [`Engine`]. The client is made at first use and its API version agreed
//! with the engine once; a failed attempt is retried at the next call.

use crate::domain::docker::engine::{
    Action, ContainerDetails, ContainerState, ContainerSummary, CpuSample, Engine, EngineError, LogLine,
    LogStream, Mount, NetworkAttachment, Port, RawStats,
};
use async_trait::async_trait;
use bollard::{
    container::LogOutput,
    errors::Error as BollardError,
    models::{self, ContainerCpuStats},
    query_parameters::{ListContainersOptionsBuilder, LogsOptionsBuilder, StatsOptionsBuilder},
    Docker, API_DEFAULT_VERSION,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use std::collections::HashMap;
use tokio::sync::OnceCell;

/// Seconds bollard waits for one request; `stats` without one-shot takes
/// about two seconds on a real engine.
const REQUEST_TIMEOUT_SECS: u64 = 30;
/// Logs past this many bytes are cut: the tail is capped in lines, and
/// this bounds lines of any length too.
const MAX_LOG_BYTES: usize = 8 * 1024 * 1024;

pub struct DockerEngine {
    socket: String,
    client: OnceCell<Docker>,
}

impl DockerEngine {
    pub fn new(socket: impl Into<String>) -> Self {
        Self {
            socket: socket.into(),
            client: OnceCell::new(),
        }
    }

    async fn client(&self) -> Result<&Docker, EngineError> {
        self.client
            .get_or_try_init(|| async {
                let docker =
                    Docker::connect_with_unix(&self.socket, REQUEST_TIMEOUT_SECS, API_DEFAULT_VERSION)
                        .map_err(classify)?;
                docker.negotiate_version().await.map_err(classify)
            })
            .await
    }
}

fn classify(e: BollardError) -> EngineError {
    match e {
        BollardError::DockerResponseServerError { status_code: 404, .. } => EngineError::NotFound,
        BollardError::DockerResponseServerError {
            status_code: 409,
            message,
        } => EngineError::Conflict(message),
        BollardError::DockerResponseServerError { status_code, message } => {
            EngineError::Failed(format!("HTTP {status_code}: {message}"))
        }
        BollardError::SocketNotFoundError(path) => EngineError::Unreachable(format!("no socket at {path}")),
        e @ (BollardError::IOError { .. }
        | BollardError::HyperLegacyError { .. }
        | BollardError::HyperResponseError { .. }
        | BollardError::RequestTimeoutError) => EngineError::Unreachable(e.to_string()),
        e => EngineError::Failed(format!("unexpected answer: {e}")),
    }
}

#[async_trait]
impl Engine for DockerEngine {
    fn endpoint(&self) -> &str {
        &self.socket
    }

    async fn list(&self) -> Result<Vec<ContainerSummary>, EngineError> {
        let options = ListContainersOptionsBuilder::default().all(true).build();
        let list = self
            .client()
            .await?
            .list_containers(Some(options))
            .await
            .map_err(classify)?;
        Ok(list.into_iter().map(summary).collect())
    }

    async fn inspect(&self, id: &str) -> Result<ContainerDetails, EngineError> {
        let c = self
            .client()
            .await?
            .inspect_container(id, None)
            .await
            .map_err(classify)?;
        Ok(details(c))
    }

    async fn logs(&self, id: &str, tail: u32) -> Result<Vec<LogLine>, EngineError> {
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .timestamps(true)
            .tail(&tail.to_string())
            .build();
        let mut stream = self.client().await?.logs(id, Some(options));
        let (mut lines, mut bytes) = (Vec::new(), 0usize);
        while let Some(item) = stream.next().await {
            let (stream, message) = match item.map_err(classify)? {
                LogOutput::StdErr { message } => (LogStream::Stderr, message),
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    (LogStream::Stdout, message)
                }
                LogOutput::StdIn { .. } => continue,
            };
            bytes += message.len();
            if bytes > MAX_LOG_BYTES {
                break;
            }
            // The engine frames one line each, but a frame may carry more.
            let text = String::from_utf8_lossy(&message);
            for line in text.split_inclusive('\n') {
                lines.push(log_line(stream, line));
            }
        }
        Ok(lines)
    }

    async fn stats(&self, id: &str) -> Result<RawStats, EngineError> {
        // Not one-shot: the engine then fills `precpu_stats`, which the
        // CPU percentage needs (as `docker stats --no-stream` does).
        let options = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(false)
            .build();
        let mut stream = self.client().await?.stats(id, Some(options));
        let sample = stream
            .next()
            .await
            .ok_or_else(|| EngineError::Failed("no stats sample in the answer".into()))?
            .map_err(classify)?;
        Ok(raw_stats(sample))
    }

    async fn act(&self, id: &str, action: Action) -> Result<(), EngineError> {
        let docker = self.client().await?;
        match action {
            Action::Start => docker.start_container(id, None).await,
            Action::Stop => docker.stop_container(id, None).await,
            Action::Restart => docker.restart_container(id, None).await,
        }
        .map_err(classify)
    }
}

/// "2026-11-29T12:00:00.123456789Z message" → timestamp and message.
fn log_line(stream: LogStream, raw: &str) -> LogLine {
    let raw = raw.trim_end_matches(['\n', '\r']);
    let (timestamp, message) = match raw.split_once(' ') {
        Some((ts, rest)) => match DateTime::parse_from_rfc3339(ts) {
            Ok(t) => (Some(t.with_timezone(&Utc)), rest),
            Err(_) => (None, raw),
        },
        None => (None, raw),
    };
    LogLine {
        stream,
        timestamp,
        message: message.to_owned(),
    }
}

/// The engine writes "0001-01-01T00:00:00Z" for "never".
fn when(raw: Option<String>) -> Option<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(raw.as_deref()?).ok()?;
    (t.timestamp() > 0).then(|| t.with_timezone(&Utc))
}

fn sorted(labels: Option<HashMap<String, String>>) -> Vec<(String, String)> {
    let mut labels: Vec<_> = labels.unwrap_or_default().into_iter().collect();
    labels.sort();
    labels
}

fn summary(c: models::ContainerSummary) -> ContainerSummary {
    ContainerSummary {
        id: c.id.unwrap_or_default(),
        names: c
            .names
            .unwrap_or_default()
            .into_iter()
            .map(|n| n.trim_start_matches('/').to_owned())
            .collect(),
        image: c.image.unwrap_or_default(),
        command: c.command,
        created: c.created.and_then(|s| DateTime::from_timestamp(s, 0)),
        state: c.state.map(|s| s.to_string()).unwrap_or_default(),
        status: c.status.unwrap_or_default(),
        ports: c
            .ports
            .unwrap_or_default()
            .into_iter()
            .map(|p| Port {
                ip: p.ip,
                private_port: p.private_port,
                public_port: p.public_port,
                protocol: p.typ.map(|t| t.to_string()),
            })
            .collect(),
        labels: sorted(c.labels),
    }
}

fn details(c: models::ContainerInspectResponse) -> ContainerDetails {
    let config = c.config.unwrap_or_default();
    let state = c.state.unwrap_or_default();
    let network = c.network_settings.unwrap_or_default();
    let mut networks: Vec<NetworkAttachment> = network
        .networks
        .unwrap_or_default()
        .into_iter()
        .map(|(name, n)| NetworkAttachment {
            name,
            ip_address: n.ip_address.filter(|s| !s.is_empty()),
            gateway: n.gateway.filter(|s| !s.is_empty()),
            mac_address: n.mac_address.filter(|s| !s.is_empty()),
        })
        .collect();
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    let mut ports = Vec::new();
    for (spec, bindings) in network.ports.unwrap_or_default() {
        let (port, protocol) = spec.split_once('/').unwrap_or((spec.as_str(), "tcp"));
        let Ok(private_port) = port.parse::<u16>() else {
            continue;
        };
        let bindings = bindings.unwrap_or_default();
        if bindings.is_empty() {
            ports.push(Port {
                ip: None,
                private_port,
                public_port: None,
                protocol: Some(protocol.to_owned()),
            });
        }
        for b in bindings {
            ports.push(Port {
                ip: b.host_ip.filter(|s| !s.is_empty()),
                private_port,
                public_port: b.host_port.and_then(|p| p.parse().ok()),
                protocol: Some(protocol.to_owned()),
            });
        }
    }
    ports.sort_by_key(|p| (p.private_port, p.public_port));
    let mut command: Vec<String> = c.path.into_iter().filter(|p| !p.is_empty()).collect();
    command.extend(c.args.unwrap_or_default());
    ContainerDetails {
        id: c.id.unwrap_or_default(),
        name: c.name.unwrap_or_default().trim_start_matches('/').to_owned(),
        image: config.image.unwrap_or_default(),
        image_id: c.image,
        created: when(c.created),
        hostname: config.hostname,
        command,
        state: ContainerState {
            status: state.status.map(|s| s.to_string()).unwrap_or_default(),
            running: state.running.unwrap_or(false),
            paused: state.paused.unwrap_or(false),
            restarting: state.restarting.unwrap_or(false),
            oom_killed: state.oom_killed.unwrap_or(false),
            dead: state.dead.unwrap_or(false),
            pid: state.pid,
            exit_code: state.exit_code,
            error: state.error.filter(|s| !s.is_empty()),
            started_at: when(state.started_at),
            finished_at: when(state.finished_at),
            health: state.health.and_then(|h| h.status).map(|s| s.to_string()),
        },
        restart_count: c.restart_count.unwrap_or(0),
        restart_policy: c
            .host_config
            .and_then(|h| h.restart_policy)
            .and_then(|p| p.name)
            .map(|n| n.to_string()),
        labels: sorted(config.labels),
        mounts: c
            .mounts
            .unwrap_or_default()
            .into_iter()
            .map(|m| Mount {
                kind: m.typ,
                source: m.source,
                destination: m.destination,
                mode: m.mode,
                read_write: m.rw.unwrap_or(false),
            })
            .collect(),
        networks,
        ports,
    }
}

fn cpu(s: Option<ContainerCpuStats>) -> CpuSample {
    let s = s.unwrap_or_default();
    let usage = s.cpu_usage.unwrap_or_default();
    CpuSample {
        total_usage: usage.total_usage.unwrap_or(0),
        system_usage: s.system_cpu_usage.unwrap_or(0),
        online_cpus: s.online_cpus.unwrap_or(0),
        per_cpu_count: usage.percpu_usage.map_or(0, |v| v.len() as u32),
    }
}

fn raw_stats(s: models::ContainerStatsResponse) -> RawStats {
    let memory = s.memory_stats.unwrap_or_default();
    let inactive = memory.stats.as_ref().and_then(|m| {
        m.get("inactive_file")
            .or_else(|| m.get("total_inactive_file"))
            .copied()
    });
    let (mut rx, mut tx) = (0, 0);
    for n in s.networks.unwrap_or_default().values() {
        rx += n.rx_bytes.unwrap_or(0);
        tx += n.tx_bytes.unwrap_or(0);
    }
    let (mut read, mut write) = (0, 0);
    let entries = s.blkio_stats.and_then(|b| b.io_service_bytes_recursive);
    for e in entries.unwrap_or_default() {
        match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("read") => read += e.value.unwrap_or(0),
            Some("write") => write += e.value.unwrap_or(0),
            _ => {}
        }
    }
    RawStats {
        read_at: when(s.read),
        cpu: cpu(s.cpu_stats),
        precpu: cpu(s.precpu_stats),
        memory_usage: memory.usage.unwrap_or(0),
        memory_limit: memory.limit.unwrap_or(0),
        memory_inactive_file: inactive,
        network_rx_bytes: rx,
        network_tx_bytes: tx,
        block_read_bytes: read,
        block_write_bytes: write,
        pids: s.pids_stats.and_then(|p| p.current),
    }
}

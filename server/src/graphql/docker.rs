//! The super_admin's Docker panel: the host's containers, their logs and
//! usage, and start/stop/restart.

use super::{error::Result, ContextExt};
use crate::domain::{
    auth::Role,
    docker::{
        engine::{self, Action},
        stats::ContainerStats,
    },
};
use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};

#[derive(SimpleObject)]
pub struct DockerPort {
    ip: Option<String>,
    private_port: i32,
    public_port: Option<i32>,
    /// tcp, udp or sctp.
    protocol: Option<String>,
}

impl From<engine::Port> for DockerPort {
    fn from(p: engine::Port) -> Self {
        Self {
            ip: p.ip,
            private_port: p.private_port.into(),
            public_port: p.public_port.map(Into::into),
            protocol: p.protocol,
        }
    }
}

#[derive(SimpleObject)]
pub struct DockerLabel {
    name: String,
    value: String,
}

fn labels(l: Vec<(String, String)>) -> Vec<DockerLabel> {
    l.into_iter()
        .map(|(name, value)| DockerLabel { name, value })
        .collect()
}

#[derive(SimpleObject)]
pub struct DockerContainer {
    id: String,
    names: Vec<String>,
    image: String,
    command: Option<String>,
    created: Option<DateTime<Utc>>,
    /// created, running, paused, restarting, exited, removing or dead.
    state: String,
    /// The engine's summary ("Up 3 hours", "Exited (0) 2 days ago").
    status: String,
    ports: Vec<DockerPort>,
    labels: Vec<DockerLabel>,
}

impl From<engine::ContainerSummary> for DockerContainer {
    fn from(c: engine::ContainerSummary) -> Self {
        Self {
            id: c.id,
            names: c.names,
            image: c.image,
            command: c.command,
            created: c.created,
            state: c.state,
            status: c.status,
            ports: c.ports.into_iter().map(Into::into).collect(),
            labels: labels(c.labels),
        }
    }
}

#[derive(SimpleObject)]
pub struct DockerContainerState {
    status: String,
    running: bool,
    paused: bool,
    restarting: bool,
    oom_killed: bool,
    dead: bool,
    pid: Option<i64>,
    exit_code: Option<i64>,
    error: Option<String>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    /// healthy, unhealthy or starting; null without a health check.
    health: Option<String>,
}

#[derive(SimpleObject)]
pub struct DockerMount {
    /// bind, volume, tmpfs…
    kind: Option<String>,
    source: Option<String>,
    destination: Option<String>,
    mode: Option<String>,
    read_write: bool,
}

#[derive(SimpleObject)]
pub struct DockerNetwork {
    name: String,
    ip_address: Option<String>,
    gateway: Option<String>,
    mac_address: Option<String>,
}

/// One container in detail (its environment is not shown: it often holds
/// secrets).
#[derive(SimpleObject)]
pub struct DockerContainerDetails {
    id: String,
    name: String,
    image: String,
    image_id: Option<String>,
    created: Option<DateTime<Utc>>,
    hostname: Option<String>,
    command: Vec<String>,
    state: DockerContainerState,
    restart_count: i64,
    /// no, always, unless-stopped or on-failure.
    restart_policy: Option<String>,
    labels: Vec<DockerLabel>,
    mounts: Vec<DockerMount>,
    networks: Vec<DockerNetwork>,
    ports: Vec<DockerPort>,
}

impl From<engine::ContainerDetails> for DockerContainerDetails {
    fn from(c: engine::ContainerDetails) -> Self {
        let s = c.state;
        Self {
            id: c.id,
            name: c.name,
            image: c.image,
            image_id: c.image_id,
            created: c.created,
            hostname: c.hostname,
            command: c.command,
            state: DockerContainerState {
                status: s.status,
                running: s.running,
                paused: s.paused,
                restarting: s.restarting,
                oom_killed: s.oom_killed,
                dead: s.dead,
                pid: s.pid,
                exit_code: s.exit_code,
                error: s.error,
                started_at: s.started_at,
                finished_at: s.finished_at,
                health: s.health,
            },
            restart_count: c.restart_count,
            restart_policy: c.restart_policy,
            labels: labels(c.labels),
            mounts: c
                .mounts
                .into_iter()
                .map(|m| DockerMount {
                    kind: m.kind,
                    source: m.source,
                    destination: m.destination,
                    mode: m.mode,
                    read_write: m.read_write,
                })
                .collect(),
            networks: c
                .networks
                .into_iter()
                .map(|n| DockerNetwork {
                    name: n.name,
                    ip_address: n.ip_address,
                    gateway: n.gateway,
                    mac_address: n.mac_address,
                })
                .collect(),
            ports: c.ports.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum DockerLogStream {
    Stdout,
    Stderr,
}

#[derive(SimpleObject)]
pub struct DockerLogLine {
    stream: DockerLogStream,
    timestamp: Option<DateTime<Utc>>,
    message: String,
}

/// One sample, figured as `docker stats` does. Byte counts are Floats:
/// they outgrow a GraphQL Int.
#[derive(SimpleObject)]
pub struct DockerContainerStats {
    read_at: Option<DateTime<Utc>>,
    /// Percent of one CPU (400 = four CPUs busy).
    cpu_percent: f64,
    online_cpus: i32,
    /// Usage less reclaimable page cache.
    memory_usage_bytes: f64,
    memory_limit_bytes: f64,
    memory_percent: f64,
    network_rx_bytes: f64,
    network_tx_bytes: f64,
    block_read_bytes: f64,
    block_write_bytes: f64,
    pids: Option<f64>,
}

impl From<ContainerStats> for DockerContainerStats {
    fn from(s: ContainerStats) -> Self {
        Self {
            read_at: s.read_at,
            cpu_percent: s.cpu_percent,
            online_cpus: s.online_cpus as i32,
            memory_usage_bytes: s.memory_usage_bytes as f64,
            memory_limit_bytes: s.memory_limit_bytes as f64,
            memory_percent: s.memory_percent,
            network_rx_bytes: s.network_rx_bytes as f64,
            network_tx_bytes: s.network_tx_bytes as f64,
            block_read_bytes: s.block_read_bytes as f64,
            block_write_bytes: s.block_write_bytes as f64,
            pids: s.pids.map(|p| p as f64),
        }
    }
}

#[derive(Default)]
pub struct DockerQuery;

/// Every field: super_admin only; SERVICE_UNAVAILABLE when the engine
/// cannot be reached, NOT_FOUND for an unknown container.
#[Object]
impl DockerQuery {
    /// Every container of the host, running or not.
    async fn docker_containers(&self, ctx: &Context<'_>) -> Result<Vec<DockerContainer>> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let list = ctx.services().docker.list().await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// One container by id (full or short) or name.
    async fn docker_container(&self, ctx: &Context<'_>, id: String) -> Result<DockerContainerDetails> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        Ok(ctx.services().docker.inspect(&id).await?.into())
    }

    /// The last `tail` lines of stdout and stderr (at most 5000; null
    /// means the default), oldest first.
    async fn docker_container_logs(
        &self,
        ctx: &Context<'_>,
        id: String,
        #[graphql(default = 100)] tail: Option<i32>,
    ) -> Result<Vec<DockerLogLine>> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let lines = ctx.services().docker.logs(&id, tail).await?;
        Ok(lines
            .into_iter()
            .map(|l| DockerLogLine {
                stream: match l.stream {
                    engine::LogStream::Stdout => DockerLogStream::Stdout,
                    engine::LogStream::Stderr => DockerLogStream::Stderr,
                },
                timestamp: l.timestamp,
                message: l.message,
            })
            .collect())
    }

    /// CPU, memory, network and block I/O of a running container.
    async fn docker_container_stats(&self, ctx: &Context<'_>, id: String) -> Result<DockerContainerStats> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        Ok(ctx.services().docker.stats(&id).await?.into())
    }
}

#[derive(Default)]
pub struct DockerMutation;

async fn act(ctx: &Context<'_>, id: &str, action: Action) -> Result<DockerContainerDetails> {
    let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
    let after = ctx
        .services()
        .docker
        .act(principal, id, action, ctx.meta())
        .await?;
    Ok(after.into())
}

/// Each answers the container as it is after the action, and is written
/// to the activity log.
#[Object]
impl DockerMutation {
    async fn start_docker_container(&self, ctx: &Context<'_>, id: String) -> Result<DockerContainerDetails> {
        act(ctx, &id, Action::Start).await
    }

    async fn stop_docker_container(&self, ctx: &Context<'_>, id: String) -> Result<DockerContainerDetails> {
        act(ctx, &id, Action::Stop).await
    }

    async fn restart_docker_container(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> Result<DockerContainerDetails> {
        act(ctx, &id, Action::Restart).await
    }
}

//! What the Docker panel needs from a container engine, in plain types:
//! the infra adapter speaks the Engine API, the domain never sees it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub ip: Option<String>,
    pub private_port: u16,
    pub public_port: Option<u16>,
    pub protocol: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ContainerSummary {
    pub id: String,
    /// Without the leading '/' the engine puts there.
    pub names: Vec<String>,
    pub image: String,
    pub command: Option<String>,
    pub created: Option<DateTime<Utc>>,
    /// created, running, paused, restarting, exited, removing, dead.
    pub state: String,
    /// The engine's human summary ("Up 3 hours", "Exited (0) 2 days ago").
    pub status: String,
    pub ports: Vec<Port>,
    pub labels: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default)]
pub struct ContainerState {
    pub status: String,
    pub running: bool,
    pub paused: bool,
    pub restarting: bool,
    pub oom_killed: bool,
    pub dead: bool,
    pub pid: Option<i64>,
    pub exit_code: Option<i64>,
    pub error: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// healthy, unhealthy, starting; `None` without a health check.
    pub health: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Mount {
    pub kind: Option<String>,
    pub source: Option<String>,
    pub destination: Option<String>,
    pub mode: Option<String>,
    pub read_write: bool,
}

#[derive(Clone, Debug)]
pub struct NetworkAttachment {
    pub name: String,
    pub ip_address: Option<String>,
    pub gateway: Option<String>,
    pub mac_address: Option<String>,
}

/// One container in detail. The environment is left out on purpose: it
/// commonly holds passwords and keys, and the panel has no need of them.
#[derive(Clone, Debug)]
pub struct ContainerDetails {
    pub id: String,
    pub name: String,
    pub image: String,
    pub image_id: Option<String>,
    pub created: Option<DateTime<Utc>>,
    pub hostname: Option<String>,
    pub command: Vec<String>,
    pub state: ContainerState,
    pub restart_count: i64,
    pub restart_policy: Option<String>,
    pub labels: Vec<(String, String)>,
    pub mounts: Vec<Mount>,
    pub networks: Vec<NetworkAttachment>,
    pub ports: Vec<Port>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

#[derive(Clone, Debug)]
pub struct LogLine {
    pub stream: LogStream,
    pub timestamp: Option<DateTime<Utc>>,
    pub message: String,
}

/// CPU counters of one sample (nanoseconds).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuSample {
    pub total_usage: u64,
    pub system_usage: u64,
    pub online_cpus: u32,
    /// Per-CPU counters reported (cgroup v1), when `online_cpus` is not.
    pub per_cpu_count: u32,
}

/// A stats sample with the sample before it, as the engine reports it.
#[derive(Clone, Debug, Default)]
pub struct RawStats {
    pub read_at: Option<DateTime<Utc>>,
    pub cpu: CpuSample,
    pub precpu: CpuSample,
    pub memory_usage: u64,
    pub memory_limit: u64,
    /// Page cache the engine counts in `memory_usage` but the kernel can
    /// reclaim (cgroup v2 `inactive_file`, v1 `total_inactive_file`).
    pub memory_inactive_file: Option<u64>,
    pub network_rx_bytes: u64,
    pub network_tx_bytes: u64,
    pub block_read_bytes: u64,
    pub block_write_bytes: u64,
    pub pids: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Restart,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No engine answered (no socket, refused, timed out).
    #[error("unreachable: {0}")]
    Unreachable(String),
    #[error("no such container")]
    NotFound,
    /// The engine refused the operation in this state (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// Any other failure the engine reported, or an answer we could not
    /// read.
    #[error("{0}")]
    Failed(String),
}

#[async_trait]
pub trait Engine: Send + Sync {
    /// Where the engine is reached, for messages.
    fn endpoint(&self) -> &str;
    /// Every container, running or not.
    async fn list(&self) -> Result<Vec<ContainerSummary>, EngineError>;
    async fn inspect(&self, id: &str) -> Result<ContainerDetails, EngineError>;
    /// The last `tail` lines of stdout and stderr, oldest first.
    async fn logs(&self, id: &str, tail: u32) -> Result<Vec<LogLine>, EngineError>;
    /// One sample, with the engine's previous one for rates.
    async fn stats(&self, id: &str) -> Result<RawStats, EngineError>;
    async fn act(&self, id: &str, action: Action) -> Result<(), EngineError>;
}

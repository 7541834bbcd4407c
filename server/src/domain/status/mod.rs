//! What the server is and how healthy it is: version, backends, database
//! reachability.

pub mod external;
pub mod incidents;
pub mod report;
pub mod uptime;

/// Shared-cache keys of the status page; nothing else writes them.
pub mod keys {
    /// The whole `GET /status` report, JSON.
    pub const REPORT: &str = "status:report";
    /// The public incident list, JSON.
    pub const INCIDENTS: &str = "status:incidents";
}

pub use crate::infra::{db::Backend, CacheBackend};

use crate::{domain::DomainError, infra::Infra};
use chrono::{DateTime, Utc};
use migration::{Migrator, MigratorTrait};
use std::time::Duration;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Clone, Debug)]
pub struct ServerInfo {
    pub version: &'static str,
    pub database_backend: Backend,
    pub cache_backend: CacheBackend,
    pub timescaledb: bool,
    /// Name of the newest applied migration.
    pub schema_version: String,
    pub started_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub enum DatabaseHealth {
    Up { latency: Duration },
    Down,
}

/// Live resources this instance holds right now.
#[derive(Clone, Copy, Debug)]
pub struct ServerStats {
    pub websocket_connections: usize,
    pub live_subscriptions: usize,
    pub live_topics: usize,
    /// Tasks alive on the async runtime.
    pub runtime_tasks: usize,
    /// Resident memory of the process (Linux only).
    pub resident_memory_bytes: Option<u64>,
}

#[derive(Clone)]
pub struct StatusService {
    infra: Infra,
    timescaledb: bool,
    started_at: DateTime<Utc>,
}

impl StatusService {
    pub fn new(infra: Infra, timescaledb: bool) -> Self {
        Self {
            infra,
            timescaledb,
            started_at: Utc::now(),
        }
    }

    pub async fn server_info(&self) -> Result<ServerInfo, DomainError> {
        let applied = Migrator::get_applied_migrations(&self.infra.db.conn).await?;
        let schema_version = applied.last().map(|m| m.name().to_owned()).unwrap_or_default();
        Ok(ServerInfo {
            version: VERSION,
            database_backend: self.infra.db.backend,
            cache_backend: self.infra.cache_backend,
            timescaledb: self.timescaledb,
            schema_version,
            started_at: self.started_at,
        })
    }

    pub async fn database_health(&self) -> DatabaseHealth {
        match self.infra.db.ping().await {
            Ok(latency) => DatabaseHealth::Up { latency },
            Err(e) => {
                tracing::warn!(error = %e, "database ping failed");
                DatabaseHealth::Down
            }
        }
    }

    pub fn server_stats(&self) -> ServerStats {
        let live = self.infra.fanout.stats();
        ServerStats {
            websocket_connections: live.sockets,
            live_subscriptions: live.subscriptions,
            live_topics: live.topics,
            runtime_tasks: tokio::runtime::Handle::try_current()
                .map_or(0, |runtime| runtime.metrics().num_alive_tasks()),
            resident_memory_bytes: resident_memory(),
        }
    }

    pub fn timescaledb(&self) -> bool {
        self.timescaledb
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }
}

/// VmRSS from /proc, in bytes.
fn resident_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

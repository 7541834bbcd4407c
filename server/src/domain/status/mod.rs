//! What the server is and how healthy it is: version, backends, database
//! reachability.

use crate::{
    domain::DomainError,
    infra::{db::Backend, CacheBackend, Infra},
};
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

    pub fn timescaledb(&self) -> bool {
        self.timescaledb
    }

    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }
}

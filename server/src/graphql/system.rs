//! serverInfo and the serverTime tick: the smallest end-to-end proof of
//! both transports.

use super::{
    error::{ApiError, Result},
    ContextExt,
};
use crate::domain::{
    auth::Role,
    status::{Backend, CacheBackend},
};
use async_graphql::{Context, Enum, Object, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use futures::Stream;
use std::time::Duration;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseBackend {
    Sqlite,
    Postgres,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "CacheBackend")]
pub enum CacheBackendKind {
    InProcess,
    Redis,
}

/// What this server instance runs on.
#[derive(SimpleObject)]
pub struct ServerInfo {
    /// Server version (semver).
    version: String,
    database_backend: DatabaseBackend,
    cache_backend: CacheBackendKind,
    /// True when PostgreSQL has TimescaleDB (hypertables, compression).
    timescaledb: bool,
    /// Newest applied database migration.
    schema_version: String,
    started_at: DateTime<Utc>,
}

/// Live resources this instance holds right now: operators watch these
/// to size instances and to spot leaks.
#[derive(SimpleObject)]
pub struct ServerStats {
    /// Open GraphQL WebSockets.
    websocket_connections: i32,
    /// Live subscriptions fed by the event fan-out.
    live_subscriptions: i32,
    /// Distinct topics (tenant-wide or one machine) being watched.
    live_topics: i32,
    /// Tasks alive on the async runtime.
    runtime_tasks: i32,
    /// Resident memory of the process (Linux; null elsewhere).
    resident_memory_bytes: Option<f64>,
}

#[derive(Default)]
pub struct SystemQuery;

#[Object]
impl SystemQuery {
    /// Version and backends of the server answering. Public.
    async fn server_info(&self, ctx: &Context<'_>) -> Result<ServerInfo> {
        let info = ctx.services().status.server_info().await?;
        Ok(ServerInfo {
            version: info.version.to_owned(),
            database_backend: match info.database_backend {
                Backend::Sqlite => DatabaseBackend::Sqlite,
                Backend::Postgres => DatabaseBackend::Postgres,
            },
            cache_backend: match info.cache_backend {
                CacheBackend::InProcess => CacheBackendKind::InProcess,
                CacheBackend::Redis => CacheBackendKind::Redis,
            },
            timescaledb: info.timescaledb,
            schema_version: info.schema_version,
            started_at: info.started_at,
        })
    }

    /// This instance's live resources. super_admin only.
    async fn server_stats(&self, ctx: &Context<'_>) -> Result<ServerStats> {
        ctx.caller_with_role(Role::SuperAdmin)?;
        let stats = ctx.services().status.server_stats();
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(ServerStats {
            websocket_connections: count(stats.websocket_connections),
            live_subscriptions: count(stats.live_subscriptions),
            live_topics: count(stats.live_topics),
            runtime_tasks: count(stats.runtime_tasks),
            resident_memory_bytes: stats.resident_memory_bytes.map(|b| b as f64),
        })
    }
}

const MIN_TICK_MS: i32 = 100;
const MAX_TICK_MS: i32 = 60_000;

#[derive(Default)]
pub struct SystemSubscription;

#[Subscription]
impl SystemSubscription {
    /// The server's clock, every `intervalMs` milliseconds (100-60000).
    async fn server_time(
        &self,
        #[graphql(default = 1000)] interval_ms: i32,
    ) -> Result<impl Stream<Item = DateTime<Utc>>> {
        if !(MIN_TICK_MS..=MAX_TICK_MS).contains(&interval_ms) {
            return Err(ApiError::bad_input(
                "intervalMs",
                format!("must be between {MIN_TICK_MS} and {MAX_TICK_MS}"),
            ));
        }
        let mut ticker = tokio::time::interval(Duration::from_millis(interval_ms as u64));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        Ok(async_stream_ticks(ticker))
    }
}

fn async_stream_ticks(ticker: tokio::time::Interval) -> impl Stream<Item = DateTime<Utc>> {
    futures::stream::unfold(ticker, |mut ticker| async move {
        ticker.tick().await;
        Some((Utc::now(), ticker))
    })
}

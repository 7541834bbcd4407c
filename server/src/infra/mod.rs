//! Adapters to the outside: database pool, cache and event bus (Redis or
//! in-process), secrets kept in the data dir, webhook delivery.

pub mod anthropic;
pub mod bus;
pub mod cache;
pub mod clock;
pub mod db;
pub mod db_failure;
pub mod docker;
pub mod endoflife;
pub mod fanout;
pub mod group_commit;
pub mod mailer;
pub mod metrics;
mod redis;
pub mod secrets;
pub mod turnstile;
pub mod uptimerobot;
pub mod webhook;

use crate::{
    config::Config,
    domain::live::{Bus, LiveFanout},
};
use std::sync::Arc;

/// Which cache/bus implementation serves this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheBackend {
    InProcess,
    Redis,
}

impl CacheBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProcess => "in_process",
            Self::Redis => "redis",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("redis: {0}")]
    Redis(#[from] fred::error::Error),
    #[error("data dir {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
}

/// Everything a domain service may reach.
#[derive(Clone)]
pub struct Infra {
    pub db: db::Database,
    pub cache: Arc<dyn cache::Cache>,
    /// Session state (who is still signed in). In-process, a cache of its
    /// own so that anonymous traffic filling `cache` (rate-limit counters
    /// per address) never evicts it; with Redis, the shared one.
    pub sessions_cache: Arc<dyn cache::Cache>,
    pub bus: Arc<Bus>,
    /// Routes bus events to live subscriptions by tenant and machine.
    pub fanout: LiveFanout,
    pub cache_backend: CacheBackend,
    /// Where every time rule reads "now" (the wall clock in production).
    pub clock: Arc<dyn clock::Clock>,
}

impl Infra {
    /// Connects to the database and, when configured, Redis. Redis being
    /// unreachable at start is not fatal: clients reconnect in the background
    /// and callers fall back to local state meanwhile.
    pub async fn connect(config: &Config) -> Result<Self, InfraError> {
        let db = db::Database::connect(config).await?;
        type Caches = (Arc<dyn cache::Cache>, Arc<dyn cache::Cache>);
        let ((cache, sessions_cache), bus, cache_backend): (Caches, Arc<Bus>, _) = match &config.redis_url {
            None => (
                (
                    Arc::new(cache::MemoryCache::new()),
                    Arc::new(cache::MemoryCache::new()),
                ),
                Arc::new(bus::LocalBus::new()),
                CacheBackend::InProcess,
            ),
            Some(url) => {
                let conn = redis::RedisConnection::connect(url, &config.redis_prefix).await?;
                let shared: Arc<dyn cache::Cache> = Arc::new(cache::RedisCache::new(conn.clone()));
                (
                    (shared.clone(), shared),
                    Arc::new(bus::RedisBus::start(conn).await?),
                    CacheBackend::Redis,
                )
            }
        };
        let fanout = LiveFanout::start(bus.as_ref());
        Ok(Self {
            db,
            cache,
            sessions_cache,
            bus,
            fanout,
            cache_backend,
            clock: clock::SystemClock::shared(),
        })
    }
}

/// An HTTP client for a third-party API we call on our own behalf
/// (Anthropic, Turnstile, UptimeRobot): bounded connect and total times,
/// and no redirects, so a compromised or misconfigured endpoint cannot
/// bounce our credentials elsewhere.
pub fn api_client(connect: std::time::Duration, total: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(total)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client with timeouts builds")
}

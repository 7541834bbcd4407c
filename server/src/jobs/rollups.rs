//! The rollup job: a full refresh at start, then the recent hours every 5
//! minutes on one instance (plain tables only; TimescaleDB keeps its
//! continuous aggregates itself).

use super::exclusive::{keys, run_once};
use crate::{
    domain::fleet::rollups::{refresh, START_WINDOW, TICK_WINDOW},
    infra::metrics::{self, Job},
    services::Services,
};
use chrono::{Duration, Utc};
use tokio_util::sync::CancellationToken;

const EVERY: std::time::Duration = std::time::Duration::from_secs(300);

pub async fn run(services: Services, stop: CancellationToken) {
    let (db, timescaledb) = (&services.infra.db, services.status.timescaledb());
    let now = Utc::now();
    let initial = tokio::select! {
        () = stop.cancelled() => return,
        initial = metrics::job(Job::Rollups, run_once(db, keys::ROLLUPS, || refresh(db, timescaledb, now - START_WINDOW, now))) => initial,
    };
    match initial {
        Ok(true) => tracing::info!(timescaledb, "hourly rollups refreshed over 31 days"),
        Ok(false) => {}
        Err(e) => crate::domain::DomainError::from(e).log("initial rollup refresh"),
    }
    if timescaledb {
        return;
    }
    let mut ticker = tokio::time::interval(EVERY);
    ticker.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = tick(&services).await {
            crate::domain::DomainError::from(e).log("rollup refresh");
        }
    }
}

/// Refreshes the recent hours' rollups, unless another instance is doing
/// it (false).
pub async fn tick(services: &Services) -> Result<bool, sea_orm::DbErr> {
    let (db, timescaledb) = (&services.infra.db, services.status.timescaledb());
    let now = Utc::now();
    let refreshed = run_once(db, keys::ROLLUPS, || {
        refresh(db, timescaledb, now - TICK_WINDOW, now + Duration::hours(1))
    });
    metrics::job(Job::Rollups, refreshed).await
}

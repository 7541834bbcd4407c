//! The rollup job: a full refresh at start, then the recent hours every 5
//! minutes on one instance (plain tables only; TimescaleDB keeps its
//! continuous aggregates itself).

use super::exclusive::{keys, run_once};
use crate::{
    domain::fleet::rollups::{refresh, START_WINDOW, TICK_WINDOW},
    infra::db::Database,
};
use chrono::{Duration, Utc};

const EVERY: std::time::Duration = std::time::Duration::from_secs(300);

pub async fn run(db: Database, timescaledb: bool) {
    let now = Utc::now();
    let initial = run_once(&db, keys::ROLLUPS, || {
        refresh(&db, timescaledb, now - START_WINDOW, now)
    })
    .await;
    match initial {
        Ok(true) => tracing::info!(timescaledb, "hourly rollups refreshed over 31 days"),
        Ok(false) => {}
        Err(e) => tracing::warn!(error = %e, "initial rollup refresh failed"),
    }
    if timescaledb {
        return;
    }
    let mut ticker = tokio::time::interval(EVERY);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let now = Utc::now();
        let tick = run_once(&db, keys::ROLLUPS, || {
            refresh(&db, false, now - TICK_WINDOW, now + Duration::hours(1))
        });
        if let Err(e) = tick.await {
            tracing::warn!(error = %e, "rollup refresh failed");
        }
    }
}

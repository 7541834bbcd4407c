//! Every 30 seconds, on one instance: machines silent past the threshold
//! go offline (see `domain::fleet::offline`).

use super::exclusive::{keys, run_once};
use crate::{app::Services, domain::fleet::offline};
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(30);

pub async fn run(services: Services) {
    let mut ticker = tokio::time::interval(EVERY);
    loop {
        ticker.tick().await;
        let db = &services.infra.db;
        let (bus, cache) = (services.infra.bus.clone(), services.infra.cache.clone());
        let result = run_once(db, keys::OFFLINE, || async move {
            offline::detect(db, bus.as_ref(), cache.as_ref())
                .await
                .map(|_| ())
        })
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "offline detection failed");
        }
    }
}

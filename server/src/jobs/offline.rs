//! Every 30 seconds, on one instance: maintenance windows past their end
//! close, then machines silent past the threshold go offline (see
//! `domain::agents::maintenance` and `domain::fleet::offline`).

use super::exclusive::{keys, run_once};
use crate::{
    domain::{fleet::offline, DomainError},
    infra::metrics::{self, Job},
    services::Services,
};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const EVERY: Duration = Duration::from_secs(30);

pub async fn run(services: Services, stop: CancellationToken) {
    super::every(EVERY, stop, || async {
        if let Err(e) = tick(&services).await {
            e.log("offline detection");
        }
    })
    .await;
}

/// One pass: the machines marked offline, or `None` when another instance
/// holds this tick.
pub async fn tick(services: &Services) -> Result<Option<usize>, DomainError> {
    let db = &services.infra.db;
    let (bus, cache) = (services.infra.bus.as_ref(), services.infra.cache.as_ref());
    let now = services.infra.clock.now();
    let mut marked = 0;
    let counted = &mut marked;
    let pass = run_once(db, keys::OFFLINE, move || async move {
        // First: a machine whose maintenance just ended is watched again
        // in this same pass.
        services.agents.expire_maintenance().await?;
        *counted = offline::detect(db, bus, cache, now).await?;
        services.alerting.evaluate_offline().await?;
        Ok::<_, DomainError>(())
    });
    let ran = metrics::job(Job::Offline, pass).await?;
    Ok(ran.then_some(marked))
}

//! The AI scheduler: every 5 minutes, and once at start to catch up on
//! routines that fell due while no instance ran, due routines are claimed
//! and run (see `domain::analysis::automation::routines`). Each routine is
//! claimed by its own conditional UPDATE, so instances ticking together
//! share the work and never run one routine twice.

use crate::{
    domain::{analysis::automation::routines::Pass, DomainError},
    infra::metrics::{self, Job},
    services::Services,
};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const EVERY: Duration = Duration::from_secs(300);

pub async fn run(services: Services, stop: CancellationToken) {
    // `every` ticks at once: the start's catch-up.
    super::every(EVERY, stop, || async {
        if let Err(e) = tick(&services).await {
            e.log("ai scheduler");
        }
    })
    .await;
}

/// One pass: the routines this instance claimed and ran.
pub async fn tick(services: &Services) -> Result<Pass, DomainError> {
    metrics::job(Job::Routines, services.automation.run_due()).await
}

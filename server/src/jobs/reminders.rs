//! Every 10 minutes, on one instance: licences past their expiry are
//! marked expired (the rules already read them so), then password, licence
//! and certificate reminders (see `domain::alerting::reminders`). Each is recorded when
//! queued, so running often only costs the queries; it also means a
//! licence reminder leaves soon after 09:00 UTC rather than up to a day
//! late.

use super::exclusive::{keys, run_once};
use crate::{
    domain::{alerting::reminders::Sent, DomainError},
    infra::metrics::{self, Job},
    services::Services,
};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const EVERY: Duration = Duration::from_secs(600);

pub async fn run(services: Services, stop: CancellationToken) {
    super::every(EVERY, stop, || async {
        if let Err(e) = tick(&services).await {
            e.log("reminders");
        }
    })
    .await;
}

/// One pass: what was queued, or `None` when another instance holds this
/// tick.
pub async fn tick(services: &Services) -> Result<Option<Sent>, DomainError> {
    let mut sent = Sent::default();
    let out = &mut sent;
    let pass = run_once(&services.infra.db, keys::REMINDERS, move || async move {
        services.licensing.expire_due().await?;
        *out = services.alerting.send_reminders().await?;
        Ok::<_, DomainError>(())
    });
    let ran = metrics::job(Job::Reminders, pass).await?;
    Ok(ran.then_some(sent))
}

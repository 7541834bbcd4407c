//! Every 30 minutes: check each platform service, drive the incident
//! transitions, and record one `service_uptime` row per service, once per
//! 30-minute slot across instances (the advisory lock serialises the
//! instances, the slot check makes the later ones skip). Checks that could
//! not be written (the database away) are kept and written by the next
//! tick that can, so the outage shows in the 15-day series.

use super::exclusive::{keys, run_once};
use crate::{
    domain::{status::uptime::slot_of, DomainError},
    services::Services,
};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const EVERY: Duration = Duration::from_secs(30 * 60);
const _: () = assert!(EVERY.as_secs() == crate::domain::status::uptime::SLOT.num_seconds() as u64);

pub async fn run(services: Services, stop: CancellationToken) {
    super::every(EVERY, stop, || async {
        if let Err(e) = crate::infra::metrics::job(crate::infra::metrics::Job::Uptime, tick(&services)).await
        {
            e.log("uptime tracking");
        }
    })
    .await;
}

/// One pass: the rows written, or `None` when this slot was already
/// recorded (by this instance or another) and nothing older was waiting.
pub async fn tick(services: &Services) -> Result<Option<usize>, DomainError> {
    let board = &services.status_board;
    let checks = board.check().await;
    board.incidents.observe(&checks).await;
    let slot = slot_of(checks.at);
    let current: Vec<_> = checks.all().into_iter().map(|c| (checks.at, c)).collect();
    let waiting = board.take_unrecorded();
    let mut written = None;
    let (slot_written, waiting_rows, current_rows) = (&mut written, &waiting, &current);
    let uptime = &board.uptime;
    let result = run_once(&services.infra.db, keys::UPTIME, move || async move {
        // After an outage every instance brings back its own copy of the
        // same offline slots; the lock serialises them, so the later ones
        // see the rows and drop theirs.
        let mut rows = uptime.not_yet_recorded(waiting_rows).await?;
        let fresh_slot = !uptime.recorded_since(slot).await?;
        if fresh_slot {
            rows.extend(current_rows.iter().copied());
        }
        uptime.record(&rows).await?;
        *slot_written = (!rows.is_empty()).then_some(rows.len());
        Ok::<_, DomainError>(())
    })
    .await;
    match result {
        Ok(true) => Ok(written),
        Ok(false) => {
            board.keep_unrecorded(waiting);
            Ok(None)
        }
        Err(e) => {
            board.keep_unrecorded(waiting.into_iter().chain(current));
            Err(e)
        }
    }
}

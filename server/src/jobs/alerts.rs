//! Feeds the alerting engine with the events this instance publishes
//! (accepted samples, status changes), one at a time, in order.

use crate::{domain::DomainError, services::Services};
use std::time::Duration;

/// Retries of an event whose evaluation met a database outage.
const RETRIES: u32 = 3;
const RETRY_AFTER: Duration = Duration::from_secs(2);
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

pub async fn run(services: Services, stop: CancellationToken) {
    let alerting = services.alerting.clone();
    let mut events = alerting.bus().subscribe_own();
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            e = events.recv() => e,
        };
        match event {
            Ok(event) => {
                // A database outage would lose the event; a few spaced
                // retries ride out a restart. Evaluation is idempotent:
                // fire and resolve re-check the history they write.
                let mut tries = 0;
                loop {
                    match alerting.handle(&event).await {
                        Ok(()) => break,
                        Err(DomainError::Unavailable { .. }) if tries < RETRIES => {
                            tries += 1;
                            tokio::select! {
                                () = stop.cancelled() => return,
                                () = tokio::time::sleep(RETRY_AFTER * tries) => {}
                            }
                        }
                        Err(e) => {
                            e.log("alert evaluation");
                            break;
                        }
                    }
                }
            }
            // The engine fell more than the bus's buffer behind: those
            // samples go unevaluated (the next ones are), which the log says.
            Err(RecvError::Lagged(missed)) => {
                crate::infra::metrics::bus_lagged("alerts", missed);
                tracing::warn!(missed, "alert evaluation fell behind; skipped events");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

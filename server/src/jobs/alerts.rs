//! Feeds the alerting engine with the events this instance publishes
//! (accepted samples, status changes), one at a time, in order.

use crate::services::Services;
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
                if let Err(e) = alerting.handle(&event).await {
                    e.log("alert evaluation");
                }
            }
            // The engine fell more than the bus's buffer behind: those
            // samples go unevaluated (the next ones are), which the log says.
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "alert evaluation fell behind; skipped events");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

//! Evaluates AI triggers on the events this instance publishes (status
//! changes, samples, health scores, alerts), one at a time, in order:
//! never by polling.

use crate::services::Services;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

pub async fn run(services: Services, stop: CancellationToken) {
    let automation = services.automation.clone();
    let mut events = services.infra.bus.subscribe_own();
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return,
            e = events.recv() => e,
        };
        match event {
            Ok(event) => {
                if let Err(e) = automation.handle(&event).await {
                    e.log("ai trigger evaluation");
                }
            }
            Err(RecvError::Lagged(missed)) => {
                crate::infra::metrics::bus_lagged("ai_triggers", missed);
                tracing::warn!(missed, "ai trigger evaluation fell behind; skipped events");
            }
            Err(RecvError::Closed) => return,
        }
    }
}

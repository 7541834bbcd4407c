//! Periodic and queued background work.

pub mod cleanup;
mod outbox;

use crate::app::Services;
use std::sync::Arc;

/// Starts the background workers; they stop when the process exits.
pub fn spawn(services: &Services, mailer: Arc<dyn crate::infra::mailer::Mailer>) {
    tokio::spawn(outbox::run(services.clone(), mailer));
    tokio::spawn(cleanup::run(
        services.infra.db.clone(),
        services.status.timescaledb(),
    ));
    tokio::spawn(crate::domain::fleet::rollups::run(
        services.infra.db.clone(),
        services.status.timescaledb(),
    ));
}

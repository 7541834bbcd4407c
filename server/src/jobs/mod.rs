//! Periodic and queued background work.

pub mod cleanup;
pub mod exclusive;
pub mod offline;
mod outbox;
mod rollups;

use crate::app::Services;
use std::sync::Arc;

/// Starts the background workers; they stop when the process exits.
pub fn spawn(services: &Services, mailer: Arc<dyn crate::infra::mailer::Mailer>) {
    tokio::spawn(outbox::run(services.clone(), mailer));
    tokio::spawn(cleanup::run(
        services.infra.db.clone(),
        services.status.timescaledb(),
    ));
    tokio::spawn(rollups::run(
        services.infra.db.clone(),
        services.status.timescaledb(),
    ));
    tokio::spawn(offline::run(services.clone()));
}

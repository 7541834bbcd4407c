//! Offline detection: a machine silent past the threshold is marked
//! offline once (`offline_notified_at`, the spec's anti-spam) and its
//! status event published; its next heartbeat clears the mark and
//! announces it online again. Machines in maintenance are left alone.

use crate::{
    domain::{
        agents::{keys, OFFLINE_AFTER},
        live, DomainError,
    },
    infra::{cache::Cache, db::Database},
};
use chrono::{DateTime, Utc};
use entities::machines;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};

/// Marks machines silent since before `now - OFFLINE_AFTER` offline and
/// announces each; returns how many. The UPDATE claims the rows, so two
/// runs never announce twice. `now` comes from the injected clock.
pub async fn detect(
    db: &Database,
    bus: &live::Bus,
    cache: &dyn Cache,
    now: DateTime<Utc>,
) -> Result<usize, DomainError> {
    let marked = machines::Entity::update_many()
        .col_expr(machines::Column::OfflineNotifiedAt, Expr::value(Some(now)))
        .filter(machines::Column::LastSeen.lt(now - OFFLINE_AFTER))
        .filter(machines::Column::OfflineNotifiedAt.is_null())
        .filter(machines::Column::MaintenanceMode.eq(false))
        .exec_with_returning(&db.conn)
        .await?;
    for m in &marked {
        keys::invalidate_machine(cache, m.id).await;
        bus.publish(live::status(
            m.client_id,
            live::StatusChange {
                machine_id: m.id,
                hostname: m.hostname.clone(),
                status: live::Status::Offline,
                at: now,
            },
        ))
        .await;
    }
    if !marked.is_empty() {
        tracing::info!(count = marked.len(), "machines went offline");
    }
    Ok(marked.len())
}

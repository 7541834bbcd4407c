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
                after_offline: false,
            },
        ))
        .await;
    }
    if !marked.is_empty() {
        tracing::info!(count = marked.len(), "machines went offline");
    }
    Ok(marked.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::live::LiveEvent,
        infra::{bus::LocalBus, cache::MemoryCache, clock::Clock, clock::ManualClock},
    };

    /// The threshold moves with the injected clock: nothing sleeps.
    #[tokio::test]
    async fn a_machine_goes_offline_once_just_past_the_threshold() {
        let db = Database::in_memory().await.unwrap();
        let clock = ManualClock::starting_now();
        let seen = clock.now();
        let (_, machine) = crate::domain::fixtures::tenant_with_machine(&db, seen).await;
        let bus = LocalBus::<LiveEvent>::new();
        let mut events = crate::infra::bus::EventBus::subscribe(&bus);
        let cache = MemoryCache::new();

        clock.set(seen + OFFLINE_AFTER);
        assert_eq!(
            detect(&db, &bus, &cache, clock.now()).await.unwrap(),
            0,
            "at the threshold"
        );
        clock.advance(chrono::Duration::seconds(1));
        assert_eq!(
            detect(&db, &bus, &cache, clock.now()).await.unwrap(),
            1,
            "just past it"
        );
        match &*events.recv().await.unwrap() {
            LiveEvent::MachineStatus { change, .. } => {
                assert_eq!(
                    (change.machine_id, change.status),
                    (machine.id, live::Status::Offline)
                );
                assert_eq!(change.at, clock.now());
            }
            other => panic!("{other:?}"),
        }
        clock.advance(chrono::Duration::hours(1));
        assert_eq!(
            detect(&db, &bus, &cache, clock.now()).await.unwrap(),
            0,
            "announced once"
        );
    }
}

//! Deleting a machine: every row about it goes in one transaction, its
//! certificates are marked revoked in the shared cache so the gateway
//! refuses them on the next request on every instance, and dashboards hear
//! it is gone.

use super::{
    keys::{self, RevokedAs},
    Agents,
};
use crate::domain::{
    activity::{Category, Entry, Level, RequestMeta},
    auth::Principal,
    live, DomainError,
};
use entities::{
    alert_rule_history, alert_rules, client_certificates, collection_settings, disk_hourly, disk_info,
    event_logs, machine_collector_data, machine_inventory, machine_labels, machines, metrics, metrics_hourly,
    network_hourly, notification_history, reminders_sent, risk_overrides, smart_data,
};
use sea_orm::{
    sea_query::Expr, ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

/// Deletes the rows of `E` whose `column` names the machine.
async fn purge<E: EntityTrait>(
    txn: &DatabaseTransaction,
    column: E::Column,
    machine_id: Uuid,
) -> Result<u64, DbErr> {
    Ok(E::delete_many()
        .filter(column.eq(machine_id))
        .exec(txn)
        .await?
        .rows_affected)
}

impl Agents {
    /// Deletes one of the actor's machines and everything recorded about
    /// it. Foreign keys would cascade most of it, but time-series tables
    /// carry none on TimescaleDB, so each table is named here.
    pub async fn delete_machine(
        &self,
        actor: &Principal,
        machine_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        let machine = self.machine(actor.client_id, machine_id).await?;
        let certificates = client_certificates::Entity::find()
            .filter(client_certificates::Column::MachineId.eq(machine_id))
            .all(&self.db.conn)
            .await?;
        let txn = self.db.conn.begin().await?;
        let mut samples = 0;
        samples += purge::<metrics::Entity>(&txn, metrics::Column::MachineId, machine_id).await?;
        samples +=
            purge::<metrics_hourly::Entity>(&txn, metrics_hourly::Column::MachineId, machine_id).await?;
        samples +=
            purge::<network_hourly::Entity>(&txn, network_hourly::Column::MachineId, machine_id).await?;
        samples += purge::<disk_info::Entity>(&txn, disk_info::Column::MachineId, machine_id).await?;
        samples += purge::<disk_hourly::Entity>(&txn, disk_hourly::Column::MachineId, machine_id).await?;
        samples += purge::<smart_data::Entity>(&txn, smart_data::Column::MachineId, machine_id).await?;
        samples += purge::<event_logs::Entity>(&txn, event_logs::Column::MachineId, machine_id).await?;
        purge::<machine_collector_data::Entity>(&txn, machine_collector_data::Column::MachineId, machine_id)
            .await?;
        purge::<machine_inventory::Entity>(&txn, machine_inventory::Column::MachineId, machine_id).await?;
        purge::<machine_labels::Entity>(&txn, machine_labels::Column::MachineId, machine_id).await?;
        purge::<risk_overrides::Entity>(&txn, risk_overrides::Column::MachineId, machine_id).await?;
        purge::<alert_rule_history::Entity>(&txn, alert_rule_history::Column::MachineId, machine_id).await?;
        // A rule or a setting about this machine alone means nothing now.
        purge::<alert_rules::Entity>(&txn, alert_rules::Column::MachineId, machine_id).await?;
        purge::<collection_settings::Entity>(&txn, collection_settings::Column::MachineId, machine_id)
            .await?;
        purge::<client_certificates::Entity>(&txn, client_certificates::Column::MachineId, machine_id)
            .await?;
        // What was sent stays in the tenant's history, without the link.
        notification_history::Entity::update_many()
            .col_expr(notification_history::Column::MachineId, Expr::value(None::<Uuid>))
            .filter(notification_history::Column::MachineId.eq(machine_id))
            .exec(&txn)
            .await?;
        reminders_sent::Entity::delete_many()
            .filter(reminders_sent::Column::Key.starts_with(format!("smart:{machine_id}:")))
            .exec(&txn)
            .await?;
        machines::Entity::delete_many()
            .filter(machines::Column::Id.eq(machine_id))
            .filter(machines::Column::ClientId.eq(actor.client_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;

        self.invalidate(machine_id).await;
        let _ = self.cache.delete(&keys::high_load(machine_id)).await;
        for c in &certificates {
            keys::mark_revoked(self.cache.as_ref(), &c.serial, c.expires_at, RevokedAs::Revoked).await;
        }
        let now = self.clock.now();
        self.bus
            .publish(live::status(
                actor.client_id,
                live::StatusChange {
                    machine_id,
                    hostname: machine.hostname.clone(),
                    status: live::Status::Deleted,
                    at: now,
                    after_offline: false,
                },
            ))
            .await;
        let serials: Vec<&str> = certificates.iter().map(|c| c.serial.as_str()).collect();
        let entry = Entry::new(
            Level::Warn,
            Category::Machine,
            format!("Machine supprimée : {}", machine.hostname),
        )
        .client(actor.client_id)
        .metadata(json!({ "machine_id": machine_id, "hostname": machine.hostname, "revoked_serials": serials, "samples_deleted": samples }))
        .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok(())
    }
}

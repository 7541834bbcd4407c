//! Maintenance mode: an administrator mutes a machine's alerts for a
//! while (an intervention, a planned reboot). It ends when switched off
//! or at its `until`; readers treat a passed `until` as ended at once
//! (`fleet::in_maintenance`), and the offline job clears the columns and
//! announces the machine's status again.

use super::{Agents, OFFLINE_AFTER};
use crate::domain::{
    activity::{Category, Entry, Level, RequestMeta},
    auth::Principal,
    fleet, live, DomainError,
};
use chrono::{DateTime, Utc};
use entities::machines;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

/// Longest maintenance reason.
pub const MAX_REASON: usize = 500;

/// What an administrator asks.
#[derive(Clone, Debug)]
pub struct MaintenanceInput {
    pub enabled: bool,
    /// When it ends by itself; none = until switched off.
    pub until: Option<DateTime<Utc>>,
    pub reason: Option<String>,
}

impl Agents {
    /// Switches maintenance on or off for one of the actor's machines and
    /// announces the new status; returns the machine as it now is.
    pub async fn set_maintenance(
        &self,
        actor: &Principal,
        machine_id: Uuid,
        input: MaintenanceInput,
        meta: &RequestMeta,
    ) -> Result<machines::Model, DomainError> {
        let now = self.clock.now();
        let reason = match input.reason.as_deref().map(str::trim) {
            Some(r) if r.chars().count() > MAX_REASON => {
                return Err(DomainError::invalid(
                    "reason",
                    format!("must be at most {MAX_REASON} characters"),
                ))
            }
            Some("") | None => None,
            Some(r) => Some(r.to_owned()),
        };
        if input.enabled && input.until.is_some_and(|u| u <= now) {
            return Err(DomainError::invalid("until", "must be in the future"));
        }
        let (until, reason) = if input.enabled {
            (input.until, reason.clone())
        } else {
            (None, None)
        };
        let set = [
            (machines::Column::MaintenanceMode, Expr::value(input.enabled)),
            (machines::Column::MaintenanceUntil, Expr::value(until)),
            (machines::Column::MaintenanceReason, Expr::value(reason.clone())),
            (machines::Column::UpdatedAt, Expr::value(now)),
        ];
        let message = if input.enabled {
            "Mode maintenance activé"
        } else {
            "Mode maintenance désactivé"
        };
        let entry = Entry::new(Level::Info, Category::Machine, message).metadata(
            json!({ "machine_id": machine_id, "enabled": input.enabled, "until": until, "reason": reason }),
        );
        self.change_machine(actor, machine_id, set, entry, meta).await?;
        let machine = self.machine(actor.client_id, machine_id).await?;
        if fleet::in_maintenance(&machine, now) {
            self.announce(&machine, live::Status::Maintenance, false, now)
                .await;
        } else {
            self.announce_end(&machine, now).await?;
        }
        Ok(machine)
    }

    /// Clears every maintenance whose `until` has passed and announces
    /// each machine's status; returns how many. The UPDATE claims the
    /// rows, so two runs never announce twice.
    pub async fn expire_maintenance(&self) -> Result<usize, DomainError> {
        let now = self.clock.now();
        let ended = machines::Entity::update_many()
            .col_expr(machines::Column::MaintenanceMode, Expr::value(false))
            .col_expr(
                machines::Column::MaintenanceUntil,
                Expr::value(None::<DateTime<Utc>>),
            )
            .col_expr(machines::Column::MaintenanceReason, Expr::value(None::<String>))
            .filter(machines::Column::MaintenanceMode.eq(true))
            .filter(machines::Column::MaintenanceUntil.lte(now))
            .exec_with_returning(&self.db.conn)
            .await?;
        for m in &ended {
            self.invalidate(m.id).await;
            self.announce_end(m, now).await?;
            let entry = Entry::new(
                Level::Info,
                Category::Machine,
                "Fin du mode maintenance (échéance atteinte)",
            )
            .client(m.client_id)
            .metadata(json!({ "machine_id": m.id }));
            self.activity.record(entry, &RequestMeta::default()).await;
        }
        Ok(ended.len())
    }

    /// The status a machine leaving maintenance shows. A machine that fell
    /// silent meanwhile was never marked offline (detection skips
    /// maintenance): it is marked here and announced once, as the offline
    /// job would; one already marked before is announced again for
    /// dashboards only (`after_offline`, no second notification).
    async fn announce_end(&self, m: &machines::Model, now: DateTime<Utc>) -> Result<(), DomainError> {
        if m.last_seen.is_some_and(|seen| now - seen <= OFFLINE_AFTER) {
            self.announce(m, live::Status::Online, false, now).await;
            return Ok(());
        }
        let marked = machines::Entity::update_many()
            .col_expr(machines::Column::OfflineNotifiedAt, Expr::value(Some(now)))
            .filter(machines::Column::Id.eq(m.id))
            .filter(machines::Column::OfflineNotifiedAt.is_null())
            .exec(&self.db.conn)
            .await?
            .rows_affected
            > 0;
        if marked {
            self.invalidate(m.id).await;
        }
        self.announce(m, live::Status::Offline, !marked, now).await;
        Ok(())
    }

    async fn announce(
        &self,
        m: &machines::Model,
        status: live::Status,
        after_offline: bool,
        at: DateTime<Utc>,
    ) {
        self.bus
            .publish(live::status(
                m.client_id,
                live::StatusChange {
                    machine_id: m.id,
                    hostname: m.hostname.clone(),
                    status,
                    at,
                    after_offline,
                },
            ))
            .await;
    }
}

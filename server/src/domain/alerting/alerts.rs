//! Fired alerts: the history pages, the open ones, acknowledgement. The
//! two transitions the engine drives (fire, resolve) are in `transitions`.

use super::Alerting;
use crate::domain::{
    activity::{Category, Cursor, Entry, Level, RequestMeta},
    auth::Principal,
    DomainError,
};
use entities::{alert_rule_history, notification_history};
use sea_orm::{sea_query::Expr, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use uuid::Uuid;

pub const MAX_PAGE: u64 = 200;

/// Which alerts a history page shows.
#[derive(Clone, Debug, Default)]
pub struct HistoryFilter {
    pub rule_id: Option<Uuid>,
    pub machine_id: Option<Uuid>,
}

/// Newest first, after `after`.
fn before<C: ColumnTrait>(cursor: Option<Cursor>, at: C, id: C) -> Condition {
    match cursor {
        None => Condition::all(),
        Some(c) => Condition::any()
            .add(at.lt(c.timestamp))
            .add(Condition::all().add(at.eq(c.timestamp)).add(id.lt(c.id))),
    }
}

impl Alerting {
    /// One page of the tenant's fired alerts, newest first; the flag says
    /// whether more follow.
    pub async fn history(
        &self,
        client_id: Uuid,
        filter: &HistoryFilter,
        first: u64,
        after: Option<Cursor>,
    ) -> Result<(Vec<alert_rule_history::Model>, bool), DomainError> {
        let first = first.clamp(1, MAX_PAGE);
        let mut cond = Condition::all()
            .add(alert_rule_history::Column::ClientId.eq(client_id))
            .add(before(
                after,
                alert_rule_history::Column::TriggeredAt,
                alert_rule_history::Column::Id,
            ));
        if let Some(r) = filter.rule_id {
            cond = cond.add(alert_rule_history::Column::RuleId.eq(r));
        }
        if let Some(m) = filter.machine_id {
            cond = cond.add(alert_rule_history::Column::MachineId.eq(m));
        }
        let mut rows = alert_rule_history::Entity::find()
            .filter(cond)
            .order_by_desc(alert_rule_history::Column::TriggeredAt)
            .order_by_desc(alert_rule_history::Column::Id)
            .limit(first + 1)
            .all(&self.db.conn)
            .await?;
        let more = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Ok((rows, more))
    }

    /// The tenant's unresolved alerts, newest first.
    pub async fn active_alerts(
        &self,
        client_id: Uuid,
    ) -> Result<Vec<alert_rule_history::Model>, DomainError> {
        Ok(alert_rule_history::Entity::find()
            .filter(alert_rule_history::Column::ClientId.eq(client_id))
            .filter(alert_rule_history::Column::ResolvedAt.is_null())
            .order_by_desc(alert_rule_history::Column::TriggeredAt)
            .limit(1000)
            .all(&self.db.conn)
            .await?)
    }

    /// Records who took the alert and when; acknowledging twice keeps the
    /// first.
    pub async fn acknowledge(
        &self,
        actor: &Principal,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<alert_rule_history::Model, DomainError> {
        let now = self.clock.now();
        alert_rule_history::Entity::update_many()
            .col_expr(alert_rule_history::Column::AcknowledgedAt, Expr::value(Some(now)))
            .col_expr(
                alert_rule_history::Column::AcknowledgedBy,
                Expr::value(actor.user_id),
            )
            .filter(alert_rule_history::Column::Id.eq(id))
            .filter(alert_rule_history::Column::ClientId.eq(actor.client_id))
            .filter(alert_rule_history::Column::AcknowledgedAt.is_null())
            .exec(&self.db.conn)
            .await?;
        let alert = alert_rule_history::Entity::find_by_id(id)
            .filter(alert_rule_history::Column::ClientId.eq(actor.client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("alert"))?;
        if alert.acknowledged_at == Some(now) {
            let entry = Entry::new(Level::Info, Category::Alert, "Alerte prise en charge")
                .client(actor.client_id)
                .by(actor.user_id)
                .metadata(
                    json!({ "alert_id": id, "rule": alert.rule_name, "machine": alert.machine_hostname }),
                );
            self.activity.record(entry, meta).await;
        }
        Ok(alert)
    }

    /// One page of the tenant's notifications, newest first.
    pub async fn notifications(
        &self,
        client_id: Uuid,
        first: u64,
        after: Option<Cursor>,
    ) -> Result<(Vec<notification_history::Model>, bool), DomainError> {
        let first = first.clamp(1, MAX_PAGE);
        let cond = Condition::all()
            .add(notification_history::Column::ClientId.eq(client_id))
            .add(before(
                after,
                notification_history::Column::CreatedAt,
                notification_history::Column::Id,
            ));
        let mut rows = notification_history::Entity::find()
            .filter(cond)
            .order_by_desc(notification_history::Column::CreatedAt)
            .order_by_desc(notification_history::Column::Id)
            .limit(first + 1)
            .all(&self.db.conn)
            .await?;
        let more = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Ok((rows, more))
    }

    /// One of the tenant's notifications.
    pub async fn notification(
        &self,
        client_id: Uuid,
        id: Uuid,
    ) -> Result<notification_history::Model, DomainError> {
        notification_history::Entity::find_by_id(id)
            .filter(notification_history::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("notification"))
    }

    /// Rule ids with an open alert on the machine.
    pub(super) async fn open_rules(&self, machine_id: Uuid) -> Result<Vec<Uuid>, DomainError> {
        Ok(alert_rule_history::Entity::find()
            .filter(alert_rule_history::Column::MachineId.eq(machine_id))
            .filter(alert_rule_history::Column::ResolvedAt.is_null())
            .all(&self.db.conn)
            .await?
            .into_iter()
            .filter_map(|a| a.rule_id)
            .collect())
    }
}

//! The two transitions the engine drives on fired alerts: fire, and
//! resolve (by rule, or for a machine back online).

use super::{conditions, dispatch::machine_facts, rules::Rule, Alerting};
use crate::{
    domain::{
        activity::{Category, Entry, Level, RequestMeta},
        fleet, live,
        notify::{Notice, RuleFacts},
        DomainError,
    },
    infra::db::Backend,
};
use entities::{
    alert_rule_history,
    enums::{AlertMetric, AlertType},
    machines,
};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QuerySelect, Statement,
};
use serde_json::json;
use uuid::Uuid;

/// What a rule's notification says about the rule and the value.
fn rule_facts(r: &entities::alert_rules::Model, value: f64) -> RuleFacts {
    RuleFacts {
        name: r.name.clone(),
        metric: r.metric,
        severity: r.severity,
        operator: conditions::symbol(r.operator).into(),
        threshold: r.threshold,
        value,
    }
}

impl Alerting {
    /// Queues a rule's notice, inside `txn`, to those of its channels
    /// still enabled.
    async fn queue_for_rule(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        rule: &Rule,
        client: &entities::clients::Model,
        notice: &Notice,
        alert_id: Uuid,
    ) -> Result<Vec<Uuid>, DomainError> {
        let channels = self
            .enabled_channels(txn, rule.model.client_id, Some(&rule.channel_ids))
            .await?;
        self.queue(txn, client, notice, &channels, Some(alert_id)).await
    }

    /// Fires `rule` for `machine` at `value`, unless the machine is in
    /// maintenance, the alert is already open, the rule's cooldown has not
    /// run out, or the machine had an alert on this metric in the last 15
    /// minutes. The checks read the history inside the transaction that
    /// writes it, serialised per machine on PostgreSQL, so they hold
    /// across restarts and instances. Returns the alert when it fired.
    pub(super) async fn fire(
        &self,
        rule: &Rule,
        machine_id: Uuid,
        value: f64,
    ) -> Result<Option<alert_rule_history::Model>, DomainError> {
        let r = &rule.model;
        let now = self.clock.now();
        let txn = self.db.begin_write().await?;
        if self.db.backend == Backend::Postgres {
            txn.execute(Statement::from_sql_and_values(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))",
                [format!("alert:{machine_id}").into()],
            ))
            .await?;
        }
        let Some(machine) = machines::Entity::find_by_id(machine_id)
            .filter(machines::Column::ClientId.eq(r.client_id))
            .one(&txn)
            .await?
        else {
            return Ok(None);
        };
        // Muted, not held back: the rule fires on the first sample after
        // the maintenance ends.
        if fleet::in_maintenance(&machine, now) {
            return Ok(None);
        }
        // An offline machine's metric alerts would only repeat its cause.
        if r.metric != AlertMetric::OfflineMinutes && machine.offline_notified_at.is_some() {
            self.held_back.insert((r.id, machine_id), ()).await;
            return Ok(None);
        }
        let blocking = alert_rule_history::Entity::find()
            .filter(alert_rule_history::Column::MachineId.eq(machine_id))
            .filter(
                Condition::any()
                    // Already open.
                    .add(
                        Condition::all()
                            .add(alert_rule_history::Column::RuleId.eq(r.id))
                            .add(alert_rule_history::Column::ResolvedAt.is_null()),
                    )
                    // The rule's cooldown.
                    .add(
                        Condition::all()
                            .add(alert_rule_history::Column::RuleId.eq(r.id))
                            .add(
                                alert_rule_history::Column::TriggeredAt
                                    .gt(now - chrono::Duration::minutes(r.cooldown_minutes.into())),
                            ),
                    )
                    // One alert per machine and metric per 15 minutes.
                    .add(
                        Condition::all()
                            .add(alert_rule_history::Column::Metric.eq(r.metric))
                            .add(alert_rule_history::Column::TriggeredAt.gt(now - conditions::NOISE_WINDOW)),
                    ),
            )
            .limit(1)
            .one(&txn)
            .await?;
        if blocking.is_some() {
            self.held_back.insert((r.id, machine_id), ()).await;
            return Ok(None);
        }
        let alert_type = conditions::alert_type(r.metric);
        let alert = alert_rule_history::Entity::insert(alert_rule_history::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(r.client_id),
            rule_id: Set(Some(r.id)),
            rule_name: Set(r.name.clone()),
            machine_id: Set(machine_id),
            machine_hostname: Set(machine.hostname.clone()),
            alert_type: Set(alert_type),
            metric: Set(r.metric),
            severity: Set(r.severity),
            threshold: Set(r.threshold),
            triggered_value: Set(value),
            triggered_at: Set(now),
            resolved_at: Set(None),
            resolved_value: Set(None),
            acknowledged_at: Set(None),
            acknowledged_by: Set(None),
        })
        .exec_with_returning(&txn)
        .await?;
        let client = self.tenant(&txn, r.client_id).await?;
        let notice = Notice {
            alert_type,
            language: client.language,
            tenant: client.name.clone(),
            machine: Some(machine_facts(&machine)),
            rule: Some(rule_facts(r, value)),
            resolves: None,
            detail: None,
            at: now,
            link: self.link(Some(machine_id)),
        };
        let queued = self
            .queue_for_rule(&txn, rule, &client, &notice, alert.id)
            .await?;
        txn.commit().await?;
        if !queued.is_empty() {
            self.outbox.wake();
        }
        let message = format!("{} : {} ({value})", r.name, machine.hostname);
        self.bus
            .publish(live::alert(
                r.client_id,
                live::AlertFired {
                    alert_id: alert.id,
                    rule_id: Some(r.id),
                    machine_id: Some(machine_id),
                    rule_name: r.name.clone(),
                    severity: {
                        use entities::enums::Stored;
                        r.severity.stored()
                    },
                    alert_type: {
                        use entities::enums::Stored;
                        alert_type.stored()
                    },
                    triggered_value: value,
                    threshold: r.threshold,
                    message: message.clone(),
                    at: now,
                },
            ))
            .await;
        let entry = Entry::new(Level::Warn, Category::Alert, format!("Alerte déclenchée : {message}"))
            .client(r.client_id)
            .metadata(json!({ "alert_id": alert.id, "rule_id": r.id, "machine_id": machine_id, "value": value, "notifications": queued.len() }));
        self.activity.record(entry, &RequestMeta::default()).await;
        Ok(Some(alert))
    }

    /// Resolves the open alert of `rule` on the machine, recording `value`,
    /// and notifies the rule's channels once. Returns whether one was open.
    pub(super) async fn resolve(
        &self,
        rule: &Rule,
        machine_id: Uuid,
        value: f64,
    ) -> Result<bool, DomainError> {
        let r = &rule.model;
        let now = self.clock.now();
        let txn = self.db.begin_write().await?;
        let resolved = alert_rule_history::Entity::update_many()
            .col_expr(alert_rule_history::Column::ResolvedAt, Expr::value(Some(now)))
            .col_expr(
                alert_rule_history::Column::ResolvedValue,
                Expr::value(Some(value)),
            )
            .filter(alert_rule_history::Column::RuleId.eq(r.id))
            .filter(alert_rule_history::Column::MachineId.eq(machine_id))
            .filter(alert_rule_history::Column::ResolvedAt.is_null())
            .exec_with_returning(&txn)
            .await?;
        let Some(alert) = resolved.into_iter().next() else {
            return Ok(false);
        };
        let machine = machines::Entity::find_by_id(machine_id).one(&txn).await?;
        let client = self.tenant(&txn, r.client_id).await?;
        let notice = Notice {
            alert_type: AlertType::AlertResolved,
            language: client.language,
            tenant: client.name.clone(),
            machine: machine.as_ref().map(machine_facts),
            rule: Some(rule_facts(r, value)),
            resolves: Some(alert.alert_type),
            detail: None,
            at: now,
            link: self.link(Some(machine_id)),
        };
        let queued = self
            .queue_for_rule(&txn, rule, &client, &notice, alert.id)
            .await?;
        txn.commit().await?;
        if !queued.is_empty() {
            self.outbox.wake();
        }
        let entry = Entry::new(
            Level::Info,
            Category::Alert,
            format!("Alerte résolue : {} : {}", r.name, alert.machine_hostname),
        )
        .client(r.client_id)
        .metadata(json!({ "alert_id": alert.id, "rule_id": r.id, "machine_id": machine_id, "value": value }));
        self.activity.record(entry, &RequestMeta::default()).await;
        Ok(true)
    }

    /// A machine came back: its open offline alerts resolve (the "back
    /// online" notification tells every channel).
    pub(super) async fn resolve_offline(&self, machine_id: Uuid) -> Result<u64, DomainError> {
        let now = self.clock.now();
        let done = alert_rule_history::Entity::update_many()
            .col_expr(alert_rule_history::Column::ResolvedAt, Expr::value(Some(now)))
            .col_expr(alert_rule_history::Column::ResolvedValue, Expr::value(Some(0.0)))
            .filter(alert_rule_history::Column::MachineId.eq(machine_id))
            .filter(alert_rule_history::Column::Metric.eq(AlertMetric::OfflineMinutes))
            .filter(alert_rule_history::Column::ResolvedAt.is_null())
            .exec(&self.db.conn)
            .await?;
        Ok(done.rows_affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::{
            activity::ActivityLog,
            alerting::{alerts::HistoryFilter, rules::RuleInput},
            auth::{AuthVia, Principal, Role},
            fixtures,
            notify::outbox::Outbox,
        },
        infra::{
            bus::LocalBus,
            clock::{Clock, ManualClock},
            db::Database,
            webhook::HttpWebhooks,
        },
    };
    use chrono::Duration;
    use entities::enums::{AlertOperator, Severity};
    use std::sync::Arc;

    fn principal(client_id: Uuid) -> Principal {
        Principal {
            user_id: None,
            client_id,
            role: Role::Admin,
            via: AuthVia::Session {
                jti: Uuid::new_v4(),
                expires_at: chrono::Utc::now() + Duration::hours(1),
                impersonator: None,
                cookie: false,
                session_version: 0,
            },
            password_change_required: false,
        }
    }

    /// Cooldown and the 15-minute noise window are read from the history
    /// at the injected clock's time: moving the clock opens them.
    #[tokio::test]
    async fn cooldown_and_noise_window_hold_until_the_clock_passes_them() {
        let db = Database::in_memory().await.unwrap();
        let clock = ManualClock::starting_now();
        let (client, machine) = fixtures::tenant_with_machine(&db, clock.now()).await;
        let alerting = Alerting::new(
            db.clone(),
            Arc::new(LocalBus::new()),
            ActivityLog::new(db.clone()),
            Outbox::new(db.clone()),
            Arc::new(HttpWebhooks::new(true)),
            clock.shared(),
            "https://dash.example".into(),
        );
        let input = |name: &str, threshold: f64| RuleInput {
            name: name.into(),
            metric: AlertMetric::Cpu,
            operator: AlertOperator::Gt,
            threshold,
            severity: Severity::Critical,
            enabled: true,
            cooldown_minutes: Some(30),
            machine_id: None,
            group_id: None,
            channel_ids: Vec::new(),
        };
        let actor = principal(client.id);
        let meta = RequestMeta::default();
        let high = alerting
            .create_rule(&actor, input("CPU > 90", 90.0), &meta)
            .await
            .unwrap();
        let higher = alerting
            .create_rule(&actor, input("CPU > 95", 95.0), &meta)
            .await
            .unwrap();

        assert!(alerting.fire(&high, machine.id, 96.0).await.unwrap().is_some());
        assert!(
            alerting.fire(&high, machine.id, 97.0).await.unwrap().is_none(),
            "already open"
        );
        assert!(
            alerting.fire(&higher, machine.id, 97.0).await.unwrap().is_none(),
            "one alert per machine and metric per 15 minutes"
        );
        assert!(alerting.resolve(&high, machine.id, 50.0).await.unwrap());
        assert!(
            !alerting.resolve(&high, machine.id, 50.0).await.unwrap(),
            "resolved once"
        );

        clock.advance(Duration::minutes(15) + Duration::seconds(1));
        assert!(
            alerting.fire(&high, machine.id, 96.0).await.unwrap().is_none(),
            "the rule's 30-minute cooldown still runs"
        );
        assert!(
            alerting.fire(&higher, machine.id, 97.0).await.unwrap().is_some(),
            "another rule once the noise window passed"
        );
        alerting.resolve(&higher, machine.id, 10.0).await.unwrap();
        clock.advance(Duration::minutes(15));
        assert!(
            alerting.fire(&high, machine.id, 96.0).await.unwrap().is_some(),
            "30 minutes after it fired, the rule may fire again"
        );

        // A machine already alerted offline gets no metric alert.
        alerting.resolve(&high, machine.id, 10.0).await.unwrap();
        clock.advance(Duration::hours(2));
        machines::Entity::update_many()
            .col_expr(
                machines::Column::OfflineNotifiedAt,
                Expr::value(Some(clock.now())),
            )
            .filter(machines::Column::Id.eq(machine.id))
            .exec(&db.conn)
            .await
            .unwrap();
        assert!(alerting.fire(&high, machine.id, 99.0).await.unwrap().is_none());
        let (all, _) = alerting
            .history(client.id, &HistoryFilter::default(), 50, None)
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        assert!(all.iter().all(|a| a.resolved_at.is_some()));
    }
}

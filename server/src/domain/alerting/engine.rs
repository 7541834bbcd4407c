//! Evaluation: metric rules on each accepted sample, offline rules on each
//! pass of the offline job, and the machine offline / back online
//! notifications. Fed by the events this instance published on the bus
//! (never by polling), so each event is evaluated once however many
//! instances share the bus.

use super::{conditions, dispatch::machine_facts, rules::Scope, Alerting};
use crate::domain::{
    fleet,
    live::{Collected, Figures, LiveEvent, Status, StatusChange},
    notify::Notice,
    DomainError,
};
use entities::{
    alert_rule_history, alert_rules,
    enums::{AlertMetric, AlertType},
    machines, reminders_sent,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use std::{collections::HashSet, sync::Arc};
use uuid::Uuid;

impl Alerting {
    /// Reacts to one bus event.
    pub async fn handle(&self, event: &LiveEvent) -> Result<(), DomainError> {
        match event {
            LiveEvent::MachineCollect { client_id, sample } => self.on_sample(*client_id, sample).await,
            LiveEvent::MachineStatus { client_id, change } => match change.status {
                Status::Offline if !change.after_offline => {
                    self.on_status(*client_id, change, AlertType::MachineOffline)
                        .await
                }
                Status::Online if change.after_offline => {
                    self.resolve_offline(change.machine_id).await?;
                    self.open_cache.invalidate(&change.machine_id).await;
                    self.on_status(*client_id, change, AlertType::MachineOnline).await
                }
                _ => Ok(()),
            },
            LiveEvent::AlertFired { .. }
            | LiveEvent::AnalysisCompleted { .. }
            | LiveEvent::HealthScore { .. } => Ok(()),
        }
    }

    async fn open(&self, machine_id: Uuid) -> Result<Arc<Vec<Uuid>>, DomainError> {
        if let Some(open) = self.open_cache.get(&machine_id).await {
            return Ok(open);
        }
        let open = Arc::new(self.open_rules(machine_id).await?);
        self.open_cache.insert(machine_id, open.clone()).await;
        Ok(open)
    }

    async fn group_of(&self, machine_id: Uuid) -> Result<Option<Uuid>, DomainError> {
        if let Some(g) = self.group_cache.get(&machine_id).await {
            return Ok(g);
        }
        let g = machines::Entity::find_by_id(machine_id)
            .one(&self.db.conn)
            .await?
            .and_then(|m| m.group_id);
        self.group_cache.insert(machine_id, g).await;
        Ok(g)
    }

    async fn in_scope(&self, scope: Scope, machine_id: Uuid) -> Result<bool, DomainError> {
        Ok(match scope {
            Scope::All => true,
            Scope::Machine(m) => m == machine_id,
            Scope::Group(g) => self.group_of(machine_id).await? == Some(g),
        })
    }

    async fn on_sample(&self, client_id: Uuid, sample: &Collected) -> Result<(), DomainError> {
        let Some(figures) = &sample.figures else {
            return Ok(());
        };
        if let Figures::StorageHealth { failing } = figures {
            return self.on_smart(client_id, sample.machine_id, failing).await;
        }
        let values = conditions::values(figures);
        if values.is_empty() {
            return Ok(());
        }
        let rules = self.active_rules(client_id).await?;
        let relevant: Vec<(&super::rules::Rule, f64)> = rules
            .iter()
            .filter_map(|r| {
                values
                    .iter()
                    .find(|(m, _)| *m == r.model.metric)
                    .map(|(_, v)| (r, *v))
            })
            .collect();
        if relevant.is_empty() {
            return Ok(());
        }
        let machine_id = sample.machine_id;
        let open = self.open(machine_id).await?;
        let mut changed = false;
        for (rule, value) in relevant {
            let is_open = open.contains(&rule.model.id);
            let holds = conditions::holds(rule.model.operator, value, rule.model.threshold);
            if holds && !is_open {
                let key = (rule.model.id, machine_id);
                if self.held_back.contains_key(&key) || !self.in_scope(rule.scope(), machine_id).await? {
                    continue;
                }
                if self.fire(rule, machine_id, value).await?.is_some() {
                    changed = true;
                }
            } else if !holds && is_open && self.resolve(rule, machine_id, value).await? {
                changed = true;
            }
        }
        if changed {
            self.open_cache.invalidate(&machine_id).await;
        }
        Ok(())
    }

    /// "Machine hors ligne" / "Retour en ligne", to every enabled channel
    /// of the tenant. The offline job and the heartbeat path flip
    /// `offline_notified_at` once per transition, so this runs once each.
    async fn on_status(
        &self,
        client_id: Uuid,
        change: &StatusChange,
        alert_type: AlertType,
    ) -> Result<(), DomainError> {
        let Some(machine) = machines::Entity::find_by_id(change.machine_id)
            .filter(machines::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
        else {
            return Ok(());
        };
        if fleet::in_maintenance(&machine, self.clock.now()) {
            return Ok(());
        }
        let client = self.tenant(&self.db.conn, client_id).await?;
        let notice = Notice {
            alert_type,
            language: client.language,
            tenant: client.name.clone(),
            machine: Some(machine_facts(&machine)),
            rule: None,
            resolves: None,
            detail: None,
            at: change.at,
            link: self.link(Some(machine.id)),
        };
        self.broadcast(&client, &notice, None).await?;
        Ok(())
    }

    /// A SMART failure is announced once per set of failing disks; a
    /// healthy report clears the record so a later failure is announced.
    async fn on_smart(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        failing: &[String],
    ) -> Result<(), DomainError> {
        let prefix = format!("smart:{machine_id}:");
        if failing.is_empty() {
            reminders_sent::Entity::delete_many()
                .filter(reminders_sent::Column::Key.starts_with(&prefix))
                .exec(&self.db.conn)
                .await?;
            return Ok(());
        }
        let mut devices = failing.to_vec();
        devices.sort();
        let key: String = format!("{prefix}{}", devices.join(","))
            .chars()
            .take(200)
            .collect();
        let txn = self.db.begin_write().await?;
        if !self.record_once(&txn, key, Some(client_id)).await? {
            return Ok(());
        }
        let Some(machine) = machines::Entity::find_by_id(machine_id).one(&txn).await? else {
            return Ok(());
        };
        if fleet::in_maintenance(&machine, self.clock.now()) {
            txn.commit().await?;
            return Ok(());
        }
        let client = self.tenant(&txn, client_id).await?;
        let notice = Notice {
            alert_type: AlertType::SmartWarning,
            language: client.language,
            tenant: client.name.clone(),
            machine: Some(machine_facts(&machine)),
            rule: None,
            resolves: None,
            detail: Some(devices.join(", ")),
            at: self.clock.now(),
            link: self.link(Some(machine_id)),
        };
        let channels = self.enabled_channels(&txn, client_id, None).await?;
        let queued = self.queue(&txn, &client, &notice, &channels, None).await?;
        txn.commit().await?;
        if !queued.is_empty() {
            self.outbox.wake();
        }
        Ok(())
    }

    /// `offline_minutes` rules, for every tenant: machines marked offline
    /// for longer than a rule's threshold fire it. Run by the offline job
    /// on one instance. Returns how many alerts fired.
    pub async fn evaluate_offline(&self) -> Result<usize, DomainError> {
        let rules = alert_rules::Entity::find()
            .filter(alert_rules::Column::Metric.eq(AlertMetric::OfflineMinutes))
            .filter(alert_rules::Column::Enabled.eq(true))
            .all(&self.db.conn)
            .await?;
        if rules.is_empty() {
            return Ok(0);
        }
        let tenants: HashSet<Uuid> = rules.iter().map(|r| r.client_id).collect();
        let offline = machines::Entity::find()
            .filter(machines::Column::ClientId.is_in(tenants.iter().copied()))
            .filter(machines::Column::OfflineNotifiedAt.is_not_null())
            .all(&self.db.conn)
            .await?;
        let now = self.clock.now();
        let offline: Vec<_> = offline
            .into_iter()
            .filter(|m| !fleet::in_maintenance(m, now))
            .collect();
        if offline.is_empty() {
            return Ok(0);
        }
        let open: HashSet<(Uuid, Uuid)> = alert_rule_history::Entity::find()
            .filter(alert_rule_history::Column::Metric.eq(AlertMetric::OfflineMinutes))
            .filter(alert_rule_history::Column::ResolvedAt.is_null())
            .all(&self.db.conn)
            .await?
            .into_iter()
            .filter_map(|a| Some((a.rule_id?, a.machine_id)))
            .collect();
        let mut fired = 0;
        for rule in self.with_channels(rules).await? {
            let model = &rule.model;
            for m in offline.iter().filter(|m| m.client_id == model.client_id) {
                let in_scope = match rule.scope() {
                    Scope::All => true,
                    Scope::Machine(id) => id == m.id,
                    Scope::Group(g) => m.group_id == Some(g),
                };
                let Some(last_seen) = m.last_seen else {
                    continue;
                };
                if !in_scope || open.contains(&(model.id, m.id)) {
                    continue;
                }
                let minutes = (now - last_seen).num_seconds() as f64 / 60.0;
                if conditions::holds(model.operator, minutes, model.threshold)
                    && self.fire(&rule, m.id, minutes.floor()).await?.is_some()
                {
                    fired += 1;
                }
            }
        }
        Ok(fired)
    }
}

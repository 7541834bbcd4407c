//! Triggers: CRUD, history and stats, and their evaluation on bus events
//! (never by polling). A trigger fires at most once per machine per
//! cooldown of its analysis type: the claim (its row updated, the recent
//! history read, the firing recorded) is one write transaction, so two
//! events on two instances cannot both fire it.

use super::{
    disposition,
    spec::{check_name, check_trigger, TriggerActions, TriggerConditions, TriggerType},
    Automation, Disposition, DEFAULT_HISTORY, MAX_HISTORY, MAX_PER_TENANT,
};
use crate::domain::{
    activity::{Category, Entry, Level, RequestMeta},
    analysis::service::{Origin, RunRequest},
    auth::Principal,
    licensing::Feature,
    live::{Figures, LiveEvent, Status},
    DomainError,
};
use chrono::{DateTime, Duration, Utc};
use entities::{ai_trigger_history, ai_triggers, machines};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct TriggerInput {
    pub name: Option<String>,
    pub trigger_type: String,
    pub enabled: bool,
    pub conditions: TriggerConditions,
    pub actions: TriggerActions,
}

/// A stored trigger, its JSON read.
#[derive(Clone, Debug)]
pub struct Trigger {
    pub model: ai_triggers::Model,
    pub kind: TriggerType,
    pub conditions: TriggerConditions,
    pub actions: TriggerActions,
}

impl Trigger {
    fn read(model: ai_triggers::Model) -> Option<Self> {
        Some(Self {
            kind: TriggerType::parse(&model.trigger_type)?,
            conditions: serde_json::from_value(model.conditions.clone()).ok()?,
            actions: serde_json::from_value(model.actions.clone()).ok()?,
            model,
        })
    }
}

/// `triggerStats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TriggerStats {
    pub total: u64,
    pub enabled: u64,
    pub last_24h_triggers: u64,
}

/// What an event says about one machine, as triggers read it.
#[derive(Clone, Debug, PartialEq)]
pub enum Signal {
    Enrolled,
    /// Silent for this many minutes (None: since the machine's last
    /// heartbeat, read when the trigger is evaluated).
    Offline(Option<f64>),
    Cpu(f64),
    Health {
        previous: i32,
        score: i32,
    },
}

/// Why `trigger` fires on `signal`, or None. Pure: the rules of each type.
pub fn matches(trigger: &Trigger, signal: &Signal) -> Option<String> {
    let c = &trigger.conditions;
    match (trigger.kind, signal) {
        (TriggerType::NewMachine, Signal::Enrolled) => Some("New machine enrolled".into()),
        (TriggerType::CriticalMachine, Signal::Cpu(v)) => c
            .cpu_above
            .filter(|t| v > t)
            .map(|t| format!("CPU {v:.1}% above {t}%")),
        (TriggerType::CriticalMachine, Signal::Offline(Some(m))) => c
            .offline_minutes
            .filter(|t| *m >= f64::from(*t))
            .map(|t| format!("Offline for {} minutes (threshold {t})", m.floor())),
        (TriggerType::CriticalMachine, Signal::Health { previous, score }) => c
            .health_score_below
            .filter(|t| score < t && previous >= t)
            .map(|t| format!("Health score {score} below {t}")),
        (TriggerType::Degradation, Signal::Health { previous, score }) => {
            let drop = c.score_drop.unwrap_or(super::spec::DEFAULT_SCORE_DROP);
            let fell = previous - score >= drop;
            let below = c.health_score_below.is_none_or(|t| *score < t);
            (fell && below).then(|| format!("Health score fell from {previous} to {score}"))
        }
        _ => None,
    }
}

/// The machine and signal an event carries, for the types that react to it.
fn signal(event: &LiveEvent) -> Option<(Uuid, Uuid, Signal, DateTime<Utc>)> {
    match event {
        LiveEvent::MachineStatus { client_id, change } => match change.status {
            Status::Enrolled => Some((*client_id, change.machine_id, Signal::Enrolled, change.at)),
            Status::Offline if !change.after_offline => {
                Some((*client_id, change.machine_id, Signal::Offline(None), change.at))
            }
            _ => None,
        },
        LiveEvent::MachineCollect { client_id, sample } => match &sample.figures {
            Some(Figures::Metrics { cpu_percent, .. }) => Some((
                *client_id,
                sample.machine_id,
                Signal::Cpu(*cpu_percent),
                sample.collected_at,
            )),
            _ => None,
        },
        // An offline-minutes alert rule measured the silence itself.
        LiveEvent::AlertFired { client_id, alert } if alert.alert_type == "machine_offline" => Some((
            *client_id,
            alert.machine_id?,
            Signal::Offline(Some(alert.triggered_value)),
            alert.at,
        )),
        LiveEvent::HealthScore { client_id, change } => Some((
            *client_id,
            change.machine_id,
            Signal::Health {
                previous: change.previous,
                score: change.score,
            },
            change.at,
        )),
        _ => None,
    }
}

fn check_type(code: &str) -> Result<TriggerType, DomainError> {
    TriggerType::parse(code.trim()).ok_or_else(|| {
        DomainError::invalid(
            "triggerType",
            format!(
                "must be one of {}",
                TriggerType::ALL.map(TriggerType::code).join(", ")
            ),
        )
    })
}

impl Automation {
    async fn checked_trigger(
        &self,
        client_id: Uuid,
        input: TriggerInput,
    ) -> Result<(String, TriggerType, TriggerConditions, TriggerActions), DomainError> {
        let kind = check_type(&input.trigger_type)?;
        let name = match input.name.as_deref() {
            Some(n) => check_name(n)?,
            None => kind.code().to_owned(),
        };
        let (conditions, actions) = check_trigger(kind, input.conditions, input.actions)?;
        self.check_channels(client_id, "actions.notifyChannels", &actions.notify_channels)
            .await?;
        Ok((name, kind, conditions, actions))
    }

    async fn owned_trigger(&self, client_id: Uuid, id: Uuid) -> Result<ai_triggers::Model, DomainError> {
        ai_triggers::Entity::find_by_id(id)
            .filter(ai_triggers::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("trigger"))
    }

    pub async fn triggers(&self, actor: &Principal) -> Result<Vec<ai_triggers::Model>, DomainError> {
        self.gate(actor).await?;
        Ok(ai_triggers::Entity::find()
            .filter(ai_triggers::Column::ClientId.eq(actor.client_id))
            .order_by_asc(ai_triggers::Column::CreatedAt)
            .order_by_asc(ai_triggers::Column::Id)
            .all(&self.db.conn)
            .await?)
    }

    pub async fn trigger(&self, actor: &Principal, id: Uuid) -> Result<ai_triggers::Model, DomainError> {
        self.gate(actor).await?;
        self.owned_trigger(actor.client_id, id).await
    }

    pub async fn create_trigger(
        &self,
        actor: &Principal,
        input: TriggerInput,
        meta: &RequestMeta,
    ) -> Result<ai_triggers::Model, DomainError> {
        self.gate(actor).await?;
        let enabled = input.enabled;
        let (name, kind, conditions, actions) = self.checked_trigger(actor.client_id, input).await?;
        let count = ai_triggers::Entity::find()
            .filter(ai_triggers::Column::ClientId.eq(actor.client_id))
            .count(&self.db.conn)
            .await?;
        if count >= MAX_PER_TENANT {
            return Err(DomainError::Conflict(format!(
                "at most {MAX_PER_TENANT} triggers per tenant"
            )));
        }
        let now = self.clock.now();
        let trigger = ai_triggers::Entity::insert(ai_triggers::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(actor.client_id),
            name: Set(name),
            trigger_type: Set(kind.code().to_owned()),
            enabled: Set(enabled),
            conditions: Set(json!(conditions)),
            actions: Set(json!(actions)),
            last_triggered_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_with_returning(&self.db.conn)
        .await?;
        self.trigger_cache.invalidate(&actor.client_id).await;
        self.log_trigger(actor, "Trigger IA créé", &trigger, meta).await;
        Ok(trigger)
    }

    pub async fn update_trigger(
        &self,
        actor: &Principal,
        id: Uuid,
        input: TriggerInput,
        meta: &RequestMeta,
    ) -> Result<ai_triggers::Model, DomainError> {
        self.gate(actor).await?;
        let current = self.owned_trigger(actor.client_id, id).await?;
        let enabled = input.enabled;
        let (name, kind, conditions, actions) = self.checked_trigger(actor.client_id, input).await?;
        let mut model: ai_triggers::ActiveModel = current.into();
        model.name = Set(name);
        model.trigger_type = Set(kind.code().to_owned());
        model.enabled = Set(enabled);
        model.conditions = Set(json!(conditions));
        model.actions = Set(json!(actions));
        model.updated_at = Set(self.clock.now());
        let trigger = model.update(&self.db.conn).await?;
        self.trigger_cache.invalidate(&actor.client_id).await;
        self.log_trigger(actor, "Trigger IA modifié", &trigger, meta)
            .await;
        Ok(trigger)
    }

    pub async fn delete_trigger(
        &self,
        actor: &Principal,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        self.gate(actor).await?;
        let trigger = self.owned_trigger(actor.client_id, id).await?;
        ai_triggers::Entity::delete_by_id(id)
            .filter(ai_triggers::Column::ClientId.eq(actor.client_id))
            .exec(&self.db.conn)
            .await?;
        self.trigger_cache.invalidate(&actor.client_id).await;
        self.log_trigger(actor, "Trigger IA supprimé", &trigger, meta)
            .await;
        Ok(())
    }

    async fn log_trigger(
        &self,
        actor: &Principal,
        message: &str,
        t: &ai_triggers::Model,
        meta: &RequestMeta,
    ) {
        let entry = Entry::new(Level::Info, Category::System, message)
            .client(actor.client_id)
            .by(actor.user_id)
            .metadata(json!({
                "trigger_id": t.id, "name": t.name, "trigger_type": t.trigger_type, "enabled": t.enabled,
            }));
        self.activity.record(entry, meta).await;
    }

    /// The trigger's firings, newest first (`first`: 20 by default, 100 at most).
    pub async fn trigger_history(
        &self,
        actor: &Principal,
        id: Uuid,
        first: Option<u64>,
    ) -> Result<Vec<ai_trigger_history::Model>, DomainError> {
        self.gate(actor).await?;
        self.owned_trigger(actor.client_id, id).await?;
        let first = first.unwrap_or(DEFAULT_HISTORY).clamp(1, MAX_HISTORY);
        Ok(ai_trigger_history::Entity::find()
            .filter(ai_trigger_history::Column::TriggerId.eq(id))
            .filter(ai_trigger_history::Column::ClientId.eq(actor.client_id))
            .order_by_desc(ai_trigger_history::Column::TriggeredAt)
            .order_by_desc(ai_trigger_history::Column::Id)
            .limit(first)
            .all(&self.db.conn)
            .await?)
    }

    /// The newest firing of each trigger listed (two queries), for the overview.
    pub async fn last_trigger_firings(
        &self,
        client_id: Uuid,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, ai_trigger_history::Model>, DomainError> {
        use ai_trigger_history::Column as C;
        let rows = super::latest_per_parent::<ai_trigger_history::Entity>(
            &self.db,
            (C::ClientId, C::TriggerId, C::TriggeredAt),
            client_id,
            ids,
        )
        .await?;
        Ok(rows.into_iter().map(|r| (r.trigger_id, r)).collect())
    }

    pub async fn trigger_stats(&self, actor: &Principal) -> Result<TriggerStats, DomainError> {
        self.gate(actor).await?;
        let client_id = actor.client_id;
        let base = || ai_triggers::Entity::find().filter(ai_triggers::Column::ClientId.eq(client_id));
        let since = self.clock.now() - Duration::hours(24);
        let (total, enabled, fired) = futures::try_join!(
            base().count(&self.db.conn),
            base()
                .filter(ai_triggers::Column::Enabled.eq(true))
                .count(&self.db.conn),
            ai_trigger_history::Entity::find()
                .filter(ai_trigger_history::Column::ClientId.eq(client_id))
                .filter(ai_trigger_history::Column::TriggeredAt.gte(since))
                .count(&self.db.conn),
        )?;
        Ok(TriggerStats {
            total,
            enabled,
            last_24h_triggers: fired,
        })
    }

    /// The tenant's enabled triggers, from the cache.
    async fn active_triggers(&self, client_id: Uuid) -> Result<Arc<Vec<Trigger>>, DomainError> {
        if let Some(t) = self.trigger_cache.get(&client_id).await {
            return Ok(t);
        }
        let list: Vec<Trigger> = ai_triggers::Entity::find()
            .filter(ai_triggers::Column::ClientId.eq(client_id))
            .filter(ai_triggers::Column::Enabled.eq(true))
            .order_by_asc(ai_triggers::Column::CreatedAt)
            .order_by_asc(ai_triggers::Column::Id)
            .all(&self.db.conn)
            .await?
            .into_iter()
            .filter_map(Trigger::read)
            .collect();
        let list = Arc::new(list);
        self.trigger_cache.insert(client_id, list.clone()).await;
        Ok(list)
    }

    /// Reacts to one bus event: every enabled trigger of the tenant the
    /// event's signal matches fires on its machine, oldest trigger first.
    /// Returns how many fired.
    pub async fn handle(&self, event: &LiveEvent) -> Result<usize, DomainError> {
        let Some((client_id, machine_id, mut signal, at)) = signal(event) else {
            return Ok(0);
        };
        let triggers = self.active_triggers(client_id).await?;
        if triggers.is_empty() {
            return Ok(0);
        }
        let Some(machine) = machines::Entity::find_by_id(machine_id)
            .filter(machines::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
        else {
            return Ok(0);
        };
        if let (Signal::Offline(None), Some(seen)) = (&signal, machine.last_seen) {
            signal = Signal::Offline(Some((at - seen).num_seconds().max(0) as f64 / 60.0));
        }
        let candidates: Vec<(&Trigger, String)> = triggers
            .iter()
            .filter_map(|t| matches(t, &signal).map(|why| (t, why)))
            .collect();
        if candidates.is_empty() {
            return Ok(0);
        }
        let licence = self.licensing.of(client_id).await?;
        if !licence.is_active() || licence.require(Feature::AiAutomation).is_err() {
            return Ok(0);
        }
        let mut fired = 0;
        for (trigger, why) in candidates {
            // A machine pegged at 100 % CPU matches on every sample: once a
            // claim was made or refused, the next minute's are not retried.
            let key = (trigger.model.id, machine.id);
            if self.held_back.contains_key(&key) {
                continue;
            }
            self.held_back.insert(key, ()).await;
            if self.fire(trigger, &machine, why).await? {
                fired += 1;
            }
        }
        Ok(fired)
    }

    /// Claims the firing (once per machine per cooldown), runs the analysis
    /// and records the outcome; false when the cooldown held it back.
    async fn fire(
        &self,
        trigger: &Trigger,
        machine: &machines::Model,
        why: String,
    ) -> Result<bool, DomainError> {
        let kind = trigger.actions.kind();
        let now = self.clock.now();
        let cooldown = Duration::from_std(kind.cooldown()).unwrap_or(Duration::minutes(30));
        let txn = self.db.begin_write().await?;
        // Updating the trigger's row first serialises concurrent claims of
        // it on PostgreSQL: the second waits, then reads the first's row.
        let touched = ai_triggers::Entity::update_many()
            .col_expr(ai_triggers::Column::LastTriggeredAt, Expr::value(Some(now)))
            .filter(ai_triggers::Column::Id.eq(trigger.model.id))
            .filter(ai_triggers::Column::Enabled.eq(true))
            .exec(&txn)
            .await?
            .rows_affected;
        let recent = if touched == 1 {
            ai_trigger_history::Entity::find()
                .filter(ai_trigger_history::Column::TriggerId.eq(trigger.model.id))
                .filter(ai_trigger_history::Column::MachineId.eq(machine.id))
                .filter(ai_trigger_history::Column::TriggeredAt.gt(now - cooldown))
                .count(&txn)
                .await?
        } else {
            0
        };
        if touched != 1 || recent > 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        let history_id = Uuid::now_v7();
        ai_trigger_history::Entity::insert(ai_trigger_history::ActiveModel {
            id: Set(history_id),
            trigger_id: Set(trigger.model.id),
            client_id: Set(trigger.model.client_id),
            triggered_at: Set(now),
            machine_id: Set(Some(machine.id)),
            machine_hostname: Set(machine.hostname.chars().take(255).collect()),
            trigger_reason: Set(why.chars().take(255).collect()),
            analysis_id: Set(None),
            status: Set("running".into()),
            error: Set(None),
        })
        .exec(&txn)
        .await?;
        txn.commit().await?;
        let result = self
            .analyses
            .run(RunRequest {
                client_id: trigger.model.client_id,
                machine_id: machine.id,
                kind,
                language: None,
                origin: Origin::Trigger {
                    trigger_id: trigger.model.id,
                },
            })
            .await;
        let (status, analysis, error) = match &result {
            Ok(a) => ("success", Some(a.id), None),
            Err(e) => match disposition(e) {
                Disposition::Skipped | Disposition::Stop => ("refused", None, Some(super::reason(e))),
                Disposition::Failed => {
                    e.log("trigger analysis");
                    ("failed", None, Some(super::reason(e)))
                }
            },
        };
        ai_trigger_history::Entity::update_many()
            .col_expr(ai_trigger_history::Column::Status, Expr::value(status))
            .col_expr(ai_trigger_history::Column::AnalysisId, Expr::value(analysis))
            .col_expr(ai_trigger_history::Column::Error, Expr::value(error))
            .filter(ai_trigger_history::Column::Id.eq(history_id))
            .exec(&self.db.conn)
            .await?;
        if let Ok(analysis) = &result {
            if let Err(e) = self.deliver_trigger(trigger, machine, &why, analysis).await {
                e.log("trigger notification");
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(kind: TriggerType, conditions: TriggerConditions) -> Trigger {
        Trigger {
            model: ai_triggers::Model {
                id: Uuid::nil(),
                client_id: Uuid::nil(),
                name: "t".into(),
                trigger_type: kind.code().into(),
                enabled: true,
                conditions: json!({}),
                actions: json!({}),
                last_triggered_at: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            },
            kind,
            conditions,
            actions: TriggerActions {
                analysis_type: "full".into(),
                notify_channels: vec![],
            },
        }
    }

    #[test]
    fn each_type_reads_its_own_signals() {
        let critical = trigger(
            TriggerType::CriticalMachine,
            TriggerConditions {
                health_score_below: Some(50),
                offline_minutes: Some(15),
                cpu_above: Some(95.0),
                score_drop: None,
            },
        );
        assert!(matches(&critical, &Signal::Cpu(96.0)).is_some());
        assert!(matches(&critical, &Signal::Cpu(95.0)).is_none(), "above, not at");
        assert!(matches(&critical, &Signal::Offline(Some(14.9))).is_none());
        assert!(matches(&critical, &Signal::Offline(Some(15.0))).is_some());
        assert!(
            matches(&critical, &Signal::Offline(None)).is_none(),
            "minutes unknown"
        );
        assert!(matches(
            &critical,
            &Signal::Health {
                previous: 55,
                score: 49
            }
        )
        .is_some());
        assert!(
            matches(
                &critical,
                &Signal::Health {
                    previous: 45,
                    score: 40
                }
            )
            .is_none(),
            "already below: the crossing fired"
        );
        assert!(matches(&critical, &Signal::Enrolled).is_none());

        let new = trigger(TriggerType::NewMachine, TriggerConditions::default());
        assert!(matches(&new, &Signal::Enrolled).is_some());
        assert!(matches(&new, &Signal::Cpu(100.0)).is_none());

        let degradation = trigger(TriggerType::Degradation, TriggerConditions::default());
        assert!(matches(
            &degradation,
            &Signal::Health {
                previous: 90,
                score: 76
            }
        )
        .is_none());
        assert!(matches(
            &degradation,
            &Signal::Health {
                previous: 90,
                score: 75
            }
        )
        .is_some());
        assert!(matches(
            &degradation,
            &Signal::Health {
                previous: 60,
                score: 80
            }
        )
        .is_none());
    }
}

//! Alert rules: a threshold on one metric over all machines, one machine or
//! one group, notifying a list of channels. Evaluation reads the tenant's
//! rules from an in-process cache, dropped here on every change.

use super::{conditions, Alerting};
use crate::domain::{
    activity::{Category, Entry, Level, RequestMeta},
    auth::Principal,
    DomainError,
};
use chrono::Utc;
use entities::{
    alert_rule_channels, alert_rules, client_settings,
    enums::{AlertMetric, AlertOperator, Severity},
    groups, machines, notification_channels,
};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::json;
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

pub const MAX_NAME: usize = 100;
/// Rules one tenant may have.
pub const MAX_RULES: u64 = 500;
/// Channels one rule may notify.
pub const MAX_RULE_CHANNELS: usize = 20;

/// Which machines a rule watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    All,
    Machine(Uuid),
    Group(Uuid),
}

/// What an admin gives for a rule (create, or replace on update).
#[derive(Clone, Debug)]
pub struct RuleInput {
    pub name: String,
    pub metric: AlertMetric,
    pub operator: AlertOperator,
    pub threshold: f64,
    pub severity: Severity,
    pub enabled: bool,
    pub cooldown_minutes: Option<i32>,
    pub machine_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
    pub channel_ids: Vec<Uuid>,
}

/// A rule with its channels, as evaluation and reads use it.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub model: alert_rules::Model,
    pub channel_ids: Vec<Uuid>,
}

impl Rule {
    pub fn scope(&self) -> Scope {
        match (self.model.machine_id, self.model.group_id) {
            (Some(m), _) => Scope::Machine(m),
            (None, Some(g)) => Scope::Group(g),
            (None, None) => Scope::All,
        }
    }
}

fn check_name(name: &str) -> Result<String, DomainError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "name",
            format!("must be 1-{MAX_NAME} printable characters"),
        ));
    }
    Ok(n.to_owned())
}

impl Alerting {
    /// Checks an input against the tenant: its machine, group and channels
    /// must be the caller's own.
    async fn checked(
        &self,
        client_id: Uuid,
        input: &RuleInput,
    ) -> Result<(String, i32, Vec<Uuid>), DomainError> {
        let name = check_name(&input.name)?;
        conditions::check_threshold(input.metric, input.threshold)?;
        let cooldown = conditions::check_cooldown(input.cooldown_minutes)?;
        if input.machine_id.is_some() && input.group_id.is_some() {
            return Err(DomainError::invalid(
                "groupId",
                "a rule watches one machine or one group, not both",
            ));
        }
        if let Some(m) = input.machine_id {
            let owned = machines::Entity::find_by_id(m)
                .filter(machines::Column::ClientId.eq(client_id))
                .count(&self.db.conn)
                .await?;
            if owned == 0 {
                return Err(DomainError::invalid("machineId", "is not one of your machines"));
            }
        }
        if let Some(g) = input.group_id {
            let owned = groups::Entity::find_by_id(g)
                .filter(groups::Column::ClientId.eq(client_id))
                .count(&self.db.conn)
                .await?;
            if owned == 0 {
                return Err(DomainError::invalid("groupId", "is not one of your groups"));
            }
        }
        let mut channels = input.channel_ids.clone();
        channels.sort();
        channels.dedup();
        if channels.len() > MAX_RULE_CHANNELS {
            return Err(DomainError::invalid(
                "channelIds",
                format!("at most {MAX_RULE_CHANNELS} channels"),
            ));
        }
        if !channels.is_empty() {
            let owned = notification_channels::Entity::find()
                .filter(notification_channels::Column::ClientId.eq(client_id))
                .filter(notification_channels::Column::Id.is_in(channels.clone()))
                .count(&self.db.conn)
                .await?;
            if owned as usize != channels.len() {
                return Err(DomainError::invalid("channelIds", "must all be your channels"));
            }
        }
        Ok((name, cooldown, channels))
    }

    /// The tenant's rules with their channels, oldest first.
    pub async fn rules(&self, client_id: Uuid) -> Result<Vec<Rule>, DomainError> {
        let rules = alert_rules::Entity::find()
            .filter(alert_rules::Column::ClientId.eq(client_id))
            .order_by_asc(alert_rules::Column::CreatedAt)
            .order_by_asc(alert_rules::Column::Id)
            .all(&self.db.conn)
            .await?;
        self.with_channels(rules).await
    }

    /// Rules with their channels, in one query for the whole list.
    pub(super) async fn with_channels(
        &self,
        rules: Vec<alert_rules::Model>,
    ) -> Result<Vec<Rule>, DomainError> {
        let links = if rules.is_empty() {
            Vec::new()
        } else {
            alert_rule_channels::Entity::find()
                .filter(alert_rule_channels::Column::RuleId.is_in(rules.iter().map(|r| r.id)))
                .all(&self.db.conn)
                .await?
        };
        let mut by_rule: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for l in links {
            by_rule.entry(l.rule_id).or_default().push(l.channel_id);
        }
        Ok(rules
            .into_iter()
            .map(|model| Rule {
                channel_ids: by_rule.remove(&model.id).unwrap_or_default(),
                model,
            })
            .collect())
    }

    pub async fn rule(&self, client_id: Uuid, id: Uuid) -> Result<Rule, DomainError> {
        let model = alert_rules::Entity::find_by_id(id)
            .filter(alert_rules::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("alert rule"))?;
        let channel_ids = alert_rule_channels::Entity::find()
            .filter(alert_rule_channels::Column::RuleId.eq(id))
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(|l| l.channel_id)
            .collect();
        Ok(Rule { model, channel_ids })
    }

    /// The enabled rules evaluation applies, cached per tenant.
    pub(super) async fn active_rules(&self, client_id: Uuid) -> Result<Arc<Vec<Rule>>, DomainError> {
        if let Some(cached) = self.rule_cache.get(&client_id).await {
            return Ok(cached);
        }
        let rules: Vec<Rule> = self
            .rules(client_id)
            .await?
            .into_iter()
            .filter(|r| r.model.enabled)
            .collect();
        let rules = Arc::new(rules);
        self.rule_cache.insert(client_id, rules.clone()).await;
        Ok(rules)
    }

    /// Drops this instance's cached rules of a tenant. Other instances
    /// pick a change up within the cache's time to live.
    pub(super) async fn rules_changed(&self, client_id: Uuid) {
        self.rule_cache.invalidate(&client_id).await;
    }

    /// A new rule without a cooldown or channels takes the tenant's
    /// defaults (`updateSettings`); a default channel deleted since is left
    /// out.
    async fn with_tenant_defaults(
        &self,
        client_id: Uuid,
        mut input: RuleInput,
    ) -> Result<RuleInput, DomainError> {
        if input.cooldown_minutes.is_some() && !input.channel_ids.is_empty() {
            return Ok(input);
        }
        let Some(settings) = client_settings::Entity::find_by_id(client_id)
            .one(&self.db.conn)
            .await?
        else {
            return Ok(input);
        };
        input.cooldown_minutes = input.cooldown_minutes.or(Some(settings.default_cooldown_minutes));
        let defaults: Vec<Uuid> = serde_json::from_value(settings.default_channel_ids).unwrap_or_default();
        if input.channel_ids.is_empty() && !defaults.is_empty() {
            input.channel_ids = notification_channels::Entity::find()
                .filter(notification_channels::Column::ClientId.eq(client_id))
                .filter(notification_channels::Column::Id.is_in(defaults))
                .all(&self.db.conn)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect();
        }
        Ok(input)
    }

    pub async fn create_rule(
        &self,
        actor: &Principal,
        input: RuleInput,
        meta: &RequestMeta,
    ) -> Result<Rule, DomainError> {
        let input = self.with_tenant_defaults(actor.client_id, input).await?;
        let (name, cooldown, channels) = self.checked(actor.client_id, &input).await?;
        let count = alert_rules::Entity::find()
            .filter(alert_rules::Column::ClientId.eq(actor.client_id))
            .count(&self.db.conn)
            .await?;
        if count >= MAX_RULES {
            return Err(DomainError::Conflict(format!(
                "this tenant already has {MAX_RULES} alert rules"
            )));
        }
        let now = Utc::now();
        let id = Uuid::now_v7();
        let txn = self.db.begin_write().await?;
        alert_rules::Entity::insert(alert_rules::ActiveModel {
            id: Set(id),
            client_id: Set(actor.client_id),
            name: Set(name),
            metric: Set(input.metric),
            operator: Set(input.operator),
            threshold: Set(input.threshold),
            severity: Set(input.severity),
            enabled: Set(input.enabled),
            cooldown_minutes: Set(cooldown),
            machine_id: Set(input.machine_id),
            group_id: Set(input.group_id),
            created_by: Set(actor.user_id),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec(&txn)
        .await?;
        link_channels(&txn, id, &channels).await?;
        txn.commit().await?;
        self.rules_changed(actor.client_id).await;
        let rule = self.rule(actor.client_id, id).await?;
        self.log_rule(actor, "Règle d'alerte créée", &rule, meta).await;
        Ok(rule)
    }

    /// Replaces every setting of the rule (the spec's PUT).
    pub async fn update_rule(
        &self,
        actor: &Principal,
        id: Uuid,
        input: RuleInput,
        meta: &RequestMeta,
    ) -> Result<Rule, DomainError> {
        let current = self.rule(actor.client_id, id).await?;
        let (name, cooldown, channels) = self.checked(actor.client_id, &input).await?;
        let mut active: alert_rules::ActiveModel = current.model.into();
        active.name = Set(name);
        active.metric = Set(input.metric);
        active.operator = Set(input.operator);
        active.threshold = Set(input.threshold);
        active.severity = Set(input.severity);
        active.enabled = Set(input.enabled);
        active.cooldown_minutes = Set(cooldown);
        active.machine_id = Set(input.machine_id);
        active.group_id = Set(input.group_id);
        active.updated_at = Set(Utc::now());
        let txn = self.db.begin_write().await?;
        alert_rules::Entity::update(active).exec(&txn).await?;
        alert_rule_channels::Entity::delete_many()
            .filter(alert_rule_channels::Column::RuleId.eq(id))
            .exec(&txn)
            .await?;
        link_channels(&txn, id, &channels).await?;
        txn.commit().await?;
        self.rules_changed(actor.client_id).await;
        let rule = self.rule(actor.client_id, id).await?;
        self.log_rule(actor, "Règle d'alerte modifiée", &rule, meta).await;
        Ok(rule)
    }

    /// Its history stays, under the rule's name.
    pub async fn delete_rule(
        &self,
        actor: &Principal,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        let rule = self.rule(actor.client_id, id).await?;
        alert_rules::Entity::delete_many()
            .filter(alert_rules::Column::Id.eq(id))
            .filter(alert_rules::Column::ClientId.eq(actor.client_id))
            .exec(&self.db.conn)
            .await?;
        self.rules_changed(actor.client_id).await;
        self.log_rule(actor, "Règle d'alerte supprimée", &rule, meta)
            .await;
        Ok(())
    }

    async fn log_rule(&self, actor: &Principal, message: &str, rule: &Rule, meta: &RequestMeta) {
        let entry = Entry::new(Level::Info, Category::System, message)
            .client(actor.client_id)
            .by(actor.user_id)
            .metadata(json!({ "rule_id": rule.model.id, "name": rule.model.name }));
        self.activity.record(entry, meta).await;
    }
}

async fn link_channels(
    txn: &impl sea_orm::ConnectionTrait,
    rule_id: Uuid,
    channels: &[Uuid],
) -> Result<(), DomainError> {
    if channels.is_empty() {
        return Ok(());
    }
    alert_rule_channels::Entity::insert_many(channels.iter().map(|c| alert_rule_channels::ActiveModel {
        rule_id: Set(rule_id),
        channel_id: Set(*c),
    }))
    .exec(txn)
    .await?;
    Ok(())
}

//! Collection intervals per scope and their resolution for one machine:
//! machine > label > group > tenant-wide setting > built-in default, each
//! collector resolved on its own, higher `priority` first within a scope,
//! and the result clamped to the collector's bounds.

use crate::domain::{
    activity::{ActivityLog, Category, Entry, Level, RequestMeta},
    auth::Principal,
    collectors::Collector,
    DomainError,
};
use crate::infra::db::Database;
use chrono::{DateTime, Utc};
use entities::{collection_settings, groups, labels, machine_labels, machines};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Longest interval accepted as input (a week); bounds apply on top.
const MAX_INPUT_SECONDS: i32 = 7 * 24 * 3600;
/// A tenant keeps at most this many settings.
const MAX_SETTINGS: u64 = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Client,
    Group,
    Label,
    Machine,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Group => "group",
            Self::Label => "label",
            Self::Machine => "machine",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "machine" => Self::Machine,
            "label" => Self::Label,
            "group" => Self::Group,
            _ => Self::Client,
        }
    }
}

/// Where an effective value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Default,
    Setting(Scope),
}

impl Source {
    /// The spec's names: default, client_setting, group_setting, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Setting(Scope::Client) => "client_setting",
            Self::Setting(Scope::Group) => "group_setting",
            Self::Setting(Scope::Label) => "label_setting",
            Self::Setting(Scope::Machine) => "machine_setting",
        }
    }
}

/// A setting as stored, decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub id: Uuid,
    pub client_id: Uuid,
    pub name: String,
    pub priority: i32,
    pub scope: Scope,
    pub machine_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
    pub label_id: Option<Uuid>,
    pub intervals: BTreeMap<Collector, i32>,
    pub disabled: Vec<Collector>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<collection_settings::Model> for Setting {
    fn from(m: collection_settings::Model) -> Self {
        let intervals = m
            .intervals
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| Some((Collector::parse(k)?, v.as_i64()? as i32)))
                    .collect()
            })
            .unwrap_or_default();
        let disabled = m
            .disabled
            .as_array()
            .map(|a| a.iter().filter_map(|v| Collector::parse(v.as_str()?)).collect())
            .unwrap_or_default();
        Self {
            id: m.id,
            client_id: m.client_id,
            name: m.name,
            priority: m.priority,
            scope: Scope::parse(&m.scope),
            machine_id: m.machine_id,
            group_id: m.group_id,
            label_id: m.label_id,
            intervals,
            disabled,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// What a tenant admin submits; at most one of the three targets (none:
/// the whole tenant).
#[derive(Clone, Debug, Default)]
pub struct SettingInput {
    pub name: String,
    pub priority: i32,
    pub machine_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
    pub label_id: Option<Uuid>,
    pub intervals: Vec<(Collector, i32)>,
    pub disabled: Vec<Collector>,
}

/// One collector's effective configuration for a machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub collector: Collector,
    pub enabled: bool,
    pub interval: i32,
    pub source: Source,
    pub setting_id: Option<Uuid>,
}

/// All eight, plus the most specific setting that contributed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectiveIntervals {
    pub machine_id: Uuid,
    pub collectors: Vec<Effective>,
    pub source: Source,
    pub setting_id: Option<Uuid>,
    pub setting_name: Option<String>,
}

/// Resolves the effective configuration from the settings that apply to
/// one machine (any order).
pub fn resolve(machine_id: Uuid, mut applicable: Vec<Setting>) -> EffectiveIntervals {
    // Most specific scope first, then priority, then the latest edit.
    applicable.sort_by_key(|s| std::cmp::Reverse((s.scope, s.priority, s.updated_at)));
    let mut top: Option<&Setting> = None;
    let collectors = Collector::ALL
        .into_iter()
        .map(|c| {
            let interval_from = applicable.iter().find(|s| s.intervals.contains_key(&c));
            let switch_from = applicable
                .iter()
                .find(|s| s.intervals.contains_key(&c) || s.disabled.contains(&c));
            for s in [interval_from, switch_from].into_iter().flatten() {
                if top.is_none_or(|t| (s.scope, s.priority) > (t.scope, t.priority)) {
                    top = Some(s);
                }
            }
            Effective {
                collector: c,
                enabled: switch_from.is_none_or(|s| !s.disabled.contains(&c)),
                interval: interval_from.map_or(c.bounds().default, |s| c.clamp(i64::from(s.intervals[&c]))),
                source: interval_from.map_or(Source::Default, |s| Source::Setting(s.scope)),
                setting_id: interval_from.map(|s| s.id),
            }
        })
        .collect();
    EffectiveIntervals {
        machine_id,
        collectors,
        source: top.map_or(Source::Default, |s| Source::Setting(s.scope)),
        setting_id: top.map(|s| s.id),
        setting_name: top.map(|s| s.name.clone()),
    }
}

fn to_json(input: &SettingInput) -> (Value, Value) {
    let intervals: serde_json::Map<String, Value> = input
        .intervals
        .iter()
        .map(|(c, s)| (c.name().to_owned(), json!(s)))
        .collect();
    let disabled: Vec<Value> = input.disabled.iter().map(|c| json!(c.name())).collect();
    (Value::Object(intervals), Value::Array(disabled))
}

#[derive(Clone)]
pub struct CollectionSettings {
    db: Database,
    activity: ActivityLog,
}

impl CollectionSettings {
    pub fn new(db: Database, activity: ActivityLog) -> Self {
        Self { db, activity }
    }

    async fn log(&self, actor: &Principal, meta: &RequestMeta, message: &str, id: Uuid, name: &str) {
        let entry = Entry::new(Level::Info, Category::Machine, format!("{message} : {name}"))
            .client(actor.client_id)
            .metadata(json!({ "setting_id": id, "name": name }))
            .by(actor.user_id);
        self.activity.record(entry, meta).await;
    }

    pub async fn list(&self, client_id: Uuid) -> Result<Vec<Setting>, DomainError> {
        Ok(collection_settings::Entity::find()
            .filter(collection_settings::Column::ClientId.eq(client_id))
            .order_by_desc(collection_settings::Column::Priority)
            .order_by_asc(collection_settings::Column::Name)
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn get(&self, client_id: Uuid, id: Uuid) -> Result<Setting, DomainError> {
        Ok(self.row(client_id, id).await?.into())
    }

    async fn row(&self, client_id: Uuid, id: Uuid) -> Result<collection_settings::Model, DomainError> {
        collection_settings::Entity::find_by_id(id)
            .filter(collection_settings::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("collection setting"))
    }

    /// Checks the input and that its target belongs to the tenant.
    async fn validate(&self, client_id: Uuid, input: &SettingInput) -> Result<Scope, DomainError> {
        let name = input.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(DomainError::invalid("name", "must be 1-100 characters"));
        }
        if input.intervals.is_empty() && input.disabled.is_empty() {
            return Err(DomainError::invalid(
                "intervals",
                "give at least one interval or disabled collector",
            ));
        }
        for (i, (c, seconds)) in input.intervals.iter().enumerate() {
            if !(1..=MAX_INPUT_SECONDS).contains(seconds) {
                return Err(DomainError::invalid(
                    format!("intervals[{i}].seconds"),
                    format!("must be 1-{MAX_INPUT_SECONDS} seconds"),
                ));
            }
            if input.intervals[..i].iter().any(|(o, _)| o == c) {
                return Err(DomainError::invalid(
                    format!("intervals[{i}].collector"),
                    format!("{} is given twice", c.name()),
                ));
            }
        }
        let targets = [input.machine_id, input.group_id, input.label_id];
        let scope = match targets.iter().filter(|t| t.is_some()).count() {
            0 => Scope::Client,
            1 if input.machine_id.is_some() => Scope::Machine,
            1 if input.group_id.is_some() => Scope::Group,
            1 => Scope::Label,
            _ => {
                return Err(DomainError::invalid(
                    "machineId",
                    "give at most one of machineId, groupId, labelId",
                ))
            }
        };
        let owned = match scope {
            Scope::Client => true,
            Scope::Machine => machines::Entity::find_by_id(input.machine_id.unwrap_or_default())
                .filter(machines::Column::ClientId.eq(client_id))
                .one(&self.db.conn)
                .await?
                .is_some(),
            Scope::Group => groups::Entity::find_by_id(input.group_id.unwrap_or_default())
                .filter(groups::Column::ClientId.eq(client_id))
                .one(&self.db.conn)
                .await?
                .is_some(),
            Scope::Label => labels::Entity::find_by_id(input.label_id.unwrap_or_default())
                .filter(labels::Column::ClientId.eq(client_id))
                .one(&self.db.conn)
                .await?
                .is_some(),
        };
        if !owned {
            return Err(DomainError::NotFound(match scope {
                Scope::Machine => "machine",
                Scope::Group => "group",
                _ => "label",
            }));
        }
        Ok(scope)
    }

    pub async fn create(
        &self,
        actor: &Principal,
        input: SettingInput,
        meta: &RequestMeta,
    ) -> Result<Setting, DomainError> {
        let client_id = actor.client_id;
        let scope = self.validate(client_id, &input).await?;
        let count = collection_settings::Entity::find()
            .filter(collection_settings::Column::ClientId.eq(client_id))
            .count(&self.db.conn)
            .await?;
        if count >= MAX_SETTINGS {
            return Err(DomainError::Conflict(format!(
                "a tenant keeps at most {MAX_SETTINGS} collection settings"
            )));
        }
        let (intervals, disabled) = to_json(&input);
        let now = Utc::now();
        let id = Uuid::now_v7();
        collection_settings::Entity::insert(collection_settings::ActiveModel {
            id: Set(id),
            client_id: Set(client_id),
            name: Set(input.name.trim().to_owned()),
            priority: Set(input.priority),
            scope: Set(scope.as_str().to_owned()),
            machine_id: Set(input.machine_id),
            group_id: Set(input.group_id),
            label_id: Set(input.label_id),
            intervals: Set(intervals),
            disabled: Set(disabled),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec(&self.db.conn)
        .await?;
        let created = self.get(client_id, id).await?;
        self.log(actor, meta, "Paramètre de collecte créé", id, input.name.trim())
            .await;
        Ok(created)
    }

    /// Replaces a setting's content (the dashboard edits the whole form).
    pub async fn update(
        &self,
        actor: &Principal,
        id: Uuid,
        input: SettingInput,
        meta: &RequestMeta,
    ) -> Result<Setting, DomainError> {
        let client_id = actor.client_id;
        let row = self.row(client_id, id).await?;
        let scope = self.validate(client_id, &input).await?;
        let (intervals, disabled) = to_json(&input);
        let mut active = row.into_active_model();
        active.name = Set(input.name.trim().to_owned());
        active.priority = Set(input.priority);
        active.scope = Set(scope.as_str().to_owned());
        active.machine_id = Set(input.machine_id);
        active.group_id = Set(input.group_id);
        active.label_id = Set(input.label_id);
        active.intervals = Set(intervals);
        active.disabled = Set(disabled);
        active.updated_at = Set(Utc::now());
        let updated = active.update(&self.db.conn).await?;
        self.log(actor, meta, "Paramètre de collecte modifié", id, &updated.name)
            .await;
        Ok(updated.into())
    }

    pub async fn delete(&self, actor: &Principal, id: Uuid, meta: &RequestMeta) -> Result<(), DomainError> {
        let row = self.row(actor.client_id, id).await?;
        let done = collection_settings::Entity::delete_many()
            .filter(collection_settings::Column::Id.eq(id))
            .filter(collection_settings::Column::ClientId.eq(actor.client_id))
            .exec(&self.db.conn)
            .await?;
        if done.rows_affected == 0 {
            return Err(DomainError::NotFound("collection setting"));
        }
        self.log(actor, meta, "Paramètre de collecte supprimé", id, &row.name)
            .await;
        Ok(())
    }

    /// The effective configuration of one of the tenant's machines.
    pub async fn effective(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
    ) -> Result<EffectiveIntervals, DomainError> {
        let machine = machines::Entity::find_by_id(machine_id)
            .filter(machines::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("machine"))?;
        let label_ids: Vec<Uuid> = machine_labels::Entity::find()
            .filter(machine_labels::Column::MachineId.eq(machine_id))
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(|l| l.label_id)
            .collect();
        let mut applies = Condition::any()
            .add(collection_settings::Column::Scope.eq(Scope::Client.as_str()))
            .add(collection_settings::Column::MachineId.eq(machine_id));
        if let Some(group) = machine.group_id {
            applies = applies.add(collection_settings::Column::GroupId.eq(group));
        }
        if !label_ids.is_empty() {
            applies = applies.add(collection_settings::Column::LabelId.is_in(label_ids));
        }
        let applicable = collection_settings::Entity::find()
            .filter(collection_settings::Column::ClientId.eq(client_id))
            .filter(applies)
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        Ok(resolve(machine_id, applicable))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setting(
        scope: Scope,
        priority: i32,
        intervals: &[(Collector, i32)],
        disabled: &[Collector],
    ) -> Setting {
        Setting {
            id: Uuid::now_v7(),
            client_id: Uuid::nil(),
            name: format!("{scope:?}-{priority}"),
            priority,
            scope,
            machine_id: None,
            group_id: None,
            label_id: None,
            intervals: intervals.iter().copied().collect(),
            disabled: disabled.to_vec(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn of(e: &EffectiveIntervals, c: Collector) -> &Effective {
        e.collectors.iter().find(|x| x.collector == c).unwrap()
    }

    #[test]
    fn defaults_without_settings() {
        let e = resolve(Uuid::nil(), vec![]);
        assert_eq!(e.collectors.len(), 8);
        assert_eq!(of(&e, Collector::Metrics).interval, 10);
        assert_eq!(of(&e, Collector::Patches).interval, 21600);
        assert_eq!(e.source, Source::Default);
    }

    #[test]
    fn machine_beats_label_beats_group_beats_client_per_collector() {
        let e = resolve(
            Uuid::nil(),
            vec![
                setting(
                    Scope::Client,
                    100,
                    &[(Collector::Metrics, 60), (Collector::Network, 20)],
                    &[],
                ),
                setting(
                    Scope::Group,
                    0,
                    &[(Collector::Metrics, 30), (Collector::Storage, 600)],
                    &[],
                ),
                setting(
                    Scope::Label,
                    0,
                    &[(Collector::Metrics, 20)],
                    &[Collector::Software],
                ),
                setting(Scope::Machine, 0, &[(Collector::Metrics, 7)], &[]),
            ],
        );
        assert_eq!(of(&e, Collector::Metrics).interval, 7);
        assert_eq!(of(&e, Collector::Metrics).source, Source::Setting(Scope::Machine));
        assert_eq!(of(&e, Collector::Storage).interval, 600);
        assert_eq!(of(&e, Collector::Network).interval, 20);
        assert!(!of(&e, Collector::Software).enabled);
        assert!(of(&e, Collector::Patches).enabled);
        assert_eq!(e.source, Source::Setting(Scope::Machine));
    }

    #[test]
    fn priority_orders_one_scope_and_bounds_clamp() {
        let e = resolve(
            Uuid::nil(),
            vec![
                setting(Scope::Group, 1, &[(Collector::Metrics, 1)], &[]),
                setting(Scope::Group, 5, &[(Collector::Metrics, 100_000)], &[]),
            ],
        );
        assert_eq!(of(&e, Collector::Metrics).interval, 300);
    }
}

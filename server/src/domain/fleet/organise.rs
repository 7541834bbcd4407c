//! Groups (one per machine) and labels (key = value tags, up to 10 per
//! machine) that organise a tenant's fleet; dashboards filter on both and
//! collection settings target them.

use crate::{
    domain::{
        activity::{ActivityLog, Category, Entry, Level, RequestMeta},
        auth::Principal,
        DomainError,
    },
    infra::db::Database,
};
use chrono::Utc;
use entities::{groups, labels, machine_labels, machines};
use sea_orm::{
    sea_query::{Expr, OnConflict},
    ActiveValue::Set,
    ColumnTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, SqlErr, TransactionTrait,
};
use serde_json::{json, Value};
use uuid::Uuid;

/// Labels one machine may carry.
pub const MAX_LABELS_PER_MACHINE: u64 = 10;
/// Machines one assignment may name.
pub const MAX_BATCH: usize = 100;
const DEFAULT_COLOR: &str = "#3b82f6";

fn conflict(e: DbErr, what: &str) -> DomainError {
    match e.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => DomainError::Conflict(format!("{what} already exists")),
        _ => e.into(),
    }
}

fn check_name(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            format!("must be 1-{max} printable characters"),
        ));
    }
    Ok(v.to_owned())
}

/// Longest group description.
pub const MAX_DESCRIPTION: usize = 500;

/// A group description: trimmed, at most [`MAX_DESCRIPTION`] characters,
/// line breaks and tabs allowed but no other control characters.
fn check_description(value: &str) -> Result<String, DomainError> {
    let v = value.trim();
    if v.chars().count() > MAX_DESCRIPTION
        || v.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(DomainError::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION} printable characters"),
        ));
    }
    Ok(v.to_owned())
}

fn check_color(color: Option<&str>) -> Result<String, DomainError> {
    let c = color.map(str::trim).unwrap_or(DEFAULT_COLOR);
    let ok = c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit());
    if !ok {
        return Err(DomainError::invalid("color", "must be #RRGGBB"));
    }
    Ok(c.to_ascii_lowercase())
}

/// What `update_label` changes; absent fields stay.
#[derive(Clone, Debug, Default)]
pub struct LabelChange {
    pub key: Option<String>,
    pub color: Option<String>,
}

#[derive(Clone)]
pub struct Organise {
    db: Database,
    activity: ActivityLog,
}

impl Organise {
    pub fn new(db: Database, activity: ActivityLog) -> Self {
        Self { db, activity }
    }

    async fn log(&self, actor: &Principal, meta: &RequestMeta, message: String, metadata: Value) {
        let entry = Entry::new(Level::Info, Category::Machine, message)
            .client(actor.client_id)
            .metadata(metadata)
            .by(actor.user_id);
        self.activity.record(entry, meta).await;
    }

    /// Checks that every machine belongs to the tenant (NOT_FOUND otherwise).
    async fn owned_machines(&self, client_id: Uuid, ids: &[Uuid]) -> Result<(), DomainError> {
        if ids.is_empty() || ids.len() > MAX_BATCH {
            return Err(DomainError::invalid(
                "machineIds",
                format!("give 1-{MAX_BATCH} machines"),
            ));
        }
        let found = machines::Entity::find()
            .filter(machines::Column::ClientId.eq(client_id))
            .filter(machines::Column::Id.is_in(ids.iter().copied()))
            .count(&self.db.conn)
            .await?;
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        if found as usize != distinct.len() {
            return Err(DomainError::NotFound("machine"));
        }
        Ok(())
    }

    pub async fn groups(&self, client_id: Uuid) -> Result<Vec<groups::Model>, DomainError> {
        Ok(groups::Entity::find()
            .filter(groups::Column::ClientId.eq(client_id))
            .order_by_asc(groups::Column::Name)
            .all(&self.db.conn)
            .await?)
    }

    pub async fn create_group(
        &self,
        actor: &Principal,
        name: &str,
        description: Option<String>,
        meta: &RequestMeta,
    ) -> Result<groups::Model, DomainError> {
        let now = Utc::now();
        let model = groups::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(actor.client_id),
            name: Set(check_name("name", name, 50)?),
            description: Set(description.as_deref().map(check_description).transpose()?),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let g = groups::Entity::insert(model)
            .exec_with_returning(&self.db.conn)
            .await
            .map_err(|e| conflict(e, "a group with this name"))?;
        let message = format!("Groupe créé : {}", g.name);
        self.log(actor, meta, message, json!({ "group_id": g.id, "name": g.name }))
            .await;
        Ok(g)
    }

    pub async fn update_group(
        &self,
        actor: &Principal,
        id: Uuid,
        name: Option<&str>,
        description: Option<String>,
        meta: &RequestMeta,
    ) -> Result<groups::Model, DomainError> {
        let client_id = actor.client_id;
        let mut update = groups::Entity::update_many()
            .col_expr(groups::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(groups::Column::Id.eq(id))
            .filter(groups::Column::ClientId.eq(client_id));
        if let Some(n) = name {
            update = update.col_expr(groups::Column::Name, Expr::value(check_name("name", n, 50)?));
        }
        if let Some(d) = description {
            update = update.col_expr(
                groups::Column::Description,
                Expr::value(Some(check_description(&d)?)),
            );
        }
        let done = update
            .exec(&self.db.conn)
            .await
            .map_err(|e| conflict(e, "a group with this name"))?;
        if done.rows_affected == 0 {
            return Err(DomainError::NotFound("group"));
        }
        let g = groups::Entity::find_by_id(id)
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("group"))?;
        let message = format!("Groupe modifié : {}", g.name);
        self.log(actor, meta, message, json!({ "group_id": g.id, "name": g.name }))
            .await;
        Ok(g)
    }

    /// Deletes a group; its machines stay, without a group.
    pub async fn delete_group(
        &self,
        actor: &Principal,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        let group = groups::Entity::find_by_id(id)
            .filter(groups::Column::ClientId.eq(actor.client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("group"))?;
        let done = groups::Entity::delete_many()
            .filter(groups::Column::Id.eq(id))
            .filter(groups::Column::ClientId.eq(actor.client_id))
            .exec(&self.db.conn)
            .await?;
        if done.rows_affected == 0 {
            return Err(DomainError::NotFound("group"));
        }
        let message = format!("Groupe supprimé : {}", group.name);
        self.log(
            actor,
            meta,
            message,
            json!({ "group_id": id, "name": group.name }),
        )
        .await;
        Ok(())
    }

    /// Puts machines in a group, or out of any with `None`.
    pub async fn set_group(
        &self,
        actor: &Principal,
        machine_ids: &[Uuid],
        group_id: Option<Uuid>,
        meta: &RequestMeta,
    ) -> Result<u64, DomainError> {
        let client_id = actor.client_id;
        self.owned_machines(client_id, machine_ids).await?;
        if let Some(g) = group_id {
            groups::Entity::find_by_id(g)
                .filter(groups::Column::ClientId.eq(client_id))
                .one(&self.db.conn)
                .await?
                .ok_or(DomainError::NotFound("group"))?;
        }
        let moved = machines::Entity::update_many()
            .col_expr(machines::Column::GroupId, Expr::value(group_id))
            .col_expr(machines::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(machines::Column::ClientId.eq(client_id))
            .filter(machines::Column::Id.is_in(machine_ids.iter().copied()))
            .exec(&self.db.conn)
            .await?
            .rows_affected;
        let message = match group_id {
            Some(_) => format!("{moved} machine(s) placée(s) dans un groupe"),
            None => format!("{moved} machine(s) retirée(s) de leur groupe"),
        };
        self.log(
            actor,
            meta,
            message,
            json!({ "group_id": group_id, "machine_ids": machine_ids }),
        )
        .await;
        Ok(moved)
    }

    pub async fn labels(&self, client_id: Uuid) -> Result<Vec<labels::Model>, DomainError> {
        Ok(labels::Entity::find()
            .filter(labels::Column::ClientId.eq(client_id))
            .order_by_asc(labels::Column::Key)
            .all(&self.db.conn)
            .await?)
    }

    pub async fn create_label(
        &self,
        actor: &Principal,
        key: &str,
        color: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<labels::Model, DomainError> {
        let model = labels::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(actor.client_id),
            key: Set(check_name("key", key, 50)?),
            color: Set(check_color(color)?),
            created_at: Set(Utc::now()),
        };
        let l = labels::Entity::insert(model)
            .exec_with_returning(&self.db.conn)
            .await
            .map_err(|e| conflict(e, "a label with this key"))?;
        let message = format!("Label créé : {}", l.key);
        self.log(
            actor,
            meta,
            message,
            json!({ "label_id": l.id, "key": l.key, "color": l.color }),
        )
        .await;
        Ok(l)
    }

    /// Renames or recolours a label, with `create_label`'s checks; an
    /// invalid field changes nothing.
    pub async fn update_label(
        &self,
        actor: &Principal,
        id: Uuid,
        change: LabelChange,
        meta: &RequestMeta,
    ) -> Result<labels::Model, DomainError> {
        let key = change
            .key
            .as_deref()
            .map(|k| check_name("key", k, 50))
            .transpose()?;
        let color = change
            .color
            .as_deref()
            .map(|c| check_color(Some(c)))
            .transpose()?;
        let mut update = labels::Entity::update_many()
            .filter(labels::Column::Id.eq(id))
            .filter(labels::Column::ClientId.eq(actor.client_id));
        if let Some(k) = &key {
            update = update.col_expr(labels::Column::Key, Expr::value(k.clone()));
        }
        if let Some(c) = &color {
            update = update.col_expr(labels::Column::Color, Expr::value(c.clone()));
        }
        if key.is_some() || color.is_some() {
            update
                .exec(&self.db.conn)
                .await
                .map_err(|e| conflict(e, "a label with this key"))?;
        }
        let l = self.label(actor.client_id, id).await?;
        let message = format!("Label modifié : {}", l.key);
        self.log(
            actor,
            meta,
            message,
            json!({ "label_id": l.id, "key": l.key, "color": l.color }),
        )
        .await;
        Ok(l)
    }

    pub async fn delete_label(
        &self,
        actor: &Principal,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        let label = self.label(actor.client_id, id).await?;
        let done = labels::Entity::delete_many()
            .filter(labels::Column::Id.eq(id))
            .filter(labels::Column::ClientId.eq(actor.client_id))
            .exec(&self.db.conn)
            .await?;
        if done.rows_affected == 0 {
            return Err(DomainError::NotFound("label"));
        }
        let message = format!("Label supprimé : {}", label.key);
        self.log(actor, meta, message, json!({ "label_id": id, "key": label.key }))
            .await;
        Ok(())
    }

    async fn label(&self, client_id: Uuid, id: Uuid) -> Result<labels::Model, DomainError> {
        labels::Entity::find_by_id(id)
            .filter(labels::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("label"))
    }

    /// Tags machines with `label = value` (the key when no value), at most
    /// 10 labels per machine; tagging again changes the value.
    pub async fn assign_label(
        &self,
        actor: &Principal,
        label_id: Uuid,
        value: Option<&str>,
        machine_ids: &[Uuid],
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        let client_id = actor.client_id;
        let label = self.label(client_id, label_id).await?;
        self.owned_machines(client_id, machine_ids).await?;
        let value = match value {
            Some(v) => check_name("value", v, 100)?,
            None => label.key.clone(),
        };
        let txn = self.db.conn.begin().await?;
        for &machine in machine_ids {
            let others = machine_labels::Entity::find()
                .filter(machine_labels::Column::MachineId.eq(machine))
                .filter(machine_labels::Column::LabelId.ne(label_id))
                .count(&txn)
                .await?;
            if others >= MAX_LABELS_PER_MACHINE {
                return Err(DomainError::invalid(
                    "machineIds",
                    format!("a machine carries at most {MAX_LABELS_PER_MACHINE} labels"),
                ));
            }
        }
        let rows = machine_ids.iter().map(|&m| machine_labels::ActiveModel {
            machine_id: Set(m),
            label_id: Set(label_id),
            value: Set(value.clone()),
            assigned_at: Set(Utc::now()),
        });
        machine_labels::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([machine_labels::Column::MachineId, machine_labels::Column::LabelId])
                    .update_columns([machine_labels::Column::Value, machine_labels::Column::AssignedAt])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        txn.commit().await?;
        let message = format!(
            "Label {} = {value} posé sur {} machine(s)",
            label.key,
            machine_ids.len()
        );
        self.log(
            actor,
            meta,
            message,
            json!({ "label_id": label_id, "value": value, "machine_ids": machine_ids }),
        )
        .await;
        Ok(())
    }

    pub async fn unassign_label(
        &self,
        actor: &Principal,
        label_id: Uuid,
        machine_ids: &[Uuid],
        meta: &RequestMeta,
    ) -> Result<u64, DomainError> {
        let label = self.label(actor.client_id, label_id).await?;
        self.owned_machines(actor.client_id, machine_ids).await?;
        let removed = machine_labels::Entity::delete_many()
            .filter(machine_labels::Column::LabelId.eq(label_id))
            .filter(machine_labels::Column::MachineId.is_in(machine_ids.iter().copied()))
            .exec(&self.db.conn)
            .await?
            .rows_affected;
        let message = format!("Label {} retiré de {removed} machine(s)", label.key);
        self.log(
            actor,
            meta,
            message,
            json!({ "label_id": label_id, "machine_ids": machine_ids }),
        )
        .await;
        Ok(removed)
    }
}

//! The super_admin's changes to a tenant: its details and licence, a new
//! licence id, and deletion with everything it holds.

use super::TenancyService;
use crate::domain::{
    activity::{Category, Entry, Level, RequestMeta},
    agents::keys,
    auth::Principal,
    licensing::super_admin_only,
    DomainError,
};
use chrono::{DateTime, Utc};
use entities::{
    client_certificates, clients,
    enums::{Language, LicenceStatus},
    machines,
};
use sea_orm::{
    sea_query::{Alias, Expr, Query},
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use serde_json::json;
use uuid::Uuid;

/// What `updateClient` may change; None leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub license_type: Option<String>,
    pub license_status: Option<LicenceStatus>,
    /// Some(None) removes the expiry.
    pub license_expires_at: Option<Option<DateTime<Utc>>>,
    pub language: Option<Language>,
}

/// Rows reached through a parent the tenant owns: (table, column, parent
/// table). Deleted first, children before parents.
const THROUGH: [(&str, &str, &str); 6] = [
    ("refresh_tokens", "user_id", "users"),
    ("mfa_backup_codes", "user_id", "users"),
    ("password_reset_tokens", "user_id", "users"),
    ("token_blacklist", "user_id", "users"),
    ("alert_rule_channels", "rule_id", "alert_rules"),
    ("machine_labels", "machine_id", "machines"),
];

/// Tables with a `client_id`, children before parents; `clients` last.
const OWNED: [&str; 28] = [
    "metrics",
    "disk_info",
    "smart_data",
    "event_logs",
    "metrics_hourly",
    "network_hourly",
    "disk_hourly",
    "machine_collector_data",
    "machine_inventory",
    "risk_overrides",
    "collection_settings",
    "alert_rule_history",
    "notification_history",
    "alert_rules",
    "notification_channels",
    "client_certificates",
    "install_tokens",
    "api_tokens",
    "email_outbox",
    "reminders_sent",
    "ai_usage",
    "client_settings",
    "activity_logs",
    "machines",
    "groups",
    "labels",
    "sites",
    "users",
];

impl TenancyService {
    pub async fn get(&self, client_id: Uuid) -> Result<clients::Model, DomainError> {
        clients::Entity::find_by_id(client_id)
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("client"))
    }

    pub async fn update_client(
        &self,
        actor: &Principal,
        client_id: Uuid,
        changes: ClientChanges,
        meta: &RequestMeta,
    ) -> Result<clients::Model, DomainError> {
        super_admin_only(actor)?;
        let txn = self.db.begin_write().await?;
        let current = clients::Entity::find_by_id(client_id)
            .one(&txn)
            .await?
            .ok_or(DomainError::NotFound("client"))?;
        let mut model: clients::ActiveModel = current.clone().into();
        if let Some(name) = &changes.name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 255 {
                return Err(DomainError::invalid("name", "must be 1-255 characters"));
            }
            model.name = Set(name.to_owned());
        }
        if let Some(code) = &changes.license_type {
            model.license_type = Set(self.known_licence_type(&txn, code).await?.code);
        }
        if let Some(status) = changes.license_status {
            // Suspending the platform would lock its super_admins out of
            // nothing (they are never held) but would read as an outage.
            if status != LicenceStatus::Active && self.is_platform(&txn, client_id).await? {
                return Err(DomainError::Conflict(
                    "the platform's own tenant stays active".into(),
                ));
            }
            model.license_status = Set(status);
        }
        if let Some(expiry) = changes.license_expires_at {
            model.license_expires_at = Set(expiry);
        }
        if let Some(language) = changes.language {
            model.language = Set(language);
        }
        model.updated_at = Set(Utc::now());
        let updated = model.update(&txn).await?;
        txn.commit().await?;
        let entry = Entry::new(
            Level::Info,
            Category::System,
            format!("Client modifié : {}", updated.name),
        )
        .client(client_id)
        .metadata(json!({
            "before": { "name": current.name, "license_type": current.license_type,
                        "license_status": current.license_status, "license_expires_at": current.license_expires_at,
                        "language": current.language },
            "after": { "name": updated.name, "license_type": updated.license_type,
                       "license_status": updated.license_status, "license_expires_at": updated.license_expires_at,
                       "language": updated.language },
        }))
        .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok(updated)
    }

    /// A new public licence id; the old one stops identifying the tenant.
    pub async fn regenerate_license_id(
        &self,
        actor: &Principal,
        client_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<clients::Model, DomainError> {
        super_admin_only(actor)?;
        let updated = clients::Entity::update_many()
            .col_expr(clients::Column::LicenseId, Expr::value(Uuid::new_v4()))
            .col_expr(clients::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(clients::Column::Id.eq(client_id))
            .exec(&self.db.conn)
            .await?;
        if updated.rows_affected == 0 {
            return Err(DomainError::NotFound("client"));
        }
        let client = self.get(client_id).await?;
        let entry = Entry::new(
            Level::Warn,
            Category::System,
            format!("Identifiant de licence régénéré : {}", client.name),
        )
        .client(client_id)
        .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok(client)
    }

    /// Deletes the tenant and everything it holds in one transaction, then
    /// makes every instance refuse its agents' certificates at once.
    /// The platform's own tenant (the super_admins') is refused.
    pub async fn delete_client(
        &self,
        actor: &Principal,
        client_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        super_admin_only(actor)?;
        if client_id == actor.client_id {
            return Err(DomainError::Conflict(
                "the platform's own tenant cannot be deleted".into(),
            ));
        }
        let txn = self.db.begin_write().await?;
        let client = clients::Entity::find_by_id(client_id)
            .one(&txn)
            .await?
            .ok_or(DomainError::NotFound("client"))?;
        if self.is_platform(&txn, client_id).await? {
            return Err(DomainError::Conflict(
                "the platform's own tenant cannot be deleted".into(),
            ));
        }
        let certificates: Vec<(String, DateTime<Utc>)> = client_certificates::Entity::find()
            .select_only()
            .column(client_certificates::Column::Serial)
            .column(client_certificates::Column::ExpiresAt)
            .filter(client_certificates::Column::ClientId.eq(client_id))
            .into_tuple()
            .all(&txn)
            .await?;
        let machine_ids: Vec<Uuid> = machines::Entity::find()
            .select_only()
            .column(machines::Column::Id)
            .filter(machines::Column::ClientId.eq(client_id))
            .into_tuple()
            .all(&txn)
            .await?;
        let backend = txn.get_database_backend();
        for (table, column, parent) in THROUGH {
            let owned = Query::select()
                .column(Alias::new("id"))
                .from(Alias::new(parent))
                .and_where(Expr::col(Alias::new("client_id")).eq(client_id))
                .to_owned();
            let delete = Query::delete()
                .from_table(Alias::new(table))
                .and_where(Expr::col(Alias::new(column)).in_subquery(owned))
                .to_owned();
            txn.execute(backend.build(&delete)).await?;
        }
        for table in OWNED {
            let delete = Query::delete()
                .from_table(Alias::new(table))
                .and_where(Expr::col(Alias::new("client_id")).eq(client_id))
                .to_owned();
            txn.execute(backend.build(&delete)).await?;
        }
        clients::Entity::delete_by_id(client_id).exec(&txn).await?;
        txn.commit().await?;
        for (serial, expires_at) in &certificates {
            keys::mark_revoked(self.cache.as_ref(), serial, *expires_at, keys::RevokedAs::Revoked).await;
        }
        for id in &machine_ids {
            keys::invalidate_machine(self.cache.as_ref(), *id).await;
        }
        let entry = Entry::new(
            Level::Warn,
            Category::System,
            format!("Client supprimé : {}", client.name),
        )
        .metadata(json!({
            "client_id": client_id,
            "license_id": client.license_id,
            "machines": machine_ids.len(),
            "certificates": certificates.len(),
        }))
        .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok(())
    }

    /// Whether the tenant holds a super_admin: the platform's own.
    async fn is_platform(&self, conn: &impl ConnectionTrait, client_id: Uuid) -> Result<bool, DomainError> {
        use entities::{enums::Role, users};
        use sea_orm::PaginatorTrait;
        Ok(users::Entity::find()
            .filter(users::Column::ClientId.eq(client_id))
            .filter(users::Column::Role.eq(Role::SuperAdmin))
            .count(conn)
            .await?
            > 0)
    }
}

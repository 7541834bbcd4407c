//! Licence types: the six built-in ones and those the super_admin defines.

use super::super_admin_only;
use crate::domain::{
    activity::{ActivityLog, Category, Entry, Level, RequestMeta},
    auth::Principal,
    DomainError,
};
use crate::infra::db::Database;
use chrono::Utc;
use entities::{clients, enums::Tier, license_types};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    SqlErr,
};
use serde_json::json;
use uuid::Uuid;

/// What the super_admin sets on a type. The code is chosen at creation
/// and fixed: tenants refer to their type by it.
#[derive(Clone, Debug)]
pub struct LicenceTypeInput {
    pub name: String,
    pub tier: Tier,
    pub max_machines: Option<i32>,
    pub retention_days: i32,
    pub ai_quota_monthly: i32,
    pub default_duration_days: Option<i32>,
}

const MAX_CODE: usize = 32;

/// Lowercase letters, digits and `_`, starting with a letter: a code
/// shows as an enum-like literal (`MSP_GOLD`) in GraphQL.
pub fn normalise_code(code: &str) -> Result<String, DomainError> {
    let code = code.trim().to_ascii_lowercase();
    let valid = (1..=MAX_CODE).contains(&code.len())
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(code)
    } else {
        Err(DomainError::invalid(
            "code",
            format!("must be 1-{MAX_CODE} letters, digits or '_', starting with a letter"),
        ))
    }
}

fn validate(input: &LicenceTypeInput) -> Result<String, DomainError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DomainError::invalid("name", "must be 1-100 characters"));
    }
    if input.max_machines.is_some_and(|m| !(0..=1_000_000).contains(&m)) {
        return Err(DomainError::invalid(
            "maxMachines",
            "must be 0-1000000, or null for unlimited",
        ));
    }
    // The spec's shortest and longest retentions bound what the cleanup
    // job and the TimescaleDB safety net agree on.
    if !(1..=365).contains(&input.retention_days) {
        return Err(DomainError::invalid("retentionDays", "must be 1-365"));
    }
    if !(0..=1_000_000).contains(&input.ai_quota_monthly) {
        return Err(DomainError::invalid("aiQuotaMonthly", "must be 0-1000000"));
    }
    if input
        .default_duration_days
        .is_some_and(|d| !(1..=3650).contains(&d))
    {
        return Err(DomainError::invalid(
            "defaultDurationDays",
            "must be 1-3650, or null",
        ));
    }
    Ok(name.to_owned())
}

#[derive(Clone)]
pub struct LicenceTypes {
    db: Database,
    activity: ActivityLog,
}

impl LicenceTypes {
    pub fn new(db: Database, activity: ActivityLog) -> Self {
        Self { db, activity }
    }

    /// Built-in types first, by tier, then the others by name.
    pub async fn list(&self) -> Result<Vec<license_types::Model>, DomainError> {
        let mut all = license_types::Entity::find()
            .order_by_asc(license_types::Column::Name)
            .all(&self.db.conn)
            .await?;
        all.sort_by_key(|t| (!t.builtin, t.builtin.then_some(t.tier)));
        Ok(all)
    }

    pub async fn create(
        &self,
        actor: &Principal,
        code: &str,
        input: LicenceTypeInput,
        meta: &RequestMeta,
    ) -> Result<license_types::Model, DomainError> {
        super_admin_only(actor)?;
        let code = normalise_code(code)?;
        let name = validate(&input)?;
        let now = Utc::now();
        let inserted = license_types::Entity::insert(license_types::ActiveModel {
            id: Set(Uuid::now_v7()),
            code: Set(code.clone()),
            name: Set(name),
            tier: Set(input.tier),
            max_machines: Set(input.max_machines),
            retention_days: Set(input.retention_days),
            ai_quota_monthly: Set(input.ai_quota_monthly),
            default_duration_days: Set(input.default_duration_days),
            builtin: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_with_returning(&self.db.conn)
        .await;
        let created = match inserted {
            Ok(m) => m,
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                return Err(DomainError::Conflict(format!(
                    "a licence type '{code}' exists already"
                )))
            }
            Err(e) => return Err(e.into()),
        };
        self.log(actor, "Type de licence créé", &created, meta).await;
        Ok(created)
    }

    pub async fn update(
        &self,
        actor: &Principal,
        id: Uuid,
        input: LicenceTypeInput,
        meta: &RequestMeta,
    ) -> Result<license_types::Model, DomainError> {
        super_admin_only(actor)?;
        let name = validate(&input)?;
        let current = license_types::Entity::find_by_id(id)
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("licence type"))?;
        // A built-in type is named after its tier; moving it would make
        // "Pro" mean something else.
        if current.builtin && input.tier != current.tier {
            return Err(DomainError::invalid("tier", "a built-in type keeps its tier"));
        }
        let mut model: license_types::ActiveModel = current.into();
        model.name = Set(name);
        model.tier = Set(input.tier);
        model.max_machines = Set(input.max_machines);
        model.retention_days = Set(input.retention_days);
        model.ai_quota_monthly = Set(input.ai_quota_monthly);
        model.default_duration_days = Set(input.default_duration_days);
        model.updated_at = Set(Utc::now());
        let updated = model.update(&self.db.conn).await?;
        self.log(actor, "Type de licence modifié", &updated, meta).await;
        Ok(updated)
    }

    /// Refuses a built-in type and one a tenant still holds.
    pub async fn delete(&self, actor: &Principal, id: Uuid, meta: &RequestMeta) -> Result<(), DomainError> {
        super_admin_only(actor)?;
        let txn = self.db.begin_write().await?;
        let current = license_types::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or(DomainError::NotFound("licence type"))?;
        if current.builtin {
            return Err(DomainError::Conflict(
                "built-in licence types cannot be deleted".into(),
            ));
        }
        let holders = clients::Entity::find()
            .filter(clients::Column::LicenseType.eq(&current.code))
            .count(&txn)
            .await?;
        if holders > 0 {
            return Err(DomainError::Conflict(format!(
                "licence type '{}' is held by {holders} tenant(s); move them to another type first",
                current.code
            )));
        }
        license_types::Entity::delete_by_id(id).exec(&txn).await?;
        txn.commit().await?;
        self.log(actor, "Type de licence supprimé", &current, meta).await;
        Ok(())
    }

    async fn log(&self, actor: &Principal, what: &str, t: &license_types::Model, meta: &RequestMeta) {
        let entry = Entry::new(Level::Info, Category::System, format!("{what} : {}", t.code))
            .metadata(json!({
                "code": t.code,
                "tier": t.tier,
                "max_machines": t.max_machines,
                "retention_days": t.retention_days,
                "ai_quota_monthly": t.ai_quota_monthly,
            }))
            .by(actor.user_id);
        self.activity.record(entry, meta).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_lowercase_slugs() {
        assert_eq!(normalise_code(" MSP_Gold ").unwrap(), "msp_gold");
        assert_eq!(normalise_code("pro2").unwrap(), "pro2");
        for bad in ["", "2pro", "gold-plan", "é", &"a".repeat(33)] {
            assert!(normalise_code(bad).is_err(), "{bad}");
        }
    }
}

//! What a tenant's licence allows: its type's limits, retention, AI quota
//! and feature tier, whether it is active, and the gates every other
//! module asks. One place for each licence rule.

mod features;
pub mod types;
mod usage;

pub use features::{tier_name, Feature, FEATURES};
pub use types::{LicenceTypeInput, LicenceTypes};
pub use usage::{month_of, AiUsage, Reservation};

use super::{
    activity::{ActivityLog, Category, Entry, Level, RequestMeta},
    auth::Principal,
    DomainError,
};
use crate::{domain::alerting::Alerting, infra::clock::Clock, infra::db::Database};
use chrono::{DateTime, Months, Utc};
use entities::{
    clients,
    enums::{LicenceStatus, Stored, Tier},
    license_types,
};
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// A type whose row is missing (deleted by hand, or written by a newer
/// version) gets the entry tier's rules rather than none.
const FALLBACK_TIER: Tier = Tier::Trial;
const FALLBACK_RETENTION_DAYS: i32 = 7;

/// A tenant's licence as every rule reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Licence {
    pub client_id: Uuid,
    pub type_code: String,
    pub type_name: String,
    pub tier: Tier,
    /// The stored status, read at `now`: an active licence past its
    /// expiry is expired.
    pub status: LicenceStatus,
    pub expires_at: Option<DateTime<Utc>>,
    /// The super_admin's override, else the type's; None = unlimited.
    pub max_machines: Option<i32>,
    pub machine_limit_overridden: bool,
    pub retention_days: i32,
    /// The super_admin's override (`setAiQuota`), else the type's.
    pub ai_quota_monthly: i32,
    pub ai_quota_overridden: bool,
}

impl Licence {
    fn read(client: &clients::Model, kind: Option<&license_types::Model>, now: DateTime<Utc>) -> Self {
        Self {
            client_id: client.id,
            type_code: client.license_type.clone(),
            type_name: kind.map_or_else(|| client.license_type.clone(), |k| k.name.clone()),
            tier: kind.map_or(FALLBACK_TIER, |k| k.tier),
            status: effective_status(client.license_status, client.license_expires_at, now),
            expires_at: client.license_expires_at,
            max_machines: client.max_machines.or(kind.and_then(|k| k.max_machines)),
            machine_limit_overridden: client.max_machines.is_some(),
            retention_days: kind.map_or(FALLBACK_RETENTION_DAYS, |k| k.retention_days),
            ai_quota_monthly: client
                .ai_monthly_limit
                .unwrap_or_else(|| kind.map_or(0, |k| k.ai_quota_monthly)),
            ai_quota_overridden: client.ai_monthly_limit.is_some(),
        }
    }

    pub fn is_active(&self) -> bool {
        self.status == LicenceStatus::Active
    }

    /// Whole days until expiry (negative once past); None without expiry.
    pub fn days_left(&self, now: DateTime<Utc>) -> Option<i64> {
        self.expires_at.map(|at| (at - now).num_days())
    }

    /// Refuses a feature the tier does not include.
    pub fn require(&self, feature: Feature) -> Result<(), DomainError> {
        if feature.included_in(self.tier) {
            Ok(())
        } else {
            Err(DomainError::PremiumRequired {
                feature: feature.name(),
                tier: feature.required_tier(),
            })
        }
    }

    /// Refuses writes while the licence is expired or suspended.
    pub fn ensure_writable(&self) -> Result<(), DomainError> {
        match self.status {
            LicenceStatus::Active => Ok(()),
            LicenceStatus::Expired => Err(DomainError::LicenceInactive(
                "The licence has expired: the account is read-only until it is renewed. \
                 Agents keep reporting; contact your provider to extend it."
                    .into(),
            )),
            LicenceStatus::Suspended => Err(DomainError::LicenceInactive(
                "The licence is suspended: the account is read-only. \
                 Agents keep reporting; contact your provider."
                    .into(),
            )),
        }
    }
}

/// The licence of a tenant row already read (and perhaps locked) in the
/// caller's transaction.
pub async fn of_row(
    conn: &impl ConnectionTrait,
    client: &clients::Model,
    now: DateTime<Utc>,
) -> Result<Licence, DomainError> {
    let kind = license_types::Entity::find()
        .filter(license_types::Column::Code.eq(&client.license_type))
        .one(conn)
        .await?;
    Ok(Licence::read(client, kind.as_ref(), now))
}

/// The status rules read: a stored `active` past its expiry is expired.
pub fn effective_status(
    stored: LicenceStatus,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> LicenceStatus {
    match (stored, expires_at) {
        (LicenceStatus::Active, Some(at)) if at <= now => LicenceStatus::Expired,
        (status, _) => status,
    }
}

/// The stored spelling of a tier, as `requiredTier` names it.
pub fn tier_code(tier: Tier) -> &'static str {
    match tier {
        Tier::Trial => "TRIAL",
        Tier::Starter => "STARTER",
        Tier::Essentials => "ESSENTIALS",
        Tier::Pro => "PRO",
        Tier::Business => "BUSINESS",
        Tier::Enterprise => "ENTERPRISE",
    }
}

/// How far `extendLicense` moves the expiry.
#[derive(Clone, Copy, Debug)]
pub enum Extension {
    Until(DateTime<Utc>),
    /// Added to the current expiry, or to now when there is none or it
    /// has passed: a lapsed licence restarts from today.
    Months(u32),
}

#[derive(Clone)]
pub struct Licensing {
    db: Database,
    clock: Arc<dyn Clock>,
    activity: ActivityLog,
    alerting: Alerting,
}

impl Licensing {
    pub fn new(db: Database, clock: Arc<dyn Clock>, activity: ActivityLog, alerting: Alerting) -> Self {
        Self {
            db,
            clock,
            activity,
            alerting,
        }
    }

    pub fn types(&self) -> LicenceTypes {
        LicenceTypes::new(self.db.clone(), self.activity.clone())
    }

    pub fn usage(&self) -> AiUsage {
        AiUsage::new(self.db.clone(), self.clock.clone())
    }

    /// The tenant's licence now: one query.
    pub async fn of(&self, client_id: Uuid) -> Result<Licence, DomainError> {
        self.of_in(&self.db.conn, client_id).await
    }

    pub async fn of_in(&self, conn: &impl ConnectionTrait, client_id: Uuid) -> Result<Licence, DomainError> {
        let (client, kind) = clients::Entity::find_by_id(client_id)
            .find_also_related(license_types::Entity)
            .one(conn)
            .await?
            .ok_or(DomainError::NotFound("client"))?;
        Ok(Licence::read(&client, kind.as_ref(), self.clock.now()))
    }

    /// Every tenant's licence, by tenant name.
    pub async fn all(&self) -> Result<Vec<(clients::Model, Licence)>, DomainError> {
        let now = self.clock.now();
        Ok(clients::Entity::find()
            .find_also_related(license_types::Entity)
            .order_by_asc(clients::Column::Name)
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(|(c, k)| {
                let licence = Licence::read(&c, k.as_ref(), now);
                (c, licence)
            })
            .collect())
    }

    /// Refuses `feature` unless the caller's plan includes it.
    pub async fn require(&self, actor: &Principal, feature: Feature) -> Result<Licence, DomainError> {
        let licence = self.of(actor.client_id).await?;
        licence.require(feature)?;
        Ok(licence)
    }

    /// Refuses a change by a tenant whose licence is not active. The
    /// platform's super_admins are never held: they are the ones who
    /// renew licences.
    pub async fn ensure_writable(&self, actor: &Principal) -> Result<(), DomainError> {
        if actor.is_super_admin() {
            return Ok(());
        }
        self.of(actor.client_id).await?.ensure_writable()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Moves the expiry, reactivates an expired licence (a suspended one
    /// stays suspended: suspension is a decision, not a date), tells the
    /// tenant's admins by e-mail and logs it.
    pub async fn extend(
        &self,
        actor: &Principal,
        client_id: Uuid,
        by: Extension,
        meta: &RequestMeta,
    ) -> Result<clients::Model, DomainError> {
        super_admin_only(actor)?;
        let now = self.clock.now();
        let txn = self.db.begin_write().await?;
        let client = clients::Entity::find_by_id(client_id)
            .one(&txn)
            .await?
            .ok_or(DomainError::NotFound("client"))?;
        let until = match by {
            Extension::Until(at) if at <= now => {
                return Err(DomainError::invalid("until", "must be in the future"))
            }
            Extension::Until(at) => at,
            Extension::Months(n) if !(1..=120).contains(&n) => {
                return Err(DomainError::invalid("months", "must be 1-120"))
            }
            Extension::Months(n) => {
                let base = client.license_expires_at.filter(|at| *at > now).unwrap_or(now);
                base.checked_add_months(Months::new(n))
                    .ok_or_else(|| DomainError::invalid("months", "out of range"))?
            }
        };
        let status = match client.license_status {
            LicenceStatus::Suspended => LicenceStatus::Suspended,
            _ => LicenceStatus::Active,
        };
        clients::Entity::update_many()
            .col_expr(clients::Column::LicenseExpiresAt, Expr::value(Some(until)))
            .col_expr(clients::Column::LicenseStatus, Expr::value(status.stored()))
            .col_expr(clients::Column::UpdatedAt, Expr::value(now))
            .filter(clients::Column::Id.eq(client_id))
            .exec(&txn)
            .await?;
        let updated = clients::Entity::find_by_id(client_id)
            .one(&txn)
            .await?
            .ok_or(DomainError::NotFound("client"))?;
        let kind = license_types::Entity::find()
            .filter(license_types::Column::Code.eq(&updated.license_type))
            .one(&txn)
            .await?;
        let type_name = kind.map_or_else(|| updated.license_type.clone(), |k| k.name);
        self.alerting
            .queue_licence_extended(&txn, &updated, &type_name, until, now)
            .await?;
        txn.commit().await?;
        self.alerting.wake_outbox();
        let entry = Entry::new(
            Level::Info,
            Category::System,
            format!("Licence prolongée : {}", updated.name),
        )
        .client(client_id)
        .metadata(json!({ "previous_expiry": client.license_expires_at, "new_expiry": until }))
        .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok(updated)
    }

    /// Sets a tenant's monthly AI quota, or with `None` gives it back its
    /// licence type's (super_admin). Takes effect on the next run; what
    /// was used this month stays counted.
    pub async fn set_ai_quota(
        &self,
        actor: &Principal,
        client_id: Uuid,
        monthly_limit: Option<i32>,
        meta: &RequestMeta,
    ) -> Result<Licence, DomainError> {
        super_admin_only(actor)?;
        if let Some(limit) = monthly_limit {
            if !(0..=1_000_000).contains(&limit) {
                return Err(DomainError::invalid(
                    "monthlyLimit",
                    "must be between 0 and 1000000",
                ));
            }
        }
        let changed = clients::Entity::update_many()
            .col_expr(clients::Column::AiMonthlyLimit, Expr::value(monthly_limit))
            .col_expr(clients::Column::UpdatedAt, Expr::value(self.clock.now()))
            .filter(clients::Column::Id.eq(client_id))
            .exec(&self.db.conn)
            .await?
            .rows_affected;
        if changed == 0 {
            return Err(DomainError::NotFound("client"));
        }
        let licence = self.of(client_id).await?;
        let entry = Entry::new(Level::Info, Category::System, "Quota IA modifié")
            .client(client_id)
            .metadata(json!({ "ai_monthly_limit": monthly_limit, "effective": licence.ai_quota_monthly }))
            .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok(licence)
    }

    /// Rewrites `active` to `expired` for licences past their expiry, so
    /// lists and SQL filters agree with what the rules already read.
    /// Returns how many changed. Run by the licence job.
    pub async fn expire_due(&self) -> Result<u64, DomainError> {
        let now = self.clock.now();
        let due = clients::Entity::find()
            .filter(clients::Column::LicenseStatus.eq(LicenceStatus::Active.stored()))
            .filter(clients::Column::LicenseExpiresAt.lte(now))
            .all(&self.db.conn)
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Uuid> = due.iter().map(|c| c.id).collect();
        let txn = self.db.conn.begin().await?;
        let changed = clients::Entity::update_many()
            .col_expr(
                clients::Column::LicenseStatus,
                Expr::value(LicenceStatus::Expired.stored()),
            )
            .col_expr(clients::Column::UpdatedAt, Expr::value(now))
            .filter(clients::Column::Id.is_in(ids))
            .filter(clients::Column::LicenseStatus.eq(LicenceStatus::Active.stored()))
            .filter(clients::Column::LicenseExpiresAt.lte(now))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        for client in due {
            let entry = Entry::new(
                Level::Warn,
                Category::System,
                format!("Licence expirée : {}", client.name),
            )
            .client(client.id)
            .metadata(json!({ "expired_at": client.license_expires_at }));
            self.activity.record(entry, &RequestMeta::default()).await;
        }
        Ok(changed)
    }
}

pub(crate) fn super_admin_only(actor: &Principal) -> Result<(), DomainError> {
    if actor.is_super_admin() {
        Ok(())
    } else {
        Err(DomainError::Forbidden("super_admin only".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn an_active_licence_past_its_expiry_reads_expired() {
        let now = Utc::now();
        let s = |stored, at| effective_status(stored, at, now);
        assert_eq!(s(LicenceStatus::Active, None), LicenceStatus::Active);
        assert_eq!(
            s(LicenceStatus::Active, Some(now + Duration::seconds(1))),
            LicenceStatus::Active
        );
        assert_eq!(s(LicenceStatus::Active, Some(now)), LicenceStatus::Expired);
        assert_eq!(
            s(LicenceStatus::Suspended, Some(now + Duration::days(9))),
            LicenceStatus::Suspended
        );
        assert_eq!(s(LicenceStatus::Expired, None), LicenceStatus::Expired);
    }
}

//! The platform's view of every issued certificate (super_admin): listing
//! by status, statistics, purge, restore, and cache refresh.

use crate::{
    domain::{agents::keys, DomainError},
    infra::{cache::Cache, db::Database},
};
use chrono::{DateTime, Duration, Utc};
use entities::{client_certificates, clients, machines};
use sea_orm::{
    sea_query::{Expr, Func},
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertStatus {
    /// More than 30 days left.
    Valid,
    /// 7 to 30 days left.
    ExpiringSoon,
    /// Less than 7 days left.
    Expiring,
    Expired,
    Revoked,
}

impl CertStatus {
    pub fn of(cert: &client_certificates::Model, now: DateTime<Utc>) -> Self {
        if cert.revoked_at.is_some() {
            Self::Revoked
        } else if cert.expires_at <= now {
            Self::Expired
        } else if cert.expires_at <= now + Duration::days(7) {
            Self::Expiring
        } else if cert.expires_at <= now + Duration::days(30) {
            Self::ExpiringSoon
        } else {
            Self::Valid
        }
    }

    fn condition(self, now: DateTime<Utc>) -> Condition {
        use client_certificates::Column as C;
        let live = Condition::all().add(C::RevokedAt.is_null());
        match self {
            Self::Revoked => Condition::all().add(C::RevokedAt.is_not_null()),
            Self::Expired => live.add(C::ExpiresAt.lte(now)),
            Self::Expiring => live
                .add(C::ExpiresAt.gt(now))
                .add(C::ExpiresAt.lte(now + Duration::days(7))),
            Self::ExpiringSoon => live
                .add(C::ExpiresAt.gt(now + Duration::days(7)))
                .add(C::ExpiresAt.lte(now + Duration::days(30))),
            Self::Valid => live.add(C::ExpiresAt.gt(now + Duration::days(30))),
        }
    }

    pub const ALL: [Self; 5] = [
        Self::Valid,
        Self::ExpiringSoon,
        Self::Expiring,
        Self::Expired,
        Self::Revoked,
    ];
}

#[derive(Clone, Debug, Default)]
pub struct CertFilter {
    pub status: Option<CertStatus>,
    pub client_id: Option<Uuid>,
    /// Host name or serial, case-insensitive substring.
    pub search: Option<String>,
}

/// One row of the listing, with its machine and tenant names.
#[derive(Clone, Debug)]
pub struct CertRow {
    pub cert: client_certificates::Model,
    pub status: CertStatus,
    pub hostname: String,
    pub client_name: String,
}

pub const MAX_PAGE: u64 = 200;

#[derive(Clone)]
pub struct Certificates {
    db: Database,
    cache: Arc<dyn Cache>,
}

impl Certificates {
    pub fn new(db: Database, cache: Arc<dyn Cache>) -> Self {
        Self { db, cache }
    }

    fn condition(&self, filter: &CertFilter, now: DateTime<Utc>) -> Condition {
        let mut cond = Condition::all();
        if let Some(s) = filter.status {
            cond = cond.add(s.condition(now));
        }
        if let Some(c) = filter.client_id {
            cond = cond.add(client_certificates::Column::ClientId.eq(c));
        }
        if let Some(q) = filter.search.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let pattern = format!("%{}%", q.to_lowercase().replace(['%', '_'], ""));
            let hosts = sea_orm::sea_query::Query::select()
                .column(machines::Column::Id)
                .from(machines::Entity)
                .and_where(Expr::expr(Func::lower(Expr::col(machines::Column::Hostname))).like(&pattern))
                .to_owned();
            cond = cond.add(
                Condition::any()
                    .add(
                        Expr::expr(Func::lower(Expr::col(client_certificates::Column::Serial)))
                            .like(&pattern),
                    )
                    .add(client_certificates::Column::MachineId.in_subquery(hosts)),
            );
        }
        cond
    }

    /// A page, newest first, plus the total matching the filter.
    pub async fn list(
        &self,
        filter: &CertFilter,
        limit: u64,
        offset: u64,
    ) -> Result<(Vec<CertRow>, u64), DomainError> {
        let now = Utc::now();
        let query = client_certificates::Entity::find().filter(self.condition(filter, now));
        let total = query.clone().count(&self.db.conn).await?;
        let certs = query
            .order_by_desc(client_certificates::Column::IssuedAt)
            .order_by_desc(client_certificates::Column::Id)
            .limit(limit.clamp(1, MAX_PAGE))
            .offset(offset)
            .all(&self.db.conn)
            .await?;
        // Names for the page in two queries, whatever the page size.
        let machine_ids: Vec<Uuid> = certs.iter().map(|c| c.machine_id).collect();
        let client_ids: Vec<Uuid> = certs.iter().map(|c| c.client_id).collect();
        let hosts: HashMap<Uuid, String> = machines::Entity::find()
            .filter(machines::Column::Id.is_in(machine_ids))
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(|m| (m.id, m.hostname))
            .collect();
        let names: HashMap<Uuid, String> = clients::Entity::find()
            .filter(clients::Column::Id.is_in(client_ids))
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect();
        let rows = certs
            .into_iter()
            .map(|cert| CertRow {
                status: CertStatus::of(&cert, now),
                hostname: hosts.get(&cert.machine_id).cloned().unwrap_or_default(),
                client_name: names.get(&cert.client_id).cloned().unwrap_or_default(),
                cert,
            })
            .collect();
        Ok((rows, total))
    }

    /// Count per status, in the order of [`CertStatus::ALL`].
    pub async fn stats(&self) -> Result<Vec<(CertStatus, u64)>, DomainError> {
        let now = Utc::now();
        let mut out = Vec::new();
        for status in CertStatus::ALL {
            let n = client_certificates::Entity::find()
                .filter(status.condition(now))
                .count(&self.db.conn)
                .await?;
            out.push((status, n));
        }
        Ok(out)
    }

    /// Deletes expired and revoked certificates; live ones stay.
    pub async fn purge_inactive(&self) -> Result<u64, DomainError> {
        let now = Utc::now();
        Ok(client_certificates::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(CertStatus::Revoked.condition(now))
                    .add(CertStatus::Expired.condition(now)),
            )
            .exec(&self.db.conn)
            .await?
            .rows_affected)
    }

    /// Cancels a revocation, unless the machine has another live
    /// certificate since.
    pub async fn restore(&self, serial: &str) -> Result<client_certificates::Model, DomainError> {
        let cert = client_certificates::Entity::find()
            .filter(client_certificates::Column::Serial.eq(serial.trim().to_lowercase()))
            .filter(client_certificates::Column::RevokedAt.is_not_null())
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("revoked certificate"))?;
        let live = client_certificates::Entity::find()
            .filter(client_certificates::Column::MachineId.eq(cert.machine_id))
            .filter(client_certificates::Column::RevokedAt.is_null())
            .count(&self.db.conn)
            .await?;
        if live > 0 {
            return Err(DomainError::Conflict(
                "the machine already has a live certificate".into(),
            ));
        }
        let txn = self.db.conn.begin().await?;
        client_certificates::Entity::update_many()
            .col_expr(
                client_certificates::Column::RevokedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                client_certificates::Column::RevocationReason,
                Expr::value(Option::<String>::None),
            )
            .filter(client_certificates::Column::Id.eq(cert.id))
            .exec(&txn)
            .await?;
        machines::Entity::update_many()
            .col_expr(
                machines::Column::CertSerial,
                Expr::value(Some(cert.serial.clone())),
            )
            .col_expr(
                machines::Column::CertRevokedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(machines::Column::Id.eq(cert.machine_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        keys::invalidate_certificate(self.cache.as_ref(), &cert.serial).await;
        keys::invalidate_machine(self.cache.as_ref(), cert.machine_id).await;
        Ok(cert)
    }

    /// Drops cached certificate states and the CRL; the next agent
    /// requests rebuild them from the database.
    pub async fn refresh_cache(&self) -> Result<u64, DomainError> {
        let mut n = 0;
        for prefix in [keys::REVOKED_PREFIX, keys::VALID_PREFIX, keys::CRL_PREFIX] {
            n += self
                .cache
                .delete_prefix(prefix)
                .await
                .map_err(|e| DomainError::internal("certificate cache", e))?;
        }
        Ok(n)
    }
}

//! The landing page's public figures, cached.
//!
//! - `total_machines`: every enrolled machine, across all tenants (a
//!   removed machine is deleted, so there is nothing else to exclude).
//! - `active_clients`: tenants whose licence is active and not past its
//!   expiry date (the rule licensing reads), less the platform's own
//!   tenant: the one holding super_admins is no customer.
//! - `total_monitoring_hours`: the hours since each machine enrolled,
//!   summed over the machines there are now, rounded down.
//!
//! One SQL statement of three scalar subqueries, whatever the fleet's size.

use super::keys;
use crate::{
    domain::DomainError,
    infra::{
        cache::Cache,
        clock::Clock,
        db::{Backend, Database},
    },
};
use sea_orm::{FromQueryResult, Statement, Value};
use serde::{Deserialize, Serialize};
use std::{sync::Arc, time::Duration};

/// How long the figures are served from the cache (and may be cached by
/// browsers and proxies).
pub const TTL: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandingStats {
    pub total_machines: i64,
    pub active_clients: i64,
    pub total_monitoring_hours: i64,
}

#[derive(FromQueryResult)]
struct Row {
    total_machines: i64,
    active_clients: i64,
    monitoring_hours: f64,
}

fn statement(backend: Backend, now: chrono::DateTime<chrono::Utc>) -> Statement {
    // Seconds between enrolment and now, per backend; SQLite keeps
    // timestamps as RFC 3339 text, which julianday() reads.
    let (hours, p) = match backend {
        Backend::Sqlite => ("MAX(julianday(?1) - julianday(created_at), 0) * 24.0", "?1"),
        Backend::Postgres => (
            "GREATEST(EXTRACT(EPOCH FROM ($1 - created_at)), 0) / 3600.0",
            "$1",
        ),
    };
    let sql = format!(
        "SELECT \
           (SELECT COUNT(*) FROM machines) AS total_machines, \
           (SELECT COUNT(*) FROM clients c \
              WHERE c.license_status = 'active' \
                AND (c.license_expires_at IS NULL OR c.license_expires_at >= {p}) \
                AND NOT EXISTS (SELECT 1 FROM users u WHERE u.client_id = c.id AND u.role = 'super_admin') \
           ) AS active_clients, \
           (SELECT CAST(COALESCE(SUM({hours}), 0) AS DOUBLE PRECISION) FROM machines) AS monitoring_hours"
    );
    let backend = match backend {
        Backend::Sqlite => sea_orm::DatabaseBackend::Sqlite,
        Backend::Postgres => sea_orm::DatabaseBackend::Postgres,
    };
    Statement::from_sql_and_values(backend, sql, [Value::from(now)])
}

#[derive(Clone)]
pub struct Landing {
    db: Database,
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
}

impl Landing {
    pub fn new(db: Database, cache: Arc<dyn Cache>, clock: Arc<dyn Clock>) -> Self {
        Self { db, cache, clock }
    }

    /// The figures, from the cache when computed less than [`TTL`] ago.
    /// A cache that cannot answer only costs a database read.
    pub async fn stats(&self) -> Result<LandingStats, DomainError> {
        if let Ok(Some(raw)) = self.cache.get(keys::LANDING_STATS).await {
            if let Ok(stats) = serde_json::from_str(&raw) {
                return Ok(stats);
            }
        }
        let stats = self.compute().await?;
        let raw = serde_json::to_string(&stats).map_err(|e| DomainError::internal("landing stats", e))?;
        if let Err(e) = self.cache.set(keys::LANDING_STATS, &raw, TTL).await {
            tracing::warn!(error = %e, "landing stats not cached");
        }
        Ok(stats)
    }

    async fn compute(&self) -> Result<LandingStats, DomainError> {
        let row = Row::find_by_statement(statement(self.db.backend, self.clock.now()))
            .one(&self.db.conn)
            .await?
            .ok_or_else(|| DomainError::invariant("landing stats returned no row"))?;
        Ok(LandingStats {
            total_machines: row.total_machines,
            active_clients: row.active_clients,
            // Whole hours: a fraction says nothing on a landing page.
            total_monitoring_hours: row.monitoring_hours.max(0.0).floor() as i64,
        })
    }
}

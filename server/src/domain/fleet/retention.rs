//! Time-series retention by licence: Trial 7 days, Starter and Essentials
//! 30, Pro and Business 90, Enterprise 365. One set-based DELETE per table
//! and retention class (never a loop over machines); the rollups follow
//! the raw data. TimescaleDB's 365-day policy is the safety net on top.

use crate::infra::db::Database;
use chrono::{Duration, Utc};
use entities::{
    clients,
    enums::{LicenceType, Stored},
};
use sea_orm::{
    sea_query::{Alias, Expr, Query},
    ConnectionTrait, DbErr,
};

/// Days kept per licence class.
pub const CLASSES: [(i64, &[LicenceType]); 4] = [
    (7, &[LicenceType::Trial]),
    (30, &[LicenceType::Starter, LicenceType::Essentials]),
    (90, &[LicenceType::Pro, LicenceType::Business]),
    (365, &[LicenceType::Enterprise]),
];

/// Raw tables and their time column.
const RAW: [(&str, &str); 4] = [
    ("metrics", "recorded_at"),
    ("disk_info", "recorded_at"),
    ("smart_data", "recorded_at"),
    ("event_logs", "recorded_at"),
];

/// Job-filled rollups (continuous aggregates on TimescaleDB are left to
/// their own refresh).
const ROLLUPS: [(&str, &str); 3] = [
    ("metrics_hourly", "bucket"),
    ("network_hourly", "bucket"),
    ("disk_hourly", "bucket"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub table: &'static str,
    pub days: i64,
    pub rows: u64,
}

/// Deletes what each tenant's licence no longer keeps.
pub async fn apply(db: &Database, timescaledb: bool) -> Result<Vec<Deleted>, DbErr> {
    let now = Utc::now();
    let known: Vec<String> = CLASSES
        .iter()
        .flat_map(|(_, types)| types.iter().map(Stored::stored))
        .collect();
    let tables = RAW
        .iter()
        .chain(if timescaledb { [].iter() } else { ROLLUPS.iter() });
    let mut report = Vec::new();
    for (table, time_col) in tables {
        for (days, types) in CLASSES {
            // A stored licence type this server does not know (written by
            // hand, or by a newer version) gets the shortest retention
            // rather than none.
            let types: Vec<String> = types.iter().map(Stored::stored).collect();
            let mut tenants = Query::select();
            tenants.column(clients::Column::Id).from(clients::Entity);
            if days == 7 {
                tenants.and_where(
                    Expr::col(clients::Column::LicenseType)
                        .is_in(types)
                        .or(Expr::col(clients::Column::LicenseType).is_not_in(known.clone())),
                );
            } else {
                tenants.and_where(Expr::col(clients::Column::LicenseType).is_in(types));
            }
            let delete = Query::delete()
                .from_table(Alias::new(*table))
                .and_where(Expr::col(Alias::new(*time_col)).lt(now - Duration::days(days)))
                .and_where(Expr::col(Alias::new("client_id")).in_subquery(tenants.to_owned()))
                .to_owned();
            let rows = db
                .conn
                .execute(db.conn.get_database_backend().build(&delete))
                .await?
                .rows_affected();
            if rows > 0 {
                tracing::info!(table, retention_days = days, rows, "retention: rows deleted");
            }
            report.push(Deleted { table, days, rows });
        }
    }
    Ok(report)
}

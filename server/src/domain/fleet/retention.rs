//! Time-series retention by licence: each licence type's retention days
//! (the built-in ones: Trial 7, Starter and Essentials 30, Pro and
//! Business 90, Enterprise 365). One set-based DELETE per table and
//! retention class (never a loop over machines); the rollups follow the
//! raw data, continuous aggregates included. TimescaleDB's 365-day policy is the safety net on top.

use crate::infra::db::Database;
use chrono::{Duration, Utc};
use entities::{clients, license_types};
use sea_orm::{
    sea_query::{Alias, Expr, Query, SelectStatement},
    ConnectionTrait, DbErr, EntityTrait, QuerySelect, Statement,
};

/// Days kept for a tenant whose licence type is unknown (deleted by hand,
/// or written by a newer version): the shortest, rather than none.
pub const UNKNOWN_TYPE_DAYS: i64 = 7;

/// Raw tables and their time column.
const RAW: [(&str, &str); 4] = [
    ("metrics", "recorded_at"),
    ("disk_info", "recorded_at"),
    ("smart_data", "recorded_at"),
    ("event_logs", "recorded_at"),
];

/// Job-filled rollups; on TimescaleDB the same names are continuous
/// aggregates, which cannot be deleted from (see [`apply`]).
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

/// The tenants kept `days`, by licence type; `None` selects those whose
/// type is unknown.
fn tenants_kept(days: Option<i32>) -> SelectStatement {
    let mut types = Query::select();
    types
        .column(license_types::Column::Code)
        .from(license_types::Entity);
    if let Some(days) = days {
        types.and_where(Expr::col(license_types::Column::RetentionDays).eq(days));
    }
    let mut tenants = Query::select();
    tenants.column(clients::Column::Id).from(clients::Entity);
    if days.is_some() {
        tenants.and_where(Expr::col(clients::Column::LicenseType).in_subquery(types));
    } else {
        tenants.and_where(Expr::col(clients::Column::LicenseType).not_in_subquery(types));
    }
    tenants
}

/// Deletes what each tenant's licence no longer keeps.
pub async fn apply(db: &Database, timescaledb: bool) -> Result<Vec<Deleted>, DbErr> {
    let now = Utc::now();
    let mut classes: Vec<i32> = license_types::Entity::find()
        .select_only()
        .column(license_types::Column::RetentionDays)
        .distinct()
        .into_tuple()
        .all(&db.conn)
        .await?;
    classes.sort_unstable();
    let classes = classes
        .into_iter()
        .map(|d| (i64::from(d), Some(d)))
        .chain([(UNKNOWN_TYPE_DAYS, None)]);
    let tables = RAW
        .iter()
        .chain(if timescaledb { [].iter() } else { ROLLUPS.iter() });
    let mut report = Vec::new();
    for (table, time_col) in tables {
        for (days, class) in classes.clone() {
            let delete = Query::delete()
                .from_table(Alias::new(*table))
                .and_where(Expr::col(Alias::new(*time_col)).lt(now - Duration::days(days)))
                .and_where(Expr::col(Alias::new("client_id")).in_subquery(tenants_kept(class)))
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
    if timescaledb {
        // The raw deletes above are logged as invalidations; refreshing
        // the aggregates up to the shortest retention recomputes only the
        // invalidated buckets, so those whose raw rows are gone disappear
        // too. Their own policy refreshes the last 31 days only: older
        // invalidations would otherwise never be applied.
        let shortest = classes.map(|(days, _)| days).min().unwrap_or(UNKNOWN_TYPE_DAYS);
        let until = now - Duration::days(shortest);
        for (view, _) in ROLLUPS {
            let refreshed = db
                .conn
                .execute(Statement::from_sql_and_values(
                    db.conn.get_database_backend(),
                    format!("CALL refresh_continuous_aggregate('{view}', NULL, $1)"),
                    [until.into()],
                ))
                .await;
            match refreshed {
                Ok(_) => {}
                // The rollup job or TimescaleDB's own policy is refreshing
                // it: the invalidations stay logged, and the next cleanup
                // applies them.
                Err(e) if crate::infra::db_failure::is_lock_not_available(&e) => {
                    tracing::info!(
                        view,
                        "continuous aggregate busy; its purge waits for the next cleanup"
                    );
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(report)
}

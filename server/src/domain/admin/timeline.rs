//! `adminTimeline`: tenants and machines created per day (or week), with
//! running totals. One grouped statement returns, per table, the rows
//! created before the period and the rows created on each day of it;
//! buckets, including empty ones, are made here, so both backends share
//! everything but the expression that names a row's day.

use super::{Granularity, Period, PlatformStats};
use crate::{domain::DomainError, infra::db::Backend};
use chrono::NaiveDate;
use sea_orm::{FromQueryResult, Statement, Value};
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelinePoint {
    /// The bucket's first day.
    pub day: NaiveDate,
    /// Created up to the end of the bucket.
    pub clients_total: i64,
    pub clients_new: i64,
    pub machines_total: i64,
    pub machines_new: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    pub granularity: Granularity,
    pub points: Vec<TimelinePoint>,
}

#[derive(FromQueryResult)]
struct Row {
    kind: String,
    /// YYYY-MM-DD (UTC), or empty for rows created before the period.
    day: String,
    n: i64,
}

/// Per table: what existed before the period, and what each day added.
#[derive(Default)]
struct Counts {
    before: i64,
    per_day: HashMap<NaiveDate, i64>,
}

impl Counts {
    fn add(&mut self, day: &str, n: i64) {
        if day.is_empty() {
            self.before += n;
        } else if let Ok(d) = NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            *self.per_day.entry(d).or_default() += n;
        }
    }

    /// New rows in `[start, start + days)`.
    fn in_bucket(&self, start: NaiveDate, days: i64) -> i64 {
        start
            .iter_days()
            .take(days as usize)
            .map(|d| self.per_day.get(&d).copied().unwrap_or(0))
            .sum()
    }
}

fn statement(backend: Backend, period: &Period) -> Statement {
    // Timestamps are UTC: SQLite keeps them as RFC 3339 text.
    let (day, params) = match backend {
        Backend::Sqlite => ("substr(created_at, 1, 10)", ["?", "?", "?", "?"]),
        Backend::Postgres => (
            "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            ["$1", "$2", "$3", "$4"],
        ),
    };
    let [from_c, to_c, from_m, to_m] = params;
    let sql = format!(
        "SELECT 'client' AS kind, CASE WHEN created_at < {from_c} THEN '' ELSE {day} END AS day, COUNT(*) AS n \
         FROM clients WHERE created_at < {to_c} GROUP BY 2 \
         UNION ALL \
         SELECT 'machine' AS kind, CASE WHEN created_at < {from_m} THEN '' ELSE {day} END AS day, COUNT(*) AS n \
         FROM machines WHERE created_at < {to_m} GROUP BY 2"
    );
    let values: Vec<Value> = [period.from, period.to, period.from, period.to]
        .into_iter()
        .map(Into::into)
        .collect();
    let backend = match backend {
        Backend::Sqlite => sea_orm::DatabaseBackend::Sqlite,
        Backend::Postgres => sea_orm::DatabaseBackend::Postgres,
    };
    Statement::from_sql_and_values(backend, sql, values)
}

impl PlatformStats {
    pub async fn timeline(&self, period: &Period) -> Result<Timeline, DomainError> {
        let rows = Row::find_by_statement(statement(self.db.backend, period))
            .all(&self.db.conn)
            .await?;
        let (mut clients, mut machines) = (Counts::default(), Counts::default());
        for r in rows {
            match r.kind.as_str() {
                "client" => clients.add(&r.day, r.n),
                _ => machines.add(&r.day, r.n),
            }
        }
        let granularity = period.granularity();
        let (mut clients_total, mut machines_total) = (clients.before, machines.before);
        let points = period
            .buckets()
            .into_iter()
            .map(|day| {
                let clients_new = clients.in_bucket(day, granularity.days());
                let machines_new = machines.in_bucket(day, granularity.days());
                clients_total += clients_new;
                machines_total += machines_new;
                TimelinePoint {
                    day,
                    clients_total,
                    clients_new,
                    machines_total,
                    machines_new,
                }
            })
            .collect();
        Ok(Timeline { granularity, points })
    }
}

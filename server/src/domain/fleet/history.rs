//! Metric history for charts: raw samples for short ranges, hourly rollups
//! for long ones, and hourly-sampled raw data when the rollups are still
//! too thin (a new database, an aggregate not yet refreshed).

use crate::{
    domain::DomainError,
    infra::db::{Backend, Database},
};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, FromQueryResult, Statement, Value};
use uuid::Uuid;

/// Fewer rollup points than this and the raw data is sampled instead.
const MIN_ROLLUP_POINTS: usize = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    H1,
    H24,
    D7,
    D30,
}

impl Range {
    pub fn span(self) -> Duration {
        match self {
            Self::H1 => Duration::hours(1),
            Self::H24 => Duration::hours(24),
            Self::D7 => Duration::days(7),
            Self::D30 => Duration::days(30),
        }
    }

    fn hourly(self) -> bool {
        matches!(self, Self::D7 | Self::D30)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    Raw,
    Hourly,
}

/// Which series of the `metrics` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Series {
    Metrics,
    Network,
}

impl Series {
    fn collector(self) -> &'static str {
        match self {
            Self::Metrics => "metrics",
            Self::Network => "network",
        }
    }

    /// Raw columns, named as [`Point`]'s fields.
    fn raw_columns(self) -> &'static str {
        match self {
            Self::Metrics => {
                "recorded_at AS at, cpu_percent, ram_percent, cpu_temp, \
                 cpu_percent AS cpu_min, cpu_percent AS cpu_max, ram_percent AS ram_min, ram_percent AS ram_max, \
                 NULL AS bytes_recv, NULL AS bytes_sent, NULL AS packet_loss, NULL AS latency_ms, \
                 NULL AS bytes_recv_max, NULL AS bytes_sent_max, NULL AS packet_loss_max, NULL AS latency_max"
            }
            Self::Network => {
                "recorded_at AS at, NULL AS cpu_percent, NULL AS ram_percent, NULL AS cpu_temp, \
                 NULL AS cpu_min, NULL AS cpu_max, NULL AS ram_min, NULL AS ram_max, \
                 CAST(bytes_recv AS DOUBLE PRECISION) AS bytes_recv, CAST(bytes_sent AS DOUBLE PRECISION) AS bytes_sent, \
                 packet_loss, latency_ms, \
                 CAST(bytes_recv AS DOUBLE PRECISION) AS bytes_recv_max, CAST(bytes_sent AS DOUBLE PRECISION) AS bytes_sent_max, \
                 packet_loss AS packet_loss_max, latency_ms AS latency_max"
            }
        }
    }

    /// The rollup and its columns under the same names.
    fn rollup(self) -> (&'static str, &'static str) {
        match self {
            Self::Metrics => (
                "metrics_hourly",
                "bucket AS at, cpu_avg AS cpu_percent, ram_avg AS ram_percent, cpu_temp_avg AS cpu_temp, \
                 cpu_min, cpu_max, ram_min, ram_max, \
                 NULL AS bytes_recv, NULL AS bytes_sent, NULL AS packet_loss, NULL AS latency_ms, \
                 NULL AS bytes_recv_max, NULL AS bytes_sent_max, NULL AS packet_loss_max, NULL AS latency_max",
            ),
            Self::Network => (
                "network_hourly",
                "bucket AS at, NULL AS cpu_percent, NULL AS ram_percent, NULL AS cpu_temp, \
                 NULL AS cpu_min, NULL AS cpu_max, NULL AS ram_min, NULL AS ram_max, \
                 bytes_recv_avg AS bytes_recv, bytes_sent_avg AS bytes_sent, packet_loss_avg AS packet_loss, latency_avg AS latency_ms, \
                 bytes_recv_max, bytes_sent_max, packet_loss_max, latency_max",
            ),
        }
    }
}

/// One point of a chart; which fields are set depends on the series.
#[derive(Clone, Debug, PartialEq, FromQueryResult)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub cpu_percent: Option<f64>,
    pub ram_percent: Option<f64>,
    pub cpu_temp: Option<f64>,
    pub cpu_min: Option<f64>,
    pub cpu_max: Option<f64>,
    pub ram_min: Option<f64>,
    pub ram_max: Option<f64>,
    pub bytes_recv: Option<f64>,
    pub bytes_sent: Option<f64>,
    pub packet_loss: Option<f64>,
    pub latency_ms: Option<f64>,
    pub bytes_recv_max: Option<f64>,
    pub bytes_sent_max: Option<f64>,
    pub packet_loss_max: Option<f64>,
    pub latency_max: Option<f64>,
}

pub struct History {
    pub points: Vec<Point>,
    pub resolution: Resolution,
}

/// Chart data of one machine the caller may see (the tenant check is the
/// caller's: `client_id` is in every statement as well).
pub async fn history(
    db: &Database,
    client_id: Uuid,
    machine_id: Uuid,
    series: Series,
    range: Range,
) -> Result<History, DomainError> {
    let since = Utc::now() - range.span();
    let values = || -> Vec<Value> { vec![machine_id.into(), client_id.into(), since.into()] };
    let run = |sql: String, values: Vec<Value>| async move {
        let stmt = Statement::from_sql_and_values(db.conn.get_database_backend(), sql, values);
        Point::find_by_statement(stmt).all(&db.conn).await
    };
    let (p1, p2, p3) = placeholders(db.backend);
    if !range.hourly() {
        let sql = format!(
            "SELECT {} FROM metrics WHERE machine_id = {p1} AND client_id = {p2} AND collector = '{}' AND recorded_at >= {p3} ORDER BY recorded_at",
            series.raw_columns(),
            series.collector()
        );
        return Ok(History {
            points: run(sql, values()).await?,
            resolution: Resolution::Raw,
        });
    }
    let (table, columns) = series.rollup();
    let sql = format!(
        "SELECT {columns} FROM {table} WHERE machine_id = {p1} AND client_id = {p2} AND bucket >= {p3} ORDER BY bucket"
    );
    let points = run(sql, values()).await?;
    if points.len() >= MIN_ROLLUP_POINTS {
        return Ok(History {
            points,
            resolution: Resolution::Hourly,
        });
    }
    // The last sample of each hour.
    let cols = series.raw_columns();
    let collector = series.collector();
    let sql = match db.backend {
        Backend::Postgres => format!(
            "SELECT {cols} FROM (SELECT DISTINCT ON (date_trunc('hour', recorded_at)) * FROM metrics \
             WHERE machine_id = {p1} AND client_id = {p2} AND collector = '{collector}' AND recorded_at >= {p3} \
             ORDER BY date_trunc('hour', recorded_at), recorded_at DESC) hourly ORDER BY recorded_at"
        ),
        // Timestamps are RFC 3339 text: the first 13 characters are the hour.
        Backend::Sqlite => format!(
            "SELECT {cols} FROM metrics WHERE machine_id = {p1} AND collector = '{collector}' AND recorded_at IN \
             (SELECT MAX(recorded_at) FROM metrics WHERE machine_id = {p1} AND client_id = {p2} AND collector = '{collector}' \
             AND recorded_at >= {p3} GROUP BY substr(recorded_at, 1, 13)) ORDER BY recorded_at"
        ),
    };
    Ok(History {
        points: run(sql, values()).await?,
        resolution: Resolution::Hourly,
    })
}

/// Numbered placeholders for three values (SQLite accepts `?N` as well).
fn placeholders(backend: Backend) -> (&'static str, &'static str, &'static str) {
    match backend {
        Backend::Postgres => ("$1", "$2", "$3"),
        Backend::Sqlite => ("?1", "?2", "?3"),
    }
}

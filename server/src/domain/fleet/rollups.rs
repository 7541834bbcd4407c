//! Hourly rollups. With TimescaleDB they are continuous aggregates kept by
//! their own policy, refreshed once at start over the last 31 days. Without
//! it a job upserts the same rows into plain tables: every few minutes for
//! the last hours, and over 31 days at start (catching samples that arrived
//! late while the server was down).

use crate::infra::db::{Backend, Database};
use chrono::{DateTime, Duration, DurationRound, Utc};
use sea_orm::{ConnectionTrait, DbErr, Statement};

pub const START_WINDOW: Duration = Duration::days(31);
/// Buckets re-computed on every tick.
pub const TICK_WINDOW: Duration = Duration::hours(3);

fn bucket(backend: Backend, col: &str) -> String {
    match backend {
        Backend::Postgres => format!("(date_trunc('hour', {col} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"),
        // Same text form as every stored timestamp (RFC 3339, UTC).
        Backend::Sqlite => format!("strftime('%Y-%m-%dT%H:00:00+00:00', {col})"),
    }
}

fn rollup_sql(backend: Backend) -> [String; 3] {
    let b = bucket(backend, "recorded_at");
    let (p1, p2) = match backend {
        Backend::Postgres => ("$1", "$2"),
        Backend::Sqlite => ("?1", "?2"),
    };
    [
        format!(
            "INSERT INTO metrics_hourly (machine_id, bucket, client_id, cpu_avg, cpu_min, cpu_max, ram_avg, ram_min, ram_max, \
             cpu_temp_avg, cpu_temp_min, cpu_temp_max, samples) \
             SELECT machine_id, {b}, client_id, AVG(cpu_percent), MIN(cpu_percent), MAX(cpu_percent), \
             AVG(ram_percent), MIN(ram_percent), MAX(ram_percent), AVG(cpu_temp), MIN(cpu_temp), MAX(cpu_temp), COUNT(*) \
             FROM metrics WHERE collector = 'metrics' AND recorded_at >= {p1} AND recorded_at < {p2} \
             GROUP BY machine_id, {b}, client_id \
             ON CONFLICT (machine_id, bucket) DO UPDATE SET cpu_avg = excluded.cpu_avg, cpu_min = excluded.cpu_min, \
             cpu_max = excluded.cpu_max, ram_avg = excluded.ram_avg, ram_min = excluded.ram_min, ram_max = excluded.ram_max, \
             cpu_temp_avg = excluded.cpu_temp_avg, cpu_temp_min = excluded.cpu_temp_min, \
             cpu_temp_max = excluded.cpu_temp_max, samples = excluded.samples"
        ),
        format!(
            "INSERT INTO network_hourly (machine_id, bucket, client_id, bytes_recv_avg, bytes_recv_max, bytes_sent_avg, \
             bytes_sent_max, packet_loss_avg, packet_loss_max, latency_avg, latency_max, samples) \
             SELECT machine_id, {b}, client_id, AVG(bytes_recv), MAX(bytes_recv), AVG(bytes_sent), MAX(bytes_sent), \
             AVG(packet_loss), MAX(packet_loss), AVG(latency_ms), MAX(latency_ms), COUNT(*) \
             FROM metrics WHERE collector = 'network' AND recorded_at >= {p1} AND recorded_at < {p2} \
             GROUP BY machine_id, {b}, client_id \
             ON CONFLICT (machine_id, bucket) DO UPDATE SET bytes_recv_avg = excluded.bytes_recv_avg, \
             bytes_recv_max = excluded.bytes_recv_max, bytes_sent_avg = excluded.bytes_sent_avg, \
             bytes_sent_max = excluded.bytes_sent_max, packet_loss_avg = excluded.packet_loss_avg, \
             packet_loss_max = excluded.packet_loss_max, latency_avg = excluded.latency_avg, \
             latency_max = excluded.latency_max, samples = excluded.samples"
        ),
        format!(
            "INSERT INTO disk_hourly (machine_id, mount_point, bucket, client_id, disk_usage_avg, disk_usage_max, samples) \
             SELECT machine_id, mount_point, {b}, client_id, AVG(used_percent), MAX(used_percent), COUNT(*) \
             FROM disk_info WHERE recorded_at >= {p1} AND recorded_at < {p2} \
             GROUP BY machine_id, mount_point, {b}, client_id \
             ON CONFLICT (machine_id, mount_point, bucket) DO UPDATE SET disk_usage_avg = excluded.disk_usage_avg, \
             disk_usage_max = excluded.disk_usage_max, samples = excluded.samples"
        ),
    ]
}

/// Recomputes every hourly bucket that starts in `[from, to)`.
pub async fn refresh(
    db: &Database,
    timescaledb: bool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(), DbErr> {
    let from = from.duration_trunc(Duration::hours(1)).unwrap_or(from);
    if timescaledb {
        for view in ["metrics_hourly", "network_hourly", "disk_hourly"] {
            db.conn
                .execute(Statement::from_sql_and_values(
                    db.conn.get_database_backend(),
                    format!("CALL refresh_continuous_aggregate('{view}', $1, $2)"),
                    [from.into(), to.into()],
                ))
                .await?;
        }
        return Ok(());
    }
    let backend = db.conn.get_database_backend();
    for sql in rollup_sql(db.backend) {
        db.conn
            .execute(Statement::from_sql_and_values(
                backend,
                sql,
                [from.into(), to.into()],
            ))
            .await?;
    }
    Ok(())
}

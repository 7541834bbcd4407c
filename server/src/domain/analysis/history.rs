//! What the sections read for one machine, loaded in a fixed number of
//! statements whatever the data size, and only what the requested sections
//! need. Memory stays bounded: raw points only for the last
//! [`RAW_WINDOW`] (and at most [`MAX_RAW`] of them), hourly rollups for the
//! longer windows, grouped counts for the event logs.
//!
//! The hourly series joins the rollups (older than the raw window) with
//! hours computed here from the raw points: the rollup job lags the raw
//! data, and the recent hours are the ones an analysis cares most about.

use super::Section;
use crate::{
    domain::{collectors::Collector, DomainError},
    infra::db::Database,
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use entities::{
    alert_rule_history, disk_hourly, disk_info, event_logs, machine_collector_data, machines, metrics,
    metrics_hourly, risk_overrides,
};
use sea_orm::{
    sea_query::Expr, ActiveEnum, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Raw samples are read over this window; older data comes from rollups.
pub const RAW_WINDOW: Duration = Duration::days(7);
/// Raw metric samples kept at most (the newest): a week at one per 30 s.
pub const MAX_RAW: u64 = 20_160;
/// Raw disk samples kept at most (all volumes together).
const MAX_RAW_DISK: u64 = 20_000;
/// Recent events kept at most, for correlation (an event storm must not
/// fill the memory).
pub const MAX_EVENTS: u64 = 5_000;
/// Error and critical groups kept at most, the most frequent first.
const MAX_EVENT_GROUPS: u64 = 200;
/// Longest event message kept (machine text, only ever quoted).
const MAX_MESSAGE: usize = 500;
/// The log analysis window.
pub const LOG_WINDOW: Duration = Duration::days(30);

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
}

impl Point {
    pub fn new(at: DateTime<Utc>, value: f64) -> Self {
        Self { at, value }
    }
}

/// One raw sample of the metrics collector.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RawSample {
    pub at: DateTime<Utc>,
    pub cpu: Option<f64>,
    pub ram: Option<f64>,
    pub disk_latency_ms: Option<f64>,
    pub io_wait_percent: Option<f64>,
}

/// One hour of CPU and RAM.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hour {
    pub at: DateTime<Utc>,
    pub cpu_avg: Option<f64>,
    pub cpu_max: Option<f64>,
    pub ram_avg: Option<f64>,
    pub ram_max: Option<f64>,
}

/// A volume as the latest storage sample reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct Volume {
    pub mount_point: String,
    pub total_gb: f64,
    pub used_gb: f64,
    pub used_percent: f64,
}

/// An event of level critical, error or warning.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub at: DateTime<Utc>,
    pub source: String,
    pub event_id: i64,
    /// critical, error or warning (lower case, as stored).
    pub level: String,
    pub message: String,
}

/// Error or critical events of one (source, id, level) over the log window.
#[derive(Clone, Debug, PartialEq)]
pub struct EventGroup {
    pub source: String,
    pub event_id: i64,
    pub level: String,
    pub count: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ActiveAlert {
    pub metric: String,
    pub severity: String,
    pub since: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct MachineInfo {
    pub id: Uuid,
    pub hostname: String,
    pub os: String,
    pub is_os_compliant: bool,
}

impl MachineInfo {
    pub fn is_windows(&self) -> bool {
        self.os.to_ascii_lowercase().contains("windows")
    }
}

/// Everything the sections read, oldest first in every series.
#[derive(Clone, Debug)]
pub struct History {
    pub now: DateTime<Utc>,
    pub machine: MachineInfo,
    pub raw: Vec<RawSample>,
    pub hourly: Vec<Hour>,
    /// Hourly average percent used, per mount point.
    pub disks: BTreeMap<String, Vec<Point>>,
    pub volumes: Vec<Volume>,
    pub events: Vec<Event>,
    pub event_groups: Vec<EventGroup>,
    pub snapshots: Vec<machine_collector_data::Model>,
    pub overrides: Vec<risk_overrides::Model>,
    pub alerts: Vec<ActiveAlert>,
    /// Statements the load ran.
    pub statements: u32,
}

impl History {
    /// An empty history of `machine` at `now` (tests build on it).
    pub fn empty(machine: MachineInfo, now: DateTime<Utc>) -> Self {
        Self {
            now,
            machine,
            raw: Vec::new(),
            hourly: Vec::new(),
            disks: BTreeMap::new(),
            volumes: Vec::new(),
            events: Vec::new(),
            event_groups: Vec::new(),
            snapshots: Vec::new(),
            overrides: Vec::new(),
            alerts: Vec::new(),
            statements: 0,
        }
    }

    /// One raw series by metric name.
    pub fn raw_series(&self, metric: &str) -> Vec<Point> {
        let pick: fn(&RawSample) -> Option<f64> = match metric {
            "cpu_percent" => |s| s.cpu,
            "ram_percent" => |s| s.ram,
            "disk_latency_ms" => |s| s.disk_latency_ms,
            "io_wait_percent" => |s| s.io_wait_percent,
            _ => return Vec::new(),
        };
        self.raw
            .iter()
            .filter_map(|s| pick(s).map(|v| Point::new(s.at, v)))
            .collect()
    }

    /// One hourly average series (`cpu_percent` or `ram_percent`).
    pub fn hourly_series(&self, metric: &str) -> Vec<Point> {
        self.hourly
            .iter()
            .filter_map(|h| {
                let v = match metric {
                    "cpu_percent" => h.cpu_avg,
                    "ram_percent" => h.ram_avg,
                    _ => None,
                };
                v.map(|v| Point::new(h.at, v))
            })
            .collect()
    }

    /// A collector's latest snapshot.
    pub fn snapshot(&self, c: Collector) -> Option<&machine_collector_data::Model> {
        self.snapshots.iter().find(|s| s.collector == c.name())
    }
}

/// What to read, from the sections asked for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    pub raw: bool,
    /// Days of hourly CPU/RAM; 0 for none.
    pub hourly_days: i64,
    /// Disk usage per volume, over `hourly_days`.
    pub disks: bool,
    pub events: bool,
    pub event_groups: bool,
    pub snapshots: bool,
    pub alerts: bool,
}

impl Needs {
    pub fn of(sections: &[Section]) -> Self {
        let mut n = Self::default();
        for s in sections {
            match s {
                Section::Health => {
                    n.raw = true;
                    n.events = true;
                    n.snapshots = true;
                    n.alerts = true;
                    n.hourly_days = n.hourly_days.max(7);
                }
                Section::Anomalies => {
                    n.raw = true;
                    n.hourly_days = n.hourly_days.max(30);
                }
                Section::Trends | Section::Degradation => {
                    n.raw = true;
                    n.disks = true;
                    n.hourly_days = n.hourly_days.max(30);
                }
                Section::Intermittency | Section::Drift => n.raw = true,
                Section::Correlations => {
                    n.raw = true;
                    n.events = true;
                }
                Section::Capacity => {
                    n.raw = true;
                    n.disks = true;
                    n.snapshots = true;
                    n.hourly_days = n.hourly_days.max(180);
                }
                Section::Logs => n.event_groups = true,
                Section::Recommendations | Section::Scripts => n.snapshots = true,
            }
        }
        n
    }
}

fn hour_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(Duration::hours(1)).unwrap_or(at)
}

fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE {
        return text.to_owned();
    }
    let mut t: String = text.chars().take(MAX_MESSAGE).collect();
    t.push('…');
    t
}

/// Hourly averages and maxima of the raw samples.
fn hours_from_raw(raw: &[RawSample]) -> Vec<Hour> {
    #[derive(Default)]
    struct Acc {
        cpu: (f64, u32, f64),
        ram: (f64, u32, f64),
    }
    let mut by_hour: BTreeMap<DateTime<Utc>, Acc> = BTreeMap::new();
    for s in raw {
        let a = by_hour.entry(hour_of(s.at)).or_default();
        if let Some(v) = s.cpu {
            a.cpu = (
                a.cpu.0 + v,
                a.cpu.1 + 1,
                if a.cpu.1 == 0 { v } else { a.cpu.2.max(v) },
            );
        }
        if let Some(v) = s.ram {
            a.ram = (
                a.ram.0 + v,
                a.ram.1 + 1,
                if a.ram.1 == 0 { v } else { a.ram.2.max(v) },
            );
        }
    }
    let avg = |(sum, n, _): (f64, u32, f64)| (n > 0).then(|| sum / f64::from(n));
    let max = |(_, n, m): (f64, u32, f64)| (n > 0).then_some(m);
    by_hour
        .into_iter()
        .map(|(at, a)| Hour {
            at,
            cpu_avg: avg(a.cpu),
            cpu_max: max(a.cpu),
            ram_avg: avg(a.ram),
            ram_max: max(a.ram),
        })
        .collect()
}

/// Loads what `needs` asks for, for the machine of `client_id`
/// (`NotFound("machine")` otherwise).
pub async fn load(
    db: &Database,
    client_id: Uuid,
    machine_id: Uuid,
    now: DateTime<Utc>,
    needs: Needs,
) -> Result<History, DomainError> {
    let conn = &db.conn;
    let machine = machines::Entity::find_by_id(machine_id)
        .filter(machines::Column::ClientId.eq(client_id))
        .one(conn)
        .await?
        .ok_or(DomainError::NotFound("machine"))?;
    // The machine is the tenant's: the series below are read by machine
    // alone. With the tenant in the filter too, SQLite's planner took the
    // tenant-wide time index and walked every machine's window (a routine
    // over 1,000 machines grew with the square of the fleet).
    let mut h = History::empty(
        MachineInfo {
            id: machine.id,
            hostname: machine.hostname,
            os: machine.os,
            is_os_compliant: machine.is_os_compliant,
        },
        now,
    );
    let mut statements = 1;
    let raw_from = now - RAW_WINDOW;
    let long_from = now - Duration::days(needs.hourly_days);
    let raw_q = async {
        if !needs.raw {
            return Ok(None);
        }
        metrics::Entity::find()
            .select_only()
            .columns([
                metrics::Column::RecordedAt,
                metrics::Column::CpuPercent,
                metrics::Column::RamPercent,
                metrics::Column::DiskLatencyMs,
                metrics::Column::IoWaitPercent,
            ])
            .filter(metrics::Column::MachineId.eq(machine_id))
            .filter(metrics::Column::Collector.eq("metrics"))
            .filter(metrics::Column::RecordedAt.gte(raw_from))
            .filter(metrics::Column::RecordedAt.lte(now))
            .order_by_desc(metrics::Column::RecordedAt)
            .limit(MAX_RAW)
            .into_tuple::<(DateTime<Utc>, Option<f64>, Option<f64>, Option<f64>, Option<f64>)>()
            .all(conn)
            .await
            .map(Some)
    };
    let hourly_q = async {
        if needs.hourly_days <= RAW_WINDOW.num_days() {
            return Ok(None);
        }
        metrics_hourly::Entity::find()
            .filter(metrics_hourly::Column::MachineId.eq(machine_id))
            .filter(metrics_hourly::Column::Bucket.gte(long_from))
            .filter(metrics_hourly::Column::Bucket.lt(hour_of(raw_from)))
            .order_by_asc(metrics_hourly::Column::Bucket)
            .all(conn)
            .await
            .map(Some)
    };
    let disk_hourly_q = async {
        if !needs.disks || needs.hourly_days <= RAW_WINDOW.num_days() {
            return Ok(None);
        }
        disk_hourly::Entity::find()
            .filter(disk_hourly::Column::MachineId.eq(machine_id))
            .filter(disk_hourly::Column::Bucket.gte(long_from))
            .filter(disk_hourly::Column::Bucket.lt(hour_of(raw_from)))
            .order_by_asc(disk_hourly::Column::Bucket)
            .all(conn)
            .await
            .map(Some)
    };
    let disk_raw_q = async {
        if !needs.disks {
            return Ok(None);
        }
        disk_info::Entity::find()
            .select_only()
            .columns([
                disk_info::Column::MountPoint,
                disk_info::Column::RecordedAt,
                disk_info::Column::UsedPercent,
            ])
            .filter(disk_info::Column::MachineId.eq(machine_id))
            .filter(disk_info::Column::RecordedAt.gte(hour_of(raw_from)))
            .filter(disk_info::Column::RecordedAt.lte(now))
            .order_by_desc(disk_info::Column::RecordedAt)
            .limit(MAX_RAW_DISK)
            .into_tuple::<(String, DateTime<Utc>, f64)>()
            .all(conn)
            .await
            .map(Some)
    };
    let events_q = async {
        if !needs.events {
            return Ok(None);
        }
        event_logs::Entity::find()
            .filter(event_logs::Column::MachineId.eq(machine_id))
            .filter(event_logs::Column::Level.is_in(["critical", "error", "warning"]))
            .filter(event_logs::Column::RecordedAt.gte(raw_from))
            .filter(event_logs::Column::RecordedAt.lte(now))
            .order_by_desc(event_logs::Column::RecordedAt)
            .limit(MAX_EVENTS)
            .all(conn)
            .await
            .map(Some)
    };
    let groups_q = async {
        if !needs.event_groups {
            return Ok(None);
        }
        use event_logs::Column as E;
        event_logs::Entity::find()
            .select_only()
            .columns([E::Source, E::EventId, E::Level])
            .column_as(Expr::col(E::RecordedAt).count(), "n")
            .column_as(Expr::col(E::RecordedAt).min(), "first_seen")
            .column_as(Expr::col(E::RecordedAt).max(), "last_seen")
            .filter(E::MachineId.eq(machine_id))
            .filter(E::Level.is_in(["critical", "error"]))
            .filter(E::RecordedAt.gte(now - LOG_WINDOW))
            .filter(E::RecordedAt.lte(now))
            .group_by(E::Source)
            .group_by(E::EventId)
            .group_by(E::Level)
            .order_by_desc(Expr::col(E::RecordedAt).count())
            .limit(MAX_EVENT_GROUPS)
            .into_tuple::<(String, i64, String, i64, DateTime<Utc>, DateTime<Utc>)>()
            .all(conn)
            .await
            .map(Some)
    };
    let snapshots_q = async {
        if !needs.snapshots {
            return Ok(None);
        }
        machine_collector_data::Entity::find()
            .filter(machine_collector_data::Column::MachineId.eq(machine_id))
            .filter(machine_collector_data::Column::ClientId.eq(client_id))
            .all(conn)
            .await
            .map(Some)
    };
    let overrides_q = async {
        if !needs.snapshots {
            return Ok(None);
        }
        risk_overrides::Entity::find()
            .filter(risk_overrides::Column::MachineId.eq(machine_id))
            .filter(risk_overrides::Column::ClientId.eq(client_id))
            .all(conn)
            .await
            .map(Some)
    };
    let alerts_q = async {
        if !needs.alerts {
            return Ok(None);
        }
        alert_rule_history::Entity::find()
            .filter(alert_rule_history::Column::MachineId.eq(machine_id))
            .filter(alert_rule_history::Column::ClientId.eq(client_id))
            .filter(alert_rule_history::Column::ResolvedAt.is_null())
            .order_by_desc(alert_rule_history::Column::TriggeredAt)
            .limit(100)
            .all(conn)
            .await
            .map(Some)
    };
    let (raw, hourly, disk_hourly, disk_raw, events, groups, snapshots, overrides, alerts) = futures::try_join!(
        raw_q,
        hourly_q,
        disk_hourly_q,
        disk_raw_q,
        events_q,
        groups_q,
        snapshots_q,
        overrides_q,
        alerts_q
    )?;

    if let Some(mut raw) = raw {
        statements += 1;
        raw.reverse();
        h.raw = raw
            .into_iter()
            .map(|(at, cpu, ram, disk_latency_ms, io_wait_percent)| RawSample {
                at,
                cpu,
                ram,
                disk_latency_ms,
                io_wait_percent,
            })
            .collect();
    }
    let raw_hours = hours_from_raw(&h.raw);
    let first_raw_hour = raw_hours.first().map(|r| r.at);
    if let Some(rows) = hourly {
        statements += 1;
        h.hourly = rows
            .into_iter()
            .filter(|r| first_raw_hour.is_none_or(|f| r.bucket < f))
            .map(|r| Hour {
                at: r.bucket,
                cpu_avg: r.cpu_avg,
                cpu_max: r.cpu_max,
                ram_avg: r.ram_avg,
                ram_max: r.ram_max,
            })
            .collect();
    }
    if needs.hourly_days > 0 {
        h.hourly.extend(raw_hours);
    }
    let mut raw_disk_start: HashMap<String, DateTime<Utc>> = HashMap::new();
    if let Some(rows) = disk_raw {
        statements += 1;
        let mut by_mount: BTreeMap<String, BTreeMap<DateTime<Utc>, (f64, u32)>> = BTreeMap::new();
        for (mount, at, used) in rows {
            let acc = by_mount.entry(mount).or_default().entry(hour_of(at)).or_default();
            acc.0 += used;
            acc.1 += 1;
        }
        for (mount, hours) in by_mount {
            if let Some(first) = hours.keys().next() {
                raw_disk_start.insert(mount.clone(), *first);
            }
            h.disks.insert(
                mount,
                hours
                    .into_iter()
                    .map(|(at, (sum, n))| Point::new(at, sum / f64::from(n)))
                    .collect(),
            );
        }
    }
    if let Some(rows) = disk_hourly {
        statements += 1;
        let mut older: BTreeMap<String, Vec<Point>> = BTreeMap::new();
        for r in rows {
            let Some(avg) = r.disk_usage_avg else { continue };
            if raw_disk_start
                .get(&r.mount_point)
                .is_some_and(|start| r.bucket >= *start)
            {
                continue;
            }
            older
                .entry(r.mount_point)
                .or_default()
                .push(Point::new(r.bucket, avg));
        }
        for (mount, mut points) in older {
            let recent = h.disks.remove(&mount).unwrap_or_default();
            points.extend(recent);
            h.disks.insert(mount, points);
        }
    }
    if let Some(mut rows) = events {
        statements += 1;
        rows.reverse();
        h.events = rows
            .into_iter()
            .map(|e| Event {
                at: e.recorded_at,
                source: e.source,
                event_id: e.event_id,
                level: e.level,
                message: truncate(&e.message),
            })
            .collect();
    }
    if let Some(groups) = groups {
        statements += 1;
        h.event_groups = groups
            .into_iter()
            .map(|(source, event_id, level, n, first_seen, last_seen)| EventGroup {
                source,
                event_id,
                level,
                count: u64::try_from(n).unwrap_or(0),
                first_seen,
                last_seen,
                message: String::new(),
            })
            .collect();
        if !h.event_groups.is_empty() {
            // The latest message of each group: one statement for all.
            use event_logs::Column as E;
            let mut any = Condition::any();
            for g in &h.event_groups {
                any = any.add(
                    Condition::all()
                        .add(E::Source.eq(g.source.clone()))
                        .add(E::EventId.eq(g.event_id))
                        .add(E::RecordedAt.eq(g.last_seen)),
                );
            }
            let latest: Vec<(String, i64, DateTime<Utc>, String)> = event_logs::Entity::find()
                .select_only()
                .columns([E::Source, E::EventId, E::RecordedAt, E::Message])
                .filter(E::MachineId.eq(machine_id))
                .filter(any)
                .into_tuple()
                .all(conn)
                .await?;
            statements += 1;
            for g in &mut h.event_groups {
                if let Some((.., message)) = latest
                    .iter()
                    .find(|(s, id, at, _)| *s == g.source && *id == g.event_id && *at == g.last_seen)
                {
                    g.message = truncate(message);
                }
            }
        }
    }
    if let Some(snapshots) = snapshots {
        statements += 1;
        h.snapshots = snapshots;
        if let Some(storage) = h.snapshot(Collector::Storage) {
            if let Ok(crate::domain::ingest::payloads::Payload::Storage(s)) =
                crate::domain::ingest::payloads::Payload::from_snapshot(Collector::Storage, &storage.data)
            {
                h.volumes = s
                    .disks
                    .into_iter()
                    .map(|d| Volume {
                        used_percent: d.used_percent.unwrap_or(if d.total_gb > 0.0 {
                            d.used_gb / d.total_gb * 100.0
                        } else {
                            0.0
                        }),
                        mount_point: d.mount_point.trim().to_owned(),
                        total_gb: d.total_gb,
                        used_gb: d.used_gb,
                    })
                    .collect();
            }
        }
    }
    if let Some(overrides) = overrides {
        statements += 1;
        h.overrides = overrides;
    }
    if let Some(alerts) = alerts {
        statements += 1;
        h.alerts = alerts
            .into_iter()
            .map(|a| ActiveAlert {
                metric: a.metric.to_value(),
                severity: a.severity.to_value(),
                since: a.triggered_at,
            })
            .collect();
    }
    h.statements = statements;
    Ok(h)
}

#[cfg(test)]
pub mod tests_support {
    /// The hourly rollup of raw samples, as the loader builds it.
    pub fn hours(raw: &[super::RawSample]) -> Vec<super::Hour> {
        super::hours_from_raw(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn raw_samples_roll_up_into_hours() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 0).unwrap();
        let raw: Vec<RawSample> = (0..120)
            .map(|m| RawSample {
                at: t0 + Duration::minutes(m),
                cpu: Some(if m < 60 {
                    10.0
                } else {
                    30.0 + (m % 2) as f64 * 10.0
                }),
                ram: None,
                ..RawSample::default()
            })
            .collect();
        let hours = hours_from_raw(&raw);
        assert_eq!(hours.len(), 2);
        assert_eq!(hours[0].cpu_avg, Some(10.0));
        assert_eq!(hours[1].cpu_avg, Some(35.0));
        assert_eq!(hours[1].cpu_max, Some(40.0));
        assert_eq!(hours[1].ram_avg, None);
    }

    #[test]
    fn only_what_the_sections_read_is_loaded() {
        let logs = Needs::of(&[Section::Logs]);
        assert!(logs.event_groups && !logs.raw && !logs.events && logs.hourly_days == 0);
        let capacity = Needs::of(&[Section::Trends, Section::Capacity]);
        assert_eq!(capacity.hourly_days, 180);
        assert!(capacity.snapshots && capacity.raw && capacity.disks);
        let health = Needs::of(&[Section::Health]);
        assert!(health.raw && health.snapshots && health.alerts && !health.disks);
    }
}

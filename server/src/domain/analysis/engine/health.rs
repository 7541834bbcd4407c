//! The health score. The overall score is the fleet's stored score
//! (`fleet::health`), computed from the same inputs, so the number an
//! analysis writes back to `machines.health_score` agrees with the one the
//! ingest keeps current; the categories break it down, each on 0–100.

use super::super::{
    findings::{CategoryScores, Direction, HealthFinding, RiskLevel},
    history::History,
    stats,
};
use crate::domain::{
    collectors::Collector,
    fleet::{
        health::{score, Inputs, RiskCounts, Smart},
        risks,
    },
    ingest::payloads::Payload,
};
use chrono::Duration;

/// The fleet score's inputs, from the loaded history.
pub fn inputs(h: &History) -> Inputs {
    let last_hour = h.now - Duration::hours(1);
    let recent = |metric: &str| {
        let points = h.raw_series(metric);
        let hour: Vec<f64> = points
            .iter()
            .filter(|p| p.at >= last_hour)
            .map(|p| p.value)
            .collect();
        stats::mean(&hour).or_else(|| points.last().map(|p| p.value))
    };
    let smart = h
        .snapshot(Collector::StorageHealth)
        .and_then(|s| Payload::from_snapshot(Collector::StorageHealth, &s.data).ok())
        .map(|p| match p {
            Payload::StorageHealth(s) => s
                .disks
                .iter()
                .map(|d| Smart::of_disk(&d.smart_status, d.predicted_failure))
                .max()
                .unwrap_or_default(),
            _ => Smart::Unknown,
        })
        .unwrap_or_default();
    let detected = risks::detect(&h.snapshots);
    let since = h.now - Duration::hours(24);
    Inputs {
        cpu_percent: recent("cpu_percent"),
        ram_percent: recent("ram_percent"),
        fullest_disk_percent: h.volumes.iter().map(|v| v.used_percent).max_by(f64::total_cmp),
        smart,
        os_compliant: h.machine.is_os_compliant,
        risks: RiskCounts::of(&risks::apply(detected, &h.overrides, h.now)),
        critical_events_24h: h
            .events
            .iter()
            .filter(|e| e.level == "critical" && e.at > since)
            .count() as u32,
    }
}

/// A step penalty of `fleet::health` turned into a 0–100 category score:
/// each point of penalty costs four.
fn from_penalty(penalty: u32) -> u8 {
    100u32.saturating_sub(penalty * 4) as u8
}

fn step(value: Option<f64>, steps: &[(f64, u32)]) -> u32 {
    let Some(v) = value else { return 0 };
    steps.iter().find(|(at, _)| v >= *at).map_or(0, |(_, p)| *p)
}

pub fn categories(i: &Inputs, active_alerts: usize) -> CategoryScores {
    let disk_usage = step(i.fullest_disk_percent, &[(95.0, 25), (90.0, 15), (80.0, 5)]);
    let smart = match i.smart {
        Smart::Failing => 30,
        Smart::Warning => 10,
        Smart::Healthy | Smart::Unknown => 0,
    };
    let r = &i.risks;
    let risk = (r.critical * 10 + r.high * 5 + r.medium * 2 + r.low).min(25);
    let os = if i.os_compliant { 0 } else { 10 };
    let events = (i.critical_events_24h * 2).min(10);
    let alerts = (active_alerts as u32 * 2).min(10);
    CategoryScores {
        cpu: from_penalty(step(i.cpu_percent, &[(95.0, 15), (85.0, 10), (75.0, 5)])),
        ram: from_penalty(step(i.ram_percent, &[(95.0, 15), (90.0, 10), (80.0, 5)])),
        disk: from_penalty(disk_usage + smart),
        security: from_penalty(risk + os),
        stability: from_penalty(events + alerts),
    }
}

/// How the load moved: the last day against the six before it, on the
/// busiest of CPU and RAM (hourly averages). Five points either way is a
/// change.
pub fn trend(h: &History) -> Direction {
    let day = h.now - Duration::hours(24);
    let week = h.now - Duration::days(7);
    let load = |from, to| {
        let xs: Vec<f64> = h
            .hourly
            .iter()
            .filter(|x| x.at >= from && x.at < to)
            .filter_map(|x| match (x.cpu_avg, x.ram_avg) {
                (Some(c), Some(r)) => Some(c.max(r)),
                (c, r) => c.or(r),
            })
            .collect();
        stats::mean(&xs)
    };
    match (load(day, h.now + Duration::hours(1)), load(week, day)) {
        (Some(recent), Some(before)) if recent - before > 5.0 => Direction::Declining,
        (Some(recent), Some(before)) if before - recent > 5.0 => Direction::Improving,
        _ => Direction::Stable,
    }
}

pub fn risk_level(overall: u8, smart: Smart) -> RiskLevel {
    match overall {
        _ if smart == Smart::Failing => RiskLevel::Critical,
        80.. => RiskLevel::Low,
        60..=79 => RiskLevel::Medium,
        40..=59 => RiskLevel::High,
        _ => RiskLevel::Critical,
    }
}

/// How much data backed the score: the share of the last week's hours
/// with samples, and whether the security snapshots exist.
pub fn confidence(h: &History) -> f64 {
    let week = h.now - Duration::days(7);
    let hours = h.hourly.iter().filter(|x| x.at >= week).count().min(168) as f64 / 168.0;
    let security = [Collector::Security, Collector::Patches]
        .iter()
        .filter(|c| h.snapshot(**c).is_some())
        .count() as f64
        / 2.0;
    stats::round2((0.2 + 0.6 * hours + 0.2 * security).min(1.0))
}

pub fn health(h: &History) -> (HealthFinding, Inputs) {
    let i = inputs(h);
    let overall = score(&i).clamp(0, 100) as u8;
    let finding = HealthFinding {
        overall,
        categories: categories(&i, h.alerts.len()),
        trend: trend(h),
        risk: risk_level(overall, i.smart),
        confidence: confidence(h),
    };
    (finding, i)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{history, hourly};
    use super::*;

    #[test]
    fn a_calm_machine_is_healthy_and_a_loaded_one_is_not() {
        let mut h = history();
        h.hourly = hourly(&h, 7 * 24, |_| 30.0);
        h.raw = super::super::tests::raw(&h, 60, |_| 20.0);
        let (f, _) = health(&h);
        assert_eq!(f.overall, 100);
        assert_eq!(f.risk, RiskLevel::Low);
        assert_eq!(f.trend, Direction::Stable);
        assert!(f.confidence >= 0.7, "{}", f.confidence);

        h.raw = super::super::tests::raw(&h, 60, |_| 96.0);
        h.hourly = hourly(&h, 7 * 24, |age_h| if age_h < 24 { 90.0 } else { 30.0 });
        h.volumes = vec![crate::domain::analysis::history::Volume {
            mount_point: "/".into(),
            total_gb: 100.0,
            used_gb: 92.0,
            used_percent: 92.0,
        }];
        let (f, i) = health(&h);
        // CPU and RAM ≥ 95: 15 each, disk ≥ 90: 15 (the fleet table).
        assert_eq!(f.overall, 55);
        assert_eq!(f.categories.cpu, 40);
        assert_eq!(f.categories.ram, 40);
        assert_eq!(f.categories.disk, 40);
        assert_eq!(f.categories.security, 100);
        assert_eq!(f.risk, RiskLevel::High);
        assert_eq!(f.trend, Direction::Declining);
        assert_eq!(i.cpu_percent, Some(96.0));
    }
}

//! Helpers for the sections' tests, the whole computation over a generated
//! history, and the loader against a database.

use super::*;
use crate::domain::analysis::{
    findings::{Severity, SpikePattern},
    history::{Event, EventGroup, Hour, MachineInfo, RawSample, Volume},
};
use chrono::{DateTime, TimeZone, Utc};

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).unwrap()
}

pub fn history() -> History {
    History::empty(
        MachineInfo {
            id: Uuid::nil(),
            hostname: "srv-01".into(),
            os: "linux".into(),
            is_os_compliant: true,
        },
        now(),
    )
}

/// `hours` hourly points ending at the current hour; `f(age in hours)`
/// gives CPU and RAM.
pub fn hourly(h: &History, hours: i64, f: impl Fn(i64) -> f64) -> Vec<Hour> {
    (0..hours)
        .rev()
        .map(|age| Hour {
            at: h.now - Duration::hours(age),
            cpu_avg: Some(f(age)),
            cpu_max: Some(f(age)),
            ram_avg: Some(f(age)),
            ram_max: Some(f(age)),
        })
        .collect()
}

/// `minutes` raw samples a minute apart ending now; `f(age in minutes)`
/// gives CPU and RAM.
pub fn raw(h: &History, minutes: i64, f: impl Fn(i64) -> f64) -> Vec<RawSample> {
    (0..minutes)
        .rev()
        .map(|age| RawSample {
            at: h.now - Duration::minutes(age),
            cpu: Some(f(age)),
            ram: Some(f(age)),
            disk_latency_ms: Some(5.0),
            io_wait_percent: Some(1.0),
        })
        .collect()
}

/// A week of samples every 5 minutes: calm, with a CPU spike preceded by
/// an event, periodic disk latency spikes, a disk filling 0.5 %/day over
/// 30 days and a storm of one error.
fn scenario() -> History {
    let mut h = history();
    let n = 7 * 24 * 12;
    let spike_age = 6 * 12 + 5; // 6 h 25 min ago
    h.raw = (0..n)
        .rev()
        .map(|i| {
            let at = h.now - Duration::minutes(5 * i);
            let noise = ((i * 7919) % 11) as f64 / 11.0;
            RawSample {
                at,
                cpu: Some(if i == spike_age { 97.0 } else { 20.0 + noise * 4.0 }),
                ram: Some(45.0 + noise),
                disk_latency_ms: Some(if i % 72 == 0 { 120.0 } else { 4.0 + noise }),
                io_wait_percent: Some(2.0 + noise),
            }
        })
        .collect();
    h.hourly = super::super::history::tests_support::hours(&h.raw);
    h.disks.insert(
        "/".into(),
        (0..30 * 24)
            .rev()
            .map(|age| {
                Point::new(
                    h.now - Duration::hours(age),
                    60.0 + 0.5 * (30.0 - age as f64 / 24.0),
                )
            })
            .collect(),
    );
    h.volumes = vec![Volume {
        mount_point: "/".into(),
        total_gb: 500.0,
        used_gb: 375.0,
        used_percent: 75.0,
    }];
    let spike_at = h.now - Duration::minutes(5 * spike_age);
    h.events = vec![Event {
        at: spike_at - Duration::seconds(5),
        source: "Windows Update".into(),
        event_id: 19,
        level: "error".into(),
        message: "Installation started".into(),
    }];
    h.event_groups = vec![EventGroup {
        source: "disk".into(),
        event_id: 153,
        level: "error".into(),
        count: 500,
        first_seen: h.now - Duration::days(2),
        last_seen: h.now - Duration::minutes(1),
        message: "The IO operation was retried".into(),
    }];
    h
}

#[test]
fn a_predictive_run_finds_the_injected_problems() {
    let h = scenario();
    let f = compute(&h, AnalysisKind::PredictiveMaintenance.sections(), Language::En);
    assert!(
        f.anomalies.is_none() && f.logs.is_none(),
        "only the kind's sections"
    );

    let health = f.health.as_ref().unwrap();
    assert_eq!(health.overall, 100);

    let disk = &f.capacity.as_ref().unwrap().disks[0];
    let full = disk.predicted_full_date.unwrap();
    assert!(
        (full - (now() + Duration::days(50)).date_naive())
            .num_days()
            .abs()
            <= 1,
        "{full}"
    );
    assert!((disk.days_until_critical.unwrap() - 30.0).abs() < 1.0);

    let degradation = f.degradations.as_ref().unwrap();
    assert_eq!(degradation.len(), 1, "{degradation:?}");
    assert_eq!(degradation[0].metric, "disk_percent:/");

    let intermittent = f.intermittency.as_ref().unwrap();
    assert_eq!(intermittent.len(), 1);
    assert_eq!(intermittent[0].metric, "disk_latency_ms");
    assert_eq!(intermittent[0].pattern, SpikePattern::Periodic);
    assert_eq!(intermittent[0].period_secs, Some(6 * 3600));

    let correlations = f.correlations.as_ref().unwrap();
    assert_eq!(correlations.len(), 1, "{correlations:?}");
    assert_eq!(correlations[0].metric_spike.metric, "cpu_percent");
    assert!(correlations[0].confidence >= 0.9);

    let codes: Vec<&str> = f.issues.iter().map(|i| i.code.as_str()).collect();
    assert!(codes.contains(&"disk_filling"), "{codes:?}");
    assert!(codes.contains(&"disk_latency_spikes"), "{codes:?}");
    assert!(codes.contains(&"event_correlated_spike"), "{codes:?}");
    assert_eq!(f.issues[0].severity, Severity::High);
    let recs = f.recommendations.as_ref().unwrap();
    assert!(recs.iter().any(|r| r.script.as_deref() == Some("clean_disk")));
}

#[test]
fn a_full_run_finds_the_anomaly_and_the_error_storm() {
    let h = scenario();
    let f = compute(&h, AnalysisKind::Full.sections(), Language::Fr);
    let anomalies = f.anomalies.as_ref().unwrap();
    let cpu: Vec<_> = anomalies.iter().filter(|a| a.metric == "cpu_percent").collect();
    assert_eq!(cpu.len(), 1, "{anomalies:?}");
    assert_eq!(cpu[0].value, 97.0);
    assert!(cpu[0].score > 10.0);
    let logs = f.logs.as_ref().unwrap();
    assert_eq!(logs[0].count, 500);
    assert!(f
        .issues
        .iter()
        .any(|i| i.code == "recurring_errors" && i.title == "Erreurs récurrentes"));
    assert!(f
        .trends
        .as_ref()
        .unwrap()
        .iter()
        .any(|t| t.metric == "disk_percent:/" && t.window_days == 30));
    assert!(f.scripts.is_none());
}

mod db {
    use super::*;
    use crate::{domain::fixtures, infra::clock::ManualClock};
    use entities::{disk_info, event_logs, metrics, metrics_hourly};
    use sea_orm::{ActiveValue::Set, EntityTrait};
    use std::sync::atomic::{AtomicU64, Ordering};

    async fn seed(db: &Database, client: Uuid, machine: Uuid, days: i64) {
        let rows: Vec<metrics::ActiveModel> = (0..days * 24 * 12)
            .map(|i| metrics::ActiveModel {
                machine_id: Set(machine),
                collector: Set("metrics".into()),
                recorded_at: Set(now() - Duration::minutes(5 * i)),
                client_id: Set(client),
                cpu_percent: Set(Some(if i == 10 { 99.0 } else { 20.0 + (i % 3) as f64 })),
                ram_percent: Set(Some(40.0)),
                disk_latency_ms: Set(Some(if i % 60 == 0 { 90.0 } else { 3.0 })),
                io_wait_percent: Set(Some(1.0)),
                ..Default::default()
            })
            .collect();
        for chunk in rows.chunks(500) {
            metrics::Entity::insert_many(chunk.to_vec())
                .exec(&db.conn)
                .await
                .unwrap();
        }
        let older: Vec<metrics_hourly::ActiveModel> = (8 * 24..20 * 24)
            .map(|age| metrics_hourly::ActiveModel {
                machine_id: Set(machine),
                bucket: Set(now() - Duration::hours(age)),
                client_id: Set(client),
                cpu_avg: Set(Some(21.0)),
                ram_avg: Set(Some(40.0)),
                samples: Set(12),
                ..Default::default()
            })
            .collect();
        metrics_hourly::Entity::insert_many(older)
            .exec(&db.conn)
            .await
            .unwrap();
        let disks: Vec<disk_info::ActiveModel> = (0..days * 24)
            .map(|age| disk_info::ActiveModel {
                machine_id: Set(machine),
                mount_point: Set("/".into()),
                recorded_at: Set(now() - Duration::hours(age)),
                client_id: Set(client),
                device: Set("sda1".into()),
                fs_type: Set("ext4".into()),
                total_gb: Set(100.0),
                used_gb: Set(50.0),
                used_percent: Set(50.0 + (days * 24 - age) as f64 * 0.02),
                ..Default::default()
            })
            .collect();
        disk_info::Entity::insert_many(disks)
            .exec(&db.conn)
            .await
            .unwrap();
        let events: Vec<event_logs::ActiveModel> = (0..days * 10)
            .map(|i| event_logs::ActiveModel {
                machine_id: Set(machine),
                recorded_at: Set(now() - Duration::minutes(37 * i + 1)),
                log_name: Set("System".into()),
                source: Set(if i % 2 == 0 {
                    "disk"
                } else {
                    "Service Control Manager"
                }
                .into()),
                event_id: Set(if i % 2 == 0 { 7 } else { 7031 }),
                client_id: Set(client),
                level: Set(if i % 5 == 0 { "critical" } else { "error" }.into()),
                message: Set(format!("message {i}")),
            })
            .collect();
        event_logs::Entity::insert_many(events)
            .exec(&db.conn)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn the_loader_reads_a_machine_in_constant_statements_and_only_the_tenant_s() {
        let mut db = Database::in_memory().await.unwrap();
        let counter = Arc::new(AtomicU64::new(0));
        let c = counter.clone();
        db.conn.set_metric_callback(move |_| {
            c.fetch_add(1, Ordering::Relaxed);
        });
        let (client, machine) = fixtures::tenant_with_machine(&db, now()).await;
        let (other, small) = fixtures::tenant_with_machine(&db, now()).await;
        seed(&db, client.id, machine.id, 6).await;
        seed(&db, other.id, small.id, 1).await;
        let engine = Engine::new(db.clone(), Arc::new(ManualClock::new(now())));
        let kind = AnalysisKind::PredictiveMaintenance;

        let mut counts = Vec::new();
        for m in [&machine, &small] {
            let before = counter.load(Ordering::Relaxed);
            let h = engine.history(m.client_id, m.id, kind.sections()).await.unwrap();
            counts.push((counter.load(Ordering::Relaxed) - before, h.statements));
        }
        assert_eq!(counts[0], counts[1], "the same statements for 6 days as for 1");
        assert_eq!(counts[0].0, u64::from(counts[0].1));

        let h = engine
            .history(client.id, machine.id, kind.sections())
            .await
            .unwrap();
        assert_eq!(h.raw.len(), 6 * 24 * 12);
        // The rollups before the raw window, the raw hours after it.
        assert_eq!(h.hourly.first().unwrap().at, now() - Duration::hours(20 * 24 - 1));
        assert!(h.hourly.len() > 6 * 24);
        assert_eq!(h.disks["/"].len(), 6 * 24);

        let f = engine
            .findings(client.id, machine.id, AnalysisKind::Full, Language::En)
            .await
            .unwrap();
        assert_eq!(f.hostname, "srv-01");
        let logs = f.logs.unwrap();
        assert_eq!(logs.len(), 2);
        assert_eq!(logs.iter().map(|p| p.count).sum::<u64>(), 60);
        assert_eq!(logs[0].level, "critical");
        assert!(logs[0].sample_message.starts_with("message "), "{:?}", logs[0]);
        assert_eq!(
            logs.iter().find(|p| p.source == "disk").unwrap().sample_message,
            "message 0"
        );
        let cpu = f.anomalies.unwrap();
        assert!(
            cpu.iter().any(|a| a.metric == "cpu_percent" && a.value == 99.0),
            "{cpu:?}"
        );

        let f = engine
            .findings(client.id, machine.id, AnalysisKind::Intermittent, Language::En)
            .await
            .unwrap();
        let i = &f.intermittency.unwrap()[0];
        assert_eq!(i.pattern, SpikePattern::Periodic);
        assert_eq!(i.period_secs, Some(5 * 3600));

        // Another tenant's machine does not exist for this one.
        let refused = engine
            .findings(client.id, small.id, AnalysisKind::HealthScore, Language::En)
            .await
            .unwrap_err();
        assert!(matches!(refused, DomainError::NotFound("machine")), "{refused:?}");
    }
}

#[test]
fn a_machine_seen_for_hours_only_is_scored_against_its_first_half() {
    let mut h = history();
    h.raw = raw(
        &h,
        180,
        |age| if age == 5 { 99.0 } else { 20.0 + (age % 3) as f64 },
    );
    let f = compute(&h, AnalysisKind::Anomalies.sections(), Language::En);
    // The helper gives RAM the same series as CPU: one spike each.
    let found = f.anomalies.unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found
        .iter()
        .all(|a| a.at == now() - Duration::minutes(5) && !a.seasonal));
    let codes: Vec<&str> = f.issues.iter().map(|i| i.code.as_str()).collect();
    assert_eq!(codes, ["cpu_anomaly", "ram_anomaly"]);
}

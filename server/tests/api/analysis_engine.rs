//! The analysis engine over data ingested through the agent gateway, on
//! the backend under test: a slow disk fill, periodic disk latency spikes,
//! an event just before a CPU spike and a storm of one error are found with
//! their numbers, and another tenant's machine does not exist.

use crate::{
    collect::sample,
    helpers::{fleet, TestAgent, TestServer},
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use entities::{enums::Language, machines};
use optralis::{
    domain::{
        analysis::{engine::Engine, findings::SpikePattern, AnalysisKind},
        DomainError,
    },
    infra::clock::SystemClock,
};
use sea_orm::EntityTrait;
use serde_json::{json, Value};

/// Sends `bodies`, sixteen at a time.
async fn send_all(agent: &TestAgent, bodies: Vec<Value>) {
    for chunk in bodies.chunks(16) {
        let answers = futures::future::join_all(chunk.iter().map(|b| agent.collect(b.clone()))).await;
        for (status, answer) in answers {
            assert_eq!(status, 200, "{answer}");
        }
    }
}

/// Two days of a machine whose root volume fills 1 % a day from 70 %.
async fn feed(agent: &TestAgent, now: DateTime<Utc>) -> DateTime<Utc> {
    let spike_at = now - Duration::minutes(10 * 30);
    let mut bodies: Vec<Value> = (1..2 * 24 * 6)
        .map(|i| {
            let at = now - Duration::minutes(10 * i);
            let cpu = if at == spike_at {
                97.0
            } else {
                20.0 + (i % 4) as f64
            };
            let latency = if i % 36 == 0 { 90.0 } else { 4.0 };
            sample(
                "metrics",
                at,
                json!({ "cpu_percent": cpu, "ram_percent": 40.0, "uptime_seconds": 600 * i,
                        "disk_latency_ms": latency, "io_wait_percent": 2.0 }),
            )
        })
        .collect();
    bodies.extend((1..2 * 24).map(|h| {
        let used = 70.0 + (48 - h) as f64 / 24.0;
        sample(
            "storage",
            now - Duration::hours(h),
            json!({ "disks": [{ "mount_point": "/", "total_gb": 100.0, "used_gb": used }] }),
        )
    }));
    let mut events: Vec<Value> = (0..30)
        .map(|i| {
            json!({ "log_name": "System", "source": "disk", "event_id": 153, "level": "error",
                    "message": format!("The IO operation at block {i} was retried"),
                    "recorded_at": (now - Duration::minutes(47 * i + 3)).to_rfc3339() })
        })
        .collect();
    events.push(
        json!({ "log_name": "System", "source": "Windows Update", "event_id": 19, "level": "error",
                        "message": "Installation started",
                        "recorded_at": (spike_at - Duration::seconds(5)).to_rfc3339() }),
    );
    bodies.push(sample(
        "security",
        now - Duration::minutes(1),
        json!({ "event_logs": events }),
    ));
    send_all(agent, bodies).await;
    spike_at
}

#[tokio::test]
async fn ingested_series_give_the_expected_findings_to_their_tenant_only() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, agents) = fleet(&server, &root, "Engine", 1).await;
    let (_, strangers) = fleet(&server, &root, "Stranger", 1).await;
    let agent = &agents[0];
    let now = Utc::now().duration_trunc(Duration::minutes(10)).unwrap();
    let spike_at = feed(agent, now).await;
    let db = &server.state.services.infra.db;
    let machine = machines::Entity::find_by_id(agent.machine_id)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap();
    let engine = Engine::new(db.clone(), SystemClock::shared());

    let f = engine
        .findings(
            machine.client_id,
            machine.id,
            AnalysisKind::PredictiveMaintenance,
            Language::En,
        )
        .await
        .unwrap();
    let disk = &f.capacity.as_ref().unwrap().disks[0];
    assert_eq!(disk.mount_point, "/");
    // 72 % now, +1 %/day: 90 % in 18 days, full in 28.
    let critical = disk.days_until_critical.unwrap();
    assert!((critical - 18.0).abs() < 1.0, "{disk:?}");
    let full = disk.predicted_full_date.unwrap();
    let expected = (Utc::now() + Duration::days(28)).date_naive();
    assert!((full - expected).num_days().abs() <= 1, "{full} vs {expected}");
    assert!((disk.growth_rate_gb_per_month - 30.0).abs() < 1.5, "{disk:?}");
    let latency = f
        .intermittency
        .as_ref()
        .unwrap()
        .iter()
        .find(|i| i.metric == "disk_latency_ms")
        .unwrap();
    assert_eq!(latency.pattern, SpikePattern::Periodic);
    assert_eq!(latency.period_secs, Some(6 * 3600));
    let correlation = &f.correlations.as_ref().unwrap()[0];
    assert_eq!(correlation.metric_spike.at, spike_at);
    assert_eq!(correlation.related_events[0].source, "Windows Update");
    assert!(correlation.confidence >= 0.9, "{correlation:?}");

    let f = engine
        .findings(machine.client_id, machine.id, AnalysisKind::Full, Language::Fr)
        .await
        .unwrap();
    let logs = f.logs.as_ref().unwrap();
    assert_eq!((logs[0].source.as_str(), logs[0].count), ("disk", 30));
    assert_eq!(logs[0].sample_message, "The IO operation at block 0 was retried");
    assert!(
        f.anomalies
            .as_ref()
            .unwrap()
            .iter()
            .any(|a| a.metric == "cpu_percent" && a.at == spike_at),
        "{:?}",
        f.anomalies
    );
    assert!(
        f.issues.iter().any(|i| i.code == "recurring_errors"),
        "{:?}",
        f.issues
    );
    // The security sample reports no antivirus: one high risk, 5 points
    // (the fleet's table), and nothing else.
    let health = f.health.as_ref().unwrap();
    assert_eq!(health.overall, 95);
    assert_eq!(
        (
            health.categories.cpu,
            health.categories.disk,
            health.categories.security
        ),
        (100, 100, 80)
    );

    let stranger = strangers[0].machine_id;
    let refused = engine
        .findings(
            machine.client_id,
            stranger,
            AnalysisKind::HealthScore,
            Language::En,
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, DomainError::NotFound("machine")), "{refused:?}");
}

//! agent-sim's scenario flags against a real server: the history and the
//! problems an acceptance check feeds the analyses with land in the tables
//! the engine reads, at the times and values the flags promise.

use crate::helpers::*;
use chrono::{Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

#[tokio::test]
async fn the_simulator_backfills_history_with_spikes_a_filling_disk_and_an_event_storm() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (client_id, _, admin) = tenant_with_admin(&server, &root, "Scenarios").await;
    let (ok, report) = agent_sim_for(
        &server,
        &admin,
        &[
            "--machines",
            "1",
            "--heartbeats",
            "1",
            "--prefix",
            "scn",
            "--backfill-days",
            "2",
            "--backfill-step-secs",
            "3600",
            "--inject-anomalies",
            "--disk-fill-percent-per-day",
            "2",
            "--event-storm",
        ],
    )
    .await;
    assert!(ok, "{report}");
    // 48 metrics and 48 storage samples, and the storm's one security sample.
    assert!(
        report.contains("backfill: 97 samples over 2 day(s), 0 refused"),
        "{report}"
    );
    let db = &server.state.services.infra.db.conn;
    let client_id: uuid::Uuid = client_id.parse().unwrap();
    let now = Utc::now();

    use entities::metrics::Column as M;
    let metrics = entities::metrics::Entity::find()
        .filter(M::ClientId.eq(client_id))
        .filter(M::Collector.eq("metrics"))
        .order_by_asc(M::RecordedAt)
        .all(db)
        .await
        .unwrap();
    assert_eq!(metrics.len(), 48);
    let first = metrics[0].recorded_at;
    assert!(
        first > now - Duration::days(2) - Duration::minutes(10) && first <= now - Duration::days(2),
        "history starts two days back: {first}"
    );
    let cpu: Vec<f64> = metrics.iter().map(|m| m.cpu_percent.unwrap()).collect();
    let ram: Vec<f64> = metrics.iter().map(|m| m.ram_percent.unwrap()).collect();
    let high = |series: &[f64]| -> Vec<usize> { (0..series.len()).filter(|i| series[*i] >= 95.0).collect() };
    assert_eq!(high(&cpu), vec![12, 36, 43]);
    assert_eq!(high(&ram), vec![24, 43]);
    for i in high(&cpu).into_iter().chain(high(&ram)) {
        assert!(cpu[i - 1] < 70.0 && cpu[i + 1] < 70.0 && ram[i - 1] < 70.0 && ram[i + 1] < 70.0);
    }

    use entities::event_logs::Column as E;
    let events = entities::event_logs::Entity::find()
        .filter(E::ClientId.eq(client_id))
        .all(db)
        .await
        .unwrap();
    assert_eq!(events.len(), 30);
    let last_spike = metrics[43].recorded_at;
    for e in &events {
        assert_eq!((e.source.as_str(), e.event_id), ("disk", 153));
        assert!(matches!(e.level.as_str(), "error" | "critical"), "{}", e.level);
        assert!(e.recorded_at < last_spike && e.recorded_at >= last_spike - Duration::minutes(10));
    }

    use entities::disk_info::Column as D;
    let root_disk = entities::disk_info::Entity::find()
        .filter(D::ClientId.eq(client_id))
        .filter(D::MountPoint.eq("/"))
        .order_by_asc(D::RecordedAt)
        .all(db)
        .await
        .unwrap();
    assert_eq!(root_disk.len(), 48);
    assert!(
        (root_disk[0].used_percent - 40.0).abs() < 0.01,
        "{}",
        root_disk[0].used_percent
    );
    // Two points a day, sample after sample.
    for pair in root_disk.windows(2) {
        let days = (pair[1].recorded_at - pair[0].recorded_at).num_seconds() as f64 / 86_400.0;
        let rise = pair[1].used_percent - pair[0].used_percent;
        assert!((rise - 2.0 * days).abs() < 0.01, "{rise} over {days} days");
    }
}

//! What TimescaleDB adds, read back from its catalog: the collector tables
//! and the activity log are hypertables with 1-day chunks, compressed after
//! two days (for real, when the policy runs), kept 365 days at most (30 for
//! the activity log), and the three hourly rollups are continuous
//! aggregates that `metricHistory` reads over 30 days. Elsewhere these
//! tests say they cannot run (CI runs them in its TimescaleDB phase).

use crate::{
    collect::{metrics_sample, sample},
    helpers::{fleet, skip, TestServer},
};
use chrono::{Duration, DurationRound, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};

const HYPERTABLES: [&str; 5] = [
    "metrics",
    "disk_info",
    "smart_data",
    "event_logs",
    "activity_logs",
];
const AGGREGATES: [&str; 3] = ["metrics_hourly", "network_hourly", "disk_hourly"];

/// A server on TimescaleDB, or `None` once the test said it cannot run.
async fn timescale_server(test: &str) -> Option<TestServer> {
    let server = TestServer::spawn().await;
    if server.timescaledb() {
        Some(server)
    } else {
        skip(
            test,
            "needs PostgreSQL with TimescaleDB preloaded (CI's third phase)",
        );
        None
    }
}

/// Rows of a catalog query as (text, text) pairs.
async fn pairs(server: &TestServer, sql: &str) -> Vec<(String, String)> {
    let rows = server
        .state
        .services
        .infra
        .db
        .conn
        .query_all(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap();
    let mut pairs: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r.try_get_by_index(0).unwrap(), r.try_get_by_index(1).unwrap()))
        .collect();
    pairs.sort();
    pairs
}

fn expected(tables: &[&str], value: &str) -> Vec<(String, String)> {
    let mut v: Vec<_> = tables
        .iter()
        .map(|t| (t.to_string(), value.to_string()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn collector_tables_are_hypertables_with_one_day_chunks() {
    let Some(server) =
        timescale_server("timescale::collector_tables_are_hypertables_with_one_day_chunks").await
    else {
        return;
    };
    let chunks = pairs(
        &server,
        "SELECT hypertable_name::text, time_interval::text FROM timescaledb_information.dimensions \
         WHERE hypertable_name IN ('metrics', 'disk_info', 'smart_data', 'event_logs', 'activity_logs')",
    )
    .await;
    assert_eq!(chunks, expected(&HYPERTABLES, "1 day"));
    let info = server
        .graphql_as(
            &server.admin_token().await,
            "{ serverInfo { databaseBackend timescaledb } }",
            json!({}),
        )
        .await;
    assert_eq!(info["data"]["serverInfo"]["timescaledb"], true, "{info}");
    assert_eq!(
        info["data"]["serverInfo"]["databaseBackend"], "POSTGRES",
        "{info}"
    );
}

#[tokio::test]
async fn old_chunks_are_compressed_when_the_policy_runs_and_stay_readable() {
    let Some(server) =
        timescale_server("timescale::old_chunks_are_compressed_when_the_policy_runs_and_stay_readable").await
    else {
        return;
    };
    let policies = pairs(
        &server,
        "SELECT hypertable_name::text, (config->>'compress_after') FROM timescaledb_information.jobs \
         WHERE proc_name = 'policy_compression'",
    )
    .await;
    assert_eq!(policies, expected(&HYPERTABLES, "2 days"));

    let (admin, agents) = fleet(&server, &server.admin_token().await, "Compressed", 1).await;
    let agent = &agents[0];
    let old = Utc::now() - Duration::days(5);
    let fresh = Utc::now() - Duration::minutes(5);
    for (at, cpu) in [(old, 11.0), (old + Duration::minutes(1), 13.0), (fresh, 40.0)] {
        assert_eq!(agent.collect(metrics_sample(at, cpu, 50.0)).await.0, 200);
    }
    let compressed = || {
        pairs(
            &server,
            "SELECT chunk_name::text, is_compressed::text FROM timescaledb_information.chunks \
             WHERE hypertable_name = 'metrics'",
        )
    };
    let before = compressed().await;
    assert_eq!(before.len(), 2, "one chunk per day: {before:?}");
    assert!(before.iter().all(|(_, c)| c == "false"), "{before:?}");

    server.run_timescale_job("policy_compression", "metrics").await;
    let after = compressed().await;
    assert_eq!(
        after.iter().filter(|(_, c)| c == "true").count(),
        1,
        "the 5-day-old chunk is compressed, today's is not: {after:?}"
    );

    // Reads and late writes go through the compressed chunk.
    assert_eq!(
        agent
            .collect(metrics_sample(old + Duration::minutes(2), 15.0, 50.0))
            .await
            .0,
        200
    );
    let history = server
        .graphql_as(
            &admin,
            "query($m: ID!) { metricHistory(machineId: $m, range: D7) { resolution points { at cpuPercent } } }",
            json!({ "m": agent.machine_id }),
        )
        .await;
    let points = history["data"]["metricHistory"]["points"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"));
    assert!(
        points
            .iter()
            .any(|p| p["cpuPercent"].as_f64().is_some_and(|c| c > 10.0 && c < 16.0)),
        "the compressed day is still read: {history}"
    );
}

#[tokio::test]
async fn continuous_aggregates_answer_thirty_days_of_history() {
    let Some(server) =
        timescale_server("timescale::continuous_aggregates_answer_thirty_days_of_history").await
    else {
        return;
    };
    let views = pairs(
        &server,
        "SELECT view_name::text, materialized_only::text FROM timescaledb_information.continuous_aggregates",
    )
    .await;
    assert_eq!(views, expected(&AGGREGATES, "true"));

    let (admin, agents) = fleet(&server, &server.admin_token().await, "Aggregated", 1).await;
    let agent = &agents[0];
    let now = Utc::now();
    // Six days across the month (more rollup points than the history's
    // sampled fallback asks for), two samples in one hour each.
    let mut hours = Vec::new();
    for days in [28, 23, 17, 12, 6, 2] {
        let hour = (now - Duration::days(days))
            .duration_trunc(Duration::hours(1))
            .unwrap();
        hours.push(hour);
        for (minute, cpu) in [(10, 20.0), (40, 60.0)] {
            let at = hour + Duration::minutes(minute);
            assert_eq!(agent.collect(metrics_sample(at, cpu, 70.0)).await.0, 200);
            let net = sample(
                "network",
                at,
                json!({ "bytes_recv": 1000, "bytes_sent": 10, "latency_ms": 4.0 }),
            );
            assert_eq!(agent.collect(net).await.0, 200);
        }
    }
    let db = &server.state.services.infra.db;
    optralis::domain::fleet::rollups::refresh(db, true, now - Duration::days(31), now)
        .await
        .unwrap();
    let history = server
        .graphql_as(
            &admin,
            "query($m: ID!) { metricHistory(machineId: $m, range: D30) { resolution points { at cpuPercent cpuMin cpuMax } } }",
            json!({ "m": agent.machine_id }),
        )
        .await;
    let history = &history["data"]["metricHistory"];
    assert_eq!(history["resolution"], "HOURLY", "{history}");
    let points: Vec<&Value> = history["points"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"))
        .iter()
        .collect();
    for hour in &hours {
        let point = points
            .iter()
            .find(|p| {
                p["at"]
                    .as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .is_some_and(|at| at == *hour)
            })
            .unwrap_or_else(|| panic!("no hourly point at {hour}: {history}"));
        assert_eq!(
            point["cpuPercent"], 40.0,
            "the hour's mean from the aggregate: {point}"
        );
        assert_eq!(point["cpuMin"], 20.0);
        assert_eq!(point["cpuMax"], 60.0);
    }
}

#[tokio::test]
async fn raw_tables_keep_a_year_at_most_and_the_activity_log_thirty_days() {
    let Some(server) =
        timescale_server("timescale::raw_tables_keep_a_year_at_most_and_the_activity_log_thirty_days").await
    else {
        return;
    };
    let retention = pairs(
        &server,
        "SELECT hypertable_name::text, (config->>'drop_after') FROM timescaledb_information.jobs \
         WHERE proc_name = 'policy_retention' AND hypertable_name IN \
         ('metrics', 'disk_info', 'smart_data', 'event_logs', 'activity_logs')",
    )
    .await;
    let mut want = expected(&HYPERTABLES[..4], "365 days");
    want.push(("activity_logs".into(), "30 days".into()));
    want.sort();
    assert_eq!(retention, want);
}

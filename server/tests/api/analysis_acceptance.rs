//! Issue 15's acceptance path without a key: machines fed by agent-sim
//! (as a library) with injected spikes, a slow disk fill and an event
//! storm, then every analysis type through `runAnalysis`. The findings
//! must name what was planted, at the times and with the dates the
//! simulator's arithmetic gives; a healthy control machine fed the same
//! way without the flags scores better; the HTML report carries the key
//! figures.

use crate::helpers::*;
use agent_sim::{STORM_EVENTS, STORM_EVENT_ID, STORM_SOURCE};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{json, Value};
use uuid::Uuid;

const RUN: &str = "mutation($m: ID!, $t: AnalysisType!) { runAnalysis(machineId: $m, type: $t) {
    id type overallScore categoryScores { cpu ram disk security stability } trend riskLevel
    summary narrator topIssues { title } findings } }";

const DAYS: i64 = 2;
const STEP_SECS: i64 = 900;
/// Percentage points a day the troubled machine's "/" fills, from 40 %.
const FILL_PER_DAY: f64 = 5.0;

async fn run(server: &TestServer, admin: &str, machine: Uuid, kind: &str) -> Value {
    let body = server
        .graphql_as(admin, RUN, json!({ "m": machine.to_string(), "t": kind }))
        .await;
    let a = body["data"]["runAnalysis"].clone();
    assert!(a.is_object(), "{kind}: {body}");
    assert_eq!(a["narrator"], "BUILTIN", "{kind}: no key, our templates");
    a
}

/// Feeds one machine with `extra` flags; returns its id.
async fn simulate(server: &TestServer, admin: &str, client_id: Uuid, prefix: &str, extra: &[&str]) -> Uuid {
    let days = DAYS.to_string();
    let step = STEP_SECS.to_string();
    let mut args = vec![
        "--machines",
        "1",
        "--heartbeats",
        "1",
        "--prefix",
        prefix,
        "--backfill-days",
        &days,
        "--backfill-step-secs",
        &step,
    ];
    args.extend_from_slice(extra);
    let (ok, report) = agent_sim_for(server, admin, &args).await;
    assert!(ok, "{report}");
    entities::machines::Entity::find()
        .filter(entities::machines::Column::ClientId.eq(client_id))
        .filter(entities::machines::Column::Hostname.starts_with(prefix))
        .one(&server.state.services.infra.db.conn)
        .await
        .unwrap()
        .expect("the simulated machine")
        .id
}

fn at(v: &Value) -> DateTime<Utc> {
    serde_json::from_value(v.clone()).unwrap_or_else(|_| panic!("a time: {v}"))
}

fn date(v: &Value) -> NaiveDate {
    serde_json::from_value(v.clone()).unwrap_or_else(|_| panic!("a date: {v}"))
}

#[tokio::test]
async fn planted_spikes_disk_fill_and_event_storm_are_found_with_their_numbers() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (client_id, _, admin) = tenant_with_admin(&server, &root, "Acceptance").await;
    let client_id: Uuid = client_id.parse().unwrap();
    let sick = simulate(
        &server,
        &admin,
        client_id,
        "sick",
        &[
            "--inject-anomalies",
            "--disk-fill-percent-per-day",
            "5",
            "--event-storm",
        ],
    )
    .await;
    let healthy = simulate(&server, &admin, client_id, "well", &[]).await;

    // Where the simulator put things: read back from the stored series
    // (the scenario's origin is the first backfilled sample).
    let db = &server.state.services.infra.db.conn;
    use entities::metrics::Column as M;
    let series = entities::metrics::Entity::find()
        .filter(M::MachineId.eq(sick))
        .filter(M::Collector.eq("metrics"))
        .order_by_asc(M::RecordedAt)
        .all(db)
        .await
        .unwrap();
    let steps = (DAYS * 86_400 / STEP_SECS) as usize;
    assert_eq!(series.len(), steps);
    let origin = series[0].recorded_at;
    let spike_times = |pick: fn(&entities::metrics::Model) -> Option<f64>| -> Vec<DateTime<Utc>> {
        series
            .iter()
            .filter(|m| pick(m).unwrap() >= 95.0)
            .map(|m| m.recorded_at)
            .collect()
    };
    let cpu_spikes = spike_times(|m| m.cpu_percent);
    let ram_spikes = spike_times(|m| m.ram_percent);
    let at_index = |i: usize| series[i].recorded_at;
    assert_eq!(
        cpu_spikes,
        vec![
            at_index(steps / 4),
            at_index(steps * 3 / 4),
            at_index(steps * 9 / 10)
        ]
    );
    assert_eq!(ram_spikes, vec![at_index(steps / 2), at_index(steps * 9 / 10)]);
    let last_spike = at_index(steps * 9 / 10);

    // HEALTH_SCORE: the troubled machine scores below the control.
    let sick_health = run(&server, &admin, sick, "HEALTH_SCORE").await;
    let well_health = run(&server, &admin, healthy, "HEALTH_SCORE").await;
    let score = |a: &Value| a["overallScore"].as_i64().unwrap();
    for a in [&sick_health, &well_health] {
        assert!((0..=100).contains(&score(a)), "{a}");
    }
    assert!(
        score(&sick_health) < score(&well_health),
        "troubled {sick_health}\ncontrol {well_health}"
    );
    assert!(
        sick_health["categoryScores"]["stability"].as_i64().unwrap()
            < well_health["categoryScores"]["stability"].as_i64().unwrap(),
        "an error storm hurts stability: {sick_health}\n{well_health}"
    );

    // ANOMALIES: the spikes of the last day are found, each at its time
    // with a score; the control machine, fed the same wave, has none of
    // that size.
    let anomalies = run(&server, &admin, sick, "ANOMALIES").await;
    let found = anomalies["findings"]["anomalies"].as_array().unwrap().clone();
    let day_ago = Utc::now() - Duration::hours(24);
    let mut checked = 0;
    for (metric, times) in [("cpu_percent", &cpu_spikes), ("ram_percent", &ram_spikes)] {
        for t in times.iter().filter(|t| **t > day_ago + Duration::minutes(30)) {
            checked += 1;
            let hit = found
                .iter()
                .find(|a| a["metric"] == metric && at(&a["at"]) == *t)
                .unwrap_or_else(|| panic!("{metric} spike at {t} not found: {found:#?}"));
            assert!(hit["value"].as_f64().unwrap() >= 95.0, "{hit}");
            assert!(hit["score"].as_f64().unwrap() >= 1.5, "{hit}");
            assert!(hit["severity"] != "low", "{hit}");
        }
    }
    assert!(checked >= 2, "no planted spike in the last day to look for");
    let planted: Vec<&Value> = found
        .iter()
        .filter(|a| a["metric"] == "cpu_percent" || a["metric"] == "ram_percent")
        .collect();
    assert!(
        planted.iter().all(|a| a["value"].as_f64().unwrap() >= 95.0),
        "only the planted spikes stand out in CPU and RAM: {planted:#?}"
    );
    let control = run(&server, &admin, healthy, "ANOMALIES").await;
    assert!(
        control["findings"]["anomalies"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["metric"] != "cpu_percent" && a["metric"] != "ram_percent"),
        "{control}"
    );

    // LOGS: the storm is one recurring pattern with its count.
    let logs = run(&server, &admin, sick, "LOGS").await;
    let patterns = logs["findings"]["logs"].as_array().unwrap();
    let storm = &patterns[0];
    assert_eq!(storm["source"], STORM_SOURCE, "{logs}");
    assert_eq!(storm["event_id"], STORM_EVENT_ID);
    assert_eq!(storm["count"], STORM_EVENTS as u64);
    assert_eq!(storm["level"], "critical", "the worst level of the storm");
    assert!(at(&storm["last_seen"]) < last_spike);
    assert!(at(&storm["first_seen"]) >= last_spike - Duration::minutes(10));
    let control_logs = run(&server, &admin, healthy, "LOGS").await;
    assert_eq!(control_logs["findings"]["logs"], json!([]), "{control_logs}");

    // TRENDS: the filling disk's slope, the CPU percentiles.
    let trends = run(&server, &admin, sick, "TRENDS").await;
    let trend = |metric: &str, window: u64| {
        trends["findings"]["trends"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["metric"] == metric && t["window_days"] == window)
            .unwrap_or_else(|| panic!("{metric} over {window} days: {trends}"))
            .clone()
    };
    let disk = trend("disk_percent:/", 7);
    let slope = disk["slope_per_day"].as_f64().unwrap();
    assert!((slope - FILL_PER_DAY).abs() < 0.25, "{disk}");
    assert_eq!(disk["direction"], "declining", "{disk}");
    let cpu = trend("cpu_percent", 7);
    assert!(
        cpu["p99"].as_f64().unwrap() >= 95.0,
        "the spikes are in p99: {cpu}"
    );
    assert!(cpu["p95"].as_f64().unwrap() <= cpu["p99"].as_f64().unwrap());

    // The arithmetic answer: 40 % at the origin, FILL_PER_DAY a day.
    let full_at = origin + Duration::seconds((60.0 / FILL_PER_DAY * 86_400.0) as i64);
    let critical_at = origin + Duration::seconds((50.0 / FILL_PER_DAY * 86_400.0) as i64);

    // FULL: health, anomalies, logs and trends together.
    let full = run(&server, &admin, sick, "FULL").await;
    for section in ["health", "anomalies", "logs", "trends", "recommendations"] {
        assert!(!full["findings"][section].is_null(), "{section}: {full}");
    }
    assert_eq!(full["overallScore"], sick_health["overallScore"]);
    assert!(
        full["findings"]["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["code"] == "recurring_errors"),
        "{full}"
    );

    // Advanced types (the tenant is on Pro).
    let degradation = run(&server, &admin, sick, "DEGRADATION").await;
    let d = degradation["findings"]["degradations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["metric"] == "disk_percent:/")
        .unwrap_or_else(|| panic!("{degradation}"))
        .clone();
    let predicted = at(&d["predicted_critical_at"]);
    assert!(
        (predicted - critical_at).num_hours().abs() <= 24,
        "{predicted} vs {critical_at}: {d}"
    );

    let correlate = run(&server, &admin, sick, "CORRELATE").await;
    let correlations = correlate["findings"]["correlations"].as_array().unwrap();
    let c = correlations
        .iter()
        .find(|c| at(&c["metric_spike"]["at"]) == last_spike)
        .unwrap_or_else(|| panic!("the storm precedes the last spike: {correlate}"));
    assert_eq!(c["related_events"][0]["source"], STORM_SOURCE, "{c}");
    assert_eq!(c["related_events"][0]["event_id"], STORM_EVENT_ID);
    assert!(c["confidence"].as_f64().unwrap() >= 0.5, "{c}");
    assert!(
        correlations
            .iter()
            .all(|c| at(&c["metric_spike"]["at"]) == last_spike),
        "no event precedes the other spikes: {correlate}"
    );

    let intermittent = run(&server, &admin, sick, "INTERMITTENT").await;
    let latency = intermittent["findings"]["intermittency"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["metric"] == "disk_latency_ms")
        .unwrap_or_else(|| panic!("{intermittent}"))
        .clone();
    // The simulator spikes disk latency every 37th sample.
    assert_eq!(latency["pattern"], "periodic", "{latency}");
    assert_eq!(latency["period_secs"], 37 * STEP_SECS, "{latency}");

    let pm = run(&server, &admin, sick, "PREDICTIVE_MAINTENANCE").await;
    let root_disk = pm["findings"]["capacity"]["disks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["mount_point"] == "/")
        .unwrap_or_else(|| panic!("{pm}"))
        .clone();
    let predicted_full = date(&root_disk["predicted_full_date"]);
    assert!(
        (predicted_full - full_at.date_naive()).num_days().abs() <= 1,
        "{predicted_full} vs {full_at}: {root_disk}"
    );
    let monthly = root_disk["growth_rate_gb_per_month"].as_f64().unwrap();
    assert!((monthly - FILL_PER_DAY * 30.0).abs() < 7.5, "{root_disk}");
    assert!(pm["overallScore"].as_i64().is_some());

    // REPORTS and its HTML download: the score, the full date, the storm.
    let report = run(&server, &admin, sick, "REPORTS").await;
    let id = report["id"].as_str().unwrap();
    let resp = server
        .http
        .get(server.url(&format!("/api/reports/{id}.html")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("sick-00000"), "{html}");
    assert!(
        html.contains(&report["overallScore"].to_string()),
        "the score: {html}"
    );
    assert!(
        html.contains(STORM_SOURCE) && html.contains(&STORM_EVENT_ID.to_string()),
        "{html}"
    );
    let critical_day = at(&d["predicted_critical_at"]).date_naive().to_string();
    assert!(
        html.contains(&critical_day),
        "the disk's critical date {critical_day}: {html}"
    );
}

/// Beyond the raw week, the analyses read the hourly rollups: twelve days
/// of a disk filling 3 points a day give the full date from the whole
/// history once the rollup job has run.
#[tokio::test]
async fn a_fill_longer_than_the_raw_week_is_forecast_from_the_rollups() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (client_id, _, admin) = tenant_with_admin(&server, &root, "LongFill").await;
    let client_id: Uuid = client_id.parse().unwrap();
    let (ok, report) = agent_sim_for(
        &server,
        &admin,
        &[
            "--machines",
            "1",
            "--heartbeats",
            "1",
            "--prefix",
            "long",
            "--backfill-days",
            "12",
            "--backfill-step-secs",
            "3600",
            "--disk-fill-percent-per-day",
            "3",
        ],
    )
    .await;
    assert!(ok, "{report}");
    let db = &server.state.services.infra.db;
    let machine = entities::machines::Entity::find()
        .filter(entities::machines::Column::ClientId.eq(client_id))
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap();
    let origin = entities::metrics::Entity::find()
        .filter(entities::metrics::Column::MachineId.eq(machine.id))
        .order_by_asc(entities::metrics::Column::RecordedAt)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap()
        .recorded_at;
    let now = Utc::now();
    optralis::domain::fleet::rollups::refresh(
        db,
        server.timescaledb(),
        now - Duration::days(13),
        now + Duration::hours(1),
    )
    .await
    .unwrap();

    let pm = run(&server, &admin, machine.id, "PREDICTIVE_MAINTENANCE").await;
    let disk = pm["findings"]["capacity"]["disks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["mount_point"] == "/")
        .unwrap_or_else(|| panic!("{pm}"))
        .clone();
    let month = &disk["windows"][0];
    assert_eq!(month["window_days"], 30);
    // An hour a point: the twelve days, not only the raw week.
    let hours = month["samples"].as_u64().unwrap();
    assert!((11 * 24..=12 * 24 + 1).contains(&hours), "{disk}");
    assert!(
        (month["growth_per_day"].as_f64().unwrap() - 3.0).abs() < 0.1,
        "{disk}"
    );
    // 40 % at the origin, 3 points a day: full 20 days after it.
    let full_at = (origin + Duration::days(20)).date_naive();
    let predicted = date(&disk["predicted_full_date"]);
    assert!(
        (predicted - full_at).num_days().abs() <= 1,
        "{predicted} vs {full_at}: {disk}"
    );
    let current = disk["current_usage_percent"].as_f64().unwrap();
    assert!((current - 76.0).abs() < 0.5, "{disk}");

    let trends = run(&server, &admin, machine.id, "TRENDS").await;
    let cpu_month = trends["findings"]["trends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["metric"] == "cpu_percent" && t["window_days"] == 30)
        .unwrap_or_else(|| panic!("{trends}"))
        .clone();
    assert!(cpu_month["samples"].as_u64().unwrap() >= 11 * 24, "{cpu_month}");
}

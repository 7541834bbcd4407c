//! Collector ingestion and fleet reads, each against a baseline measured
//! in the same run:
//! - collect ingestion (the real path: validation, group commit, time
//!   series and snapshot) in rows/s vs a raw multi-row INSERT of the same
//!   rows into the same table through the same driver, and vs a naive
//!   one-row-per-statement path; on SQLite and, when reachable, PostgreSQL;
//! - the health-score updater on ingest: rows/s with it off, on, and on
//!   with every sample moving the score (`BENCH_ONLY=health` runs this
//!   comparison alone);
//! - a 30-day CPU/RAM history from the hourly rollups vs the same answer
//!   computed from raw rows;
//! - a page of 100 machines with labels and latest metrics over GraphQL:
//!   SQL statements per request and requests/s.
//!
//! Run: cargo bench -p optralis --bench ingest
//!   BENCH_SECONDS=5  BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres
//!   BENCH_DENSITY_AGENTS=2000 BENCH_DENSITY_SECONDS=60: fleet density only

use chrono::{Duration as ChronoDuration, DurationRound, Utc};
use entities::{labels, machine_labels, metrics};
use optralis::{
    app::AppState,
    config::Config,
    domain::{
        agents::EnrolRequest,
        auth::{Credential, LoginOutcome},
        fleet::{
            history::{self, Range, Series},
            rollups,
        },
        ingest::CollectRequest,
    },
    infra::db::Backend,
};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, Statement};
use serde_json::json;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};
use uuid::Uuid;

mod support;
use support::{EMAIL, PASSWORD};
const MACHINES: usize = 100;

struct Fleet {
    state: AppState,
    client_id: Uuid,
    machines: Vec<Uuid>,
    access_token: String,
}

async fn start(database_url: Option<&str>) -> (Fleet, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut vars: HashMap<String, String> = [
        ("OPTRALIS_DATA_DIR", dir.path().display().to_string()),
        ("DEFAULT_ADMIN_EMAIL", EMAIL.into()),
        ("DEFAULT_ADMIN_PASSWORD", PASSWORD.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(url) = database_url {
        vars.insert("DATABASE_URL".into(), url.into());
    }
    // Background jobs are not started: they would only add noise to what
    // is measured.
    let (state, _workers) = AppState::build(Config::from_vars(&vars).unwrap()).await.unwrap();
    support::settle_first_admin(&state).await;
    let LoginOutcome::Session(session) = state
        .services
        .auth
        .login(EMAIL, PASSWORD, &Default::default())
        .await
        .unwrap()
    else {
        unreachable!("no MFA on the bench account")
    };
    let principal = state
        .services
        .auth
        .authenticate(Credential::Bearer(&session.access_token))
        .await
        .unwrap()
        .unwrap();
    let token = state
        .services
        .install_tokens
        .create(&principal, Some("bench"), Some(60), Some(0), &Default::default())
        .await
        .unwrap();
    let mut machines = Vec::new();
    for i in 0..MACHINES {
        let enrolled = state
            .services
            .agents
            .enrol(
                EnrolRequest {
                    token: token.secret.clone(),
                    hostname: format!("bench-{i:04}"),
                    hardware_id: Some(format!("HW-{i}")),
                    os: "linux".into(),
                    os_version: "Debian 12".into(),
                    arch: Some("amd64".into()),
                },
                &Default::default(),
            )
            .await
            .unwrap();
        machines.push(enrolled.machine_id);
    }
    let fleet = Fleet {
        client_id: session.user.client_id,
        access_token: session.access_token,
        state,
        machines,
    };
    (fleet, dir)
}

/// Metrics samples through the real ingest path for `secs`; rows/s. With
/// `flip`, each machine's CPU alternates across a health-score step, so
/// every sample changes the score (the updater's worst case).
async fn ingest(fleet: &Fleet, secs: f64, base: chrono::DateTime<Utc>, flip: bool) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let tasks: Vec<_> = fleet
        .machines
        .iter()
        .enumerate()
        .map(|(n, &machine)| {
            let (ingest, done, client) = (fleet.state.services.ingest.clone(), done.clone(), fleet.client_id);
            tokio::spawn(async move {
                let mut i = 0i64;
                while Instant::now() < stop {
                    let at = base + ChronoDuration::milliseconds(i);
                    i += 1;
                    let req = CollectRequest {
                        collector: "metrics".into(),
                        collected_at: Some(at),
                        data: serde_json::value::to_raw_value(&json!({ "cpu_percent": cpu(n, i, flip), "ram_percent": 50.0, "uptime_seconds": 1000 + i, "cpu_temp": 40.0 })).unwrap(),
                    };
                    ingest.collect(client, machine, req).await.unwrap();
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

/// The CPU machine `n` reports in its `i`-th sample.
fn cpu(n: usize, i: i64, flip: bool) -> f64 {
    match (flip, i % 2) {
        (true, 0) => 97.0,
        (true, _) => 10.0,
        (false, _) => (n % 100) as f64,
    }
}

fn row(client: Uuid, machine: Uuid, at: chrono::DateTime<Utc>) -> metrics::ActiveModel {
    metrics::ActiveModel {
        machine_id: Set(machine),
        collector: Set("metrics".into()),
        recorded_at: Set(at),
        client_id: Set(client),
        cpu_percent: Set(Some(42.0)),
        ram_percent: Set(Some(50.0)),
        ram_used_bytes: Set(None),
        ram_total_bytes: Set(None),
        uptime_seconds: Set(Some(1000)),
        cpu_temp: Set(Some(40.0)),
        bytes_recv: Set(None),
        bytes_sent: Set(None),
        packet_loss: Set(None),
        latency_ms: Set(None),
        disk_latency_ms: Set(None),
        io_wait_percent: Set(None),
    }
}

/// The same rows as multi-row INSERTs of 1000 rows, one statement each.
async fn raw_batched(fleet: &Fleet, secs: f64, base: chrono::DateTime<Utc>) -> f64 {
    let db = &fleet.state.services.infra.db.conn;
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut done = 0u64;
    let mut i = 0i64;
    while Instant::now() < stop {
        let rows: Vec<_> = (0..1000)
            .map(|k| {
                let machine = fleet.machines[k % fleet.machines.len()];
                row(
                    fleet.client_id,
                    machine,
                    base + ChronoDuration::milliseconds(i + (k / fleet.machines.len()) as i64),
                )
            })
            .collect();
        i += (1000 / fleet.machines.len()) as i64;
        metrics::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await
            .unwrap();
        done += 1000;
    }
    done as f64 / started.elapsed().as_secs_f64()
}

/// One INSERT per row, each committed on its own.
async fn naive(fleet: &Fleet, secs: f64, base: chrono::DateTime<Utc>) -> f64 {
    let db = &fleet.state.services.infra.db.conn;
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut done = 0u64;
    while Instant::now() < stop {
        let machine = fleet.machines[done as usize % fleet.machines.len()];
        let at = base + ChronoDuration::milliseconds((done / fleet.machines.len() as u64) as i64);
        metrics::Entity::insert(row(fleet.client_id, machine, at))
            .exec_without_returning(db)
            .await
            .unwrap();
        done += 1;
    }
    done as f64 / started.elapsed().as_secs_f64()
}

async fn ingestion(label: &str, fleet: &Fleet, secs: f64) {
    let now = Utc::now();
    let ours = ingest(fleet, secs, now - ChronoDuration::days(3), false).await;
    let raw = raw_batched(fleet, secs, now - ChronoDuration::days(4)).await;
    let slow = naive(fleet, secs, now - ChronoDuration::days(5)).await;
    println!(
        "[{label}] collect ingestion {ours:.0} rows/s vs raw multi-row INSERT {raw:.0} rows/s = {:.0}% (goal >= 40%); vs one row per statement {slow:.0} rows/s = {:.1}x (goal >= 5x)",
        100.0 * ours / raw,
        ours / slow
    );
}

/// What recomputing the health score costs per sample: the same ingestion
/// with the updater off, on (steady load: the score rarely moves), and on
/// with every sample moving the score (one UPDATE each), in one run.
async fn health_cost(label: &str, fleet: &Fleet, secs: f64) {
    let now = Utc::now();
    let health = fleet.state.services.ingest.health_scores();
    health.set_enabled(false);
    let off = ingest(fleet, secs, now - ChronoDuration::days(6), false).await;
    health.set_enabled(true);
    let on = ingest(fleet, secs, now - ChronoDuration::days(7), false).await;
    let flipping = ingest(fleet, secs, now - ChronoDuration::days(8), true).await;
    health.set_enabled(false);
    let off_again = ingest(fleet, secs, now - ChronoDuration::days(9), false).await;
    let base = (off + off_again) / 2.0;
    println!(
        "[{label}] health score on ingest: off {off:.0} / {off_again:.0} rows/s, on {on:.0} rows/s = {:.1}% of off ({:+.1} us/sample); every sample moving the score {flipping:.0} rows/s = {:.1}% of off",
        100.0 * on / base,
        1e6 / on - 1e6 / base,
        100.0 * flipping / base,
    );
    health.set_enabled(true);
}

/// 30 days of 10-second samples for one machine, then the D30 history
/// from rollups vs the same hourly answer computed from raw rows.
async fn history_read(label: &str, fleet: &Fleet, secs: f64) {
    let db = &fleet.state.services.infra.db;
    let machine = fleet.machines[0];
    let end = Utc::now().duration_trunc(ChronoDuration::hours(1)).unwrap();
    let start = end - ChronoDuration::days(30);
    let mut at = start;
    while at < end {
        let rows: Vec<_> = (0..1000)
            .map(|k| row(fleet.client_id, machine, at + ChronoDuration::seconds(10 * k)))
            .take_while(|r| *r.recorded_at.as_ref() < end)
            .collect();
        at += ChronoDuration::seconds(10 * 1000);
        if rows.is_empty() {
            break;
        }
        metrics::Entity::insert_many(rows)
            .on_conflict_do_nothing()
            .exec_without_returning(&db.conn)
            .await
            .unwrap();
    }
    rollups::refresh(db, false, start, end + ChronoDuration::hours(1))
        .await
        .unwrap();
    let bucket = match db.backend {
        Backend::Postgres => "date_trunc('hour', recorded_at)",
        Backend::Sqlite => "substr(recorded_at, 1, 13)",
    };
    let raw_sql = format!(
        "SELECT {bucket} AS b, AVG(cpu_percent) AS cpu, AVG(ram_percent) AS ram, MIN(cpu_percent), MAX(cpu_percent) \
         FROM metrics WHERE machine_id = {} AND collector = 'metrics' AND recorded_at >= {} GROUP BY {bucket} ORDER BY b",
        if db.backend == Backend::Postgres { "$1" } else { "?1" },
        if db.backend == Backend::Postgres { "$2" } else { "?2" },
    );
    let time = |n: &mut u64| {
        *n += 1;
    };
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let (mut n_rollup, started) = (0u64, Instant::now());
    let mut points = 0;
    while Instant::now() < stop {
        let h = history::history(db, fleet.client_id, machine, Series::Metrics, Range::D30)
            .await
            .unwrap();
        points = h.points.len();
        time(&mut n_rollup);
    }
    let rollup_rate = n_rollup as f64 / started.elapsed().as_secs_f64();
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let (mut n_raw, started) = (0u64, Instant::now());
    let mut raw_points = 0;
    while Instant::now() < stop {
        let rows = db
            .conn
            .query_all(Statement::from_sql_and_values(
                db.conn.get_database_backend(),
                raw_sql.clone(),
                [machine.into(), (Utc::now() - ChronoDuration::days(30)).into()],
            ))
            .await
            .unwrap();
        raw_points = rows.len();
        time(&mut n_raw);
    }
    let raw_rate = n_raw as f64 / started.elapsed().as_secs_f64();
    println!(
        "[{label}] 30-day history ({points} hourly points from 259200 raw rows): rollups {rollup_rate:.1}/s vs from raw rows {raw_rate:.2}/s ({raw_points} points) = {:.0}x faster (goal >= 20x)",
        rollup_rate / raw_rate
    );
}

/// A page of 100 machines with labels and latest metrics over GraphQL.
async fn machine_page(label: &str, fleet: &Fleet, secs: f64) {
    let db = &fleet.state.services.infra.db;
    let label_id = Uuid::now_v7();
    labels::Entity::insert(labels::ActiveModel {
        id: Set(label_id),
        client_id: Set(fleet.client_id),
        key: Set("env".into()),
        color: Set("#3b82f6".into()),
        created_at: Set(Utc::now()),
    })
    .exec(&db.conn)
    .await
    .unwrap();
    for &m in &fleet.machines {
        machine_labels::Entity::insert(machine_labels::ActiveModel {
            machine_id: Set(m),
            label_id: Set(label_id),
            value: Set("prod".into()),
            assigned_at: Set(Utc::now()),
        })
        .exec(&db.conn)
        .await
        .unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(optralis::serve::serve(
        listener,
        optralis::http::router(fleet.state.clone()),
        std::future::pending(),
    ));
    let http = reqwest::Client::new();
    let url = format!("http://{addr}/graphql");
    let body = json!({ "query": "{ machines(first: 100) { edges { node { id hostname online labels { key value } latestMetrics { cpuPercent ramPercent } } } } }" }).to_string();
    let send = || {
        http.post(&url)
            .bearer_auth(&fleet.access_token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    // Background jobs share the counter: the fewest over a few requests is
    // the request's own cost.
    let mut statements = u64::MAX;
    for _ in 0..5 {
        let before = db.statements();
        let first: serde_json::Value = send().await.unwrap().json().await.unwrap();
        statements = statements.min(db.statements() - before);
        assert_eq!(
            first["data"]["machines"]["edges"].as_array().map(Vec::len),
            Some(100),
            "{first}"
        );
    }
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (http, url, body, token, done) = (
                http.clone(),
                url.clone(),
                body.clone(),
                fleet.access_token.clone(),
                done.clone(),
            );
            tokio::spawn(async move {
                while Instant::now() < stop {
                    let r = http
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    if r.status().is_success() {
                        let _ = r.bytes().await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    println!(
        "[{label}] page of 100 machines with labels and latest metrics: {statements} SQL statements per request (goal <= 4, authentication included), {rate:.0} requests/s (8 clients)"
    );
}

async fn postgres_url() -> Option<String> {
    let admin = std::env::var("BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let conn = sea_orm::Database::connect(&admin).await.ok()?;
    let name = format!("optralis_bench_{}", std::process::id());
    conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .ok()?;
    conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .ok()?;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Some(format!("{base}/{name}"))
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        println!(
            "ingest benchmark ({} cores, {secs} s per phase, {MACHINES} machines, server and load in one process)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        if let Some(agents) = std::env::var("BENCH_DENSITY_AGENTS").ok().and_then(|n| n.parse().ok()) {
            let secs = std::env::var("BENCH_DENSITY_SECONDS").ok().and_then(|n| n.parse().ok()).unwrap_or(60);
            density(agents, secs).await;
            return;
        }
        let (sqlite, _dir) = start(None).await;
        // BENCH_ONLY=health: the health-score comparison alone.
        if std::env::var("BENCH_ONLY").is_ok_and(|o| o == "health") {
            health_cost("sqlite", &sqlite, secs).await;
            if let Some(url) = postgres_url().await {
                let (pg, _dir) = start(Some(&url)).await;
                health_cost("postgres", &pg, secs).await;
            }
            return;
        }
        ingestion("sqlite", &sqlite, secs).await;
        health_cost("sqlite", &sqlite, secs).await;
        history_read("sqlite", &sqlite, secs).await;
        machine_page("sqlite", &sqlite, secs).await;
        match postgres_url().await {
            Some(url) => {
                let (pg, _dir) = start(Some(&url)).await;
                ingestion("postgres", &pg, secs).await;
                health_cost("postgres", &pg, secs).await;
                history_read("postgres", &pg, secs).await;
                machine_page("postgres", &pg, secs).await;
            }
            None => println!("[postgres] skipped: no server at BENCH_POSTGRES_URL"),
        }
    });
}

/// Fleet density: the release server (`optralis serve`, SQLite) in its own
/// process and the simulator on threads of the bench; N agents post metrics every 10 s and
/// the other collectors at their default intervals. Reports the server's
/// CPU share of all cores and its p99 collect latency.
pub async fn density(agents: usize, secs: u64) {
    support::raise_open_files();
    let mut server = support::ServerProcess::start().await;
    let (pid, agent_port) = (server.pid, server.agent_port);
    let admin = server.admin_token().await;
    let secret = server.install_token(&admin).await;
    let dir = server.dir.path().to_owned();
    let db = format!("sqlite://{}?mode=ro", dir.join("optralis.db").display());
    let args = [
        "--gateway",
        &format!("https://127.0.0.1:{agent_port}"),
        "--token",
        &secret,
        "--machines",
        &agents.to_string(),
        "--heartbeats",
        "1",
        "--prefix",
        "dense",
        "--duration-secs",
        &secs.to_string(),
        "--metrics-interval",
        "10",
        "--verify-db",
        &db,
        "--spread-secs",
        "60",
        "--ca",
        server.ca_path().to_str().unwrap(),
    ]
    .map(str::to_owned);
    let args =
        <agent_sim::Args as clap::Parser>::parse_from(std::iter::once("agent-sim".to_owned()).chain(args));
    // The simulator runs on threads and a runtime of its own; the server
    // is its own process, whose CPU is what is measured.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let out: agent_sim::Output = Arc::new(move |line: &str| {
        let _ = tx.send(line.to_owned());
    });
    let sim = std::thread::spawn(move || {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(agent_sim::run(args, out))
    });
    let cpu = || (support::cpu_seconds(pid), support::rss_bytes(pid));
    let mut report = Vec::new();
    let mut window: Option<(Instant, f64)> = None;
    let mut measured = None;
    while let Some(line) = rx.recv().await {
        if line == "load phase started" {
            window = Some((Instant::now(), cpu().0));
            continue;
        }
        if line.starts_with("collect:") {
            if let Some((started, cpu0)) = window {
                let (cpu1, rss) = cpu();
                measured = Some(((cpu1 - cpu0) / started.elapsed().as_secs_f64(), rss));
            }
        }
        report.push(line);
    }
    let succeeded = sim.join().unwrap().is_ok_and(|r| r.failed == 0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let (busy, rss) = measured.unwrap_or((0.0, 0.0));
    println!(
        "[density] {agents} agents, metrics every 10 s, other collectors at their defaults, {secs} s: server CPU {:.0}% of {cores} cores, RSS {:.0} MiB (simulator {})",
        100.0 * busy / cores,
        rss / 1048576.0,
        if succeeded { "ok" } else { "reported failures" }
    );
    for line in report {
        println!("[density]   {line}");
    }
    let _ = server.child.kill().await;
}

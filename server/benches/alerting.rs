//! Alerting under ingestion load, with the instance's background workers
//! running as `serve` runs them (alert evaluation, outbox, …):
//! - collect throughput of one tenant with 100 enabled rules vs the same
//!   tenant with none, same machines, same duration, same run; then
//!   whether the alert worker kept up (events it skipped, time until it
//!   reached the last sample, its capacity in events/s);
//! - latency from a sample's commit (return of `collect`) to a local
//!   webhook stand-in receiving the alert it fires, under the same load.
//!
//! Run: cargo bench -p optralis --bench alerting
//!   BENCH_SECONDS=10  BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres

use axum::{extract::State, routing::post, Router};
use chrono::Utc;
use entities::{
    enums::{AlertMetric, AlertOperator, ChannelType, Severity},
    groups, machines,
};
use optralis::{
    app::AppState,
    config::Config,
    domain::{
        activity::RequestMeta,
        agents::EnrolRequest,
        alerting::{channels::ChannelInput, rules::RuleInput},
        auth::{Credential, LoginOutcome, Principal},
        collectors::Collector,
        ingest::CollectRequest,
        live::{self, Collected, Figures, LiveEvent},
    },
};
use sea_orm::{sea_query::Expr, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::json;
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

mod support;
use support::{EMAIL, PASSWORD};

/// The ingest bench's load: as many concurrent machines.
const LOAD_MACHINES: usize = 100;
/// Each fires one latency alert (the 15-minute noise window allows one
/// per machine and metric).
const LATENCY_MACHINES: usize = 250;
const LATENCY_INTERVAL: Duration = Duration::from_millis(20);
const RULES: usize = 100;
const CHANNELS: usize = 10;
const GROUPS: usize = 4;

/// What the stand-in received: arrival time and body.
type Arrivals = Arc<Mutex<Vec<(Instant, String)>>>;

/// An axum server on loopback that timestamps each POST as it arrives.
async fn webhook_stand_in() -> (String, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let app = Router::new()
        .route(
            "/{*path}",
            post(|State(arrivals): State<Arrivals>, body: String| async move {
                arrivals.lock().unwrap().push((Instant::now(), body));
            }),
        )
        .with_state(arrivals.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, arrivals)
}

/// Counts the events the alert worker reports skipping (its broadcast
/// receiver fell more than the bus's buffer behind); other warnings go to
/// stderr.
struct Skipped(Arc<AtomicU64>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Skipped {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Missed(Option<u64>);
        impl tracing::field::Visit for Missed {
            fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
                if field.name() == "missed" {
                    self.0 = Some(value);
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        let mut missed = Missed(None);
        event.record(&mut missed);
        if let Some(n) = missed.0 {
            self.0.fetch_add(n, Ordering::Relaxed);
        }
    }
}

struct Bench {
    state: AppState,
    principal: Principal,
    load: Vec<Uuid>,
    latency: Vec<Uuid>,
    sentinel: Uuid,
    groups: Vec<Uuid>,
    stand_in: String,
    arrivals: Arrivals,
    workers: optralis::jobs::Running,
}

async fn enrol(state: &AppState, secret: &str, hostname: String) -> Uuid {
    state
        .services
        .agents
        .enrol(
            EnrolRequest {
                token: secret.to_owned(),
                hardware_id: Some(format!("HW-{hostname}")),
                hostname,
                os: "linux".into(),
                os_version: "Debian 12".into(),
                arch: Some("amd64".into()),
            },
            &Default::default(),
        )
        .await
        .unwrap()
        .machine_id
}

async fn start(database_url: Option<&str>) -> (Bench, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut vars: HashMap<String, String> = [
        ("OPTRALIS_DATA_DIR", dir.path().display().to_string()),
        ("DEFAULT_ADMIN_EMAIL", EMAIL.into()),
        ("DEFAULT_ADMIN_PASSWORD", PASSWORD.into()),
        ("ALLOW_PRIVATE_WEBHOOKS", "true".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(url) = database_url {
        vars.insert("DATABASE_URL".into(), url.into());
    }
    let (state, workers) = AppState::build(Config::from_vars(&vars).unwrap()).await.unwrap();
    // Every worker, as `serve` starts them: the alert worker and the outbox
    // are what is measured, the others share the CPU as in production.
    let workers = workers.start(CancellationToken::new());
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
    let mut load = Vec::new();
    for i in 0..LOAD_MACHINES {
        load.push(enrol(&state, &token.secret, format!("load-{i:04}")).await);
    }
    let mut latency = Vec::new();
    for i in 0..LATENCY_MACHINES {
        latency.push(enrol(&state, &token.secret, format!("latency-{i:04}")).await);
    }
    let sentinel = enrol(&state, &token.secret, "sentinel".into()).await;
    let db = &state.services.infra.db.conn;
    let mut group_ids = Vec::new();
    for g in 0..GROUPS {
        let id = Uuid::now_v7();
        groups::Entity::insert(groups::ActiveModel {
            id: Set(id),
            client_id: Set(principal.client_id),
            name: Set(format!("site-{g}")),
            description: Set(None),
            created_at: Set(Utc::now()),
            updated_at: Set(Utc::now()),
        })
        .exec(db)
        .await
        .unwrap();
        machines::Entity::update_many()
            .col_expr(machines::Column::GroupId, Expr::value(Some(id)))
            .filter(machines::Column::Id.is_in(load.iter().skip(g).step_by(GROUPS).copied()))
            .exec(db)
            .await
            .unwrap();
        group_ids.push(id);
    }
    let (stand_in, arrivals) = webhook_stand_in().await;
    let bench = Bench {
        state,
        principal,
        load,
        latency,
        sentinel,
        groups: group_ids,
        stand_in,
        arrivals,
        workers,
    };
    (bench, dir)
}

async fn channel(bench: &Bench, name: &str, path: &str) -> Uuid {
    bench
        .state
        .services
        .alerting
        .create_channel(
            &bench.principal,
            ChannelInput {
                name: name.into(),
                channel_type: ChannelType::WebhookSlack,
                emails: None,
                webhook_url: Some(format!("{}/{path}", bench.stand_in)),
                enabled: true,
            },
            &RequestMeta::default(),
        )
        .await
        .unwrap()
        .id
}

#[allow(clippy::too_many_arguments)]
async fn rule(
    bench: &Bench,
    name: String,
    metric: AlertMetric,
    threshold: f64,
    cooldown: i32,
    machine_id: Option<Uuid>,
    group_id: Option<Uuid>,
    channel: Uuid,
) -> Uuid {
    bench
        .state
        .services
        .alerting
        .create_rule(
            &bench.principal,
            RuleInput {
                name,
                metric,
                operator: AlertOperator::Gt,
                threshold,
                severity: if threshold >= 90.0 {
                    Severity::Critical
                } else {
                    Severity::Warning
                },
                enabled: true,
                cooldown_minutes: Some(cooldown),
                machine_id,
                group_id,
                channel_ids: vec![channel],
            },
            &RequestMeta::default(),
        )
        .await
        .unwrap()
        .model
        .id
}

/// 100 rules over the four metrics, a fifth scoped to one machine and a
/// fifth to a group, thresholds above what the load sends except on one
/// hot machine. Rule 0 watches the sentinel; its id is returned.
async fn hundred_rules(bench: &Bench) -> Uuid {
    let mut channels = Vec::new();
    for c in 0..CHANNELS {
        channels.push(channel(bench, &format!("ops-{c}"), &format!("rules/{c}")).await);
    }
    let sentinel = rule(
        bench,
        "sentinel cpu".into(),
        AlertMetric::Cpu,
        95.0,
        60,
        Some(bench.sentinel),
        None,
        channels[0],
    )
    .await;
    for i in 1..RULES {
        let (metric, threshold) = match i % 4 {
            0 => (AlertMetric::Cpu, 80.0 + (i % 20) as f64),
            1 => (AlertMetric::Ram, 85.0 + (i % 15) as f64),
            2 => (AlertMetric::Disk, 85.0 + (i % 15) as f64),
            _ => (AlertMetric::Temperature, 75.0 + (i % 20) as f64),
        };
        let (machine, group) = match i % 5 {
            0 => (Some(bench.load[i % LOAD_MACHINES]), None),
            1 => (None, Some(bench.groups[i % GROUPS])),
            _ => (None, None),
        };
        rule(
            bench,
            format!("rule {i:03}"),
            metric,
            threshold,
            5 + (i % 12) as i32 * 5,
            machine,
            group,
            channels[i % CHANNELS],
        )
        .await;
    }
    sentinel
}

fn metrics(cpu: f64, ram: f64, temp: f64, uptime: i64) -> CollectRequest {
    CollectRequest {
        collector: "metrics".into(),
        collected_at: Some(Utc::now()),
        data: serde_json::value::to_raw_value(
            &json!({ "cpu_percent": cpu, "ram_percent": ram, "uptime_seconds": uptime, "cpu_temp": temp }),
        )
        .unwrap(),
    }
}

/// Under every rule's threshold, except machine 7, which runs hot (CPU
/// 88 %, over some CPU rules: it fires once, later samples are held back).
fn load_sample(n: usize, i: usize) -> CollectRequest {
    let cpu = if n == 7 {
        88.0
    } else {
        5.0 + ((n * 7 + i) % 40) as f64
    };
    metrics(
        cpu,
        40.0 + ((n + i) % 30) as f64,
        35.0 + ((n * 3 + i) % 30) as f64,
        1000 + i as i64,
    )
}

/// The load machines post concurrently, back to back, until `stop`; the
/// samples accepted.
fn load(bench: &Bench, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    let ingest = bench.state.services.ingest.clone();
    let client = bench.principal.client_id;
    let machines = bench.load.clone();
    tokio::spawn(async move {
        let done = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = machines
            .into_iter()
            .enumerate()
            .map(|(n, machine)| {
                let (ingest, done, stop) = (ingest.clone(), done.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        ingest.collect(client, machine, load_sample(n, i)).await.unwrap();
                        i += 1;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        done.load(Ordering::Relaxed)
    })
}

/// Samples/s the load reaches in `secs`.
async fn timed_load(bench: &Bench, secs: f64) -> (u64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let running = load(bench, stop.clone());
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let n = running.await.unwrap();
    (n, n as f64 / started.elapsed().as_secs_f64())
}

/// How many events/s `Alerting::handle` (what the alert worker does with
/// each event, one at a time) gets through with the tenant's rules and
/// nothing else running: samples like the load's.
async fn worker_capacity(bench: &Bench, secs: f64) -> f64 {
    let alerting = &bench.state.services.alerting;
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut n = 0usize;
    while Instant::now() < stop {
        let k = n % LOAD_MACHINES;
        let event = live::collected(
            bench.principal.client_id,
            Collected {
                machine_id: bench.load[k],
                collector: Collector::Metrics,
                collected_at: Utc::now(),
                figures: Some(Figures::Metrics {
                    cpu_percent: if k == 7 {
                        88.0
                    } else {
                        5.0 + ((k * 7 + n) % 40) as f64
                    },
                    ram_percent: 40.0 + ((k + n) % 30) as f64,
                    uptime_seconds: 1000,
                    cpu_temp: Some(35.0 + ((k * 3 + n) % 30) as f64),
                }),
            },
        );
        alerting.handle(&event).await.unwrap();
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

async fn evaluation_cost(label: &str, bench: &Bench, secs: f64, skipped: &AtomicU64) {
    let (_, bare) = timed_load(bench, secs).await;
    let sentinel_rule = hundred_rules(bench).await;
    let skipped_before = skipped.load(Ordering::Relaxed);
    let (samples, ruled) = timed_load(bench, secs).await;
    // The worker handles events in publication order: once it fires the
    // sentinel's rule on a sample committed after the load stopped, it has
    // been through (or skipped) every sample before it.
    let mut events = bench.state.services.alerting.bus().subscribe();
    let ingest = &bench.state.services.ingest;
    ingest
        .collect(
            bench.principal.client_id,
            bench.sentinel,
            metrics(99.0, 50.0, 40.0, 1),
        )
        .await
        .unwrap();
    let committed = Instant::now();
    let reached = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            match events.recv().await {
                Ok(e) => {
                    if let LiveEvent::AlertFired { alert, .. } = &*e {
                        if alert.rule_id == Some(sentinel_rule) {
                            return;
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("{e}"),
            }
        }
    })
    .await;
    let drain = committed.elapsed();
    let missed = skipped.load(Ordering::Relaxed) - skipped_before;
    let capacity = worker_capacity(bench, secs.min(5.0)).await;
    println!(
        "[{label}] collect with {RULES} rules {ruled:.0} samples/s vs no rules {bare:.0} samples/s: drop {:.1}% (goal < 10%)",
        100.0 * (1.0 - ruled / bare)
    );
    let drained = match reached {
        Ok(()) => format!("{:.0} ms", drain.as_secs_f64() * 1000.0),
        Err(_) => "not within 120 s".into(),
    };
    let verdict = if missed == 0 && reached.is_ok() && drain < Duration::from_secs(1) && capacity > ruled {
        "keeps up"
    } else {
        "does NOT keep up"
    };
    println!(
        "[{label}] alert worker: {verdict}; skipped {missed} of {samples} events; reached a sample committed after the load in {drained} (one fire included); capacity alone {capacity:.0} events/s = {:.1}x the ingest rate",
        capacity / ruled
    );
}

async fn latency(label: &str, bench: &Bench) {
    let channel = channel(bench, "latency", "latency").await;
    rule(
        bench,
        "latency cpu".into(),
        AlertMetric::Cpu,
        50.0,
        60,
        None,
        None,
        channel,
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let background = load(bench, stop.clone());
    // Let the load reach its pace first.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ingest = &bench.state.services.ingest;
    let mut committed = HashMap::new();
    let mut tick = tokio::time::interval(LATENCY_INTERVAL);
    for &machine in &bench.latency {
        tick.tick().await;
        ingest
            .collect(bench.principal.client_id, machine, metrics(75.0, 50.0, 40.0, 1))
            .await
            .unwrap();
        committed.insert(machine.to_string(), Instant::now());
    }
    // Each machine id appears in its alert's link; the first arrival
    // naming it is its alert.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen: HashMap<String, Instant> = HashMap::new();
    while seen.len() < committed.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        for (at, body) in bench.arrivals.lock().unwrap().iter() {
            for id in committed.keys() {
                if !seen.contains_key(id) && body.contains(id.as_str()) {
                    seen.insert(id.clone(), *at);
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let background = background.await.unwrap();
    let mut ms: Vec<f64> = seen
        .iter()
        .map(|(id, at)| at.saturating_duration_since(committed[id]).as_secs_f64() * 1000.0)
        .collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    if ms.is_empty() {
        println!("[{label}] commit-to-webhook latency: no alert arrived within 60 s");
        return;
    }
    println!(
        "[{label}] commit-to-webhook latency over {} alerts ({} of {} arrived; one sample every {} ms, {background} load samples in the background): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (goal p99 < 1000 ms)",
        ms.len(),
        seen.len(),
        committed.len(),
        LATENCY_INTERVAL.as_millis(),
        pct(0.5),
        pct(0.99),
        ms[ms.len() - 1],
    );
}

async fn run(label: &str, database_url: Option<&str>, secs: f64, skipped: &AtomicU64) {
    let (bench, _dir) = start(database_url).await;
    evaluation_cost(label, &bench, secs, skipped).await;
    latency(label, &bench).await;
    bench.workers.stop(Duration::from_secs(5)).await;
}

/// A throwaway database on the server at `BENCH_POSTGRES_URL`.
async fn postgres_database(admin: &str) -> Option<(sea_orm::DatabaseConnection, String, String)> {
    let conn = sea_orm::Database::connect(admin).await.ok()?;
    let name = format!("optralis_alert_bench_{}", std::process::id());
    conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .ok()?;
    conn.execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .ok()?;
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    let url = format!("{base}/{name}");
    Some((conn, name, url))
}

fn main() {
    use tracing_subscriber::{filter::LevelFilter, layer::SubscriberExt, util::SubscriberInitExt, Layer};
    let skipped = Arc::new(AtomicU64::new(0));
    tracing_subscriber::registry()
        .with(Skipped(skipped.clone()))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(LevelFilter::WARN),
        )
        .init();
    let secs: f64 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        println!(
            "alerting benchmark ({} cores, {secs} s per ingest phase, {LOAD_MACHINES} load machines, workers running, server and load in one process)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        run("sqlite", None, secs, &skipped).await;
        match std::env::var("BENCH_POSTGRES_URL") {
            Ok(admin) => match postgres_database(&admin).await {
                Some((conn, name, url)) => {
                    run("postgres", Some(&url), secs, &skipped).await;
                    let _ = conn
                        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
                None => println!("[postgres] skipped: no server at BENCH_POSTGRES_URL"),
            },
            Err(_) => println!("[postgres] skipped: BENCH_POSTGRES_URL not set"),
        }
    });
}

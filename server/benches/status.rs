//! Public status benchmark, each figure against a baseline of the same run:
//! - `GET /status` under 1,000 concurrent clients against `GET /health`
//!   (a database ping per request): requests per second and p99, on the
//!   release server in a process of its own. Goal: `/status` keeps at least
//!   80 % of `/health`'s rate, thanks to its 60 s cache.
//!
//! - The uptime job and a `/status` refresh over 10,000 machines (100
//!   tenants) and 15 days of `service_uptime` at the job's cadence, in
//!   process: time and SQL statements, against one database ping.
//!
//! Run: cargo bench -p optralis --bench status   (BENCH_CLIENTS=1000,
//! BENCH_SECONDS=10 per round, BENCH_MACHINES=10000 by default;
//! BENCH_DATABASE_URL=postgres://… runs the in-process part on a fresh
//! PostgreSQL database created and dropped by the bench)

use chrono::{DurationRound, Utc};
use entities::{clients, service_uptime};
use hdrhistogram::Histogram;
use optralis::{app::AppState, config::Config, jobs::uptime};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};
use uuid::Uuid;

mod support;
use support::{
    raise_open_files,
    seed::{seed_machines, tenant},
    PgDatabase, ServerProcess,
};

const TENANTS: usize = 100;
const UPTIME_DAYS: i64 = 15;

struct Load {
    requests: u64,
    errors: u64,
    /// The first failures, by kind, to say what they were.
    failures: HashMap<String, u64>,
    latency: Histogram<u64>,
    elapsed: Duration,
}

impl Load {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn p99_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.99) as f64 / 1000.0
    }

    fn p50_ms(&self) -> f64 {
        self.latency.value_at_quantile(0.5) as f64 / 1000.0
    }

    fn add(&mut self, other: Load) {
        self.requests += other.requests;
        self.errors += other.errors;
        for (kind, n) in other.failures {
            *self.failures.entry(kind).or_default() += n;
        }
        self.latency.add(other.latency).unwrap();
        self.elapsed += other.elapsed;
    }
}

/// `clients` keep-alive clients, each sending its next request as soon as
/// the previous one is answered, for `seconds`.
async fn load(http: &reqwest::Client, url: &str, clients: usize, seconds: u64) -> Load {
    let url: Arc<str> = url.into();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (http, url) = (http.clone(), url.clone());
        tasks.spawn(async move {
            let mut latency = Histogram::<u64>::new(3).unwrap();
            let (mut requests, mut errors) = (0u64, 0u64);
            let mut failures: HashMap<String, u64> = HashMap::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                let failure = match http.get(&*url).send().await {
                    Ok(response) => {
                        let status = response.status();
                        match response.bytes().await {
                            Ok(_) if status.is_success() => None,
                            Ok(_) => Some(format!("HTTP {status}")),
                            Err(e) => Some(format!("body: {e}")),
                        }
                    }
                    Err(e) if e.is_connect() => Some("connect".to_owned()),
                    Err(e) if e.is_timeout() => Some("timeout".to_owned()),
                    Err(e) => Some(format!("request: {e}")),
                };
                latency.record(sent.elapsed().as_micros() as u64).unwrap();
                requests += 1;
                if let Some(kind) = failure {
                    errors += 1;
                    *failures.entry(kind).or_default() += 1;
                }
            }
            (requests, errors, latency, failures)
        });
    }
    let mut total = Load {
        requests: 0,
        errors: 0,
        failures: HashMap::new(),
        latency: Histogram::new(3).unwrap(),
        elapsed: Duration::ZERO,
    };
    while let Some(done) = tasks.join_next().await {
        let (requests, errors, latency, failures) = done.unwrap();
        total.requests += requests;
        total.errors += errors;
        total.latency.add(latency).unwrap();
        for (kind, n) in failures {
            *total.failures.entry(kind).or_default() += n;
        }
    }
    total.elapsed = started.elapsed();
    total
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Median and p99 of `n` runs of `f`, in milliseconds, with the SQL
/// statements of one warm run.
async fn timed<F, Fut>(state: &AppState, n: usize, mut f: F) -> (f64, f64, u64)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let db = &state.services.infra.db;
    // Statements of a warm call: the first may fill a cache.
    f().await;
    let before = db.statements();
    f().await;
    let statements = db.statements() - before;
    let mut latency = Histogram::<u64>::new(3).unwrap();
    for _ in 0..n {
        let started = Instant::now();
        f().await;
        latency
            .record(started.elapsed().as_micros().max(1) as u64)
            .unwrap();
    }
    (
        latency.value_at_quantile(0.5) as f64 / 1000.0,
        latency.value_at_quantile(0.99) as f64 / 1000.0,
        statements,
    )
}

/// The uptime job and a report refresh over a seeded platform.
async fn job_costs(machines: usize, database_url: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let mut vars: HashMap<String, String> =
        [("OPTRALIS_DATA_DIR".to_string(), dir.path().display().to_string())].into();
    if let Some(url) = database_url {
        vars.insert("DATABASE_URL".into(), url.to_owned());
    }
    // Workers are not started: their statements would share the counter.
    let (state, _workers) = AppState::build(Config::from_vars(&vars).unwrap()).await.unwrap();
    let services = &state.services;
    let conn = services.infra.db.conn.clone();
    let backend = services.infra.db.backend.as_str();

    let tenant_rows: Vec<_> = (0..TENANTS).map(tenant).collect();
    let tenants: Vec<(Uuid, Vec<Uuid>)> = tenant_rows.iter().map(|t| (*t.id.as_ref(), vec![])).collect();
    clients::Entity::insert_many(tenant_rows)
        .exec(&conn)
        .await
        .unwrap();
    let started = Instant::now();
    seed_machines(&conn, &tenants, 0, machines).await;
    // Fifteen days of checks at the job's cadence, one in forty offline.
    let now = Utc::now();
    let slot = chrono::Duration::from_std(uptime::EVERY).unwrap();
    let first = (now - chrono::Duration::days(UPTIME_DAYS))
        .duration_trunc(slot)
        .unwrap();
    let mut rows = Vec::new();
    let mut at = first;
    let mut k = 0usize;
    while at < now.duration_trunc(slot).unwrap() {
        for service in ["api", "database", "ai"] {
            rows.push(service_uptime::ActiveModel {
                id: Set(Uuid::now_v7()),
                service_name: Set(service.into()),
                status: Set(if k.is_multiple_of(40) { "offline" } else { "online" }.into()),
                response_time_ms: Set(3),
                checked_at: Set(at),
            });
            k += 1;
        }
        at += slot;
    }
    let uptime_rows = rows.len();
    for chunk in rows.chunks(500) {
        service_uptime::Entity::insert_many(chunk.to_vec())
            .exec(&conn)
            .await
            .unwrap();
    }
    println!(
        "uptime job and /status refresh ({backend}, {machines} machines over {TENANTS} tenants, {uptime_rows} service_uptime rows = {UPTIME_DAYS} days every {} min; seeded in {:.1} s)",
        slot.num_minutes(),
        started.elapsed().as_secs_f64()
    );

    let n = 200;
    let (ping, ping99, _) = timed(&state, n, || async {
        services.status.database_health().await;
    })
    .await;
    println!("  baseline: database ping p50 {ping:.3} ms, p99 {ping99:.3} ms");
    let report = |name: &str, (p50, p99, statements): (f64, f64, u64)| {
        println!(
            "  {name:<44} p50 {p50:>8.3} ms = {:>6.1}x ping   p99 {p99:>8.3} ms   {statements} statements",
            p50 / ping
        );
    };
    let board = &services.status_board;
    report(
        "report refresh (checks, series, fleet)",
        timed(&state, n, || async {
            board.build().await;
        })
        .await,
    );
    report(
        "15-day series alone (one statement)",
        timed(&state, n, || async {
            board.uptime.series(Utc::now()).await.unwrap();
        })
        .await,
    );
    report(
        "cached report (cache hit)",
        timed(&state, n, || async {
            board.report_json().await;
        })
        .await,
    );
    // A tick that writes: the current slot's rows are removed before each
    // (outside the timing), as if the slot had just begun.
    let mut writing = Histogram::<u64>::new(3).unwrap();
    let db = &services.infra.db;
    let mut statements = 0;
    for i in 0..n {
        service_uptime::Entity::delete_many()
            .filter(service_uptime::Column::CheckedAt.gte(Utc::now().duration_trunc(slot).unwrap()))
            .exec(&conn)
            .await
            .unwrap();
        let before = db.statements();
        let started = Instant::now();
        let written = uptime::tick(services).await.unwrap();
        writing
            .record(started.elapsed().as_micros().max(1) as u64)
            .unwrap();
        if i == 0 {
            statements = db.statements() - before;
            assert_eq!(written, Some(3), "a fresh slot writes one row per service");
        }
    }
    report(
        "uptime job tick, slot not yet recorded",
        (
            writing.value_at_quantile(0.5) as f64 / 1000.0,
            writing.value_at_quantile(0.99) as f64 / 1000.0,
            statements,
        ),
    );
    report(
        "uptime job tick, slot already recorded",
        timed(&state, n, || async {
            uptime::tick(services).await.unwrap();
        })
        .await,
    );
}

fn main() {
    let clients = env_number("BENCH_CLIENTS", 1_000) as usize;
    let seconds = env_number("BENCH_SECONDS", 10);
    let machines = env_number("BENCH_MACHINES", 10_000) as usize;
    let pg_admin = std::env::var("BENCH_DATABASE_URL").ok().filter(|s| !s.is_empty());
    raise_open_files();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let pg = match &pg_admin {
            Some(admin) => Some(PgDatabase::create(admin).await),
            None => None,
        };
        job_costs(machines, pg.as_ref().map(|(_, url)| url.as_str())).await;
        if let Some((db, _)) = pg {
            db.drop_it().await;
        }

        let server = ServerProcess::start().await;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(clients)
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{}", server.port);
        println!(
            "status benchmark (release server, SQLite, {clients} concurrent keep-alive clients, 2 rounds of {seconds} s per route, alternating)"
        );
        // Warm both routes (and open the connections) before measuring.
        load(&http, &format!("{base}/health"), clients, 2).await;
        load(&http, &format!("{base}/status"), clients, 2).await;
        let mut health: Option<Load> = None;
        let mut status: Option<Load> = None;
        for round in 1..=2 {
            for (route, total) in [("/health", &mut health), ("/status", &mut status)] {
                let figures = load(&http, &format!("{base}{route}"), clients, seconds).await;
                println!(
                    "  round {round} {route:<8} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {} {:?}",
                    figures.rate(),
                    figures.p50_ms(),
                    figures.p99_ms(),
                    figures.errors,
                    figures.failures
                );
                match total {
                    Some(t) => t.add(figures),
                    None => *total = Some(figures),
                }
            }
        }
        let (health, status) = (health.unwrap(), status.unwrap());
        let ratio = status.rate() / health.rate();
        println!(
            "/status: {:.0} req/s = {:.0} % of /health's {:.0} req/s (goal >= 80 %: {}); p99 {:.2} ms vs {:.2} ms = {:.2}x; errors {} vs {}",
            status.rate(),
            ratio * 100.0,
            health.rate(),
            if ratio >= 0.8 { "met" } else { "NOT met" },
            status.p99_ms(),
            health.p99_ms(),
            status.p99_ms() / health.p99_ms(),
            status.errors,
            health.errors,
        );
        drop(server);
    });
}

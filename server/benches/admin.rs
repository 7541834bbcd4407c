//! Super-admin panel benchmark: what one `adminDashboard` request costs as
//! the platform grows, against a baseline measured in the same run.
//! - SQL statements per request at 1,000 and at 10,000 machines (100
//!   tenants), net of what authenticating the request costs (the
//!   baseline's statements): the goal is at most 5, the same at both sizes;
//! - latency p50/p99 of sequential requests vs `{ __typename }` sent with
//!   the same token (authentication, transport and GraphQL overhead only).
//!
//! Tenants, machines and their certificates are inserted directly in the
//! database in batches. Add a measured query to `MEASURED` (e.g.
//! `sitesOverview`) and it is reported the same way.
//!
//! Run: cargo bench -p optralis --bench admin   (BENCH_REQUESTS=300 per
//! query and size by default; BENCH_DATABASE_URL=postgres://… runs on a
//! fresh PostgreSQL database created and dropped by the bench)

use chrono::Utc;
use entities::{clients, sites};
use hdrhistogram::Histogram;
use optralis::{app::AppState, config::Config, http, serve};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{json, Value};
use std::{collections::HashMap, time::Instant};
use uuid::Uuid;

mod support;
use support::{
    seed::{seed_machines, tenant},
    PgDatabase, EMAIL, PASSWORD,
};

const TENANTS: usize = 100;
const SIZES: [usize; 2] = [1_000, 10_000];
const BASELINE: &str = "{ __typename }";

/// The queries measured against the baseline: (name, document).
const MEASURED: &[(&str, &str)] = &[
    (
        "adminDashboard",
        "{ adminDashboard { totalClients clientsByLicenseStatus { active expired suspended } totalMachines \
         onlineMachines offlineMachines inMaintenance totalUsers certificates { active expiringWithin30Days revoked } \
         alertsLast24h failedDeliveriesLast24h aiRequestsThisMonth } }",
    ),
    (
        "sitesOverview",
        "{ sitesOverview { sites { site { id name } health { machines online offline activeAlerts healthScore } } \
         aggregatedHealthScore unassignedMachines } }",
    ),
];

/// Sites per tenant; nine machines in ten are at one.
const SITES_PER_TENANT: usize = 10;

struct Server {
    url: String,
    state: AppState,
    _dir: tempfile::TempDir,
}

async fn spawn(database_url: Option<&str>) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut vars: HashMap<String, String> = [
        ("OPTRALIS_DATA_DIR", dir.path().display().to_string()),
        ("DEFAULT_ADMIN_EMAIL", EMAIL.into()),
        ("DEFAULT_ADMIN_PASSWORD", PASSWORD.into()),
        ("AUTH_RATE_LIMIT_ATTEMPTS", "1000000000".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(url) = database_url {
        vars.insert("DATABASE_URL".into(), url.to_owned());
    }
    // Background jobs are not started: their statements would share the
    // process-wide counter.
    let (state, _workers) = AppState::build(Config::from_vars(&vars).unwrap()).await.unwrap();
    support::settle_first_admin(&state).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(serve::serve(
        listener,
        http::router(state.clone()),
        std::future::pending(),
    ));
    Server {
        url,
        state,
        _dir: dir,
    }
}

async fn post(http: &reqwest::Client, url: &str, token: &str, query: &str) -> Value {
    http.post(url)
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

struct Figures {
    statements: u64,
    latency: Histogram<u64>,
}

/// Statements of one request, then the latency of `n` sequential ones.
async fn measure(server: &Server, http: &reqwest::Client, token: &str, query: &str, n: usize) -> Figures {
    let db = &server.state.services.infra.db;
    let answer = post(http, &server.url, token, query).await;
    assert!(answer["errors"].is_null(), "{answer}");
    let before = db.statements();
    post(http, &server.url, token, query).await;
    let statements = db.statements() - before;
    let mut latency = Histogram::<u64>::new(3).unwrap();
    for _ in 0..n {
        let started = Instant::now();
        post(http, &server.url, token, query).await;
        latency.record(started.elapsed().as_micros() as u64).unwrap();
    }
    Figures { statements, latency }
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn main() {
    let n: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let pg_admin = std::env::var("BENCH_DATABASE_URL").ok().filter(|s| !s.is_empty());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let pg = match &pg_admin {
            Some(admin) => Some(PgDatabase::create(admin).await),
            None => None,
        };
        let server = spawn(pg.as_ref().map(|(_, url)| url.as_str())).await;
        let conn = server.state.services.infra.db.conn.clone();
        let backend = server.state.services.infra.db.backend.as_str();
        let http = reqwest::Client::new();
        let login = http
            .post(&server.url)
            .json(&json!({
                "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                "variables": { "e": EMAIL, "p": PASSWORD }
            }))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        let token = login["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{login}"))
            .to_owned();

        // The super_admin's own tenant takes its share of machines and
        // sites too: sitesOverview is measured on it.
        let platform = clients::Entity::find().one(&conn).await.unwrap().unwrap().id;
        let tenant_rows: Vec<_> = (0..TENANTS).map(tenant).collect();
        let mut ids: Vec<Uuid> = vec![platform];
        ids.extend(tenant_rows.iter().map(|t| *t.id.as_ref()));
        clients::Entity::insert_many(tenant_rows).exec(&conn).await.unwrap();
        let mut tenants = Vec::new();
        for id in ids {
            let rows: Vec<_> = (0..SITES_PER_TENANT)
                .map(|k| sites::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    client_id: Set(id),
                    name: Set(format!("Site {k}")),
                    location: Set(None),
                    timezone: Set("Europe/Paris".into()),
                    created_at: Set(Utc::now()),
                })
                .collect();
            let site_ids = rows.iter().map(|r| *r.id.as_ref()).collect();
            sites::Entity::insert_many(rows).exec(&conn).await.unwrap();
            tenants.push((id, site_ids));
        }

        println!("admin benchmark ({backend}, {TENANTS} tenants + the platform's own, {n} sequential requests per query and size)");
        let mut seeded = 0;
        let mut statements: HashMap<&str, Vec<u64>> = HashMap::new();
        for size in SIZES {
            let started = Instant::now();
            seed_machines(&conn, &tenants, seeded, size).await;
            println!(
                "seeded {} machines and certificates in {:.1} s",
                size - seeded,
                started.elapsed().as_secs_f64()
            );
            seeded = size;
            let base = measure(&server, &http, &token, BASELINE, n).await;
            println!(
                "  {size:>6} machines  baseline {BASELINE}: {} statements, p50 {:.2} ms, p99 {:.2} ms",
                base.statements,
                ms(&base.latency, 0.5),
                ms(&base.latency, 0.99)
            );
            for (name, query) in MEASURED {
                let f = measure(&server, &http, &token, query, n).await;
                let own = f.statements.saturating_sub(base.statements);
                statements.entry(name).or_default().push(own);
                println!(
                    "  {size:>6} machines  {name}: {own} statements (+{} auth), p50 {:.2} ms = {:.1}x baseline, p99 {:.2} ms = {:.1}x baseline",
                    base.statements,
                    ms(&f.latency, 0.5),
                    ms(&f.latency, 0.5) / ms(&base.latency, 0.5),
                    ms(&f.latency, 0.99),
                    ms(&f.latency, 0.99) / ms(&base.latency, 0.99),
                );
            }
        }
        for (name, counts) in &statements {
            let constant = counts.windows(2).all(|w| w[0] == w[1]);
            println!(
                "{name}: statements per request {counts:?} at {SIZES:?} machines: {} (goal <= 5 and constant)",
                if constant && counts.iter().all(|c| *c <= 5) { "met" } else { "NOT met" }
            );
        }
        drop(server);
        if let Some((db, _)) = pg {
            db.drop_it().await;
        }
    });
}

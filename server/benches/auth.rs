//! Authentication benchmarks, each reported against a baseline measured in
//! the same run:
//! - login throughput vs the bound `cores / one argon2 verification`;
//! - `{ me { email } }` requests/s vs `{ serverInfo { version } }`;
//! - `me` p99 latency alone vs during a wrong-password login flood.
//!
//! Run: cargo bench -p optralis --bench auth   (BENCH_SECONDS=5 by default)

use hdrhistogram::Histogram;
use optralis::{app::AppState, config::Config, http, serve};
use serde_json::{json, Value};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

mod support;
use support::{EMAIL, PASSWORD};

struct Server {
    base: String,
    _state: AppState,
    _dir: tempfile::TempDir,
}

async fn spawn() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let vars: HashMap<String, String> = [
        ("OPTRALIS_DATA_DIR", dir.path().display().to_string()),
        ("DEFAULT_ADMIN_EMAIL", EMAIL.into()),
        ("DEFAULT_ADMIN_PASSWORD", PASSWORD.into()),
        // The flood comes from many addresses, as a botnet's would; the
        // throughput runs must not be capped by the per-IP limit.
        ("TRUST_PROXY_HEADERS", "true".into()),
        ("AUTH_RATE_LIMIT_ATTEMPTS", "1000000000".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    // Background jobs are not started: they would only add noise to what
    // is measured.
    let (state, _workers) = AppState::build(Config::from_vars(&vars).unwrap()).await.unwrap();
    support::settle_first_admin(&state).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = http::router(state.clone());
    tokio::spawn(serve::serve(listener, router, std::future::pending()));
    Server {
        base,
        _state: state,
        _dir: dir,
    }
}

fn body(query: &str, variables: Value) -> String {
    json!({ "query": query, "variables": variables }).to_string()
}

/// A closed-loop load: `workers` clients sending `payload` back to back.
#[derive(Clone)]
struct Load {
    payload: String,
    token: Option<String>,
    workers: usize,
    secs: f64,
    /// Spread requests over many `X-Forwarded-For` addresses.
    many_ips: bool,
    /// Count answers carrying GraphQL errors too (the flood expects them).
    count_errors: bool,
}

/// Returns the number of counted answers.
async fn load(client: &reqwest::Client, url: &str, spec: Load) -> u64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Instant::now() + Duration::from_secs_f64(spec.secs);
    let mut tasks = Vec::new();
    for w in 0..spec.workers {
        let (client, url, spec, done) = (client.clone(), url.to_owned(), spec.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u32;
            while Instant::now() < stop {
                let mut req = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(spec.payload.clone());
                if let Some(t) = &spec.token {
                    req = req.bearer_auth(t);
                }
                if spec.many_ips {
                    i = i.wrapping_add(1);
                    req = req.header(
                        "x-forwarded-for",
                        format!("10.{}.{}.{}", w % 250, (i >> 8) % 250, i % 250),
                    );
                }
                let resp = req.send().await.unwrap();
                let ok = resp.status().is_success();
                let bytes = resp.bytes().await.unwrap();
                let clean = ok && !bytes.windows(8).any(|w| w == b"\"errors\"");
                if clean || spec.count_errors {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed)
}

/// Open-loop load: `rate` requests/s spread over `workers`, each latency
/// measured from the instant the request was due (no coordinated omission).
async fn paced(
    client: &reqwest::Client,
    url: &str,
    payload: String,
    token: String,
    rate: f64,
    secs: f64,
) -> Histogram<u64> {
    let workers = 16usize;
    let interval = Duration::from_secs_f64(workers as f64 / rate);
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new(3).unwrap()));
    let stop = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, url, payload, token, hist) = (
            client.clone(),
            url.to_owned(),
            payload.clone(),
            token.clone(),
            hist.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut due = Instant::now() + interval.mul_f64(w as f64 / workers as f64);
            while due < stop {
                tokio::time::sleep_until(due.into()).await;
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .bearer_auth(&token)
                    .body(payload.clone())
                    .send()
                    .await
                    .unwrap();
                let _ = resp.bytes().await.unwrap();
                hist.lock()
                    .unwrap()
                    .record(due.elapsed().as_micros() as u64)
                    .unwrap();
                due += interval;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let h = hist.lock().unwrap().clone();
    h
}

const PACED_RATE: f64 = 1000.0;

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
        let server = spawn().await;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        // Baseline: one verification on a plain thread, no pool, no I/O.
        let one_hash = tokio::task::spawn_blocking(|| {
            optralis::domain::auth::password::bare_verify_time(20).as_secs_f64()
        })
        .await
        .unwrap();
        let bound = cores as f64 / one_hash;

        let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().unwrap();
        let url = format!("{}/graphql", server.base);
        let login = body(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            json!({ "e": EMAIL, "p": PASSWORD }),
        );
        let logins = load(&client, &url, Load { payload: login.clone(), token: None, workers: cores * 4, secs, many_ips: true, count_errors: false }).await;
        let login_rate = logins as f64 / secs;

        let token_body: Value = client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-forwarded-for", "192.0.2.200")
            .body(login)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token_body["data"]["login"]["accessToken"].as_str().unwrap().to_owned();

        let me = body("{ me { email } }", json!({}));
        let info = body("{ serverInfo { version } }", json!({}));
        let workers = 16;
        let info_n = load(&client, &url, Load { payload: info, token: None, workers, secs, many_ips: false, count_errors: false }).await;
        let me_n = load(&client, &url, Load { payload: me.clone(), token: Some(token.clone()), workers, secs, many_ips: false, count_errors: false }).await;
        let me_alone = paced(&client, &url, me.clone(), token.clone(), PACED_RATE, secs).await;

        // me latency during a wrong-password flood from many addresses.
        let flooding = Arc::new(AtomicBool::new(true));
        let wrong = body(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
            json!({ "e": EMAIL, "p": "Wrong-Passw0rd!!" }),
        );
        let flood = {
            let (client, url, flooding) = (client.clone(), url.clone(), flooding.clone());
            tokio::spawn(async move {
                let n = load(&client, &url, Load { payload: wrong, token: None, workers: 32, secs, many_ips: true, count_errors: true }).await;
                flooding.store(false, Ordering::Relaxed);
                n
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let me_flood = paced(&client, &url, me, token, PACED_RATE, secs - 0.5).await;
        let flood_n = flood.await.unwrap();

        let p99_alone = me_alone.value_at_quantile(0.99) as f64 / 1000.0;
        let p99_flood = me_flood.value_at_quantile(0.99) as f64 / 1000.0;
        println!("auth benchmark ({cores} cores, {secs} s per phase, server and client in one process)");
        println!("argon2id verify (m=19456,t=2,p=1): {:.1} ms; bound = {cores} / that = {bound:.1} logins/s", one_hash * 1000.0);
        println!(
            "login throughput: {login_rate:.1} logins/s = {:.0}% of the bound (goal >= 80%)",
            100.0 * login_rate / bound
        );
        println!(
            "me: {:.0} req/s vs serverInfo: {:.0} req/s = {:.0}% (goal >= 70%)",
            me_n as f64 / secs,
            info_n as f64 / secs,
            100.0 * me_n as f64 / info_n.max(1) as f64
        );
        println!(
            "me p99 at a steady {PACED_RATE} req/s: {p99_alone:.2} ms alone, {p99_flood:.2} ms during a flood of {:.0} wrong logins/s = {:+.0}% (goal <= +25%)",
            flood_n as f64 / secs,
            100.0 * (p99_flood / p99_alone - 1.0)
        );
    });
}

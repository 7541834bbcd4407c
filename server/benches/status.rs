//! Public status benchmark, each figure against a baseline of the same run:
//! - `GET /status` under 1,000 concurrent clients against `GET /health`
//!   (a database ping per request): requests per second and p99, on the
//!   release server in a process of its own. Goal: `/status` keeps at least
//!   80 % of `/health`'s rate, thanks to its 60 s cache.
//!
//! Run: cargo bench -p optralis --bench status   (BENCH_CLIENTS=1000,
//! BENCH_SECONDS=10 per round by default)

use hdrhistogram::Histogram;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

mod support;
use support::{raise_open_files, ServerProcess};

struct Load {
    requests: u64,
    errors: u64,
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
            while Instant::now() < deadline {
                let sent = Instant::now();
                let ok = match http.get(&*url).send().await {
                    Ok(response) => {
                        let status = response.status();
                        response.bytes().await.is_ok() && status.is_success()
                    }
                    Err(_) => false,
                };
                latency.record(sent.elapsed().as_micros() as u64).unwrap();
                requests += 1;
                errors += u64::from(!ok);
            }
            (requests, errors, latency)
        });
    }
    let mut total = Load {
        requests: 0,
        errors: 0,
        latency: Histogram::new(3).unwrap(),
        elapsed: Duration::ZERO,
    };
    while let Some(done) = tasks.join_next().await {
        let (requests, errors, latency) = done.unwrap();
        total.requests += requests;
        total.errors += errors;
        total.latency.add(latency).unwrap();
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

fn main() {
    let clients = env_number("BENCH_CLIENTS", 1_000) as usize;
    let seconds = env_number("BENCH_SECONDS", 10);
    raise_open_files();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
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
                    "  round {round} {route:<8} {:>8.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
                    figures.rate(),
                    figures.p50_ms(),
                    figures.p99_ms(),
                    figures.errors
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

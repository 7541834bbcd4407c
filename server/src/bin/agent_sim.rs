//! Agent simulator: enrols N machines with one install token, then sends
//! heartbeats for each over mutual TLS, and prints what happened.
//!
//!   agent-sim --gateway https://127.0.0.1:8443 --ca data/ca.crt \
//!             --token <install token> --machines 50 --heartbeats 10

use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

#[derive(Parser, Clone)]
#[command(name = "agent-sim", about = "Simulated Optralis agents over mutual TLS")]
struct Args {
    /// Gateway base URL.
    #[arg(long, default_value = "https://127.0.0.1:8443")]
    gateway: String,
    /// CA certificate (PEM) the gateway's certificate chains to.
    #[arg(long)]
    ca: std::path::PathBuf,
    /// Install token used by every simulated machine.
    #[arg(long)]
    token: String,
    #[arg(long, default_value_t = 10)]
    machines: usize,
    /// Heartbeats per machine after enrolment.
    #[arg(long, default_value_t = 3)]
    heartbeats: usize,
    /// Pause between a machine's heartbeats.
    #[arg(long, default_value_t = 0)]
    interval_ms: u64,
    /// Prefix of the simulated host names.
    #[arg(long, default_value = "sim")]
    prefix: String,
}

#[derive(Default)]
struct Stats {
    enrolled: usize,
    enrol_errors: usize,
    heartbeats: usize,
    heartbeat_errors: usize,
}

async fn run_machine(
    args: Args,
    ca: reqwest::Certificate,
    n: usize,
    stats: Arc<Mutex<Stats>>,
    hist: Arc<Mutex<Histogram<u64>>>,
) {
    let hostname = format!("{}-{n:05}", args.prefix);
    let plain = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca.clone())
        .build()
        .expect("client");
    let enrol = plain
        .post(format!("{}/api/public/bootstrap", args.gateway))
        .json(&json!({
            "token": args.token, "hostname": hostname, "hardware_id": format!("SIM-{}-{n}", args.prefix),
            "os": "linux", "os_version": "Debian 12", "arch": "amd64"
        }))
        .send()
        .await;
    let answer: Value = match enrol {
        Ok(r) if r.status().is_success() => r.json().await.unwrap_or_default(),
        Ok(r) => {
            eprintln!(
                "{hostname}: enrolment refused: {} {}",
                r.status(),
                r.text().await.unwrap_or_default()
            );
            stats.lock().unwrap().enrol_errors += 1;
            return;
        }
        Err(e) => {
            eprintln!("{hostname}: enrolment failed: {e}");
            stats.lock().unwrap().enrol_errors += 1;
            return;
        }
    };
    stats.lock().unwrap().enrolled += 1;
    let identity = format!(
        "{}{}",
        answer["certificate"].as_str().unwrap_or_default(),
        answer["private_key"].as_str().unwrap_or_default()
    );
    let Ok(identity) = reqwest::Identity::from_pem(identity.as_bytes()) else {
        stats.lock().unwrap().heartbeat_errors += args.heartbeats;
        return;
    };
    let agent = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .identity(identity)
        .build()
        .expect("agent client");
    for _ in 0..args.heartbeats {
        let started = Instant::now();
        let result = agent
            .post(format!("{}/agent/heartbeat", args.gateway))
            .json(&json!({
                "hostname": hostname, "hardware_id": format!("SIM-{}-{n}", args.prefix), "os": "linux",
                "os_version": "Debian 12", "ip": "10.0.0.1", "agent_version": "2.1.0"
            }))
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => {
                let _ = r.bytes().await;
                hist.lock()
                    .unwrap()
                    .record(started.elapsed().as_micros() as u64)
                    .ok();
                stats.lock().unwrap().heartbeats += 1;
            }
            Ok(r) => {
                eprintln!("{hostname}: heartbeat refused: {}", r.status());
                stats.lock().unwrap().heartbeat_errors += 1;
            }
            Err(e) => {
                eprintln!("{hostname}: heartbeat failed: {e}");
                stats.lock().unwrap().heartbeat_errors += 1;
            }
        }
        if args.interval_ms > 0 {
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let ca_pem = match std::fs::read(&args.ca) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("agent-sim: cannot read {}: {e}", args.ca.display());
            return std::process::ExitCode::from(2);
        }
    };
    let Ok(ca) = reqwest::Certificate::from_pem(&ca_pem) else {
        eprintln!("agent-sim: {} is not a PEM certificate", args.ca.display());
        return std::process::ExitCode::from(2);
    };
    let stats = Arc::new(Mutex::new(Stats::default()));
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new(3).expect("histogram")));
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.machines)
        .map(|n| {
            tokio::spawn(run_machine(
                args.clone(),
                ca.clone(),
                n,
                stats.clone(),
                hist.clone(),
            ))
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let s = stats.lock().unwrap();
    let h = hist.lock().unwrap();
    println!(
        "machines enrolled: {}/{} ({} refused)",
        s.enrolled, args.machines, s.enrol_errors
    );
    println!(
        "heartbeats: {} ok, {} failed in {elapsed:.2} s ({:.0}/s); latency p50 {:.2} ms, p99 {:.2} ms",
        s.heartbeats,
        s.heartbeat_errors,
        s.heartbeats as f64 / elapsed.max(1e-9),
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0
    );
    if s.enrol_errors + s.heartbeat_errors == 0 {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}

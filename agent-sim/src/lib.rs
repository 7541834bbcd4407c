//! Simulated Optralis agents: enrols N machines with one install token,
//! heartbeats them, then (with `--duration-secs`) posts realistic collector
//! payloads over mutual TLS at the agents' intervals, with latency
//! histograms, and can check afterwards that every acknowledged sample is
//! in the database exactly once.
//!
//! The `agent-sim` binary runs it from a shell; the server's tests and
//! benches call [`run`] in-process, so they never depend on a binary built
//! beforehand.

use chrono::{DateTime, SubsecRound, Utc};
use clap::Parser;
use hdrhistogram::Histogram;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};
use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::sync::Semaphore;

/// The simulator's command line.
#[derive(Parser, Clone, Debug)]
#[command(name = "agent-sim", about = "Simulated Optralis agents over mutual TLS")]
pub struct Args {
    /// Gateway base URL.
    #[arg(long, default_value = "https://127.0.0.1:8443")]
    pub gateway: String,
    /// CA certificate (PEM) the gateway's certificate chains to.
    #[arg(long)]
    pub ca: std::path::PathBuf,
    /// Install token used by every simulated machine. Tokens are base64url
    /// and one in 32 starts with '-', which must not read as a flag.
    #[arg(long, allow_hyphen_values = true)]
    pub token: String,
    #[arg(long, default_value_t = 10)]
    pub machines: usize,
    /// Heartbeats per machine after enrolment.
    #[arg(long, default_value_t = 3)]
    pub heartbeats: usize,
    /// Pause between a machine's heartbeats.
    #[arg(long, default_value_t = 0)]
    pub interval_ms: u64,
    /// Prefix of the simulated host names.
    #[arg(long, default_value = "sim")]
    pub prefix: String,
    /// Enrolments in flight at once.
    #[arg(long, default_value_t = 32)]
    pub enrol_concurrency: usize,
    /// Post collector data for this long (0: heartbeats only).
    #[arg(long, default_value_t = 0)]
    pub duration_secs: u64,
    /// Seconds between metrics samples; the other collectors run at their
    /// default intervals divided by `--time-scale`.
    #[arg(long, default_value_t = 10.0)]
    pub metrics_interval: f64,
    /// Speeds up the slow collectors (storage every 300 s becomes 300/N).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Only the metrics collector (the densest series).
    #[arg(long)]
    pub metrics_only: bool,
    /// First samples of the machines are spread over this many seconds
    /// (default: one metrics interval); a fleet that did not all start at
    /// once is spread over a minute or more.
    #[arg(long)]
    pub spread_secs: Option<f64>,
    /// After the run, check the acknowledged metrics/network samples
    /// against this database (`sqlite://...` or `postgres://...`).
    #[arg(long)]
    pub verify_db: Option<String>,
    /// Print each acknowledged metrics sample as one JSON line in the report
    /// (`{"sample": {...}}`), for harnesses that compare what reached
    /// subscribers with what was sent.
    #[arg(long)]
    pub print_samples: bool,
}

#[derive(Default)]
struct Stats {
    enrolled: usize,
    enrol_errors: usize,
    heartbeats: usize,
    heartbeat_errors: usize,
    collects: usize,
    collect_errors: usize,
    retried: usize,
    /// (machine_id, collector, collected_at) of every acknowledged
    /// time-series sample.
    acked: Vec<(String, &'static str, DateTime<Utc>)>,
}

struct Shared {
    args: Args,
    out: Output,
    ca: reqwest::Certificate,
    stats: Mutex<Stats>,
    heartbeat_latency: Mutex<Histogram<u64>>,
    collect_latency: Mutex<Histogram<u64>>,
    enrol_gate: Semaphore,
}

/// Collectors, default intervals (s) and payload makers.
const SLOW_COLLECTORS: [(&str, f64); 7] = [
    ("network", 30.0),
    ("storage", 300.0),
    ("storage_health", 7200.0),
    ("services", 120.0),
    ("security", 900.0),
    ("software", 14400.0),
    ("patches", 21600.0),
];

fn payload(collector: &str, n: usize, tick: u64) -> Value {
    let wave = ((tick as f64 + n as f64) / 7.0).sin();
    match collector {
        "metrics" => json!({
            "cpu_percent": (35.0 + 30.0 * wave).clamp(0.0, 100.0),
            "ram_percent": (55.0 + 10.0 * wave).clamp(0.0, 100.0),
            "uptime_seconds": 86_400 + tick * 10,
            "cpu_temp": 45.0 + 5.0 * wave,
            "ram_used_bytes": 8_589_934_592_u64, "ram_total_bytes": 17_179_869_184_u64
        }),
        "network" => json!({
            "bytes_recv": 1_000_000 + tick * 1000, "bytes_sent": 250_000 + tick * 100,
            "packet_loss": 0.1, "latency_ms": 8.0 + wave,
            "interfaces": [{ "name": "eth0", "mac": "02:00:00:00:00:01", "ips": ["10.0.0.1"], "is_up": true }]
        }),
        "storage" => json!({ "disks": [
            { "mount_point": "/", "device": "/dev/sda1", "fs_type": "ext4", "total_gb": 100.0, "used_gb": 40.0 + wave, "interface": "SATA" },
            { "mount_point": "/data", "device": "/dev/sdb1", "fs_type": "xfs", "total_gb": 500.0, "used_gb": 120.0 }
        ] }),
        "storage_health" => json!({ "disks": [
            { "device": "/dev/sda", "model": "SIM SSD", "smart_status": "healthy", "temperature": 38, "power_on_hours": 9000, "reallocated_sectors": 0 }
        ] }),
        "services" => json!({ "services": (0..40).map(|i| json!({
            "name": format!("svc-{i}"), "status": if i == 7 { "failed" } else { "running" }, "start_type": "auto"
        })).collect::<Vec<_>>() }),
        "security" => json!({
            "antivirus": { "name": "ClamAV", "version": "1.2", "enabled": true, "up_to_date": true },
            "firewall_enabled": true, "secure_boot_enabled": true,
            "open_ports": [{ "port": 22 }, { "port": 443 }]
        }),
        "software" => json!({
            "software": (0..150).map(|i| json!({ "name": format!("package-{i}"), "version": "1.0" })).collect::<Vec<_>>(),
            "users": [{ "username": "root", "is_admin": true, "enabled": true }]
        }),
        _ => {
            json!({ "pending_updates": [{ "title": "openssl", "category": "Security", "is_important": true }], "reboot_required": false })
        }
    }
}

fn client(shared: &Shared, identity: Option<reqwest::Identity>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(shared.ca.clone())
        .timeout(Duration::from_secs(30));
    if let Some(id) = identity {
        b = b.identity(id);
    }
    b.build().expect("client")
}

/// Attempts per sample: enough to ride out a database restart of several
/// seconds, as a real agent's local queue does.
const ATTEMPTS: usize = 15;

/// Posts one sample until it is acknowledged or refused for good; a 503
/// is retried after its Retry-After with the very same sample.
async fn post_sample(shared: &Shared, agent: &reqwest::Client, body: &Value) -> Result<(), String> {
    for attempt in 0..ATTEMPTS {
        let started = Instant::now();
        let resp = match agent
            .post(format!("{}/agent/collect", shared.args.gateway))
            .json(body)
            .send()
            .await
        {
            Ok(r) => r,
            // A dropped connection (an idle one closed by the server as it
            // was reused): the same sample again is safe, it is idempotent.
            Err(_) if attempt + 1 < ATTEMPTS => {
                shared.stats.lock().unwrap().retried += 1;
                let backoff = 200 * (attempt as u64 + 1).min(5);
                tokio::time::sleep(Duration::from_millis(backoff)).await;
                continue;
            }
            Err(e) => return Err(e.to_string()),
        };
        let status = resp.status();
        if status.is_success() {
            let _ = resp.bytes().await;
            shared
                .collect_latency
                .lock()
                .unwrap()
                .record(started.elapsed().as_micros() as u64)
                .ok();
            return Ok(());
        }
        if status.as_u16() == 503 && attempt + 1 < ATTEMPTS {
            let wait = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .unwrap_or(1);
            shared.stats.lock().unwrap().retried += 1;
            tokio::time::sleep(Duration::from_secs(wait)).await;
            continue;
        }
        return Err(format!("{status} {}", resp.text().await.unwrap_or_default()));
    }
    Err("gave up after retries".into())
}

async fn run_machine(shared: Arc<Shared>, n: usize, start_load: Arc<tokio::sync::Barrier>) {
    let args = &shared.args;
    let hostname = format!("{}-{n:05}", args.prefix);
    let hardware_id = format!("SIM-{}-{n}", args.prefix);
    let answer: Option<Value> = {
        let _permit = shared.enrol_gate.acquire().await.expect("gate");
        let enrol = client(&shared, None)
            .post(format!("{}/api/public/bootstrap", args.gateway))
            .json(&json!({
                "token": args.token, "hostname": hostname, "hardware_id": hardware_id,
                "os": "linux", "os_version": "Debian 12", "arch": "amd64"
            }))
            .send()
            .await;
        match enrol {
            Ok(r) if r.status().is_success() => r.json().await.ok(),
            Ok(r) => {
                eprintln!(
                    "{hostname}: enrolment refused: {} {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                );
                None
            }
            Err(e) => {
                eprintln!("{hostname}: enrolment failed: {e}");
                None
            }
        }
    };
    let identity = answer.as_ref().and_then(|a| {
        let pem = format!(
            "{}{}",
            a["certificate"].as_str().unwrap_or_default(),
            a["private_key"].as_str().unwrap_or_default()
        );
        reqwest::Identity::from_pem(pem.as_bytes()).ok()
    });
    let Some(identity) = identity else {
        shared.stats.lock().unwrap().enrol_errors += 1;
        start_load.wait().await;
        return;
    };
    shared.stats.lock().unwrap().enrolled += 1;
    let machine_id = answer
        .as_ref()
        .and_then(|a| a["machine_id"].as_str())
        .unwrap_or_default()
        .to_owned();
    let agent = client(&shared, Some(identity));
    for _ in 0..args.heartbeats {
        let started = Instant::now();
        let result = agent
            .post(format!("{}/agent/heartbeat", args.gateway))
            .json(&json!({
                "hostname": hostname, "hardware_id": hardware_id, "os": "linux",
                "os_version": "Debian 12", "ip": "10.0.0.1", "agent_version": "2.1.0"
            }))
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => {
                let _ = r.bytes().await;
                shared
                    .heartbeat_latency
                    .lock()
                    .unwrap()
                    .record(started.elapsed().as_micros() as u64)
                    .ok();
                shared.stats.lock().unwrap().heartbeats += 1;
            }
            Ok(r) => {
                eprintln!("{hostname}: heartbeat refused: {}", r.status());
                shared.stats.lock().unwrap().heartbeat_errors += 1;
            }
            Err(e) => {
                eprintln!("{hostname}: heartbeat failed: {e}");
                shared.stats.lock().unwrap().heartbeat_errors += 1;
            }
        }
        if args.interval_ms > 0 {
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
        }
    }
    // Agents run every collector at start; machines are spread over one
    // metrics interval so they do not all post in the same instant.
    let leader = start_load.wait().await.is_leader();
    if args.duration_secs == 0 {
        return;
    }
    if leader {
        // Lets a harness measure the server over the load phase only.
        (shared.out)("load phase started");
    }
    let mut schedule: Vec<(&'static str, f64)> = vec![("metrics", args.metrics_interval)];
    if !args.metrics_only {
        schedule.extend(
            SLOW_COLLECTORS
                .iter()
                .map(|(c, every)| (*c, every / args.time_scale.max(1e-6))),
        );
    }
    let load_start = tokio::time::Instant::now();
    let end = load_start + Duration::from_secs(args.duration_secs);
    let offset = (n as f64 * 0.6180339887).fract();
    let mut next: Vec<tokio::time::Instant> = schedule
        .iter()
        .map(|(_, every)| {
            let spread = args.spread_secs.unwrap_or(args.metrics_interval);
            load_start + Duration::from_secs_f64(every.min(spread) * offset)
        })
        .collect();
    let mut tick = 0u64;
    loop {
        let (i, due) = next
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| **t)
            .map(|(i, t)| (i, *t))
            .expect("schedule");
        if due >= end {
            break;
        }
        tokio::time::sleep_until(due).await;
        let (collector, every) = schedule[i];
        next[i] = due + Duration::from_secs_f64(every);
        tick += 1;
        // Millisecond timestamps compare exactly on both backends.
        let at = Utc::now().trunc_subsecs(3);
        let body = json!({ "collector": collector, "collected_at": at, "data": payload(collector, n, tick) });
        match post_sample(&shared, &agent, &body).await {
            Ok(()) => {
                if args.print_samples && collector == "metrics" {
                    let sample = json!({ "sample": {
                        "machine_id": machine_id, "hostname": hostname, "at": at,
                        "cpu_percent": body["data"]["cpu_percent"], "ram_percent": body["data"]["ram_percent"]
                    } });
                    (shared.out)(&sample.to_string());
                }
                let mut s = shared.stats.lock().unwrap();
                s.collects += 1;
                if collector == "metrics" || collector == "network" {
                    s.acked.push((
                        machine_id.clone(),
                        if collector == "metrics" {
                            "metrics"
                        } else {
                            "network"
                        },
                        at,
                    ));
                }
            }
            Err(e) => {
                eprintln!("{hostname}: {collector} refused: {e}");
                shared.stats.lock().unwrap().collect_errors += 1;
            }
        }
    }
}

/// Compares acknowledged samples with what the database holds.
async fn verify(
    url: &str,
    acked: &[(String, &'static str, DateTime<Utc>)],
) -> Result<(usize, usize, usize), String> {
    let db = sea_orm::Database::connect(url).await.map_err(|e| e.to_string())?;
    let machines: HashSet<&str> = acked.iter().map(|(m, _, _)| m.as_str()).collect();
    let mut stored: HashSet<(String, String, i64)> = HashSet::new();
    for machine in machines {
        let id: uuid::Uuid = machine.parse().map_err(|e: uuid::Error| e.to_string())?;
        let rows = db
            .query_all(Statement::from_sql_and_values(
                db.get_database_backend(),
                match db.get_database_backend() {
                    sea_orm::DbBackend::Postgres => {
                        "SELECT collector, recorded_at FROM metrics WHERE machine_id = $1"
                    }
                    _ => "SELECT collector, recorded_at FROM metrics WHERE machine_id = ?",
                },
                [id.into()],
            ))
            .await
            .map_err(|e| e.to_string())?;
        for row in rows {
            let collector: String = row.try_get("", "collector").map_err(|e| e.to_string())?;
            let at: DateTime<Utc> = row.try_get("", "recorded_at").map_err(|e| e.to_string())?;
            stored.insert((machine.to_owned(), collector, at.timestamp_millis()));
        }
    }
    let acked_keys: HashSet<(String, String, i64)> = acked
        .iter()
        .map(|(m, c, at)| (m.clone(), (*c).to_owned(), at.timestamp_millis()))
        .collect();
    let lost = acked_keys.difference(&stored).count();
    // Samples stored but not acknowledged (an answer lost in flight) are
    // legitimate; a retry of them would be a no-op.
    let extra = stored.difference(&acked_keys).count();
    Ok((stored.len(), lost, extra))
}

fn millis(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

/// Where the report goes, line by line: stdout for the binary, a buffer or
/// a channel for a harness running the simulator in-process.
pub type Output = Arc<dyn Fn(&str) + Send + Sync>;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    /// Refused enrolments, heartbeats and samples, and samples lost.
    pub failed: usize,
}

/// Runs the simulation and writes its report to `out`; `Err` when it
/// could not start (an unreadable CA file).
pub async fn run(args: Args, out: Output) -> Result<Report, String> {
    let ca_pem = std::fs::read(&args.ca).map_err(|e| format!("cannot read {}: {e}", args.ca.display()))?;
    let ca = reqwest::Certificate::from_pem(&ca_pem)
        .map_err(|_| format!("{} is not a PEM certificate", args.ca.display()))?;
    let shared = Arc::new(Shared {
        out: out.clone(),
        enrol_gate: Semaphore::new(args.enrol_concurrency.max(1)),
        args: args.clone(),
        ca,
        stats: Mutex::new(Stats::default()),
        heartbeat_latency: Mutex::new(Histogram::new(3).expect("histogram")),
        collect_latency: Mutex::new(Histogram::new(3).expect("histogram")),
    });
    let barrier = Arc::new(tokio::sync::Barrier::new(args.machines));
    let tasks: Vec<_> = (0..args.machines)
        .map(|n| tokio::spawn(run_machine(shared.clone(), n, barrier.clone())))
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    let s = std::mem::take(&mut *shared.stats.lock().unwrap());
    let hb = shared.heartbeat_latency.lock().unwrap().clone();
    out(&format!(
        "machines enrolled: {}/{} ({} refused)",
        s.enrolled, args.machines, s.enrol_errors
    ));
    out(&format!(
        "heartbeats: {} ok, {} failed; latency p50 {:.2} ms, p99 {:.2} ms",
        s.heartbeats,
        s.heartbeat_errors,
        millis(&hb, 0.5),
        millis(&hb, 0.99)
    ));
    let mut failed = s.enrol_errors + s.heartbeat_errors;
    if args.duration_secs > 0 {
        let cl = shared.collect_latency.lock().unwrap().clone();
        out(&format!(
            "collect: {} ok, {} failed, {} retried over {} s ({:.0}/s); latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            s.collects,
            s.collect_errors,
            s.retried,
            args.duration_secs,
            s.collects as f64 / args.duration_secs as f64,
            millis(&cl, 0.5),
            millis(&cl, 0.99),
            cl.max() as f64 / 1000.0
        ));
        failed += s.collect_errors;
    }
    if let Some(url) = &args.verify_db {
        match verify(url, &s.acked).await {
            Ok((stored, lost, extra)) => {
                out(&format!(
                    "verify: {} acknowledged, {stored} stored, {lost} lost, {extra} stored without acknowledgement",
                    s.acked.len()
                ));
                failed += lost;
            }
            Err(e) => {
                eprintln!("agent-sim: verification failed: {e}");
                failed += 1;
            }
        }
    }
    Ok(Report { failed })
}

#[cfg(test)]
mod tests {
    use super::Args;
    use clap::Parser;

    #[test]
    fn a_token_starting_with_a_dash_is_a_value_not_a_flag() {
        let args = Args::try_parse_from(["agent-sim", "--ca", "ca.crt", "--token", "-AbC_d="]).unwrap();
        assert_eq!(args.token, "-AbC_d=");
    }
}

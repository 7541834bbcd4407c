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
    /// Before the live phase, post this many days of history (metrics and
    /// storage, `collected_at` in the past; the gateway keeps up to 365).
    #[arg(long, default_value_t = 0)]
    pub backfill_days: u32,
    /// Seconds between two backfilled samples.
    #[arg(long, default_value_t = 600)]
    pub backfill_step_secs: u64,
    /// A few isolated CPU and RAM spikes (95 % and more) in the series.
    #[arg(long)]
    pub inject_anomalies: bool,
    /// The "/" disk fills linearly by this many points a day, from 40 %
    /// at the start of the backfill (or of the run), in backfill and live.
    #[arg(long, default_value_t = 0.0)]
    pub disk_fill_percent_per_day: f64,
    /// A burst of ERROR/CRITICAL events with one source and id, posted once
    /// per machine by the security collector, in the ten minutes before
    /// the last injected spike (or before now).
    #[arg(long)]
    pub event_storm: bool,
}

/// The problems a run plants in its machines' series, fixed at start so
/// the backfill and the live phase tell one story.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Where the series starts: the backfill's first sample, or now.
    pub origin: DateTime<Utc>,
    /// Backfilled samples (0: none).
    pub steps: u64,
    pub step: chrono::Duration,
    pub inject_anomalies: bool,
    pub disk_fill_percent_per_day: f64,
}

/// What an injected spike raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spike {
    Cpu,
    Ram,
    Both,
}

/// Size of the simulated "/" disk.
pub const ROOT_DISK_GB: f64 = 100.0;
/// Events in an `--event-storm` burst.
pub const STORM_EVENTS: usize = 30;
/// Source and id of the storm's events.
pub const STORM_SOURCE: &str = "disk";
pub const STORM_EVENT_ID: i64 = 153;

impl Scenario {
    pub fn new(args: &Args, now: DateTime<Utc>) -> Self {
        let step = chrono::Duration::seconds(args.backfill_step_secs.max(1) as i64);
        let steps = if args.backfill_days == 0 {
            0
        } else {
            u64::from(args.backfill_days) * 86_400 / args.backfill_step_secs.max(1)
        };
        Self {
            origin: now - step * steps as i32,
            steps,
            step,
            inject_anomalies: args.inject_anomalies,
            disk_fill_percent_per_day: args.disk_fill_percent_per_day,
        }
    }

    /// The time of backfilled sample `i` (0 is the oldest).
    pub fn backfill_at(&self, i: u64) -> DateTime<Utc> {
        self.origin + self.step * i as i32
    }

    /// Spikes sit at a quarter, half, three quarters and nine tenths of the
    /// backfill, one sample each, so each stands alone; without a backfill,
    /// live metrics samples 30, 90, 150, … spike in turn.
    pub fn spike(&self, backfill_index: Option<u64>, live_metrics_index: u64) -> Option<Spike> {
        if !self.inject_anomalies {
            return None;
        }
        match backfill_index {
            Some(i) => {
                let at = |num: u64, den: u64| self.steps * num / den;
                if i == at(1, 4) || i == at(3, 4) {
                    Some(Spike::Cpu)
                } else if i == at(1, 2) {
                    Some(Spike::Ram)
                } else if i == at(9, 10) {
                    Some(Spike::Both)
                } else {
                    None
                }
            }
            None if self.steps == 0 && live_metrics_index % 60 == 30 => {
                Some([Spike::Cpu, Spike::Ram, Spike::Both][(live_metrics_index / 60 % 3) as usize])
            }
            None => None,
        }
    }

    /// When the storm ends: the last backfilled spike, or `now`.
    pub fn storm_end(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        if self.inject_anomalies && self.steps > 0 {
            self.backfill_at(self.steps * 9 / 10)
        } else {
            now
        }
    }

    /// Used space of "/" at `at` when the disk fills, `None` otherwise.
    pub fn root_used_gb(&self, at: DateTime<Utc>) -> Option<f64> {
        (self.disk_fill_percent_per_day > 0.0).then(|| {
            let days = (at - self.origin).num_milliseconds() as f64 / 86_400_000.0;
            let percent = (40.0 + self.disk_fill_percent_per_day * days).clamp(0.0, 100.0);
            ROOT_DISK_GB * percent / 100.0
        })
    }
}

/// The storm's events, every 20 s over the ten minutes before `end`.
pub fn storm_events(end: DateTime<Utc>) -> Vec<Value> {
    (0..STORM_EVENTS)
        .map(|i| {
            let at = end - chrono::Duration::seconds(20 * (STORM_EVENTS - i) as i64);
            json!({
                "log_name": "System", "source": STORM_SOURCE, "event_id": STORM_EVENT_ID,
                "level": if i % 3 == 0 { "critical" } else { "error" },
                "message": format!("The IO operation at logical block address {:#x} for Disk 0 was retried.", 0x1000 + i * 8),
                "recorded_at": at.trunc_subsecs(3)
            })
        })
        .collect()
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
    /// Samples posted by the backfill, storm included.
    backfilled: usize,
    backfill_errors: usize,
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
    scenario: Scenario,
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

/// One collector sample. `spike` raises CPU and/or RAM to 95 % and more;
/// `root_used_gb` replaces the "/" disk's usage when it fills.
pub fn payload(
    collector: &str,
    n: usize,
    tick: u64,
    spike: Option<Spike>,
    root_used_gb: Option<f64>,
) -> Value {
    let wave = ((tick as f64 + n as f64) / 7.0).sin();
    match collector {
        "metrics" => {
            let cpu = match spike {
                Some(Spike::Cpu | Spike::Both) => 97.5 + wave,
                _ => (35.0 + 30.0 * wave).clamp(0.0, 100.0),
            };
            let ram = match spike {
                Some(Spike::Ram | Spike::Both) => 96.5 + wave,
                _ => (55.0 + 10.0 * wave).clamp(0.0, 100.0),
            };
            let (disk_latency_ms, io_wait_percent) = disk_io(n, tick, wave);
            json!({
                "cpu_percent": cpu,
                "ram_percent": ram,
                "uptime_seconds": 86_400 + tick * 10,
                "cpu_temp": 45.0 + 5.0 * wave,
                "ram_used_bytes": 8_589_934_592_u64, "ram_total_bytes": 17_179_869_184_u64,
                "disk_latency_ms": disk_latency_ms, "io_wait_percent": io_wait_percent
            })
        }
        "network" => json!({
            "bytes_recv": 1_000_000 + tick * 1000, "bytes_sent": 250_000 + tick * 100,
            "packet_loss": 0.1, "latency_ms": 8.0 + wave,
            "interfaces": [{ "name": "eth0", "mac": "02:00:00:00:00:01", "ips": ["10.0.0.1"], "is_up": true }]
        }),
        "storage" => json!({ "disks": [
            { "mount_point": "/", "device": "/dev/sda1", "fs_type": "ext4", "total_gb": ROOT_DISK_GB, "used_gb": root_used_gb.unwrap_or(40.0 + wave), "interface": "SATA" },
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

/// Disk latency (ms) and IO wait (%): low, with a latency spike over
/// 50 ms every 37th sample and an IO wait over 15 % every 53rd, so the
/// intermittency analysis has something periodic to find.
pub fn disk_io(n: usize, tick: u64, wave: f64) -> (f64, f64) {
    let phase = tick + n as u64;
    let latency = if phase.is_multiple_of(37) {
        120.0 + 60.0 * wave.abs()
    } else {
        5.0 + 3.0 * wave
    };
    let io_wait = if phase.is_multiple_of(53) {
        25.0 + 8.0 * wave.abs()
    } else {
        2.5 + 1.5 * wave
    };
    (latency, io_wait)
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
        // 429: a backfill posts faster than a real agent and meets the
        // per-machine budget; the gateway says when to come back.
        if matches!(status.as_u16(), 429 | 503) && attempt + 1 < ATTEMPTS {
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
    backfill(&shared, &agent, n, &machine_id, &hostname).await;
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
    let mut metrics_sent = 0u64;
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
        let spike = if collector == "metrics" {
            metrics_sent += 1;
            shared.scenario.spike(None, metrics_sent)
        } else {
            None
        };
        let data = payload(collector, n, tick, spike, shared.scenario.root_used_gb(at));
        let body = json!({ "collector": collector, "collected_at": at, "data": data });
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

/// The history before the live phase: metrics (and storage, unless
/// `--metrics-only`) every backfill step from the scenario's origin, then
/// the event storm.
async fn backfill(shared: &Shared, agent: &reqwest::Client, n: usize, machine_id: &str, hostname: &str) {
    let scenario = &shared.scenario;
    let mut posted = 0;
    let mut failed = 0;
    for i in 0..scenario.steps {
        let at = scenario.backfill_at(i).trunc_subsecs(3);
        let mut collectors = vec!["metrics"];
        if !shared.args.metrics_only {
            collectors.push("storage");
        }
        for collector in collectors {
            let spike = scenario.spike(Some(i), 0);
            let data = payload(collector, n, i, spike, scenario.root_used_gb(at));
            let body = json!({ "collector": collector, "collected_at": at, "data": data });
            match post_sample(shared, agent, &body).await {
                Ok(()) => {
                    posted += 1;
                    if collector == "metrics" {
                        shared
                            .stats
                            .lock()
                            .unwrap()
                            .acked
                            .push((machine_id.to_owned(), "metrics", at));
                    }
                }
                Err(e) => {
                    eprintln!("{hostname}: backfilled {collector} refused: {e}");
                    failed += 1;
                }
            }
        }
    }
    if shared.args.event_storm {
        let now = Utc::now();
        let mut data = payload("security", n, 0, None, None);
        data["event_logs"] = Value::Array(storm_events(scenario.storm_end(now)));
        let body = json!({ "collector": "security", "collected_at": now.trunc_subsecs(3), "data": data });
        match post_sample(shared, agent, &body).await {
            Ok(()) => posted += 1,
            Err(e) => {
                eprintln!("{hostname}: event storm refused: {e}");
                failed += 1;
            }
        }
    }
    let mut stats = shared.stats.lock().unwrap();
    stats.backfilled += posted;
    stats.backfill_errors += failed;
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
        scenario: Scenario::new(&args, Utc::now()),
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
    if args.backfill_days > 0 || args.event_storm {
        out(&format!(
            "backfill: {} samples over {} day(s), {} refused",
            s.backfilled, args.backfill_days, s.backfill_errors
        ));
        failed += s.backfill_errors;
    }
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
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> Args {
        let base = ["agent-sim", "--ca", "ca.crt", "--token", "t"];
        Args::try_parse_from(base.iter().chain(extra)).unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2027-03-15T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn by_default_no_problem_is_planted() {
        let a = args(&[]);
        assert_eq!((a.backfill_days, a.backfill_step_secs), (0, 600));
        let s = Scenario::new(&a, now());
        assert_eq!(s.steps, 0);
        assert_eq!(s.origin, now());
        assert!((0..500).all(|i| s.spike(None, i).is_none()));
        assert_eq!(s.root_used_gb(now()), None);
        let disk = &payload("storage", 3, 5, None, None)["disks"][0];
        assert!((disk["used_gb"].as_f64().unwrap() - 40.0).abs() <= 1.0);
    }

    #[test]
    fn injected_spikes_are_isolated_and_above_95() {
        let s = Scenario::new(&args(&["--backfill-days", "2", "--inject-anomalies"]), now());
        assert_eq!(s.steps, 288);
        assert_eq!(s.origin, now() - chrono::Duration::days(2));
        let series: Vec<(f64, f64)> = (0..s.steps)
            .map(|i| {
                let m = payload("metrics", 0, i, s.spike(Some(i), 0), None);
                (
                    m["cpu_percent"].as_f64().unwrap(),
                    m["ram_percent"].as_f64().unwrap(),
                )
            })
            .collect();
        let cpu: Vec<usize> = (0..series.len()).filter(|i| series[*i].0 >= 95.0).collect();
        let ram: Vec<usize> = (0..series.len()).filter(|i| series[*i].1 >= 95.0).collect();
        assert_eq!(cpu, vec![72, 216, 259]);
        assert_eq!(ram, vec![144, 259]);
        for i in cpu.iter().chain(&ram) {
            assert!(series[i - 1].0 < 70.0 && series[i + 1].0 < 70.0, "isolated");
            assert!(series[i - 1].1 < 70.0 && series[i + 1].1 < 70.0, "isolated");
        }
        // Live, without a backfill: one spike every 60 metrics samples.
        let live = Scenario::new(&args(&["--inject-anomalies"]), now());
        let spikes: Vec<u64> = (0..200).filter(|i| live.spike(None, *i).is_some()).collect();
        assert_eq!(spikes, vec![30, 90, 150]);
    }

    #[test]
    fn the_root_disk_fills_linearly() {
        let s = Scenario::new(
            &args(&["--backfill-days", "30", "--disk-fill-percent-per-day", "1.5"]),
            now(),
        );
        let used = |at: DateTime<Utc>| s.root_used_gb(at).unwrap();
        assert!((used(s.origin) - 40.0).abs() < 1e-9);
        assert!((used(s.origin + chrono::Duration::days(10)) - 55.0).abs() < 1e-9);
        assert!((used(now()) - 85.0).abs() < 1e-9, "40 % + 30 days × 1.5");
        assert_eq!(
            used(now() + chrono::Duration::days(20)),
            ROOT_DISK_GB,
            "never past full"
        );
        let disk = &payload("storage", 0, 0, None, Some(used(now())))["disks"][0];
        assert_eq!(disk["used_gb"], 85.0);
        assert_eq!(disk["mount_point"], "/");
    }

    #[test]
    fn the_event_storm_repeats_one_error_before_the_last_spike() {
        let s = Scenario::new(&args(&["--backfill-days", "2", "--inject-anomalies"]), now());
        let end = s.storm_end(now());
        assert_eq!(end, s.backfill_at(259));
        let events = storm_events(end);
        assert_eq!(events.len(), STORM_EVENTS);
        for e in &events {
            assert_eq!(e["source"], STORM_SOURCE);
            assert_eq!(e["event_id"], STORM_EVENT_ID);
            assert!(e["level"] == "error" || e["level"] == "critical");
            let at: DateTime<Utc> = serde_json::from_value(e["recorded_at"].clone()).unwrap();
            assert!(at < end && at >= end - chrono::Duration::minutes(10));
        }
        assert!(events.iter().any(|e| e["level"] == "critical"));
        // Without spikes, it ends now.
        let plain = Scenario::new(&args(&["--event-storm"]), now());
        assert_eq!(plain.storm_end(now()), now());
    }

    #[test]
    fn disk_latency_and_io_wait_spike_now_and_then() {
        let samples: Vec<(f64, f64)> = (0..400)
            .map(|tick| {
                let m = payload("metrics", 1, tick, None, None);
                (
                    m["disk_latency_ms"].as_f64().unwrap(),
                    m["io_wait_percent"].as_f64().unwrap(),
                )
            })
            .collect();
        let latency_spikes = samples.iter().filter(|s| s.0 > 50.0).count();
        let io_spikes = samples.iter().filter(|s| s.1 > 15.0).count();
        assert!((10..=12).contains(&latency_spikes), "{latency_spikes}");
        assert!((7..=8).contains(&io_spikes), "{io_spikes}");
        assert!(samples.iter().all(|s| s.0 >= 0.0 && s.1 >= 0.0 && s.1 <= 100.0));
        assert!(samples.iter().filter(|s| s.0 <= 50.0).all(|s| s.0 <= 8.0));
    }

    #[test]
    fn a_token_starting_with_a_dash_is_a_value_not_a_flag() {
        let args = Args::try_parse_from(["agent-sim", "--ca", "ca.crt", "--token", "-AbC_d="]).unwrap();
        assert_eq!(args.token, "-AbC_d=");
    }
}

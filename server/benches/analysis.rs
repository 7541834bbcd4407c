//! Analysis cost (issue 15), each figure against a baseline measured in the
//! same run:
//! - the statistical engine's `full` findings for one machine holding 30
//!   days of data as production keeps it (raw samples every 10 s for the
//!   7-day raw window, hourly rollups of CPU/RAM and disks for 30 days,
//!   storage samples every 5 min, a month of event logs with errors):
//!   p50/p95 over `BENCH_RUNS` runs and SQL statements, against the one
//!   indexed SELECT of the machine's raw week the loader itself makes;
//! - the whole `Analyses::run` of `full` (protections, quota, engine,
//!   template narrator, stored result): same figures, the previous result
//!   deleted between runs so the cooldown does not refuse it;
//! - statements of the same `full` run on a machine with an hour of data,
//!   to show the count does not grow with the data;
//! - a `daily_health_score` routine over 1,000 machines (an hour of raw
//!   samples each and a few events): one scheduler tick, its wall time and
//!   statements per machine.
//!
//! Data is inserted directly in batches. Background jobs are not started:
//! their statements would share the process-wide counter.
//!
//! Run: cargo bench -p optralis --bench analysis   (BENCH_RUNS=30;
//! BENCH_FLEET=1000 machines; BENCH_DATABASE_URL=postgres://… runs on a
//! fresh PostgreSQL database created and dropped by the bench)

use chrono::{DateTime, Duration as Days, DurationRound, Utc};
use entities::{
    ai_analysis_results, ai_routine_history, ai_routines, clients, disk_hourly, disk_info, enums, event_logs,
    machines, metrics, metrics_hourly,
};
use optralis::{
    app::AppState,
    config::Config,
    domain::analysis::{
        engine::Engine,
        service::{Origin, RunRequest},
        AnalysisKind,
    },
    infra::db::Database,
    jobs,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use std::{collections::HashMap, future::Future, time::Instant};
use uuid::Uuid;

mod support;
use support::{PgDatabase, EMAIL, PASSWORD};

/// Rows per INSERT: under SQLite's 32 766 bound variables with metrics'
/// 16 columns.
const CHUNK: usize = 1_000;

/// A deterministic noise source in [-0.5, 0.5).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }
}

fn tenant(name: &str) -> clients::ActiveModel {
    let now = Utc::now();
    clients::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(name.into()),
        license_id: Set(Uuid::new_v4()),
        license_type: Set("enterprise".into()),
        license_status: Set(enums::LicenceStatus::Active),
        license_expires_at: Set(None),
        max_machines: Set(None),
        // Every run of the bench fits in the month's quota.
        ai_monthly_limit: Set(Some(1_000_000)),
        language: Set(enums::Language::En),
        created_at: Set(now - Days::days(60)),
        updated_at: Set(now),
    }
}

fn machine(client_id: Uuid, i: usize) -> machines::ActiveModel {
    let now = Utc::now();
    let id = Uuid::now_v7();
    machines::ActiveModel {
        id: Set(id),
        client_id: Set(client_id),
        group_id: Set(None),
        site_id: Set(None),
        hostname: Set(format!("host-{i:05}")),
        hardware_id: Set(Some(format!("HW-{id}"))),
        os: Set(if i.is_multiple_of(2) { "linux" } else { "windows" }.into()),
        os_version: Set("12".into()),
        arch: Set(Some("amd64".into())),
        ip: Set("10.0.0.1".into()),
        agent_version: Set("2.1.0".into()),
        last_seen: Set(Some(now)),
        health_score: Set(90),
        is_os_compliant: Set(true),
        cert_serial: Set(None),
        cert_issued_at: Set(None),
        cert_expires_at: Set(None),
        cert_revoked_at: Set(None),
        offline_notified_at: Set(None),
        last_config_sync: Set(None),
        update_channel: Set(enums::UpdateChannel::Stable),
        maintenance_mode: Set(false),
        maintenance_until: Set(None),
        maintenance_reason: Set(None),
        renewal_requested_at: Set(None),
        force_collect_requested_at: Set(None),
        reenrolment_allowed_until: Set(None),
        created_at: Set(now - Days::days(45)),
        updated_at: Set(now),
    }
}

/// CPU of a machine with a daily rhythm, noise and a spike every ~6 hours.
fn cpu_at(at: DateTime<Utc>, noise: &mut Noise) -> f64 {
    let day = (at.timestamp() % 86_400) as f64 / 86_400.0;
    let spike = if at.timestamp() % 21_600 < 60 { 45.0 } else { 0.0 };
    (30.0 + 15.0 * (day * std::f64::consts::TAU).sin() + 8.0 * noise.next() + spike).clamp(0.0, 100.0)
}

/// RAM slowly climbing over the month (a leak the trends should see).
fn ram_at(at: DateTime<Utc>, now: DateTime<Utc>, noise: &mut Noise) -> f64 {
    let age_days = (now - at).num_seconds() as f64 / 86_400.0;
    (70.0 - 0.5 * age_days + 3.0 * noise.next()).clamp(0.0, 100.0)
}

fn sample(
    client: Uuid,
    machine: Uuid,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    n: &mut Noise,
) -> metrics::ActiveModel {
    metrics::ActiveModel {
        machine_id: Set(machine),
        collector: Set("metrics".into()),
        recorded_at: Set(at),
        client_id: Set(client),
        cpu_percent: Set(Some(cpu_at(at, n))),
        ram_percent: Set(Some(ram_at(at, now, n))),
        ram_used_bytes: Set(Some(11_000_000_000)),
        ram_total_bytes: Set(Some(16_000_000_000)),
        uptime_seconds: Set(Some(100_000)),
        cpu_temp: Set(Some(45.0 + 5.0 * n.next())),
        bytes_recv: Set(None),
        bytes_sent: Set(None),
        packet_loss: Set(None),
        latency_ms: Set(None),
        disk_latency_ms: Set(Some(4.0 + 2.0 * n.next())),
        io_wait_percent: Set(Some(2.0 + n.next())),
    }
}

/// Raw samples every `every` seconds over `span`, ending at `now`.
async fn seed_raw(
    db: &Database,
    client: Uuid,
    machine: Uuid,
    now: DateTime<Utc>,
    span: Days,
    every: i64,
) -> usize {
    let mut noise = Noise(machine.as_u128() as u64);
    let count = (span.num_seconds() / every) as usize;
    let rows: Vec<_> = (0..count)
        .map(|k| {
            sample(
                client,
                machine,
                now - Days::seconds(every * k as i64),
                now,
                &mut noise,
            )
        })
        .collect();
    for chunk in rows.chunks(CHUNK) {
        metrics::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&db.conn)
            .await
            .unwrap();
    }
    count
}

/// Event logs over `span`: one every `every` seconds, mostly information,
/// one in ten a warning, one in thirty an error, a few critical.
async fn seed_events(
    db: &Database,
    client: Uuid,
    machine: Uuid,
    now: DateTime<Utc>,
    span: Days,
    every: i64,
) -> usize {
    let count = (span.num_seconds() / every) as usize;
    let rows: Vec<_> = (0..count)
        .map(|k| {
            let (level, source, id) = match k % 300 {
                0 => ("critical", "Kernel-Power", 41),
                k if k % 30 == 1 => ("error", "Service Control Manager", 7031),
                k if k % 30 == 2 => ("error", "disk", 153),
                k if k % 10 == 3 => ("warning", "Time-Service", 129),
                _ => ("information", "EventLog", 6013),
            };
            event_logs::ActiveModel {
                machine_id: Set(machine),
                recorded_at: Set(now - Days::seconds(every * k as i64)),
                log_name: Set("System".into()),
                source: Set(source.into()),
                event_id: Set(id),
                client_id: Set(client),
                level: Set(level.into()),
                message: Set(format!("{source} reported event {id}")),
            }
        })
        .collect();
    for chunk in rows.chunks(CHUNK) {
        event_logs::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&db.conn)
            .await
            .unwrap();
    }
    count
}

/// 30 days as production holds them for the analysed machine.
async fn seed_month(db: &Database, client: Uuid, machine: Uuid, now: DateTime<Utc>) -> String {
    let raw = seed_raw(db, client, machine, now, Days::days(7), 10).await;
    let hour = now.duration_trunc(Days::hours(1)).unwrap();
    let mut noise = Noise(7);
    let hours: Vec<_> = (1..=720)
        .map(|k| {
            let at = hour - Days::hours(k);
            let cpu = cpu_at(at, &mut noise);
            let ram = ram_at(at, now, &mut noise);
            metrics_hourly::ActiveModel {
                machine_id: Set(machine),
                bucket: Set(at),
                client_id: Set(client),
                cpu_avg: Set(Some(cpu)),
                cpu_min: Set(Some(cpu - 10.0)),
                cpu_max: Set(Some(cpu + 20.0)),
                ram_avg: Set(Some(ram)),
                ram_min: Set(Some(ram - 2.0)),
                ram_max: Set(Some(ram + 2.0)),
                cpu_temp_avg: Set(Some(45.0)),
                cpu_temp_min: Set(Some(40.0)),
                cpu_temp_max: Set(Some(55.0)),
                samples: Set(360),
            }
        })
        .collect();
    metrics_hourly::Entity::insert_many(hours)
        .exec_without_returning(&db.conn)
        .await
        .unwrap();
    // Two volumes; the data volume fills by a point every two days.
    let volumes = [("/", 100.0, 40.0, 0.0), ("/data", 500.0, 60.0, 0.5)];
    let disk_hours: Vec<_> = volumes
        .iter()
        .flat_map(|(mount, _, base, per_day)| {
            (1..=720).map(move |k| {
                let used = base - per_day * k as f64 / 24.0;
                disk_hourly::ActiveModel {
                    machine_id: Set(machine),
                    mount_point: Set((*mount).into()),
                    bucket: Set(hour - Days::hours(k)),
                    client_id: Set(client),
                    disk_usage_avg: Set(Some(used)),
                    disk_usage_max: Set(Some(used + 0.1)),
                    samples: Set(12),
                }
            })
        })
        .collect();
    for chunk in disk_hours.chunks(CHUNK) {
        disk_hourly::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&db.conn)
            .await
            .unwrap();
    }
    let disks: Vec<_> = volumes
        .iter()
        .flat_map(|(mount, total, base, per_day)| {
            (0..7 * 288).map(move |k| {
                let used = base - per_day * k as f64 / 288.0;
                disk_info::ActiveModel {
                    machine_id: Set(machine),
                    mount_point: Set((*mount).into()),
                    recorded_at: Set(now - Days::seconds(300 * k)),
                    client_id: Set(client),
                    device: Set("/dev/sda1".into()),
                    fs_type: Set("ext4".into()),
                    total_gb: Set(*total),
                    used_gb: Set(total * used / 100.0),
                    used_percent: Set(used),
                    model: Set(None),
                    interface: Set(None),
                }
            })
        })
        .collect();
    let disk_rows = disks.len();
    for chunk in disks.chunks(CHUNK) {
        disk_info::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&db.conn)
            .await
            .unwrap();
    }
    let events = seed_events(db, client, machine, now, Days::days(30), 600).await;
    format!(
        "{raw} raw samples (7 days at 10 s), 720 hourly rollups, {} disk rollups and {disk_rows} storage samples (2 volumes), {events} events (30 days)",
        2 * 720
    )
}

/// p50 and p95 of `runs` timings of `f`, in ms; `between` runs untimed
/// before each.
async fn timings<F, Fut, B, BFut>(runs: usize, mut between: B, mut f: F) -> (f64, f64)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
    B: FnMut() -> BFut,
    BFut: Future<Output = ()>,
{
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        between().await;
        let started = Instant::now();
        f().await;
        ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.95))
}

/// Statements `f` ran (nothing else runs in the process meanwhile).
async fn statements<Fut: Future<Output = ()>>(db: &Database, f: Fut) -> u64 {
    let before = db.statements();
    f.await;
    db.statements() - before
}

/// The loader's own raw-week read (by machine alone, as the loader reads
/// once the machine is the tenant's): the cheapest query an analysis of
/// the machine cannot do without.
async fn raw_week(db: &Database, machine: Uuid, now: DateTime<Utc>) -> usize {
    metrics::Entity::find()
        .select_only()
        .columns([
            metrics::Column::RecordedAt,
            metrics::Column::CpuPercent,
            metrics::Column::RamPercent,
            metrics::Column::DiskLatencyMs,
            metrics::Column::IoWaitPercent,
        ])
        .filter(metrics::Column::MachineId.eq(machine))
        .filter(metrics::Column::Collector.eq("metrics"))
        .filter(metrics::Column::RecordedAt.gte(now - Days::days(7)))
        .filter(metrics::Column::RecordedAt.lte(now))
        .order_by_desc(metrics::Column::RecordedAt)
        .limit(20_160)
        .into_tuple::<(DateTime<Utc>, Option<f64>, Option<f64>, Option<f64>, Option<f64>)>()
        .all(&db.conn)
        .await
        .unwrap()
        .len()
}

async fn forget_analyses(db: &Database, machine: Uuid) {
    ai_analysis_results::Entity::delete_many()
        .filter(ai_analysis_results::Column::MachineId.eq(machine))
        .exec(&db.conn)
        .await
        .unwrap();
}

fn full(client_id: Uuid, machine_id: Uuid) -> RunRequest {
    RunRequest {
        client_id,
        machine_id,
        kind: AnalysisKind::Full,
        language: None,
        origin: Origin::Manual { user_id: None },
    }
}

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let fleet: usize = std::env::var("BENCH_FLEET")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000);
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
        let dir = tempfile::tempdir().unwrap();
        let mut vars: HashMap<String, String> = [
            ("OPTRALIS_DATA_DIR", dir.path().display().to_string()),
            ("DEFAULT_ADMIN_EMAIL", EMAIL.into()),
            ("DEFAULT_ADMIN_PASSWORD", PASSWORD.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some((_, url)) = &pg {
            vars.insert("DATABASE_URL".into(), url.clone());
        }
        let (state, _workers) = AppState::build(Config::from_vars(&vars).unwrap()).await.unwrap();
        let services = state.services.clone();
        let db = services.infra.db.clone();
        let backend = db.backend.as_str();
        println!(
            "analysis benchmark ({backend}, {} cores, {runs} runs per measure, routine over {fleet} machines)",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );

        let now = Utc::now();
        let started = Instant::now();
        let (one, many) = (tenant("Analysed"), tenant("Fleet"));
        let (client, fleet_client) = (*one.id.as_ref(), *many.id.as_ref());
        clients::Entity::insert_many([one, many]).exec(&db.conn).await.unwrap();
        let (big, small) = (machine(client, 0), machine(client, 1));
        let (big_id, small_id) = (*big.id.as_ref(), *small.id.as_ref());
        machines::Entity::insert_many([big, small]).exec(&db.conn).await.unwrap();
        let seeded = seed_month(&db, client, big_id, now).await;
        seed_raw(&db, client, small_id, now, Days::hours(1), 10).await;
        println!("seeded one machine with {seeded} in {:.1} s", started.elapsed().as_secs_f64());

        // Baseline: the raw week, one indexed SELECT.
        let rows = raw_week(&db, big_id, now).await;
        let base_statements = statements(&db, async {
            raw_week(&db, big_id, now).await;
        })
        .await;
        let (b50, b95) = timings(runs, || async {}, || async {
            raw_week(&db, big_id, now).await;
        })
        .await;
        println!("  baseline, the raw-week SELECT ({rows} rows): {base_statements} statement, p50 {b50:.2} ms, p95 {b95:.2} ms");

        let engine = Engine::new(db.clone(), services.infra.clock.clone());
        let findings = engine
            .findings(client, big_id, AnalysisKind::Full, enums::Language::En)
            .await
            .unwrap();
        let engine_statements = statements(&db, async {
            engine
                .findings(client, big_id, AnalysisKind::Full, enums::Language::En)
                .await
                .unwrap();
        })
        .await;
        let (e50, e95) = timings(runs, || async {}, || async {
            engine
                .findings(client, big_id, AnalysisKind::Full, enums::Language::En)
                .await
                .unwrap();
        })
        .await;
        println!(
            "  Engine::findings(full): {engine_statements} statements, p50 {e50:.2} ms = {:.1}x baseline, p95 {e95:.2} ms = {:.1}x baseline ({} issues, {} anomalies)",
            e50 / b50,
            e95 / b95,
            findings.issues.len(),
            findings.anomalies.as_ref().map_or(0, |a| a.len()),
        );

        let analyses = &services.analyses;
        forget_analyses(&db, big_id).await;
        let run_statements = statements(&db, async {
            analyses.run(full(client, big_id)).await.unwrap();
        })
        .await;
        let (r50, r95) = timings(runs, || forget_analyses(&db, big_id), || async {
            analyses.run(full(client, big_id)).await.unwrap();
        })
        .await;
        println!(
            "  Analyses::run(full), 30 days: {run_statements} statements, p50 {r50:.2} ms = {:.1}x baseline, p95 {r95:.2} ms = {:.1}x baseline (goal < 200 ms)",
            r50 / b50,
            r95 / b95,
        );
        let small_statements = statements(&db, async {
            analyses.run(full(client, small_id)).await.unwrap();
        })
        .await;
        println!(
            "  Analyses::run(full), 1 hour of data: {small_statements} statements: {} (goal: constant in statements)",
            if small_statements == run_statements { "same count" } else { "count DIFFERS" }
        );

        // The fleet: an hour of raw samples and a few events per machine.
        let started = Instant::now();
        let ids: Vec<Uuid> = {
            let rows: Vec<_> = (0..fleet).map(|i| machine(fleet_client, i)).collect();
            let ids = rows.iter().map(|m| *m.id.as_ref()).collect();
            for chunk in rows.chunks(500) {
                machines::Entity::insert_many(chunk.to_vec()).exec(&db.conn).await.unwrap();
            }
            ids
        };
        let mut fleet_rows = 0;
        for id in &ids {
            fleet_rows += seed_raw(&db, fleet_client, *id, now, Days::hours(1), 10).await;
            fleet_rows += seed_events(&db, fleet_client, *id, now, Days::hours(1), 600).await;
        }
        let routine = Uuid::now_v7();
        ai_routines::Entity::insert(ai_routines::ActiveModel {
            id: Set(routine),
            client_id: Set(fleet_client),
            name: Set("Daily health".into()),
            routine_type: Set("daily_health_score".into()),
            schedule: Set("0 8 * * *".into()),
            timezone: Set(None),
            enabled: Set(true),
            config: Set(json!({ "machines": "all" })),
            last_run_at: Set(None),
            next_run_at: Set(Some(now - Days::minutes(1))),
            created_by: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec(&db.conn)
        .await
        .unwrap();
        println!(
            "seeded {fleet} machines with {fleet_rows} rows (an hour of raw samples and 6 events each) in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        // Baseline: what the routine cannot avoid, the raw read of every
        // machine, one SELECT each; timed on a sample of machines spread
        // over the fleet, as it costs as much as the routine itself.
        let sampled: Vec<Uuid> = ids.iter().step_by((fleet / 20).max(1)).copied().collect();
        let started = Instant::now();
        for id in &sampled {
            raw_week(&db, *id, now).await;
        }
        let fleet_base = started.elapsed().as_secs_f64() * fleet as f64 / sampled.len() as f64;
        let before = db.statements();
        let started = Instant::now();
        let pass = jobs::routines::tick(&services).await.unwrap();
        let tick = started.elapsed().as_secs_f64();
        let tick_statements = db.statements() - before;
        let history = ai_routine_history::Entity::find()
            .filter(ai_routine_history::Column::RoutineId.eq(routine))
            .one(&db.conn)
            .await
            .unwrap()
            .unwrap();
        let stored = ai_analysis_results::Entity::find()
            .filter(ai_analysis_results::Column::ClientId.eq(fleet_client))
            .count(&db.conn)
            .await
            .unwrap();
        println!(
            "  baseline, one raw SELECT per machine: {:.2} s for {fleet} machines ({:.2} ms each, timed on {} of them)",
            fleet_base,
            1e3 * fleet_base / fleet as f64,
            sampled.len()
        );
        println!(
            "  routine tick (daily_health_score, {fleet} machines): {} routine(s) ran, status {}, {} analysed, {stored} stored; {tick:.2} s = {:.1}x baseline ({:.2} ms per machine); {tick_statements} statements = {:.1} per machine",
            pass.ran.len(),
            history.status,
            history.machines_analyzed,
            tick / fleet_base,
            1e3 * tick / fleet as f64,
            tick_statements as f64 / fleet as f64,
        );

        drop(services);
        drop(state);
        if let Some((pg, _)) = pg {
            pg.drop_it().await;
        }
    });
}

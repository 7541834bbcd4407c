//! Collector ingestion over mTLS: storage per collector, idempotent
//! retries, refusals that keep nothing, group commit under concurrency.

use crate::helpers::{fleet, fleet_on, heartbeat_body, TestServer};
use chrono::{Duration, Utc};
use entities::{disk_info, event_logs, machine_collector_data, machine_inventory, metrics, smart_data};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

pub fn sample(collector: &str, at: chrono::DateTime<Utc>, data: Value) -> Value {
    json!({ "collector": collector, "collected_at": at.to_rfc3339(), "data": data })
}

pub fn metrics_sample(at: chrono::DateTime<Utc>, cpu: f64, ram: f64) -> Value {
    sample(
        "metrics",
        at,
        json!({ "cpu_percent": cpu, "ram_percent": ram, "uptime_seconds": 3600, "cpu_temp": 48.5 }),
    )
}

/// One payload per collector, as a Windows agent sends them.
pub fn all_collectors(at: chrono::DateTime<Utc>) -> Vec<Value> {
    vec![
        metrics_sample(at, 42.5, 61.0),
        sample(
            "storage",
            at,
            json!({ "disks": [
            { "mount_point": "C:\\", "device": "\\\\.\\PhysicalDrive0", "fs_type": "NTFS", "total_gb": 476.9, "used_gb": 238.45, "model": "Samsung SSD 980 PRO", "interface": "NVMe" },
            { "mount_point": "D:\\", "fs_type": "NTFS", "total_gb": 931.5, "used_gb": 93.15 }
        ] }),
        ),
        sample(
            "storage_health",
            at,
            json!({ "disks": [
            { "device": "C:", "model": "Samsung SSD 980 PRO", "serial": "S5P2NG0R", "smart_status": "healthy", "temperature": 41, "power_on_hours": 8123, "reallocated_sectors": 0, "predicted_failure": false },
            { "device": "D:", "model": "QEMU HARDDISK", "smart_status": "virtual", "is_virtual": true }
        ] }),
        ),
        sample(
            "network",
            at,
            json!({ "bytes_recv": 1_048_576, "bytes_sent": 524_288, "packet_loss": 0.5, "latency_ms": 12.3,
            "interfaces": [{ "name": "Ethernet", "mac": "00:11:22:33:44:55", "ips": ["10.0.0.7"], "is_up": true }] }),
        ),
        sample(
            "services",
            at,
            json!({ "services": [
            { "name": "wuauserv", "display_name": "Windows Update", "status": "running", "start_type": "manual" },
            { "name": "Spooler", "status": "stopped", "start_type": "auto" },
            { "name": "WinDefend", "status": "running", "start_type": "auto" }
        ] }),
        ),
        sample(
            "security",
            at,
            json!({
                "antivirus": { "name": "Windows Defender", "version": "4.18", "enabled": true, "up_to_date": true },
                "firewall_enabled": true, "bitlocker_enabled": false, "secure_boot_enabled": true,
                "open_ports": [{ "port": 3389, "protocol": "tcp", "process": "svchost.exe" }, { "port": 443 }],
                "event_logs": [{ "log_name": "System", "source": "Service Control Manager", "event_id": 7031, "level": "Error",
                    "message": "The Print Spooler service terminated unexpectedly.", "recorded_at": (at - Duration::minutes(3)).to_rfc3339() }]
            }),
        ),
        sample(
            "software",
            at,
            json!({
                "software": [{ "name": "7-Zip", "version": "23.01", "publisher": "Igor Pavlov" }, { "name": "Firefox", "version": "120.0" }],
                "users": [{ "username": "Administrator", "is_admin": true, "enabled": false }, { "username": "alice", "full_name": "Alice", "is_admin": false, "enabled": true }]
            }),
        ),
        sample(
            "patches",
            at,
            json!({
                "pending_updates": [
                    { "title": "2026-11 Cumulative Update", "kb": "KB5028997", "category": "Security", "size": "45.2 MB", "is_important": true },
                    { "title": "Defender definitions", "category": "Definition", "is_important": false }
                ],
                "reboot_required": true, "auto_update_enabled": true
            }),
        ),
    ]
}

async fn count<E: EntityTrait>(server: &TestServer, machine: Uuid, col: E::Column) -> u64
where
    E::Model: Sync,
{
    E::find()
        .filter(col.eq(machine))
        .count(&server.state.services.infra.db.conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn all_eight_collectors_are_stored_where_they_belong() {
    let server = TestServer::spawn().await;
    let (_, agents) = fleet(&server, &server.admin_token().await, "Collect", 1).await;
    let agent = &agents[0];
    let at = Utc::now() - Duration::seconds(5);
    for body in all_collectors(at) {
        let (status, answer) = agent.collect(body.clone()).await;
        assert_eq!(status, 200, "{body}: {answer}");
        assert_eq!(answer["status"], "ok");
    }
    let m = agent.machine_id;
    assert_eq!(
        count::<metrics::Entity>(&server, m, metrics::Column::MachineId).await,
        2,
        "metrics + network"
    );
    assert_eq!(
        count::<disk_info::Entity>(&server, m, disk_info::Column::MachineId).await,
        2
    );
    assert_eq!(
        count::<smart_data::Entity>(&server, m, smart_data::Column::MachineId).await,
        2
    );
    assert_eq!(
        count::<event_logs::Entity>(&server, m, event_logs::Column::MachineId).await,
        1
    );
    assert_eq!(
        count::<machine_collector_data::Entity>(&server, m, machine_collector_data::Column::MachineId).await,
        8,
        "one snapshot per collector"
    );
    let db = &server.state.services.infra.db.conn;
    let inv = machine_inventory::Entity::find_by_id(m)
        .one(db)
        .await
        .unwrap()
        .expect("inventory row");
    assert_eq!(inv.services_total, Some(3));
    assert_eq!(
        (inv.services_running, inv.services_failed),
        (Some(2), Some(1)),
        "auto + stopped = failed"
    );
    assert_eq!(inv.antivirus_name.as_deref(), Some("Windows Defender"));
    assert_eq!(
        (inv.ports_open, inv.ports_risky_open),
        (Some(2), Some(1)),
        "3389 is risky"
    );
    assert_eq!(
        (inv.software_count, inv.users_total, inv.users_admin),
        (Some(2), Some(2), Some(1))
    );
    assert_eq!((inv.pending_updates, inv.security_updates), (Some(2), Some(1)));
    assert_eq!(inv.reboot_required, Some(true));
    assert_eq!(inv.network_interfaces.unwrap()[0]["name"], "Ethernet");
    let disk = disk_info::Entity::find()
        .filter(disk_info::Column::MachineId.eq(m))
        .filter(disk_info::Column::MountPoint.eq("C:\\"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        (disk.used_percent - 50.0).abs() < 0.01,
        "computed from used/total: {}",
        disk.used_percent
    );
    let metrics_row = metrics::Entity::find()
        .filter(metrics::Column::MachineId.eq(m))
        .filter(metrics::Column::Collector.eq("metrics"))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (metrics_row.cpu_percent, metrics_row.ram_percent),
        (Some(42.5), Some(61.0))
    );
    assert_eq!(metrics_row.cpu_temp, Some(48.5));
}

#[tokio::test]
async fn a_retried_sample_is_stored_once_and_a_late_one_does_not_win_the_snapshot() {
    let server = TestServer::spawn().await;
    let (_, agents) = fleet(&server, &server.admin_token().await, "Retry", 1).await;
    let agent = &agents[0];
    let newer = Utc::now() - Duration::seconds(10);
    let older = newer - Duration::minutes(1);
    for _ in 0..3 {
        assert_eq!(agent.collect(metrics_sample(newer, 70.0, 40.0)).await.0, 200);
    }
    assert_eq!(agent.collect(metrics_sample(older, 10.0, 10.0)).await.0, 200);
    assert_eq!(
        count::<metrics::Entity>(&server, agent.machine_id, metrics::Column::MachineId).await,
        2,
        "three copies of one sample count once"
    );
    let snapshot = machine_collector_data::Entity::find_by_id((agent.machine_id, "metrics".to_owned()))
        .one(&server.state.services.infra.db.conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        snapshot.data["cpu_percent"], 70.0,
        "the late, older sample leaves the snapshot alone"
    );
}

#[tokio::test]
async fn bad_payloads_are_refused_whole_naming_the_field() {
    let server = TestServer::spawn().await;
    let (_, agents) = fleet(&server, &server.admin_token().await, "Refuse", 1).await;
    let agent = &agents[0];
    let now = Utc::now();
    let good_disk = json!({ "mount_point": "/", "total_gb": 100, "used_gb": 10 });
    let cases = [
        (sample("inventory", now, json!({})), "collector"),
        (
            sample(
                "metrics",
                now,
                json!({ "cpu_percent": "busy", "ram_percent": 1, "uptime_seconds": 1 }),
            ),
            "data.cpu_percent",
        ),
        (metrics_sample(now, 100.5, 10.0), "data.cpu_percent"),
        (metrics_sample(now, 10.0, -1.0), "data.ram_percent"),
        (
            sample("metrics", now, json!({ "cpu_percent": 1, "ram_percent": 1 })),
            "data",
        ),
        (
            metrics_sample(now + Duration::days(2), 10.0, 10.0),
            "collected_at",
        ),
        (
            sample(
                "storage",
                now,
                json!({ "disks": [good_disk, { "mount_point": "/data", "total_gb": 10, "used_gb": 20 }] }),
            ),
            "data.disks[1].used_gb",
        ),
        (
            sample(
                "storage_health",
                now,
                json!({ "disks": [{ "device": "sda", "smart_status": "great" }] }),
            ),
            "data.disks[0].smart_status",
        ),
        (
            sample("security", now, json!({ "open_ports": [{ "port": 70000 }] })),
            "data.open_ports[0].port",
        ),
        (
            sample("network", now, json!({ "bytes_recv": -1 })),
            "data.bytes_recv",
        ),
    ];
    for (body, field) in cases {
        let (status, answer) = agent.collect(body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["code"], "BAD_REQUEST");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}:")),
            "{field} expected in {answer}"
        );
    }
    let raw = agent
        .client
        .post(server.gateway_url("/agent/collect"))
        .header("content-type", "application/json")
        .body("{\"collector\": \"metrics\", ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let m = agent.machine_id;
    assert_eq!(
        count::<metrics::Entity>(&server, m, metrics::Column::MachineId).await,
        0
    );
    assert_eq!(
        count::<disk_info::Entity>(&server, m, disk_info::Column::MachineId).await,
        0,
        "the good disk of a bad payload is not kept"
    );
    assert_eq!(
        count::<machine_collector_data::Entity>(&server, m, machine_collector_data::Column::MachineId).await,
        0
    );
    let unauthenticated = server
        .agent_client(None)
        .post(server.gateway_url("/agent/collect"))
        .json(&metrics_sample(now, 1.0, 1.0))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn concurrent_samples_are_committed_together_and_all_kept() {
    let server = TestServer::spawn().await;
    let (_, agents) = fleet(&server, &server.admin_token().await, "Burst", 5).await;
    let start = Utc::now() - Duration::minutes(30);
    let requests = agents.iter().flat_map(|agent| {
        (0..40).map(move |i| {
            (
                agent,
                metrics_sample(start + Duration::seconds(i * 10), i as f64, 50.0),
            )
        })
    });
    let answers = futures::future::join_all(requests.map(|(agent, body)| agent.collect(body))).await;
    assert_eq!(answers.len(), agents.len() * 40);
    assert!(!answers.is_empty());
    assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
    let total = metrics::Entity::find()
        .filter(metrics::Column::MachineId.is_in(agents.iter().map(|a| a.machine_id)))
        .count(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    assert_eq!(total, 200);
}

#[tokio::test]
async fn a_failed_write_keeps_nothing_and_fails_only_its_own_request() {
    let server = TestServer::spawn().await;
    let (_, agents) = fleet(&server, &server.admin_token().await, "Broken", 2).await;
    let (agent, bystander) = (&agents[0], &agents[1]);
    let db = &server.state.services.infra.db.conn;
    // A fault, not an outage (those answer 503: `db_outage.rs`): every
    // write into disk_info fails. A trigger rather than dropping the table,
    // which TimescaleDB refuses while a continuous aggregate reads it.
    let fault: &[&str] = match server.state.services.infra.db.backend {
        optralis::domain::status::Backend::Sqlite => &[
            "CREATE TRIGGER injected_fault BEFORE INSERT ON disk_info BEGIN SELECT RAISE(ABORT, 'injected fault in disk_info'); END",
        ],
        optralis::domain::status::Backend::Postgres => &[
            "CREATE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected fault in disk_info'; END $$",
            "CREATE TRIGGER injected_fault BEFORE INSERT ON disk_info FOR EACH ROW EXECUTE FUNCTION injected_fault()",
        ],
    };
    for sql in fault {
        db.execute_unprepared(sql).await.unwrap();
    }
    let body = sample(
        "storage",
        Utc::now(),
        json!({ "disks": [{ "mount_point": "/", "total_gb": 10, "used_gb": 1 }] }),
    );
    let send = agent
        .client
        .post(server.gateway_url("/agent/collect"))
        .json(&body)
        .send();
    // Sent together, these may share the failing request's batch: the
    // writer then writes them apart, and they succeed.
    let others = futures::future::join_all(
        (0..8).map(|i| bystander.collect(metrics_sample(Utc::now() - Duration::seconds(i), 2.0, 3.0))),
    );
    let (resp, others) = tokio::join!(send, others);
    assert_eq!(others.len(), 8);
    assert!(others.iter().all(|(status, _)| *status == 200), "{others:?}");
    let resp = resp.unwrap();
    assert_eq!(resp.status(), 500);
    assert!(resp.headers().get("retry-after").is_none());
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["code"], "INTERNAL");
    assert!(!answer.to_string().contains("disk_info"), "{answer}");
    assert_eq!(
        count::<machine_collector_data::Entity>(
            &server,
            agent.machine_id,
            machine_collector_data::Column::MachineId
        )
        .await,
        0,
        "the snapshot of the failed batch is rolled back"
    );
    // Other collectors still work.
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 1.0, 1.0)).await.0, 200);
}

#[tokio::test]
async fn a_loaded_machine_is_asked_to_heartbeat_every_30_seconds() {
    let server = TestServer::spawn().await;
    let (_, agents) = fleet(&server, &server.admin_token().await, "Load", 1).await;
    let agent = &agents[0];
    let body = heartbeat_body(&agent.hostname);
    let beat = || async { agent.heartbeat(&body).await["next_heartbeat_seconds"].as_i64() };
    assert_eq!(beat().await, Some(60));
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 91.0, 20.0)).await.0, 200);
    assert_eq!(beat().await, Some(30), "CPU > 80%");
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 20.0, 90.0)).await.0, 200);
    assert_eq!(beat().await, Some(30), "RAM > 85%");
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 20.0, 20.0)).await.0, 200);
    assert_eq!(beat().await, Some(60));
}

#[tokio::test]
async fn retention_follows_each_tenants_licence() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, pro) = fleet(&server, &root, "Keeper", 1).await;
    let (_, trial) = fleet(&server, &root, "Trier", 1).await;
    // A type the super_admin defines keeps its own number of days.
    let long = server
        .graphql_as(
            &root,
            "mutation { createLicenseType(code: KEEP_LONG, input: {name: \"Long\", tier: PRO, retentionDays: 120, aiQuotaMonthly: 0}) { code } }",
            json!({}),
        )
        .await;
    assert_eq!(long["data"]["createLicenseType"]["code"], "keep_long", "{long}");
    let (_, kept_long) = fleet_on(&server, &root, "Hoarder", "keep_long", 1).await;
    let db = &server.state.services.infra.db;
    let trial_client = entities::machines::Entity::find_by_id(trial[0].machine_id)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap()
        .client_id;
    entities::clients::Entity::update_many()
        .col_expr(
            entities::clients::Column::LicenseType,
            sea_orm::sea_query::Expr::value("trial"),
        )
        .filter(entities::clients::Column::Id.eq(trial_client))
        .exec(&db.conn)
        .await
        .unwrap();
    let now = Utc::now();
    for agent in [&pro[0], &trial[0], &kept_long[0]] {
        for days in [100, 10, 1] {
            let at = now - Duration::days(days);
            assert_eq!(agent.collect(metrics_sample(at, 5.0, 5.0)).await.0, 200);
            let disks = sample(
                "storage",
                at,
                json!({ "disks": [{ "mount_point": "/", "total_gb": 10, "used_gb": 1 }] }),
            );
            assert_eq!(agent.collect(disks).await.0, 200);
        }
    }
    let timescaledb = server.timescaledb();
    optralis::domain::fleet::rollups::refresh(db, timescaledb, now - Duration::days(200), now)
        .await
        .unwrap();
    optralis::jobs::cleanup::purge(db, timescaledb).await.unwrap();
    let conn = &db.conn;
    let kept = |machine: Uuid| async move {
        let rows = metrics::Entity::find()
            .filter(metrics::Column::MachineId.eq(machine))
            .all(conn)
            .await
            .unwrap();
        let mut ages: Vec<i64> = rows.iter().map(|r| (now - r.recorded_at).num_days()).collect();
        ages.sort_unstable();
        ages
    };
    assert_eq!(kept(pro[0].machine_id).await, [1, 10], "Pro keeps 90 days");
    assert_eq!(kept(trial[0].machine_id).await, [1], "Trial keeps 7 days");
    assert_eq!(
        kept(kept_long[0].machine_id).await,
        [1, 10, 100],
        "keep_long keeps 120 days"
    );
    assert_eq!(
        count::<disk_info::Entity>(&server, trial[0].machine_id, disk_info::Column::MachineId).await,
        1
    );
    let hourly = entities::metrics_hourly::Entity::find()
        .filter(entities::metrics_hourly::Column::MachineId.eq(pro[0].machine_id))
        .count(&db.conn)
        .await
        .unwrap();
    assert_eq!(hourly, 2, "rollups follow the raw data");
}

#[tokio::test]
async fn disk_latency_and_io_wait_are_stored_and_range_checked() {
    let server = TestServer::spawn().await;
    let (_, agents) = fleet(&server, &server.admin_token().await, "Latency", 1).await;
    let agent = &agents[0];
    let at = Utc::now() - Duration::seconds(5);
    let metrics = |at, extra: Value| {
        let mut data = json!({ "cpu_percent": 12.0, "ram_percent": 40.0, "uptime_seconds": 60 });
        data.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        sample("metrics", at, data)
    };
    for (extra, field) in [
        (json!({ "disk_latency_ms": 600_000.5 }), "data.disk_latency_ms"),
        (json!({ "disk_latency_ms": -1 }), "data.disk_latency_ms"),
        (json!({ "io_wait_percent": 100.5 }), "data.io_wait_percent"),
        (json!({ "io_wait_percent": "high" }), "data.io_wait_percent"),
    ] {
        let (status, answer) = agent.collect(metrics(at, extra)).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["code"], "BAD_REQUEST");
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}:")),
            "{field} expected in {answer}"
        );
    }
    let (status, answer) = agent
        .collect(metrics(
            at,
            json!({ "disk_latency_ms": 72.5, "io_wait_percent": 18.25 }),
        ))
        .await;
    assert_eq!(status, 200, "{answer}");
    // Both stay optional: an agent that does not measure them is accepted.
    let (status, answer) = agent.collect(metrics(at + Duration::seconds(1), json!({}))).await;
    assert_eq!(status, 200, "{answer}");
    let rows = metrics::Entity::find()
        .filter(metrics::Column::MachineId.eq(agent.machine_id))
        .all(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    let mut rows: Vec<_> = rows
        .into_iter()
        .map(|r| (r.recorded_at, r.disk_latency_ms, r.io_wait_percent))
        .collect();
    rows.sort_by_key(|r| r.0);
    assert_eq!(rows.len(), 2, "the refused samples kept nothing");
    assert_eq!((rows[0].1, rows[0].2), (Some(72.5), Some(18.25)));
    assert_eq!((rows[1].1, rows[1].2), (None, None));
}

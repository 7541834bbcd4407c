//! The public status report (`GET /status`), its 15-day uptime series,
//! the uptime job, service incidents (automatic and by hand) and the
//! report with the database taken away.

use crate::{
    db_outage::{relayed, Link},
    helpers::{error_code, fleet, skip, tenant_with_admin, TestEnv, TestServer, WITHOUT_WORKERS},
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use entities::{service_incidents, service_uptime};
use optralis::{
    domain::status::{
        keys,
        uptime::{AiEngine, Check, Checks, Service, State},
    },
    jobs::uptime::tick,
};
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, Statement};
use serde_json::{json, Value};
use std::time::Instant;
use tokio::{io::AsyncWriteExt, net::TcpListener, sync::watch};
use uuid::Uuid;

async fn server() -> TestServer {
    TestServer::spawn_env(TestEnv::new().await.set(WITHOUT_WORKERS, "1")).await
}

async fn get(server: &TestServer, path: &str) -> (reqwest::header::HeaderMap, Value) {
    let resp = server.http.get(server.url(path)).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    let headers = resp.headers().clone();
    (headers, resp.json().await.unwrap())
}

/// The report as a fresh build: the cached one dropped first.
async fn fresh_report(server: &TestServer) -> Value {
    server
        .state
        .services
        .infra
        .cache
        .delete(keys::REPORT)
        .await
        .unwrap();
    get(server, "/status").await.1
}

fn series(report: &Value, service: &str) -> Vec<f64> {
    report["services"][service]["uptime_15d"]
        .as_array()
        .unwrap_or_else(|| panic!("{service}: {report}"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

fn half_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.duration_trunc(Duration::hours(12)).unwrap()
}

async fn seed_check(server: &TestServer, service: &str, status: &str, at: DateTime<Utc>) {
    service_uptime::Entity::insert(service_uptime::ActiveModel {
        id: Set(Uuid::now_v7()),
        service_name: Set(service.into()),
        status: Set(status.into()),
        response_time_ms: Set(3),
        checked_at: Set(at),
    })
    .exec(&server.state.services.infra.db.conn)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_status_report_follows_the_contract_and_is_cached_a_minute() {
    let server = server().await;
    let root = server.admin_token().await;
    fleet(&server, &root, "StatusFleet", 2).await;
    let (headers, report) = get(&server, "/status").await;
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "public, max-age=60");
    assert_eq!(report["overall_status"], "online", "{report}");
    for service in ["api", "database", "ai"] {
        let s = &report["services"][service];
        assert_eq!(s["status"], "online", "{service}: {report}");
        assert!(s["response_time_ms"].is_i64(), "{service}: {report}");
        assert_eq!(
            series(&report, service),
            vec![100.0; 30],
            "{service}: no checks yet"
        );
    }
    assert_eq!(report["services"]["api"]["response_time_ms"], 0);
    // No Anthropic key: the analyses run on our own engine.
    assert_eq!(report["services"]["ai"]["engine"], "builtin");
    let metrics = &report["metrics"];
    assert_eq!(metrics["total_machines"], 2, "{report}");
    assert_eq!(
        metrics["online_machines"].as_i64().unwrap() + metrics["offline_machines"].as_i64().unwrap(),
        2
    );
    assert!(metrics["average_health_score"].is_number(), "{report}");
    let stamp = report["timestamp"].as_str().unwrap();
    DateTime::parse_from_rfc3339(stamp).expect("timestamp is RFC 3339");

    // Within the TTL: the same report, even though the fleet grew.
    fleet(&server, &root, "StatusFleetTwo", 1).await;
    let (_, again) = get(&server, "/status").await;
    assert_eq!(again["timestamp"], report["timestamp"]);
    assert_eq!(again["metrics"]["total_machines"], 2);
    // Past it (the entry gone): a new one.
    let rebuilt = fresh_report(&server).await;
    assert_ne!(rebuilt["timestamp"], report["timestamp"]);
    assert_eq!(rebuilt["metrics"]["total_machines"], 3);
}

#[tokio::test]
async fn the_uptime_series_counts_available_checks_per_half_day() {
    let server = server().await;
    let now = Utc::now();
    let current = half_start(now);
    let in_current = current + (now - current) / 2;
    let oldest = current - Duration::hours(12 * 29);
    // Current half (the 30th value): one of two checks offline.
    seed_check(&server, "database", "online", in_current).await;
    seed_check(&server, "database", "offline", in_current).await;
    // The 11th half: offline throughout.
    seed_check(
        &server,
        "database",
        "offline",
        oldest + Duration::hours(12 * 10 + 1),
    )
    .await;
    seed_check(
        &server,
        "database",
        "offline",
        oldest + Duration::hours(12 * 10 + 11),
    )
    .await;
    // The first half: three of four available (degraded counts as up).
    for status in ["online", "degraded", "online", "offline"] {
        seed_check(&server, "ai", status, oldest + Duration::minutes(30)).await;
    }
    // Before the window: not counted.
    seed_check(&server, "api", "offline", oldest - Duration::minutes(1)).await;

    let report = get(&server, "/status").await.1;
    let database = series(&report, "database");
    assert_eq!(database.len(), 30);
    assert_eq!(database[29], 50.0, "{database:?}");
    assert_eq!(database[10], 0.0, "{database:?}");
    assert!(
        database
            .iter()
            .enumerate()
            .all(|(i, v)| i == 10 || i == 29 || *v == 100.0),
        "halves without checks are 100: {database:?}"
    );
    let ai = series(&report, "ai");
    assert_eq!(ai[0], 75.0, "{ai:?}");
    assert!(ai[1..].iter().all(|v| *v == 100.0), "{ai:?}");
    assert_eq!(series(&report, "api"), vec![100.0; 30]);
}

#[tokio::test]
async fn checks_are_kept_thirty_days() {
    let server = server().await;
    let services = &server.state.services;
    let now = Utc::now();
    seed_check(&server, "api", "online", now - Duration::days(31)).await;
    seed_check(&server, "api", "online", now - Duration::days(29)).await;
    if services.status.timescaledb() {
        // The hypertable's own retention policy does it.
        let row = services
            .infra
            .db
            .conn
            .query_one(Statement::from_string(
                DbBackend::Postgres,
                "SELECT (SELECT COUNT(*) FROM timescaledb_information.hypertables WHERE hypertable_name = 'service_uptime') AS hypertables, \
                 (SELECT COUNT(*) FROM timescaledb_information.jobs WHERE hypertable_name = 'service_uptime' AND proc_name = 'policy_retention') AS policies",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.try_get::<i64>("", "hypertables").unwrap(), 1);
        assert_eq!(row.try_get::<i64>("", "policies").unwrap(), 1);
        return;
    }
    assert!(optralis::jobs::cleanup::tick(services).await.unwrap());
    let left = service_uptime::Entity::find()
        .all(&services.infra.db.conn)
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].checked_at > now - Duration::days(30));
}

#[tokio::test]
async fn a_tick_records_each_service_once_per_slot() {
    let server = server().await;
    let services = &server.state.services;
    assert_eq!(tick(services).await.unwrap(), Some(3));
    let rows = service_uptime::Entity::find()
        .all(&services.infra.db.conn)
        .await
        .unwrap();
    let mut names: Vec<_> = rows.iter().map(|r| r.service_name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["ai", "api", "database"]);
    assert!(rows.iter().all(|r| r.status == "online"), "{rows:?}");
    // The same 30-minute slot again, here or on another instance: nothing.
    assert_eq!(tick(services).await.unwrap(), None);
    if services.infra.db.backend == optralis::infra::db::Backend::Postgres {
        // Instances ticking together: the advisory lock lets one through.
        service_uptime::Entity::delete_many()
            .exec(&services.infra.db.conn)
            .await
            .unwrap();
        let (a, b) = tokio::join!(tick(services), tick(services));
        let mut results = [a.unwrap(), b.unwrap()];
        results.sort();
        assert_eq!(results, [None, Some(3)]);
    }
    let stored = service_uptime::Entity::find()
        .count(&services.infra.db.conn)
        .await
        .unwrap();
    assert_eq!(stored, 3);
    // The report reads them: all online.
    let report = get(&server, "/status").await.1;
    assert_eq!(series(&report, "database"), vec![100.0; 30]);
}

/// Another instance on the same database and cache: its own status board,
/// so its own memory of what it could not write.
fn another_instance(services: &optralis::services::Services) -> optralis::services::Services {
    use optralis::domain::status::{
        incidents::Incidents, report::StatusBoard, uptime::Uptime, StatusService,
    };
    let infra = &services.infra;
    let mut other = services.clone();
    other.status_board = StatusBoard::new(
        StatusService::new(infra.clone(), services.status.timescaledb()),
        infra.cache.clone(),
        infra.clock.clone(),
        services.fleet.clone(),
        None,
        Uptime::new(infra.db.clone()),
        Incidents::new(
            infra.db.clone(),
            infra.cache.clone(),
            infra.clock.clone(),
            services.activity.clone(),
        ),
    );
    other
}

fn check(service: Service, state: State) -> Check {
    Check {
        service,
        state,
        response_time_ms: 0,
    }
}

#[tokio::test]
async fn offline_slots_kept_by_several_instances_are_recorded_once() {
    let server = server().await;
    let a = &server.state.services;
    let b = another_instance(a);
    // Both instances lost the database two hours ago and kept their checks.
    let slot = (Utc::now() - Duration::hours(2))
        .duration_trunc(Duration::minutes(30))
        .unwrap();
    let down = check(Service::Database, State::Offline);
    a.status_board.keep_unrecorded([
        (slot + Duration::minutes(1), down),
        (slot + Duration::minutes(31), down),
    ]);
    b.status_board.keep_unrecorded([
        (slot + Duration::minutes(2), down),
        (slot + Duration::minutes(32), down),
        // Taken twice by B in one slot (a restarted loop): once.
        (slot + Duration::minutes(33), down),
        // A slot A did not see: B's alone.
        (slot + Duration::minutes(62), down),
    ]);
    // A writes its two and this slot's three; B only the slot A lacked.
    assert_eq!(tick(a).await.unwrap(), Some(5));
    assert_eq!(tick(&b).await.unwrap(), Some(1));
    // Nothing left waiting on either.
    assert_eq!(tick(a).await.unwrap(), None);
    assert_eq!(tick(&b).await.unwrap(), None);
    let rows = service_uptime::Entity::find()
        .all(&a.infra.db.conn)
        .await
        .unwrap();
    let mut offline: Vec<_> = rows
        .iter()
        .filter(|r| r.status == "offline")
        .map(|r| {
            (
                r.service_name.as_str(),
                r.checked_at.duration_trunc(Duration::minutes(30)).unwrap(),
            )
        })
        .collect();
    offline.sort();
    let expected: Vec<_> = [0, 30, 60]
        .into_iter()
        .map(|m| ("database", slot + Duration::minutes(m)))
        .collect();
    assert_eq!(offline, expected, "{rows:?}");
    assert_eq!(rows.len(), 6, "{rows:?}");
}

fn checks(at: DateTime<Utc>, database: State, ai: State) -> Checks {
    Checks {
        at,
        api: check(Service::Api, State::Online),
        database: check(Service::Database, database),
        ai: check(Service::Ai, ai),
        ai_engine: AiEngine::Claude,
    }
}

#[tokio::test]
async fn an_outage_seen_by_several_instances_is_one_incident_per_service() {
    let server = server().await;
    let b = another_instance(&server.state.services);
    let (a, b) = (
        &server.state.services.status_board.incidents,
        &b.status_board.incidents,
    );
    let now = Utc::now();
    let t0 = (now - Duration::minutes(20))
        .duration_trunc(Duration::microseconds(1))
        .unwrap();
    let at = |minutes| t0 + Duration::minutes(minutes);
    // The database away: both keep their incidents in memory. B saw it
    // first, and the AI offline where A saw it degraded; the AI came back
    // during the outage, so each holds an AI incident already resolved.
    b.observe(&checks(at(0), State::Offline, State::Offline)).await;
    a.observe(&checks(at(1), State::Offline, State::Degraded)).await;
    a.observe(&checks(at(2), State::Offline, State::Online)).await;
    b.observe(&checks(at(3), State::Offline, State::Online)).await;
    // Back: A writes its copies first and resolves the database's; B's
    // copies of the same outage merge into them.
    a.observe(&checks(at(10), State::Online, State::Online)).await;
    b.observe(&checks(at(11), State::Online, State::Online)).await;

    let (_, listed) = get(&server, "/status/incidents").await;
    assert_eq!(listed["total"], 2, "{listed}");
    let rows = service_incidents::Entity::find()
        .all(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let row = |service: &str| rows.iter().find(|r| r.service_name == service).unwrap();
    let database = row("database");
    assert_eq!(database.started_at, at(0), "the earliest start: {database:?}");
    assert_eq!(database.resolved_at, Some(at(10)));
    let ai = row("ai");
    assert_eq!(ai.started_at, at(0), "{ai:?}");
    assert_eq!(ai.status, "offline", "the worse of the two: {ai:?}");
    assert_eq!(ai.resolved_at, Some(at(2)));
    // Neither instance has anything left to write, or opens anything new.
    a.observe(&checks(at(12), State::Online, State::Online)).await;
    b.observe(&checks(at(12), State::Online, State::Online)).await;
    assert_eq!(get(&server, "/status/incidents").await.1["total"], 2);
}

/// A stand-in for Claude's host: answers any request with a 404 while up,
/// closes connections at once while down.
struct AiHost {
    url: String,
    up: watch::Sender<bool>,
}

impl AiHost {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (up, rx) = watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                if *rx.borrow() {
                    tokio::spawn(async move {
                        let mut buf = [0u8; 4096];
                        let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
                        let _ = socket
                            .write_all(
                                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                            )
                            .await;
                    });
                }
            }
        });
        Self { url, up }
    }
}

#[tokio::test]
async fn checks_open_an_incident_and_resolve_it_when_the_service_is_back() {
    let ai = AiHost::start().await;
    let env = TestEnv::new()
        .await
        .set(WITHOUT_WORKERS, "1")
        .set("ANTHROPIC_API_KEY", "sk-test-status")
        .set("ANTHROPIC_BASE_URL", &ai.url);
    let server = TestServer::spawn_env(env).await;
    let services = &server.state.services;
    tick(services).await.unwrap();
    let report = fresh_report(&server).await;
    assert_eq!(report["services"]["ai"]["status"], "online", "{report}");
    assert_eq!(report["services"]["ai"]["engine"], "claude");
    let (_, listed) = get(&server, "/status/incidents").await;
    assert_eq!(listed, json!({ "incidents": [], "total": 0 }));

    // Claude's host stops answering: the job's check opens an incident,
    // once, however many check at the same moment.
    ai.up.send_replace(false);
    let (a, b) = tokio::join!(tick(services), fresh_report(&server));
    a.unwrap();
    assert_eq!(b["services"]["ai"]["status"], "offline", "{b}");
    let (_, listed) = get(&server, "/status/incidents").await;
    assert_eq!(listed["total"], 1, "{listed}");
    let incident = &listed["incidents"][0];
    assert_eq!(incident["service_name"], "ai");
    assert_eq!(incident["status"], "offline");
    assert!(incident["resolved_at"].is_null(), "{listed}");
    let id = incident["id"].clone();
    // A refresh of the report checks again: still one open incident.
    let report = fresh_report(&server).await;
    assert_eq!(report["services"]["ai"]["status"], "offline", "{report}");
    assert_eq!(report["overall_status"], "degraded");
    assert_eq!(get(&server, "/status/incidents").await.1["total"], 1);

    // Back: the next report refresh resolves it.
    ai.up.send_replace(true);
    let report = fresh_report(&server).await;
    assert_eq!(report["overall_status"], "online", "{report}");
    let (_, listed) = get(&server, "/status/incidents").await;
    assert_eq!(listed["total"], 1, "{listed}");
    assert_eq!(listed["incidents"][0]["id"], id);
    let resolved = listed["incidents"][0]["resolved_at"].as_str().expect("resolved");
    let started = listed["incidents"][0]["started_at"].as_str().unwrap();
    assert!(
        DateTime::parse_from_rfc3339(resolved).unwrap() >= DateTime::parse_from_rfc3339(started).unwrap()
    );
}

async fn seed_incident(server: &TestServer, service: &str, started_at: DateTime<Utc>) -> Uuid {
    let id = Uuid::now_v7();
    service_incidents::Entity::insert(service_incidents::ActiveModel {
        id: Set(id),
        service_name: Set(service.into()),
        status: Set("degraded".into()),
        started_at: Set(started_at),
        resolved_at: Set(Some(started_at + Duration::minutes(15))),
        description: Set(Some(format!("{service} slow"))),
        source: Set("check".into()),
        created_at: Set(started_at),
    })
    .exec(&server.state.services.infra.db.conn)
    .await
    .unwrap();
    id
}

const CREATE: &str = "mutation($input: CreateIncidentInput!) { createIncident(input: $input) { id serviceName status startedAt resolvedAt description manual } }";
const UPDATE: &str = "mutation($id: ID!, $input: UpdateIncidentInput!) { updateIncident(id: $id, input: $input) { id status description } }";
const RESOLVE: &str =
    "mutation($id: ID!, $at: DateTime) { resolveIncident(id: $id, resolvedAt: $at) { id resolvedAt } }";
const PAGE: &str = "query($first: Int!, $after: String) { serviceIncidents(first: $first, after: $after) { edges { cursor node { id serviceName } } pageInfo { hasNextPage } } }";

#[tokio::test]
async fn the_public_list_shows_the_ten_newest_incidents_and_the_total() {
    let server = server().await;
    let now = Utc::now();
    let mut seeded = Vec::new();
    for hours in 1..=12 {
        let service = ["api", "database", "ai"][hours as usize % 3];
        seeded.push((
            hours,
            seed_incident(&server, service, now - Duration::hours(hours)).await,
        ));
    }
    let (headers, listed) = get(&server, "/status/incidents").await;
    assert!(headers["cache-control"].to_str().unwrap().starts_with("public"));
    assert_eq!(listed["total"], 12, "{listed}");
    let shown: Vec<&str> = listed["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let newest: Vec<String> = seeded.iter().take(10).map(|(_, id)| id.to_string()).collect();
    assert_eq!(shown, newest, "newest first, ten of them");
    let first = &listed["incidents"][0];
    for field in [
        "id",
        "service_name",
        "status",
        "started_at",
        "resolved_at",
        "description",
    ] {
        assert!(first.get(field).is_some(), "{field}: {first}");
    }
    assert_eq!(
        first["description"],
        format!("{} slow", first["service_name"].as_str().unwrap())
    );

    // A posted incident shows at once: the cached list is dropped.
    let root = server.admin_token().await;
    let created = server
        .graphql_as(
            &root,
            CREATE,
            json!({ "input": { "serviceName": "database", "status": "DEGRADED", "description": "Latence élevée" } }),
        )
        .await;
    let id = created["data"]["createIncident"]["id"].clone();
    assert!(id.is_string(), "{created}");
    let (_, listed) = get(&server, "/status/incidents").await;
    assert_eq!(listed["total"], 13);
    assert_eq!(listed["incidents"][0]["id"], id);
    assert_eq!(listed["incidents"][0]["description"], "Latence élevée");
    assert_eq!(listed["incidents"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn super_admins_post_change_and_resolve_incidents_others_cannot() {
    let server = server().await;
    let root = server.admin_token().await;
    let created = server
        .graphql_as(
            &root,
            CREATE,
            json!({ "input": { "serviceName": "api", "status": "DEGRADED", "description": "Slow answers from the API" } }),
        )
        .await;
    let incident = &created["data"]["createIncident"];
    assert_eq!(incident["serviceName"], "api", "{created}");
    assert_eq!(incident["status"], "DEGRADED");
    assert_eq!(incident["manual"], true);
    assert!(incident["resolvedAt"].is_null());
    let id = incident["id"].as_str().unwrap().to_owned();

    // One open incident per service.
    let again = server
        .graphql_as(
            &root,
            CREATE,
            json!({ "input": { "serviceName": "api", "status": "OFFLINE" } }),
        )
        .await;
    assert_eq!(error_code(&again), "CONFLICT", "{again}");
    for (input, field) in [
        (
            json!({ "serviceName": "mail", "status": "OFFLINE" }),
            "serviceName",
        ),
        (json!({ "serviceName": "ai", "status": "ONLINE" }), "status"),
        (
            json!({ "serviceName": "ai", "status": "OFFLINE", "description": "x".repeat(2001) }),
            "description",
        ),
        (
            json!({ "serviceName": "ai", "status": "OFFLINE", "startedAt": (Utc::now() + Duration::days(1)).to_rfc3339() }),
            "startedAt",
        ),
    ] {
        let refused = server.graphql_as(&root, CREATE, json!({ "input": input })).await;
        assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], field, "{refused}");
    }

    // The automatic checks (the API is up) leave a posted incident alone.
    tick(&server.state.services).await.unwrap();
    fresh_report(&server).await;
    let listed = get(&server, "/status/incidents").await.1;
    assert_eq!(listed["total"], 1, "{listed}");
    assert!(listed["incidents"][0]["resolved_at"].is_null(), "{listed}");

    let updated = server
        .graphql_as(
            &root,
            UPDATE,
            json!({ "id": id, "input": { "status": "OFFLINE", "description": "The API is down" } }),
        )
        .await;
    assert_eq!(
        updated["data"]["updateIncident"]["status"], "OFFLINE",
        "{updated}"
    );
    let listed = get(&server, "/status/incidents").await.1;
    assert_eq!(listed["incidents"][0]["status"], "offline");
    assert_eq!(listed["incidents"][0]["description"], "The API is down");

    let before_start = (Utc::now() - Duration::days(2)).to_rfc3339();
    let early = server
        .graphql_as(&root, RESOLVE, json!({ "id": id, "at": before_start }))
        .await;
    assert_eq!(error_code(&early), "BAD_USER_INPUT", "{early}");
    let resolved = server.graphql_as(&root, RESOLVE, json!({ "id": id })).await;
    assert!(
        resolved["data"]["resolveIncident"]["resolvedAt"].is_string(),
        "{resolved}"
    );
    let twice = server.graphql_as(&root, RESOLVE, json!({ "id": id })).await;
    assert_eq!(error_code(&twice), "CONFLICT", "{twice}");
    let unknown = server
        .graphql_as(&root, RESOLVE, json!({ "id": Uuid::new_v4().to_string() }))
        .await;
    assert_eq!(error_code(&unknown), "NOT_FOUND", "{unknown}");
    let listed = get(&server, "/status/incidents").await.1;
    assert!(listed["incidents"][0]["resolved_at"].is_string(), "{listed}");
    // Resolved, the service may have a new one.
    let next = server
        .graphql_as(
            &root,
            CREATE,
            json!({ "input": { "serviceName": "api", "status": "DEGRADED" } }),
        )
        .await;
    assert!(next["errors"].is_null(), "{next}");

    // The super_admin's list, a page at a time.
    let page = server.graphql_as(&root, PAGE, json!({ "first": 1 })).await;
    let edges = &page["data"]["serviceIncidents"]["edges"];
    assert_eq!(
        edges[0]["node"]["id"], next["data"]["createIncident"]["id"],
        "{page}"
    );
    assert_eq!(page["data"]["serviceIncidents"]["pageInfo"]["hasNextPage"], true);
    let rest = server
        .graphql_as(&root, PAGE, json!({ "first": 1, "after": edges[0]["cursor"] }))
        .await;
    assert_eq!(
        rest["data"]["serviceIncidents"]["edges"][0]["node"]["id"],
        id.as_str(),
        "{rest}"
    );
    assert_eq!(rest["data"]["serviceIncidents"]["pageInfo"]["hasNextPage"], false);

    // Each change is in the audit trail.
    let logs = server
        .graphql_as(
            &root,
            "{ activityLogs(first: 50, filter: { category: SYSTEM }) { edges { node { message metadata } } } }",
            json!({}),
        )
        .await;
    let about_incident = logs["data"]["activityLogs"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{logs}"))
        .iter()
        .filter(|e| e["node"]["metadata"]["incident_id"] == id.as_str())
        .count();
    assert_eq!(about_incident, 3, "opened, changed, resolved: {logs}");

    // A tenant's admin sees and changes nothing of it.
    let (_, _, admin) = tenant_with_admin(&server, &root, "StatusTenant").await;
    for (query, variables) in [
        (PAGE, json!({ "first": 5 })),
        (
            CREATE,
            json!({ "input": { "serviceName": "ai", "status": "OFFLINE" } }),
        ),
        (UPDATE, json!({ "id": id, "input": { "description": "mine" } })),
        (RESOLVE, json!({ "id": id })),
    ] {
        let refused = server.graphql_as(&admin, query, variables).await;
        assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    }
}

#[tokio::test]
async fn with_the_database_down_the_report_answers_and_the_incident_waits_in_memory() {
    let env = TestEnv::new().await;
    if env.pg.is_none() {
        skip(
            "status::with_the_database_down_the_report_answers_and_the_incident_waits_in_memory",
            "needs PostgreSQL (OPTRALIS_TEST_DATABASE_URL) to take away under the server",
        );
        return;
    }
    let (relay, url) = relayed(&env).await;
    let server = TestServer::spawn_env(env.set("DATABASE_URL", &url).set(WITHOUT_WORKERS, "1")).await;
    let root = server.admin_token().await;
    fleet(&server, &root, "OutageFleet", 1).await;
    let before = fresh_report(&server).await;
    assert_eq!(before["overall_status"], "online", "{before}");

    relay.set(Link::Cut);
    let down = fresh_report(&server).await;
    assert_eq!(down["overall_status"], "offline", "{down}");
    assert_eq!(down["services"]["database"]["status"], "offline");
    assert_eq!(down["services"]["api"]["status"], "online");
    // The figures this instance read last.
    assert_eq!(down["metrics"]["total_machines"], 1, "{down}");
    assert_eq!(series(&down, "database"), vec![100.0; 30]);
    // The incident, not yet written, is shown from memory.
    let (_, listed) = get(&server, "/status/incidents").await;
    assert_eq!(listed["total"], 1, "{listed}");
    let incident = listed["incidents"][0].clone();
    assert_eq!(incident["service_name"], "database");
    assert_eq!(incident["status"], "offline");
    assert!(incident["resolved_at"].is_null());
    // The job cannot write its checks: it keeps them.
    assert!(tick(&server.state.services).await.is_err());

    relay.set(Link::Up);
    let deadline = Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let report = fresh_report(&server).await;
        if report["services"]["database"]["status"] == "online" {
            break;
        }
        assert!(Instant::now() < deadline, "the database is seen back within 20 s");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Written with its true start, and resolved by the check that saw the
    // database back.
    let (_, listed) = get(&server, "/status/incidents").await;
    assert_eq!(listed["total"], 1, "{listed}");
    let stored = &listed["incidents"][0];
    assert_eq!(stored["id"], incident["id"]);
    assert_eq!(stored["started_at"], incident["started_at"]);
    assert!(stored["resolved_at"].is_string(), "{listed}");
    let rows = service_incidents::Entity::find()
        .all(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].resolved_at.unwrap() > rows[0].started_at);

    // The kept checks go in with this slot's: the outage shows in the series.
    assert_eq!(tick(&server.state.services).await.unwrap(), Some(6));
    let after = fresh_report(&server).await;
    let database = series(&after, "database");
    assert!(database[29] < 100.0, "{database:?}");
    assert_eq!(series(&after, "api")[29], 100.0);
}

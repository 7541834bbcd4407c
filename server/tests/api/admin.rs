//! The super_admin panel: platform figures, machines across tenants, bulk
//! update channels and build downloads.

use crate::helpers::{error_code, fleet, heartbeat_body, TestAgent, TestEnv, TestServer, WITHOUT_WORKERS};
use chrono::{Duration, Utc};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

pub(crate) const SUM: &str = "b7f1c0e2b7f1c0e2b7f1c0e2b7f1c0e2b7f1c0e2b7f1c0e2b7f1c0e2b7f1c0e2";
const CREATE_VERSION: &str =
    "mutation($i: CreateAgentVersionInput!) { createAgentVersion(input: $i) { id isActive } }";
const DASHBOARD: &str =
    "{ adminDashboard { totalClients clientsByLicenseStatus { active expired suspended } \
    totalMachines onlineMachines offlineMachines inMaintenance totalUsers \
    certificates { active expiringWithin30Days revoked } alertsLast24h failedDeliveriesLast24h aiRequestsThisMonth } }";
const ALL: &str = "query($f: Int, $a: String, $filter: AllMachinesFilter) { allMachines(first: $f, after: $a, filter: $filter) { \
    totalCount pageInfo { hasNextPage endCursor } edges { node { clientId clientName machine { id hostname updateChannel } } } } }";
const BULK: &str =
    "mutation($ids: [ID!]!, $c: UpdateChannel!) { bulkSetUpdateChannel(machineIds: $ids, channel: $c) }";

pub(crate) async fn publish(
    server: &TestServer,
    root: &str,
    version: &str,
    channel: &str,
    platform: &str,
    arch: &str,
    active: bool,
) {
    let body = server
        .graphql_as(
            root,
            CREATE_VERSION,
            json!({ "i": {
                "version": version, "channel": channel, "platform": platform, "architecture": arch,
                "downloadUrl": format!("https://downloads.example.test/{version}/{platform}-{arch}"),
                "checksumSha256": SUM, "fileSizeBytes": 1234, "isActive": active
            }}),
        )
        .await;
    assert_eq!(body["data"]["createAgentVersion"]["isActive"], active, "{body}");
}

pub(crate) fn db(server: &TestServer) -> &sea_orm::DatabaseConnection {
    &server.state.services.infra.db.conn
}

async fn client_of(server: &TestServer, agent: &TestAgent) -> Uuid {
    entities::machines::Entity::find_by_id(agent.machine_id)
        .one(db(server))
        .await
        .unwrap()
        .unwrap()
        .client_id
}

#[tokio::test]
async fn the_dashboard_counts_the_whole_platform_in_a_few_statements() {
    // The statement counter is process-wide: no background job may add to it.
    let server = TestServer::spawn_env(TestEnv::new().await.set(WITHOUT_WORKERS, "1")).await;
    let root = server.admin_token().await;
    let (admin_a, agents_a) = fleet(&server, &root, "DashA", 2).await;
    let (_, agents_b) = fleet(&server, &root, "DashB", 1).await;
    agents_a[0]
        .heartbeat(&heartbeat_body(&agents_a[0].hostname))
        .await;
    let (a, b) = (
        client_of(&server, &agents_a[0]).await,
        client_of(&server, &agents_b[0]).await,
    );
    // Fixtures: A's licence lapsed yesterday, B is suspended, one of A's
    // certificates is revoked.
    entities::clients::Entity::update_many()
        .col_expr(
            entities::clients::Column::LicenseExpiresAt,
            Expr::value(Some(Utc::now() - Duration::days(1))),
        )
        .filter(entities::clients::Column::Id.eq(a))
        .exec(db(&server))
        .await
        .unwrap();
    entities::clients::Entity::update_many()
        .col_expr(entities::clients::Column::LicenseStatus, Expr::value("suspended"))
        .filter(entities::clients::Column::Id.eq(b))
        .exec(db(&server))
        .await
        .unwrap();
    entities::client_certificates::Entity::update_many()
        .col_expr(
            entities::client_certificates::Column::RevokedAt,
            Expr::value(Some(Utc::now())),
        )
        .filter(entities::client_certificates::Column::MachineId.eq(agents_a[1].machine_id))
        .exec(db(&server))
        .await
        .unwrap();
    // Four analyses counted this month, across two tenants.
    let usage = server.state.services.licensing.usage();
    for tenant in [a, a, a, b] {
        usage.consume(tenant, 100, 1).await.unwrap();
    }

    let counter = &server.state.services.infra.db;
    let warm = server.graphql_as(&root, "{ __typename }", json!({})).await;
    assert!(warm["errors"].is_null(), "{warm}");
    let before = counter.statements();
    server.graphql_as(&root, "{ __typename }", json!({})).await;
    let baseline = counter.statements() - before;
    let before = counter.statements();
    let body = server.graphql_as(&root, DASHBOARD, json!({})).await;
    let cost = counter.statements() - before - baseline;
    let d = &body["data"]["adminDashboard"];
    assert_eq!(
        *d,
        json!({
            "totalClients": 3,
            "clientsByLicenseStatus": { "active": 1, "expired": 1, "suspended": 1 },
            "totalMachines": 3, "onlineMachines": 1, "offlineMachines": 2, "inMaintenance": 0,
            "totalUsers": 3,
            "certificates": { "active": 2, "expiringWithin30Days": 0, "revoked": 1 },
            "alertsLast24h": 0, "failedDeliveriesLast24h": 0, "aiRequestsThisMonth": 4
        }),
        "{body}"
    );
    assert!(cost <= 5, "adminDashboard ran {cost} statements");

    // More tenants and machines cost no more statements.
    fleet(&server, &root, "DashC", 3).await;
    let before = counter.statements();
    let body = server.graphql_as(&root, DASHBOARD, json!({})).await;
    assert_eq!(counter.statements() - before - baseline, cost);
    assert_eq!(body["data"]["adminDashboard"]["totalMachines"], 6, "{body}");

    let denied = server.graphql_as(&admin_a, DASHBOARD, json!({})).await;
    assert_eq!(error_code(&denied), "FORBIDDEN", "{denied}");
}

#[tokio::test]
async fn the_timeline_counts_tenants_and_machines_per_day_and_week() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Grow", 3).await;
    let grow = client_of(&server, &agents[0]).await;
    // Fixtures: the tenant joined ten days ago, one machine three days ago.
    entities::clients::Entity::update_many()
        .col_expr(
            entities::clients::Column::CreatedAt,
            Expr::value(Utc::now() - Duration::days(10)),
        )
        .filter(entities::clients::Column::Id.eq(grow))
        .exec(db(&server))
        .await
        .unwrap();
    entities::machines::Entity::update_many()
        .col_expr(
            entities::machines::Column::CreatedAt,
            Expr::value(Utc::now() - Duration::days(3)),
        )
        .filter(entities::machines::Column::Id.eq(agents[0].machine_id))
        .exec(db(&server))
        .await
        .unwrap();
    let query = "query($r: StatsRange, $from: DateTime, $to: DateTime) { adminTimeline(range: $r, from: $from, to: $to) { \
        granularity points { date clients newClients machines newMachines } } }";
    let week = server
        .graphql_as(&root, query, json!({ "r": "LAST_7_DAYS" }))
        .await;
    let t = &week["data"]["adminTimeline"];
    assert_eq!(t["granularity"], "DAY", "{week}");
    let points = t["points"].as_array().unwrap();
    assert_eq!(points.len(), 7);
    let today = Utc::now().date_naive();
    assert_eq!(points[6]["date"], today.to_string());
    // Six days ago: only the ten-day-old tenant existed.
    assert_eq!(
        points[0],
        json!({ "date": (today - Duration::days(6)).to_string(), "clients": 1, "newClients": 0, "machines": 0, "newMachines": 0 })
    );
    assert_eq!(points[3]["newMachines"], 1, "{week}");
    assert_eq!(points[3]["machines"], 1, "{week}");
    // Today: the platform tenant and two machines.
    assert_eq!(
        points[6],
        json!({ "date": today.to_string(), "clients": 2, "newClients": 1, "machines": 3, "newMachines": 2 })
    );

    let year = server
        .graphql_as(&root, query, json!({ "r": "LAST_365_DAYS" }))
        .await;
    let t = &year["data"]["adminTimeline"];
    assert_eq!(t["granularity"], "WEEK", "{year}");
    let points = t["points"].as_array().unwrap();
    assert_eq!(points.len(), 53);
    assert_eq!(points[52]["machines"], 3);
    let new: i64 = points.iter().map(|p| p["newMachines"].as_i64().unwrap()).sum();
    assert_eq!(new, 3);

    let now = Utc::now();
    let backwards = server
        .graphql_as(
            &root,
            query,
            json!({ "from": now.to_rfc3339(), "to": (now - Duration::days(1)).to_rfc3339() }),
        )
        .await;
    assert_eq!(error_code(&backwards), "BAD_USER_INPUT", "{backwards}");
    assert_eq!(backwards["errors"][0]["extensions"]["field"], "from");
    let denied = server
        .graphql_as(&admin, query, json!({ "r": "LAST_7_DAYS" }))
        .await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
}

#[tokio::test]
async fn activity_stats_match_the_log_per_tenant_and_overall() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Audit", 2).await;
    fleet(&server, &root, "Other", 1).await;
    let audit = client_of(&server, &agents[0]).await.to_string();
    let stats = "query($c: ID, $r: StatsRange, $from: DateTime, $to: DateTime) { activityStats(clientId: $c, range: $r, from: $from, to: $to) { \
        total byCategory { category count } byLevel { level count } } }";
    let logs = server
        .graphql_as(
            &root,
            "query($c: ID) { activityLogs(first: 200, filter: { clientId: $c }) { edges { node { category level } } } }",
            json!({ "c": audit }),
        )
        .await;
    let entries = logs["data"]["activityLogs"]["edges"].as_array().unwrap().clone();
    assert!(!entries.is_empty(), "{logs}");
    let body = server
        .graphql_as(&root, stats, json!({ "c": audit, "r": "LAST_7_DAYS" }))
        .await;
    let s = &body["data"]["activityStats"];
    assert_eq!(s["total"], entries.len(), "{body}");
    let counted = |field: &str, value: &str| {
        entries
            .iter()
            .filter(|e| e["node"][field].as_str().unwrap().eq_ignore_ascii_case(value))
            .count() as i64
    };
    assert_eq!(
        s["byCategory"].as_array().unwrap().len(),
        7,
        "every category is listed"
    );
    for c in s["byCategory"].as_array().unwrap() {
        let name = c["category"].as_str().unwrap();
        assert_eq!(
            c["count"].as_i64(),
            Some(counted("category", name)),
            "{name}: {body}"
        );
    }
    for l in s["byLevel"].as_array().unwrap() {
        let name = l["level"].as_str().unwrap();
        assert_eq!(
            l["count"].as_i64(),
            Some(counted("level", name)),
            "{name}: {body}"
        );
    }

    let all = server.graphql_as(&root, stats, json!({})).await;
    assert!(
        all["data"]["activityStats"]["total"].as_i64().unwrap() > s["total"].as_i64().unwrap(),
        "every tenant's entries count: {all}"
    );
    let later = Utc::now() + Duration::hours(1);
    let empty = server
        .graphql_as(
            &root,
            stats,
            json!({ "from": later.to_rfc3339(), "to": (later + Duration::hours(1)).to_rfc3339() }),
        )
        .await;
    assert_eq!(empty["data"]["activityStats"]["total"], 0, "{empty}");
    let both = server
        .graphql_as(
            &root,
            stats,
            json!({ "r": "LAST_7_DAYS", "from": later.to_rfc3339() }),
        )
        .await;
    assert_eq!(error_code(&both), "BAD_USER_INPUT");
    let denied = server.graphql_as(&admin, stats, json!({})).await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
}

fn hostnames(page: &Value) -> Vec<String> {
    page["data"]["allMachines"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|e| e["node"]["machine"]["hostname"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn all_machines_pages_through_every_tenant_with_filters() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin_a, agents_a) = fleet(&server, &root, "Alpha", 3).await;
    let (admin_b, agents_b) = fleet(&server, &root, "Bravo", 2).await;
    agents_b[1]
        .heartbeat(&heartbeat_body(&agents_b[1].hostname))
        .await;

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = server.graphql_as(&root, ALL, json!({ "f": 2, "a": after })).await;
        let conn = &page["data"]["allMachines"];
        assert_eq!(conn["totalCount"], 5, "{page}");
        seen.extend(hostnames(&page));
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, ["alpha-0", "alpha-1", "alpha-2", "bravo-0", "bravo-1"]);

    let bravo = client_of(&server, &agents_b[0]).await.to_string();
    let only_b = server
        .graphql_as(&root, ALL, json!({ "filter": { "clientId": bravo } }))
        .await;
    assert_eq!(hostnames(&only_b), ["bravo-0", "bravo-1"]);
    let node = &only_b["data"]["allMachines"]["edges"][0]["node"];
    assert_eq!(
        (node["clientId"].as_str(), node["clientName"].as_str()),
        (Some(bravo.as_str()), Some("Bravo"))
    );
    for (filter, expected) in [
        (json!({ "status": "ONLINE" }), vec!["bravo-1"]),
        (json!({ "search": "HA-1" }), vec!["alpha-1"]),
        (json!({ "os": "linux", "agentVersion": "2.1.0" }), vec!["bravo-1"]),
        (json!({ "updateChannel": "BETA" }), vec![]),
    ] {
        let page = server.graphql_as(&root, ALL, json!({ "filter": filter })).await;
        assert_eq!(hostnames(&page), expected, "{filter}: {page}");
    }
    let bad = server
        .graphql_as(&root, ALL, json!({ "filter": { "clientId": "nope" } }))
        .await;
    assert_eq!(
        bad["errors"][0]["extensions"]["field"], "filter.clientId",
        "{bad}"
    );
    let too_many = server.graphql_as(&root, ALL, json!({ "f": 101 })).await;
    assert_eq!(error_code(&too_many), "BAD_USER_INPUT");
    // Tenants still see only their own machines, and not this list.
    let denied = server.graphql_as(&admin_a, ALL, json!({})).await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
    let theirs = server
        .graphql_as(
            &admin_b,
            "query($id: ID!) { machine(id: $id) { id } }",
            json!({ "id": agents_a[0].machine_id }),
        )
        .await;
    assert_eq!(error_code(&theirs), "NOT_FOUND");
}

#[tokio::test]
async fn bulk_channel_changes_cross_tenants_reach_heartbeats_and_are_logged_once() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin_a, agents_a) = fleet(&server, &root, "Early", 2).await;
    let (_, agents_b) = fleet(&server, &root, "Adopter", 1).await;
    publish(&server, &root, "9.0.0", "BETA", "LINUX", "AMD64", true).await;
    let beat = |agent: &TestAgent| heartbeat_body(&agent.hostname);
    // Stable, with no stable build: no update (and the answer is cached).
    assert!(agents_b[0].heartbeat(&beat(&agents_b[0])).await["update"].is_null());

    let ids = json!([agents_a[0].machine_id, agents_b[0].machine_id, Uuid::now_v7()]);
    let denied = server
        .graphql_as(&admin_a, BULK, json!({ "ids": ids, "c": "BETA" }))
        .await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
    let moved = server
        .graphql_as(&root, BULK, json!({ "ids": ids, "c": "BETA" }))
        .await;
    assert_eq!(moved["data"]["bulkSetUpdateChannel"], 2, "{moved}");

    let beta = server
        .graphql_as(&root, ALL, json!({ "filter": { "updateChannel": "BETA" } }))
        .await;
    assert_eq!(hostnames(&beta), ["adopter-0", "early-0"]);
    let offer = agents_b[0].heartbeat(&beat(&agents_b[0])).await;
    assert_eq!(
        offer["update"]["version"], "9.0.0",
        "the cached channel was dropped: {offer}"
    );
    assert!(agents_a[1].heartbeat(&beat(&agents_a[1])).await["update"].is_null());

    let logged = server
        .graphql_as(
            &root,
            "{ activityLogs(first: 50, filter: { category: MACHINE }) { edges { node { message metadata } } } }",
            json!({}),
        )
        .await;
    let bulk: Vec<&Value> = logged["data"]["activityLogs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["metadata"]["updated"].is_number())
        .collect();
    assert_eq!(bulk.len(), 1, "{logged}");
    assert_eq!(
        bulk[0]["node"]["metadata"],
        json!({ "channel": "beta", "updated": 2, "requested": 3 })
    );

    for (ids, why) in [
        (json!([]), "empty"),
        (json!(vec![Uuid::now_v7(); 1001]), "1001 ids"),
        (json!(["x"]), "not an id"),
    ] {
        let refused = server
            .graphql_as(&root, BULK, json!({ "ids": ids, "c": "STABLE" }))
            .await;
        assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{why}: {refused}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], "machineIds", "{why}");
    }
}

#[tokio::test]
async fn agent_downloads_list_the_active_build_of_each_target() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, _) = fleet(&server, &root, "Dl", 0).await;
    publish(&server, &root, "1.0.0", "STABLE", "LINUX", "AMD64", true).await;
    publish(&server, &root, "1.1.0", "STABLE", "LINUX", "AMD64", true).await;
    publish(&server, &root, "2.0.0", "BETA", "WINDOWS", "AMD64", true).await;
    publish(&server, &root, "0.9.0", "STABLE", "LINUX", "ARM64", false).await;
    let query = "{ agentDownloads { version channel platform architecture downloadUrl checksumSha256 fileSizeBytes } }";
    let body = server.graphql_as(&root, query, json!({})).await;
    assert_eq!(
        body["data"]["agentDownloads"],
        json!([
            { "version": "2.0.0", "channel": "beta", "platform": "windows", "architecture": "amd64",
              "downloadUrl": "https://downloads.example.test/2.0.0/WINDOWS-AMD64", "checksumSha256": SUM, "fileSizeBytes": 1234 },
            { "version": "1.1.0", "channel": "stable", "platform": "linux", "architecture": "amd64",
              "downloadUrl": "https://downloads.example.test/1.1.0/LINUX-AMD64", "checksumSha256": SUM, "fileSizeBytes": 1234 },
        ]),
        "{body}"
    );
    let denied = server.graphql_as(&admin, query, json!({})).await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
}

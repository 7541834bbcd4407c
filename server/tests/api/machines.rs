//! Dashboard reads of the fleet through GraphQL: lists, one machine,
//! charts and the overview, each scoped to the caller's tenant.

use crate::{
    collect::{all_collectors, metrics_sample, sample},
    helpers::{error_code, fleet, TestAgent, TestServer},
};
use chrono::{Duration, DurationRound, Utc};
use entities::{labels, machine_labels};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{json, Value};
use uuid::Uuid;

const PAGE: &str = "query($f: Int, $a: String, $filter: MachineFilter) { machines(first: $f, after: $a, filter: $filter) { totalCount edges { cursor node { id hostname online status labels { key value } latestMetrics { cpuPercent ramPercent } group { name } } } pageInfo { hasNextPage endCursor } } }";

fn hostnames(page: &Value) -> Vec<String> {
    page["data"]["machines"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|e| e["node"]["hostname"].as_str().unwrap().to_owned())
        .collect()
}

/// A heartbeat as a Windows agent sends it.
fn windows_heartbeat(agent: &TestAgent) -> Value {
    json!({ "hostname": agent.hostname, "os": "Windows 11 Pro", "os_version": "10.0.22631", "agent_version": "2.1.0" })
}

#[tokio::test]
async fn machine_lists_filter_paginate_and_stay_in_their_tenant() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Listing", 5).await;
    let (other, others) = fleet(&server, &root, "Outsider", 2).await;
    for agent in &agents[..3] {
        agent.heartbeat(&windows_heartbeat(agent)).await;
    }
    assert_eq!(
        agents[0].collect(metrics_sample(Utc::now(), 12.5, 40.0)).await.0,
        200
    );

    let first = server.graphql_as(&admin, PAGE, json!({ "f": 2 })).await;
    assert_eq!(hostnames(&first), ["listing-0", "listing-1"]);
    assert_eq!(first["data"]["machines"]["totalCount"], 5);
    assert_eq!(first["data"]["machines"]["pageInfo"]["hasNextPage"], true);
    let node = &first["data"]["machines"]["edges"][0]["node"];
    assert_eq!(
        (node["online"].as_bool(), node["status"].as_str()),
        (Some(true), Some("ONLINE"))
    );
    assert_eq!(node["latestMetrics"]["cpuPercent"], 12.5);
    assert!(first["data"]["machines"]["edges"][1]["node"]["latestMetrics"].is_null());
    let mut all = hostnames(&first);
    let mut after = first["data"]["machines"]["pageInfo"]["endCursor"].clone();
    loop {
        let page = server
            .graphql_as(&admin, PAGE, json!({ "f": 2, "a": after }))
            .await;
        all.extend(hostnames(&page));
        if page["data"]["machines"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["data"]["machines"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(all, (0..5).map(|i| format!("listing-{i}")).collect::<Vec<_>>());

    let online = server
        .graphql_as(&admin, PAGE, json!({ "filter": { "status": "ONLINE" } }))
        .await;
    assert_eq!(hostnames(&online).len(), 3);
    assert_eq!(online["data"]["machines"]["totalCount"], 3);
    let offline = server
        .graphql_as(&admin, PAGE, json!({ "filter": { "status": "OFFLINE" } }))
        .await;
    assert_eq!(hostnames(&offline), ["listing-3", "listing-4"]);
    let search = server
        .graphql_as(&admin, PAGE, json!({ "filter": { "search": "TING-4" } }))
        .await;
    assert_eq!(hostnames(&search), ["listing-4"]);
    let wildcard = server
        .graphql_as(&admin, PAGE, json!({ "filter": { "search": "%" } }))
        .await;
    assert_eq!(
        hostnames(&wildcard),
        Vec::<String>::new(),
        "% is a character, not a wildcard"
    );
    let windows = server
        .graphql_as(&admin, PAGE, json!({ "filter": { "os": "windows" } }))
        .await;
    assert_eq!(hostnames(&windows).len(), 3, "heartbeats reported Windows");
    let bad = server.graphql_as(&admin, PAGE, json!({ "f": 500 })).await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    let bad = server.graphql_as(&admin, PAGE, json!({ "a": "garbage" })).await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");

    let theirs = server.graphql_as(&other, PAGE, json!({})).await;
    assert_eq!(hostnames(&theirs), ["outsider-0", "outsider-1"]);
    let one =
        "query($id: ID!) { machine(id: $id) { id hostname online latestMetrics { cpuPercent ramPercent } } }";
    let mine = server
        .graphql_as(&admin, one, json!({ "id": agents[0].machine_id }))
        .await;
    assert_eq!(
        mine["data"]["machine"]["latestMetrics"]["ramPercent"], 40.0,
        "{mine}"
    );
    let foreign = server
        .graphql_as(&other, one, json!({ "id": agents[0].machine_id }))
        .await;
    assert_eq!(error_code(&foreign), "NOT_FOUND");
    let by_name = "query($h: String!) { machineByHostname(hostname: $h) { id } }";
    let found = server
        .graphql_as(&admin, by_name, json!({ "h": "LISTING-2" }))
        .await;
    assert_eq!(
        found["data"]["machineByHostname"]["id"],
        agents[2].machine_id.to_string()
    );
    let hidden = server
        .graphql_as(&admin, by_name, json!({ "h": others[0].hostname }))
        .await;
    assert_eq!(error_code(&hidden), "NOT_FOUND");

    let overview = server
        .graphql_as(
            &admin,
            "{ overview { totalMachines online offline nonCompliant averageHealth } }",
            json!({}),
        )
        .await;
    assert_eq!(
        overview["data"]["overview"],
        json!({ "totalMachines": 5, "online": 3, "offline": 2, "nonCompliant": 0, "averageHealth": 100.0 })
    );
    assert_eq!(
        error_code(&server.graphql(PAGE, json!({})).await),
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn a_page_of_machines_costs_the_same_statements_whatever_its_size() {
    // The counter is process-wide: background jobs (alert evaluation of
    // the samples below, reminders, the outbox) would add their own.
    let server = TestServer::spawn_env(
        crate::helpers::TestEnv::new()
            .await
            .set(crate::helpers::WITHOUT_WORKERS, "1"),
    )
    .await;
    let (admin, agents) = fleet(&server, &server.admin_token().await, "Loaders", 24).await;
    let db = &server.state.services.infra.db;
    let client_id = entities::machines::Entity::find_by_id(agents[0].machine_id)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap()
        .client_id;
    let label = Uuid::now_v7();
    labels::Entity::insert(labels::ActiveModel {
        id: Set(label),
        client_id: Set(client_id),
        key: Set("env".into()),
        color: Set("#3b82f6".into()),
        created_at: Set(Utc::now()),
    })
    .exec(&db.conn)
    .await
    .unwrap();
    for agent in &agents {
        machine_labels::Entity::insert(machine_labels::ActiveModel {
            machine_id: Set(agent.machine_id),
            label_id: Set(label),
            value: Set("prod".into()),
            assigned_at: Set(Utc::now()),
        })
        .exec(&db.conn)
        .await
        .unwrap();
        assert_eq!(agent.collect(metrics_sample(Utc::now(), 5.0, 6.0)).await.0, 200);
    }
    let query = "query($f: Int) { machines(first: $f) { edges { node { hostname labels { key value } latestMetrics { cpuPercent } group { name } disks { mountPoint } } } } }";
    // The caller's session state is read once and then cached: warm it so
    // only the page itself is counted.
    let warm = server.graphql_as(&admin, "{ me { id } }", json!({})).await;
    assert!(warm["errors"].is_null(), "{warm}");
    let mut costs = Vec::new();
    for size in [4, 24] {
        let before = db.statements();
        let page = server.graphql_as(&admin, query, json!({ "f": size })).await;
        costs.push(db.statements() - before);
        let edges = page["data"]["machines"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{page}"));
        assert_eq!(edges.len(), size as usize);
        assert!(edges
            .iter()
            .all(|e| e["node"]["labels"] == json!([{ "key": "env", "value": "prod" }])));
        assert!(edges
            .iter()
            .all(|e| e["node"]["latestMetrics"]["cpuPercent"] == 5.0));
    }
    assert_eq!(
        costs[0], costs[1],
        "statements per page do not grow with its size: {costs:?}"
    );
    let labelled = server
        .graphql_as(
            &admin,
            PAGE,
            json!({ "f": 100, "filter": { "labelId": label.to_string() } }),
        )
        .await;
    assert_eq!(hostnames(&labelled).len(), 24);
}

#[tokio::test]
async fn metric_history_reads_raw_then_rollups_with_a_sampled_fallback() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "History", 1).await;
    let (other, _) = fleet(&server, &root, "Peeker", 1).await;
    let agent = &agents[0];
    let now = Utc::now();
    for minutes in [50, 30, 10] {
        let at = now - Duration::minutes(minutes);
        assert_eq!(
            agent.collect(metrics_sample(at, minutes as f64, 50.0)).await.0,
            200
        );
        let net = sample(
            "network",
            at,
            json!({ "bytes_recv": 1000 * minutes, "bytes_sent": 10, "latency_ms": 5.0 }),
        );
        assert_eq!(agent.collect(net).await.0, 200);
    }
    // Ten days ago: six hours, two samples an hour (CPU 10 then 30).
    let base = (now - Duration::days(10))
        .duration_trunc(Duration::hours(1))
        .unwrap();
    for hour in 0..6 {
        for (minute, cpu) in [(10, 10.0), (40, 30.0)] {
            let at = base + Duration::hours(hour) + Duration::minutes(minute);
            assert_eq!(agent.collect(metrics_sample(at, cpu, 60.0)).await.0, 200);
        }
    }
    let query = "query($m: ID!, $r: MetricRange!) { metricHistory(machineId: $m, range: $r) { resolution points { at cpuPercent ramPercent cpuMin cpuMax } } }";
    let vars = |r: &str| json!({ "m": agent.machine_id, "r": r });

    let hour = server.graphql_as(&admin, query, vars("H1")).await;
    let hour = &hour["data"]["metricHistory"];
    assert_eq!(hour["resolution"], "RAW");
    let cpu: Vec<f64> = hour["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["cpuPercent"].as_f64().unwrap())
        .collect();
    assert_eq!(cpu, [50.0, 30.0, 10.0], "oldest first");
    let day = server.graphql_as(&admin, query, vars("H24")).await;
    assert_eq!(
        day["data"]["metricHistory"]["points"].as_array().unwrap().len(),
        3
    );

    let sampled = server.graphql_as(&admin, query, vars("D30")).await;
    let sampled = &sampled["data"]["metricHistory"];
    assert_eq!(sampled["resolution"], "HOURLY", "{sampled}");
    let old: Vec<&Value> = sampled["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ramPercent"] == 60.0)
        .collect();
    assert_eq!(old.len(), 6, "one point per hour without rollups");
    assert!(
        old.iter().all(|p| p["cpuPercent"] == 30.0),
        "the hour's last sample: {old:?}"
    );

    let db = &server.state.services.infra.db;
    optralis::domain::fleet::rollups::refresh(
        db,
        server.timescaledb(),
        now - Duration::days(31),
        now + Duration::hours(1),
    )
    .await
    .unwrap();
    let rolled = server.graphql_as(&admin, query, vars("D30")).await;
    let rolled = &rolled["data"]["metricHistory"];
    assert_eq!(rolled["resolution"], "HOURLY");
    let old: Vec<&Value> = rolled["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ramPercent"] == 60.0)
        .collect();
    assert_eq!(old.len(), 6);
    for p in &old {
        assert_eq!(
            (
                p["cpuPercent"].as_f64(),
                p["cpuMin"].as_f64(),
                p["cpuMax"].as_f64()
            ),
            (Some(20.0), Some(10.0), Some(30.0))
        );
    }
    let first_at = chrono::DateTime::parse_from_rfc3339(old[0]["at"].as_str().unwrap()).unwrap();
    assert_eq!(first_at.with_timezone(&Utc), base, "buckets start on the hour");

    let net = server
        .graphql_as(
            &admin,
            "query($m: ID!) { networkMetricHistory(machineId: $m, range: H1) { resolution points { bytesRecv latencyMs } } }",
            json!({ "m": agent.machine_id }),
        )
        .await;
    let points = net["data"]["networkMetricHistory"]["points"]
        .as_array()
        .unwrap_or_else(|| panic!("{net}"));
    assert_eq!(points.len(), 3);
    assert_eq!(points[0]["bytesRecv"], 50_000.0);

    let peek = server.graphql_as(&other, query, vars("H1")).await;
    assert_eq!(error_code(&peek), "NOT_FOUND");
}

#[tokio::test]
async fn a_machine_shows_its_disks_health_and_inventory() {
    let server = TestServer::spawn().await;
    let (admin, agents) = fleet(&server, &server.admin_token().await, "Detail", 1).await;
    let agent = &agents[0];
    for body in all_collectors(Utc::now() - Duration::seconds(30)) {
        assert_eq!(agent.collect(body).await.0, 200);
    }
    let q = "query($id: ID!) { machine(id: $id) { disks { mountPoint usedPercent model } smartDisks { device smartStatus isVirtual reallocatedSectors } inventory(collector: PATCHES) { collector data } all: inventory { collector } } }";
    let body = server
        .graphql_as(&admin, q, json!({ "id": agent.machine_id }))
        .await;
    let m = &body["data"]["machine"];
    assert_eq!(m["disks"][0]["mountPoint"], "C:\\", "{body}");
    assert_eq!(m["disks"][0]["usedPercent"], 50.0);
    assert_eq!(m["smartDisks"][1]["smartStatus"], "virtual");
    assert_eq!(m["smartDisks"][0]["reallocatedSectors"], 0);
    assert_eq!(m["inventory"][0]["collector"], "PATCHES");
    assert_eq!(m["inventory"][0]["data"]["pending_updates"][0]["kb"], "KB5028997");
    assert_eq!(m["all"].as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn risks_are_detected_and_administrators_override_them() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Risky", 1).await;
    let (other, _) = fleet(&server, &root, "Meddler", 1).await;
    let agent = &agents[0];
    for body in all_collectors(Utc::now() - Duration::seconds(30)) {
        assert_eq!(agent.collect(body).await.0, 200);
    }
    let q = "query($id: ID!) { machine(id: $id) { risks { key detectedSeverity severity accepted overrideReason } riskOverrides { riskKey level } } }";
    let risks = |token: String| {
        let server = &server;
        async move {
            let body = server
                .graphql_as(&token, q, json!({ "id": agent.machine_id }))
                .await;
            body["data"]["machine"].clone()
        }
    };
    let before = risks(admin.clone()).await;
    let keys: Vec<&str> = before["risks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "port:3389",
            "security_updates_pending",
            "disk_encryption_disabled",
            "services_failed",
            "reboot_required"
        ],
        "{before}"
    );

    let set = "mutation($m: ID!, $i: RiskOverrideInput!) { setRiskOverride(machineId: $m, input: $i) { id riskKey level } }";
    let accept = json!({ "m": agent.machine_id, "i": { "riskKey": "port:3389", "level": "ACCEPTED", "reason": "RDP jump host" } });
    assert_eq!(
        error_code(&server.graphql_as(&other, set, accept.clone()).await),
        "NOT_FOUND"
    );
    let accepted = server.graphql_as(&admin, set, accept).await;
    let override_id = accepted["data"]["setRiskOverride"]["id"].clone();
    assert_eq!(
        accepted["data"]["setRiskOverride"]["level"], "ACCEPTED",
        "{accepted}"
    );
    for level in ["CRITICAL", "HIGH"] {
        let raised = json!({ "m": agent.machine_id, "i": { "riskKey": "reboot_required", "level": level } });
        assert!(server.graphql_as(&admin, set, raised).await["errors"].is_null());
    }
    for (bad, field) in [
        (json!({ "riskKey": "", "level": "LOW" }), "riskKey"),
        (
            json!({ "riskKey": "x", "level": "LOW", "expiresAt": "2020-01-01T00:00:00Z" }),
            "expiresAt",
        ),
    ] {
        let body = server
            .graphql_as(&admin, set, json!({ "m": agent.machine_id, "i": bad }))
            .await;
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let after = risks(admin.clone()).await;
    let by_key = |key: &str| {
        after["risks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["key"] == key)
            .unwrap()
            .clone()
    };
    assert_eq!(by_key("port:3389")["accepted"], true);
    assert!(by_key("port:3389")["severity"].is_null());
    assert_eq!(by_key("port:3389")["overrideReason"], "RDP jump host");
    assert_eq!(
        (
            by_key("reboot_required")["detectedSeverity"].as_str(),
            by_key("reboot_required")["severity"].as_str()
        ),
        (Some("LOW"), Some("HIGH"))
    );
    assert_eq!(
        after["riskOverrides"].as_array().unwrap().len(),
        2,
        "one override per risk key"
    );

    let delete = "mutation($id: ID!) { deleteRiskOverride(id: $id) }";
    assert_eq!(
        error_code(
            &server
                .graphql_as(&other, delete, json!({ "id": override_id }))
                .await
        ),
        "NOT_FOUND"
    );
    assert_eq!(
        server
            .graphql_as(&admin, delete, json!({ "id": override_id }))
            .await["data"]["deleteRiskOverride"],
        true
    );
    let restored = risks(admin.clone()).await;
    assert_eq!(restored["risks"][0]["severity"], "HIGH");
    let listed = server
        .graphql_as(
            &admin,
            "query($m: ID!) { riskOverrides(machineId: $m) { riskKey } }",
            json!({ "m": agent.machine_id }),
        )
        .await;
    assert_eq!(
        listed["data"]["riskOverrides"],
        json!([{ "riskKey": "reboot_required" }])
    );
}

#[tokio::test]
async fn machines_export_as_csv_for_the_callers_tenant_only() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Exporter", 2).await;
    let (other, _) = fleet(&server, &root, "Stranger", 1).await;
    agents[0].heartbeat(&windows_heartbeat(&agents[0])).await;
    assert_eq!(
        agents[0].collect(metrics_sample(Utc::now(), 33.0, 44.0)).await.0,
        200
    );
    let url = server.url("/api/export/machines");
    let resp = server.http.get(&url).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("machines-"));
    let text = resp.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let header: Vec<&str> = lines[0].split(',').collect();
    assert_eq!(&header[..3], ["hostname", "status", "os"]);
    let first: Vec<&str> = lines[1].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    assert_eq!(first[col("hostname")], "exporter-0");
    assert_eq!(first[col("status")], "online");
    assert_eq!(
        (first[col("cpu_percent")], first[col("ram_percent")]),
        ("33", "44")
    );
    assert!(
        !text.contains("stranger"),
        "another tenant's machines never appear"
    );
    let theirs = server
        .http
        .get(&url)
        .bearer_auth(&other)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(theirs.lines().count(), 2);
    let anonymous = server.http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["code"], "UNAUTHENTICATED");
}

#[tokio::test]
async fn groups_and_labels_organise_the_fleet_within_a_tenant() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Organised", 3).await;
    let (other, theirs) = fleet(&server, &root, "Neighbour", 1).await;
    let ids: Vec<String> = agents.iter().map(|a| a.machine_id.to_string()).collect();

    let group = server
        .graphql_as(
            &admin,
            "mutation { createGroup(name: \"Servers\") { id name } }",
            json!({}),
        )
        .await;
    let group_id = group["data"]["createGroup"]["id"].clone();
    let dup = server
        .graphql_as(
            &admin,
            "mutation { createGroup(name: \"Servers\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&dup), "CONFLICT");
    let set = "mutation($m: [ID!]!, $g: ID) { setMachinesGroup(machineIds: $m, groupId: $g) }";
    let moved = server
        .graphql_as(&admin, set, json!({ "m": &ids[..2], "g": group_id }))
        .await;
    assert_eq!(moved["data"]["setMachinesGroup"], 2, "{moved}");
    let hijack = server
        .graphql_as(&other, set, json!({ "m": [&ids[2]], "g": null }))
        .await;
    assert_eq!(error_code(&hijack), "NOT_FOUND", "another tenant's machines");
    let in_group = server
        .graphql_as(&admin, PAGE, json!({ "filter": { "groupId": group_id } }))
        .await;
    assert_eq!(hostnames(&in_group), ["organised-0", "organised-1"]);
    assert_eq!(
        in_group["data"]["machines"]["edges"][0]["node"]["group"]["name"],
        "Servers"
    );

    // A group-scoped collection setting reaches the group's machines only.
    let setting = server
        .graphql_as(
            &admin,
            "mutation($g: ID!) { createCollectionSetting(input: { name: \"grp\", groupId: $g, intervals: [{ collector: METRICS, seconds: 60 }] }) { scope } }",
            json!({ "g": group_id }),
        )
        .await;
    assert_eq!(
        setting["data"]["createCollectionSetting"]["scope"], "GROUP",
        "{setting}"
    );
    let effective =
        "query($m: ID!) { effectiveIntervals(machineId: $m) { source collectors { collector interval } } }";
    let grouped = server.graphql_as(&admin, effective, json!({ "m": ids[0] })).await;
    assert_eq!(grouped["data"]["effectiveIntervals"]["source"], "GROUP_SETTING");
    let loose = server.graphql_as(&admin, effective, json!({ "m": ids[2] })).await;
    assert_eq!(loose["data"]["effectiveIntervals"]["source"], "DEFAULT");

    let label = server
        .graphql_as(
            &admin,
            "mutation { createLabel(key: \"env\", color: \"#22C55E\") { id key color } }",
            json!({}),
        )
        .await;
    assert_eq!(label["data"]["createLabel"]["color"], "#22c55e", "{label}");
    let label_id = label["data"]["createLabel"]["id"].clone();
    let bad = server
        .graphql_as(
            &admin,
            "mutation { createLabel(key: \"x\", color: \"blue\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["field"], "color");
    let assign =
        "mutation($l: ID!, $m: [ID!]!, $v: String) { assignLabel(labelId: $l, machineIds: $m, value: $v) }";
    let tagged = server
        .graphql_as(
            &admin,
            assign,
            json!({ "l": label_id, "m": [&ids[1], &ids[2]], "v": "prod" }),
        )
        .await;
    assert_eq!(tagged["data"]["assignLabel"], true, "{tagged}");
    let foreign = server
        .graphql_as(
            &other,
            assign,
            json!({ "l": label_id, "m": [theirs[0].machine_id] }),
        )
        .await;
    assert_eq!(error_code(&foreign), "NOT_FOUND", "another tenant's label");
    let labelled = server
        .graphql_as(&admin, PAGE, json!({ "filter": { "labelId": label_id } }))
        .await;
    assert_eq!(hostnames(&labelled), ["organised-1", "organised-2"]);
    assert_eq!(
        labelled["data"]["machines"]["edges"][0]["node"]["labels"],
        json!([{ "key": "env", "value": "prod" }])
    );

    // Ten labels per machine at most.
    for i in 0..9 {
        let l = server
            .graphql_as(
                &admin,
                "mutation($k: String!) { createLabel(key: $k) { id } }",
                json!({ "k": format!("k{i}") }),
            )
            .await;
        let id = l["data"]["createLabel"]["id"].clone();
        let ok = server
            .graphql_as(&admin, assign, json!({ "l": id, "m": [&ids[1]] }))
            .await;
        assert_eq!(ok["data"]["assignLabel"], true, "{ok}");
    }
    let eleventh = server
        .graphql_as(
            &admin,
            "mutation { createLabel(key: \"one-too-many\") { id } }",
            json!({}),
        )
        .await;
    let refused = server
        .graphql_as(
            &admin,
            assign,
            json!({ "l": eleventh["data"]["createLabel"]["id"], "m": [&ids[1]] }),
        )
        .await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");

    let removed = server
        .graphql_as(
            &admin,
            "mutation($l: ID!, $m: [ID!]!) { unassignLabel(labelId: $l, machineIds: $m) }",
            json!({ "l": label_id, "m": [&ids[2]] }),
        )
        .await;
    assert_eq!(removed["data"]["unassignLabel"], 1);
    let deleted = server
        .graphql_as(
            &admin,
            "mutation($id: ID!) { deleteGroup(id: $id) }",
            json!({ "id": group_id }),
        )
        .await;
    assert_eq!(deleted["data"]["deleteGroup"], true);
    let after = server.graphql_as(&admin, PAGE, json!({})).await;
    let edges = after["data"]["machines"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty(), "{after}");
    assert!(edges.iter().all(|e| e["node"]["group"].is_null()), "{after}");
    let listed = server
        .graphql_as(&other, "{ groups { id } labels { id } }", json!({}))
        .await;
    assert_eq!(listed["data"], json!({ "groups": [], "labels": [] }));
}

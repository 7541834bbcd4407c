//! Maintenance mode and machine deletion through GraphQL, seen by the
//! alerting engine, live subscriptions and the agent gateway.

use crate::{
    collect::{all_collectors, metrics_sample},
    helpers::{error_code, fleet, heartbeat_body, TestEnv, TestServer, WsClient, WITHOUT_WORKERS},
};
use chrono::{Duration, Utc};
use optralis::domain::live::LiveEvent;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::broadcast::Receiver;
use uuid::Uuid;

const SET_MAINTENANCE: &str = "mutation($m: ID!, $e: Boolean!, $u: DateTime, $r: String) { setMaintenanceMode(machineId: $m, enabled: $e, until: $u, reason: $r) { id status maintenanceMode maintenanceUntil } }";

async fn maintenance(
    server: &TestServer,
    token: &str,
    machine: Uuid,
    enabled: bool,
    until: Value,
    reason: Value,
) -> Value {
    server
        .graphql_as(
            token,
            SET_MAINTENANCE,
            json!({ "m": machine.to_string(), "e": enabled, "u": until, "r": reason }),
        )
        .await
}

/// The next `machineStatusChanged` status on subscription "s".
async fn next_status(ws: &mut WsClient) -> String {
    let frame = ws.recv().await;
    frame["payload"]["data"]["machineStatusChanged"]["status"]
        .as_str()
        .unwrap_or_else(|| panic!("{frame}"))
        .to_owned()
}

async fn activity_messages(server: &TestServer, admin: &str) -> Vec<String> {
    let logs = server
        .graphql_as(
            admin,
            "{ activityLogs(first: 200) { edges { node { message } } } }",
            json!({}),
        )
        .await;
    logs["data"]["activityLogs"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{logs}"))
        .iter()
        .map(|e| e["node"]["message"].as_str().unwrap().to_owned())
        .collect()
}

/// Feeds the alerting engine, in order, every event this instance
/// published since the last call: what the alert worker does, driven by
/// the test so it knows when an event has been judged.
async fn evaluate(server: &TestServer, events: &mut Receiver<Arc<LiveEvent>>) {
    while let Ok(event) = events.try_recv() {
        server.state.services.alerting.handle(&event).await.unwrap();
    }
}

async fn fired_values(server: &TestServer, admin: &str) -> Value {
    let history = server
        .graphql_as(
            admin,
            "{ alertHistory(first: 10) { edges { node { triggeredValue } } } }",
            json!({}),
        )
        .await;
    history["data"]["alertHistory"]["edges"].clone()
}

#[tokio::test]
async fn maintenance_mutes_a_rule_that_fires_once_it_is_switched_off() {
    let server = TestServer::spawn_env(TestEnv::new().await.set(WITHOUT_WORKERS, "1")).await;
    let mut events = server.state.services.alerting.bus().subscribe_own();
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Quiet", 1).await;
    let (other, _) = fleet(&server, &root, "Nosy", 0).await;
    let agent = &agents[0];
    agent.heartbeat(&heartbeat_body(&agent.hostname)).await;
    let rule = server
        .graphql_as(
            &admin,
            "mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }",
            json!({ "i": { "name": "CPU", "metric": "CPU", "operator": "GT", "threshold": 90, "severity": "CRITICAL", "cooldownMinutes": 5 } }),
        )
        .await;
    assert!(rule["data"]["createAlertRule"]["id"].is_string(), "{rule}");

    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&admin).await;
    ws.subscribe(
        "s",
        "subscription { machineStatusChanged { machineId status } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // Refusals first: they change nothing.
    let past = maintenance(
        &server,
        &admin,
        agent.machine_id,
        true,
        json!((Utc::now() - Duration::minutes(1)).to_rfc3339()),
        Value::Null,
    )
    .await;
    assert_eq!(error_code(&past), "BAD_USER_INPUT", "{past}");
    assert_eq!(past["errors"][0]["extensions"]["field"], "until", "{past}");
    let long = maintenance(
        &server,
        &admin,
        agent.machine_id,
        true,
        Value::Null,
        json!("x".repeat(501)),
    )
    .await;
    assert_eq!(long["errors"][0]["extensions"]["field"], "reason", "{long}");
    let theirs = maintenance(&server, &other, agent.machine_id, true, Value::Null, Value::Null).await;
    assert_eq!(error_code(&theirs), "NOT_FOUND", "{theirs}");

    let on = maintenance(
        &server,
        &admin,
        agent.machine_id,
        true,
        Value::Null,
        json!("disk swap"),
    )
    .await;
    assert_eq!(on["data"]["setMaintenanceMode"]["status"], "MAINTENANCE", "{on}");
    assert_eq!(on["data"]["setMaintenanceMode"]["maintenanceMode"], true);
    assert_eq!(next_status(&mut ws).await, "MAINTENANCE");

    // Over the threshold while muted: judged, nothing fires, twice.
    for cpu in [95.0, 97.0] {
        assert_eq!(agent.collect(metrics_sample(Utc::now(), cpu, 40.0)).await.0, 200);
        evaluate(&server, &mut events).await;
    }
    assert_eq!(fired_values(&server, &admin).await, json!([]));

    // Switched off: the next sample over the threshold fires at once.
    let off = maintenance(&server, &admin, agent.machine_id, false, Value::Null, Value::Null).await;
    assert_eq!(off["data"]["setMaintenanceMode"]["status"], "ONLINE", "{off}");
    assert_eq!(off["data"]["setMaintenanceMode"]["maintenanceMode"], false);
    assert_eq!(next_status(&mut ws).await, "ONLINE");
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 96.0, 40.0)).await.0, 200);
    evaluate(&server, &mut events).await;
    assert_eq!(
        fired_values(&server, &admin).await,
        json!([{ "node": { "triggeredValue": 96.0 } }])
    );

    let messages = activity_messages(&server, &admin).await;
    assert!(
        messages.iter().any(|m| m == "Mode maintenance activé"),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m == "Mode maintenance désactivé"),
        "{messages:?}"
    );
}

#[tokio::test]
async fn maintenance_ends_at_its_until_before_and_when_the_job_runs() {
    let server = TestServer::spawn_env(TestEnv::new().await.set(WITHOUT_WORKERS, "1")).await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Window", 2).await;
    for a in &agents {
        a.heartbeat(&heartbeat_body(&a.hostname)).await;
    }
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&admin).await;
    ws.subscribe(
        "s",
        "subscription { machineStatusChanged { machineId status } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let until = Utc::now() + Duration::hours(1);
    for a in &agents {
        let on = maintenance(
            &server,
            &admin,
            a.machine_id,
            true,
            json!(until.to_rfc3339()),
            json!("patch night"),
        )
        .await;
        assert_eq!(on["data"]["setMaintenanceMode"]["status"], "MAINTENANCE", "{on}");
        assert_eq!(next_status(&mut ws).await, "MAINTENANCE");
    }
    let overview = server
        .graphql_as(&admin, "{ overview { inMaintenance } }", json!({}))
        .await;
    assert_eq!(overview["data"]["overview"]["inMaintenance"], 2, "{overview}");

    // The hour passes for the first machine; the second stays silent.
    let db = &server.state.services.infra.db.conn;
    entities::machines::Entity::update_many()
        .col_expr(
            entities::machines::Column::MaintenanceUntil,
            Expr::value(Some(Utc::now() - Duration::seconds(1))),
        )
        .filter(entities::machines::Column::Id.eq(agents[0].machine_id))
        .exec(db)
        .await
        .unwrap();
    // Before any job: it already reads as over.
    let read = server
        .graphql_as(
            &admin,
            "query($id: ID!) { machine(id: $id) { status maintenanceMode } overview { inMaintenance } }",
            json!({ "id": agents[0].machine_id.to_string() }),
        )
        .await;
    assert_eq!(
        read["data"]["machine"],
        json!({ "status": "ONLINE", "maintenanceMode": false }),
        "{read}"
    );
    assert_eq!(read["data"]["overview"]["inMaintenance"], 1, "{read}");

    // The job closes it and says so, once.
    optralis::jobs::offline::tick(&server.state.services)
        .await
        .unwrap();
    optralis::jobs::offline::tick(&server.state.services)
        .await
        .unwrap();
    let frame = ws.recv().await;
    assert_eq!(
        frame["payload"]["data"]["machineStatusChanged"],
        json!({ "machineId": agents[0].machine_id.to_string(), "status": "ONLINE" }),
        "{frame}"
    );
    assert!(
        ws.try_recv(std::time::Duration::from_millis(300)).await.is_none(),
        "announced once"
    );
    let row = entities::machines::Entity::find_by_id(agents[0].machine_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            row.maintenance_mode,
            row.maintenance_until,
            row.maintenance_reason
        ),
        (false, None, None)
    );
    let still = entities::machines::Entity::find_by_id(agents[1].machine_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert!(still.maintenance_mode, "the other window is still open");
    let messages = activity_messages(&server, &admin).await;
    assert!(
        messages.iter().any(|m| m.starts_with("Fin du mode maintenance")),
        "{messages:?}"
    );
}

/// Rows of `E` about the machine.
async fn rows_of<E>(server: &TestServer, column: E::Column, machine: Uuid) -> u64
where
    E: EntityTrait,
    E::Model: Sync,
{
    E::find()
        .filter(column.eq(machine))
        .count(&server.state.services.infra.db.conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_deleted_machine_loses_its_data_and_its_agent_is_refused() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Gone", 2).await;
    let (other, _) = fleet(&server, &root, "Thief", 0).await;
    let (doomed, kept) = (&agents[0], &agents[1]);
    doomed.heartbeat(&heartbeat_body(&doomed.hostname)).await;
    for s in all_collectors(Utc::now()) {
        assert_eq!(doomed.collect(s).await.0, 200);
    }
    kept.collect(metrics_sample(Utc::now(), 10.0, 10.0)).await;
    let label = server
        .graphql_as(&admin, "mutation { createLabel(key: \"env\") { id } }", json!({}))
        .await["data"]["createLabel"]["id"]
        .clone();
    let tagged = server
        .graphql_as(
            &admin,
            "mutation($l: ID!, $m: [ID!]!) { assignLabel(labelId: $l, machineIds: $m, value: \"prod\") }",
            json!({ "l": label, "m": [doomed.machine_id.to_string()] }),
        )
        .await;
    assert_eq!(tagged["data"]["assignLabel"], true, "{tagged}");
    let id = doomed.machine_id;
    assert!(
        rows_of::<entities::metrics::Entity>(&server, entities::metrics::Column::MachineId, id).await > 0
    );
    assert!(
        rows_of::<entities::event_logs::Entity>(&server, entities::event_logs::Column::MachineId, id).await
            > 0
    );

    let delete = "mutation($id: ID!) { deleteMachine(id: $id) }";
    let theirs = server
        .graphql_as(&other, delete, json!({ "id": id.to_string() }))
        .await;
    assert_eq!(error_code(&theirs), "NOT_FOUND", "{theirs}");
    assert_eq!(
        doomed
            .post_heartbeat(&heartbeat_body(&doomed.hostname))
            .await
            .status(),
        200,
        "untouched by the refusal"
    );

    let done = server
        .graphql_as(&admin, delete, json!({ "id": id.to_string() }))
        .await;
    assert_eq!(done["data"]["deleteMachine"], true, "{done}");

    // The gateway refuses its certificate from the next request on.
    let beat = doomed
        .post_heartbeat(&heartbeat_body(&doomed.hostname))
        .await
        .status();
    assert!(beat == 401 || beat == 403, "heartbeat after deletion: {beat}");
    let (status, _) = doomed.collect(metrics_sample(Utc::now(), 1.0, 1.0)).await;
    assert!(status == 401 || status == 403, "collect after deletion: {status}");

    use entities::*;
    assert_eq!(
        rows_of::<metrics::Entity>(&server, metrics::Column::MachineId, id).await,
        0
    );
    assert_eq!(
        rows_of::<event_logs::Entity>(&server, event_logs::Column::MachineId, id).await,
        0
    );
    assert_eq!(
        rows_of::<disk_info::Entity>(&server, disk_info::Column::MachineId, id).await,
        0
    );
    assert_eq!(
        rows_of::<smart_data::Entity>(&server, smart_data::Column::MachineId, id).await,
        0
    );
    assert_eq!(
        rows_of::<machine_collector_data::Entity>(&server, machine_collector_data::Column::MachineId, id)
            .await,
        0
    );
    assert_eq!(
        rows_of::<machine_inventory::Entity>(&server, machine_inventory::Column::MachineId, id).await,
        0
    );
    assert_eq!(
        rows_of::<machine_labels::Entity>(&server, machine_labels::Column::MachineId, id).await,
        0
    );
    assert_eq!(
        rows_of::<client_certificates::Entity>(&server, client_certificates::Column::MachineId, id).await,
        0
    );
    let gone = server
        .graphql_as(
            &admin,
            "query($id: ID!) { machine(id: $id) { id } }",
            json!({ "id": id.to_string() }),
        )
        .await;
    assert_eq!(error_code(&gone), "NOT_FOUND", "{gone}");
    let left = server
        .graphql_as(&admin, "{ machines { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(
        left["data"]["machines"]["edges"],
        json!([{ "node": { "id": kept.machine_id.to_string() } }]),
        "{left}"
    );
    assert!(rows_of::<metrics::Entity>(&server, metrics::Column::MachineId, kept.machine_id).await > 0);
    assert_eq!(
        kept.post_heartbeat(&heartbeat_body(&kept.hostname))
            .await
            .status(),
        200
    );
    let again = server
        .graphql_as(&admin, delete, json!({ "id": id.to_string() }))
        .await;
    assert_eq!(error_code(&again), "NOT_FOUND", "{again}");
    let messages = activity_messages(&server, &admin).await;
    assert!(
        messages
            .iter()
            .any(|m| m == &format!("Machine supprimée : {}", doomed.hostname)),
        "{messages:?}"
    );
}

#[tokio::test]
async fn the_health_score_drops_with_bad_samples_and_rises_back() {
    use crate::collect::sample;
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Health", 1).await;
    let (other, _) = fleet(&server, &root, "Healthy", 0).await;
    let agent = &agents[0];
    agent.heartbeat(&heartbeat_body(&agent.hostname)).await;
    let read = || async {
        let body = server
            .graphql_as(
                &admin,
                "query($id: ID!) { machine(id: $id) { healthScore } overview { averageHealth } }",
                json!({ "id": agent.machine_id.to_string() }),
            )
            .await;
        let score = body["data"]["machine"]["healthScore"]
            .as_i64()
            .unwrap_or_else(|| panic!("{body}"));
        assert_eq!(body["data"]["overview"]["averageHealth"], score as f64, "{body}");
        score
    };
    let disk = |used: f64| {
        sample(
            "storage",
            Utc::now(),
            json!({ "disks": [{ "mount_point": "/", "device": "sda1", "fs_type": "ext4", "total_gb": 100.0, "used_gb": used }] }),
        )
    };
    let smart = |status: &str| {
        sample(
            "storage_health",
            Utc::now(),
            json!({ "disks": [{ "device": "sda", "smart_status": status }] }),
        )
    };
    assert_eq!(read().await, 100, "at enrolment");

    // The weights of `domain::fleet::health`: CPU ≥ 95 % costs 15, a
    // volume ≥ 95 % full 25, a failing disk 30.
    let steps = [
        (metrics_sample(Utc::now(), 97.0, 40.0), 85),
        (disk(97.0), 60),
        (smart("critical"), 30),
        (metrics_sample(Utc::now(), 10.0, 40.0), 45),
        (disk(50.0), 70),
        (smart("healthy"), 100),
    ];
    for (s, expected) in steps {
        let collector = s["collector"].clone();
        assert_eq!(agent.collect(s).await.0, 200);
        assert_eq!(read().await, expected, "after {collector}");
    }
    let theirs = server
        .graphql_as(&other, "{ overview { averageHealth totalMachines } }", json!({}))
        .await;
    assert_eq!(
        theirs["data"]["overview"],
        json!({ "averageHealth": 100.0, "totalMachines": 0 })
    );
}

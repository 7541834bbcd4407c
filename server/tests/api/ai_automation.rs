//! AI automation over GraphQL: routines and their scheduler, triggers on
//! real bus events, the overview, the AI configuration, delivery and the
//! 90-day purge. Tests that need a completed analysis are ignored until
//! `Analyses::run` lands (the service branch).

use crate::{
    alerting::{create_channel, WebhookSink},
    collect::metrics_sample,
    helpers::*,
};
use chrono::{Duration, Utc};
use entities::{ai_routine_history, ai_routines, ai_trigger_history, email_outbox};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

const CREATE_ROUTINE: &str = "mutation($i: AiRoutineInput!) { createAiRoutine(input: $i) { id name routineType schedule timezone enabled nextRunAt lastRunAt config { analysisType allMachines machines notifyChannels } } }";
const UPDATE_ROUTINE: &str =
    "mutation($id: ID!, $i: AiRoutineInput!) { updateAiRoutine(id: $id, input: $i) { id schedule enabled nextRunAt } }";
const CREATE_TRIGGER: &str = "mutation($i: AiTriggerInput!) { createAiTrigger(input: $i) { id name triggerType enabled conditions { healthScoreBelow offlineMinutes cpuAbove scoreDrop } actions { analysisType notifyChannels } } }";
const ROUTINE_HISTORY: &str =
    "query($id: ID!) { routineHistory(id: $id, first: 10) { startedAt completedAt status machinesAnalyzed issuesFound } }";
const TRIGGER_HISTORY: &str = "query($id: ID!) { triggerHistory(id: $id) { machineId machineHostname triggerReason status analysisId error } }";
const OVERVIEW: &str = "{ aiAutomation { routines { routine { id } lastHistory { status } } triggers { trigger { id } lastHistory { triggerReason } } routineStats { total enabled last24hRuns } triggerStats { total enabled last24hTriggers } } }";

fn created(v: &Value, field: &str) -> String {
    v["data"][field]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{field}: {v}"))
        .to_owned()
}

async fn routine(server: &TestServer, admin: &str, input: Value) -> String {
    let v = server
        .graphql_as(admin, CREATE_ROUTINE, json!({ "i": input }))
        .await;
    created(&v, "createAiRoutine")
}

/// Makes a routine due now, as the spec's forced run does.
async fn make_due(server: &TestServer, id: &str) {
    ai_routines::Entity::update_many()
        .col_expr(
            ai_routines::Column::NextRunAt,
            Expr::value(Some(Utc::now() - Duration::minutes(1))),
        )
        .filter(ai_routines::Column::Id.eq(id.parse::<Uuid>().unwrap()))
        .exec(&server.state.services.infra.db.conn)
        .await
        .unwrap();
}

async fn routine_row(server: &TestServer, id: &str) -> ai_routines::Model {
    ai_routines::Entity::find_by_id(id.parse::<Uuid>().unwrap())
        .one(&server.state.services.infra.db.conn)
        .await
        .unwrap()
        .unwrap()
}

/// Waits (up to 15 s) for `n` firings of the trigger, then returns them:
/// triggers run on the bus consumer, after the request that caused them.
async fn firings(server: &TestServer, admin: &str, trigger: &str, n: usize) -> Vec<Value> {
    let mut last = Vec::new();
    for _ in 0..150 {
        let v = server
            .graphql_as(admin, TRIGGER_HISTORY, json!({ "id": trigger }))
            .await;
        last = v["data"]["triggerHistory"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .clone();
        let settled = last.iter().all(|f| f["status"] != "running");
        if last.len() >= n && settled {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    last
}

#[tokio::test]
async fn routines_are_created_checked_and_kept_to_their_tenant() {
    let server = TestServer::spawn_env(TestEnv::new().await.set("ALLOW_PRIVATE_WEBHOOKS", "true")).await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet_on(&server, &root, "Routinely", "essentials", 2).await;
    let (other, other_agents) = fleet_on(&server, &root, "Elsewhere", "essentials", 1).await;
    let sink = WebhookSink::start(0).await;
    let channel = create_channel(
        &server,
        &admin,
        "Ops",
        "WEBHOOK_SLACK",
        &format!("{}/a", sink.url),
    )
    .await;
    let foreign_channel = create_channel(
        &server,
        &other,
        "Theirs",
        "WEBHOOK_SLACK",
        &format!("{}/b", sink.url),
    )
    .await;

    let made = server
        .graphql_as(
            &admin,
            CREATE_ROUTINE,
            json!({ "i": {
                "name": "Santé du matin", "routineType": "daily_health_score", "schedule": "0  8 * * *",
                "timezone": "Europe/Paris",
                "config": { "machines": [agents[0].machine_id, agents[0].machine_id], "notifyChannels": [channel] }
            } }),
        )
        .await;
    let r = &made["data"]["createAiRoutine"];
    assert_eq!(r["schedule"], "0 8 * * *", "{made}");
    assert_eq!(r["enabled"], true);
    assert_eq!(r["config"]["allMachines"], false);
    assert_eq!(r["config"]["machines"], json!([agents[0].machine_id.to_string()]));
    assert_eq!(r["config"]["notifyChannels"], json!([channel]));
    assert!(r["lastRunAt"].is_null());
    // 08:00 in Paris is 06:00 or 07:00 UTC.
    let next: chrono::DateTime<Utc> = r["nextRunAt"].as_str().unwrap().parse().unwrap();
    assert!(
        next > Utc::now() && next <= Utc::now() + Duration::days(1),
        "{next}"
    );
    assert!(
        matches!(next.format("%H:%M").to_string().as_str(), "06:00" | "07:00"),
        "{next}"
    );
    let id = created(&made, "createAiRoutine");

    for (input, field) in [
        (
            json!({ "routineType": "daily_health_score", "schedule": "every morning" }),
            "schedule",
        ),
        (
            json!({ "routineType": "daily_health_score", "schedule": "0 0 8 * * *" }),
            "schedule",
        ),
        (
            json!({ "routineType": "daily_health_score", "schedule": "0 25 * * *" }),
            "schedule",
        ),
        (
            json!({ "routineType": "daily_health_score", "schedule": "0 8 * * *", "timezone": "Mars/Olympus" }),
            "timezone",
        ),
        (
            json!({ "routineType": "hourly_horoscope", "schedule": "0 8 * * *" }),
            "routineType",
        ),
        (
            json!({ "routineType": "daily_report", "schedule": "0 8 * * *", "config": { "analysisType": "tarot" } }),
            "config.analysisType",
        ),
        (
            json!({ "routineType": "daily_report", "schedule": "0 8 * * *", "config": { "machines": [other_agents[0].machine_id] } }),
            "config.machines",
        ),
        (
            json!({ "routineType": "daily_report", "schedule": "0 8 * * *", "config": { "notifyChannels": [foreign_channel] } }),
            "config.notifyChannels",
        ),
        (
            json!({ "name": "x".repeat(101), "routineType": "daily_report", "schedule": "0 8 * * *" }),
            "name",
        ),
    ] {
        let bad = server
            .graphql_as(&admin, CREATE_ROUTINE, json!({ "i": input }))
            .await;
        assert_eq!(error_code(&bad), "BAD_USER_INPUT", "{bad}");
        assert_eq!(bad["errors"][0]["extensions"]["field"], field, "{bad}");
    }

    let updated = server
        .graphql_as(
            &admin,
            UPDATE_ROUTINE,
            json!({ "id": id, "i": { "routineType": "weekly_report", "schedule": "30 7 * * 1", "enabled": false } }),
        )
        .await;
    assert_eq!(
        updated["data"]["updateAiRoutine"]["schedule"], "30 7 * * 1",
        "{updated}"
    );
    assert_eq!(updated["data"]["updateAiRoutine"]["enabled"], false);
    let stats = server
        .graphql_as(
            &admin,
            "{ routineStats { total enabled last24hRuns } }",
            json!({}),
        )
        .await;
    assert_eq!(
        stats["data"]["routineStats"],
        json!({ "total": 1, "enabled": 0, "last24hRuns": 0 }),
        "{stats}"
    );

    // Another tenant sees nothing and reaches nothing.
    let theirs = server
        .graphql_as(&other, "{ aiRoutines { id } }", json!({}))
        .await;
    assert_eq!(theirs["data"]["aiRoutines"], json!([]), "{theirs}");
    for (query, vars) in [
        (
            "query($id: ID!) { aiRoutine(id: $id) { id } }",
            json!({ "id": id }),
        ),
        (ROUTINE_HISTORY, json!({ "id": id })),
        (
            UPDATE_ROUTINE,
            json!({ "id": id, "i": { "routineType": "daily_report", "schedule": "0 8 * * *" } }),
        ),
        (
            "mutation($id: ID!) { deleteAiRoutine(id: $id) }",
            json!({ "id": id }),
        ),
    ] {
        let refused = server.graphql_as(&other, query, vars).await;
        assert_eq!(error_code(&refused), "NOT_FOUND", "{query}: {refused}");
    }

    // An observer reads but does not write.
    let observer = observer_of(&server, &admin, "watcher@routinely.test").await;
    let read = server
        .graphql_as(&observer, "{ aiRoutines { id } }", json!({}))
        .await;
    assert_eq!(read["data"]["aiRoutines"][0]["id"], id.as_str(), "{read}");
    let refused = server
        .graphql_as(
            &observer,
            CREATE_ROUTINE,
            json!({ "i": { "routineType": "daily_report", "schedule": "0 8 * * *" } }),
        )
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");

    let deleted = server
        .graphql_as(
            &admin,
            "mutation($id: ID!) { deleteAiRoutine(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(deleted["data"]["deleteAiRoutine"], true, "{deleted}");
    let gone = server
        .graphql_as(
            &admin,
            "query($id: ID!) { aiRoutine(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&gone), "NOT_FOUND");
}

#[tokio::test]
async fn plans_below_essentials_have_no_automation_and_below_enterprise_no_ai_config() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    for licence in ["trial", "starter"] {
        let (_, _, admin) = tenant_on(&server, &root, &format!("Tiny{licence}"), licence).await;
        for query in [
            "{ aiRoutines { id } }",
            "{ aiAutomation { routineStats { total } } }",
            "{ triggerStats { total } }",
            "mutation { createAiRoutine(input: {routineType: \"daily_report\", schedule: \"0 8 * * *\"}) { id } }",
            "mutation { createAiTrigger(input: {triggerType: \"new_machine\", actions: {analysisType: \"health_score\"}}) { id } }",
        ] {
            let refused = server.graphql_as(&admin, query, json!({})).await;
            assert_eq!(error_code(&refused), "PREMIUM_REQUIRED", "{licence} {query}: {refused}");
            assert_eq!(refused["errors"][0]["extensions"]["requiredTier"], "ESSENTIALS");
        }
    }
    let (_, _, pro) = tenant_on(&server, &root, "Proish", "pro").await;
    for query in [
        "{ aiConfig { customContext } }",
        "mutation { analyzeAiConfig { customContext } }",
    ] {
        let refused = server.graphql_as(&pro, query, json!({})).await;
        assert_eq!(error_code(&refused), "PREMIUM_REQUIRED", "{query}: {refused}");
        assert_eq!(refused["errors"][0]["extensions"]["requiredTier"], "ENTERPRISE");
    }
}

#[tokio::test]
async fn the_scheduler_runs_a_due_routine_once_across_concurrent_ticks_and_moves_its_next_run() {
    let server = TestServer::spawn_env(TestEnv::new().await.set(WITHOUT_WORKERS, "1")).await;
    let root = server.admin_token().await;
    let (admin, _agents) = fleet_on(&server, &root, "Scheduled", "essentials", 2).await;
    let id = routine(
        &server,
        &admin,
        json!({ "routineType": "daily_health_score", "schedule": "0 8 * * *" }),
    )
    .await;
    let services = &server.state.services;

    // Not due yet: a tick leaves it.
    let pass = optralis::jobs::routines::tick(services).await.unwrap();
    assert!(pass.ran.is_empty(), "{pass:?}");

    make_due(&server, &id).await;
    let (a, b) = tokio::join!(
        optralis::jobs::routines::tick(services),
        optralis::jobs::routines::tick(services)
    );
    let ran = a.unwrap().ran.len() + b.unwrap().ran.len();
    assert_eq!(ran, 1, "one of the two ticks claims it");
    let row = routine_row(&server, &id).await;
    let next = row.next_run_at.expect("rescheduled");
    assert!(next > Utc::now(), "next_run_at moved past now: {next}");
    assert_eq!(next.format("%H:%M").to_string(), "08:00");
    assert!(row.last_run_at.is_some());
    let again = optralis::jobs::routines::tick(services).await.unwrap();
    assert!(again.ran.is_empty(), "not due again: {again:?}");

    let history = server
        .graphql_as(&admin, ROUTINE_HISTORY, json!({ "id": id }))
        .await;
    let runs = history["data"]["routineHistory"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"));
    assert_eq!(runs.len(), 1, "{history}");
    assert!(runs[0]["completedAt"].is_string(), "{history}");
    assert!(
        ["success", "partial", "failed"].contains(&runs[0]["status"].as_str().unwrap()),
        "{history}"
    );
    let stats = server
        .graphql_as(
            &admin,
            "{ routineStats { total enabled last24hRuns } }",
            json!({}),
        )
        .await;
    assert_eq!(
        stats["data"]["routineStats"],
        json!({ "total": 1, "enabled": 1, "last24hRuns": 1 }),
        "{stats}"
    );

    // A disabled routine, or one of a suspended tenant, is not run.
    make_due(&server, &id).await;
    let client_id = row.client_id;
    entities::clients::Entity::update_many()
        .col_expr(
            entities::clients::Column::LicenseStatus,
            Expr::value(entities::enums::LicenceStatus::Suspended),
        )
        .filter(entities::clients::Column::Id.eq(client_id))
        .exec(&services.infra.db.conn)
        .await
        .unwrap();
    assert!(optralis::jobs::routines::tick(services)
        .await
        .unwrap()
        .ran
        .is_empty());
    let runs = ai_routine_history::Entity::find()
        .filter(ai_routine_history::Column::ClientId.eq(client_id))
        .count(&services.infra.db.conn)
        .await
        .unwrap();
    assert_eq!(runs, 1);
}

#[tokio::test]
async fn a_routine_analyses_its_machines_and_tells_its_channel() {
    let server = TestServer::spawn_env(
        TestEnv::new()
            .await
            .set(WITHOUT_WORKERS, "1")
            .set("ALLOW_PRIVATE_WEBHOOKS", "true"),
    )
    .await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet_on(&server, &root, "Reported", "essentials", 2).await;
    for a in &agents {
        assert_eq!(a.collect(metrics_sample(Utc::now(), 35.0, 40.0)).await.0, 200);
    }
    let sink = WebhookSink::start(0).await;
    let channel = create_channel(
        &server,
        &admin,
        "Ops",
        "WEBHOOK_DISCORD",
        &format!("{}/hook", sink.url),
    )
    .await;
    let id = routine(
        &server,
        &admin,
        json!({ "name": "Rapport du matin", "routineType": "daily_report", "schedule": "0 8 * * *",
                "config": { "notifyChannels": [channel] } }),
    )
    .await;
    make_due(&server, &id).await;
    let pass = optralis::jobs::routines::tick(&server.state.services)
        .await
        .unwrap();
    assert_eq!(pass.ran.len(), 1);
    let history = server
        .graphql_as(&admin, ROUTINE_HISTORY, json!({ "id": id }))
        .await;
    let run = &history["data"]["routineHistory"][0];
    assert_eq!(run["status"], "success", "{history}");
    assert_eq!(run["machinesAnalyzed"], 2, "{history}");
    let queued = email_outbox::Entity::find()
        .filter(email_outbox::Column::Kind.eq("report_notification"))
        .all(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "one message to the one channel");
    crate::helpers::drive_outbox(&server, 1).await;
    let received = sink.wait_for(1).await;
    let body = received[0].1.to_string();
    assert!(
        body.contains("Rapport du matin") && body.contains("/reports/"),
        "{body}"
    );
}

#[tokio::test]
async fn triggers_fire_on_real_events_once_per_cooldown_and_show_in_the_overview() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_on(&server, &root, "Triggered", "essentials").await;
    let (other, _) = fleet_on(&server, &root, "Bystander", "essentials", 0).await;

    for (input, field) in [
        (
            json!({ "triggerType": "critical_machine", "actions": { "analysisType": "full" } }),
            "conditions",
        ),
        (
            json!({ "triggerType": "critical_machine", "conditions": { "cpuAbove": 150.0 }, "actions": { "analysisType": "full" } }),
            "conditions.cpuAbove",
        ),
        (
            json!({ "triggerType": "new_machine", "actions": { "analysisType": "nope" } }),
            "actions.analysisType",
        ),
        (
            json!({ "triggerType": "haunted_machine", "actions": { "analysisType": "full" } }),
            "triggerType",
        ),
    ] {
        let bad = server
            .graphql_as(&admin, CREATE_TRIGGER, json!({ "i": input }))
            .await;
        assert_eq!(bad["errors"][0]["extensions"]["field"], field, "{bad}");
    }
    let new_machine = created(
        &server
            .graphql_as(
                &admin,
                CREATE_TRIGGER,
                json!({ "i": { "name": "Nouvelle machine", "triggerType": "new_machine", "actions": { "analysisType": "health_score" } } }),
            )
            .await,
        "createAiTrigger",
    );
    let made = server
        .graphql_as(
            &admin,
            CREATE_TRIGGER,
            json!({ "i": { "triggerType": "critical_machine",
                           "conditions": { "cpuAbove": 95.0, "healthScoreBelow": 50 },
                           "actions": { "analysisType": "full" } } }),
        )
        .await;
    let t = &made["data"]["createAiTrigger"];
    assert_eq!(
        t["conditions"],
        json!({ "healthScoreBelow": 50, "offlineMinutes": null, "cpuAbove": 95.0, "scoreDrop": null }),
        "{made}"
    );
    let critical = created(&made, "createAiTrigger");

    // Enrolment through the gateway is the new_machine event.
    let token = install_token(&server, &admin, json!({})).await;
    let agent = TestAgent::enrol(&server, &token, "srv-prod-07", "HW-T-1").await;
    let fired = firings(&server, &admin, &new_machine, 1).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert_eq!(fired[0]["machineId"], agent.machine_id.to_string());
    assert_eq!(fired[0]["machineHostname"], "srv-prod-07");
    assert_eq!(fired[0]["triggerReason"], "New machine enrolled");
    assert!(
        ["success", "refused", "failed"].contains(&fired[0]["status"].as_str().unwrap()),
        "{fired:?}"
    );

    // A calm sample does nothing; two hot ones fire once (the cooldown of
    // a full analysis is two hours).
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 20.0, 30.0)).await.0, 200);
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 99.0, 30.0)).await.0, 200);
    let fired = firings(&server, &admin, &critical, 1).await;
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(
        fired[0]["triggerReason"]
            .as_str()
            .unwrap()
            .starts_with("CPU 99.0%"),
        "{fired:?}"
    );
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 98.0, 30.0)).await.0, 200);
    // Events are evaluated in order: once a later enrolment has fired, the
    // second hot sample has been evaluated, and fired nothing.
    TestAgent::enrol(&server, &token, "pc-marker", "HW-T-2").await;
    assert_eq!(firings(&server, &admin, &new_machine, 2).await.len(), 2);
    let fired = firings(&server, &admin, &critical, 1).await;
    assert_eq!(fired.len(), 1, "{fired:?}");

    let overview = server.graphql_as(&admin, OVERVIEW, json!({})).await;
    let o = &overview["data"]["aiAutomation"];
    assert_eq!(
        o["triggerStats"],
        json!({ "total": 2, "enabled": 2, "last24hTriggers": 3 }),
        "{overview}"
    );
    assert_eq!(
        o["routineStats"],
        json!({ "total": 0, "enabled": 0, "last24hRuns": 0 })
    );
    let triggers = o["triggers"].as_array().unwrap();
    assert_eq!(triggers.len(), 2);
    assert_eq!(triggers[0]["trigger"]["id"], new_machine.as_str());
    assert_eq!(
        triggers[0]["lastHistory"]["triggerReason"],
        "New machine enrolled"
    );
    assert!(triggers[1]["lastHistory"]["triggerReason"]
        .as_str()
        .unwrap()
        .starts_with("CPU"));

    // The other tenant sees none of it.
    let theirs = server.graphql_as(&other, OVERVIEW, json!({})).await;
    assert_eq!(theirs["data"]["aiAutomation"]["triggers"], json!([]), "{theirs}");
    let refused = server
        .graphql_as(&other, TRIGGER_HISTORY, json!({ "id": critical }))
        .await;
    assert_eq!(error_code(&refused), "NOT_FOUND", "{refused}");

    // A disabled trigger stays silent.
    let disabled = server
        .graphql_as(
            &admin,
            "mutation($id: ID!, $i: AiTriggerInput!) { updateAiTrigger(id: $id, input: $i) { enabled } }",
            json!({ "id": new_machine, "i": { "triggerType": "new_machine", "enabled": false, "actions": { "analysisType": "health_score" } } }),
        )
        .await;
    assert_eq!(
        disabled["data"]["updateAiTrigger"]["enabled"], false,
        "{disabled}"
    );
}

#[tokio::test]
async fn a_trigger_records_the_analysis_it_ran() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_on(&server, &root, "Analysed", "essentials").await;
    let trigger = created(
        &server
            .graphql_as(
                &admin,
                CREATE_TRIGGER,
                json!({ "i": { "triggerType": "new_machine", "actions": { "analysisType": "health_score" } } }),
            )
            .await,
        "createAiTrigger",
    );
    let token = install_token(&server, &admin, json!({})).await;
    TestAgent::enrol(&server, &token, "pc-01", "HW-A-1").await;
    let fired = firings(&server, &admin, &trigger, 1).await;
    assert_eq!(fired[0]["status"], "success", "{fired:?}");
    assert!(fired[0]["analysisId"].is_string(), "{fired:?}");
}

#[tokio::test]
async fn ai_config_detects_criticality_from_hostnames_and_keeps_manual_choices() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (bigco, _, admin) = tenant_on(&server, &root, "Bigco", "enterprise").await;
    let token = install_token(&server, &admin, json!({})).await;
    let mut ids = std::collections::HashMap::new();
    for (i, host) in ["SRV-PROD-01", "web-front", "uat-app", "laptop-julie", "sql-dev"]
        .iter()
        .enumerate()
    {
        let a = TestAgent::enrol(&server, &token, host, &format!("HW-C-{i}")).await;
        ids.insert(*host, a.machine_id.to_string());
    }
    const READ: &str = "{ machines { machineId hostname criticality source reason } customContext }";
    let detected = server
        .graphql_as(
            &admin,
            &format!("mutation {{ analyzeAiConfig {READ} }}"),
            json!({}),
        )
        .await;
    let machines = detected["data"]["analyzeAiConfig"]["machines"]
        .as_array()
        .unwrap_or_else(|| panic!("{detected}"))
        .clone();
    let by_host = |list: &[Value], host: &str| list.iter().find(|m| m["hostname"] == host).cloned();
    assert_eq!(machines.len(), 4, "laptop-julie matches no pattern: {detected}");
    assert_eq!(
        by_host(&machines, "SRV-PROD-01").unwrap()["criticality"],
        "CRITICAL"
    );
    assert_eq!(by_host(&machines, "sql-dev").unwrap()["criticality"], "CRITICAL");
    assert_eq!(
        by_host(&machines, "web-front").unwrap()["criticality"],
        "IMPORTANT"
    );
    let uat = by_host(&machines, "uat-app").unwrap();
    assert_eq!(
        (uat["criticality"].as_str(), uat["source"].as_str()),
        (Some("STANDARD"), Some("auto"))
    );
    assert!(by_host(&machines, "laptop-julie").is_none());

    let update = format!("mutation($i: AiConfigInput!) {{ updateAiConfig(input: $i) {READ} }}");
    let set = server
        .graphql_as(
            &admin,
            &update,
            json!({ "i": { "customContext": "Entrepôt logistique, pics le lundi.",
                           "machines": [{ "machineId": ids["uat-app"], "criticality": "CRITICAL" }] } }),
        )
        .await;
    assert_eq!(
        set["data"]["updateAiConfig"]["customContext"], "Entrepôt logistique, pics le lundi.",
        "{set}"
    );
    let again = server
        .graphql_as(
            &admin,
            &format!("mutation {{ analyzeAiConfig {READ} }}"),
            json!({}),
        )
        .await;
    let machines = again["data"]["analyzeAiConfig"]["machines"]
        .as_array()
        .unwrap()
        .clone();
    let uat = by_host(&machines, "uat-app").unwrap();
    assert_eq!(
        (uat["criticality"].as_str(), uat["source"].as_str()),
        (Some("CRITICAL"), Some("manual")),
        "manual kept"
    );

    let services = &server.state.services;
    let licence = services.licensing.of(bigco.parse().unwrap()).await.unwrap();
    let context = services
        .ai_config
        .narration_context(&licence, bigco.parse().unwrap(), ids["uat-app"].parse().unwrap())
        .await
        .unwrap();
    assert_eq!(context.criticality.as_deref(), Some("critical"));
    assert_eq!(
        context.custom_context.as_deref(),
        Some("Entrepôt logistique, pics le lundi.")
    );

    let long = server
        .graphql_as(
            &admin,
            &update,
            json!({ "i": { "customContext": "x".repeat(2001) } }),
        )
        .await;
    assert_eq!(
        long["errors"][0]["extensions"]["field"], "customContext",
        "{long}"
    );
    let (other, other_agents) = fleet_on(&server, &root, "Rivalco", "enterprise", 1).await;
    let foreign = server
        .graphql_as(
            &admin,
            &update,
            json!({ "i": { "machines": [{ "machineId": other_agents[0].machine_id, "criticality": "STANDARD" }] } }),
        )
        .await;
    assert_eq!(
        foreign["errors"][0]["extensions"]["field"], "machines",
        "{foreign}"
    );
    let theirs = server
        .graphql_as(&other, &format!("{{ aiConfig {READ} }}"), json!({}))
        .await;
    assert_eq!(
        theirs["data"]["aiConfig"],
        json!({ "machines": [], "customContext": "" }),
        "{theirs}"
    );
    let observer = observer_of(&server, &admin, "eyes@bigco.test").await;
    let refused = server
        .graphql_as(
            &observer,
            &format!("mutation {{ analyzeAiConfig {READ} }}"),
            json!({}),
        )
        .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
}

#[tokio::test]
async fn routine_and_trigger_history_is_purged_after_ninety_days() {
    let server = TestServer::spawn_env(TestEnv::new().await.set(WITHOUT_WORKERS, "1")).await;
    let root = server.admin_token().await;
    let (admin, _) = fleet_on(&server, &root, "Purged", "essentials", 0).await;
    let routine_id: Uuid = routine(
        &server,
        &admin,
        json!({ "routineType": "daily_report", "schedule": "0 8 * * *" }),
    )
    .await
    .parse()
    .unwrap();
    let trigger_id: Uuid = created(
        &server
            .graphql_as(
                &admin,
                CREATE_TRIGGER,
                json!({ "i": { "triggerType": "new_machine", "actions": { "analysisType": "health_score" } } }),
            )
            .await,
        "createAiTrigger",
    )
    .parse()
    .unwrap();
    let client_id = routine_row(&server, &routine_id.to_string()).await.client_id;
    let db = &server.state.services.infra.db;
    for days in [91, 89] {
        let at = Utc::now() - Duration::days(days);
        ai_routine_history::Entity::insert(ai_routine_history::ActiveModel {
            id: sea_orm::Set(Uuid::now_v7()),
            routine_id: sea_orm::Set(routine_id),
            client_id: sea_orm::Set(client_id),
            started_at: sea_orm::Set(at),
            completed_at: sea_orm::Set(Some(at)),
            status: sea_orm::Set("success".into()),
            machines_analyzed: sea_orm::Set(1),
            issues_found: sea_orm::Set(0),
            error: sea_orm::Set(None),
        })
        .exec(&db.conn)
        .await
        .unwrap();
        ai_trigger_history::Entity::insert(ai_trigger_history::ActiveModel {
            id: sea_orm::Set(Uuid::now_v7()),
            trigger_id: sea_orm::Set(trigger_id),
            client_id: sea_orm::Set(client_id),
            triggered_at: sea_orm::Set(at),
            machine_id: sea_orm::Set(None),
            machine_hostname: sea_orm::Set("gone".into()),
            trigger_reason: sea_orm::Set("New machine enrolled".into()),
            analysis_id: sea_orm::Set(None),
            status: sea_orm::Set("success".into()),
            error: sea_orm::Set(None),
        })
        .exec(&db.conn)
        .await
        .unwrap();
    }
    optralis::jobs::cleanup::purge(db, server.timescaledb())
        .await
        .unwrap();
    let left_runs = ai_routine_history::Entity::find().all(&db.conn).await.unwrap();
    let left_firings = ai_trigger_history::Entity::find().all(&db.conn).await.unwrap();
    assert_eq!(left_runs.len(), 1);
    assert_eq!(left_firings.len(), 1);
    let kept = Utc::now() - Duration::days(90);
    assert!(left_runs[0].started_at > kept && left_firings[0].triggered_at > kept);
}

#[tokio::test]
async fn health_score_changes_on_ingest_fire_degradation_and_critical_triggers() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_on(&server, &root, "Degrading", "essentials").await;
    let trigger = |input: Value| {
        let server = &server;
        let admin = admin.clone();
        async move {
            created(
                &server
                    .graphql_as(&admin, CREATE_TRIGGER, json!({ "i": input }))
                    .await,
                "createAiTrigger",
            )
        }
    };
    let degradation = trigger(
        json!({ "triggerType": "degradation", "conditions": { "scoreDrop": 20 },
                                      "actions": { "analysisType": "health_score" } }),
    )
    .await;
    let critical = trigger(
        json!({ "triggerType": "critical_machine", "conditions": { "healthScoreBelow": 50 },
                                   "actions": { "analysisType": "health_score" } }),
    )
    .await;
    let token = install_token(&server, &admin, json!({})).await;
    let agent = TestAgent::enrol(&server, &token, "erp-01", "HW-D-1").await;

    // CPU and RAM at 99 % cost the score 30 points: a degradation, not yet
    // below 50.
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 99.0, 99.0)).await.0, 200);
    let fell = firings(&server, &admin, &degradation, 1).await;
    assert_eq!(fell.len(), 1, "{fell:?}");
    assert!(
        fell[0]["triggerReason"]
            .as_str()
            .unwrap()
            .starts_with("Health score fell from"),
        "{fell:?}"
    );
    // A full disk takes it below 50.
    let full_disk = json!({ "collector": "storage", "collected_at": Utc::now().to_rfc3339(),
                            "data": { "disks": [{ "mount_point": "/", "total_gb": 100.0, "used_gb": 99.0 }] } });
    assert_eq!(agent.collect(full_disk).await.0, 200);
    let below = firings(&server, &admin, &critical, 1).await;
    assert_eq!(below.len(), 1, "{below:?}");
    let reason = below[0]["triggerReason"].as_str().unwrap();
    assert!(
        reason.starts_with("Health score") && reason.ends_with("below 50"),
        "{reason}"
    );
    assert_eq!(below[0]["machineHostname"], "erp-01");
    // The disk sample also dropped the score 25 points, but the older
    // degradation trigger, evaluated first on that event, is in its
    // cooldown: it did not fire again.
    assert_eq!(firings(&server, &admin, &degradation, 1).await.len(), 1);
}

//! Analyses through GraphQL and REST: the spec's protections in order
//! (plan, cooldown, new data, significant change, quota), each with its
//! own code; tenant isolation; the HTML report; the live event; the
//! quota override; retention.

use crate::{
    collect::{metrics_sample, sample},
    helpers::{error_code, fleet, fleet_on, observer_of, TestServer, WsClient},
};
use chrono::{DateTime, Duration, SubsecRound, Utc};
use entities::ai_analysis_results;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

const RUN: &str = "mutation($m: ID!, $t: AnalysisType!) { runAnalysis(machineId: $m, type: $t) { id overallScore categoryScores { cpu ram disk security stability } trend riskLevel summary narrator type language topIssues { title } } }";

async fn run(server: &TestServer, token: &str, machine: Uuid, kind: &str) -> Value {
    server
        .graphql_as(token, RUN, json!({ "m": machine.to_string(), "t": kind }))
        .await
}

fn ext(answer: &Value) -> &Value {
    &answer["errors"][0]["extensions"]
}

async fn client_id(server: &TestServer, token: &str) -> String {
    let me = server
        .graphql_as(token, "{ myLicense { license { clientId } } }", json!({}))
        .await;
    me["data"]["myLicense"]["license"]["clientId"]
        .as_str()
        .unwrap_or_else(|| panic!("myLicense: {me}"))
        .to_owned()
}

async fn set_quota(server: &TestServer, root: &str, client: &str, limit: Value) -> Value {
    server
        .graphql_as(
            root,
            "mutation($c: ID!, $l: Int) { setAiQuota(clientId: $c, monthlyLimit: $l) { monthlyLimit used remaining month } }",
            json!({ "c": client, "l": limit }),
        )
        .await
}

/// Moves every stored analysis of `machine` back by `by`, as if it had
/// run that much earlier (the server runs on the wall clock).
async fn age_analyses(server: &TestServer, machine: Uuid, by: Duration) {
    ai_analysis_results::Entity::update_many()
        .col_expr(
            ai_analysis_results::Column::CreatedAt,
            Expr::value((Utc::now() - by).trunc_subsecs(6)),
        )
        .filter(ai_analysis_results::Column::MachineId.eq(machine))
        .exec(&server.state.services.infra.db.conn)
        .await
        .unwrap();
}

fn event_logs(at: DateTime<Utc>, level: &str, n: usize) -> Value {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({ "log_name": "System", "source": "Disk", "event_id": 7 + i as i64, "level": level,
                    "message": "The device has a bad block.", "recorded_at": (at - Duration::seconds(i as i64)).to_rfc3339() })
        })
        .collect();
    sample(
        "security",
        at,
        json!({ "firewall_enabled": true, "event_logs": events }),
    )
}

#[tokio::test]
async fn the_protections_answer_in_the_spec_s_order_with_their_own_codes() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Ana", 1).await;
    let agent = &agents[0];
    let m = agent.machine_id;
    assert_eq!(
        agent
            .collect(metrics_sample(Utc::now() - Duration::minutes(3), 20.0, 50.0))
            .await
            .0,
        200
    );

    // The contract: a health score with its categories, written by our
    // templates without a key.
    let first = run(&server, &admin, m, "HEALTH_SCORE").await;
    let a = &first["data"]["runAnalysis"];
    assert!(a["id"].is_string(), "{first}");
    for field in ["overallScore", "categoryScores", "trend", "riskLevel", "summary"] {
        assert!(!a[field].is_null(), "{field} in {first}");
    }
    assert_eq!(a["narrator"], "BUILTIN");
    assert_eq!(a["type"], "HEALTH_SCORE");
    assert_eq!(a["language"], "FR", "the tenant's language by default");

    // 1. Cooldown: 30 minutes for a health score.
    let again = run(&server, &admin, m, "HEALTH_SCORE").await;
    assert_eq!(error_code(&again), "COOLDOWN", "{again}");
    let remaining = ext(&again)["remainingSecs"].as_u64().unwrap();
    assert!((1_700..=1_800).contains(&remaining), "{again}");
    let next = ext(&again)["nextAvailable"].as_str().unwrap();
    let next = DateTime::parse_from_rfc3339(next).unwrap();
    assert!(next > Utc::now() + Duration::minutes(25), "{again}");

    // 2. Past the cooldown, nothing new collected.
    age_analyses(&server, m, Duration::minutes(31)).await;
    let stale = run(&server, &admin, m, "HEALTH_SCORE").await;
    assert_eq!(error_code(&stale), "NO_NEW_DATA", "{stale}");
    assert!(
        DateTime::parse_from_rfc3339(ext(&stale)["lastAnalysis"].as_str().unwrap()).is_ok(),
        "{stale}"
    );

    // 3. New data, but nothing moved 15 points: the last issues stand.
    let sample_at = Utc::now() - Duration::minutes(2);
    assert_eq!(agent.collect(metrics_sample(sample_at, 22.0, 51.0)).await.0, 200);
    let same = run(&server, &admin, m, "HEALTH_SCORE").await;
    assert_eq!(error_code(&same), "NO_SIGNIFICANT_CHANGES", "{same}");
    assert!(ext(&same)["previousIssues"].is_array(), "{same}");
    assert!(ext(&same)["lastAnalysis"].is_string(), "{same}");

    // Two ERROR events are not enough; a third is.
    let logs_at = Utc::now() - Duration::seconds(90);
    assert_eq!(agent.collect(event_logs(logs_at, "error", 2)).await.0, 200);
    let two = run(&server, &admin, m, "HEALTH_SCORE").await;
    assert_eq!(error_code(&two), "NO_SIGNIFICANT_CHANGES", "{two}");
    let third_at = Utc::now() - Duration::seconds(60);
    assert_eq!(agent.collect(event_logs(third_at, "error", 1)).await.0, 200);
    let rerun = run(&server, &admin, m, "HEALTH_SCORE").await;
    assert!(rerun["errors"].is_null(), "{rerun}");

    // A CPU move of 15 points or more is significant too.
    age_analyses(&server, m, Duration::minutes(31)).await;
    assert_eq!(
        agent
            .collect(metrics_sample(Utc::now() - Duration::seconds(30), 99.0, 51.0))
            .await
            .0,
        200
    );
    let moved = run(&server, &admin, m, "HEALTH_SCORE").await;
    assert!(moved["errors"].is_null(), "{moved}");

    // Every completed run was counted once.
    let quota = server
        .graphql_as(
            &admin,
            "{ aiQuota { monthlyLimit used remaining month } }",
            json!({}),
        )
        .await;
    assert_eq!(quota["data"]["aiQuota"]["used"], 3, "refusals are free: {quota}");
    assert_eq!(quota["data"]["aiQuota"]["monthlyLimit"], 1500, "the Pro plan's");
    assert_eq!(quota["data"]["aiQuota"]["remaining"], 1497);
    assert_eq!(
        quota["data"]["aiQuota"]["month"],
        Utc::now().format("%Y-%m").to_string()
    );

    // 4. Quota: the super_admin's override, then back to the plan's.
    let client = client_id(&server, &admin).await;
    let set = set_quota(&server, &root, &client, json!(4)).await;
    assert_eq!(
        set["data"]["setAiQuota"],
        json!({ "monthlyLimit": 4, "used": 3, "remaining": 1, "month": Utc::now().format("%Y-%m").to_string() }),
        "{set}"
    );
    // FULL costs 3: one unit left is not enough.
    let full = run(&server, &admin, m, "FULL").await;
    assert_eq!(error_code(&full), "QUOTA_EXCEEDED", "{full}");
    assert_eq!(ext(&full)["limit"], 4);
    let logs = run(&server, &admin, m, "LOGS").await;
    assert!(logs["errors"].is_null(), "the last unit fits a LOGS run: {logs}");
    let trends = run(&server, &admin, m, "TRENDS").await;
    assert_eq!(error_code(&trends), "QUOTA_EXCEEDED", "{trends}");
    let reset = set_quota(&server, &root, &client, Value::Null).await;
    assert_eq!(reset["data"]["setAiQuota"]["monthlyLimit"], 1500, "{reset}");
    let full = run(&server, &admin, m, "FULL").await;
    assert!(full["errors"].is_null(), "{full}");

    // The history, newest first, by machine and type, in pages.
    let list = server
        .graphql_as(
            &admin,
            "query($m: ID!) { analyses(machineId: $m, type: HEALTH_SCORE, first: 2) { edges { cursor node { id type } } pageInfo { hasNextPage endCursor } } }",
            json!({ "m": m.to_string() }),
        )
        .await;
    let page = &list["data"]["analyses"];
    assert_eq!(page["edges"].as_array().unwrap().len(), 2, "{list}");
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["edges"][0]["node"]["id"], moved["data"]["runAnalysis"]["id"]);
    let rest = server
        .graphql_as(
            &admin,
            "query($m: ID!, $a: String) { analyses(machineId: $m, type: HEALTH_SCORE, first: 2, after: $a) { edges { node { id } } pageInfo { hasNextPage } } }",
            json!({ "m": m.to_string(), "a": page["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        rest["data"]["analyses"]["edges"][0]["node"]["id"], first["data"]["runAnalysis"]["id"],
        "{rest}"
    );
    assert_eq!(rest["data"]["analyses"]["pageInfo"]["hasNextPage"], false);
}

#[tokio::test]
async fn advanced_types_need_the_pro_plan_before_any_other_check() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet_on(&server, &root, "Small", "starter", 1).await;
    let m = agents[0].machine_id;
    for kind in [
        "DEGRADATION",
        "INTERMITTENT",
        "CORRELATE",
        "PREDICTIVE_MAINTENANCE",
    ] {
        let refused = run(&server, &admin, m, kind).await;
        assert_eq!(error_code(&refused), "PREMIUM_REQUIRED", "{kind}: {refused}");
        assert_eq!(ext(&refused)["requiredTier"], "PRO");
    }
    // A standard type runs on a Starter plan.
    let health = run(&server, &admin, m, "HEALTH_SCORE").await;
    assert!(health["errors"].is_null(), "{health}");

    // A tenant moved down from Pro hears about its plan, not about the
    // cooldown its last advanced run started.
    let (pro, agents) = fleet(&server, &root, "Shrunk", 1).await;
    let m = agents[0].machine_id;
    let done = run(&server, &pro, m, "DEGRADATION").await;
    assert!(done["errors"].is_null(), "{done}");
    let cooling = run(&server, &pro, m, "DEGRADATION").await;
    assert_eq!(error_code(&cooling), "COOLDOWN", "{cooling}");
    let client = client_id(&server, &pro).await;
    entities::clients::Entity::update_many()
        .col_expr(entities::clients::Column::LicenseType, Expr::value("starter"))
        .filter(entities::clients::Column::Id.eq(Uuid::parse_str(&client).unwrap()))
        .exec(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    let refused = run(&server, &pro, m, "DEGRADATION").await;
    assert_eq!(error_code(&refused), "PREMIUM_REQUIRED", "{refused}");
}

#[tokio::test]
async fn another_tenant_s_machines_analyses_and_reports_are_not_found() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (alpha, agents) = fleet(&server, &root, "Alpha", 1).await;
    let (beta, _) = fleet(&server, &root, "Beta", 1).await;
    let m = agents[0].machine_id;
    agents[0]
        .collect(metrics_sample(Utc::now() - Duration::minutes(1), 30.0, 40.0))
        .await;

    let refused = run(&server, &beta, m, "HEALTH_SCORE").await;
    assert_eq!(error_code(&refused), "NOT_FOUND", "{refused}");

    let report = run(&server, &alpha, m, "REPORTS").await;
    let id = report["data"]["runAnalysis"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{report}"))
        .to_owned();
    for query in [
        "query($id: ID!) { analysis(id: $id) { id } }",
        "query($id: ID!) { aiReport(id: $id) { id } }",
    ] {
        let other = server.graphql_as(&beta, query, json!({ "id": id })).await;
        assert_eq!(error_code(&other), "NOT_FOUND", "{other}");
        let own = server.graphql_as(&alpha, query, json!({ "id": id })).await;
        assert!(own["errors"].is_null(), "{own}");
    }
    let lists = server
        .graphql_as(
            &beta,
            "query($m: ID!) { analyses(machineId: $m) { edges { node { id } } } aiReports { edges { node { id } } } }",
            json!({ "m": m.to_string() }),
        )
        .await;
    assert_eq!(lists["data"]["analyses"]["edges"], json!([]), "{lists}");
    assert_eq!(lists["data"]["aiReports"]["edges"], json!([]));
    let own = server
        .graphql_as(&alpha, "{ aiReports { edges { node { id type } } } }", json!({}))
        .await;
    assert_eq!(
        own["data"]["aiReports"]["edges"],
        json!([{ "node": { "id": id, "type": "REPORTS" } }]),
        "{own}"
    );

    // The HTML download: the tenant's own, styled and self-contained.
    let url = server.url(&format!("/api/reports/{id}.html"));
    let resp = server.http.get(&url).bearer_auth(&alpha).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = resp.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<style>"));
    assert!(html.contains(&agents[0].hostname), "the machine's name");
    // Another tenant's id, an unknown one and no credentials.
    let resp = server.http.get(&url).bearer_auth(&beta).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "NOT_FOUND");
    let unknown = server.url(&format!("/api/reports/{}.html", Uuid::now_v7()));
    let resp = server
        .http
        .get(&unknown)
        .bearer_auth(&alpha)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = server.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn only_the_super_admin_sets_a_quota_and_only_admins_run() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Guard", 1).await;
    let client = client_id(&server, &admin).await;
    let refused = set_quota(&server, &admin, &client, json!(1_000_000)).await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    let invalid = set_quota(&server, &root, &client, json!(-1)).await;
    assert_eq!(error_code(&invalid), "BAD_USER_INPUT", "{invalid}");
    let unknown = set_quota(&server, &root, &Uuid::now_v7().to_string(), json!(5)).await;
    assert_eq!(error_code(&unknown), "NOT_FOUND", "{unknown}");

    // An observer reads, an admin runs.
    let observer = observer_of(&server, &admin, "watcher@guard.test").await;
    let run_refused = run(&server, &observer, agents[0].machine_id, "HEALTH_SCORE").await;
    assert_eq!(error_code(&run_refused), "FORBIDDEN", "{run_refused}");
    let read = server
        .graphql_as(
            &observer,
            "{ aiQuota { used } analyses { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(read["errors"].is_null(), "{read}");

    // The tenant admin reads the quota the super_admin set.
    set_quota(&server, &root, &client, json!(7)).await;
    let quota = server
        .graphql_as(&admin, "{ aiQuota { monthlyLimit used remaining } }", json!({}))
        .await;
    assert_eq!(
        quota["data"]["aiQuota"],
        json!({ "monthlyLimit": 7, "used": 0, "remaining": 7 }),
        "{quota}"
    );
    let licence = server
        .graphql_as(&admin, "{ myLicense { license { aiQuotaMonthly } } }", json!({}))
        .await;
    assert_eq!(licence["data"]["myLicense"]["license"]["aiQuotaMonthly"], 7);
}

#[tokio::test]
async fn concurrent_runs_take_neither_the_same_cooldown_nor_the_last_unit_twice() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Race", 2).await;
    for agent in &agents {
        agent
            .collect(metrics_sample(Utc::now() - Duration::minutes(1), 30.0, 40.0))
            .await;
    }
    let (m0, m1) = (agents[0].machine_id, agents[1].machine_id);

    // The same machine and type at once: one runs, the other waits.
    let (a, b) = tokio::join!(
        run(&server, &admin, m0, "ANOMALIES"),
        run(&server, &admin, m0, "ANOMALIES")
    );
    let codes = [error_code(&a), error_code(&b)];
    assert_eq!(codes.iter().filter(|c| **c == "<none>").count(), 1, "{a} {b}");
    assert!(codes.contains(&"COOLDOWN"), "{a} {b}");

    // One unit left, two machines at once: one runs, the other is refused.
    let client = client_id(&server, &admin).await;
    set_quota(&server, &root, &client, json!(2)).await;
    let (a, b) = tokio::join!(run(&server, &admin, m0, "LOGS"), run(&server, &admin, m1, "LOGS"));
    let codes = [error_code(&a), error_code(&b)];
    assert_eq!(codes.iter().filter(|c| **c == "<none>").count(), 1, "{a} {b}");
    assert!(codes.contains(&"QUOTA_EXCEEDED"), "{a} {b}");
    let quota = server
        .graphql_as(&admin, "{ aiQuota { used remaining } }", json!({}))
        .await;
    assert_eq!(
        quota["data"]["aiQuota"],
        json!({ "used": 2, "remaining": 0 }),
        "{quota}"
    );
}

#[tokio::test]
async fn completed_analyses_reach_the_tenant_s_subscribers_only() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Live", 1).await;
    let (other, _) = fleet(&server, &root, "Elsewhere", 1).await;
    let query =
        "subscription { analysisCompleted { analysisId machineId hostname analysisType origin summary } }";
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&admin).await;
    ws.subscribe("a", query, json!({})).await;
    let mut foreign = WsClient::connect(&server.ws_url()).await;
    foreign.init_with(&other).await;
    foreign.subscribe("b", query, json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let done = run(&server, &admin, agents[0].machine_id, "HEALTH_SCORE").await;
    let id = done["data"]["runAnalysis"]["id"].clone();
    let event = ws.recv().await;
    let got = &event["payload"]["data"]["analysisCompleted"];
    assert_eq!(got["analysisId"], id, "{event}");
    assert_eq!(got["machineId"], agents[0].machine_id.to_string());
    assert_eq!(got["hostname"], agents[0].hostname.as_str());
    assert_eq!(got["analysisType"], "health_score");
    assert_eq!(got["origin"], "manual");
    assert!(
        foreign
            .try_recv(std::time::Duration::from_millis(300))
            .await
            .is_none(),
        "another tenant hears nothing"
    );
}

#[tokio::test]
async fn analyses_are_purged_after_90_days() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Old", 1).await;
    let m = agents[0].machine_id;
    for kind in ["HEALTH_SCORE", "LOGS"] {
        let done = run(&server, &admin, m, kind).await;
        assert!(done["errors"].is_null(), "{done}");
    }
    let db = &server.state.services.infra.db;
    ai_analysis_results::Entity::update_many()
        .col_expr(
            ai_analysis_results::Column::CreatedAt,
            Expr::value(Utc::now() - Duration::days(91)),
        )
        .col_expr(
            ai_analysis_results::Column::ExpiresAt,
            Expr::value(Utc::now() - Duration::days(1)),
        )
        .filter(ai_analysis_results::Column::AnalysisType.eq("logs"))
        .exec(&db.conn)
        .await
        .unwrap();
    optralis::jobs::cleanup::purge(db, server.timescaledb())
        .await
        .unwrap();
    let left: Vec<String> = ai_analysis_results::Entity::find()
        .filter(ai_analysis_results::Column::MachineId.eq(m))
        .all(&db.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.analysis_type)
        .collect();
    assert_eq!(left, vec!["health_score".to_owned()]);
    assert_eq!(
        ai_analysis_results::Entity::find()
            .filter(ai_analysis_results::Column::ExpiresAt.gt(Utc::now() + Duration::days(89)))
            .count(&db.conn)
            .await
            .unwrap(),
        1,
        "a new analysis expires in 90 days"
    );
}

//! The narrative layer through `runAnalysis`: with a key, a local stand-in
//! of the Anthropic Messages API writes it (`narrator: CLAUDE`); when the
//! stand-in fails, or without a key, our templates do (`BUILTIN`) and the
//! analysis still completes with its scores. The failure cases of the
//! Claude path (malformed JSON, changed numbers, injection) are unit-tested
//! in `domain::analysis::narrative`.

use crate::helpers::*;
use axum::{extract::State, http::HeaderMap, routing::post, Json, Router};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const KEY: &str = "sk-ant-api-test-stand-in";
const SUMMARY: &str = "Synthèse rédigée par le modèle de remplacement.";

#[derive(Default)]
struct StandIn {
    overloaded: bool,
    calls: Mutex<Vec<(HeaderMap, Value)>>,
}

/// Answers with one explanation per issue of the findings it was sent,
/// and no number, so the reply passes our checks whatever was computed.
async fn messages(
    State(s): State<Arc<StandIn>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let user = body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    s.calls.lock().unwrap().push((headers, body));
    if s.overloaded {
        let mut response = (
            axum::http::StatusCode::from_u16(529).unwrap(),
            Json(
                json!({ "type": "error", "error": { "type": "overloaded_error", "message": "Overloaded" } }),
            ),
        )
            .into_response();
        response.headers_mut().insert("retry-after", "0".parse().unwrap());
        return response;
    }
    let findings: Value = user
        .split("<findings>")
        .nth(1)
        .and_then(|rest| rest.split("</findings>").next())
        .and_then(|data| serde_json::from_str(data).ok())
        .unwrap_or_default();
    let issues = findings["issues"].as_array().map_or(0, Vec::len);
    let text = json!({
        "summary": SUMMARY,
        "explanations": vec!["Explication rédigée par le modèle."; issues],
    })
    .to_string();
    Json(json!({
        "id": "msg_test", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{ "type": "text", "text": text }], "stop_reason": "end_turn"
    }))
    .into_response()
}

async fn stand_in(overloaded: bool) -> (Arc<StandIn>, String) {
    let state = Arc::new(StandIn {
        overloaded,
        ..StandIn::default()
    });
    let app = Router::new()
        .route("/v1/messages", post(messages))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, base)
}

/// A server (with the stand-in's key when `base` is given), a tenant and
/// one machine with a day of history; returns the server, the tenant
/// admin's token and the machine id.
async fn machine_with_history(base: Option<&str>) -> (TestServer, String, String) {
    let mut env = TestEnv::new().await;
    if let Some(base) = base {
        env = env.set("ANTHROPIC_API_KEY", KEY).set("ANTHROPIC_BASE_URL", base);
    }
    let server = TestServer::spawn_env(env).await;
    let root = server.admin_token().await;
    let (client_id, _, admin) = tenant_with_admin(&server, &root, "Narrated").await;
    let (ok, report) = agent_sim_for(
        &server,
        &admin,
        &[
            "--machines",
            "1",
            "--heartbeats",
            "1",
            "--prefix",
            "narrated",
            "--backfill-days",
            "1",
            "--backfill-step-secs",
            "1800",
            "--inject-anomalies",
        ],
    )
    .await;
    assert!(ok, "{report}");
    let client_id: uuid::Uuid = client_id.parse().unwrap();
    let machine = entities::machines::Entity::find()
        .filter(entities::machines::Column::ClientId.eq(client_id))
        .one(&server.state.services.infra.db.conn)
        .await
        .unwrap()
        .expect("the simulated machine");
    (server, admin, machine.id.to_string())
}

const RUN: &str = "mutation($m: ID!) { runAnalysis(machineId: $m, type: HEALTH_SCORE) {
    id overallScore categoryScores { cpu ram disk security stability } trend riskLevel summary narrator } }";

async fn run_health_score(server: &TestServer, admin: &str, machine: &str) -> Value {
    let body = server.graphql_as(admin, RUN, json!({ "m": machine })).await;
    let run = body["data"]["runAnalysis"].clone();
    assert!(run.is_object(), "runAnalysis: {body}");
    let score = run["overallScore"].as_i64().expect("a score");
    assert!((0..=100).contains(&score), "{run}");
    assert!(!run["summary"].as_str().unwrap_or_default().is_empty(), "{run}");
    run
}

#[tokio::test]
async fn with_a_key_claude_writes_the_narrative() {
    let (api, base) = stand_in(false).await;
    let (server, admin, machine) = machine_with_history(Some(&base)).await;
    let run = run_health_score(&server, &admin, &machine).await;
    assert_eq!(run["narrator"], "CLAUDE", "{run}");
    assert_eq!(run["summary"], SUMMARY);
    let calls = api.calls.lock().unwrap();
    assert_eq!(calls.len(), 1);
    let (headers, body) = &calls[0];
    assert_eq!(headers["x-api-key"], KEY);
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert_eq!(body["model"], "claude-sonnet-4-20250514");
    assert_eq!(body["max_tokens"], 4096);
    let user = body["messages"][0]["content"].as_str().unwrap();
    let data = user
        .split("<findings>")
        .nth(1)
        .unwrap()
        .split("</findings>")
        .next()
        .unwrap();
    assert!(
        data.contains("narrated-00000"),
        "the hostname travels as data: {user}"
    );
}

#[tokio::test]
async fn when_the_stand_in_stays_overloaded_the_templates_write_it() {
    let (api, base) = stand_in(true).await;
    let (server, admin, machine) = machine_with_history(Some(&base)).await;
    let run = run_health_score(&server, &admin, &machine).await;
    assert_eq!(run["narrator"], "BUILTIN", "{run}");
    assert_ne!(run["summary"], SUMMARY);
    assert_eq!(
        api.calls.lock().unwrap().len(),
        3,
        "three attempts, then our text"
    );
}

#[tokio::test]
async fn without_a_key_the_templates_write_it() {
    let (server, admin, machine) = machine_with_history(None).await;
    let run = run_health_score(&server, &admin, &machine).await;
    assert_eq!(run["narrator"], "BUILTIN", "{run}");
}

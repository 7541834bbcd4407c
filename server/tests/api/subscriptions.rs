use crate::helpers::{TestEnv, TestServer, WsClient, WITHOUT_WORKERS};
use serde_json::json;

#[tokio::test]
async fn server_time_ticks_over_graphql_transport_ws() {
    let server = TestServer::spawn().await;
    let token = server.admin_token().await;
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&token).await;
    ws.send(json!({
        "id": "1",
        "type": "subscribe",
        "payload": { "query": "subscription { serverTime(intervalMs: 100) }" }
    }))
    .await;
    let mut ticks = Vec::new();
    for _ in 0..3 {
        let msg = ws.recv().await;
        assert_eq!(msg["type"], "next", "{msg}");
        assert_eq!(msg["id"], "1");
        let at = msg["payload"]["data"]["serverTime"].as_str().unwrap();
        ticks.push(chrono::DateTime::parse_from_rfc3339(at).unwrap());
    }
    assert!(
        ticks.windows(2).all(|w| w[0] < w[1]),
        "ticks move forward: {ticks:?}"
    );

    ws.send(json!({ "id": "1", "type": "complete" })).await;
    // Ticks already in flight may still arrive; the stream must end.
    loop {
        let msg = ws.recv().await;
        if msg["type"] == "complete" {
            break;
        }
        assert_eq!(msg["type"], "next", "{msg}");
    }
}

#[tokio::test]
async fn bad_arguments_answer_an_error_frame_with_a_code() {
    let server = TestServer::spawn().await;
    let token = server.admin_token().await;
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&token).await;
    ws.send(json!({
        "id": "a",
        "type": "subscribe",
        "payload": { "query": "subscription { serverTime(intervalMs: 5) }" }
    }))
    .await;
    let msg = ws.recv().await;
    let errors = if msg["type"] == "error" {
        msg["payload"].clone()
    } else {
        msg["payload"]["errors"].clone()
    };
    assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT", "{msg}");
    assert_eq!(errors[0]["extensions"]["field"], "intervalMs");
}

#[tokio::test]
async fn websocket_requires_the_graphql_transport_ws_protocol() {
    let server = TestServer::spawn().await;
    let resp = server
        .http
        .get(server.url("/graphql/ws"))
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-protocol", "graphql-ws")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn silent_clients_are_closed_with_4408() {
    let server = TestServer::spawn().await;
    let mut ws = WsClient::connect(&server.ws_url()).await;
    let msg = ws.recv().await;
    assert_eq!(msg["close"], 4408, "{msg}");
}

#[tokio::test]
async fn connection_init_authenticates_and_refuses_bad_tokens_with_4403() {
    let server = TestServer::spawn().await;
    let token = server.admin_token().await;
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }))
        .await;
    assert_eq!(ws.recv().await["type"], "connection_ack");

    let mut bad = WsClient::connect(&server.ws_url()).await;
    bad.send(
        json!({ "type": "connection_init", "payload": { "authorization": "Bearer forged.token.value" } }),
    )
    .await;
    assert_eq!(bad.recv().await["close"], 4403);
}

const METRICS: &str =
    "subscription($m: ID!) { machineMetrics(machineId: $m) { machineId at cpuPercent ramPercent } }";

#[tokio::test]
async fn machine_metrics_stream_committed_samples_of_that_machine_only() {
    use crate::{
        collect::{metrics_sample, sample},
        helpers::fleet,
    };
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Live", 2).await;
    let (other, _) = fleet(&server, &root, "Spy", 1).await;
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&admin).await;
    ws.subscribe("m", METRICS, json!({ "m": agents[0].machine_id }))
        .await;
    // The subscription is registered once the server has read the frame;
    // a round trip through another operation makes sure of it.
    ws.subscribe("t", "subscription { serverTime(intervalMs: 100) }", json!({}))
        .await;
    loop {
        if ws.recv().await["id"] == "t" {
            break;
        }
    }
    ws.send(json!({ "id": "t", "type": "complete" })).await;

    let at = chrono::Utc::now();
    assert_eq!(agents[1].collect(metrics_sample(at, 99.0, 99.0)).await.0, 200);
    assert_eq!(
        agents[0]
            .collect(sample("network", at, json!({ "bytes_recv": 5 })))
            .await
            .0,
        200
    );
    assert_eq!(agents[0].collect(metrics_sample(at, 12.5, 40.0)).await.0, 200);
    let frame = loop {
        let f = ws.recv().await;
        if f["id"] == "m" {
            break f;
        }
    };
    assert_eq!(frame["type"], "next", "{frame}");
    let event = &frame["payload"]["data"]["machineMetrics"];
    assert_eq!(event["machineId"], agents[0].machine_id.to_string());
    assert_eq!(
        (event["cpuPercent"].as_f64(), event["ramPercent"].as_f64()),
        (Some(12.5), Some(40.0)),
        "only this machine's metrics samples"
    );

    let mut spy = WsClient::connect(&server.ws_url()).await;
    spy.init_with(&other).await;
    spy.subscribe("x", METRICS, json!({ "m": agents[0].machine_id }))
        .await;
    let refused = spy.recv().await;
    let errors = if refused["type"] == "error" {
        refused["payload"].clone()
    } else {
        refused["payload"]["errors"].clone()
    };
    assert_eq!(errors[0]["extensions"]["code"], "NOT_FOUND", "{refused}");

    let mut anonymous = WsClient::connect(&server.ws_url()).await;
    anonymous
        .send(json!({ "type": "connection_init", "payload": {} }))
        .await;
    assert_eq!(
        anonymous.recv().await["close"],
        4403,
        "a socket without a token is refused"
    );
}

#[tokio::test]
async fn status_changes_and_the_overview_follow_the_tenants_fleet() {
    use crate::helpers::tenant_with_admin;
    use crate::helpers::{heartbeat_body, install_token, TestAgent};
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Watch").await;
    let (_, _, other) = tenant_with_admin(&server, &root, "Elsewhere").await;
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&admin).await;
    ws.subscribe(
        "s",
        "subscription { machineStatusChanged { machineId hostname status } }",
        json!({}),
    )
    .await;
    ws.subscribe(
        "o",
        "subscription { fleetOverview { totalMachines online } }",
        json!({}),
    )
    .await;
    let first = ws.recv().await;
    assert_eq!(
        first["payload"]["data"]["fleetOverview"],
        json!({ "totalMachines": 0, "online": 0 }),
        "{first}"
    );

    let foreign_token = install_token(&server, &other, json!({})).await;
    TestAgent::enrol(&server, &foreign_token, "not-mine", "HW-X").await;
    let token = install_token(&server, &admin, json!({})).await;
    let agent = TestAgent::enrol(&server, &token, "watched", "HW-W").await;
    agent.heartbeat(&heartbeat_body("watched")).await;

    let mut statuses = Vec::new();
    let mut overviews = Vec::new();
    while statuses.len() < 2 || overviews.last() != Some(&json!({ "totalMachines": 1, "online": 1 })) {
        let f = ws.recv().await;
        match f["id"].as_str() {
            Some("s") => {
                let e = &f["payload"]["data"]["machineStatusChanged"];
                assert_eq!(e["hostname"], "watched", "another tenant's machine leaked: {f}");
                statuses.push(e["status"].as_str().unwrap().to_owned());
            }
            Some("o") => overviews.push(f["payload"]["data"]["fleetOverview"].clone()),
            _ => panic!("{f}"),
        }
    }
    assert_eq!(statuses, ["ENROLLED", "ONLINE"]);
    assert!(overviews.len() <= 2, "bursts are throttled: {overviews:?}");
}

#[tokio::test]
async fn silent_machines_go_offline_once_and_come_back_with_their_next_heartbeat() {
    use crate::helpers::fleet;
    use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
    // The offline job's ticks are this test's to drive.
    let server = TestServer::spawn_env(TestEnv::new().await.set(WITHOUT_WORKERS, "1")).await;
    assert_eq!(server.running_workers(), 0);
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Quiet", 1).await;
    let agent = &agents[0];
    let body = crate::helpers::heartbeat_body(&agent.hostname);
    let beat = || agent.heartbeat(&body);
    beat().await;
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&admin).await;
    ws.subscribe(
        "s",
        "subscription { machineStatusChanged { machineId status } }",
        json!({}),
    )
    .await;
    // Let the subscription settle before anything is published.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // Ten minutes of silence.
    let db = &server.state.services.infra.db;
    entities::machines::Entity::update_many()
        .col_expr(
            entities::machines::Column::LastSeen,
            Expr::value(Some(chrono::Utc::now() - chrono::Duration::minutes(10))),
        )
        .filter(entities::machines::Column::Id.eq(agent.machine_id))
        .exec(&db.conn)
        .await
        .unwrap();
    let tick = || optralis::jobs::offline::tick(&server.state.services);
    assert_eq!(tick().await.unwrap(), Some(1));
    assert_eq!(tick().await.unwrap(), Some(0), "announced once");
    let offline = ws.recv().await;
    assert_eq!(
        offline["payload"]["data"]["machineStatusChanged"]["status"], "OFFLINE",
        "{offline}"
    );
    let overview = server
        .graphql_as(&admin, "{ overview { online offline } }", json!({}))
        .await;
    assert_eq!(overview["data"]["overview"], json!({ "online": 0, "offline": 1 }));

    beat().await;
    let online = ws.recv().await;
    assert_eq!(
        online["payload"]["data"]["machineStatusChanged"]["status"], "ONLINE",
        "{online}"
    );
    assert!(
        ws.try_recv(std::time::Duration::from_millis(300)).await.is_none(),
        "no other event"
    );
    let row = entities::machines::Entity::find_by_id(agent.machine_id)
        .one(&db.conn)
        .await
        .unwrap()
        .unwrap();
    assert!(row.offline_notified_at.is_none(), "the heartbeat clears the mark");
}

#[tokio::test]
async fn a_job_runs_on_one_instance_at_a_time() {
    use optralis::jobs::exclusive::run_once;
    let server = TestServer::spawn().await;
    let db = server.state.services.infra.db.clone();
    if db.backend == optralis::infra::db::Backend::Sqlite {
        // One process per SQLite file: nothing to exclude.
        assert!(run_once(&db, 42, || async { Ok::<(), sea_orm::DbErr>(()) })
            .await
            .unwrap());
        return;
    }
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let holder = {
        let db = db.clone();
        tokio::spawn(async move {
            run_once(&db, 42, || async move {
                let _ = started_tx.send(());
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                Ok::<(), sea_orm::DbErr>(())
            })
            .await
            .unwrap()
        })
    };
    started_rx.await.unwrap();
    let second = run_once(&db, 42, || async { Ok::<(), sea_orm::DbErr>(()) })
        .await
        .unwrap();
    assert!(!second, "the second runner skips while the first holds the lock");
    assert!(holder.await.unwrap());
    assert!(
        run_once(&db, 42, || async { Ok::<(), sea_orm::DbErr>(()) })
            .await
            .unwrap(),
        "free again"
    );
}

#[tokio::test]
async fn sockets_need_a_token_first_and_close_when_it_is_revoked() {
    let server = TestServer::spawn().await;
    // Subscribing before connection_init is answered 4401.
    let mut early = WsClient::connect(&server.ws_url()).await;
    early
        .subscribe("e", "subscription { serverTime }", json!({}))
        .await;
    assert_eq!(early.recv().await["close"], 4401);

    let token = server.admin_token().await;
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&token).await;
    ws.subscribe("t", "subscription { serverTime(intervalMs: 1000) }", json!({}))
        .await;
    assert_eq!(ws.recv().await["type"], "next");
    let out = server.graphql_as(&token, "mutation { logout }", json!({})).await;
    assert!(out["errors"].is_null(), "{out}");
    // The socket re-checks its token every few seconds.
    let closed = loop {
        let frame = ws.recv().await;
        if frame.get("close").is_some() {
            break frame;
        }
    };
    assert_eq!(closed["close"], 4403, "a logged-out token loses its socket");
}

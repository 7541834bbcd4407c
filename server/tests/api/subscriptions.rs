use crate::helpers::{TestServer, WsClient};
use serde_json::json;

#[tokio::test]
async fn server_time_ticks_over_graphql_transport_ws() {
    let server = TestServer::spawn().await;
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init().await;
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
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init().await;
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

//! The GraphQL transport under hostile input: documents that cost far more
//! than their size (F1), cookie-authenticated WebSockets from foreign
//! origins (F6), forwarded addresses chosen by the client (F7), and
//! graphql-transport-ws' rule on reused operation ids. Time bounds are the
//! contract's, generous for a debug build.

use crate::helpers::{error_code, TestEnv, TestServer, WsClient, ADMIN_EMAIL, ADMIN_PASSWORD};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::{
    tungstenite::{self, client::IntoClientRequest, http::HeaderValue, Message},
    MaybeTlsStream, WebSocketStream,
};

/// A liveness bound, not a speed figure (those are in the benchmarks): the
/// faults these tests guard against (fragment expansion, a parse on the
/// runtime's threads) held answers for minutes or for ever, while a host
/// busy with builds and other suites adds seconds. Ten seconds tells the
/// two apart on any machine we run on.
const LIVENESS: Duration = Duration::from_secs(10);

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }";
const CREATE_TOKEN: &str =
    "mutation { createApiToken(input: { name: \"ws\", scope: READ_WRITE }) { secret } }";

/// The probe's document: fragment n spreads fragment n-1 twice, 2^n leaves
/// in about 40 bytes per fragment.
fn fragment_chain(n: usize) -> String {
    let mut q = format!("query {{ ...F{n} }} fragment F0 on Query {{ serverTime }}");
    for i in 1..=n {
        q.push_str(&format!(
            " fragment F{i} on Query {{ ...F{p} ...F{p} }}",
            p = i - 1
        ));
    }
    q
}

/// POSTs a raw JSON body anonymously: status, body and elapsed time.
async fn post_raw(server: &TestServer, body: String) -> (u16, Value, Duration) {
    let started = Instant::now();
    let resp = server
        .http
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap();
    (status, body, started.elapsed())
}

async fn post_query(server: &TestServer, query: &str) -> (u16, Value, Duration) {
    post_raw(server, json!({ "query": query }).to_string()).await
}

fn short(body: &Value) -> String {
    body.to_string().chars().take(500).collect()
}

fn assert_bounded_errors(body: &Value) {
    let errors = body["errors"].as_array().expect("errors");
    assert!(!errors.is_empty(), "{body}");
    for err in errors {
        let message = err["message"].as_str().unwrap_or_default();
        assert!(
            message.chars().count() <= 301,
            "message of {} chars",
            message.chars().count()
        );
    }
}

#[tokio::test]
async fn an_anonymous_fragment_chain_is_refused_within_two_seconds() {
    let server = TestServer::spawn().await;
    for n in [25, 29] {
        let (status, body, elapsed) = post_query(&server, &fragment_chain(n)).await;
        assert_eq!(status, 200);
        assert!(elapsed < LIVENESS, "n={n} answered in {elapsed:?}");
        assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{}", short(&body));
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("too complex"),
            "{}",
            short(&body)
        );
    }
}

#[tokio::test]
async fn health_answers_while_fragment_chains_are_in_flight() {
    let server = TestServer::spawn().await;
    let query = fragment_chain(29);
    let deadline = Instant::now() + Duration::from_secs(3);
    // Four clients keep a chain in flight all along.
    let attackers: Vec<_> = (0..4)
        .map(|_| {
            let (http, url, query) = (server.http.clone(), server.url("/graphql"), query.clone());
            tokio::spawn(async move {
                let mut slow = 0;
                let mut sent = 0;
                while Instant::now() < deadline {
                    let started = Instant::now();
                    let body: Value = http
                        .post(&url)
                        .json(&json!({ "query": query }))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{}", short(&body));
                    sent += 1;
                    if started.elapsed() > LIVENESS {
                        slow += 1;
                    }
                }
                (sent, slow)
            })
        })
        .collect();
    let mut probes = 0;
    let mut late = Vec::new();
    tokio::time::sleep(Duration::from_millis(100)).await;
    while Instant::now() + Duration::from_millis(300) < deadline {
        let started = Instant::now();
        let resp = server.http.get(server.url("/health")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let elapsed = started.elapsed();
        probes += 1;
        if elapsed > LIVENESS {
            late.push(elapsed);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut sent = 0;
    for attacker in attackers {
        let (n, slow) = attacker.await.unwrap();
        sent += n;
        assert_eq!(slow, 0, "chains answered after more than {LIVENESS:?}");
    }
    assert!(probes >= 10 && sent >= 4, "{probes} probes, {sent} chains");
    assert!(
        late.is_empty(),
        "/health past {LIVENESS:?} in {} of {probes} probes: {late:?}",
        late.len()
    );
}

#[tokio::test]
async fn a_fragment_chain_over_websocket_is_refused_and_the_socket_lives() {
    let server = TestServer::spawn().await;
    let token = server.admin_token().await;
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&token).await;
    let started = Instant::now();
    ws.subscribe("chain", &fragment_chain(29), json!({})).await;
    let msg = ws.recv().await;
    assert!(started.elapsed() < LIVENESS, "{:?}", started.elapsed());
    let errors = if msg["type"] == "error" {
        msg["payload"].clone()
    } else {
        msg["payload"]["errors"].clone()
    };
    assert_eq!(
        errors[0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{msg}"
    );

    ws.subscribe("t", "subscription { serverTime(intervalMs: 100) }", json!({}))
        .await;
    loop {
        let msg = ws.recv().await;
        assert!(msg.get("close").is_none(), "{msg}");
        if msg["id"] == "t" {
            assert_eq!(msg["type"], "next", "{msg}");
            break;
        }
    }
}

#[tokio::test]
async fn deep_nesting_many_aliases_and_huge_documents_are_answered_quickly() {
    let server = TestServer::spawn().await;
    let deep = format!("{}{}", "{ a ".repeat(100), "}".repeat(100));
    let single_chain: String = (1..=70)
        .map(|i| format!("fragment F{i} on Query {{ ...F{} }} ", i - 1))
        .collect::<String>()
        + "fragment F0 on Query { __typename } { ...F70 }";
    let aliases = |n: usize, selection: &str| -> String {
        let fields: String = (0..n).map(|i| format!("a{i}: {selection} ")).collect();
        format!("{{ {fields} }}")
    };
    let cyclic = "{ ...A } fragment A on Query { ...B ...B } fragment B on Query { ...A ...A }".to_owned();
    let cases = [
        (
            "deep nesting",
            deep,
            &["GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"][..],
        ),
        ("fragment nesting", single_chain, &["GRAPHQL_VALIDATION_FAILED"]),
        ("fragment cycle", cyclic, &["GRAPHQL_VALIDATION_FAILED"]),
        (
            "two operations, no operationName",
            "query A { __typename } query B { __typename }".to_owned(),
            &["BAD_USER_INPUT"],
        ),
        // Just within the document limits (27 000 tokens, 9 000
        // selections): validated, and refused by the complexity limit.
        (
            "4 500 aliases",
            aliases(4_500, "serverInfo { version }"),
            &["GRAPHQL_VALIDATION_FAILED"],
        ),
        // Past the token limit, then past the size limit.
        (
            "12 000 aliases",
            aliases(12_000, "__typename"),
            &["GRAPHQL_VALIDATION_FAILED"],
        ),
        (
            "450 000 aliases (9 MB)",
            aliases(450_000, "__typename"),
            &["GRAPHQL_VALIDATION_FAILED"],
        ),
    ];
    for (name, query, codes) in cases {
        let (status, body, elapsed) = post_query(&server, &query).await;
        assert_eq!(status, 200, "{name}");
        assert!(codes.contains(&error_code(&body)), "{name}: {}", short(&body));
        assert!(elapsed < LIVENESS, "{name} answered in {elapsed:?}");
        assert_bounded_errors(&body);
    }

    // A body at the 10 MB limit, mostly variables: decoded off the runtime,
    // validated and executed (anonymously, hence refused by the resolver).
    let padding = "x".repeat(10 * 1024 * 1024 - 200);
    let query = "query($p: String!) { machineByHostname(hostname: $p) { id } }";
    let body = json!({ "query": query, "variables": { "p": padding } }).to_string();
    let (status, body, elapsed) = post_raw(&server, body).await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{}", short(&body));
    assert!(elapsed < LIVENESS, "10 MB body answered in {elapsed:?}");
}

#[tokio::test]
async fn error_messages_and_error_lists_are_bounded() {
    let server = TestServer::spawn().await;
    // A parse error on a 190 KB line used to echo the line.
    let long_line = format!("{{ serverTime {} ! }}", "x".repeat(190_000));
    let (_, body, _) = post_query(&server, &long_line).await;
    assert_eq!(error_code(&body), "GRAPHQL_PARSE_FAILED", "{}", short(&body));
    assert_bounded_errors(&body);
    assert!(body.to_string().len() < 2_000, "{} bytes", body.to_string().len());

    // One validation error per unknown field.
    let unknown: String = (0..2_000).map(|i| format!("x{i} ")).collect();
    let (_, body, _) = post_query(&server, &format!("{{ {unknown} }}")).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{}", short(&body));
    assert!(
        body["errors"].as_array().unwrap().len() <= 21,
        "{}",
        body["errors"].as_array().unwrap().len()
    );
    assert_bounded_errors(&body);

    // Transport errors quote serde's message, which quotes the input.
    let body = format!(
        r#"{{"query": "{{ __typename }}", "variables": "{}"}}"#,
        "y".repeat(100_000)
    );
    let (status, body, _) = post_raw(&server, body).await;
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().chars().count() <= 301,
        "{}",
        short(&body)
    );

    // An unknown fragment name of any length.
    let name = "Z".repeat(100_000);
    let (_, body, _) = post_query(&server, &format!("{{ ...{name} }}")).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{}", short(&body));
    assert_bounded_errors(&body);
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The session cookies a dashboard holds after `login`.
async fn session_cookie(server: &TestServer) -> String {
    let resp = server
        .http
        .post(server.url("/graphql"))
        .json(&json!({ "query": LOGIN, "variables": { "e": ADMIN_EMAIL, "p": ADMIN_PASSWORD } }))
        .send()
        .await
        .unwrap();
    let jar: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    assert!(jar.iter().any(|c| c.starts_with("optralis_access=")), "{jar:?}");
    jar.join("; ")
}

/// Opens `/graphql/ws` with the given headers: the socket, or the HTTP
/// status of a refused upgrade.
async fn open_socket(
    server: &TestServer,
    headers: &[(&'static str, String)],
) -> Result<Socket, (u16, String)> {
    let mut request = server.ws_url().into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    for (name, value) in headers {
        request
            .headers_mut()
            .insert(*name, HeaderValue::from_str(value).unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tungstenite::Error::Http(resp)) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err((resp.status().as_u16(), body))
        }
        Err(e) => panic!("upgrade failed: {e}"),
    }
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// Next text frame, or `{"close": code}`.
async fn recv(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), socket.next())
            .await
            .expect("a frame within 15 s");
        match frame {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Close(frame))) => {
                return json!({ "close": frame.map(|f| u16::from(f.code)).unwrap_or(1005) })
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return json!({ "error": e.to_string() }),
            None => return json!({ "close": 1006 }),
        }
    }
}

/// The first frame for operation `id`, skipping others.
async fn recv_for(socket: &mut Socket, id: &str) -> Value {
    loop {
        let msg = recv(socket).await;
        if msg.get("close").is_some() || msg.get("error").is_some() || msg["id"] == id {
            return msg;
        }
    }
}

fn first_error_code(msg: &Value) -> Value {
    if msg["type"] == "error" {
        msg["payload"][0]["extensions"]["code"].clone()
    } else {
        msg["payload"]["errors"][0]["extensions"]["code"].clone()
    }
}

#[tokio::test]
async fn a_cookie_socket_from_a_foreign_origin_is_refused_at_upgrade() {
    let server = TestServer::spawn().await;
    let cookie = session_cookie(&server).await;
    let attempts = [
        vec![
            ("cookie", cookie.clone()),
            ("origin", "https://evil.example".to_owned()),
        ],
        // Same host, other port: another origin.
        vec![
            ("cookie", cookie.clone()),
            ("origin", "http://127.0.0.1:1".to_owned()),
        ],
        vec![("cookie", cookie.clone())],
    ];
    let mut opened = 0;
    for headers in &attempts {
        match open_socket(&server, headers).await {
            Err((status, body)) => {
                assert_eq!(status, 403, "{body}");
                assert!(body.contains("FORBIDDEN"), "{body}");
            }
            Ok(mut socket) => {
                // A close 4403 at connection_init is acceptable too; a
                // running socket is not.
                send(&mut socket, json!({ "type": "connection_init", "payload": {} })).await;
                let msg = recv(&mut socket).await;
                if msg["close"] != 4403 {
                    opened += 1;
                }
            }
        }
    }
    assert_eq!(
        opened,
        0,
        "{opened} of {} foreign cookie sockets opened",
        attempts.len()
    );
}

#[tokio::test]
async fn a_same_origin_cookie_socket_reads_but_cannot_mutate() {
    let env = TestEnv::new()
        .await
        .set("CORS_ALLOWED_ORIGINS", "https://app.example.com")
        .set("DASHBOARD_URL", "https://dash.example.com/");
    let server = TestServer::spawn_env(env).await;
    let cookie = session_cookie(&server).await;
    let own = format!("http://{}", server.addr);
    for origin in [
        own.as_str(),
        "https://app.example.com",
        "https://dash.example.com",
    ] {
        let mut socket = open_socket(
            &server,
            &[("cookie", cookie.clone()), ("origin", origin.to_owned())],
        )
        .await
        .unwrap_or_else(|e| panic!("{origin}: {e:?}"));
        send(&mut socket, json!({ "type": "connection_init", "payload": {} })).await;
        assert_eq!(recv(&mut socket).await["type"], "connection_ack", "{origin}");

        send(
            &mut socket,
            json!({ "id": "t", "type": "subscribe", "payload": { "query": "subscription { serverTime(intervalMs: 100) }" } }),
        )
        .await;
        let tick = recv_for(&mut socket, "t").await;
        assert_eq!(tick["type"], "next", "{tick}");

        send(
            &mut socket,
            json!({ "id": "m", "type": "subscribe", "payload": { "query": CREATE_TOKEN } }),
        )
        .await;
        let refused = recv_for(&mut socket, "m").await;
        assert_eq!(first_error_code(&refused), "FORBIDDEN", "{refused}");
        assert!(
            refused["payload"]["data"]["createApiToken"].is_null(),
            "{refused}"
        );

        // Still open: the subscription keeps ticking.
        let tick = recv_for(&mut socket, "t").await;
        assert_eq!(tick["type"], "next", "{tick}");
    }
    let token = server.admin_token().await;
    let tokens = server.graphql_as(&token, "{ apiTokens { id } }", json!({})).await;
    assert_eq!(tokens["data"]["apiTokens"], json!([]), "{tokens}");
}

#[tokio::test]
async fn a_bearer_socket_without_cookie_is_unaffected() {
    let server = TestServer::spawn().await;
    let token = server.admin_token().await;
    // Integrations send no Origin; a page on another origin may use a
    // Bearer token too.
    for headers in [vec![], vec![("origin", "https://elsewhere.example".to_owned())]] {
        let mut socket = open_socket(&server, &headers).await.expect("upgrade");
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
        )
        .await;
        assert_eq!(recv(&mut socket).await["type"], "connection_ack");
        send(
            &mut socket,
            json!({ "id": "m", "type": "subscribe", "payload": { "query": CREATE_TOKEN } }),
        )
        .await;
        let created = recv_for(&mut socket, "m").await;
        assert!(
            created["payload"]["data"]["createApiToken"]["secret"]
                .as_str()
                .is_some_and(|s| s.starts_with("opt_")),
            "{created}"
        );
    }
}

#[tokio::test]
async fn a_reused_operation_id_closes_the_socket_with_4409() {
    let server = TestServer::spawn().await;
    let token = server.admin_token().await;
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&token).await;
    let ticks = "subscription { serverTime(intervalMs: 100) }";

    // An id is free again once its operation completed.
    for _ in 0..2 {
        ws.subscribe("once", "{ __typename }", json!({})).await;
        let answer = ws.recv().await;
        assert_eq!(answer["type"], "next", "{answer}");
        assert_eq!(ws.recv().await["type"], "complete");
    }

    ws.subscribe("dup", ticks, json!({})).await;
    assert_eq!(ws.recv().await["type"], "next");
    ws.subscribe("dup", ticks, json!({})).await;
    loop {
        let msg = ws.recv().await;
        if let Some(code) = msg.get("close") {
            assert_eq!(code, 4409, "{msg}");
            break;
        }
        assert_eq!(msg["type"], "next", "{msg}");
    }
}

#[tokio::test]
async fn a_forwarded_for_chain_cannot_choose_the_client_address() {
    use entities::activity_logs::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let env = TestEnv::new()
        .await
        .with_login_limits()
        .set("TRUST_PROXY_HEADERS", "true");
    let server = TestServer::spawn_env(env).await;
    // The proxy (the loopback peer, trusted by default) appends the
    // address it saw; the client wrote everything left of it.
    let mut limited = 0;
    let attempts = 20;
    for i in 0..attempts {
        let body: Value = server
            .http
            .post(server.url("/graphql"))
            .header("x-forwarded-for", format!("198.51.100.{i}, 203.0.113.9"))
            .json(&json!({ "query": LOGIN, "variables": { "e": ADMIN_EMAIL, "p": "Wrong-Passw0rd!" } }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match error_code(&body) {
            "RATE_LIMITED" => limited += 1,
            "UNAUTHENTICATED" => {}
            other => panic!("attempt {i}: {other}: {body}"),
        }
    }
    let limit = server.state.config.auth_rate_limit_attempts as usize;
    assert_eq!(limited, attempts - limit, "spoofed addresses escaped the limit");

    let logged: Vec<Option<String>> = Entity::find()
        .filter(Column::Category.eq("auth"))
        .filter(Column::Level.eq("warn"))
        .all(&server.state.services.infra.db.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.ip_address)
        .collect();
    assert!(!logged.is_empty());
    assert!(
        logged.iter().all(|ip| ip.as_deref() == Some("203.0.113.9")),
        "{logged:?}"
    );
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    use entities::activity_logs::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let env = TestEnv::new()
        .await
        .set("TRUST_PROXY_HEADERS", "true")
        .set("TRUSTED_PROXIES", "10.0.0.0/8");
    let server = TestServer::spawn_env(env).await;
    let body: Value = server
        .http
        .post(server.url("/graphql"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({ "query": LOGIN, "variables": { "e": ADMIN_EMAIL, "p": "Wrong-Passw0rd!" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    let logged: Vec<Option<String>> = Entity::find()
        .filter(Column::Category.eq("auth"))
        .filter(Column::Level.eq("warn"))
        .all(&server.state.services.infra.db.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.ip_address)
        .collect();
    assert_eq!(logged, vec![Some("127.0.0.1".to_owned())]);
}

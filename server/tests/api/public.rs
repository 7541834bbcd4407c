//! The public routes: the contact form (validation, honeypot, rate limit,
//! Turnstile, storage and e-mails), the landing page's figures and the
//! external monitors read from a UptimeRobot stand-in.

use crate::helpers::{error_code, fleet, observer_of, tenant_with_admin, SmtpSink, TestEnv, TestServer};
use axum::{extract::State, routing::post, Form, Json, Router};
use chrono::{DateTime, DurationRound, Utc};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

const CONTACTS: &str = "query($a: String) { contactMessages(first: 10, after: $a) { edges { node { id name email company subject message language ip handledAt } } pageInfo { hasNextPage endCursor } } }";

fn form() -> Value {
    json!({
        "name": "Jean Dupont",
        "email": "jean@example.com",
        "company": "Acme Corp",
        "subject": "demo",
        "message": "Je souhaite une démonstration.",
        "language": "fr",
        "turnstile_token": "",
        "website": ""
    })
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

/// A server that reads client addresses from `X-Forwarded-For` (its
/// loopback peer is a trusted proxy), so each test request can come from
/// an address of its own.
async fn env_behind_proxy() -> TestEnv {
    TestEnv::new().await.set("TRUST_PROXY_HEADERS", "true")
}

async fn post_contact(
    server: &TestServer,
    ip: &str,
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = server
        .http
        .post(server.url("/api/public/contact"))
        .header("x-forwarded-for", ip)
        .json(body)
        .send()
        .await
        .unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

async fn stored_messages(server: &TestServer) -> u64 {
    entities::contact_messages::Entity::find()
        .count(&server.state.services.infra.db.conn)
        .await
        .unwrap()
}

async fn queued_contact_emails(server: &TestServer) -> u64 {
    entities::email_outbox::Entity::find()
        .filter(entities::email_outbox::Column::Kind.starts_with("contact_"))
        .count(&server.state.services.infra.db.conn)
        .await
        .unwrap()
}

fn assert_field(answer: &(u16, reqwest::header::HeaderMap, Value), field: &str) {
    let (status, _, body) = answer;
    assert_eq!(*status, 400, "{body}");
    assert_eq!(body["code"], "VALIDATION_ERROR", "{body}");
    assert_eq!(body["field"], field, "{body}");
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
}

#[tokio::test]
async fn contact_form_stores_the_message_and_mails_the_team_and_the_sender() {
    let mut sink = SmtpSink::start().await;
    let env = TestEnv::new()
        .await
        .set("SMTP_HOST", "127.0.0.1")
        .set("SMTP_PORT", &sink.port.to_string())
        .set("SMTP_TLS", "none")
        .set("SMTP_FROM", "Optralis <noreply@optralis.test>")
        .set("CONTACT_EMAIL", "team@optralis.test");
    let server = TestServer::spawn_env(env).await;
    let root = server.admin_token().await;

    let body = with(form(), "language", json!("en"));
    let (status, _, answer) = post_contact(&server, "ignored", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["success"], true, "{answer}");
    assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));

    // Both e-mails go out through SMTP.
    let mut to_team = None;
    let mut to_sender = None;
    for _ in 0..2 {
        let raw = sink.next().await;
        let message = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .expect("MIME");
        let to: Vec<String> = message
            .to()
            .expect("To")
            .iter()
            .filter_map(|a| a.address().map(str::to_owned))
            .collect();
        let subject = message.subject().unwrap_or_default().to_owned();
        let text = message.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
        match to.as_slice() {
            [one] if one == "team@optralis.test" => to_team = Some((subject, text)),
            [one] if one == "jean@example.com" => to_sender = Some((subject, text)),
            other => panic!("unexpected recipients {other:?}"),
        }
    }
    let (team_subject, team_text) = to_team.expect("the team is told");
    assert!(team_subject.contains("Jean Dupont"), "{team_subject}");
    assert!(team_text.contains("jean@example.com"), "{team_text}");
    assert!(team_text.contains("Acme Corp"), "{team_text}");
    assert!(
        team_text.contains("Je souhaite une démonstration."),
        "{team_text}"
    );
    let (sender_subject, sender_text) = to_sender.expect("the sender is told");
    assert_eq!(
        sender_subject, "Optralis – we received your message",
        "in the sender's language"
    );
    assert!(sender_text.contains("we received it"), "{sender_text}");
    // The address is the sender's to choose: nothing they typed is sent
    // back to it, or the form would mail anyone any text.
    assert!(
        !sender_text.contains("Je souhaite") && !sender_text.contains("Jean Dupont"),
        "{sender_text}"
    );

    // Stored, and listed to the super_admin.
    let listed = server.graphql_as(&root, CONTACTS, json!({})).await;
    let edges = listed["data"]["contactMessages"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(edges.len(), 1, "{listed}");
    let node = &edges[0]["node"];
    assert_eq!(node["name"], "Jean Dupont");
    assert_eq!(node["email"], "jean@example.com");
    assert_eq!(node["company"], "Acme Corp");
    assert_eq!(node["subject"], "demo");
    assert_eq!(node["language"], "en");
    assert_eq!(node["ip"], "127.0.0.1", "X-Forwarded-For is not trusted here");
    assert_eq!(node["handledAt"], Value::Null);

    let handled = server
        .graphql_as(
            &root,
            "mutation($id: ID!) { markContactMessageHandled(id: $id) { id handledAt } }",
            json!({ "id": node["id"] }),
        )
        .await;
    assert!(
        handled["data"]["markContactMessageHandled"]["handledAt"].is_string(),
        "{handled}"
    );
    let missing = server
        .graphql_as(
            &root,
            "mutation($id: ID!) { markContactMessageHandled(id: $id) { id } }",
            json!({ "id": uuid::Uuid::now_v7().to_string() }),
        )
        .await;
    assert_eq!(error_code(&missing), "NOT_FOUND", "{missing}");

    // No other role sees the messages.
    let (_, _, admin) = tenant_with_admin(&server, &root, "Prospects").await;
    let observer = observer_of(&server, &admin, "watcher@prospects.test").await;
    for token in [&admin, &observer] {
        let refused = server.graphql_as(token, CONTACTS, json!({})).await;
        assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
        let refused = server
            .graphql_as(
                token,
                "mutation($id: ID!) { markContactMessageHandled(id: $id) { id } }",
                json!({ "id": node["id"] }),
            )
            .await;
        assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    }
    let anonymous = server.graphql(CONTACTS, json!({})).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
}

#[tokio::test]
async fn contact_messages_are_listed_newest_first_page_by_page() {
    let server = TestServer::spawn_env(env_behind_proxy().await).await;
    let root = server.admin_token().await;
    for i in 0..3 {
        let body = with(form(), "name", json!(format!("Sender {i}")));
        let (status, _, answer) = post_contact(&server, &format!("203.0.113.{i}"), &body).await;
        assert_eq!(status, 200, "{answer}");
    }
    let page = |after: Value| {
        server.graphql_as(
            &root,
            "query($a: String) { contactMessages(first: 2, after: $a) { edges { node { name ip } } pageInfo { hasNextPage endCursor } } }",
            json!({ "a": after }),
        )
    };
    let first = page(Value::Null).await;
    let conn = &first["data"]["contactMessages"];
    let names: Vec<&str> = conn["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{first}"))
        .iter()
        .map(|e| e["node"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Sender 2", "Sender 1"]);
    assert_eq!(conn["edges"][0]["node"]["ip"], "203.0.113.2");
    assert_eq!(conn["pageInfo"]["hasNextPage"], true);
    let second = page(conn["pageInfo"]["endCursor"].clone()).await;
    let conn = &second["data"]["contactMessages"];
    assert_eq!(conn["edges"][0]["node"]["name"], "Sender 0", "{second}");
    assert_eq!(conn["pageInfo"]["hasNextPage"], false);
    let bad = server
        .graphql_as(
            &root,
            "{ contactMessages(first: 101) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT", "{bad}");
}

#[tokio::test]
async fn contact_form_names_the_first_bad_field() {
    let server = TestServer::spawn_env(env_behind_proxy().await).await;
    let mut n = 0;
    let mut ip = || {
        n += 1;
        format!("198.51.100.{n}")
    };

    let mut no_name = form();
    no_name.as_object_mut().unwrap().remove("name");
    assert_field(&post_contact(&server, &ip(), &no_name).await, "name");
    assert_field(
        &post_contact(&server, &ip(), &with(form(), "name", json!("   "))).await,
        "name",
    );
    assert_field(
        &post_contact(&server, &ip(), &with(form(), "email", json!("not-an-address"))).await,
        "email",
    );
    assert_field(
        &post_contact(
            &server,
            &ip(),
            &with(form(), "email", json!("a@x.com,victim@y.com")),
        )
        .await,
        "email",
    );
    assert_field(
        &post_contact(&server, &ip(), &with(form(), "subject", json!("sales"))).await,
        "subject",
    );
    assert_field(
        &post_contact(&server, &ip(), &with(form(), "language", json!("de"))).await,
        "language",
    );
    assert_field(
        &post_contact(&server, &ip(), &with(form(), "message", json!(""))).await,
        "message",
    );
    assert_field(
        &post_contact(&server, &ip(), &with(form(), "name", json!(42))).await,
        "name",
    );
    assert_field(
        &post_contact(&server, &ip(), &with(form(), "company", json!("c".repeat(101)))).await,
        "company",
    );
    assert_field(
        &post_contact(
            &server,
            &ip(),
            &with(form(), "company", json!("Acme\nE-mail: boss@corp.test")),
        )
        .await,
        "company",
    );
    assert_field(
        &post_contact(&server, &ip(), &with(form(), "name", json!("Jean\u{202E}tnuoma"))).await,
        "name",
    );

    // 5,000 characters pass, 5,001 do not; characters, not bytes.
    let over = with(form(), "message", json!("é".repeat(5_001)));
    assert_field(&post_contact(&server, &ip(), &over).await, "message");
    assert_eq!(stored_messages(&server).await, 0, "nothing invalid is kept");
    let at_limit = with(form(), "message", json!("é".repeat(5_000)));
    let (status, _, body) = post_contact(&server, &ip(), &at_limit).await;
    assert_eq!(status, 200, "{body}");
    // Optional fields may be left out or empty.
    let minimal = json!({ "name": "Ana", "email": "ana@example.com", "message": "Hi", "subject": "" });
    let (status, _, body) = post_contact(&server, &ip(), &minimal).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored_messages(&server).await, 2);

    // Not JSON, or not an object.
    let resp = server
        .http
        .post(server.url("/api/public/contact"))
        .header("x-forwarded-for", ip())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Jean&email=jean%40example.com&message=Hi")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "UNSUPPORTED_MEDIA_TYPE", "{body}");
    for raw in ["{\"name\": ", "[1, 2]"] {
        let resp = server
            .http
            .post(server.url("/api/public/contact"))
            .header("x-forwarded-for", ip())
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{raw}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            (body["code"].as_str(), body["field"].as_str()),
            (Some("VALIDATION_ERROR"), Some("body"))
        );
    }
    // Past 64 KiB the body is not read.
    let huge = with(form(), "message", json!("x".repeat(70 * 1024)));
    let (status, _, body) = post_contact(&server, &ip(), &huge).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE")),
        "{body}"
    );
}

#[tokio::test]
async fn contact_form_honeypot_answers_success_and_keeps_nothing() {
    let env = env_behind_proxy()
        .await
        .set("CONTACT_EMAIL", "team@optralis.test");
    let server = TestServer::spawn_env(env).await;
    let bot = with(form(), "website", json!("http://spam.example"));
    let (status, _, body) = post_contact(&server, "192.0.2.10", &bot).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    // Even an otherwise invalid form: a bot learns nothing.
    let bot = with(with(form(), "website", json!("x")), "email", json!("nope"));
    let (status, _, _) = post_contact(&server, "192.0.2.11", &bot).await;
    assert_eq!(status, 200);
    assert_eq!(stored_messages(&server).await, 0);
    assert_eq!(queued_contact_emails(&server).await, 0);

    // The same form without the honeypot is kept and both mails queued.
    let (status, _, body) = post_contact(&server, "192.0.2.12", &form()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored_messages(&server).await, 1);
    assert_eq!(queued_contact_emails(&server).await, 2);
}

#[tokio::test]
async fn contact_form_takes_three_messages_per_address_in_five_minutes() {
    let server = TestServer::spawn_env(env_behind_proxy().await).await;
    for i in 0..3 {
        let (status, _, body) = post_contact(&server, "198.51.100.77", &form()).await;
        assert_eq!(status, 200, "submission {i}: {body}");
    }
    let (status, headers, body) = post_contact(&server, "198.51.100.77", &form()).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["code"], "RATE_LIMITED", "{body}");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    assert_eq!(stored_messages(&server).await, 3);

    // Another address has its own budget.
    let (status, _, body) = post_contact(&server, "198.51.100.78", &form()).await;
    assert_eq!(status, 200, "{body}");

    // Honeypot and invalid submissions spend the budget too.
    let bot = with(form(), "website", json!("x"));
    for _ in 0..2 {
        assert_eq!(post_contact(&server, "198.51.100.79", &bot).await.0, 200);
    }
    assert_field(
        &post_contact(&server, "198.51.100.79", &with(form(), "email", json!("bad"))).await,
        "email",
    );
    assert_eq!(post_contact(&server, "198.51.100.79", &form()).await.0, 429);

    // An IPv6 client is its /64: rotating addresses within it does not
    // buy a new budget; the next /64 has its own.
    for host in ["1", "2", "3"] {
        let ip = format!("2001:db8:5:7::{host}");
        assert_eq!(post_contact(&server, &ip, &form()).await.0, 200, "{ip}");
    }
    assert_eq!(
        post_contact(&server, "2001:db8:5:7:ffff::9", &form()).await.0,
        429
    );
    assert_eq!(post_contact(&server, "2001:db8:5:8::1", &form()).await.0, 200);
}

/// The forms a stand-in received.
type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// A Turnstile siteverify stand-in: `good-token` passes with our secret.
async fn turnstile_stand_in(seen: Seen) -> SocketAddr {
    async fn verify(State(seen): State<Seen>, Form(form): Form<HashMap<String, String>>) -> Json<Value> {
        let ok = form.get("secret").map(String::as_str) == Some("turnstile-secret")
            && form.get("response").map(String::as_str) == Some("good-token");
        seen.lock().unwrap().push(form);
        Json(if ok {
            json!({ "success": true, "error-codes": [], "hostname": "optralis.test" })
        } else {
            json!({ "success": false, "error-codes": ["invalid-input-response"] })
        })
    }
    let app = Router::new().route("/siteverify", post(verify)).with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// An address nothing listens on.
async fn closed_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn contact_form_verifies_turnstile_tokens_server_side() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let addr = turnstile_stand_in(seen.clone()).await;
    let env = env_behind_proxy()
        .await
        .set("TURNSTILE_SECRET_KEY", "turnstile-secret")
        .set("TURNSTILE_VERIFY_URL", &format!("http://{addr}/siteverify"));
    let server = TestServer::spawn_env(env).await;

    let (status, _, body) = post_contact(&server, "203.0.113.1", &form()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("TURNSTILE_FAILED")),
        "no token: {body}"
    );
    assert_eq!(body["field"], "turnstile_token");
    assert!(seen.lock().unwrap().is_empty(), "no token, nothing to ask");

    let bad = with(form(), "turnstile_token", json!("forged-token"));
    let (status, _, body) = post_contact(&server, "203.0.113.2", &bad).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("TURNSTILE_FAILED")),
        "{body}"
    );

    let good = with(form(), "turnstile_token", json!("good-token"));
    let (status, _, body) = post_contact(&server, "203.0.113.3", &good).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored_messages(&server).await, 1);

    let asked = seen.lock().unwrap().clone();
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[1]["secret"], "turnstile-secret");
    assert_eq!(asked[1]["response"], "good-token");
    assert_eq!(
        asked[1]["remoteip"], "203.0.113.3",
        "the client's address, not the proxy's"
    );

    // An invalid form is refused before the token is spent.
    let invalid = with(good.clone(), "email", json!("nope"));
    assert_field(&post_contact(&server, "203.0.113.4", &invalid).await, "email");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn contact_form_is_refused_when_turnstile_cannot_be_asked() {
    let env = env_behind_proxy()
        .await
        .set("TURNSTILE_SECRET_KEY", "turnstile-secret")
        .set(
            "TURNSTILE_VERIFY_URL",
            &format!("http://{}/siteverify", closed_port().await),
        );
    let server = TestServer::spawn_env(env).await;
    let good = with(form(), "turnstile_token", json!("good-token"));
    let (status, _, body) = post_contact(&server, "203.0.113.9", &good).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("SERVICE_UNAVAILABLE")),
        "{body}"
    );
    assert_eq!(stored_messages(&server).await, 0, "never accepted unverified");
}

async fn landing(server: &TestServer) -> (reqwest::header::HeaderMap, Value) {
    let resp = server
        .http
        .get(server.url("/api/public/landing-stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let headers = resp.headers().clone();
    (headers, resp.json().await.unwrap())
}

#[tokio::test]
async fn landing_stats_count_machines_customers_and_hours_and_are_cached() {
    use entities::{clients, enums::LicenceStatus, machines};
    let server = TestServer::spawn().await;
    let db = &server.state.services.infra.db.conn;
    let root = server.admin_token().await;
    fleet(&server, &root, "Alpha", 2).await;
    fleet(&server, &root, "Beta", 1).await;
    let (suspended, _, _) = tenant_with_admin(&server, &root, "Gamma").await;
    let (expired, _, _) = tenant_with_admin(&server, &root, "Delta").await;
    clients::Entity::update_many()
        .col_expr(
            clients::Column::LicenseStatus,
            Expr::value(LicenceStatus::Suspended),
        )
        .filter(clients::Column::Id.eq(uuid::Uuid::parse_str(&suspended).unwrap()))
        .exec(db)
        .await
        .unwrap();
    // Still marked active, but past its expiry.
    clients::Entity::update_many()
        .col_expr(
            clients::Column::LicenseExpiresAt,
            Expr::value(Some(Utc::now() - chrono::Duration::days(1))),
        )
        .filter(clients::Column::Id.eq(uuid::Uuid::parse_str(&expired).unwrap()))
        .exec(db)
        .await
        .unwrap();
    // Enrolled 10, 20 and 30 hours ago.
    let all = machines::Entity::find().all(db).await.unwrap();
    assert_eq!(all.len(), 3);
    for (i, m) in all.iter().enumerate() {
        machines::Entity::update_many()
            .col_expr(
                machines::Column::CreatedAt,
                Expr::value(Utc::now() - chrono::Duration::hours(10 * (i as i64 + 1))),
            )
            .filter(machines::Column::Id.eq(m.id))
            .exec(db)
            .await
            .unwrap();
    }

    let (headers, stats) = landing(&server).await;
    assert_eq!(headers["cache-control"], "public, max-age=60");
    assert_eq!(
        stats,
        json!({ "total_machines": 3, "active_clients": 2, "total_monitoring_hours": 60 }),
        "Alpha and Beta; not the platform's own tenant, Gamma (suspended) nor Delta (expired)"
    );

    // Within the minute the cached figures stand, whatever changes.
    fleet(&server, &root, "Epsilon", 1).await;
    let (_, again) = landing(&server).await;
    assert_eq!(again, stats);
    // Once the entry is gone (as after its TTL), the new fleet shows.
    server
        .state
        .services
        .infra
        .cache
        .delete(optralis::domain::public::keys::LANDING_STATS)
        .await
        .unwrap();
    let (_, fresh) = landing(&server).await;
    assert_eq!(fresh["total_machines"], 4);
    assert_eq!(fresh["active_clients"], 3);
    assert_eq!(
        fresh["total_monitoring_hours"], 60,
        "the new machine has not run an hour yet"
    );
}

const RECORDED_HALF: i64 = 1_764_417_600;

/// The recorded getMonitors answer with its times moved to the current
/// half-day (whole half-days, so each event keeps its place relative to
/// the boundaries).
fn recorded_answer(current_half: DateTime<Utc>) -> Value {
    let raw = include_str!("fixtures/uptimerobot/getMonitors.json");
    let mut answer: Value = serde_json::from_str(raw).unwrap();
    let shift = current_half.timestamp() - RECORDED_HALF;
    for monitor in answer["monitors"].as_array_mut().unwrap() {
        for list in ["logs", "response_times"] {
            for entry in monitor[list].as_array_mut().unwrap() {
                let at = entry["datetime"].as_i64().unwrap();
                entry["datetime"] = json!(at + shift);
            }
        }
    }
    answer
}

struct UptimeRobotStandIn {
    addr: SocketAddr,
    calls: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
}

/// Serves the recorded answer to a well-formed request with our key;
/// anything else gets UptimeRobot's refusal.
async fn uptimerobot_stand_in(answer: Value) -> UptimeRobotStandIn {
    #[derive(Clone)]
    struct S {
        answer: Value,
        calls: Arc<AtomicUsize>,
        failing: Arc<AtomicBool>,
    }
    async fn get_monitors(
        State(s): State<S>,
        Form(form): Form<HashMap<String, String>>,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        s.calls.fetch_add(1, Ordering::SeqCst);
        if s.failing.load(Ordering::SeqCst) {
            return (axum::http::StatusCode::BAD_GATEWAY, "upstream down").into_response();
        }
        let expected = [
            ("api_key", "ur-test-key"),
            ("format", "json"),
            ("logs", "1"),
            ("logs_limit", "1000"),
            ("custom_uptime_ratios", "15"),
        ];
        if expected
            .iter()
            .any(|(k, v)| form.get(*k).map(String::as_str) != Some(*v))
        {
            return Json(json!({
                "stat": "fail",
                "error": { "type": "invalid_parameter", "parameter_name": "api_key", "message": "api_key is invalid." }
            }))
            .into_response();
        }
        Json(s.answer.clone()).into_response()
    }
    let state = S {
        answer,
        calls: Arc::new(AtomicUsize::new(0)),
        failing: Arc::new(AtomicBool::new(false)),
    };
    let (calls, failing) = (state.calls.clone(), state.failing.clone());
    let app = Router::new()
        .route("/v2/getMonitors", post(get_monitors))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    UptimeRobotStandIn { addr, calls, failing }
}

async fn external(server: &TestServer) -> (reqwest::header::HeaderMap, Value) {
    let resp = server
        .http
        .get(server.url("/status/external"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "never a 500");
    let headers = resp.headers().clone();
    (headers, resp.json().await.unwrap())
}

fn half_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(chrono::Duration::hours(12)).unwrap()
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[tokio::test]
async fn external_monitors_are_empty_without_a_key() {
    let server = TestServer::spawn().await;
    let (_, body) = external(&server).await;
    assert_eq!(body["monitors"], json!([]), "{body}");
    assert!(body["timestamp"].is_string(), "{body}");
    assert!(body.get("error").is_none(), "{body}");
}

#[tokio::test]
async fn external_monitors_compute_half_days_from_uptimerobot_logs() {
    // The recorded times are moved to the current half; a call crossing
    // into the next half would shift the expected positions by one, so
    // start clear of the boundary.
    let to_boundary = half_of(Utc::now()) + chrono::Duration::hours(12) - Utc::now();
    if to_boundary < chrono::Duration::seconds(30) {
        tokio::time::sleep(to_boundary.to_std().unwrap() + Duration::from_secs(1)).await;
    }
    let half = half_of(Utc::now());
    let stand_in = uptimerobot_stand_in(recorded_answer(half)).await;
    let env = TestEnv::new()
        .await
        .set("UPTIMEROBOT_API_KEY", "ur-test-key")
        .set("UPTIMEROBOT_BASE_URL", &format!("http://{}/v2", stand_in.addr));
    let server = TestServer::spawn_env(env).await;

    let (headers, body) = external(&server).await;
    assert_eq!(headers["cache-control"], "public, max-age=60");
    assert!(body.get("error").is_none(), "{body}");
    let at: DateTime<Utc> = body["timestamp"].as_str().unwrap().parse().unwrap();
    assert_eq!(half_of(at), half, "computed in the half the fixture was moved to");
    let monitors = body["monitors"].as_array().unwrap();
    assert_eq!(monitors.len(), 2, "{body}");

    let api = &monitors[0];
    assert_eq!(api["id"], "802079181");
    assert_eq!(api["name"], "Optralis - API");
    assert_eq!(api["status"], "online");
    assert_eq!(api["url"], "https://optralis-api.2lacs-it.com/health");
    assert_eq!(api["uptime_ratio"], 99.95);
    assert_eq!(api["response_time"], 148, "the latest check");
    let bars: Vec<f64> = serde_json::from_value(api["uptime_15d"].clone()).unwrap();
    assert_eq!(bars.len(), 30);
    // The outage across the boundary 48 h before the current half: 3600 s
    // in the half before it, 7200 s in the half after.
    assert_eq!(bars[24], 91.67);
    assert_eq!(bars[25], 83.33);
    for (i, v) in bars.iter().enumerate() {
        if i != 24 && i != 25 {
            assert_eq!(*v, 100.0, "half {i}: {bars:?}");
        }
    }

    let front = &monitors[1];
    assert_eq!(front["status"], "offline");
    assert_eq!(front["uptime_ratio"], 98.127);
    assert_eq!(
        front["response_time"], 85,
        "the average, rounded, without a latest check"
    );
    let bars: Vec<f64> = serde_json::from_value(front["uptime_15d"].clone()).unwrap();
    // Down since 6 h into the previous half, still down: half of it lost,
    // and the current half up to now, over the whole 43200 s.
    assert_eq!(bars[28], 50.0);
    let down_now = (at - half).num_seconds() as f64;
    assert_eq!(bars[29], round2((43_200.0 - down_now) / 43_200.0 * 100.0));
    assert!(bars[..28].iter().all(|v| *v == 100.0), "{bars:?}");

    // Cached: a second call does not ask UptimeRobot again.
    let (_, again) = external(&server).await;
    assert_eq!(again, body);
    assert_eq!(stand_in.calls.load(Ordering::SeqCst), 1);

    // UptimeRobot failing: the last good answer is served, with an error.
    stand_in.failing.store(true, Ordering::SeqCst);
    let cache = &server.state.services.infra.cache;
    cache
        .delete(optralis::domain::status::external::keys::REPORT)
        .await
        .unwrap();
    let (headers, stale) = external(&server).await;
    assert_eq!(stand_in.calls.load(Ordering::SeqCst), 2);
    assert!(stale["error"].is_string(), "{stale}");
    assert_eq!(stale["monitors"], body["monitors"]);
    assert_eq!(
        headers["cache-control"], "public, max-age=10",
        "a failure is not kept the full minute"
    );
}

#[tokio::test]
async fn external_monitors_survive_uptimerobot_being_down_or_refusing() {
    let env = TestEnv::new()
        .await
        .set("UPTIMEROBOT_API_KEY", "ur-test-key")
        .set(
            "UPTIMEROBOT_BASE_URL",
            &format!("http://{}/v2", closed_port().await),
        );
    let server = TestServer::spawn_env(env).await;
    let (_, body) = external(&server).await;
    assert_eq!(body["monitors"], json!([]), "{body}");
    assert!(body["error"].is_string(), "{body}");
    assert!(
        !body.to_string().contains("ur-test-key"),
        "the key is never shown"
    );

    // A key UptimeRobot refuses is an error too, not monitors.
    let stand_in = uptimerobot_stand_in(recorded_answer(half_of(Utc::now()))).await;
    let env = TestEnv::new()
        .await
        .set("UPTIMEROBOT_API_KEY", "wrong-key")
        .set("UPTIMEROBOT_BASE_URL", &format!("http://{}/v2", stand_in.addr));
    let server = TestServer::spawn_env(env).await;
    let (_, body) = external(&server).await;
    assert_eq!(stand_in.calls.load(Ordering::SeqCst), 1);
    assert_eq!(body["monitors"], json!([]), "{body}");
    assert!(body["error"].is_string(), "{body}");
}

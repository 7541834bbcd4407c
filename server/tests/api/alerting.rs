//! Alerting end to end: channels and rules over GraphQL, a simulated
//! machine crossing a threshold, going offline and coming back, and what a
//! local webhook stand-in receives.

use crate::{
    collect::{metrics_sample, sample},
    helpers::{error_code, fleet, heartbeat_body, TestEnv, TestServer, WsClient, WITHOUT_WORKERS},
};
use axum::{extract::State, http::StatusCode, routing::post, Json, Router};
use chrono::Utc;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

/// What the sink's handler shares: messages received, failures left.
type SinkState = (Arc<Mutex<Vec<(String, Value)>>>, Arc<Mutex<usize>>);

/// A chat webhook receiver on 127.0.0.1 that records every POST and
/// answers 500 to the first `failures` of them.
#[derive(Clone)]
pub struct WebhookSink {
    pub url: String,
    received: Arc<Mutex<Vec<(String, Value)>>>,
    failures: Arc<Mutex<usize>>,
}

impl WebhookSink {
    pub async fn start(failures: usize) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(Mutex::new(failures));
        let state = (received.clone(), failures.clone());
        let app = Router::new()
            .route(
                "/{*path}",
                post(
                    |State((received, failures)): State<SinkState>,
                     uri: axum::http::Uri,
                     Json(body): Json<Value>| async move {
                        let mut left = failures.lock().unwrap();
                        if *left > 0 {
                            *left -= 1;
                            return StatusCode::INTERNAL_SERVER_ERROR;
                        }
                        received.lock().unwrap().push((uri.path().to_owned(), body));
                        StatusCode::OK
                    },
                ),
            )
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            received,
            failures,
        }
    }

    pub fn received(&self) -> Vec<(String, Value)> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `n` messages arrived (up to 15 s), then returns them.
    pub async fn wait_for(&self, n: usize) -> Vec<(String, Value)> {
        for _ in 0..150 {
            if self.received().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.received()
    }

    pub fn failures_left(&self) -> usize {
        *self.failures.lock().unwrap()
    }
}

pub async fn create_channel(server: &TestServer, admin: &str, name: &str, kind: &str, url: &str) -> String {
    let body = server
        .graphql_as(
            admin,
            "mutation($i: NotificationChannelInput!) { createNotificationChannel(input: $i) { id config { webhookUrl } } }",
            json!({ "i": { "name": name, "type": kind, "config": { "webhookUrl": url } } }),
        )
        .await;
    body["data"]["createNotificationChannel"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createNotificationChannel: {body}"))
        .to_owned()
}

async fn create_rule(server: &TestServer, admin: &str, input: Value) -> Value {
    server
        .graphql_as(
            admin,
            "mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { id cooldownMinutes operatorSymbol channelIds } }",
            json!({ "i": input }),
        )
        .await
}

fn private_webhooks() -> impl FnOnce(TestEnv) -> TestEnv {
    |env| env.set("ALLOW_PRIVATE_WEBHOOKS", "true")
}

#[tokio::test]
async fn a_machine_over_its_cpu_threshold_alerts_once_resolves_once_and_offline_online_notify_once_each() {
    let server = TestServer::spawn_env(private_webhooks()(TestEnv::new().await)).await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Alerts", 1).await;
    let agent = &agents[0];
    let sink = WebhookSink::start(0).await;
    let slack = create_channel(
        &server,
        &admin,
        "Ops Slack",
        "WEBHOOK_SLACK",
        &format!("{}/slack", sink.url),
    )
    .await;
    let rule = create_rule(
        &server,
        &admin,
        json!({ "name": "CPU critique", "metric": "CPU", "operator": "GT", "threshold": 90, "severity": "CRITICAL", "cooldownMinutes": 5, "channelIds": [slack] }),
    )
    .await;
    let rule_id = rule["data"]["createAlertRule"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{rule}"))
        .to_owned();
    assert_eq!(rule["data"]["createAlertRule"]["operatorSymbol"], ">");

    // A first heartbeat is no "back online".
    agent.heartbeat(&heartbeat_body(&agent.hostname)).await;

    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&admin).await;
    ws.subscribe(
        "a",
        "subscription { alertFired { ruleId machineId severity triggeredValue } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Under the threshold: nothing.
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 50.0, 40.0)).await.0, 200);
    // Over it: one alert, one notification, one live event.
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 95.5, 40.0)).await.0, 200);
    let got = sink.wait_for(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "/slack");
    let fired = ws.recv().await;
    assert_eq!(
        fired["payload"]["data"]["alertFired"],
        json!({ "ruleId": rule_id, "machineId": agent.machine_id.to_string(), "severity": "critical", "triggeredValue": 95.5 }),
        "{fired}"
    );
    // Still over: the alert is open, nothing new.
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 97.0, 40.0)).await.0, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.received().len(), 1);
    let history = server
        .graphql_as(
            &admin,
            "{ alertHistory(first: 10) { edges { node { ruleId machineId machineHostname triggeredValue triggeredAt resolvedAt } } } activeAlerts { id } }",
            json!({}),
        )
        .await;
    let edges = history["data"]["alertHistory"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(edges.len(), 1, "{history}");
    assert_eq!(edges[0]["node"]["ruleId"], rule_id.as_str());
    assert_eq!(edges[0]["node"]["machineHostname"], agent.hostname.as_str());
    assert_eq!(edges[0]["node"]["triggeredValue"], 95.5);
    assert_eq!(history["data"]["activeAlerts"].as_array().unwrap().len(), 1);

    // Back under: resolved once, notified once as a resolution.
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 30.0, 40.0)).await.0, 200);
    let got = sink.wait_for(2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    let active = server
        .graphql_as(&admin, "{ activeAlerts { id } }", json!({}))
        .await;
    assert_eq!(active["data"]["activeAlerts"], json!([]), "{active}");

    // Ten minutes of silence, then the offline job: one "offline".
    let db = &server.state.services.infra.db;
    entities::machines::Entity::update_many()
        .col_expr(
            entities::machines::Column::LastSeen,
            Expr::value(Some(Utc::now() - chrono::Duration::minutes(10))),
        )
        .filter(entities::machines::Column::Id.eq(agent.machine_id))
        .exec(&db.conn)
        .await
        .unwrap();
    optralis::jobs::offline::tick(&server.state.services)
        .await
        .unwrap();
    optralis::jobs::offline::tick(&server.state.services)
        .await
        .unwrap();
    let got = sink.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.received().len(), 3, "offline announced once: {got:?}");
    // Back: one "online".
    agent.heartbeat(&heartbeat_body(&agent.hostname)).await;
    agent.heartbeat(&heartbeat_body(&agent.hostname)).await;
    let got = sink.wait_for(4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.received().len(), 4, "online announced once: {got:?}");

    let notes = server
        .graphql_as(
            &admin,
            "{ notificationHistory(first: 10) { edges { node { channelId alertType status } } } }",
            json!({}),
        )
        .await;
    let mut types: Vec<(String, String)> = notes["data"]["notificationHistory"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["node"]["channelId"], slack.as_str());
            (
                e["node"]["alertType"].as_str().unwrap().to_owned(),
                e["node"]["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            ("alert_resolved", "SENT"),
            ("high_cpu", "SENT"),
            ("machine_offline", "SENT"),
            ("machine_online", "SENT")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .to_vec(),
        "{notes}"
    );
}

#[tokio::test]
async fn rules_and_channels_are_checked_and_stay_in_their_tenant() {
    let server = TestServer::spawn_env(private_webhooks()(TestEnv::new().await)).await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Owner", 1).await;
    let (other, _) = fleet(&server, &root, "Other", 0).await;
    let sink = WebhookSink::start(0).await;
    let channel = create_channel(
        &server,
        &admin,
        "Teams",
        "WEBHOOK_TEAMS",
        &format!("{}/t", sink.url),
    )
    .await;
    let base = json!({ "name": "Disk", "metric": "DISK", "operator": "GTE", "threshold": 90, "severity": "WARNING", "channelIds": [channel] });
    let ok = create_rule(&server, &admin, base.clone()).await;
    assert_eq!(ok["data"]["createAlertRule"]["cooldownMinutes"], 60, "{ok}");
    let rule_id = ok["data"]["createAlertRule"]["id"].as_str().unwrap().to_owned();

    let mut bad = base.clone();
    bad["cooldownMinutes"] = json!(4);
    assert_eq!(
        error_code(&create_rule(&server, &admin, bad).await),
        "BAD_USER_INPUT"
    );
    let mut bad = base.clone();
    bad["threshold"] = json!(150);
    assert_eq!(
        error_code(&create_rule(&server, &admin, bad).await),
        "BAD_USER_INPUT"
    );
    // Another tenant's channel and machine are not usable.
    let mut bad = base.clone();
    bad["name"] = json!("Theirs");
    assert_eq!(
        error_code(&create_rule(&server, &other, bad).await),
        "BAD_USER_INPUT"
    );
    let mut bad = base.clone();
    bad["channelIds"] = json!([]);
    bad["machineId"] = json!(agents[0].machine_id.to_string());
    assert_eq!(
        error_code(&create_rule(&server, &other, bad).await),
        "BAD_USER_INPUT"
    );

    // Nothing of one tenant shows in the other.
    let seen = server
        .graphql_as(
            &other,
            "query($id: ID!) { alertRules { id } notificationChannels { id } alertRule(id: $id) { id } }",
            json!({ "id": rule_id }),
        )
        .await;
    assert_eq!(error_code(&seen), "NOT_FOUND", "{seen}");
    let lists = server
        .graphql_as(
            &other,
            "{ alertRules { id } notificationChannels { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        lists["data"],
        json!({ "alertRules": [], "notificationChannels": [] })
    );
    let gone = server
        .graphql_as(
            &other,
            "mutation($id: ID!) { deleteNotificationChannel(id: $id) }",
            json!({ "id": channel }),
        )
        .await;
    assert_eq!(error_code(&gone), "NOT_FOUND");

    // The URL is a secret: reads mask it.
    let read = server
        .graphql_as(
            &admin,
            "{ notificationChannels { config { webhookUrl } } }",
            json!({}),
        )
        .await;
    let masked = read["data"]["notificationChannels"][0]["config"]["webhookUrl"]
        .as_str()
        .unwrap();
    // Scheme and host stay, the path is cut to its last four characters.
    assert_ne!(masked, format!("{}/t", sink.url));
    assert!(masked.starts_with(&format!("{}/…", sink.url)), "{masked}");

    let meta = server
        .graphql_as(
            &admin,
            "{ alertRuleMetadata { metrics operators severities } }",
            json!({}),
        )
        .await;
    assert_eq!(
        meta["data"]["alertRuleMetadata"],
        json!({
            "metrics": ["cpu", "ram", "disk", "temperature", "offline_minutes"],
            "operators": [">", "<", ">=", "<=", "=="],
            "severities": ["low", "warning", "critical"]
        })
    );
}

#[tokio::test]
async fn a_failing_webhook_is_retried_until_it_succeeds_and_recorded_sent() {
    let server =
        TestServer::spawn_env(private_webhooks()(TestEnv::new().await).set(WITHOUT_WORKERS, "1")).await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Retry", 1).await;
    let sink = WebhookSink::start(2).await;
    let channel = create_channel(
        &server,
        &admin,
        "Discord",
        "WEBHOOK_DISCORD",
        &format!("{}/d", sink.url),
    )
    .await;
    let tested = server
        .graphql_as(
            &admin,
            "mutation($id: ID!) { testNotificationChannel(id: $id) { id status alertType } }",
            json!({ "id": channel }),
        )
        .await;
    assert_eq!(
        tested["data"]["testNotificationChannel"]["status"], "PENDING",
        "{tested}"
    );
    crate::helpers::drive_outbox(&server, 3).await;
    assert_eq!(sink.failures_left(), 0);
    assert_eq!(sink.received().len(), 1, "delivered once after two failures");
    let notes = server
        .graphql_as(
            &admin,
            "{ notificationHistory(first: 5) { edges { node { alertType status attempts lastError } } } }",
            json!({}),
        )
        .await;
    let node = &notes["data"]["notificationHistory"]["edges"][0]["node"];
    assert_eq!(node["alertType"], "test");
    assert_eq!(node["status"], "SENT", "{notes}");
    assert_eq!(node["attempts"], 3);
    // A sample through the same server is untouched by all this.
    assert_eq!(
        agents[0]
            .collect(sample(
                "metrics",
                Utc::now(),
                json!({ "cpu_percent": 1.0, "ram_percent": 1.0, "uptime_seconds": 1 })
            ))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn webhooks_into_the_network_or_over_plain_http_are_refused_without_the_switch() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, _) = fleet(&server, &root, "Guarded", 0).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "http://hooks.example.com/plain-http",
        "not a url",
    ] {
        let body = server
            .graphql_as(
                &admin,
                "mutation($i: NotificationChannelInput!) { createNotificationChannel(input: $i) { id } }",
                json!({ "i": { "name": "Sneaky", "type": "WEBHOOK_DISCORD", "config": { "webhookUrl": url } } }),
            )
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{url}: {body}");
    }
    let none = server
        .graphql_as(&admin, "{ notificationChannels { id } }", json!({}))
        .await;
    assert_eq!(none["data"]["notificationChannels"], json!([]), "nothing kept");
}

#[tokio::test]
async fn an_e_mail_channel_gets_the_machine_alert_as_html_and_text() {
    use crate::helpers::SmtpSink;
    let mut sink = SmtpSink::start().await;
    let env = TestEnv::new()
        .await
        .set("SMTP_HOST", "127.0.0.1")
        .set("SMTP_PORT", &sink.port.to_string())
        .set("SMTP_TLS", "none")
        .set("SMTP_FROM", "Optralis <noreply@optralis.test>");
    let server = TestServer::spawn_env(env).await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Mailed", 1).await;
    let agent = &agents[0];
    agent.heartbeat(&heartbeat_body(&agent.hostname)).await;
    let created = server
        .graphql_as(
            &admin,
            "mutation($i: NotificationChannelInput!) { createNotificationChannel(input: $i) { id type config { emails } } }",
            json!({ "i": { "name": "Ops", "type": "EMAIL", "config": { "emails": ["ops@mailed.test", "oncall@mailed.test"] } } }),
        )
        .await;
    let channel = created["data"]["createNotificationChannel"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let rule = create_rule(
        &server,
        &admin,
        json!({ "name": "RAM <script>", "metric": "RAM", "operator": "GTE", "threshold": 80, "severity": "WARNING", "channelIds": [channel] }),
    )
    .await;
    assert!(rule["data"]["createAlertRule"]["id"].is_string(), "{rule}");
    assert_eq!(agent.collect(metrics_sample(Utc::now(), 10.0, 91.0)).await.0, 200);
    // The tenant set-up's welcome e-mail may come first.
    let raw = loop {
        let raw = sink.next().await;
        if raw.contains("ops@mailed.test") {
            break raw;
        }
    };
    let message = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap();
    let to: Vec<_> = message
        .to()
        .unwrap()
        .iter()
        .filter_map(|a| a.address().map(str::to_owned))
        .collect();
    assert_eq!(
        to,
        ["ops@mailed.test", "oncall@mailed.test"],
        "one message to the list"
    );
    let html = message.body_html(0).expect("an HTML part").into_owned();
    let text = message.body_text(0).expect("a text part").into_owned();
    assert!(html.contains(&agent.hostname), "{html}");
    assert!(text.contains(&agent.hostname), "{text}");
    assert!(html.contains("RAM"), "{html}");
    assert!(!html.contains("<script>"), "the rule name is escaped");
    assert!(
        message
            .parts
            .iter()
            .any(|p| mail_parser::MimeHeaders::content_type(p).is_some_and(|c| c.ctype() == "image")),
        "the logo travels inline"
    );
}

async fn set_machine(
    server: &TestServer,
    machine: uuid::Uuid,
    col: entities::machines::Column,
    value: sea_orm::Value,
) {
    entities::machines::Entity::update_many()
        .col_expr(col, Expr::value(value))
        .filter(entities::machines::Column::Id.eq(machine))
        .exec(&server.state.services.infra.db.conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn offline_minutes_rules_fire_from_the_offline_job_for_their_group_and_maintenance_mutes() {
    let server = TestServer::spawn_env(private_webhooks()(TestEnv::new().await)).await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Dark", 3).await;
    for a in &agents {
        a.heartbeat(&heartbeat_body(&a.hostname)).await;
    }
    let sink = WebhookSink::start(0).await;
    let channel = create_channel(
        &server,
        &admin,
        "Chat",
        "WEBHOOK_SLACK",
        &format!("{}/c", sink.url),
    )
    .await;
    let group = server
        .graphql_as(
            &admin,
            "mutation { createGroup(name: \"Servers\") { id } }",
            json!({}),
        )
        .await["data"]["createGroup"]["id"]
        .clone();
    let moved = server
        .graphql_as(
            &admin,
            "mutation($m: [ID!]!, $g: ID) { setMachinesGroup(machineIds: $m, groupId: $g) }",
            json!({ "m": [agents[0].machine_id.to_string(), agents[1].machine_id.to_string()], "g": group }),
        )
        .await;
    assert_eq!(moved["data"]["setMachinesGroup"], 2, "{moved}");
    let rule = create_rule(
        &server,
        &admin,
        json!({ "name": "Serveur injoignable", "metric": "OFFLINE_MINUTES", "operator": "GT", "threshold": 15, "severity": "CRITICAL", "groupId": group, "channelIds": [channel] }),
    )
    .await;
    let rule_id = rule["data"]["createAlertRule"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{rule}"))
        .to_owned();

    // All three silent for 20 minutes; the second is in maintenance.
    let silent = Some(Utc::now() - chrono::Duration::minutes(20));
    for a in &agents {
        set_machine(
            &server,
            a.machine_id,
            entities::machines::Column::LastSeen,
            silent.into(),
        )
        .await;
    }
    set_machine(
        &server,
        agents[1].machine_id,
        entities::machines::Column::MaintenanceMode,
        true.into(),
    )
    .await;
    optralis::jobs::offline::tick(&server.state.services)
        .await
        .unwrap();
    optralis::jobs::offline::tick(&server.state.services)
        .await
        .unwrap();

    let history = server
        .graphql_as(
            &admin,
            "query($r: ID) { alertHistory(ruleId: $r, first: 10) { edges { node { id machineId triggeredValue alertType } } } }",
            json!({ "r": rule_id }),
        )
        .await;
    let edges = history["data"]["alertHistory"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        edges.len(),
        1,
        "only the grouped machine not in maintenance: {history}"
    );
    let node = &edges[0]["node"];
    assert_eq!(node["machineId"], agents[0].machine_id.to_string());
    assert_eq!(node["alertType"], "machine_offline");
    assert!(node["triggeredValue"].as_f64().unwrap() >= 20.0, "{node}");
    // Two machines went offline (maintenance excluded): two generic
    // notices plus the rule's alert.
    let got = sink.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.received().len(), 3, "{got:?}");

    // An admin takes it.
    let alert_id = node["id"].as_str().unwrap().to_owned();
    let ack = server
        .graphql_as(
            &admin,
            "mutation($id: ID!) { acknowledgeAlert(id: $id) { acknowledgedAt acknowledgedBy resolvedAt } }",
            json!({ "id": alert_id }),
        )
        .await;
    assert!(
        ack["data"]["acknowledgeAlert"]["acknowledgedAt"].is_string(),
        "{ack}"
    );
    assert!(
        ack["data"]["acknowledgeAlert"]["acknowledgedBy"].is_string(),
        "{ack}"
    );
    let (other, _) = fleet(&server, &root, "Nosy", 0).await;
    let theirs = server
        .graphql_as(
            &other,
            "mutation($id: ID!) { acknowledgeAlert(id: $id) { id } }",
            json!({ "id": alert_id }),
        )
        .await;
    assert_eq!(error_code(&theirs), "NOT_FOUND");

    // It comes back: the offline alert resolves.
    agents[0].heartbeat(&heartbeat_body(&agents[0].hostname)).await;
    let mut resolved = Value::Null;
    for _ in 0..50 {
        let active = server
            .graphql_as(&admin, "{ activeAlerts { id } }", json!({}))
            .await;
        resolved = active["data"]["activeAlerts"].clone();
        if resolved == json!([]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(resolved, json!([]), "resolved when the machine came back");
}

#[tokio::test]
async fn an_english_tenant_reads_english_and_a_dead_webhook_ends_failed_after_its_attempts() {
    let server =
        TestServer::spawn_env(private_webhooks()(TestEnv::new().await).set(WITHOUT_WORKERS, "1")).await;
    let root = server.admin_token().await;
    let created = server
        .graphql_as(
            &root,
            "mutation($i: CreateClientInput!) { createClient(input: $i) { client { language } } }",
            json!({ "i": { "name": "Globex", "licenseType": "pro", "adminEmail": "admin@globex.test", "language": "EN" } }),
        )
        .await;
    assert_eq!(
        created["data"]["createClient"]["client"]["language"], "EN",
        "{created}"
    );

    let (admin, _) = fleet(&server, &root, "Initech", 0).await;
    entities::clients::Entity::update_many()
        .col_expr(
            entities::clients::Column::Language,
            Expr::value(entities::enums::Language::En),
        )
        .filter(entities::clients::Column::Name.eq("Initech"))
        .exec(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    let sink = WebhookSink::start(usize::MAX).await;
    let channel = create_channel(
        &server,
        &admin,
        "Dead",
        "WEBHOOK_DISCORD",
        &format!("{}/d", sink.url),
    )
    .await;
    server
        .graphql_as(
            &admin,
            "mutation($id: ID!) { testNotificationChannel(id: $id) { id } }",
            json!({ "id": channel }),
        )
        .await;
    let stored: Value = serde_json::from_str(
        &entities::email_outbox::Entity::find()
            .filter(entities::email_outbox::Column::Transport.eq("webhook"))
            .one(&server.state.services.infra.db.conn)
            .await
            .unwrap()
            .unwrap()
            .payload
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stored["embeds"][0]["title"], "🧪 TEST NOTIFICATION", "{stored}");

    crate::helpers::drive_outbox(&server, 10).await;
    let notes = server
        .graphql_as(
            &admin,
            "{ notificationHistory(first: 5) { edges { node { status attempts lastError } } } }",
            json!({}),
        )
        .await;
    let node = &notes["data"]["notificationHistory"]["edges"][0]["node"];
    assert_eq!(node["status"], "FAILED", "{notes}");
    assert_eq!(node["attempts"], 8, "bounded: {notes}");
    let error = node["lastError"].as_str().unwrap();
    assert!(error.contains("500"), "{error}");
    assert!(!error.contains("/d"), "the URL is a secret: {error}");
}

#[tokio::test]
async fn notifications_are_kept_30_days_and_fired_alerts_90() {
    use sea_orm::PaginatorTrait;
    let server =
        TestServer::spawn_env(private_webhooks()(TestEnv::new().await).set(WITHOUT_WORKERS, "1")).await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Aged", 1).await;
    let sink = WebhookSink::start(0).await;
    let channel = create_channel(
        &server,
        &admin,
        "Chat",
        "WEBHOOK_SLACK",
        &format!("{}/a", sink.url),
    )
    .await;
    create_rule(
        &server,
        &admin,
        json!({ "name": "Away", "metric": "OFFLINE_MINUTES", "operator": "GT", "threshold": 5, "severity": "LOW", "channelIds": [channel] }),
    )
    .await;
    set_machine(
        &server,
        agents[0].machine_id,
        entities::machines::Column::LastSeen,
        Some(Utc::now() - chrono::Duration::minutes(30)).into(),
    )
    .await;
    optralis::jobs::offline::tick(&server.state.services)
        .await
        .unwrap();
    let test = "mutation($id: ID!) { testNotificationChannel(id: $id) { id } }";
    server.graphql_as(&admin, test, json!({ "id": channel })).await;
    let db = &server.state.services.infra.db;
    // Everything so far is made old: alerts 91 days, notifications 31.
    entities::alert_rule_history::Entity::update_many()
        .col_expr(
            entities::alert_rule_history::Column::TriggeredAt,
            Expr::value(Utc::now() - chrono::Duration::days(91)),
        )
        .exec(&db.conn)
        .await
        .unwrap();
    entities::notification_history::Entity::update_many()
        .col_expr(
            entities::notification_history::Column::CreatedAt,
            Expr::value(Utc::now() - chrono::Duration::days(31)),
        )
        .exec(&db.conn)
        .await
        .unwrap();
    assert_eq!(
        entities::alert_rule_history::Entity::find()
            .count(&db.conn)
            .await
            .unwrap(),
        1
    );
    server.graphql_as(&admin, test, json!({ "id": channel })).await;
    optralis::jobs::cleanup::purge(db, server.timescaledb())
        .await
        .unwrap();
    assert_eq!(
        entities::alert_rule_history::Entity::find()
            .count(&db.conn)
            .await
            .unwrap(),
        0
    );
    let left = server
        .graphql_as(
            &admin,
            "{ notificationHistory(first: 50) { edges { node { alertType } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        left["data"]["notificationHistory"]["edges"],
        json!([{ "node": { "alertType": "test" } }]),
        "only the fresh test notification stays: {left}"
    );
}

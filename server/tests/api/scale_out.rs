//! Two `optralis serve` processes on one PostgreSQL and one Redis: an
//! agent talks to instance A, a dashboard subscribed on instance B sees
//! the event. Runs only when the PostgreSQL and Redis test URLs are set.

use crate::{
    helpers::{TestAgent, TestEnv, WsClient},
    process::ServerProcess,
};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn an_event_from_instance_a_reaches_a_subscriber_on_instance_b() {
    let env = TestEnv::new().await;
    if env.pg.is_none() || !env.vars.contains_key("REDIS_URL") {
        crate::helpers::skip(
            "scale_out::an_event_from_instance_a_reaches_a_subscriber_on_instance_b",
            "needs a shared PostgreSQL and Redis (OPTRALIS_TEST_DATABASE_URL, OPTRALIS_TEST_REDIS_URL)",
        );
        return;
    }
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = ServerProcess::start(&env, dir_a.path()).await;
    // Instances share one CA, as a deployment shares its data volume.
    for file in ["ca.crt", "ca.key"] {
        std::fs::copy(dir_a.path().join(file), dir_b.path().join(file)).unwrap();
    }
    let mut b = ServerProcess::start(&env, dir_b.path()).await;

    let token = a.admin_token().await;

    // The dashboard watches instance B.
    let mut ws = WsClient::connect(&b.ws_url()).await;
    ws.init_with(&token).await;
    ws.subscribe(
        "s",
        "subscription { machineStatusChanged { hostname status } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The agent enrols and heartbeats through instance A.
    let secret = a.install_token(&token, 1).await;
    let agent = TestAgent::enrol(&a, &secret, "far-away", "HW-far-away").await;
    let body =
        json!({ "hostname": "far-away", "os": "linux", "os_version": "Debian 12", "agent_version": "2.1.0" });
    agent.heartbeat(&body).await;

    let mut statuses = Vec::new();
    while statuses.len() < 2 {
        let frame = ws.recv().await;
        let event = &frame["payload"]["data"]["machineStatusChanged"];
        assert_eq!(event["hostname"], "far-away", "{frame}");
        statuses.push(event["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        statuses,
        ["ENROLLED", "ONLINE"],
        "events published on A reach B through Redis"
    );

    // The same certificate works on B: one CA, one revocation state.
    agent.at(&b).heartbeat(&body).await;
    let revoked = b
        .graphql(
            Some(&token),
            "mutation($m: ID!) { revokeMachineCertificate(machineId: $m, reason: \"lost\") }",
            json!({ "m": agent.machine_id }),
        )
        .await;
    assert_eq!(revoked["data"]["revokeMachineCertificate"], true, "{revoked}");
    let refused = agent.post_heartbeat(&body).await;
    assert_eq!(refused.status(), 403, "a revocation on B applies on A at once");
    let _ = a.child.kill().await;
    let _ = b.child.kill().await;
}

/// Samples of one machine reach both instances while its CPU stays high,
/// and the stand-in fails the first delivery: one alert, one message.
#[tokio::test]
async fn two_instances_fire_one_alert_and_deliver_it_once_despite_a_failed_attempt() {
    use crate::{alerting::WebhookSink, collect::metrics_sample};
    let env = TestEnv::new().await.set("ALLOW_PRIVATE_WEBHOOKS", "true");
    if env.pg.is_none() || !env.vars.contains_key("REDIS_URL") {
        crate::helpers::skip(
            "scale_out::two_instances_fire_one_alert_and_deliver_it_once_despite_a_failed_attempt",
            "needs a shared PostgreSQL and Redis (OPTRALIS_TEST_DATABASE_URL, OPTRALIS_TEST_REDIS_URL)",
        );
        return;
    }
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = ServerProcess::start(&env, dir_a.path()).await;
    for file in ["ca.crt", "ca.key"] {
        std::fs::copy(dir_a.path().join(file), dir_b.path().join(file)).unwrap();
    }
    let mut b = ServerProcess::start(&env, dir_b.path()).await;
    let token = a.admin_token().await;
    let sink = WebhookSink::start(1).await;
    let channel = a
        .graphql(
            Some(&token),
            "mutation($i: NotificationChannelInput!) { createNotificationChannel(input: $i) { id } }",
            json!({ "i": { "name": "Slack", "type": "WEBHOOK_SLACK", "config": { "webhookUrl": format!("{}/hook", sink.url) } } }),
        )
        .await;
    let channel = channel["data"]["createNotificationChannel"]["id"].clone();
    let rule = b
        .graphql(
            Some(&token),
            "mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { id } }",
            json!({ "i": { "name": "CPU", "metric": "CPU", "operator": "GT", "threshold": 90, "severity": "CRITICAL", "cooldownMinutes": 5, "channelIds": [channel] } }),
        )
        .await;
    assert!(rule["data"]["createAlertRule"]["id"].is_string(), "{rule}");

    let secret = a.install_token(&token, 1).await;
    let agent = TestAgent::enrol(&a, &secret, "busy", "HW-busy").await;
    let on_b = agent.at(&b);
    for i in 0..6 {
        let sample = metrics_sample(chrono::Utc::now(), 95.0 + i as f64 / 10.0, 40.0);
        let via = if i % 2 == 0 { &agent } else { &on_b };
        assert_eq!(via.collect(sample).await.0, 200);
    }
    // The first attempt fails; the retry comes after the backoff (10 s).
    let got = sink.wait_for(1).await;
    let got = if got.is_empty() {
        tokio::time::sleep(Duration::from_secs(12)).await;
        sink.wait_for(1).await
    } else {
        got
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.failures_left(), 0, "the stand-in refused once");
    assert_eq!(sink.received().len(), 1, "one alert, delivered once: {got:?}");
    let history = a
        .graphql(
            Some(&token),
            "{ alertHistory(first: 10) { edges { node { triggeredValue } } } notificationHistory(first: 10) { edges { node { status attempts } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        history["data"]["alertHistory"]["edges"].as_array().unwrap().len(),
        1,
        "{history}"
    );
    assert_eq!(
        history["data"]["notificationHistory"]["edges"][0]["node"],
        json!({ "status": "SENT", "attempts": 2 }),
        "{history}"
    );
    let _ = a.child.kill().await;
    let _ = b.child.kill().await;
}

//! `GET /metrics`: who may scrape, and that the series move with what the
//! server does. The recorder is shared by every server of this test
//! process, so counters are compared before and after this test's own
//! traffic (deltas, or label values only this file uses); gauges describe
//! the scraped server and are exact.

use crate::{
    collect::metrics_sample,
    helpers::{
        drive_outbox, error_code, fleet, heartbeat_body, TestEnv, TestServer, WsClient, WITHOUT_WORKERS,
    },
};
use openmetrics_parser::{prometheus::parse_prometheus, MetricsExposition, PrometheusType, PrometheusValue};
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

type Scrape = MetricsExposition<PrometheusType, PrometheusValue>;

fn parse(text: &str) -> Scrape {
    parse_prometheus(text).unwrap_or_else(|e| panic!("not Prometheus text ({e:?}):\n{text}"))
}

/// The scraped text, parsed; asserts the transport rules of a scrape.
async fn scrape(server: &TestServer) -> (Scrape, String) {
    let resp = server.http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let text = resp.text().await.unwrap();
    (parse(&text), text)
}

/// The values of family `name` whose labels include `labels`.
fn values<'a>(scrape: &'a Scrape, name: &str, labels: &[(&str, &str)]) -> Vec<&'a PrometheusValue> {
    let Some(family) = scrape.families.get(name) else {
        return Vec::new();
    };
    family
        .iter_samples()
        .filter(|s| {
            let set = s.get_labelset().unwrap();
            labels.iter().all(|(k, v)| set.get_label_value(k) == Some(*v))
        })
        .map(|s| &s.value)
        .collect()
}

/// The sum of a counter or gauge over the samples carrying `labels`.
fn total(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    values(scrape, name, labels)
        .into_iter()
        .map(|value| match value {
            PrometheusValue::Counter(c) => c.value.as_f64(),
            PrometheusValue::Gauge(n) | PrometheusValue::Unknown(n) => n.as_f64(),
            other => panic!("{name} is not a counter or gauge: {other:?}"),
        })
        .sum()
}

/// How many observations the histograms carrying `labels` hold (their
/// `+Inf` bucket).
fn observations(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    values(scrape, name, labels)
        .into_iter()
        .map(|value| match value {
            PrometheusValue::Histogram(h) => h
                .buckets
                .iter()
                .find(|b| b.upper_bound.is_infinite())
                .map_or(0.0, |b| b.count.as_f64()),
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .sum()
}

/// Scrapes until `done` holds (the server registers a subscription after
/// answering the frame that asked for it), at most 10 s.
async fn scrape_until(server: &TestServer, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    for _ in 0..200 {
        let (scraped, _) = scrape(server).await;
        if done(&scraped) {
            return scraped;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not seen within 10 s");
}

#[tokio::test]
async fn a_scrape_shows_the_traffic_jobs_and_resources_of_the_server() {
    let server = TestServer::spawn_env(TestEnv::new().await.set(WITHOUT_WORKERS, "1")).await;
    let (before, text) = scrape(&server).await;
    assert!(text.contains("# TYPE "), "{text}");

    // HTTP: a route with a parameter and a path no route matches. Neither
    // raw path may become a label.
    let probe = Uuid::new_v4().simple().to_string();
    let report = server
        .http
        .get(server.url(&format!("/api/reports/m{probe}.html")))
        .send()
        .await
        .unwrap();
    let report_status = report.status().as_u16().to_string();
    let missing = server
        .http
        .get(server.url(&format!("/no-such-route-{probe}")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // GraphQL: a named query, and one refused with a known code.
    let probed = server
        .graphql("query StatusProbe { serverInfo { version } }", json!({}))
        .await;
    assert!(probed["data"]["serverInfo"]["version"].is_string(), "{probed}");
    let denied = server
        .graphql("query MetricsDenied { me { id } }", json!({}))
        .await;
    assert_eq!(error_code(&denied), "UNAUTHENTICATED", "{denied}");

    // Agents: enrolment, a heartbeat and a sample through the gateway.
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Metrics", 1).await;
    agents[0].heartbeat(&heartbeat_body(&agents[0].hostname)).await;
    let (status, body) = agents[0]
        .collect(metrics_sample(chrono::Utc::now(), 12.0, 34.0))
        .await;
    assert_eq!(status, 200, "{body}");

    // A live subscription over the WebSocket.
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(&admin).await;
    ws.subscribe(
        "s",
        "subscription { machineStatusChanged { machineId status } }",
        json!({}),
    )
    .await;
    let live = scrape_until(&server, "the subscription registered", |s| {
        total(s, "optralis_live_subscriptions", &[]) == 1.0
    })
    .await;
    assert_eq!(total(&live, "optralis_websocket_connections", &[]), 1.0);
    // The tenant's welcome e-mails wait: no worker runs here.
    assert!(total(&live, "optralis_outbox_pending_messages", &[]) >= 1.0);

    // The outbox: one round against a mailer that cannot write (its
    // directory is a file), then rounds that deliver everything.
    let blocked = tempfile::NamedTempFile::new().unwrap();
    let failing = optralis::infra::mailer::FileMailer::new(blocked.path().join("mail"));
    let attempted = optralis::jobs::outbox::tick(&server.state.services, &failing)
        .await
        .unwrap();
    assert!(attempted >= 1);
    drive_outbox(&server, 3).await;
    // A job tick.
    optralis::jobs::offline::tick(&server.state.services)
        .await
        .unwrap();

    let (after, text) = scrape(&server).await;
    let delta =
        |name: &str, labels: &[(&str, &str)]| total(&after, name, labels) - total(&before, name, labels);
    let observed = |name: &str, labels: &[(&str, &str)]| {
        observations(&after, name, labels) - observations(&before, name, labels)
    };

    assert!(!text.contains(&probe), "a raw path became a label");
    assert!(
        delta(
            "optralis_http_requests_total",
            &[
                ("route", "/api/reports/{file}"),
                ("method", "GET"),
                ("status", &report_status)
            ]
        ) >= 1.0
    );
    assert!(
        delta(
            "optralis_http_requests_total",
            &[("route", "unmatched"), ("method", "GET"), ("status", "404")]
        ) >= 1.0
    );
    assert!(
        observed(
            "optralis_http_request_duration_seconds",
            &[("route", "/graphql"), ("method", "POST")]
        ) >= 2.0
    );
    assert!(text.contains("# TYPE optralis_http_request_duration_seconds histogram"));

    assert!(
        delta(
            "optralis_graphql_operations_total",
            &[("operation", "StatusProbe"), ("type", "query")]
        ) >= 1.0
    );
    assert!(
        observed(
            "optralis_graphql_operation_duration_seconds",
            &[("operation", "StatusProbe"), ("type", "query")]
        ) >= 1.0
    );
    assert!(
        delta(
            "optralis_graphql_errors_total",
            &[("operation", "MetricsDenied"), ("code", "UNAUTHENTICATED")]
        ) >= 1.0
    );
    assert_eq!(
        total(
            &after,
            "optralis_graphql_errors_total",
            &[("operation", "StatusProbe")]
        ),
        0.0,
        "a successful operation counts no error"
    );
    assert!(delta("optralis_graphql_operations_total", &[("type", "subscription")]) >= 1.0);

    for route in ["/api/public/bootstrap", "/agent/heartbeat", "/agent/collect"] {
        assert!(
            delta(
                "optralis_agent_requests_total",
                &[("route", route), ("status", "200")]
            ) >= 1.0,
            "{route}"
        );
        assert!(observed("optralis_agent_request_duration_seconds", &[("route", route)]) >= 1.0);
    }
    for writer in ["collect", "heartbeats"] {
        assert!(
            observed("optralis_group_commit_batch_size", &[("writer", writer)]) >= 1.0,
            "{writer}"
        );
        assert!(
            observed(
                "optralis_group_commit_flush_duration_seconds",
                &[("writer", writer)]
            ) >= 1.0,
            "{writer}"
        );
    }

    assert!(
        delta(
            "optralis_outbox_deliveries_total",
            &[("transport", "email"), ("outcome", "retry")]
        ) >= 1.0
    );
    assert!(
        delta(
            "optralis_outbox_deliveries_total",
            &[("transport", "email"), ("outcome", "sent")]
        ) >= 1.0
    );
    assert_eq!(total(&after, "optralis_outbox_pending_messages", &[]), 0.0);

    assert!(delta("optralis_job_runs_total", &[("job", "outbox")]) >= 4.0);
    assert!(delta("optralis_job_runs_total", &[("job", "offline")]) >= 1.0);
    assert!(observed("optralis_job_duration_seconds", &[("job", "offline")]) >= 1.0);

    assert!(total(&after, "optralis_db_pool_max_connections", &[]) >= 1.0);
    let pooled = total(&after, "optralis_db_pool_connections", &[("state", "in_use")])
        + total(&after, "optralis_db_pool_connections", &[("state", "idle")]);
    assert!(pooled >= 1.0 && pooled <= total(&after, "optralis_db_pool_max_connections", &[]));
    assert!(total(&after, "optralis_process_start_time_seconds", &[]) > 1.0e9);
    assert!(total(&after, "optralis_process_resident_memory_bytes", &[]) > 0.0);
    assert_eq!(
        total(
            &after,
            "optralis_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );

    // Closing the socket brings the gauges back down.
    drop(ws);
    scrape_until(&server, "the socket closed", |s| {
        total(s, "optralis_websocket_connections", &[]) == 0.0
            && total(s, "optralis_live_subscriptions", &[]) == 0.0
    })
    .await;
}

#[tokio::test]
async fn without_a_token_relayed_requests_are_refused() {
    let server = TestServer::spawn().await;
    for (header, value) in [
        ("x-forwarded-for", "203.0.113.9"),
        ("forwarded", "for=203.0.113.9;proto=https"),
    ] {
        let resp = server
            .http
            .get(server.url("/metrics"))
            .header(header, value)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{header}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "FORBIDDEN", "{body}");
        assert!(body["error"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn with_a_token_set_scrapes_need_it() {
    let token = "metrics-test-token-5b1f";
    let server = TestServer::spawn_env(TestEnv::new().await.set("METRICS_TOKEN", token)).await;
    let longer = format!("Bearer {token}x");
    for authorization in [None, Some("Bearer wrong"), Some(longer.as_str()), Some(token)] {
        let mut request = server.http.get(server.url("/metrics"));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{authorization:?}");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "UNAUTHENTICATED", "{body}");
    }
    // The token, not the address, decides: a proxy may relay it.
    let resp = server
        .http
        .get(server.url("/metrics"))
        .bearer_auth(token)
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let parsed = parse(&text);
    assert!(total(&parsed, "optralis_db_pool_max_connections", &[]) >= 1.0);
}

#[tokio::test]
async fn waits_on_a_closed_pool_and_failed_ticks_are_counted() {
    let server = TestServer::spawn_env(TestEnv::new().await.set(WITHOUT_WORKERS, "1")).await;
    let (before, _) = scrape(&server).await;
    server.state.services.infra.db.conn.close_by_ref().await.unwrap();
    assert!(optralis::jobs::offline::tick(&server.state.services)
        .await
        .is_err());
    // The outbox depth cannot be counted now; the scrape still answers.
    let (after, _) = scrape(&server).await;
    let delta =
        |name: &str, labels: &[(&str, &str)]| total(&after, name, labels) - total(&before, name, labels);
    assert!(delta("optralis_db_pool_acquire_failures_total", &[("reason", "closed")]) >= 1.0);
    assert!(delta("optralis_job_failures_total", &[("job", "offline")]) >= 1.0);
    assert_eq!(
        total(&after, "optralis_db_pool_connections", &[("state", "in_use")]),
        0.0
    );
}

#[tokio::test]
async fn cache_and_bus_errors_are_counted_while_redis_is_away() {
    // A port nobody listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let env = TestEnv::new()
        .await
        .set("REDIS_URL", &format!("redis://127.0.0.1:{port}"))
        .set("REDIS_KEY_PREFIX", "metrics-test:");
    let server = TestServer::spawn_env(env).await;
    let (before, _) = scrape(&server).await;
    // Signing in counts a rate-limit hit in the cache; an agent's sample
    // is published on the bus.
    let root = server.admin_token().await;
    let (_, agents) = fleet(&server, &root, "Redisless", 1).await;
    let (status, body) = agents[0]
        .collect(metrics_sample(chrono::Utc::now(), 5.0, 6.0))
        .await;
    assert_eq!(status, 200, "{body}");
    let (after, _) = scrape(&server).await;
    let delta =
        |name: &str, labels: &[(&str, &str)]| total(&after, name, labels) - total(&before, name, labels);
    assert!(delta("optralis_cache_errors_total", &[]) >= 1.0);
    assert!(delta("optralis_bus_errors_total", &[("kind", "publish")]) >= 1.0);
}

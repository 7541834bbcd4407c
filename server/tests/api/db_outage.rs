//! PostgreSQL going away under a running server: GraphQL answers
//! SERVICE_UNAVAILABLE with `retryAfter`, heartbeats and collect answer 503
//! with `Retry-After` (never 500), and everything works again once the
//! database is back, without a restart. The server reaches PostgreSQL
//! through a TCP relay the test controls, which plays both halves of a
//! restart: live connections dropped, then new ones refused.

use crate::{
    collect::metrics_sample,
    helpers::{error_code, fleet, heartbeat_body, skip, TestEnv, TestServer, WsClient},
};
use chrono::Utc;
use serde_json::{json, Value};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Link {
    Up,
    /// Every relayed connection closed; new ones accepted and closed at
    /// once (the server terminating its backends).
    Cut,
    /// Nothing listens: connections are refused (the server down).
    Refused,
}

/// A TCP relay from a local port to PostgreSQL.
pub(crate) struct Relay {
    addr: SocketAddr,
    link: watch::Sender<Link>,
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (link, rx) = watch::channel(Link::Up);
        tokio::spawn(accept(listener, addr, upstream, rx));
        Self { addr, link }
    }

    pub(crate) fn set(&self, link: Link) {
        self.link.send_replace(link);
    }
}

async fn accept(
    mut listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    mut rx: watch::Receiver<Link>,
) {
    loop {
        if *rx.borrow_and_update() == Link::Refused {
            drop(listener);
            if rx.wait_for(|l| *l != Link::Refused).await.is_err() {
                return;
            }
            listener = TcpListener::bind(addr)
                .await
                .expect("the relay's port is free again");
            continue;
        }
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                if *rx.borrow() == Link::Up {
                    tokio::spawn(relay(client, upstream, rx.clone()));
                }
            }
            changed = rx.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

async fn relay(mut client: TcpStream, upstream: SocketAddr, mut rx: watch::Receiver<Link>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = rx.wait_for(|l| *l != Link::Up) => {}
    }
}

/// The test database's URL, pointed at a relay in front of it.
pub(crate) async fn relayed(env: &TestEnv) -> (Relay, String) {
    let pg = env.pg.as_ref().unwrap();
    let mut url = url::Url::parse(&pg.url).unwrap();
    let upstream = tokio::net::lookup_host((url.host_str().unwrap(), url.port().unwrap_or(5432)))
        .await
        .unwrap()
        .next()
        .unwrap();
    let relay = Relay::start(upstream).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(relay.addr.port())).unwrap();
    (relay, url.to_string())
}

/// A gateway answer that tells the agent to come back: 503, `Retry-After`
/// in seconds, the UNAVAILABLE code.
async fn assert_retry_later(what: &str, resp: reqwest::Response) {
    assert_eq!(resp.status(), 503, "{what}");
    let retry_after: u64 = resp
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("{what}: no Retry-After"))
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{what}: Retry-After {retry_after}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "UNAVAILABLE", "{what}: {body}");
}

const MACHINES: &str = "{ machines(first: 5) { edges { node { hostname } } } }";
/// Answered from memory, for super_admins only.
const STATS: &str = "{ serverStats { liveTopics } }";

fn assert_unavailable(what: &str, body: &Value) {
    assert_eq!(error_code(body), "SERVICE_UNAVAILABLE", "{what}: {body}");
    assert!(
        body["errors"][0]["extensions"]["retryAfter"].as_u64() >= Some(1),
        "{what}: {body}"
    );
    assert!(body["data"].is_null(), "{what}: {body}");
}

#[tokio::test]
async fn a_database_outage_answers_retry_later_on_every_path_then_recovers() {
    let env = TestEnv::new().await;
    if env.pg.is_none() {
        skip(
            "db_outage::a_database_outage_answers_retry_later_on_every_path_then_recovers",
            "needs PostgreSQL (OPTRALIS_TEST_DATABASE_URL) to take away under the server",
        );
        return;
    }
    let (relay, url) = relayed(&env).await;
    let server = TestServer::spawn_env(env.set("DATABASE_URL", &url)).await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Outage", 1).await;
    let agent = &agents[0];
    assert_eq!(
        agent
            .post_heartbeat(&heartbeat_body(&agent.hostname))
            .await
            .status(),
        200
    );
    assert_eq!(
        agent
            .post_collect(&metrics_sample(Utc::now(), 20.0, 30.0))
            .await
            .status(),
        200
    );
    let listed = server.graphql_as(&admin, MACHINES, json!({})).await;
    assert!(listed["errors"].is_null(), "{listed}");
    // A credential never used yet: checking it needs the database.
    let created = server
        .graphql_as(
            &admin,
            "mutation { createApiToken(input: { name: \"outage\", scope: READ }) { secret } }",
            json!({}),
        )
        .await;
    let api_token = created["data"]["createApiToken"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();

    // Backends terminated: every pooled connection is gone, and so is
    // every new one.
    relay.set(Link::Cut);
    assert_unavailable("query", &server.graphql_as(&admin, MACHINES, json!({})).await);
    // A field that needs no storage, for a caller that cannot be checked:
    // not UNAUTHENTICATED, a client must not sign its user out for this.
    assert_unavailable(
        "unchecked credential",
        &server.graphql_as(&api_token, STATS, json!({})).await,
    );
    // A socket whose token cannot be checked is told to come back (1013,
    // try again later), not that its token is bad (4403).
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.send(
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {api_token}") } }),
    )
    .await;
    assert_eq!(ws.recv().await, json!({ "close": 1013 }));
    assert_retry_later(
        "heartbeat",
        agent.post_heartbeat(&heartbeat_body(&agent.hostname)).await,
    )
    .await;
    assert_retry_later(
        "collect",
        agent.post_collect(&metrics_sample(Utc::now(), 20.0, 30.0)).await,
    )
    .await;
    let export = server
        .http
        .get(server.url("/api/export/machines"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), 503, "CSV export");
    assert!(export.headers().get("retry-after").is_some(), "CSV export");

    // Server down: connections refused until the pool's acquire timeout.
    relay.set(Link::Refused);
    let (beat, sample) = (
        heartbeat_body(&agent.hostname),
        metrics_sample(Utc::now(), 20.0, 30.0),
    );
    let (query, heartbeat, collected) = tokio::join!(
        server.graphql_as(&admin, MACHINES, json!({})),
        agent.post_heartbeat(&beat),
        agent.post_collect(&sample),
    );
    assert_unavailable("query while refused", &query);
    assert_retry_later("heartbeat while refused", heartbeat).await;
    assert_retry_later("collect while refused", collected).await;

    // Back: the same server serves again as soon as the pool reconnects.
    relay.set(Link::Up);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = agent
            .post_heartbeat(&heartbeat_body(&agent.hostname))
            .await
            .status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "only 503 while reconnecting");
        assert!(Instant::now() < deadline, "heartbeats recover within 20 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        agent
            .post_collect(&metrics_sample(Utc::now(), 20.0, 30.0))
            .await
            .status(),
        200
    );
    let listed = server.graphql_as(&admin, MACHINES, json!({})).await;
    assert_eq!(
        listed["data"]["machines"]["edges"][0]["node"]["hostname"],
        agent.hostname
    );
    let listed = server.graphql_as(&api_token, MACHINES, json!({})).await;
    assert!(listed["errors"].is_null(), "{listed}");
    let stats = server.graphql_as(&api_token, STATS, json!({})).await;
    assert_eq!(error_code(&stats), "FORBIDDEN", "{stats}");
}

//! Two `optralis serve` processes on one PostgreSQL and one Redis: an
//! agent talks to instance A, a dashboard subscribed on instance B sees
//! the event. Runs only when the PostgreSQL and Redis test URLs are set.

use crate::helpers::{TestEnv, WsClient, ADMIN_EMAIL, ADMIN_PASSWORD};
use serde_json::{json, Value};
use std::{path::Path, process::Stdio, time::Duration};

struct Instance {
    child: tokio::process::Child,
    port: u16,
    agent_port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(env: &TestEnv, data_dir: &Path) -> Instance {
    let (port, agent_port) = (free_port(), free_port());
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_optralis"));
    cmd.arg("serve")
        .envs(&env.vars)
        .env("OPTRALIS_DATA_DIR", data_dir)
        .env("PORT", port.to_string())
        .env("AGENT_PORT", agent_port.to_string())
        .env("BIND_ADDRESS", "127.0.0.1")
        .env("JWT_SECRET", "scale-out-test-secret-0123456789abcdef")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    let child = cmd.spawn().unwrap();
    let http = reqwest::Client::new();
    for _ in 0..150 {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/health")).send().await {
            if r.status().is_success() {
                return Instance {
                    child,
                    port,
                    agent_port,
                };
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("instance on port {port} did not become healthy");
}

async fn graphql(port: u16, token: Option<&str>, query: &str, variables: Value) -> Value {
    let mut req = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn an_event_from_instance_a_reaches_a_subscriber_on_instance_b() {
    let env = TestEnv::new().await;
    if env.pg.is_none() || !env.vars.contains_key("REDIS_URL") {
        // Scale-out needs the shared PostgreSQL and Redis.
        return;
    }
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = start(&env, dir_a.path()).await;
    // Instances share one CA, as a deployment shares its data volume.
    for file in ["ca.crt", "ca.key"] {
        std::fs::copy(dir_a.path().join(file), dir_b.path().join(file)).unwrap();
    }
    let mut b = start(&env, dir_b.path()).await;

    let login = graphql(
        a.port,
        None,
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
        json!({ "e": ADMIN_EMAIL, "p": ADMIN_PASSWORD }),
    )
    .await;
    let token = login["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{login}"))
        .to_owned();

    // The dashboard watches instance B.
    let mut ws = WsClient::connect(&format!("ws://127.0.0.1:{}/graphql/ws", b.port)).await;
    ws.init_with(&token).await;
    ws.subscribe(
        "s",
        "subscription { machineStatusChanged { hostname status } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The agent enrols and heartbeats through instance A.
    let created = graphql(
        a.port,
        Some(&token),
        "mutation { createInstallToken(input: { maxUsage: 1 }) { token { secret } } }",
        json!({}),
    )
    .await;
    let secret = created["data"]["createInstallToken"]["token"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir_a.path().join("ca.crt")).unwrap()).unwrap();
    let plain = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca.clone())
        .build()
        .unwrap();
    let enrolled: Value = plain
        .post(format!("https://127.0.0.1:{}/api/public/bootstrap", a.agent_port))
        .json(&json!({ "token": secret, "hostname": "far-away", "hardware_id": "HW-FAR", "os": "linux", "os_version": "Debian 12", "arch": "amd64" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let identity = format!(
        "{}{}",
        enrolled["certificate"].as_str().unwrap(),
        enrolled["private_key"].as_str().unwrap()
    );
    let agent = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .identity(reqwest::Identity::from_pem(identity.as_bytes()).unwrap())
        .build()
        .unwrap();
    let beat = agent
        .post(format!("https://127.0.0.1:{}/agent/heartbeat", a.agent_port))
        .json(&json!({ "hostname": "far-away", "os": "linux", "os_version": "Debian 12", "agent_version": "2.1.0" }))
        .send()
        .await
        .unwrap();
    assert_eq!(beat.status(), 200);

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
    let on_b = agent
        .post(format!("https://127.0.0.1:{}/agent/heartbeat", b.agent_port))
        .json(&json!({ "hostname": "far-away", "os": "linux", "os_version": "Debian 12", "agent_version": "2.1.0" }))
        .send()
        .await
        .unwrap();
    assert_eq!(on_b.status(), 200);
    let revoked = graphql(
        b.port,
        Some(&token),
        "mutation($m: ID!) { revokeMachineCertificate(machineId: $m, reason: \"lost\") }",
        json!({ "m": enrolled["machine_id"] }),
    )
    .await;
    assert_eq!(revoked["data"]["revokeMachineCertificate"], true, "{revoked}");
    let refused = agent
        .post(format!("https://127.0.0.1:{}/agent/heartbeat", a.agent_port))
        .json(&json!({ "hostname": "far-away", "os": "linux", "os_version": "Debian 12", "agent_version": "2.1.0" }))
        .send()
        .await;
    match refused {
        Ok(r) => assert_eq!(r.status(), 403, "a revocation on B applies on A at once"),
        Err(e) => panic!("{e}"),
    }
    let _ = a.child.kill().await;
    let _ = b.child.kill().await;
}

//! The super_admin's Docker panel, driven through GraphQL against a
//! stand-in engine on a unix socket (see `docker_engine`).

use crate::{
    docker_engine::{StandIn, API_ID, DB_ID, ENV_SECRET},
    helpers::{error_code, tenant_with_admin, TestEnv, TestServer},
};
use serde_json::{json, Value};

const LIST: &str = "{ dockerContainers { id names image command created state status ports { ip privatePort publicPort protocol } labels { name value } } }";
const DETAILS: &str = "query($id: String!) { dockerContainer(id: $id) { id name image imageId created hostname command restartCount restartPolicy state { status running pid exitCode startedAt finishedAt health } mounts { kind source destination mode readWrite } networks { name ipAddress gateway macAddress } ports { ip privatePort publicPort protocol } labels { name value } } }";
const LOGS: &str = "query($id: String!, $tail: Int) { dockerContainerLogs(id: $id, tail: $tail) { stream timestamp message } }";
const STATS: &str = "query($id: String!) { dockerContainerStats(id: $id) { readAt cpuPercent onlineCpus memoryUsageBytes memoryLimitBytes memoryPercent networkRxBytes networkTxBytes blockReadBytes blockWriteBytes pids } }";

fn act(verb: &str) -> String {
    format!("mutation($id: String!) {{ {verb}DockerContainer(id: $id) {{ id name state {{ status running startedAt }} }} }}")
}

async fn server_on(socket: &str) -> TestServer {
    TestServer::spawn_env(TestEnv::new().await.set("DOCKER_SOCKET", socket)).await
}

#[tokio::test]
async fn containers_are_listed_and_inspected_without_their_environment() {
    let engine = StandIn::start().await;
    let server = server_on(engine.socket.to_str().unwrap()).await;
    let root = server.admin_token().await;

    let body = server.graphql_as(&root, LIST, json!({})).await;
    let list = body["data"]["dockerContainers"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(list.len(), 2, "stopped containers are listed too: {body}");
    let api = &list[0];
    assert_eq!(api["id"], API_ID);
    assert_eq!(api["names"], json!(["optralis-api"]));
    assert_eq!(api["image"], "optralis/server:1.4.2");
    assert_eq!(api["state"], "running");
    assert_eq!(api["status"], "Up 2 hours (healthy)");
    assert_eq!(api["created"], "2025-11-24T16:00:00+00:00");
    assert_eq!(
        api["ports"][0],
        json!({ "ip": "0.0.0.0", "privatePort": 3000, "publicPort": 3000, "protocol": "tcp" })
    );
    assert_eq!(
        api["labels"][1],
        json!({ "name": "com.docker.compose.service", "value": "api" })
    );
    assert_eq!(list[1]["state"], "exited");

    // By short id.
    let body = server
        .graphql_as(&root, DETAILS, json!({ "id": &API_ID[..12] }))
        .await;
    let c = &body["data"]["dockerContainer"];
    assert_eq!(c["name"], "optralis-api", "{body}");
    assert_eq!(c["command"], json!(["/usr/local/bin/optralis", "serve"]));
    assert_eq!(c["restartCount"], 2);
    assert_eq!(c["restartPolicy"], "unless-stopped");
    assert_eq!(c["state"]["status"], "running");
    assert_eq!(c["state"]["health"], "healthy");
    assert_eq!(c["state"]["pid"], 4242);
    assert_eq!(
        c["state"]["finishedAt"],
        Value::Null,
        "the engine's year-1 'never'"
    );
    assert_eq!(c["mounts"][1]["readWrite"], false);
    assert_eq!(c["mounts"][0]["destination"], "/data");
    assert_eq!(
        c["networks"][0],
        json!({ "name": "optralis_default", "ipAddress": "172.18.0.3", "gateway": "172.18.0.1", "macAddress": "02:42:ac:12:00:03" })
    );
    assert_eq!(
        c["ports"],
        json!([
            { "ip": "0.0.0.0", "privatePort": 3000, "publicPort": 3000, "protocol": "tcp" },
            { "ip": null, "privatePort": 8443, "publicPort": null, "protocol": "tcp" }
        ])
    );
    assert!(
        !body.to_string().contains(ENV_SECRET),
        "the environment leaked: {body}"
    );

    let missing = server.graphql_as(&root, DETAILS, json!({ "id": "nope" })).await;
    assert_eq!(error_code(&missing), "NOT_FOUND", "{missing}");
    let bad = server
        .graphql_as(&root, DETAILS, json!({ "id": "../images/json" }))
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    assert_eq!(bad["errors"][0]["extensions"]["field"], "id");

    // Only the platform's super_admin sees the host's containers.
    let (_, _, admin) = tenant_with_admin(&server, &root, "Tenant").await;
    assert_eq!(
        error_code(&server.graphql_as(&admin, LIST, json!({})).await),
        "FORBIDDEN"
    );
    let start = server
        .graphql_as(&admin, &act("start"), json!({ "id": "optralis-db" }))
        .await;
    assert_eq!(error_code(&start), "FORBIDDEN");
}

#[tokio::test]
async fn logs_are_demultiplexed_and_stats_figured_like_the_cli() {
    let engine = StandIn::start().await;
    let server = server_on(engine.socket.to_str().unwrap()).await;
    let root = server.admin_token().await;

    let body = server
        .graphql_as(&root, LOGS, json!({ "id": "optralis-api", "tail": 4 }))
        .await;
    let lines = body["data"]["dockerContainerLogs"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    let seen: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["stream"].as_str().unwrap(), l["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("STDOUT", "INFO heartbeat"),
            ("STDERR", "WARN webhook retry"),
            ("STDOUT", "INFO alert sent"),
            ("STDOUT", "INFO ready"),
        ]
    );
    assert_eq!(lines[0]["timestamp"], "2026-11-29T11:54:00.000000001+00:00");

    let all = server
        .graphql_as(&root, LOGS, json!({ "id": "optralis-api" }))
        .await;
    assert_eq!(all["data"]["dockerContainerLogs"].as_array().unwrap().len(), 8);
    server
        .graphql_as(&root, LOGS, json!({ "id": "optralis-api", "tail": 1_000_000 }))
        .await;
    let queries = engine.seen.lock().unwrap().log_queries.clone();
    let tails: Vec<&str> = queries
        .iter()
        .map(|q| q.split('&').find_map(|kv| kv.strip_prefix("tail=")).unwrap())
        .collect();
    assert_eq!(tails, ["4", "100", "5000"], "default 100, capped at 5000");
    let zero = server
        .graphql_as(&root, LOGS, json!({ "id": "optralis-api", "tail": 0 }))
        .await;
    assert_eq!(error_code(&zero), "BAD_USER_INPUT");

    let body = server.graphql_as(&root, STATS, json!({ "id": API_ID })).await;
    let s = &body["data"]["dockerContainerStats"];
    // 0.4 s of CPU over 4 s of system time, on 4 CPUs.
    assert!((s["cpuPercent"].as_f64().unwrap() - 40.0).abs() < 1e-9, "{body}");
    assert_eq!(s["onlineCpus"], 4);
    // 300 MiB used, 44 MiB of it reclaimable page cache, of 1 GiB.
    assert_eq!(s["memoryUsageBytes"].as_f64(), Some(268_435_456.0));
    assert_eq!(s["memoryLimitBytes"].as_f64(), Some(1_073_741_824.0));
    assert!((s["memoryPercent"].as_f64().unwrap() - 25.0).abs() < 1e-9);
    assert_eq!(
        (s["networkRxBytes"].as_f64(), s["networkTxBytes"].as_f64()),
        (Some(6_000.0), Some(7_500.0))
    );
    assert_eq!(
        (s["blockReadBytes"].as_f64(), s["blockWriteBytes"].as_f64()),
        (Some(11_534_336.0), Some(4_194_304.0))
    );
    assert_eq!(s["pids"].as_f64(), Some(12.0));
    assert_eq!(s["readAt"], "2026-11-29T12:00:01.500+00:00");
    let stats_queries = engine.seen.lock().unwrap().stats_queries.clone();
    assert!(
        stats_queries[0].contains("stream=false") && stats_queries[0].contains("one-shot=false"),
        "{stats_queries:?}"
    );

    let missing = server.graphql_as(&root, STATS, json!({ "id": "nope" })).await;
    assert_eq!(error_code(&missing), "NOT_FOUND");
    let missing = server.graphql_as(&root, LOGS, json!({ "id": "nope" })).await;
    assert_eq!(error_code(&missing), "NOT_FOUND");
}

#[tokio::test]
async fn start_stop_restart_change_the_state_and_are_logged() {
    let engine = StandIn::start().await;
    let server = server_on(engine.socket.to_str().unwrap()).await;
    let root = server.admin_token().await;
    let state = |body: &Value, verb: &str| body["data"][format!("{verb}DockerContainer")]["state"].clone();

    let started = server
        .graphql_as(&root, &act("start"), json!({ "id": "optralis-db" }))
        .await;
    assert_eq!(state(&started, "start")["status"], "running", "{started}");
    assert_eq!(
        state(&started, "start")["startedAt"],
        "2026-11-29T11:00:00.123456789+00:00"
    );
    let listed = server.graphql_as(&root, LIST, json!({})).await;
    assert_eq!(listed["data"]["dockerContainers"][1]["state"], "running");

    let again = server
        .graphql_as(&root, &act("start"), json!({ "id": "optralis-db" }))
        .await;
    assert_eq!(
        state(&again, "start")["running"],
        true,
        "already running (304) is no error: {again}"
    );

    let stopped = server
        .graphql_as(&root, &act("stop"), json!({ "id": DB_ID }))
        .await;
    assert_eq!(state(&stopped, "stop")["status"], "exited", "{stopped}");
    assert_eq!(state(&stopped, "stop")["running"], false);

    let restarted = server
        .graphql_as(&root, &act("restart"), json!({ "id": "optralis-api" }))
        .await;
    assert_eq!(state(&restarted, "restart")["status"], "running", "{restarted}");
    assert_eq!(
        state(&restarted, "restart")["startedAt"],
        "2026-11-29T12:00:00.123456789+00:00",
        "started anew"
    );

    let missing = server
        .graphql_as(&root, &act("stop"), json!({ "id": "nope" }))
        .await;
    assert_eq!(error_code(&missing), "NOT_FOUND");

    let log = server
        .graphql_as(
            &root,
            "{ activityLogs(filter: { category: SYSTEM }, first: 20) { edges { node { message metadata } } } }",
            json!({}),
        )
        .await;
    let entries: Vec<(String, Value)> = log["data"]["activityLogs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["node"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Conteneur Docker")
        })
        .map(|e| {
            (
                e["node"]["message"].as_str().unwrap().to_owned(),
                e["node"]["metadata"].clone(),
            )
        })
        .collect();
    let messages: Vec<&str> = entries.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(
        messages,
        [
            "Conteneur Docker redémarré : optralis-api",
            "Conteneur Docker arrêté : optralis-db",
            "Conteneur Docker démarré : optralis-db",
            "Conteneur Docker démarré : optralis-db",
        ],
        "{log}"
    );
    assert_eq!(entries[1].1["action"], "stop");
    assert_eq!(entries[1].1["container_id"], DB_ID);
    assert_eq!(entries[1].1["state"], "exited");
}

#[tokio::test]
async fn an_unreachable_engine_is_unavailable_with_its_socket_named() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("missing.sock");
    let socket = socket.to_str().unwrap();
    let server = server_on(socket).await;
    let root = server.admin_token().await;
    for (query, vars) in [
        (LIST.to_owned(), json!({})),
        (DETAILS.to_owned(), json!({ "id": "optralis-api" })),
        (LOGS.to_owned(), json!({ "id": "optralis-api" })),
        (STATS.to_owned(), json!({ "id": "optralis-api" })),
        (act("start"), json!({ "id": "optralis-api" })),
        (act("stop"), json!({ "id": "optralis-api" })),
        (act("restart"), json!({ "id": "optralis-api" })),
    ] {
        let body = server.graphql_as(&root, &query, vars).await;
        assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE", "{query}: {body}");
        assert_eq!(
            body["errors"][0]["message"],
            format!("Docker engine unreachable at {socket}"),
            "{body}"
        );
    }
}

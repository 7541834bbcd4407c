//! Known Windows builds: the seeded table, the build → name mapping, and
//! the refresh from endoflife.date, read from a stand-in on 127.0.0.1
//! serving a recorded `windows.json`.

use crate::helpers::{error_code, tenant_with_admin, TestEnv, TestServer};
use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Router};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const RECORDED: &str = include_str!("fixtures/endoflife_windows.json");

const BUILDS: &str = "{ windowsBuilds { client { buildNumber name releaseDate isActive osType } server { buildNumber name releaseDate osType } } }";
const REFRESH: &str = "mutation { refreshWindowsBuilds { inserted updated skipped builds { client { buildNumber name releaseDate } server { buildNumber name } } } }";

/// What the stand-in answers: a status and a body, changed by the test.
type Answer = Arc<Mutex<(StatusCode, String)>>;

async fn serve(State(answer): State<Answer>) -> impl IntoResponse {
    let (status, body) = answer.lock().unwrap().clone();
    (status, [("content-type", "application/json")], body)
}

/// The stand-in endoflife.date and a server reading from it.
async fn setup() -> (TestServer, Answer) {
    let answer: Answer = Arc::new(Mutex::new((StatusCode::OK, RECORDED.to_owned())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/windows.json", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/api/windows.json", get(serve))
        .with_state(answer.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let env = TestEnv::new().await.set("WINDOWS_BUILDS_URL", &url);
    (TestServer::spawn_env(env).await, answer)
}

fn by_build(list: &Value) -> Vec<(i64, String)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["buildNumber"].as_i64().unwrap(),
                b["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn name_of(list: &Value, build: i64) -> Option<String> {
    by_build(list)
        .into_iter()
        .find(|(b, _)| *b == build)
        .map(|(_, n)| n)
}

#[tokio::test]
async fn seeded_builds_are_grouped_and_mapped_for_every_caller() {
    let (server, _) = setup().await;
    let root = server.admin_token().await;
    let body = server.graphql_as(&root, BUILDS, json!({})).await;
    let builds = &body["data"]["windowsBuilds"];
    let client = by_build(&builds["client"]);
    let client_numbers: Vec<i64> = client.iter().map(|(b, _)| *b).collect();
    assert_eq!(
        client_numbers,
        [17763, 18362, 18363, 19041, 19042, 19043, 19044, 19045, 22000, 22621, 22631, 26100],
        "{body}"
    );
    assert_eq!(client[0].1, "Windows 10 LTSC 2019");
    assert_eq!(client[6].1, "Windows 10 LTSC 2021");
    assert_eq!(client[1].1, "Windows 10 (1903)");
    assert_eq!(client[11].1, "Windows 11 (24H2)");
    assert_eq!(builds["client"][11]["releaseDate"], "2024-10-01");
    assert_eq!(builds["client"][11]["osType"], "CLIENT");
    assert_eq!(
        by_build(&builds["server"]),
        [
            (14393, "Windows Server 2016".to_owned()),
            (17763, "Windows Server 2019".to_owned()),
            (20348, "Windows Server 2022".to_owned()),
            (26100, "Windows Server 2025".to_owned()),
        ]
    );

    // A tenant admin reads the mapping, not the admin list, and cannot
    // refresh it.
    let (_, _, admin) = tenant_with_admin(&server, &root, "Mapping").await;
    let versions = server
        .graphql_as(
            &admin,
            "{ windowsVersions { osType buildNumber name } }",
            json!({}),
        )
        .await;
    let versions = versions["data"]["windowsVersions"].as_array().unwrap().clone();
    assert_eq!(versions.len(), 16);
    assert!(versions
        .contains(&json!({ "osType": "SERVER", "buildNumber": 20348, "name": "Windows Server 2022" })));
    assert!(
        versions.contains(&json!({ "osType": "CLIENT", "buildNumber": 22631, "name": "Windows 11 (23H2)" }))
    );
    assert_eq!(
        error_code(&server.graphql_as(&admin, BUILDS, json!({})).await),
        "FORBIDDEN"
    );
    assert_eq!(
        error_code(&server.graphql_as(&admin, REFRESH, json!({})).await),
        "FORBIDDEN"
    );
    assert_eq!(
        error_code(&server.graphql("{ windowsVersions { name } }", json!({})).await),
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn refresh_classifies_filters_names_and_upserts() {
    let (server, answer) = setup().await;
    let root = server.admin_token().await;

    let first = server.graphql_as(&root, REFRESH, json!({})).await;
    let r = &first["data"]["refreshWindowsBuilds"];
    // 40 entries: 15 builds kept (13 client, 2 server); the rest are IoT,
    // further editions of a kept build, below 17763, or Windows 7/8.1.
    assert_eq!(
        (
            r["inserted"].as_i64(),
            r["updated"].as_i64(),
            r["skipped"].as_i64()
        ),
        (Some(1), Some(14), Some(25)),
        "{first}"
    );
    let client = &r["builds"]["client"];
    assert_eq!(name_of(client, 26200).as_deref(), Some("Windows 11 (25H2)"));
    assert_eq!(
        name_of(client, 26100).as_deref(),
        Some("Windows 11 (24H2)"),
        "the feature update's name, not LTSC 2024"
    );
    assert_eq!(name_of(client, 19044).as_deref(), Some("Windows 10 LTSC 2021"));
    assert_eq!(name_of(client, 17763).as_deref(), Some("Windows 10 LTSC 2019"));
    assert_eq!(name_of(client, 19045).as_deref(), Some("Windows 10 (22H2)"));
    assert!(by_build(client).iter().all(|(b, _)| *b >= 17763), "{client}");
    assert!(
        by_build(client).iter().all(|(_, n)| !n.contains("IoT")),
        "{client}"
    );
    assert_eq!(by_build(client).len(), 13);
    let server_builds = &r["builds"]["server"];
    assert_eq!(
        name_of(server_builds, 26100).as_deref(),
        Some("Windows Server 2025")
    );
    assert_eq!(by_build(server_builds).len(), 4, "seeded 2016 and 2019 stay");

    // Run again on a list where one release date moved: rows are
    // rewritten, none added.
    answer.lock().unwrap().1 = RECORDED.replacen("\"2025-09-30\"", "\"2025-10-14\"", 1);
    let second = server.graphql_as(&root, REFRESH, json!({})).await;
    let r = &second["data"]["refreshWindowsBuilds"];
    assert_eq!(
        (r["inserted"].as_i64(), r["updated"].as_i64()),
        (Some(0), Some(15)),
        "{second}"
    );
    let listed = server.graphql_as(&root, BUILDS, json!({})).await;
    let client = listed["data"]["windowsBuilds"]["client"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(client.len(), 13);
    let w25h2: Vec<_> = client.iter().filter(|b| b["buildNumber"] == 26200).collect();
    assert_eq!(w25h2.len(), 1);
    assert_eq!(w25h2[0]["releaseDate"], "2025-10-14");
    assert_eq!(w25h2[0]["isActive"], true);
    assert_eq!(client.last().unwrap()["buildNumber"], 26200, "ordered by build");

    let log = server
        .graphql_as(
            &root,
            "{ activityLogs(filter: { category: SYSTEM }, first: 10) { edges { node { message metadata } } } }",
            json!({}),
        )
        .await;
    let refreshes: Vec<_> = log["data"]["activityLogs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["node"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Builds Windows rafraîchis")
        })
        .collect();
    assert_eq!(refreshes.len(), 2, "{log}");
    assert_eq!(refreshes[0]["node"]["metadata"]["updated"], 15);
}

#[tokio::test]
async fn a_bad_upstream_answer_is_unavailable_and_changes_nothing() {
    let (server, answer) = setup().await;
    let root = server.admin_token().await;
    let before = server.graphql_as(&root, BUILDS, json!({})).await;

    for (status, body, says) in [
        (StatusCode::BAD_GATEWAY, RECORDED.to_owned(), "HTTP 502"),
        (StatusCode::OK, "<html>maintenance</html>".to_owned(), "JSON"),
        (StatusCode::OK, "{\"cycle\": \"11-24h2-e\"}".to_owned(), "JSON"),
        (
            StatusCode::OK,
            "[{\"cycle\": \"8.1\", \"latest\": \"6.3.9600\"}]".to_owned(),
            "no Windows",
        ),
    ] {
        *answer.lock().unwrap() = (status, body.clone());
        let refused = server.graphql_as(&root, REFRESH, json!({})).await;
        assert_eq!(error_code(&refused), "SERVICE_UNAVAILABLE", "{body}: {refused}");
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains(says) && message.contains("Windows builds could not be refreshed"),
            "{message}"
        );
    }
    assert_eq!(server.graphql_as(&root, BUILDS, json!({})).await, before);
}

async fn set_minimums(server: &TestServer, token: &str, input: Value) -> Value {
    server
        .graphql_as(
            token,
            "mutation($i: AgentRequirementsInput!) { updateAgentRequirements(input: $i) { windowsClientMinBuild windowsServerMinBuild } }",
            json!({ "i": input }),
        )
        .await
}

#[tokio::test]
async fn a_minimum_build_must_be_a_known_build_of_its_kind() {
    let (server, _) = setup().await;
    let root = server.admin_token().await;
    for (input, field) in [
        (json!({ "windowsClientMinBuild": 12345 }), "windowsClientMinBuild"),
        (json!({ "windowsServerMinBuild": 19045 }), "windowsServerMinBuild"),
        (json!({ "windowsClientMinBuild": 26200 }), "windowsClientMinBuild"),
    ] {
        let refused = set_minimums(&server, &root, input.clone()).await;
        assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{input}: {refused}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], field);
    }
    let set = set_minimums(
        &server,
        &root,
        json!({ "windowsClientMinBuild": 19044, "windowsServerMinBuild": 20348 }),
    )
    .await;
    assert_eq!(
        set["data"]["updateAgentRequirements"],
        json!({ "windowsClientMinBuild": 19044, "windowsServerMinBuild": 20348 }),
        "{set}"
    );
    // 25H2 becomes a valid minimum once a refresh has brought it in; 0
    // still means no minimum.
    server.graphql_as(&root, REFRESH, json!({})).await;
    let set = set_minimums(
        &server,
        &root,
        json!({ "windowsClientMinBuild": 26200, "windowsServerMinBuild": 0 }),
    )
    .await;
    assert_eq!(
        set["data"]["updateAgentRequirements"],
        json!({ "windowsClientMinBuild": 26200, "windowsServerMinBuild": 0 }),
        "{set}"
    );
}

#[tokio::test]
async fn an_unreachable_release_list_is_unavailable() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/api/windows.json");
    let server = TestServer::spawn_env(TestEnv::new().await.set("WINDOWS_BUILDS_URL", &url)).await;
    let root = server.admin_token().await;
    let refused = server.graphql_as(&root, REFRESH, json!({})).await;
    assert_eq!(error_code(&refused), "SERVICE_UNAVAILABLE", "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "Windows builds could not be refreshed: GET {url} failed"
        )),
        "{message}"
    );
}

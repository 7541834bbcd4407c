//! The public installer routes: install-token holders are sent to the
//! active stable build; refusals are JSON.

use crate::{
    admin::{db, publish, SUM},
    helpers::{install_token, tenant_with_admin, TestAgent, TestServer},
};
use chrono::{Duration, Utc};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

async fn get(server: &TestServer, path: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = client.get(server.url(path)).send().await.unwrap();
    let (status, headers) = (resp.status().as_u16(), resp.headers().clone());
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn installers_redirect_token_holders_without_spending_the_token() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Setup").await;
    publish(&server, &root, "3.0.0", "STABLE", "LINUX", "AMD64", true).await;
    publish(&server, &root, "3.0.0", "STABLE", "WINDOWS", "AMD64", true).await;
    publish(&server, &root, "3.1.0", "BETA", "LINUX", "AMD64", true).await;
    let once = install_token(&server, &admin, json!({ "maxUsage": 1 })).await;
    let q = |t: &str| url::form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>();

    let (status, headers, _) = get(&server, &format!("/api/installer/windows?token={}", q(&once))).await;
    assert_eq!(status, 302);
    assert_eq!(
        headers["location"],
        "https://downloads.example.test/3.0.0/WINDOWS-AMD64"
    );
    assert_eq!(headers["x-checksum-sha256"], SUM);
    for _ in 0..2 {
        let (status, headers, _) =
            get(&server, &format!("/api/installer/linux/amd64?token={}", q(&once))).await;
        assert_eq!(status, 302, "the stable build, not the newer beta");
        assert_eq!(
            headers["location"],
            "https://downloads.example.test/3.0.0/LINUX-AMD64"
        );
    }
    // Downloads spent nothing: the one use still enrols a machine.
    TestAgent::enrol(&server, &once, "setup-0", "HW-SETUP-0").await;
    let (status, _, body) = get(&server, &format!("/api/installer/linux/amd64?token={}", q(&once))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("UNAUTHENTICATED")),
        "used up: {body}"
    );

    let fresh = install_token(&server, &admin, json!({})).await;
    let (status, _, body) = get(
        &server,
        &format!("/api/installer/linux/arm64?token={}", q(&fresh)),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "nothing published: {body}"
    );
    let (status, _, body) = get(
        &server,
        &format!("/api/installer/macos/amd64?token={}", q(&fresh)),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{body}"
    );
    for path in [
        "/api/installer/windows",
        "/api/installer/windows?token=",
        "/api/installer/windows?token=guess",
    ] {
        let (status, _, body) = get(&server, path).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("UNAUTHENTICATED")),
            "{path}: {body}"
        );
    }

    // Expired (fixture: its end moved to the past), then revoked.
    let expiring = install_token(&server, &admin, json!({})).await;
    entities::install_tokens::Entity::update_many()
        .col_expr(
            entities::install_tokens::Column::ExpiresAt,
            Expr::value(Utc::now() - Duration::minutes(1)),
        )
        .filter(
            entities::install_tokens::Column::TokenHash.eq(optralis::domain::crypto::sha256_hex(&expiring)),
        )
        .exec(db(&server))
        .await
        .unwrap();
    let (status, _, _) = get(&server, &format!("/api/installer/windows?token={}", q(&expiring))).await;
    assert_eq!(status, 401, "expired");
    let listed = server
        .graphql_as(&admin, "{ installTokens { id } }", json!({}))
        .await;
    for t in listed["data"]["installTokens"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
    {
        let revoked = server
            .graphql_as(
                &admin,
                "mutation($id: ID!) { revokeInstallToken(id: $id) }",
                json!({ "id": t["id"] }),
            )
            .await;
        assert_eq!(revoked["data"]["revokeInstallToken"], true, "{revoked}");
    }
    let (status, _, _) = get(&server, &format!("/api/installer/windows?token={}", q(&fresh))).await;
    assert_eq!(status, 401, "revoked");
}

#[tokio::test]
async fn installer_requests_are_limited_per_address() {
    let server = TestServer::spawn().await;
    let budget = optralis::domain::agent_config::installers::DOWNLOADS_PER_MINUTE;
    for i in 0..budget {
        let (status, _, _) = get(&server, &format!("/api/installer/windows?token=guess-{i}")).await;
        assert_eq!(status, 401);
    }
    let (status, headers, body) = get(&server, "/api/installer/windows?token=one-more").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("RATE_LIMITED")),
        "{body}"
    );
    assert!(headers.contains_key("retry-after"));
}

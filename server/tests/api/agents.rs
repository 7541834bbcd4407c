//! Agent enrolment through GraphQL: install tokens.

use crate::helpers::{error_code, tenant_with_admin, TestServer};
use serde_json::json;

const CREATE: &str = "mutation($i: CreateInstallTokenInput) { createInstallToken(input: $i) { token { id secret expiresAt maxUsage usageCount } curlCommand powershellCommand } }";

#[tokio::test]
async fn install_tokens_are_created_listed_and_revoked_per_tenant() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, a) = tenant_with_admin(&server, &root, "Alpha").await;
    let (_, _, b) = tenant_with_admin(&server, &root, "Beta").await;

    let created = server
        .graphql_as(&a, CREATE, json!({ "i": { "name": "rack 1", "maxUsage": 3 } }))
        .await;
    let payload = &created["data"]["createInstallToken"];
    let secret = payload["token"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"));
    assert_eq!(secret.len(), 44);
    assert_eq!(payload["token"]["maxUsage"], 3);
    assert_eq!(payload["token"]["usageCount"], 0);
    assert!(payload["curlCommand"].as_str().unwrap().contains(secret));
    assert!(payload["powershellCommand"].as_str().unwrap().contains(secret));
    let expires =
        chrono::DateTime::parse_from_rfc3339(payload["token"]["expiresAt"].as_str().unwrap()).unwrap();
    let minutes = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes();
    assert!((14..=15).contains(&minutes), "default 15 minutes, got {minutes}");
    let token_id = payload["token"]["id"].as_str().unwrap().to_owned();

    for bad in [
        json!({ "durationMinutes": 61 }),
        json!({ "durationMinutes": 0 }),
        json!({ "maxUsage": -1 }),
    ] {
        let body = server.graphql_as(&a, CREATE, json!({ "i": bad })).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{bad}");
    }

    let list = server
        .graphql_as(&a, "{ installTokens { id secret name } }", json!({}))
        .await;
    assert_eq!(list["data"]["installTokens"].as_array().unwrap().len(), 1);
    assert!(
        list["data"]["installTokens"][0]["secret"].is_null(),
        "secrets are shown once"
    );
    let other = server.graphql_as(&b, "{ installTokens { id } }", json!({})).await;
    assert_eq!(other["data"]["installTokens"], json!([]));

    let revoke = "mutation($id: ID!) { revokeInstallToken(id: $id) }";
    assert_eq!(
        error_code(&server.graphql_as(&b, revoke, json!({ "id": token_id })).await),
        "NOT_FOUND"
    );
    assert_eq!(
        server.graphql_as(&a, revoke, json!({ "id": token_id })).await["data"]["revokeInstallToken"],
        true
    );
    let list = server.graphql_as(&a, "{ installTokens { id } }", json!({})).await;
    assert_eq!(list["data"]["installTokens"], json!([]));

    let windows = server
        .graphql_as(
            &a,
            "mutation { activeWindowsInstallToken { token { secret maxUsage } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        windows["data"]["activeWindowsInstallToken"]["token"]["maxUsage"],
        0
    );
    let again = server
        .graphql_as(
            &a,
            "mutation { activeWindowsInstallToken { token { secret } } }",
            json!({}),
        )
        .await;
    assert_ne!(
        windows["data"]["activeWindowsInstallToken"]["token"]["secret"],
        again["data"]["activeWindowsInstallToken"]["token"]["secret"]
    );
    let list = server.graphql_as(&a, "{ installTokens { id } }", json!({})).await;
    assert_eq!(
        list["data"]["installTokens"].as_array().unwrap().len(),
        1,
        "the older installer token is revoked"
    );

    assert_eq!(
        error_code(&server.graphql(CREATE, json!({})).await),
        "UNAUTHENTICATED"
    );
}

//! Roles, user protections, API tokens, impersonation, and tenant
//! isolation: one tenant never reads or changes another's rows.

use crate::helpers::{error_code, latest_email_to, newest_temporary_password, tenant_with_admin, TestServer};
use serde_json::{json, Value};

const CREATE_USER: &str =
    "mutation($i: CreateUserInput!) { createUser(input: $i) { id email role mustChangePassword } }";

async fn create_user(server: &TestServer, token: &str, email: &str, role: &str) -> Value {
    server
        .graphql_as(
            token,
            CREATE_USER,
            json!({ "i": { "email": email, "role": role } }),
        )
        .await
}

#[tokio::test]
async fn roles_and_user_protections() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Acme").await;

    let created = create_user(&server, &admin, "viewer@acme.test", "OBSERVER").await;
    let viewer_id = created["data"]["createUser"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["data"]["createUser"]["mustChangePassword"], true);
    assert!(latest_email_to(&server, "viewer@acme.test")
        .await
        .contains("Mot de passe temporaire"));

    assert_eq!(
        error_code(&create_user(&server, &admin, "Viewer@Acme.test", "OBSERVER").await),
        "CONFLICT"
    );
    assert_eq!(
        error_code(&create_user(&server, &admin, "x@acme.test", "SUPER_ADMIN").await),
        "FORBIDDEN"
    );
    assert_eq!(
        error_code(&create_user(&server, &admin, "not-an-email", "OBSERVER").await),
        "BAD_USER_INPUT"
    );

    // The observer reads but cannot manage.
    let temp = newest_temporary_password(&server, "viewer@acme.test").await;
    let viewer = server.login("viewer@acme.test", &temp).await;
    server
        .graphql_as(
            &viewer,
            "mutation($c: String!) { changePassword(currentPassword: $c, newPassword: \"Viewer-Passw0rd!\") }",
            json!({ "c": temp }),
        )
        .await;
    let list = server.graphql_as(&viewer, "{ users { email } }", json!({})).await;
    assert_eq!(list["data"]["users"].as_array().unwrap().len(), 2, "{list}");
    assert_eq!(
        error_code(&create_user(&server, &viewer, "y@acme.test", "OBSERVER").await),
        "FORBIDDEN"
    );
    let logs = server
        .graphql_as(&viewer, "{ activityLogs { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(error_code(&logs), "FORBIDDEN");

    // Protections around the admin.
    let me = server.graphql_as(&admin, "{ me { id } }", json!({})).await;
    let admin_id = me["data"]["me"]["id"].as_str().unwrap().to_owned();
    let update = "mutation($id: ID!, $r: Role) { updateUser(id: $id, input: { role: $r }) { role } }";
    let self_demote = server
        .graphql_as(&admin, update, json!({ "id": admin_id, "r": "OBSERVER" }))
        .await;
    assert_eq!(error_code(&self_demote), "FORBIDDEN");
    let delete = "mutation($id: ID!) { deleteUser(id: $id) }";
    assert_eq!(
        error_code(&server.graphql_as(&admin, delete, json!({ "id": admin_id })).await),
        "FORBIDDEN"
    );
    // With two admins one may be demoted again.
    let promoted = server
        .graphql_as(&admin, update, json!({ "id": viewer_id, "r": "ADMIN" }))
        .await;
    assert_eq!(promoted["data"]["updateUser"]["role"], "ADMIN", "{promoted}");
    let demoted = server
        .graphql_as(&admin, update, json!({ "id": viewer_id, "r": "OBSERVER" }))
        .await;
    assert_eq!(demoted["data"]["updateUser"]["role"], "OBSERVER");
    server.login("viewer@acme.test", "Viewer-Passw0rd!").await;

    let reset = "mutation($id: ID!) { resetUserPassword(id: $id) }";
    assert_eq!(
        server.graphql_as(&admin, reset, json!({ "id": viewer_id })).await["data"]["resetUserPassword"],
        true
    );
    let mail = latest_email_to(&server, "viewer@acme.test").await;
    assert!(mail.contains("a réinitialisé votre mot de passe"), "{mail}");
    assert_eq!(
        server
            .graphql_as(&admin, delete, json!({ "id": viewer_id }))
            .await["data"]["deleteUser"],
        true
    );
}

#[tokio::test]
async fn last_admin_cannot_be_removed_or_demoted() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Solo").await;
    let second = create_user(&server, &admin, "second@solo.test", "ADMIN").await;
    let second_id = second["data"]["createUser"]["id"].as_str().unwrap().to_owned();
    let me = server.graphql_as(&admin, "{ me { id } }", json!({})).await;
    let admin_id = me["data"]["me"]["id"].as_str().unwrap().to_owned();

    // Second admin removes the first... then is alone and protected.
    let temp = newest_temporary_password(&server, "second@solo.test").await;
    let second_token = server.login("second@solo.test", &temp).await;
    server
        .graphql_as(
            &second_token,
            "mutation($c: String!) { changePassword(currentPassword: $c, newPassword: \"Second-Passw0rd!\") }",
            json!({ "c": temp }),
        )
        .await;
    let delete = "mutation($id: ID!) { deleteUser(id: $id) }";
    let removed = server
        .graphql_as(&second_token, delete, json!({ "id": admin_id }))
        .await;
    assert_eq!(removed["data"]["deleteUser"], true, "{removed}");
    let observer = create_user(&server, &second_token, "obs@solo.test", "OBSERVER").await;
    assert!(observer["data"]["createUser"]["id"].is_string());
    let update = "mutation($id: ID!) { updateUser(id: $id, input: { role: OBSERVER }) { role } }";
    assert_eq!(
        error_code(
            &server
                .graphql_as(&second_token, update, json!({ "id": second_id }))
                .await
        ),
        "FORBIDDEN"
    );
}

#[tokio::test]
async fn tenants_never_see_or_touch_each_other() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (a_client, _, a) = tenant_with_admin(&server, &root, "Alpha").await;
    let (b_client, _, b) = tenant_with_admin(&server, &root, "Beta").await;

    let b_user = create_user(&server, &b, "bob@beta.test", "OBSERVER").await;
    let b_user_id = b_user["data"]["createUser"]["id"].as_str().unwrap().to_owned();
    let b_token = server
        .graphql_as(
            &b,
            "mutation { createApiToken(input: { name: \"beta-ci\", scope: READ }) { token { id } secret } }",
            json!({}),
        )
        .await;
    let b_token_id = b_token["data"]["createApiToken"]["token"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Lists hold only the caller's rows.
    let users = server
        .graphql_as(&a, "{ users { email clientId } }", json!({}))
        .await;
    let listed = users["data"]["users"].as_array().unwrap();
    assert!(!listed.is_empty(), "the caller at least: {users}");
    for u in listed {
        assert_eq!(u["clientId"], a_client.as_str(), "{users}");
    }
    let tokens = server.graphql_as(&a, "{ apiTokens { id } }", json!({})).await;
    assert_eq!(tokens["data"]["apiTokens"], json!([]));
    let logs = server
        .graphql_as(
            &a,
            "{ activityLogs(first: 200) { edges { node { clientId message } } } }",
            json!({}),
        )
        .await;
    let edges = logs["data"]["activityLogs"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    for e in edges {
        assert_eq!(e["node"]["clientId"], a_client.as_str(), "{logs}");
    }
    // Asking for B's entries explicitly changes nothing for a client admin.
    let filtered = server
        .graphql_as(
            &a,
            "query($c: ID!) { activityLogs(filter: { clientId: $c }) { edges { node { clientId } } } }",
            json!({ "c": b_client }),
        )
        .await;
    let filtered_edges = filtered["data"]["activityLogs"]["edges"].as_array().unwrap();
    assert!(!filtered_edges.is_empty(), "the caller's own entries: {filtered}");
    for e in filtered_edges {
        assert_eq!(e["node"]["clientId"], a_client.as_str());
    }

    // Guessed ids answer NOT_FOUND, never the row, and change nothing.
    for (query, vars) in [
        (
            "query($id: ID!) { user(id: $id) { email } }",
            json!({ "id": b_user_id }),
        ),
        (
            "mutation($id: ID!) { updateUser(id: $id, input: { firstName: \"pwned\" }) { id } }",
            json!({ "id": b_user_id }),
        ),
        (
            "mutation($id: ID!) { deleteUser(id: $id) }",
            json!({ "id": b_user_id }),
        ),
        (
            "mutation($id: ID!) { resetUserPassword(id: $id) }",
            json!({ "id": b_user_id }),
        ),
        (
            "mutation($id: ID!) { revokeApiToken(id: $id) }",
            json!({ "id": b_token_id }),
        ),
    ] {
        let body = server.graphql_as(&a, query, vars).await;
        assert_eq!(error_code(&body), "NOT_FOUND", "{query}: {body}");
        assert!(!body.to_string().contains("bob@beta.test"));
    }
    let still = server
        .graphql_as(
            &b,
            "query($id: ID!) { user(id: $id) { firstName } }",
            json!({ "id": b_user_id }),
        )
        .await;
    assert_eq!(still["data"]["user"]["firstName"], "");
    let b_tokens = server
        .graphql_as(&b, "{ apiTokens { revokedAt } }", json!({}))
        .await;
    assert!(b_tokens["data"]["apiTokens"][0]["revokedAt"].is_null());

    // Platform-level operations stay with the super_admin.
    assert_eq!(
        error_code(&server.graphql_as(&a, "{ clients { id } }", json!({})).await),
        "FORBIDDEN"
    );
    let imp = "mutation($c: ID!) { impersonate(clientId: $c) { accessToken } }";
    assert_eq!(
        error_code(&server.graphql_as(&a, imp, json!({ "c": b_client })).await),
        "FORBIDDEN"
    );
    let clients = server.graphql_as(&root, "{ clients { name } }", json!({})).await;
    assert_eq!(
        clients["data"]["clients"].as_array().unwrap().len(),
        3,
        "{clients}"
    );
}

#[tokio::test]
async fn super_admin_impersonation_is_scoped_and_audited() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (client, email, _) = tenant_with_admin(&server, &root, "Initech").await;
    let imp = server
        .graphql_as(
            &root,
            "mutation($c: ID!) { impersonate(clientId: $c) { accessToken clientId expiresAt } }",
            json!({ "c": client }),
        )
        .await;
    let token = imp["data"]["impersonate"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(imp["data"]["impersonate"]["clientId"], client.as_str());
    let users = server.graphql_as(&token, "{ users { email } }", json!({})).await;
    assert_eq!(users["data"]["users"][0]["email"], email.as_str(), "{users}");
    // The impersonation token cannot impersonate further.
    let nested = server
        .graphql_as(
            &token,
            "mutation($c: ID!) { impersonate(clientId: $c) { accessToken } }",
            json!({ "c": client }),
        )
        .await;
    assert_eq!(error_code(&nested), "FORBIDDEN");
    let logs = server
        .graphql_as(
            &root,
            "query($c: ID!) { activityLogs(filter: { clientId: $c, category: AUTH }) { edges { node { message } } } }",
            json!({ "c": client }),
        )
        .await;
    assert!(logs.to_string().contains("Impersonation"), "{logs}");
    let unknown = server
        .graphql_as(
            &root,
            "mutation { impersonate(clientId: \"00000000-0000-0000-0000-000000000000\") { accessToken } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&unknown), "NOT_FOUND");
}

#[tokio::test]
async fn api_tokens_read_and_write_scopes() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Hooli").await;
    let create = "mutation($s: ApiTokenScope!) { createApiToken(input: { name: \"ci\", scope: $s, expiresInDays: 30 }) { token { id prefix scope expiresAt } secret } }";
    let read = server.graphql_as(&admin, create, json!({ "s": "READ" })).await;
    let read_secret = read["data"]["createApiToken"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let read_id = read["data"]["createApiToken"]["token"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(read_secret.starts_with("opt_"));
    assert!(read_secret.starts_with(
        read["data"]["createApiToken"]["token"]["prefix"]
            .as_str()
            .unwrap()
    ));
    let rw = server
        .graphql_as(&admin, create, json!({ "s": "READ_WRITE" }))
        .await;
    let rw_secret = rw["data"]["createApiToken"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    // Queries and introspection work with a token.
    let users = server
        .graphql_as(&read_secret, "{ users { email } }", json!({}))
        .await;
    assert_eq!(users["data"]["users"].as_array().unwrap().len(), 1, "{users}");
    let schema = server
        .graphql_as(&read_secret, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(schema["data"]["__schema"]["queryType"]["name"], "Query");

    // A read token cannot mutate; no token may touch identity.
    let resp = server
        .http
        .post(server.url("/graphql"))
        .bearer_auth(&read_secret)
        .json(&json!({ "query": "mutation { mfaSetup { secret } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    for mutation in [
        "mutation { createUser(input: { email: \"bot@hooli.test\" }) { id } }",
        "mutation { createApiToken(input: { name: \"x\", scope: READ }) { secret } }",
        "mutation { mfaSetup { secret } }",
        "mutation { changePassword(currentPassword: \"a\", newPassword: \"b\") }",
    ] {
        let body = server.graphql_as(&rw_secret, mutation, json!({})).await;
        assert_eq!(error_code(&body), "FORBIDDEN", "{mutation}: {body}");
    }
    assert_eq!(
        error_code(&server.graphql_as(&rw_secret, "{ me { id } }", json!({})).await),
        "FORBIDDEN"
    );

    let revoke = "mutation($id: ID!) { revokeApiToken(id: $id) }";
    assert_eq!(
        server.graphql_as(&admin, revoke, json!({ "id": read_id })).await["data"]["revokeApiToken"],
        true
    );
    let after = server
        .graphql_as(&read_secret, "{ users { email } }", json!({}))
        .await;
    assert_eq!(error_code(&after), "UNAUTHENTICATED");
    let listed = server
        .graphql_as(&admin, "{ apiTokens { id lastUsedAt revokedAt } }", json!({}))
        .await;
    assert_eq!(listed["data"]["apiTokens"].as_array().unwrap().len(), 2);
}

//! Attack battery for sessions and credentials: tokens outliving what
//! should end them (deletion, demotion, password changes and resets), a
//! logout forgotten after cache eviction, revoked API tokens keeping their
//! sockets, reset-mail floods, impersonation minting credentials, TOTP
//! secrets in clear, and unbounded token counts.

use crate::helpers::{
    error_code, latest_email_to, newest_temporary_password, tenant_with_admin, TestServer, WsClient,
    ADMIN_EMAIL, ADMIN_PASSWORD, TENANT_PASSWORD,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

const ME: &str = "{ me { id role } }";
const CHANGE: &str =
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";
const CREATE_LABEL: &str = "mutation($k: String!) { createLabel(key: $k) { id } }";
const CREATE_API_TOKEN: &str =
    "mutation($n: String!, $s: ApiTokenScope!) { createApiToken(input: { name: $n, scope: $s }) { token { id } secret } }";

/// Creates a user of the admin's tenant and signs them in past the forced
/// password change; returns (user id, access token).
async fn member(server: &TestServer, admin: &str, email: &str, role: &str) -> (String, String) {
    let created = server
        .graphql_as(
            admin,
            "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
            json!({ "i": { "email": email, "role": role } }),
        )
        .await;
    let id = created["data"]["createUser"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("createUser: {created}"))
        .to_owned();
    let temp = newest_temporary_password(server, email).await;
    let first = server.login(email, &temp).await;
    let changed = server
        .graphql_as(&first, CHANGE, json!({ "c": temp, "n": TENANT_PASSWORD }))
        .await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    (id, server.login(email, TENANT_PASSWORD).await)
}

/// A socket authenticated with `token`, subscribed to the server clock.
async fn live_socket(server: &TestServer, token: &str) -> WsClient {
    let mut ws = WsClient::connect(&server.ws_url()).await;
    ws.init_with(token).await;
    ws.subscribe(
        "clock",
        "subscription { serverTime(intervalMs: 1000) }",
        json!({}),
    )
    .await;
    assert_eq!(ws.recv().await["type"], "next");
    ws
}

/// Reads frames until the socket closes; returns its close code.
async fn closed(ws: &mut WsClient) -> Value {
    loop {
        let frame = ws.recv().await;
        if frame.get("close").is_some() {
            return frame["close"].clone();
        }
    }
}

#[tokio::test]
async fn a_deleted_user_is_signed_out_everywhere_at_once() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Acme").await;
    let (victim_id, victim) = member(&server, &admin, "second@acme.test", "ADMIN").await;
    let mut socket = live_socket(&server, &victim).await;

    let deleted = server
        .graphql_as(
            &admin,
            "mutation($id: ID!) { deleteUser(id: $id) }",
            json!({ "id": victim_id }),
        )
        .await;
    assert_eq!(deleted["data"]["deleteUser"], true, "{deleted}");

    assert_eq!(
        error_code(&server.graphql_as(&victim, ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    // The attack of the probe: the deleted admin creating another admin.
    let minted = server
        .graphql_as(
            &victim,
            "mutation { createUser(input: { email: \"ghost@acme.test\", role: ADMIN }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&minted), "UNAUTHENTICATED");
    assert_eq!(closed(&mut socket).await, 4403);
}

#[tokio::test]
async fn a_demotion_applies_at_the_next_request() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Acme").await;
    let (id, second) = member(&server, &admin, "second@acme.test", "ADMIN").await;
    let before = server
        .graphql_as(&second, CREATE_LABEL, json!({ "k": "env" }))
        .await;
    assert!(before["errors"].is_null(), "{before}");
    let mut socket = live_socket(&server, &second).await;

    let demoted = server
        .graphql_as(
            &admin,
            "mutation($id: ID!) { updateUser(id: $id, input: { role: OBSERVER }) { role } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(demoted["data"]["updateUser"]["role"], "OBSERVER", "{demoted}");

    let after = server
        .graphql_as(&second, CREATE_LABEL, json!({ "k": "site" }))
        .await;
    assert_eq!(error_code(&after), "FORBIDDEN", "{after}");
    let me = server.graphql_as(&second, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["role"], "OBSERVER", "{me}");
    // The socket was opened as an admin: it closes, the user reconnects.
    assert_eq!(closed(&mut socket).await, 4403);
}

#[tokio::test]
async fn a_password_reset_by_an_admin_signs_the_user_out() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Acme").await;
    let (id, user) = member(&server, &admin, "user@acme.test", "OBSERVER").await;
    let mut socket = live_socket(&server, &user).await;
    let reset = server
        .graphql_as(
            &admin,
            "mutation($id: ID!) { resetUserPassword(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(reset["data"]["resetUserPassword"], true, "{reset}");
    assert_eq!(
        error_code(&server.graphql_as(&user, ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(closed(&mut socket).await, 4403);
}

#[tokio::test]
async fn a_password_change_keeps_the_caller_and_ends_other_sessions() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, email, admin) = tenant_with_admin(&server, &root, "Acme").await;
    let other_device = server.login(&email, TENANT_PASSWORD).await;
    let mut socket = live_socket(&server, &other_device).await;

    let changed = server
        .graphql_as(
            &admin,
            CHANGE,
            json!({ "c": TENANT_PASSWORD, "n": "Another-Passw0rd!" }),
        )
        .await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    let me = server.graphql_as(&admin, ME, json!({})).await;
    assert!(
        me["errors"].is_null(),
        "the caller's own session carries on: {me}"
    );
    assert_eq!(
        error_code(&server.graphql_as(&other_device, ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(closed(&mut socket).await, 4403);
    // A second change from the same session still works, and a fresh login
    // with the new password is a normal session.
    let again = server
        .graphql_as(
            &admin,
            CHANGE,
            json!({ "c": "Another-Passw0rd!", "n": "Third-Passw0rd!!" }),
        )
        .await;
    assert_eq!(again["data"]["changePassword"], true, "{again}");
    let fresh = server.login(&email, "Third-Passw0rd!!").await;
    assert!(server.graphql_as(&fresh, ME, json!({})).await["errors"].is_null());
}

#[tokio::test]
async fn a_logout_is_never_forgotten_when_caches_are_emptied() {
    let server = TestServer::spawn().await;
    let token = server.admin_token().await;
    let spare = server.admin_token().await;
    assert!(server.graphql_as(&token, ME, json!({})).await["errors"].is_null());
    let out = server.graphql_as(&token, "mutation { logout }", json!({})).await;
    assert_eq!(out["data"]["logout"], true, "{out}");
    assert_eq!(
        error_code(&server.graphql_as(&token, ME, json!({})).await),
        "UNAUTHENTICATED"
    );

    // What a flood of anonymous requests did to the bounded cache: every
    // entry gone. The revocation must come back from the database.
    let infra = &server.state.services.infra;
    infra.cache.delete_prefix("").await.unwrap();
    infra.sessions_cache.delete_prefix("").await.unwrap();
    for _ in 0..3 {
        assert_eq!(
            error_code(&server.graphql_as(&token, ME, json!({})).await),
            "UNAUTHENTICATED"
        );
    }
    // The other session of the same user is untouched.
    assert!(server.graphql_as(&spare, ME, json!({})).await["errors"].is_null());
}

#[tokio::test]
async fn anonymous_floods_never_write_the_session_cache() {
    let server = TestServer::spawn().await;
    let sessions = &server.state.services.infra.sessions_cache;
    // Forged, expired and garbage credentials, and anonymous logins.
    for i in 0..60 {
        let token = match i % 3 {
            0 => format!("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{i}In0.forged"),
            1 => format!("opt_{i:043}"),
            _ => format!("garbage-{i}"),
        };
        let body = server.graphql_as(&token, ME, json!({})).await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
    }
    assert_eq!(
        sessions.delete_prefix("session:").await.unwrap(),
        0,
        "no session state for credentials that are not ours"
    );
}

#[tokio::test]
async fn a_revoked_api_token_loses_its_socket() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Acme").await;
    let created = server
        .graphql_as(&admin, CREATE_API_TOKEN, json!({ "n": "grafana", "s": "READ" }))
        .await;
    let secret = created["data"]["createApiToken"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    let id = created["data"]["createApiToken"]["token"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut socket = live_socket(&server, &secret).await;
    let revoked = server
        .graphql_as(
            &admin,
            "mutation($id: ID!) { revokeApiToken(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(revoked["data"]["revokeApiToken"], true, "{revoked}");
    assert_eq!(closed(&mut socket).await, 4403);
    let after = server
        .graphql_as(&secret, "{ machines(first: 1) { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&after), "UNAUTHENTICATED");
}

fn reset_link_token(body: &str) -> String {
    body.split("reset-password?token=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the email carries a reset link")
        .to_owned()
}

#[tokio::test]
async fn password_reset_mail_is_capped_per_account_with_one_live_link() {
    // Tests run without the per-address limit: the cap under test is per
    // account.
    let server = TestServer::spawn().await;
    let ask = "mutation($e: String!) { requestPasswordReset(email: $e) }";
    let mut first_link = None;
    for i in 0..10 {
        let answer = server.graphql(ask, json!({ "e": ADMIN_EMAIL })).await;
        assert_eq!(answer["data"]["requestPasswordReset"], true, "{answer}");
        if i == 0 {
            first_link = Some(reset_link_token(&latest_email_to(&server, ADMIN_EMAIL).await));
        }
        // An unknown address gets the very same answer.
        let ghost = server
            .graphql(ask, json!({ "e": format!("ghost{i}@nowhere.test") }))
            .await;
        assert_eq!(ghost, answer);
    }
    let db = &server.state.services.infra.db.conn;
    let mails = entities::email_outbox::Entity::find()
        .filter(entities::email_outbox::Column::Recipient.eq(ADMIN_EMAIL))
        .filter(entities::email_outbox::Column::Kind.eq("password_reset"))
        .count(db)
        .await
        .unwrap();
    assert_eq!(mails, 3, "at most 3 reset e-mails per account and hour");

    let validate = "query($t: String!) { validateResetToken(token: $t) }";
    let first = first_link.unwrap();
    let latest = reset_link_token(&latest_email_to(&server, ADMIN_EMAIL).await);
    assert_ne!(first, latest);
    assert_eq!(
        server.graphql(validate, json!({ "t": first })).await["data"]["validateResetToken"],
        false,
        "a newer link voids the older ones"
    );
    assert_eq!(
        server.graphql(validate, json!({ "t": latest })).await["data"]["validateResetToken"],
        true
    );
    let live = entities::password_reset_tokens::Entity::find()
        .filter(entities::password_reset_tokens::Column::UsedAt.is_null())
        .count(db)
        .await
        .unwrap();
    assert_eq!(live, 1, "one live reset token per user");
}

#[tokio::test]
async fn impersonation_cannot_leave_credentials_behind() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (client, _, _) = tenant_with_admin(&server, &root, "Initech").await;
    let imp = server
        .graphql_as(
            &root,
            "mutation($c: ID!) { impersonate(clientId: $c) { accessToken } }",
            json!({ "c": client }),
        )
        .await;
    let token = imp["data"]["impersonate"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{imp}"))
        .to_owned();
    // Reading and ordinary changes work.
    assert!(server.graphql_as(&token, "{ users { email } }", json!({})).await["errors"].is_null());
    assert!(server
        .graphql_as(&token, CREATE_LABEL, json!({ "k": "support" }))
        .await["errors"]
        .is_null());
    let attempts = [
        (CREATE_API_TOKEN, json!({ "n": "backdoor", "s": "READ_WRITE" })),
        (
            "mutation { createUser(input: { email: \"spare@initech.test\", role: ADMIN }) { id } }",
            json!({}),
        ),
        ("mutation { mfaSetup { secret } }", json!({})),
        (CHANGE, json!({ "c": ADMIN_PASSWORD, "n": "Hijacked-Passw0rd!" })),
    ];
    for (query, variables) in attempts {
        let refused = server.graphql_as(&token, query, variables).await;
        assert_eq!(error_code(&refused), "FORBIDDEN", "{query}: {refused}");
    }
    let tokens = server.graphql_as(&token, "{ apiTokens { id } }", json!({})).await;
    assert_eq!(tokens["data"]["apiTokens"], json!([]), "{tokens}");

    // Demoting the super_admin ends the impersonation it started.
    let db = &server.state.services.infra.db.conn;
    use sea_orm::sea_query::Expr;
    entities::users::Entity::update_many()
        .col_expr(entities::users::Column::Role, Expr::value("admin"))
        .filter(entities::users::Column::Email.eq(ADMIN_EMAIL))
        .exec(db)
        .await
        .unwrap();
    let root_id = entities::users::Entity::find()
        .filter(entities::users::Column::Email.eq(ADMIN_EMAIL))
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .id;
    server.state.services.auth.sessions().invalidate(root_id).await;
    assert_eq!(
        error_code(&server.graphql_as(&token, "{ users { email } }", json!({})).await),
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn totp_secrets_are_sealed_at_rest() {
    use optralis::domain::auth::mfa;
    let server = TestServer::spawn().await;
    let token = server.admin_token().await;
    let setup = server
        .graphql_as(&token, "mutation { mfaSetup { secret } }", json!({}))
        .await;
    let secret = setup["data"]["mfaSetup"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{setup}"))
        .to_owned();
    let db = &server.state.services.infra.db.conn;
    let stored = || async {
        entities::users::Entity::find()
            .filter(entities::users::Column::Email.eq(ADMIN_EMAIL))
            .one(db)
            .await
            .unwrap()
            .unwrap()
    };
    let pending = stored().await.totp_pending_secret.unwrap();
    assert!(
        pending.starts_with("v1:") && !pending.contains(&secret),
        "{pending}"
    );
    let code = mfa::current_code(&secret, ADMIN_EMAIL).unwrap();
    let enabled = server
        .graphql_as(
            &token,
            "mutation($c: String!) { mfaEnable(code: $c) }",
            json!({ "c": code }),
        )
        .await;
    assert_eq!(enabled["data"]["mfaEnable"], true, "{enabled}");
    let active = stored().await.totp_secret.unwrap();
    assert!(active.starts_with("v1:") && !active.contains(&secret), "{active}");
    let key =
        std::fs::read_to_string(std::path::Path::new(&server.env.vars["OPTRALIS_DATA_DIR"]).join("totp_key"))
            .unwrap();
    assert!(!active.contains(key.trim()));

    // The sealed secret still signs the user in (a code of the next step,
    // as the current one was spent on enabling).
    let login = server
        .graphql(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { mfaRequired mfaSessionId } }",
            json!({ "e": ADMIN_EMAIL, "p": ADMIN_PASSWORD }),
        )
        .await;
    let session = login["data"]["login"]["mfaSessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("{login}"))
        .to_owned();
    let next = mfa::code_at(&secret, ADMIN_EMAIL, chrono::Utc::now().timestamp() as u64 + 30).unwrap();
    let verified = server
        .graphql(
            "mutation($s: String!, $c: String!) { verifyMfa(mfaSessionId: $s, code: $c) { accessToken } }",
            json!({ "s": session, "c": next }),
        )
        .await;
    assert!(
        verified["data"]["verifyMfa"]["accessToken"].is_string(),
        "{verified}"
    );
}

#[tokio::test]
async fn live_api_and_install_tokens_are_capped_per_tenant() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Acme").await;
    let mut first_id = None;
    for i in 0..50 {
        let created = server
            .graphql_as(
                &admin,
                CREATE_API_TOKEN,
                json!({ "n": format!("t{i}"), "s": "READ" }),
            )
            .await;
        assert!(created["errors"].is_null(), "token {i}: {created}");
        first_id.get_or_insert_with(|| created["data"]["createApiToken"]["token"]["id"].clone());
    }
    let over = server
        .graphql_as(&admin, CREATE_API_TOKEN, json!({ "n": "one-more", "s": "READ" }))
        .await;
    assert_eq!(error_code(&over), "CONFLICT", "{over}");
    assert!(over["errors"][0]["message"].as_str().unwrap().contains("50"));
    server
        .graphql_as(
            &admin,
            "mutation($id: ID!) { revokeApiToken(id: $id) }",
            json!({ "id": first_id.unwrap() }),
        )
        .await;
    let freed = server
        .graphql_as(
            &admin,
            CREATE_API_TOKEN,
            json!({ "n": "replacement", "s": "READ" }),
        )
        .await;
    assert!(freed["errors"].is_null(), "{freed}");

    let install = "mutation { createInstallToken(input: { durationMinutes: 30 }) { token { id } } }";
    for i in 0..20 {
        let created = server.graphql_as(&admin, install, json!({})).await;
        assert!(created["errors"].is_null(), "install token {i}: {created}");
    }
    let over = server.graphql_as(&admin, install, json!({})).await;
    assert_eq!(error_code(&over), "CONFLICT", "{over}");
    // Another tenant's allowance is its own.
    let (_, _, other) = tenant_with_admin(&server, &root, "Globex").await;
    assert!(server.graphql_as(&other, install, json!({})).await["errors"].is_null());
    // The refused request wrote nothing.
    let db = &server.state.services.infra.db.conn;
    let stored = entities::install_tokens::Entity::find().count(db).await.unwrap();
    assert_eq!(stored, 21);
}

#[tokio::test]
async fn a_live_session_is_rebuilt_from_the_database_after_each_eviction() {
    // The guard rail of the eviction attack: with every session entry gone
    // before each request, a valid session keeps working from the database.
    let server = TestServer::spawn().await;
    let token = server.admin_token().await;
    for _ in 0..5 {
        server
            .state
            .services
            .infra
            .sessions_cache
            .delete_prefix("")
            .await
            .unwrap();
        assert!(server.graphql_as(&token, ME, json!({})).await["errors"].is_null());
    }
}

#[tokio::test]
async fn a_corrupt_stored_role_is_an_error_never_a_default() {
    use sea_orm::sea_query::Expr;
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Acme").await;
    let (id, user) = member(&server, &admin, "odd@acme.test", "ADMIN").await;
    let db = &server.state.services.infra.db.conn;
    let user_id = uuid::Uuid::parse_str(&id).unwrap();
    let updated = entities::users::Entity::update_many()
        .col_expr(entities::users::Column::Role, Expr::value("root"))
        .filter(entities::users::Column::Id.eq(user_id))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected, 1);
    server.state.services.auth.sessions().invalidate(user_id).await;
    // The user is not let in as anything, observer included.
    let me = server.graphql_as(&user, ME, json!({})).await;
    assert_eq!(error_code(&me), "UNAUTHENTICATED", "{me}");
    // Reading the corrupt row is an internal error, not a guessed role.
    let listed = server
        .graphql_as(&admin, "{ users { email role } }", json!({}))
        .await;
    assert_eq!(error_code(&listed), "INTERNAL_SERVER_ERROR", "{listed}");
    assert!(!listed.to_string().contains("root"), "{listed}");
}

#[tokio::test]
async fn totp_secrets_stored_in_clear_are_sealed_at_start_and_still_sign_in() {
    use optralis::domain::auth::mfa;
    use sea_orm::sea_query::Expr;
    let server = TestServer::spawn().await;
    let db = &server.state.services.infra.db.conn;
    // What an older version left: MFA on, the seed in clear.
    let secret = mfa::new_secret();
    entities::users::Entity::update_many()
        .col_expr(
            entities::users::Column::TotpSecret,
            Expr::value(Some(secret.clone())),
        )
        .col_expr(entities::users::Column::TotpEnabled, Expr::value(true))
        .filter(entities::users::Column::Email.eq(ADMIN_EMAIL))
        .exec(db)
        .await
        .unwrap();
    let auth = &server.state.services.auth;
    assert_eq!(auth.seal_stored_totp_secrets().await.unwrap(), 1);
    assert_eq!(
        auth.seal_stored_totp_secrets().await.unwrap(),
        0,
        "nothing left in clear"
    );
    let stored = entities::users::Entity::find()
        .filter(entities::users::Column::Email.eq(ADMIN_EMAIL))
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .totp_secret
        .unwrap();
    assert!(stored.starts_with("v1:") && !stored.contains(&secret), "{stored}");
    let login = server
        .graphql(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { mfaSessionId } }",
            json!({ "e": ADMIN_EMAIL, "p": ADMIN_PASSWORD }),
        )
        .await;
    let session = login["data"]["login"]["mfaSessionId"]
        .as_str()
        .unwrap_or_else(|| panic!("{login}"))
        .to_owned();
    let code = mfa::current_code(&secret, ADMIN_EMAIL).unwrap();
    let verified = server
        .graphql(
            "mutation($s: String!, $c: String!) { verifyMfa(mfaSessionId: $s, code: $c) { accessToken } }",
            json!({ "s": session, "c": code }),
        )
        .await;
    assert!(
        verified["data"]["verifyMfa"]["accessToken"].is_string(),
        "{verified}"
    );
}

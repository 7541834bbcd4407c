//! Sign-in, sessions, passwords and MFA through GraphQL.

use crate::helpers::{
    error_code, newest_temporary_password, tenant_with_admin, TestEnv, TestServer, ADMIN_EMAIL,
    ADMIN_PASSWORD, FIRST_LOGIN_PENDING, TENANT_PASSWORD,
};
use optralis::domain::auth::mfa;
use serde_json::{json, Value};

const LOGIN: &str = "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken mfaRequired mfaSessionId user { id email role mustChangePassword } } }";
const ME: &str = "{ me { id email role clientId } }";
const REFRESH: &str = "mutation($r: String) { refreshToken(refreshToken: $r) { accessToken refreshToken } }";
const CHANGE: &str =
    "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }";

async fn login(server: &TestServer, email: &str, password: &str) -> Value {
    server.graphql(LOGIN, json!({ "e": email, "p": password })).await
}

#[tokio::test]
async fn login_me_and_uniform_failures() {
    let server = TestServer::spawn().await;
    let ok = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let payload = &ok["data"]["login"];
    assert_eq!(payload["mfaRequired"], false);
    assert_eq!(payload["user"]["role"], "SUPER_ADMIN");
    let token = payload["accessToken"].as_str().unwrap();
    let me = server.graphql_as(token, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["email"], ADMIN_EMAIL);

    let wrong = login(&server, ADMIN_EMAIL, "Wrong-Passw0rd!").await;
    let unknown = login(&server, "nobody@optralis.test", "Wrong-Passw0rd!").await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    assert_eq!(wrong["errors"][0]["message"], unknown["errors"][0]["message"]);
    assert_eq!(error_code(&unknown), "UNAUTHENTICATED");

    let anonymous = server.graphql(ME, json!({})).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    let garbage = server.graphql_as("not-a-token", ME, json!({})).await;
    assert_eq!(error_code(&garbage), "UNAUTHENTICATED");
}

#[tokio::test]
async fn the_first_admin_changes_a_configured_password_at_first_login() {
    // DEFAULT_ADMIN_EMAIL and DEFAULT_ADMIN_PASSWORD are set by TestEnv.
    let env = TestEnv::new().await.set(FIRST_LOGIN_PENDING, "1");
    let server = TestServer::spawn_env(env).await;
    let first = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(
        first["data"]["login"]["user"]["mustChangePassword"], true,
        "{first}"
    );
    let token = first["data"]["login"]["accessToken"].as_str().unwrap().to_owned();
    let blocked = server.graphql_as(&token, "{ clients { id } }", json!({})).await;
    assert_eq!(error_code(&blocked), "PASSWORD_CHANGE_REQUIRED");
    let changed = server
        .graphql_as(
            &token,
            CHANGE,
            json!({ "c": ADMIN_PASSWORD, "n": "Chosen-Passw0rd!!" }),
        )
        .await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    let clients = server.graphql_as(&token, "{ clients { id } }", json!({})).await;
    assert!(clients["errors"].is_null(), "{clients}");
    let again = login(&server, ADMIN_EMAIL, "Chosen-Passw0rd!!").await;
    assert_eq!(again["data"]["login"]["user"]["mustChangePassword"], false);
}

#[tokio::test]
async fn new_accounts_must_change_their_password_first() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let body = server
        .graphql_as(
            &root,
            "mutation($i: CreateClientInput!) { createClient(input: $i) { admin { email mustChangePassword } } }",
            json!({ "i": { "name": "Acme", "adminEmail": "Boss@Acme.test" } }),
        )
        .await;
    assert_eq!(
        body["data"]["createClient"]["admin"]["email"], "boss@acme.test",
        "{body}"
    );
    assert_eq!(body["data"]["createClient"]["admin"]["mustChangePassword"], true);
    let temp = newest_temporary_password(&server, "boss@acme.test").await;

    let first = login(&server, "boss@acme.test", &temp).await;
    assert_eq!(first["data"]["login"]["user"]["mustChangePassword"], true);
    let token = first["data"]["login"]["accessToken"].as_str().unwrap().to_owned();
    let blocked = server.graphql_as(&token, "{ users { id } }", json!({})).await;
    assert_eq!(error_code(&blocked), "PASSWORD_CHANGE_REQUIRED");

    let weak = server
        .graphql_as(&token, CHANGE, json!({ "c": temp, "n": "short" }))
        .await;
    assert_eq!(error_code(&weak), "BAD_USER_INPUT");
    let wrong_current = server
        .graphql_as(&token, CHANGE, json!({ "c": "nope", "n": TENANT_PASSWORD }))
        .await;
    assert_eq!(error_code(&wrong_current), "BAD_USER_INPUT");
    let changed = server
        .graphql_as(&token, CHANGE, json!({ "c": temp, "n": TENANT_PASSWORD }))
        .await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");

    // The same token works once the password is changed.
    let users = server.graphql_as(&token, "{ users { email } }", json!({})).await;
    assert_eq!(users["data"]["users"][0]["email"], "boss@acme.test", "{users}");
    assert_eq!(
        error_code(&login(&server, "boss@acme.test", &temp).await),
        "UNAUTHENTICATED"
    );
    let again = login(&server, "boss@acme.test", TENANT_PASSWORD).await;
    assert_eq!(again["data"]["login"]["user"]["mustChangePassword"], false);
}

#[tokio::test]
async fn expired_passwords_allow_only_change_password() {
    let server = TestServer::spawn().await;
    let db = &server.state.services.infra.db.conn;
    use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
    entities::users::Entity::update_many()
        .col_expr(
            entities::users::Column::PasswordChangedAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(91)),
        )
        .filter(entities::users::Column::Email.eq(ADMIN_EMAIL))
        .exec(db)
        .await
        .unwrap();
    let token = server.admin_token().await;
    let me = server.graphql_as(&token, ME, json!({})).await;
    assert_eq!(error_code(&me), "PASSWORD_CHANGE_REQUIRED");
    let changed = server
        .graphql_as(
            &token,
            CHANGE,
            json!({ "c": ADMIN_PASSWORD, "n": "Brand-New-Passw0rd!" }),
        )
        .await;
    assert_eq!(changed["data"]["changePassword"], true, "{changed}");
    let me = server
        .graphql_as(&token, "{ me { email passwordExpiresAt } }", json!({}))
        .await;
    let expires = me["data"]["me"]["passwordExpiresAt"].as_str().unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(expires).unwrap();
    assert!(expires > chrono::Utc::now() + chrono::Duration::days(89));
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let server = TestServer::spawn().await;
    let first = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let r1 = first["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let rotated = server.graphql(REFRESH, json!({ "r": r1 })).await;
    let r2 = rotated["data"]["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let a2 = rotated["data"]["refreshToken"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(r1, r2);
    assert_eq!(
        server.graphql_as(&a2, ME, json!({})).await["data"]["me"]["email"],
        ADMIN_EMAIL
    );

    // The old token again: theft. Both it and the newer one are dead.
    let replay = server.graphql(REFRESH, json!({ "r": r1 })).await;
    assert_eq!(error_code(&replay), "UNAUTHENTICATED");
    let victim = server.graphql(REFRESH, json!({ "r": r2 })).await;
    assert_eq!(error_code(&victim), "UNAUTHENTICATED");

    // An access token is not a refresh token.
    let confused = server.graphql(REFRESH, json!({ "r": a2 })).await;
    assert_eq!(error_code(&confused), "UNAUTHENTICATED");
}

#[tokio::test]
async fn logout_revokes_the_access_token_at_once() {
    let server = TestServer::spawn().await;
    let token = server.admin_token().await;
    assert!(server.graphql_as(&token, ME, json!({})).await["data"]["me"].is_object());
    let out = server.graphql_as(&token, "mutation { logout }", json!({})).await;
    assert_eq!(out["data"]["logout"], true, "{out}");
    let after = server.graphql_as(&token, ME, json!({})).await;
    assert_eq!(error_code(&after), "UNAUTHENTICATED");
    assert_eq!(after["errors"][0]["message"], "Access token revoked");
    // Audit copy in the database.
    use sea_orm::{EntityTrait, PaginatorTrait};
    let rows = entities::token_blacklist::Entity::find()
        .count(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn login_attempts_are_rate_limited_per_ip() {
    let server = TestServer::spawn_env(TestEnv::new().await.with_login_limits()).await;
    for _ in 0..5 {
        let body = login(&server, ADMIN_EMAIL, "Wrong-Passw0rd!").await;
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    let limited = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(error_code(&limited), "RATE_LIMITED", "{limited}");
    let retry = limited["errors"][0]["extensions"]["retryAfter"].as_u64().unwrap();
    assert!(retry > 800 && retry <= 900, "{retry}");
}

#[tokio::test]
async fn forwarded_ips_are_limited_separately_only_behind_a_trusted_proxy() {
    let env = TestEnv::new()
        .await
        .with_login_limits()
        .set("TRUST_PROXY_HEADERS", "true");
    let server = TestServer::spawn_env(env).await;
    let attempt = |ip: &'static str| {
        server
            .http
            .post(server.url("/graphql"))
            .header("x-forwarded-for", ip)
            .json(&json!({ "query": LOGIN, "variables": { "e": ADMIN_EMAIL, "p": "Wrong-Passw0rd!" } }))
            .send()
    };
    for _ in 0..6 {
        attempt("198.51.100.7").await.unwrap();
    }
    let blocked: Value = attempt("198.51.100.7").await.unwrap().json().await.unwrap();
    assert_eq!(error_code(&blocked), "RATE_LIMITED");
    let other: Value = attempt("198.51.100.8").await.unwrap().json().await.unwrap();
    assert_eq!(error_code(&other), "UNAUTHENTICATED");
}

#[tokio::test]
async fn totp_login_with_codes_and_single_use_backup_codes() {
    let server = TestServer::spawn().await;
    let token = server.admin_token().await;
    let setup = server
        .graphql_as(
            &token,
            "mutation { mfaSetup { secret otpauthUrl backupCodes } }",
            json!({}),
        )
        .await;
    let setup = &setup["data"]["mfaSetup"];
    let secret = setup["secret"].as_str().unwrap().to_owned();
    assert!(setup["otpauthUrl"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/Optralis:"));
    let backup: Vec<String> = setup["backupCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(backup.len(), 10);

    let bad = server
        .graphql_as(&token, "mutation { mfaEnable(code: \"000000\") }", json!({}))
        .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT");
    let code = mfa::current_code(&secret, ADMIN_EMAIL).unwrap();
    let enabled = server
        .graphql_as(
            &token,
            "mutation($c: String!) { mfaEnable(code: $c) }",
            json!({ "c": code }),
        )
        .await;
    assert_eq!(enabled["data"]["mfaEnable"], true, "{enabled}");

    let verify = "mutation($s: String!, $c: String!) { verifyMfa(mfaSessionId: $s, code: $c) { accessToken user { email } } }";
    let pending = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(pending["data"]["login"]["mfaRequired"], true);
    assert!(pending["data"]["login"]["accessToken"].is_null());
    let session = pending["data"]["login"]["mfaSessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = server
        .graphql(verify, json!({ "s": session, "c": "123456" }))
        .await;
    assert_eq!(error_code(&wrong), "UNAUTHENTICATED");
    // Next step's code: within the accepted drift, and not the one used
    // to enable (a replayed code is refused).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let next = mfa::code_at(&secret, ADMIN_EMAIL, now + 30).unwrap();
    let done = server.graphql(verify, json!({ "s": session, "c": next })).await;
    assert_eq!(done["data"]["verifyMfa"]["user"]["email"], ADMIN_EMAIL, "{done}");

    // A backup code works once.
    for expected in [true, false] {
        let pending = login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let session = pending["data"]["login"]["mfaSessionId"]
            .as_str()
            .unwrap()
            .to_owned();
        let result = server
            .graphql(verify, json!({ "s": session, "c": backup[0] }))
            .await;
        assert_eq!(
            result["data"]["verifyMfa"]["accessToken"].is_string(),
            expected,
            "{result}"
        );
    }
    let status = server
        .graphql_as(
            &token,
            "{ mfaStatus { enabled verifiedAt backupCodesLeft } }",
            json!({}),
        )
        .await;
    assert_eq!(status["data"]["mfaStatus"]["enabled"], true);
    assert_eq!(status["data"]["mfaStatus"]["backupCodesLeft"], 9);

    let off = server
        .graphql_as(
            &token,
            "mutation($p: String!) { mfaDisable(password: $p) }",
            json!({ "p": ADMIN_PASSWORD }),
        )
        .await;
    assert_eq!(off["data"]["mfaDisable"], true);
    assert_eq!(
        login(&server, ADMIN_EMAIL, ADMIN_PASSWORD).await["data"]["login"]["mfaRequired"],
        false
    );
}

#[tokio::test]
async fn cookie_sessions_require_the_csrf_header_for_mutations() {
    let server = TestServer::spawn().await;
    let resp = server
        .http
        .post(server.url("/graphql"))
        .json(&json!({ "query": LOGIN, "variables": { "e": ADMIN_EMAIL, "p": ADMIN_PASSWORD } }))
        .send()
        .await
        .unwrap();
    let set_cookies: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(set_cookies.len(), 3, "{set_cookies:?}");
    for c in &set_cookies {
        assert!(c.contains("SameSite=Strict") && c.contains("Secure"), "{c}");
        assert_eq!(c.contains("HttpOnly"), !c.starts_with("optralis_csrf="), "{c}");
    }
    let jar: Vec<String> = set_cookies
        .iter()
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect();
    let cookie_header = jar.join("; ");
    let csrf = jar
        .iter()
        .find_map(|c| c.strip_prefix("optralis_csrf="))
        .unwrap()
        .to_owned();

    let me: Value = server
        .http
        .post(server.url("/graphql"))
        .header("cookie", &cookie_header)
        .json(&json!({ "query": ME }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["me"]["email"], ADMIN_EMAIL, "{me}");

    let mutation = |csrf: Option<&str>| {
        let mut req = server
            .http
            .post(server.url("/graphql"))
            .header("cookie", &cookie_header)
            .json(&json!({ "query": "mutation { mfaSetup { secret } }" }));
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        req.send()
    };
    let refused = mutation(None).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(error_code(&refused.json::<Value>().await.unwrap()), "FORBIDDEN");
    let forged = mutation(Some("forged")).await.unwrap();
    assert_eq!(forged.status(), 403);
    let allowed: Value = mutation(Some(&csrf)).await.unwrap().json().await.unwrap();
    assert!(allowed["data"]["mfaSetup"]["secret"].is_string(), "{allowed}");

    // Refresh through the cookie alone (plus CSRF).
    let refreshed: Value = server
        .http
        .post(server.url("/graphql"))
        .header("cookie", &cookie_header)
        .header("x-csrf-token", &csrf)
        .json(&json!({ "query": REFRESH }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        refreshed["data"]["refreshToken"]["accessToken"].is_string(),
        "{refreshed}"
    );
}

#[tokio::test]
async fn password_reset_by_email_through_smtp() {
    let mut sink = crate::helpers::SmtpSink::start().await;
    let env = TestEnv::new()
        .await
        .set("SMTP_HOST", "127.0.0.1")
        .set("SMTP_PORT", &sink.port.to_string())
        .set("SMTP_TLS", "none")
        .set("SMTP_FROM", "Optralis <noreply@optralis.test>")
        .set("DASHBOARD_URL", "https://dash.optralis.test");
    let server = TestServer::spawn_env(env).await;

    let unknown = server
        .graphql(
            "mutation { requestPasswordReset(email: \"ghost@nowhere.test\") }",
            json!({}),
        )
        .await;
    assert_eq!(unknown["data"]["requestPasswordReset"], true);
    let asked = server
        .graphql(
            "mutation($e: String!) { requestPasswordReset(email: $e) }",
            json!({ "e": ADMIN_EMAIL }),
        )
        .await;
    assert_eq!(asked["data"]["requestPasswordReset"], true);

    let message = crate::helpers::decode_qp(&sink.next().await);
    assert!(message.contains(&format!("To: {ADMIN_EMAIL}")), "{message}");
    let token = message
        .split("https://dash.optralis.test/reset-password?token=")
        .nth(1)
        .expect("reset link in the email")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let valid = "query($t: String!) { validateResetToken(token: $t) }";
    assert_eq!(
        server.graphql(valid, json!({ "t": token })).await["data"]["validateResetToken"],
        true
    );
    let reset = "mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }";
    let done = server
        .graphql(reset, json!({ "t": token, "p": "Reset-Passw0rd!!" }))
        .await;
    assert_eq!(done["data"]["resetPassword"], true, "{done}");
    let again = server
        .graphql(reset, json!({ "t": token, "p": "Other-Passw0rd!!" }))
        .await;
    assert_eq!(error_code(&again), "BAD_USER_INPUT");
    assert_eq!(
        server.graphql(valid, json!({ "t": token })).await["data"]["validateResetToken"],
        false
    );
    server.login(ADMIN_EMAIL, "Reset-Passw0rd!!").await;

    // Delivery is recorded in the activity log.
    let root = server.login(ADMIN_EMAIL, "Reset-Passw0rd!!").await;
    let logs = server
        .graphql_as(
            &root,
            "{ activityLogs(filter: { category: EMAIL }) { edges { node { message } } } }",
            json!({}),
        )
        .await;
    assert!(
        logs.to_string().contains("Email de réinitialisation envoyé"),
        "{logs}"
    );
}

#[tokio::test]
async fn tenant_admin_flow_end_to_end() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, email, token) = tenant_with_admin(&server, &root, "Globex").await;
    let me = server.graphql_as(&token, ME, json!({})).await;
    assert_eq!(me["data"]["me"]["email"], email);
    assert_eq!(me["data"]["me"]["role"], "ADMIN");
    assert!(login(&server, &email, TENANT_PASSWORD).await["data"]["login"]["accessToken"].is_string());
}

use crate::helpers::{error_code, TestEnv, TestServer};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

#[tokio::test]
async fn server_info_names_version_and_backends() {
    let server = TestServer::spawn().await;
    let body = server
        .graphql(
            "{ serverInfo { version databaseBackend cacheBackend schemaVersion } }",
            json!({}),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    let info = &body["data"]["serverInfo"];
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["databaseBackend"], server.env.expected_database_backend());
    assert_eq!(info["cacheBackend"], server.env.expected_cache_backend());
    assert!(info["schemaVersion"].as_str().unwrap().starts_with('m'));
}

#[tokio::test]
async fn get_runs_queries_but_never_mutations_or_subscriptions() {
    let server = TestServer::spawn().await;
    let resp = server
        .http
        .get(server.url("/graphql"))
        .query(&[("query", "{ serverInfo { version } }")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));

    for doc in [
        "mutation { anything }",
        "subscription { serverTime }",
        "query A { serverInfo { version } } mutation B { anything }",
    ] {
        let resp = server
            .http
            .get(server.url("/graphql"))
            .query(&[("query", doc), ("operationName", "A")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 405, "{doc}");
        assert_eq!(resp.headers()["allow"], "POST");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "METHOD_NOT_ALLOWED");
    }
}

#[tokio::test]
async fn post_requires_a_json_body_with_one_operation() {
    let server = TestServer::spawn().await;
    let query = r#"{"query":"{ serverInfo { version } }"}"#;
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
    ] {
        let mut req = server.http.post(server.url("/graphql")).body(query);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 415, "{content_type:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "UNSUPPORTED_MEDIA_TYPE");
    }

    let ok = server
        .http
        .post(server.url("/graphql"))
        .header("content-type", "application/json; charset=utf-8")
        .body(query)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let batch = server
        .http
        .post(server.url("/graphql"))
        .json(&json!([{ "query": "{ serverInfo { version } }" }, { "query": "{ serverInfo { version } }" }]))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), 400);
    assert_eq!(
        batch.json::<Value>().await.unwrap()["code"],
        "BATCH_NOT_SUPPORTED"
    );

    let malformed = server
        .http
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .body("{\"query\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(malformed.json::<Value>().await.unwrap()["code"], "BAD_REQUEST");
}

#[tokio::test]
async fn oversized_body_is_refused_with_json() {
    let server = TestServer::spawn().await;
    let padding = "x".repeat(10 * 1024 * 1024 + 1);
    let resp = server
        .http
        .post(server.url("/graphql"))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"query":"{{ serverInfo {{ version }} }}","extensions":{{"p":"{padding}"}}}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn parse_and_validation_errors_carry_codes_and_no_suggestions() {
    let server = TestServer::spawn().await;
    let body = server.graphql("{ serverInfo { version ", json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_PARSE_FAILED");

    let body = server.graphql("{ serverInf { version } }", json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        !message.contains("Did you mean"),
        "suggestions leak the schema: {message}"
    );

    let body = server
        .graphql(
            "query ($n: Int!) { serverInfo { version } }",
            json!({ "n": "not a number" }),
        )
        .await;
    assert_ne!(error_code(&body), "<none>", "{body}");
}

#[tokio::test]
async fn depth_and_complexity_limits_refuse_abusive_queries() {
    let server = TestServer::spawn().await;
    let mut deep = String::from("__typename");
    for _ in 0..20 {
        deep = format!("ofType {{ {deep} }}");
    }
    let body = server
        .graphql(
            &format!("{{ __schema {{ types {{ fields {{ type {{ {deep} }} }} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("nested too deep"));

    let wide: String = (0..2100)
        .map(|i| format!("a{i}: serverInfo {{ version }} "))
        .collect();
    let body = server.graphql(&format!("{{ {wide} }}"), json!({})).await;
    assert_eq!(error_code(&body), "GRAPHQL_VALIDATION_FAILED", "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("complex"));
}

#[tokio::test]
async fn standard_introspection_query_fits_the_limits() {
    let server = TestServer::spawn().await;
    let anonymous = server.graphql(INTROSPECTION_QUERY, json!({})).await;
    assert!(
        anonymous["data"]["__schema"].is_null(),
        "introspection needs a caller: {anonymous}"
    );
    let token = server.admin_token().await;
    let body = server.graphql_as(&token, INTROSPECTION_QUERY, json!({})).await;
    assert!(body.get("errors").is_none(), "{body}");
    let types = body["data"]["__schema"]["types"].as_array().unwrap();
    assert!(types.iter().any(|t| t["name"] == "ServerInfo"));
}

#[tokio::test]
async fn internal_errors_are_generic_and_carry_the_request_id() {
    let server = TestServer::spawn().await;
    // A fault, not an outage: a row that does not decode.
    let db = &server.state.services.infra.db.conn;
    db.execute_unprepared("DROP TABLE seaql_migrations")
        .await
        .unwrap();
    db.execute_unprepared(
        "CREATE TABLE seaql_migrations (version TEXT, applied_at TEXT); \
         INSERT INTO seaql_migrations VALUES ('m_broken', 'not a number')",
    )
    .await
    .unwrap();
    let resp = server
        .http
        .post(server.url("/graphql"))
        .header("x-request-id", "test-req-42")
        .json(&json!({ "query": "{ serverInfo { version schemaVersion } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-request-id"], "test-req-42");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "INTERNAL_SERVER_ERROR");
    let error = &body["errors"][0];
    assert_eq!(
        error["message"],
        "Internal server error (request id: test-req-42)"
    );
    assert_eq!(error["extensions"]["requestId"], "test-req-42");
    let text = body.to_string().to_lowercase();
    for leak in ["sqlx", "pool", "sql", "decode", "broken", "number"] {
        assert!(!text.contains(leak), "response leaks {leak:?}: {body}");
    }
}

#[tokio::test]
async fn a_closed_pool_is_unavailable_not_internal() {
    let server = TestServer::spawn().await;
    server.state.services.infra.db.conn.close_by_ref().await.unwrap();
    let body = server
        .graphql("{ serverInfo { version schemaVersion } }", json!({}))
        .await;
    assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE", "{body}");
    assert!(
        body["errors"][0]["extensions"]["retryAfter"].as_u64() >= Some(1),
        "{body}"
    );
    let text = body.to_string().to_lowercase();
    for leak in ["sqlx", "pool", "sql", "connection", "closed"] {
        assert!(!text.contains(leak), "response leaks {leak:?}: {body}");
    }
}

#[tokio::test]
async fn middleware_sets_request_id_security_headers_and_gzip() {
    let server = TestServer::spawn().await;
    let token = server.admin_token().await;
    let resp = server
        .http
        .post(server.url("/graphql"))
        .bearer_auth(&token)
        .header("accept-encoding", "gzip")
        .json(&json!({ "query": INTROSPECTION_QUERY }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let headers = resp.headers();
    assert_eq!(headers["content-encoding"], "gzip");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "strict-origin-when-cross-origin");
    let generated = headers["x-request-id"].to_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(generated).unwrap().get_version_num(), 4);

    let resp = server
        .http
        .get(server.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "NOT_FOUND");
}

#[tokio::test]
async fn cors_allows_only_configured_origins_with_credentials() {
    let env = TestEnv::new().await.set(
        "CORS_ALLOWED_ORIGINS",
        "https://app.example.com,http://localhost:5173",
    );
    let server = TestServer::spawn_env(env).await;
    let preflight = |origin: &'static str| {
        server
            .http
            .request(reqwest::Method::OPTIONS, server.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,x-csrf-token")
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    let denied = preflight("https://evil.example.com").await.unwrap();
    assert!(denied.headers().get("access-control-allow-origin").is_none());
}

/// The query graphql-js' getIntrospectionQuery() produces, as dashboards
/// and code generators send it.
pub const INTROSPECTION_QUERY: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description
    args { ...InputValue }
    type { ...TypeRef }
    isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}
"#;

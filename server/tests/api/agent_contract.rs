//! The agent contract holds on the wire: the OpenAPI document both ports
//! serve is the committed one, and real answers of every route it lists,
//! successes and refusals, validate against the schema it gives for their
//! path, method and status.

use crate::{
    collect::metrics_sample,
    helpers::{heartbeat_body, install_token, tenant_with_admin, TestAgent, TestServer},
};
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{json, Value};
use std::{collections::BTreeSet, sync::Mutex};

const CREATE_VERSION: &str =
    "mutation($i: CreateAgentVersionInput!) { createAgentVersion(input: $i) { id } }";

/// The document, with every object schema closed: an answer carrying a
/// field the contract does not list fails, as a missing one does.
struct Contract {
    doc: Value,
    components: Value,
    /// `METHOD path status` of every answer checked.
    seen: Mutex<BTreeSet<String>>,
}

fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

impl Contract {
    fn new(doc: Value) -> Self {
        assert_eq!(doc["openapi"], "3.1.0");
        let mut components = doc["components"].clone();
        close_objects(&mut components);
        Self {
            doc,
            components,
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    /// Checks one answer of `method path` (the path as the document
    /// names it) against the document, and returns its JSON body.
    async fn check(&self, method: &str, path: &str, response: reqwest::Response) -> Value {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = response.bytes().await.unwrap();
        let documented = &self.doc["paths"][path][method]["responses"][status.to_string()];
        assert!(
            documented.is_object(),
            "{method} {path} answered {status}, which the contract does not list: {}",
            String::from_utf8_lossy(&bytes)
        );
        self.seen
            .lock()
            .unwrap()
            .insert(format!("{} {path} {status}", method.to_uppercase()));
        let media = content_type.split(';').next().unwrap_or("").trim();
        let content = &documented["content"][media];
        assert!(
            content.is_object(),
            "{method} {path} {status}: content type {content_type:?} not in the contract"
        );
        if media != "application/json" {
            return Value::Null;
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{method} {path} {status}: not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        let errors = self.errors(content, &body);
        assert!(
            errors.is_empty(),
            "{method} {path} {status} breaks the contract: {errors:#?}\nbody: {body:#}"
        );
        body
    }

    /// What `body` breaks of the schema of a response's `content` entry.
    fn errors(&self, content: &Value, body: &Value) -> Vec<String> {
        let mut schema = content["schema"].clone();
        assert!(schema.is_object(), "no schema in {content}");
        // `#/components/...` references resolve against this root.
        schema["components"] = self.components.clone();
        schema["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        let validator = jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("schema does not compile: {e}"));
        validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }

    /// Every operation of the document was seen answering 200.
    fn assert_every_route_checked(&self) {
        let seen = self.seen.lock().unwrap();
        let paths = self.doc["paths"].as_object().unwrap();
        assert!(!paths.is_empty(), "the document lists no path");
        for (path, item) in paths {
            for method in item.as_object().unwrap().keys() {
                let key = format!("{} {path} 200", method.to_uppercase());
                assert!(
                    seen.contains(&key),
                    "no answer checked for {key}; seen: {seen:#?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn every_agent_route_answers_as_the_published_contract_says() {
    let server = TestServer::spawn().await;

    // The document: the same on both ports, and the committed file.
    let main_port = server
        .http
        .get(server.url("/api/public/agent-openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(main_port.status(), 200);
    let served: Value = main_port.json().await.unwrap();
    let committed: Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../agent-gateway/openapi.json"
    )))
    .unwrap();
    assert_eq!(served, committed, "the main port serves the committed document");
    let contract = Contract::new(served);
    let anonymous = server.agent_client(None);
    let on_gateway = contract
        .check(
            "get",
            "/api/public/agent-openapi.json",
            anonymous
                .get(server.gateway_url("/api/public/agent-openapi.json"))
                .send()
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(on_gateway, committed, "the gateway serves the committed document");
    for path in [
        "/api/public/bootstrap",
        "/agent/heartbeat",
        "/agent/collect",
        "/agent/config",
        "/agent/config/collectors",
        "/agent/certificate/renew",
        "/agent/latest-version",
    ] {
        assert!(
            contract.doc["paths"][path].is_object(),
            "{path} is in the contract"
        );
    }

    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Contract").await;
    let token = install_token(&server, &admin, json!({})).await;

    // Public routes, before anything is published.
    let requirements = contract
        .check(
            "get",
            "/agent/requirements",
            anonymous
                .get(server.gateway_url("/agent/requirements"))
                .send()
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(requirements["linux_enabled"], true);
    let public_latest = |query: &'static str| {
        let url = server.gateway_url(&format!("/api/public/latest-version{query}"));
        let client = anonymous.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    contract
        .check("get", "/api/public/latest-version", public_latest("").await)
        .await;
    contract
        .check(
            "get",
            "/api/public/latest-version",
            public_latest("?channel=nightly").await,
        )
        .await;
    contract
        .check(
            "get",
            "/api/public/crl",
            server
                .http
                .get(server.url("/api/public/crl"))
                .send()
                .await
                .unwrap(),
        )
        .await;

    // Enrolment: refused, then accepted.
    let bootstrap = |body: Value| {
        let url = server.gateway_url("/api/public/bootstrap");
        let client = anonymous.clone();
        async move { client.post(url).json(&body).send().await.unwrap() }
    };
    let enrolment = json!({
        "token": token, "hostname": "contract-01", "hardware_id": "HW-C1",
        "os": "linux", "os_version": "Debian 12", "arch": "amd64"
    });
    let mut bad_host = enrolment.clone();
    bad_host["hostname"] = json!("not a host");
    contract
        .check("post", "/api/public/bootstrap", bootstrap(bad_host).await)
        .await;
    let mut bad_token = enrolment.clone();
    bad_token["token"] = json!("not-a-token");
    contract
        .check("post", "/api/public/bootstrap", bootstrap(bad_token).await)
        .await;
    let enrolled = contract
        .check("post", "/api/public/bootstrap", bootstrap(enrolment).await)
        .await;
    let machine_id = enrolled["machine_id"].clone();
    let agent = TestAgent::from_enrolment(&server, "contract-01", enrolled).client;

    // Heartbeats: plain, with both commands and an update, refused.
    let beat = |client: reqwest::Client, body: Value| {
        let url = server.gateway_url("/agent/heartbeat");
        async move { client.post(url).json(&body).send().await.unwrap() }
    };
    let plain = contract
        .check(
            "post",
            "/agent/heartbeat",
            beat(agent.clone(), heartbeat_body("contract-01")).await,
        )
        .await;
    assert_eq!(plain["update"], Value::Null);
    let published = server
        .graphql_as(
            &root,
            CREATE_VERSION,
            json!({ "i": {
                "version": "9.0.0", "channel": "STABLE", "platform": "LINUX", "architecture": "AMD64",
                "downloadUrl": "https://downloads.example.test/9.0.0/optralis-agent",
                "checksumSha256": "a8".repeat(32), "fileSizeBytes": 1024, "changelog": "- Contract",
                "isActive": true
            }}),
        )
        .await;
    assert!(
        published["data"]["createAgentVersion"]["id"].is_string(),
        "{published}"
    );
    for ask in [
        "mutation($m: ID!) { renewMachineCertificate(machineId: $m) }",
        "mutation($m: ID!) { forceCollect(machineId: $m) }",
    ] {
        let done = server.graphql_as(&admin, ask, json!({ "m": machine_id })).await;
        assert!(done["errors"].is_null(), "{done}");
    }
    let busy = contract
        .check(
            "post",
            "/agent/heartbeat",
            beat(agent.clone(), heartbeat_body("contract-01")).await,
        )
        .await;
    assert_eq!(busy["commands"], json!(["renew_certificate", "force_collect"]));
    assert_eq!(busy["update"]["version"], "9.0.0");
    contract
        .check(
            "post",
            "/agent/heartbeat",
            beat(agent.clone(), json!({ "hostname": "contract-01" })).await,
        )
        .await;
    contract
        .check(
            "post",
            "/agent/heartbeat",
            beat(anonymous.clone(), heartbeat_body("contract-01")).await,
        )
        .await;

    // Collect: committed, then a bad sample.
    let collect = |body: Value| {
        let url = server.gateway_url("/agent/collect");
        let client = agent.clone();
        async move { client.post(url).json(&body).send().await.unwrap() }
    };
    let collected = contract
        .check(
            "post",
            "/agent/collect",
            collect(metrics_sample(chrono::Utc::now(), 12.5, 40.0)).await,
        )
        .await;
    assert_eq!(collected["collector"], "metrics");
    contract
        .check(
            "post",
            "/agent/collect",
            collect(json!({ "collector": "telemetry", "data": {} })).await,
        )
        .await;

    // Configuration and versions.
    let get = |path: &'static str| {
        let url = server.gateway_url(path);
        let client = agent.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let config = contract
        .check("get", "/agent/config", get("/agent/config").await)
        .await;
    assert_eq!(config["collectors"].as_array().map(Vec::len), Some(8));
    contract
        .check(
            "get",
            "/agent/config/collectors",
            get("/agent/config/collectors").await,
        )
        .await;
    let latest = contract
        .check("get", "/agent/latest-version", get("/agent/latest-version").await)
        .await;
    assert_eq!(latest["version"], "9.0.0");
    contract
        .check(
            "get",
            "/agent/latest-version",
            get("/agent/latest-version?platform=windows").await,
        )
        .await;
    contract
        .check(
            "get",
            "/agent/latest-version",
            get("/agent/latest-version?architecture=sparc").await,
        )
        .await;
    let public = contract
        .check(
            "get",
            "/api/public/latest-version",
            public_latest("?platform=linux").await,
        )
        .await;
    assert_eq!(public, latest, "the public route shows the machine's build");

    // Renewal (asked for above), then the old certificate cannot renew
    // twice; the new one renews only near expiry.
    let renew = |client: reqwest::Client| {
        let url = server.gateway_url("/agent/certificate/renew");
        async move { client.post(url).send().await.unwrap() }
    };
    let renewed = contract
        .check("post", "/agent/certificate/renew", renew(agent.clone()).await)
        .await;
    let again = renew(agent.clone()).await;
    assert_eq!(again.status(), 409, "the old certificate was already renewed");
    contract.check("post", "/agent/certificate/renew", again).await;
    let fresh = server.agent_client(Some((
        renewed["certificate"].as_str().unwrap(),
        renewed["private_key"].as_str().unwrap(),
    )));
    contract
        .check("post", "/agent/certificate/renew", renew(fresh.clone()).await)
        .await;

    // Revoked: refused from the next request on, and listed in the CRL.
    let revoked = server
        .graphql_as(
            &admin,
            "mutation($m: ID!) { revokeMachineCertificate(machineId: $m) }",
            json!({ "m": machine_id }),
        )
        .await;
    assert_eq!(revoked["data"]["revokeMachineCertificate"], true, "{revoked}");
    let refused = contract
        .check(
            "post",
            "/agent/heartbeat",
            beat(fresh.clone(), heartbeat_body("contract-01")).await,
        )
        .await;
    assert_eq!(refused["code"], "FORBIDDEN");
    contract
        .check(
            "get",
            "/api/public/crl",
            anonymous
                .get(server.gateway_url("/api/public/crl"))
                .send()
                .await
                .unwrap(),
        )
        .await;

    contract.assert_every_route_checked();
}

/// Each refusal of the certificate check says what was wrong.
#[tokio::test]
async fn certificate_refusals_name_their_cause() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Refusals").await;
    let token = install_token(&server, &admin, json!({})).await;
    let first = TestAgent::enrol(&server, &token, "refused-01", "HW-R1").await;
    let second = TestAgent::enrol(&server, &token, "refused-01", "HW-R1").await;
    let beat = |client: reqwest::Client| {
        let url = server.gateway_url("/agent/heartbeat");
        async move {
            let resp = client
                .post(url)
                .json(&heartbeat_body("refused-01"))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            (status, body["error"].as_str().unwrap_or_default().to_owned())
        }
    };

    let (status, message) = beat(server.agent_client(None)).await;
    assert_eq!(status, 401);
    assert!(message.contains("No client certificate"), "{message}");

    // Re-enrolment replaced the first certificate.
    let (status, message) = beat(first.client.clone()).await;
    assert_eq!(status, 403);
    assert!(message.contains("superseded"), "{message}");

    let current = second.client.clone();
    assert_eq!(beat(current.clone()).await.0, 200);
    let revoked = server
        .graphql_as(
            &admin,
            "mutation($m: ID!) { revokeMachineCertificate(machineId: $m) }",
            json!({ "m": second.machine_id }),
        )
        .await;
    assert_eq!(revoked["data"]["revokeMachineCertificate"], true, "{revoked}");
    let (status, message) = beat(current).await;
    assert_eq!(status, 403);
    assert!(message.contains("revoked by an administrator"), "{message}");

    // Signed by our CA but never recorded.
    let client_id: uuid::Uuid = second.enrolled["client_id"].as_str().unwrap().parse().unwrap();
    let machine_id = second.machine_id;
    let ca = server.state.services.agents.ca();
    let stray = ca.issue_client(client_id, machine_id).unwrap();
    let (status, message) = beat(server.agent_client(Some((&stray.cert_pem, &stray.key_pem)))).await;
    assert_eq!(status, 403);
    assert!(message.contains("Unknown certificate"), "{message}");

    // Recorded for another machine than its common name says.
    let forged = ca.issue_client(client_id, uuid::Uuid::now_v7()).unwrap();
    entities::client_certificates::Entity::insert(entities::client_certificates::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        client_id: Set(client_id),
        machine_id: Set(machine_id),
        serial: Set(forged.serial.clone()),
        issued_at: Set(forged.not_before),
        expires_at: Set(forged.not_after),
        revoked_at: Set(None),
        revocation_reason: Set(None),
        created_by: Set(None),
        created_at: Set(chrono::Utc::now()),
    })
    .exec(&server.state.services.infra.db.conn)
    .await
    .unwrap();
    let (status, message) = beat(server.agent_client(Some((&forged.cert_pem, &forged.key_pem)))).await;
    assert_eq!(status, 403);
    assert!(message.contains("does not match the machine"), "{message}");
}

/// The check is not vacuous: references resolve, and a body with a field
/// too many, one missing or of the wrong format fails.
#[test]
fn the_check_refuses_what_the_contract_does_not_say() {
    let contract = Contract::new(
        serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../agent-gateway/openapi.json"
        )))
        .unwrap(),
    );
    let content =
        &contract.doc["paths"]["/agent/heartbeat"]["post"]["responses"]["200"]["content"]["application/json"];
    let good = json!({
        "commands": ["force_collect"], "is_os_compliant": true,
        "machine_id": "0191d7a4-7b7e-7cc1-8c3e-2d3f4a5b6c7d", "next_heartbeat_seconds": 60,
        "server_time": "2026-01-02T03:04:05Z", "status": "ok", "update": null
    });
    assert_eq!(contract.errors(content, &good), Vec::<String>::new());
    let mut extra = good.clone();
    extra["surprise"] = json!(1);
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("update");
    let mut not_a_uuid = good.clone();
    not_a_uuid["machine_id"] = json!("machine-1");
    let mut unknown_command = good.clone();
    unknown_command["commands"] = json!(["reboot"]);
    for bad in [extra, missing, not_a_uuid, unknown_command] {
        assert!(!contract.errors(content, &bad).is_empty(), "{bad}");
    }
}

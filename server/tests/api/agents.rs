//! Agent enrolment through GraphQL: install tokens.

use crate::helpers::{
    agent_sim, enrolment_body, error_code, heartbeat_body, install_token, tenant_with_admin, TestAgent,
    TestServer,
};
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

#[tokio::test]
async fn enrol_heartbeat_revoke_and_be_refused() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (client_id, _, admin) = tenant_with_admin(&server, &root, "Fleet").await;
    let token = install_token(&server, &admin, json!({ "maxUsage": 0 })).await;

    let resp = TestAgent::bootstrap(&server, &enrolment_body(&token, "srv-web-01", "HW-1")).await;
    assert_eq!(resp.status(), 200);
    let enrolled: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(enrolled["client_id"], client_id.as_str());
    let cert = enrolled["certificate"].as_str().unwrap().to_owned();
    let key = enrolled["private_key"].as_str().unwrap().to_owned();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(key.contains("PRIVATE KEY"));
    assert_eq!(
        enrolled["ca_certificate"].as_str().unwrap(),
        server.state.services.agents.ca().cert_pem()
    );
    let machine_id = enrolled["machine_id"].as_str().unwrap().to_owned();

    // Re-enrolling the same hardware keeps the machine.
    let again = TestAgent::enrol(&server, &token, "SRV-WEB-01", "hw-1").await;
    assert_eq!(again.machine_id.to_string(), machine_id);
    let beat = again.heartbeat(&heartbeat_body("srv-web-01")).await;
    assert_eq!(beat["status"], "ok");
    assert_eq!(beat["next_heartbeat_seconds"], 60);

    // The superseded first certificate no longer works.
    let old = TestAgent::from_enrolment(&server, "srv-web-01", enrolled);
    let refused = old.post_heartbeat(&heartbeat_body("srv-web-01")).await;
    assert_eq!(refused.status(), 403);

    // Without a certificate: 401 with a JSON body.
    let anonymous = server
        .agent_client(None)
        .post(server.gateway_url("/agent/heartbeat"))
        .json(&heartbeat_body("srv-web-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.json::<serde_json::Value>().await.unwrap()["code"],
        "UNAUTHENTICATED"
    );

    // Malformed bodies: 400 naming the field, nothing changed.
    let bad = again
        .post_heartbeat(&json!({ "hostname": "srv-web-01", "os": "linux", "os_version": "x" }))
        .await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("agent_version"));

    // Revocation takes effect on the next request, on the open connection.
    let revoke = "mutation($m: ID!) { revokeMachineCertificate(machineId: $m, reason: \"stolen laptop\") }";
    let other_tenant = server.graphql_as(&root, revoke, json!({ "m": machine_id })).await;
    assert_eq!(crate::helpers::error_code(&other_tenant), "NOT_FOUND");
    let revoked = server
        .graphql_as(&admin, revoke, json!({ "m": machine_id }))
        .await;
    assert_eq!(revoked["data"]["revokeMachineCertificate"], true, "{revoked}");
    let after = again.post_heartbeat(&heartbeat_body("srv-web-01")).await;
    assert_eq!(after.status(), 403);
    assert_eq!(
        after.json::<serde_json::Value>().await.unwrap()["code"],
        "FORBIDDEN"
    );
}

#[tokio::test]
async fn install_token_usage_is_capped_under_concurrency() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Racers").await;
    let token = install_token(&server, &admin, json!({ "maxUsage": 3 })).await;
    let attempts = (0..10).map(|i| {
        let (server, token) = (&server, token.clone());
        async move {
            TestAgent::bootstrap(
                server,
                &enrolment_body(&token, &format!("host-{i}"), &format!("HW-{i}")),
            )
            .await
            .status()
            .as_u16()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 7, "{statuses:?}");
    let bad_token = TestAgent::bootstrap(&server, &enrolment_body("not-a-token", "host-x", "HW-X")).await;
    assert_eq!(bad_token.status(), 401);
}

#[tokio::test]
async fn crl_lists_revoked_serials_and_openssl_parses_it() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Crl").await;
    let token = install_token(&server, &admin, json!({})).await;
    let agent = TestAgent::enrol(&server, &token, "crl-host", "HW-CRL").await;
    let machine_id = agent.machine_id;
    let revoke = "mutation($m: ID!) { revokeMachineCertificate(machineId: $m) }";
    assert_eq!(
        server
            .graphql_as(&admin, revoke, json!({ "m": machine_id }))
            .await["data"]["revokeMachineCertificate"],
        true
    );
    let (_, pem) = x509_parser::pem::parse_x509_pem(agent.certificate.as_bytes()).unwrap();
    let serial = hex::encode(pem.parse_x509().unwrap().raw_serial()).to_uppercase();

    for url in [
        server.url("/api/public/crl"),
        server.gateway_url("/api/public/crl"),
    ] {
        let resp = server.agent_client(None).get(&url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/pkix-crl");
        assert_eq!(resp.headers()["cache-control"], "public, max-age=300");
        let der = resp.bytes().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agents.crl");
        std::fs::write(&path, &der).unwrap();
        let out = std::process::Command::new("openssl")
            .args(["crl", "-inform", "DER", "-noout", "-text", "-in"])
            .arg(&path)
            .output()
            .expect("openssl is installed");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).to_uppercase();
        assert!(text.contains(&serial), "serial {serial} missing from:\n{text}");
    }
}

#[tokio::test]
async fn renewal_only_near_expiry_and_the_old_certificate_gets_24_hours() {
    use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Renew").await;
    let token = install_token(&server, &admin, json!({})).await;
    let agent = TestAgent::enrol(&server, &token, "renew-host", "HW-R").await;

    let early = agent.renew().await;
    assert_eq!(early.status(), 400);
    assert!(early.text().await.unwrap().contains("30 days"));

    // Bring the certificate into its last month.
    let db = &server.state.services.infra.db.conn;
    entities::client_certificates::Entity::update_many()
        .col_expr(
            entities::client_certificates::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() + chrono::Duration::days(10)),
        )
        .filter(entities::client_certificates::Column::RevokedAt.is_null())
        .exec(db)
        .await
        .unwrap();
    let renewed = agent.renew().await;
    assert_eq!(renewed.status(), 200);
    let renewed = agent.renewed(&server, &renewed.json().await.unwrap());
    assert_ne!(renewed.certificate, agent.certificate);
    assert_ne!(renewed.private_key, agent.private_key, "a new key pair");

    // Both work during the grace period; the old one cannot renew twice.
    for holder in [&agent, &renewed] {
        holder.heartbeat(&heartbeat_body("renew-host")).await;
    }
    let again = agent.renew().await;
    assert_eq!(again.status(), 409);
    assert_eq!(
        again.json::<serde_json::Value>().await.unwrap()["code"],
        "CONFLICT"
    );
    let old = entities::client_certificates::Entity::find()
        .filter(entities::client_certificates::Column::RevocationReason.eq("renewed"))
        .one(db)
        .await
        .unwrap()
        .expect("old certificate marked renewed");
    let grace = old.revoked_at.unwrap() - chrono::Utc::now();
    assert!(
        grace > chrono::Duration::hours(23) && grace <= chrono::Duration::hours(24),
        "{grace}"
    );
}

#[tokio::test]
async fn certificates_from_another_ca_are_refused() {
    let server = TestServer::spawn().await;
    let foreign_dir = tempfile::tempdir().unwrap();
    let foreign =
        optralis::domain::pki::ca::CertificateAuthority::load_or_create(foreign_dir.path()).unwrap();
    // Same CN shape, wrong issuer: the TLS handshake itself fails.
    let issued = foreign
        .issue_client(uuid::Uuid::new_v4(), uuid::Uuid::new_v4())
        .unwrap();
    let client = server.agent_client(Some((&issued.cert_pem, &issued.key_pem)));
    let result = client
        .post(server.gateway_url("/agent/heartbeat"))
        .json(&heartbeat_body("intruder"))
        .send()
        .await;
    match result {
        Err(_) => {}
        Ok(resp) => assert!(resp.status() == 401 || resp.status() == 403, "{}", resp.status()),
    }
}

#[tokio::test]
async fn the_agent_simulator_enrols_a_fleet_and_heartbeats() {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (client_id, _, admin) = tenant_with_admin(&server, &root, "Sim").await;
    let token = install_token(&server, &admin, json!({ "maxUsage": 12 })).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, server.state.services.agents.ca().cert_pem()).unwrap();
    let gateway = format!("https://127.0.0.1:{}", server.gateway_addr.port());
    let ca = ca.to_str().unwrap();
    let (ok, stdout) = agent_sim(&[
        "--gateway",
        &gateway,
        "--token",
        &token,
        "--machines",
        "12",
        "--heartbeats",
        "3",
        "--ca",
        ca,
    ])
    .await;
    assert!(ok, "{stdout}");
    assert!(stdout.contains("machines enrolled: 12/12"), "{stdout}");
    assert!(stdout.contains("heartbeats: 36 ok, 0 failed"), "{stdout}");
    let client_id = uuid::Uuid::parse_str(&client_id).unwrap();
    let seen = entities::machines::Entity::find()
        .filter(entities::machines::Column::ClientId.eq(client_id))
        .filter(entities::machines::Column::LastSeen.is_not_null())
        .count(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    assert_eq!(seen, 12);
}

#[tokio::test]
async fn os_compliance_follows_requirements_and_first_heartbeat_announces_online() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (client_id, _, admin) = tenant_with_admin(&server, &root, "Compliance").await;

    let public: serde_json::Value = server
        .agent_client(None)
        .get(server.gateway_url("/agent/requirements"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(public["linux_enabled"], true);
    assert_eq!(public["windows_client_min_build"], 0);

    let update = "mutation { updateAgentRequirements(input: { windowsClientMinBuild: 22000 }) { windowsClientMinBuild } }";
    assert_eq!(
        crate::helpers::error_code(&server.graphql_as(&admin, update, json!({})).await),
        "FORBIDDEN"
    );
    let updated = server.graphql_as(&root, update, json!({})).await;
    assert_eq!(
        updated["data"]["updateAgentRequirements"]["windowsClientMinBuild"], 22000,
        "{updated}"
    );
    let seen = server
        .graphql_as(
            &admin,
            "{ agentRequirements { windowsClientMinBuild linuxEnabled } }",
            json!({}),
        )
        .await;
    assert_eq!(seen["data"]["agentRequirements"]["windowsClientMinBuild"], 22000);

    let token = install_token(&server, &admin, json!({})).await;
    let enrolled: serde_json::Value = TestAgent::bootstrap(
        &server,
        &json!({ "token": token, "hostname": "DESKTOP-OLD", "hardware_id": "HW-W10", "os": "windows", "os_version": "Windows 10 Pro 10.0.19045", "arch": "amd64" }),
    )
    .await
    .json()
    .await
    .unwrap();
    let agent = TestAgent::from_enrolment(&server, "DESKTOP-OLD", enrolled);

    let mut events = server.state.services.infra.bus.subscribe();
    let beat = |version: &'static str| {
        let agent = &agent;
        async move {
            agent
                .heartbeat(&json!({ "hostname": "DESKTOP-OLD", "os": "windows", "os_version": version, "agent_version": "2.1.0" }))
                .await
        }
    };
    let first = beat("Windows 10 Pro 10.0.19045").await;
    assert_eq!(first["is_os_compliant"], false);
    use optralis::domain::live::{LiveEvent, Status};
    let (tenant, change) = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            if let LiveEvent::MachineStatus { client_id, change } = &*events.recv().await.unwrap() {
                return (*client_id, change.clone());
            }
        }
    })
    .await
    .expect("an online event");
    assert_eq!(tenant.to_string(), client_id);
    assert_eq!(change.status, Status::Online);
    assert_eq!(change.machine_id, agent.machine_id);

    // Upgraded to Windows 11: compliant, and no second online event.
    let second = beat("Windows 11 Pro 10.0.22631").await;
    assert_eq!(second["is_os_compliant"], true);
    let again = tokio::time::timeout(std::time::Duration::from_millis(300), async {
        loop {
            if let LiveEvent::MachineStatus { .. } = &*events.recv().await.unwrap() {
                return;
            }
        }
    })
    .await;
    assert!(again.is_err(), "already online: no new status event");
}

#[tokio::test]
async fn each_machine_has_a_request_budget() {
    let env = crate::helpers::TestEnv::new()
        .await
        .set("AGENT_RATE_LIMIT_PER_MINUTE", "3");
    let server = TestServer::spawn_env(env).await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Budget").await;
    let token = install_token(&server, &admin, json!({})).await;
    let agent = TestAgent::enrol(&server, &token, "busy-host", "HW-B").await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let resp = agent.post_heartbeat(&heartbeat_body("busy-host")).await;
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 200, 429]);
}

#[tokio::test]
async fn super_admin_certificate_administration() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Certs").await;
    let token = install_token(&server, &admin, json!({})).await;
    let a = TestAgent::enrol(&server, &token, "cert-a", "HW-CA").await;
    let b = TestAgent::enrol(&server, &token, "cert-b", "HW-CB").await;
    let revoke = "mutation($m: ID!) { revokeMachineCertificate(machineId: $m) }";
    server
        .graphql_as(&admin, revoke, json!({ "m": a.machine_id }))
        .await;

    let list = "query($f: CertificateFilter) { certificates(filter: $f, first: 10) { totalCount edges { node { serial status machineHostname clientName } } } }";
    assert_eq!(
        crate::helpers::error_code(&server.graphql_as(&admin, list, json!({})).await),
        "FORBIDDEN"
    );
    let revoked = server
        .graphql_as(&root, list, json!({ "f": { "status": "REVOKED" } }))
        .await;
    let edges = revoked["data"]["certificates"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{revoked}"));
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["machineHostname"], "cert-a");
    assert_eq!(edges[0]["node"]["clientName"], "Certs");
    let serial = edges[0]["node"]["serial"].as_str().unwrap().to_owned();
    let found = server
        .graphql_as(&root, list, json!({ "f": { "search": "CERT-B" } }))
        .await;
    assert_eq!(found["data"]["certificates"]["totalCount"], 1);
    assert_eq!(
        found["data"]["certificates"]["edges"][0]["node"]["status"],
        "VALID"
    );

    let stats = server
        .graphql_as(
            &root,
            "{ certificateStats { total valid expiringSoon expiring expired revoked } }",
            json!({}),
        )
        .await;
    assert_eq!(
        stats["data"]["certificateStats"],
        json!({ "total": 2, "valid": 1, "expiringSoon": 0, "expiring": 0, "expired": 0, "revoked": 1 })
    );

    // Restoring lets the agent back in at once.
    let body = heartbeat_body("cert-a");
    let beat = || a.post_heartbeat(&body);
    assert_eq!(beat().await.status(), 403);
    let restored = server
        .graphql_as(
            &root,
            "mutation($s: String!) { restoreCertificate(serial: $s) }",
            json!({ "s": serial }),
        )
        .await;
    assert_eq!(restored["data"]["restoreCertificate"], true, "{restored}");
    assert_eq!(beat().await.status(), 200);
    let refreshed = server
        .graphql_as(&root, "mutation { refreshCertificateCache }", json!({}))
        .await;
    assert!(
        refreshed["data"]["refreshCertificateCache"].is_u64(),
        "{refreshed}"
    );
    assert_eq!(beat().await.status(), 200);

    server
        .graphql_as(&admin, revoke, json!({ "m": b.machine_id }))
        .await;
    let purged = server
        .graphql_as(&root, "mutation { purgeInactiveCertificates }", json!({}))
        .await;
    assert_eq!(purged["data"]["purgeInactiveCertificates"], 1);
    let left = server.graphql_as(&root, list, json!({})).await;
    assert_eq!(left["data"]["certificates"]["totalCount"], 1);
}

#[tokio::test]
async fn curl_with_the_issued_certificate_heartbeats_and_without_is_refused() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Curl").await;
    let token = install_token(&server, &admin, json!({})).await;
    let enrolled = TestAgent::enrol(&server, &token, "curl-host", "HW-CURL")
        .await
        .enrolled;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, field: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, enrolled[field].as_str().unwrap()).unwrap();
        path
    };
    let (cert, key, ca) = (
        write("agent.crt", "certificate"),
        write("agent.key", "private_key"),
        write("ca.crt", "ca_certificate"),
    );
    let url = server.gateway_url("/agent/heartbeat");
    let body = heartbeat_body("curl-host").to_string();
    let curl = |with_cert: bool| {
        let mut cmd = tokio::process::Command::new("curl");
        cmd.args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "-H",
            "content-type: application/json",
        ])
        .args(["-S", "--retry", "2", "--retry-all-errors", "--cacert"])
        .arg(&ca);
        if with_cert {
            cmd.args(["--data", &body])
                .arg("--cert")
                .arg(&cert)
                .arg("--key")
                .arg(&key);
        } else {
            // No body: the refusal comes before a body would be read.
            cmd.args(["--data", ""]);
        }
        cmd.arg(&url);
        cmd
    };
    let ok = curl(true).output().await.expect("curl is installed");
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "200");
    let refused = curl(false).output().await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&refused.stdout),
        "401",
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[tokio::test]
async fn an_admin_can_ask_an_agent_to_renew_early() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Early").await;
    let token = install_token(&server, &admin, json!({})).await;
    let agent = TestAgent::enrol(&server, &token, "early-host", "HW-E").await;
    let body = heartbeat_body("early-host");
    let beat = || agent.heartbeat(&body);
    assert_eq!(beat().await["commands"], json!([]));
    assert_eq!(agent.renew().await.status(), 400);

    let ask = "mutation($m: ID!) { renewMachineCertificate(machineId: $m) }";
    assert_eq!(
        crate::helpers::error_code(
            &server
                .graphql_as(&root, ask, json!({ "m": agent.machine_id }))
                .await
        ),
        "NOT_FOUND"
    );
    assert_eq!(
        server
            .graphql_as(&admin, ask, json!({ "m": agent.machine_id }))
            .await["data"]["renewMachineCertificate"],
        true
    );
    assert_eq!(beat().await["commands"], json!(["renew_certificate"]));
    assert_eq!(agent.renew().await.status(), 200);
    assert_eq!(beat().await["commands"], json!([]));
}

#[tokio::test]
async fn the_load_generator_posts_collectors_and_every_acknowledged_sample_is_stored() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Load").await;
    let token = install_token(&server, &admin, json!({})).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.crt");
    std::fs::write(&ca, server.state.services.agents.ca().cert_pem()).unwrap();
    let db_url = match &server.env.config().database {
        optralis::config::DatabaseTarget::Sqlite { path } => format!("sqlite://{}?mode=rw", path.display()),
        optralis::config::DatabaseTarget::Postgres { url } => url.clone(),
    };
    let gateway = format!("https://127.0.0.1:{}", server.gateway_addr.port());
    let ca = ca.to_str().unwrap();
    let (ok, stdout) = agent_sim(&[
        "--gateway",
        &gateway,
        "--token",
        &token,
        "--machines",
        "6",
        "--heartbeats",
        "1",
        "--prefix",
        "load",
        "--duration-secs",
        "3",
        "--metrics-interval",
        "0.25",
        "--time-scale",
        "300",
        "--verify-db",
        &db_url,
        "--ca",
        ca,
    ])
    .await;
    assert!(ok, "{stdout}");
    let collect_line = stdout
        .lines()
        .find(|l| l.starts_with("collect:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(collect_line.contains(" 0 failed"), "{stdout}");
    let verify_line = stdout
        .lines()
        .find(|l| l.starts_with("verify:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(verify_line.contains(" 0 lost"), "{stdout}");
    let acknowledged: u64 = verify_line
        .trim_start_matches("verify: ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        acknowledged >= 6 * 8,
        "metrics every 250 ms for 3 s on 6 machines: {stdout}"
    );
    use sea_orm::{EntityTrait, PaginatorTrait};
    let rows = entities::metrics::Entity::find()
        .count(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    assert_eq!(
        rows, acknowledged,
        "exactly the acknowledged samples, none duplicated"
    );
    let snapshots = entities::machine_collector_data::Entity::find()
        .count(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    assert_eq!(snapshots, 6 * 8, "every collector ran on every machine");
}

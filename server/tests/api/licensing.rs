//! Licences over GraphQL: types and their figures, feature gates,
//! read-only tenants, extension, and the super_admin's client changes.

use crate::helpers::*;
use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

const CREATE_SITE: &str = "mutation($i: SiteInput!) { createSite(input: $i) { id name timezone } }";
const UPDATE_CLIENT: &str = "mutation($id: ID!, $i: UpdateClientInput!) { updateClient(id: $id, input: $i) { id licenseType licenseStatus licenseExpiresAt licenseDaysLeft maxMachines } }";
const MY_LICENSE: &str = "{ myLicense { license { licenseType tier status expiresAt daysLeft maxMachines retentionDays aiQuotaMonthly } machineCount aiRequestsThisMonth features { name requiredTier included } } }";

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a date: {v}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn each_plan_carries_the_spec_figures_and_gates_its_features() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;

    let types = server
        .graphql_as(
            &root,
            "{ licenseTypes { code tier maxMachines retentionDays aiQuotaMonthly builtin } }",
            json!({}),
        )
        .await;
    let figures: Vec<(String, i64, i64)> = types["data"]["licenseTypes"]
        .as_array()
        .unwrap_or_else(|| panic!("{types}"))
        .iter()
        .map(|t| {
            (
                t["code"].as_str().unwrap().to_owned(),
                t["retentionDays"].as_i64().unwrap(),
                t["aiQuotaMonthly"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("trial", 7, 50),
        ("starter", 30, 150),
        ("essentials", 30, 300),
        ("pro", 90, 1500),
        ("business", 90, 5000),
        ("enterprise", 365, 15000),
    ];
    assert_eq!(
        figures,
        expected.map(|(c, r, q)| (c.to_owned(), r, q)).to_vec(),
        "built-in types, lowest tier first"
    );

    // The acceptance contract: the licence type as an enum-like literal.
    let created = server
        .graphql_as(
            &root,
            "mutation { createClient(input: {name: \"Triale\", adminEmail: \"admin@triale.test\", licenseType: TRIAL}) { client { id licenseType licenseStatus licenseExpiresAt maxMachines } } }",
            json!({}),
        )
        .await;
    let client = &created["data"]["createClient"]["client"];
    assert_eq!(client["licenseType"], "trial", "{created}");
    assert_eq!(client["licenseStatus"], "ACTIVE");
    assert_eq!(client["maxMachines"], 10);
    let trial_ends = at(&client["licenseExpiresAt"]);
    assert!(
        (trial_ends - (Utc::now() + Duration::days(30)))
            .num_minutes()
            .abs()
            < 5,
        "a 30-day trial"
    );

    let (_, _, trial) = tenant_on(&server, &root, "Trialist", "TRIAL").await;
    let refused = server
        .graphql_as(&trial, CREATE_SITE, json!({ "i": { "name": "Lyon" } }))
        .await;
    assert_eq!(error_code(&refused), "PREMIUM_REQUIRED", "{refused}");
    assert_eq!(refused["errors"][0]["extensions"]["requiredTier"], "BUSINESS");
    assert!(refused["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("Business"));
    let rule = server
        .graphql_as(
            &trial,
            "mutation { createAlertRule(input: {name: \"cpu\", metric: CPU, operator: GT, threshold: 90, severity: WARNING}) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&rule), "PREMIUM_REQUIRED", "{rule}");
    assert_eq!(rule["errors"][0]["extensions"]["requiredTier"], "ESSENTIALS");

    let mine = server.graphql_as(&trial, MY_LICENSE, json!({})).await;
    let l = &mine["data"]["myLicense"];
    assert_eq!(l["license"]["tier"], "TRIAL", "{mine}");
    assert_eq!(l["license"]["retentionDays"], 7);
    assert_eq!(l["license"]["aiQuotaMonthly"], 50);
    assert_eq!(l["license"]["daysLeft"], 29, "30 days less the moments elapsed");
    assert_eq!(l["aiRequestsThisMonth"], 0);
    let sites = l["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Sites")
        .unwrap();
    assert_eq!(
        (&sites["requiredTier"], &sites["included"]),
        (&json!("BUSINESS"), &json!(false))
    );

    let (_, _, business) = tenant_on(&server, &root, "Bizco", "business").await;
    let site = server
        .graphql_as(&business, CREATE_SITE, json!({ "i": { "name": "Lyon" } }))
        .await;
    assert_eq!(site["data"]["createSite"]["timezone"], "Europe/Paris", "{site}");

    let unknown = server
        .graphql_as(
            &root,
            "mutation { createClient(input: {name: \"X\", adminEmail: \"admin@x.test\", licenseType: PLATINUM}) { client { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&unknown), "BAD_USER_INPUT", "{unknown}");
    assert_eq!(unknown["errors"][0]["extensions"]["field"], "licenseType");
}

#[tokio::test]
async fn a_suspended_or_expired_tenant_reads_but_does_not_write_and_its_agents_keep_reporting() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Paused", 1).await;
    let client_id = server.graphql_as(&admin, "{ me { clientId } }", json!({})).await["data"]["me"]
        ["clientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = install_token(&server, &admin, json!({})).await;
    let create_group = "mutation($n: String!) { createGroup(name: $n) { id } }";

    let suspended = server
        .graphql_as(
            &root,
            UPDATE_CLIENT,
            json!({ "id": client_id, "i": { "licenseStatus": "SUSPENDED" } }),
        )
        .await;
    assert_eq!(
        suspended["data"]["updateClient"]["licenseStatus"], "SUSPENDED",
        "{suspended}"
    );

    let refused = server
        .graphql_as(&admin, create_group, json!({ "n": "g1" }))
        .await;
    assert_eq!(error_code(&refused), "LICENSE_INACTIVE", "{refused}");
    assert!(refused["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("suspended"));
    assert_eq!(refused["errors"][0]["path"][0], "createGroup");
    // Reads, the licence's own view, and signing in and out still work.
    let machines = server
        .graphql_as(
            &admin,
            "{ machines(first: 10) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        machines["data"]["machines"]["edges"].as_array().map(Vec::len),
        Some(1),
        "{machines}"
    );
    let mine = server.graphql_as(&admin, MY_LICENSE, json!({})).await;
    assert_eq!(
        mine["data"]["myLicense"]["license"]["status"], "SUSPENDED",
        "{mine}"
    );
    let again = server.login("admin@paused.test", TENANT_PASSWORD).await;
    let logout = server.graphql_as(&again, "mutation { logout }", json!({})).await;
    assert_eq!(logout["data"]["logout"], true, "{logout}");
    // Agents keep reporting; a new machine is not taken on.
    let beat = agents[0].post_heartbeat(&heartbeat_body("paused-0")).await;
    assert_eq!(beat.status(), 200);
    let newcomer = TestAgent::bootstrap(&server, &enrolment_body(&token, "paused-new", "HW-PN")).await;
    assert_eq!(newcomer.status(), 403);
    // Extending does not lift a suspension: that is a decision, not a date.
    let extended = server
        .graphql_as(
            &root,
            "mutation($c: ID!) { extendLicense(clientId: $c, months: 1) { licenseStatus licenseExpiresAt } }",
            json!({ "c": client_id }),
        )
        .await;
    assert_eq!(
        extended["data"]["extendLicense"]["licenseStatus"], "SUSPENDED",
        "{extended}"
    );

    let active = server
        .graphql_as(
            &root,
            UPDATE_CLIENT,
            json!({ "id": client_id, "i": { "licenseStatus": "ACTIVE" } }),
        )
        .await;
    assert_eq!(
        active["data"]["updateClient"]["licenseStatus"], "ACTIVE",
        "{active}"
    );
    let created = server
        .graphql_as(&admin, create_group, json!({ "n": "g2" }))
        .await;
    assert!(created["data"]["createGroup"]["id"].is_string(), "{created}");

    // An expiry in the past reads EXPIRED at once, before any job runs.
    let past = Utc::now() - Duration::hours(1);
    let expired = server
        .graphql_as(
            &root,
            UPDATE_CLIENT,
            json!({ "id": client_id, "i": { "licenseExpiresAt": past } }),
        )
        .await;
    assert_eq!(
        expired["data"]["updateClient"]["licenseStatus"], "EXPIRED",
        "{expired}"
    );
    let refused = server
        .graphql_as(&admin, create_group, json!({ "n": "g3" }))
        .await;
    assert_eq!(error_code(&refused), "LICENSE_INACTIVE", "{refused}");
    assert!(refused["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("expired"));

    // The acceptance contract: extendLicense(months: 1) from a lapsed
    // licence restarts from today and tells the tenant's admins.
    let extended = server
        .graphql_as(
            &root,
            "mutation($c: ID!) { extendLicense(clientId: $c, months: 1) { licenseExpiresAt licenseStatus } }",
            json!({ "c": client_id }),
        )
        .await;
    let until = at(&extended["data"]["extendLicense"]["licenseExpiresAt"]);
    assert_eq!(extended["data"]["extendLicense"]["licenseStatus"], "ACTIVE");
    let month_out = Utc::now().checked_add_months(chrono::Months::new(1)).unwrap();
    assert!(
        (until - month_out).num_minutes().abs() < 5,
        "{until} vs {month_out}"
    );
    let mail = latest_email_to(&server, "admin@paused.test").await;
    assert!(
        mail.contains(&until.format("%d/%m/%Y").to_string()),
        "the new expiry, French dates: {mail}"
    );
    let created = server
        .graphql_as(&admin, create_group, json!({ "n": "g4" }))
        .await;
    assert!(created["data"]["createGroup"]["id"].is_string(), "{created}");

    // Only the super_admin extends; both ways at once is refused.
    let by_admin = server
        .graphql_as(
            &admin,
            "mutation($c: ID!) { extendLicense(clientId: $c, months: 1) { id } }",
            json!({ "c": client_id }),
        )
        .await;
    assert_eq!(error_code(&by_admin), "FORBIDDEN");
    let both = server
        .graphql_as(
            &root,
            "mutation($c: ID!, $u: DateTime) { extendLicense(clientId: $c, months: 1, until: $u) { id } }",
            json!({ "c": client_id, "u": Utc::now() + Duration::days(400) }),
        )
        .await;
    assert_eq!(error_code(&both), "BAD_USER_INPUT", "{both}");
    let logged = server
        .graphql_as(
            &root,
            "{ activityLogs(first: 50) { edges { node { message } } } }",
            json!({}),
        )
        .await;
    assert!(logged.to_string().contains("Licence prolongée"), "{logged}");
}

#[tokio::test]
async fn the_super_admin_defines_licence_types_and_tenants_follow_them() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let create = "mutation($c: LicenseTypeCode!, $i: LicenseTypeInput!) { createLicenseType(code: $c, input: $i) { id code tier maxMachines builtin } }";
    let gold = json!({ "name": "MSP Gold", "tier": "BUSINESS", "maxMachines": 2, "retentionDays": 60, "aiQuotaMonthly": 900 });
    let made = server
        .graphql_as(&root, create, json!({ "c": "MSP_GOLD", "i": gold }))
        .await;
    let gold_id = made["data"]["createLicenseType"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{made}"))
        .to_owned();
    assert_eq!(made["data"]["createLicenseType"]["code"], "msp_gold");
    let twice = server
        .graphql_as(&root, create, json!({ "c": "msp_gold", "i": gold }))
        .await;
    assert_eq!(error_code(&twice), "CONFLICT");
    let mut bad = gold.clone();
    bad["retentionDays"] = json!(0);
    let invalid = server
        .graphql_as(&root, create, json!({ "c": "other", "i": bad }))
        .await;
    assert_eq!(
        invalid["errors"][0]["extensions"]["field"], "retentionDays",
        "{invalid}"
    );

    let (client_id, _, admin) = tenant_on(&server, &root, "Goldco", "MSP_GOLD").await;
    let forbidden = server
        .graphql_as(&admin, create, json!({ "c": "mine", "i": gold }))
        .await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");
    // The type's tier opens sites; its limit holds enrolment at two.
    let site = server
        .graphql_as(&admin, CREATE_SITE, json!({ "i": { "name": "HQ" } }))
        .await;
    assert!(site["data"]["createSite"]["id"].is_string(), "{site}");
    let token = install_token(&server, &admin, json!({})).await;
    let statuses = [
        TestAgent::bootstrap(&server, &enrolment_body(&token, "g-0", "HW-G0"))
            .await
            .status(),
        TestAgent::bootstrap(&server, &enrolment_body(&token, "g-1", "HW-G1"))
            .await
            .status(),
        TestAgent::bootstrap(&server, &enrolment_body(&token, "g-2", "HW-G2"))
            .await
            .status(),
    ];
    assert_eq!(statuses.map(|s| s.as_u16()), [200, 200, 403]);

    // A type in use, or built in, stays.
    let delete = "mutation($id: ID!) { deleteLicenseType(id: $id) }";
    let in_use = server.graphql_as(&root, delete, json!({ "id": gold_id })).await;
    assert_eq!(error_code(&in_use), "CONFLICT", "{in_use}");
    let types = server
        .graphql_as(&root, "{ licenseTypes { id code } }", json!({}))
        .await;
    let pro_id = types["data"]["licenseTypes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["code"] == "pro")
        .unwrap()["id"]
        .clone();
    let builtin = server.graphql_as(&root, delete, json!({ "id": pro_id })).await;
    assert_eq!(error_code(&builtin), "CONFLICT");

    // Raising the type's limit lets the tenant grow at once.
    let update =
        "mutation($id: ID!, $i: LicenseTypeInput!) { updateLicenseType(id: $id, input: $i) { maxMachines } }";
    let mut bigger = gold.clone();
    bigger["maxMachines"] = json!(3);
    let raised = server
        .graphql_as(&root, update, json!({ "id": gold_id, "i": bigger }))
        .await;
    assert_eq!(raised["data"]["updateLicenseType"]["maxMachines"], 3, "{raised}");
    let third = TestAgent::bootstrap(&server, &enrolment_body(&token, "g-2", "HW-G2")).await;
    assert_eq!(third.status(), 200);

    let moved = server
        .graphql_as(
            &root,
            UPDATE_CLIENT,
            json!({ "id": client_id, "i": { "licenseType": "PRO" } }),
        )
        .await;
    assert_eq!(moved["data"]["updateClient"]["maxMachines"], 1000, "{moved}");
    let site = server
        .graphql_as(&admin, CREATE_SITE, json!({ "i": { "name": "Annex" } }))
        .await;
    assert_eq!(error_code(&site), "PREMIUM_REQUIRED", "Pro has no sites: {site}");
    let gone = server.graphql_as(&root, delete, json!({ "id": gold_id })).await;
    assert_eq!(gone["data"]["deleteLicenseType"], true, "{gone}");
}

#[tokio::test]
async fn deleting_a_client_takes_all_its_data_and_its_agents_are_refused() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Leaving", 2).await;
    let (_, kept) = fleet(&server, &root, "Staying", 1).await;
    for a in &agents {
        assert_eq!(a.post_heartbeat(&heartbeat_body(&a.hostname)).await.status(), 200);
    }
    let clients = server
        .graphql_as(&root, "{ clients { id name licenseId } }", json!({}))
        .await;
    let find = |name: &str| {
        clients["data"]["clients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    let leaving = find("Leaving");
    let platform = find("Optralis");
    let id = leaving["id"].as_str().unwrap().to_owned();

    let regenerated = server
        .graphql_as(
            &root,
            "mutation($c: ID!) { regenerateLicenseId(clientId: $c) { licenseId } }",
            json!({ "c": id }),
        )
        .await;
    let new_licence = &regenerated["data"]["regenerateLicenseId"]["licenseId"];
    assert!(
        new_licence.is_string() && *new_licence != leaving["licenseId"],
        "{regenerated}"
    );
    let one = server
        .graphql_as(
            &root,
            "query($id: ID!) { client(id: $id) { licenseId machineCount } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(one["data"]["client"]["licenseId"], *new_licence);
    assert_eq!(one["data"]["client"]["machineCount"], 2);

    let delete = "mutation($id: ID!) { deleteClient(id: $id) }";
    assert_eq!(
        error_code(&server.graphql_as(&admin, delete, json!({ "id": id })).await),
        "FORBIDDEN"
    );
    let own = server
        .graphql_as(&root, delete, json!({ "id": platform["id"] }))
        .await;
    assert_eq!(error_code(&own), "CONFLICT", "{own}");
    let suspend_own = server
        .graphql_as(
            &root,
            UPDATE_CLIENT,
            json!({ "id": platform["id"], "i": { "licenseStatus": "SUSPENDED" } }),
        )
        .await;
    assert_eq!(error_code(&suspend_own), "CONFLICT", "{suspend_own}");

    let deleted = server.graphql_as(&root, delete, json!({ "id": id })).await;
    assert_eq!(deleted["data"]["deleteClient"], true, "{deleted}");
    let uuid: uuid::Uuid = id.parse().unwrap();
    let db = &server.state.services.infra.db.conn;
    let left = entities::machines::Entity::find()
        .filter(entities::machines::Column::ClientId.eq(uuid))
        .count(db)
        .await
        .unwrap()
        + entities::users::Entity::find()
            .filter(entities::users::Column::ClientId.eq(uuid))
            .count(db)
            .await
            .unwrap()
        + entities::client_certificates::Entity::find()
            .filter(entities::client_certificates::Column::ClientId.eq(uuid))
            .count(db)
            .await
            .unwrap();
    assert_eq!(left, 0);
    let refused = agents[0]
        .post_heartbeat(&heartbeat_body(&agents[0].hostname))
        .await;
    assert!(
        matches!(refused.status().as_u16(), 401 | 403),
        "{}",
        refused.status()
    );
    let me = server.graphql_as(&admin, "{ me { id } }", json!({})).await;
    assert_eq!(error_code(&me), "UNAUTHENTICATED", "{me}");
    assert_eq!(
        kept[0]
            .post_heartbeat(&heartbeat_body(&kept[0].hostname))
            .await
            .status(),
        200
    );
    let missing = server
        .graphql_as(
            &root,
            "query($id: ID!) { client(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&missing), "NOT_FOUND");
}

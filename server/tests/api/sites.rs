//! Sites over GraphQL: a Business tenant's locations, its machines at
//! each, site health and the overview; another tenant sees none of it.

use crate::helpers::*;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

const CREATE: &str = "mutation($i: SiteInput!) { createSite(input: $i) { id name location timezone } }";
const MOVE: &str = "mutation($m: [ID!]!, $s: ID) { setMachinesSite(machineIds: $m, siteId: $s) }";
const HEALTH: &str =
    "query($id: ID!) { siteHealth(id: $id) { machines online offline activeAlerts healthScore } }";
const OVERVIEW: &str = "{ sitesOverview { sites { site { name } health { machines online healthScore activeAlerts } } aggregatedHealthScore unassignedMachines } }";

fn id_of(v: &Value) -> String {
    v["data"]["createSite"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_owned()
}

#[tokio::test]
async fn a_business_tenant_groups_its_machines_by_site_and_sees_their_health() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet_on(&server, &root, "Sitewise", "business", 3).await;
    let (other, other_agents) = fleet_on(&server, &root, "Rival", "business", 1).await;
    for a in &agents {
        assert_eq!(a.post_heartbeat(&heartbeat_body(&a.hostname)).await.status(), 200);
    }

    let lyon = server
        .graphql_as(
            &admin,
            CREATE,
            json!({ "i": { "name": " Lyon ", "location": "Part-Dieu" } }),
        )
        .await;
    assert_eq!(lyon["data"]["createSite"]["name"], "Lyon", "{lyon}");
    assert_eq!(lyon["data"]["createSite"]["timezone"], "Europe/Paris");
    let lyon = id_of(&lyon);
    let nyc = id_of(
        &server
            .graphql_as(
                &admin,
                CREATE,
                json!({ "i": { "name": "NYC", "timezone": "America/New_York" } }),
            )
            .await,
    );
    for (input, field) in [
        (json!({ "name": "x".repeat(101) }), "name"),
        (json!({ "name": "a", "location": "y".repeat(201) }), "location"),
        (json!({ "name": "a", "timezone": "Mars/Olympus" }), "timezone"),
    ] {
        let bad = server.graphql_as(&admin, CREATE, json!({ "i": input })).await;
        assert_eq!(bad["errors"][0]["extensions"]["field"], field, "{bad}");
    }

    // Two machines at Lyon; one of them scores 50.
    let ids: Vec<String> = agents.iter().map(|a| a.machine_id.to_string()).collect();
    let moved = server
        .graphql_as(&admin, MOVE, json!({ "m": [ids[0], ids[1]], "s": lyon }))
        .await;
    assert_eq!(moved["data"]["setMachinesSite"], 2, "{moved}");
    entities::machines::Entity::update_many()
        .col_expr(entities::machines::Column::HealthScore, Expr::value(50))
        .filter(entities::machines::Column::Id.eq(agents[1].machine_id))
        .exec(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    let health = server.graphql_as(&admin, HEALTH, json!({ "id": lyon })).await;
    assert_eq!(
        health["data"]["siteHealth"],
        json!({ "machines": 2, "online": 2, "offline": 0, "activeAlerts": 0, "healthScore": 75.0 }),
        "{health}"
    );
    let empty = server.graphql_as(&admin, HEALTH, json!({ "id": nyc })).await;
    assert_eq!(
        empty["data"]["siteHealth"]["healthScore"], 100.0,
        "a site with no machine: {empty}"
    );

    let overview = server.graphql_as(&admin, OVERVIEW, json!({})).await;
    assert_eq!(
        overview["data"]["sitesOverview"],
        json!({
            "sites": [
                { "site": { "name": "Lyon" }, "health": { "machines": 2, "online": 2, "healthScore": 75.0, "activeAlerts": 0 } },
                { "site": { "name": "NYC" }, "health": { "machines": 0, "online": 0, "healthScore": 100.0, "activeAlerts": 0 } },
            ],
            "aggregatedHealthScore": 75.0,
            "unassignedMachines": 1,
        }),
        "{overview}"
    );

    // Another tenant sees none of it and cannot move machines across.
    let theirs = server
        .graphql_as(
            &other,
            "query($id: ID!) { site(id: $id) { id } }",
            json!({ "id": lyon }),
        )
        .await;
    assert_eq!(error_code(&theirs), "NOT_FOUND");
    let listed = server.graphql_as(&other, "{ sites { id } }", json!({})).await;
    assert_eq!(listed["data"]["sites"], json!([]), "{listed}");
    let across = server
        .graphql_as(
            &admin,
            MOVE,
            json!({ "m": [ids[2], other_agents[0].machine_id.to_string()], "s": nyc }),
        )
        .await;
    assert_eq!(error_code(&across), "NOT_FOUND", "all or nothing: {across}");
    let into_theirs = server
        .graphql_as(
            &other,
            MOVE,
            json!({ "m": [other_agents[0].machine_id.to_string()], "s": lyon }),
        )
        .await;
    assert_eq!(error_code(&into_theirs), "NOT_FOUND");
    let observer_update = server
        .graphql_as(
            &other,
            "mutation($id: ID!) { deleteSite(id: $id) }",
            json!({ "id": lyon }),
        )
        .await;
    assert_eq!(error_code(&observer_update), "NOT_FOUND");

    let renamed = server
        .graphql_as(
            &admin,
            "mutation($id: ID!) { updateSite(id: $id, input: {name: \"Lyon 3\", timezone: \"Europe/Paris\"}) { name location } }",
            json!({ "id": lyon }),
        )
        .await;
    assert_eq!(
        renamed["data"]["updateSite"],
        json!({ "name": "Lyon 3", "location": null }),
        "{renamed}"
    );

    // Deleting a site leaves its machines running at no site.
    let deleted = server
        .graphql_as(
            &admin,
            "mutation($id: ID!) { deleteSite(id: $id) }",
            json!({ "id": lyon }),
        )
        .await;
    assert_eq!(deleted["data"]["deleteSite"], true, "{deleted}");
    let after = server.graphql_as(&admin, OVERVIEW, json!({})).await;
    assert_eq!(after["data"]["sitesOverview"]["unassignedMachines"], 3, "{after}");
    assert_eq!(after["data"]["sitesOverview"]["aggregatedHealthScore"], 100.0);
    assert_eq!(
        agents[0]
            .post_heartbeat(&heartbeat_body(&agents[0].hostname))
            .await
            .status(),
        200
    );
    let logged = server
        .graphql_as(
            &admin,
            "{ activityLogs(first: 50) { edges { node { message } } } }",
            json!({}),
        )
        .await;
    for what in [
        "Site créé : Lyon",
        "Site modifié : Lyon 3",
        "Site supprimé : Lyon 3",
        "Machines affectées au site Lyon",
    ] {
        assert!(logged.to_string().contains(what), "{what}: {logged}");
    }
}

#[tokio::test]
async fn plans_below_business_have_no_sites() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    for licence in ["trial", "starter", "essentials", "pro"] {
        let (_, _, admin) = tenant_on(&server, &root, &format!("Small{licence}"), licence).await;
        for query in [
            "{ sites { id } }",
            "{ sitesOverview { aggregatedHealthScore } }",
            "mutation { createSite(input: {name: \"HQ\"}) { id } }",
        ] {
            let refused = server.graphql_as(&admin, query, json!({})).await;
            assert_eq!(
                error_code(&refused),
                "PREMIUM_REQUIRED",
                "{licence} {query}: {refused}"
            );
            assert_eq!(refused["errors"][0]["extensions"]["requiredTier"], "BUSINESS");
        }
    }
}

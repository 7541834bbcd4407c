//! Query cost: a list field with a page size costs its page times its
//! selection, and a document over the limit is refused at validation,
//! before any resolver runs.

use crate::helpers::{error_code, fleet, TestEnv, TestServer, WITHOUT_WORKERS};
use optralis::graphql::MAX_COMPLEXITY;
use serde_json::{json, Value};

/// One machine's selection: 15 scalars, `labels` (1 + 3), `latestMetrics`
/// (1 + 3), `group` (1 + 1), `disks` (1 + 2) = 28 under `node`.
const NODE: &str = "id hostname os osVersion arch ip agentVersion lastSeen online status healthScore \
                    isOsCompliant updateChannel maintenanceMode createdAt labels { key value color } \
                    latestMetrics { cpuPercent ramPercent collectedAt } group { name } disks { mountPoint usedPercent }";
/// What one item of the page costs: `node` (1 + 28), `edges` (1) and the
/// page's `totalCount` (1).
const PER_ITEM: usize = 31;

fn page(first: usize) -> String {
    format!("{{ machines(first: {first}) {{ totalCount edges {{ node {{ {NODE} }} }} }} }}")
}

fn assert_too_complex(what: &str, body: &Value) {
    assert_eq!(error_code(body), "GRAPHQL_VALIDATION_FAILED", "{what}: {body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("complex"), "{what}: {body}");
    assert!(body["data"].is_null(), "{what}: {body}");
}

#[tokio::test]
async fn a_page_costs_in_proportion_to_first() {
    // No background job: the statement counter moves only for requests.
    let server = TestServer::spawn_env(TestEnv::new().await.set(WITHOUT_WORKERS, "1")).await;
    let root = server.admin_token().await;
    let (admin, _) = fleet(&server, &root, "Cost", 2).await;
    let db = &server.state.services.infra.db;
    // The caller's session state is read once, then cached.
    let warm = server.graphql_as(&admin, "{ me { id } }", json!({})).await;
    assert!(warm["errors"].is_null(), "{warm}");

    let fits = MAX_COMPLEXITY / PER_ITEM;
    assert!(
        (1..100).contains(&fits),
        "the test's selection must not fit a full page"
    );
    for first in [1, fits] {
        let before = db.statements();
        let body = server.graphql_as(&admin, &page(first), json!({})).await;
        assert!(body["errors"].is_null(), "first: {first}: {body}");
        assert_eq!(body["data"]["machines"]["totalCount"], 2);
        assert!(db.statements() > before, "first: {first} ran");
    }
    // One more item, or a full page, of the same selection is refused
    // before anything runs.
    for first in [fits + 1, 100] {
        let before = db.statements();
        let body = server.graphql_as(&admin, &page(first), json!({})).await;
        assert_too_complex(&format!("first: {first}"), &body);
        assert_eq!(db.statements(), before, "first: {first}: no resolver ran");
    }
    // Through variables too: the cost is computed with their values.
    let query =
        format!("query($n: Int) {{ machines(first: $n) {{ totalCount edges {{ node {{ {NODE} }} }} }} }}");
    assert!(server.graphql_as(&admin, &query, json!({ "n": 1 })).await["errors"].is_null());
    assert_too_complex(
        "$n = 100",
        &server.graphql_as(&admin, &query, json!({ "n": 100 })).await,
    );
    // A first past the page bound is the resolver's to refuse, naming it.
    let narrow = server
        .graphql_as(&admin, "{ machines(first: 500) { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&narrow), "BAD_USER_INPUT", "{narrow}");
}

#[tokio::test]
async fn an_over_limit_mutation_document_changes_nothing() {
    let server = TestServer::spawn_env(TestEnv::new().await.set(WITHOUT_WORKERS, "1")).await;
    let root = server.admin_token().await;
    let (admin, _) = fleet(&server, &root, "Untouched", 0).await;
    let warm = server.graphql_as(&admin, "{ groups { name } }", json!({})).await;
    assert_eq!(warm["data"]["groups"], json!([]), "{warm}");
    let db = &server.state.services.infra.db;

    // Each alias costs 4 (the field and its three); enough of them pass the
    // limit, and the first would create a group if anything ran.
    let aliases = MAX_COMPLEXITY / 4 + 1;
    let document: String = (0..aliases)
        .map(|i| format!("g{i}: createGroup(name: \"cost-{i}\") {{ id name description }} "))
        .collect();
    let before = db.statements();
    let body = server
        .graphql_as(&admin, &format!("mutation {{ {document} }}"), json!({}))
        .await;
    assert_too_complex("mutation", &body);
    assert_eq!(db.statements(), before, "no resolver ran");
    let after = server.graphql_as(&admin, "{ groups { name } }", json!({})).await;
    assert_eq!(after["data"]["groups"], json!([]), "{after}");

    // The same mutation alone runs.
    let one = server
        .graphql_as(
            &admin,
            "mutation { createGroup(name: \"cost-0\") { name } }",
            json!({}),
        )
        .await;
    assert_eq!(one["data"]["createGroup"]["name"], "cost-0", "{one}");
}

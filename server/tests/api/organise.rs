//! Labels edited and used as filters, machines by site, and the audit
//! trail of organisation changes; tenant settings.

use crate::helpers::{error_code, fleet, TestServer};
use chrono::Utc;
use sea_orm::{sea_query::Expr, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

const MACHINES: &str = "query($f: MachineFilter) { machines(filter: $f) { edges { node { hostname } } } }";

async fn hostnames(server: &TestServer, token: &str, filter: Value) -> Vec<String> {
    let body = server.graphql_as(token, MACHINES, json!({ "f": filter })).await;
    body["data"]["machines"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["node"]["hostname"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn labels_are_edited_and_filter_machines_by_value_and_site() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Tags", 3).await;
    let (other, _) = fleet(&server, &root, "Peek", 0).await;
    let label = server
        .graphql_as(
            &admin,
            "mutation { createLabel(key: \"env\", color: \"#112233\") { id } }",
            json!({}),
        )
        .await["data"]["createLabel"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let assign =
        "mutation($l: ID!, $m: [ID!]!, $v: String) { assignLabel(labelId: $l, machineIds: $m, value: $v) }";
    for (i, value) in [(0, "prod"), (1, "staging")] {
        let done = server
            .graphql_as(
                &admin,
                assign,
                json!({ "l": label, "m": [agents[i].machine_id.to_string()], "v": value }),
            )
            .await;
        assert_eq!(done["data"]["assignLabel"], true, "{done}");
    }

    let update = "mutation($id: ID!, $i: LabelInput!) { updateLabel(id: $id, input: $i) { id key color } }";
    let renamed = server
        .graphql_as(
            &admin,
            update,
            json!({ "id": label, "i": { "key": "stage", "color": "#AABBCC" } }),
        )
        .await;
    assert_eq!(
        renamed["data"]["updateLabel"],
        json!({ "id": label, "key": "stage", "color": "#aabbcc" }),
        "{renamed}"
    );
    for (input, field) in [
        (json!({ "color": "red" }), "color"),
        (json!({ "key": "" }), "key"),
        (json!({ "key": "k".repeat(51) }), "key"),
    ] {
        let bad = server
            .graphql_as(&admin, update, json!({ "id": label, "i": input }))
            .await;
        assert_eq!(error_code(&bad), "BAD_USER_INPUT", "{bad}");
        assert_eq!(bad["errors"][0]["extensions"]["field"], field, "{bad}");
    }
    let taken = server
        .graphql_as(
            &admin,
            "mutation { createLabel(key: \"owner\") { id } }",
            json!({}),
        )
        .await;
    assert!(taken["data"]["createLabel"]["id"].is_string(), "{taken}");
    let clash = server
        .graphql_as(&admin, update, json!({ "id": label, "i": { "key": "owner" } }))
        .await;
    assert_eq!(error_code(&clash), "CONFLICT", "{clash}");
    let theirs = server
        .graphql_as(&other, update, json!({ "id": label, "i": { "key": "mine" } }))
        .await;
    assert_eq!(error_code(&theirs), "NOT_FOUND", "{theirs}");
    let listed = server
        .graphql_as(&admin, "{ labels { key color } }", json!({}))
        .await;
    assert_eq!(
        listed["data"]["labels"],
        json!([{ "key": "owner", "color": "#3b82f6" }, { "key": "stage", "color": "#aabbcc" }]),
        "the refused changes changed nothing: {listed}"
    );

    let name = |i: usize| agents[i].hostname.clone();
    assert_eq!(
        hostnames(&server, &admin, json!({ "labelId": label })).await,
        [name(0), name(1)]
    );
    assert_eq!(
        hostnames(
            &server,
            &admin,
            json!({ "labelId": label, "labelValue": "staging" })
        )
        .await,
        [name(1)]
    );
    assert!(
        hostnames(&server, &admin, json!({ "labelId": label, "labelValue": "qa" }))
            .await
            .is_empty()
    );
    assert!(
        hostnames(&server, &other, json!({ "labelId": label }))
            .await
            .is_empty(),
        "another tenant sees none"
    );
    let alone = server
        .graphql_as(&admin, MACHINES, json!({ "f": { "labelValue": "prod" } }))
        .await;
    assert_eq!(
        alone["errors"][0]["extensions"]["field"], "filter.labelValue",
        "{alone}"
    );

    // A site, as the sites API will make them: the filter reads the column.
    let db = &server.state.services.infra.db.conn;
    let machine = entities::machines::Entity::find_by_id(agents[2].machine_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let site = Uuid::now_v7();
    entities::sites::Entity::insert(entities::sites::ActiveModel {
        id: Set(site),
        client_id: Set(machine.client_id),
        name: Set("Lyon".into()),
        location: Set(None),
        timezone: Set("Europe/Paris".into()),
        created_at: Set(Utc::now()),
    })
    .exec(db)
    .await
    .unwrap();
    entities::machines::Entity::update_many()
        .col_expr(entities::machines::Column::SiteId, Expr::value(Some(site)))
        .filter(entities::machines::Column::Id.eq(machine.id))
        .exec(db)
        .await
        .unwrap();
    assert_eq!(
        hostnames(&server, &admin, json!({ "siteId": site.to_string() })).await,
        [name(2)]
    );
    assert!(hostnames(&server, &other, json!({ "siteId": site.to_string() }))
        .await
        .is_empty());
}

#[tokio::test]
async fn group_label_setting_and_risk_override_changes_are_in_the_activity_log() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Audit", 1).await;
    let (other, _) = fleet(&server, &root, "Elsewhere", 0).await;
    let machine = agents[0].machine_id.to_string();
    let ops = [
        ("mutation { createGroup(name: \"Servers\") { id } }", json!({})),
        ("mutation { createLabel(key: \"env\") { id } }", json!({})),
    ];
    let mut ids = Vec::new();
    for (q, v) in ops {
        let body = server.graphql_as(&admin, q, v).await;
        let id = body["data"]
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(|v| v["id"].as_str())
            .unwrap_or_else(|| panic!("{body}"))
            .to_owned();
        ids.push(id);
    }
    let (group, label) = (&ids[0], &ids[1]);
    let steps = [
        ("mutation($g: ID, $m: [ID!]!) { setMachinesGroup(machineIds: $m, groupId: $g) }", json!({ "g": group, "m": [machine] })),
        ("mutation($l: ID!, $m: [ID!]!) { assignLabel(labelId: $l, machineIds: $m, value: \"prod\") }", json!({ "l": label, "m": [machine] })),
        ("mutation($m: ID!) { setRiskOverride(machineId: $m, input: { riskKey: \"firewall_disabled\", level: ACCEPTED, reason: \"lab\" }) { id } }", json!({ "m": machine })),
        ("mutation($i: CollectionSettingInput!) { createCollectionSetting(input: $i) { id } }", json!({ "i": { "name": "Slow", "priority": 1, "intervals": [{ "collector": "METRICS", "seconds": 120 }] } })),
        ("mutation($id: ID!) { deleteGroup(id: $id) }", json!({ "id": group })),
    ];
    for (q, v) in steps {
        let body = server.graphql_as(&admin, q, v).await;
        assert!(body["errors"].is_null(), "{q}: {body}");
    }
    let overrides = server
        .graphql_as(
            &admin,
            "query($m: ID!) { riskOverrides(machineId: $m) { id } }",
            json!({ "m": machine }),
        )
        .await;
    let override_id = overrides["data"]["riskOverrides"][0]["id"].clone();
    let cleared = server
        .graphql_as(
            &admin,
            "mutation($id: ID!) { deleteRiskOverride(id: $id) }",
            json!({ "id": override_id }),
        )
        .await;
    assert_eq!(cleared["data"]["deleteRiskOverride"], true, "{cleared}");

    let logs = server
        .graphql_as(
            &admin,
            "{ activityLogs(first: 100, filter: { category: MACHINE }) { edges { node { message userId metadata } } } }",
            json!({}),
        )
        .await;
    let messages: Vec<String> = logs["data"]["activityLogs"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{logs}"))
        .iter()
        .map(|e| {
            assert!(e["node"]["userId"].is_string(), "the acting admin is named: {e}");
            e["node"]["message"].as_str().unwrap().to_owned()
        })
        .collect();
    for expected in [
        "Groupe créé : Servers",
        "Label créé : env",
        "1 machine(s) placée(s) dans un groupe",
        "Label env = prod posé sur 1 machine(s)",
        "Dérogation de risque posée : firewall_disabled",
        "Dérogation de risque levée : firewall_disabled",
        "Paramètre de collecte créé : Slow",
        "Groupe supprimé : Servers",
    ] {
        assert!(
            messages.iter().any(|m| m == expected),
            "{expected:?} missing from {messages:?}"
        );
    }
    let theirs = server
        .graphql_as(
            &other,
            "{ activityLogs(first: 100) { edges { node { message } } } }",
            json!({}),
        )
        .await;
    assert!(
        !theirs.to_string().contains("Servers"),
        "another tenant's admin reads none of it: {theirs}"
    );
}

const SETTINGS: &str = "{ settings { language timezone dailySummaryEnabled dailySummaryHour dailySummaryRecipients defaultChannelIds defaultCooldownMinutes } }";
const UPDATE_SETTINGS: &str = "mutation($i: SettingsInput!) { updateSettings(input: $i) { language timezone dailySummaryEnabled dailySummaryHour dailySummaryRecipients defaultChannelIds defaultCooldownMinutes } }";

#[tokio::test]
async fn settings_start_with_defaults_are_checked_and_stay_in_their_tenant() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, _) = fleet(&server, &root, "Prefs", 0).await;
    let (other, _) = fleet(&server, &root, "Others", 0).await;
    let defaults = json!({ "language": "FR", "timezone": "Europe/Paris", "dailySummaryEnabled": false, "dailySummaryHour": 8, "dailySummaryRecipients": [], "defaultChannelIds": [], "defaultCooldownMinutes": 60 });
    let read = server.graphql_as(&admin, SETTINGS, json!({})).await;
    assert_eq!(read["data"]["settings"], defaults, "{read}");

    let channel = server
        .graphql_as(
            &admin,
            "mutation { createNotificationChannel(input: { name: \"Mail\", type: EMAIL, config: { emails: [\"ops@prefs.test\"] } }) { id } }",
            json!({}),
        )
        .await["data"]["createNotificationChannel"]["id"]
        .clone();
    assert!(channel.is_string(), "channel created");
    let theirs = server
        .graphql_as(
            &other,
            "mutation { createNotificationChannel(input: { name: \"Mail\", type: EMAIL, config: { emails: [\"ops@others.test\"] } }) { id } }",
            json!({}),
        )
        .await["data"]["createNotificationChannel"]["id"]
        .clone();

    for (input, field) in [
        (json!({ "timezone": "Mars/Olympus" }), "timezone"),
        (json!({ "dailySummaryHour": 24 }), "dailySummaryHour"),
        (json!({ "defaultCooldownMinutes": 4 }), "defaultCooldownMinutes"),
        (
            json!({ "dailySummaryRecipients": ["not-an-address"] }),
            "dailySummaryRecipients",
        ),
        (
            json!({ "dailySummaryRecipients": (0..21).map(|i| format!("u{i}@prefs.test")).collect::<Vec<_>>() }),
            "dailySummaryRecipients",
        ),
    ] {
        let mut input = input;
        input["language"] = json!("EN");
        let bad = server
            .graphql_as(&admin, UPDATE_SETTINGS, json!({ "i": input }))
            .await;
        assert_eq!(error_code(&bad), "BAD_USER_INPUT", "{bad}");
        assert_eq!(bad["errors"][0]["extensions"]["field"], field, "{bad}");
    }
    let foreign = server
        .graphql_as(
            &admin,
            UPDATE_SETTINGS,
            json!({ "i": { "defaultChannelIds": [theirs] } }),
        )
        .await;
    assert_eq!(error_code(&foreign), "NOT_FOUND", "{foreign}");
    let unchanged = server.graphql_as(&admin, SETTINGS, json!({})).await;
    assert_eq!(
        unchanged["data"]["settings"], defaults,
        "refusals changed nothing: {unchanged}"
    );

    let updated = server
        .graphql_as(
            &admin,
            UPDATE_SETTINGS,
            json!({ "i": { "language": "EN", "timezone": "America/New_York", "dailySummaryEnabled": true, "dailySummaryHour": 7, "dailySummaryRecipients": ["Boss@Prefs.test", "boss@prefs.test", "ops@prefs.test"], "defaultChannelIds": [channel], "defaultCooldownMinutes": 15 } }),
        )
        .await;
    let expected = json!({ "language": "EN", "timezone": "America/New_York", "dailySummaryEnabled": true, "dailySummaryHour": 7, "dailySummaryRecipients": ["boss@prefs.test", "ops@prefs.test"], "defaultChannelIds": [channel], "defaultCooldownMinutes": 15 });
    assert_eq!(updated["data"]["updateSettings"], expected, "{updated}");
    assert_eq!(
        server.graphql_as(&admin, SETTINGS, json!({})).await["data"]["settings"],
        expected
    );
    // The language is the tenant's, which notifications read.
    let client_id = server.graphql_as(&admin, "{ me { clientId } }", json!({})).await["data"]["me"]
        ["clientId"]
        .as_str()
        .map(|c| c.parse::<Uuid>().unwrap());
    let tenant = entities::clients::Entity::find_by_id(client_id.expect("me.clientId"))
        .one(&server.state.services.infra.db.conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tenant.language, entities::enums::Language::En);
    // New rules start from the defaults; given values win.
    let rule = "mutation($i: AlertRuleInput!) { createAlertRule(input: $i) { cooldownMinutes channelIds } }";
    let plain = server
        .graphql_as(&admin, rule, json!({ "i": { "name": "CPU", "metric": "CPU", "operator": "GT", "threshold": 90, "severity": "WARNING" } }))
        .await;
    assert_eq!(
        plain["data"]["createAlertRule"],
        json!({ "cooldownMinutes": 15, "channelIds": [channel] }),
        "{plain}"
    );
    let own = server
        .graphql_as(&admin, rule, json!({ "i": { "name": "RAM", "metric": "RAM", "operator": "GT", "threshold": 90, "severity": "WARNING", "cooldownMinutes": 30 } }))
        .await;
    assert_eq!(own["data"]["createAlertRule"]["cooldownMinutes"], 30, "{own}");
    // A partial update keeps the rest.
    let partial = server
        .graphql_as(
            &admin,
            UPDATE_SETTINGS,
            json!({ "i": { "dailySummaryEnabled": false } }),
        )
        .await;
    assert_eq!(
        partial["data"]["updateSettings"]["timezone"], "America/New_York",
        "{partial}"
    );
    assert_eq!(partial["data"]["updateSettings"]["dailySummaryEnabled"], false);

    let others = server.graphql_as(&other, SETTINGS, json!({})).await;
    assert_eq!(
        others["data"]["settings"], defaults,
        "another tenant keeps its own: {others}"
    );
    let logs = server
        .graphql_as(
            &admin,
            "{ activityLogs(first: 50, filter: { category: SYSTEM }) { edges { node { message } } } }",
            json!({}),
        )
        .await;
    let changes = logs["data"]["activityLogs"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{logs}"))
        .iter()
        .filter(|e| e["node"]["message"] == "Paramètres du client modifiés")
        .count();
    assert_eq!(changes, 2, "{logs}");
}

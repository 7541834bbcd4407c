//! What agents fetch besides heartbeats: update offers, collection
//! intervals, commands, and the tenant's machine limit.

use crate::helpers::{
    enrolment_body, error_code, heartbeat_body, install_token, tenant_with_admin, TestAgent, TestServer,
};
use serde_json::{json, Value};

const CREATE_VERSION: &str = "mutation($i: CreateAgentVersionInput!) { createAgentVersion(input: $i) { id version channel isActive } }";
const SUM: &str = "a8ea22f3a8ea22f3a8ea22f3a8ea22f3a8ea22f3a8ea22f3a8ea22f3a8ea22f3";

fn version_input(version: &str, channel: &str, active: bool) -> Value {
    json!({ "i": {
        "version": version, "channel": channel, "platform": "LINUX", "architecture": "AMD64",
        "downloadUrl": format!("https://downloads.example.test/{version}/optralis-agent"),
        "checksumSha256": SUM, "fileSizeBytes": 34_895_872, "changelog": "- Fix: things",
        "isActive": active
    }})
}

async fn get_json(client: &reqwest::Client, url: String) -> (u16, Value) {
    let resp = client.get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A heartbeat from an agent running `version`; its answer.
async fn beat(agent: &TestAgent, version: &str) -> Value {
    let mut body = heartbeat_body(&agent.hostname);
    body["agent_version"] = json!(version);
    agent.heartbeat(&body).await
}

#[tokio::test]
async fn published_versions_reach_agents_per_channel() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Versions").await;

    let stable = server
        .graphql_as(&root, CREATE_VERSION, version_input("1.2.0", "STABLE", true))
        .await;
    assert_eq!(stable["data"]["createAgentVersion"]["isActive"], true, "{stable}");
    let beta = server
        .graphql_as(&root, CREATE_VERSION, version_input("1.3.0", "BETA", true))
        .await;
    let beta_id = beta["data"]["createAgentVersion"]["id"].clone();
    for (bad, field) in [
        (json!({ "version": "one" }), "version"),
        (json!({ "checksumSha256": "abc" }), "checksumSha256"),
        (json!({ "downloadUrl": "ftp://x/y" }), "downloadUrl"),
    ] {
        let mut input = version_input("1.2.1", "STABLE", false);
        for (k, v) in bad.as_object().unwrap() {
            input["i"][k] = v.clone();
        }
        let body = server.graphql_as(&root, CREATE_VERSION, input).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{field}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    let dup = server
        .graphql_as(&root, CREATE_VERSION, version_input("1.2.0", "STABLE", false))
        .await;
    assert_eq!(error_code(&dup), "CONFLICT");
    let tenant = server
        .graphql_as(&admin, CREATE_VERSION, version_input("9.9.9", "STABLE", true))
        .await;
    assert_eq!(error_code(&tenant), "FORBIDDEN");

    let token = install_token(&server, &admin, json!({})).await;
    let agent = TestAgent::enrol(&server, &token, "upd-host", "HW-UPD").await;

    let offer = beat(&agent, "1.1.0").await;
    assert_eq!(offer["update"]["version"], "1.2.0", "{offer}");
    assert_eq!(offer["update"]["checksum_sha256"], SUM);
    assert!(beat(&agent, "1.2.0").await["update"].is_null());

    let (status, latest) = get_json(&agent.client, server.gateway_url("/agent/latest-version")).await;
    assert_eq!(
        (status, latest["version"].as_str()),
        (200, Some("1.2.0")),
        "{latest}"
    );
    let public = |q: &str| server.url(&format!("/api/public/latest-version{q}"));
    let (status, latest) = get_json(&server.http, public("?platform=linux")).await;
    assert_eq!((status, latest["version"].as_str()), (200, Some("1.2.0")));
    assert_eq!(latest["file_size_bytes"], 34_895_872);
    let (status, none) = get_json(&server.http, public("")).await;
    assert_eq!(
        (status, none["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "no windows build"
    );
    let (status, bad) = get_json(&server.http, public("?platform=macos")).await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (400, Some("BAD_REQUEST")),
        "{bad}"
    );

    let channel =
        "mutation($m: ID!, $c: UpdateChannel!) { setMachineUpdateChannel(machineId: $m, channel: $c) }";
    let to_beta = json!({ "m": agent.enrolled["machine_id"], "c": "BETA" });
    assert_eq!(
        error_code(&server.graphql_as(&root, channel, to_beta.clone()).await),
        "NOT_FOUND"
    );
    assert_eq!(
        server.graphql_as(&admin, channel, to_beta).await["data"]["setMachineUpdateChannel"],
        true
    );
    assert_eq!(beat(&agent, "1.2.0").await["update"]["version"], "1.3.0");

    let promoted = server
        .graphql_as(
            &root,
            "mutation($id: ID!) { promoteAgentVersion(id: $id) { id version channel isActive } }",
            json!({ "id": beta_id }),
        )
        .await;
    let promoted = &promoted["data"]["promoteAgentVersion"];
    assert_eq!(
        (promoted["channel"].as_str(), promoted["isActive"].as_bool()),
        (Some("stable"), Some(true))
    );
    let (_, latest) = get_json(&server.http, public("?platform=linux&channel=stable")).await;
    assert_eq!(latest["version"], "1.3.0");

    let deleted = server
        .graphql_as(
            &root,
            "mutation($id: ID!) { deleteAgentVersion(id: $id) }",
            json!({ "id": promoted["id"] }),
        )
        .await;
    assert_eq!(deleted["data"]["deleteAgentVersion"], true);
    let (_, latest) = get_json(&server.http, public("?platform=linux")).await;
    assert_eq!(
        latest["version"], "1.2.0",
        "the previous stable build is active again"
    );
    let listed = server
        .graphql_as(
            &root,
            "{ agentVersions(platform: LINUX) { version channel isActive } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["data"]["agentVersions"].as_array().unwrap().len(),
        2,
        "{listed}"
    );
}

const CREATE_SETTING: &str = "mutation($i: CollectionSettingInput!) { createCollectionSetting(input: $i) { id scope intervals { collector seconds } disabledCollectors } }";
const EFFECTIVE: &str = "query($m: ID!) { effectiveIntervals(machineId: $m) { source settingName collectors { collector enabled interval source } } }";

fn interval_of(collectors: &Value, kind: &str) -> (i64, bool) {
    let c = collectors
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == kind || c["collector"] == kind)
        .unwrap_or_else(|| panic!("{kind} in {collectors}"));
    (c["interval"].as_i64().unwrap(), c["enabled"].as_bool().unwrap())
}

#[tokio::test]
async fn collection_intervals_resolve_per_machine_and_reach_the_agent() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Intervals").await;
    let (_, _, other) = tenant_with_admin(&server, &root, "Elsewhere").await;
    let token = install_token(&server, &admin, json!({})).await;
    let one = TestAgent::enrol(&server, &token, "int-one", "HW-I1").await;
    let two = TestAgent::enrol(&server, &token, "int-two", "HW-I2").await;
    let (agent_one, agent_two) = (&one.client, &two.client);
    let collectors_url = server.gateway_url("/agent/config/collectors?hostname=int-one");

    let (status, defaults) = get_json(agent_one, collectors_url.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(defaults["collectors"].as_array().unwrap().len(), 8);
    assert_eq!(interval_of(&defaults["collectors"], "metrics"), (10, true));
    assert_eq!(interval_of(&defaults["collectors"], "patches"), (21600, true));
    assert_eq!(defaults["source"], "default");

    let wide = server
        .graphql_as(
            &admin,
            CREATE_SETTING,
            json!({ "i": { "name": "Everyone", "intervals": [
                { "collector": "METRICS", "seconds": 60 }, { "collector": "NETWORK", "seconds": 20 }
            ] } }),
        )
        .await;
    assert_eq!(
        wide["data"]["createCollectionSetting"]["scope"], "CLIENT",
        "{wide}"
    );
    let pinned = server
        .graphql_as(
            &admin,
            CREATE_SETTING,
            json!({ "i": { "name": "Busy box", "machineId": one.enrolled["machine_id"],
                "intervals": [{ "collector": "METRICS", "seconds": 1 }],
                "disabledCollectors": ["SOFTWARE"] } }),
        )
        .await;
    assert_eq!(
        pinned["data"]["createCollectionSetting"]["scope"], "MACHINE",
        "{pinned}"
    );

    let (_, first) = get_json(agent_one, collectors_url).await;
    assert_eq!(
        interval_of(&first["collectors"], "metrics"),
        (5, true),
        "clamped to the minimum"
    );
    assert_eq!(interval_of(&first["collectors"], "network"), (20, true));
    assert_eq!(interval_of(&first["collectors"], "software"), (14400, false));
    assert_eq!(
        (first["source"].as_str(), first["setting_name"].as_str()),
        (Some("machine_setting"), Some("Busy box"))
    );
    let (_, second) = get_json(agent_two, server.gateway_url("/agent/config/collectors")).await;
    assert_eq!(interval_of(&second["collectors"], "metrics"), (60, true));
    assert_eq!(second["source"], "client_setting");

    let (status, config) = get_json(agent_one, server.gateway_url("/agent/config")).await;
    assert_eq!(status, 200);
    assert_eq!(config["update_channel"], "stable");
    assert_eq!(config["machine_id"], one.enrolled["machine_id"]);
    assert_eq!(interval_of(&config["collectors"], "metrics"), (5, true));

    let effective = server
        .graphql_as(&admin, EFFECTIVE, json!({ "m": one.enrolled["machine_id"] }))
        .await;
    let effective = &effective["data"]["effectiveIntervals"];
    assert_eq!(effective["source"], "MACHINE_SETTING");
    assert_eq!(interval_of(&effective["collectors"], "METRICS"), (5, true));
    assert_eq!(interval_of(&effective["collectors"], "NETWORK"), (20, true));

    // Tenants see and target only their own.
    let foreign = server
        .graphql_as(&other, EFFECTIVE, json!({ "m": one.enrolled["machine_id"] }))
        .await;
    assert_eq!(error_code(&foreign), "NOT_FOUND");
    let foreign = server
        .graphql_as(
            &other,
            CREATE_SETTING,
            json!({ "i": { "name": "Hijack", "machineId": one.enrolled["machine_id"], "intervals": [{ "collector": "METRICS", "seconds": 300 }] } }),
        )
        .await;
    assert_eq!(error_code(&foreign), "NOT_FOUND");
    let listed = server
        .graphql_as(&other, "{ collectionSettings { id } }", json!({}))
        .await;
    assert_eq!(listed["data"]["collectionSettings"], json!([]));
    let listed = server
        .graphql_as(&admin, "{ collectionSettings { name } }", json!({}))
        .await;
    assert_eq!(listed["data"]["collectionSettings"].as_array().unwrap().len(), 2);

    for (bad, field) in [
        (
            json!({ "name": "x", "intervals": [{ "collector": "METRICS", "seconds": 0 }] }),
            "intervals[0].seconds",
        ),
        (
            json!({ "name": "", "intervals": [{ "collector": "METRICS", "seconds": 30 }] }),
            "name",
        ),
        (json!({ "name": "x" }), "intervals"),
        (
            json!({ "name": "x", "machineId": one.enrolled["machine_id"], "groupId": one.enrolled["machine_id"],
            "intervals": [{ "collector": "METRICS", "seconds": 30 }] }),
            "machineId",
        ),
    ] {
        let body = server
            .graphql_as(&admin, CREATE_SETTING, json!({ "i": bad }))
            .await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }

    let pinned_id = &pinned["data"]["createCollectionSetting"]["id"];
    let delete = "mutation($id: ID!) { deleteCollectionSetting(id: $id) }";
    assert_eq!(
        error_code(
            &server
                .graphql_as(&other, delete, json!({ "id": pinned_id }))
                .await
        ),
        "NOT_FOUND"
    );
    assert_eq!(
        server
            .graphql_as(&admin, delete, json!({ "id": pinned_id }))
            .await["data"]["deleteCollectionSetting"],
        true
    );
    let (_, after) = get_json(agent_one, server.gateway_url("/agent/config/collectors")).await;
    assert_eq!(interval_of(&after["collectors"], "metrics"), (60, true));

    // The fetch is recorded on the machine, off the request path.
    let machine_id: uuid::Uuid = one.enrolled["machine_id"].as_str().unwrap().parse().unwrap();
    let mut synced = None;
    for _ in 0..50 {
        synced = <entities::machines::Entity as sea_orm::EntityTrait>::find_by_id(machine_id)
            .one(&server.state.services.infra.db.conn)
            .await
            .unwrap()
            .and_then(|m| m.last_config_sync);
        if synced.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(synced.is_some(), "last_config_sync set");
}

#[tokio::test]
async fn force_collect_is_delivered_once() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Force").await;
    let (_, _, other) = tenant_with_admin(&server, &root, "NotForce").await;
    let token = install_token(&server, &admin, json!({})).await;
    let agent = TestAgent::enrol(&server, &token, "force-host", "HW-F").await;
    assert_eq!(beat(&agent, "2.1.0").await["commands"], json!([]));

    let force = "mutation($m: ID!) { forceCollect(machineId: $m) }";
    let vars = json!({ "m": agent.enrolled["machine_id"] });
    assert_eq!(
        error_code(&server.graphql_as(&other, force, vars.clone()).await),
        "NOT_FOUND"
    );
    assert_eq!(
        server.graphql_as(&admin, force, vars).await["data"]["forceCollect"],
        true
    );
    assert_eq!(beat(&agent, "2.1.0").await["commands"], json!(["force_collect"]));
    assert_eq!(
        beat(&agent, "2.1.0").await["commands"],
        json!([]),
        "delivered once"
    );
}

#[tokio::test]
async fn the_machine_limit_refuses_new_machines_only() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (client_id, _, admin) = tenant_with_admin(&server, &root, "Limited").await;
    let limit = "mutation($c: ID!, $n: Int) { setClientMachineLimit(clientId: $c, maxMachines: $n) { maxMachines machineCount } }";
    assert_eq!(
        error_code(
            &server
                .graphql_as(&admin, limit, json!({ "c": client_id, "n": 3 }))
                .await
        ),
        "FORBIDDEN"
    );
    assert_eq!(
        error_code(
            &server
                .graphql_as(&root, limit, json!({ "c": client_id, "n": -1 }))
                .await
        ),
        "BAD_USER_INPUT"
    );
    let set = server
        .graphql_as(&root, limit, json!({ "c": client_id, "n": 3 }))
        .await;
    assert_eq!(set["data"]["setClientMachineLimit"]["maxMachines"], 3, "{set}");

    // Six machines race for three places.
    let token = install_token(&server, &admin, json!({})).await;
    let attempts = (0..6).map(|i| {
        let (server, token) = (&server, &token);
        async move {
            TestAgent::bootstrap(
                server,
                &enrolment_body(token, &format!("lim-{i}"), &format!("HW-L{i}")),
            )
            .await
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 200, 200, 403, 403, 403]);
    let refused: Value = answers
        .into_iter()
        .find(|r| r.status() == 403)
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(refused["code"], "FORBIDDEN");
    assert!(refused["error"].as_str().unwrap().contains("limit"), "{refused}");

    let tokens = server
        .graphql_as(&admin, "{ installTokens { usageCount } }", json!({}))
        .await;
    assert_eq!(
        tokens["data"]["installTokens"][0]["usageCount"], 3,
        "refusals use nothing"
    );

    let clients = server
        .graphql_as(&root, "{ clients { id machineCount maxMachines } }", json!({}))
        .await;
    let mine = clients["data"]["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == client_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (mine["machineCount"].as_i64(), mine["maxMachines"].as_i64()),
        (Some(3), Some(3))
    );

    // An enrolled machine re-enrols (new certificate) at the limit.
    let enrolled_host = (0..6).map(|i| format!("lim-{i}")).collect::<Vec<_>>();
    let mut again = 0;
    for (i, host) in enrolled_host.iter().enumerate() {
        if TestAgent::bootstrap(&server, &enrolment_body(&token, host, &format!("HW-L{i}")))
            .await
            .status()
            == 200
        {
            again += 1;
        }
    }
    assert_eq!(again, 3, "the three enrolled machines re-enrol");

    // Clearing the override returns to the licence type's limit (Pro).
    let lifted = server
        .graphql_as(&root, limit, json!({ "c": client_id, "n": null }))
        .await;
    assert_eq!(
        lifted["data"]["setClientMachineLimit"]["maxMachines"], 1000,
        "{lifted}"
    );
    assert_eq!(
        TestAgent::bootstrap(&server, &enrolment_body(&token, "lim-new", "HW-LN"))
            .await
            .status(),
        200
    );
}

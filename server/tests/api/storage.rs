//! The schema itself: cascades, SET NULL links and the spec's indexes, on
//! whichever backend the suite runs against.

use crate::helpers::TestServer;
use chrono::Utc;
use entities::{activity_logs, clients, groups, labels, machine_labels, machines, sites, users};
use sea_orm::{
    sea_query::{Expr, Func},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, Statement,
};
use uuid::Uuid;

fn client(name: &str) -> clients::ActiveModel {
    clients::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set(name.into()),
        license_id: Set(Uuid::new_v4()),
        license_type: Set("pro".into()),
        license_status: Set(entities::enums::LicenceStatus::Active),
        license_expires_at: Set(None),
        max_machines: Set(None),
        ai_monthly_limit: Set(None),
        language: Set(entities::enums::Language::Fr),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    }
}

fn machine(client_id: Uuid, hostname: &str) -> machines::ActiveModel {
    let now = Utc::now();
    machines::ActiveModel {
        id: Set(Uuid::new_v4()),
        client_id: Set(client_id),
        group_id: Set(None),
        site_id: Set(None),
        hostname: Set(hostname.into()),
        hardware_id: Set(Some("HW-ABC-123".into())),
        os: Set("windows".into()),
        os_version: Set("Windows 11 Pro 10.0.22631".into()),
        arch: Set(Some("amd64".into())),
        ip: Set("10.0.0.12".into()),
        agent_version: Set("2.1.0".into()),
        last_seen: Set(Some(now)),
        health_score: Set(100),
        is_os_compliant: Set(true),
        cert_serial: Set(None),
        cert_issued_at: Set(None),
        cert_expires_at: Set(None),
        cert_revoked_at: Set(None),
        offline_notified_at: Set(None),
        last_config_sync: Set(None),
        update_channel: Set(entities::enums::UpdateChannel::Stable),
        maintenance_mode: Set(false),
        maintenance_until: Set(None),
        maintenance_reason: Set(None),
        renewal_requested_at: Set(None),
        force_collect_requested_at: Set(None),
        reenrolment_allowed_until: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

#[tokio::test]
async fn tenant_rows_cascade_with_their_client_and_optional_links_are_nulled() {
    let server = TestServer::spawn().await;
    let db = &server.state.services.infra.db.conn;
    let now = Utc::now();

    let tenant = clients::Entity::insert(client("Acme"))
        .exec_with_returning(db)
        .await
        .unwrap();
    let other = clients::Entity::insert(client("Other"))
        .exec_with_returning(db)
        .await
        .unwrap();

    let group = groups::Entity::insert(groups::ActiveModel {
        id: Set(Uuid::new_v4()),
        client_id: Set(tenant.id),
        name: Set("Servers".into()),
        description: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(db)
    .await
    .unwrap();
    let site = sites::Entity::insert(sites::ActiveModel {
        id: Set(Uuid::new_v4()),
        client_id: Set(tenant.id),
        name: Set("Paris".into()),
        location: Set(None),
        timezone: Set("Europe/Paris".into()),
        created_at: Set(now),
    })
    .exec_with_returning(db)
    .await
    .unwrap();
    let mut m = machine(tenant.id, "SRV-Web-01");
    m.group_id = Set(Some(group.id));
    m.site_id = Set(Some(site.id));
    let m = machines::Entity::insert(m).exec_with_returning(db).await.unwrap();
    machines::Entity::insert(machine(other.id, "other-host"))
        .exec(db)
        .await
        .unwrap();

    let label = labels::Entity::insert(labels::ActiveModel {
        id: Set(Uuid::new_v4()),
        client_id: Set(tenant.id),
        key: Set("env".into()),
        color: Set("#3b82f6".into()),
        created_at: Set(now),
    })
    .exec_with_returning(db)
    .await
    .unwrap();
    machine_labels::Entity::insert(machine_labels::ActiveModel {
        machine_id: Set(m.id),
        label_id: Set(label.id),
        value: Set("prod".into()),
        assigned_at: Set(now),
    })
    .exec(db)
    .await
    .unwrap();
    let user = users::Entity::insert(users::ActiveModel {
        id: Set(Uuid::new_v4()),
        client_id: Set(tenant.id),
        email: Set("admin@acme.test".into()),
        password_hash: Set("$argon2id$placeholder".into()),
        first_name: Set("Ada".into()),
        last_name: Set("Admin".into()),
        role: Set(entities::enums::Role::Admin),
        must_change_password: Set(false),
        password_changed_at: Set(now),
        totp_enabled: Set(false),
        totp_secret: Set(None),
        totp_pending_secret: Set(None),
        totp_verified_at: Set(None),
        last_login_at: Set(None),
        session_version: Set(0),
        session_carried_jti: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_with_returning(db)
    .await
    .unwrap();
    activity_logs::Entity::insert(activity_logs::ActiveModel {
        id: Set(Uuid::new_v4()),
        timestamp: Set(now),
        level: Set("info".into()),
        category: Set("auth".into()),
        message: Set("Connexion réussie".into()),
        metadata: Set(Some(serde_json::json!({ "method": "password" }))),
        client_id: Set(Some(tenant.id)),
        user_id: Set(Some(user.id)),
        ip_address: Set(Some("192.0.2.1".into())),
        user_agent: Set(Some("test".into())),
    })
    .exec(db)
    .await
    .unwrap();

    // Case-insensitive hostname lookup, as the agent and dashboards do it.
    let found = machines::Entity::find()
        .filter(machines::Column::ClientId.eq(tenant.id))
        .filter(Expr::expr(Func::lower(Expr::col(machines::Column::Hostname))).eq("srv-web-01"))
        .one(db)
        .await
        .unwrap();
    assert_eq!(found.map(|f| f.id), Some(m.id));

    // Deleting a group or site keeps its machines.
    groups::Entity::delete_by_id(group.id).exec(db).await.unwrap();
    sites::Entity::delete_by_id(site.id).exec(db).await.unwrap();
    let kept = machines::Entity::find_by_id(m.id).one(db).await.unwrap().unwrap();
    assert_eq!((kept.group_id, kept.site_id), (None, None));

    // Deleting a user keeps the audit trail, anonymised.
    users::Entity::delete_by_id(user.id).exec(db).await.unwrap();
    let log = activity_logs::Entity::find().one(db).await.unwrap().unwrap();
    assert_eq!(log.user_id, None);
    assert_eq!(log.client_id, Some(tenant.id));

    // Deleting the tenant removes everything it owns, and nothing else.
    clients::Entity::delete_by_id(tenant.id).exec(db).await.unwrap();
    assert_eq!(machines::Entity::find().count(db).await.unwrap(), 1);
    assert_eq!(labels::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(machine_labels::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(activity_logs::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(
        machines::Entity::find().one(db).await.unwrap().unwrap().client_id,
        other.id
    );
}

#[tokio::test]
async fn spec_indexes_exist_and_migrations_are_idempotent() {
    let server = TestServer::spawn().await;
    let database = &server.state.services.infra.db;
    database.migrate().await.expect("second run is a no-op");
    let db = &database.conn;
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => "SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public'",
        _ => "SELECT name FROM sqlite_master WHERE type = 'index'",
    };
    let rows = db
        .query_all(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
    let names: Vec<String> = rows.iter().map(|r| r.try_get("", "name").unwrap()).collect();
    for expected in [
        "idx_machines_hostname_lower",
        "idx_machines_client_id",
        "idx_machines_client_hardware_lower",
        "idx_users_client_id",
        "idx_users_totp_enabled",
        "idx_labels_client_key",
        "idx_groups_client_name",
        "idx_activity_logs_client_ts",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "missing index {expected}: {names:?}"
        );
    }

    // Uniqueness the spec implies: one label key and one group name per tenant.
    let tenant = clients::Entity::insert(client("Acme"))
        .exec_with_returning(db)
        .await
        .unwrap();
    let label = || labels::ActiveModel {
        id: Set(Uuid::new_v4()),
        client_id: Set(tenant.id),
        key: Set("env".into()),
        color: Set("#3b82f6".into()),
        created_at: Set(Utc::now()),
    };
    labels::Entity::insert(label()).exec(db).await.unwrap();
    assert!(labels::Entity::insert(label()).exec(db).await.is_err());
}

#[tokio::test]
async fn cleanup_purges_expired_security_rows_and_old_activity() {
    use entities::token_blacklist;
    let server = TestServer::spawn().await;
    let db = &server.state.services.infra.db;
    let now = Utc::now();
    for (jti, expires) in [
        (Uuid::new_v4(), now - chrono::Duration::minutes(1)),
        (Uuid::new_v4(), now + chrono::Duration::minutes(10)),
    ] {
        token_blacklist::Entity::insert(token_blacklist::ActiveModel {
            jti: Set(jti),
            user_id: Set(None),
            reason: Set("logout".into()),
            expires_at: Set(expires),
            created_at: Set(now),
        })
        .exec(&db.conn)
        .await
        .unwrap();
    }
    for age in [31, 1] {
        activity_logs::Entity::insert(activity_logs::ActiveModel {
            id: Set(Uuid::new_v4()),
            timestamp: Set(now - chrono::Duration::days(age)),
            level: Set("info".into()),
            category: Set("system".into()),
            message: Set(format!("{age} days old")),
            metadata: Set(None),
            client_id: Set(None),
            user_id: Set(None),
            ip_address: Set(None),
            user_agent: Set(None),
        })
        .exec(&db.conn)
        .await
        .unwrap();
    }
    optralis::jobs::cleanup::purge(db, server.timescaledb())
        .await
        .unwrap();
    if server.timescaledb() {
        // There the hypertable's own retention policy drops old chunks.
        server
            .run_timescale_job("policy_retention", "activity_logs")
            .await;
    }
    assert_eq!(token_blacklist::Entity::find().count(&db.conn).await.unwrap(), 1);
    let left: Vec<String> = activity_logs::Entity::find()
        .filter(activity_logs::Column::Category.eq("system"))
        .all(&db.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.message)
        .collect();
    assert_eq!(left, vec!["1 days old".to_string()]);
}

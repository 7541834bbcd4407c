//! Rows the domain's unit tests start from, on in-memory SQLite.

use crate::infra::db::Database;
use chrono::{DateTime, Utc};
use entities::{clients, enums, machines};
use sea_orm::{ActiveValue::Set, EntityTrait};
use uuid::Uuid;

/// A Pro tenant with one Linux machine last seen at `seen`.
pub async fn tenant_with_machine(db: &Database, seen: DateTime<Utc>) -> (clients::Model, machines::Model) {
    let client = clients::Entity::insert(clients::ActiveModel {
        id: Set(Uuid::new_v4()),
        name: Set("Acme".into()),
        license_id: Set(Uuid::new_v4()),
        license_type: Set("pro".into()),
        license_status: Set(enums::LicenceStatus::Active),
        license_expires_at: Set(None),
        max_machines: Set(None),
        ai_monthly_limit: Set(None),
        language: Set(entities::enums::Language::Fr),
        created_at: Set(seen),
        updated_at: Set(seen),
    })
    .exec_with_returning(&db.conn)
    .await
    .expect("tenant");
    let machine = machines::Entity::insert(machines::ActiveModel {
        id: Set(Uuid::new_v4()),
        client_id: Set(client.id),
        hostname: Set("srv-01".into()),
        hardware_id: Set(Some("HW-1".into())),
        os: Set("linux".into()),
        os_version: Set("Debian 12".into()),
        arch: Set(Some("amd64".into())),
        ip: Set("10.0.0.1".into()),
        agent_version: Set("2.1.0".into()),
        last_seen: Set(Some(seen)),
        health_score: Set(100),
        is_os_compliant: Set(true),
        update_channel: Set(enums::UpdateChannel::Stable),
        maintenance_mode: Set(false),
        created_at: Set(seen),
        updated_at: Set(seen),
        ..Default::default()
    })
    .exec_with_returning(&db.conn)
    .await
    .expect("machine");
    (client, machine)
}

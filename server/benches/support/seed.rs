//! A platform seeded straight into the database, in batches: tenants
//! under four licence states, and machines with their certificates.

use chrono::{Duration as Days, Utc};
use entities::{client_certificates, clients, enums, machines};
use sea_orm::{ActiveValue::Set, EntityTrait};
use uuid::Uuid;

pub fn tenant(i: usize) -> clients::ActiveModel {
    let now = Utc::now();
    clients::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(format!("Tenant {i:03}")),
        license_id: Set(Uuid::new_v4()),
        license_type: Set("business".into()),
        license_status: Set([
            enums::LicenceStatus::Active,
            enums::LicenceStatus::Active,
            enums::LicenceStatus::Expired,
            enums::LicenceStatus::Suspended,
        ][i % 4]),
        license_expires_at: Set(None),
        max_machines: Set(None),
        ai_monthly_limit: Set(None),
        language: Set(enums::Language::Fr),
        created_at: Set(now - Days::days((i % 365) as i64)),
        updated_at: Set(now),
    }
}

/// Machine `i` of a tenant, with its certificate: a third heard from just
/// now, one in ten in maintenance, one certificate in twenty revoked.
pub fn machine(
    client_id: Uuid,
    site_id: Option<Uuid>,
    i: usize,
) -> (machines::ActiveModel, client_certificates::ActiveModel) {
    let now = Utc::now();
    let id = Uuid::now_v7();
    let serial = format!("{:032x}", id.as_u128());
    let expires = now + Days::days(5 + (i % 400) as i64);
    let m = machines::ActiveModel {
        id: Set(id),
        client_id: Set(client_id),
        group_id: Set(None),
        site_id: Set(site_id),
        hostname: Set(format!("host-{i:05}")),
        hardware_id: Set(Some(format!("HW-{id}"))),
        os: Set(if i.is_multiple_of(2) { "linux" } else { "windows" }.into()),
        os_version: Set("12".into()),
        arch: Set(Some("amd64".into())),
        ip: Set("10.0.0.1".into()),
        agent_version: Set("2.1.0".into()),
        last_seen: Set(i.is_multiple_of(3).then_some(now)),
        health_score: Set(90),
        is_os_compliant: Set(true),
        cert_serial: Set(Some(serial.clone())),
        cert_issued_at: Set(Some(now)),
        cert_expires_at: Set(Some(expires)),
        cert_revoked_at: Set(None),
        offline_notified_at: Set(None),
        last_config_sync: Set(None),
        update_channel: Set(enums::UpdateChannel::Stable),
        maintenance_mode: Set(i.is_multiple_of(10)),
        maintenance_until: Set(None),
        maintenance_reason: Set(None),
        renewal_requested_at: Set(None),
        force_collect_requested_at: Set(None),
        reenrolment_allowed_until: Set(None),
        created_at: Set(now - Days::days((i % 365) as i64)),
        updated_at: Set(now),
    };
    let c = client_certificates::ActiveModel {
        id: Set(Uuid::now_v7()),
        client_id: Set(client_id),
        machine_id: Set(id),
        serial: Set(serial),
        issued_at: Set(now),
        expires_at: Set(expires),
        revoked_at: Set(i.is_multiple_of(20).then_some(now)),
        revocation_reason: Set(None),
        created_by: Set(None),
        created_at: Set(now),
    };
    (m, c)
}

/// Adds machines `from..to` spread over the tenants and their sites (nine
/// in ten at a site, when the tenant has any), in batches.
pub async fn seed_machines(
    conn: &sea_orm::DatabaseConnection,
    tenants: &[(Uuid, Vec<Uuid>)],
    from: usize,
    to: usize,
) {
    let rows: Vec<_> = (from..to)
        .map(|i| {
            let (tenant, sites) = &tenants[i % tenants.len()];
            let site = (!i.is_multiple_of(10) && !sites.is_empty())
                .then(|| sites[(i / tenants.len()) % sites.len()]);
            machine(*tenant, site, i)
        })
        .collect();
    for chunk in rows.chunks(500) {
        let (ms, cs): (Vec<_>, Vec<_>) = chunk.iter().cloned().unzip();
        machines::Entity::insert_many(ms).exec(conn).await.unwrap();
        client_certificates::Entity::insert_many(cs)
            .exec(conn)
            .await
            .unwrap();
    }
}

//! Enrolment: a machine joins with an install token and gets its client
//! certificate. Re-enrolment keeps the machine when the hardware id
//! matches, or by host name only when the machine's own agent can no
//! longer speak for it; a new machine counts against the licence's limit.

use super::{keys::RevokedAs, optional_short, requirements::is_compliant, short, valid_hostname, Agents};
use crate::domain::{
    activity::{Category, Entry, Level, RequestMeta},
    auth::Principal,
    live,
    pki::ca::Issued,
    DomainError,
};
use chrono::{DateTime, Utc};
use entities::{client_certificates, clients, machines};
use sea_orm::{
    sea_query::{Expr, Func},
    ActiveValue::Set,
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct EnrolRequest {
    pub token: String,
    pub hostname: String,
    pub hardware_id: Option<String>,
    pub os: String,
    pub os_version: String,
    pub arch: Option<String>,
}

pub struct Enrolled {
    pub issued: Issued,
    pub ca_pem: String,
    pub machine_id: Uuid,
    pub client_id: Uuid,
}

/// How long an administrator's release lets an enrolment by host name take
/// a machine over.
pub const REENROLMENT_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// The machine an enrolment that matched no hardware id may take over by
/// host name, if any. A host name proves nothing (any holder of one of the
/// tenant's install tokens can send any name), so a machine is only handed
/// over when its own agent can no longer speak for it: no hardware id on
/// record and no certificate still valid, or an administrator released it
/// for re-enrolment (the release is consumed here, so it serves once).
///
/// (client_id, hostname) is not unique in the schema (and heartbeats may
/// rename a machine at any time), so an enrolment that may not adopt
/// creates a machine of its own under the same name rather than being
/// refused: the impostor gets a separate, visible machine and never the
/// real one's id, data or certificate.
async fn adoptable_by_hostname(
    txn: &sea_orm::DatabaseTransaction,
    client_id: Uuid,
    hostname: &str,
    now: DateTime<Utc>,
) -> Result<Option<(machines::Model, &'static str)>, DomainError> {
    let candidates = machines::Entity::find()
        .filter(machines::Column::ClientId.eq(client_id))
        .filter(Expr::expr(Func::lower(Expr::col(machines::Column::Hostname))).eq(hostname.to_lowercase()))
        .order_by_asc(machines::Column::CreatedAt)
        .all(txn)
        .await?;
    for m in &candidates {
        if m.reenrolment_allowed_until.is_some_and(|until| until > now) {
            // Conditional, so two enrolments racing for one release cannot
            // both take the machine.
            let taken = machines::Entity::update_many()
                .col_expr(
                    machines::Column::ReenrolmentAllowedUntil,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(machines::Column::Id.eq(m.id))
                .filter(machines::Column::ReenrolmentAllowedUntil.gt(now))
                .exec(txn)
                .await?
                .rows_affected
                == 1;
            if taken {
                return Ok(Some((m.clone(), "release")));
            }
        }
    }
    let orphans: Vec<&machines::Model> = candidates
        .iter()
        .filter(|m| m.hardware_id.as_deref().is_none_or(|h| h.trim().is_empty()))
        .collect();
    if orphans.is_empty() {
        return Ok(None);
    }
    // A renewed certificate still works until its grace period ends, so
    // "valid" is read from the certificates, not from the machine row.
    let alive: std::collections::HashSet<Uuid> = client_certificates::Entity::find()
        .select_only()
        .column(client_certificates::Column::MachineId)
        .filter(client_certificates::Column::MachineId.is_in(orphans.iter().map(|m| m.id)))
        .filter(client_certificates::Column::ExpiresAt.gt(now))
        .filter(
            Condition::any()
                .add(client_certificates::Column::RevokedAt.is_null())
                .add(client_certificates::Column::RevokedAt.gt(now)),
        )
        .into_tuple::<Uuid>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    Ok(orphans
        .into_iter()
        .find(|m| !alive.contains(&m.id))
        .map(|m| (m.clone(), "hostname")))
}

impl Agents {
    pub async fn enrol(&self, req: EnrolRequest, meta: &RequestMeta) -> Result<Enrolled, DomainError> {
        if !valid_hostname(req.hostname.trim()) {
            return Err(DomainError::invalid(
                "hostname",
                "is not a valid RFC 1123 host name",
            ));
        }
        let hostname = req.hostname.trim().to_owned();
        let os = short("os", &req.os, 100)?;
        if os.is_empty() {
            return Err(DomainError::invalid("os", "is required"));
        }
        let os_version = short("os_version", &req.os_version, 255)?;
        let hardware_id = optional_short("hardware_id", req.hardware_id.as_deref(), 255)?;
        let arch = optional_short("arch", req.arch.as_deref(), 32)?;
        let now = self.clock.now();
        let compliant = is_compliant(&self.requirements.get().await?, &os, &os_version);

        // The token use, the machine limit and the machine row commit
        // together: a refused enrolment consumes nothing.
        let txn = self.db.conn.begin().await?;
        let token = self
            .tokens
            .consume(&txn, &req.token)
            .await?
            .ok_or(DomainError::Unauthenticated)?;
        let client_id = token.client_id;

        // Same machine re-enrolling: by hardware id first, then host name.
        let mut existing = None;
        if let Some(hw) = &hardware_id {
            existing = machines::Entity::find()
                .filter(machines::Column::ClientId.eq(client_id))
                .filter(
                    Expr::expr(Func::lower(Expr::col(machines::Column::HardwareId))).eq(hw.to_lowercase()),
                )
                .one(&txn)
                .await?;
        }
        let mut matched_by = existing.as_ref().map(|_| "hardware_id");
        if existing.is_none() {
            if let Some((m, how)) = adoptable_by_hostname(&txn, client_id, &hostname, now).await? {
                existing = Some(m);
                matched_by = Some(how);
            }
        }
        if existing.is_none() {
            self.check_machine_limit(&txn, client_id).await?;
        }
        let machine_id = existing.as_ref().map_or_else(Uuid::now_v7, |m| m.id);
        let issued = self
            .ca
            .issue_client(client_id, machine_id)
            .map_err(|e| DomainError::internal("issuing a client certificate", e))?;

        match &existing {
            Some(_) => {
                machines::Entity::update_many()
                    .col_expr(machines::Column::Hostname, Expr::value(hostname.clone()))
                    .col_expr(machines::Column::HardwareId, Expr::value(hardware_id.clone()))
                    .col_expr(machines::Column::Os, Expr::value(os.clone()))
                    .col_expr(machines::Column::OsVersion, Expr::value(os_version.clone()))
                    .col_expr(machines::Column::Arch, Expr::value(arch.clone()))
                    .col_expr(machines::Column::IsOsCompliant, Expr::value(compliant))
                    .col_expr(
                        machines::Column::ReenrolmentAllowedUntil,
                        Expr::value(Option::<DateTime<Utc>>::None),
                    )
                    .col_expr(machines::Column::UpdatedAt, Expr::value(now))
                    .filter(machines::Column::Id.eq(machine_id))
                    .exec(&txn)
                    .await?;
            }
            None => {
                machines::Entity::insert(machines::ActiveModel {
                    id: Set(machine_id),
                    client_id: Set(client_id),
                    group_id: Set(None),
                    site_id: Set(None),
                    hostname: Set(hostname.clone()),
                    hardware_id: Set(hardware_id.clone()),
                    os: Set(os.clone()),
                    os_version: Set(os_version.clone()),
                    arch: Set(arch.clone()),
                    ip: Set(meta.ip.clone().unwrap_or_default()),
                    agent_version: Set(String::new()),
                    last_seen: Set(None),
                    health_score: Set(100),
                    is_os_compliant: Set(compliant),
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
                })
                .exec(&txn)
                .await?;
            }
        }
        // One active certificate per machine: the previous one is revoked.
        let superseded = client_certificates::Entity::find()
            .filter(client_certificates::Column::MachineId.eq(machine_id))
            .filter(client_certificates::Column::RevokedAt.is_null())
            .all(&txn)
            .await?;
        client_certificates::Entity::update_many()
            .col_expr(client_certificates::Column::RevokedAt, Expr::value(now))
            .col_expr(
                client_certificates::Column::RevocationReason,
                Expr::value("superseded"),
            )
            .filter(client_certificates::Column::MachineId.eq(machine_id))
            .filter(client_certificates::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        self.record_certificate(&txn, client_id, machine_id, &issued)
            .await?;
        txn.commit().await?;
        for old in &superseded {
            super::keys::mark_revoked(
                self.cache.as_ref(),
                &old.serial,
                old.expires_at,
                RevokedAs::Superseded,
            )
            .await;
        }
        self.invalidate(machine_id).await;
        if existing.is_none() {
            self.bus
                .publish(live::status(
                    client_id,
                    live::StatusChange {
                        machine_id,
                        hostname: hostname.clone(),
                        status: live::Status::Enrolled,
                        at: now,
                        after_offline: false,
                    },
                ))
                .await;
        }
        self.activity
            .record(
                Entry::new(Level::Info, Category::Certificate, format!("Machine enrôlée : {hostname}"))
                    .client(client_id)
                    .metadata(json!({ "machine_id": machine_id, "serial": issued.serial, "install_token_id": token.id, "new_machine": existing.is_none(), "matched_by": matched_by })),
                meta,
            )
            .await;
        Ok(Enrolled {
            ca_pem: self.ca.cert_pem().to_owned(),
            issued,
            machine_id,
            client_id,
        })
    }

    /// Refuses a new machine once the tenant has its licence's maximum, or
    /// while its licence is not active.
    /// On PostgreSQL the tenant row is locked first so two enrolments with
    /// different tokens cannot both take the last place; SQLite already
    /// serialises writers (the token update above holds the write lock).
    async fn check_machine_limit(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        client_id: Uuid,
    ) -> Result<(), DomainError> {
        let mut q = clients::Entity::find_by_id(client_id);
        if self.db.backend == crate::infra::db::Backend::Postgres {
            q = q.lock_exclusive();
        }
        let client = q.one(txn).await?.ok_or(DomainError::NotFound("client"))?;
        let licence = crate::domain::licensing::of_row(txn, &client, self.clock.now()).await?;
        // A read-only tenant keeps its machines reporting but takes no new
        // ones (an install token made before the suspension included).
        licence.ensure_writable()?;
        let Some(max) = licence.max_machines else {
            return Ok(());
        };
        let count = machines::Entity::find()
            .filter(machines::Column::ClientId.eq(client_id))
            .count(txn)
            .await?;
        if count >= max.max(0) as u64 {
            return Err(DomainError::Forbidden(format!(
                "The licence machine limit is reached ({max} machines); remove a machine or raise the limit"
            )));
        }
        Ok(())
    }

    /// Lets the next enrolment by host name take this machine over (a
    /// reinstalled or rebuilt machine whose agent lost its certificate, or
    /// whose hardware id changed), within [`REENROLMENT_WINDOW`]. Returns
    /// the end of the window.
    pub async fn release_for_reenrolment(
        &self,
        actor: &Principal,
        machine_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<DateTime<Utc>, DomainError> {
        let now = self.clock.now();
        let until = now + REENROLMENT_WINDOW;
        let set = [
            (
                machines::Column::ReenrolmentAllowedUntil,
                Expr::value(Some(until)),
            ),
            (machines::Column::UpdatedAt, Expr::value(now)),
        ];
        let entry = Entry::new(
            Level::Warn,
            Category::Certificate,
            "Machine libérée pour un nouvel enrôlement",
        )
        .metadata(json!({ "machine_id": machine_id, "until": until }));
        self.change_machine(actor, machine_id, set, entry, meta).await?;
        Ok(until)
    }
}

//! Machines and their agents: enrolment with an install token (and the
//! licence's machine limit), heartbeats, certificate renewal, revocation
//! and the CRL, and the commands administrators queue for an agent. The
//! certificate state is served from the shared cache, so a revocation
//! applies on the next request on every instance; [`keys`] names every
//! cached entry and drops them.
//!
//! One service, [`Agents`], with its methods spread over one file per
//! concern.

pub mod commands;
pub mod enrolment;
pub mod heartbeat;
pub mod heartbeat_writer;
pub mod keys;
pub mod maintenance;
pub mod removal;
pub mod renewal;
pub mod requirements;
pub mod revocation;

pub use commands::Command;
pub use enrolment::{EnrolRequest, Enrolled, REENROLMENT_WINDOW};
pub use heartbeat::{
    BeatAnswer, Heartbeat, HEARTBEAT_INTERVAL_SECONDS, HEARTBEAT_INTERVAL_UNDER_LOAD, OFFLINE_AFTER,
};
pub use renewal::RENEWAL_WINDOW_DAYS;
pub use revocation::CertState;

use crate::{
    domain::{
        activity::{ActivityLog, Entry, RequestMeta},
        agent_config::versions::AgentVersions,
        auth::Principal,
        live,
        pki::{
            ca::{CertificateAuthority, Issued},
            install_tokens::InstallTokens,
        },
        DomainError,
    },
    infra::{cache::Cache, clock::Clock, db::Database},
};
use chrono::{DateTime, Utc};
use entities::{client_certificates, machines};
use heartbeat_writer::HeartbeatWriter;
use requirements::RequirementsService;
use sea_orm::{sea_query::Expr, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use std::{sync::Arc, time::Duration};
use uuid::Uuid;

#[derive(Clone)]
pub struct Agents {
    db: Database,
    cache: Arc<dyn Cache>,
    bus: Arc<live::Bus>,
    ca: Arc<CertificateAuthority>,
    tokens: InstallTokens,
    requirements: RequirementsService,
    writer: HeartbeatWriter,
    versions: AgentVersions,
    activity: ActivityLog,
    /// "Now" for the renewal window, the grace period and the offline
    /// threshold.
    clock: Arc<dyn Clock>,
    /// When this instance last took a heartbeat of each machine.
    recent_beats: moka::future::Cache<Uuid, DateTime<Utc>>,
}

impl Agents {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Database,
        cache: Arc<dyn Cache>,
        bus: Arc<live::Bus>,
        ca: Arc<CertificateAuthority>,
        tokens: InstallTokens,
        versions: AgentVersions,
        activity: ActivityLog,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            versions,
            recent_beats: moka::future::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(Duration::from_secs(900))
                .build(),
            requirements: RequirementsService::new(db.clone(), cache.clone()),
            writer: HeartbeatWriter::start(db.clone()),
            db,
            cache,
            bus,
            ca,
            tokens,
            activity,
            clock,
        }
    }

    pub fn requirements(&self) -> &RequirementsService {
        &self.requirements
    }

    pub fn ca(&self) -> &CertificateAuthority {
        &self.ca
    }

    /// Drops what the cache holds of a machine's row, after a change.
    async fn invalidate(&self, machine_id: Uuid) {
        keys::invalidate_machine(self.cache.as_ref(), machine_id).await;
    }

    /// One of the tenant's machines.
    async fn machine(&self, client_id: Uuid, machine_id: Uuid) -> Result<machines::Model, DomainError> {
        machines::Entity::find_by_id(machine_id)
            .filter(machines::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("machine"))
    }

    /// Stores a newly issued certificate and mirrors it on the machine row.
    async fn record_certificate(
        &self,
        txn: &impl sea_orm::ConnectionTrait,
        client_id: Uuid,
        machine_id: Uuid,
        issued: &Issued,
    ) -> Result<(), DomainError> {
        client_certificates::Entity::insert(client_certificates::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(client_id),
            machine_id: Set(machine_id),
            serial: Set(issued.serial.clone()),
            issued_at: Set(issued.not_before),
            expires_at: Set(issued.not_after),
            revoked_at: Set(None),
            revocation_reason: Set(None),
            created_by: Set(None),
            created_at: Set(Utc::now()),
        })
        .exec(txn)
        .await?;
        machines::Entity::update_many()
            .col_expr(
                machines::Column::CertSerial,
                Expr::value(Some(issued.serial.clone())),
            )
            .col_expr(
                machines::Column::CertIssuedAt,
                Expr::value(Some(issued.not_before)),
            )
            .col_expr(
                machines::Column::CertExpiresAt,
                Expr::value(Some(issued.not_after)),
            )
            .col_expr(
                machines::Column::CertRevokedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(machines::Column::Id.eq(machine_id))
            .exec(txn)
            .await?;
        Ok(())
    }

    /// Applies an admin change to one of the actor's machines (NOT_FOUND
    /// for another tenant's), drops its cached view and records it.
    async fn change_machine<const N: usize>(
        &self,
        actor: &Principal,
        machine_id: Uuid,
        set: [(machines::Column, sea_orm::sea_query::SimpleExpr); N],
        entry: Entry,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        let mut update = machines::Entity::update_many()
            .filter(machines::Column::Id.eq(machine_id))
            .filter(machines::Column::ClientId.eq(actor.client_id));
        for (column, value) in set {
            update = update.col_expr(column, value);
        }
        if update.exec(&self.db.conn).await?.rows_affected == 0 {
            return Err(DomainError::NotFound("machine"));
        }
        self.invalidate(machine_id).await;
        self.activity
            .record(entry.client(actor.client_id).by(actor.user_id), meta)
            .await;
        Ok(())
    }
}

/// RFC 1123 host name: 1-253 characters, labels of letters, digits and
/// hyphens not starting or ending with a hyphen.
pub fn valid_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// A trimmed agent-reported string, refused when too long or holding
/// control characters.
fn short(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let v = value.trim();
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} printable characters"),
        ));
    }
    Ok(v.to_owned())
}

/// An optional agent-reported string: blank is absent.
fn optional_short(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, DomainError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => Ok(Some(short(field, v, max)?)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hostnames_follow_rfc_1123() {
        for ok in ["srv-web-01", "a", "host.example.com", "DESKTOP-7F3K2LQ"] {
            assert!(super::valid_hostname(ok), "{ok}");
        }
        for bad in [
            "",
            "-lead",
            "trail-",
            "under_score",
            "sp ace",
            "a..b",
            &"x".repeat(64),
        ] {
            assert!(!super::valid_hostname(bad), "{bad}");
        }
    }
}

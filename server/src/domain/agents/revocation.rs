//! Revocation and certificate state: an administrator revokes a machine's
//! certificate, the gateway asks on every request whether the presented
//! certificate is the machine's live one (answered from the shared cache,
//! so a revocation applies on the next request on every instance), and the
//! CRL lists every revoked, unexpired serial.

use super::{
    keys::{self, RevokedAs},
    Agents,
};
use crate::domain::{
    activity::{Category, Entry, Level, RequestMeta},
    auth::Principal,
    pki::ca::RevokedEntry,
    DomainError,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use entities::{client_certificates, machines};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

const CRL_CACHE_TTL: Duration = Duration::from_secs(300);
const VALID_CACHE_TTL: Duration = Duration::from_secs(60);

/// What a presented certificate is to the machine its CN names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertState {
    /// The machine's live certificate, or a renewed one in its grace
    /// period.
    Valid,
    /// Revoked by an administrator.
    Revoked,
    /// Replaced by a renewal (past its grace period) or a re-enrolment.
    Superseded,
    /// We never issued this serial.
    Unknown,
    /// We issued this serial to another machine than the CN names.
    OtherMachine,
}

impl From<RevokedAs> for CertState {
    fn from(why: RevokedAs) -> Self {
        match why {
            RevokedAs::Revoked => Self::Revoked,
            RevokedAs::Superseded => Self::Superseded,
        }
    }
}

impl Agents {
    /// Whether `serial` is the live certificate of this machine.
    pub async fn certificate_state(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        serial: &str,
    ) -> Result<CertState, DomainError> {
        if let Ok(Some(marker)) = self.cache.get(&keys::revoked(serial)).await {
            return Ok(RevokedAs::from_marker(&marker).into());
        }
        let owner = format!("{client_id}:{machine_id}");
        if let Ok(Some(cached)) = self.cache.get(&keys::valid(serial)).await {
            return Ok(if cached == owner {
                CertState::Valid
            } else {
                CertState::OtherMachine
            });
        }
        let Some(row) = client_certificates::Entity::find()
            .filter(client_certificates::Column::Serial.eq(serial))
            .one(&self.db.conn)
            .await?
        else {
            return Ok(CertState::Unknown);
        };
        if row.client_id != client_id || row.machine_id != machine_id {
            return Ok(CertState::OtherMachine);
        }
        let now = self.clock.now();
        match row.revoked_at {
            Some(at) if at <= now => {
                let why = RevokedAs::of_reason(row.revocation_reason.as_deref());
                keys::mark_revoked(self.cache.as_ref(), serial, row.expires_at, why).await;
                Ok(why.into())
            }
            // Renewed: valid until its grace period ends; cache no longer.
            Some(at) => {
                let ttl = (at - now).to_std().unwrap_or_default().min(VALID_CACHE_TTL);
                let _ = self.cache.set(&keys::valid(serial), &owner, ttl).await;
                Ok(CertState::Valid)
            }
            None => {
                let _ = self
                    .cache
                    .set(&keys::valid(serial), &owner, VALID_CACHE_TTL)
                    .await;
                Ok(CertState::Valid)
            }
        }
    }

    /// Revokes the machine's live certificate (admin).
    pub async fn revoke_machine(
        &self,
        actor: &Principal,
        machine_id: Uuid,
        reason: Option<String>,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        let machine = machines::Entity::find_by_id(machine_id)
            .filter(machines::Column::ClientId.eq(actor.client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("machine"))?;
        let reason = reason
            .map(|r| r.chars().take(500).collect::<String>())
            .unwrap_or_else(|| "revoked by an administrator".into());
        let active = client_certificates::Entity::find()
            .filter(client_certificates::Column::MachineId.eq(machine.id))
            .filter(client_certificates::Column::RevokedAt.is_null())
            .one(&self.db.conn)
            .await?
            .ok_or_else(|| DomainError::Conflict("the machine has no active certificate".into()))?;
        let now = self.clock.now();
        let txn = self.db.conn.begin().await?;
        client_certificates::Entity::update_many()
            .col_expr(client_certificates::Column::RevokedAt, Expr::value(now))
            .col_expr(
                client_certificates::Column::RevocationReason,
                Expr::value(reason.clone()),
            )
            .filter(client_certificates::Column::Id.eq(active.id))
            .exec(&txn)
            .await?;
        machines::Entity::update_many()
            .col_expr(machines::Column::CertRevokedAt, Expr::value(Some(now)))
            .filter(machines::Column::Id.eq(machine.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.invalidate(machine.id).await;
        keys::mark_revoked(
            self.cache.as_ref(),
            &active.serial,
            active.expires_at,
            RevokedAs::Revoked,
        )
        .await;
        let entry = Entry::new(
            Level::Warn,
            Category::Certificate,
            format!("Certificat révoqué : {}", machine.hostname),
        )
        .client(actor.client_id)
        .metadata(json!({ "machine_id": machine.id, "serial": active.serial, "reason": reason }))
        .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok(())
    }

    /// The DER CRL of every revoked, unexpired certificate; cached 5
    /// minutes in the shared cache and dropped at each revocation.
    pub async fn crl(&self) -> Result<Vec<u8>, DomainError> {
        if let Ok(Some(b64)) = self.cache.get(keys::CRL).await {
            if let Ok(der) = STANDARD.decode(b64) {
                return Ok(der);
            }
        }
        let now = self.clock.now();
        let revoked = client_certificates::Entity::find()
            .filter(client_certificates::Column::RevokedAt.lte(now))
            .filter(client_certificates::Column::ExpiresAt.gt(now))
            .all(&self.db.conn)
            .await?;
        let entries: Vec<RevokedEntry> = revoked
            .into_iter()
            .map(|c| RevokedEntry {
                serial: c.serial,
                revoked_at: c.revoked_at.unwrap_or(now),
            })
            .collect();
        let number = now.timestamp().max(1) as u64;
        let der = self
            .ca
            .crl(&entries, number)
            .map_err(|e| DomainError::internal("signing the CRL", e))?;
        let _ = self
            .cache
            .set(keys::CRL, &STANDARD.encode(&der), CRL_CACHE_TTL)
            .await;
        Ok(der)
    }
}

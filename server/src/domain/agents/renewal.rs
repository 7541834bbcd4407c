//! Certificate renewal: in the last 30 days before expiry, or at once
//! after an administrator asked for it. The old certificate keeps working
//! for a grace period, so an agent that loses the answer can retry.

use super::Agents;
use crate::domain::{
    activity::{Category, Entry, Level, RequestMeta},
    pki::ca::Issued,
    DomainError,
};
use chrono::{DateTime, Utc};
use entities::{client_certificates, machines};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

/// Agents may renew this close to expiry.
pub const RENEWAL_WINDOW_DAYS: i64 = 30;
/// A renewed certificate keeps working this long.
pub const RENEWAL_GRACE_HOURS: i64 = 24;

impl Agents {
    /// Issues a new key pair and certificate to a machine whose current
    /// certificate expires within 30 days. The old certificate stays valid
    /// for 24 hours (its revocation is dated then), so an agent that loses
    /// the answer can retry with it.
    pub async fn renew(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        serial: &str,
        meta: &RequestMeta,
    ) -> Result<Issued, DomainError> {
        let current = client_certificates::Entity::find()
            .filter(client_certificates::Column::Serial.eq(serial))
            .filter(client_certificates::Column::MachineId.eq(machine_id))
            .filter(client_certificates::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("certificate"))?;
        let now = self.clock.now();
        if current.revoked_at.is_some() {
            return Err(DomainError::Conflict(
                "this certificate was already renewed or revoked".into(),
            ));
        }
        let requested = machines::Entity::find_by_id(machine_id)
            .one(&self.db.conn)
            .await?
            .and_then(|m| m.renewal_requested_at)
            .is_some();
        if !requested && current.expires_at - now > chrono::Duration::days(RENEWAL_WINDOW_DAYS) {
            return Err(DomainError::invalid(
                "certificate",
                format!(
                    "renewal opens {RENEWAL_WINDOW_DAYS} days before expiry ({})",
                    current.expires_at
                ),
            ));
        }
        let issued = self
            .ca
            .issue_client(client_id, machine_id)
            .map_err(|e| DomainError::internal("issuing a client certificate", e))?;
        let txn = self.db.conn.begin().await?;
        client_certificates::Entity::update_many()
            .col_expr(
                client_certificates::Column::RevokedAt,
                Expr::value(now + chrono::Duration::hours(RENEWAL_GRACE_HOURS)),
            )
            .col_expr(
                client_certificates::Column::RevocationReason,
                Expr::value("renewed"),
            )
            .filter(client_certificates::Column::Id.eq(current.id))
            .exec(&txn)
            .await?;
        self.record_certificate(&txn, client_id, machine_id, &issued)
            .await?;
        machines::Entity::update_many()
            .col_expr(
                machines::Column::RenewalRequestedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(machines::Column::Id.eq(machine_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.invalidate(machine_id).await;
        self.activity
            .record(
                Entry::new(Level::Info, Category::Certificate, "Certificat renouvelé")
                    .client(client_id)
                    .metadata(json!({ "machine_id": machine_id, "old_serial": current.serial, "serial": issued.serial })),
                meta,
            )
            .await;
        Ok(issued)
    }
}

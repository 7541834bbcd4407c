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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::{
            activity::ActivityLog, agent_config::versions::AgentVersions, agents::revocation::CertState,
            fixtures, pki::ca::CertificateAuthority, pki::install_tokens::InstallTokens,
        },
        infra::{
            bus::LocalBus,
            cache::{Cache, MemoryCache},
            clock::{Clock, ManualClock},
            db::Database,
        },
    };
    use chrono::Duration;
    use std::sync::Arc;

    /// The window opens exactly 30 days before expiry and the old
    /// certificate dies exactly 24 hours after renewal, on a moved clock.
    #[tokio::test]
    async fn renewal_opens_30_days_out_and_the_old_certificate_lasts_24_hours() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::in_memory().await.unwrap();
        let clock = ManualClock::starting_now();
        let (client, machine) = fixtures::tenant_with_machine(&db, clock.now()).await;
        let cache: Arc<dyn Cache> = Arc::new(MemoryCache::new());
        let activity = ActivityLog::new(db.clone());
        let agents = Agents::new(
            db.clone(),
            cache.clone(),
            Arc::new(LocalBus::new()),
            Arc::new(CertificateAuthority::load_or_create(dir.path()).unwrap()),
            InstallTokens::new(db.clone(), activity.clone(), "https://x".into(), clock.shared()),
            AgentVersions::new(db.clone(), cache.clone()),
            activity,
            clock.shared(),
        );
        let first = agents.ca.issue_client(client.id, machine.id).unwrap();
        agents
            .record_certificate(&db.conn, client.id, machine.id, &first)
            .await
            .unwrap();
        let meta = RequestMeta::default();

        clock.set(first.not_after - Duration::days(RENEWAL_WINDOW_DAYS) - Duration::seconds(1));
        let early = agents.renew(client.id, machine.id, &first.serial, &meta).await;
        assert!(
            matches!(early, Err(DomainError::InvalidInput { .. })),
            "a second before the window: {early:?}"
        );

        clock.set(first.not_after - Duration::days(RENEWAL_WINDOW_DAYS));
        let second = agents
            .renew(client.id, machine.id, &first.serial, &meta)
            .await
            .expect("the window is open at 30 days");
        let renewed_at = clock.now();
        let state = |serial: String| {
            let agents = &agents;
            async move {
                agents
                    .certificate_state(client.id, machine.id, &serial)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(state(second.serial.clone()).await, CertState::Valid);

        clock.set(renewed_at + Duration::hours(RENEWAL_GRACE_HOURS) - Duration::seconds(1));
        assert_eq!(
            state(first.serial.clone()).await,
            CertState::Valid,
            "within the grace period"
        );
        // The cache runs on the wall clock, not the moved one: drop the
        // grace answer it holds so the row decides.
        cache
            .delete(&crate::domain::agents::keys::valid(&first.serial))
            .await
            .unwrap();
        clock.set(renewed_at + Duration::hours(RENEWAL_GRACE_HOURS));
        assert_eq!(
            state(first.serial.clone()).await,
            CertState::Superseded,
            "the grace period has ended"
        );
        assert!(
            matches!(
                agents.renew(client.id, machine.id, &first.serial, &meta).await,
                Err(DomainError::Conflict(_))
            ),
            "a renewed certificate renews once"
        );
    }
}

//! Heartbeats through the group-commit writer: one transaction per batch,
//! a machine's latest heartbeat winning within a batch.

use crate::{
    domain::DomainError,
    infra::{
        db::Database,
        group_commit::{FlushFn, GroupCommit},
    },
};
use chrono::{DateTime, Utc};
use entities::machines;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

const MAX_BATCH: usize = 512;

/// The columns a heartbeat refreshes.
#[derive(Clone, Debug)]
pub struct BeatUpdate {
    pub machine_id: Uuid,
    pub at: DateTime<Utc>,
    pub hostname: String,
    pub hardware_id: Option<String>,
    pub os: String,
    pub os_version: String,
    pub agent_version: String,
    pub ip: String,
    pub compliant: bool,
    /// The machine's live certificate, mirrored in its cert_* columns.
    pub cert: Option<entities::client_certificates::Model>,
    /// The force-collect request this heartbeat delivers, cleared unless a
    /// newer one arrived meanwhile.
    pub force_collect_delivered: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct HeartbeatWriter {
    inner: GroupCommit<BeatUpdate>,
}

impl HeartbeatWriter {
    pub fn start(db: Database) -> Self {
        let flush: FlushFn<BeatUpdate> =
            Arc::new(|db, batch| Box::pin(async move { flush(&db, &batch).await }));
        Self {
            inner: GroupCommit::start("heartbeats", db, MAX_BATCH, flush),
        }
    }

    /// Returns once the update is committed.
    pub async fn write(&self, update: BeatUpdate) -> Result<(), DomainError> {
        Ok(self.inner.write(update).await?)
    }
}

async fn flush(db: &Database, batch: &[Arc<BeatUpdate>]) -> Result<(), sea_orm::DbErr> {
    // A machine twice in one batch: its latest heartbeat wins.
    let mut latest: HashMap<Uuid, &BeatUpdate> = HashMap::new();
    for u in batch.iter().map(AsRef::as_ref) {
        latest
            .entry(u.machine_id)
            .and_modify(|cur| {
                if u.at >= cur.at {
                    *cur = u;
                }
            })
            .or_insert(u);
    }
    let txn = db.conn.begin().await?;
    for u in latest.values() {
        let mut update = machines::Entity::update_many()
            .col_expr(machines::Column::LastSeen, Expr::value(Some(u.at)))
            .col_expr(machines::Column::IsOsCompliant, Expr::value(u.compliant))
            .col_expr(machines::Column::Hostname, Expr::value(u.hostname.clone()))
            .col_expr(machines::Column::Os, Expr::value(u.os.clone()))
            .col_expr(machines::Column::OsVersion, Expr::value(u.os_version.clone()))
            .col_expr(
                machines::Column::AgentVersion,
                Expr::value(u.agent_version.clone()),
            )
            .col_expr(machines::Column::Ip, Expr::value(u.ip.clone()))
            .col_expr(
                machines::Column::OfflineNotifiedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(machines::Column::UpdatedAt, Expr::value(u.at));
        if let Some(hw) = &u.hardware_id {
            update = update.col_expr(machines::Column::HardwareId, Expr::value(Some(hw.clone())));
        }
        if let Some(c) = &u.cert {
            update = update
                .col_expr(machines::Column::CertSerial, Expr::value(Some(c.serial.clone())))
                .col_expr(machines::Column::CertIssuedAt, Expr::value(Some(c.issued_at)))
                .col_expr(machines::Column::CertExpiresAt, Expr::value(Some(c.expires_at)))
                .col_expr(machines::Column::CertRevokedAt, Expr::value(c.revoked_at));
        }
        update
            .filter(machines::Column::Id.eq(u.machine_id))
            .exec(&txn)
            .await?;
        if let Some(requested) = u.force_collect_delivered {
            machines::Entity::update_many()
                .col_expr(
                    machines::Column::ForceCollectRequestedAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .filter(machines::Column::Id.eq(u.machine_id))
                .filter(machines::Column::ForceCollectRequestedAt.lte(requested))
                .exec(&txn)
                .await?;
        }
    }
    txn.commit().await
}

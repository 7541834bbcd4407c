//! What administrators ask of a machine's agent: renew its certificate
//! now, run every collector now, follow another update channel. Each is a
//! column on the machine row; the next heartbeat turns it into a command
//! (or an update) and the request applies on every instance.

use super::Agents;
use crate::domain::{
    activity::{Category, Entry, Level, RequestMeta},
    auth::Principal,
    DomainError,
};
use chrono::Utc;
use entities::{
    enums::{Stored, UpdateChannel},
    machines,
};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

/// Machines one bulk channel change may name.
pub const MAX_BULK_MACHINES: usize = 1000;

/// A command a heartbeat answer carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Call `/agent/certificate/renew` now, whatever the expiry date.
    RenewCertificate,
    /// Run every collector once now.
    ForceCollect,
}

impl Command {
    /// The commands pending for a machine, in the order agents expect.
    pub fn pending(renewal_requested: bool, force_collect_requested: bool) -> Vec<Self> {
        let mut commands = Vec::new();
        if renewal_requested {
            commands.push(Self::RenewCertificate);
        }
        if force_collect_requested {
            commands.push(Self::ForceCollect);
        }
        commands
    }
}

impl Agents {
    /// Asks the machine's agent to renew its certificate now: the next
    /// heartbeat answer carries `renew_certificate`, and the renewal window
    /// is waived once.
    pub async fn request_renewal(
        &self,
        actor: &Principal,
        machine_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        self.flag_machine(
            actor,
            machine_id,
            machines::Column::RenewalRequestedAt,
            Entry::new(
                Level::Info,
                Category::Certificate,
                "Renouvellement du certificat demandé",
            ),
            meta,
        )
        .await
    }

    /// Asks the agent to run every collector at its next heartbeat.
    pub async fn request_force_collect(
        &self,
        actor: &Principal,
        machine_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        self.flag_machine(
            actor,
            machine_id,
            machines::Column::ForceCollectRequestedAt,
            Entry::new(Level::Info, Category::Machine, "Collecte forcée demandée"),
            meta,
        )
        .await
    }

    /// Stamps a request column on one of the actor's machines; the next
    /// heartbeat turns it into a command.
    async fn flag_machine(
        &self,
        actor: &Principal,
        machine_id: Uuid,
        column: machines::Column,
        entry: Entry,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        let set = [(column, Expr::value(Some(Utc::now())))];
        self.change_machine(
            actor,
            machine_id,
            set,
            entry.metadata(json!({ "machine_id": machine_id })),
            meta,
        )
        .await
    }

    /// Moves a machine to the stable or beta update channel.
    pub async fn set_update_channel(
        &self,
        actor: &Principal,
        machine_id: Uuid,
        channel: UpdateChannel,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        let channel = channel.stored();
        let set = [
            (machines::Column::UpdateChannel, Expr::value(channel.clone())),
            (machines::Column::UpdatedAt, Expr::value(Utc::now())),
        ];
        let entry = Entry::new(
            Level::Info,
            Category::Machine,
            format!("Canal de mise à jour : {channel}"),
        )
        .metadata(json!({ "machine_id": machine_id, "channel": channel }));
        self.change_machine(actor, machine_id, set, entry, meta).await
    }

    /// Moves machines of any tenant to `channel` in one statement
    /// (super_admin); ids that match no machine are skipped. Returns how
    /// many machines were updated.
    pub async fn set_update_channel_across(
        &self,
        actor: &Principal,
        machine_ids: &[Uuid],
        channel: UpdateChannel,
        meta: &RequestMeta,
    ) -> Result<u64, DomainError> {
        if !actor.is_super_admin() {
            return Err(DomainError::Forbidden("super_admin only".into()));
        }
        if machine_ids.is_empty() || machine_ids.len() > MAX_BULK_MACHINES {
            return Err(DomainError::invalid(
                "machineIds",
                format!("must list 1-{MAX_BULK_MACHINES} machines"),
            ));
        }
        let channel = channel.stored();
        let updated = machines::Entity::update_many()
            .col_expr(machines::Column::UpdateChannel, Expr::value(channel.clone()))
            .col_expr(machines::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(machines::Column::Id.is_in(machine_ids.iter().copied()))
            .exec(&self.db.conn)
            .await?
            .rows_affected;
        // The heartbeat's cached view holds the channel.
        futures::future::join_all(machine_ids.iter().map(|id| self.invalidate(*id))).await;
        let entry = Entry::new(
            Level::Info,
            Category::Machine,
            format!("Canal de mise à jour : {channel} ({updated} machines)"),
        )
        .client(actor.client_id)
        .metadata(json!({ "channel": channel, "updated": updated, "requested": machine_ids.len() }))
        .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok(updated)
    }
}

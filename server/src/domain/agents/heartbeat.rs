//! Heartbeats: the agent reports what it runs on and gets back its
//! commands, its next interval and the update to install. A steady
//! heartbeat reads nothing from the database: what it needs of the machine
//! row is cached ([`keys::beat_view`]) and dropped by every writer.

use super::{
    commands::Command, heartbeat_writer::BeatUpdate, keys, optional_short, requirements::is_compliant, short,
    valid_hostname, Agents,
};
use crate::domain::{
    activity::RequestMeta,
    agent_config::versions::{AgentVersion, Target},
    live, DomainError,
};
use chrono::{DateTime, Utc};
use entities::{client_certificates, machines};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

pub const HEARTBEAT_INTERVAL_SECONDS: u32 = 60;
pub const HEARTBEAT_INTERVAL_UNDER_LOAD: u32 = 30;

/// A machine silent this long counts as offline until its next heartbeat.
pub const OFFLINE_AFTER: chrono::Duration = chrono::Duration::minutes(5);

/// A view at most this old is used; admin changes drop it sooner.
const BEAT_VIEW_TTL: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct Heartbeat {
    pub hostname: String,
    pub hardware_id: Option<String>,
    pub os: String,
    pub os_version: String,
    pub ip: Option<String>,
    pub agent_version: String,
}

/// What a heartbeat answers.
#[derive(Clone, Debug, PartialEq)]
pub struct BeatAnswer {
    pub machine_id: Uuid,
    pub is_os_compliant: bool,
    pub server_time: DateTime<Utc>,
    pub next_heartbeat_seconds: u32,
    pub commands: Vec<Command>,
    /// A newer active build for the machine's channel, platform and
    /// architecture.
    pub update: Option<AgentVersion>,
}

/// What a heartbeat needs of its machine row, kept in the shared cache
/// ([`keys::beat_view`]) so a steady heartbeat reads nothing from the
/// database. Every writer of these fields calls
/// [`keys::invalidate_machine`].
#[derive(Clone, Debug, Serialize, Deserialize)]
struct BeatView {
    client_id: Uuid,
    cert_serial: Option<String>,
    update_channel: entities::enums::UpdateChannel,
    arch: Option<String>,
    renewal_requested: bool,
    force_collect_requested_at: Option<DateTime<Utc>>,
    offline_notified: bool,
    last_seen: Option<DateTime<Utc>>,
}

impl From<&machines::Model> for BeatView {
    fn from(m: &machines::Model) -> Self {
        Self {
            client_id: m.client_id,
            cert_serial: m.cert_serial.clone(),
            update_channel: m.update_channel,
            arch: m.arch.clone(),
            renewal_requested: m.renewal_requested_at.is_some(),
            force_collect_requested_at: m.force_collect_requested_at,
            offline_notified: m.offline_notified_at.is_some(),
            last_seen: m.last_seen,
        }
    }
}

impl Agents {
    /// The heartbeat view of a machine: from the shared cache, or read
    /// (and cached) when absent or when `fresh` is asked. Returns whether
    /// it was read from the database.
    async fn beat_view(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        fresh: bool,
    ) -> Result<(BeatView, bool), DomainError> {
        let key = keys::beat_view(machine_id);
        if !fresh {
            if let Ok(Some(json)) = self.cache.get(&key).await {
                if let Ok(view) = serde_json::from_str::<BeatView>(&json) {
                    if view.client_id == client_id {
                        return Ok((view, false));
                    }
                }
            }
        }
        let view = BeatView::from(&self.machine(client_id, machine_id).await?);
        if let Ok(json) = serde_json::to_string(&view) {
            let _ = self.cache.set(&key, &json, BEAT_VIEW_TTL).await;
        }
        Ok((view, true))
    }

    /// Records that the agent fetched its configuration, off the request
    /// path (a failure only loses the timestamp).
    pub fn touch_config_sync(&self, machine_id: Uuid) {
        let db = self.db.clone();
        tokio::spawn(async move {
            let done = machines::Entity::update_many()
                .col_expr(machines::Column::LastConfigSync, Expr::value(Some(Utc::now())))
                .filter(machines::Column::Id.eq(machine_id))
                .exec(&db.conn)
                .await;
            if let Err(e) = done {
                tracing::warn!(error = %e, %machine_id, "last_config_sync not recorded");
            }
        });
    }

    /// Takes one heartbeat of the machine whose certificate `serial`
    /// the agent presented.
    pub async fn heartbeat(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        serial: &str,
        beat: Heartbeat,
        meta: &RequestMeta,
    ) -> Result<BeatAnswer, DomainError> {
        if !valid_hostname(beat.hostname.trim()) {
            return Err(DomainError::invalid(
                "hostname",
                "is not a valid RFC 1123 host name",
            ));
        }
        let os = short("os", &beat.os, 100)?;
        let os_version = short("os_version", &beat.os_version, 255)?;
        let agent_version = short("agent_version", &beat.agent_version, 64)?;
        let ip = match beat.ip.as_deref().map(str::trim).filter(|i| !i.is_empty()) {
            Some(ip) if ip.parse::<std::net::IpAddr>().is_ok() => ip.to_owned(),
            Some(_) => return Err(DomainError::invalid("ip", "is not an IP address")),
            None => meta.ip.clone().unwrap_or_default(),
        };
        let (mut view, fresh) = self.beat_view(client_id, machine_id, false).await?;
        let now = self.clock.now();
        let silent_since = |view: &BeatView, local: Option<DateTime<Utc>>| {
            view.offline_notified
                || view
                    .last_seen
                    .max(local)
                    .is_none_or(|seen| now - seen > OFFLINE_AFTER)
        };
        let local = self.recent_beats.get(&machine_id).await;
        let mut was_offline = silent_since(&view, local);
        if was_offline && !fresh {
            // The cached view may just be old: decide on the row itself.
            (view, _) = self.beat_view(client_id, machine_id, true).await?;
            was_offline = silent_since(&view, local);
        }
        // The machine row mirrors its live certificate; read it only when
        // the agent presents another one (after a renewal or re-enrolment).
        let cert = if view.cert_serial.as_deref() == Some(serial) {
            None
        } else {
            client_certificates::Entity::find()
                .filter(client_certificates::Column::MachineId.eq(machine_id))
                .filter(client_certificates::Column::RevokedAt.is_null())
                .one(&self.db.conn)
                .await?
        };
        let compliant = is_compliant(&self.requirements.get().await?, &os, &os_version);
        let hardware_id = optional_short("hardware_id", beat.hardware_id.as_deref(), 255)?;
        let changes_view = was_offline || cert.is_some() || view.force_collect_requested_at.is_some();
        self.writer
            .write(BeatUpdate {
                machine_id,
                at: now,
                hostname: beat.hostname.trim().to_owned(),
                hardware_id,
                os,
                os_version,
                agent_version,
                ip,
                compliant,
                cert,
                force_collect_delivered: view.force_collect_requested_at,
            })
            .await?;
        self.recent_beats.insert(machine_id, now).await;
        if changes_view {
            // The row now differs from the view (mark cleared, certificate
            // mirrored, command delivered).
            self.invalidate(machine_id).await;
        }
        if was_offline {
            self.bus
                .publish(live::status(
                    client_id,
                    live::StatusChange {
                        machine_id,
                        hostname: beat.hostname.trim().to_owned(),
                        status: live::Status::Online,
                        at: now,
                        after_offline: view.offline_notified,
                    },
                ))
                .await;
        }
        let commands = Command::pending(view.renewal_requested, view.force_collect_requested_at.is_some());
        // A machine under load reports more often (its last metrics sample
        // showed CPU > 80% or RAM > 85%).
        let next_heartbeat_seconds = match self.cache.get(&keys::high_load(machine_id)).await {
            Ok(Some(_)) => HEARTBEAT_INTERVAL_UNDER_LOAD,
            _ => HEARTBEAT_INTERVAL_SECONDS,
        };
        let update = match Target::of_machine(view.update_channel, &beat.os, view.arch.as_deref()) {
            Some(target) => self.versions.update_for(&target, &beat.agent_version).await?,
            None => None,
        };
        Ok(BeatAnswer {
            machine_id,
            is_os_compliant: compliant,
            server_time: now,
            next_heartbeat_seconds,
            commands,
            update,
        })
    }
}

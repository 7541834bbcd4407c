//! Machines joining and talking: enrolment with an install token,
//! heartbeats, certificate state (served from the shared cache so a
//! revocation applies on the next request on every instance), revocation
//! and the CRL.

use super::{
    ca::{CertificateAuthority, Issued, RevokedEntry},
    heartbeat_writer::{BeatUpdate, HeartbeatWriter},
    install_tokens::InstallTokens,
    requirements::{is_compliant, RequirementsService},
};
use crate::{
    domain::{
        activity::{ActivityLog, Category, Entry, Level, RequestMeta},
        agent_config::versions::{AgentVersions, Target},
        auth::Principal,
        live, DomainError,
    },
    infra::{cache::Cache, db::Database},
};
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, Utc};
use entities::{client_certificates, clients, machines};
use sea_orm::{
    sea_query::{Expr, Func},
    ActiveValue::Set,
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::{sync::Arc, time::Duration};
use uuid::Uuid;

const CRL_CACHE_KEY: &str = "crl:der";
const CRL_CACHE_TTL: Duration = Duration::from_secs(300);
const VALID_CACHE_TTL: Duration = Duration::from_secs(60);
pub const HEARTBEAT_INTERVAL_SECONDS: u32 = 60;
pub const HEARTBEAT_INTERVAL_UNDER_LOAD: u32 = 30;
/// Agents may renew this close to expiry.
pub const RENEWAL_WINDOW_DAYS: i64 = 30;
/// A renewed certificate keeps working this long.
const RENEWAL_GRACE_HOURS: i64 = 24;

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

#[derive(Clone, Debug)]
pub struct Heartbeat {
    pub hostname: String,
    pub hardware_id: Option<String>,
    pub os: String,
    pub os_version: String,
    pub ip: Option<String>,
    pub agent_version: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertState {
    Valid,
    Revoked,
    Unknown,
}

#[derive(Clone)]
pub struct Enrolment {
    db: Database,
    cache: Arc<dyn Cache>,
    bus: Arc<live::Bus>,
    ca: Arc<CertificateAuthority>,
    tokens: InstallTokens,
    requirements: RequirementsService,
    writer: HeartbeatWriter,
    versions: AgentVersions,
    activity: ActivityLog,
    /// When this instance last took a heartbeat of each machine.
    recent_beats: moka::future::Cache<Uuid, DateTime<Utc>>,
}

/// What a heartbeat needs of its machine row, kept in the shared cache
/// (`hb:<machine id>`) so a steady heartbeat reads nothing from the
/// database. Every change to these fields drops the entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct BeatView {
    client_id: Uuid,
    cert_serial: Option<String>,
    update_channel: String,
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
            update_channel: m.update_channel.clone(),
            arch: m.arch.clone(),
            renewal_requested: m.renewal_requested_at.is_some(),
            force_collect_requested_at: m.force_collect_requested_at,
            offline_notified: m.offline_notified_at.is_some(),
            last_seen: m.last_seen,
        }
    }
}

/// Cache key of a machine's heartbeat view.
pub fn beat_view_key(machine_id: Uuid) -> String {
    format!("hb:{machine_id}")
}

/// A view at most this old is used; admin changes drop it sooner.
const BEAT_VIEW_TTL: Duration = Duration::from_secs(60);

/// A machine silent this long counts as offline until its next heartbeat.
pub const OFFLINE_AFTER: chrono::Duration = chrono::Duration::minutes(5);

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

fn revoked_key(serial: &str) -> String {
    format!("cert:revoked:{serial}")
}

fn valid_key(serial: &str) -> String {
    format!("cert:valid:{serial}")
}

impl Enrolment {
    pub fn new(
        db: Database,
        cache: Arc<dyn Cache>,
        bus: Arc<live::Bus>,
        ca: Arc<CertificateAuthority>,
        tokens: InstallTokens,
        versions: AgentVersions,
        activity: ActivityLog,
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
        }
    }

    pub fn requirements(&self) -> &RequirementsService {
        &self.requirements
    }

    pub fn ca(&self) -> &CertificateAuthority {
        &self.ca
    }

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
        let hardware_id = match req
            .hardware_id
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
        {
            Some(h) => Some(short("hardware_id", h, 255)?),
            None => None,
        };
        let arch = match req.arch.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            Some(a) => Some(short("arch", a, 32)?),
            None => None,
        };
        let now = Utc::now();
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
            .map_err(|e| DomainError::Internal(e.to_string()))?;

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
                    update_channel: Set("stable".into()),
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
            self.mark_revoked_in_cache(&old.serial, old.expires_at).await;
        }
        self.forget_beat_view(machine_id).await;
        if existing.is_none() {
            self.bus
                .publish(live::status(
                    client_id,
                    live::StatusChange {
                        machine_id,
                        hostname: hostname.clone(),
                        status: live::Status::Enrolled,
                        at: now,
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

    /// Refuses a new machine once the tenant has its licence's maximum.
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
        let Some(max) = client.max_machines else {
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

    async fn mark_revoked_in_cache(&self, serial: &str, expires_at: DateTime<Utc>) {
        let ttl = (expires_at - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(3600);
        if let Err(e) = self.cache.set(&revoked_key(serial), "1", ttl).await {
            tracing::warn!(error = %e, "revocation cache write failed; the database still refuses the certificate");
        }
        let _ = self.cache.delete(&valid_key(serial)).await;
        let _ = self.cache.delete(CRL_CACHE_KEY).await;
    }

    /// Whether `serial` is the live certificate of this machine.
    pub async fn certificate_state(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        serial: &str,
    ) -> Result<CertState, DomainError> {
        if let Ok(Some(_)) = self.cache.get(&revoked_key(serial)).await {
            return Ok(CertState::Revoked);
        }
        let owner = format!("{client_id}:{machine_id}");
        if let Ok(Some(cached)) = self.cache.get(&valid_key(serial)).await {
            return Ok(if cached == owner {
                CertState::Valid
            } else {
                CertState::Unknown
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
            return Ok(CertState::Unknown);
        }
        let now = Utc::now();
        match row.revoked_at {
            Some(at) if at <= now => {
                self.mark_revoked_in_cache(serial, row.expires_at).await;
                Ok(CertState::Revoked)
            }
            // Renewed: valid until its grace period ends; cache no longer.
            Some(at) => {
                let ttl = (at - now).to_std().unwrap_or_default().min(VALID_CACHE_TTL);
                let _ = self.cache.set(&valid_key(serial), &owner, ttl).await;
                Ok(CertState::Valid)
            }
            None => {
                let _ = self.cache.set(&valid_key(serial), &owner, VALID_CACHE_TTL).await;
                Ok(CertState::Valid)
            }
        }
    }

    /// One of the tenant's machines.
    async fn machine(&self, client_id: Uuid, machine_id: Uuid) -> Result<machines::Model, DomainError> {
        machines::Entity::find_by_id(machine_id)
            .filter(machines::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("machine"))
    }

    /// The heartbeat view of a machine: from the shared cache, or read
    /// (and cached) when absent or when `fresh` is asked. Returns whether
    /// it was read from the database.
    async fn beat_view(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        fresh: bool,
    ) -> Result<(BeatView, bool), DomainError> {
        let key = beat_view_key(machine_id);
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

    /// Drops a machine's heartbeat view after a change to its row.
    pub async fn forget_beat_view(&self, machine_id: Uuid) {
        let _ = self.cache.delete(&beat_view_key(machine_id)).await;
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

    pub async fn heartbeat(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        serial: &str,
        beat: Heartbeat,
        meta: &RequestMeta,
    ) -> Result<serde_json::Value, DomainError> {
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
        let now = Utc::now();
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
        let hardware_id = match beat
            .hardware_id
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
        {
            Some(hw) => Some(short("hardware_id", hw, 255)?),
            None => None,
        };
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
            self.forget_beat_view(machine_id).await;
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
                    },
                ))
                .await;
        }
        let mut commands = Vec::new();
        if view.renewal_requested {
            commands.push("renew_certificate");
        }
        if view.force_collect_requested_at.is_some() {
            commands.push("force_collect");
        }
        // A machine under load reports more often (its last metrics sample
        // showed CPU > 80% or RAM > 85%).
        let next_interval = match self.cache.get(&crate::domain::ingest::load_key(machine_id)).await {
            Ok(Some(_)) => HEARTBEAT_INTERVAL_UNDER_LOAD,
            _ => HEARTBEAT_INTERVAL_SECONDS,
        };
        let update = match Target::of_machine(&view.update_channel, &beat.os, view.arch.as_deref()) {
            Some(target) => self.versions.update_for(&target, &beat.agent_version).await?,
            None => None,
        };
        Ok(json!({
            "status": "ok",
            "is_os_compliant": compliant,
            "machine_id": machine_id,
            "server_time": now,
            "next_heartbeat_seconds": next_interval,
            "commands": commands,
            "update": update.map(|v| json!({
                "version": v.version,
                "download_url": v.download_url,
                "checksum_sha256": v.checksum_sha256,
                "file_size_bytes": v.file_size_bytes,
                "changelog": v.changelog,
                "channel": v.channel,
            })),
        }))
    }

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
        let now = Utc::now();
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
            .map_err(|e| DomainError::Internal(e.to_string()))?;
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
        self.forget_beat_view(machine_id).await;
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
        channel: &str,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        if !crate::domain::agent_config::versions::CHANNELS.contains(&channel) {
            return Err(DomainError::invalid("channel", "must be stable or beta"));
        }
        let set = [
            (machines::Column::UpdateChannel, Expr::value(channel)),
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
        let now = Utc::now();
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

    /// Applies an admin change to one of the actor's machines (NOT_FOUND
    /// for another tenant's), drops its heartbeat view and records it.
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
        self.forget_beat_view(machine_id).await;
        self.activity
            .record(entry.client(actor.client_id).by(actor.user_id), meta)
            .await;
        Ok(())
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
        let now = Utc::now();
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
        self.forget_beat_view(machine.id).await;
        self.mark_revoked_in_cache(&active.serial, active.expires_at)
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
        if let Ok(Some(b64)) = self.cache.get(CRL_CACHE_KEY).await {
            if let Ok(der) = STANDARD.decode(b64) {
                return Ok(der);
            }
        }
        let revoked = client_certificates::Entity::find()
            .filter(client_certificates::Column::RevokedAt.lte(Utc::now()))
            .filter(client_certificates::Column::ExpiresAt.gt(Utc::now()))
            .all(&self.db.conn)
            .await?;
        let entries: Vec<RevokedEntry> = revoked
            .into_iter()
            .map(|c| RevokedEntry {
                serial: c.serial,
                revoked_at: c.revoked_at.unwrap_or_else(Utc::now),
            })
            .collect();
        let number = Utc::now().timestamp().max(1) as u64;
        let der = self
            .ca
            .crl(&entries, number)
            .map_err(|e| DomainError::Internal(e.to_string()))?;
        let _ = self
            .cache
            .set(CRL_CACHE_KEY, &STANDARD.encode(&der), CRL_CACHE_TTL)
            .await;
        Ok(der)
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

//! Risks detected from a machine's latest collector snapshots (security,
//! patches, services, storage health), and the overrides administrators set
//! on them: accept a risk, or give it another severity.

use super::super::{
    activity::{ActivityLog, Category, Entry, Level as LogLevel, RequestMeta},
    auth::Principal,
    DomainError,
};
use crate::{
    domain::ingest::payloads::{PatchesData, ServicesData, RISKY_PORTS},
    infra::db::Database,
};
use chrono::{DateTime, Utc};
use entities::{enums::RiskLevel, machine_collector_data, risk_overrides};
use sea_orm::{sea_query::OnConflict, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// What an override sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The risk is known and accepted: it no longer counts.
    Accepted,
    Severity(Severity),
}

impl From<Level> for RiskLevel {
    fn from(level: Level) -> Self {
        match level {
            Level::Accepted => Self::Accepted,
            Level::Severity(Severity::Low) => Self::Low,
            Level::Severity(Severity::Medium) => Self::Medium,
            Level::Severity(Severity::High) => Self::High,
            Level::Severity(Severity::Critical) => Self::Critical,
        }
    }
}

impl From<RiskLevel> for Level {
    fn from(level: RiskLevel) -> Self {
        match level {
            RiskLevel::Accepted => Self::Accepted,
            RiskLevel::Low => Self::Severity(Severity::Low),
            RiskLevel::Medium => Self::Severity(Severity::Medium),
            RiskLevel::High => Self::Severity(Severity::High),
            RiskLevel::Critical => Self::Severity(Severity::Critical),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Risk {
    pub key: String,
    pub title: String,
    pub detected: Severity,
    /// After any override; None when accepted.
    pub effective: Option<Severity>,
    pub override_id: Option<Uuid>,
    pub override_reason: Option<String>,
}

fn risk(key: impl Into<String>, title: impl Into<String>, severity: Severity) -> Risk {
    Risk {
        key: key.into(),
        title: title.into(),
        detected: severity,
        effective: Some(severity),
        override_id: None,
        override_reason: None,
    }
}

/// A snapshot decoded as its collector's payload.
fn typed<T: serde::de::DeserializeOwned>(
    snapshots: &[machine_collector_data::Model],
    collector: &str,
) -> Option<T> {
    let s = snapshots.iter().find(|s| s.collector == collector)?;
    serde_json::from_value(s.data.clone()).ok()
}

/// Risks visible in the snapshots, most severe first.
pub fn detect(snapshots: &[machine_collector_data::Model]) -> Vec<Risk> {
    let data = |c: &str| snapshots.iter().find(|s| s.collector == c).map(|s| &s.data);
    let mut out = Vec::new();
    if let Some(sec) = data("security") {
        match sec.get("antivirus").filter(|a| !a.is_null()) {
            None => out.push(risk("antivirus_missing", "No antivirus reported", Severity::High)),
            Some(av) => {
                if av["enabled"] == false {
                    out.push(risk("antivirus_disabled", "Antivirus disabled", Severity::High));
                } else if av["up_to_date"] == false {
                    out.push(risk(
                        "antivirus_outdated",
                        "Antivirus definitions out of date",
                        Severity::Medium,
                    ));
                }
            }
        }
        if sec["firewall_enabled"] == false {
            out.push(risk("firewall_disabled", "Firewall disabled", Severity::High));
        }
        if sec["bitlocker_enabled"] == false {
            out.push(risk(
                "disk_encryption_disabled",
                "Disk encryption (BitLocker) off",
                Severity::Medium,
            ));
        }
        if sec["secure_boot_enabled"] == false {
            out.push(risk("secure_boot_disabled", "Secure Boot off", Severity::Low));
        }
        for port in sec["open_ports"].as_array().into_iter().flatten() {
            let Some(n) = port["port"].as_i64() else { continue };
            if RISKY_PORTS.contains(&(n as i32)) {
                out.push(risk(
                    format!("port:{n}"),
                    format!("Risky port {n} open"),
                    Severity::High,
                ));
            }
        }
    }
    if let Some(p) = typed::<PatchesData>(snapshots, "patches") {
        let pending = &p.pending_updates;
        let security = pending.iter().filter(|u| u.is_security()).count();
        if security > 0 {
            out.push(risk(
                "security_updates_pending",
                format!("{security} security updates pending"),
                Severity::High,
            ));
        } else if !pending.is_empty() {
            out.push(risk(
                "updates_pending",
                format!("{} updates pending", pending.len()),
                Severity::Low,
            ));
        }
        if p.reboot_required {
            out.push(risk("reboot_required", "Reboot required", Severity::Low));
        }
    }
    if let Some(s) = typed::<ServicesData>(snapshots, "services") {
        let failed = s.services.iter().filter(|svc| svc.is_failed()).count();
        if failed > 0 {
            out.push(risk(
                "services_failed",
                format!("{failed} services failed"),
                Severity::Medium,
            ));
        }
    }
    if let Some(h) = data("storage_health") {
        for d in h["disks"].as_array().into_iter().flatten() {
            let device = d["device"].as_str().unwrap_or_default();
            let severity = if d["predicted_failure"] == true || d["smart_status"] == "critical" {
                Some(Severity::Critical)
            } else if d["smart_status"] == "warning" {
                Some(Severity::Medium)
            } else {
                None
            };
            if let Some(sev) = severity {
                out.push(risk(
                    format!("smart:{device}"),
                    format!("Disk {device} health degraded"),
                    sev,
                ));
            }
        }
    }
    out.sort_by(|a, b| b.detected.cmp(&a.detected).then_with(|| a.key.cmp(&b.key)));
    out
}

/// Applies the machine's live overrides to detected risks.
pub fn apply(mut risks: Vec<Risk>, overrides: &[risk_overrides::Model], now: DateTime<Utc>) -> Vec<Risk> {
    let live: HashMap<&str, &risk_overrides::Model> = overrides
        .iter()
        .filter(|o| o.expires_at.is_none_or(|at| at > now))
        .map(|o| (o.risk_key.as_str(), o))
        .collect();
    for r in &mut risks {
        if let Some(o) = live.get(r.key.as_str()) {
            r.override_id = Some(o.id);
            r.override_reason = Some(o.reason.clone());
            r.effective = match Level::from(o.level) {
                Level::Accepted => None,
                Level::Severity(s) => Some(s),
            };
        }
    }
    risks
}

#[derive(Clone, Debug)]
pub struct OverrideInput {
    pub risk_key: String,
    pub level: Level,
    pub reason: String,
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct RiskOverrides {
    db: Database,
    activity: ActivityLog,
}

impl RiskOverrides {
    pub fn new(db: Database, activity: ActivityLog) -> Self {
        Self { db, activity }
    }

    async fn log(&self, actor: &Principal, meta: &RequestMeta, message: String, o: &risk_overrides::Model) {
        let entry = Entry::new(LogLevel::Info, Category::Machine, message)
            .client(actor.client_id)
            .metadata(serde_json::json!({ "override_id": o.id, "machine_id": o.machine_id, "risk_key": o.risk_key, "level": entities::enums::Stored::stored(&o.level), "reason": o.reason }))
            .by(actor.user_id);
        self.activity.record(entry, meta).await;
    }

    /// Overrides of each machine (batch; callers scope the ids).
    pub async fn of_machines(
        &self,
        machine_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, Vec<risk_overrides::Model>>, DomainError> {
        let rows = risk_overrides::Entity::find()
            .filter(risk_overrides::Column::MachineId.is_in(machine_ids.iter().copied()))
            .order_by_asc(risk_overrides::Column::RiskKey)
            .all(&self.db.conn)
            .await?;
        Ok(super::by_machine(rows, |r| r.machine_id))
    }

    /// Creates or replaces the override of one risk of one of the actor's
    /// machines (`machine_id` already checked to belong to the tenant).
    pub async fn set(
        &self,
        actor: &Principal,
        machine_id: Uuid,
        input: OverrideInput,
        meta: &RequestMeta,
    ) -> Result<risk_overrides::Model, DomainError> {
        let key = input.risk_key.trim();
        if key.is_empty() || key.chars().count() > 100 || key.chars().any(char::is_whitespace) {
            return Err(DomainError::invalid(
                "riskKey",
                "must be 1-100 characters without spaces",
            ));
        }
        if input.reason.chars().count() > 500 {
            return Err(DomainError::invalid("reason", "must be at most 500 characters"));
        }
        let now = Utc::now();
        if input.expires_at.is_some_and(|at| at <= now) {
            return Err(DomainError::invalid("expiresAt", "must be in the future"));
        }
        use risk_overrides::Column as C;
        risk_overrides::Entity::insert(risk_overrides::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(actor.client_id),
            machine_id: Set(machine_id),
            risk_key: Set(key.to_owned()),
            level: Set(input.level.into()),
            reason: Set(input.reason.trim().to_owned()),
            expires_at: Set(input.expires_at),
            created_by: Set(actor.user_id),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([C::MachineId, C::RiskKey])
                .update_columns([C::Level, C::Reason, C::ExpiresAt, C::CreatedBy, C::UpdatedAt])
                .to_owned(),
        )
        .exec_without_returning(&self.db.conn)
        .await?;
        let o = risk_overrides::Entity::find()
            .filter(C::MachineId.eq(machine_id))
            .filter(C::RiskKey.eq(key))
            .one(&self.db.conn)
            .await?
            .ok_or_else(|| DomainError::invariant("override vanished after upsert"))?;
        self.log(
            actor,
            meta,
            format!("Dérogation de risque posée : {}", o.risk_key),
            &o,
        )
        .await;
        Ok(o)
    }

    pub async fn delete(&self, actor: &Principal, id: Uuid, meta: &RequestMeta) -> Result<(), DomainError> {
        let o = risk_overrides::Entity::find_by_id(id)
            .filter(risk_overrides::Column::ClientId.eq(actor.client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("risk override"))?;
        let done = risk_overrides::Entity::delete_many()
            .filter(risk_overrides::Column::Id.eq(id))
            .filter(risk_overrides::Column::ClientId.eq(actor.client_id))
            .exec(&self.db.conn)
            .await?;
        if done.rows_affected == 0 {
            return Err(DomainError::NotFound("risk override"));
        }
        self.log(
            actor,
            meta,
            format!("Dérogation de risque levée : {}", o.risk_key),
            &o,
        )
        .await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn snap(collector: &str, data: Value) -> machine_collector_data::Model {
        machine_collector_data::Model {
            machine_id: Uuid::nil(),
            collector: collector.into(),
            client_id: Uuid::nil(),
            data,
            collected_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn detects_and_overrides() {
        let snaps = [
            snap(
                "security",
                json!({ "antivirus": { "name": "X", "enabled": false }, "firewall_enabled": true, "open_ports": [{ "port": 3389 }, { "port": 443 }] }),
            ),
            snap(
                "storage_health",
                json!({ "disks": [{ "device": "sda", "smart_status": "healthy", "predicted_failure": true }] }),
            ),
        ];
        let risks = detect(&snaps);
        let keys: Vec<&str> = risks.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["smart:sda", "antivirus_disabled", "port:3389"]);
        let o = risk_overrides::Model {
            id: Uuid::now_v7(),
            client_id: Uuid::nil(),
            machine_id: Uuid::nil(),
            risk_key: "port:3389".into(),
            level: RiskLevel::Accepted,
            reason: "jump host".into(),
            expires_at: None,
            created_by: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let applied = apply(risks, &[o], Utc::now());
        assert_eq!(applied[2].effective, None);
        assert_eq!(applied[1].effective, Some(Severity::High));
    }
}

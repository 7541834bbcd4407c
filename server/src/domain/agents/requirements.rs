//! OS prerequisites and the compliance rule applied at every heartbeat:
//! Windows builds are parsed from `os_version` ("Build 22631",
//! "10.0.22631") and compared with the client or server minimum; Linux is
//! compliant while enabled; anything unparseable is compliant (fail-safe).

use super::keys;
use crate::{
    domain::{
        windows_builds::{self, endoflife::OsType},
        DomainError,
    },
    infra::{cache::Cache, db::Database},
};
use chrono::{DateTime, Utc};
use entities::agent_requirements;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel, QueryOrder};
use serde::{Deserialize, Serialize};
use std::{sync::Arc, time::Duration};

const CACHE_TTL: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirements {
    pub windows_client_enabled: bool,
    pub windows_client_min_build: i32,
    pub windows_server_enabled: bool,
    pub windows_server_min_build: i32,
    pub linux_enabled: bool,
    pub unsupported_os_message: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<agent_requirements::Model> for Requirements {
    fn from(m: agent_requirements::Model) -> Self {
        Self {
            windows_client_enabled: m.windows_client_enabled,
            windows_client_min_build: m.windows_client_min_build,
            windows_server_enabled: m.windows_server_enabled,
            windows_server_min_build: m.windows_server_min_build,
            linux_enabled: m.linux_enabled,
            unsupported_os_message: m.unsupported_os_message,
            updated_at: m.updated_at,
        }
    }
}

/// Changes to apply; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct RequirementChanges {
    pub windows_client_enabled: Option<bool>,
    pub windows_client_min_build: Option<i32>,
    pub windows_server_enabled: Option<bool>,
    pub windows_server_min_build: Option<i32>,
    pub linux_enabled: Option<bool>,
    pub unsupported_os_message: Option<Option<String>>,
}

/// The Windows build number in an OS version string, if any.
pub fn parse_build(os_version: &str) -> Option<u32> {
    let digits_after = |marker: &str| {
        let lower = os_version.to_ascii_lowercase();
        let start = lower.find(marker)? + marker.len();
        let digits: String = lower[start..]
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse::<u32>().ok()
    };
    digits_after("build").or_else(|| digits_after("10.0."))
}

pub fn is_compliant(req: &Requirements, os: &str, os_version: &str) -> bool {
    let os_l = os.to_ascii_lowercase();
    if os_l.contains("linux") {
        return req.linux_enabled;
    }
    if !os_l.contains("windows") {
        return true;
    }
    let server = os_version.to_ascii_lowercase().contains("server") || os_l.contains("server");
    let (enabled, min) = if server {
        (req.windows_server_enabled, req.windows_server_min_build)
    } else {
        (req.windows_client_enabled, req.windows_client_min_build)
    };
    if !enabled {
        return false;
    }
    match parse_build(os_version) {
        None | Some(0) => true,
        Some(build) => min <= 0 || build >= min as u32,
    }
}

#[derive(Clone)]
pub struct RequirementsService {
    db: Database,
    cache: Arc<dyn Cache>,
}

impl RequirementsService {
    pub fn new(db: Database, cache: Arc<dyn Cache>) -> Self {
        Self { db, cache }
    }

    async fn row(&self) -> Result<agent_requirements::Model, DomainError> {
        agent_requirements::Entity::find()
            .order_by_asc(agent_requirements::Column::Id)
            .one(&self.db.conn)
            .await?
            .ok_or_else(|| DomainError::invariant("agent_requirements row missing"))
    }

    /// Current requirements, cached 5 minutes (shared cache).
    pub async fn get(&self) -> Result<Requirements, DomainError> {
        if let Ok(Some(json)) = self.cache.get(keys::REQUIREMENTS).await {
            if let Ok(req) = serde_json::from_str(&json) {
                return Ok(req);
            }
        }
        let req = Requirements::from(self.row().await?);
        if let Ok(json) = serde_json::to_string(&req) {
            let _ = self.cache.set(keys::REQUIREMENTS, &json, CACHE_TTL).await;
        }
        Ok(req)
    }

    pub async fn update(&self, changes: RequirementChanges) -> Result<Requirements, DomainError> {
        for (field, value) in [
            ("windowsClientMinBuild", changes.windows_client_min_build),
            ("windowsServerMinBuild", changes.windows_server_min_build),
        ] {
            if value.is_some_and(|v| !(0..=1_000_000).contains(&v)) {
                return Err(DomainError::invalid(field, "must be between 0 and 1000000"));
            }
        }
        for (field, os, value) in [
            (
                "windowsClientMinBuild",
                OsType::Client,
                changes.windows_client_min_build,
            ),
            (
                "windowsServerMinBuild",
                OsType::Server,
                changes.windows_server_min_build,
            ),
        ] {
            if let Some(build) = value.filter(|v| *v > 0) {
                if !windows_builds::is_known(&self.db.conn, os, build).await? {
                    return Err(DomainError::invalid(
                        field,
                        format!(
                            "{build} is not a known Windows {} build (see windowsBuilds)",
                            os.as_str()
                        ),
                    ));
                }
            }
        }
        if let Some(Some(m)) = &changes.unsupported_os_message {
            if m.chars().count() > 2000 {
                return Err(DomainError::invalid(
                    "unsupportedOsMessage",
                    "must be at most 2000 characters",
                ));
            }
        }
        let mut row = self.row().await?.into_active_model();
        if let Some(v) = changes.windows_client_enabled {
            row.windows_client_enabled = Set(v);
        }
        if let Some(v) = changes.windows_client_min_build {
            row.windows_client_min_build = Set(v);
        }
        if let Some(v) = changes.windows_server_enabled {
            row.windows_server_enabled = Set(v);
        }
        if let Some(v) = changes.windows_server_min_build {
            row.windows_server_min_build = Set(v);
        }
        if let Some(v) = changes.linux_enabled {
            row.linux_enabled = Set(v);
        }
        if let Some(v) = changes.unsupported_os_message {
            row.unsupported_os_message = Set(v);
        }
        row.updated_at = Set(Utc::now());
        let updated = row.update(&self.db.conn).await?;
        let _ = self.cache.delete(keys::REQUIREMENTS).await;
        Ok(updated.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(client_min: i32, server_min: i32) -> Requirements {
        Requirements {
            windows_client_enabled: true,
            windows_client_min_build: client_min,
            windows_server_enabled: true,
            windows_server_min_build: server_min,
            linux_enabled: true,
            unsupported_os_message: None,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn builds_are_parsed_and_compared_per_edition() {
        assert_eq!(parse_build("Microsoft Windows 11 Pro Build 22631"), Some(22631));
        assert_eq!(parse_build("10.0.17763"), Some(17763));
        assert_eq!(parse_build("Debian 12"), None);
        let r = req(19041, 17763);
        assert!(is_compliant(&r, "windows", "Windows 10 Pro 10.0.19045"));
        assert!(!is_compliant(&r, "windows", "Windows 10 LTSC 10.0.17763"));
        assert!(is_compliant(&r, "windows", "Windows Server 2019 Build 17763"));
        assert!(!is_compliant(&r, "windows", "Windows Server 2016 Build 14393"));
        assert!(
            is_compliant(&r, "windows", "Windows (unknown)"),
            "unparseable is compliant"
        );
        assert!(is_compliant(&r, "linux", "Debian 12"));
        let mut no_linux = req(0, 0);
        no_linux.linux_enabled = false;
        assert!(!is_compliant(&no_linux, "linux", "Debian 12"));
        assert!(is_compliant(&no_linux, "darwin", "14.1"));
    }
}

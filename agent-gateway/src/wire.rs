//! The agent contract: every body an agent sends or receives, as Rust
//! types. [`crate::AgentBackend`] speaks only these, and the OpenAPI
//! document (`openapi.json`) is generated from them.
//!
//! Response fields are declared in alphabetical order where the server
//! used to write a JSON map (serde_json sorts map keys), so the bytes on
//! the wire are the ones agents in the field already parse. Responses do
//! not deny unknown fields: an agent built on these types keeps working
//! when a later server adds one.

use crate::GatewayErrorCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// `POST /api/public/bootstrap`: enrolment with an install token.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BootstrapRequest {
    /// An install token's secret (`createInstallToken`).
    pub token: String,
    /// RFC 1123 host name.
    pub hostname: String,
    /// Stable hardware identifier; a re-enrolment with the same one keeps
    /// the machine.
    #[serde(default)]
    pub hardware_id: Option<String>,
    /// `windows` or `linux` (free text, matched on those words).
    pub os: String,
    pub os_version: String,
    /// `amd64` or `arm64` (`x86_64`, `x64` and `aarch64` are understood).
    #[serde(default)]
    pub arch: Option<String>,
}

/// The enrolled machine's identity: its certificate (CN
/// `client_id:machine_id`), private key and our CA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BootstrapResponse {
    /// PEM.
    pub certificate: String,
    /// PEM (PKCS#8).
    pub private_key: String,
    /// PEM; the gateway's server certificate chains to it.
    pub ca_certificate: String,
    pub machine_id: Uuid,
    pub client_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// `POST /agent/certificate/renew` answer: a new key pair and certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RenewResponse {
    pub certificate: String,
    pub private_key: String,
    pub ca_certificate: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /agent/heartbeat`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatRequest {
    pub hostname: String,
    #[serde(default)]
    pub hardware_id: Option<String>,
    pub os: String,
    pub os_version: String,
    /// The machine's own address; the connection's when absent.
    #[serde(default)]
    pub ip: Option<String>,
    pub agent_version: String,
}

/// Always `ok` in a 200 answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Ack {
    Ok,
}

/// What the server asks of the agent in a heartbeat answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentCommand {
    /// Call `POST /agent/certificate/renew` now, whatever the expiry date.
    RenewCertificate,
    /// Run every collector once now.
    ForceCollect,
}

/// `POST /agent/heartbeat` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatResponse {
    pub commands: Vec<AgentCommand>,
    /// Whether the OS meets the prerequisites (`GET /agent/requirements`).
    pub is_os_compliant: bool,
    pub machine_id: Uuid,
    /// 60, or 30 while the last metrics sample showed CPU > 80% or
    /// RAM > 85%.
    pub next_heartbeat_seconds: u32,
    pub server_time: DateTime<Utc>,
    pub status: Ack,
    /// A newer build for the machine's channel, platform and architecture.
    #[schema(required = true)]
    pub update: Option<UpdateOffer>,
}

/// The build a heartbeat answer offers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UpdateOffer {
    pub changelog: String,
    pub channel: String,
    pub checksum_sha256: String,
    pub download_url: String,
    pub file_size_bytes: i64,
    pub version: String,
}

/// `POST /agent/collect`: one collector's sample.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CollectRequest {
    /// Which collector took the sample.
    #[schema(value_type = CollectorKind)]
    pub collector: String,
    /// When the agent took the sample; the server's time when absent. At
    /// most 5 minutes ahead of the server's clock.
    #[serde(default)]
    pub collected_at: Option<DateTime<Utc>>,
    /// The collector's payload; checked whole, a bad field answers 400
    /// naming it. Kept as the text the agent sent: the server decodes it
    /// once, straight into the collector's type.
    #[schema(value_type = Object)]
    pub data: Box<serde_json::value::RawValue>,
}

/// The eight collectors an agent runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CollectorKind {
    Metrics,
    Storage,
    StorageHealth,
    Network,
    Services,
    Security,
    Software,
    Patches,
}

/// `POST /agent/collect` answer, once the sample is committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CollectResponse {
    pub collected_at: DateTime<Utc>,
    pub collector: CollectorKind,
    pub status: Ack,
}

/// One collector's effective setting for the machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CollectorInterval {
    pub enabled: bool,
    /// Seconds, within the collector's bounds.
    pub interval: i32,
    #[serde(rename = "type")]
    pub kind: CollectorKind,
}

/// Where the effective intervals come from: the most specific setting
/// that contributed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConfigSource {
    Default,
    ClientSetting,
    GroupSetting,
    LabelSetting,
    MachineSetting,
}

/// `GET /agent/config/collectors` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CollectorsConfig {
    /// All eight collectors.
    pub collectors: Vec<CollectorInterval>,
    #[schema(required = true)]
    pub setting_id: Option<Uuid>,
    #[schema(required = true)]
    pub setting_name: Option<String>,
    pub source: ConfigSource,
}

/// `GET /agent/config` answer: what the agent should know of its
/// server-side settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentConfig {
    #[schema(required = true)]
    pub certificate_expires_at: Option<DateTime<Utc>>,
    pub client_id: Uuid,
    pub collectors: Vec<CollectorInterval>,
    pub heartbeat_interval_seconds: u32,
    pub hostname: String,
    pub machine_id: Uuid,
    pub maintenance_mode: bool,
    #[schema(required = true)]
    pub maintenance_until: Option<DateTime<Utc>>,
    /// Renewal opens this many days before expiry.
    pub renewal_window_days: i64,
    pub server_time: DateTime<Utc>,
    /// `stable` or `beta`.
    pub update_channel: String,
}

/// `?channel=&platform=&architecture=` of the latest-version routes.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// `stable` or `beta`; the machine's channel (agent route) or stable.
    pub channel: Option<String>,
    /// `windows` or `linux`; the machine's (agent route) or windows.
    pub platform: Option<String>,
    /// `amd64` or `arm64`; the machine's (agent route) or amd64.
    pub architecture: Option<String>,
}

/// A published agent build.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgentVersionInfo {
    pub architecture: String,
    pub changelog: String,
    pub channel: String,
    pub checksum_sha256: String,
    pub created_at: DateTime<Utc>,
    pub download_url: String,
    pub file_size_bytes: i64,
    pub id: Uuid,
    pub is_active: bool,
    pub platform: String,
    pub version: String,
}

/// `GET /agent/requirements` answer: the OS prerequisites.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Requirements {
    pub linux_enabled: bool,
    /// Shown by installers on an OS that does not qualify.
    #[schema(required = true)]
    pub unsupported_os_message: Option<String>,
    pub updated_at: DateTime<Utc>,
    pub windows_client_enabled: bool,
    pub windows_client_min_build: i32,
    pub windows_server_enabled: bool,
    pub windows_server_min_build: i32,
}

/// Every error answer, on every route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What was wrong, for people (a 400 names the field).
    pub error: String,
    pub code: GatewayErrorCode,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The typed answers write exactly the bytes the server wrote when it
    /// built them as JSON maps.
    #[test]
    fn answers_keep_their_bytes() {
        let at: DateTime<Utc> = "2026-01-02T03:04:05.123456789Z".parse().unwrap();
        let id = Uuid::now_v7();
        let typed = HeartbeatResponse {
            commands: vec![AgentCommand::RenewCertificate, AgentCommand::ForceCollect],
            is_os_compliant: true,
            machine_id: id,
            next_heartbeat_seconds: 60,
            server_time: at,
            status: Ack::Ok,
            update: Some(UpdateOffer {
                changelog: "fixes".into(),
                channel: "beta".into(),
                checksum_sha256: "ab".repeat(32),
                download_url: "https://example.com/a".into(),
                file_size_bytes: 42,
                version: "2.0.0".into(),
            }),
        };
        let legacy = json!({
            "status": "ok",
            "is_os_compliant": true,
            "machine_id": id,
            "server_time": at,
            "next_heartbeat_seconds": 60,
            "commands": ["renew_certificate", "force_collect"],
            "update": {
                "version": "2.0.0",
                "download_url": "https://example.com/a",
                "checksum_sha256": "ab".repeat(32),
                "file_size_bytes": 42,
                "changelog": "fixes",
                "channel": "beta",
            },
        });
        assert_eq!(
            serde_json::to_string(&typed).unwrap(),
            serde_json::to_string(&legacy).unwrap()
        );
        let none = HeartbeatResponse {
            update: None,
            commands: vec![],
            ..typed
        };
        assert!(serde_json::to_string(&none)
            .unwrap()
            .starts_with(r#"{"commands":[],"#));
        assert!(serde_json::to_string(&none)
            .unwrap()
            .ends_with(r#""update":null}"#));

        let collectors = CollectorsConfig {
            collectors: vec![CollectorInterval {
                enabled: true,
                interval: 10,
                kind: CollectorKind::StorageHealth,
            }],
            setting_id: None,
            setting_name: None,
            source: ConfigSource::Default,
        };
        let legacy = json!({
            "collectors": [{ "type": "storage_health", "enabled": true, "interval": 10 }],
            "source": "default",
            "setting_id": null,
            "setting_name": null,
        });
        assert_eq!(
            serde_json::to_string(&collectors).unwrap(),
            serde_json::to_string(&legacy).unwrap()
        );
    }
}

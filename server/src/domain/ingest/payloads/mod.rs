//! The eight collectors' payloads as agents send them, checked whole
//! before anything is stored: wrong types and out-of-range values are
//! refused with the path of the offending field (`data.disks[1].used_gb`).
//!
//! This file holds the payload types (the spec's shapes); `check` decodes
//! and range-checks them.

mod check;

pub use check::{check_time, MAX_CLOCK_SKEW};

use crate::domain::collectors::Collector;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest list accepted per payload (services, software, events, ...).
pub const MAX_ITEMS: usize = 10_000;
const MAX_DISKS: usize = 256;
const MAX_TEXT: usize = 1_000;
const MAX_MESSAGE: usize = 8_000;

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct MetricsData {
    pub cpu_percent: f64,
    pub ram_percent: f64,
    pub uptime_seconds: i64,
    #[serde(default)]
    pub cpu_temp: Option<f64>,
    #[serde(default)]
    pub ram_used_bytes: Option<i64>,
    #[serde(default)]
    pub ram_total_bytes: Option<i64>,
    /// Average disk request latency over the sample, ms.
    #[serde(default)]
    pub disk_latency_ms: Option<f64>,
    /// Share of CPU time spent waiting on IO over the sample.
    #[serde(default)]
    pub io_wait_percent: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct DiskUsage {
    pub mount_point: String,
    #[serde(default)]
    pub device: String,
    #[serde(default)]
    pub fs_type: String,
    pub total_gb: f64,
    pub used_gb: f64,
    /// Computed from used/total when absent.
    #[serde(default)]
    pub used_percent: Option<f64>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub interface: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct StorageData {
    pub disks: Vec<DiskUsage>,
}

/// The spec's SmartDiskInfo.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SmartDiskInfo {
    pub device: String,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default)]
    pub firmware: Option<String>,
    pub smart_status: String,
    #[serde(default)]
    pub is_virtual: bool,
    #[serde(default)]
    pub overall_health_test: Option<String>,
    #[serde(default)]
    pub temperature: Option<i32>,
    #[serde(default)]
    pub power_on_hours: Option<i64>,
    #[serde(default)]
    pub power_cycle_count: Option<i64>,
    #[serde(default)]
    pub reallocated_sectors: Option<i64>,
    #[serde(default)]
    pub current_pending_sectors: Option<i64>,
    #[serde(default)]
    pub offline_uncorrectable: Option<i64>,
    #[serde(default)]
    pub predicted_failure: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct StorageHealthData {
    pub disks: Vec<SmartDiskInfo>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct NetworkInterface {
    pub name: String,
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(default)]
    pub is_up: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct NetworkData {
    /// Bytes received and sent since the previous sample.
    #[serde(default)]
    pub bytes_recv: Option<i64>,
    #[serde(default)]
    pub bytes_sent: Option<i64>,
    #[serde(default)]
    pub packet_loss: Option<f64>,
    #[serde(default)]
    pub latency_ms: Option<f64>,
    #[serde(default)]
    pub interfaces: Vec<NetworkInterface>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ServiceInfo {
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    /// running, stopped, failed, ...
    pub status: String,
    /// auto, manual, disabled
    #[serde(default)]
    pub start_type: Option<String>,
}

impl ServiceInfo {
    /// Failed, or meant to start automatically and not running.
    pub fn is_failed(&self) -> bool {
        let status = self.status.to_ascii_lowercase();
        let auto = self
            .start_type
            .as_deref()
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("auto"));
        status == "failed" || (auto && status == "stopped")
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ServicesData {
    pub services: Vec<ServiceInfo>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AntivirusInfo {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub up_to_date: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct OpenPort {
    pub port: i32,
    #[serde(default = "tcp")]
    pub protocol: String,
    #[serde(default)]
    pub process: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
}

fn tcp() -> String {
    "tcp".into()
}

/// Ports whose exposure the dashboard flags.
pub const RISKY_PORTS: &[i32] = &[
    21, 23, 135, 137, 139, 445, 1433, 3306, 3389, 5432, 5900, 6379, 9200, 27017,
];

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct EventLogEntry {
    pub log_name: String,
    pub source: String,
    pub event_id: i64,
    /// critical, error, warning, information
    pub level: String,
    #[serde(default)]
    pub message: String,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SecurityData {
    #[serde(default)]
    pub antivirus: Option<AntivirusInfo>,
    #[serde(default)]
    pub firewall_enabled: Option<bool>,
    #[serde(default)]
    pub bitlocker_enabled: Option<bool>,
    #[serde(default)]
    pub secure_boot_enabled: Option<bool>,
    #[serde(default)]
    pub open_ports: Vec<OpenPort>,
    /// Recent system events, appended to `event_logs`.
    #[serde(default)]
    pub event_logs: Vec<EventLogEntry>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SoftwareInfo {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub publisher: Option<String>,
    #[serde(default)]
    pub install_date: Option<String>,
}

/// The spec's UserInfoData.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct UserInfoData {
    pub username: String,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub is_admin: bool,
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub last_logon: Option<String>,
    #[serde(default)]
    pub groups: Option<Vec<String>>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SoftwareData {
    #[serde(default)]
    pub software: Vec<SoftwareInfo>,
    #[serde(default)]
    pub users: Vec<UserInfoData>,
}

/// The spec's PendingUpdateInfo.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PendingUpdateInfo {
    pub title: String,
    #[serde(default)]
    pub kb: Option<String>,
    /// Security, Critical, Definition, Other
    pub category: String,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub is_important: bool,
}

impl PendingUpdateInfo {
    pub fn is_security(&self) -> bool {
        self.is_important
            || matches!(
                self.category.to_ascii_lowercase().as_str(),
                "security" | "critical"
            )
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PatchesData {
    #[serde(default)]
    pub pending_updates: Vec<PendingUpdateInfo>,
    #[serde(default)]
    pub reboot_required: bool,
    #[serde(default)]
    pub auto_update_enabled: Option<bool>,
    #[serde(default)]
    pub last_check: Option<DateTime<Utc>>,
}

/// A checked payload.
#[derive(Clone, Debug)]
pub enum Payload {
    Metrics(MetricsData),
    Storage(StorageData),
    StorageHealth(StorageHealthData),
    Network(NetworkData),
    Services(ServicesData),
    Security(SecurityData),
    Software(SoftwareData),
    Patches(PatchesData),
}

impl Payload {
    pub fn collector(&self) -> Collector {
        match self {
            Self::Metrics(_) => Collector::Metrics,
            Self::Storage(_) => Collector::Storage,
            Self::StorageHealth(_) => Collector::StorageHealth,
            Self::Network(_) => Collector::Network,
            Self::Services(_) => Collector::Services,
            Self::Security(_) => Collector::Security,
            Self::Software(_) => Collector::Software,
            Self::Patches(_) => Collector::Patches,
        }
    }

    /// A stored snapshot read back as its collector's payload.
    pub fn from_snapshot(collector: Collector, data: &Value) -> Result<Self, serde_json::Error> {
        let d = data.clone();
        Ok(match collector {
            Collector::Metrics => Self::Metrics(serde_json::from_value(d)?),
            Collector::Storage => Self::Storage(serde_json::from_value(d)?),
            Collector::StorageHealth => Self::StorageHealth(serde_json::from_value(d)?),
            Collector::Network => Self::Network(serde_json::from_value(d)?),
            Collector::Services => Self::Services(serde_json::from_value(d)?),
            Collector::Security => Self::Security(serde_json::from_value(d)?),
            Collector::Software => Self::Software(serde_json::from_value(d)?),
            Collector::Patches => Self::Patches(serde_json::from_value(d)?),
        })
    }

    /// The normalised payload kept as the collector's snapshot.
    pub fn to_json(&self) -> Value {
        let v = match self {
            Self::Metrics(d) => serde_json::to_value(d),
            Self::Storage(d) => serde_json::to_value(d),
            Self::StorageHealth(d) => serde_json::to_value(d),
            Self::Network(d) => serde_json::to_value(d),
            Self::Services(d) => serde_json::to_value(d),
            Self::Security(d) => serde_json::to_value(d),
            Self::Software(d) => serde_json::to_value(d),
            Self::Patches(d) => serde_json::to_value(d),
        };
        v.unwrap_or(Value::Null)
    }
}

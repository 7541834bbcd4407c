//! The eight collectors' payloads as agents send them, checked whole
//! before anything is stored: wrong types and out-of-range values are
//! refused with the path of the offending field (`data.disks[1].used_gb`).

use crate::domain::{collectors::Collector, DomainError};
use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
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

fn parse<T: DeserializeOwned>(data: Value) -> Result<T, DomainError> {
    serde_path_to_error::deserialize(data).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "data".to_owned()
        } else {
            format!("data.{path}")
        };
        DomainError::invalid(field, e.into_inner().to_string())
    })
}

/// Field-path aware range checks.
struct Check {
    prefix: String,
}

impl Check {
    fn at(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    fn field(&self, name: &str) -> String {
        format!("{}.{name}", self.prefix)
    }

    fn range(&self, name: &str, v: f64, min: f64, max: f64) -> Result<(), DomainError> {
        if !v.is_finite() || v < min || v > max {
            return Err(DomainError::invalid(
                self.field(name),
                format!("must be between {min} and {max}"),
            ));
        }
        Ok(())
    }

    fn opt_range(&self, name: &str, v: Option<f64>, min: f64, max: f64) -> Result<(), DomainError> {
        v.map_or(Ok(()), |v| self.range(name, v, min, max))
    }

    fn non_negative(&self, name: &str, v: Option<i64>) -> Result<(), DomainError> {
        match v {
            Some(n) if n < 0 => Err(DomainError::invalid(self.field(name), "must not be negative")),
            _ => Ok(()),
        }
    }

    fn text(&self, name: &str, v: &str, required: bool, max: usize) -> Result<(), DomainError> {
        if required && v.trim().is_empty() {
            return Err(DomainError::invalid(self.field(name), "is required"));
        }
        if v.chars().count() > max {
            return Err(DomainError::invalid(
                self.field(name),
                format!("must be at most {max} characters"),
            ));
        }
        Ok(())
    }

    fn opt_text(&self, name: &str, v: &Option<String>, max: usize) -> Result<(), DomainError> {
        v.as_deref().map_or(Ok(()), |t| self.text(name, t, false, max))
    }

    fn items<T>(&self, name: &str, list: &[T], max: usize) -> Result<(), DomainError> {
        if list.len() > max {
            return Err(DomainError::invalid(
                self.field(name),
                format!("at most {max} items"),
            ));
        }
        Ok(())
    }

    fn nth(&self, name: &str, i: usize) -> Check {
        Check::at(format!("{}.{name}[{i}]", self.prefix))
    }
}

const SMART_STATUSES: &[&str] = &["healthy", "warning", "critical", "virtual", "unavailable"];
const EVENT_LEVELS: &[&str] = &["critical", "error", "warning", "information", "verbose"];

impl Payload {
    /// Decodes and checks `data` for `collector`.
    pub fn parse(collector: Collector, data: Value, now: DateTime<Utc>) -> Result<Self, DomainError> {
        let c = Check::at("data");
        let payload = match collector {
            Collector::Metrics => {
                let m: MetricsData = parse(data)?;
                c.range("cpu_percent", m.cpu_percent, 0.0, 100.0)?;
                c.range("ram_percent", m.ram_percent, 0.0, 100.0)?;
                c.non_negative("uptime_seconds", Some(m.uptime_seconds))?;
                c.opt_range("cpu_temp", m.cpu_temp, -50.0, 150.0)?;
                c.non_negative("ram_used_bytes", m.ram_used_bytes)?;
                c.non_negative("ram_total_bytes", m.ram_total_bytes)?;
                Self::Metrics(m)
            }
            Collector::Storage => {
                let mut s: StorageData = parse(data)?;
                c.items("disks", &s.disks, MAX_DISKS)?;
                for (i, d) in s.disks.iter_mut().enumerate() {
                    let c = c.nth("disks", i);
                    c.text("mount_point", &d.mount_point, true, 255)?;
                    c.text("device", &d.device, false, 255)?;
                    c.text("fs_type", &d.fs_type, false, 50)?;
                    c.range("total_gb", d.total_gb, 0.0, 1e9)?;
                    c.range("used_gb", d.used_gb, 0.0, 1e9)?;
                    c.opt_range("used_percent", d.used_percent, 0.0, 100.0)?;
                    c.opt_text("model", &d.model, 255)?;
                    c.opt_text("interface", &d.interface, 50)?;
                    if d.used_gb > d.total_gb {
                        return Err(DomainError::invalid(
                            c.field("used_gb"),
                            "must not exceed total_gb",
                        ));
                    }
                    if d.used_percent.is_none() {
                        d.used_percent = Some(if d.total_gb > 0.0 {
                            d.used_gb / d.total_gb * 100.0
                        } else {
                            0.0
                        });
                    }
                }
                Self::Storage(s)
            }
            Collector::StorageHealth => {
                let s: StorageHealthData = parse(data)?;
                c.items("disks", &s.disks, MAX_DISKS)?;
                for (i, d) in s.disks.iter().enumerate() {
                    let c = c.nth("disks", i);
                    c.text("device", &d.device, true, 255)?;
                    if !SMART_STATUSES.contains(&d.smart_status.as_str()) {
                        return Err(DomainError::invalid(
                            c.field("smart_status"),
                            format!("must be one of {}", SMART_STATUSES.join(", ")),
                        ));
                    }
                    c.opt_text("model", &d.model, 255)?;
                    c.opt_text("serial", &d.serial, 255)?;
                    c.opt_text("firmware", &d.firmware, 100)?;
                    c.opt_text("overall_health_test", &d.overall_health_test, 100)?;
                    c.opt_range("temperature", d.temperature.map(f64::from), -50.0, 150.0)?;
                    c.non_negative("power_on_hours", d.power_on_hours)?;
                    c.non_negative("power_cycle_count", d.power_cycle_count)?;
                    c.non_negative("reallocated_sectors", d.reallocated_sectors)?;
                    c.non_negative("current_pending_sectors", d.current_pending_sectors)?;
                    c.non_negative("offline_uncorrectable", d.offline_uncorrectable)?;
                }
                Self::StorageHealth(s)
            }
            Collector::Network => {
                let n: NetworkData = parse(data)?;
                c.non_negative("bytes_recv", n.bytes_recv)?;
                c.non_negative("bytes_sent", n.bytes_sent)?;
                c.opt_range("packet_loss", n.packet_loss, 0.0, 100.0)?;
                c.opt_range("latency_ms", n.latency_ms, 0.0, 600_000.0)?;
                c.items("interfaces", &n.interfaces, MAX_DISKS)?;
                for (i, iface) in n.interfaces.iter().enumerate() {
                    let c = c.nth("interfaces", i);
                    c.text("name", &iface.name, true, 255)?;
                    c.opt_text("mac", &iface.mac, 64)?;
                    c.items("ips", &iface.ips, 64)?;
                }
                Self::Network(n)
            }
            Collector::Services => {
                let s: ServicesData = parse(data)?;
                c.items("services", &s.services, MAX_ITEMS)?;
                for (i, svc) in s.services.iter().enumerate() {
                    let c = c.nth("services", i);
                    c.text("name", &svc.name, true, 255)?;
                    c.text("status", &svc.status, true, 32)?;
                    c.opt_text("display_name", &svc.display_name, MAX_TEXT)?;
                    c.opt_text("start_type", &svc.start_type, 32)?;
                }
                Self::Services(s)
            }
            Collector::Security => {
                let s: SecurityData = parse(data)?;
                if let Some(av) = &s.antivirus {
                    let c = Check::at("data.antivirus");
                    c.text("name", &av.name, true, 255)?;
                    c.opt_text("version", &av.version, MAX_TEXT)?;
                }
                c.items("open_ports", &s.open_ports, MAX_ITEMS)?;
                for (i, p) in s.open_ports.iter().enumerate() {
                    let c = c.nth("open_ports", i);
                    c.range("port", f64::from(p.port), 0.0, 65535.0)?;
                    c.text("protocol", &p.protocol, true, 8)?;
                    c.opt_text("process", &p.process, 255)?;
                    c.opt_text("address", &p.address, 64)?;
                }
                c.items("event_logs", &s.event_logs, 1_000)?;
                for (i, e) in s.event_logs.iter().enumerate() {
                    let c = c.nth("event_logs", i);
                    c.text("log_name", &e.log_name, true, 64)?;
                    c.text("source", &e.source, true, 255)?;
                    c.text("message", &e.message, false, MAX_MESSAGE)?;
                    if !EVENT_LEVELS.contains(&e.level.to_ascii_lowercase().as_str()) {
                        return Err(DomainError::invalid(
                            c.field("level"),
                            format!("must be one of {}", EVENT_LEVELS.join(", ")),
                        ));
                    }
                    check_time(&c.field("recorded_at"), e.recorded_at, now)?;
                }
                Self::Security(s)
            }
            Collector::Software => {
                let s: SoftwareData = parse(data)?;
                c.items("software", &s.software, MAX_ITEMS)?;
                for (i, sw) in s.software.iter().enumerate() {
                    let c = c.nth("software", i);
                    c.text("name", &sw.name, true, MAX_TEXT)?;
                    c.opt_text("version", &sw.version, 255)?;
                    c.opt_text("publisher", &sw.publisher, MAX_TEXT)?;
                }
                c.items("users", &s.users, MAX_ITEMS)?;
                for (i, u) in s.users.iter().enumerate() {
                    c.nth("users", i).text("username", &u.username, true, 255)?;
                }
                Self::Software(s)
            }
            Collector::Patches => {
                let p: PatchesData = parse(data)?;
                c.items("pending_updates", &p.pending_updates, MAX_ITEMS)?;
                for (i, u) in p.pending_updates.iter().enumerate() {
                    let c = c.nth("pending_updates", i);
                    c.text("title", &u.title, true, MAX_TEXT)?;
                    c.text("category", &u.category, true, 64)?;
                    c.opt_text("kb", &u.kb, 32)?;
                }
                if let Some(at) = p.last_check {
                    check_time("data.last_check", at, now)?;
                }
                Self::Patches(p)
            }
        };
        Ok(payload)
    }

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

/// How far ahead of the server's clock an agent's timestamp may be. Kept
/// short because the newest sample wins a collector's snapshot: a sample
/// dated later would pin it and hide every real one until then.
pub const MAX_CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(5);

/// A sample's time: at most [`MAX_CLOCK_SKEW`] ahead, not older than the
/// longest retention.
pub fn check_time(field: &str, at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), DomainError> {
    if at > now + MAX_CLOCK_SKEW {
        return Err(DomainError::invalid(
            field,
            format!(
                "is more than {} minutes in the future; check the machine's clock",
                MAX_CLOCK_SKEW.num_minutes()
            ),
        ));
    }
    if at < now - chrono::Duration::days(365) {
        return Err(DomainError::invalid(field, "is more than 365 days in the past"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(e: DomainError) -> String {
        match e {
            DomainError::InvalidInput { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn type_errors_name_the_path() {
        let now = Utc::now();
        let e = Payload::parse(
            Collector::Metrics,
            json!({ "cpu_percent": "high", "ram_percent": 1, "uptime_seconds": 1 }),
            now,
        )
        .unwrap_err();
        assert_eq!(field_of(e), "data.cpu_percent");
        let e = Payload::parse(
            Collector::Storage,
            json!({ "disks": [{ "mount_point": "/", "total_gb": 10, "used_gb": 1 }, { "mount_point": "/b", "total_gb": 10, "used_gb": "x" }] }),
            now,
        )
        .unwrap_err();
        assert_eq!(field_of(e), "data.disks[1].used_gb");
    }

    #[test]
    fn timestamps_may_lead_the_server_clock_by_five_minutes_only() {
        let now = Utc::now();
        assert!(check_time("collected_at", now + chrono::Duration::minutes(5), now).is_ok());
        assert_eq!(
            field_of(
                check_time(
                    "collected_at",
                    now + chrono::Duration::minutes(5) + chrono::Duration::seconds(1),
                    now
                )
                .unwrap_err()
            ),
            "collected_at"
        );
        let later = (now + chrono::Duration::minutes(6)).to_rfc3339();
        let e = Payload::parse(
            Collector::Security,
            json!({ "event_logs": [{ "log_name": "System", "source": "x", "event_id": 1, "level": "error", "recorded_at": later }] }),
            now,
        )
        .unwrap_err();
        assert_eq!(field_of(e), "data.event_logs[0].recorded_at");
        let e = Payload::parse(Collector::Patches, json!({ "last_check": later }), now).unwrap_err();
        assert_eq!(field_of(e), "data.last_check");
    }

    #[test]
    fn ranges_are_enforced() {
        let now = Utc::now();
        for (data, field) in [
            (
                json!({ "cpu_percent": 101, "ram_percent": 1, "uptime_seconds": 1 }),
                "data.cpu_percent",
            ),
            (
                json!({ "cpu_percent": 1, "ram_percent": -1, "uptime_seconds": 1 }),
                "data.ram_percent",
            ),
            (
                json!({ "cpu_percent": 1, "ram_percent": 1, "uptime_seconds": -5 }),
                "data.uptime_seconds",
            ),
        ] {
            assert_eq!(
                field_of(Payload::parse(Collector::Metrics, data, now).unwrap_err()),
                field
            );
        }
        let Payload::Storage(s) = Payload::parse(
            Collector::Storage,
            json!({ "disks": [{ "mount_point": "C:\\", "total_gb": 200, "used_gb": 50 }] }),
            now,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(s.disks[0].used_percent, Some(25.0));
    }
}

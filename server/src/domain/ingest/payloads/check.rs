//! Decoding and checking a collector's payload: serde's type errors and
//! our range checks both name the offending field's path.

use super::*;
use crate::domain::DomainError;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

/// Decodes the payload straight from the text the agent sent, into its
/// type: no intermediate JSON tree.
fn parse<T: DeserializeOwned>(data: &RawValue) -> Result<T, DomainError> {
    let mut json = serde_json::Deserializer::from_str(data.get());
    serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "data".to_owned()
        } else {
            format!("data.{path}")
        };
        DomainError::invalid(field, without_position(e.into_inner()))
    })
}

/// serde_json's message without its "at line L column C": the field path
/// already says where, and the position inside `data` means nothing to an
/// agent.
fn without_position(e: serde_json::Error) -> String {
    let message = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match message.strip_suffix(&position) {
        Some(bare) => bare.to_owned(),
        None => message,
    }
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
    pub fn parse(collector: Collector, data: &RawValue, now: DateTime<Utc>) -> Result<Self, DomainError> {
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
                c.opt_range("disk_latency_ms", m.disk_latency_ms, 0.0, 600_000.0)?;
                c.opt_range("io_wait_percent", m.io_wait_percent, 0.0, 100.0)?;
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

    fn parse_value(collector: Collector, data: Value, now: DateTime<Utc>) -> Result<Payload, DomainError> {
        Payload::parse(collector, &serde_json::value::to_raw_value(&data).unwrap(), now)
    }

    fn field_of(e: DomainError) -> String {
        match e {
            DomainError::InvalidInput { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn type_errors_name_the_path() {
        let now = Utc::now();
        let e = parse_value(
            Collector::Metrics,
            json!({ "cpu_percent": "high", "ram_percent": 1, "uptime_seconds": 1 }),
            now,
        )
        .unwrap_err();
        // The message the server gave when it decoded a JSON tree: no
        // position inside the body.
        assert_eq!(
            e.to_string(),
            "data.cpu_percent: invalid type: string \"high\", expected f64"
        );
        let e = parse_value(
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
        let e = parse_value(
            Collector::Security,
            json!({ "event_logs": [{ "log_name": "System", "source": "x", "event_id": 1, "level": "error", "recorded_at": later }] }),
            now,
        )
        .unwrap_err();
        assert_eq!(field_of(e), "data.event_logs[0].recorded_at");
        let e = parse_value(Collector::Patches, json!({ "last_check": later }), now).unwrap_err();
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
            (
                json!({ "cpu_percent": 1, "ram_percent": 1, "uptime_seconds": 1, "disk_latency_ms": 600_001 }),
                "data.disk_latency_ms",
            ),
            (
                json!({ "cpu_percent": 1, "ram_percent": 1, "uptime_seconds": 1, "io_wait_percent": -0.5 }),
                "data.io_wait_percent",
            ),
        ] {
            assert_eq!(
                field_of(parse_value(Collector::Metrics, data, now).unwrap_err()),
                field
            );
        }
        let Payload::Storage(s) = parse_value(
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

//! The events the bus carries between the domain and its consumers (live
//! subscriptions today; the alert evaluator and AI triggers next): one
//! serde-tagged enum, so publishers and readers agree on one shape and the
//! fan-out routes on typed fields.

use crate::{
    domain::collectors::Collector,
    infra::{
        bus::EventBus,
        fanout::{Fanout, Routed, SocketGuard, Subscription},
    },
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::infra::fanout::Topic;

/// online, offline, maintenance, enrolled, deleted
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Online,
    Offline,
    Maintenance,
    Enrolled,
    Deleted,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub machine_id: Uuid,
    pub hostname: String,
    pub status: Status,
    pub at: DateTime<Utc>,
    /// Online after having been announced offline (not a first
    /// heartbeat): only this deserves a "back online" notification.
    /// Offline again after having been announced offline (a machine
    /// leaving maintenance still silent): shown, not notified twice.
    #[serde(default)]
    pub after_offline: bool,
}

/// The figures live charts show, for the collectors that have them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Figures {
    Metrics {
        cpu_percent: f64,
        ram_percent: f64,
        uptime_seconds: i64,
        cpu_temp: Option<f64>,
    },
    Network {
        bytes_recv: Option<i64>,
        bytes_sent: Option<i64>,
        packet_loss: Option<f64>,
        latency_ms: Option<f64>,
    },
    /// The fullest volume, which disk alert rules watch.
    Storage {
        fullest_mount: String,
        fullest_percent: f64,
    },
    /// Disks whose SMART status is failing or that predict a failure.
    StorageHealth { failing: Vec<String> },
}

/// An accepted collector sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Collected {
    pub machine_id: Uuid,
    pub collector: Collector,
    pub collected_at: DateTime<Utc>,
    pub figures: Option<Figures>,
}

/// An alert rule fired (published by the alerting engine).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertFired {
    pub alert_id: Uuid,
    pub rule_id: Option<Uuid>,
    pub machine_id: Option<Uuid>,
    pub rule_name: String,
    /// low, warning, critical
    pub severity: String,
    pub alert_type: String,
    pub triggered_value: f64,
    pub threshold: f64,
    pub message: String,
    pub at: DateTime<Utc>,
}

/// An analysis completed and was stored (run by hand, a routine or a
/// trigger).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisCompleted {
    pub analysis_id: Uuid,
    pub machine_id: Uuid,
    pub hostname: String,
    /// The analysis type's code (`health_score`, …).
    pub analysis_type: String,
    /// manual, routine, trigger
    pub origin: String,
    pub overall_score: Option<i32>,
    pub risk_level: Option<String>,
    pub summary: String,
    pub at: DateTime<Utc>,
}

/// A machine's stored health score moved (published by the ingest's
/// health-score updater when it writes a new score).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthChange {
    pub machine_id: Uuid,
    pub previous: i32,
    pub score: i32,
    pub at: DateTime<Utc>,
}

/// Every event of the bus, with the tenant it belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveEvent {
    MachineStatus {
        client_id: Uuid,
        change: StatusChange,
    },
    MachineCollect {
        client_id: Uuid,
        sample: Collected,
    },
    AlertFired {
        client_id: Uuid,
        alert: AlertFired,
    },
    AnalysisCompleted {
        client_id: Uuid,
        analysis: AnalysisCompleted,
    },
    HealthScore {
        client_id: Uuid,
        change: HealthChange,
    },
}

/// The bus the domain publishes on.
pub type Bus = dyn EventBus<LiveEvent>;
/// The fan-out of bus events to live subscriptions.
pub type LiveFanout = Fanout<LiveEvent>;

/// The kinds subscriptions watch, one per [`LiveEvent`] variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    MachineStatus,
    MachineCollect,
    AlertFired,
    AnalysisCompleted,
    HealthScore,
}

impl Routed for LiveEvent {
    type Kind = Kind;

    fn topic(&self) -> Topic<Kind> {
        let (kind, client_id, machine_id) = match self {
            Self::MachineStatus { client_id, change } => {
                (Kind::MachineStatus, *client_id, Some(change.machine_id))
            }
            Self::MachineCollect { client_id, sample } => {
                (Kind::MachineCollect, *client_id, Some(sample.machine_id))
            }
            Self::AlertFired { client_id, alert } => (Kind::AlertFired, *client_id, alert.machine_id),
            Self::AnalysisCompleted { client_id, analysis } => {
                (Kind::AnalysisCompleted, *client_id, Some(analysis.machine_id))
            }
            Self::HealthScore { client_id, change } => {
                (Kind::HealthScore, *client_id, Some(change.machine_id))
            }
        };
        Topic {
            kind,
            client_id,
            machine_id,
        }
    }
}

/// Live events as subscriptions take them: this instance's fan-out of the
/// bus, by topic.
#[derive(Clone)]
pub struct LiveFeed {
    fanout: LiveFanout,
}

impl LiveFeed {
    pub fn new(fanout: LiveFanout) -> Self {
        Self { fanout }
    }

    /// Events of `topic` from now on; dropping the subscription leaves it.
    pub fn subscribe(&self, topic: Topic<Kind>) -> Subscription<LiveEvent> {
        self.fanout.subscribe(topic)
    }

    /// Counts an open WebSocket (`serverStats`) while the guard lives.
    pub fn socket(&self) -> SocketGuard {
        self.fanout.socket()
    }
}

pub fn status(client_id: Uuid, change: StatusChange) -> LiveEvent {
    LiveEvent::MachineStatus { client_id, change }
}

pub fn collected(client_id: Uuid, sample: Collected) -> LiveEvent {
    LiveEvent::MachineCollect { client_id, sample }
}

pub fn health(client_id: Uuid, change: HealthChange) -> LiveEvent {
    LiveEvent::HealthScore { client_id, change }
}

pub fn alert(client_id: Uuid, alert: AlertFired) -> LiveEvent {
    LiveEvent::AlertFired { client_id, alert }
}

pub fn analysis(client_id: Uuid, analysis: AnalysisCompleted) -> LiveEvent {
    LiveEvent::AnalysisCompleted { client_id, analysis }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_tagged_and_route_on_their_fields() {
        let (tenant, machine) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let event = collected(
            tenant,
            Collected {
                machine_id: machine,
                collector: Collector::Metrics,
                collected_at: Utc::now(),
                figures: Some(Figures::Metrics {
                    cpu_percent: 12.5,
                    ram_percent: 40.0,
                    uptime_seconds: 60,
                    cpu_temp: None,
                }),
            },
        );
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "machine_collect");
        assert_eq!(json["sample"]["figures"]["type"], "metrics");
        assert_eq!(serde_json::from_value::<LiveEvent>(json).unwrap(), event);
        assert_eq!(
            event.topic(),
            Topic::machine(Kind::MachineCollect, tenant, machine)
        );
        let unknown = serde_json::json!({ "kind": "machine.teleported", "client_id": tenant });
        assert!(serde_json::from_value::<LiveEvent>(unknown).is_err());
    }
}

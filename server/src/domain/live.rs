//! The events the bus carries between the domain and live subscribers,
//! with their payloads, so publishers and readers agree on one shape.

use crate::infra::bus::Event;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MACHINE_STATUS: &str = "machine.status";
pub const MACHINE_COLLECT: &str = "machine.collect";
pub const ALERT_FIRED: &str = "alert.fired";

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
}

/// An accepted collector sample; `values` carries the figures live charts
/// show (metrics and network).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Collected {
    pub machine_id: Uuid,
    pub collector: String,
    pub collected_at: DateTime<Utc>,
    pub values: serde_json::Value,
}

/// An alert rule fired (published by the alerting engine).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertFired {
    pub alert_id: Uuid,
    pub machine_id: Option<Uuid>,
    pub rule_name: String,
    pub severity: String,
    pub message: String,
    pub at: DateTime<Utc>,
}

fn event(kind: &str, client_id: Uuid, payload: &impl Serialize) -> Event {
    Event {
        kind: kind.into(),
        client_id: Some(client_id),
        payload: serde_json::to_value(payload).unwrap_or_default(),
    }
}

pub fn status(client_id: Uuid, change: &StatusChange) -> Event {
    event(MACHINE_STATUS, client_id, change)
}

pub fn collected(client_id: Uuid, sample: &Collected) -> Event {
    event(MACHINE_COLLECT, client_id, sample)
}

pub fn alert(client_id: Uuid, alert: &AlertFired) -> Event {
    event(ALERT_FIRED, client_id, alert)
}

//! Collector data in: `POST /agent/collect` is checked whole, written
//! through the group-commit writer, then announced on the event bus (live
//! subscriptions, alerting).

pub mod payloads;
pub mod writer;

use crate::{
    domain::{collectors::Collector, DomainError},
    infra::{
        bus::{Event, EventBus},
        cache::Cache,
        db::Database,
        group_commit::{CommitError, GroupCommit},
    },
};
use chrono::{DateTime, Utc};
use payloads::{check_time, Payload};
use serde_json::{json, Value};
use std::{sync::Arc, time::Duration};
use uuid::Uuid;
use writer::Sample;

/// Bus event kind of an accepted sample.
pub const COLLECT_EVENT: &str = "machine.collect";
/// How long a machine under load keeps its short heartbeat interval after
/// its last metrics sample said so.
const LOAD_FLAG_TTL: Duration = Duration::from_secs(300);
/// What a client is told to wait after a failed write.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Cache key set while a machine's last metrics sample showed CPU > 80% or
/// RAM > 85%; the heartbeat then asks for 30 s instead of 60 s.
pub fn load_key(machine_id: Uuid) -> String {
    format!("load:high:{machine_id}")
}

#[derive(Clone, Debug)]
pub struct CollectRequest {
    pub collector: String,
    pub collected_at: Option<DateTime<Utc>>,
    pub data: Value,
}

#[derive(Clone)]
pub struct Ingest {
    writer: GroupCommit<Sample>,
    bus: Arc<dyn EventBus>,
    cache: Arc<dyn Cache>,
}

impl Ingest {
    pub fn new(db: Database, bus: Arc<dyn EventBus>, cache: Arc<dyn Cache>) -> Self {
        Self {
            writer: writer::start(db),
            bus,
            cache,
        }
    }

    /// Checks and stores one sample; answers once it is committed.
    pub async fn collect(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        req: CollectRequest,
    ) -> Result<Value, DomainError> {
        let collector = Collector::parse(req.collector.trim()).ok_or_else(|| {
            DomainError::invalid(
                "collector",
                format!(
                    "must be one of {}",
                    Collector::ALL.map(Collector::name).join(", ")
                ),
            )
        })?;
        let now = Utc::now();
        let collected_at = req.collected_at.unwrap_or(now);
        check_time("collected_at", collected_at, now)?;
        let payload = Payload::parse(collector, req.data, now)?;
        let summary = summary(&payload);
        let load = match &payload {
            Payload::Metrics(m) => Some(m.cpu_percent > 80.0 || m.ram_percent > 85.0),
            _ => None,
        };
        self.writer
            .write(Sample {
                client_id,
                machine_id,
                collected_at,
                payload,
            })
            .await
            .map_err(|e| match e {
                CommitError::Failed(detail) => {
                    tracing::warn!(%detail, %machine_id, "collect write failed; client told to retry");
                    DomainError::Unavailable {
                        retry_after: RETRY_AFTER,
                    }
                }
                CommitError::Stopped => DomainError::Internal("collect writer stopped".into()),
            })?;
        match load {
            Some(true) => {
                let _ = self.cache.set(&load_key(machine_id), "1", LOAD_FLAG_TTL).await;
            }
            Some(false) => {
                let _ = self.cache.delete(&load_key(machine_id)).await;
            }
            None => {}
        }
        self.bus
            .publish(Event {
                kind: COLLECT_EVENT.into(),
                client_id: Some(client_id),
                payload: json!({
                    "machine_id": machine_id,
                    "collector": collector.name(),
                    "collected_at": collected_at,
                    "values": summary,
                }),
            })
            .await;
        Ok(json!({ "status": "ok", "collector": collector.name(), "collected_at": collected_at }))
    }
}

/// The figures live dashboards show, carried on the bus event.
fn summary(payload: &Payload) -> Value {
    match payload {
        Payload::Metrics(m) => json!({
            "cpu_percent": m.cpu_percent,
            "ram_percent": m.ram_percent,
            "uptime_seconds": m.uptime_seconds,
            "cpu_temp": m.cpu_temp,
        }),
        Payload::Network(n) => json!({
            "bytes_recv": n.bytes_recv,
            "bytes_sent": n.bytes_sent,
            "packet_loss": n.packet_loss,
            "latency_ms": n.latency_ms,
        }),
        _ => Value::Null,
    }
}

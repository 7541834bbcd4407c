//! Collector data in: `POST /agent/collect` is checked whole, written
//! through the group-commit writer, then announced on the event bus (live
//! subscriptions, alerting).

pub mod health;
pub mod payloads;
pub mod writer;

use crate::{
    domain::{agents::keys, collectors::Collector, live, DomainError},
    infra::{cache::Cache, db::Database, group_commit::GroupCommit},
};
use chrono::{DateTime, Utc};
use payloads::{check_time, Payload};
use serde_json::value::RawValue;
use std::{sync::Arc, time::Duration};
use uuid::Uuid;
use writer::Sample;

/// How long a machine under load keeps its short heartbeat interval after
/// its last metrics sample said so.
const LOAD_FLAG_TTL: Duration = Duration::from_secs(300);
/// How often an unchanged load state is written again (well inside the
/// flag's TTL).
const LOAD_FLAG_REFRESH: Duration = Duration::from_secs(60);

#[derive(Clone, Debug)]
pub struct CollectRequest {
    pub collector: String,
    pub collected_at: Option<DateTime<Utc>>,
    /// The payload as the agent sent it, decoded once by [`Payload::parse`].
    pub data: Box<RawValue>,
}

/// A committed sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub collector: Collector,
    pub collected_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Ingest {
    writer: GroupCommit<Sample>,
    bus: Arc<live::Bus>,
    cache: Arc<dyn Cache>,
    /// The load state this instance last wrote for each machine: the
    /// shared cache is written when it changes (or once a minute), not at
    /// every sample.
    last_load: moka::future::Cache<Uuid, bool>,
    health: health::HealthScores,
}

impl Ingest {
    pub fn new(db: Database, bus: Arc<live::Bus>, cache: Arc<dyn Cache>) -> Self {
        Self {
            health: health::HealthScores::new(db.clone()),
            writer: writer::start(db),
            bus,
            cache,
            last_load: moka::future::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(LOAD_FLAG_REFRESH)
                .build(),
        }
    }

    /// The health-score updater (benchmarks switch it off and on).
    pub fn health_scores(&self) -> &health::HealthScores {
        &self.health
    }

    /// Checks and stores one sample; answers once it is committed.
    pub async fn collect(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        req: CollectRequest,
    ) -> Result<Accepted, DomainError> {
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
        let payload = Payload::parse(collector, &req.data, now)?;
        let figures = figures(&payload);
        let load = match &payload {
            Payload::Metrics(m) => Some(m.cpu_percent > 80.0 || m.ram_percent > 85.0),
            _ => None,
        };
        // Only the collectors the score reads are kept past the write.
        let for_health = self.health.reads(collector).then(|| payload.clone());
        self.writer
            .write(Sample {
                client_id,
                machine_id,
                collected_at,
                payload,
            })
            .await?;
        // The sample is stored whatever becomes of its score.
        if let Some(payload) = &for_health {
            match self.health.on_sample(client_id, machine_id, payload).await {
                Ok(Some((previous, score))) => {
                    self.bus
                        .publish(live::health(
                            client_id,
                            live::HealthChange {
                                machine_id,
                                previous,
                                score,
                                at: now,
                            },
                        ))
                        .await;
                }
                Ok(None) => {}
                Err(e) => e.log("health score"),
            }
        }
        let known = match load {
            Some(_) => self.last_load.get(&machine_id).await,
            None => None,
        };
        if let Some(high) = load.filter(|high| known != Some(*high)) {
            let key = keys::high_load(machine_id);
            let written = if high {
                self.cache.set(&key, "1", LOAD_FLAG_TTL).await
            } else {
                self.cache.delete(&key).await
            };
            if written.is_ok() {
                self.last_load.insert(machine_id, high).await;
            }
        }
        self.bus
            .publish(live::collected(
                client_id,
                live::Collected {
                    machine_id,
                    collector,
                    collected_at,
                    figures,
                },
            ))
            .await;
        Ok(Accepted {
            collector,
            collected_at,
        })
    }
}

/// The figures live dashboards show, carried on the bus event.
fn figures(payload: &Payload) -> Option<live::Figures> {
    match payload {
        Payload::Metrics(m) => Some(live::Figures::Metrics {
            cpu_percent: m.cpu_percent,
            ram_percent: m.ram_percent,
            uptime_seconds: m.uptime_seconds,
            cpu_temp: m.cpu_temp,
        }),
        Payload::Network(n) => Some(live::Figures::Network {
            bytes_recv: n.bytes_recv,
            bytes_sent: n.bytes_sent,
            packet_loss: n.packet_loss,
            latency_ms: n.latency_ms,
        }),
        Payload::Storage(s) => s
            .disks
            .iter()
            .filter_map(|d| Some((d, d.used_percent?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(d, pct)| live::Figures::Storage {
                fullest_mount: d.mount_point.clone(),
                fullest_percent: pct,
            }),
        Payload::StorageHealth(h) => Some(live::Figures::StorageHealth {
            failing: h
                .disks
                .iter()
                .filter(|d| d.predicted_failure || smart_failing(&d.smart_status))
                .map(|d| d.device.clone())
                .collect(),
        }),
        _ => None,
    }
}

/// Agents report SMART status as OK, PASSED, Healthy, or a failure word.
fn smart_failing(status: &str) -> bool {
    let s = status.trim().to_ascii_lowercase();
    !(s.is_empty()
        || matches!(
            s.as_str(),
            "ok" | "passed" | "healthy" | "good" | "unknown" | "n/a"
        ))
}

//! Keeps `machines.health_score` current as samples arrive. The cost is
//! bounded per sample: only the collectors the score reads (metrics,
//! storage, storage health, security, patches, services) count; the input
//! a sample changes is taken from the payload the ingest already parsed;
//! the score is recomputed in memory and written (one UPDATE) only when it
//! changes. The other inputs are read once per machine (four queries) and
//! kept [`TRACK_TTL`], which is also how long an OS compliance change, a
//! risk override or a sample taken by another instance takes to count.

use super::payloads::Payload;
use crate::{
    domain::{
        collectors::Collector,
        fleet::{
            health::{score, Inputs, RiskCounts, Smart},
            risks::{self, Risk},
        },
        DomainError,
    },
    infra::db::Database,
};
use chrono::{DateTime, Duration, Utc};
use entities::{event_logs, machine_collector_data, machines, risk_overrides};
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};
use tokio::sync::Mutex;
use uuid::Uuid;

/// How long a machine's inputs are trusted before they are read again.
pub const TRACK_TTL: std::time::Duration = std::time::Duration::from_secs(600);
/// Critical events remembered per machine (the penalty caps well below).
const MAX_EVENTS: usize = 50;

/// What the score of one machine is computed from, between samples.
#[derive(Debug)]
struct Tracked {
    inputs: Inputs,
    /// Risks detected in each collector's latest sample, before overrides.
    risks: HashMap<&'static str, Vec<Risk>>,
    overrides: Vec<risk_overrides::Model>,
    critical_events: Vec<DateTime<Utc>>,
    /// The score the row holds.
    written: i32,
}

impl Tracked {
    fn refresh(&mut self, now: DateTime<Utc>) {
        let all: Vec<Risk> = self.risks.values().flatten().cloned().collect();
        self.inputs.risks = RiskCounts::of(&risks::apply(all, &self.overrides, now));
        let since = now - Duration::hours(24);
        self.critical_events.retain(|at| *at > since);
        self.inputs.critical_events_24h = self.critical_events.len() as u32;
    }

    /// Takes the input `payload` carries.
    fn apply(&mut self, payload: &Payload) {
        match payload {
            Payload::Metrics(m) => {
                self.inputs.cpu_percent = Some(m.cpu_percent);
                self.inputs.ram_percent = Some(m.ram_percent);
            }
            Payload::Storage(s) => {
                self.inputs.fullest_disk_percent = s
                    .disks
                    .iter()
                    .filter_map(|d| {
                        d.used_percent
                            .or((d.total_gb > 0.0).then(|| d.used_gb / d.total_gb * 100.0))
                    })
                    .max_by(f64::total_cmp);
            }
            Payload::StorageHealth(h) => {
                self.inputs.smart = h
                    .disks
                    .iter()
                    .map(|d| Smart::of_disk(&d.smart_status, d.predicted_failure))
                    .max()
                    .unwrap_or_default();
            }
            Payload::Security(s) => {
                for e in s
                    .event_logs
                    .iter()
                    .filter(|e| e.level.eq_ignore_ascii_case("critical"))
                {
                    if !self.critical_events.contains(&e.recorded_at) {
                        self.critical_events.push(e.recorded_at);
                    }
                }
                self.critical_events.sort_unstable_by(|a, b| b.cmp(a));
                self.critical_events.truncate(MAX_EVENTS);
            }
            _ => {}
        }
        if let Some(name) = risk_source(payload.collector()) {
            let snapshot = [machine_collector_data::Model {
                machine_id: Uuid::nil(),
                collector: name.into(),
                client_id: Uuid::nil(),
                data: payload.to_json(),
                collected_at: Utc::now(),
                updated_at: Utc::now(),
            }];
            self.risks.insert(name, risks::detect(&snapshot));
        }
    }
}

/// Collectors the security risks are read from (disk-health risks are
/// weighed as [`Smart`] instead).
fn risk_source(c: Collector) -> Option<&'static str> {
    matches!(c, Collector::Security | Collector::Patches | Collector::Services).then(|| c.name())
}

/// Whether a sample of `c` may move the score.
fn counts(c: Collector) -> bool {
    matches!(
        c,
        Collector::Metrics | Collector::Storage | Collector::StorageHealth
    ) || risk_source(c).is_some()
}

#[derive(Clone)]
pub struct HealthScores {
    db: Database,
    tracked: moka::future::Cache<Uuid, Arc<Mutex<Tracked>>>,
    enabled: Arc<AtomicBool>,
}

impl HealthScores {
    pub fn new(db: Database) -> Self {
        Self {
            db,
            tracked: moka::future::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(TRACK_TTL)
                .build(),
            enabled: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Switches recomputation on or off (benchmarks measure both).
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    /// Whether a sample of `c` is worth keeping for [`Self::on_sample`].
    pub fn reads(&self, c: Collector) -> bool {
        self.enabled.load(Ordering::Relaxed) && counts(c)
    }

    /// Recomputes the machine's score with `payload`, a sample already
    /// committed; writes it when it changed, and then returns (previous,
    /// new) for the bus.
    pub async fn on_sample(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
        payload: &Payload,
    ) -> Result<Option<(i32, i32)>, DomainError> {
        if !self.enabled.load(Ordering::Relaxed) || !counts(payload.collector()) {
            return Ok(None);
        }
        let entry = match self.tracked.get(&machine_id).await {
            Some(t) => t,
            None => {
                let Some(t) = self.load(client_id, machine_id).await? else {
                    return Ok(None);
                };
                let t = Arc::new(Mutex::new(t));
                self.tracked.insert(machine_id, t.clone()).await;
                t
            }
        };
        let mut t = entry.lock().await;
        t.apply(payload);
        t.refresh(Utc::now());
        let now_score = score(&t.inputs);
        if now_score == t.written {
            return Ok(None);
        }
        machines::Entity::update_many()
            .col_expr(machines::Column::HealthScore, Expr::value(now_score))
            .filter(machines::Column::Id.eq(machine_id))
            .filter(machines::Column::ClientId.eq(client_id))
            .exec(&self.db.conn)
            .await?;
        let previous = std::mem::replace(&mut t.written, now_score);
        Ok(Some((previous, now_score)))
    }

    /// Every input of one machine from what is stored.
    async fn load(&self, client_id: Uuid, machine_id: Uuid) -> Result<Option<Tracked>, DomainError> {
        let Some(machine) = machines::Entity::find_by_id(machine_id)
            .filter(machines::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
        else {
            return Ok(None);
        };
        let since = Utc::now() - Duration::hours(24);
        let (snapshots, overrides, events) = futures::try_join!(
            machine_collector_data::Entity::find()
                .filter(machine_collector_data::Column::MachineId.eq(machine_id))
                .all(&self.db.conn),
            risk_overrides::Entity::find()
                .filter(risk_overrides::Column::MachineId.eq(machine_id))
                .all(&self.db.conn),
            event_logs::Entity::find()
                .select_only()
                .column(event_logs::Column::RecordedAt)
                .filter(event_logs::Column::MachineId.eq(machine_id))
                .filter(event_logs::Column::Level.eq("critical"))
                .filter(event_logs::Column::RecordedAt.gt(since))
                .order_by_desc(event_logs::Column::RecordedAt)
                .limit(MAX_EVENTS as u64)
                .into_tuple::<DateTime<Utc>>()
                .all(&self.db.conn),
        )?;
        let mut t = Tracked {
            inputs: Inputs {
                os_compliant: machine.is_os_compliant,
                ..Inputs::default()
            },
            risks: HashMap::new(),
            overrides,
            critical_events: events,
            written: machine.health_score,
        };
        for s in &snapshots {
            let Some(collector) = Collector::parse(&s.collector) else {
                continue;
            };
            // Stored snapshots are normalised payloads; event lines were
            // counted from their table above.
            if let Ok(mut payload) = Payload::from_snapshot(collector, &s.data) {
                if let Payload::Security(sec) = &mut payload {
                    sec.event_logs.clear();
                }
                t.apply(&payload);
            }
        }
        Ok(Some(t))
    }
}

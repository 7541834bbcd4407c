//! Drift detection's stored side: the 7-day baseline and the last hour's
//! drift per machine and metric in `metric_baselines` (one row per machine
//! and metric, overwritten on each refresh). The drift_detection routine
//! refreshes; dashboards list.

use super::{
    engine::{drift_of, CRITICAL_Z, DRIFT_METRICS, WARNING_Z},
    findings::{Drift, DriftSeverity},
    history::{self, Needs},
    Section,
};
use crate::{
    domain::DomainError,
    infra::{clock::Clock, db::Database},
};
use entities::metric_baselines;
use sea_orm::{sea_query::OnConflict, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone)]
pub struct Baselines {
    db: Database,
    clock: Arc<dyn Clock>,
}

fn severity_code(s: DriftSeverity) -> &'static str {
    match s {
        DriftSeverity::None => "none",
        DriftSeverity::Warning => "warning",
        DriftSeverity::Critical => "critical",
    }
}

impl Baselines {
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Recomputes the machine's baselines from its last week and stores
    /// them; returns the drifts (metrics without data are left out).
    /// `NotFound("machine")` when the machine is not the tenant's.
    pub async fn refresh(&self, client_id: Uuid, machine_id: Uuid) -> Result<Vec<Drift>, DomainError> {
        let now = self.clock.now();
        let h = history::load(&self.db, client_id, machine_id, now, Needs::of(&[Section::Drift])).await?;
        let drifts: Vec<Drift> = DRIFT_METRICS
            .iter()
            .filter_map(|m| drift_of(m, &h.raw_series(m), now))
            .collect();
        if drifts.is_empty() {
            return Ok(drifts);
        }
        let rows = drifts.iter().map(|d| metric_baselines::ActiveModel {
            id: Set(Uuid::new_v4()),
            client_id: Set(client_id),
            machine_id: Set(machine_id),
            metric_type: Set(d.metric.clone()),
            baseline_mean: Set(d.baseline_mean),
            baseline_stddev: Set(d.baseline_stddev),
            baseline_p95: Set(d.baseline_p95),
            current_value: Set(d.current_value),
            z_score: Set(d.z_score),
            warning_threshold: Set(WARNING_Z),
            critical_threshold: Set(CRITICAL_Z),
            drift_detected: Set(d.severity != DriftSeverity::None),
            drift_severity: Set(severity_code(d.severity).to_owned()),
            explanation: Set(None),
            last_updated: Set(now),
        });
        use metric_baselines::Column as B;
        metric_baselines::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([B::MachineId, B::MetricType])
                    .update_columns([
                        B::BaselineMean,
                        B::BaselineStddev,
                        B::BaselineP95,
                        B::CurrentValue,
                        B::ZScore,
                        B::DriftDetected,
                        B::DriftSeverity,
                        B::LastUpdated,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db.conn)
            .await?;
        Ok(drifts)
    }

    /// The machine's stored baselines, by metric; empty for another
    /// tenant's machine.
    pub async fn list(
        &self,
        client_id: Uuid,
        machine_id: Uuid,
    ) -> Result<Vec<metric_baselines::Model>, DomainError> {
        Ok(metric_baselines::Entity::find()
            .filter(metric_baselines::Column::ClientId.eq(client_id))
            .filter(metric_baselines::Column::MachineId.eq(machine_id))
            .order_by_asc(metric_baselines::Column::MetricType)
            .all(&self.db.conn)
            .await?)
    }
}

#[async_trait::async_trait]
impl super::automation::DriftBaselines for Baselines {
    async fn refresh(&self, client_id: Uuid, machine_id: Uuid) -> Result<Vec<Drift>, DomainError> {
        Baselines::refresh(self, client_id, machine_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{domain::fixtures, infra::clock::ManualClock};
    use chrono::{Duration, TimeZone, Utc};
    use entities::metrics;

    #[tokio::test]
    async fn a_refresh_upserts_one_row_per_metric_for_the_tenant_only() {
        let db = Database::in_memory().await.unwrap();
        let now = Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).unwrap();
        let (client, machine) = fixtures::tenant_with_machine(&db, now).await;
        let (other, _) = fixtures::tenant_with_machine(&db, now).await;
        let clock = ManualClock::new(now);
        let baselines = Baselines::new(db.clone(), Arc::new(clock.clone()));
        let insert = |hot: bool| {
            let rows: Vec<metrics::ActiveModel> = (0..7 * 24 * 12)
                .map(|i| {
                    let at = now - Duration::minutes(5 * i);
                    let last_hour = at >= now - Duration::hours(1);
                    metrics::ActiveModel {
                        machine_id: Set(machine.id),
                        collector: Set("metrics".into()),
                        recorded_at: Set(at),
                        client_id: Set(client.id),
                        cpu_percent: Set(Some(if hot && last_hour {
                            90.0
                        } else {
                            30.0 + (i % 2) as f64 * 10.0
                        })),
                        ram_percent: Set(Some(50.0)),
                        ..Default::default()
                    }
                })
                .collect();
            rows
        };
        for chunk in insert(false).chunks(500) {
            metrics::Entity::insert_many(chunk.to_vec())
                .exec(&db.conn)
                .await
                .unwrap();
        }
        let drifts = baselines.refresh(client.id, machine.id).await.unwrap();
        assert_eq!(drifts.len(), 2, "no latency reported: no row for it");
        assert!(drifts.iter().all(|d| d.severity == DriftSeverity::None));

        // The last hour heats up: the same rows now say critical.
        metrics::Entity::delete_many().exec(&db.conn).await.unwrap();
        for chunk in insert(true).chunks(500) {
            metrics::Entity::insert_many(chunk.to_vec())
                .exec(&db.conn)
                .await
                .unwrap();
        }
        clock.advance(Duration::minutes(1));
        let drifts = baselines.refresh(client.id, machine.id).await.unwrap();
        let cpu = drifts.iter().find(|d| d.metric == "cpu_percent").unwrap();
        assert_eq!(cpu.severity, DriftSeverity::Critical);
        let rows = baselines.list(client.id, machine.id).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].metric_type, "cpu_percent");
        assert_eq!(rows[0].drift_severity, "critical");
        assert!(rows[0].drift_detected);
        assert_eq!(rows[0].warning_threshold, 2.0);
        assert_eq!(rows[0].last_updated, now + Duration::minutes(1));
        assert_eq!(rows[1].drift_severity, "none");

        assert!(baselines.list(other.id, machine.id).await.unwrap().is_empty());
        assert!(matches!(
            baselines.refresh(other.id, machine.id).await,
            Err(DomainError::NotFound("machine"))
        ));
    }
}

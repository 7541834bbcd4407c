use sea_orm::entity::prelude::*;

/// One machine's 7-day baseline of one metric and its drift (drift
/// detection): one row per machine and metric, overwritten on refresh.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "metric_baselines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Uuid,
    pub machine_id: Uuid,
    /// cpu_percent, ram_percent, disk_latency_ms
    pub metric_type: String,
    pub baseline_mean: f64,
    pub baseline_stddev: f64,
    pub baseline_p95: f64,
    /// Mean of the last hour.
    pub current_value: f64,
    pub z_score: f64,
    pub warning_threshold: f64,
    pub critical_threshold: f64,
    pub drift_detected: bool,
    /// none, warning, critical
    pub drift_severity: String,
    pub explanation: Option<String>,
    pub last_updated: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

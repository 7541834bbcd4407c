use sea_orm::entity::prelude::*;

/// One sample of the metrics or network collector (time series).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "metrics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub machine_id: Uuid,
    /// metrics or network
    #[sea_orm(primary_key, auto_increment = false)]
    pub collector: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub recorded_at: DateTimeUtc,
    pub client_id: Uuid,
    pub cpu_percent: Option<f64>,
    pub ram_percent: Option<f64>,
    pub ram_used_bytes: Option<i64>,
    pub ram_total_bytes: Option<i64>,
    pub uptime_seconds: Option<i64>,
    pub cpu_temp: Option<f64>,
    pub bytes_recv: Option<i64>,
    pub bytes_sent: Option<i64>,
    pub packet_loss: Option<f64>,
    pub latency_ms: Option<f64>,
    /// Average disk request latency over the sample (metrics collector).
    pub disk_latency_ms: Option<f64>,
    /// Share of CPU time spent waiting on IO (metrics collector).
    pub io_wait_percent: Option<f64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// Hourly CPU/RAM/temperature rollup (a continuous aggregate on
/// TimescaleDB, a job-filled table elsewhere).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "metrics_hourly")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub machine_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: DateTimeUtc,
    pub client_id: Uuid,
    pub cpu_avg: Option<f64>,
    pub cpu_min: Option<f64>,
    pub cpu_max: Option<f64>,
    pub ram_avg: Option<f64>,
    pub ram_min: Option<f64>,
    pub ram_max: Option<f64>,
    pub cpu_temp_avg: Option<f64>,
    pub cpu_temp_min: Option<f64>,
    pub cpu_temp_max: Option<f64>,
    pub samples: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// Hourly disk usage rollup per volume.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "disk_hourly")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub machine_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub mount_point: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: DateTimeUtc,
    pub client_id: Uuid,
    pub disk_usage_avg: Option<f64>,
    pub disk_usage_max: Option<f64>,
    pub samples: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

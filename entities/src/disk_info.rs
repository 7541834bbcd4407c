use sea_orm::entity::prelude::*;

/// One volume's usage at one instant (storage collector, time series).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "disk_info")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub machine_id: Uuid,
    /// C:\, /, ...
    #[sea_orm(primary_key, auto_increment = false)]
    pub mount_point: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub recorded_at: DateTimeUtc,
    pub client_id: Uuid,
    pub device: String,
    pub fs_type: String,
    pub total_gb: f64,
    pub used_gb: f64,
    pub used_percent: f64,
    pub model: Option<String>,
    pub interface: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

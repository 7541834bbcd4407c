use sea_orm::entity::prelude::*;

/// One disk's S.M.A.R.T. reading (storage_health collector, time series).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "smart_data")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub machine_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub device: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub recorded_at: DateTimeUtc,
    pub client_id: Uuid,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub firmware: Option<String>,
    /// healthy, warning, critical, virtual, unavailable
    pub smart_status: String,
    pub is_virtual: bool,
    pub overall_health_test: Option<String>,
    pub temperature: Option<i32>,
    pub power_on_hours: Option<i64>,
    pub power_cycle_count: Option<i64>,
    pub reallocated_sectors: Option<i64>,
    pub current_pending_sectors: Option<i64>,
    pub offline_uncorrectable: Option<i64>,
    pub predicted_failure: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// Hourly network rollup.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "network_hourly")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub machine_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: DateTimeUtc,
    pub client_id: Uuid,
    pub bytes_recv_avg: Option<f64>,
    pub bytes_recv_max: Option<f64>,
    pub bytes_sent_avg: Option<f64>,
    pub bytes_sent_max: Option<f64>,
    pub packet_loss_avg: Option<f64>,
    pub packet_loss_max: Option<f64>,
    pub latency_avg: Option<f64>,
    pub latency_max: Option<f64>,
    pub samples: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

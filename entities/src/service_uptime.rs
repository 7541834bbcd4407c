use sea_orm::entity::prelude::*;

/// One check of one service of the platform (api, database, ai). The
/// primary key includes `checked_at` because a TimescaleDB hypertable
/// requires the time column in every unique index.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "service_uptime")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub service_name: String,
    /// online, degraded, offline
    pub status: String,
    pub response_time_ms: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub checked_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

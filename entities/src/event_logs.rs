use sea_orm::entity::prelude::*;

/// A system event reported by the agent (time series).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_logs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub machine_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub recorded_at: DateTimeUtc,
    /// System, Security, Application, journald, ...
    #[sea_orm(primary_key, auto_increment = false)]
    pub log_name: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: i64,
    pub client_id: Uuid,
    /// critical, error, warning, information
    pub level: String,
    pub message: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

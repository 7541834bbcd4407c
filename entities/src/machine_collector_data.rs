use sea_orm::entity::prelude::*;

/// The latest payload of each collector per machine.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "machine_collector_data")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub machine_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub collector: String,
    pub client_id: Uuid,
    pub data: Json,
    pub collected_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

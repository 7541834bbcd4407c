use sea_orm::entity::prelude::*;

/// How much a machine matters to its tenant, set by hand or detected from
/// its hostname.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_machine_criticality")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub machine_id: Uuid,
    pub client_id: Uuid,
    /// critical, important, standard
    pub criticality: String,
    /// auto, manual
    pub source: String,
    pub reason: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

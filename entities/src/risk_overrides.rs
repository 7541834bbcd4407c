use sea_orm::entity::prelude::*;

/// An administrator's decision on one detected risk of one machine.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "risk_overrides")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Uuid,
    pub machine_id: Uuid,
    /// antivirus_disabled, port:3389, smart:sda, ...
    pub risk_key: String,
    /// accepted, low, medium, high, critical
    pub level: super::enums::RiskLevel,
    pub reason: String,
    /// The override lapses after this instant.
    pub expires_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// One firing of a trigger on one machine. Kept 90 days.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_trigger_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub trigger_id: Uuid,
    pub client_id: Uuid,
    pub triggered_at: DateTimeUtc,
    pub machine_id: Option<Uuid>,
    pub machine_hostname: String,
    pub trigger_reason: String,
    /// The analysis it ran, when it ran one.
    pub analysis_id: Option<Uuid>,
    /// running, success, refused, failed
    pub status: String,
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

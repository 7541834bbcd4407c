use sea_orm::entity::prelude::*;

/// An analysis started by an event (a critical machine, a new machine, a
/// degradation).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_triggers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Uuid,
    pub name: String,
    /// critical_machine, new_machine, degradation
    pub trigger_type: String,
    pub enabled: bool,
    /// `{health_score_below?, offline_minutes?, cpu_above?, score_drop?}`
    pub conditions: Json,
    /// `{analysis_type, notify_channels: [uuid]}`
    pub actions: Json,
    pub last_triggered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

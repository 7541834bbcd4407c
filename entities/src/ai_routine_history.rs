use sea_orm::entity::prelude::*;

/// One run of a routine. Kept 90 days.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_routine_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub routine_id: Uuid,
    pub client_id: Uuid,
    pub started_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
    /// running, success, partial, failed
    pub status: String,
    pub machines_analyzed: i32,
    pub issues_found: i32,
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

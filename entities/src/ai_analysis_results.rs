use sea_orm::entity::prelude::*;

/// One completed analysis: the engine's findings, the narrative that
/// explains them, and what the protections compare the next run with.
/// Kept 90 days (`expires_at`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_analysis_results")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Uuid,
    pub machine_id: Uuid,
    /// `health_score`, `full`, … (the analysis kind's code).
    pub analysis_type: String,
    /// manual, routine, trigger
    pub origin: String,
    /// The user, routine or trigger that asked.
    pub origin_id: Option<Uuid>,
    pub language: super::enums::Language,
    /// The findings, JSON text.
    pub findings: String,
    pub overall_score: Option<i32>,
    /// low, medium, high, critical
    pub risk_level: Option<String>,
    pub summary: String,
    /// `{ summary, explanations, narrator }`.
    pub narrative: Json,
    /// builtin, claude
    pub narrator: String,
    /// Quota units the run took.
    pub cost: i32,
    /// The newest sample (metrics, event log, disk) the run saw.
    pub data_until: Option<DateTimeUtc>,
    /// The figures change detection compares the next run with.
    pub snapshot: Json,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A scheduled analysis of a tenant's machines. `next_run_at` alone decides
/// when it runs; the scheduler moves it before each run.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_routines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Uuid,
    pub name: String,
    /// daily_health_score, weekly_report, daily_report, drift_detection
    pub routine_type: String,
    /// Five-field cron expression.
    pub schedule: String,
    /// IANA time zone the schedule reads in; None = UTC.
    pub timezone: Option<String>,
    pub enabled: bool,
    /// `{analysis_type?, machines: "all" | [uuid], notify_channels: [uuid]}`
    pub config: Json,
    pub last_run_at: Option<DateTimeUtc>,
    pub next_run_at: Option<DateTimeUtc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

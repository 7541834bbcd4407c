use sea_orm::entity::prelude::*;

/// One fired alert: open until resolved, acknowledged by whoever took it.
/// Kept 90 days.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_rule_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Uuid,
    /// None once the rule is deleted; `rule_name` keeps its name.
    pub rule_id: Option<Uuid>,
    pub rule_name: String,
    pub machine_id: Uuid,
    pub machine_hostname: String,
    pub alert_type: super::enums::AlertType,
    pub metric: super::enums::AlertMetric,
    pub severity: super::enums::Severity,
    pub threshold: f64,
    pub triggered_value: f64,
    pub triggered_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
    pub resolved_value: Option<f64>,
    pub acknowledged_at: Option<DateTimeUtc>,
    pub acknowledged_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

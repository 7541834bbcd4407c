use sea_orm::entity::prelude::*;

/// A threshold on one metric, over all of a tenant's machines, one machine
/// or one group, notifying the channels in `alert_rule_channels`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "alert_rules")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Uuid,
    pub name: String,
    pub metric: super::enums::AlertMetric,
    pub operator: super::enums::AlertOperator,
    pub threshold: f64,
    pub severity: super::enums::Severity,
    pub enabled: bool,
    pub cooldown_minutes: i32,
    pub machine_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

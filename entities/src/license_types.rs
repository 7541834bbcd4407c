use sea_orm::entity::prelude::*;

/// What a licence grants. The six built-in types carry the spec's figures;
/// the super_admin may define more, each on one of the feature tiers.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "license_types")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// What `clients.license_type` holds: lowercase letters, digits, `_`.
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    /// Which features the type unlocks.
    pub tier: super::enums::Tier,
    /// Machines a tenant may enrol; None = unlimited.
    pub max_machines: Option<i32>,
    /// Days of metrics, aggregates and events kept.
    pub retention_days: i32,
    /// Analyses a tenant may request per calendar month.
    pub ai_quota_monthly: i32,
    /// How long a new licence of this type runs; None = until changed.
    pub default_duration_days: Option<i32>,
    /// The spec's six types: they can be edited, never deleted.
    pub builtin: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

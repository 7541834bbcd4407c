use sea_orm::entity::prelude::*;

/// Analyses requested per tenant and calendar month (UTC), counted against
/// the licence's monthly quota.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_usage")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: Uuid,
    /// `YYYY-MM`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: String,
    pub requests: i32,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A period during which a platform service was degraded or offline; at
/// most one open (`resolved_at` NULL) per service.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "service_incidents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub service_name: String,
    /// degraded, offline
    pub status: String,
    pub started_at: DateTimeUtc,
    pub resolved_at: Option<DateTimeUtc>,
    pub description: Option<String>,
    /// check (the checks open and resolve it) or manual (a super_admin does)
    pub source: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A known Windows build: reference data, shared by every tenant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "windows_builds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `client` or `server`.
    pub os_type: String,
    pub build_number: i32,
    pub name: String,
    pub release_date: Option<Date>,
    /// Shown in dropdowns and used for the build → name mapping.
    pub is_active: bool,
    pub sort_order: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

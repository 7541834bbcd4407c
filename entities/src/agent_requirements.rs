use sea_orm::entity::prelude::*;

/// OS prerequisites for agents; a single row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_requirements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub windows_client_enabled: bool,
    /// 0 = no minimum.
    pub windows_client_min_build: i32,
    pub windows_server_enabled: bool,
    pub windows_server_min_build: i32,
    pub linux_enabled: bool,
    pub unsupported_os_message: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// Collection intervals for a scope of a tenant's machines: the whole
/// tenant, a group, a label or one machine.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "collection_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Uuid,
    pub name: String,
    /// Higher wins among settings of the same scope.
    pub priority: i32,
    /// client, group, label, machine
    pub scope: String,
    pub machine_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
    pub label_id: Option<Uuid>,
    /// Seconds per collector, e.g. {"metrics": 5}.
    pub intervals: Json,
    /// Collectors switched off in this scope, e.g. ["software"].
    pub disabled: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::clients::Entity",
        from = "Column::ClientId",
        to = "super::clients::Column::Id",
        on_delete = "Cascade"
    )]
    Client,
}

impl ActiveModelBehavior for ActiveModel {}

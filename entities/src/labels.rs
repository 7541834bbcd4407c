use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "labels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Uuid,
    /// At most 50 characters; unique per client.
    pub key: String,
    /// `#RRGGBB`
    pub color: String,
    pub created_at: DateTimeUtc,
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
    #[sea_orm(has_many = "super::machine_labels::Entity")]
    MachineLabels,
}

impl Related<super::machine_labels::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::MachineLabels.def()
    }
}

impl Related<super::machines::Entity> for Entity {
    fn to() -> RelationDef {
        super::machine_labels::Relation::Machine.def()
    }
    fn via() -> Option<RelationDef> {
        Some(super::machine_labels::Relation::Label.def().rev())
    }
}

impl Related<super::clients::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Client.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

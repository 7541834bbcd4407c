use sea_orm::entity::prelude::*;

/// Every certificate issued to a machine; at most one unrevoked per machine.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "client_certificates")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Uuid,
    pub machine_id: Uuid,
    /// Hex serial number, as in the CRL.
    #[sea_orm(unique)]
    pub serial: String,
    pub issued_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub revocation_reason: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::machines::Entity",
        from = "Column::MachineId",
        to = "super::machines::Column::Id",
        on_delete = "Cascade"
    )]
    Machine,
}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "machines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Uuid,
    pub group_id: Option<Uuid>,
    pub site_id: Option<Uuid>,
    pub hostname: String,
    /// Persistent hardware identifier reported by the agent; matched case-insensitively.
    pub hardware_id: Option<String>,
    pub os: String,
    pub os_version: String,
    /// amd64, arm64
    pub arch: Option<String>,
    /// Local IP reported by the agent.
    pub ip: String,
    pub agent_version: String,
    pub last_seen: Option<DateTimeUtc>,
    /// 0-100
    pub health_score: i32,
    pub is_os_compliant: bool,
    pub cert_serial: Option<String>,
    pub cert_issued_at: Option<DateTimeUtc>,
    pub cert_expires_at: Option<DateTimeUtc>,
    pub cert_revoked_at: Option<DateTimeUtc>,
    /// Set when the offline notification went out; cleared on the next heartbeat.
    pub offline_notified_at: Option<DateTimeUtc>,
    pub last_config_sync: Option<DateTimeUtc>,
    /// stable, beta
    pub update_channel: super::enums::UpdateChannel,
    pub maintenance_mode: bool,
    pub maintenance_until: Option<DateTimeUtc>,
    pub maintenance_reason: Option<String>,
    /// Set by an administrator: the agent may renew before the usual window.
    pub renewal_requested_at: Option<DateTimeUtc>,
    /// Set by an administrator: the next heartbeat asks the agent to run
    /// every collector now; cleared once delivered.
    pub force_collect_requested_at: Option<DateTimeUtc>,
    /// Set by an administrator: until then the next enrolment by host name
    /// may take this machine over; cleared by any re-enrolment.
    pub reenrolment_allowed_until: Option<DateTimeUtc>,
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
    #[sea_orm(
        belongs_to = "super::groups::Entity",
        from = "Column::GroupId",
        to = "super::groups::Column::Id",
        on_delete = "SetNull"
    )]
    Group,
    #[sea_orm(
        belongs_to = "super::sites::Entity",
        from = "Column::SiteId",
        to = "super::sites::Column::Id",
        on_delete = "SetNull"
    )]
    Site,
    #[sea_orm(has_many = "super::machine_labels::Entity")]
    MachineLabels,
}

impl Related<super::clients::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Client.def()
    }
}

impl Related<super::groups::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Group.def()
    }
}

impl Related<super::sites::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Site.def()
    }
}

impl Related<super::labels::Entity> for Entity {
    fn to() -> RelationDef {
        super::machine_labels::Relation::Label.def()
    }
    fn via() -> Option<RelationDef> {
        Some(super::machine_labels::Relation::Machine.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A tenant's preferences (its language stays on `clients`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "client_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub client_id: Uuid,
    /// IANA time zone name.
    pub timezone: String,
    pub daily_summary_enabled: bool,
    /// 0-23, in `timezone`.
    pub daily_summary_hour: i32,
    /// JSON array of e-mail addresses (at most 20).
    pub daily_summary_recipients: Json,
    /// JSON array of notification channel ids new alert rules start with.
    pub default_channel_ids: Json,
    /// At least 5.
    pub default_cooldown_minutes: i32,
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

impl Related<super::clients::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Client.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

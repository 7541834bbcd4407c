use sea_orm::entity::prelude::*;

/// One notification to one channel, with its delivery state. Kept 30 days.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Uuid,
    /// None once the channel is deleted; its type and name stay.
    pub channel_id: Option<Uuid>,
    pub channel_type: super::enums::ChannelType,
    pub channel_name: String,
    pub alert_type: super::enums::AlertType,
    /// The fired alert this notifies, when it comes from a rule.
    pub alert_id: Option<Uuid>,
    pub machine_id: Option<Uuid>,
    pub subject: String,
    pub status: super::enums::DeliveryStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

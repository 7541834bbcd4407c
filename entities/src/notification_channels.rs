use sea_orm::entity::prelude::*;

/// Where a tenant's notifications go: an e-mail list or a chat webhook.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_channels")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Uuid,
    pub name: String,
    pub channel_type: super::enums::ChannelType,
    /// JSON: `{"emails": [...]}` or `{"webhook_url": "..."}`. The webhook
    /// URL is a secret: reads mask it.
    pub config: String,
    pub enabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

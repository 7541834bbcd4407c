use sea_orm::entity::prelude::*;

/// Durable queue of outgoing emails, delivered with retries by the outbox
/// worker.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "email_outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub client_id: Option<Uuid>,
    /// welcome, password_reset, new_password, ...
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    /// `email` or `webhook`.
    pub transport: String,
    /// The HTML part of an e-mail.
    pub body_html: Option<String>,
    /// A webhook's JSON body.
    pub payload: Option<String>,
    /// The channel a notification goes to; its URL or addresses are read
    /// at send time.
    pub channel_id: Option<Uuid>,
    /// The `notification_history` row this message delivers.
    pub notification_id: Option<Uuid>,
    pub language: super::enums::Language,
    /// pending, sending, sent, failed
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// A message from the public contact form.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "contact_messages")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub company: Option<String>,
    /// demo, technical, enterprise; None when the sender picked none.
    pub subject: Option<String>,
    pub message: String,
    /// The sender's language, the confirmation's language.
    pub language: super::enums::Language,
    /// The client address the form came from.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTimeUtc,
    /// Set by a super_admin once the message is dealt with.
    pub handled_at: Option<DateTimeUtc>,
    pub handled_by: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

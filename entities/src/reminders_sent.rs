use sea_orm::entity::prelude::*;

/// Reminders already sent, one row per (subject, threshold), so a restart
/// or a second instance never sends one twice.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reminders_sent")]
pub struct Model {
    /// `password:<user>:<expiry date>:<days>`, `licence:<client>:...`, ...
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub client_id: Option<Uuid>,
    pub sent_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

use sea_orm::entity::prelude::*;

/// One refresh token of a login family. Rotation revokes the old row
/// (kept for theft detection); reuse of a revoked one revokes the family.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// Also the token's `jti`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub family_id: Uuid,
    /// SHA-256 hex of the token.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub rotation_count: i32,
    pub is_revoked: bool,
    pub revoked_at: Option<DateTimeUtc>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub expires_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl ActiveModelBehavior for ActiveModel {}

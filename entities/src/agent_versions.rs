use sea_orm::entity::prelude::*;

/// A published agent build for one channel, platform and architecture.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// Semantic version, e.g. 1.4.2.
    pub version: String,
    /// stable, beta
    pub channel: super::enums::UpdateChannel,
    /// windows, linux
    pub platform: String,
    /// amd64, arm64
    pub architecture: String,
    pub download_url: String,
    pub checksum_sha256: String,
    pub file_size_bytes: i64,
    pub changelog: String,
    /// The version agents on this channel/platform/architecture update to.
    pub is_active: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! Sessions that end when they should:
//! - `users.session_version`, carried in every access token and bumped by
//!   each change that must sign a user out everywhere (password change or
//!   reset by an administrator);
//! - `users.session_carried_jti`, the one access token a password change
//!   keeps: the caller's own, while its other sessions end;
//! - an index on `token_blacklist.user_id`, read when a user's session
//!   state is rebuilt after a cache miss.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    SessionVersion,
    SessionCarriedJti,
}

#[derive(DeriveIden)]
enum TokenBlacklist {
    Table,
    UserId,
}

const BLACKLIST_USER_INDEX: &str = "idx_token_blacklist_user";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column_if_not_exists(integer(Users::SessionVersion).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column_if_not_exists(uuid_null(Users::SessionCarriedJti))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name(BLACKLIST_USER_INDEX)
                    .table(TokenBlacklist::Table)
                    .col(TokenBlacklist::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(BLACKLIST_USER_INDEX)
                    .table(TokenBlacklist::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Users::SessionCarriedJti, Users::SessionVersion] {
            manager
                .alter_table(Table::alter().table(Users::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! Sessions and secrets around users: refresh-token families, the access
//! token blacklist, password resets, MFA backup codes, API tokens, and the
//! durable email outbox.

use crate::columns::{fk, timestamp_now};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    RotationCount,
    IsRevoked,
    RevokedAt,
    IpAddress,
    UserAgent,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TokenBlacklist {
    Table,
    Jti,
    UserId,
    Reason,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PasswordResetTokens {
    Table,
    Id,
    UserId,
    TokenHash,
    ExpiresAt,
    UsedAt,
    IpAddress,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MfaBackupCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ApiTokens {
    Table,
    Id,
    ClientId,
    CreatedBy,
    Name,
    Scope,
    TokenHash,
    TokenPrefix,
    ExpiresAt,
    LastUsedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    Id,
    ClientId,
    Kind,
    Recipient,
    Subject,
    BodyText,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    CreatedAt,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    .col(pk_uuid(RefreshTokens::Id))
                    .col(uuid(RefreshTokens::UserId))
                    .col(uuid(RefreshTokens::FamilyId))
                    .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                    .col(integer(RefreshTokens::RotationCount).default(0))
                    .col(boolean(RefreshTokens::IsRevoked).default(false))
                    .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                    .col(string_len_null(RefreshTokens::IpAddress, 64))
                    .col(string_len_null(RefreshTokens::UserAgent, 512))
                    .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                    .col(timestamp_now(RefreshTokens::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_refresh_tokens_user",
                        (RefreshTokens::Table, RefreshTokens::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TokenBlacklist::Table)
                    .if_not_exists()
                    .col(uuid(TokenBlacklist::Jti).primary_key())
                    .col(uuid_null(TokenBlacklist::UserId))
                    .col(string_len(TokenBlacklist::Reason, 32))
                    .col(timestamp_with_time_zone(TokenBlacklist::ExpiresAt))
                    .col(timestamp_now(TokenBlacklist::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PasswordResetTokens::Table)
                    .if_not_exists()
                    .col(pk_uuid(PasswordResetTokens::Id))
                    .col(uuid(PasswordResetTokens::UserId))
                    .col(string_len_uniq(PasswordResetTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(PasswordResetTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(PasswordResetTokens::UsedAt))
                    .col(string_len_null(PasswordResetTokens::IpAddress, 64))
                    .col(timestamp_now(PasswordResetTokens::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_password_reset_tokens_user",
                        (PasswordResetTokens::Table, PasswordResetTokens::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaBackupCodes::Table)
                    .if_not_exists()
                    .col(pk_uuid(MfaBackupCodes::Id))
                    .col(uuid(MfaBackupCodes::UserId))
                    .col(string_len(MfaBackupCodes::CodeHash, 64))
                    .col(timestamp_with_time_zone_null(MfaBackupCodes::UsedAt))
                    .col(timestamp_now(MfaBackupCodes::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_mfa_backup_codes_user",
                        (MfaBackupCodes::Table, MfaBackupCodes::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .if_not_exists()
                    .col(pk_uuid(ApiTokens::Id))
                    .col(uuid(ApiTokens::ClientId))
                    .col(uuid_null(ApiTokens::CreatedBy))
                    .col(string_len(ApiTokens::Name, 100))
                    .col(string_len(ApiTokens::Scope, 16))
                    .col(string_len_uniq(ApiTokens::TokenHash, 64))
                    .col(string_len(ApiTokens::TokenPrefix, 16))
                    .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .col(timestamp_now(ApiTokens::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_api_tokens_client",
                        (ApiTokens::Table, ApiTokens::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_api_tokens_creator",
                        (ApiTokens::Table, ApiTokens::CreatedBy),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailOutbox::Table)
                    .if_not_exists()
                    .col(pk_uuid(EmailOutbox::Id))
                    .col(uuid_null(EmailOutbox::ClientId))
                    .col(string_len(EmailOutbox::Kind, 32))
                    .col(string_len(EmailOutbox::Recipient, 255))
                    .col(string_len(EmailOutbox::Subject, 255))
                    .col(text(EmailOutbox::BodyText))
                    .col(string_len(EmailOutbox::Status, 16).default("pending"))
                    .col(integer(EmailOutbox::Attempts).default(0))
                    .col(timestamp_now(EmailOutbox::NextAttemptAt))
                    .col(text_null(EmailOutbox::LastError))
                    .col(timestamp_now(EmailOutbox::CreatedAt))
                    .col(timestamp_with_time_zone_null(EmailOutbox::SentAt))
                    .foreign_key(&mut fk(
                        "fk_email_outbox_client",
                        (EmailOutbox::Table, EmailOutbox::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        for (name, table, cols) in [
            (
                "idx_refresh_tokens_family",
                RefreshTokens::Table.into_iden(),
                vec![RefreshTokens::FamilyId.into_iden()],
            ),
            (
                "idx_refresh_tokens_user",
                RefreshTokens::Table.into_iden(),
                vec![RefreshTokens::UserId.into_iden()],
            ),
            (
                "idx_token_blacklist_expires",
                TokenBlacklist::Table.into_iden(),
                vec![TokenBlacklist::ExpiresAt.into_iden()],
            ),
            (
                "idx_password_reset_user",
                PasswordResetTokens::Table.into_iden(),
                vec![PasswordResetTokens::UserId.into_iden()],
            ),
            (
                "idx_mfa_backup_codes_user",
                MfaBackupCodes::Table.into_iden(),
                vec![MfaBackupCodes::UserId.into_iden()],
            ),
            (
                "idx_api_tokens_client",
                ApiTokens::Table.into_iden(),
                vec![ApiTokens::ClientId.into_iden()],
            ),
            (
                "idx_email_outbox_due",
                EmailOutbox::Table.into_iden(),
                vec![
                    EmailOutbox::Status.into_iden(),
                    EmailOutbox::NextAttemptAt.into_iden(),
                ],
            ),
        ] {
            let mut idx = Index::create();
            idx.name(name).table(table).if_not_exists();
            for c in cols {
                idx.col(c);
            }
            manager.create_index(idx.take()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            EmailOutbox::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            MfaBackupCodes::Table.into_iden(),
            PasswordResetTokens::Table.into_iden(),
            TokenBlacklist::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

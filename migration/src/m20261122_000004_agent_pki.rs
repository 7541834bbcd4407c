//! Agent enrolment: install tokens and the per-machine certificates.

use crate::columns::{fk, timestamp_now};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Machines {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum InstallTokens {
    Table,
    Id,
    ClientId,
    TokenHash,
    Name,
    ExpiresAt,
    UsageCount,
    MaxUsage,
    RevokedAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ClientCertificates {
    Table,
    Id,
    ClientId,
    MachineId,
    Serial,
    IssuedAt,
    ExpiresAt,
    RevokedAt,
    RevocationReason,
    CreatedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InstallTokens::Table)
                    .if_not_exists()
                    .col(pk_uuid(InstallTokens::Id))
                    .col(uuid(InstallTokens::ClientId))
                    .col(string_len_uniq(InstallTokens::TokenHash, 64))
                    .col(string_len(InstallTokens::Name, 100).default(""))
                    .col(timestamp_with_time_zone(InstallTokens::ExpiresAt))
                    .col(integer(InstallTokens::UsageCount).default(0))
                    .col(integer(InstallTokens::MaxUsage).default(0))
                    .col(timestamp_with_time_zone_null(InstallTokens::RevokedAt))
                    .col(uuid_null(InstallTokens::CreatedBy))
                    .col(timestamp_now(InstallTokens::CreatedAt))
                    .col(timestamp_now(InstallTokens::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_install_tokens_client",
                        (InstallTokens::Table, InstallTokens::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_install_tokens_creator",
                        (InstallTokens::Table, InstallTokens::CreatedBy),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ClientCertificates::Table)
                    .if_not_exists()
                    .col(pk_uuid(ClientCertificates::Id))
                    .col(uuid(ClientCertificates::ClientId))
                    .col(uuid(ClientCertificates::MachineId))
                    .col(string_len_uniq(ClientCertificates::Serial, 64))
                    .col(timestamp_with_time_zone(ClientCertificates::IssuedAt))
                    .col(timestamp_with_time_zone(ClientCertificates::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ClientCertificates::RevokedAt))
                    .col(text_null(ClientCertificates::RevocationReason))
                    .col(uuid_null(ClientCertificates::CreatedBy))
                    .col(timestamp_now(ClientCertificates::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_client_certificates_client",
                        (ClientCertificates::Table, ClientCertificates::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_client_certificates_machine",
                        (ClientCertificates::Table, ClientCertificates::MachineId),
                        (Machines::Table, Machines::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_client_certificates_creator",
                        (ClientCertificates::Table, ClientCertificates::CreatedBy),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_install_tokens_client")
                    .table(InstallTokens::Table)
                    .col(InstallTokens::ClientId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_client_certificates_machine_id")
                    .table(ClientCertificates::Table)
                    .col(ClientCertificates::MachineId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // One unrevoked certificate per machine (the spec's NOW()-based
        // predicate is not allowed in an index; expiry is checked in code).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS idx_client_certificates_active_machine \
                 ON client_certificates (machine_id) WHERE revoked_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ClientCertificates::Table.into_iden(),
            InstallTokens::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

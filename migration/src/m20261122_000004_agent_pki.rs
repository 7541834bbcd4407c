//! Agent enrolment: install tokens and the per-machine certificates.

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

fn now_default<T: IntoIden>(col: T) -> ColumnDef {
    timestamp_with_time_zone(col)
        .default(Expr::current_timestamp())
        .take()
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
                    .col(now_default(InstallTokens::CreatedAt))
                    .col(now_default(InstallTokens::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_install_tokens_client")
                            .from(InstallTokens::Table, InstallTokens::ClientId)
                            .to(Clients::Table, Clients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_install_tokens_creator")
                            .from(InstallTokens::Table, InstallTokens::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
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
                    .col(now_default(ClientCertificates::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_client_certificates_client")
                            .from(ClientCertificates::Table, ClientCertificates::ClientId)
                            .to(Clients::Table, Clients::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_client_certificates_machine")
                            .from(ClientCertificates::Table, ClientCertificates::MachineId)
                            .to(Machines::Table, Machines::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_client_certificates_creator")
                            .from(ClientCertificates::Table, ClientCertificates::CreatedBy)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
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

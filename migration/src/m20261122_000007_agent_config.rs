//! What agents fetch besides heartbeats: published agent versions, per-scope
//! collection intervals, pending commands (force-collect) and the tenant's
//! machine limit.

use crate::columns::{fk, timestamp_now};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    MaxMachines,
}

#[derive(DeriveIden)]
enum Machines {
    Table,
    Id,
    ForceCollectRequestedAt,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Labels {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AgentVersions {
    Table,
    Id,
    Version,
    Channel,
    Platform,
    Architecture,
    DownloadUrl,
    ChecksumSha256,
    FileSizeBytes,
    Changelog,
    IsActive,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CollectionSettings {
    Table,
    Id,
    ClientId,
    Name,
    Priority,
    Scope,
    MachineId,
    GroupId,
    LabelId,
    Intervals,
    Disabled,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .add_column_if_not_exists(integer_null(Clients::MaxMachines))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Machines::Table)
                    .add_column_if_not_exists(timestamp_with_time_zone_null(
                        Machines::ForceCollectRequestedAt,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AgentVersions::Table)
                    .if_not_exists()
                    .col(pk_uuid(AgentVersions::Id))
                    .col(string_len(AgentVersions::Version, 32))
                    .col(string_len(AgentVersions::Channel, 16))
                    .col(string_len(AgentVersions::Platform, 16))
                    .col(string_len(AgentVersions::Architecture, 16))
                    .col(text(AgentVersions::DownloadUrl))
                    .col(string_len(AgentVersions::ChecksumSha256, 64))
                    .col(big_integer(AgentVersions::FileSizeBytes).default(0))
                    .col(text(AgentVersions::Changelog).default(""))
                    .col(boolean(AgentVersions::IsActive).default(false))
                    .col(timestamp_now(AgentVersions::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_agent_versions_target")
                    .table(AgentVersions::Table)
                    .col(AgentVersions::Version)
                    .col(AgentVersions::Channel)
                    .col(AgentVersions::Platform)
                    .col(AgentVersions::Architecture)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CollectionSettings::Table)
                    .if_not_exists()
                    .col(pk_uuid(CollectionSettings::Id))
                    .col(uuid(CollectionSettings::ClientId))
                    .col(string_len(CollectionSettings::Name, 100))
                    .col(integer(CollectionSettings::Priority).default(0))
                    // client, group, label, machine
                    .col(string_len(CollectionSettings::Scope, 16))
                    .col(uuid_null(CollectionSettings::MachineId))
                    .col(uuid_null(CollectionSettings::GroupId))
                    .col(uuid_null(CollectionSettings::LabelId))
                    // {"metrics": 5, ...}: seconds per collector
                    .col(json(CollectionSettings::Intervals))
                    // ["software", ...]: collectors switched off in this scope
                    .col(json(CollectionSettings::Disabled))
                    .col(timestamp_now(CollectionSettings::CreatedAt))
                    .col(timestamp_now(CollectionSettings::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_collection_settings_client",
                        (CollectionSettings::Table, CollectionSettings::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_collection_settings_machine",
                        (CollectionSettings::Table, CollectionSettings::MachineId),
                        (Machines::Table, Machines::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_collection_settings_group",
                        (CollectionSettings::Table, CollectionSettings::GroupId),
                        (Groups::Table, Groups::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_collection_settings_label",
                        (CollectionSettings::Table, CollectionSettings::LabelId),
                        (Labels::Table, Labels::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_collection_settings_client")
                    .table(CollectionSettings::Table)
                    .col(CollectionSettings::ClientId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CollectionSettings::Table.into_iden(),
            AgentVersions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Machines::Table)
                    .drop_column(Machines::ForceCollectRequestedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .drop_column(Clients::MaxMachines)
                    .to_owned(),
            )
            .await
    }
}

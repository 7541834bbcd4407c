//! Global OS prerequisites for agents (a singleton row, seeded with the
//! spec's defaults: everything enabled, no minimum build).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AgentRequirements {
    Table,
    Id,
    WindowsClientEnabled,
    WindowsClientMinBuild,
    WindowsServerEnabled,
    WindowsServerMinBuild,
    LinuxEnabled,
    UnsupportedOsMessage,
    UpdatedAt,
}

/// The singleton's fixed id.
pub const SINGLETON_ID: &str = "00000000-0000-0000-0000-000000000001";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AgentRequirements::Table)
                    .if_not_exists()
                    .col(pk_uuid(AgentRequirements::Id))
                    .col(boolean(AgentRequirements::WindowsClientEnabled).default(true))
                    .col(integer(AgentRequirements::WindowsClientMinBuild).default(0))
                    .col(boolean(AgentRequirements::WindowsServerEnabled).default(true))
                    .col(integer(AgentRequirements::WindowsServerMinBuild).default(0))
                    .col(boolean(AgentRequirements::LinuxEnabled).default(true))
                    .col(text_null(AgentRequirements::UnsupportedOsMessage))
                    .col(
                        timestamp_with_time_zone(AgentRequirements::UpdatedAt)
                            .default(Expr::current_timestamp()),
                    )
                    .to_owned(),
            )
            .await?;
        let id: sea_orm_migration::sea_orm::prelude::Uuid = SINGLETON_ID.parse().expect("static uuid");
        let insert = Query::insert()
            .into_table(AgentRequirements::Table)
            .columns([AgentRequirements::Id])
            .values_panic([id.into()])
            .on_conflict(OnConflict::column(AgentRequirements::Id).do_nothing().to_owned())
            .to_owned();
        manager.exec_stmt(insert).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(AgentRequirements::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

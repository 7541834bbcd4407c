//! `machines.renewal_requested_at`: an administrator asked the agent to
//! renew its certificate before the usual window.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Machines {
    Table,
    RenewalRequestedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Machines::Table)
                    .add_column_if_not_exists(timestamp_with_time_zone_null(Machines::RenewalRequestedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Machines::Table)
                    .drop_column(Machines::RenewalRequestedAt)
                    .to_owned(),
            )
            .await
    }
}

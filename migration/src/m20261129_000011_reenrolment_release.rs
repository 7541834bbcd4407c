//! `machines.reenrolment_allowed_until`: an administrator released the
//! machine, so the next enrolment by host name may take it over until then.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Machines {
    Table,
    ReenrolmentAllowedUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Machines::Table)
                    .add_column_if_not_exists(timestamp_with_time_zone_null(
                        Machines::ReenrolmentAllowedUntil,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Machines::Table)
                    .drop_column(Machines::ReenrolmentAllowedUntil)
                    .to_owned(),
            )
            .await
    }
}

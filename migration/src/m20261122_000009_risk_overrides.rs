//! Per-machine risk overrides: an administrator accepts a detected risk or
//! sets its severity (one override per machine and risk key).

use crate::columns::{fk, timestamp_now};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum RiskOverrides {
    Table,
    Id,
    ClientId,
    MachineId,
    RiskKey,
    Level,
    Reason,
    ExpiresAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Machines {
    Table,
    Id,
}

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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RiskOverrides::Table)
                    .if_not_exists()
                    .col(pk_uuid(RiskOverrides::Id))
                    .col(uuid(RiskOverrides::ClientId))
                    .col(uuid(RiskOverrides::MachineId))
                    // antivirus_disabled, port:3389, smart:sda, ...
                    .col(string_len(RiskOverrides::RiskKey, 100))
                    // accepted, low, medium, high, critical
                    .col(string_len(RiskOverrides::Level, 16))
                    .col(string_len(RiskOverrides::Reason, 500).default(""))
                    .col(timestamp_with_time_zone_null(RiskOverrides::ExpiresAt))
                    .col(uuid_null(RiskOverrides::CreatedBy))
                    .col(timestamp_now(RiskOverrides::CreatedAt))
                    .col(timestamp_now(RiskOverrides::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_risk_overrides_client",
                        (RiskOverrides::Table, RiskOverrides::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_risk_overrides_machine",
                        (RiskOverrides::Table, RiskOverrides::MachineId),
                        (Machines::Table, Machines::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_risk_overrides_user",
                        (RiskOverrides::Table, RiskOverrides::CreatedBy),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_risk_overrides_machine_key")
                    .table(RiskOverrides::Table)
                    .col(RiskOverrides::MachineId)
                    .col(RiskOverrides::RiskKey)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RiskOverrides::Table).if_exists().to_owned())
            .await
    }
}

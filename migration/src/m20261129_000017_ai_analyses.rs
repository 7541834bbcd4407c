//! Stored analyses (kept 90 days, the spec's `ai_*` retention) and the
//! super_admin's per-tenant override of the licence's monthly AI quota.

use crate::columns::{fk, timestamp_now};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum AiAnalysisResults {
    Table,
    Id,
    ClientId,
    MachineId,
    AnalysisType,
    Origin,
    OriginId,
    Language,
    Findings,
    OverallScore,
    RiskLevel,
    Summary,
    Narrative,
    Narrator,
    Cost,
    DataUntil,
    Snapshot,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    AiMonthlyLimit,
}

#[derive(DeriveIden)]
enum Machines {
    Table,
    Id,
}

const MACHINE_TYPE_INDEX: &str = "ix_ai_analysis_results_machine_type_created";
const CLIENT_INDEX: &str = "ix_ai_analysis_results_client_created";
const EXPIRY_INDEX: &str = "ix_ai_analysis_results_expires";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AiAnalysisResults::Table)
                    .if_not_exists()
                    .col(uuid(AiAnalysisResults::Id).primary_key())
                    .col(uuid(AiAnalysisResults::ClientId))
                    .col(uuid(AiAnalysisResults::MachineId))
                    .col(string_len(AiAnalysisResults::AnalysisType, 32))
                    // manual, routine, trigger
                    .col(string_len(AiAnalysisResults::Origin, 16))
                    .col(uuid_null(AiAnalysisResults::OriginId))
                    .col(string_len(AiAnalysisResults::Language, 2))
                    // The engine's findings, JSON.
                    .col(text(AiAnalysisResults::Findings))
                    .col(integer_null(AiAnalysisResults::OverallScore))
                    .col(string_len_null(AiAnalysisResults::RiskLevel, 16))
                    .col(text(AiAnalysisResults::Summary))
                    .col(json(AiAnalysisResults::Narrative))
                    // builtin, claude
                    .col(string_len(AiAnalysisResults::Narrator, 16))
                    .col(integer(AiAnalysisResults::Cost))
                    // The newest sample the run saw; null when it saw none.
                    .col(timestamp_with_time_zone_null(AiAnalysisResults::DataUntil))
                    // What change detection compares the next run with.
                    .col(json(AiAnalysisResults::Snapshot))
                    .col(timestamp_now(AiAnalysisResults::CreatedAt))
                    .col(timestamp_with_time_zone(AiAnalysisResults::ExpiresAt))
                    .foreign_key(&mut fk(
                        "fk_ai_analysis_results_client",
                        (AiAnalysisResults::Table, AiAnalysisResults::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_ai_analysis_results_machine",
                        (AiAnalysisResults::Table, AiAnalysisResults::MachineId),
                        (Machines::Table, Machines::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // The protections read the last run of a type on a machine.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name(MACHINE_TYPE_INDEX)
                    .table(AiAnalysisResults::Table)
                    .col(AiAnalysisResults::MachineId)
                    .col(AiAnalysisResults::AnalysisType)
                    .col((AiAnalysisResults::CreatedAt, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        // Report lists page a tenant's runs by date.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name(CLIENT_INDEX)
                    .table(AiAnalysisResults::Table)
                    .col(AiAnalysisResults::ClientId)
                    .col(AiAnalysisResults::CreatedAt)
                    .to_owned(),
            )
            .await?;
        // The hourly purge deletes by expiry.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name(EXPIRY_INDEX)
                    .table(AiAnalysisResults::Table)
                    .col(AiAnalysisResults::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .add_column_if_not_exists(integer_null(Clients::AiMonthlyLimit))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .drop_column(Clients::AiMonthlyLimit)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(AiAnalysisResults::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

//! AI automation: scheduled analyses (routines) and event-driven ones
//! (triggers) with their histories, and the Enterprise AI configuration
//! (custom prompt context, machine criticality).

use crate::columns::{fk, timestamp_now};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum AiRoutines {
    Table,
    Id,
    ClientId,
    Name,
    RoutineType,
    Schedule,
    Timezone,
    Enabled,
    Config,
    LastRunAt,
    NextRunAt,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AiRoutineHistory {
    Table,
    Id,
    RoutineId,
    ClientId,
    StartedAt,
    CompletedAt,
    Status,
    MachinesAnalyzed,
    IssuesFound,
    Error,
}

#[derive(DeriveIden, Clone, Copy)]
enum AiTriggers {
    Table,
    Id,
    ClientId,
    Name,
    TriggerType,
    Enabled,
    Conditions,
    Actions,
    LastTriggeredAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AiTriggerHistory {
    Table,
    Id,
    TriggerId,
    ClientId,
    TriggeredAt,
    MachineId,
    MachineHostname,
    TriggerReason,
    AnalysisId,
    Status,
    Error,
}

#[derive(DeriveIden, Clone, Copy)]
enum AiConfig {
    Table,
    ClientId,
    CustomContext,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AiMachineCriticality {
    Table,
    MachineId,
    ClientId,
    Criticality,
    Source,
    Reason,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Machines {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AiRoutines::Table)
                    .if_not_exists()
                    .col(uuid(AiRoutines::Id).primary_key())
                    .col(uuid(AiRoutines::ClientId))
                    .col(string_len(AiRoutines::Name, 100))
                    .col(string_len(AiRoutines::RoutineType, 32))
                    .col(string_len(AiRoutines::Schedule, 100))
                    // IANA name; NULL = UTC.
                    .col(string_len_null(AiRoutines::Timezone, 64))
                    .col(boolean(AiRoutines::Enabled).default(true))
                    .col(json(AiRoutines::Config))
                    .col(timestamp_with_time_zone_null(AiRoutines::LastRunAt))
                    .col(timestamp_with_time_zone_null(AiRoutines::NextRunAt))
                    .col(uuid_null(AiRoutines::CreatedBy))
                    .col(timestamp_now(AiRoutines::CreatedAt))
                    .col(timestamp_now(AiRoutines::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_ai_routines_client",
                        (AiRoutines::Table, AiRoutines::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // The scheduler's question: enabled routines due now.
        manager
            .create_index(
                Index::create()
                    .name("idx_ai_routines_due")
                    .table(AiRoutines::Table)
                    .col(AiRoutines::Enabled)
                    .col(AiRoutines::NextRunAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ai_routines_client")
                    .table(AiRoutines::Table)
                    .col(AiRoutines::ClientId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AiRoutineHistory::Table)
                    .if_not_exists()
                    .col(uuid(AiRoutineHistory::Id).primary_key())
                    .col(uuid(AiRoutineHistory::RoutineId))
                    .col(uuid(AiRoutineHistory::ClientId))
                    .col(timestamp_with_time_zone(AiRoutineHistory::StartedAt))
                    .col(timestamp_with_time_zone_null(AiRoutineHistory::CompletedAt))
                    // running, success, partial, failed
                    .col(string_len(AiRoutineHistory::Status, 16))
                    .col(integer(AiRoutineHistory::MachinesAnalyzed).default(0))
                    .col(integer(AiRoutineHistory::IssuesFound).default(0))
                    .col(text_null(AiRoutineHistory::Error))
                    .foreign_key(&mut fk(
                        "fk_ai_routine_history_routine",
                        (AiRoutineHistory::Table, AiRoutineHistory::RoutineId),
                        (AiRoutines::Table, AiRoutines::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_ai_routine_history_routine", AiRoutineHistory::RoutineId),
            ("idx_ai_routine_history_client", AiRoutineHistory::ClientId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AiRoutineHistory::Table)
                        .col(col)
                        .col(AiRoutineHistory::StartedAt)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AiTriggers::Table)
                    .if_not_exists()
                    .col(uuid(AiTriggers::Id).primary_key())
                    .col(uuid(AiTriggers::ClientId))
                    .col(string_len(AiTriggers::Name, 100))
                    .col(string_len(AiTriggers::TriggerType, 32))
                    .col(boolean(AiTriggers::Enabled).default(true))
                    .col(json(AiTriggers::Conditions))
                    .col(json(AiTriggers::Actions))
                    .col(timestamp_with_time_zone_null(AiTriggers::LastTriggeredAt))
                    .col(timestamp_now(AiTriggers::CreatedAt))
                    .col(timestamp_now(AiTriggers::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_ai_triggers_client",
                        (AiTriggers::Table, AiTriggers::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ai_triggers_client")
                    .table(AiTriggers::Table)
                    .col(AiTriggers::ClientId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AiTriggerHistory::Table)
                    .if_not_exists()
                    .col(uuid(AiTriggerHistory::Id).primary_key())
                    .col(uuid(AiTriggerHistory::TriggerId))
                    .col(uuid(AiTriggerHistory::ClientId))
                    .col(timestamp_with_time_zone(AiTriggerHistory::TriggeredAt))
                    // Kept when the machine is deleted: the hostname says which.
                    .col(uuid_null(AiTriggerHistory::MachineId))
                    .col(string_len(AiTriggerHistory::MachineHostname, 255))
                    .col(string_len(AiTriggerHistory::TriggerReason, 255))
                    .col(uuid_null(AiTriggerHistory::AnalysisId))
                    // running, success, refused, failed
                    .col(string_len(AiTriggerHistory::Status, 16))
                    .col(text_null(AiTriggerHistory::Error))
                    .foreign_key(&mut fk(
                        "fk_ai_trigger_history_trigger",
                        (AiTriggerHistory::Table, AiTriggerHistory::TriggerId),
                        (AiTriggers::Table, AiTriggers::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // The once-per-cooldown check reads (trigger, machine, time).
        manager
            .create_index(
                Index::create()
                    .name("idx_ai_trigger_history_machine")
                    .table(AiTriggerHistory::Table)
                    .col(AiTriggerHistory::TriggerId)
                    .col(AiTriggerHistory::MachineId)
                    .col(AiTriggerHistory::TriggeredAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ai_trigger_history_client")
                    .table(AiTriggerHistory::Table)
                    .col(AiTriggerHistory::ClientId)
                    .col(AiTriggerHistory::TriggeredAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AiConfig::Table)
                    .if_not_exists()
                    .col(uuid(AiConfig::ClientId).primary_key())
                    // At most 2,000 characters.
                    .col(text(AiConfig::CustomContext))
                    .col(timestamp_now(AiConfig::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_ai_config_client",
                        (AiConfig::Table, AiConfig::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AiMachineCriticality::Table)
                    .if_not_exists()
                    .col(uuid(AiMachineCriticality::MachineId).primary_key())
                    .col(uuid(AiMachineCriticality::ClientId))
                    // critical, important, standard
                    .col(string_len(AiMachineCriticality::Criticality, 16))
                    // auto, manual
                    .col(string_len(AiMachineCriticality::Source, 8))
                    .col(string_len_null(AiMachineCriticality::Reason, 100))
                    .col(timestamp_now(AiMachineCriticality::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_ai_machine_criticality_machine",
                        (AiMachineCriticality::Table, AiMachineCriticality::MachineId),
                        (Machines::Table, Machines::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_ai_machine_criticality_client",
                        (AiMachineCriticality::Table, AiMachineCriticality::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_ai_machine_criticality_client")
                    .table(AiMachineCriticality::Table)
                    .col(AiMachineCriticality::ClientId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AiMachineCriticality::Table.into_iden(),
            AiConfig::Table.into_iden(),
            AiTriggerHistory::Table.into_iden(),
            AiTriggers::Table.into_iden(),
            AiRoutineHistory::Table.into_iden(),
            AiRoutines::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

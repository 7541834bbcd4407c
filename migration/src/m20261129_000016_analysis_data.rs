//! What the analysis engine reads beyond the existing series: disk latency
//! and IO wait on `metrics` (optional, sent by the metrics collector), and
//! `metric_baselines`, the spec's drift-detection snapshot (one row per
//! machine and metric, overwritten on each refresh).

use crate::columns::{fk, timestamp_now};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Metrics {
    Table,
    DiskLatencyMs,
    IoWaitPercent,
}

#[derive(DeriveIden, Clone, Copy)]
enum MetricBaselines {
    Table,
    Id,
    ClientId,
    MachineId,
    MetricType,
    BaselineMean,
    BaselineStddev,
    BaselineP95,
    CurrentValue,
    ZScore,
    WarningThreshold,
    CriticalThreshold,
    DriftDetected,
    DriftSeverity,
    Explanation,
    LastUpdated,
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: a compressed TimescaleDB hypertable
        // accepts a nullable column without default, one at a time.
        for col in [Metrics::DiskLatencyMs, Metrics::IoWaitPercent] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Metrics::Table)
                        .add_column(double_null(col))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(MetricBaselines::Table)
                    .if_not_exists()
                    .col(pk_uuid(MetricBaselines::Id))
                    .col(uuid(MetricBaselines::ClientId))
                    .col(uuid(MetricBaselines::MachineId))
                    // cpu_percent, ram_percent, disk_latency_ms
                    .col(string_len(MetricBaselines::MetricType, 50))
                    .col(double(MetricBaselines::BaselineMean))
                    .col(double(MetricBaselines::BaselineStddev))
                    .col(double(MetricBaselines::BaselineP95))
                    .col(double(MetricBaselines::CurrentValue))
                    .col(double(MetricBaselines::ZScore))
                    .col(double(MetricBaselines::WarningThreshold).default(2.0))
                    .col(double(MetricBaselines::CriticalThreshold).default(3.0))
                    .col(boolean(MetricBaselines::DriftDetected).default(false))
                    // none, warning, critical
                    .col(string_len(MetricBaselines::DriftSeverity, 20).default("none"))
                    .col(text_null(MetricBaselines::Explanation))
                    .col(timestamp_now(MetricBaselines::LastUpdated))
                    // In the table itself, so an upsert's conflict target
                    // exists whatever ran before it.
                    .index(
                        Index::create()
                            .name("ux_metric_baselines_machine_metric")
                            .col(MetricBaselines::MachineId)
                            .col(MetricBaselines::MetricType)
                            .unique(),
                    )
                    .foreign_key(&mut fk(
                        "fk_metric_baselines_client",
                        (MetricBaselines::Table, MetricBaselines::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_metric_baselines_machine",
                        (MetricBaselines::Table, MetricBaselines::MachineId),
                        (Machines::Table, Machines::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MetricBaselines::Table).if_exists().to_owned())
            .await?;
        for col in [Metrics::DiskLatencyMs, Metrics::IoWaitPercent] {
            manager
                .alter_table(Table::alter().table(Metrics::Table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! The public status page's storage: `service_uptime` (one row per service
//! and check, every 30 minutes) and `service_incidents`. With TimescaleDB
//! `service_uptime` is a hypertable whose retention policy keeps 30 days;
//! elsewhere the cleanup job deletes older rows.

use crate::{columns::timestamp_now, timescale};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ServiceUptime {
    Table,
    Id,
    ServiceName,
    Status,
    ResponseTimeMs,
    CheckedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ServiceIncidents {
    Table,
    Id,
    ServiceName,
    Status,
    StartedAt,
    ResolvedAt,
    Description,
    Source,
    CreatedAt,
}

const HYPERTABLE_SQL: &[&str] = &[
    "SELECT create_hypertable('service_uptime', 'checked_at', chunk_time_interval => INTERVAL '7 days', if_not_exists => TRUE, migrate_data => TRUE)",
    "SELECT add_retention_policy('service_uptime', INTERVAL '30 days', if_not_exists => TRUE)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServiceUptime::Table)
                    .if_not_exists()
                    .col(uuid(ServiceUptime::Id))
                    .col(string_len(ServiceUptime::ServiceName, 50))
                    // online, degraded, offline
                    .col(string_len(ServiceUptime::Status, 20))
                    .col(integer(ServiceUptime::ResponseTimeMs))
                    .col(timestamp_now(ServiceUptime::CheckedAt))
                    // A hypertable needs its time column in every unique index.
                    .primary_key(
                        Index::create()
                            .col(ServiceUptime::Id)
                            .col(ServiceUptime::CheckedAt),
                    )
                    .to_owned(),
            )
            .await?;
        // The 15-day series reads one service's checks over a time range.
        manager
            .create_index(
                Index::create()
                    .name("idx_service_uptime_service_time")
                    .table(ServiceUptime::Table)
                    .col(ServiceUptime::ServiceName)
                    .col(ServiceUptime::CheckedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ServiceIncidents::Table)
                    .if_not_exists()
                    .col(uuid(ServiceIncidents::Id).primary_key())
                    .col(string_len(ServiceIncidents::ServiceName, 50))
                    // degraded, offline
                    .col(string_len(ServiceIncidents::Status, 20))
                    .col(timestamp_with_time_zone(ServiceIncidents::StartedAt))
                    .col(timestamp_with_time_zone_null(ServiceIncidents::ResolvedAt))
                    .col(text_null(ServiceIncidents::Description))
                    // check (opened by the checks, which also resolve it) or
                    // manual (posted by a super_admin, who resolves it).
                    .col(string_len(ServiceIncidents::Source, 16).default("check"))
                    .col(timestamp_now(ServiceIncidents::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_service_incidents_started")
                    .table(ServiceIncidents::Table)
                    .col(ServiceIncidents::StartedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // One open incident per service: instances that see the same outage
        // at the same moment open it once, the others' inserts conflict.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX IF NOT EXISTS idx_service_incidents_one_open \
             ON service_incidents (service_name) WHERE resolved_at IS NULL",
        )
        .await?;
        if timescale::is_enabled(db).await? {
            for sql in HYPERTABLE_SQL {
                db.execute_unprepared(sql).await?;
            }
            tracing::info!("timescaledb: service_uptime is a hypertable kept 30 days");
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ServiceIncidents::Table.into_iden(),
            ServiceUptime::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

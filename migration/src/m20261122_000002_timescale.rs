//! Turns `activity_logs` into a hypertable (1-day chunks, compression after
//! 2 days, 30-day retention) when TimescaleDB is present. Elsewhere a no-op:
//! the cleanup job enforces the same retention.

use crate::timescale;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const HYPERTABLE_SQL: &[&str] = &[
    "SELECT create_hypertable('activity_logs', 'timestamp', chunk_time_interval => INTERVAL '1 day', if_not_exists => TRUE, migrate_data => TRUE)",
    "ALTER TABLE activity_logs SET (timescaledb.compress, timescaledb.compress_segmentby = 'client_id', timescaledb.compress_orderby = 'timestamp DESC')",
    "SELECT add_compression_policy('activity_logs', INTERVAL '2 days', if_not_exists => TRUE)",
    "SELECT add_retention_policy('activity_logs', INTERVAL '30 days', if_not_exists => TRUE)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if !timescale::ensure_extension(db).await? {
            tracing::info!("timescaledb not available: activity_logs stays a plain table");
            return Ok(());
        }
        for sql in HYPERTABLE_SQL {
            db.execute_unprepared(sql).await?;
        }
        tracing::info!("timescaledb enabled: activity_logs is a hypertable");
        Ok(())
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // A hypertable cannot be turned back into a plain table in place;
        // dropping the core tables (previous migration's down) removes it.
        Ok(())
    }
}

//! Collector data: the time series (`metrics`, `disk_info`, `smart_data`,
//! `event_logs`), the snapshots (`machine_collector_data`,
//! `machine_inventory`) and the hourly rollups. With TimescaleDB the time
//! series become hypertables (1-day chunks, compression after 2 days, the
//! 365-day safety net) and the rollups are continuous aggregates; without
//! it the rollups are plain tables a job keeps filled, under the same names
//! and columns, so reads are the same in both modes.
//!
//! Primary keys carry the sample's identity (machine, series, timestamp):
//! an agent retrying a sample writes nothing twice.

use crate::{
    columns::{fk, timestamp_now},
    timescale,
};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Machines {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Clients {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Metrics {
    Table,
    MachineId,
    Collector,
    RecordedAt,
    ClientId,
    CpuPercent,
    RamPercent,
    RamUsedBytes,
    RamTotalBytes,
    UptimeSeconds,
    CpuTemp,
    BytesRecv,
    BytesSent,
    PacketLoss,
    LatencyMs,
}

#[derive(DeriveIden, Clone, Copy)]
enum DiskInfo {
    Table,
    MachineId,
    MountPoint,
    RecordedAt,
    ClientId,
    Device,
    FsType,
    TotalGb,
    UsedGb,
    UsedPercent,
    Model,
    Interface,
}

#[derive(DeriveIden, Clone, Copy)]
enum SmartData {
    Table,
    MachineId,
    Device,
    RecordedAt,
    ClientId,
    Model,
    Serial,
    Firmware,
    SmartStatus,
    IsVirtual,
    OverallHealthTest,
    Temperature,
    PowerOnHours,
    PowerCycleCount,
    ReallocatedSectors,
    CurrentPendingSectors,
    OfflineUncorrectable,
    PredictedFailure,
}

#[derive(DeriveIden, Clone, Copy)]
enum EventLogs {
    Table,
    MachineId,
    RecordedAt,
    LogName,
    Source,
    EventId,
    ClientId,
    Level,
    Message,
}

#[derive(DeriveIden, Clone, Copy)]
enum MachineCollectorData {
    Table,
    MachineId,
    Collector,
    ClientId,
    Data,
    CollectedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum MachineInventory {
    Table,
    MachineId,
    ClientId,
    AntivirusName,
    AntivirusVersion,
    AntivirusEnabled,
    AntivirusUpdated,
    FirewallEnabled,
    BitlockerEnabled,
    SecureBootEnabled,
    ServicesTotal,
    ServicesRunning,
    ServicesFailed,
    AllServices,
    FailedServices,
    SoftwareCount,
    SoftwareDetails,
    UsersTotal,
    UsersAdmin,
    UsersDetails,
    PortsOpen,
    PortsRiskyOpen,
    AllPorts,
    RiskyPortsDetails,
    NetworkInterfaces,
    PendingUpdates,
    SecurityUpdates,
    RebootRequired,
    PatchesAutoUpdate,
    PatchesLastCheck,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum MetricsHourly {
    Table,
    MachineId,
    Bucket,
    ClientId,
    CpuAvg,
    CpuMin,
    CpuMax,
    RamAvg,
    RamMin,
    RamMax,
    CpuTempAvg,
    CpuTempMin,
    CpuTempMax,
    Samples,
}

#[derive(DeriveIden, Clone, Copy)]
enum NetworkHourly {
    Table,
    MachineId,
    Bucket,
    ClientId,
    BytesRecvAvg,
    BytesRecvMax,
    BytesSentAvg,
    BytesSentMax,
    PacketLossAvg,
    PacketLossMax,
    LatencyAvg,
    LatencyMax,
    Samples,
}

#[derive(DeriveIden, Clone, Copy)]
enum DiskHourly {
    Table,
    MachineId,
    MountPoint,
    Bucket,
    ClientId,
    DiskUsageAvg,
    DiskUsageMax,
    Samples,
}

fn owned_by_machine<T: IntoIden + Copy + 'static>(
    table: T,
    machine: T,
    client: T,
    name: &str,
) -> [ForeignKeyCreateStatement; 2] {
    [
        fk(
            &format!("fk_{name}_machine"),
            (table, machine),
            (Machines::Table, Machines::Id),
            ForeignKeyAction::Cascade,
        ),
        fk(
            &format!("fk_{name}_client"),
            (table, client),
            (Clients::Table, Clients::Id),
            ForeignKeyAction::Cascade,
        ),
    ]
}

fn with_fks(mut table: TableCreateStatement, fks: [ForeignKeyCreateStatement; 2]) -> TableCreateStatement {
    for mut f in fks {
        table.foreign_key(&mut f);
    }
    table
}

/// TimescaleDB: hypertables, compression, the safety-net retention and the
/// continuous aggregates, with an initial refresh.
const TIMESCALE_SQL: &[&str] = &[
    "SELECT create_hypertable('metrics', 'recorded_at', chunk_time_interval => INTERVAL '1 day', if_not_exists => TRUE, migrate_data => TRUE)",
    "SELECT create_hypertable('disk_info', 'recorded_at', chunk_time_interval => INTERVAL '1 day', if_not_exists => TRUE, migrate_data => TRUE)",
    "SELECT create_hypertable('smart_data', 'recorded_at', chunk_time_interval => INTERVAL '1 day', if_not_exists => TRUE, migrate_data => TRUE)",
    "SELECT create_hypertable('event_logs', 'recorded_at', chunk_time_interval => INTERVAL '1 day', if_not_exists => TRUE, migrate_data => TRUE)",
    "ALTER TABLE metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'machine_id, collector', timescaledb.compress_orderby = 'recorded_at DESC')",
    "ALTER TABLE disk_info SET (timescaledb.compress, timescaledb.compress_segmentby = 'machine_id', timescaledb.compress_orderby = 'recorded_at DESC')",
    "ALTER TABLE smart_data SET (timescaledb.compress, timescaledb.compress_segmentby = 'machine_id', timescaledb.compress_orderby = 'recorded_at DESC')",
    "ALTER TABLE event_logs SET (timescaledb.compress, timescaledb.compress_segmentby = 'machine_id', timescaledb.compress_orderby = 'recorded_at DESC')",
    "SELECT add_compression_policy('metrics', INTERVAL '2 days', if_not_exists => TRUE)",
    "SELECT add_compression_policy('disk_info', INTERVAL '2 days', if_not_exists => TRUE)",
    "SELECT add_compression_policy('smart_data', INTERVAL '2 days', if_not_exists => TRUE)",
    "SELECT add_compression_policy('event_logs', INTERVAL '2 days', if_not_exists => TRUE)",
    "SELECT add_retention_policy('metrics', INTERVAL '365 days', if_not_exists => TRUE)",
    "SELECT add_retention_policy('disk_info', INTERVAL '365 days', if_not_exists => TRUE)",
    "SELECT add_retention_policy('smart_data', INTERVAL '365 days', if_not_exists => TRUE)",
    "SELECT add_retention_policy('event_logs', INTERVAL '365 days', if_not_exists => TRUE)",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS metrics_hourly WITH (timescaledb.continuous) AS \
     SELECT machine_id, time_bucket(INTERVAL '1 hour', recorded_at) AS bucket, client_id, \
     avg(cpu_percent) AS cpu_avg, min(cpu_percent) AS cpu_min, max(cpu_percent) AS cpu_max, \
     avg(ram_percent) AS ram_avg, min(ram_percent) AS ram_min, max(ram_percent) AS ram_max, \
     avg(cpu_temp) AS cpu_temp_avg, min(cpu_temp) AS cpu_temp_min, max(cpu_temp) AS cpu_temp_max, \
     count(*)::int AS samples \
     FROM metrics WHERE collector = 'metrics' GROUP BY machine_id, bucket, client_id WITH NO DATA",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS network_hourly WITH (timescaledb.continuous) AS \
     SELECT machine_id, time_bucket(INTERVAL '1 hour', recorded_at) AS bucket, client_id, \
     avg(bytes_recv) AS bytes_recv_avg, max(bytes_recv)::double precision AS bytes_recv_max, \
     avg(bytes_sent) AS bytes_sent_avg, max(bytes_sent)::double precision AS bytes_sent_max, \
     avg(packet_loss) AS packet_loss_avg, max(packet_loss) AS packet_loss_max, \
     avg(latency_ms) AS latency_avg, max(latency_ms) AS latency_max, count(*)::int AS samples \
     FROM metrics WHERE collector = 'network' GROUP BY machine_id, bucket, client_id WITH NO DATA",
    "CREATE MATERIALIZED VIEW IF NOT EXISTS disk_hourly WITH (timescaledb.continuous) AS \
     SELECT machine_id, mount_point, time_bucket(INTERVAL '1 hour', recorded_at) AS bucket, client_id, \
     avg(used_percent) AS disk_usage_avg, max(used_percent) AS disk_usage_max, count(*)::int AS samples \
     FROM disk_info GROUP BY machine_id, mount_point, bucket, client_id WITH NO DATA",
    "SELECT add_continuous_aggregate_policy('metrics_hourly', start_offset => INTERVAL '31 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour', if_not_exists => TRUE)",
    "SELECT add_continuous_aggregate_policy('network_hourly', start_offset => INTERVAL '31 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour', if_not_exists => TRUE)",
    "SELECT add_continuous_aggregate_policy('disk_hourly', start_offset => INTERVAL '31 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour', if_not_exists => TRUE)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let metrics = Table::create()
            .table(Metrics::Table)
            .if_not_exists()
            .col(uuid(Metrics::MachineId))
            // metrics or network
            .col(string_len(Metrics::Collector, 16))
            .col(timestamp_with_time_zone(Metrics::RecordedAt))
            .col(uuid(Metrics::ClientId))
            .col(double_null(Metrics::CpuPercent))
            .col(double_null(Metrics::RamPercent))
            .col(big_integer_null(Metrics::RamUsedBytes))
            .col(big_integer_null(Metrics::RamTotalBytes))
            .col(big_integer_null(Metrics::UptimeSeconds))
            .col(double_null(Metrics::CpuTemp))
            .col(big_integer_null(Metrics::BytesRecv))
            .col(big_integer_null(Metrics::BytesSent))
            .col(double_null(Metrics::PacketLoss))
            .col(double_null(Metrics::LatencyMs))
            .primary_key(
                Index::create()
                    .col(Metrics::MachineId)
                    .col(Metrics::Collector)
                    .col(Metrics::RecordedAt),
            )
            .to_owned();
        manager
            .create_table(with_fks(
                metrics,
                owned_by_machine(Metrics::Table, Metrics::MachineId, Metrics::ClientId, "metrics"),
            ))
            .await?;

        let disks = Table::create()
            .table(DiskInfo::Table)
            .if_not_exists()
            .col(uuid(DiskInfo::MachineId))
            .col(string_len(DiskInfo::MountPoint, 255))
            .col(timestamp_with_time_zone(DiskInfo::RecordedAt))
            .col(uuid(DiskInfo::ClientId))
            .col(string_len(DiskInfo::Device, 255).default(""))
            .col(string_len(DiskInfo::FsType, 50).default(""))
            .col(double(DiskInfo::TotalGb))
            .col(double(DiskInfo::UsedGb))
            .col(double(DiskInfo::UsedPercent))
            .col(string_len_null(DiskInfo::Model, 255))
            .col(string_len_null(DiskInfo::Interface, 50))
            .primary_key(
                Index::create()
                    .col(DiskInfo::MachineId)
                    .col(DiskInfo::MountPoint)
                    .col(DiskInfo::RecordedAt),
            )
            .to_owned();
        manager
            .create_table(with_fks(
                disks,
                owned_by_machine(
                    DiskInfo::Table,
                    DiskInfo::MachineId,
                    DiskInfo::ClientId,
                    "disk_info",
                ),
            ))
            .await?;

        let smart = Table::create()
            .table(SmartData::Table)
            .if_not_exists()
            .col(uuid(SmartData::MachineId))
            .col(string_len(SmartData::Device, 255))
            .col(timestamp_with_time_zone(SmartData::RecordedAt))
            .col(uuid(SmartData::ClientId))
            .col(string_len_null(SmartData::Model, 255))
            .col(string_len_null(SmartData::Serial, 255))
            .col(string_len_null(SmartData::Firmware, 100))
            // healthy, warning, critical, virtual, unavailable
            .col(string_len(SmartData::SmartStatus, 20))
            .col(boolean(SmartData::IsVirtual).default(false))
            .col(string_len_null(SmartData::OverallHealthTest, 100))
            .col(integer_null(SmartData::Temperature))
            .col(big_integer_null(SmartData::PowerOnHours))
            .col(big_integer_null(SmartData::PowerCycleCount))
            .col(big_integer_null(SmartData::ReallocatedSectors))
            .col(big_integer_null(SmartData::CurrentPendingSectors))
            .col(big_integer_null(SmartData::OfflineUncorrectable))
            .col(boolean(SmartData::PredictedFailure).default(false))
            .primary_key(
                Index::create()
                    .col(SmartData::MachineId)
                    .col(SmartData::Device)
                    .col(SmartData::RecordedAt),
            )
            .to_owned();
        manager
            .create_table(with_fks(
                smart,
                owned_by_machine(
                    SmartData::Table,
                    SmartData::MachineId,
                    SmartData::ClientId,
                    "smart_data",
                ),
            ))
            .await?;

        let events = Table::create()
            .table(EventLogs::Table)
            .if_not_exists()
            .col(uuid(EventLogs::MachineId))
            .col(timestamp_with_time_zone(EventLogs::RecordedAt))
            .col(string_len(EventLogs::LogName, 64))
            .col(string_len(EventLogs::Source, 255))
            .col(big_integer(EventLogs::EventId))
            .col(uuid(EventLogs::ClientId))
            // critical, error, warning, information
            .col(string_len(EventLogs::Level, 16))
            .col(text(EventLogs::Message))
            .primary_key(
                Index::create()
                    .col(EventLogs::MachineId)
                    .col(EventLogs::RecordedAt)
                    .col(EventLogs::LogName)
                    .col(EventLogs::Source)
                    .col(EventLogs::EventId),
            )
            .to_owned();
        manager
            .create_table(with_fks(
                events,
                owned_by_machine(
                    EventLogs::Table,
                    EventLogs::MachineId,
                    EventLogs::ClientId,
                    "event_logs",
                ),
            ))
            .await?;

        let snapshots = Table::create()
            .table(MachineCollectorData::Table)
            .if_not_exists()
            .col(uuid(MachineCollectorData::MachineId))
            .col(string_len(MachineCollectorData::Collector, 32))
            .col(uuid(MachineCollectorData::ClientId))
            .col(json_binary(MachineCollectorData::Data))
            .col(timestamp_with_time_zone(MachineCollectorData::CollectedAt))
            .col(timestamp_now(MachineCollectorData::UpdatedAt))
            .primary_key(
                Index::create()
                    .col(MachineCollectorData::MachineId)
                    .col(MachineCollectorData::Collector),
            )
            .to_owned();
        manager
            .create_table(with_fks(
                snapshots,
                owned_by_machine(
                    MachineCollectorData::Table,
                    MachineCollectorData::MachineId,
                    MachineCollectorData::ClientId,
                    "collector_data",
                ),
            ))
            .await?;

        let inventory = Table::create()
            .table(MachineInventory::Table)
            .if_not_exists()
            .col(pk_uuid(MachineInventory::MachineId))
            .col(uuid(MachineInventory::ClientId))
            .col(string_len_null(MachineInventory::AntivirusName, 255))
            .col(text_null(MachineInventory::AntivirusVersion))
            .col(boolean_null(MachineInventory::AntivirusEnabled))
            .col(boolean_null(MachineInventory::AntivirusUpdated))
            .col(boolean_null(MachineInventory::FirewallEnabled))
            .col(boolean_null(MachineInventory::BitlockerEnabled))
            .col(boolean_null(MachineInventory::SecureBootEnabled))
            .col(integer_null(MachineInventory::ServicesTotal))
            .col(integer_null(MachineInventory::ServicesRunning))
            .col(integer_null(MachineInventory::ServicesFailed))
            .col(json_binary_null(MachineInventory::AllServices))
            .col(json_binary_null(MachineInventory::FailedServices))
            .col(integer_null(MachineInventory::SoftwareCount))
            .col(json_binary_null(MachineInventory::SoftwareDetails))
            .col(integer_null(MachineInventory::UsersTotal))
            .col(integer_null(MachineInventory::UsersAdmin))
            .col(json_binary_null(MachineInventory::UsersDetails))
            .col(integer_null(MachineInventory::PortsOpen))
            .col(integer_null(MachineInventory::PortsRiskyOpen))
            .col(json_binary_null(MachineInventory::AllPorts))
            .col(json_binary_null(MachineInventory::RiskyPortsDetails))
            .col(json_binary_null(MachineInventory::NetworkInterfaces))
            .col(integer_null(MachineInventory::PendingUpdates))
            .col(integer_null(MachineInventory::SecurityUpdates))
            .col(boolean_null(MachineInventory::RebootRequired))
            .col(boolean_null(MachineInventory::PatchesAutoUpdate))
            .col(timestamp_with_time_zone_null(MachineInventory::PatchesLastCheck))
            .col(timestamp_now(MachineInventory::UpdatedAt))
            .to_owned();
        manager
            .create_table(with_fks(
                inventory,
                owned_by_machine(
                    MachineInventory::Table,
                    MachineInventory::MachineId,
                    MachineInventory::ClientId,
                    "inventory",
                ),
            ))
            .await?;

        for (name, table, cols) in [
            (
                "ix_metrics_client_time",
                Metrics::Table.into_iden(),
                vec![Metrics::ClientId.into_iden(), Metrics::RecordedAt.into_iden()],
            ),
            (
                "ix_disk_info_client_time",
                DiskInfo::Table.into_iden(),
                vec![DiskInfo::ClientId.into_iden(), DiskInfo::RecordedAt.into_iden()],
            ),
            (
                "ix_smart_data_client_time",
                SmartData::Table.into_iden(),
                vec![SmartData::ClientId.into_iden(), SmartData::RecordedAt.into_iden()],
            ),
            (
                "ix_event_logs_client_time",
                EventLogs::Table.into_iden(),
                vec![EventLogs::ClientId.into_iden(), EventLogs::RecordedAt.into_iden()],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(table).if_not_exists();
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }

        let db = manager.get_connection();
        if timescale::is_enabled(db).await? {
            for sql in TIMESCALE_SQL {
                db.execute_unprepared(sql).await?;
            }
            tracing::info!("timescaledb: collector hypertables and continuous aggregates ready");
            return Ok(());
        }
        self.plain_rollups(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if timescale::is_enabled(db).await? {
            for view in ["metrics_hourly", "network_hourly", "disk_hourly"] {
                db.execute_unprepared(&format!("DROP MATERIALIZED VIEW IF EXISTS {view}"))
                    .await?;
            }
        }
        for table in [
            MetricsHourly::Table.into_iden(),
            NetworkHourly::Table.into_iden(),
            DiskHourly::Table.into_iden(),
            MachineInventory::Table.into_iden(),
            MachineCollectorData::Table.into_iden(),
            EventLogs::Table.into_iden(),
            SmartData::Table.into_iden(),
            DiskInfo::Table.into_iden(),
            Metrics::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

impl Migration {
    /// Rollup tables the rollup job fills where continuous aggregates are
    /// not available.
    async fn plain_rollups(&self, manager: &SchemaManager<'_>) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MetricsHourly::Table)
                    .if_not_exists()
                    .col(uuid(MetricsHourly::MachineId))
                    .col(timestamp_with_time_zone(MetricsHourly::Bucket))
                    .col(uuid(MetricsHourly::ClientId))
                    .col(double_null(MetricsHourly::CpuAvg))
                    .col(double_null(MetricsHourly::CpuMin))
                    .col(double_null(MetricsHourly::CpuMax))
                    .col(double_null(MetricsHourly::RamAvg))
                    .col(double_null(MetricsHourly::RamMin))
                    .col(double_null(MetricsHourly::RamMax))
                    .col(double_null(MetricsHourly::CpuTempAvg))
                    .col(double_null(MetricsHourly::CpuTempMin))
                    .col(double_null(MetricsHourly::CpuTempMax))
                    .col(integer(MetricsHourly::Samples))
                    .primary_key(
                        Index::create()
                            .col(MetricsHourly::MachineId)
                            .col(MetricsHourly::Bucket),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NetworkHourly::Table)
                    .if_not_exists()
                    .col(uuid(NetworkHourly::MachineId))
                    .col(timestamp_with_time_zone(NetworkHourly::Bucket))
                    .col(uuid(NetworkHourly::ClientId))
                    .col(double_null(NetworkHourly::BytesRecvAvg))
                    .col(double_null(NetworkHourly::BytesRecvMax))
                    .col(double_null(NetworkHourly::BytesSentAvg))
                    .col(double_null(NetworkHourly::BytesSentMax))
                    .col(double_null(NetworkHourly::PacketLossAvg))
                    .col(double_null(NetworkHourly::PacketLossMax))
                    .col(double_null(NetworkHourly::LatencyAvg))
                    .col(double_null(NetworkHourly::LatencyMax))
                    .col(integer(NetworkHourly::Samples))
                    .primary_key(
                        Index::create()
                            .col(NetworkHourly::MachineId)
                            .col(NetworkHourly::Bucket),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DiskHourly::Table)
                    .if_not_exists()
                    .col(uuid(DiskHourly::MachineId))
                    .col(string_len(DiskHourly::MountPoint, 255))
                    .col(timestamp_with_time_zone(DiskHourly::Bucket))
                    .col(uuid(DiskHourly::ClientId))
                    .col(double_null(DiskHourly::DiskUsageAvg))
                    .col(double_null(DiskHourly::DiskUsageMax))
                    .col(integer(DiskHourly::Samples))
                    .primary_key(
                        Index::create()
                            .col(DiskHourly::MachineId)
                            .col(DiskHourly::MountPoint)
                            .col(DiskHourly::Bucket),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, table, client, bucket) in [
            (
                "ix_metrics_hourly_client",
                MetricsHourly::Table.into_iden(),
                MetricsHourly::ClientId.into_iden(),
                MetricsHourly::Bucket.into_iden(),
            ),
            (
                "ix_network_hourly_client",
                NetworkHourly::Table.into_iden(),
                NetworkHourly::ClientId.into_iden(),
                NetworkHourly::Bucket.into_iden(),
            ),
            (
                "ix_disk_hourly_client",
                DiskHourly::Table.into_iden(),
                DiskHourly::ClientId.into_iden(),
                DiskHourly::Bucket.into_iden(),
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(table)
                        .col(client)
                        .col(bucket)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

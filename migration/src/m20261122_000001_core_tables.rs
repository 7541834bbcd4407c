//! clients, users, sites, groups, machines, labels, machine_labels, activity_logs.
//!
//! Tenant-owned rows cascade with their client. Optional links (a machine's
//! group or site, a log's user) are set to NULL instead, so deleting a group
//! never deletes machines.

use crate::columns::{fk, timestamp_now};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    Name,
    LicenseId,
    LicenseType,
    LicenseStatus,
    LicenseExpiresAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    ClientId,
    Email,
    PasswordHash,
    FirstName,
    LastName,
    Role,
    MustChangePassword,
    PasswordChangedAt,
    TotpEnabled,
    TotpSecret,
    TotpPendingSecret,
    TotpVerifiedAt,
    LastLoginAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sites {
    Table,
    Id,
    ClientId,
    Name,
    Location,
    Timezone,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
    ClientId,
    Name,
    Description,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Machines {
    Table,
    Id,
    ClientId,
    GroupId,
    SiteId,
    Hostname,
    HardwareId,
    Os,
    OsVersion,
    Arch,
    Ip,
    AgentVersion,
    LastSeen,
    HealthScore,
    IsOsCompliant,
    CertSerial,
    CertIssuedAt,
    CertExpiresAt,
    CertRevokedAt,
    OfflineNotifiedAt,
    LastConfigSync,
    UpdateChannel,
    MaintenanceMode,
    MaintenanceUntil,
    MaintenanceReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Labels {
    Table,
    Id,
    ClientId,
    Key,
    Color,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MachineLabels {
    Table,
    MachineId,
    LabelId,
    Value,
    AssignedAt,
}

#[derive(DeriveIden)]
enum ActivityLogs {
    Table,
    Id,
    Timestamp,
    Level,
    Category,
    Message,
    Metadata,
    ClientId,
    UserId,
    IpAddress,
    UserAgent,
}

fn tenant_fk<T: IntoIden + 'static>(table: T, name: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from_tbl(table)
        .from_col(Alias::new("client_id"))
        .to(Clients::Table, Clients::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .on_update(ForeignKeyAction::Cascade)
        .take()
}

/// Indexes sea-query cannot express portably (functional and partial ones).
/// The same SQL is valid on SQLite and PostgreSQL.
const RAW_INDEXES: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS idx_machines_hostname_lower ON machines (LOWER(hostname))",
    "CREATE INDEX IF NOT EXISTS idx_machines_client_hardware_lower ON machines (client_id, LOWER(hardware_id))",
    "CREATE INDEX IF NOT EXISTS idx_users_totp_enabled ON users (id) WHERE totp_enabled = TRUE",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Clients::Table)
                    .if_not_exists()
                    .col(pk_uuid(Clients::Id))
                    .col(string_len(Clients::Name, 255))
                    .col(uuid_uniq(Clients::LicenseId))
                    .col(string_len(Clients::LicenseType, 32).default("trial"))
                    .col(string_len(Clients::LicenseStatus, 32).default("active"))
                    .col(timestamp_with_time_zone_null(Clients::LicenseExpiresAt))
                    .col(timestamp_now(Clients::CreatedAt))
                    .col(timestamp_now(Clients::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(pk_uuid(Users::Id))
                    .col(uuid(Users::ClientId))
                    .col(string_len_uniq(Users::Email, 255))
                    .col(string(Users::PasswordHash))
                    .col(string_len(Users::FirstName, 100).default(""))
                    .col(string_len(Users::LastName, 100).default(""))
                    .col(string_len(Users::Role, 32).default("observer"))
                    .col(boolean(Users::MustChangePassword).default(true))
                    .col(timestamp_now(Users::PasswordChangedAt))
                    .col(boolean(Users::TotpEnabled).default(false))
                    .col(string_len_null(Users::TotpSecret, 128))
                    .col(string_len_null(Users::TotpPendingSecret, 128))
                    .col(timestamp_with_time_zone_null(Users::TotpVerifiedAt))
                    .col(timestamp_with_time_zone_null(Users::LastLoginAt))
                    .col(timestamp_now(Users::CreatedAt))
                    .col(timestamp_now(Users::UpdatedAt))
                    .foreign_key(&mut tenant_fk(Users::Table, "fk_users_client"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sites::Table)
                    .if_not_exists()
                    .col(pk_uuid(Sites::Id))
                    .col(uuid(Sites::ClientId))
                    .col(string_len(Sites::Name, 100))
                    .col(string_len_null(Sites::Location, 200))
                    .col(string_len(Sites::Timezone, 50).default("Europe/Paris"))
                    .col(timestamp_now(Sites::CreatedAt))
                    .foreign_key(&mut tenant_fk(Sites::Table, "fk_sites_client"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Groups::Table)
                    .if_not_exists()
                    .col(pk_uuid(Groups::Id))
                    .col(uuid(Groups::ClientId))
                    .col(string_len(Groups::Name, 50))
                    .col(string_len_null(Groups::Description, 500))
                    .col(timestamp_now(Groups::CreatedAt))
                    .col(timestamp_now(Groups::UpdatedAt))
                    .foreign_key(&mut tenant_fk(Groups::Table, "fk_groups_client"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Machines::Table)
                    .if_not_exists()
                    .col(pk_uuid(Machines::Id))
                    .col(uuid(Machines::ClientId))
                    .col(uuid_null(Machines::GroupId))
                    .col(uuid_null(Machines::SiteId))
                    .col(string_len(Machines::Hostname, 255))
                    .col(string_len_null(Machines::HardwareId, 255))
                    .col(string_len(Machines::Os, 100).default(""))
                    .col(string_len(Machines::OsVersion, 255).default(""))
                    .col(string_len_null(Machines::Arch, 32))
                    .col(string_len(Machines::Ip, 64).default(""))
                    .col(string_len(Machines::AgentVersion, 64).default(""))
                    .col(timestamp_with_time_zone_null(Machines::LastSeen))
                    .col(integer(Machines::HealthScore).default(100))
                    .col(boolean(Machines::IsOsCompliant).default(true))
                    .col(string_len_null(Machines::CertSerial, 64))
                    .col(timestamp_with_time_zone_null(Machines::CertIssuedAt))
                    .col(timestamp_with_time_zone_null(Machines::CertExpiresAt))
                    .col(timestamp_with_time_zone_null(Machines::CertRevokedAt))
                    .col(timestamp_with_time_zone_null(Machines::OfflineNotifiedAt))
                    .col(timestamp_with_time_zone_null(Machines::LastConfigSync))
                    .col(string_len(Machines::UpdateChannel, 16).default("stable"))
                    .col(boolean(Machines::MaintenanceMode).default(false))
                    .col(timestamp_with_time_zone_null(Machines::MaintenanceUntil))
                    .col(string_len_null(Machines::MaintenanceReason, 500))
                    .col(timestamp_now(Machines::CreatedAt))
                    .col(timestamp_now(Machines::UpdatedAt))
                    .foreign_key(&mut tenant_fk(Machines::Table, "fk_machines_client"))
                    .foreign_key(&mut fk(
                        "fk_machines_group",
                        (Machines::Table, Machines::GroupId),
                        (Groups::Table, Groups::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_machines_site",
                        (Machines::Table, Machines::SiteId),
                        (Sites::Table, Sites::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Labels::Table)
                    .if_not_exists()
                    .col(pk_uuid(Labels::Id))
                    .col(uuid(Labels::ClientId))
                    .col(string_len(Labels::Key, 50))
                    .col(string_len(Labels::Color, 7).default("#3b82f6"))
                    .col(timestamp_now(Labels::CreatedAt))
                    .foreign_key(&mut tenant_fk(Labels::Table, "fk_labels_client"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MachineLabels::Table)
                    .if_not_exists()
                    .col(uuid(MachineLabels::MachineId))
                    .col(uuid(MachineLabels::LabelId))
                    .col(string_len(MachineLabels::Value, 100))
                    .col(timestamp_now(MachineLabels::AssignedAt))
                    .primary_key(
                        Index::create()
                            .col(MachineLabels::MachineId)
                            .col(MachineLabels::LabelId),
                    )
                    .foreign_key(&mut fk(
                        "fk_machine_labels_machine",
                        (MachineLabels::Table, MachineLabels::MachineId),
                        (Machines::Table, Machines::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_machine_labels_label",
                        (MachineLabels::Table, MachineLabels::LabelId),
                        (Labels::Table, Labels::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ActivityLogs::Table)
                    .if_not_exists()
                    .col(uuid(ActivityLogs::Id))
                    .col(timestamp_now(ActivityLogs::Timestamp))
                    .col(string_len(ActivityLogs::Level, 16))
                    .col(string_len(ActivityLogs::Category, 32))
                    .col(text(ActivityLogs::Message))
                    .col(json_binary_null(ActivityLogs::Metadata))
                    .col(uuid_null(ActivityLogs::ClientId))
                    .col(uuid_null(ActivityLogs::UserId))
                    .col(string_len_null(ActivityLogs::IpAddress, 64))
                    .col(string_len_null(ActivityLogs::UserAgent, 512))
                    .primary_key(Index::create().col(ActivityLogs::Id).col(ActivityLogs::Timestamp))
                    .foreign_key(&mut tenant_fk(ActivityLogs::Table, "fk_activity_logs_client"))
                    .foreign_key(&mut fk(
                        "fk_activity_logs_user",
                        (ActivityLogs::Table, ActivityLogs::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;

        let indexes = [
            index(
                "idx_users_client_id",
                Users::Table,
                &[Users::ClientId.into_iden()],
                false,
            ),
            index(
                "idx_sites_client_id",
                Sites::Table,
                &[Sites::ClientId.into_iden()],
                false,
            ),
            index(
                "idx_groups_client_name",
                Groups::Table,
                &[Groups::ClientId.into_iden(), Groups::Name.into_iden()],
                true,
            ),
            index(
                "idx_machines_client_id",
                Machines::Table,
                &[Machines::ClientId.into_iden()],
                false,
            ),
            index(
                "idx_machines_group_id",
                Machines::Table,
                &[Machines::GroupId.into_iden()],
                false,
            ),
            index(
                "idx_machines_site_id",
                Machines::Table,
                &[Machines::SiteId.into_iden()],
                false,
            ),
            index(
                "idx_machines_client_last_seen",
                Machines::Table,
                &[Machines::ClientId.into_iden(), Machines::LastSeen.into_iden()],
                false,
            ),
            index(
                "idx_labels_client_key",
                Labels::Table,
                &[Labels::ClientId.into_iden(), Labels::Key.into_iden()],
                true,
            ),
            index(
                "idx_machine_labels_label_value",
                MachineLabels::Table,
                &[
                    MachineLabels::LabelId.into_iden(),
                    MachineLabels::Value.into_iden(),
                ],
                false,
            ),
            index(
                "idx_activity_logs_client_ts",
                ActivityLogs::Table,
                &[
                    ActivityLogs::ClientId.into_iden(),
                    ActivityLogs::Timestamp.into_iden(),
                ],
                false,
            ),
            index(
                "idx_activity_logs_category_ts",
                ActivityLogs::Table,
                &[
                    ActivityLogs::Category.into_iden(),
                    ActivityLogs::Timestamp.into_iden(),
                ],
                false,
            ),
            index(
                "idx_activity_logs_ts",
                ActivityLogs::Table,
                &[ActivityLogs::Timestamp.into_iden()],
                false,
            ),
        ];
        for stmt in indexes {
            manager.create_index(stmt).await?;
        }
        let db = manager.get_connection();
        for sql in RAW_INDEXES {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ActivityLogs::Table.into_iden(),
            MachineLabels::Table.into_iden(),
            Labels::Table.into_iden(),
            Machines::Table.into_iden(),
            Groups::Table.into_iden(),
            Sites::Table.into_iden(),
            Users::Table.into_iden(),
            Clients::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

fn index<T: IntoIden + 'static>(
    name: &str,
    table: T,
    cols: &[DynIden],
    unique: bool,
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table).if_not_exists();
    for col in cols {
        stmt.col(col.clone());
    }
    if unique {
        stmt.unique();
    }
    stmt.take()
}

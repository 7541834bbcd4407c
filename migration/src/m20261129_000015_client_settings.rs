//! A tenant's preferences beside `clients.language`: time zone, the daily
//! summary e-mail and the defaults new alert rules start from. One row per
//! client, created on first read with the defaults.

use crate::columns::{fk, timestamp_now};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ClientSettings {
    Table,
    ClientId,
    Timezone,
    DailySummaryEnabled,
    DailySummaryHour,
    DailySummaryRecipients,
    DefaultChannelIds,
    DefaultCooldownMinutes,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClientSettings::Table)
                    .if_not_exists()
                    .col(uuid(ClientSettings::ClientId).primary_key())
                    // IANA name: Europe/Paris, America/New_York, ...
                    .col(string_len(ClientSettings::Timezone, 64).default("Europe/Paris"))
                    .col(boolean(ClientSettings::DailySummaryEnabled).default(false))
                    .col(integer(ClientSettings::DailySummaryHour).default(8))
                    // JSON array of e-mail addresses.
                    .col(json(ClientSettings::DailySummaryRecipients))
                    // JSON array of notification channel ids.
                    .col(json(ClientSettings::DefaultChannelIds))
                    .col(integer(ClientSettings::DefaultCooldownMinutes).default(60))
                    .col(timestamp_now(ClientSettings::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_client_settings_client",
                        (ClientSettings::Table, ClientSettings::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ClientSettings::Table).if_exists().to_owned())
            .await
    }
}

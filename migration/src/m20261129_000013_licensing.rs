//! Licence types as data (the six built-in ones seeded with the spec's
//! figures, more defined by the super_admin) and the monthly AI usage
//! counted against each tenant's quota.

use crate::columns::timestamp_now;
use sea_orm_migration::{prelude::*, schema::*, sea_orm::prelude::Uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum LicenseTypes {
    Table,
    Id,
    Code,
    Name,
    Tier,
    MaxMachines,
    RetentionDays,
    AiQuotaMonthly,
    DefaultDurationDays,
    Builtin,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AiUsage {
    Table,
    ClientId,
    Month,
    Requests,
    UpdatedAt,
}

/// code, name, machines (None = unlimited), retention days, monthly AI
/// quota, days a new licence runs. Retention and quota are the spec's;
/// machine limits and the trial's 30 days are ours (see the README).
type Builtin = (&'static str, &'static str, Option<i32>, i32, i32, Option<i32>);

const BUILTIN: [Builtin; 6] = [
    ("trial", "Trial", Some(10), 7, 50, Some(30)),
    ("starter", "Starter", Some(50), 30, 150, None),
    ("essentials", "Essentials", Some(200), 30, 300, None),
    ("pro", "Pro", Some(1000), 90, 1500, None),
    ("business", "Business", Some(5000), 90, 5000, None),
    ("enterprise", "Enterprise", None, 365, 15000, None),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LicenseTypes::Table)
                    .col(uuid(LicenseTypes::Id).primary_key())
                    .col(string_len_uniq(LicenseTypes::Code, 32))
                    .col(string_len(LicenseTypes::Name, 100))
                    .col(string_len(LicenseTypes::Tier, 20))
                    .col(integer_null(LicenseTypes::MaxMachines))
                    .col(integer(LicenseTypes::RetentionDays))
                    .col(integer(LicenseTypes::AiQuotaMonthly))
                    .col(integer_null(LicenseTypes::DefaultDurationDays))
                    .col(boolean(LicenseTypes::Builtin).default(false))
                    .col(timestamp_now(LicenseTypes::CreatedAt))
                    .col(timestamp_now(LicenseTypes::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        let mut insert = Query::insert()
            .into_table(LicenseTypes::Table)
            .columns([
                LicenseTypes::Id,
                LicenseTypes::Code,
                LicenseTypes::Name,
                LicenseTypes::Tier,
                LicenseTypes::MaxMachines,
                LicenseTypes::RetentionDays,
                LicenseTypes::AiQuotaMonthly,
                LicenseTypes::DefaultDurationDays,
                LicenseTypes::Builtin,
            ])
            .to_owned();
        for (i, (code, name, machines, retention, quota, duration)) in BUILTIN.into_iter().enumerate() {
            // Fixed ids: every installation names the built-in types alike.
            let id = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001 + i as u128);
            insert.values_panic([
                id.into(),
                code.into(),
                name.into(),
                code.into(),
                machines.into(),
                retention.into(),
                quota.into(),
                duration.into(),
                true.into(),
            ]);
        }
        manager.exec_stmt(insert).await?;

        manager
            .create_table(
                Table::create()
                    .table(AiUsage::Table)
                    .col(uuid(AiUsage::ClientId))
                    .col(string_len(AiUsage::Month, 7))
                    .col(integer(AiUsage::Requests).default(0))
                    .col(timestamp_now(AiUsage::UpdatedAt))
                    .primary_key(Index::create().col(AiUsage::ClientId).col(AiUsage::Month))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_ai_usage_client")
                            .from(AiUsage::Table, AiUsage::ClientId)
                            .to(Alias::new("clients"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AiUsage::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(LicenseTypes::Table).to_owned())
            .await
    }
}

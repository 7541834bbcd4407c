//! Known Windows builds, for the dashboard's minimum-build dropdowns and
//! the build → name mapping. Seeded with the builds agents may run; an
//! admin refreshes the list from endoflife.date later.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::prelude::Uuid};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WindowsBuilds {
    Table,
    Id,
    OsType,
    BuildNumber,
    Name,
    ReleaseDate,
    IsActive,
    SortOrder,
    CreatedAt,
}

/// (os type, build, name, release date). Where a build is both a feature
/// update and an LTSC release (17763, 19044), the LTSC name is kept: the
/// LTSC edition is the one still serviced.
const SEED: &[(&str, i32, &str, &str)] = &[
    ("client", 17763, "Windows 10 LTSC 2019", "2018-11-13"),
    ("client", 18362, "Windows 10 (1903)", "2019-05-21"),
    ("client", 18363, "Windows 10 (1909)", "2019-11-12"),
    ("client", 19041, "Windows 10 (2004)", "2020-05-27"),
    ("client", 19042, "Windows 10 (20H2)", "2020-10-20"),
    ("client", 19043, "Windows 10 (21H1)", "2021-05-18"),
    ("client", 19044, "Windows 10 LTSC 2021", "2021-11-16"),
    ("client", 19045, "Windows 10 (22H2)", "2022-10-18"),
    ("client", 22000, "Windows 11 (21H2)", "2021-10-04"),
    ("client", 22621, "Windows 11 (22H2)", "2022-09-20"),
    ("client", 22631, "Windows 11 (23H2)", "2023-10-31"),
    ("client", 26100, "Windows 11 (24H2)", "2024-10-01"),
    ("server", 14393, "Windows Server 2016", "2016-10-15"),
    ("server", 17763, "Windows Server 2019", "2018-11-13"),
    ("server", 20348, "Windows Server 2022", "2021-08-18"),
    ("server", 26100, "Windows Server 2025", "2024-11-01"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WindowsBuilds::Table)
                    .if_not_exists()
                    .col(pk_uuid(WindowsBuilds::Id))
                    .col(string_len(WindowsBuilds::OsType, 20))
                    .col(integer(WindowsBuilds::BuildNumber))
                    .col(string_len(WindowsBuilds::Name, 100))
                    .col(date_null(WindowsBuilds::ReleaseDate))
                    .col(boolean(WindowsBuilds::IsActive).default(true))
                    .col(integer(WindowsBuilds::SortOrder).default(0))
                    .col(crate::columns::timestamp_now(WindowsBuilds::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_windows_builds_os_build")
                    .table(WindowsBuilds::Table)
                    .col(WindowsBuilds::OsType)
                    .col(WindowsBuilds::BuildNumber)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        let mut insert = Query::insert()
            .into_table(WindowsBuilds::Table)
            .columns([
                WindowsBuilds::Id,
                WindowsBuilds::OsType,
                WindowsBuilds::BuildNumber,
                WindowsBuilds::Name,
                WindowsBuilds::ReleaseDate,
                WindowsBuilds::IsActive,
                WindowsBuilds::SortOrder,
            ])
            .to_owned();
        // A plain INSERT into the table created above: an ON CONFLICT
        // target is resolved when SQLite prepares the statement, and a
        // pooled connection that read the schema between the CREATE TABLE
        // and the CREATE INDEX refuses it ("does not match any UNIQUE
        // constraint") instead of re-reading the schema; it failed a test
        // server's start once in CI.
        for (os_type, build, name, released) in SEED {
            insert.values_panic([
                Uuid::new_v4().into(),
                (*os_type).into(),
                (*build).into(),
                (*name).into(),
                // DATE('…') reads the same on SQLite (a function) and
                // PostgreSQL (a cast); a text parameter would not be a date
                // to PostgreSQL.
                Expr::cust(format!("DATE('{released}')")),
                true.into(),
                // Display order follows the build number; a row an operator
                // moves keeps its place across refreshes.
                (*build).into(),
            ]);
        }
        manager.exec_stmt(insert).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WindowsBuilds::Table).if_exists().to_owned())
            .await
    }
}

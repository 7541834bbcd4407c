//! Messages sent through the public contact form, kept whatever happens to
//! the e-mails announcing them, and listed to super_admins.

use crate::columns::timestamp_now;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ContactMessages {
    Table,
    Id,
    Name,
    Email,
    Company,
    Subject,
    Message,
    Language,
    Ip,
    UserAgent,
    CreatedAt,
    HandledAt,
    HandledBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ContactMessages::Table)
                    .if_not_exists()
                    .col(uuid(ContactMessages::Id).primary_key())
                    .col(string_len(ContactMessages::Name, 100))
                    .col(string_len(ContactMessages::Email, 254))
                    .col(string_len_null(ContactMessages::Company, 100))
                    // demo, technical, enterprise; NULL when none was picked.
                    .col(string_len_null(ContactMessages::Subject, 16))
                    .col(text(ContactMessages::Message))
                    .col(string_len(ContactMessages::Language, 2))
                    .col(string_len_null(ContactMessages::Ip, 45))
                    .col(string_len_null(ContactMessages::UserAgent, 512))
                    .col(timestamp_now(ContactMessages::CreatedAt))
                    .col(timestamp_with_time_zone_null(ContactMessages::HandledAt))
                    // No foreign key: the message outlives the user who
                    // handled it.
                    .col(uuid_null(ContactMessages::HandledBy))
                    .to_owned(),
            )
            .await?;
        // The super_admin's list: newest first, paged by (created_at, id).
        manager
            .create_index(
                Index::create()
                    .name("idx_contact_messages_created")
                    .table(ContactMessages::Table)
                    .col(ContactMessages::CreatedAt)
                    .col(ContactMessages::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ContactMessages::Table).if_exists().to_owned())
            .await
    }
}

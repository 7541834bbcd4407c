//! Alerting and notifications: channels, rules and their channels, the
//! history of fired alerts and of notifications sent, the tenant's
//! language, reminders already sent, and the outbox carrying webhooks and
//! HTML e-mails as well as plain ones.

use crate::columns::{fk, timestamp_now};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum NotificationChannels {
    Table,
    Id,
    ClientId,
    Name,
    ChannelType,
    Config,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AlertRules {
    Table,
    Id,
    ClientId,
    Name,
    Metric,
    Operator,
    Threshold,
    Severity,
    Enabled,
    CooldownMinutes,
    MachineId,
    GroupId,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AlertRuleChannels {
    Table,
    RuleId,
    ChannelId,
}

#[derive(DeriveIden, Clone, Copy)]
enum AlertRuleHistory {
    Table,
    Id,
    ClientId,
    RuleId,
    RuleName,
    MachineId,
    MachineHostname,
    AlertType,
    Metric,
    Severity,
    Threshold,
    TriggeredValue,
    TriggeredAt,
    ResolvedAt,
    ResolvedValue,
    AcknowledgedAt,
    AcknowledgedBy,
}

#[derive(DeriveIden, Clone, Copy)]
enum NotificationHistory {
    Table,
    Id,
    ClientId,
    ChannelId,
    ChannelType,
    ChannelName,
    AlertType,
    AlertId,
    MachineId,
    Subject,
    Status,
    Attempts,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RemindersSent {
    Table,
    Key,
    ClientId,
    SentAt,
}

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    Transport,
    BodyHtml,
    Payload,
    ChannelId,
    NotificationId,
    Language,
}

#[derive(DeriveIden)]
enum Clients {
    Table,
    Id,
    Language,
}

#[derive(DeriveIden)]
enum Machines {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Groups {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

fn index(name: &str, table: impl IntoIden + 'static, cols: &[&'static str]) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table).if_not_exists();
    for c in cols {
        i.col(Alias::new(*c));
    }
    i.take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NotificationChannels::Table)
                    .if_not_exists()
                    .col(pk_uuid(NotificationChannels::Id))
                    .col(uuid(NotificationChannels::ClientId))
                    .col(string_len(NotificationChannels::Name, 100))
                    .col(string_len(NotificationChannels::ChannelType, 20))
                    // {"emails": [...]} or {"webhook_url": "..."}
                    .col(text(NotificationChannels::Config))
                    .col(boolean(NotificationChannels::Enabled).default(true))
                    .col(timestamp_now(NotificationChannels::CreatedAt))
                    .col(timestamp_now(NotificationChannels::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_notification_channels_client",
                        (NotificationChannels::Table, NotificationChannels::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_notification_channels_client",
                NotificationChannels::Table,
                &["client_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AlertRules::Table)
                    .if_not_exists()
                    .col(pk_uuid(AlertRules::Id))
                    .col(uuid(AlertRules::ClientId))
                    .col(string_len(AlertRules::Name, 100))
                    .col(string_len(AlertRules::Metric, 20))
                    .col(string_len(AlertRules::Operator, 2))
                    .col(double(AlertRules::Threshold))
                    .col(string_len(AlertRules::Severity, 10))
                    .col(boolean(AlertRules::Enabled).default(true))
                    .col(integer(AlertRules::CooldownMinutes).default(60))
                    .col(uuid_null(AlertRules::MachineId))
                    .col(uuid_null(AlertRules::GroupId))
                    .col(uuid_null(AlertRules::CreatedBy))
                    .col(timestamp_now(AlertRules::CreatedAt))
                    .col(timestamp_now(AlertRules::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_alert_rules_client",
                        (AlertRules::Table, AlertRules::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    // A rule about a deleted machine or group means nothing;
                    // widening it to every machine would be worse.
                    .foreign_key(&mut fk(
                        "fk_alert_rules_machine",
                        (AlertRules::Table, AlertRules::MachineId),
                        (Machines::Table, Machines::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_alert_rules_group",
                        (AlertRules::Table, AlertRules::GroupId),
                        (Groups::Table, Groups::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_alert_rules_user",
                        (AlertRules::Table, AlertRules::CreatedBy),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_alert_rules_client", AlertRules::Table, &["client_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AlertRuleChannels::Table)
                    .if_not_exists()
                    .col(uuid(AlertRuleChannels::RuleId))
                    .col(uuid(AlertRuleChannels::ChannelId))
                    .primary_key(
                        Index::create()
                            .col(AlertRuleChannels::RuleId)
                            .col(AlertRuleChannels::ChannelId),
                    )
                    .foreign_key(&mut fk(
                        "fk_alert_rule_channels_rule",
                        (AlertRuleChannels::Table, AlertRuleChannels::RuleId),
                        (AlertRules::Table, AlertRules::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_alert_rule_channels_channel",
                        (AlertRuleChannels::Table, AlertRuleChannels::ChannelId),
                        (NotificationChannels::Table, NotificationChannels::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AlertRuleHistory::Table)
                    .if_not_exists()
                    .col(pk_uuid(AlertRuleHistory::Id))
                    .col(uuid(AlertRuleHistory::ClientId))
                    // Kept when the rule is deleted, with its name copied.
                    .col(uuid_null(AlertRuleHistory::RuleId))
                    .col(string_len(AlertRuleHistory::RuleName, 100))
                    .col(uuid(AlertRuleHistory::MachineId))
                    .col(string_len(AlertRuleHistory::MachineHostname, 255))
                    .col(string_len(AlertRuleHistory::AlertType, 20))
                    .col(string_len(AlertRuleHistory::Metric, 20))
                    .col(string_len(AlertRuleHistory::Severity, 10))
                    .col(double(AlertRuleHistory::Threshold))
                    .col(double(AlertRuleHistory::TriggeredValue))
                    .col(timestamp_with_time_zone(AlertRuleHistory::TriggeredAt))
                    .col(timestamp_with_time_zone_null(AlertRuleHistory::ResolvedAt))
                    .col(double_null(AlertRuleHistory::ResolvedValue))
                    .col(timestamp_with_time_zone_null(AlertRuleHistory::AcknowledgedAt))
                    .col(uuid_null(AlertRuleHistory::AcknowledgedBy))
                    .foreign_key(&mut fk(
                        "fk_alert_rule_history_client",
                        (AlertRuleHistory::Table, AlertRuleHistory::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_alert_rule_history_rule",
                        (AlertRuleHistory::Table, AlertRuleHistory::RuleId),
                        (AlertRules::Table, AlertRules::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_alert_rule_history_machine",
                        (AlertRuleHistory::Table, AlertRuleHistory::MachineId),
                        (Machines::Table, Machines::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_alert_rule_history_ack_user",
                        (AlertRuleHistory::Table, AlertRuleHistory::AcknowledgedBy),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        // The cooldown lookup, the open alerts of a machine, and the
        // tenant's history page.
        manager
            .create_index(index(
                "ix_alert_rule_history_rule_machine",
                AlertRuleHistory::Table,
                &["rule_id", "machine_id", "triggered_at"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_alert_rule_history_machine_open",
                AlertRuleHistory::Table,
                &["machine_id", "resolved_at"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_alert_rule_history_client_time",
                AlertRuleHistory::Table,
                &["client_id", "triggered_at"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(NotificationHistory::Table)
                    .if_not_exists()
                    .col(pk_uuid(NotificationHistory::Id))
                    .col(uuid(NotificationHistory::ClientId))
                    .col(uuid_null(NotificationHistory::ChannelId))
                    .col(string_len(NotificationHistory::ChannelType, 20))
                    .col(string_len(NotificationHistory::ChannelName, 100))
                    .col(string_len(NotificationHistory::AlertType, 20))
                    .col(uuid_null(NotificationHistory::AlertId))
                    .col(uuid_null(NotificationHistory::MachineId))
                    .col(string_len(NotificationHistory::Subject, 255))
                    .col(string_len(NotificationHistory::Status, 10))
                    .col(integer(NotificationHistory::Attempts).default(0))
                    .col(text_null(NotificationHistory::LastError))
                    .col(timestamp_now(NotificationHistory::CreatedAt))
                    .col(timestamp_with_time_zone_null(NotificationHistory::SentAt))
                    .foreign_key(&mut fk(
                        "fk_notification_history_client",
                        (NotificationHistory::Table, NotificationHistory::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_notification_history_channel",
                        (NotificationHistory::Table, NotificationHistory::ChannelId),
                        (NotificationChannels::Table, NotificationChannels::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_notification_history_alert",
                        (NotificationHistory::Table, NotificationHistory::AlertId),
                        (AlertRuleHistory::Table, AlertRuleHistory::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .foreign_key(&mut fk(
                        "fk_notification_history_machine",
                        (NotificationHistory::Table, NotificationHistory::MachineId),
                        (Machines::Table, Machines::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_notification_history_client_time",
                NotificationHistory::Table,
                &["client_id", "created_at"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RemindersSent::Table)
                    .if_not_exists()
                    // password:<user>:<expiry day>:<threshold>, ...
                    .col(string_len(RemindersSent::Key, 200).primary_key())
                    .col(uuid_null(RemindersSent::ClientId))
                    .col(timestamp_now(RemindersSent::SentAt))
                    .foreign_key(&mut fk(
                        "fk_reminders_sent_client",
                        (RemindersSent::Table, RemindersSent::ClientId),
                        (Clients::Table, Clients::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        // SQLite adds one column per ALTER TABLE.
        let outbox_columns = [
            // email, webhook
            string_len(EmailOutbox::Transport, 10).default("email").take(),
            text_null(EmailOutbox::BodyHtml).take(),
            // The webhook's JSON body.
            text_null(EmailOutbox::Payload).take(),
            uuid_null(EmailOutbox::ChannelId).take(),
            uuid_null(EmailOutbox::NotificationId).take(),
            string_len(EmailOutbox::Language, 2).default("fr").take(),
        ];
        for mut column in outbox_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(EmailOutbox::Table)
                        .add_column_if_not_exists(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Clients::Table)
                    .add_column_if_not_exists(string_len(Clients::Language, 2).default("fr"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "notification_history",
            "alert_rule_history",
            "alert_rule_channels",
            "alert_rules",
            "notification_channels",
            "reminders_sent",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

//! sea-orm entities: one module per table, no logic.

pub mod activity_logs;
pub mod agent_requirements;
pub mod agent_versions;
pub mod ai_usage;
pub mod alert_rule_channels;
pub mod alert_rule_history;
pub mod alert_rules;
pub mod api_tokens;
pub mod client_certificates;
pub mod client_settings;
pub mod clients;
pub mod collection_settings;
pub mod disk_hourly;
pub mod disk_info;
pub mod email_outbox;
pub mod enums;
pub mod event_logs;
pub mod groups;
pub mod install_tokens;
pub mod labels;
pub mod license_types;
pub mod machine_collector_data;
pub mod machine_inventory;
pub mod machine_labels;
pub mod machines;
pub mod metric_baselines;
pub mod metrics;
pub mod metrics_hourly;
pub mod mfa_backup_codes;
pub mod network_hourly;
pub mod notification_channels;
pub mod notification_history;
pub mod password_reset_tokens;
pub mod refresh_tokens;
pub mod reminders_sent;
pub mod risk_overrides;
pub mod sites;
pub mod smart_data;
pub mod token_blacklist;
pub mod users;
pub mod windows_builds;

pub mod prelude {
    pub use super::activity_logs::Entity as ActivityLogs;
    pub use super::clients::Entity as Clients;
    pub use super::groups::Entity as Groups;
    pub use super::labels::Entity as Labels;
    pub use super::machine_labels::Entity as MachineLabels;
    pub use super::machines::Entity as Machines;
    pub use super::sites::Entity as Sites;
    pub use super::users::Entity as Users;
}

//! sea-orm entities: one module per table, no logic.

pub mod activity_logs;
pub mod agent_requirements;
pub mod agent_versions;
pub mod api_tokens;
pub mod client_certificates;
pub mod clients;
pub mod collection_settings;
pub mod email_outbox;
pub mod groups;
pub mod install_tokens;
pub mod labels;
pub mod machine_labels;
pub mod machines;
pub mod mfa_backup_codes;
pub mod password_reset_tokens;
pub mod refresh_tokens;
pub mod sites;
pub mod token_blacklist;
pub mod users;

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

//! The closed sets stored in text columns, mapped to their stored spelling
//! in one place. A stored value outside its set fails the read with an
//! error; it never turns into a default (a corrupt role must not become
//! an observer, or worse).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// `users.role`. Declared from least to most privileged: the order is the
/// privilege order.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[sea_orm(string_value = "observer")]
    Observer,
    #[sea_orm(string_value = "admin")]
    Admin,
    #[sea_orm(string_value = "super_admin")]
    SuperAdmin,
}

/// `api_tokens.scope`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum ApiScope {
    #[sea_orm(string_value = "read")]
    Read,
    #[sea_orm(string_value = "read_write")]
    ReadWrite,
}

/// `license_types.tier`: the feature tiers of the spec, lowest first (the
/// order is what gates compare). Each built-in licence type bears its
/// tier's name; a type the super_admin defines picks one of these.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    #[sea_orm(string_value = "trial")]
    Trial,
    #[sea_orm(string_value = "starter")]
    Starter,
    #[sea_orm(string_value = "essentials")]
    Essentials,
    #[sea_orm(string_value = "pro")]
    Pro,
    #[sea_orm(string_value = "business")]
    Business,
    #[sea_orm(string_value = "enterprise")]
    Enterprise,
}

/// `clients.license_status` as stored. An active licence whose expiry has
/// passed reads as expired before the licence job rewrites it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum LicenceStatus {
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "expired")]
    Expired,
    #[sea_orm(string_value = "suspended")]
    Suspended,
}

/// `machines.update_channel` and `agent_versions.channel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(10))")]
#[serde(rename_all = "snake_case")]
pub enum UpdateChannel {
    #[sea_orm(string_value = "stable")]
    Stable,
    #[sea_orm(string_value = "beta")]
    Beta,
}

/// `risk_overrides.level`: a risk accepted, or the severity it is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    #[sea_orm(string_value = "accepted")]
    Accepted,
    #[sea_orm(string_value = "low")]
    Low,
    #[sea_orm(string_value = "medium")]
    Medium,
    #[sea_orm(string_value = "high")]
    High,
    #[sea_orm(string_value = "critical")]
    Critical,
}

/// `alert_rules.metric`: what a rule watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    #[sea_orm(string_value = "cpu")]
    Cpu,
    #[sea_orm(string_value = "ram")]
    Ram,
    /// The fullest volume's percent used.
    #[sea_orm(string_value = "disk")]
    Disk,
    /// The CPU temperature, in °C.
    #[sea_orm(string_value = "temperature")]
    Temperature,
    #[sea_orm(string_value = "offline_minutes")]
    OfflineMinutes,
}

/// `alert_rules.operator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(2))")]
pub enum AlertOperator {
    #[sea_orm(string_value = ">")]
    Gt,
    #[sea_orm(string_value = "<")]
    Lt,
    #[sea_orm(string_value = ">=")]
    Gte,
    #[sea_orm(string_value = "<=")]
    Lte,
    #[sea_orm(string_value = "==")]
    Eq,
}

/// `alert_rules.severity`.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(10))")]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[sea_orm(string_value = "low")]
    Low,
    #[sea_orm(string_value = "warning")]
    Warning,
    #[sea_orm(string_value = "critical")]
    Critical,
}

/// `notification_channels.channel_type`: where notifications go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum ChannelType {
    #[sea_orm(string_value = "email")]
    Email,
    #[sea_orm(string_value = "webhook_teams")]
    WebhookTeams,
    #[sea_orm(string_value = "webhook_slack")]
    WebhookSlack,
    #[sea_orm(string_value = "webhook_discord")]
    WebhookDiscord,
}

/// The spec's alert types, as notifications and history name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum AlertType {
    #[sea_orm(string_value = "machine_offline")]
    MachineOffline,
    #[sea_orm(string_value = "machine_online")]
    MachineOnline,
    #[sea_orm(string_value = "high_cpu")]
    HighCpu,
    #[sea_orm(string_value = "high_ram")]
    HighRam,
    #[sea_orm(string_value = "disk_critical")]
    DiskCritical,
    /// Beyond the spec's list: temperature rules need a type of their own.
    #[sea_orm(string_value = "high_temperature")]
    HighTemperature,
    #[sea_orm(string_value = "smart_warning")]
    SmartWarning,
    #[sea_orm(string_value = "brute_force")]
    BruteForce,
    /// A fired alert came back across its threshold.
    #[sea_orm(string_value = "alert_resolved")]
    AlertResolved,
    /// `testNotificationChannel`.
    #[sea_orm(string_value = "test")]
    Test,
}

/// Delivery state of an outbox message and of the notification it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(10))")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "sending")]
    Sending,
    #[sea_orm(string_value = "sent")]
    Sent,
    #[sea_orm(string_value = "failed")]
    Failed,
}

/// `clients.language`: the language of a tenant's notifications and e-mails.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(2))")]
#[serde(rename_all = "snake_case")]
pub enum Language {
    #[default]
    #[sea_orm(string_value = "fr")]
    Fr,
    #[sea_orm(string_value = "en")]
    En,
}

/// The stored spelling of each value, for messages and the few places
/// that write raw SQL.
pub trait Stored: ActiveEnum<Value = String> + sea_orm::Iterable {
    fn stored(&self) -> String {
        self.to_value()
    }

    /// The value stored as `s`, for inputs given as text.
    fn from_stored(s: &str) -> Option<Self> {
        Self::try_from_value(&s.to_owned()).ok()
    }

    /// Every stored spelling, for "must be one of" messages.
    fn all_stored() -> Vec<String> {
        Self::iter().map(|v| v.to_value()).collect()
    }
}

impl<T: ActiveEnum<Value = String> + sea_orm::Iterable> Stored for T {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_spellings_round_trip_and_unknown_values_fail() {
        assert_eq!(Role::SuperAdmin.stored(), "super_admin");
        assert_eq!(Role::from_stored("admin"), Some(Role::Admin));
        assert_eq!(Role::from_stored("root"), None);
        assert!(Role::try_from_value(&"Admin".to_owned()).is_err(), "case matters");
        assert!(Role::Observer < Role::Admin && Role::Admin < Role::SuperAdmin);
        assert_eq!(Tier::all_stored().len(), 6);
        assert_eq!(UpdateChannel::from_stored("beta"), Some(UpdateChannel::Beta));
        assert_eq!(RiskLevel::from_stored("medium"), Some(RiskLevel::Medium));
        assert_eq!(ApiScope::ReadWrite.stored(), "read_write");
    }
}

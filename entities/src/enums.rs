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

/// `clients.license_type`: the tiers of the spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(20))")]
#[serde(rename_all = "snake_case")]
pub enum LicenceType {
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
        assert_eq!(LicenceType::all_stored().len(), 6);
        assert_eq!(UpdateChannel::from_stored("beta"), Some(UpdateChannel::Beta));
        assert_eq!(RiskLevel::from_stored("medium"), Some(RiskLevel::Medium));
        assert_eq!(ApiScope::ReadWrite.stored(), "read_write");
    }
}

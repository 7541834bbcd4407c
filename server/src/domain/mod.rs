//! Business rules. Plain Rust in and out: nothing here knows HTTP or
//! GraphQL; callers map [`DomainError`] to their transport.

pub mod activity;
pub mod admin;
pub mod agent_config;
pub mod agents;
pub mod alerting;
pub mod analysis;
pub mod auth;
pub mod collectors;
pub mod crypto;
pub mod docker;
pub mod error;
#[cfg(test)]
pub mod fixtures;
pub mod fleet;
pub mod ingest;
pub mod licensing;
pub mod live;
pub mod notify;
pub mod pki;
pub mod public;
pub mod status;
pub mod tenancy;
pub mod users;
pub mod windows_builds;

pub use error::DomainError;

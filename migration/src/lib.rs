//! Database schema for both backends (SQLite and PostgreSQL), plus the
//! TimescaleDB extras applied only where the extension is available.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261122_000001_core_tables;
mod m20261122_000002_timescale;
mod m20261122_000003_identity;
mod m20261122_000004_agent_pki;
mod m20261122_000005_agent_requirements;
mod m20261122_000006_renewal_request;
mod m20261122_000007_agent_config;
mod m20261122_000008_collector_data;
mod m20261122_000009_risk_overrides;
mod m20261129_000010_session_security;
mod m20261129_000011_reenrolment_release;
mod m20261129_000012_alerting;
mod m20261129_000013_licensing;
mod m20261129_000014_windows_builds;
mod m20261129_000015_client_settings;
mod m20261129_000016_analysis_data;
mod m20261129_000017_ai_analyses;
mod m20261129_000018_ai_automation;
mod m20261129_000019_service_status;
mod m20261129_000020_contact_messages;
pub mod timescale;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_core_tables::Migration),
            Box::new(m20261122_000002_timescale::Migration),
            Box::new(m20261122_000003_identity::Migration),
            Box::new(m20261122_000004_agent_pki::Migration),
            Box::new(m20261122_000005_agent_requirements::Migration),
            Box::new(m20261122_000006_renewal_request::Migration),
            Box::new(m20261122_000007_agent_config::Migration),
            Box::new(m20261122_000008_collector_data::Migration),
            Box::new(m20261122_000009_risk_overrides::Migration),
            Box::new(m20261129_000010_session_security::Migration),
            Box::new(m20261129_000011_reenrolment_release::Migration),
            Box::new(m20261129_000012_alerting::Migration),
            Box::new(m20261129_000013_licensing::Migration),
            Box::new(m20261129_000014_windows_builds::Migration),
            Box::new(m20261129_000015_client_settings::Migration),
            Box::new(m20261129_000016_analysis_data::Migration),
            Box::new(m20261129_000017_ai_analyses::Migration),
            Box::new(m20261129_000018_ai_automation::Migration),
            Box::new(m20261129_000019_service_status::Migration),
            Box::new(m20261129_000020_contact_messages::Migration),
        ]
    }
}

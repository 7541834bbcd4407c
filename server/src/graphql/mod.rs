//! The public GraphQL contract: roots merged per area, limits and error
//! policy set here in one place.

mod activity;
mod admin;
mod admin_fleet;
mod agent_config;
mod agents;
mod ai_automation;
mod alerting;
mod analyses;
mod api_tokens;
pub mod auth;
mod certificates;
mod contact;
mod context;
mod cost;
mod docker;
pub mod document;
pub mod error;
mod extension;
mod identity;
mod licence_guard;
mod licensing;
mod live;
mod loaders;
mod machine_ops;
mod machines;
mod operation_metrics;
mod organise;
mod settings;
mod sites;
mod status;
mod system;
mod tenancy;
mod types;
mod users;
mod windows_builds;

use crate::services::Services;
use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

pub use context::ContextExt;
pub use error::{ApiError, ErrorCode, Result};
pub use extension::{CookieSocket, RequestId};

/// Deep enough for the standard introspection query and real dashboard
/// queries; shallow enough to refuse abusive nesting.
pub const MAX_DEPTH: usize = 16;
pub const MAX_COMPLEXITY: usize = 2_000;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    system::SystemQuery,
    identity::IdentityQuery,
    users::UserQuery,
    tenancy::TenancyQuery,
    api_tokens::ApiTokenQuery,
    activity::ActivityQuery,
    agents::AgentQuery,
    certificates::CertificateQuery,
    agent_config::AgentConfigQuery,
    machines::MachineQuery,
    organise::OrganiseQuery,
    alerting::AlertingQuery,
    licensing::LicensingQuery,
    sites::SiteQuery,
    windows_builds::WindowsBuildQuery,
    docker::DockerQuery,
    admin::AdminQuery,
    admin_fleet::AdminFleetQuery,
    settings::SettingsQuery,
    analyses::AnalysisQuery,
    ai_automation::AiAutomationQuery,
    contact::ContactQuery,
    status::StatusQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    identity::IdentityMutation,
    users::UserMutation,
    tenancy::TenancyMutation,
    api_tokens::ApiTokenMutation,
    agents::AgentMutation,
    certificates::CertificateMutation,
    agent_config::AgentConfigMutation,
    machines::MachineMutation,
    organise::OrganiseMutation,
    alerting::AlertingMutation,
    licensing::LicensingMutation,
    sites::SiteMutation,
    windows_builds::WindowsBuildMutation,
    docker::DockerMutation,
    admin_fleet::AdminFleetMutation,
    machine_ops::MachineOpsMutation,
    settings::SettingsMutation,
    analyses::AnalysisMutation,
    ai_automation::AiAutomationMutation,
    contact::ContactMutation,
    status::StatusMutation,
);

#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(system::SystemSubscription, live::LiveSubscription);

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .limit_recursive_depth(32)
    .limit_directives(8)
    .disable_suggestions()
    // First, so it wraps the error policy and counts the codes clients get.
    .extension(operation_metrics::OperationMetrics)
    .extension(extension::ErrorPolicy)
    .extension(licence_guard::LicenceGuard)
}

/// The executable schema, with the services resolvers call.
pub fn build_schema(services: Services) -> AppSchema {
    loaders::register(builder(), &services.fleet, &services.risk_overrides)
        .data(services)
        .finish()
}

/// The SDL printed by `optralis schema` and committed as `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

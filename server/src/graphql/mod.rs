//! The public GraphQL contract: roots merged per area, limits and error
//! policy set here in one place.

pub mod error;
mod extension;
mod system;

use crate::app::Services;
use async_graphql::{EmptyMutation, MergedObject, MergedSubscription, Schema, SchemaBuilder};

pub use error::{ApiError, ErrorCode};
pub use extension::RequestId;

/// Deep enough for the standard introspection query and real dashboard
/// queries; shallow enough to refuse abusive nesting.
pub const MAX_DEPTH: usize = 16;
pub const MAX_COMPLEXITY: usize = 2_000;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(system::SystemQuery);

#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(system::SystemSubscription);

pub type AppSchema = Schema<QueryRoot, EmptyMutation, SubscriptionRoot>;

fn builder() -> SchemaBuilder<QueryRoot, EmptyMutation, SubscriptionRoot> {
    Schema::build(QueryRoot::default(), EmptyMutation, SubscriptionRoot::default())
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_recursive_depth(32)
        .limit_directives(8)
        .disable_suggestions()
        .extension(extension::ErrorPolicy)
}

/// The executable schema, with the services resolvers call.
pub fn build_schema(services: Services) -> AppSchema {
    builder().data(services).finish()
}

/// The SDL printed by `optralis schema` and committed as `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

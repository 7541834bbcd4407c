//! A tenant whose licence is expired or suspended reads but does not
//! write: every mutation it sends answers LICENSE_INACTIVE, except those
//! that sign in and out and keep its password in order. Enforced here,
//! once, for every mutation root field (new ones included) and both
//! transports; agents are not GraphQL callers and keep reporting.

use super::{auth::RequestAuth, ApiError};
use crate::services::Services;
use async_graphql::{
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo},
    PathSegment, ServerResult, Value,
};
use std::sync::Arc;

/// What a read-only tenant may still call.
const ALWAYS_ALLOWED: [&str; 7] = [
    "login",
    "verifyMfa",
    "refreshToken",
    "logout",
    "changePassword",
    "requestPasswordReset",
    "resetPassword",
];

pub(super) struct LicenceGuard;

impl ExtensionFactory for LicenceGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LicenceGuard)
    }
}

#[async_trait::async_trait]
impl Extension for LicenceGuard {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type == "Mutation" && !ALWAYS_ALLOWED.contains(&info.name) {
            let principal = ctx.data_opt::<RequestAuth>().and_then(|a| a.principal.as_ref());
            if let (Some(principal), Some(services)) = (principal, ctx.data_opt::<Services>()) {
                if let Err(e) = services.licensing.ensure_writable(principal).await {
                    let mut err =
                        async_graphql::Error::from(ApiError::from(e)).into_server_error(info.field.name.pos);
                    err.path = vec![PathSegment::Field(info.alias.unwrap_or(info.name).to_owned())];
                    return Err(err);
                }
            }
        }
        next.run(ctx, info).await
    }
}

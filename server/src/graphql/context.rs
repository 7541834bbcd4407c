//! What resolvers ask of their context: the services, and the caller at
//! the level the field needs. Guards answer [`ApiError`]s, so a resolver
//! starts with `let principal = ctx.caller_with_role(Role::Admin)?;`.

use super::{
    auth::{api_token_forbidden, RequestAuth},
    error::{ApiError, ErrorCode, Result},
};
use crate::{
    domain::{
        activity::RequestMeta,
        auth::{AuthFailure, Principal, Role},
    },
    services::Services,
};
use async_graphql::{dataloader::DataLoader, Context};

pub trait ContextExt {
    /// The domain services (set on the schema at build).
    fn services(&self) -> &Services;
    /// A dataloader registered on the schema.
    fn loader<L: Send + Sync + 'static>(&self) -> &DataLoader<L>;
    /// The caller as the transport resolved it, signed in or not.
    fn request_auth(&self) -> &RequestAuth;
    /// IP and user agent, for the activity log.
    fn meta(&self) -> &RequestMeta;
    /// Any authenticated caller whose password is in order.
    fn caller(&self) -> Result<&Principal>;
    /// Any authenticated caller, even one that must change its password.
    fn caller_allowing_password_change(&self) -> Result<&Principal>;
    /// A caller with at least `role`.
    fn caller_with_role(&self, role: Role) -> Result<&Principal>;
    /// A signed-in user (not an API token): identity operations.
    fn user_session(&self) -> Result<&Principal>;
    /// A signed-in user with at least `role`.
    fn user_session_with_role(&self, role: Role) -> Result<&Principal>;
}

impl ContextExt for Context<'_> {
    fn services(&self) -> &Services {
        self.data_unchecked::<Services>()
    }

    fn loader<L: Send + Sync + 'static>(&self) -> &DataLoader<L> {
        self.data_unchecked::<DataLoader<L>>()
    }

    fn request_auth(&self) -> &RequestAuth {
        static ANONYMOUS: std::sync::OnceLock<RequestAuth> = std::sync::OnceLock::new();
        self.data_opt::<RequestAuth>()
            .unwrap_or_else(|| ANONYMOUS.get_or_init(RequestAuth::default))
    }

    fn meta(&self) -> &RequestMeta {
        &self.request_auth().meta
    }

    fn caller(&self) -> Result<&Principal> {
        let principal = self.caller_allowing_password_change()?;
        if principal.password_change_required {
            return Err(ApiError::new(
                ErrorCode::PasswordChangeRequired,
                "Password change required: call changePassword first",
            ));
        }
        Ok(principal)
    }

    fn caller_allowing_password_change(&self) -> Result<&Principal> {
        let auth = self.request_auth();
        auth.principal.as_ref().ok_or_else(|| unauthenticated(auth))
    }

    fn caller_with_role(&self, role: Role) -> Result<&Principal> {
        let principal = self.caller()?;
        if principal.role < role {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("{} access required", entities::enums::Stored::stored(&role)),
            ));
        }
        Ok(principal)
    }

    fn user_session(&self) -> Result<&Principal> {
        self.user_session_with_role(Role::Observer)
    }

    fn user_session_with_role(&self, role: Role) -> Result<&Principal> {
        let principal = self.caller_with_role(role)?;
        if principal.is_api_token() {
            return Err(api_token_forbidden());
        }
        Ok(principal)
    }
}

fn unauthenticated(auth: &RequestAuth) -> ApiError {
    // The credential could not be checked at all: the client should retry,
    // not sign in again.
    if let Some(retry_after) = auth.unavailable {
        return ApiError::unavailable(retry_after);
    }
    let message = match auth.failure {
        Some(AuthFailure::Expired) => "Access token expired",
        Some(AuthFailure::Revoked) => "Access token revoked",
        Some(AuthFailure::Invalid) => "Invalid credentials",
        None => "Authentication required",
    };
    ApiError::new(ErrorCode::Unauthenticated, message)
}

//! Who is calling: passwords, sessions (JWT access + rotating refresh
//! families), MFA, API tokens, rate limits.

pub mod api_tokens;
pub mod mfa;
pub mod password;
pub mod rate_limit;
mod service;
pub mod sessions;
pub mod tokens;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use service::{
    normalise_email, password_expired, revoke_refresh_tokens, AuthFailure, AuthService, AuthSettings,
    Credential, LoginAlarm, LoginOutcome, MfaSetup, MfaStatus, Session,
};

/// Roles and API token scopes are stored enums: one mapping to their
/// columns, shared with the entities.
pub use entities::enums::{ApiScope, Role};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthVia {
    /// A user's access token (Bearer or cookie).
    Session {
        jti: Uuid,
        expires_at: DateTime<Utc>,
        impersonator: Option<Uuid>,
        cookie: bool,
        /// The session version the token was issued under.
        session_version: i32,
    },
    /// An integration's API token.
    ApiToken {
        id: Uuid,
        scope: ApiScope,
        /// SHA-256 of the secret: what a live socket re-checks.
        hash: String,
    },
}

/// The authenticated caller, as every domain call sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user; for API tokens, the admin who created the token (if kept).
    pub user_id: Option<Uuid>,
    pub client_id: Uuid,
    pub role: Role,
    pub via: AuthVia,
    pub password_change_required: bool,
}

impl Principal {
    pub fn is_api_token(&self) -> bool {
        matches!(self.via, AuthVia::ApiToken { .. })
    }

    pub fn can_write(&self) -> bool {
        !matches!(
            self.via,
            AuthVia::ApiToken {
                scope: ApiScope::Read,
                ..
            }
        )
    }

    pub fn is_super_admin(&self) -> bool {
        self.role == Role::SuperAdmin
    }

    pub fn is_impersonation(&self) -> bool {
        matches!(
            self.via,
            AuthVia::Session {
                impersonator: Some(_),
                ..
            }
        )
    }

    /// Impersonation is for looking and fixing during support, never for
    /// leaving credentials behind: users, API tokens, install tokens and
    /// the super_admin's own password or MFA.
    pub fn ensure_may_create_credentials(&self) -> Result<(), crate::domain::DomainError> {
        if self.is_impersonation() {
            return Err(crate::domain::DomainError::Forbidden(
                "impersonation sessions cannot create or change credentials".into(),
            ));
        }
        Ok(())
    }
}

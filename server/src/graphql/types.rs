//! GraphQL types shared by several areas.

use crate::domain::auth::{password, Role};
use async_graphql::{Enum, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entities::users;
use uuid::Uuid;

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(name = "Role")]
pub enum RoleKind {
    SuperAdmin,
    Admin,
    Observer,
}

impl From<Role> for RoleKind {
    fn from(r: Role) -> Self {
        match r {
            Role::SuperAdmin => Self::SuperAdmin,
            Role::Admin => Self::Admin,
            Role::Observer => Self::Observer,
        }
    }
}

impl From<RoleKind> for Role {
    fn from(r: RoleKind) -> Self {
        match r {
            RoleKind::SuperAdmin => Self::SuperAdmin,
            RoleKind::Admin => Self::Admin,
            RoleKind::Observer => Self::Observer,
        }
    }
}

/// A person who signs in to the dashboard.
#[derive(SimpleObject, Clone)]
pub struct User {
    pub id: ID,
    pub client_id: ID,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: RoleKind,
    /// True until the first password change (new or admin-reset accounts).
    pub must_change_password: bool,
    pub password_changed_at: DateTime<Utc>,
    /// The password must be changed after this instant (90-day policy).
    pub password_expires_at: DateTime<Utc>,
    pub mfa_enabled: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub fn id(uuid: Uuid) -> ID {
    ID(uuid.to_string())
}

impl From<users::Model> for User {
    fn from(u: users::Model) -> Self {
        let expiry = chrono::Duration::from_std(password::EXPIRY).unwrap_or_default();
        Self {
            id: id(u.id),
            client_id: id(u.client_id),
            role: u.role.into(),
            password_expires_at: u.password_changed_at + expiry,
            password_changed_at: u.password_changed_at,
            email: u.email,
            first_name: u.first_name,
            last_name: u.last_name,
            must_change_password: u.must_change_password,
            mfa_enabled: u.totp_enabled,
            last_login_at: u.last_login_at,
            created_at: u.created_at,
        }
    }
}

/// Parses a GraphQL ID argument as a UUID; a malformed one names its field.
pub fn parse_id(field: &str, id: &ID) -> Result<Uuid, super::ApiError> {
    Uuid::parse_str(id.as_str()).map_err(|_| super::ApiError::bad_input(field, "is not a valid ID"))
}

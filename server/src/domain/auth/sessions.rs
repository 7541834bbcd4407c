//! Whether a user's access tokens still hold, asked on every request and
//! by every live socket's periodic re-check.
//!
//! A user's session state (tenant, live role, session version, the access
//! tokens logged out while still within their lifetime) is cached under one
//! key in a cache of its own, which anonymous traffic never writes. A miss,
//! an eviction or an unreachable cache rebuilds the state from the
//! database, so a revocation costs at most a read and is never forgotten.
//! Every change that must reach existing tokens writes the database first
//! and then drops the key, which every instance shares through Redis.

use super::{password, Role};
use crate::{
    domain::DomainError,
    infra::cache::{self, Cache},
};
use chrono::{DateTime, Utc};
use entities::{token_blacklist, users};
use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};
use serde::{Deserialize, Serialize};
use std::{sync::Arc, time::Duration};
use uuid::Uuid;

/// Bounds how long a state rebuilt from a read that raced a change can
/// linger, should the second invalidation also lose the race.
const STATE_TTL: Duration = Duration::from_secs(60);

/// What a user's tokens are checked against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub client_id: Uuid,
    pub role: Role,
    pub version: i32,
    /// The access token its own password change kept alive.
    pub carried_jti: Option<Uuid>,
    pub must_change_password: bool,
    pub password_changed_at: DateTime<Utc>,
    /// Logged-out access tokens that have not expired yet.
    pub revoked: Vec<Uuid>,
}

/// The facts of an access token that its session state decides on.
#[derive(Clone, Copy, Debug)]
pub struct TokenFacts {
    pub jti: Uuid,
    pub version: i32,
    pub client_id: Uuid,
    /// Set for impersonation tokens, whose subject is the super_admin.
    pub impersonator: Option<Uuid>,
}

impl SessionState {
    /// Whether the token still holds: not logged out, issued under the
    /// current session version (or kept by the password change it made),
    /// and still in the tenant it names; an impersonation token holds only
    /// while its subject is still a super_admin.
    pub fn admits(&self, token: &TokenFacts) -> bool {
        if self.revoked.contains(&token.jti) {
            return false;
        }
        if token.version != self.version && self.carried_jti != Some(token.jti) {
            return false;
        }
        match token.impersonator {
            Some(_) => self.role == Role::SuperAdmin,
            None => self.client_id == token.client_id,
        }
    }

    /// A password to change before anything else (first login, reset by
    /// an administrator, or expired).
    pub fn password_change_required(&self, now: DateTime<Utc>) -> bool {
        self.must_change_password || password::expired(self.password_changed_at, now)
    }
}

#[derive(Serialize, Deserialize)]
enum Cached {
    Present(SessionState),
    /// The user no longer exists: its tokens hold nothing.
    Gone,
}

#[derive(Clone)]
pub struct Sessions {
    db: DatabaseConnection,
    cache: Arc<dyn Cache>,
}

fn key(user_id: Uuid) -> String {
    format!("session:{user_id}")
}

impl Sessions {
    /// `cache` must not be the one anonymous requests write (rate limits):
    /// a flood there would only cost reads here, but reads all the same.
    pub fn new(db: DatabaseConnection, cache: Arc<dyn Cache>) -> Self {
        Self { db, cache }
    }

    /// The user's current session state; `None` once the user is deleted.
    pub async fn state(&self, user_id: Uuid) -> Result<Option<SessionState>, DomainError> {
        let key = key(user_id);
        match self.cache.get(&key).await {
            Ok(Some(json)) => {
                if let Ok(cached) = serde_json::from_str::<Cached>(&json) {
                    return Ok(match cached {
                        Cached::Present(state) => Some(state),
                        Cached::Gone => None,
                    });
                }
            }
            Ok(None) => {}
            // Cache down: the database answers alone, uncached.
            Err(_) => return self.load(user_id).await,
        }
        let state = self.load(user_id).await?;
        let cached = match &state {
            Some(s) => Cached::Present(s.clone()),
            None => Cached::Gone,
        };
        if let Ok(json) = serde_json::to_string(&cached) {
            let _ = self.cache.set(&key, &json, STATE_TTL).await;
        }
        Ok(state)
    }

    async fn load(&self, user_id: Uuid) -> Result<Option<SessionState>, DomainError> {
        let Some(user) = users::Entity::find_by_id(user_id).one(&self.db).await? else {
            return Ok(None);
        };
        let role = user.role;
        let revoked: Vec<Uuid> = token_blacklist::Entity::find()
            .select_only()
            .column(token_blacklist::Column::Jti)
            .filter(token_blacklist::Column::UserId.eq(user_id))
            .filter(token_blacklist::Column::ExpiresAt.gt(Utc::now()))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(Some(SessionState {
            client_id: user.client_id,
            role,
            version: user.session_version,
            carried_jti: user.session_carried_jti,
            must_change_password: user.must_change_password,
            password_changed_at: user.password_changed_at,
            revoked,
        }))
    }

    /// Ends every access token of the user except `keep` (the caller's own
    /// token, for a password change it makes). Runs inside the caller's
    /// transaction; call [`Sessions::invalidate`] once it commits.
    pub async fn bump(
        db: &impl ConnectionTrait,
        user_id: Uuid,
        keep: Option<Uuid>,
    ) -> Result<(), DomainError> {
        users::Entity::update_many()
            .col_expr(
                users::Column::SessionVersion,
                Expr::col(users::Column::SessionVersion).add(1),
            )
            .col_expr(users::Column::SessionCarriedJti, Expr::value(keep))
            .filter(users::Column::Id.eq(user_id))
            .exec(db)
            .await?;
        Ok(())
    }

    /// Drops the cached state after a committed change (logout, role,
    /// session version, deletion), on every instance.
    pub async fn invalidate(&self, user_id: Uuid) {
        cache::delete_settled(self.cache.clone(), key(user_id)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> SessionState {
        SessionState {
            client_id: Uuid::from_u128(1),
            role: Role::Admin,
            version: 3,
            carried_jti: None,
            must_change_password: false,
            password_changed_at: Utc::now(),
            revoked: vec![],
        }
    }

    fn token(version: i32) -> TokenFacts {
        TokenFacts {
            jti: Uuid::from_u128(9),
            version,
            client_id: Uuid::from_u128(1),
            impersonator: None,
        }
    }

    #[test]
    fn version_logout_tenant_and_carried_token() {
        let s = state();
        assert!(s.admits(&token(3)));
        assert!(!s.admits(&token(2)), "issued before the bump");
        assert!(!s.admits(&token(4)));
        let logged_out = SessionState {
            revoked: vec![Uuid::from_u128(9)],
            ..state()
        };
        assert!(!logged_out.admits(&token(3)));
        let carried = SessionState {
            carried_jti: Some(Uuid::from_u128(9)),
            ..state()
        };
        assert!(carried.admits(&token(2)), "the token that changed the password");
        assert!(!carried.admits(&TokenFacts {
            jti: Uuid::from_u128(10),
            ..token(2)
        }));
        assert!(!s.admits(&TokenFacts {
            client_id: Uuid::from_u128(2),
            ..token(3)
        }));
    }

    #[test]
    fn impersonation_holds_while_the_subject_is_super_admin() {
        let imp = TokenFacts {
            client_id: Uuid::from_u128(77),
            impersonator: Some(Uuid::from_u128(5)),
            ..token(3)
        };
        assert!(!state().admits(&imp));
        let super_admin = SessionState {
            role: Role::SuperAdmin,
            ..state()
        };
        assert!(super_admin.admits(&imp));
    }

    #[test]
    fn password_change_required_when_forced_or_expired() {
        let now = Utc::now();
        assert!(!state().password_change_required(now));
        let forced = SessionState {
            must_change_password: true,
            ..state()
        };
        assert!(forced.password_change_required(now));
        let old = SessionState {
            password_changed_at: now - chrono::Duration::days(91),
            ..state()
        };
        assert!(old.password_change_required(now));
    }
}

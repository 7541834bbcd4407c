//! The authentication service: sessions and tokens for people, with one
//! file per flow (`login`, `passwords`, `second_factor`); what every flow
//! shares (the service, its answers and helpers) and request
//! authentication live here.

mod login;
mod passwords;
mod second_factor;

use super::{
    api_tokens::{self, ApiTokens},
    mfa,
    password::{self, PasswordHasher},
    rate_limit::{LimitedAction, RateLimiter},
    sessions::{Sessions, TokenFacts},
    tokens::{Claims, TokenError, TokenKeys, TokenKind, TokenSpec, ACCESS_TTL, REFRESH_TTL},
    AuthVia, Principal, Role,
};
use crate::{
    domain::{
        activity::{ActivityLog, Category, Entry, Level, RequestMeta},
        crypto::{self, SecretBox},
        notify::outbox::{Email, Outbox},
        DomainError,
    },
    infra::{cache::Cache, clock::Clock, db::Database},
};
use chrono::{DateTime, Duration, Utc};
use entities::{clients, mfa_backup_codes, password_reset_tokens, refresh_tokens, token_blacklist, users};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, TransactionTrait,
};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

const MFA_SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(300);
const RESET_TOKEN_TTL: Duration = Duration::hours(1);
/// Reset e-mails one account may receive per hour, whatever the number of
/// addresses asking: a flood from many IPs must not bury the victim's inbox.
const RESET_EMAILS_PER_HOUR: u64 = 3;
/// Impersonation tokens are short and cannot be refreshed.
const IMPERSONATION_TTL: Duration = Duration::minutes(15);
/// Refusals by the sign-in limit, for one account within
/// [`LOCKOUT_TRIP_WINDOW`], that mean someone is guessing its password
/// rather than mistyping it.
pub const LOCKOUT_TRIPS: u64 = 3;
pub const LOCKOUT_TRIP_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// Told when sign-ins to one account keep hitting the limit. Declared here
/// so authentication does not depend on how (or whether) it is reported.
#[async_trait::async_trait]
pub trait LoginAlarm: Send + Sync {
    /// `email` (normalised) tripped the limit [`LOCKOUT_TRIPS`] times
    /// within the window. Never fails the sign-in: errors stay inside.
    async fn repeated_lockouts(&self, email: &str);
}

#[derive(Clone, Debug)]
pub struct AuthSettings {
    pub jwt_secret: Arc<str>,
    pub rate_limit_attempts: u64,
    pub rate_limit_window: std::time::Duration,
    /// Base URL of the dashboard, for links in emails.
    pub dashboard_url: String,
}

/// A credential presented with a request.
pub enum Credential<'a> {
    Bearer(&'a str),
    Cookie(&'a str),
}

/// Why a presented credential was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    Expired,
    Invalid,
    Revoked,
}

/// A signed-in session: tokens and the user.
#[derive(Clone, Debug)]
pub struct Session {
    pub access_token: String,
    pub access: Claims,
    pub refresh_token: String,
    pub refresh_expires_at: DateTime<Utc>,
    pub user: users::Model,
    pub client_name: String,
}

pub enum LoginOutcome {
    Session(Box<Session>),
    MfaRequired { mfa_session_id: String },
}

pub struct MfaSetup {
    pub secret: String,
    pub otpauth_url: String,
    pub backup_codes: Vec<String>,
}

pub struct MfaStatus {
    pub enabled: bool,
    pub verified_at: Option<DateTime<Utc>>,
    pub backup_codes_left: u64,
}

#[derive(Clone)]
pub struct AuthService {
    db: Database,
    cache: Arc<dyn Cache>,
    sessions: Sessions,
    sealer: SecretBox,
    keys: TokenKeys,
    hasher: PasswordHasher,
    limiter: RateLimiter,
    activity: ActivityLog,
    outbox: Outbox,
    api_tokens: ApiTokens,
    settings: AuthSettings,
    /// "Now" for password expiry.
    clock: Arc<dyn Clock>,
    login_alarm: Option<Arc<dyn LoginAlarm>>,
}

fn invalid_credentials() -> DomainError {
    DomainError::Unauthenticated
}

pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Revokes the still-valid refresh tokens matching `which` (a family, or
/// every session of a user).
pub async fn revoke_refresh_tokens(
    db: &Database,
    which: sea_orm::sea_query::SimpleExpr,
) -> Result<(), DomainError> {
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::IsRevoked, Expr::value(true))
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(which)
        .filter(refresh_tokens::Column::IsRevoked.eq(false))
        .exec(&db.conn)
        .await?;
    Ok(())
}

/// Whether the user's password is older than [`password::EXPIRY`] at `now`.
pub fn password_expired(user: &users::Model, now: DateTime<Utc>) -> bool {
    password::expired(user.password_changed_at, now)
}

impl AuthService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Database,
        cache: Arc<dyn Cache>,
        sessions: Sessions,
        sealer: SecretBox,
        hasher: PasswordHasher,
        activity: ActivityLog,
        outbox: Outbox,
        settings: AuthSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys: TokenKeys::new(settings.jwt_secret.as_bytes()),
            limiter: RateLimiter::new(
                cache.clone(),
                settings.rate_limit_attempts,
                settings.rate_limit_window,
            ),
            api_tokens: ApiTokens::new(db.clone(), cache.clone(), clock.clone()),
            db,
            cache,
            sessions,
            sealer,
            hasher,
            activity,
            outbox,
            settings,
            clock,
            login_alarm: None,
        }
    }

    /// Reports accounts under repeated sign-in lockouts to `alarm`.
    pub fn with_login_alarm(mut self, alarm: Arc<dyn LoginAlarm>) -> Self {
        self.login_alarm = Some(alarm);
        self
    }

    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    pub fn api_tokens(&self) -> &ApiTokens {
        &self.api_tokens
    }

    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<users::Model>, DomainError> {
        Ok(users::Entity::find()
            .filter(users::Column::Email.eq(normalise_email(email)))
            .one(&self.db.conn)
            .await?)
    }

    async fn client_name(&self, client_id: Uuid) -> Result<String, DomainError> {
        Ok(clients::Entity::find_by_id(client_id)
            .one(&self.db.conn)
            .await?
            .map(|c| c.name)
            .unwrap_or_default())
    }

    /// Starts a new refresh family (login) or continues one (refresh).
    async fn open_session(
        &self,
        user: users::Model,
        family: Option<(Uuid, i32)>,
        meta: &RequestMeta,
    ) -> Result<Session, DomainError> {
        let role = user.role;
        let pcr = user.must_change_password || password_expired(&user, self.clock.now());
        let (access_token, access) = self.keys.issue(TokenSpec {
            kind: TokenKind::Access,
            user_id: user.id,
            client_id: user.client_id,
            role,
            password_change_required: pcr,
            family: None,
            impersonator: None,
            session_version: user.session_version,
            ttl: ACCESS_TTL,
            jti: None,
        });
        let (family_id, rotation) = family.unwrap_or((Uuid::new_v4(), 0));
        let refresh_id = Uuid::new_v4();
        let (refresh_token, refresh) = self.keys.issue(TokenSpec {
            kind: TokenKind::Refresh,
            user_id: user.id,
            client_id: user.client_id,
            role,
            password_change_required: pcr,
            family: Some(family_id),
            impersonator: None,
            session_version: user.session_version,
            ttl: REFRESH_TTL,
            jti: Some(refresh_id),
        });
        refresh_tokens::Entity::insert(refresh_tokens::ActiveModel {
            id: Set(refresh_id),
            user_id: Set(user.id),
            family_id: Set(family_id),
            token_hash: Set(crypto::sha256_hex(&refresh_token)),
            rotation_count: Set(rotation),
            is_revoked: Set(false),
            revoked_at: Set(None),
            ip_address: Set(meta.ip.clone()),
            user_agent: Set(meta.user_agent.as_ref().map(|ua| ua.chars().take(512).collect())),
            expires_at: Set(refresh.expires_at()),
            created_at: Set(Utc::now()),
        })
        .exec(&self.db.conn)
        .await?;
        let client_name = self.client_name(user.client_id).await?;
        Ok(Session {
            access_token,
            access,
            refresh_token,
            refresh_expires_at: refresh.expires_at(),
            user,
            client_name,
        })
    }

    async fn revoke_user_sessions(&self, user_id: Uuid) -> Result<(), DomainError> {
        revoke_refresh_tokens(&self.db, refresh_tokens::Column::UserId.eq(user_id)).await
    }

    /// Records an auth event about `user` in its tenant.
    async fn user_event(&self, level: Level, message: &str, user: &users::Model, meta: &RequestMeta) {
        self.log(
            Entry::new(level, Category::Auth, message)
                .client(user.client_id)
                .user(user.id),
            meta,
        )
        .await;
    }

    async fn log(&self, entry: Entry, meta: &RequestMeta) {
        self.activity.record(entry, meta).await;
    }

    /// Whether an authenticated principal still holds: not expired, not
    /// logged out, its session not ended (password change, reset, deleted
    /// user), its role unchanged, its API token not revoked. Long-lived
    /// connections (WebSockets) ask periodically.
    pub async fn still_valid(&self, principal: &Principal) -> Result<bool, DomainError> {
        match &principal.via {
            AuthVia::Session {
                jti,
                expires_at,
                impersonator,
                session_version,
                ..
            } => {
                let Some(user_id) = principal.user_id else {
                    return Ok(false);
                };
                if *expires_at <= Utc::now() {
                    return Ok(false);
                }
                let Some(state) = self.sessions.state(user_id).await? else {
                    return Ok(false);
                };
                let facts = TokenFacts {
                    jti: *jti,
                    version: *session_version,
                    client_id: principal.client_id,
                    impersonator: *impersonator,
                };
                // A socket keeps the role it was opened with: a demoted
                // user reconnects as what they are now.
                Ok(state.admits(&facts) && (impersonator.is_some() || state.role == principal.role))
            }
            AuthVia::ApiToken { id, hash, .. } => Ok(self
                .api_tokens
                .authenticate_hash(hash.clone())
                .await?
                .is_some_and(|p| matches!(p.via, AuthVia::ApiToken { id: live, .. } if live == *id))),
        }
    }

    /// Resolves a presented credential. `Ok(Err(..))` is a refused
    /// credential; `Err` is an internal failure.
    pub async fn authenticate(
        &self,
        credential: Credential<'_>,
    ) -> Result<Result<Principal, AuthFailure>, DomainError> {
        let (token, cookie) = match credential {
            Credential::Bearer(t) => (t, false),
            Credential::Cookie(t) => (t, true),
        };
        if !cookie && token.starts_with(api_tokens::PREFIX) {
            return Ok(self
                .api_tokens
                .authenticate(token)
                .await?
                .ok_or(AuthFailure::Invalid));
        }
        let claims = match self.keys.verify(token, TokenKind::Access) {
            Ok(c) => c,
            Err(TokenError::Expired) => return Ok(Err(AuthFailure::Expired)),
            Err(TokenError::Invalid) => return Ok(Err(AuthFailure::Invalid)),
        };
        // Only a validly signed token reaches the session state, so
        // anonymous traffic never causes a read or a cache entry here.
        let Some(state) = self.sessions.state(claims.sub).await? else {
            return Ok(Err(AuthFailure::Revoked));
        };
        let facts = TokenFacts {
            jti: claims.jti,
            version: claims.sv,
            client_id: claims.cid,
            impersonator: claims.imp,
        };
        if !state.admits(&facts) {
            return Ok(Err(AuthFailure::Revoked));
        }
        // The role is the user's current one, so a demotion applies at the
        // next request; an impersonation token keeps the role it grants.
        let (role, pcr) = match claims.imp {
            Some(_) => (claims.role, false),
            None => (state.role, state.password_change_required(self.clock.now())),
        };
        Ok(Ok(Principal {
            user_id: Some(claims.sub),
            client_id: claims.cid,
            role,
            via: AuthVia::Session {
                jti: claims.jti,
                expires_at: claims.expires_at(),
                impersonator: claims.imp,
                cookie,
                session_version: claims.sv,
            },
            password_change_required: pcr,
        }))
    }

    async fn current_user(&self, principal: &Principal) -> Result<users::Model, DomainError> {
        let user_id = principal.user_id.ok_or(DomainError::Unauthenticated)?;
        users::Entity::find_by_id(user_id)
            .filter(users::Column::ClientId.eq(principal.client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::Unauthenticated)
    }

    /// The signed-in user (for impersonation: the super_admin's own
    /// record stays in its own tenant, so `me` answers for that user).
    pub async fn me(&self, principal: &Principal) -> Result<users::Model, DomainError> {
        let user_id = principal.user_id.ok_or(DomainError::Unauthenticated)?;
        users::Entity::find_by_id(user_id)
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::Unauthenticated)
    }

    /// A short access token acting as admin of another tenant, for support.
    pub async fn impersonate(
        &self,
        principal: &Principal,
        client_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(String, Claims), DomainError> {
        let (
            true,
            Some(user_id),
            AuthVia::Session {
                impersonator: None, ..
            },
        ) = (principal.is_super_admin(), principal.user_id, &principal.via)
        else {
            return Err(DomainError::Forbidden("super_admin only".into()));
        };
        let client = clients::Entity::find_by_id(client_id)
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("client"))?;
        let session_version = self
            .sessions
            .state(user_id)
            .await?
            .ok_or(DomainError::Unauthenticated)?
            .version;
        let (token, claims) = self.keys.issue(TokenSpec {
            kind: TokenKind::Access,
            user_id,
            client_id: client.id,
            role: Role::Admin,
            password_change_required: false,
            family: None,
            impersonator: Some(user_id),
            session_version,
            ttl: IMPERSONATION_TTL,
            jti: None,
        });
        // Recorded in the target tenant (its admins see who came in) and in
        // the platform tenant.
        let entry = Entry::new(
            Level::Warn,
            Category::Auth,
            format!("Impersonation du client {}", client.name),
        )
        .user(user_id)
        .metadata(json!({ "target_client_id": client_id, "expires_at": claims.expires_at() }));
        self.log(entry.clone().client(client.id), meta).await;
        self.log(entry.client(principal.client_id), meta).await;
        Ok((token, claims))
    }
}

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
    infra::{cache::Cache, db::Database},
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

pub fn password_expired(user: &users::Model) -> bool {
    let age = Utc::now() - user.password_changed_at;
    age.to_std().is_ok_and(|a| a > password::EXPIRY)
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
    ) -> Self {
        Self {
            keys: TokenKeys::new(settings.jwt_secret.as_bytes()),
            limiter: RateLimiter::new(
                cache.clone(),
                settings.rate_limit_attempts,
                settings.rate_limit_window,
            ),
            api_tokens: ApiTokens::new(db.clone(), cache.clone()),
            db,
            cache,
            sessions,
            sealer,
            hasher,
            activity,
            outbox,
            settings,
        }
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
        let pcr = user.must_change_password || password_expired(&user);
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

    async fn log(&self, entry: Entry, meta: &RequestMeta) {
        self.activity.record(entry, meta).await;
    }

    pub async fn login(
        &self,
        email: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<LoginOutcome, DomainError> {
        // The limit is checked before any hashing work.
        self.limiter
            .check(LimitedAction::Login, meta.ip.as_deref())
            .await?;
        let user = self.user_by_email(email).await?;
        let ok = self
            .hasher
            .verify(password, user.as_ref().map(|u| u.password_hash.as_str()))
            .await?;
        let user = match (user, ok) {
            (Some(user), true) => user,
            (user, _) => {
                let mut entry = Entry::new(Level::Warn, Category::Auth, "Échec de connexion")
                    .metadata(json!({ "email": normalise_email(email) }));
                if let Some(u) = &user {
                    entry = entry.client(u.client_id).user(u.id);
                }
                self.log(entry, meta).await;
                return Err(invalid_credentials());
            }
        };
        if user.totp_enabled {
            let session_id = crypto::random_token();
            self.cache
                .set(
                    &format!("mfa:{session_id}"),
                    &user.id.to_string(),
                    MFA_SESSION_TTL,
                )
                .await
                .map_err(|e| DomainError::Internal(e.to_string()))?;
            return Ok(LoginOutcome::MfaRequired {
                mfa_session_id: session_id,
            });
        }
        self.finish_login(user, "password", meta).await
    }

    async fn finish_login(
        &self,
        user: users::Model,
        method: &str,
        meta: &RequestMeta,
    ) -> Result<LoginOutcome, DomainError> {
        users::Entity::update_many()
            .col_expr(users::Column::LastLoginAt, Expr::value(Utc::now()))
            .filter(users::Column::Id.eq(user.id))
            .exec(&self.db.conn)
            .await?;
        self.log(
            Entry::new(Level::Info, Category::Auth, "Connexion réussie")
                .client(user.client_id)
                .user(user.id)
                .metadata(json!({ "method": method })),
            meta,
        )
        .await;
        Ok(LoginOutcome::Session(Box::new(
            self.open_session(user, None, meta).await?,
        )))
    }

    pub async fn verify_mfa(
        &self,
        mfa_session_id: &str,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<Session, DomainError> {
        self.limiter
            .check(LimitedAction::MfaVerify, meta.ip.as_deref())
            .await?;
        let key = format!("mfa:{mfa_session_id}");
        let user_id = self
            .cache
            .get(&key)
            .await
            .map_err(|e| DomainError::Internal(e.to_string()))?
            .and_then(|v| Uuid::parse_str(&v).ok())
            .ok_or(DomainError::Unauthenticated)?;
        let user = users::Entity::find_by_id(user_id)
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::Unauthenticated)?;
        let method = if self.check_second_factor(&user, code).await? {
            "totp"
        } else if self.consume_backup_code(&user, code).await? {
            "backup_code"
        } else {
            self.user_event(Level::Warn, "Code MFA invalide", &user, meta)
                .await;
            return Err(DomainError::Unauthenticated);
        };
        let _ = self.cache.delete(&key).await;
        match self.finish_login(user, method, meta).await? {
            LoginOutcome::Session(s) => Ok(*s),
            LoginOutcome::MfaRequired { .. } => Err(DomainError::Internal("MFA loop".into())),
        }
    }

    /// A TOTP code, accepted once (a replayed code within its window fails).
    async fn check_second_factor(&self, user: &users::Model, code: &str) -> Result<bool, DomainError> {
        let Some(secret) = user.totp_secret.as_deref().and_then(|s| self.sealer.open(s)) else {
            return Ok(false);
        };
        if !mfa::check(&secret, &user.email, code) {
            return Ok(false);
        }
        let replay_key = format!("totp-used:{}:{}", user.id, code.trim());
        if let Ok(Some(_)) = self.cache.get(&replay_key).await {
            return Ok(false);
        }
        let _ = self
            .cache
            .set(&replay_key, "1", std::time::Duration::from_secs(120))
            .await;
        Ok(true)
    }

    async fn consume_backup_code(&self, user: &users::Model, code: &str) -> Result<bool, DomainError> {
        let normalised = mfa::normalise_backup_code(code);
        if normalised.len() != 8 {
            return Ok(false);
        }
        let hash = crypto::hmac_hex(self.settings.jwt_secret.as_bytes(), &normalised);
        // Conditional update: two concurrent uses of one code cannot both win.
        let used = mfa_backup_codes::Entity::update_many()
            .col_expr(mfa_backup_codes::Column::UsedAt, Expr::value(Utc::now()))
            .filter(mfa_backup_codes::Column::UserId.eq(user.id))
            .filter(mfa_backup_codes::Column::CodeHash.eq(hash))
            .filter(mfa_backup_codes::Column::UsedAt.is_null())
            .exec(&self.db.conn)
            .await?;
        Ok(used.rows_affected > 0)
    }

    /// Rotates a refresh token. Presenting one already rotated away means
    /// it was copied: the whole family is revoked (victim and thief are
    /// both signed out).
    pub async fn refresh(&self, token: &str, meta: &RequestMeta) -> Result<Session, DomainError> {
        self.limiter
            .check(LimitedAction::Refresh, meta.ip.as_deref())
            .await?;
        let claims = self
            .keys
            .verify(token, TokenKind::Refresh)
            .map_err(|_| DomainError::Unauthenticated)?;
        let hash = crypto::sha256_hex(token);
        let row = refresh_tokens::Entity::find()
            .filter(refresh_tokens::Column::TokenHash.eq(hash))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::Unauthenticated)?;
        if row.is_revoked {
            self.revoke_family(row.family_id).await?;
            self.log(
                Entry::new(
                    Level::Warn,
                    Category::Auth,
                    "Réutilisation d'un refresh token révoqué : famille révoquée",
                )
                .client(claims.cid)
                .user(row.user_id)
                .metadata(json!({ "family_id": row.family_id })),
                meta,
            )
            .await;
            return Err(DomainError::Unauthenticated);
        }
        // Revoke the presented token first; only the request that flips it
        // may continue, so a concurrent replay is treated as reuse.
        let flipped = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::IsRevoked, Expr::value(true))
            .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(Utc::now()))
            .filter(refresh_tokens::Column::Id.eq(row.id))
            .filter(refresh_tokens::Column::IsRevoked.eq(false))
            .exec(&self.db.conn)
            .await?;
        if flipped.rows_affected == 0 {
            self.revoke_family(row.family_id).await?;
            return Err(DomainError::Unauthenticated);
        }
        let user = users::Entity::find_by_id(row.user_id)
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::Unauthenticated)?;
        self.open_session(user, Some((row.family_id, row.rotation_count + 1)), meta)
            .await
    }

    async fn revoke_family(&self, family_id: Uuid) -> Result<(), DomainError> {
        revoke_refresh_tokens(&self.db, refresh_tokens::Column::FamilyId.eq(family_id)).await
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

    /// Blacklists the access token at once (cache with TTL = remaining
    /// life, plus an audit row) and revokes the refresh family if given.
    pub async fn logout(
        &self,
        principal: &Principal,
        refresh_token: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        let AuthVia::Session { jti, expires_at, .. } = principal.via else {
            return Err(DomainError::Forbidden(
                "API tokens are revoked, not logged out".into(),
            ));
        };
        token_blacklist::Entity::insert(token_blacklist::ActiveModel {
            jti: Set(jti),
            user_id: Set(principal.user_id),
            reason: Set("logout".into()),
            expires_at: Set(expires_at),
            created_at: Set(Utc::now()),
        })
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(token_blacklist::Column::Jti)
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec(&self.db.conn)
        .await?;
        if let Some(user_id) = principal.user_id {
            self.sessions.invalidate(user_id).await;
        }
        if let Some(token) = refresh_token {
            if let Ok(claims) = self.keys.verify(token, TokenKind::Refresh) {
                if Some(claims.sub) == principal.user_id {
                    if let Some(fam) = claims.fam {
                        self.revoke_family(fam).await?;
                    }
                }
            }
        }
        if let Some(user_id) = principal.user_id {
            self.log(
                Entry::new(Level::Info, Category::Auth, "Déconnexion")
                    .client(principal.client_id)
                    .user(user_id),
                meta,
            )
            .await;
        }
        Ok(())
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
            None => (state.role, state.password_change_required(Utc::now())),
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

    pub async fn change_password(
        &self,
        principal: &Principal,
        current: &str,
        new: &str,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        principal.ensure_may_create_credentials()?;
        let user = self.current_user(principal).await?;
        password::check_policy(new).map_err(|m| DomainError::invalid("newPassword", m))?;
        if !self.hasher.verify(current, Some(&user.password_hash)).await? {
            return Err(DomainError::invalid("currentPassword", "is incorrect"));
        }
        if current == new {
            return Err(DomainError::invalid(
                "newPassword",
                "must differ from the current password",
            ));
        }
        let hash = self.hasher.hash(new).await?;
        let mut active = user.clone().into_active_model();
        active.password_hash = Set(hash);
        active.must_change_password = Set(false);
        active.password_changed_at = Set(Utc::now());
        active.updated_at = Set(Utc::now());
        let txn = self.db.conn.begin().await?;
        active.update(&txn).await?;
        // Every other session ends; the caller's own token carries on.
        let keep = match principal.via {
            AuthVia::Session { jti, .. } => Some(jti),
            AuthVia::ApiToken { .. } => None,
        };
        Sessions::bump(&txn, user.id, keep).await?;
        txn.commit().await?;
        self.sessions.invalidate(user.id).await;
        self.revoke_user_sessions(user.id).await?;
        self.log(
            Entry::new(Level::Info, Category::User, "Mot de passe modifié")
                .client(user.client_id)
                .user(user.id),
            meta,
        )
        .await;
        Ok(())
    }

    /// Always succeeds for the caller; an email goes out only when the
    /// address belongs to a user.
    pub async fn request_password_reset(&self, email: &str, meta: &RequestMeta) -> Result<(), DomainError> {
        self.limiter
            .check(LimitedAction::PasswordResetRequest, meta.ip.as_deref())
            .await?;
        let Some(user) = self.user_by_email(email).await? else {
            return Ok(());
        };
        // Counted in the database, so the cap holds across instances and
        // whatever address asks; past it the caller gets the same answer.
        let sent_last_hour = password_reset_tokens::Entity::find()
            .filter(password_reset_tokens::Column::UserId.eq(user.id))
            .filter(password_reset_tokens::Column::CreatedAt.gt(Utc::now() - Duration::hours(1)))
            .count(&self.db.conn)
            .await?;
        if sent_last_hour >= RESET_EMAILS_PER_HOUR {
            self.user_event(
                Level::Warn,
                "Demande de réinitialisation ignorée : limite horaire atteinte",
                &user,
                meta,
            )
            .await;
            return Ok(());
        }
        let token = crypto::random_token();
        let txn = self.db.conn.begin().await?;
        // One live link per user: a new request voids the previous ones.
        password_reset_tokens::Entity::update_many()
            .col_expr(password_reset_tokens::Column::UsedAt, Expr::value(Utc::now()))
            .filter(password_reset_tokens::Column::UserId.eq(user.id))
            .filter(password_reset_tokens::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        password_reset_tokens::Entity::insert(password_reset_tokens::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user.id),
            token_hash: Set(crypto::sha256_hex(&token)),
            expires_at: Set(Utc::now() + RESET_TOKEN_TTL),
            used_at: Set(None),
            ip_address: Set(meta.ip.clone()),
            created_at: Set(Utc::now()),
        })
        .exec(&txn)
        .await?;
        txn.commit().await?;
        let link = format!(
            "{}/reset-password?token={token}",
            self.settings.dashboard_url.trim_end_matches('/')
        );
        self.outbox
            .enqueue(Email {
                kind: "password_reset",
                recipient: user.email.clone(),
                subject: "Optralis – réinitialisation du mot de passe / password reset".into(),
                body_text: format!(
                    "Bonjour {name},\n\nPour choisir un nouveau mot de passe, ouvrez ce lien (valable 1 heure) :\n{link}\n\n\
                     To choose a new password, open this link (valid for 1 hour):\n{link}\n\n\
                     Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n",
                    name = user.first_name
                ),
                client_id: Some(user.client_id),
            })
            .await?;
        self.log(
            Entry::new(
                Level::Info,
                Category::Auth,
                "Demande de réinitialisation du mot de passe",
            )
            .client(user.client_id)
            .user(user.id),
            meta,
        )
        .await;
        Ok(())
    }

    async fn live_reset_token(
        &self,
        token: &str,
    ) -> Result<Option<password_reset_tokens::Model>, DomainError> {
        Ok(password_reset_tokens::Entity::find()
            .filter(password_reset_tokens::Column::TokenHash.eq(crypto::sha256_hex(token.trim())))
            .filter(password_reset_tokens::Column::UsedAt.is_null())
            .filter(password_reset_tokens::Column::ExpiresAt.gt(Utc::now()))
            .one(&self.db.conn)
            .await?)
    }

    pub async fn validate_reset_token(&self, token: &str) -> Result<bool, DomainError> {
        Ok(self.live_reset_token(token).await?.is_some())
    }

    pub async fn reset_password(
        &self,
        token: &str,
        new: &str,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        self.limiter
            .check(LimitedAction::PasswordReset, meta.ip.as_deref())
            .await?;
        password::check_policy(new).map_err(|m| DomainError::invalid("newPassword", m))?;
        let row = self
            .live_reset_token(token)
            .await?
            .ok_or_else(|| DomainError::invalid("token", "is invalid or expired"))?;
        let hash = self.hasher.hash(new).await?;
        let txn = self.db.conn.begin().await?;
        // Single use: only the request that marks the token used proceeds.
        let used = password_reset_tokens::Entity::update_many()
            .col_expr(password_reset_tokens::Column::UsedAt, Expr::value(Utc::now()))
            .filter(password_reset_tokens::Column::Id.eq(row.id))
            .filter(password_reset_tokens::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        if used.rows_affected == 0 {
            return Err(DomainError::invalid("token", "is invalid or expired"));
        }
        users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(hash))
            .col_expr(users::Column::MustChangePassword, Expr::value(false))
            .col_expr(users::Column::PasswordChangedAt, Expr::value(Utc::now()))
            .col_expr(users::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(users::Column::Id.eq(row.user_id))
            .exec(&txn)
            .await?;
        Sessions::bump(&txn, row.user_id, None).await?;
        txn.commit().await?;
        self.sessions.invalidate(row.user_id).await;
        self.revoke_user_sessions(row.user_id).await?;
        if let Some(user) = users::Entity::find_by_id(row.user_id).one(&self.db.conn).await? {
            self.user_event(Level::Info, "Mot de passe réinitialisé", &user, meta)
                .await;
        }
        Ok(())
    }

    /// Seals TOTP secrets stored before sealing existed; run at start.
    pub async fn seal_stored_totp_secrets(&self) -> Result<u64, DomainError> {
        let plain = users::Entity::find()
            .filter(
                users::Column::TotpSecret
                    .is_not_null()
                    .or(users::Column::TotpPendingSecret.is_not_null()),
            )
            .all(&self.db.conn)
            .await?;
        let mut sealed = 0;
        for user in plain {
            let reseal = |v: Option<String>| match v {
                Some(v) if !SecretBox::is_sealed(&v) => Some(Some(self.sealer.seal(&v))),
                _ => None,
            };
            let (secret, pending) = (reseal(user.totp_secret), reseal(user.totp_pending_secret));
            if secret.is_none() && pending.is_none() {
                continue;
            }
            let mut update = users::Entity::update_many().filter(users::Column::Id.eq(user.id));
            if let Some(v) = secret {
                update = update.col_expr(users::Column::TotpSecret, Expr::value(v));
            }
            if let Some(v) = pending {
                update = update.col_expr(users::Column::TotpPendingSecret, Expr::value(v));
            }
            update.exec(&self.db.conn).await?;
            sealed += 1;
        }
        Ok(sealed)
    }

    pub async fn mfa_setup(&self, principal: &Principal) -> Result<MfaSetup, DomainError> {
        principal.ensure_may_create_credentials()?;
        let user = self.current_user(principal).await?;
        if user.totp_enabled {
            return Err(DomainError::Conflict(
                "MFA is already enabled; disable it first".into(),
            ));
        }
        let secret = mfa::new_secret();
        let otpauth_url = mfa::otpauth_url(&secret, &user.email)
            .ok_or_else(|| DomainError::Internal("TOTP URL generation failed".into()))?;
        let backup_codes = mfa::new_backup_codes();
        let txn = self.db.conn.begin().await?;
        users::Entity::update_many()
            .col_expr(
                users::Column::TotpPendingSecret,
                Expr::value(Some(self.sealer.seal(&secret))),
            )
            .filter(users::Column::Id.eq(user.id))
            .exec(&txn)
            .await?;
        mfa_backup_codes::Entity::delete_many()
            .filter(mfa_backup_codes::Column::UserId.eq(user.id))
            .exec(&txn)
            .await?;
        let key = self.settings.jwt_secret.as_bytes();
        mfa_backup_codes::Entity::insert_many(backup_codes.iter().map(|code| {
            mfa_backup_codes::ActiveModel {
                id: Set(Uuid::new_v4()),
                user_id: Set(user.id),
                code_hash: Set(crypto::hmac_hex(key, code)),
                used_at: Set(None),
                created_at: Set(Utc::now()),
            }
        }))
        .exec(&txn)
        .await?;
        txn.commit().await?;
        Ok(MfaSetup {
            secret,
            otpauth_url,
            backup_codes,
        })
    }

    pub async fn mfa_enable(
        &self,
        principal: &Principal,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        principal.ensure_may_create_credentials()?;
        let user = self.current_user(principal).await?;
        let Some(pending) = user.totp_pending_secret.clone() else {
            return Err(DomainError::invalid("code", "run mfaSetup first"));
        };
        let Some(pending_plain) = self.sealer.open(&pending) else {
            return Err(DomainError::invalid("code", "run mfaSetup again"));
        };
        if !mfa::check(&pending_plain, &user.email, code) {
            return Err(DomainError::invalid(
                "code",
                "is not the current code of the authenticator",
            ));
        }
        users::Entity::update_many()
            .col_expr(
                users::Column::TotpSecret,
                Expr::value(Some(self.sealer.seal(&pending_plain))),
            )
            .col_expr(
                users::Column::TotpPendingSecret,
                Expr::value(Option::<String>::None),
            )
            .col_expr(users::Column::TotpEnabled, Expr::value(true))
            .col_expr(users::Column::TotpVerifiedAt, Expr::value(Some(Utc::now())))
            .filter(users::Column::Id.eq(user.id))
            .exec(&self.db.conn)
            .await?;
        let _ = self
            .cache
            .set(
                &format!("totp-used:{}:{}", user.id, code.trim()),
                "1",
                std::time::Duration::from_secs(120),
            )
            .await;
        self.user_event(Level::Info, "MFA activé", &user, meta).await;
        Ok(())
    }

    pub async fn mfa_disable(
        &self,
        principal: &Principal,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        principal.ensure_may_create_credentials()?;
        let user = self.current_user(principal).await?;
        if !self.hasher.verify(password, Some(&user.password_hash)).await? {
            return Err(DomainError::invalid("password", "is incorrect"));
        }
        let txn = self.db.conn.begin().await?;
        users::Entity::update_many()
            .col_expr(users::Column::TotpSecret, Expr::value(Option::<String>::None))
            .col_expr(
                users::Column::TotpPendingSecret,
                Expr::value(Option::<String>::None),
            )
            .col_expr(users::Column::TotpEnabled, Expr::value(false))
            .col_expr(
                users::Column::TotpVerifiedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(users::Column::Id.eq(user.id))
            .exec(&txn)
            .await?;
        mfa_backup_codes::Entity::delete_many()
            .filter(mfa_backup_codes::Column::UserId.eq(user.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.user_event(Level::Warn, "MFA désactivé", &user, meta).await;
        Ok(())
    }

    pub async fn mfa_status(&self, principal: &Principal) -> Result<MfaStatus, DomainError> {
        let user = self.current_user(principal).await?;
        let left = if user.totp_enabled {
            mfa_backup_codes::Entity::find()
                .filter(mfa_backup_codes::Column::UserId.eq(user.id))
                .filter(mfa_backup_codes::Column::UsedAt.is_null())
                .count(&self.db.conn)
                .await?
        } else {
            0
        };
        Ok(MfaStatus {
            enabled: user.totp_enabled,
            verified_at: user.totp_verified_at,
            backup_codes_left: left,
        })
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

//! Signing in and out: password login, the MFA step, refresh-token
//! rotation (a reused token revokes its family) and logout.

use super::*;

impl AuthService {
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<LoginOutcome, DomainError> {
        // The limit is checked before any hashing work.
        if let Err(refused) = self.limiter.check(LimitedAction::Login, meta.ip.as_deref()).await {
            self.count_lockout(email).await;
            return Err(refused);
        }
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
                .map_err(|e| DomainError::internal("MFA session cache", e))?;
            return Ok(LoginOutcome::MfaRequired {
                mfa_session_id: session_id,
            });
        }
        self.finish_login(user, "password", meta).await
    }

    /// Counts one refusal by the limit against the account named; the
    /// alarm hears of it once, when the count reaches [`LOCKOUT_TRIPS`], so
    /// a flood of refused attempts costs no database work.
    async fn count_lockout(&self, email: &str) {
        let Some(alarm) = &self.login_alarm else {
            return;
        };
        // Bounded: the name is whatever the caller typed, and each one
        // holds a counter for an hour.
        let email: String = normalise_email(email).chars().take(254).collect();
        let hit = self
            .cache
            .hit(&format!("lockouts:{email}"), LOCKOUT_TRIP_WINDOW)
            .await;
        if hit.count == LOCKOUT_TRIPS {
            alarm.repeated_lockouts(&email).await;
        }
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
            .map_err(|e| DomainError::internal("MFA session cache", e))?
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
            LoginOutcome::MfaRequired { .. } => Err(DomainError::invariant("MFA asked again after MFA")),
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
}

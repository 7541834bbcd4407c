//! Password changes: by the user, and the self-service reset by e-mail
//! (at most 3 e-mails an hour per account; a new link voids the last).

use super::*;
use crate::domain::notify::email;
use chrono::Datelike;

impl AuthService {
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
        active.password_changed_at = Set(self.clock.now());
        active.updated_at = Set(self.clock.now());
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
            .filter(password_reset_tokens::Column::CreatedAt.gt(self.clock.now() - Duration::hours(1)))
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
            .col_expr(
                password_reset_tokens::Column::UsedAt,
                Expr::value(self.clock.now()),
            )
            .filter(password_reset_tokens::Column::UserId.eq(user.id))
            .filter(password_reset_tokens::Column::UsedAt.is_null())
            .exec(&txn)
            .await?;
        password_reset_tokens::Entity::insert(password_reset_tokens::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(user.id),
            token_hash: Set(crypto::sha256_hex(&token)),
            expires_at: Set(self.clock.now() + RESET_TOKEN_TTL),
            used_at: Set(None),
            ip_address: Set(meta.ip.clone()),
            created_at: Set(self.clock.now()),
        })
        .exec(&txn)
        .await?;
        txn.commit().await?;
        let link = format!(
            "{}/reset-password?token={token}",
            self.settings.dashboard_url.trim_end_matches('/')
        );
        // The user's tenant is not at hand here; French is the product's
        // default language.
        let language = entities::enums::Language::Fr;
        let mail = email::render(
            &email::Template::PasswordReset {
                name: user.first_name.clone(),
                reset_url: link,
                expires_minutes: RESET_TOKEN_TTL.num_minutes().try_into().unwrap_or(u32::MAX),
            },
            language,
            &email::Common::new(&self.settings.dashboard_url, self.clock.now().year()),
        )?;
        self.outbox
            .enqueue(Email {
                kind: "password_reset",
                recipient: user.email.clone(),
                subject: mail.subject,
                body_text: mail.text,
                body_html: Some(mail.html),
                language,
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
            .filter(password_reset_tokens::Column::ExpiresAt.gt(self.clock.now()))
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
            .col_expr(
                password_reset_tokens::Column::UsedAt,
                Expr::value(self.clock.now()),
            )
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
            .col_expr(users::Column::PasswordChangedAt, Expr::value(self.clock.now()))
            .col_expr(users::Column::UpdatedAt, Expr::value(self.clock.now()))
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
}

//! TOTP second factor: setup, enabling, disabling, status, and sealing
//! secrets older versions stored in clear.

use super::*;

impl AuthService {
    /// Seals TOTP secrets stored before sealing existed; run at start.
    pub async fn seal_stored_totp_secrets(&self) -> Result<u64, DomainError> {
        let plain = users::Entity::find()
            // Only rows still holding a clear secret: every start runs this,
            // and once sealed there is nothing to read.
            .filter(
                users::Column::TotpSecret
                    .not_like(SecretBox::SEALED_PATTERN)
                    .or(users::Column::TotpPendingSecret.not_like(SecretBox::SEALED_PATTERN)),
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
            .ok_or_else(|| DomainError::invariant("TOTP URL generation failed"))?;
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
}

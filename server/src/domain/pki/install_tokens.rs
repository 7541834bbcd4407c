//! Install tokens: 256 random bits shown once, SHA-256 stored, 15 minutes
//! by default (60 at most), optionally limited in uses. Consuming one is a
//! single conditional UPDATE, so racing enrolments can never exceed
//! `max_usage`.

use crate::{
    domain::{
        activity::{ActivityLog, Category, Entry, Level, RequestMeta},
        auth::Principal,
        crypto, DomainError,
    },
    infra::{clock::Clock, db::Database},
};
use base64::{engine::general_purpose::URL_SAFE, Engine};
use chrono::Duration;
use entities::install_tokens;
use rand::RngCore;
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

pub const DEFAULT_MINUTES: i64 = 15;
pub const MAX_MINUTES: i64 = 60;
const WINDOWS_INSTALLER_NAME: &str = "Windows installer";
/// Live (usable) install tokens a tenant may hold at once; each one lets
/// anybody holding it enrol a machine.
pub const MAX_LIVE_PER_TENANT: u64 = 20;

pub struct CreatedToken {
    pub token: install_tokens::Model,
    /// Shown once.
    pub secret: String,
    pub curl_command: String,
    pub powershell_command: String,
}

#[derive(Clone)]
pub struct InstallTokens {
    db: Database,
    activity: ActivityLog,
    base_url: String,
    /// "Now" for token expiry.
    clock: Arc<dyn Clock>,
}

/// 32 random bytes, base64url with padding: 44 characters.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE.encode(bytes)
}

impl InstallTokens {
    pub fn new(db: Database, activity: ActivityLog, base_url: String, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            activity,
            base_url: base_url.trim_end_matches('/').to_owned(),
            clock,
        }
    }

    pub async fn create(
        &self,
        actor: &Principal,
        name: Option<&str>,
        duration_minutes: Option<i64>,
        max_usage: Option<i32>,
        meta: &RequestMeta,
    ) -> Result<CreatedToken, DomainError> {
        let name = name.unwrap_or_default().trim().to_owned();
        if name.chars().count() > 100 {
            return Err(DomainError::invalid("name", "must be at most 100 characters"));
        }
        let minutes = duration_minutes.unwrap_or(DEFAULT_MINUTES);
        if !(1..=MAX_MINUTES).contains(&minutes) {
            return Err(DomainError::invalid(
                "durationMinutes",
                format!("must be between 1 and {MAX_MINUTES}"),
            ));
        }
        let max_usage = max_usage.unwrap_or(0);
        if max_usage < 0 {
            return Err(DomainError::invalid("maxUsage", "must be 0 (unlimited) or more"));
        }
        let now = self.clock.now();
        let live = install_tokens::Entity::find()
            .filter(install_tokens::Column::ClientId.eq(actor.client_id))
            .filter(install_tokens::Column::RevokedAt.is_null())
            .filter(install_tokens::Column::ExpiresAt.gt(now))
            .filter(Condition::any().add(install_tokens::Column::MaxUsage.eq(0)).add(
                Expr::col(install_tokens::Column::UsageCount).lt(Expr::col(install_tokens::Column::MaxUsage)),
            ))
            .count(&self.db.conn)
            .await?;
        if live >= MAX_LIVE_PER_TENANT {
            return Err(DomainError::Conflict(format!(
                "this tenant already has {MAX_LIVE_PER_TENANT} live install tokens; revoke one or let one expire"
            )));
        }
        let secret = new_secret();
        let token = install_tokens::Entity::insert(install_tokens::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(actor.client_id),
            token_hash: Set(crypto::sha256_hex(&secret)),
            name: Set(name),
            expires_at: Set(now + Duration::minutes(minutes)),
            usage_count: Set(0),
            max_usage: Set(max_usage),
            revoked_at: Set(None),
            created_by: Set(actor.user_id),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_with_returning(&self.db.conn)
        .await?;
        let entry = Entry::new(Level::Info, Category::Machine, "Jeton d'installation créé")
            .client(actor.client_id)
            .metadata(json!({ "token_id": token.id, "expires_at": token.expires_at, "max_usage": max_usage }))
            .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok(CreatedToken {
            curl_command: format!(
                "curl -fsSL {}/install.sh | sudo bash -s -- {secret}",
                self.base_url
            ),
            powershell_command: format!(
                "irm {}/install.ps1 -OutFile install.ps1; .\\install.ps1 -Token \"{secret}\"",
                self.base_url
            ),
            token,
            secret,
        })
    }

    /// Tokens still usable (not revoked, not expired).
    pub async fn list_active(&self, client_id: Uuid) -> Result<Vec<install_tokens::Model>, DomainError> {
        Ok(install_tokens::Entity::find()
            .filter(install_tokens::Column::ClientId.eq(client_id))
            .filter(install_tokens::Column::RevokedAt.is_null())
            .filter(install_tokens::Column::ExpiresAt.gt(self.clock.now()))
            .order_by_desc(install_tokens::Column::CreatedAt)
            .all(&self.db.conn)
            .await?)
    }

    pub async fn revoke(&self, client_id: Uuid, id: Uuid) -> Result<(), DomainError> {
        let updated = install_tokens::Entity::update_many()
            .col_expr(install_tokens::Column::RevokedAt, Expr::value(self.clock.now()))
            .col_expr(install_tokens::Column::UpdatedAt, Expr::value(self.clock.now()))
            .filter(install_tokens::Column::Id.eq(id))
            .filter(install_tokens::Column::ClientId.eq(client_id))
            .exec(&self.db.conn)
            .await?;
        if updated.rows_affected == 0 {
            return Err(DomainError::NotFound("install token"));
        }
        Ok(())
    }

    /// A fresh token for the Windows installer (an EXE embeds it): 60
    /// minutes, unlimited uses; earlier installer tokens are revoked since
    /// their secrets cannot be shown again.
    pub async fn windows_installer(
        &self,
        actor: &Principal,
        meta: &RequestMeta,
    ) -> Result<CreatedToken, DomainError> {
        install_tokens::Entity::update_many()
            .col_expr(install_tokens::Column::RevokedAt, Expr::value(self.clock.now()))
            .filter(install_tokens::Column::ClientId.eq(actor.client_id))
            .filter(install_tokens::Column::Name.eq(WINDOWS_INSTALLER_NAME))
            .filter(install_tokens::Column::RevokedAt.is_null())
            .exec(&self.db.conn)
            .await?;
        self.create(
            actor,
            Some(WINDOWS_INSTALLER_NAME),
            Some(MAX_MINUTES),
            Some(0),
            meta,
        )
        .await
    }

    /// The token `secret` names if it is still usable (not revoked, not
    /// expired, uses left), without counting a use: downloading an
    /// installer does not enrol anything.
    pub async fn check(&self, secret: &str) -> Result<install_tokens::Model, DomainError> {
        let now = self.clock.now();
        install_tokens::Entity::find()
            .filter(install_tokens::Column::TokenHash.eq(crypto::sha256_hex(secret.trim())))
            .filter(install_tokens::Column::RevokedAt.is_null())
            .filter(install_tokens::Column::ExpiresAt.gt(now))
            .filter(Condition::any().add(install_tokens::Column::MaxUsage.eq(0)).add(
                Expr::col(install_tokens::Column::UsageCount).lt(Expr::col(install_tokens::Column::MaxUsage)),
            ))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::Unauthenticated)
    }

    /// Counts one use of the token if it is still usable, inside the
    /// caller's transaction (so a refused enrolment gives the use back).
    pub async fn consume(
        &self,
        conn: &impl sea_orm::ConnectionTrait,
        secret: &str,
    ) -> Result<Option<install_tokens::Model>, DomainError> {
        let hash = crypto::sha256_hex(secret.trim());
        let now = self.clock.now();
        let used = install_tokens::Entity::update_many()
            .col_expr(
                install_tokens::Column::UsageCount,
                Expr::col(install_tokens::Column::UsageCount).add(1),
            )
            .col_expr(install_tokens::Column::UpdatedAt, Expr::value(now))
            .filter(install_tokens::Column::TokenHash.eq(&hash))
            .filter(install_tokens::Column::RevokedAt.is_null())
            .filter(install_tokens::Column::ExpiresAt.gt(now))
            .filter(Condition::any().add(install_tokens::Column::MaxUsage.eq(0)).add(
                Expr::col(install_tokens::Column::UsageCount).lt(Expr::col(install_tokens::Column::MaxUsage)),
            ))
            .exec(conn)
            .await?;
        if used.rows_affected == 0 {
            return Ok(None);
        }
        Ok(install_tokens::Entity::find()
            .filter(install_tokens::Column::TokenHash.eq(hash))
            .one(conn)
            .await?)
    }
}

//! API tokens for integrations: `opt_` + 256 random bits, shown once,
//! stored as SHA-256. Lookups are cached briefly; revocation clears the
//! cache entry on every instance (shared cache).

use super::{ApiScope, AuthVia, Principal, Role};
use crate::{
    domain::{crypto, DomainError},
    infra::{cache::Cache, clock::Clock, db::Database},
};
use chrono::{DateTime, Duration, Utc};
use entities::api_tokens;
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

pub const PREFIX: &str = "opt_";
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(60);
const MAX_NAME: usize = 100;
const MAX_DAYS: i64 = 3650;
/// Live (unrevoked, unexpired) tokens a tenant may hold: integrations are
/// few, and an unbounded count is an unbounded set of open doors.
pub const MAX_LIVE_PER_TENANT: u64 = 50;

#[derive(Serialize, Deserialize)]
struct Cached {
    id: Uuid,
    client_id: Uuid,
    created_by: Option<Uuid>,
    scope: ApiScope,
    expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone)]
pub struct ApiTokens {
    db: Database,
    cache: Arc<dyn Cache>,
    /// "Now" for token expiry.
    clock: Arc<dyn Clock>,
}

pub struct Created {
    pub token: api_tokens::Model,
    pub secret: String,
}

fn cache_key(hash: &str) -> String {
    format!("apitoken:{hash}")
}

impl ApiTokens {
    pub fn new(db: Database, cache: Arc<dyn Cache>, clock: Arc<dyn Clock>) -> Self {
        Self { db, cache, clock }
    }

    pub async fn create(
        &self,
        owner: &Principal,
        name: &str,
        scope: ApiScope,
        expires_in_days: Option<i64>,
    ) -> Result<Created, DomainError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(DomainError::invalid(
                "name",
                format!("must be 1-{MAX_NAME} characters"),
            ));
        }
        let expires_at = match expires_in_days {
            None => None,
            Some(d) if (1..=MAX_DAYS).contains(&d) => Some(self.clock.now() + Duration::days(d)),
            Some(_) => {
                return Err(DomainError::invalid(
                    "expiresInDays",
                    format!("must be 1-{MAX_DAYS}"),
                ))
            }
        };
        owner.ensure_may_create_credentials()?;
        let live = api_tokens::Entity::find()
            .filter(api_tokens::Column::ClientId.eq(owner.client_id))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .filter(
                api_tokens::Column::ExpiresAt
                    .is_null()
                    .or(api_tokens::Column::ExpiresAt.gt(self.clock.now())),
            )
            .count(&self.db.conn)
            .await?;
        if live >= MAX_LIVE_PER_TENANT {
            return Err(DomainError::Conflict(format!(
                "this tenant already has {MAX_LIVE_PER_TENANT} live API tokens; revoke one first"
            )));
        }
        let secret = format!("{PREFIX}{}", crypto::random_token());
        let token = api_tokens::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(owner.client_id),
            created_by: Set(owner.user_id),
            name: Set(name.into()),
            scope: Set(scope),
            token_hash: Set(crypto::sha256_hex(&secret)),
            token_prefix: Set(secret.chars().take(10).collect()),
            expires_at: Set(expires_at),
            last_used_at: Set(None),
            revoked_at: Set(None),
            created_at: Set(self.clock.now()),
        };
        let token = api_tokens::Entity::insert(token)
            .exec_with_returning(&self.db.conn)
            .await?;
        Ok(Created { token, secret })
    }

    pub async fn list(&self, client_id: Uuid) -> Result<Vec<api_tokens::Model>, DomainError> {
        Ok(api_tokens::Entity::find()
            .filter(api_tokens::Column::ClientId.eq(client_id))
            .order_by_desc(api_tokens::Column::CreatedAt)
            .all(&self.db.conn)
            .await?)
    }

    pub async fn revoke(&self, client_id: Uuid, id: Uuid) -> Result<api_tokens::Model, DomainError> {
        let token = api_tokens::Entity::find_by_id(id)
            .filter(api_tokens::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("API token"))?;
        api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::RevokedAt, Expr::value(self.clock.now()))
            .filter(api_tokens::Column::Id.eq(id))
            .filter(api_tokens::Column::RevokedAt.is_null())
            .exec(&self.db.conn)
            .await?;
        crate::infra::cache::delete_settled(self.cache.clone(), cache_key(&token.token_hash)).await;
        Ok(token)
    }

    /// Resolves a presented secret to a principal, or `None` when unknown,
    /// revoked or expired.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Principal>, DomainError> {
        self.authenticate_hash(crypto::sha256_hex(secret)).await
    }

    /// As [`ApiTokens::authenticate`], from the secret's hash: live sockets
    /// re-check their token this way, so a revocation reaches them.
    pub async fn authenticate_hash(&self, hash: String) -> Result<Option<Principal>, DomainError> {
        let key = cache_key(&hash);
        let cached = match self.cache.get(&key).await {
            Ok(Some(json)) => serde_json::from_str::<Cached>(&json).ok(),
            _ => None,
        };
        let cached = match cached {
            Some(c) => c,
            None => {
                let Some(row) = api_tokens::Entity::find()
                    .filter(api_tokens::Column::TokenHash.eq(&hash))
                    .filter(api_tokens::Column::RevokedAt.is_null())
                    .one(&self.db.conn)
                    .await?
                else {
                    return Ok(None);
                };
                api_tokens::Entity::update_many()
                    .col_expr(api_tokens::Column::LastUsedAt, Expr::value(self.clock.now()))
                    .filter(api_tokens::Column::Id.eq(row.id))
                    .exec(&self.db.conn)
                    .await?;
                let c = Cached {
                    id: row.id,
                    client_id: row.client_id,
                    created_by: row.created_by,
                    scope: row.scope,
                    expires_at: row.expires_at,
                };
                if let Ok(json) = serde_json::to_string(&c) {
                    let _ = self.cache.set(&key, &json, CACHE_TTL).await;
                }
                c
            }
        };
        if cached.expires_at.is_some_and(|e| e <= self.clock.now()) {
            return Ok(None);
        }
        let scope = cached.scope;
        Ok(Some(Principal {
            user_id: cached.created_by,
            client_id: cached.client_id,
            role: match scope {
                ApiScope::Read => Role::Observer,
                ApiScope::ReadWrite => Role::Admin,
            },
            via: AuthVia::ApiToken {
                id: cached.id,
                scope,
                hash,
            },
            password_change_required: false,
        }))
    }
}

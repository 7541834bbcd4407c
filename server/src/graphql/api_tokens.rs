//! API tokens for integrations (admin, signed-in users only).

use super::{
    error::Result,
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{
    activity::{Category, Entry, Level},
    auth::{ApiScope, Role},
};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entities::api_tokens;
use serde_json::json;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ApiTokenScope {
    /// Queries and subscriptions only.
    Read,
    /// Also mutations, except identity ones (users, passwords, tokens).
    ReadWrite,
}

impl From<ApiTokenScope> for ApiScope {
    fn from(s: ApiTokenScope) -> Self {
        match s {
            ApiTokenScope::Read => Self::Read,
            ApiTokenScope::ReadWrite => Self::ReadWrite,
        }
    }
}

#[derive(SimpleObject)]
pub struct ApiToken {
    id: ID,
    name: String,
    scope: ApiTokenScope,
    /// First characters of the secret, to recognise it.
    prefix: String,
    expires_at: Option<DateTime<Utc>>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl From<api_tokens::Model> for ApiToken {
    fn from(t: api_tokens::Model) -> Self {
        Self {
            id: id(t.id),
            name: t.name,
            scope: match t.scope {
                ApiScope::Read => ApiTokenScope::Read,
                ApiScope::ReadWrite => ApiTokenScope::ReadWrite,
            },
            prefix: t.token_prefix,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
            created_at: t.created_at,
        }
    }
}

#[derive(InputObject)]
pub struct CreateApiTokenInput {
    name: String,
    scope: ApiTokenScope,
    /// Omit for a token that does not expire.
    expires_in_days: Option<i64>,
}

#[derive(SimpleObject)]
pub struct CreateApiTokenPayload {
    token: ApiToken,
    /// Shown once: send it as `Authorization: Bearer <secret>`.
    secret: String,
}

#[derive(Default)]
pub struct ApiTokenQuery;

#[Object]
impl ApiTokenQuery {
    async fn api_tokens(&self, ctx: &Context<'_>) -> Result<Vec<ApiToken>> {
        let principal = ctx.user_session_with_role(Role::Admin)?;
        let list = ctx.services().auth.api_tokens().list(principal.client_id).await?;
        Ok(list.into_iter().map(ApiToken::from).collect())
    }
}

#[derive(Default)]
pub struct ApiTokenMutation;

#[Object]
impl ApiTokenMutation {
    async fn create_api_token(
        &self,
        ctx: &Context<'_>,
        input: CreateApiTokenInput,
    ) -> Result<CreateApiTokenPayload> {
        let principal = ctx.user_session_with_role(Role::Admin)?;
        let svc = ctx.services();
        let created = svc
            .auth
            .api_tokens()
            .create(principal, &input.name, input.scope.into(), input.expires_in_days)
            .await?;
        let entry = Entry::new(
            Level::Info,
            Category::Auth,
            format!("Jeton API créé : {}", created.token.name),
        )
        .client(principal.client_id)
        .metadata(json!({ "token_id": created.token.id, "scope": created.token.scope }))
        .by(principal.user_id);
        svc.activity.record(entry, ctx.meta()).await;
        Ok(CreateApiTokenPayload {
            token: created.token.into(),
            secret: created.secret,
        })
    }

    async fn revoke_api_token(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.user_session_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        let svc = ctx.services();
        let token = svc.auth.api_tokens().revoke(principal.client_id, id).await?;
        let entry = Entry::new(
            Level::Info,
            Category::Auth,
            format!("Jeton API révoqué : {}", token.name),
        )
        .client(principal.client_id)
        .metadata(json!({ "token_id": token.id }))
        .by(principal.user_id);
        svc.activity.record(entry, ctx.meta()).await;
        Ok(true)
    }
}

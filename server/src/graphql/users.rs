//! Users of the caller's tenant (admin manages; everyone may list).

use super::{
    error::Result,
    types::{parse_id, RoleKind, User},
    ContextExt,
};
use crate::domain::{
    auth::Role,
    users::{NewUser, UserChanges},
};
use async_graphql::{Context, InputObject, Object, ID};

#[derive(InputObject)]
pub struct CreateUserInput {
    email: String,
    #[graphql(default)]
    first_name: String,
    #[graphql(default)]
    last_name: String,
    /// Defaults to OBSERVER.
    role: Option<RoleKind>,
}

#[derive(InputObject)]
pub struct UpdateUserInput {
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    role: Option<RoleKind>,
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// Users of the caller's tenant.
    async fn users(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let principal = ctx.caller()?;
        let users = ctx.services().users.list(principal.client_id).await?;
        Ok(users.into_iter().map(User::from).collect())
    }

    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        let principal = ctx.caller()?;
        let id = parse_id("id", &id)?;
        Ok(ctx.services().users.get(principal.client_id, id).await?.into())
    }
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user with a temporary password sent by email.
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<User> {
        let principal = ctx.user_session_with_role(Role::Admin)?;
        let user = ctx
            .services()
            .users
            .create(
                principal,
                NewUser {
                    email: input.email,
                    first_name: input.first_name,
                    last_name: input.last_name,
                    role: input.role.map(Into::into),
                },
                ctx.meta(),
            )
            .await?;
        Ok(user.into())
    }

    async fn update_user(&self, ctx: &Context<'_>, id: ID, input: UpdateUserInput) -> Result<User> {
        let principal = ctx.user_session_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        let user = ctx
            .services()
            .users
            .update(
                principal,
                id,
                UserChanges {
                    email: input.email,
                    first_name: input.first_name,
                    last_name: input.last_name,
                    role: input.role.map(Into::into),
                },
                ctx.meta(),
            )
            .await?;
        Ok(user.into())
    }

    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.user_session_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services().users.delete(principal, id, ctx.meta()).await?;
        Ok(true)
    }

    /// Emails the user a new temporary password and signs them out.
    async fn reset_user_password(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.user_session_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .users
            .reset_password(principal, id, ctx.meta())
            .await?;
        Ok(true)
    }
}

//! Users of the caller's tenant (admin manages; everyone may list).

use super::{
    auth as guard,
    error::ApiError,
    types::{parse_id, RoleKind, User},
};
use crate::{
    app::Services,
    domain::{
        auth::Role,
        users::{NewUser, UserChanges},
    },
};
use async_graphql::{Context, InputObject, Object, ID};

type Result<T> = std::result::Result<T, async_graphql::Error>;

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

fn services<'a>(ctx: &'a Context<'_>) -> &'a Services {
    ctx.data_unchecked::<Services>()
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// Users of the caller's tenant.
    async fn users(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let principal = guard::caller(ctx)?;
        let users = services(ctx)
            .users
            .list(principal.client_id)
            .await
            .map_err(ApiError::from)?;
        Ok(users.into_iter().map(User::from).collect())
    }

    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<User> {
        let principal = guard::caller(ctx)?;
        let id = parse_id("id", &id)?;
        Ok(services(ctx)
            .users
            .get(principal.client_id, id)
            .await
            .map_err(ApiError::from)?
            .into())
    }
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user with a temporary password sent by email.
    async fn create_user(&self, ctx: &Context<'_>, input: CreateUserInput) -> Result<User> {
        let principal = guard::user_session_with_role(ctx, Role::Admin)?;
        let user = services(ctx)
            .users
            .create(
                principal,
                NewUser {
                    email: input.email,
                    first_name: input.first_name,
                    last_name: input.last_name,
                    role: input.role.map(Into::into),
                },
                guard::meta(ctx),
            )
            .await
            .map_err(ApiError::from)?;
        Ok(user.into())
    }

    async fn update_user(&self, ctx: &Context<'_>, id: ID, input: UpdateUserInput) -> Result<User> {
        let principal = guard::user_session_with_role(ctx, Role::Admin)?;
        let id = parse_id("id", &id)?;
        let user = services(ctx)
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
                guard::meta(ctx),
            )
            .await
            .map_err(ApiError::from)?;
        Ok(user.into())
    }

    async fn delete_user(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = guard::user_session_with_role(ctx, Role::Admin)?;
        let id = parse_id("id", &id)?;
        services(ctx)
            .users
            .delete(principal, id, guard::meta(ctx))
            .await
            .map_err(ApiError::from)?;
        Ok(true)
    }

    /// Emails the user a new temporary password and signs them out.
    async fn reset_user_password(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = guard::user_session_with_role(ctx, Role::Admin)?;
        let id = parse_id("id", &id)?;
        services(ctx)
            .users
            .reset_password(principal, id, guard::meta(ctx))
            .await
            .map_err(ApiError::from)?;
        Ok(true)
    }
}

//! Tenants, for the platform's super_admins.

use super::{
    error::Result,
    types::{id, parse_id, User},
    ContextExt,
};
use crate::domain::{auth::Role, users::NewUser};
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entities::clients;
use std::collections::HashMap;
use uuid::Uuid;

/// A tenant: one MSP customer or IT department.
#[derive(SimpleObject)]
pub struct Client {
    id: ID,
    name: String,
    license_id: ID,
    license_type: String,
    license_status: String,
    license_expires_at: Option<DateTime<Utc>>,
    /// Enrolment refuses new machines beyond this; null = unlimited.
    max_machines: Option<i32>,
    /// Machines enrolled now.
    machine_count: i64,
    /// The language of the tenant's notifications and e-mails.
    language: Language,
    created_at: DateTime<Utc>,
}

#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "entities::enums::Language")]
pub enum Language {
    Fr,
    En,
}

impl Client {
    fn with_count(c: clients::Model, counts: &HashMap<Uuid, i64>) -> Self {
        let machine_count = counts.get(&c.id).copied().unwrap_or(0);
        Self {
            machine_count,
            ..c.into()
        }
    }
}

impl From<clients::Model> for Client {
    fn from(c: clients::Model) -> Self {
        Self {
            max_machines: c.max_machines,
            machine_count: 0,
            id: id(c.id),
            name: c.name,
            license_id: id(c.license_id),
            license_type: entities::enums::Stored::stored(&c.license_type),
            license_status: c.license_status,
            license_expires_at: c.license_expires_at,
            language: c.language.into(),
            created_at: c.created_at,
        }
    }
}

#[derive(InputObject)]
pub struct CreateClientInput {
    name: String,
    /// trial, starter, essentials, pro, business, enterprise
    #[graphql(default = "trial")]
    license_type: String,
    admin_email: String,
    #[graphql(default)]
    admin_first_name: String,
    #[graphql(default)]
    admin_last_name: String,
    /// Notifications and e-mails of the tenant; French when left out.
    language: Option<Language>,
}

#[derive(SimpleObject)]
pub struct CreateClientPayload {
    client: Client,
    /// The tenant's first admin; a welcome email carries the password.
    admin: User,
}

#[derive(Default)]
pub struct TenancyQuery;

#[Object]
impl TenancyQuery {
    /// All tenants (super_admin).
    async fn clients(&self, ctx: &Context<'_>) -> Result<Vec<Client>> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let tenancy = &ctx.services().tenancy;
        let list = tenancy.list().await?;
        let counts = tenancy.machine_counts().await?;
        Ok(list.into_iter().map(|c| Client::with_count(c, &counts)).collect())
    }
}

#[derive(Default)]
pub struct TenancyMutation;

#[Object]
impl TenancyMutation {
    /// Sets how many machines the tenant may enrol; null removes the limit
    /// (super_admin). Machines already enrolled stay.
    async fn set_client_machine_limit(
        &self,
        ctx: &Context<'_>,
        client_id: ID,
        max_machines: Option<i32>,
    ) -> Result<Client> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let client_id = parse_id("clientId", &client_id)?;
        let tenancy = &ctx.services().tenancy;
        let client = tenancy
            .set_machine_limit(principal, client_id, max_machines, ctx.meta())
            .await?;
        let counts = tenancy.machine_counts().await?;
        Ok(Client::with_count(client, &counts))
    }

    /// Creates a tenant and its first admin (super_admin).
    async fn create_client(
        &self,
        ctx: &Context<'_>,
        input: CreateClientInput,
    ) -> Result<CreateClientPayload> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let (client, admin) = ctx
            .services()
            .tenancy
            .create_client(
                principal,
                &input.name,
                &input.license_type,
                input.language.map(Into::into).unwrap_or_default(),
                NewUser {
                    email: input.admin_email,
                    first_name: input.admin_first_name,
                    last_name: input.admin_last_name,
                    role: Some(Role::Admin),
                },
                ctx.meta(),
            )
            .await?;
        Ok(CreateClientPayload {
            client: client.into(),
            admin: admin.into(),
        })
    }
}

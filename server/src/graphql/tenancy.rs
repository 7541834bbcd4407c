//! Tenants, for the platform's super_admins.

use super::licensing::{LicenseStatus, LicenseTypeCode};
use super::{
    error::Result,
    types::{id, parse_id, User},
    ContextExt,
};
use crate::domain::{auth::Role, licensing::Licence, tenancy::ClientChanges, users::NewUser};
use async_graphql::{Context, InputObject, MaybeUndefined, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entities::clients;
use uuid::Uuid;

/// A tenant: one MSP customer or IT department.
#[derive(SimpleObject)]
pub struct Client {
    id: ID,
    name: String,
    license_id: ID,
    license_type: LicenseTypeCode,
    /// ACTIVE, or why the tenant is read-only (an active licence past its
    /// expiry reads EXPIRED).
    license_status: LicenseStatus,
    license_expires_at: Option<DateTime<Utc>>,
    /// Whole days until expiry, negative once past; null without expiry.
    license_days_left: Option<i64>,
    /// Enrolment refuses new machines beyond this: the override when
    /// set, else the licence type's; null = unlimited.
    max_machines: Option<i32>,
    /// Whether the super_admin set the limit by hand.
    machine_limit_overridden: bool,
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
    fn new(c: clients::Model, l: Licence, machine_count: i64, now: DateTime<Utc>) -> Self {
        Self {
            id: id(c.id),
            name: c.name,
            license_id: id(c.license_id),
            license_days_left: l.days_left(now),
            license_type: LicenseTypeCode(l.type_code),
            license_status: l.status.into(),
            license_expires_at: l.expires_at,
            max_machines: l.max_machines,
            machine_limit_overridden: l.machine_limit_overridden,
            machine_count,
            language: c.language.into(),
            created_at: c.created_at,
        }
    }

    /// One tenant as the super_admin reads it.
    pub async fn load(ctx: &Context<'_>, client_id: Uuid) -> Result<Self> {
        let services = ctx.services();
        let client = services.tenancy.get(client_id).await?;
        let licence = services.licensing.of(client_id).await?;
        let count = services.tenancy.machine_count(client_id).await?;
        Ok(Self::new(client, licence, count, services.licensing.now()))
    }
}

#[derive(InputObject)]
pub struct CreateClientInput {
    name: String,
    /// A licence type's code; TRIAL when left out.
    license_type: Option<LicenseTypeCode>,
    admin_email: String,
    #[graphql(default)]
    admin_first_name: String,
    #[graphql(default)]
    admin_last_name: String,
    /// Notifications and e-mails of the tenant; French when left out.
    language: Option<Language>,
}

#[derive(InputObject)]
pub struct UpdateClientInput {
    name: Option<String>,
    license_type: Option<LicenseTypeCode>,
    license_status: Option<LicenseStatus>,
    /// null removes the expiry; left out keeps it.
    license_expires_at: MaybeUndefined<DateTime<Utc>>,
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
        let services = ctx.services();
        let list = services.licensing.all().await?;
        let counts = services.tenancy.machine_counts().await?;
        let now = services.licensing.now();
        Ok(list
            .into_iter()
            .map(|(c, l)| {
                let count = counts.get(&c.id).copied().unwrap_or(0);
                Client::new(c, l, count, now)
            })
            .collect())
    }

    /// One tenant (super_admin).
    async fn client(&self, ctx: &Context<'_>, id: ID) -> Result<Client> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let id = parse_id("id", &id)?;
        Client::load(ctx, id).await
    }
}

#[derive(Default)]
pub struct TenancyMutation;

#[Object]
impl TenancyMutation {
    /// Overrides how many machines the tenant may enrol; null returns to
    /// its licence type's limit (super_admin). Machines already enrolled
    /// stay.
    async fn set_client_machine_limit(
        &self,
        ctx: &Context<'_>,
        client_id: ID,
        max_machines: Option<i32>,
    ) -> Result<Client> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let client_id = parse_id("clientId", &client_id)?;
        ctx.services()
            .tenancy
            .set_machine_limit(principal, client_id, max_machines, ctx.meta())
            .await?;
        Client::load(ctx, client_id).await
    }

    /// Changes a tenant's name, licence type, status, expiry or language
    /// (super_admin). SUSPENDED or EXPIRED makes the tenant read-only.
    async fn update_client(&self, ctx: &Context<'_>, id: ID, input: UpdateClientInput) -> Result<Client> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let id = parse_id("id", &id)?;
        let changes = ClientChanges {
            name: input.name,
            license_type: input.license_type.map(|c| c.0),
            license_status: input.license_status.map(Into::into),
            license_expires_at: match input.license_expires_at {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(at) => Some(Some(at)),
            },
            language: input.language.map(Into::into),
        };
        ctx.services()
            .tenancy
            .update_client(principal, id, changes, ctx.meta())
            .await?;
        Client::load(ctx, id).await
    }

    /// Deletes a tenant with its users, machines and all their data in one
    /// transaction; its agents are refused at once (super_admin). The
    /// platform's own tenant cannot be deleted.
    async fn delete_client(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .tenancy
            .delete_client(principal, id, ctx.meta())
            .await?;
        Ok(true)
    }

    /// Gives the tenant a new public licence id (super_admin).
    async fn regenerate_license_id(&self, ctx: &Context<'_>, client_id: ID) -> Result<Client> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let client_id = parse_id("clientId", &client_id)?;
        ctx.services()
            .tenancy
            .regenerate_license_id(principal, client_id, ctx.meta())
            .await?;
        Client::load(ctx, client_id).await
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
                input.license_type.as_ref().map_or("trial", |c| c.0.as_str()),
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
            client: Client::load(ctx, client.id).await?,
            admin: admin.into(),
        })
    }
}

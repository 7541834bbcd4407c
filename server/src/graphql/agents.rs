//! Enrolling agents: install tokens.

use super::{
    error::Result,
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{
    agents::requirements::{RequirementChanges, Requirements},
    auth::Role,
    pki::install_tokens::CreatedToken,
};
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entities::install_tokens;

#[derive(SimpleObject)]
pub struct InstallToken {
    id: ID,
    name: String,
    /// The secret: present only in the answer that created the token.
    secret: Option<String>,
    expires_at: DateTime<Utc>,
    /// 0 = unlimited.
    max_usage: i32,
    usage_count: i32,
    revoked_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl InstallToken {
    fn new(t: install_tokens::Model, secret: Option<String>) -> Self {
        Self {
            id: id(t.id),
            name: t.name,
            secret,
            expires_at: t.expires_at,
            max_usage: t.max_usage,
            usage_count: t.usage_count,
            revoked_at: t.revoked_at,
            created_at: t.created_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct CreateInstallTokenPayload {
    token: InstallToken,
    /// Ready to paste on Linux.
    curl_command: String,
    /// Ready to paste on Windows.
    powershell_command: String,
}

impl From<CreatedToken> for CreateInstallTokenPayload {
    fn from(c: CreatedToken) -> Self {
        Self {
            token: InstallToken::new(c.token, Some(c.secret)),
            curl_command: c.curl_command,
            powershell_command: c.powershell_command,
        }
    }
}

#[derive(InputObject, Default)]
pub struct CreateInstallTokenInput {
    name: Option<String>,
    /// 1-60, default 15.
    duration_minutes: Option<i32>,
    /// 0 (default) = unlimited.
    max_usage: Option<i32>,
}

/// OS prerequisites agents are held to (compliance is computed at every
/// heartbeat).
#[derive(SimpleObject)]
pub struct AgentRequirements {
    windows_client_enabled: bool,
    /// 0 = no minimum.
    windows_client_min_build: i32,
    windows_server_enabled: bool,
    windows_server_min_build: i32,
    linux_enabled: bool,
    unsupported_os_message: Option<String>,
    updated_at: DateTime<Utc>,
}

impl From<Requirements> for AgentRequirements {
    fn from(r: Requirements) -> Self {
        Self {
            windows_client_enabled: r.windows_client_enabled,
            windows_client_min_build: r.windows_client_min_build,
            windows_server_enabled: r.windows_server_enabled,
            windows_server_min_build: r.windows_server_min_build,
            linux_enabled: r.linux_enabled,
            unsupported_os_message: r.unsupported_os_message,
            updated_at: r.updated_at,
        }
    }
}

#[derive(InputObject, Default)]
pub struct AgentRequirementsInput {
    windows_client_enabled: Option<bool>,
    windows_client_min_build: Option<i32>,
    windows_server_enabled: Option<bool>,
    windows_server_min_build: Option<i32>,
    linux_enabled: Option<bool>,
    unsupported_os_message: Option<String>,
}

#[derive(Default)]
pub struct AgentQuery;

#[Object]
impl AgentQuery {
    async fn agent_requirements(&self, ctx: &Context<'_>) -> Result<AgentRequirements> {
        ctx.caller()?;
        let req = ctx.services().agents.requirements().get().await?;
        Ok(req.into())
    }

    /// Install tokens still usable.
    async fn install_tokens(&self, ctx: &Context<'_>) -> Result<Vec<InstallToken>> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let list = ctx
            .services()
            .install_tokens
            .list_active(principal.client_id)
            .await?;
        Ok(list.into_iter().map(|t| InstallToken::new(t, None)).collect())
    }
}

#[derive(Default)]
pub struct AgentMutation;

#[Object]
impl AgentMutation {
    async fn create_install_token(
        &self,
        ctx: &Context<'_>,
        input: Option<CreateInstallTokenInput>,
    ) -> Result<CreateInstallTokenPayload> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let input = input.unwrap_or_default();
        let created = ctx
            .services()
            .install_tokens
            .create(
                principal,
                input.name.as_deref(),
                input.duration_minutes.map(i64::from),
                input.max_usage,
                ctx.meta(),
            )
            .await?;
        Ok(created.into())
    }

    async fn revoke_install_token(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .install_tokens
            .revoke(principal.client_id, id)
            .await?;
        Ok(true)
    }

    /// Revokes the machine's certificate: its agent is refused from the next
    /// request on, on every instance, and the serial enters the CRL.
    async fn revoke_machine_certificate(
        &self,
        ctx: &Context<'_>,
        machine_id: ID,
        reason: Option<String>,
    ) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let machine_id = parse_id("machineId", &machine_id)?;
        ctx.services()
            .agents
            .revoke_machine(principal, machine_id, reason, ctx.meta())
            .await?;
        Ok(true)
    }

    /// super_admin: changes the global OS prerequisites. A minimum build
    /// is 0 (none) or an active build of its kind in `windowsBuilds`.
    async fn update_agent_requirements(
        &self,
        ctx: &Context<'_>,
        input: AgentRequirementsInput,
    ) -> Result<AgentRequirements> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let req = ctx
            .services()
            .agents
            .requirements()
            .update(RequirementChanges {
                windows_client_enabled: input.windows_client_enabled,
                windows_client_min_build: input.windows_client_min_build,
                windows_server_enabled: input.windows_server_enabled,
                windows_server_min_build: input.windows_server_min_build,
                linux_enabled: input.linux_enabled,
                unsupported_os_message: input.unsupported_os_message.map(Some),
            })
            .await?;
        Ok(req.into())
    }

    /// Lets the next enrolment with this machine's host name take it over
    /// (new certificate, same machine id and history) within 24 hours, once.
    /// Without it an enrolment matched by host name only takes over a
    /// machine that has no hardware id and no valid certificate. Returns
    /// the end of the window.
    async fn release_machine_for_reenrolment(
        &self,
        ctx: &Context<'_>,
        machine_id: ID,
    ) -> Result<DateTime<Utc>> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let machine_id = parse_id("machineId", &machine_id)?;
        let until = ctx
            .services()
            .agents
            .release_for_reenrolment(principal, machine_id, ctx.meta())
            .await?;
        Ok(until)
    }

    /// Asks the machine's agent to renew its certificate at its next
    /// heartbeat, whatever its expiry date.
    async fn renew_machine_certificate(&self, ctx: &Context<'_>, machine_id: ID) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let machine_id = parse_id("machineId", &machine_id)?;
        ctx.services()
            .agents
            .request_renewal(principal, machine_id, ctx.meta())
            .await?;
        Ok(true)
    }

    /// A fresh 60-minute token to embed in the Windows installer; earlier
    /// installer tokens are revoked.
    async fn active_windows_install_token(&self, ctx: &Context<'_>) -> Result<CreateInstallTokenPayload> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let created = ctx
            .services()
            .install_tokens
            .windows_installer(principal, ctx.meta())
            .await?;
        Ok(created.into())
    }
}

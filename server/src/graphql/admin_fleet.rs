//! The super_admin panel's fleet: machines across tenants, moving them
//! between update channels in bulk, and the builds installers download.

use super::{
    agent_config::{AgentVersion, UpdateChannel},
    error::{ApiError, Result},
    machines::{Machine, MachineFilter, MachinePageInfo},
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{
    agents::commands::MAX_BULK_MACHINES,
    auth::Role,
    fleet::{self, Cursor, Reach},
};
use async_graphql::{
    connection::{Connection, Edge},
    Context, InputObject, Object, SimpleObject, ID,
};
use std::collections::HashMap;
use uuid::Uuid;

#[derive(InputObject, Default)]
pub struct AllMachinesFilter {
    /// One tenant's machines only.
    client_id: Option<ID>,
    #[graphql(flatten)]
    machine: MachineFilter,
}

/// A machine with the tenant it belongs to.
#[derive(SimpleObject)]
pub struct TenantMachine {
    client_id: ID,
    client_name: String,
    machine: Machine,
}

#[derive(Default)]
pub struct AdminFleetQuery;

#[Object]
impl AdminFleetQuery {
    /// Machines of every tenant in host-name order, `first` up to 100
    /// (super_admin).
    #[graphql(
        complexity = "super::cost::page(first, fleet::DEFAULT_PAGE, fleet::MAX_PAGE, child_complexity)"
    )]
    async fn all_machines(
        &self,
        ctx: &Context<'_>,
        filter: Option<AllMachinesFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, TenantMachine, MachinePageInfo>> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let filter = filter.unwrap_or_default();
        let reach = match &filter.client_id {
            Some(c) => Reach::Tenant(parse_id("filter.clientId", c)?),
            None => Reach::AllTenants,
        };
        let filter = filter.machine.into_domain()?;
        let services = ctx.services();
        let page = services
            .fleet
            .list(reach, &filter, first, after.as_deref())
            .await?;
        let client_ids: Vec<Uuid> = page.items.iter().map(|m| m.client_id).collect();
        let names: HashMap<Uuid, String> = services.tenancy.names(&client_ids).await?;
        let mut connection = Connection::with_additional_fields(
            after.is_some(),
            page.has_next,
            MachinePageInfo { reach, filter },
        );
        connection.edges.extend(page.items.into_iter().map(|m| {
            let cursor = Cursor::of(&m).encode();
            let client_name = names.get(&m.client_id).cloned().unwrap_or_default();
            Edge::new(
                cursor,
                TenantMachine {
                    client_id: id(m.client_id),
                    client_name,
                    machine: Machine(m),
                },
            )
        }));
        Ok(connection)
    }

    /// The active build of every channel, platform and architecture, as
    /// installers and agents download it (super_admin).
    async fn agent_downloads(&self, ctx: &Context<'_>) -> Result<Vec<AgentVersion>> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let builds = ctx.services().agent_versions.active_builds().await?;
        Ok(builds.into_iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub struct AdminFleetMutation;

#[Object]
impl AdminFleetMutation {
    /// Moves machines of any tenant to an update channel (super_admin, up
    /// to 1000 ids); answers how many were updated (unknown ids are
    /// skipped).
    async fn bulk_set_update_channel(
        &self,
        ctx: &Context<'_>,
        machine_ids: Vec<ID>,
        channel: UpdateChannel,
    ) -> Result<u64> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        if machine_ids.len() > MAX_BULK_MACHINES {
            return Err(ApiError::bad_input(
                "machineIds",
                format!("must list 1-{MAX_BULK_MACHINES} machines"),
            ));
        }
        let ids = machine_ids
            .iter()
            .map(|m| parse_id("machineIds", m))
            .collect::<Result<Vec<Uuid>>>()?;
        Ok(ctx
            .services()
            .agents
            .set_update_channel_across(principal, &ids, channel.into(), ctx.meta())
            .await?)
    }
}

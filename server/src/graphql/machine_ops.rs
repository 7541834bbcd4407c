//! What administrators do to a machine as a whole: maintenance mode and
//! deletion.

use super::{error::Result, machines::Machine, types::parse_id, ContextExt};
use crate::domain::{agents::maintenance::MaintenanceInput, auth::Role};
use async_graphql::{Context, Object, ID};
use chrono::{DateTime, Utc};

#[derive(Default)]
pub struct MachineOpsMutation;

#[Object]
impl MachineOpsMutation {
    /// Mutes the machine's alerts (status MAINTENANCE) until switched off
    /// or until `until` (in the future); `reason` at most 500 characters.
    /// Switching off clears both.
    async fn set_maintenance_mode(
        &self,
        ctx: &Context<'_>,
        machine_id: ID,
        enabled: bool,
        until: Option<DateTime<Utc>>,
        reason: Option<String>,
    ) -> Result<Machine> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let machine_id = parse_id("machineId", &machine_id)?;
        let m = ctx
            .services()
            .agents
            .set_maintenance(
                principal,
                machine_id,
                MaintenanceInput {
                    enabled,
                    until,
                    reason,
                },
                ctx.meta(),
            )
            .await?;
        Ok(Machine(m))
    }

    /// Deletes the machine with all its data and revokes its certificate:
    /// its agent is refused from the next request on.
    async fn delete_machine(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .agents
            .delete_machine(principal, id, ctx.meta())
            .await?;
        Ok(true)
    }
}

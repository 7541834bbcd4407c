//! Groups and labels of the tenant's machines.

use super::{
    error::{ApiError, Result},
    machines::Group,
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{auth::Role, fleet::organise::LabelChange};
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use uuid::Uuid;

fn ids(field: &str, list: &[ID]) -> std::result::Result<Vec<Uuid>, ApiError> {
    list.iter().map(|i| parse_id(field, i)).collect()
}

/// A tag key with its colour; machines carry it with a value.
#[derive(SimpleObject)]
pub struct Label {
    id: ID,
    key: String,
    color: String,
    created_at: DateTime<Utc>,
}

impl From<entities::labels::Model> for Label {
    fn from(l: entities::labels::Model) -> Self {
        Self {
            id: id(l.id),
            key: l.key,
            color: l.color,
            created_at: l.created_at,
        }
    }
}

/// Fields of a label to change; absent ones stay.
#[derive(InputObject)]
pub struct LabelInput {
    key: Option<String>,
    color: Option<String>,
}

#[derive(Default)]
pub struct OrganiseQuery;

#[Object]
impl OrganiseQuery {
    async fn groups(&self, ctx: &Context<'_>) -> Result<Vec<Group>> {
        let principal = ctx.caller()?;
        let list = ctx.services().organise.groups(principal.client_id).await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    async fn labels(&self, ctx: &Context<'_>) -> Result<Vec<Label>> {
        let principal = ctx.caller()?;
        let list = ctx.services().organise.labels(principal.client_id).await?;
        Ok(list.into_iter().map(Into::into).collect())
    }
}

#[derive(Default)]
pub struct OrganiseMutation;

#[Object]
impl OrganiseMutation {
    /// Names are 1-50 characters and unique in the tenant; descriptions at
    /// most 500 characters.
    async fn create_group(
        &self,
        ctx: &Context<'_>,
        name: String,
        description: Option<String>,
    ) -> Result<Group> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let g = ctx
            .services()
            .organise
            .create_group(principal, &name, description, ctx.meta())
            .await?;
        Ok(g.into())
    }

    /// Same bounds as `createGroup`; an invalid field changes nothing.
    async fn update_group(
        &self,
        ctx: &Context<'_>,
        id: ID,
        name: Option<String>,
        description: Option<String>,
    ) -> Result<Group> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        let g = ctx
            .services()
            .organise
            .update_group(principal, id, name.as_deref(), description, ctx.meta())
            .await?;
        Ok(g.into())
    }

    /// Its machines stay, without a group.
    async fn delete_group(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .organise
            .delete_group(principal, id, ctx.meta())
            .await?;
        Ok(true)
    }

    /// Moves up to 100 machines into a group, or out of theirs when
    /// `groupId` is null; returns how many moved.
    async fn set_machines_group(
        &self,
        ctx: &Context<'_>,
        machine_ids: Vec<ID>,
        group_id: Option<ID>,
    ) -> Result<u64> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let machine_ids = ids("machineIds", &machine_ids)?;
        let group_id = group_id.as_ref().map(|g| parse_id("groupId", g)).transpose()?;
        Ok(ctx
            .services()
            .organise
            .set_group(principal, &machine_ids, group_id, ctx.meta())
            .await?)
    }

    /// Keys are 1-50 characters and unique in the tenant; colour #RRGGBB.
    async fn create_label(&self, ctx: &Context<'_>, key: String, color: Option<String>) -> Result<Label> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let l = ctx
            .services()
            .organise
            .create_label(principal, &key, color.as_deref(), ctx.meta())
            .await?;
        Ok(l.into())
    }

    /// Changes a label's key or colour (same bounds as `createLabel`);
    /// absent fields stay.
    async fn update_label(&self, ctx: &Context<'_>, id: ID, input: LabelInput) -> Result<Label> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        let change = LabelChange {
            key: input.key,
            color: input.color,
        };
        let l = ctx
            .services()
            .organise
            .update_label(principal, id, change, ctx.meta())
            .await?;
        Ok(l.into())
    }

    async fn delete_label(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .organise
            .delete_label(principal, id, ctx.meta())
            .await?;
        Ok(true)
    }

    /// Tags up to 100 machines with `key = value` (the key when no value);
    /// a machine carries at most 10 labels.
    async fn assign_label(
        &self,
        ctx: &Context<'_>,
        label_id: ID,
        machine_ids: Vec<ID>,
        value: Option<String>,
    ) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let label_id = parse_id("labelId", &label_id)?;
        let machine_ids = ids("machineIds", &machine_ids)?;
        ctx.services()
            .organise
            .assign_label(principal, label_id, value.as_deref(), &machine_ids, ctx.meta())
            .await?;
        Ok(true)
    }

    async fn unassign_label(&self, ctx: &Context<'_>, label_id: ID, machine_ids: Vec<ID>) -> Result<u64> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let label_id = parse_id("labelId", &label_id)?;
        let machine_ids = ids("machineIds", &machine_ids)?;
        Ok(ctx
            .services()
            .organise
            .unassign_label(principal, label_id, &machine_ids, ctx.meta())
            .await?)
    }
}

//! Service incidents for super_admins: the list, and posting, changing and
//! resolving an incident by hand. The public reads them at
//! `GET /status/incidents`.

use super::{
    error::{ApiError, Result},
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{
    auth::Role,
    status::{
        incidents::{Cursor, Incident, IncidentChange, NewIncident, MAX_PAGE},
        uptime::State,
    },
};
use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    Context, Enum, InputObject, Object, SimpleObject, ID,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A service's state; an incident is DEGRADED or OFFLINE.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ServiceState {
    Online,
    Degraded,
    Offline,
}

impl From<ServiceState> for State {
    fn from(s: ServiceState) -> Self {
        match s {
            ServiceState::Online => Self::Online,
            ServiceState::Degraded => Self::Degraded,
            ServiceState::Offline => Self::Offline,
        }
    }
}

impl From<State> for ServiceState {
    fn from(s: State) -> Self {
        match s {
            State::Online => Self::Online,
            State::Degraded => Self::Degraded,
            State::Offline => Self::Offline,
        }
    }
}

/// A period during which a platform service (api, database, ai) was
/// degraded or offline.
#[derive(SimpleObject)]
pub struct ServiceIncident {
    id: ID,
    /// api, database or ai
    service_name: String,
    status: ServiceState,
    started_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    description: Option<String>,
    /// Posted by a super_admin; the automatic checks neither raise nor
    /// resolve it.
    manual: bool,
}

impl From<Incident> for ServiceIncident {
    fn from(i: Incident) -> Self {
        Self {
            id: id(i.id),
            status: State::parse(&i.status).unwrap_or(State::Offline).into(),
            service_name: i.service_name,
            started_at: i.started_at,
            resolved_at: i.resolved_at,
            description: i.description,
            manual: i.manual,
        }
    }
}

#[derive(InputObject)]
pub struct CreateIncidentInput {
    /// api, database or ai
    service_name: String,
    /// DEGRADED or OFFLINE
    status: ServiceState,
    /// Up to 2,000 characters.
    description: Option<String>,
    /// Now when absent.
    started_at: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct UpdateIncidentInput {
    /// DEGRADED or OFFLINE; unchanged when absent.
    status: Option<ServiceState>,
    /// Up to 2,000 characters; unchanged when absent, removed when blank.
    description: Option<String>,
}

fn encode_cursor(i: &Incident) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", i.started_at.timestamp_micros(), i.id))
}

fn decode_cursor(raw: &str) -> Option<Cursor> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
    let (micros, id) = text.split_once('|')?;
    Some(Cursor {
        started_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id: Uuid::parse_str(id).ok()?,
    })
}

#[derive(Default)]
pub struct StatusQuery;

#[Object]
impl StatusQuery {
    /// Service incidents, newest first by start, `first` up to 100
    /// (super_admin).
    #[graphql(complexity = "super::cost::page(Some(first), 20, MAX_PAGE, child_complexity)")]
    async fn service_incidents(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, ServiceIncident, EmptyFields, EmptyFields>> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let first = u64::try_from(first)
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| ApiError::bad_input("first", format!("must be between 1 and {MAX_PAGE}")))?;
        let after_cursor = match &after {
            None => None,
            Some(raw) => Some(
                decode_cursor(raw).ok_or_else(|| ApiError::bad_input("after", "is not a valid cursor"))?,
            ),
        };
        let (items, more) = ctx
            .services()
            .status_board
            .incidents
            .page(principal, first, after_cursor)
            .await?;
        let mut connection = Connection::new(after.is_some(), more);
        connection.edges.extend(
            items
                .into_iter()
                .map(|i| Edge::new(encode_cursor(&i), ServiceIncident::from(i))),
        );
        Ok(connection)
    }
}

#[derive(Default)]
pub struct StatusMutation;

#[Object]
impl StatusMutation {
    /// Posts an incident on the status page (super_admin). A service has
    /// at most one open incident: CONFLICT when it already has one.
    async fn create_incident(
        &self,
        ctx: &Context<'_>,
        input: CreateIncidentInput,
    ) -> Result<ServiceIncident> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let created = ctx
            .services()
            .status_board
            .incidents
            .create(
                principal,
                NewIncident {
                    service_name: input.service_name,
                    status: input.status.into(),
                    description: input.description,
                    started_at: input.started_at,
                },
                ctx.meta(),
            )
            .await?;
        Ok(created.into())
    }

    /// Changes an incident's status or description (super_admin).
    async fn update_incident(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateIncidentInput,
    ) -> Result<ServiceIncident> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let id = parse_id("id", &id)?;
        let updated = ctx
            .services()
            .status_board
            .incidents
            .update(
                principal,
                id,
                IncidentChange {
                    status: input.status.map(Into::into),
                    description: input.description,
                },
                ctx.meta(),
            )
            .await?;
        Ok(updated.into())
    }

    /// Ends an incident at `resolvedAt` (now when absent; super_admin).
    /// CONFLICT when it is already resolved.
    async fn resolve_incident(
        &self,
        ctx: &Context<'_>,
        id: ID,
        resolved_at: Option<DateTime<Utc>>,
    ) -> Result<ServiceIncident> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let id = parse_id("id", &id)?;
        let resolved = ctx
            .services()
            .status_board
            .incidents
            .resolve(principal, id, resolved_at, ctx.meta())
            .await?;
        Ok(resolved.into())
    }
}

//! Live subscriptions for dashboards, fed by the event bus and always
//! filtered to the caller's tenant. Each subscription watches one topic of
//! the fan-out (a tenant's events of a kind, or one machine's), so an event
//! wakes only its watchers. A subscriber that falls behind skips to the
//! newest events (each topic keeps a small bounded backlog and reports how
//! many were skipped); the server never buffers without bound.

use super::{
    auth as guard,
    error::ApiError,
    machines::FleetOverview,
    types::{id, parse_id},
};
use crate::{
    app::Services,
    domain::live::{self, AlertFired, Collected, StatusChange},
    infra::fanout::Topic,
};
use async_graphql::{Context, Enum, SimpleObject, Subscription, ID};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

type Result<T> = std::result::Result<T, async_graphql::Error>;

/// `fleetOverview` emits at most this often.
const OVERVIEW_EVERY: Duration = Duration::from_secs(2);

fn services<'a>(ctx: &'a Context<'_>) -> &'a Services {
    ctx.data_unchecked::<Services>()
}

/// The tenant's events of one kind, decoded; lagging skips ahead.
fn events<T: DeserializeOwned + Send + 'static>(
    services: &Services,
    topic: Topic,
) -> impl Stream<Item = T> + Send {
    // The fan-out routes by (kind, tenant, machine): what arrives here is
    // this topic's and nothing else.
    let rx = services.infra.fanout.subscribe(topic);
    futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(event) => match serde_json::from_value::<T>(event.payload.clone()) {
                    Ok(decoded) => return Some((decoded, rx)),
                    Err(e) => tracing::warn!(error = %e, kind = %event.kind, "undecodable event skipped"),
                },
                Err(RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "slow subscriber skipped ahead");
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum MachineStatusChange {
    Online,
    Offline,
    Maintenance,
    Enrolled,
    Deleted,
}

impl From<live::Status> for MachineStatusChange {
    fn from(s: live::Status) -> Self {
        match s {
            live::Status::Online => Self::Online,
            live::Status::Offline => Self::Offline,
            live::Status::Maintenance => Self::Maintenance,
            live::Status::Enrolled => Self::Enrolled,
            live::Status::Deleted => Self::Deleted,
        }
    }
}

#[derive(SimpleObject)]
pub struct MachineStatusEvent {
    machine_id: ID,
    hostname: String,
    status: MachineStatusChange,
    at: DateTime<Utc>,
}

impl From<StatusChange> for MachineStatusEvent {
    fn from(c: StatusChange) -> Self {
        Self {
            machine_id: id(c.machine_id),
            hostname: c.hostname,
            status: c.status.into(),
            at: c.at,
        }
    }
}

/// One accepted metrics sample.
#[derive(SimpleObject)]
pub struct MachineMetricsEvent {
    machine_id: ID,
    at: DateTime<Utc>,
    cpu_percent: f64,
    ram_percent: f64,
    cpu_temp: Option<f64>,
    uptime_seconds: Option<i64>,
}

#[derive(SimpleObject)]
pub struct AlertEvent {
    alert_id: ID,
    machine_id: Option<ID>,
    rule_name: String,
    severity: String,
    message: String,
    at: DateTime<Utc>,
}

impl From<AlertFired> for AlertEvent {
    fn from(a: AlertFired) -> Self {
        Self {
            alert_id: id(a.alert_id),
            machine_id: a.machine_id.map(id),
            rule_name: a.rule_name,
            severity: a.severity,
            message: a.message,
            at: a.at,
        }
    }
}

#[derive(Default)]
pub struct LiveSubscription;

#[Subscription]
impl LiveSubscription {
    /// Machines of the tenant going online, offline or into maintenance,
    /// enrolled or deleted.
    async fn machine_status_changed(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = MachineStatusEvent>> {
        let principal = guard::caller(ctx)?;
        let topic = Topic::tenant(live::MACHINE_STATUS, principal.client_id);
        Ok(events::<StatusChange>(services(ctx), topic).map(Into::into))
    }

    /// Each accepted metrics sample of one machine, as soon as it is
    /// committed.
    async fn machine_metrics(
        &self,
        ctx: &Context<'_>,
        machine_id: ID,
    ) -> Result<impl Stream<Item = MachineMetricsEvent>> {
        let principal = guard::caller(ctx)?;
        let machine_id = parse_id("machineId", &machine_id)?;
        // Subscribe before the ownership check so nothing committed in
        // between is missed.
        let topic = Topic::machine(live::MACHINE_COLLECT, principal.client_id, machine_id);
        let samples = events::<Collected>(services(ctx), topic);
        services(ctx)
            .fleet
            .get(principal.client_id, machine_id)
            .await
            .map_err(ApiError::from)?;
        Ok(samples.filter_map(move |c| async move {
            let v = &c.values;
            (c.collector == "metrics").then(|| MachineMetricsEvent {
                machine_id: id(c.machine_id),
                at: c.collected_at,
                cpu_percent: v["cpu_percent"].as_f64().unwrap_or_default(),
                ram_percent: v["ram_percent"].as_f64().unwrap_or_default(),
                cpu_temp: v["cpu_temp"].as_f64(),
                uptime_seconds: v["uptime_seconds"].as_i64(),
            })
        }))
    }

    /// Fleet counts and mean health: now, then after status changes, at
    /// most once every 2 seconds however busy the fleet.
    async fn fleet_overview(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = FleetOverview>> {
        let principal = guard::caller(ctx)?;
        let client_id = principal.client_id;
        let services = services(ctx).clone();
        let changes = events::<StatusChange>(&services, Topic::tenant(live::MACHINE_STATUS, client_id));
        let first = services.fleet.overview(client_id).await.map_err(ApiError::from)?;
        let state = (Box::pin(changes), services, true);
        let rest = futures::stream::unfold(
            state,
            move |(mut changes, services, mut first_round)| async move {
                // Wait for one change, then let the window pass so a burst
                // becomes one update.
                changes.next().await?;
                if !first_round {
                    tokio::time::sleep(OVERVIEW_EVERY).await;
                }
                first_round = false;
                while let Some(Some(_)) = futures::FutureExt::now_or_never(changes.next()) {}
                let overview = services.fleet.overview(client_id).await.ok()?;
                Some((FleetOverview::from(overview), (changes, services, first_round)))
            },
        );
        Ok(futures::stream::once(async move { FleetOverview::from(first) }).chain(rest))
    }

    /// Alerts fired for the tenant's machines.
    async fn alert_fired(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = AlertEvent>> {
        let principal = guard::caller(ctx)?;
        let topic = Topic::tenant(live::ALERT_FIRED, principal.client_id);
        Ok(events::<AlertFired>(services(ctx), topic).map(Into::into))
    }
}

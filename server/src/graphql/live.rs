//! Live subscriptions for dashboards, fed by the event bus and always
//! filtered to the caller's tenant. Each subscription watches one topic of
//! the fan-out (a tenant's events of a kind, or one machine's), so an event
//! wakes only its watchers. A subscriber that falls behind skips to the
//! newest events (each topic keeps a small bounded backlog and reports how
//! many were skipped); the server never buffers without bound.

use super::{
    error::Result,
    machines::FleetOverview,
    types::{id, parse_id},
    ContextExt,
};
use crate::{
    domain::{
        collectors::Collector,
        live::{
            self, AlertFired, AnalysisCompleted, Collected, Figures, Kind, LiveEvent, StatusChange, Topic,
        },
    },
    services::Services,
};
use async_graphql::{Context, Enum, SimpleObject, Subscription, ID};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// `fleetOverview` emits at most this often.
const OVERVIEW_EVERY: Duration = Duration::from_secs(2);

/// The topic's events, each taken by `pick`; lagging skips ahead.
fn events<T: Send + 'static>(
    services: &Services,
    topic: Topic<Kind>,
    pick: fn(&LiveEvent) -> Option<T>,
) -> impl Stream<Item = T> + Send {
    // The fan-out routes by (kind, tenant, machine): what arrives here is
    // this topic's and nothing else.
    let rx = services.live.subscribe(topic);
    futures::stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(event) => match pick(&event) {
                    Some(item) => return Some((item, rx)),
                    None => tracing::warn!(?event, "event of another kind on a topic skipped"),
                },
                Err(RecvError::Lagged(skipped)) => {
                    tracing::debug!(skipped, "slow subscriber skipped ahead");
                }
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

fn status_change(event: &LiveEvent) -> Option<StatusChange> {
    match event {
        LiveEvent::MachineStatus { change, .. } => Some(change.clone()),
        _ => None,
    }
}

fn sample(event: &LiveEvent) -> Option<Collected> {
    match event {
        LiveEvent::MachineCollect { sample, .. } => Some(sample.clone()),
        _ => None,
    }
}

fn alert(event: &LiveEvent) -> Option<AlertFired> {
    match event {
        LiveEvent::AlertFired { alert, .. } => Some(alert.clone()),
        _ => None,
    }
}

fn analysis(event: &LiveEvent) -> Option<AnalysisCompleted> {
    match event {
        LiveEvent::AnalysisCompleted { analysis, .. } => Some(analysis.clone()),
        _ => None,
    }
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
    rule_id: Option<ID>,
    machine_id: Option<ID>,
    rule_name: String,
    /// low, warning, critical
    severity: String,
    /// high_cpu, high_ram, disk_critical, high_temperature, machine_offline
    alert_type: String,
    triggered_value: f64,
    threshold: f64,
    message: String,
    at: DateTime<Utc>,
}

impl From<AlertFired> for AlertEvent {
    fn from(a: AlertFired) -> Self {
        Self {
            alert_id: id(a.alert_id),
            rule_id: a.rule_id.map(id),
            machine_id: a.machine_id.map(id),
            rule_name: a.rule_name,
            severity: a.severity,
            alert_type: a.alert_type,
            triggered_value: a.triggered_value,
            threshold: a.threshold,
            message: a.message,
            at: a.at,
        }
    }
}

/// An analysis completed; read it whole with `analysis(id)`.
#[derive(SimpleObject)]
pub struct AnalysisCompletedEvent {
    analysis_id: ID,
    machine_id: ID,
    hostname: String,
    /// health_score, full, reports, … (the analysis type, lower case)
    analysis_type: String,
    /// manual, routine, trigger
    origin: String,
    overall_score: Option<i32>,
    /// low, medium, high, critical
    risk_level: Option<String>,
    summary: String,
    at: DateTime<Utc>,
}

impl From<AnalysisCompleted> for AnalysisCompletedEvent {
    fn from(a: AnalysisCompleted) -> Self {
        Self {
            analysis_id: id(a.analysis_id),
            machine_id: id(a.machine_id),
            hostname: a.hostname,
            analysis_type: a.analysis_type,
            origin: a.origin,
            overall_score: a.overall_score,
            risk_level: a.risk_level,
            summary: a.summary,
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
        let principal = ctx.caller()?;
        let topic = Topic::tenant(Kind::MachineStatus, principal.client_id);
        Ok(events(ctx.services(), topic, status_change).map(Into::into))
    }

    /// Each accepted metrics sample of one machine, as soon as it is
    /// committed.
    async fn machine_metrics(
        &self,
        ctx: &Context<'_>,
        machine_id: ID,
    ) -> Result<impl Stream<Item = MachineMetricsEvent>> {
        let principal = ctx.caller()?;
        let machine_id = parse_id("machineId", &machine_id)?;
        // Subscribe before the ownership check so nothing committed in
        // between is missed.
        let topic = Topic::machine(Kind::MachineCollect, principal.client_id, machine_id);
        let samples = events(ctx.services(), topic, sample);
        ctx.services().fleet.get(principal.client_id, machine_id).await?;
        Ok(samples.filter_map(move |c| async move {
            match (c.collector, c.figures) {
                (
                    Collector::Metrics,
                    Some(Figures::Metrics {
                        cpu_percent,
                        ram_percent,
                        uptime_seconds,
                        cpu_temp,
                    }),
                ) => Some(MachineMetricsEvent {
                    machine_id: id(c.machine_id),
                    at: c.collected_at,
                    cpu_percent,
                    ram_percent,
                    cpu_temp,
                    uptime_seconds: Some(uptime_seconds),
                }),
                _ => None,
            }
        }))
    }

    /// Fleet counts and mean health: now, then after status changes, at
    /// most once every 2 seconds however busy the fleet.
    async fn fleet_overview(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = FleetOverview>> {
        let principal = ctx.caller()?;
        let client_id = principal.client_id;
        let services = ctx.services().clone();
        let changes = events(
            &services,
            Topic::tenant(Kind::MachineStatus, client_id),
            status_change,
        );
        let first = services.fleet.overview(client_id).await?;
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

    /// Every analysis of the tenant's machines as it completes: those
    /// routines and triggers start, and those run by hand.
    async fn analysis_completed(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = AnalysisCompletedEvent>> {
        let principal = ctx.caller()?;
        let topic = Topic::tenant(Kind::AnalysisCompleted, principal.client_id);
        Ok(events(ctx.services(), topic, analysis).map(Into::into))
    }

    /// Alerts fired for the tenant's machines.
    async fn alert_fired(&self, ctx: &Context<'_>) -> Result<impl Stream<Item = AlertEvent>> {
        let principal = ctx.caller()?;
        let topic = Topic::tenant(Kind::AlertFired, principal.client_id);
        Ok(events(ctx.services(), topic, alert).map(Into::into))
    }
}

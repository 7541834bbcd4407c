//! Alerting: channels (where notifications go), rules (when an alert
//! fires), the engine that evaluates rules on each accepted sample and on
//! each status change, and the history of alerts and notifications. Every
//! notification is written to the durable outbox in the transaction that
//! records it, so none is lost and none is sent twice in the normal path.

pub mod alerts;
pub mod brute_force;
pub mod channels;
pub mod conditions;
pub mod dispatch;
pub mod engine;
pub mod reminders;
pub mod rules;
mod transitions;

use crate::{
    domain::{activity::ActivityLog, live, notify::outbox::Outbox, notify::webhook::WebhookSender},
    infra::{clock::Clock, db::Database},
};
use std::{sync::Arc, time::Duration};
use uuid::Uuid;

/// How long an instance trusts its cached rules of a tenant: the longest a
/// rule change made on another instance takes to apply here.
const RULE_CACHE_TTL: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Alerting {
    db: Database,
    bus: Arc<live::Bus>,
    activity: ActivityLog,
    outbox: Outbox,
    webhooks: Arc<dyn WebhookSender>,
    clock: Arc<dyn Clock>,
    /// Base URL of the dashboard, for links in notifications.
    dashboard_url: String,
    rule_cache: moka::future::Cache<Uuid, Arc<Vec<rules::Rule>>>,
    /// Rules with an open alert, per machine: a sample whose rules neither
    /// cross nor come back costs no query. Kept current by this instance's
    /// fires and resolutions; another instance's show within the TTL.
    open_cache: moka::future::Cache<Uuid, Arc<Vec<Uuid>>>,
    /// (rule, machine) pairs a fire was just refused for (cooldown, noise
    /// window, offline machine): not retried on every sample. A fire muted
    /// by maintenance is not held back, so the end of it applies at once.
    held_back: moka::future::Cache<(Uuid, Uuid), ()>,
    /// Each machine's group, for group-scoped rules.
    group_cache: moka::future::Cache<Uuid, Option<Uuid>>,
}

fn short_cache<K, V>(ttl: Duration) -> moka::future::Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    moka::future::Cache::builder()
        .max_capacity(1_000_000)
        .time_to_live(ttl)
        .build()
}

impl Alerting {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Database,
        bus: Arc<live::Bus>,
        activity: ActivityLog,
        outbox: Outbox,
        webhooks: Arc<dyn WebhookSender>,
        clock: Arc<dyn Clock>,
        dashboard_url: String,
    ) -> Self {
        Self {
            db,
            bus,
            activity,
            outbox,
            webhooks,
            clock,
            dashboard_url: dashboard_url.trim_end_matches('/').to_owned(),
            rule_cache: short_cache(RULE_CACHE_TTL),
            open_cache: short_cache(Duration::from_secs(60)),
            held_back: short_cache(Duration::from_secs(60)),
            group_cache: short_cache(Duration::from_secs(60)),
        }
    }

    pub fn bus(&self) -> &Arc<live::Bus> {
        &self.bus
    }
}

//! Analyses nobody clicks for: routines (a cron schedule over a set of
//! machines, run by the scheduler job) and triggers (an analysis started
//! by a bus event: a critical machine, a new machine, a degradation).
//! Both go through [`Analyses::run`], so cooldowns and quotas hold for
//! them as for a person; both keep a history, kept 90 days, and can tell
//! notification channels what they found.

pub mod delivery;
pub mod routines;
pub mod spec;
pub mod triggers;

use super::{findings::Drift, service::Analyses};
use crate::{
    domain::{
        activity::ActivityLog,
        auth::Principal,
        licensing::{Feature, Licensing},
        notify::outbox::Outbox,
        DomainError,
    },
    infra::{clock::Clock, db::Database},
};
use async_trait::async_trait;
use entities::{machines, notification_channels};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use std::{sync::Arc, time::Duration};
use uuid::Uuid;

/// History older than this is purged by the cleanup job (the spec's 90
/// days for `ai_routine_history` and `ai_trigger_history`).
pub const HISTORY_RETENTION: chrono::Duration = chrono::Duration::days(90);
/// Entries `routineHistory` / `triggerHistory` return by default and at most.
pub const DEFAULT_HISTORY: u64 = 20;
pub const MAX_HISTORY: u64 = 100;
/// Routines and triggers one tenant may have, each.
pub const MAX_PER_TENANT: u64 = 100;

/// Refreshes a machine's drift baselines (`metric_baselines`) and returns
/// the drifts found: what a `drift_detection` routine runs per machine.
#[async_trait]
pub trait DriftBaselines: Send + Sync {
    async fn refresh(&self, client_id: Uuid, machine_id: Uuid) -> Result<Vec<Drift>, DomainError>;
}

/// The newest history row of each parent in `ids` (a routine's runs, a
/// trigger's firings), in two statements whatever the count: the newest
/// time per parent, then the rows at those times.
pub(crate) async fn latest_per_parent<E>(
    db: &Database,
    columns: (E::Column, E::Column, E::Column),
    client_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<E::Model>, DomainError>
where
    E: sea_orm::EntityTrait,
    E::Model: Send + Sync,
{
    use sea_orm::{Condition, QuerySelect};
    let (client, parent, at) = columns;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let latest = E::find()
        .select_only()
        .column(parent)
        .column_as(sea_orm::sea_query::Expr::col(at).max(), "at")
        .filter(client.eq(client_id))
        .filter(parent.is_in(ids.iter().copied()))
        .group_by(parent)
        .into_tuple::<(Uuid, chrono::DateTime<chrono::Utc>)>()
        .all(&db.conn)
        .await?;
    if latest.is_empty() {
        return Ok(Vec::new());
    }
    let mut newest = Condition::any();
    for (id, when) in &latest {
        newest = newest.add(Condition::all().add(parent.eq(*id)).add(at.eq(*when)));
    }
    Ok(E::find()
        .filter(client.eq(client_id))
        .filter(newest)
        .all(&db.conn)
        .await?)
}

/// What became of one machine's analysis in a routine or a trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// The protections said no for now (cooldown, nothing new, nothing
    /// changed, a type outside the plan): not a failure.
    Skipped,
    /// The monthly quota is spent: nothing more can run this month.
    Stop,
    Failed,
}

/// How an automated run reads a refusal of [`Analyses::run`].
pub fn disposition(e: &DomainError) -> Disposition {
    match e {
        DomainError::Cooldown { .. }
        | DomainError::NoNewData { .. }
        | DomainError::NoSignificantChanges { .. }
        | DomainError::RateLimited { .. }
        | DomainError::PremiumRequired { .. }
        | DomainError::NotFound(_) => Disposition::Skipped,
        DomainError::QuotaExceeded { .. } => Disposition::Stop,
        _ => Disposition::Failed,
    }
}

/// A refusal in the words the history keeps.
pub fn reason(e: &DomainError) -> String {
    e.to_string().chars().take(1000).collect()
}

#[derive(Clone)]
pub struct Automation {
    db: Database,
    licensing: Licensing,
    activity: ActivityLog,
    outbox: Outbox,
    clock: Arc<dyn Clock>,
    analyses: Analyses,
    baselines: Option<Arc<dyn DriftBaselines>>,
    /// Base URL of the dashboard, for links in notifications.
    dashboard_url: String,
    /// Each tenant's enabled triggers, read at most once per TTL on the
    /// event path: most events concern tenants without triggers.
    trigger_cache: moka::future::Cache<Uuid, Arc<Vec<triggers::Trigger>>>,
    /// (trigger, machine) pairs a firing was just claimed or refused for;
    /// the history in the database is what enforces the cooldown.
    held_back: moka::future::Cache<(Uuid, Uuid), ()>,
}

/// How long an instance trusts its cached triggers of a tenant.
const TRIGGER_CACHE_TTL: Duration = Duration::from_secs(30);
/// How long a matched (trigger, machine) pair is not claimed again; far
/// below the shortest cooldown (15 minutes).
const HELD_BACK_TTL: Duration = Duration::from_secs(60);

impl Automation {
    pub fn new(
        db: Database,
        licensing: Licensing,
        activity: ActivityLog,
        outbox: Outbox,
        clock: Arc<dyn Clock>,
        analyses: Analyses,
        dashboard_url: String,
    ) -> Self {
        Self {
            db,
            licensing,
            activity,
            outbox,
            clock,
            analyses,
            baselines: None,
            dashboard_url: dashboard_url.trim_end_matches('/').to_owned(),
            trigger_cache: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(TRIGGER_CACHE_TTL)
                .build(),
            held_back: moka::future::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(HELD_BACK_TTL)
                .build(),
        }
    }

    /// The drift baselines `drift_detection` routines refresh.
    pub fn with_baselines(mut self, baselines: Arc<dyn DriftBaselines>) -> Self {
        self.baselines = Some(baselines);
        self
    }

    /// Every automation call starts here: the tenant's plan must have it.
    async fn gate(&self, actor: &Principal) -> Result<(), DomainError> {
        self.licensing
            .require(actor, Feature::AiAutomation)
            .await
            .map(drop)
    }

    /// `ids` must all be machines of `client_id`.
    async fn check_machines(&self, client_id: Uuid, field: &str, ids: &[Uuid]) -> Result<(), DomainError> {
        if ids.is_empty() {
            return Ok(());
        }
        let owned = machines::Entity::find()
            .filter(machines::Column::ClientId.eq(client_id))
            .filter(machines::Column::Id.is_in(ids.iter().copied()))
            .count(&self.db.conn)
            .await?;
        if owned as usize != ids.len() {
            return Err(DomainError::invalid(field, "must all be your machines"));
        }
        Ok(())
    }

    /// `ids` must all be notification channels of `client_id`.
    async fn check_channels(&self, client_id: Uuid, field: &str, ids: &[Uuid]) -> Result<(), DomainError> {
        if ids.is_empty() {
            return Ok(());
        }
        let owned = notification_channels::Entity::find()
            .filter(notification_channels::Column::ClientId.eq(client_id))
            .filter(notification_channels::Column::Id.is_in(ids.iter().copied()))
            .count(&self.db.conn)
            .await?;
        if owned as usize != ids.len() {
            return Err(DomainError::invalid(
                field,
                "must all be your notification channels",
            ));
        }
        Ok(())
    }
}

/// An automation over `db` at `clock`'s time, as the domain's unit tests
/// build it.
#[cfg(test)]
pub(crate) fn for_tests(db: &Database, clock: &crate::infra::clock::ManualClock) -> Automation {
    use crate::{
        domain::alerting::Alerting,
        infra::{bus::LocalBus, webhook::HttpWebhooks},
    };
    let activity = ActivityLog::new(db.clone());
    let outbox = Outbox::new(db.clone());
    let alerting = Alerting::new(
        db.clone(),
        Arc::new(LocalBus::new()),
        activity.clone(),
        outbox.clone(),
        Arc::new(HttpWebhooks::new(true)),
        clock.shared(),
        "https://dash.example".into(),
    );
    let licensing = Licensing::new(db.clone(), clock.shared(), activity.clone(), alerting);
    let cache: Arc<dyn crate::infra::cache::Cache> = Arc::new(crate::infra::cache::MemoryCache::new());
    let analyses = Analyses::new(
        db.clone(),
        cache.clone(),
        Arc::new(LocalBus::new()),
        clock.shared(),
        licensing.clone(),
        activity.clone(),
        crate::domain::analysis::narrative::Narrator::new(None, cache),
        super::config::AiConfiguration::new(db.clone(), licensing.clone(), activity.clone(), clock.shared()),
    );
    Automation::new(
        db.clone(),
        licensing,
        activity,
        outbox,
        clock.shared(),
        analyses,
        "https://dash.example/".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_skip_quota_stops_faults_fail() {
        assert_eq!(
            disposition(&DomainError::RateLimited {
                retry_after: Duration::from_secs(60)
            }),
            Disposition::Skipped
        );
        let now = chrono::Utc::now();
        assert_eq!(
            disposition(&DomainError::QuotaExceeded {
                limit: 5,
                used: 5,
                resets_at: now
            }),
            Disposition::Stop
        );
        for not_now in [
            DomainError::Cooldown {
                remaining: Duration::from_secs(60),
                next_available: now,
            },
            DomainError::NoNewData { last_analysis: now },
            DomainError::NoSignificantChanges {
                last_analysis: now,
                previous_issues: vec![],
            },
        ] {
            assert_eq!(disposition(&not_now), Disposition::Skipped, "{not_now}");
        }
        assert_eq!(
            disposition(&DomainError::Conflict("a name is taken".into())),
            Disposition::Failed
        );
        assert_eq!(disposition(&DomainError::invariant("boom")), Disposition::Failed);
    }
}

//! The super_admin panel's platform figures: counts across tenants and
//! their growth over time.

use super::{error::Result, ContextExt};
use crate::domain::{
    admin::{Dashboard, Granularity, Period, Timeline},
    auth::Role,
};
use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};

/// A span ending now, in whole days (UTC) with today included.
// The variants name the GraphQL values (LAST_7_DAYS, ...).
#[allow(clippy::enum_variant_names)]
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum StatsRange {
    Last7Days,
    Last30Days,
    Last90Days,
    /// Counted per week.
    Last365Days,
}

impl StatsRange {
    fn days(self) -> i64 {
        match self {
            Self::Last7Days => 7,
            Self::Last30Days => 30,
            Self::Last90Days => 90,
            Self::Last365Days => 365,
        }
    }
}

/// The span of a figure: `range`, or `from` (and optionally `to`), at
/// most 366 days; LAST_30_DAYS when neither is given.
pub(super) fn period(
    ctx: &Context<'_>,
    range: Option<StatsRange>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Period> {
    Ok(ctx
        .services()
        .platform_stats
        .period(range.map(StatsRange::days), from, to)?)
}

#[derive(SimpleObject)]
pub struct LicenceCounts {
    active: i64,
    /// Marked expired, or active past their expiry date.
    expired: i64,
    suspended: i64,
}

#[derive(SimpleObject)]
pub struct CertificateCounts {
    /// Neither revoked nor expired.
    active: i64,
    /// Active and expiring within 30 days.
    expiring_within_30_days: i64,
    revoked: i64,
}

/// Counts across every tenant.
#[derive(SimpleObject)]
pub struct AdminDashboard {
    total_clients: i64,
    clients_by_license_status: LicenceCounts,
    total_machines: i64,
    online_machines: i64,
    offline_machines: i64,
    in_maintenance: i64,
    total_users: i64,
    certificates: CertificateCounts,
    /// Alerts fired in the last 24 hours.
    #[graphql(name = "alertsLast24h")]
    alerts_last_24h: i64,
    /// E-mails and webhooks given up on, among those queued in the last
    /// 24 hours.
    #[graphql(name = "failedDeliveriesLast24h")]
    failed_deliveries_last_24h: i64,
    /// Analyses counted against tenants' quotas this calendar month (UTC).
    ai_requests_this_month: i64,
}

impl From<Dashboard> for AdminDashboard {
    fn from(d: Dashboard) -> Self {
        Self {
            total_clients: d.total_clients,
            clients_by_license_status: LicenceCounts {
                active: d.active_clients,
                expired: d.expired_clients,
                suspended: d.suspended_clients,
            },
            total_machines: d.total_machines,
            online_machines: d.online_machines,
            offline_machines: d.offline_machines,
            in_maintenance: d.in_maintenance,
            total_users: d.total_users,
            certificates: CertificateCounts {
                active: d.active_certificates,
                expiring_within_30_days: d.expiring_certificates,
                revoked: d.revoked_certificates,
            },
            alerts_last_24h: d.alerts_last_24h,
            failed_deliveries_last_24h: d.failed_deliveries_last_24h,
            ai_requests_this_month: d.ai_requests_this_month,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum TimelineGranularity {
    Day,
    Week,
}

#[derive(SimpleObject)]
pub struct TimelinePoint {
    /// The first day of the bucket (UTC).
    date: NaiveDate,
    /// Tenants created up to the end of the bucket.
    clients: i64,
    new_clients: i64,
    /// Machines enrolled up to the end of the bucket (still present).
    machines: i64,
    new_machines: i64,
}

#[derive(SimpleObject)]
pub struct AdminTimeline {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    granularity: TimelineGranularity,
    points: Vec<TimelinePoint>,
}

fn timeline(period: Period, t: Timeline) -> AdminTimeline {
    AdminTimeline {
        from: period.from,
        to: period.to,
        granularity: match t.granularity {
            Granularity::Day => TimelineGranularity::Day,
            Granularity::Week => TimelineGranularity::Week,
        },
        points: t
            .points
            .into_iter()
            .map(|p| TimelinePoint {
                date: p.day,
                clients: p.clients_total,
                new_clients: p.clients_new,
                machines: p.machines_total,
                new_machines: p.machines_new,
            })
            .collect(),
    }
}

#[derive(Default)]
pub struct AdminQuery;

#[Object]
impl AdminQuery {
    /// Counts across every tenant (super_admin).
    async fn admin_dashboard(&self, ctx: &Context<'_>) -> Result<AdminDashboard> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        Ok(ctx.services().platform_stats.dashboard().await?.into())
    }

    /// Tenants and machines over time, per day (per week beyond 92 days)
    /// (super_admin).
    async fn admin_timeline(
        &self,
        ctx: &Context<'_>,
        range: Option<StatsRange>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<AdminTimeline> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let period = period(ctx, range, from, to)?;
        let t = ctx.services().platform_stats.timeline(&period).await?;
        Ok(timeline(period, t))
    }
}

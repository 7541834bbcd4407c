//! Hourly purge of expired rows: blacklist entries past their token's
//! expiry, used or expired reset tokens, dead refresh tokens, install
//! tokens 24 hours after expiry, time series past their tenant's licence
//! retention, and (where
//! TimescaleDB's retention policy does not do it) activity logs older than
//! 30 days; notifications after 30 days; fired alerts, analyses and AI
//! routine and trigger history after 90.

use crate::{
    infra::{
        db::Database,
        metrics::{self, Job},
    },
    services::Services,
};
use chrono::{Duration, Utc};
use entities::{
    activity_logs, ai_routine_history, ai_trigger_history, alert_rule_history, install_tokens,
    notification_history, password_reset_tokens, refresh_tokens, reminders_sent, token_blacklist,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use tokio_util::sync::CancellationToken;

const EVERY: std::time::Duration = std::time::Duration::from_secs(3600);
const ACTIVITY_RETENTION: Duration = Duration::days(30);
const NOTIFICATION_RETENTION: Duration = Duration::days(30);
const ALERT_RETENTION: Duration = Duration::days(90);
const SERVICE_UPTIME_RETENTION: Duration = Duration::days(30);

pub async fn run(services: Services, stop: CancellationToken) {
    super::every(EVERY, stop, || async {
        if let Err(e) = tick(&services).await {
            crate::domain::DomainError::from(e).log("cleanup");
        }
    })
    .await;
}

/// One purge, unless another instance is running it (false).
pub async fn tick(services: &Services) -> Result<bool, sea_orm::DbErr> {
    let (db, timescaledb) = (&services.infra.db, services.status.timescaledb());
    let purged = super::exclusive::run_once(db, super::exclusive::keys::CLEANUP, || purge(db, timescaledb));
    metrics::job(Job::Cleanup, purged).await
}

pub async fn purge(db: &Database, timescaledb: bool) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    let blacklist = token_blacklist::Entity::delete_many()
        .filter(token_blacklist::Column::ExpiresAt.lt(now))
        .exec(&db.conn)
        .await?;
    let resets = password_reset_tokens::Entity::delete_many()
        .filter(password_reset_tokens::Column::ExpiresAt.lt(now - Duration::days(1)))
        .exec(&db.conn)
        .await?;
    let refresh = refresh_tokens::Entity::delete_many()
        .filter(refresh_tokens::Column::ExpiresAt.lt(now - Duration::days(1)))
        .exec(&db.conn)
        .await?;
    let installs = install_tokens::Entity::delete_many()
        .filter(install_tokens::Column::ExpiresAt.lt(now - Duration::hours(24)))
        .exec(&db.conn)
        .await?;
    let activity = if timescaledb {
        0
    } else {
        activity_logs::Entity::delete_many()
            .filter(activity_logs::Column::Timestamp.lt(now - ACTIVITY_RETENTION))
            .exec(&db.conn)
            .await?
            .rows_affected
    };
    // The spec's fixed retention of the alerting history.
    let notifications = notification_history::Entity::delete_many()
        .filter(notification_history::Column::CreatedAt.lt(now - NOTIFICATION_RETENTION))
        .exec(&db.conn)
        .await?;
    let alerts = alert_rule_history::Entity::delete_many()
        .filter(alert_rule_history::Column::TriggeredAt.lt(now - ALERT_RETENTION))
        .exec(&db.conn)
        .await?;
    let analyses = crate::domain::analysis::service::Analyses::purge_expired(db, now).await?;
    let ai_history = crate::domain::analysis::automation::HISTORY_RETENTION;
    let routine_runs = ai_routine_history::Entity::delete_many()
        .filter(ai_routine_history::Column::StartedAt.lt(now - ai_history))
        .exec(&db.conn)
        .await?;
    let trigger_firings = ai_trigger_history::Entity::delete_many()
        .filter(ai_trigger_history::Column::TriggeredAt.lt(now - ai_history))
        .exec(&db.conn)
        .await?;
    // A reminder's key names its deadline, so one this old cannot recur.
    let reminders = reminders_sent::Entity::delete_many()
        .filter(reminders_sent::Column::SentAt.lt(now - Duration::days(400)))
        .exec(&db.conn)
        .await?;
    crate::domain::fleet::retention::apply(db, timescaledb).await?;
    // The status page's checks: TimescaleDB's retention policy keeps them
    // 30 days where it runs.
    let service_checks = if timescaledb {
        0
    } else {
        entities::service_uptime::Entity::delete_many()
            .filter(entities::service_uptime::Column::CheckedAt.lt(now - SERVICE_UPTIME_RETENTION))
            .exec(&db.conn)
            .await?
            .rows_affected
    };
    tracing::info!(
        activity_logs = activity,
        notification_history = notifications.rows_affected,
        alert_rule_history = alerts.rows_affected,
        ai_analysis_results = analyses,
        ai_routine_history = routine_runs.rows_affected,
        ai_trigger_history = trigger_firings.rows_affected,
        reminders_sent = reminders.rows_affected,
        service_uptime = service_checks,
        install_tokens = installs.rows_affected,
        blacklist = blacklist.rows_affected,
        reset_tokens = resets.rows_affected,
        refresh_tokens = refresh.rows_affected,
        "expired security rows purged"
    );
    Ok(())
}

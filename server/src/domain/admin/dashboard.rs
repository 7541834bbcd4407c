//! `adminDashboard`: three aggregate statements, run together: tenants by
//! licence status, the fleet overview across tenants, and one row of
//! scalar subqueries for users, certificates, alerts, deliveries and the
//! month's AI usage.

use super::PlatformStats;
use crate::domain::{
    fleet::{count_where, Reach},
    licensing::month_of,
    DomainError,
};
use chrono::Duration;
use entities::{ai_usage, alert_rule_history, client_certificates, clients, email_outbox, users};
use sea_orm::{
    sea_query::{Alias, Asterisk, Expr, Query, SelectStatement, SimpleExpr},
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QuerySelect,
};

/// Certificates that expire within this many days count as expiring.
pub const EXPIRING_WITHIN_DAYS: i64 = 30;

#[derive(Clone, Debug, PartialEq)]
pub struct Dashboard {
    pub total_clients: i64,
    pub active_clients: i64,
    /// Marked expired, or active past their expiry date.
    pub expired_clients: i64,
    pub suspended_clients: i64,
    pub total_machines: i64,
    pub online_machines: i64,
    pub offline_machines: i64,
    pub in_maintenance: i64,
    pub total_users: i64,
    /// Neither revoked nor expired.
    pub active_certificates: i64,
    /// Active, and expiring within [`EXPIRING_WITHIN_DAYS`].
    pub expiring_certificates: i64,
    pub revoked_certificates: i64,
    pub alerts_last_24h: i64,
    /// E-mails and webhooks given up on, queued in the last 24 hours.
    pub failed_deliveries_last_24h: i64,
    /// Analyses counted against quotas this calendar month (UTC).
    pub ai_requests_this_month: i64,
}

fn scalar(q: &mut SelectStatement) -> SimpleExpr {
    SimpleExpr::SubQuery(None, Box::new(q.to_owned().into_sub_query_statement()))
}

#[derive(FromQueryResult)]
struct ClientRow {
    total: i64,
    active: Option<i64>,
    expired: Option<i64>,
    suspended: Option<i64>,
}

#[derive(FromQueryResult)]
struct RestRow {
    users: i64,
    certs_active: Option<i64>,
    certs_expiring: Option<i64>,
    certs_revoked: Option<i64>,
    alerts: i64,
    failed: i64,
    ai_requests: Option<i64>,
}

impl PlatformStats {
    pub async fn dashboard(&self) -> Result<Dashboard, DomainError> {
        let (clients, fleet, rest) = futures::try_join!(
            self.clients(),
            self.fleet.overview(Reach::AllTenants),
            self.rest()
        )?;
        Ok(Dashboard {
            total_clients: clients.total,
            active_clients: clients.active.unwrap_or(0),
            expired_clients: clients.expired.unwrap_or(0),
            suspended_clients: clients.suspended.unwrap_or(0),
            total_machines: fleet.total,
            online_machines: fleet.online,
            offline_machines: fleet.offline,
            in_maintenance: fleet.in_maintenance,
            total_users: rest.users,
            active_certificates: rest.certs_active.unwrap_or(0),
            expiring_certificates: rest.certs_expiring.unwrap_or(0),
            revoked_certificates: rest.certs_revoked.unwrap_or(0),
            alerts_last_24h: rest.alerts,
            failed_deliveries_last_24h: rest.failed,
            ai_requests_this_month: rest.ai_requests.unwrap_or(0),
        })
    }

    async fn clients(&self) -> Result<ClientRow, DomainError> {
        let now = self.clock.now();
        let status = clients::Column::LicenseStatus;
        let lapsed = clients::Column::LicenseExpiresAt.lt(now);
        let current = clients::Column::LicenseExpiresAt
            .is_null()
            .or(clients::Column::LicenseExpiresAt.gte(now));
        clients::Entity::find()
            .select_only()
            .column_as(Expr::col(clients::Column::Id).count(), "total")
            .column_as(count_where(status.eq("active").and(current)), "active")
            .column_as(
                count_where(status.eq("expired").or(status.eq("active").and(lapsed))),
                "expired",
            )
            .column_as(count_where(status.eq("suspended")), "suspended")
            .into_model::<ClientRow>()
            .one(&self.db.conn)
            .await?
            .ok_or_else(|| DomainError::invariant("client counts returned no row"))
    }

    async fn rest(&self) -> Result<RestRow, DomainError> {
        let now = self.clock.now();
        let day_ago = now - Duration::hours(24);
        let soon = now + Duration::days(EXPIRING_WITHIN_DAYS);
        let live = client_certificates::Column::RevokedAt
            .is_null()
            .and(client_certificates::Column::ExpiresAt.gt(now));
        let query = Query::select()
            .expr_as(
                scalar(
                    Query::select()
                        .expr(Expr::col(Asterisk).count())
                        .from(users::Entity),
                ),
                Alias::new("users"),
            )
            .expr_as(
                scalar(
                    Query::select()
                        .expr(count_where(live.clone()))
                        .from(client_certificates::Entity),
                ),
                Alias::new("certs_active"),
            )
            .expr_as(
                scalar(
                    Query::select()
                        .expr(count_where(
                            live.and(client_certificates::Column::ExpiresAt.lte(soon)),
                        ))
                        .from(client_certificates::Entity),
                ),
                Alias::new("certs_expiring"),
            )
            .expr_as(
                scalar(
                    Query::select()
                        .expr(count_where(client_certificates::Column::RevokedAt.is_not_null()))
                        .from(client_certificates::Entity),
                ),
                Alias::new("certs_revoked"),
            )
            .expr_as(
                scalar(
                    Query::select()
                        .expr(Expr::col(Asterisk).count())
                        .from(alert_rule_history::Entity)
                        .and_where(alert_rule_history::Column::TriggeredAt.gte(day_ago)),
                ),
                Alias::new("alerts"),
            )
            .expr_as(
                scalar(
                    Query::select()
                        .expr(Expr::col(Asterisk).count())
                        .from(email_outbox::Entity)
                        .and_where(email_outbox::Column::Status.eq("failed"))
                        .and_where(email_outbox::Column::CreatedAt.gte(day_ago)),
                ),
                Alias::new("failed"),
            )
            .expr_as(
                scalar(
                    Query::select()
                        .expr(Expr::col(ai_usage::Column::Requests).sum().cast_as("bigint"))
                        .from(ai_usage::Entity)
                        .and_where(ai_usage::Column::Month.eq(month_of(now))),
                ),
                Alias::new("ai_requests"),
            )
            .to_owned();
        let statement = self.db.conn.get_database_backend().build(&query);
        RestRow::find_by_statement(statement)
            .one(&self.db.conn)
            .await?
            .ok_or_else(|| DomainError::invariant("platform counts returned no row"))
    }
}

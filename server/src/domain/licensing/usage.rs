//! The monthly AI quota: each completed analysis is counted, at its cost,
//! in its calendar month (UTC), and refused once the licence's quota (or
//! the super_admin's override) is used.

use crate::{domain::DomainError, infra::clock::Clock, infra::db::Database};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use entities::ai_usage;
use sea_orm::{
    sea_query::{Expr, OnConflict, Query},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use std::sync::Arc;
use uuid::Uuid;

pub fn month_of(at: DateTime<Utc>) -> String {
    at.format("%Y-%m").to_string()
}

/// When the month of `at` ends, which is when a used-up quota returns.
fn next_month(at: DateTime<Utc>) -> DateTime<Utc> {
    let (y, m) = if at.month() == 12 {
        (at.year() + 1, 1)
    } else {
        (at.year(), at.month() + 1)
    };
    Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().unwrap_or(at)
}

/// Units taken from a tenant's month by [`AiUsage::consume`]; given back
/// by [`AiUsage::refund`] when the analysis they paid for fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub client_id: Uuid,
    /// The month the units were taken from (a run straddling midnight on
    /// the last day gives them back to that month, not the next).
    pub month: String,
    pub cost: i32,
    /// Units used that month, these included.
    pub used: i32,
}

#[derive(Clone)]
pub struct AiUsage {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl AiUsage {
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Takes `cost` units of this month's `quota`, or refuses with
    /// `QuotaExceeded` when fewer remain. One statement (an insert whose
    /// conflicting update only applies while the units fit): two
    /// instances cannot both take the last unit.
    pub async fn consume(&self, client_id: Uuid, quota: i32, cost: i32) -> Result<Reservation, DomainError> {
        let now = self.clock.now();
        let month = month_of(now);
        let cost = cost.max(1);
        let used = if cost <= quota {
            let insert = Query::insert()
                .into_table(ai_usage::Entity)
                .columns([
                    ai_usage::Column::ClientId,
                    ai_usage::Column::Month,
                    ai_usage::Column::Requests,
                    ai_usage::Column::UpdatedAt,
                ])
                .values_panic([client_id.into(), month.clone().into(), cost.into(), now.into()])
                .on_conflict(
                    OnConflict::columns([ai_usage::Column::ClientId, ai_usage::Column::Month])
                        .value(
                            ai_usage::Column::Requests,
                            Expr::col((ai_usage::Entity, ai_usage::Column::Requests)).add(cost),
                        )
                        .value(ai_usage::Column::UpdatedAt, Expr::value(now))
                        .action_and_where(
                            Expr::col((ai_usage::Entity, ai_usage::Column::Requests)).lte(quota - cost),
                        )
                        .to_owned(),
                )
                .returning_col(ai_usage::Column::Requests)
                .to_owned();
            let backend = self.db.conn.get_database_backend();
            let row = self.db.conn.query_one(backend.build(&insert)).await?;
            match row {
                Some(row) => Some(row.try_get::<i32>("", "requests")?),
                None => None,
            }
        } else {
            None
        };
        match used {
            Some(used) => Ok(Reservation {
                client_id,
                month,
                cost,
                used,
            }),
            None => Err(DomainError::QuotaExceeded {
                limit: quota,
                used: self.used(client_id).await?,
                resets_at: next_month(now),
            }),
        }
    }

    /// Gives back the units of a run that did not complete. One
    /// statement; never below zero.
    pub async fn refund(&self, reservation: &Reservation) -> Result<(), DomainError> {
        ai_usage::Entity::update_many()
            .col_expr(
                ai_usage::Column::Requests,
                Expr::col(ai_usage::Column::Requests).sub(reservation.cost),
            )
            .col_expr(ai_usage::Column::UpdatedAt, Expr::value(self.clock.now()))
            .filter(ai_usage::Column::ClientId.eq(reservation.client_id))
            .filter(ai_usage::Column::Month.eq(&reservation.month))
            .filter(ai_usage::Column::Requests.gte(reservation.cost))
            .exec(&self.db.conn)
            .await?;
        Ok(())
    }

    /// This month, `YYYY-MM`.
    pub fn month(&self) -> String {
        month_of(self.clock.now())
    }

    /// Requests used this month by one tenant.
    pub async fn used(&self, client_id: Uuid) -> Result<i32, DomainError> {
        Ok(
            ai_usage::Entity::find_by_id((client_id, month_of(self.clock.now())))
                .one(&self.db.conn)
                .await?
                .map_or(0, |u| u.requests),
        )
    }

    /// Requests used this month across the platform.
    pub async fn month_total(&self) -> Result<i64, DomainError> {
        let total: Option<Option<i64>> = ai_usage::Entity::find()
            .select_only()
            .column_as(Expr::col(ai_usage::Column::Requests).sum().cast_as("bigint"), "n")
            .filter(ai_usage::Column::Month.eq(month_of(self.clock.now())))
            .into_tuple()
            .one(&self.db.conn)
            .await?;
        Ok(total.flatten().unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{domain::fixtures, infra::clock::ManualClock};

    #[test]
    fn months_roll_over_at_the_year_end() {
        let dec = Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap();
        assert_eq!(month_of(dec), "2026-12");
        assert_eq!(
            next_month(dec),
            Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap()
        );
    }

    #[tokio::test]
    async fn the_quota_is_counted_per_month_at_its_cost_and_refunded() {
        let db = Database::in_memory().await.unwrap();
        let start = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let (client, _) = fixtures::tenant_with_machine(&db, start).await;
        let client_id = client.id;
        let clock = ManualClock::new(start);
        let usage = AiUsage::new(db, Arc::new(clock.clone()));
        assert_eq!(usage.consume(client_id, 4, 1).await.unwrap().used, 1);
        let full = usage.consume(client_id, 4, 3).await.unwrap();
        assert_eq!(full.used, 4);
        let refused = usage.consume(client_id, 4, 1).await.unwrap_err();
        assert!(
            matches!(refused, DomainError::QuotaExceeded { limit: 4, used: 4, resets_at }
                if resets_at == Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()),
            "{refused:?}"
        );
        usage.refund(&full).await.unwrap();
        assert_eq!(
            usage.used(client_id).await.unwrap(),
            1,
            "a failed run gives its units back"
        );
        assert!(
            usage.consume(client_id, 4, 5).await.is_err(),
            "a cost above the quota never fits"
        );
        assert_eq!(usage.used(client_id).await.unwrap(), 1);
        assert_eq!(usage.month_total().await.unwrap(), 1);
        clock.advance(chrono::Duration::days(1));
        assert_eq!(usage.used(client_id).await.unwrap(), 0, "a new month");
        usage.refund(&full).await.unwrap();
        assert_eq!(
            usage.consume(client_id, 2, 2).await.unwrap().used,
            2,
            "a refund lands in its own month"
        );
        assert!(
            usage.consume(client_id, 0, 1).await.is_err(),
            "no quota, no analyses"
        );
    }

    #[tokio::test]
    async fn concurrent_runs_never_both_take_the_last_unit() {
        let db = Database::in_memory().await.unwrap();
        let start = Utc.with_ymd_and_hms(2026, 11, 10, 12, 0, 0).unwrap();
        let (client, _) = fixtures::tenant_with_machine(&db, start).await;
        let usage = AiUsage::new(db, Arc::new(ManualClock::new(start)));
        usage.consume(client.id, 10, 7).await.unwrap();
        let runs = (0..8).map(|_| {
            let usage = usage.clone();
            tokio::spawn(async move { usage.consume(client.id, 10, 1).await })
        });
        let results = futures::future::join_all(runs).await;
        let taken = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        assert_eq!(taken, 3, "exactly the units left");
        assert_eq!(usage.used(client.id).await.unwrap(), 10);
    }
}

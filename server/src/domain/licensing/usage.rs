//! The monthly AI quota: each analysis a tenant requests is counted in its
//! calendar month (UTC) and refused once the licence's quota is used.

use crate::{domain::DomainError, infra::clock::Clock, infra::db::Database};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use entities::ai_usage;
use sea_orm::{
    sea_query::{Expr, OnConflict, Query},
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use std::{sync::Arc, time::Duration};
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

#[derive(Clone)]
pub struct AiUsage {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl AiUsage {
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// Counts one request against `quota`, or refuses it once the month's
    /// quota is used. One statement: two instances cannot both take the
    /// last request. Returns the requests used this month, this one
    /// included.
    pub async fn consume(&self, client_id: Uuid, quota: i32) -> Result<i32, DomainError> {
        let now = self.clock.now();
        let used = if quota > 0 {
            let month = month_of(now);
            let insert = Query::insert()
                .into_table(ai_usage::Entity)
                .columns([
                    ai_usage::Column::ClientId,
                    ai_usage::Column::Month,
                    ai_usage::Column::Requests,
                    ai_usage::Column::UpdatedAt,
                ])
                .values_panic([client_id.into(), month.into(), 1.into(), now.into()])
                .on_conflict(
                    OnConflict::columns([ai_usage::Column::ClientId, ai_usage::Column::Month])
                        .value(
                            ai_usage::Column::Requests,
                            Expr::col((ai_usage::Entity, ai_usage::Column::Requests)).add(1),
                        )
                        .value(ai_usage::Column::UpdatedAt, Expr::value(now))
                        .action_and_where(Expr::col((ai_usage::Entity, ai_usage::Column::Requests)).lt(quota))
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
        used.ok_or_else(|| DomainError::RateLimited {
            retry_after: (next_month(now) - now).to_std().unwrap_or(Duration::from_secs(1)),
        })
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
    async fn the_quota_is_counted_per_month_and_refused_once_used() {
        let db = Database::in_memory().await.unwrap();
        let start = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
        let (client, _) = fixtures::tenant_with_machine(&db, start).await;
        let client_id = client.id;
        let clock = ManualClock::new(start);
        let usage = AiUsage::new(db, Arc::new(clock.clone()));
        assert_eq!(usage.consume(client_id, 2).await.unwrap(), 1);
        assert_eq!(usage.consume(client_id, 2).await.unwrap(), 2);
        let refused = usage.consume(client_id, 2).await.unwrap_err();
        assert!(
            matches!(refused, DomainError::RateLimited { retry_after } if retry_after.as_secs() == 12 * 3600)
        );
        assert_eq!(usage.used(client_id).await.unwrap(), 2);
        assert_eq!(usage.month_total().await.unwrap(), 2);
        clock.advance(chrono::Duration::days(1));
        assert_eq!(usage.used(client_id).await.unwrap(), 0, "a new month");
        assert_eq!(usage.consume(client_id, 2).await.unwrap(), 1);
        assert!(
            usage.consume(client_id, 0).await.is_err(),
            "no quota, no analyses"
        );
    }
}

//! Counts of the audit trail over a span, by category and by level: one
//! grouped statement.

use super::ActivityLog;
use crate::domain::DomainError;
use chrono::{DateTime, Utc};
use entities::activity_logs;
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QuerySelect};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub total: i64,
    /// Category name → entries, in name order.
    pub by_category: BTreeMap<String, i64>,
    /// Level name → entries, in name order.
    pub by_level: BTreeMap<String, i64>,
}

#[derive(FromQueryResult)]
struct Row {
    category: String,
    level: String,
    n: i64,
}

impl ActivityLog {
    /// Entries in `[since, until)`, of one tenant or (`None`, super_admin
    /// callers only) of all.
    pub async fn stats(
        &self,
        client_id: Option<Uuid>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Stats, DomainError> {
        let mut q = activity_logs::Entity::find()
            .select_only()
            .column(activity_logs::Column::Category)
            .column(activity_logs::Column::Level)
            .column_as(activity_logs::Column::Id.count(), "n")
            .filter(activity_logs::Column::Timestamp.gte(since))
            .filter(activity_logs::Column::Timestamp.lt(until));
        if let Some(c) = client_id {
            q = q.filter(activity_logs::Column::ClientId.eq(c));
        }
        let rows = q
            .group_by(activity_logs::Column::Category)
            .group_by(activity_logs::Column::Level)
            .into_model::<Row>()
            .all(&self.db.conn)
            .await?;
        let mut stats = Stats::default();
        for r in rows {
            stats.total += r.n;
            *stats.by_category.entry(r.category).or_default() += r.n;
            *stats.by_level.entry(r.level).or_default() += r.n;
        }
        Ok(stats)
    }
}

//! The platform's figures for super_admins: counts across every tenant
//! and their growth over time. Each answer is a fixed, small number of
//! aggregate statements, whatever the number of tenants or machines.

mod dashboard;
mod period;
mod timeline;

pub use dashboard::Dashboard;
pub use period::{Granularity, Period, MAX_DAYS};
pub use timeline::{Timeline, TimelinePoint};

use super::{fleet::Fleet, DomainError};
use crate::infra::{clock::Clock, db::Database};
use chrono::{DateTime, Utc};
use std::sync::Arc;

#[derive(Clone)]
pub struct PlatformStats {
    db: Database,
    fleet: Fleet,
    clock: Arc<dyn Clock>,
}

impl PlatformStats {
    pub fn new(db: Database, fleet: Fleet, clock: Arc<dyn Clock>) -> Self {
        Self { db, fleet, clock }
    }

    /// The span of a figure: the last `last_days` days, or from `from` to
    /// `to` (now when absent); the last 30 days when neither is given.
    pub fn period(
        &self,
        last_days: Option<i64>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Period, DomainError> {
        let now = self.clock.now();
        match (last_days, from, to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                Err(DomainError::invalid("range", "give range or from/to, not both"))
            }
            (Some(days), None, None) => Ok(Period::last_days(days, now)),
            (None, Some(from), to) => Period::between(from, to, now),
            (None, None, Some(_)) => Err(DomainError::invalid("from", "is required with to")),
            (None, None, None) => Ok(Period::last_days(30, now)),
        }
    }
}

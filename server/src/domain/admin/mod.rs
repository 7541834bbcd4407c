//! The platform's figures for super_admins: counts across every tenant
//! and their growth over time. Each answer is a fixed, small number of
//! aggregate statements, whatever the number of tenants or machines.

mod dashboard;
mod period;
mod timeline;

pub use dashboard::Dashboard;
pub use period::{Granularity, Period, MAX_DAYS};
pub use timeline::{Timeline, TimelinePoint};

use super::fleet::Fleet;
use crate::infra::{clock::Clock, db::Database};
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
}

//! Service uptime tracking: what each check of a platform service found,
//! stored in `service_uptime` every 30 minutes, and the 15-day series the
//! status page draws from it (30 half-days, one SQL statement).

use super::DatabaseHealth;
use crate::{
    domain::DomainError,
    infra::db::{Backend, Database},
};
use chrono::{DateTime, Duration, DurationRound, Utc};
use entities::service_uptime;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, FromQueryResult, Statement};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Halves of a day in the series.
pub const HALF: Duration = Duration::hours(12);
/// The uptime job's period: one check per service per slot.
pub const SLOT: Duration = Duration::minutes(30);
/// Values in a series: 15 days × 2 halves.
pub const HALVES: usize = 30;
/// A database round trip slower than this is degraded.
pub const DEGRADED_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
/// How long the AI check may take before the AI counts as offline.
pub const AI_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The platform services the status page shows, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Api,
    Database,
    Ai,
}

impl Service {
    pub const ALL: [Service; 3] = [Self::Api, Self::Database, Self::Ai];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Database => "database",
            Self::Ai => "ai",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// What a check found, best first: the derived order makes `max` the worse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Online,
    Degraded,
    Offline,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Degraded => "degraded",
            Self::Offline => "offline",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Online, Self::Degraded, Self::Offline]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// Who answers for the AI service: Claude when a key is configured, our
/// built-in engine otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AiEngine {
    Claude,
    Builtin,
}

impl AiEngine {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Claude => "claude",
            Self::Builtin => "builtin",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check {
    pub service: Service,
    pub state: State,
    pub response_time_ms: i32,
}

/// One pass over every service, taken at `at`.
#[derive(Clone, Debug, PartialEq)]
pub struct Checks {
    pub at: DateTime<Utc>,
    pub api: Check,
    pub database: Check,
    pub ai: Check,
    pub ai_engine: AiEngine,
}

impl Checks {
    pub fn all(&self) -> [Check; 3] {
        [self.api, self.database, self.ai]
    }

    pub fn database_reachable(&self) -> bool {
        self.database.state != State::Offline
    }
}

fn millis(d: std::time::Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// The API answers whenever this code runs.
pub fn api_check() -> Check {
    Check {
        service: Service::Api,
        state: State::Online,
        response_time_ms: 0,
    }
}

/// The database ping: degraded past [`DEGRADED_AFTER`], offline when it failed.
pub fn database_check(health: &DatabaseHealth) -> Check {
    let (state, response_time_ms) = match health {
        DatabaseHealth::Up { latency } if *latency > DEGRADED_AFTER => (State::Degraded, millis(*latency)),
        DatabaseHealth::Up { latency } => (State::Online, millis(*latency)),
        DatabaseHealth::Down => (State::Offline, 0),
    };
    Check {
        service: Service::Database,
        state,
        response_time_ms,
    }
}

/// The AI service: without Claude the built-in engine, always there; with
/// it, whether Claude's host answered (`probe`) within [`AI_TIMEOUT`].
pub fn ai_check(probe: Option<Result<std::time::Duration, ()>>) -> (Check, AiEngine) {
    let (state, response_time_ms, engine) = match probe {
        None => (State::Online, 0, AiEngine::Builtin),
        Some(Ok(rtt)) => (State::Online, millis(rtt), AiEngine::Claude),
        Some(Err(())) => (State::Offline, millis(AI_TIMEOUT), AiEngine::Claude),
    };
    (
        Check {
            service: Service::Ai,
            state,
            response_time_ms,
        },
        engine,
    )
}

/// The start of the slot holding `at`.
pub fn slot_of(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(SLOT).unwrap_or(at)
}

/// `waiting` without the checks of a (service, slot) already in `recorded`,
/// and one check per (service, slot): each instance that lost the database
/// kept its own checks of the same slots, and the first to write them back
/// speaks for all.
pub fn unrecorded(
    waiting: &[(DateTime<Utc>, Check)],
    recorded: &HashSet<(Service, DateTime<Utc>)>,
) -> Vec<(DateTime<Utc>, Check)> {
    let mut taken = recorded.clone();
    waiting
        .iter()
        .filter(|(at, c)| taken.insert((c.service, slot_of(*at))))
        .copied()
        .collect()
}

/// The first instant of the series ending with the half-day holding `now`
/// (halves start at 00:00 and 12:00 UTC), and the end of that half.
pub fn window(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let current = now.duration_trunc(HALF).unwrap_or(now);
    (current - HALF * (HALVES as i32 - 1), current + HALF)
}

/// Checks counted in one half-day of one service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromQueryResult)]
pub struct HalfCount {
    pub half: i64,
    pub total: i64,
    /// Online or degraded.
    pub up: i64,
}

/// Oldest first: the share of available checks per half, 100 where none.
pub fn series(counts: &[HalfCount]) -> Vec<f64> {
    let mut out = vec![100.0; HALVES];
    for c in counts {
        let Some(slot) = usize::try_from(c.half).ok().and_then(|h| out.get_mut(h)) else {
            continue;
        };
        if c.total > 0 {
            *slot = (c.up as f64 * 100.0 / c.total as f64 * 100.0).round() / 100.0;
        }
    }
    out
}

/// A series of 100s, for when nothing can be read.
pub fn full_series() -> Vec<f64> {
    vec![100.0; HALVES]
}

#[derive(FromQueryResult)]
struct SeriesRow {
    service_name: String,
    half: i64,
    total: i64,
    up: i64,
}

/// The half index of `checked_at` counted from `start_epoch`, in SQL.
fn half_index(backend: Backend, start_epoch: i64) -> String {
    let secs = HALF.num_seconds();
    match backend {
        Backend::Postgres => {
            format!("CAST(FLOOR((EXTRACT(EPOCH FROM checked_at) - {start_epoch}) / {secs}) AS BIGINT)")
        }
        Backend::Sqlite => {
            format!("((CAST(strftime('%s', checked_at) AS INTEGER) - {start_epoch}) / {secs})")
        }
    }
}

#[derive(Clone)]
pub struct Uptime {
    db: Database,
}

impl Uptime {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Every service's 30 values for the series ending with the half-day
    /// holding `now`, in one statement.
    pub async fn series(&self, now: DateTime<Utc>) -> Result<HashMap<Service, Vec<f64>>, DomainError> {
        let (start, end) = window(now);
        let backend = self.db.backend;
        let (p1, p2) = match backend {
            Backend::Postgres => ("$1", "$2"),
            Backend::Sqlite => ("?1", "?2"),
        };
        let half = half_index(backend, start.timestamp());
        let sql = format!(
            "SELECT service_name, {half} AS half, COUNT(*) AS total, \
             SUM(CASE WHEN status = 'offline' THEN 0 ELSE 1 END) AS up \
             FROM service_uptime WHERE checked_at >= {p1} AND checked_at < {p2} \
             GROUP BY service_name, {half}"
        );
        let rows = SeriesRow::find_by_statement(Statement::from_sql_and_values(
            self.db.conn.get_database_backend(),
            sql,
            [start.into(), end.into()],
        ))
        .all(&self.db.conn)
        .await?;
        let mut counts: HashMap<Service, Vec<HalfCount>> = HashMap::new();
        for r in rows {
            if let Some(service) = Service::parse(&r.service_name) {
                counts.entry(service).or_default().push(HalfCount {
                    half: r.half,
                    total: r.total,
                    up: r.up,
                });
            }
        }
        Ok(Service::ALL
            .into_iter()
            .map(|s| (s, series(counts.get(&s).map_or(&[][..], Vec::as_slice))))
            .collect())
    }

    /// Writes one row per check, all in one statement.
    pub async fn record(&self, checks: &[(DateTime<Utc>, Check)]) -> Result<(), DomainError> {
        if checks.is_empty() {
            return Ok(());
        }
        let rows = checks.iter().map(|(at, c)| service_uptime::ActiveModel {
            id: Set(Uuid::now_v7()),
            service_name: Set(c.service.as_str().into()),
            status: Set(c.state.as_str().into()),
            response_time_ms: Set(c.response_time_ms),
            checked_at: Set(*at),
        });
        service_uptime::Entity::insert_many(rows)
            .exec(&self.db.conn)
            .await?;
        Ok(())
    }

    /// The waiting checks whose (service, slot) has no row yet, one each.
    pub async fn not_yet_recorded(
        &self,
        waiting: &[(DateTime<Utc>, Check)],
    ) -> Result<Vec<(DateTime<Utc>, Check)>, DomainError> {
        let Some(first) = waiting.iter().map(|(at, _)| *at).min() else {
            return Ok(Vec::new());
        };
        let last = waiting.iter().map(|(at, _)| *at).max().unwrap_or(first);
        Ok(unrecorded(
            waiting,
            &self.recorded_slots(slot_of(first), slot_of(last) + SLOT).await?,
        ))
    }

    /// The (service, slot) pairs with a row in `[from, to)`. The slot is
    /// worked out here rather than in SQL, which would differ per backend.
    async fn recorded_slots(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<HashSet<(Service, DateTime<Utc>)>, DomainError> {
        use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
        let rows = service_uptime::Entity::find()
            .select_only()
            .column(service_uptime::Column::ServiceName)
            .column(service_uptime::Column::CheckedAt)
            .filter(service_uptime::Column::CheckedAt.gte(from))
            .filter(service_uptime::Column::CheckedAt.lt(to))
            .into_tuple::<(String, DateTime<Utc>)>()
            .all(&self.db.conn)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(name, at)| Some((Service::parse(&name)?, slot_of(at))))
            .collect())
    }

    /// Whether a check was recorded at or after `since` (by any instance).
    pub async fn recorded_since(&self, since: DateTime<Utc>) -> Result<bool, DomainError> {
        use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
        let found = service_uptime::Entity::find()
            .select_only()
            .column(service_uptime::Column::Id)
            .filter(service_uptime::Column::CheckedAt.gte(since))
            .limit(1)
            .into_tuple::<Uuid>()
            .one(&self.db.conn)
            .await?;
        Ok(found.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_window_ends_with_the_half_holding_now() {
        let now = Utc.with_ymd_and_hms(2026, 3, 10, 15, 20, 0).unwrap();
        let (start, end) = window(now);
        assert_eq!(end, Utc.with_ymd_and_hms(2026, 3, 11, 0, 0, 0).unwrap());
        assert_eq!(start, Utc.with_ymd_and_hms(2026, 2, 24, 0, 0, 0).unwrap());
        assert_eq!((end - start).num_hours(), 15 * 24);
        let morning = Utc.with_ymd_and_hms(2026, 3, 10, 0, 0, 0).unwrap();
        assert_eq!(
            window(morning).1,
            Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
        );
    }

    #[test]
    fn a_slot_already_recorded_or_repeated_in_the_batch_is_written_once() {
        let slot = Utc.with_ymd_and_hms(2026, 3, 10, 14, 30, 0).unwrap();
        let check = |service, state| Check {
            service,
            state,
            response_time_ms: 0,
        };
        let waiting = [
            (
                slot + Duration::minutes(1),
                check(Service::Database, State::Offline),
            ),
            (slot + Duration::minutes(2), check(Service::Api, State::Online)),
            (
                slot + Duration::minutes(29),
                check(Service::Database, State::Offline),
            ),
            (
                slot + Duration::minutes(30),
                check(Service::Database, State::Offline),
            ),
        ];
        let recorded = HashSet::from([(Service::Api, slot)]);
        assert_eq!(
            unrecorded(&waiting, &recorded),
            [waiting[0], waiting[3]],
            "the api's slot is stored, the database's first slot is kept once"
        );
        assert_eq!(unrecorded(&[], &recorded), []);
    }

    #[test]
    fn halves_without_checks_count_as_fully_up() {
        let s = series(&[
            HalfCount {
                half: 0,
                total: 4,
                up: 3,
            },
            HalfCount {
                half: 29,
                total: 3,
                up: 0,
            },
            HalfCount {
                half: 30,
                total: 1,
                up: 0,
            },
            HalfCount {
                half: 5,
                total: 3,
                up: 2,
            },
        ]);
        assert_eq!(s.len(), HALVES);
        assert_eq!(s[0], 75.0);
        assert_eq!(s[5], 66.67);
        assert_eq!(s[29], 0.0);
        assert!(s[1..5].iter().all(|v| *v == 100.0));
    }

    #[test]
    fn a_slow_ping_is_degraded_and_a_failed_one_offline() {
        let fast = database_check(&DatabaseHealth::Up {
            latency: std::time::Duration::from_millis(4),
        });
        assert_eq!((fast.state, fast.response_time_ms), (State::Online, 4));
        let slow = database_check(&DatabaseHealth::Up {
            latency: std::time::Duration::from_millis(1500),
        });
        assert_eq!(slow.state, State::Degraded);
        assert_eq!(database_check(&DatabaseHealth::Down).state, State::Offline);
        assert_eq!(ai_check(None), (ai_check(None).0, AiEngine::Builtin));
        assert_eq!(ai_check(Some(Err(()))).0.state, State::Offline);
        assert!(State::Offline > State::Degraded && State::Degraded > State::Online);
    }
}

//! What a machine is doing now: online, offline or in maintenance, by
//! the clock the caller passes.

use crate::domain::agents::OFFLINE_AFTER;
use chrono::{DateTime, Utc};
use entities::machines;

/// What a machine is doing now, as lists and exports show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Online,
    Offline,
    /// In maintenance mode (alerts muted), whatever its heartbeats.
    Maintenance,
}

impl State {
    pub fn of(m: &machines::Model, now: DateTime<Utc>) -> Self {
        if in_maintenance(m, now) {
            Self::Maintenance
        } else if is_online(m, now) {
            Self::Online
        } else {
            Self::Offline
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Offline => "offline",
            Self::Maintenance => "maintenance",
        }
    }
}

/// In maintenance now: the mode is on and its end, if any, is still ahead
/// (the expiry job clears the columns later; readers must not wait for it).
pub fn in_maintenance(m: &machines::Model, now: DateTime<Utc>) -> bool {
    m.maintenance_mode && m.maintenance_until.is_none_or(|until| until > now)
}

/// Online: heard from within the offline threshold.
pub fn is_online(m: &machines::Model, now: DateTime<Utc>) -> bool {
    m.last_seen.is_some_and(|seen| now - seen <= OFFLINE_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infra::{clock::Clock, clock::ManualClock, db::Database};
    use chrono::Duration;

    /// A window past its end reads as over by the clock alone, before any
    /// job clears the columns.
    #[tokio::test]
    async fn maintenance_ends_at_its_until_by_the_injected_clock() {
        let db = Database::in_memory().await.unwrap();
        let clock = ManualClock::starting_now();
        let (_, mut m) = crate::domain::fixtures::tenant_with_machine(&db, clock.now()).await;
        assert_eq!(State::of(&m, clock.now()), State::Online);
        m.maintenance_mode = true;
        m.maintenance_until = Some(clock.now() + Duration::minutes(30));
        assert_eq!(State::of(&m, clock.now()), State::Maintenance);
        clock.advance(Duration::minutes(30));
        assert!(!in_maintenance(&m, clock.now()), "at its until, it is over");
        assert_eq!(State::of(&m, clock.now()), State::Offline, "silent 30 minutes");
        m.maintenance_until = None;
        clock.advance(Duration::days(365));
        assert_eq!(
            State::of(&m, clock.now()),
            State::Maintenance,
            "no until: until switched off"
        );
    }
}

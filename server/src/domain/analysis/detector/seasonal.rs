//! A daily profile: what the series usually reads at this time of day.
//! Machine metrics follow working hours, backups and cron jobs; a value
//! ordinary for the day as a whole can be abnormal for 3 a.m. (a missing
//! nightly peak, a flatline in the middle of the day).

use super::window::SortedWindow;
use chrono::{DateTime, Timelike, Utc};

/// Width of a time-of-day slot: 288 slots a day, whatever the sampling.
const SLOT_SECS: u32 = 300;
const SLOTS: usize = (86_400 / SLOT_SECS) as usize;
/// Weight of today's value in a slot's running level: about a week of
/// memory for daily visits, so one odd day does not rewrite the profile.
const ALPHA: f64 = 0.25;
/// Days of history before the profile is trusted.
const MIN_DAYS: i64 = 2;

#[derive(Debug, Clone)]
pub struct DailyProfile {
    level: Vec<f64>,
    visits: Vec<u16>,
    residuals: SortedWindow,
    first: Option<DateTime<Utc>>,
}

impl DailyProfile {
    pub fn new(window: usize) -> Self {
        Self {
            level: vec![0.0; SLOTS],
            visits: vec![0; SLOTS],
            residuals: SortedWindow::new(window),
            first: None,
        }
    }

    fn slot(at: DateTime<Utc>) -> usize {
        (at.num_seconds_from_midnight() / SLOT_SECS) as usize % SLOTS
    }

    /// The residual of `value` against the profile, `None` while the slot
    /// has no history.
    fn residual(&self, at: DateTime<Utc>, value: f64) -> Option<f64> {
        let slot = Self::slot(at);
        (self.visits[slot] > 0).then(|| value - self.level[slot])
    }

    /// Whether the profile has seen enough days to be judged at all.
    pub fn mature(&self, at: DateTime<Utc>) -> bool {
        self.first.is_some_and(|f| (at - f).num_days() >= MIN_DAYS)
    }

    /// The spread of the residuals, as [`spread`](super::spread) measures it.
    pub fn residual_spread(&self) -> Option<f64> {
        super::spread(&self.residuals)
    }

    /// Robust z-score of `value`'s residual against recent residuals.
    pub fn deviation(&self, at: DateTime<Utc>, value: f64, floor: f64) -> f64 {
        match self.residual(at, value) {
            Some(r) if self.residuals.len() >= 20 => super::robust_z(&self.residuals, r, floor),
            _ => 0.0,
        }
    }

    /// Learns `value` at `at`.
    pub fn learn(&mut self, at: DateTime<Utc>, value: f64) {
        self.first.get_or_insert(at);
        if let Some(r) = self.residual(at, value) {
            if r.is_finite() {
                self.residuals.push(r);
            }
        }
        let slot = Self::slot(at);
        if self.visits[slot] == 0 {
            self.level[slot] = value;
        } else {
            self.level[slot] += ALPHA * (value - self.level[slot]);
        }
        self.visits[slot] = self.visits[slot].saturating_add(1);
    }
}

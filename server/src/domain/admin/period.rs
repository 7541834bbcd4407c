//! The span a platform figure covers, checked once for every field that
//! takes one.

use crate::domain::DomainError;
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Longest span a figure may cover.
pub const MAX_DAYS: i64 = 366;
/// Spans longer than this are shown per week: a year per day would be 365
/// points no chart can show.
const DAILY_UP_TO_DAYS: i64 = 92;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Week,
}

impl Granularity {
    pub fn days(self) -> i64 {
        match self {
            Self::Day => 1,
            Self::Week => 7,
        }
    }
}

/// `[from, to)`, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

impl Period {
    /// The last `days` calendar days (UTC), today included, up to `now`.
    pub fn last_days(days: i64, now: DateTime<Utc>) -> Self {
        let first = now.date_naive() - Duration::days(days.clamp(1, MAX_DAYS) - 1);
        Self {
            from: midnight(first),
            to: now,
        }
    }

    /// An explicit span; `to` defaults to `now`.
    pub fn between(
        from: DateTime<Utc>,
        to: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let to = to.unwrap_or(now);
        if from >= to {
            return Err(DomainError::invalid("from", "must be before to"));
        }
        if to - from > Duration::days(MAX_DAYS) {
            return Err(DomainError::invalid(
                "from",
                format!("the span must be at most {MAX_DAYS} days"),
            ));
        }
        Ok(Self { from, to })
    }

    /// Per day up to three months, per week beyond.
    pub fn granularity(&self) -> Granularity {
        if self.to - self.from > Duration::days(DAILY_UP_TO_DAYS) {
            Granularity::Week
        } else {
            Granularity::Day
        }
    }

    /// The first day of each bucket, from the day `from` falls in to the
    /// one `to` falls in.
    pub fn buckets(&self) -> Vec<NaiveDate> {
        let step = Duration::days(self.granularity().days());
        let last = (self.to - Duration::microseconds(1)).date_naive();
        let mut day = self.from.date_naive();
        let mut out = Vec::new();
        while day <= last {
            out.push(day);
            day += step;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn last_days_cover_whole_days_with_today() {
        let p = Period::last_days(7, at(2026, 3, 10, 15));
        assert_eq!(p.from, at(2026, 3, 4, 0));
        assert_eq!(p.buckets().len(), 7);
        assert_eq!(p.granularity(), Granularity::Day);
        assert_eq!(*p.buckets().last().unwrap(), at(2026, 3, 10, 0).date_naive());
    }

    #[test]
    fn a_year_is_counted_per_week() {
        let p = Period::last_days(365, at(2026, 3, 10, 15));
        assert_eq!(p.granularity(), Granularity::Week);
        assert_eq!(p.buckets().len(), 53);
    }

    #[test]
    fn explicit_spans_are_checked() {
        let now = at(2026, 3, 10, 15);
        assert!(Period::between(now, Some(now), now).is_err());
        assert!(Period::between(at(2025, 1, 1, 0), None, now).is_err());
        let p = Period::between(at(2026, 3, 1, 12), Some(at(2026, 3, 3, 0)), now).unwrap();
        assert_eq!(p.buckets().len(), 2);
    }
}

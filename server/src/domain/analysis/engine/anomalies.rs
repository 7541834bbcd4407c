//! Anomalies: robust baselines (median and MAD) per metric, seasonal when
//! the history allows: by hour of week with 14 days or more, by hour of day
//! with 3 days or more, flat otherwise. A point is scored by its robust
//! z-score, (value − expected) / (1.4826 × MAD), against the profile built
//! from the points before the scored window only.

use super::super::{
    findings::{Anomaly, Severity},
    history::Point,
    stats::{self, MAD_TO_SIGMA},
};
use chrono::{DateTime, Datelike, Duration, Timelike, Utc};
use std::collections::HashMap;

/// |z| from which a point is an anomaly (Iglewicz and Hoaglin's 3.5).
pub const THRESHOLD: f64 = 3.5;
/// |z| from which a point beyond everything the baseline usually reaches
/// is an anomaly: a wide, busy series (a CPU swinging between 5 and 65 %)
/// hides a jump to 100 % from the z-score alone, its MAD being a third of
/// its range. Being new already means a quarter of the range beyond it;
/// this floor only keeps a fraction of a point on a nearly flat series
/// (where the scale is the metric's minimum) from counting. At 2.0 a jump
/// to 97 % on that CPU (z ≈ 1.99) was missed.
const NOVEL_THRESHOLD: f64 = 1.5;
/// How far beyond the baseline's usual range, as a share of it, a value
/// must go to be new.
const NOVELTY_MARGIN: f64 = 0.25;
/// The usual range is the baseline's 5th–95th percentiles: with the 1st
/// and 99th, a single earlier spike in a day of 10-minute samples was the
/// 99th percentile, and made every later spike of the same height normal.
const USUAL_RANGE: (f64, f64) = (0.05, 0.95);
/// Points a seasonal bucket needs before it is trusted: two weeks give an
/// hour-of-week bucket two hourly averages, which is what the weekly
/// profile's 14 days promise.
fn min_per_bucket(season: Season) -> usize {
    match season {
        Season::HourOfWeek => 2,
        _ => 3,
    }
}
/// Anomalies kept per metric, the strongest.
const MAX_PER_METRIC: usize = 20;
/// Consecutive anomalous points closer than this are one anomaly.
const MERGE_GAP: Duration = Duration::minutes(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Season {
    Flat,
    HourOfDay,
    HourOfWeek,
}

fn bucket(season: Season, at: DateTime<Utc>) -> u32 {
    match season {
        Season::Flat => 0,
        Season::HourOfDay => at.hour(),
        Season::HourOfWeek => at.weekday().num_days_from_monday() * 24 + at.hour(),
    }
}

/// A baseline: median and MAD per bucket, the flat one as fallback.
pub struct Profile {
    pub season: Season,
    buckets: HashMap<u32, (f64, f64)>,
    flat: (f64, f64),
    /// Scale floor: the spread of the residuals over all buckets, so a
    /// bucket that happens to be flat does not make every point news.
    residual_scale: f64,
    /// Whether `residual_scale` was measured on finer data than the
    /// buckets (raw points around an hourly profile): then it is the noise
    /// to expect, in full.
    fine_residuals: bool,
    min_scale: f64,
}

impl Profile {
    pub fn build(baseline: &[Point], min_scale: f64) -> Option<Self> {
        let values: Vec<f64> = baseline.iter().map(|p| p.value).collect();
        let flat = stats::median_mad(&values)?;
        let span = match (baseline.first(), baseline.last()) {
            (Some(a), Some(b)) => b.at - a.at,
            _ => Duration::zero(),
        };
        let season = if span >= Duration::days(14) {
            Season::HourOfWeek
        } else if span >= Duration::days(3) {
            Season::HourOfDay
        } else {
            Season::Flat
        };
        let mut grouped: HashMap<u32, Vec<f64>> = HashMap::new();
        for p in baseline {
            grouped.entry(bucket(season, p.at)).or_default().push(p.value);
        }
        let buckets: HashMap<u32, (f64, f64)> = grouped
            .into_iter()
            .filter(|(_, xs)| xs.len() >= min_per_bucket(season))
            .filter_map(|(b, xs)| Some((b, stats::median_mad(&xs)?)))
            .collect();
        let residuals: Vec<f64> = baseline
            .iter()
            .map(|p| {
                let (m, _) = buckets.get(&bucket(season, p.at)).copied().unwrap_or(flat);
                (p.value - m).abs()
            })
            .collect();
        let residual_scale = MAD_TO_SIGMA * stats::median(&residuals).unwrap_or(0.0);
        Some(Self {
            season,
            buckets,
            flat,
            residual_scale,
            fine_residuals: false,
            min_scale,
        })
    }

    /// Measures the noise around the profile on `points` (raw samples,
    /// when the profile was built on hourly averages, which hide it).
    pub fn calibrate(&mut self, points: &[Point]) {
        let residuals: Vec<f64> = points
            .iter()
            .map(|p| (p.value - self.expect(p.at).0).abs())
            .collect();
        if let Some(m) = stats::median(&residuals) {
            self.residual_scale = MAD_TO_SIGMA * m;
            self.fine_residuals = true;
        }
    }

    /// Expected value, scale, and whether the expectation was seasonal.
    pub fn expect(&self, at: DateTime<Utc>) -> (f64, f64, bool) {
        let (expected, mad, seasonal) = match self.buckets.get(&bucket(self.season, at)) {
            Some((m, mad)) => (*m, *mad, self.season != Season::Flat),
            None => (self.flat.0, self.flat.1, false),
        };
        let share = if self.fine_residuals { 1.0 } else { 0.5 };
        let scale = (MAD_TO_SIGMA * mad)
            .max(share * self.residual_scale)
            .max(self.min_scale)
            .max(1e-9);
        (expected, scale, seasonal)
    }
}

/// Smallest spread worth alarming on, in the metric's unit.
pub fn min_scale(metric: &str) -> f64 {
    if metric.ends_with("_ms") {
        1.0
    } else {
        0.5
    }
}

pub fn severity(score: f64) -> Severity {
    match score.abs() {
        s if s >= 10.0 => Severity::Critical,
        s if s >= 6.0 => Severity::High,
        s if s >= 4.5 => Severity::Medium,
        _ => Severity::Low,
    }
}

/// Anomalies of `series` (oldest first) from `from` on, each scored against
/// the profile of the points before `from`; with `long` (hourly averages
/// over weeks, for a weekly profile) the expected values come from it and
/// the noise is measured on the points of `series` before `from`.
pub fn detect_with(
    metric: &str,
    series: &[Point],
    long: Option<&[Point]>,
    from: DateTime<Utc>,
) -> Vec<Anomaly> {
    let split = series.partition_point(|p| p.at < from);
    let (baseline, scored) = series.split_at(split);
    let profile = match long {
        Some(long) => {
            let before = &long[..long.partition_point(|p| p.at < from)];
            Profile::build(before, min_scale(metric)).map(|mut p| {
                if baseline.len() >= 10 {
                    p.calibrate(baseline);
                }
                p
            })
        }
        None if baseline.len() >= 10 => Profile::build(baseline, min_scale(metric)),
        None => None,
    };
    let Some(profile) = profile else {
        return Vec::new();
    };
    let values: Vec<f64> = baseline.iter().map(|p| p.value).collect();
    let range = match (
        stats::quantile(&values, USUAL_RANGE.0),
        stats::quantile(&values, USUAL_RANGE.1),
    ) {
        (Some(lo), Some(hi)) => {
            let margin = (NOVELTY_MARGIN * (hi - lo)).max(min_scale(metric));
            Some((lo - margin, hi + margin))
        }
        _ => None,
    };
    let mut found: Vec<Anomaly> = Vec::new();
    for p in scored {
        let (expected, scale, seasonal) = profile.expect(p.at);
        let score = (p.value - expected) / scale;
        let novel = range.is_some_and(|(lo, hi)| p.value < lo || p.value > hi);
        if score.abs() < THRESHOLD && !(novel && score.abs() >= NOVEL_THRESHOLD) {
            continue;
        }
        let anomaly = Anomaly {
            metric: metric.to_owned(),
            at: p.at,
            value: stats::round2(p.value),
            expected: stats::round2(expected),
            score: stats::round2(score),
            seasonal,
            // A value never seen before is at least worth a look.
            severity: if novel {
                severity(score).max(Severity::Medium)
            } else {
                severity(score)
            },
        };
        match found.last_mut() {
            // One excursion, one anomaly: keep its peak.
            Some(last) if p.at - last.at <= MERGE_GAP && last.score.signum() == score.signum() => {
                if score.abs() > last.score.abs() {
                    *last = anomaly;
                }
            }
            _ => found.push(anomaly),
        }
    }
    found.sort_by(|a, b| b.score.abs().total_cmp(&a.score.abs()));
    found.truncate(MAX_PER_METRIC);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn seasonal(days: i64, step_min: i64) -> Vec<Point> {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap(); // a Monday
        (0..days * 24 * 60 / step_min)
            .map(|i| {
                let at = t0 + Duration::minutes(i * step_min);
                // Busy working hours, quiet weekends, a little noise.
                let hour = at.hour() as f64;
                let weekend = at.weekday().num_days_from_monday() >= 5;
                let base = if weekend {
                    10.0
                } else {
                    20.0 + 40.0 * (-(hour - 14.0).powi(2) / 8.0).exp()
                };
                let noise = ((i * 7919) % 13) as f64 / 13.0 * 2.0 - 1.0;
                Point::new(at, base + noise)
            })
            .collect()
    }

    #[test]
    fn a_spike_in_a_seasonal_series_is_found_with_its_score() {
        let mut series = seasonal(21, 10);
        let from = series[series.len() - 24 * 6].at;
        // Sunday 03:00-ish in the last day: a weekday-afternoon level of 60
        // would be normal on Tuesday at 14:00 but not at night.
        let idx = series.len() - 6 * 20;
        series[idx].value = 55.0;
        let found = detect_with("cpu_percent", &series, None, from);
        assert_eq!(found.len(), 1, "{found:?}");
        let a = &found[0];
        assert_eq!(a.at, series[idx].at);
        assert!(a.seasonal);
        assert!((a.expected - 10.0).abs() < 1.5, "{a:?}");
        // Noise is ±1 (MAD ≈ 0.5): the score is large and high or worse.
        assert!(a.score > 10.0, "{a:?}");
        assert_eq!(a.severity, Severity::Critical);
    }

    #[test]
    fn the_daily_cycle_itself_is_not_an_anomaly() {
        let series = seasonal(21, 10);
        let from = series[series.len() - 24 * 6 * 3].at;
        assert_eq!(detect_with("cpu_percent", &series, None, from), Vec::new());
        // Flat (no seasonal profile): with only a day of history the
        // afternoon peak of day two looks abnormal against the median.
        let short = &series[..6 * 24 * 2];
        let found = detect_with("cpu_percent", short, None, short[6 * 24].at);
        assert!(!found.is_empty());
        assert!(found.iter().all(|a| !a.seasonal));
    }

    #[test]
    fn a_weekly_profile_from_hourly_averages_scores_raw_points() {
        let hourly = seasonal(21, 60);
        // The last four days in raw samples every 5 minutes, with a spike.
        let mut raw = seasonal(21, 5);
        let keep = raw.len() - 4 * 24 * 12;
        raw.drain(..keep);
        let from = raw[raw.len() - 24 * 12].at;
        let idx = raw.len() - 20 * 12;
        raw[idx].value = 55.0;
        let found = detect_with("cpu_percent", &raw, Some(&hourly), from);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].value, 55.0);
        assert!(found[0].seasonal && found[0].score > 10.0, "{:?}", found[0]);
    }

    #[test]
    fn a_jump_beyond_a_wide_series_range_is_new_even_at_a_modest_score() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        // The load simulator's CPU: 35 ± 30 on a 44-sample cycle.
        let mut series: Vec<Point> = (0..600)
            .map(|i| Point::new(t0 + Duration::minutes(i), 35.0 + 30.0 * (i as f64 / 7.0).sin()))
            .collect();
        series[550].value = 100.0;
        let found = detect_with("cpu_percent", &series, None, series[500].at);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].value, 100.0);
        assert!(
            found[0].score > 2.0 && found[0].score < THRESHOLD,
            "{:?}",
            found[0]
        );
        assert_eq!(found[0].severity, Severity::Medium);
    }

    #[test]
    fn an_earlier_spike_in_the_baseline_does_not_make_the_next_one_normal() {
        let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        // Two days of the simulator's CPU every 15 minutes, one spike in
        // the baseline day and one in the scored day.
        let mut series: Vec<Point> = (0..192)
            .map(|i| {
                Point::new(
                    t0 + Duration::minutes(15 * i),
                    35.0 + 30.0 * (i as f64 / 7.0).sin(),
                )
            })
            .collect();
        series[48].value = 97.5;
        series[144].value = 97.5;
        let found = detect_with("cpu_percent", &series, None, series[96].at);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].at, series[144].at);
    }

    #[test]
    fn profiles_follow_the_history_length() {
        let s = seasonal(21, 60);
        assert_eq!(Profile::build(&s, 0.5).unwrap().season, Season::HourOfWeek);
        assert_eq!(
            Profile::build(&s[..24 * 5], 0.5).unwrap().season,
            Season::HourOfDay
        );
        assert_eq!(Profile::build(&s[..24], 0.5).unwrap().season, Season::Flat);
    }
}

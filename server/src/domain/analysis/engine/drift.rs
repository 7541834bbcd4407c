//! Drift detection: a 7-day baseline (mean, standard deviation, p95) per
//! metric against the mean of the last hour. |z| above 2 is a warning,
//! above 3 critical (the `metric_baselines` defaults).

use super::super::{
    findings::{Drift, DriftSeverity},
    history::Point,
    stats::{self, round2},
};
use chrono::{DateTime, Duration, Utc};

pub const WARNING_Z: f64 = 2.0;
pub const CRITICAL_Z: f64 = 3.0;
/// The metrics drift detection follows.
pub const METRICS: [&str; 3] = ["cpu_percent", "ram_percent", "disk_latency_ms"];

pub fn severity(z: f64, warning: f64, critical: f64) -> DriftSeverity {
    match z.abs() {
        a if a > critical => DriftSeverity::Critical,
        a if a > warning => DriftSeverity::Warning,
        _ => DriftSeverity::None,
    }
}

/// The drift of `series` (raw points, oldest first) at `now`: the baseline
/// is the week before the last hour. `None` without data in both.
pub fn drift(metric: &str, series: &[Point], now: DateTime<Utc>) -> Option<Drift> {
    let hour_ago = now - Duration::hours(1);
    let week_ago = hour_ago - Duration::days(7);
    let baseline: Vec<f64> = series
        .iter()
        .filter(|p| p.at >= week_ago && p.at < hour_ago)
        .map(|p| p.value)
        .collect();
    let current: Vec<f64> = series
        .iter()
        .filter(|p| p.at >= hour_ago)
        .map(|p| p.value)
        .collect();
    if baseline.len() < 10 {
        return None;
    }
    let mean = stats::mean(&baseline)?;
    let sd = stats::stddev(&baseline)?;
    let now_value = stats::mean(&current)?;
    // A perfectly flat week would make any move infinite; half a unit is
    // the smallest spread worth a z-score.
    let z = (now_value - mean) / sd.max(0.5);
    Some(Drift {
        metric: metric.to_owned(),
        baseline_mean: round2(mean),
        baseline_stddev: round2(sd),
        baseline_p95: round2(stats::quantile(&baseline, 0.95)?),
        current_value: round2(now_value),
        z_score: round2(z),
        severity: severity(z, WARNING_Z, CRITICAL_Z),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_last_hour_is_scored_against_the_week_before() {
        let now = Utc.with_ymd_and_hms(2026, 2, 1, 12, 0, 0).unwrap();
        // A week alternating 30 and 40 (mean 35, sd 5), then the last hour.
        let series = |last: f64| -> Vec<Point> {
            (0..(7 * 24 * 12 + 12))
                .rev()
                .map(|i| {
                    let at = now - Duration::minutes(5 * i);
                    let v = if at >= now - Duration::hours(1) {
                        last
                    } else if i % 2 == 0 {
                        30.0
                    } else {
                        40.0
                    };
                    Point::new(at, v)
                })
                .collect()
        };
        let calm = drift("cpu_percent", &series(36.0), now).unwrap();
        assert!((calm.baseline_mean - 35.0).abs() < 0.1);
        assert!((calm.baseline_stddev - 5.0).abs() < 0.1);
        assert_eq!(calm.baseline_p95, 40.0);
        assert_eq!(calm.severity, DriftSeverity::None);
        let warm = drift("cpu_percent", &series(47.5), now).unwrap();
        assert!((warm.z_score - 2.5).abs() < 0.05);
        assert_eq!(warm.severity, DriftSeverity::Warning);
        let hot = drift("cpu_percent", &series(60.0), now).unwrap();
        assert_eq!(hot.severity, DriftSeverity::Critical);
        assert_eq!(drift("cpu_percent", &series(60.0)[..5], now), None);
    }
}

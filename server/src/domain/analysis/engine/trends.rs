//! Trends (mean, p95, p99, slope over 7 and 30 days), degradation (a slow
//! drift towards the critical threshold, with the date it is reached) and
//! capacity planning (growth and full date per volume and for RAM over 30,
//! 90 and 180 days). All are least-squares lines over the hourly series.

use super::super::{
    findings::{
        CapacityPlan, Degradation, Direction, DiskForecast, GrowthWindow, MetricTrend, RamForecast, Severity,
    },
    history::{Point, Volume},
    stats::{self, round2},
};
use super::text;
use chrono::{DateTime, Duration, Utc};
use entities::enums::Language;

/// The critical threshold degradation predicts: 90 % for CPU, RAM and
/// every volume.
pub const CRITICAL_PERCENT: f64 = 90.0;
/// Hours a window needs before its line means anything.
const MIN_HOURS: usize = 24;

fn window(series: &[Point], now: DateTime<Utc>, days: i64) -> Vec<(DateTime<Utc>, f64)> {
    let from = now - Duration::days(days);
    series
        .iter()
        .filter(|p| p.at >= from)
        .map(|p| (p.at, p.value))
        .collect()
}

/// A change of more than 5 units (or 10 % of the mean, if larger) over
/// the window is a direction; higher is worse for every metric we trend.
fn direction(slope_per_day: f64, days: f64, mean: f64) -> Direction {
    let change = slope_per_day * days;
    let significant = 5.0f64.max(0.1 * mean.abs());
    if change > significant {
        Direction::Declining
    } else if change < -significant {
        Direction::Improving
    } else {
        Direction::Stable
    }
}

/// Mean, p95, p99 and slope of `series` over the last `days`.
pub fn trend(metric: &str, series: &[Point], now: DateTime<Utc>, days: u32) -> Option<MetricTrend> {
    let points = window(series, now, i64::from(days));
    let values: Vec<f64> = points.iter().map(|(_, v)| *v).collect();
    let mean = stats::mean(&values)?;
    let slope = stats::fit(&points, now).map_or(0.0, |f| f.slope_per_day);
    Some(MetricTrend {
        metric: metric.to_owned(),
        window_days: days,
        mean: round2(mean),
        p95: round2(stats::quantile(&values, 0.95)?),
        p99: round2(stats::quantile(&values, 0.99)?),
        slope_per_day: round2(slope),
        direction: direction(slope, f64::from(days), mean),
        samples: values.len() as u64,
    })
}

fn severity_in(days: Option<f64>) -> Severity {
    match days {
        Some(d) if d <= 7.0 => Severity::Critical,
        Some(d) if d <= 30.0 => Severity::High,
        Some(d) if d <= 90.0 => Severity::Medium,
        _ => Severity::Low,
    }
}

/// A slow rise of `series` (hourly, percent) over the last 30 days towards
/// [`CRITICAL_PERCENT`]. `None` when it is not rising, or the line explains
/// too little of the series to be called a drift.
pub fn degradation(metric: &str, series: &[Point], now: DateTime<Utc>) -> Option<Degradation> {
    let points = window(series, now, 30);
    if points.len() < MIN_HOURS {
        return None;
    }
    let fit = stats::fit(&points, now)?;
    let span_days = (points.last()?.0 - points.first()?.0).num_hours() as f64 / 24.0;
    // A rise of at least a point over the span, and a line that carries
    // most of the movement: noise and daily cycles are not degradation.
    if fit.slope_per_day * span_days.max(1.0) < 1.0 || fit.r_squared < 0.5 {
        return None;
    }
    let days = fit.days_until(CRITICAL_PERCENT);
    Some(Degradation {
        metric: metric.to_owned(),
        current: round2(fit.at_reference),
        slope_per_day: round2(fit.slope_per_day),
        critical_threshold: CRITICAL_PERCENT,
        predicted_critical_at: days
            .filter(|d| *d > 0.0)
            .map(|d| now + Duration::seconds((d * 86_400.0) as i64)),
        days_until_critical: days.map(round2),
        r_squared: round2(fit.r_squared),
        severity: severity_in(days),
    })
}

fn growth_windows(series: &[Point], now: DateTime<Utc>) -> Vec<(GrowthWindow, Option<stats::Fit>)> {
    [30u32, 90, 180]
        .into_iter()
        .map(|days| {
            let points = window(series, now, i64::from(days));
            // A longer window with no more data than the shorter one says
            // nothing new.
            let fit = stats::fit(&points, now).filter(|_| points.len() >= MIN_HOURS);
            let full = fit.and_then(|f| f.days_until(100.0));
            (
                GrowthWindow {
                    window_days: days,
                    growth_per_day: round2(fit.map_or(0.0, |f| f.slope_per_day)),
                    predicted_full_date: full
                        .map(|d| (now + Duration::seconds((d * 86_400.0) as i64)).date_naive()),
                    days_until_critical: fit.and_then(|f| f.days_until(CRITICAL_PERCENT)).map(round2),
                    samples: points.len() as u64,
                },
                fit,
            )
        })
        .collect()
}

/// The window the forecast stands on: the shortest with enough data (the
/// most recent behaviour), the longest available otherwise.
fn primary(windows: &[(GrowthWindow, Option<stats::Fit>)]) -> Option<&(GrowthWindow, Option<stats::Fit>)> {
    windows.iter().find(|(_, f)| f.is_some())
}

pub fn disk_forecast(volume: &Volume, series: &[Point], now: DateTime<Utc>, lang: Language) -> DiskForecast {
    let windows = growth_windows(series, now);
    let (full, critical, per_day) = match primary(&windows) {
        Some((w, Some(f))) => (w.predicted_full_date, w.days_until_critical, f.slope_per_day),
        _ => (None, None, 0.0),
    };
    let gb_per_month = per_day / 100.0 * volume.total_gb * 30.0;
    DiskForecast {
        mount_point: volume.mount_point.clone(),
        total_gb: round2(volume.total_gb),
        current_usage_percent: round2(volume.used_percent),
        growth_rate_gb_per_month: round2(gb_per_month),
        windows: windows.into_iter().map(|(w, _)| w).collect(),
        predicted_full_date: full,
        days_until_critical: critical,
        recommendation: text::disk_advice(lang, volume.used_percent, critical, gb_per_month),
    }
}

pub fn ram_forecast(series: &[Point], now: DateTime<Utc>, lang: Language) -> Option<RamForecast> {
    let month: Vec<f64> = window(series, now, 30).into_iter().map(|(_, v)| v).collect();
    let avg = stats::mean(&month)?;
    let windows = growth_windows(series, now);
    let (full, slope) = match primary(&windows) {
        Some((w, Some(f))) => (w.predicted_full_date, f.slope_per_day),
        _ => (None, 0.0),
    };
    Some(RamForecast {
        avg_usage_percent: round2(avg),
        trend: direction(slope, 30.0, avg),
        windows: windows.into_iter().map(|(w, _)| w).collect(),
        predicted_full_date: full,
        recommendation: text::ram_advice(lang, avg, slope).to_owned(),
    })
}

pub fn capacity(
    volumes: &[Volume],
    disks: &std::collections::BTreeMap<String, Vec<Point>>,
    ram: &[Point],
    now: DateTime<Utc>,
    lang: Language,
) -> CapacityPlan {
    CapacityPlan {
        disks: volumes
            .iter()
            .map(|v| {
                let series = disks.get(&v.mount_point).map_or(&[][..], Vec::as_slice);
                disk_forecast(v, series, now, lang)
            })
            .collect(),
        ram: ram_forecast(ram, now, lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
    }

    /// Hourly points over `days` ending now, `f(days_ago)`.
    fn hourly(days: i64, f: impl Fn(f64) -> f64) -> Vec<Point> {
        (0..days * 24)
            .rev()
            .map(|h| Point::new(now() - Duration::hours(h), f(h as f64 / 24.0)))
            .collect()
    }

    #[test]
    fn a_linear_fill_predicts_the_critical_and_full_dates_within_a_day() {
        // 0.5 %/day from 60 % thirty days ago: 75 % now, 90 % in 30 days,
        // 100 % in 50, with a little daily wobble.
        let series = hourly(30, |ago| {
            60.0 + 0.5 * (30.0 - ago) + 0.3 * (ago * std::f64::consts::TAU).sin()
        });
        let d = degradation("disk_percent:/", &series, now()).unwrap();
        let expected = now() + Duration::days(30);
        let at = d.predicted_critical_at.unwrap();
        assert!((at - expected).num_hours().abs() < 24, "{at} vs {expected}");
        assert!((d.slope_per_day - 0.5).abs() < 0.02);
        assert_eq!(d.severity, Severity::High);

        let volume = Volume {
            mount_point: "/".into(),
            total_gb: 200.0,
            used_gb: 150.0,
            used_percent: 75.0,
        };
        let f = disk_forecast(&volume, &series, now(), Language::En);
        let full = f.predicted_full_date.unwrap();
        let expected_full = (now() + Duration::days(50)).date_naive();
        assert!(
            (full - expected_full).num_days().abs() <= 1,
            "{full} vs {expected_full}"
        );
        assert!((f.days_until_critical.unwrap() - 30.0).abs() < 1.0);
        // 0.5 %/day of 200 GB: 1 GB a day, 30 a month.
        assert!(
            (f.growth_rate_gb_per_month - 30.0).abs() < 1.0,
            "{}",
            f.growth_rate_gb_per_month
        );
        assert_eq!(f.windows.len(), 3);
        assert!(!f.recommendation.is_empty());
    }

    #[test]
    fn a_flat_or_noisy_series_is_not_degrading() {
        let flat = hourly(30, |ago| 40.0 + 10.0 * (ago * std::f64::consts::TAU).sin());
        assert_eq!(degradation("cpu_percent", &flat, now()), None);
        let falling = hourly(30, |ago| 40.0 + ago);
        assert_eq!(degradation("ram_percent", &falling, now()), None);
        let above = hourly(30, |ago| 92.0 + 0.2 * (30.0 - ago));
        let d = degradation("ram_percent", &above, now()).unwrap();
        assert_eq!(d.days_until_critical, Some(0.0));
        assert_eq!(d.predicted_critical_at, None);
        assert_eq!(d.severity, Severity::Critical);
    }

    #[test]
    fn trends_give_percentiles_and_slope_per_window() {
        // 0..100 over 30 days, one value per hour.
        let series = hourly(30, |ago| 100.0 * (30.0 - ago) / 30.0);
        let week = trend("cpu_percent", &series, now(), 7).unwrap();
        assert_eq!(week.samples, 7 * 24 + 1, "both ends of the window");
        assert!((week.slope_per_day - 3.33).abs() < 0.01);
        // The week runs from 76.67 to 100.
        assert!((week.p95 - 98.83).abs() < 0.05, "{}", week.p95);
        assert!((week.p99 - 99.77).abs() < 0.05, "{}", week.p99);
        assert_eq!(week.direction, Direction::Declining);
        let month = trend("cpu_percent", &series, now(), 30).unwrap();
        assert!((month.mean - 50.0).abs() < 0.2);
        assert!((month.p95 - 95.0).abs() < 0.2);
        assert!(trend("cpu_percent", &[], now(), 7).is_none());
    }
}

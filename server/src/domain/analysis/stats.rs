//! The few statistics every section uses, on plain slices.

use chrono::{DateTime, Utc};

/// 1.4826 × MAD estimates the standard deviation of normal data.
pub const MAD_TO_SIGMA: f64 = 1.4826;

pub fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Population standard deviation.
pub fn stddev(xs: &[f64]) -> Option<f64> {
    let m = mean(xs)?;
    Some((xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / xs.len() as f64).sqrt())
}

/// The `q` quantile (0–1) with linear interpolation between ranks.
pub fn quantile(xs: &[f64], q: f64) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(quantile_sorted(&sorted, q))
}

fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let rank = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

pub fn median(xs: &[f64]) -> Option<f64> {
    quantile(xs, 0.5)
}

/// Median and median absolute deviation.
pub fn median_mad(xs: &[f64]) -> Option<(f64, f64)> {
    let m = median(xs)?;
    let deviations: Vec<f64> = xs.iter().map(|x| (x - m).abs()).collect();
    Some((m, median(&deviations)?))
}

/// A least-squares line through a time series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// Units per day.
    pub slope_per_day: f64,
    /// The line's value at the reference instant.
    pub at_reference: f64,
    pub r_squared: f64,
    pub n: usize,
}

impl Fit {
    /// Days from the reference instant until the line reaches `level`;
    /// `None` when it moves away from it or is flat. Zero when it is
    /// already there.
    pub fn days_until(&self, level: f64) -> Option<f64> {
        if self.at_reference >= level {
            return Some(0.0);
        }
        (self.slope_per_day > 1e-9).then(|| (level - self.at_reference) / self.slope_per_day)
    }
}

/// Fits `value = a + b·days` with days counted from `reference`.
pub fn fit(points: &[(DateTime<Utc>, f64)], reference: DateTime<Utc>) -> Option<Fit> {
    if points.len() < 3 {
        return None;
    }
    let xs: Vec<f64> = points
        .iter()
        .map(|(at, _)| (*at - reference).num_seconds() as f64 / 86_400.0)
        .collect();
    let ys: Vec<f64> = points.iter().map(|(_, v)| *v).collect();
    let (mx, my) = (mean(&xs)?, mean(&ys)?);
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if sxx <= 1e-12 {
        return None;
    }
    let sxy: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let syy: f64 = ys.iter().map(|y| (y - my).powi(2)).sum();
    let slope = sxy / sxx;
    let r_squared = if syy <= 1e-12 {
        1.0
    } else {
        (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0)
    };
    Some(Fit {
        slope_per_day: slope,
        at_reference: my - slope * mx,
        r_squared,
        n: points.len(),
    })
}

/// Rounds for display and storage: findings are read by people.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn quantiles_interpolate_and_mad_is_robust() {
        let xs = [1.0, 2.0, 3.0, 4.0, 100.0];
        assert_eq!(median(&xs), Some(3.0));
        assert_eq!(median_mad(&xs), Some((3.0, 1.0)));
        assert_eq!(quantile(&[0.0, 10.0], 0.95), Some(9.5));
        assert_eq!(stddev(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), Some(2.0));
        assert_eq!(mean(&[]), None);
    }

    #[test]
    fn a_line_is_fitted_exactly_and_crosses_where_it_should() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let points: Vec<_> = (0..=10)
            .map(|d| (t0 + Duration::days(d), 60.0 + 0.5 * d as f64))
            .collect();
        let f = fit(&points, t0 + Duration::days(10)).unwrap();
        assert!((f.slope_per_day - 0.5).abs() < 1e-9);
        assert!((f.at_reference - 65.0).abs() < 1e-9);
        assert!((f.r_squared - 1.0).abs() < 1e-9);
        assert!((f.days_until(90.0).unwrap() - 50.0).abs() < 1e-9);
        assert_eq!(f.days_until(60.0), Some(0.0));
        let falling: Vec<_> = points.iter().map(|(t, v)| (*t, 100.0 - v)).collect();
        assert_eq!(fit(&falling, t0).unwrap().days_until(90.0), None);
    }
}

//! Streaming anomaly score for one series, cheap enough to run on every
//! sample of every machine.
//!
//! Four stages, each using only the points already seen:
//! 1. a robust deviation: how many (MAD-based) standard deviations the value
//!    sits from the median of a sliding window, and the same for the step
//!    from the previous value (a level shift or a sudden flatline shows
//!    there first);
//! 2. an anomaly likelihood, after Numenta's: the short-term average of the
//!    deviation is compared with the long-run distribution of that average,
//!    so a series that is always noisy stops alarming and a quiet one
//!    alarms on a small, sustained change. The test is two-sided: a
//!    deviation far *below* its usual level (the series went flat) counts
//!    too. The tail probability is put on a log scale so that 0.5 means
//!    "1 in 10^20" and 1.0 "1 in 10^40": a shorter scale (10^10) tied
//!    many distinct events at exactly 1, which no threshold can then rank;
//! 3. a daily profile (`seasonal`): the residual against what the series
//!    usually reads at this time of day gets its own likelihood, once two
//!    days are seen and only where the profile explains the series. A
//!    missing nightly peak, or a flatline at noon, sits inside the day's
//!    range and shows nowhere else;
//! 4. novelty: a value beyond everything seen so far (by a margin of the
//!    range) is an anomaly whatever the likelihood says.

mod seasonal;
mod window;

use super::stats::MAD_TO_SIGMA;
use chrono::{DateTime, Utc};
use seasonal::DailyProfile;
use std::collections::VecDeque;
use window::SortedWindow;

/// The detector's few knobs, in points (samples), not time.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Points in the sliding baseline (median/MAD).
    pub window: usize,
    /// Points averaged before judging the deviation.
    pub short: usize,
    /// Horizon, in points, of the long-run mean and variance of that average.
    pub long: usize,
    /// Points seen before any score above zero.
    pub warmup: usize,
    /// Margin beyond the all-time range, as a share of it, that counts as new.
    pub novelty_margin: f64,
    /// Smallest spread, in the metric's unit, that is worth alarming on (a
    /// CPU moving by a tenth of a point is never news, however flat it was).
    pub min_scale: f64,
}

impl Params {
    /// The settings for a metric by name; unknown names get the defaults,
    /// which assume nothing about the unit.
    pub fn for_metric(metric: Option<&str>) -> Self {
        let percent = ["cpu", "ram", "disk", "memory", "swap", "iowait"];
        let is_percent = metric.is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            percent.iter().any(|p| m.starts_with(p)) && !m.contains("latency") && !m.contains("bytes")
        });
        Self {
            min_scale: if is_percent { 0.5 } else { 0.0 },
            ..Self::default()
        }
    }
}

impl Default for Params {
    fn default() -> Self {
        Self {
            window: 500,
            short: 10,
            long: 8640,
            warmup: 50,
            novelty_margin: 0.05,
            min_scale: 0.0,
        }
    }
}

/// Deviations are capped so that one absurd value cannot dominate the
/// long-run variance for the whole horizon.
const MAX_DEVIATION: f64 = 50.0;
/// The daily profile counts once its residuals spread less than this
/// share of the values' spread.
const SEASONAL_GAIN: f64 = 0.5;
/// The log-likelihood scale: a tail probability of 1e-40 scores 1.
const TAIL_FLOOR: f64 = 1e-40;

#[derive(Debug, Clone)]
pub struct Detector {
    params: Params,
    values: SortedWindow,
    steps: SortedWindow,
    previous: Option<f64>,
    plain: Likelihood,
    daily_likelihood: Likelihood,
    daily: DailyProfile,
    seen: usize,
    range: Option<(f64, f64)>,
}

impl Detector {
    pub fn new(params: Params) -> Self {
        let params = Params {
            window: params.window.max(8),
            short: params.short.max(1),
            long: params.long.max(2),
            ..params
        };
        Self {
            values: SortedWindow::new(params.window),
            steps: SortedWindow::new(params.window),
            previous: None,
            plain: Likelihood::new(params.short),
            daily_likelihood: Likelihood::new(params.short),
            daily: DailyProfile::new(params.window),
            seen: 0,
            range: None,
            params,
        }
    }

    /// The anomaly score of `value` in [0, 1], then `value` joins the
    /// history. A value that is not finite scores 0 and is not learnt.
    pub fn score(&mut self, timestamp: DateTime<Utc>, value: f64) -> f64 {
        if !value.is_finite() {
            return 0.0;
        }
        self.seen += 1;
        let deviation = self.deviation(value);
        let seasonal = self.seasonal_deviation(timestamp, value);
        self.daily.learn(timestamp, value);
        // The step between two huge finite values can overflow.
        let step = self.previous.map(|p| value - p).filter(|s| s.is_finite());
        self.values.push(value);
        if let Some(step) = step {
            self.steps.push(step);
        }
        self.previous = Some(value);

        let long = self.params.long;
        let mut likelihood = self.plain.score(deviation, long);
        if let Some(seasonal) = seasonal {
            likelihood = likelihood.max(self.daily_likelihood.score(seasonal, long));
        }
        let novelty = self.novelty(value);
        if self.seen <= self.params.warmup {
            return 0.0;
        }
        likelihood.max(novelty).clamp(0.0, 1.0)
    }

    /// Robust z-score of the value and of its step, the larger of the two.
    fn deviation(&self, value: f64) -> f64 {
        let min_history = self.params.window.min(20);
        if self.values.len() < min_history {
            return 0.0;
        }
        let floor = self.params.min_scale;
        let of_value = robust_z(&self.values, value, floor);
        let of_step = match self.previous {
            Some(p) if self.steps.len() >= min_history => robust_z(&self.steps, value - p, floor),
            _ => 0.0,
        };
        of_value.max(of_step).min(MAX_DEVIATION)
    }

    /// The deviation from the daily profile, where the profile explains
    /// the series (its residuals spread much less than the values); `None`
    /// otherwise, so a series with no daily rhythm is judged as before.
    fn seasonal_deviation(&self, at: DateTime<Utc>, value: f64) -> Option<f64> {
        if !self.daily.mature(at) {
            return None;
        }
        let (values, residuals) = (spread(&self.values)?, self.daily.residual_spread()?);
        (residuals < SEASONAL_GAIN * values).then(|| {
            self.daily
                .deviation(at, value, self.params.min_scale)
                .min(MAX_DEVIATION)
        })
    }

    fn novelty(&mut self, value: f64) -> f64 {
        let (lo, hi) = self.range.unwrap_or((value, value));
        let margin = (self.params.novelty_margin * (hi - lo)).max(self.params.min_scale);
        let new = self.seen > self.params.warmup && (value > hi + margin || value < lo - margin);
        self.range = Some((lo.min(value), hi.max(value)));
        if new {
            1.0
        } else {
            0.0
        }
    }
}

/// |value − median| in robust standard deviations. The scale has floors so
/// that a constant or nearly constant window does not divide by zero.
fn robust_z(window: &SortedWindow, value: f64, floor: f64) -> f64 {
    let Some((median, mad)) = window.median_mad() else {
        return 0.0;
    };
    let spread = match (window.quantile(0.02), window.quantile(0.98)) {
        (Some(lo), Some(hi)) => hi - lo,
        _ => 0.0,
    };
    let scale = (MAD_TO_SIGMA * mad)
        .max(1e-3 * spread)
        .max(1e-9 * median.abs().max(1.0))
        .max(floor);
    let z = (value - median).abs() / scale;
    // inf/inf on values near f64::MAX: no evidence either way.
    if z.is_nan() {
        0.0
    } else {
        z
    }
}

/// The 10–90 % interquantile range: unlike the MAD, it sees both levels
/// of a two-level series (a machine idle at night and busy by day).
fn spread(window: &SortedWindow) -> Option<f64> {
    match (window.quantile(0.1), window.quantile(0.9)) {
        (Some(lo), Some(hi)) => Some(hi - lo),
        _ => None,
    }
}

/// An anomaly likelihood, after Numenta's: the short-term average of a
/// deviation is compared with the long-run distribution of that average.
#[derive(Debug, Clone)]
struct Likelihood {
    short: usize,
    recent: VecDeque<f64>,
    recent_sum: f64,
    mean: f64,
    variance: f64,
    seen: usize,
}

impl Likelihood {
    fn new(short: usize) -> Self {
        Self {
            short,
            recent: VecDeque::with_capacity(short + 1),
            recent_sum: 0.0,
            mean: 0.0,
            variance: 0.0,
            seen: 0,
        }
    }

    fn score(&mut self, deviation: f64, long: usize) -> f64 {
        self.seen += 1;
        self.recent.push_back(deviation);
        self.recent_sum += deviation;
        if self.recent.len() > self.short {
            self.recent_sum -= self.recent.pop_front().unwrap_or(0.0);
        }
        let average = self.recent_sum / self.recent.len() as f64;
        // Exponentially weighted mean and variance: O(1) state, and the
        // first points weigh as in a plain average.
        let alpha = 1.0 / self.seen.min(long) as f64;
        let delta = average - self.mean;
        self.mean += alpha * delta;
        self.variance = (1.0 - alpha) * (self.variance + alpha * delta * delta);
        let sigma = self.variance.sqrt().max(1e-6);
        // Two-sided: a series gone unusually calm (a stuck sensor, a
        // flatline where there was a cycle) is as much news as a jumpy one.
        let upper = normal_tail((average - self.mean) / sigma);
        let tail = 2.0 * upper.min(1.0 - upper);
        (tail + TAIL_FLOOR).ln() / TAIL_FLOOR.ln()
    }
}

/// P(Z > z) for a standard normal Z.
fn normal_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' Chebyshev fit,
/// relative error below 1.2e-7 everywhere: ample for a score).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests;

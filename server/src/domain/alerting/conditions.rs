//! The arithmetic of alert rules, as pure functions: which values a metric
//! may take, when a threshold is crossed, and what a sample says about each
//! metric.

use crate::domain::{live::Figures, DomainError};
use chrono::Duration;
use entities::enums::{AlertMetric, AlertOperator, AlertType};

/// The spec's floor and default for a rule's cooldown.
pub const MIN_COOLDOWN_MINUTES: i32 = 5;
pub const DEFAULT_COOLDOWN_MINUTES: i32 = 60;
/// A week: longer cooldowns hide real incidents.
pub const MAX_COOLDOWN_MINUTES: i32 = 7 * 24 * 60;
/// Alertes Intelligentes: at most one alert per machine and metric in this
/// window, whatever the rules.
pub const NOISE_WINDOW: Duration = Duration::minutes(15);
/// `==` on measured floats: equal within this.
const EPSILON: f64 = 1e-6;

/// The values a threshold on `metric` may take.
pub fn range(metric: AlertMetric) -> (f64, f64) {
    match metric {
        AlertMetric::Cpu | AlertMetric::Ram | AlertMetric::Disk => (0.0, 100.0),
        AlertMetric::Temperature => (-50.0, 150.0),
        // One minute to one year.
        AlertMetric::OfflineMinutes => (1.0, 525_600.0),
    }
}

/// A finite threshold within the metric's range.
pub fn check_threshold(metric: AlertMetric, threshold: f64) -> Result<f64, DomainError> {
    let (lo, hi) = range(metric);
    if !threshold.is_finite() || threshold < lo || threshold > hi {
        return Err(DomainError::invalid(
            "threshold",
            format!("must be a number between {lo} and {hi} for this metric"),
        ));
    }
    Ok(threshold)
}

pub fn check_cooldown(minutes: Option<i32>) -> Result<i32, DomainError> {
    let m = minutes.unwrap_or(DEFAULT_COOLDOWN_MINUTES);
    if !(MIN_COOLDOWN_MINUTES..=MAX_COOLDOWN_MINUTES).contains(&m) {
        return Err(DomainError::invalid(
            "cooldownMinutes",
            format!("must be between {MIN_COOLDOWN_MINUTES} and {MAX_COOLDOWN_MINUTES}"),
        ));
    }
    Ok(m)
}

/// Whether `value` is on the alerting side of the threshold.
pub fn holds(op: AlertOperator, value: f64, threshold: f64) -> bool {
    match op {
        AlertOperator::Gt => value > threshold,
        AlertOperator::Lt => value < threshold,
        AlertOperator::Gte => value >= threshold,
        AlertOperator::Lte => value <= threshold,
        AlertOperator::Eq => (value - threshold).abs() < EPSILON,
    }
}

/// The operator as the spec writes it.
pub fn symbol(op: AlertOperator) -> &'static str {
    match op {
        AlertOperator::Gt => ">",
        AlertOperator::Lt => "<",
        AlertOperator::Gte => ">=",
        AlertOperator::Lte => "<=",
        AlertOperator::Eq => "==",
    }
}

/// The notification type a rule on `metric` sends.
pub fn alert_type(metric: AlertMetric) -> AlertType {
    match metric {
        AlertMetric::Cpu => AlertType::HighCpu,
        AlertMetric::Ram => AlertType::HighRam,
        AlertMetric::Disk => AlertType::DiskCritical,
        AlertMetric::Temperature => AlertType::HighTemperature,
        AlertMetric::OfflineMinutes => AlertType::MachineOffline,
    }
}

/// The metric values one sample carries: CPU, RAM and CPU temperature from
/// the metrics collector, the fullest volume from the storage collector.
pub fn values(figures: &Figures) -> Vec<(AlertMetric, f64)> {
    match figures {
        Figures::Metrics {
            cpu_percent,
            ram_percent,
            cpu_temp,
            ..
        } => {
            let mut v = vec![(AlertMetric::Cpu, *cpu_percent), (AlertMetric::Ram, *ram_percent)];
            if let Some(t) = cpu_temp {
                v.push((AlertMetric::Temperature, *t));
            }
            v
        }
        Figures::Storage { fullest_percent, .. } => vec![(AlertMetric::Disk, *fullest_percent)],
        Figures::Network { .. } | Figures::StorageHealth { .. } => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operator_compares_as_written() {
        assert!(holds(AlertOperator::Gt, 90.1, 90.0));
        assert!(!holds(AlertOperator::Gt, 90.0, 90.0));
        assert!(holds(AlertOperator::Gte, 90.0, 90.0));
        assert!(holds(AlertOperator::Lt, 4.0, 5.0));
        assert!(holds(AlertOperator::Lte, 5.0, 5.0));
        assert!(holds(AlertOperator::Eq, 0.1 + 0.2, 0.3));
        assert!(!holds(AlertOperator::Eq, 0.31, 0.3));
    }

    #[test]
    fn thresholds_must_be_finite_and_in_range() {
        assert!(check_threshold(AlertMetric::Cpu, 90.0).is_ok());
        assert!(check_threshold(AlertMetric::Cpu, 100.5).is_err());
        assert!(check_threshold(AlertMetric::Ram, f64::NAN).is_err());
        assert!(check_threshold(AlertMetric::Disk, f64::INFINITY).is_err());
        assert!(check_threshold(AlertMetric::Temperature, 95.0).is_ok());
        assert!(check_threshold(AlertMetric::OfflineMinutes, 0.0).is_err());
        assert!(check_threshold(AlertMetric::OfflineMinutes, 15.0).is_ok());
    }

    #[test]
    fn cooldown_defaults_to_an_hour_and_refuses_under_five_minutes() {
        assert_eq!(check_cooldown(None).unwrap(), 60);
        assert_eq!(check_cooldown(Some(5)).unwrap(), 5);
        assert!(check_cooldown(Some(4)).is_err());
    }

    #[test]
    fn samples_name_their_metrics() {
        let m = Figures::Metrics {
            cpu_percent: 91.0,
            ram_percent: 40.0,
            uptime_seconds: 1,
            cpu_temp: None,
        };
        assert_eq!(
            values(&m),
            vec![(AlertMetric::Cpu, 91.0), (AlertMetric::Ram, 40.0)]
        );
        let s = Figures::Storage {
            fullest_mount: "/".into(),
            fullest_percent: 97.0,
        };
        assert_eq!(values(&s), vec![(AlertMetric::Disk, 97.0)]);
    }
}

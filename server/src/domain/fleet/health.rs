//! The machine health score (0-100): 100 minus penalties read from the
//! latest samples. A pure function of [`Inputs`], so dashboards, the
//! ingest updater and tests agree on one table of weights:
//!
//! | input                          | penalty                                  |
//! |--------------------------------|------------------------------------------|
//! | CPU                            | ≥ 95 %: 15, ≥ 85 %: 10, ≥ 75 %: 5         |
//! | RAM                            | ≥ 95 %: 15, ≥ 90 %: 10, ≥ 80 %: 5         |
//! | fullest volume                 | ≥ 95 %: 25, ≥ 90 %: 15, ≥ 80 %: 5         |
//! | S.M.A.R.T.                     | a failing disk: 30, a warning: 10        |
//! | OS below the prerequisites     | 10                                       |
//! | security risks (after overrides, disk health excluded: counted above) | critical 10, high 5, medium 2, low 1; at most 25 |
//! | critical system events, 24 h   | 2 each; at most 10                       |
//!
//! Inputs never reported cost nothing: a machine that only sends
//! heartbeats keeps 100 unless its OS is out of date.

use super::risks::{Risk, Severity};

/// The disks' S.M.A.R.T. state, worst first wins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Smart {
    #[default]
    Unknown,
    Healthy,
    Warning,
    Failing,
}

impl Smart {
    /// One disk's report: a predicted failure or `critical` fails,
    /// `warning` warns; virtual and unavailable disks say nothing.
    pub fn of_disk(status: &str, predicted_failure: bool) -> Self {
        if predicted_failure || status.eq_ignore_ascii_case("critical") {
            Self::Failing
        } else if status.eq_ignore_ascii_case("warning") {
            Self::Warning
        } else if status.eq_ignore_ascii_case("healthy") {
            Self::Healthy
        } else {
            Self::Unknown
        }
    }
}

/// Effective risks by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RiskCounts {
    pub critical: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
}

impl RiskCounts {
    /// Counts risks after overrides (accepted ones drop out), leaving out
    /// disk-health risks, which [`Smart`] already weighs.
    pub fn of(risks: &[Risk]) -> Self {
        let mut c = Self::default();
        for r in risks.iter().filter(|r| !r.key.starts_with("smart:")) {
            match r.effective {
                Some(Severity::Critical) => c.critical += 1,
                Some(Severity::High) => c.high += 1,
                Some(Severity::Medium) => c.medium += 1,
                Some(Severity::Low) => c.low += 1,
                None => {}
            }
        }
        c
    }
}

/// What the score is computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Inputs {
    pub cpu_percent: Option<f64>,
    pub ram_percent: Option<f64>,
    pub fullest_disk_percent: Option<f64>,
    pub smart: Smart,
    pub os_compliant: bool,
    pub risks: RiskCounts,
    pub critical_events_24h: u32,
}

impl Default for Inputs {
    fn default() -> Self {
        Self {
            cpu_percent: None,
            ram_percent: None,
            fullest_disk_percent: None,
            smart: Smart::Unknown,
            os_compliant: true,
            risks: RiskCounts::default(),
            critical_events_24h: 0,
        }
    }
}

/// The penalty of the first step `value` reaches, steps highest first.
fn step(value: Option<f64>, steps: &[(f64, i32)]) -> i32 {
    let Some(v) = value else { return 0 };
    steps.iter().find(|(at, _)| v >= *at).map_or(0, |(_, p)| *p)
}

/// The score, 0-100.
pub fn score(i: &Inputs) -> i32 {
    let risks = &i.risks;
    let risk_penalty = (risks.critical * 10 + risks.high * 5 + risks.medium * 2 + risks.low).min(25) as i32;
    let penalty = step(i.cpu_percent, &[(95.0, 15), (85.0, 10), (75.0, 5)])
        + step(i.ram_percent, &[(95.0, 15), (90.0, 10), (80.0, 5)])
        + step(i.fullest_disk_percent, &[(95.0, 25), (90.0, 15), (80.0, 5)])
        + match i.smart {
            Smart::Failing => 30,
            Smart::Warning => 10,
            Smart::Healthy | Smart::Unknown => 0,
        }
        + if i.os_compliant { 0 } else { 10 }
        + risk_penalty
        + (i.critical_events_24h * 2).min(10) as i32;
    (100 - penalty).clamp(0, 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn risk(key: &str, effective: Option<Severity>) -> Risk {
        Risk {
            key: key.into(),
            title: String::new(),
            detected: effective.unwrap_or(Severity::High),
            effective,
            override_id: None,
            override_reason: None,
        }
    }

    #[test]
    fn a_quiet_machine_scores_100_and_unreported_inputs_cost_nothing() {
        assert_eq!(score(&Inputs::default()), 100);
        let calm = Inputs {
            cpu_percent: Some(74.9),
            ram_percent: Some(79.9),
            fullest_disk_percent: Some(79.9),
            smart: Smart::Healthy,
            ..Inputs::default()
        };
        assert_eq!(score(&calm), 100);
    }

    #[test]
    fn each_input_weighs_as_documented_at_its_boundaries() {
        let with = |f: &dyn Fn(&mut Inputs)| {
            let mut i = Inputs::default();
            f(&mut i);
            score(&i)
        };
        assert_eq!(with(&|i| i.cpu_percent = Some(75.0)), 95);
        assert_eq!(with(&|i| i.cpu_percent = Some(85.0)), 90);
        assert_eq!(with(&|i| i.cpu_percent = Some(99.0)), 85);
        assert_eq!(with(&|i| i.ram_percent = Some(80.0)), 95);
        assert_eq!(with(&|i| i.ram_percent = Some(90.0)), 90);
        assert_eq!(with(&|i| i.ram_percent = Some(95.0)), 85);
        assert_eq!(with(&|i| i.fullest_disk_percent = Some(80.0)), 95);
        assert_eq!(with(&|i| i.fullest_disk_percent = Some(90.0)), 85);
        assert_eq!(with(&|i| i.fullest_disk_percent = Some(97.5)), 75);
        assert_eq!(with(&|i| i.smart = Smart::Warning), 90);
        assert_eq!(with(&|i| i.smart = Smart::Failing), 70);
        assert_eq!(with(&|i| i.os_compliant = false), 90);
        assert_eq!(with(&|i| i.critical_events_24h = 2), 96);
        assert_eq!(with(&|i| i.critical_events_24h = 50), 90, "capped at 10");
    }

    #[test]
    fn risks_count_after_overrides_without_disk_health_and_capped() {
        let risks = [
            risk("firewall_disabled", Some(Severity::High)),
            risk("antivirus_disabled", None),
            risk("updates_pending", Some(Severity::Low)),
            risk("smart:sda", Some(Severity::Critical)),
        ];
        let counts = RiskCounts::of(&risks);
        assert_eq!(
            counts,
            RiskCounts {
                high: 1,
                low: 1,
                ..RiskCounts::default()
            }
        );
        let i = Inputs {
            risks: counts,
            ..Inputs::default()
        };
        assert_eq!(score(&i), 94);
        let many = Inputs {
            risks: RiskCounts {
                critical: 5,
                ..RiskCounts::default()
            },
            ..Inputs::default()
        };
        assert_eq!(score(&many), 75, "capped at 25");
    }

    #[test]
    fn the_score_never_goes_below_zero() {
        let worst = Inputs {
            cpu_percent: Some(100.0),
            ram_percent: Some(100.0),
            fullest_disk_percent: Some(100.0),
            smart: Smart::Failing,
            os_compliant: false,
            risks: RiskCounts {
                critical: 9,
                ..RiskCounts::default()
            },
            critical_events_24h: 99,
        };
        assert_eq!(score(&worst), 0);
    }

    #[test]
    fn disks_report_their_smart_state() {
        assert_eq!(Smart::of_disk("healthy", false), Smart::Healthy);
        assert_eq!(Smart::of_disk("healthy", true), Smart::Failing);
        assert_eq!(Smart::of_disk("Critical", false), Smart::Failing);
        assert_eq!(Smart::of_disk("warning", false), Smart::Warning);
        assert_eq!(Smart::of_disk("virtual", false), Smart::Unknown);
    }
}

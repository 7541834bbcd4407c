//! The analysis types the spec lists, with what each costs, how long a
//! machine waits before the same type runs again, and whether it is an
//! advanced (Pro+) type. One table: the service, GraphQL and the
//! automation all read it.

use crate::domain::licensing::Feature;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisKind {
    Logs,
    Anomalies,
    Full,
    Recommendations,
    HealthScore,
    Trends,
    Scripts,
    Reports,
    Degradation,
    Intermittent,
    Correlate,
    PredictiveMaintenance,
}

/// One row of [`KINDS`].
#[derive(Clone, Copy, Debug)]
pub struct KindRow {
    pub kind: AnalysisKind,
    /// The stored spelling (`ai_analysis_results.analysis_type`).
    pub code: &'static str,
    /// Quota units taken by one completed run.
    pub cost: i32,
    /// Minimum time between two runs of this type on one machine.
    pub cooldown: Duration,
    /// The plan feature it needs, if any.
    pub feature: Option<Feature>,
}

const MIN: u64 = 60;

/// The spec's costs and cooldowns. Intermittent and predictive maintenance
/// have no cooldown in the spec's table; we give them the advanced types'
/// 15 minutes and `full`'s 2 hours, since predictive maintenance is a
/// grouped `full` of the advanced types.
pub const KINDS: [KindRow; 12] = [
    row(AnalysisKind::Logs, "logs", 1, 15, None),
    row(AnalysisKind::Anomalies, "anomalies", 1, 15, None),
    row(AnalysisKind::Full, "full", 3, 120, None),
    row(AnalysisKind::Recommendations, "recommendations", 1, 60, None),
    row(AnalysisKind::HealthScore, "health_score", 1, 30, None),
    row(AnalysisKind::Trends, "trends", 1, 15, None),
    row(AnalysisKind::Scripts, "scripts", 1, 30, None),
    row(AnalysisKind::Reports, "reports", 2, 360, None),
    row(
        AnalysisKind::Degradation,
        "degradation",
        1,
        15,
        Some(Feature::AdvancedAnalyses),
    ),
    row(
        AnalysisKind::Intermittent,
        "intermittent",
        1,
        15,
        Some(Feature::AdvancedAnalyses),
    ),
    row(
        AnalysisKind::Correlate,
        "correlate",
        1,
        15,
        Some(Feature::AdvancedAnalyses),
    ),
    row(
        AnalysisKind::PredictiveMaintenance,
        "predictive_maintenance",
        5,
        120,
        Some(Feature::AdvancedAnalyses),
    ),
];

const fn row(
    kind: AnalysisKind,
    code: &'static str,
    cost: i32,
    cooldown_min: u64,
    feature: Option<Feature>,
) -> KindRow {
    KindRow {
        kind,
        code,
        cost,
        cooldown: Duration::from_secs(cooldown_min * MIN),
        feature,
    }
}

impl AnalysisKind {
    pub const ALL: [AnalysisKind; 12] = {
        let mut all = [AnalysisKind::Logs; 12];
        let mut i = 0;
        while i < 12 {
            all[i] = KINDS[i].kind;
            i += 1;
        }
        all
    };

    pub fn row(self) -> &'static KindRow {
        KINDS
            .iter()
            .find(|r| r.kind == self)
            .expect("every kind is in KINDS")
    }

    pub fn code(self) -> &'static str {
        self.row().code
    }

    pub fn parse(code: &str) -> Option<Self> {
        KINDS.iter().find(|r| r.code == code).map(|r| r.kind)
    }

    pub fn cost(self) -> i32 {
        self.row().cost
    }

    pub fn cooldown(self) -> Duration {
        self.row().cooldown
    }

    pub fn feature(self) -> Option<Feature> {
        self.row().feature
    }

    /// The sections of [`Findings`](super::findings::Findings) this type
    /// computes.
    pub fn sections(self) -> &'static [Section] {
        use Section::*;
        match self {
            Self::Logs => &[Logs],
            Self::Anomalies => &[Anomalies],
            Self::Full => &[Health, Logs, Anomalies, Trends, Recommendations],
            Self::Recommendations => &[Health, Logs, Anomalies, Trends, Degradation, Recommendations],
            Self::HealthScore => &[Health],
            Self::Trends => &[Trends, Degradation],
            Self::Scripts => &[Health, Logs, Anomalies, Recommendations, Scripts],
            Self::Reports => &[Health, Logs, Anomalies, Trends, Degradation, Recommendations],
            Self::Degradation => &[Degradation],
            Self::Intermittent => &[Intermittency],
            Self::Correlate => &[Correlations],
            Self::PredictiveMaintenance => &[
                Health,
                Trends,
                Degradation,
                Correlations,
                Intermittency,
                Capacity,
                Recommendations,
            ],
        }
    }
}

/// A part of the findings, computed on demand by the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Section {
    Health,
    Anomalies,
    Trends,
    Degradation,
    Intermittency,
    Correlations,
    Capacity,
    Drift,
    Logs,
    Recommendations,
    Scripts,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back() {
        for kind in AnalysisKind::ALL {
            assert_eq!(AnalysisKind::parse(kind.code()), Some(kind));
        }
        assert_eq!(AnalysisKind::parse("nope"), None);
    }

    #[test]
    fn costs_and_cooldowns_are_the_spec_s() {
        assert_eq!(AnalysisKind::Full.cost(), 3);
        assert_eq!(AnalysisKind::Reports.cost(), 2);
        assert_eq!(AnalysisKind::PredictiveMaintenance.cost(), 5);
        assert_eq!(AnalysisKind::HealthScore.cooldown(), Duration::from_secs(30 * 60));
        assert_eq!(AnalysisKind::Full.cooldown(), Duration::from_secs(2 * 3600));
        assert_eq!(AnalysisKind::Reports.cooldown(), Duration::from_secs(6 * 3600));
        assert!(AnalysisKind::Correlate.feature().is_some());
        assert!(AnalysisKind::Trends.feature().is_none());
    }
}

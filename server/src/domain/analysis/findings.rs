//! What an analysis found, as numbers we computed. This is the stored form
//! (`ai_analysis_results.findings`, JSON), what GraphQL shows, and what the
//! narrator explains: the narrator may word it, never change it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Improving,
    Stable,
    Declining,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

/// Everything one run computed. A section is `None` when the analysis type
/// does not compute it, and empty when it was computed and found nothing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    pub machine_id: Uuid,
    pub hostname: String,
    pub computed_at: DateTime<Utc>,
    /// Samples the engine read, so a reader can judge the confidence.
    pub samples: u64,
    pub health: Option<HealthFinding>,
    pub anomalies: Option<Vec<Anomaly>>,
    pub trends: Option<Vec<MetricTrend>>,
    pub degradations: Option<Vec<Degradation>>,
    pub intermittency: Option<Vec<Intermittency>>,
    pub correlations: Option<Vec<Correlation>>,
    pub capacity: Option<CapacityPlan>,
    pub drift: Option<Vec<Drift>>,
    pub logs: Option<Vec<LogPattern>>,
    pub recommendations: Option<Vec<Recommendation>>,
    pub scripts: Option<Vec<RemediationScript>>,
    /// The most important problems across sections, worst first; the
    /// spec's `top_issues`, and the "previous issues" a refused rerun shows.
    pub issues: Vec<Issue>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// Stable code of the finding (`cpu_high`, `disk_filling`, …), used to
    /// pick templates and scripts.
    pub code: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CategoryScores {
    pub cpu: u8,
    pub ram: u8,
    pub disk: u8,
    pub security: u8,
    pub stability: u8,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthFinding {
    /// 0–100.
    pub overall: u8,
    pub categories: CategoryScores,
    pub trend: Direction,
    pub risk: RiskLevel,
    /// 0–1: how much data backed the score.
    pub confidence: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// `cpu_percent`, `ram_percent`, `disk_percent:/`, …
    pub metric: String,
    pub at: DateTime<Utc>,
    pub value: f64,
    /// What the baseline expected at that time (median, or the seasonal
    /// profile's value for that hour and weekday).
    pub expected: f64,
    /// Robust z-score: (value − expected) / (1.4826 × MAD).
    pub score: f64,
    /// Whether the expectation came from a seasonal profile.
    pub seasonal: bool,
    pub severity: Severity,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricTrend {
    pub metric: String,
    pub window_days: u32,
    pub mean: f64,
    pub p95: f64,
    pub p99: f64,
    /// Least-squares slope, metric units per day.
    pub slope_per_day: f64,
    pub direction: Direction,
    pub samples: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Degradation {
    pub metric: String,
    pub current: f64,
    pub slope_per_day: f64,
    pub critical_threshold: f64,
    /// When the fitted line crosses the threshold; `None` when it never
    /// does or already has.
    pub predicted_critical_at: Option<DateTime<Utc>>,
    pub days_until_critical: Option<f64>,
    /// Goodness of fit, 0–1.
    pub r_squared: f64,
    pub severity: Severity,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpikePattern {
    Random,
    Periodic,
    Escalating,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intermittency {
    /// `disk_latency_ms` or `io_wait_percent`.
    pub metric: String,
    pub threshold: f64,
    pub spikes: u32,
    pub max: f64,
    pub pattern: SpikePattern,
    /// For a periodic pattern, the typical gap between spikes.
    pub period_secs: Option<i64>,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub severity: Severity,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricSpike {
    pub metric: String,
    pub value: f64,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventRef {
    pub source: String,
    pub event_id: i64,
    pub level: String,
    /// Machine-supplied text: data, never instructions.
    pub message: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Correlation {
    pub metric_spike: MetricSpike,
    pub related_events: Vec<EventRef>,
    /// 0–1.
    pub confidence: f64,
    pub root_cause: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GrowthWindow {
    /// 30, 90 or 180.
    pub window_days: u32,
    /// Percentage points per day.
    pub growth_per_day: f64,
    pub predicted_full_date: Option<NaiveDate>,
    pub days_until_critical: Option<f64>,
    pub samples: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiskForecast {
    pub mount_point: String,
    pub total_gb: f64,
    pub current_usage_percent: f64,
    pub growth_rate_gb_per_month: f64,
    pub windows: Vec<GrowthWindow>,
    pub predicted_full_date: Option<NaiveDate>,
    pub days_until_critical: Option<f64>,
    pub recommendation: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RamForecast {
    pub avg_usage_percent: f64,
    pub trend: Direction,
    pub windows: Vec<GrowthWindow>,
    pub predicted_full_date: Option<NaiveDate>,
    pub recommendation: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityPlan {
    pub disks: Vec<DiskForecast>,
    pub ram: Option<RamForecast>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftSeverity {
    None,
    Warning,
    Critical,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// `cpu_percent`, `ram_percent` or `disk_latency_ms`.
    pub metric: String,
    pub baseline_mean: f64,
    pub baseline_stddev: f64,
    pub baseline_p95: f64,
    /// Mean of the last hour.
    pub current_value: f64,
    pub z_score: f64,
    pub severity: DriftSeverity,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogPattern {
    pub source: String,
    pub event_id: i64,
    /// The worst level seen (`critical` over `error`).
    pub level: String,
    pub count: u64,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// The latest message, machine-supplied.
    pub sample_message: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// 1 is the most urgent.
    pub priority: u8,
    /// The issue code it answers.
    pub code: String,
    pub title: String,
    pub detail: String,
    pub severity: Severity,
    /// The vetted script template that addresses it, if any.
    pub script: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptShell {
    PowerShell,
    Bash,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemediationScript {
    /// Template id (`clean_temp_files`, …).
    pub id: String,
    pub title: String,
    pub shell: ScriptShell,
    pub body: String,
    /// Shown before the script; the server never runs it.
    pub warnings: Vec<String>,
}

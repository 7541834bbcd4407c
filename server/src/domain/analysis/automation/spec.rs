//! What an admin writes for a routine or a trigger, checked: the cron
//! schedule and its time zone, the routine and trigger types, their
//! configuration JSON. Pure, so every rule is unit-tested.

use crate::domain::{analysis::AnalysisKind, DomainError};
use chrono::{DateTime, Utc};
use croner::Cron;
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use uuid::Uuid;

pub const MAX_NAME: usize = 100;
/// Channels one routine or trigger may notify.
pub const MAX_CHANNELS: usize = 20;
/// Machines a routine may list (beyond that, "all" is the tool).
pub const MAX_MACHINES: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RoutineType {
    DailyHealthScore,
    WeeklyReport,
    DailyReport,
    DriftDetection,
}

impl RoutineType {
    pub const ALL: [Self; 4] = [
        Self::DailyHealthScore,
        Self::WeeklyReport,
        Self::DailyReport,
        Self::DriftDetection,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::DailyHealthScore => "daily_health_score",
            Self::WeeklyReport => "weekly_report",
            Self::DailyReport => "daily_report",
            Self::DriftDetection => "drift_detection",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The analysis a run makes on each machine when the configuration
    /// names none; drift detection refreshes baselines instead.
    pub fn default_kind(self) -> Option<AnalysisKind> {
        match self {
            Self::DailyHealthScore => Some(AnalysisKind::HealthScore),
            Self::WeeklyReport | Self::DailyReport => Some(AnalysisKind::Reports),
            Self::DriftDetection => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TriggerType {
    CriticalMachine,
    NewMachine,
    Degradation,
}

impl TriggerType {
    pub const ALL: [Self; 3] = [Self::CriticalMachine, Self::NewMachine, Self::Degradation];

    pub fn code(self) -> &'static str {
        match self {
            Self::CriticalMachine => "critical_machine",
            Self::NewMachine => "new_machine",
            Self::Degradation => "degradation",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code() == code)
    }
}

/// Which machines a routine analyses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Machines {
    /// `"all"`: every machine of the tenant at run time.
    All(AllMachines),
    List(Vec<Uuid>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllMachines {
    All,
}

impl Default for Machines {
    fn default() -> Self {
        Self::All(AllMachines::All)
    }
}

/// `ai_routines.config`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutineConfig {
    /// Overrides the type's analysis; a code of [`AnalysisKind`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis_type: Option<String>,
    #[serde(default)]
    pub machines: Machines,
    #[serde(default)]
    pub notify_channels: Vec<Uuid>,
}

impl RoutineConfig {
    pub fn kind(&self, routine: RoutineType) -> Option<AnalysisKind> {
        self.analysis_type
            .as_deref()
            .and_then(AnalysisKind::parse)
            .or(routine.default_kind())
    }
}

/// `ai_triggers.conditions`. A critical-machine trigger fires when any of
/// its conditions holds; a degradation trigger when the health score
/// falls by `score_drop` points or more in one step.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TriggerConditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_score_below: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline_minutes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_above: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_drop: Option<i32>,
}

/// `ai_triggers.actions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerActions {
    pub analysis_type: String,
    #[serde(default)]
    pub notify_channels: Vec<Uuid>,
}

impl TriggerActions {
    pub fn kind(&self) -> AnalysisKind {
        AnalysisKind::parse(&self.analysis_type).unwrap_or(AnalysisKind::Full)
    }
}

/// A parsed schedule: five cron fields read in a time zone.
#[derive(Clone, Debug)]
pub struct Schedule {
    cron: Cron,
    tz: chrono_tz::Tz,
    /// The five fields, single-spaced, as stored.
    expression: String,
}

impl Schedule {
    /// `expression` must have exactly five fields (minute precision: the
    /// scheduler ticks every five minutes, seconds would mean nothing).
    pub fn parse(expression: &str, timezone: Option<&str>) -> Result<Self, DomainError> {
        let fields = expression.split_whitespace().count();
        if fields != 5 {
            return Err(DomainError::invalid(
                "schedule",
                format!(
                    "must be a cron expression of 5 fields (minute hour day month weekday), not {fields}"
                ),
            ));
        }
        let cron = Cron::from_str(expression.trim())
            .map_err(|e| DomainError::invalid("schedule", format!("is not a valid cron expression: {e}")))?;
        let tz = match timezone.map(str::trim).filter(|t| !t.is_empty()) {
            None => chrono_tz::UTC,
            Some(name) => name.parse::<chrono_tz::Tz>().map_err(|_| {
                DomainError::invalid("timezone", "must be an IANA time zone, such as Europe/Paris")
            })?,
        };
        let schedule = Self {
            cron,
            tz,
            expression: expression.split_whitespace().collect::<Vec<_>>().join(" "),
        };
        // A pattern that never matches (30 February) is refused now rather
        // than found out by the scheduler.
        schedule
            .next_after(Utc::now())
            .ok_or_else(|| DomainError::invalid("schedule", "never matches a date"))?;
        Ok(schedule)
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first run strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&after.with_timezone(&self.tz), false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

pub fn check_name(name: &str) -> Result<String, DomainError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "name",
            format!("must be 1-{MAX_NAME} printable characters"),
        ));
    }
    Ok(n.to_owned())
}

fn check_kind(field: &str, code: &str) -> Result<AnalysisKind, DomainError> {
    AnalysisKind::parse(code).ok_or_else(|| {
        DomainError::invalid(
            field,
            format!(
                "must be one of {}",
                AnalysisKind::ALL.map(AnalysisKind::code).join(", ")
            ),
        )
    })
}

fn dedup(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids.dedup();
    ids
}

/// The routine's configuration with its shape checked (ownership of the
/// machines and channels is checked against the database by the caller).
pub fn check_routine_config(config: RoutineConfig) -> Result<RoutineConfig, DomainError> {
    if let Some(code) = &config.analysis_type {
        check_kind("config.analysisType", code)?;
    }
    let machines = match config.machines {
        Machines::List(ids) => {
            let ids = dedup(ids);
            if ids.is_empty() || ids.len() > MAX_MACHINES {
                return Err(DomainError::invalid(
                    "config.machines",
                    format!("must be \"all\" or list 1-{MAX_MACHINES} machines"),
                ));
            }
            Machines::List(ids)
        }
        all => all,
    };
    let notify_channels = dedup(config.notify_channels);
    if notify_channels.len() > MAX_CHANNELS {
        return Err(DomainError::invalid(
            "config.notifyChannels",
            format!("at most {MAX_CHANNELS} channels"),
        ));
    }
    Ok(RoutineConfig {
        analysis_type: config.analysis_type,
        machines,
        notify_channels,
    })
}

pub fn check_trigger(
    kind: TriggerType,
    conditions: TriggerConditions,
    actions: TriggerActions,
) -> Result<(TriggerConditions, TriggerActions), DomainError> {
    check_kind("actions.analysisType", &actions.analysis_type)?;
    let notify_channels = dedup(actions.notify_channels);
    if notify_channels.len() > MAX_CHANNELS {
        return Err(DomainError::invalid(
            "actions.notifyChannels",
            format!("at most {MAX_CHANNELS} channels"),
        ));
    }
    let c = &conditions;
    if c.health_score_below.is_some_and(|s| !(1..=100).contains(&s)) {
        return Err(DomainError::invalid(
            "conditions.healthScoreBelow",
            "must be between 1 and 100",
        ));
    }
    if c.offline_minutes.is_some_and(|m| !(1..=10_080).contains(&m)) {
        return Err(DomainError::invalid(
            "conditions.offlineMinutes",
            "must be between 1 and 10080 (a week)",
        ));
    }
    if c.cpu_above.is_some_and(|v| !(v > 0.0 && v < 100.0)) {
        return Err(DomainError::invalid(
            "conditions.cpuAbove",
            "must be a percentage above 0 and below 100",
        ));
    }
    if c.score_drop.is_some_and(|d| !(1..=100).contains(&d)) {
        return Err(DomainError::invalid(
            "conditions.scoreDrop",
            "must be between 1 and 100 points",
        ));
    }
    let conditions = match kind {
        TriggerType::CriticalMachine => {
            if c.health_score_below.is_none() && c.offline_minutes.is_none() && c.cpu_above.is_none() {
                return Err(DomainError::invalid(
                    "conditions",
                    "a critical_machine trigger needs healthScoreBelow, offlineMinutes or cpuAbove",
                ));
            }
            TriggerConditions {
                score_drop: None,
                ..conditions
            }
        }
        // Fires on every enrolment: conditions would be ignored, so none
        // are kept.
        TriggerType::NewMachine => TriggerConditions::default(),
        TriggerType::Degradation => TriggerConditions {
            score_drop: Some(c.score_drop.unwrap_or(DEFAULT_SCORE_DROP)),
            health_score_below: c.health_score_below,
            ..TriggerConditions::default()
        },
    };
    Ok((
        conditions,
        TriggerActions {
            analysis_type: actions.analysis_type,
            notify_channels,
        },
    ))
}

/// The fall of the health score, in points, a degradation trigger reacts
/// to when its conditions name none.
pub const DEFAULT_SCORE_DROP: i32 = 15;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn schedules_need_five_valid_fields_and_a_known_zone() {
        for bad in [
            "",
            "* * * *",
            "0 0 8 * * *",
            "61 * * * *",
            "0 25 * * *",
            "a b c d e",
        ] {
            let e = Schedule::parse(bad, None).unwrap_err();
            assert!(
                matches!(&e, DomainError::InvalidInput { field, .. } if field == "schedule"),
                "{bad}: {e:?}"
            );
        }
        let e = Schedule::parse("0 8 * * *", Some("Mars/Olympus")).unwrap_err();
        assert!(matches!(&e, DomainError::InvalidInput { field, .. } if field == "timezone"));
        assert!(
            Schedule::parse("0 0 30 2 *", None).is_err(),
            "30 February never comes"
        );
    }

    #[test]
    fn the_next_run_reads_the_schedule_in_its_zone() {
        let at = Utc.with_ymd_and_hms(2026, 1, 15, 9, 0, 0).unwrap();
        let utc = Schedule::parse("0 8 * * *", None).unwrap();
        assert_eq!(
            utc.next_after(at),
            Some(Utc.with_ymd_and_hms(2026, 1, 16, 8, 0, 0).unwrap())
        );
        // 08:00 in Paris is 07:00 UTC in winter.
        let paris = Schedule::parse("0 8 * * *", Some("Europe/Paris")).unwrap();
        assert_eq!(
            paris.next_after(at),
            Some(Utc.with_ymd_and_hms(2026, 1, 16, 7, 0, 0).unwrap())
        );
        // Strictly after: a run at 08:00 schedules the next day's.
        let eight = Utc.with_ymd_and_hms(2026, 1, 16, 8, 0, 0).unwrap();
        assert_eq!(utc.next_after(eight), Some(eight + chrono::Duration::days(1)));
        let weekly = Schedule::parse("30 7 * * 1", None).unwrap();
        // 2026-01-15 is a Thursday; the next Monday is the 19th.
        assert_eq!(
            weekly.next_after(at),
            Some(Utc.with_ymd_and_hms(2026, 1, 19, 7, 30, 0).unwrap())
        );
    }

    #[test]
    fn routine_configs_parse_all_or_a_list_and_check_the_analysis_type() {
        let all: RoutineConfig = serde_json::from_value(serde_json::json!({"machines": "all"})).unwrap();
        assert_eq!(all.machines, Machines::default());
        let m = Uuid::from_u128(7);
        let list: RoutineConfig =
            serde_json::from_value(serde_json::json!({"machines": [m, m], "analysis_type": "full"})).unwrap();
        let list = check_routine_config(list).unwrap();
        assert_eq!(list.machines, Machines::List(vec![m]));
        assert_eq!(list.kind(RoutineType::DailyReport), Some(AnalysisKind::Full));
        assert_eq!(all.kind(RoutineType::WeeklyReport), Some(AnalysisKind::Reports));
        assert_eq!(all.kind(RoutineType::DriftDetection), None);
        let bad = RoutineConfig {
            analysis_type: Some("astrology".into()),
            ..RoutineConfig::default()
        };
        let e = check_routine_config(bad).unwrap_err();
        assert!(matches!(&e, DomainError::InvalidInput { field, .. } if field == "config.analysisType"));
        let empty = RoutineConfig {
            machines: Machines::List(vec![]),
            ..RoutineConfig::default()
        };
        assert!(check_routine_config(empty).is_err());
        assert_eq!(
            serde_json::to_value(RoutineConfig::default()).unwrap(),
            serde_json::json!({"machines": "all", "notify_channels": []})
        );
    }

    #[test]
    fn triggers_keep_the_conditions_their_type_reads() {
        let actions = TriggerActions {
            analysis_type: "full".into(),
            notify_channels: vec![],
        };
        let none = TriggerConditions::default();
        assert!(check_trigger(TriggerType::CriticalMachine, none.clone(), actions.clone()).is_err());
        let cpu = TriggerConditions {
            cpu_above: Some(95.0),
            score_drop: Some(3),
            ..TriggerConditions::default()
        };
        let (kept, _) = check_trigger(TriggerType::CriticalMachine, cpu, actions.clone()).unwrap();
        assert_eq!((kept.cpu_above, kept.score_drop), (Some(95.0), None));
        let (kept, _) = check_trigger(TriggerType::Degradation, none.clone(), actions.clone()).unwrap();
        assert_eq!(kept.score_drop, Some(DEFAULT_SCORE_DROP));
        let (kept, _) = check_trigger(TriggerType::NewMachine, none, actions.clone()).unwrap();
        assert_eq!(kept, TriggerConditions::default());
        let hot = TriggerConditions {
            cpu_above: Some(120.0),
            ..TriggerConditions::default()
        };
        let e = check_trigger(TriggerType::CriticalMachine, hot, actions).unwrap_err();
        assert!(matches!(&e, DomainError::InvalidInput { field, .. } if field == "conditions.cpuAbove"));
        let bad = TriggerActions {
            analysis_type: "nope".into(),
            notify_channels: vec![],
        };
        assert!(check_trigger(TriggerType::NewMachine, TriggerConditions::default(), bad).is_err());
    }
}

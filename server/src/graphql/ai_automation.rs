//! AI routines and triggers (Essentials+), the automation overview, and
//! the AI configuration (Enterprise).

use super::{
    error::Result,
    types::{id, parse_id},
    ApiError, ContextExt,
};
use crate::domain::{
    analysis::{
        automation::{
            routines::{config_of, RoutineInput, RoutineStats},
            spec::{Machines, RoutineConfig, TriggerActions, TriggerConditions},
            triggers::{TriggerInput, TriggerStats},
            MAX_HISTORY,
        },
        config::{AiConfigInput as DomainAiConfigInput, AiConfigView, Criticality as DomainCriticality},
    },
    auth::Role,
};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entities::{ai_routine_history, ai_routines, ai_trigger_history, ai_triggers};

/// Which machines a routine analyses and whom it tells.
#[derive(SimpleObject)]
pub struct AiRoutineConfig {
    /// Overrides the routine type's analysis (`full`, `health_score`, …).
    analysis_type: Option<String>,
    /// Every machine of the tenant at run time.
    all_machines: bool,
    /// The machines listed, when not all.
    machines: Vec<ID>,
    notify_channels: Vec<ID>,
}

impl From<RoutineConfig> for AiRoutineConfig {
    fn from(c: RoutineConfig) -> Self {
        let (all_machines, machines) = match c.machines {
            Machines::All(_) => (true, Vec::new()),
            Machines::List(ids) => (false, ids.into_iter().map(id).collect()),
        };
        Self {
            analysis_type: c.analysis_type,
            all_machines,
            machines,
            notify_channels: c.notify_channels.into_iter().map(id).collect(),
        }
    }
}

/// A scheduled analysis.
#[derive(SimpleObject)]
pub struct AiRoutine {
    id: ID,
    name: String,
    /// daily_health_score, weekly_report, daily_report, drift_detection
    routine_type: String,
    /// Five-field cron expression.
    schedule: String,
    /// IANA time zone of the schedule; null = UTC.
    timezone: Option<String>,
    enabled: bool,
    config: AiRoutineConfig,
    last_run_at: Option<DateTime<Utc>>,
    /// When the scheduler runs it next: the one source of truth.
    next_run_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ai_routines::Model> for AiRoutine {
    fn from(r: ai_routines::Model) -> Self {
        Self {
            config: config_of(&r).into(),
            id: id(r.id),
            name: r.name,
            routine_type: r.routine_type,
            schedule: r.schedule,
            timezone: r.timezone,
            enabled: r.enabled,
            last_run_at: r.last_run_at,
            next_run_at: r.next_run_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One run of a routine.
#[derive(SimpleObject)]
pub struct AiRoutineRun {
    id: ID,
    routine_id: ID,
    started_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    /// running, success, partial, failed
    status: String,
    machines_analyzed: i32,
    issues_found: i32,
    error: Option<String>,
}

impl From<ai_routine_history::Model> for AiRoutineRun {
    fn from(h: ai_routine_history::Model) -> Self {
        Self {
            id: id(h.id),
            routine_id: id(h.routine_id),
            started_at: h.started_at,
            completed_at: h.completed_at,
            status: h.status,
            machines_analyzed: h.machines_analyzed,
            issues_found: h.issues_found,
            error: h.error,
        }
    }
}

#[derive(SimpleObject)]
pub struct AiRoutineStats {
    total: u64,
    enabled: u64,
    #[graphql(name = "last24hRuns")]
    last_24h_runs: u64,
}

impl From<RoutineStats> for AiRoutineStats {
    fn from(s: RoutineStats) -> Self {
        Self {
            total: s.total,
            enabled: s.enabled,
            last_24h_runs: s.last_24h_runs,
        }
    }
}

#[derive(SimpleObject, InputObject)]
#[graphql(input_name = "AiTriggerConditionsInput")]
pub struct AiTriggerConditions {
    /// critical_machine: the health score falls below this.
    health_score_below: Option<i32>,
    /// critical_machine: silent for at least this many minutes.
    offline_minutes: Option<i32>,
    /// critical_machine: a CPU sample above this percentage.
    cpu_above: Option<f64>,
    /// degradation: the health score falls by this many points (15 by default).
    score_drop: Option<i32>,
}

impl From<TriggerConditions> for AiTriggerConditions {
    fn from(c: TriggerConditions) -> Self {
        Self {
            health_score_below: c.health_score_below,
            offline_minutes: c.offline_minutes,
            cpu_above: c.cpu_above,
            score_drop: c.score_drop,
        }
    }
}

impl From<AiTriggerConditions> for TriggerConditions {
    fn from(c: AiTriggerConditions) -> Self {
        Self {
            health_score_below: c.health_score_below,
            offline_minutes: c.offline_minutes,
            cpu_above: c.cpu_above,
            score_drop: c.score_drop,
        }
    }
}

#[derive(SimpleObject)]
pub struct AiTriggerActions {
    analysis_type: String,
    notify_channels: Vec<ID>,
}

/// An analysis started by events.
#[derive(SimpleObject)]
pub struct AiTrigger {
    id: ID,
    name: String,
    /// critical_machine, new_machine, degradation
    trigger_type: String,
    enabled: bool,
    conditions: AiTriggerConditions,
    actions: AiTriggerActions,
    last_triggered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ai_triggers::Model> for AiTrigger {
    fn from(t: ai_triggers::Model) -> Self {
        let conditions: TriggerConditions = serde_json::from_value(t.conditions.clone()).unwrap_or_default();
        let actions: Option<TriggerActions> = serde_json::from_value(t.actions.clone()).ok();
        Self {
            id: id(t.id),
            name: t.name,
            trigger_type: t.trigger_type,
            enabled: t.enabled,
            conditions: conditions.into(),
            actions: AiTriggerActions {
                analysis_type: actions
                    .as_ref()
                    .map(|a| a.analysis_type.clone())
                    .unwrap_or_default(),
                notify_channels: actions
                    .map(|a| a.notify_channels.into_iter().map(id).collect())
                    .unwrap_or_default(),
            },
            last_triggered_at: t.last_triggered_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// One firing of a trigger on one machine.
#[derive(SimpleObject)]
pub struct AiTriggerFiring {
    id: ID,
    trigger_id: ID,
    triggered_at: DateTime<Utc>,
    machine_id: Option<ID>,
    machine_hostname: String,
    trigger_reason: String,
    /// The analysis it ran, if it ran one.
    analysis_id: Option<ID>,
    /// running, success, refused (cooldown, quota, …: see error), failed
    status: String,
    error: Option<String>,
}

impl From<ai_trigger_history::Model> for AiTriggerFiring {
    fn from(h: ai_trigger_history::Model) -> Self {
        Self {
            id: id(h.id),
            trigger_id: id(h.trigger_id),
            triggered_at: h.triggered_at,
            machine_id: h.machine_id.map(id),
            machine_hostname: h.machine_hostname,
            trigger_reason: h.trigger_reason,
            analysis_id: h.analysis_id.map(id),
            status: h.status,
            error: h.error,
        }
    }
}

#[derive(SimpleObject)]
pub struct AiTriggerStats {
    total: u64,
    enabled: u64,
    #[graphql(name = "last24hTriggers")]
    last_24h_triggers: u64,
}

impl From<TriggerStats> for AiTriggerStats {
    fn from(s: TriggerStats) -> Self {
        Self {
            total: s.total,
            enabled: s.enabled,
            last_24h_triggers: s.last_24h_triggers,
        }
    }
}

#[derive(SimpleObject)]
pub struct AiRoutineOverview {
    routine: AiRoutine,
    last_history: Option<AiRoutineRun>,
}

#[derive(SimpleObject)]
pub struct AiTriggerOverview {
    trigger: AiTrigger,
    last_history: Option<AiTriggerFiring>,
}

/// Every routine and trigger with its latest run, and the stats.
#[derive(SimpleObject)]
pub struct AiAutomation {
    routines: Vec<AiRoutineOverview>,
    triggers: Vec<AiTriggerOverview>,
    routine_stats: AiRoutineStats,
    trigger_stats: AiTriggerStats,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum MachineCriticality {
    Critical,
    Important,
    Standard,
}

impl From<DomainCriticality> for MachineCriticality {
    fn from(c: DomainCriticality) -> Self {
        match c {
            DomainCriticality::Critical => Self::Critical,
            DomainCriticality::Important => Self::Important,
            DomainCriticality::Standard => Self::Standard,
        }
    }
}

impl From<MachineCriticality> for DomainCriticality {
    fn from(c: MachineCriticality) -> Self {
        match c {
            MachineCriticality::Critical => Self::Critical,
            MachineCriticality::Important => Self::Important,
            MachineCriticality::Standard => Self::Standard,
        }
    }
}

#[derive(SimpleObject)]
pub struct AiMachineCriticality {
    machine_id: ID,
    hostname: String,
    criticality: MachineCriticality,
    /// auto (from the hostname) or manual.
    source: String,
    reason: Option<String>,
}

/// The tenant's AI configuration (Enterprise).
#[derive(SimpleObject)]
pub struct AiConfig {
    /// Added to the narrative prompts, as data.
    custom_context: String,
    machines: Vec<AiMachineCriticality>,
}

impl From<AiConfigView> for AiConfig {
    fn from(v: AiConfigView) -> Self {
        Self {
            custom_context: v.custom_context,
            machines: v
                .machines
                .into_iter()
                .map(|m| AiMachineCriticality {
                    machine_id: id(m.machine_id),
                    hostname: m.hostname,
                    criticality: m.criticality.into(),
                    source: m.source,
                    reason: m.reason,
                })
                .collect(),
        }
    }
}

#[derive(InputObject)]
pub struct AiRoutineConfigInput {
    /// An analysis type code; the routine type's when absent.
    analysis_type: Option<String>,
    /// The machines to analyse; every machine when absent.
    machines: Option<Vec<ID>>,
    #[graphql(default)]
    notify_channels: Vec<ID>,
}

#[derive(InputObject)]
pub struct AiRoutineInput {
    /// 1-100 characters; the routine type when absent.
    name: Option<String>,
    /// daily_health_score, weekly_report, daily_report or drift_detection.
    routine_type: String,
    /// Five-field cron expression ("0 8 * * *": 08:00 every day).
    schedule: String,
    /// IANA time zone the schedule reads in; UTC when absent.
    timezone: Option<String>,
    #[graphql(default = true)]
    enabled: bool,
    config: Option<AiRoutineConfigInput>,
}

fn ids(field: &str, list: &[ID]) -> Result<Vec<uuid::Uuid>> {
    list.iter().map(|i| parse_id(field, i)).collect()
}

impl AiRoutineInput {
    fn into_domain(self) -> Result<RoutineInput> {
        let config = match self.config {
            None => RoutineConfig::default(),
            Some(c) => RoutineConfig {
                analysis_type: c.analysis_type,
                machines: match c.machines {
                    None => Machines::default(),
                    Some(list) => Machines::List(ids("config.machines", &list)?),
                },
                notify_channels: ids("config.notifyChannels", &c.notify_channels)?,
            },
        };
        Ok(RoutineInput {
            name: self.name,
            routine_type: self.routine_type,
            schedule: self.schedule,
            timezone: self.timezone,
            enabled: self.enabled,
            config,
        })
    }
}

#[derive(InputObject)]
pub struct AiTriggerActionsInput {
    /// An analysis type code (`full`, `health_score`, …).
    analysis_type: String,
    #[graphql(default)]
    notify_channels: Vec<ID>,
}

#[derive(InputObject)]
pub struct AiTriggerInput {
    /// 1-100 characters; the trigger type when absent.
    name: Option<String>,
    /// critical_machine, new_machine or degradation.
    trigger_type: String,
    #[graphql(default = true)]
    enabled: bool,
    conditions: Option<AiTriggerConditions>,
    actions: AiTriggerActionsInput,
}

impl AiTriggerInput {
    fn into_domain(self) -> Result<TriggerInput> {
        Ok(TriggerInput {
            name: self.name,
            trigger_type: self.trigger_type,
            enabled: self.enabled,
            conditions: self.conditions.map(Into::into).unwrap_or_default(),
            actions: TriggerActions {
                analysis_type: self.actions.analysis_type,
                notify_channels: ids("actions.notifyChannels", &self.actions.notify_channels)?,
            },
        })
    }
}

#[derive(InputObject)]
pub struct AiMachineCriticalityInput {
    machine_id: ID,
    criticality: MachineCriticality,
}

#[derive(InputObject)]
pub struct AiConfigInput {
    /// At most 2,000 characters; unchanged when absent.
    custom_context: Option<String>,
    /// Manual classifications to set.
    #[graphql(default)]
    machines: Vec<AiMachineCriticalityInput>,
}

fn check_first(first: Option<i32>) -> Result<Option<u64>> {
    match first {
        None => Ok(None),
        Some(n) if n >= 1 && (n as u64) <= MAX_HISTORY => Ok(Some(n as u64)),
        Some(_) => Err(ApiError::bad_input(
            "first",
            format!("must be between 1 and {MAX_HISTORY}"),
        )),
    }
}

#[derive(Default)]
pub struct AiAutomationQuery;

#[Object]
impl AiAutomationQuery {
    /// The tenant's AI routines (Essentials+).
    async fn ai_routines(&self, ctx: &Context<'_>) -> Result<Vec<AiRoutine>> {
        let principal = ctx.caller()?;
        let list = ctx.services().automation.routines(principal).await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    async fn ai_routine(&self, ctx: &Context<'_>, id: ID) -> Result<AiRoutine> {
        let principal = ctx.caller()?;
        let id = parse_id("id", &id)?;
        Ok(ctx.services().automation.routine(principal, id).await?.into())
    }

    /// A routine's runs, newest first (`first`: 20 by default, 100 at most).
    #[graphql(complexity = "super::cost::page(first, 20, MAX_HISTORY, child_complexity)")]
    async fn routine_history(
        &self,
        ctx: &Context<'_>,
        id: ID,
        first: Option<i32>,
    ) -> Result<Vec<AiRoutineRun>> {
        let principal = ctx.caller()?;
        let id = parse_id("id", &id)?;
        let first = check_first(first)?;
        let runs = ctx
            .services()
            .automation
            .routine_history(principal, id, first)
            .await?;
        Ok(runs.into_iter().map(Into::into).collect())
    }

    async fn routine_stats(&self, ctx: &Context<'_>) -> Result<AiRoutineStats> {
        let principal = ctx.caller()?;
        Ok(ctx.services().automation.routine_stats(principal).await?.into())
    }

    /// The tenant's AI triggers (Essentials+).
    async fn ai_triggers(&self, ctx: &Context<'_>) -> Result<Vec<AiTrigger>> {
        let principal = ctx.caller()?;
        let list = ctx.services().automation.triggers(principal).await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    async fn ai_trigger(&self, ctx: &Context<'_>, id: ID) -> Result<AiTrigger> {
        let principal = ctx.caller()?;
        let id = parse_id("id", &id)?;
        Ok(ctx.services().automation.trigger(principal, id).await?.into())
    }

    /// A trigger's firings, newest first (`first`: 20 by default, 100 at most).
    #[graphql(complexity = "super::cost::page(first, 20, MAX_HISTORY, child_complexity)")]
    async fn trigger_history(
        &self,
        ctx: &Context<'_>,
        id: ID,
        first: Option<i32>,
    ) -> Result<Vec<AiTriggerFiring>> {
        let principal = ctx.caller()?;
        let id = parse_id("id", &id)?;
        let first = check_first(first)?;
        let firings = ctx
            .services()
            .automation
            .trigger_history(principal, id, first)
            .await?;
        Ok(firings.into_iter().map(Into::into).collect())
    }

    async fn trigger_stats(&self, ctx: &Context<'_>) -> Result<AiTriggerStats> {
        let principal = ctx.caller()?;
        Ok(ctx.services().automation.trigger_stats(principal).await?.into())
    }

    /// Every routine and trigger with its latest run, and the stats
    /// (Essentials+).
    async fn ai_automation(&self, ctx: &Context<'_>) -> Result<AiAutomation> {
        let principal = ctx.caller()?;
        let a = &ctx.services().automation;
        let (routines, triggers, routine_stats, trigger_stats) = futures::try_join!(
            a.routines(principal),
            a.triggers(principal),
            a.routine_stats(principal),
            a.trigger_stats(principal),
        )?;
        let routine_ids: Vec<_> = routines.iter().map(|r| r.id).collect();
        let trigger_ids: Vec<_> = triggers.iter().map(|t| t.id).collect();
        let (mut runs, mut firings) = futures::try_join!(
            a.last_routine_runs(principal.client_id, &routine_ids),
            a.last_trigger_firings(principal.client_id, &trigger_ids),
        )?;
        Ok(AiAutomation {
            routines: routines
                .into_iter()
                .map(|r| AiRoutineOverview {
                    last_history: runs.remove(&r.id).map(Into::into),
                    routine: r.into(),
                })
                .collect(),
            triggers: triggers
                .into_iter()
                .map(|t| AiTriggerOverview {
                    last_history: firings.remove(&t.id).map(Into::into),
                    trigger: t.into(),
                })
                .collect(),
            routine_stats: routine_stats.into(),
            trigger_stats: trigger_stats.into(),
        })
    }

    /// The tenant's AI configuration (Enterprise).
    async fn ai_config(&self, ctx: &Context<'_>) -> Result<AiConfig> {
        let principal = ctx.caller()?;
        Ok(ctx.services().ai_config.get(principal).await?.into())
    }
}

#[derive(Default)]
pub struct AiAutomationMutation;

#[Object]
impl AiAutomationMutation {
    /// Creates a routine; its first run is the schedule's next time (admin,
    /// Essentials+).
    async fn create_ai_routine(&self, ctx: &Context<'_>, input: AiRoutineInput) -> Result<AiRoutine> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let input = input.into_domain()?;
        let r = ctx
            .services()
            .automation
            .create_routine(principal, input, ctx.meta())
            .await?;
        Ok(r.into())
    }

    /// Replaces a routine; its next run is recomputed from now (admin,
    /// Essentials+).
    async fn update_ai_routine(&self, ctx: &Context<'_>, id: ID, input: AiRoutineInput) -> Result<AiRoutine> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        let input = input.into_domain()?;
        let r = ctx
            .services()
            .automation
            .update_routine(principal, id, input, ctx.meta())
            .await?;
        Ok(r.into())
    }

    /// Deletes a routine and its history (admin, Essentials+).
    async fn delete_ai_routine(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .automation
            .delete_routine(principal, id, ctx.meta())
            .await?;
        Ok(true)
    }

    /// Creates a trigger (admin, Essentials+).
    async fn create_ai_trigger(&self, ctx: &Context<'_>, input: AiTriggerInput) -> Result<AiTrigger> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let input = input.into_domain()?;
        let t = ctx
            .services()
            .automation
            .create_trigger(principal, input, ctx.meta())
            .await?;
        Ok(t.into())
    }

    /// Replaces a trigger (admin, Essentials+).
    async fn update_ai_trigger(&self, ctx: &Context<'_>, id: ID, input: AiTriggerInput) -> Result<AiTrigger> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        let input = input.into_domain()?;
        let t = ctx
            .services()
            .automation
            .update_trigger(principal, id, input, ctx.meta())
            .await?;
        Ok(t.into())
    }

    /// Deletes a trigger and its history (admin, Essentials+).
    async fn delete_ai_trigger(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .automation
            .delete_trigger(principal, id, ctx.meta())
            .await?;
        Ok(true)
    }

    /// Sets the custom context and machines' criticality by hand (admin,
    /// Enterprise).
    async fn update_ai_config(&self, ctx: &Context<'_>, input: AiConfigInput) -> Result<AiConfig> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let machines = input
            .machines
            .iter()
            .map(|m| {
                Ok((
                    parse_id("machines.machineId", &m.machine_id)?,
                    m.criticality.into(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let view = ctx
            .services()
            .ai_config
            .update(
                principal,
                DomainAiConfigInput {
                    custom_context: input.custom_context,
                    machines,
                },
                ctx.meta(),
            )
            .await?;
        Ok(view.into())
    }

    /// Classifies every machine from its hostname (PROD, SQL, ERP… are
    /// critical; WEB, MAIL… important; DEV, TEST, BACKUP… standard);
    /// manual classifications are kept (admin, Enterprise).
    async fn analyze_ai_config(&self, ctx: &Context<'_>) -> Result<AiConfig> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        Ok(ctx
            .services()
            .ai_config
            .analyze(principal, ctx.meta())
            .await?
            .into())
    }
}

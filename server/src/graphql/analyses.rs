//! Analyses: run one behind the spec's protections (admin), read them and
//! the HTML reports (any role), the monthly AI quota, and its override
//! (super_admin). Refusals carry their own codes: PREMIUM_REQUIRED,
//! COOLDOWN, NO_NEW_DATA, NO_SIGNIFICANT_CHANGES, QUOTA_EXCEEDED.

use super::{
    alerting::{cursor, parse_cursor},
    error::{ApiError, Result},
    tenancy::Language,
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{
    analysis::{
        findings::{self, Direction, HealthFinding, Issue},
        narrative::NarratorKind,
        service::{Origin, QuotaStatus, RunRequest, StoredAnalysis, MAX_PAGE},
        AnalysisKind,
    },
    auth::Role,
};
use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    Context, Enum, Json, Object, SimpleObject, ID,
};
use chrono::{DateTime, Utc};

/// The spec's analysis types; the last four are advanced (Pro+).
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::analysis::AnalysisKind")]
pub enum AnalysisType {
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

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::analysis::findings::Direction")]
pub enum AnalysisTrend {
    Improving,
    Stable,
    Declining,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::analysis::findings::RiskLevel")]
pub enum AnalysisRiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::analysis::findings::Severity")]
pub enum IssueSeverity {
    Low,
    Medium,
    High,
    Critical,
}

/// Who wrote the narrative.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
#[graphql(remote = "crate::domain::analysis::narrative::NarratorKind")]
pub enum Narrator {
    /// Our templates (no key, or the model failed or answered badly).
    Builtin,
    /// Claude, through the Anthropic Messages API.
    Claude,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum AnalysisOrigin {
    Manual,
    Routine,
    Trigger,
}

/// 0–100 per category.
#[derive(SimpleObject)]
pub struct CategoryScores {
    cpu: i32,
    ram: i32,
    disk: i32,
    security: i32,
    stability: i32,
}

/// One of the most important problems found, worst first.
#[derive(SimpleObject)]
pub struct AnalysisIssue {
    /// Stable code of the finding (`cpu_high`, `disk_filling`, …).
    code: String,
    title: String,
    description: String,
    severity: IssueSeverity,
}

impl From<Issue> for AnalysisIssue {
    fn from(i: Issue) -> Self {
        Self {
            code: i.code,
            title: i.title,
            description: i.description,
            severity: i.severity.into(),
        }
    }
}

/// A completed analysis: the numbers we computed, and the narrative that
/// explains them.
#[derive(SimpleObject)]
pub struct Analysis {
    id: ID,
    machine_id: ID,
    /// The machine's hostname when the analysis ran.
    hostname: String,
    #[graphql(name = "type")]
    kind: AnalysisType,
    /// 0–100; null for types that do not compute the health score.
    overall_score: Option<i32>,
    category_scores: Option<CategoryScores>,
    trend: Option<AnalysisTrend>,
    risk_level: Option<AnalysisRiskLevel>,
    /// 0–1: how much data backed the score.
    confidence: Option<f64>,
    summary: String,
    /// One paragraph per top issue, in their order.
    explanations: Vec<String>,
    top_issues: Vec<AnalysisIssue>,
    narrator: Narrator,
    language: Language,
    origin: AnalysisOrigin,
    /// Quota units the run took.
    cost: i32,
    /// Samples the engine read.
    samples: i64,
    /// Every section computed (anomalies, trends, degradations,
    /// intermittency, correlations, capacity, drift, logs,
    /// recommendations, scripts), as stored.
    findings: Json<serde_json::Value>,
    created_at: DateTime<Utc>,
}

impl From<StoredAnalysis> for Analysis {
    fn from(a: StoredAnalysis) -> Self {
        let health: Option<HealthFinding> = a.findings.health.clone();
        let json = serde_json::to_value(&a.findings).unwrap_or(serde_json::Value::Null);
        let findings::Findings {
            hostname,
            samples,
            issues,
            ..
        } = a.findings;
        Self {
            id: id(a.id),
            machine_id: id(a.machine_id),
            hostname,
            kind: a.kind.into(),
            overall_score: health.as_ref().map(|h| i32::from(h.overall)),
            category_scores: health.as_ref().map(|h| CategoryScores {
                cpu: h.categories.cpu.into(),
                ram: h.categories.ram.into(),
                disk: h.categories.disk.into(),
                security: h.categories.security.into(),
                stability: h.categories.stability.into(),
            }),
            trend: health.as_ref().map(|h| Direction::into(h.trend)),
            risk_level: health.as_ref().map(|h| h.risk.into()),
            confidence: health.as_ref().map(|h| h.confidence),
            summary: a.summary,
            explanations: a.explanations,
            top_issues: issues.into_iter().map(Into::into).collect(),
            narrator: NarratorKind::into(a.narrator),
            language: a.language.into(),
            origin: match a.origin {
                Origin::Manual { .. } => AnalysisOrigin::Manual,
                Origin::Routine { .. } => AnalysisOrigin::Routine,
                Origin::Trigger { .. } => AnalysisOrigin::Trigger,
            },
            cost: a.cost,
            samples: i64::try_from(samples).unwrap_or(i64::MAX),
            findings: Json(json),
            created_at: a.created_at,
        }
    }
}

/// The tenant's monthly AI quota: analyses cost 1 to 5 units each.
#[derive(SimpleObject)]
pub struct AiQuota {
    /// The super_admin's override, else the licence's.
    monthly_limit: i32,
    used: i32,
    remaining: i32,
    /// `YYYY-MM` (UTC).
    month: String,
}

impl From<QuotaStatus> for AiQuota {
    fn from(q: QuotaStatus) -> Self {
        Self {
            monthly_limit: q.monthly_limit,
            used: q.used,
            remaining: q.remaining,
            month: q.month,
        }
    }
}

fn check_first(first: i32) -> Result<u64> {
    match u64::try_from(first) {
        Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_input(
            "first",
            format!("must be between 1 and {MAX_PAGE}"),
        )),
    }
}

async fn page(
    ctx: &Context<'_>,
    machine_id: Option<&ID>,
    kind: Option<AnalysisKind>,
    first: i32,
    after: Option<String>,
) -> Result<Connection<String, Analysis, EmptyFields, EmptyFields>> {
    let principal = ctx.caller()?;
    let first = check_first(first)?;
    let machine_id = machine_id.map(|m| parse_id("machineId", m)).transpose()?;
    let after = parse_cursor(after)?;
    let (rows, more) = ctx
        .services()
        .analyses
        .list(principal.client_id, machine_id, kind, first, after)
        .await?;
    let mut connection = Connection::new(after.is_some(), more);
    connection.edges.extend(
        rows.into_iter()
            .map(|a| Edge::new(cursor(a.created_at, a.id), Analysis::from(a))),
    );
    Ok(connection)
}

async fn one(ctx: &Context<'_>, id: &ID, kind: Option<AnalysisKind>) -> Result<Analysis> {
    let principal = ctx.caller()?;
    let id = parse_id("id", id)?;
    let analysis = ctx.services().analyses.get(principal.client_id, id).await?;
    if kind.is_some_and(|k| k != analysis.kind) {
        return Err(ApiError::from(crate::domain::DomainError::NotFound("report")));
    }
    Ok(analysis.into())
}

#[derive(Default)]
pub struct AnalysisQuery;

#[Object]
impl AnalysisQuery {
    /// One analysis of the tenant.
    async fn analysis(&self, ctx: &Context<'_>, id: ID) -> Result<Analysis> {
        one(ctx, &id, None).await
    }

    /// The tenant's analyses, newest first, of one machine and one type
    /// when given; `first` up to 100.
    #[graphql(complexity = "super::cost::page(Some(first), 20, MAX_PAGE, child_complexity)")]
    async fn analyses(
        &self,
        ctx: &Context<'_>,
        machine_id: Option<ID>,
        #[graphql(name = "type")] kind: Option<AnalysisType>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, Analysis, EmptyFields, EmptyFields>> {
        page(ctx, machine_id.as_ref(), kind.map(Into::into), first, after).await
    }

    /// The tenant's reports (analyses of type REPORTS), newest first; each
    /// downloads as HTML from `/api/reports/{id}.html`.
    #[graphql(complexity = "super::cost::page(Some(first), 20, MAX_PAGE, child_complexity)")]
    async fn ai_reports(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, Analysis, EmptyFields, EmptyFields>> {
        page(ctx, None, Some(AnalysisKind::Reports), first, after).await
    }

    /// One report of the tenant.
    async fn ai_report(&self, ctx: &Context<'_>, id: ID) -> Result<Analysis> {
        one(ctx, &id, Some(AnalysisKind::Reports)).await
    }

    /// The caller's tenant's monthly AI quota and what it used.
    async fn ai_quota(&self, ctx: &Context<'_>) -> Result<AiQuota> {
        let principal = ctx.caller()?;
        Ok(ctx.services().analyses.quota(principal.client_id).await?.into())
    }
}

#[derive(Default)]
pub struct AnalysisMutation;

#[Object]
impl AnalysisMutation {
    /// Runs one analysis of a machine now and stores it (admin). Refused
    /// with PREMIUM_REQUIRED (advanced types below Pro), COOLDOWN (with
    /// `remainingSecs` and `nextAvailable`), NO_NEW_DATA (with
    /// `lastAnalysis`), NO_SIGNIFICANT_CHANGES (with `previousIssues` and
    /// `lastAnalysis`) or QUOTA_EXCEEDED, checked in that order. The
    /// narrative is in `language`, the tenant's when left out.
    async fn run_analysis(
        &self,
        ctx: &Context<'_>,
        machine_id: ID,
        #[graphql(name = "type")] kind: AnalysisType,
        language: Option<Language>,
    ) -> Result<Analysis> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let machine_id = parse_id("machineId", &machine_id)?;
        let request = RunRequest {
            client_id: principal.client_id,
            machine_id,
            kind: kind.into(),
            language: language.map(Into::into),
            origin: Origin::Manual {
                user_id: principal.user_id,
            },
        };
        let stored = ctx.services().analyses.run_with_meta(request, ctx.meta()).await?;
        Ok(stored.into())
    }

    /// Sets a tenant's monthly AI quota, or with `monthlyLimit: null`
    /// gives it back its licence's (super_admin). Returns the quota now.
    async fn set_ai_quota(
        &self,
        ctx: &Context<'_>,
        client_id: ID,
        monthly_limit: Option<i32>,
    ) -> Result<AiQuota> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let client_id = parse_id("clientId", &client_id)?;
        let services = ctx.services();
        services
            .licensing
            .set_ai_quota(principal, client_id, monthly_limit, ctx.meta())
            .await?;
        Ok(services.analyses.quota(client_id).await?.into())
    }
}

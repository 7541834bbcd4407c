//! Running an analysis behind the spec's protections, storing it and
//! reading it back. The call routines, triggers and `runAnalysis` make.
//!
//! The protections, in order (each refusal its own [`DomainError`]):
//! the machine is the tenant's, the plan has the type, the type's cooldown
//! on this machine is over, new data came in since the last run of the
//! type, something changed significantly, and the monthly quota has the
//! type's cost left. The quota is taken before the engine runs and given
//! back when the run fails, so it counts completed analyses only and two
//! runs can never share the last unit.

use super::{
    config::AiConfiguration,
    engine::Engine,
    findings::Findings,
    narrative::{Narrative, Narrator, NarratorKind},
    AnalysisKind,
};
use crate::{
    domain::{
        activity::{ActivityLog, Category, Cursor, Entry, Level, RequestMeta},
        licensing::{self, Licensing, Reservation},
        live::{self, Bus},
        DomainError,
    },
    infra::{cache::Cache, clock::Clock, db::Backend, db::Database},
};
use chrono::{DateTime, Duration as Days, SubsecRound, Utc};
use entities::{ai_analysis_results, clients, enums::Language, machines};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait, Value,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::{sync::Arc, time::Duration};
use uuid::Uuid;

/// The spec's retention of every `ai_*` row.
pub const RETENTION_DAYS: i64 = 90;

/// A move of CPU, RAM or disk use, in percentage points, that makes a
/// rerun worth its cost.
pub const SIGNIFICANT_POINTS: f64 = 15.0;
/// New ERROR or CRITICAL events that make a rerun worth its cost.
pub const SIGNIFICANT_NEW_ERRORS: i64 = 3;

/// How long a run holds its (machine, type) claim at most: longer than an
/// engine pass plus the narrator's retries, short enough that a crashed
/// instance's claim does not hold the machine long.
const CLAIM_TTL: Duration = Duration::from_secs(300);

pub const MAX_PAGE: u64 = 100;

/// Who asked for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A person or an API token (which may have no user).
    Manual {
        user_id: Option<Uuid>,
    },
    Routine {
        routine_id: Uuid,
    },
    Trigger {
        trigger_id: Uuid,
    },
}

impl Origin {
    /// The stored spelling (`ai_analysis_results.origin`).
    pub fn code(self) -> &'static str {
        match self {
            Self::Manual { .. } => "manual",
            Self::Routine { .. } => "routine",
            Self::Trigger { .. } => "trigger",
        }
    }

    pub fn id(self) -> Option<Uuid> {
        match self {
            Self::Manual { user_id } => user_id,
            Self::Routine { routine_id } => Some(routine_id),
            Self::Trigger { trigger_id } => Some(trigger_id),
        }
    }

    fn read(code: &str, id: Option<Uuid>) -> Self {
        match (code, id) {
            ("routine", Some(routine_id)) => Self::Routine { routine_id },
            ("trigger", Some(trigger_id)) => Self::Trigger { trigger_id },
            _ => Self::Manual { user_id: id },
        }
    }
}

#[derive(Clone, Debug)]
pub struct RunRequest {
    pub client_id: Uuid,
    pub machine_id: Uuid,
    pub kind: AnalysisKind,
    /// `None`: the tenant's language.
    pub language: Option<Language>,
    pub origin: Origin,
}

/// A completed, stored analysis.
#[derive(Clone, Debug)]
pub struct StoredAnalysis {
    pub id: Uuid,
    pub client_id: Uuid,
    pub machine_id: Uuid,
    pub kind: AnalysisKind,
    pub findings: Findings,
    pub summary: String,
    /// One paragraph per issue, in the order of `findings.issues`.
    pub explanations: Vec<String>,
    pub narrator: NarratorKind,
    pub language: Language,
    pub origin: Origin,
    /// Quota units it took.
    pub cost: i32,
    pub created_at: DateTime<Utc>,
}

/// The caller's monthly AI quota.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaStatus {
    pub monthly_limit: i32,
    pub used: i32,
    pub remaining: i32,
    /// `YYYY-MM`.
    pub month: String,
}

/// What change detection compares: the last hour's mean CPU and RAM use
/// and the fullest volume's mean use, stored with each run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub cpu: Option<f64>,
    pub ram: Option<f64>,
    pub disk: Option<f64>,
}

/// The machine's state now, against its last run of the type: one
/// statement.
#[derive(Debug, FromQueryResult)]
struct Observed {
    cpu: Option<f64>,
    ram: Option<f64>,
    disk: Option<f64>,
    metrics_until: Option<DateTime<Utc>>,
    events_until: Option<DateTime<Utc>>,
    disks_until: Option<DateTime<Utc>>,
    new_errors: i64,
    new_critical: i64,
    alert_changes: i64,
}

impl Observed {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            cpu: self.cpu,
            ram: self.ram,
            disk: self.disk,
        }
    }

    fn data_until(&self) -> Option<DateTime<Utc>> {
        [self.metrics_until, self.events_until, self.disks_until]
            .into_iter()
            .flatten()
            .max()
    }
}

/// Why a rerun is worth it, if it is: the first reason found.
fn significant(previous: &Snapshot, now: &Observed) -> Option<&'static str> {
    let moved = |before: Option<f64>, after: Option<f64>| match (before, after) {
        (Some(b), Some(a)) => (a - b).abs() >= SIGNIFICANT_POINTS,
        // A series the last run did not have is new to explain.
        (None, Some(_)) => true,
        _ => false,
    };
    let current = now.snapshot();
    if moved(previous.cpu, current.cpu) {
        Some("cpu")
    } else if moved(previous.ram, current.ram) {
        Some("ram")
    } else if moved(previous.disk, current.disk) {
        Some("disk")
    } else if now.new_errors >= SIGNIFICANT_NEW_ERRORS {
        Some("errors")
    } else if now.new_critical > 0 {
        Some("critical_event")
    } else if now.alert_changes > 0 {
        Some("alerts")
    } else {
        None
    }
}

/// Placeholders for a raw statement, numbered for PostgreSQL.
struct Params {
    backend: Backend,
    values: Vec<Value>,
}

impl Params {
    fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            Backend::Sqlite => "?".into(),
            Backend::Postgres => format!("${}", self.values.len()),
        }
    }
}

#[derive(Clone)]
pub struct Analyses {
    db: Database,
    cache: Arc<dyn Cache>,
    bus: Arc<Bus>,
    clock: Arc<dyn Clock>,
    licensing: Licensing,
    activity: ActivityLog,
    engine: Engine,
    narrator: Narrator,
    /// The tenant's criticality and custom context (Enterprise), given to
    /// the narrator as data.
    ai_config: AiConfiguration,
}

impl Analyses {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        db: Database,
        cache: Arc<dyn Cache>,
        bus: Arc<Bus>,
        clock: Arc<dyn Clock>,
        licensing: Licensing,
        activity: ActivityLog,
        narrator: Narrator,
        ai_config: AiConfiguration,
    ) -> Self {
        Self {
            ai_config,
            engine: Engine::new(db.clone(), clock.clone()),
            db,
            cache,
            bus,
            clock,
            licensing,
            activity,
            narrator,
        }
    }

    /// Runs one analysis behind the spec's protections, stores it and
    /// returns it; refusals are `DomainError`s with their own codes.
    pub async fn run(&self, request: RunRequest) -> Result<StoredAnalysis, DomainError> {
        self.run_with_meta(request, &RequestMeta::default()).await
    }

    /// [`Analyses::run`], with where a manual request came from for the
    /// activity log.
    pub async fn run_with_meta(
        &self,
        request: RunRequest,
        meta: &RequestMeta,
    ) -> Result<StoredAnalysis, DomainError> {
        let (machine, client) = machines::Entity::find_by_id(request.machine_id)
            .filter(machines::Column::ClientId.eq(request.client_id))
            .find_also_related(clients::Entity)
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("machine"))?;
        let client = client.ok_or(DomainError::NotFound("client"))?;
        let licence = licensing::of_row(&self.db.conn, &client, self.clock.now()).await?;
        // The plan comes before every other protection: a tenant whose plan
        // does not have the type must hear so, not "cooldown" or "no new
        // data" about something it can never run.
        if let Some(feature) = request.kind.feature() {
            licence.require(feature)?;
        }
        // One run per (machine, type) at a time across instances: without
        // it, two identical requests would both read "no previous run"
        // and both pass the cooldown.
        let claim = format!("analysis:running:{}:{}", request.machine_id, request.kind.code());
        let count = self.cache.hit(&claim, CLAIM_TTL).await;
        if count.count > 1 {
            // The other run starts the type's cooldown when it completes.
            let remaining = request.kind.cooldown();
            return Err(DomainError::Cooldown {
                remaining,
                next_available: self.clock.now() + to_chrono(remaining),
            });
        }
        let outcome = self.guarded(&request, &machine, &client, &licence).await;
        if let Err(e) = self.cache.delete(&claim).await {
            tracing::warn!(error = %e, "analysis claim not released; it expires on its TTL");
        }
        let stored = outcome?;
        let entry = Entry::new(
            Level::Info,
            Category::Machine,
            format!("Analyse {} : {}", request.kind.code(), machine.hostname),
        )
        .client(request.client_id)
        .by(match request.origin {
            Origin::Manual { user_id } => user_id,
            _ => None,
        })
        .metadata(json!({
            "analysis_id": stored.id,
            "machine_id": stored.machine_id,
            "type": request.kind.code(),
            "origin": request.origin.code(),
            "origin_id": request.origin.id(),
            "overall_score": stored.findings.health.as_ref().map(|h| h.overall),
            "narrator": narrator_code(stored.narrator),
            "cost": stored.cost,
        }));
        self.activity.record(entry, meta).await;
        self.bus
            .publish(live::analysis(
                request.client_id,
                live::AnalysisCompleted {
                    analysis_id: stored.id,
                    machine_id: stored.machine_id,
                    hostname: machine.hostname.clone(),
                    analysis_type: request.kind.code().to_owned(),
                    origin: request.origin.code().to_owned(),
                    overall_score: stored.findings.health.as_ref().map(|h| i32::from(h.overall)),
                    risk_level: stored
                        .findings
                        .health
                        .as_ref()
                        .map(|h| risk_code(h.risk).to_owned()),
                    summary: stored.summary.clone(),
                    at: stored.created_at,
                },
            ))
            .await;
        Ok(stored)
    }

    /// The protections after the claim, then the run itself.
    async fn guarded(
        &self,
        request: &RunRequest,
        machine: &machines::Model,
        client: &clients::Model,
        licence: &licensing::Licence,
    ) -> Result<StoredAnalysis, DomainError> {
        let now = self.clock.now();
        let kind = request.kind;
        let last = ai_analysis_results::Entity::find()
            .filter(ai_analysis_results::Column::ClientId.eq(request.client_id))
            .filter(ai_analysis_results::Column::MachineId.eq(request.machine_id))
            .filter(ai_analysis_results::Column::AnalysisType.eq(kind.code()))
            .order_by_desc(ai_analysis_results::Column::CreatedAt)
            // Ids are time-ordered (v7): the later of two runs stored in
            // the same instant.
            .order_by_desc(ai_analysis_results::Column::Id)
            .limit(1)
            .one(&self.db.conn)
            .await?;
        if let Some(last) = &last {
            let next_available = last.created_at + to_chrono(kind.cooldown());
            if next_available > now {
                return Err(DomainError::Cooldown {
                    remaining: (next_available - now).to_std().unwrap_or(Duration::from_secs(1)),
                    next_available,
                });
            }
        }
        let observed = self.observe(request.machine_id, last.as_ref(), now).await?;
        // The first run of a type on a machine has nothing to compare with.
        if let Some(last) = &last {
            let fresh = match (observed.data_until(), last.data_until) {
                (Some(now_until), Some(then)) => now_until > then,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if !fresh {
                return Err(DomainError::NoNewData {
                    last_analysis: last.created_at,
                });
            }
            let previous: Snapshot = serde_json::from_value(last.snapshot.clone()).unwrap_or_default();
            if significant(&previous, &observed).is_none() {
                let previous_issues = serde_json::from_str::<Findings>(&last.findings)
                    .map(|f| f.issues.into_iter().map(|i| i.title).collect())
                    .unwrap_or_default();
                return Err(DomainError::NoSignificantChanges {
                    last_analysis: last.created_at,
                    previous_issues,
                });
            }
        }
        let usage = self.licensing.usage();
        let reservation = usage
            .consume(request.client_id, licence.ai_quota_monthly, kind.cost())
            .await?;
        match self
            .compute_and_store(request, machine, client, licence, &observed, &reservation)
            .await
        {
            Ok(stored) => Ok(stored),
            Err(e) => {
                if let Err(refund) = usage.refund(&reservation).await {
                    tracing::error!(error = %refund.report(), "failed analysis's quota not given back");
                }
                Err(e)
            }
        }
    }

    async fn compute_and_store(
        &self,
        request: &RunRequest,
        machine: &machines::Model,
        client: &clients::Model,
        licence: &licensing::Licence,
        observed: &Observed,
        reservation: &Reservation,
    ) -> Result<StoredAnalysis, DomainError> {
        let language = request.language.unwrap_or(client.language);
        let mut findings = self
            .engine
            .findings(request.client_id, request.machine_id, request.kind, language)
            .await?;
        if findings.hostname.is_empty() {
            findings.hostname = machine.hostname.clone();
        }
        let context = self
            .ai_config
            .narration_context(licence, request.client_id, request.machine_id)
            .await?;
        let narrative = self
            .narrator
            .narrate(&findings, request.kind, language, &context)
            .await;
        // Microseconds, as PostgreSQL keeps them and page cursors carry
        // them: SQLite would keep the nanoseconds a cursor cannot name.
        let now = self.clock.now().trunc_subsecs(6);
        let id = Uuid::now_v7();
        let findings_json =
            serde_json::to_string(&findings).map_err(|e| DomainError::internal("findings to JSON", e))?;
        let narrative_json =
            serde_json::to_value(&narrative).map_err(|e| DomainError::internal("narrative to JSON", e))?;
        let snapshot = serde_json::to_value(observed.snapshot())
            .map_err(|e| DomainError::internal("snapshot to JSON", e))?;
        let row = ai_analysis_results::ActiveModel {
            id: Set(id),
            client_id: Set(request.client_id),
            machine_id: Set(request.machine_id),
            analysis_type: Set(request.kind.code().to_owned()),
            origin: Set(request.origin.code().to_owned()),
            origin_id: Set(request.origin.id()),
            language: Set(language),
            findings: Set(findings_json),
            overall_score: Set(findings.health.as_ref().map(|h| i32::from(h.overall))),
            risk_level: Set(findings.health.as_ref().map(|h| risk_code(h.risk).to_owned())),
            summary: Set(narrative.summary.clone()),
            narrative: Set(narrative_json),
            narrator: Set(narrator_code(narrative.narrator).to_owned()),
            cost: Set(reservation.cost),
            data_until: Set(observed.data_until()),
            snapshot: Set(snapshot),
            created_at: Set(now),
            expires_at: Set(now + Days::days(RETENTION_DAYS)),
        };
        let txn = self.db.conn.begin().await?;
        ai_analysis_results::Entity::insert(row)
            .exec_without_returning(&txn)
            .await?;
        // An analysis's health score replaces the stored one.
        if let Some(health) = &findings.health {
            machines::Entity::update_many()
                .col_expr(
                    machines::Column::HealthScore,
                    Expr::value(i32::from(health.overall)),
                )
                .filter(machines::Column::Id.eq(request.machine_id))
                .filter(machines::Column::ClientId.eq(request.client_id))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        let Narrative {
            summary,
            explanations,
            narrator,
        } = narrative;
        Ok(StoredAnalysis {
            id,
            client_id: request.client_id,
            machine_id: request.machine_id,
            kind: request.kind,
            findings,
            summary,
            explanations,
            narrator,
            language,
            origin: request.origin,
            cost: reservation.cost,
            created_at: now,
        })
    }

    /// The last hour's means, the newest sample of each series, and what
    /// happened since the last run (new ERROR/CRITICAL events since the
    /// data it saw, alerts raised or resolved since it ran): one
    /// statement.
    async fn observe(
        &self,
        machine_id: Uuid,
        last: Option<&ai_analysis_results::Model>,
        now: DateTime<Utc>,
    ) -> Result<Observed, DomainError> {
        let hour_ago = now - Days::hours(1);
        let ran_at = last.map_or(now, |l| l.created_at);
        let seen_until = last.and_then(|l| l.data_until).unwrap_or(ran_at);
        let mut p = Params {
            backend: self.db.backend,
            values: Vec::new(),
        };
        let sql = format!(
            "SELECT \
             (SELECT AVG(cpu_percent) FROM metrics WHERE machine_id = {m1} AND collector = 'metrics' AND recorded_at > {h1}) AS cpu, \
             (SELECT AVG(ram_percent) FROM metrics WHERE machine_id = {m2} AND collector = 'metrics' AND recorded_at > {h2}) AS ram, \
             (SELECT MAX(v) FROM (SELECT AVG(used_percent) AS v FROM disk_info WHERE machine_id = {m3} AND recorded_at > {h3} GROUP BY mount_point) AS volumes) AS disk, \
             (SELECT MAX(recorded_at) FROM metrics WHERE machine_id = {m4}) AS metrics_until, \
             (SELECT MAX(recorded_at) FROM event_logs WHERE machine_id = {m5}) AS events_until, \
             (SELECT MAX(recorded_at) FROM disk_info WHERE machine_id = {m6}) AS disks_until, \
             (SELECT COUNT(*) FROM event_logs WHERE machine_id = {m7} AND LOWER(level) IN ('error', 'critical') AND recorded_at > {s1}) AS new_errors, \
             (SELECT COUNT(*) FROM event_logs WHERE machine_id = {m8} AND LOWER(level) = 'critical' AND recorded_at > {s2}) AS new_critical, \
             (SELECT COUNT(*) FROM alert_rule_history WHERE machine_id = {m9} AND (triggered_at > {r1} OR resolved_at > {r2})) AS alert_changes",
            m1 = p.bind(machine_id),
            h1 = p.bind(hour_ago),
            m2 = p.bind(machine_id),
            h2 = p.bind(hour_ago),
            m3 = p.bind(machine_id),
            h3 = p.bind(hour_ago),
            m4 = p.bind(machine_id),
            m5 = p.bind(machine_id),
            m6 = p.bind(machine_id),
            m7 = p.bind(machine_id),
            s1 = p.bind(seen_until),
            m8 = p.bind(machine_id),
            s2 = p.bind(seen_until),
            m9 = p.bind(machine_id),
            r1 = p.bind(ran_at),
            r2 = p.bind(ran_at),
        );
        let stmt = Statement::from_sql_and_values(self.db.conn.get_database_backend(), sql, p.values);
        Observed::find_by_statement(stmt)
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::invariant("observation returned no row"))
    }

    /// One stored analysis of the tenant.
    pub async fn get(&self, client_id: Uuid, id: Uuid) -> Result<StoredAnalysis, DomainError> {
        let row = ai_analysis_results::Entity::find_by_id(id)
            .filter(ai_analysis_results::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("analysis"))?;
        read(row)
    }

    /// One page of the tenant's analyses, newest first, optionally of one
    /// machine and one type; the flag says whether more follow.
    pub async fn list(
        &self,
        client_id: Uuid,
        machine_id: Option<Uuid>,
        kind: Option<AnalysisKind>,
        first: u64,
        after: Option<Cursor>,
    ) -> Result<(Vec<StoredAnalysis>, bool), DomainError> {
        use ai_analysis_results::Column as C;
        let first = first.clamp(1, MAX_PAGE);
        let mut cond = Condition::all().add(C::ClientId.eq(client_id));
        if let Some(m) = machine_id {
            cond = cond.add(C::MachineId.eq(m));
        }
        if let Some(k) = kind {
            cond = cond.add(C::AnalysisType.eq(k.code()));
        }
        if let Some(c) = after {
            cond = cond.add(
                Condition::any().add(C::CreatedAt.lt(c.timestamp)).add(
                    Condition::all()
                        .add(C::CreatedAt.eq(c.timestamp))
                        .add(C::Id.lt(c.id)),
                ),
            );
        }
        let mut rows = ai_analysis_results::Entity::find()
            .filter(cond)
            .order_by_desc(C::CreatedAt)
            .order_by_desc(C::Id)
            .limit(first + 1)
            .all(&self.db.conn)
            .await?;
        let more = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Ok((rows.into_iter().map(read).collect::<Result<_, _>>()?, more))
    }

    /// The tenant's monthly limit (its override, else its licence's), what
    /// it used this month and what remains.
    pub async fn quota(&self, client_id: Uuid) -> Result<QuotaStatus, DomainError> {
        let licence = self.licensing.of(client_id).await?;
        let usage = self.licensing.usage();
        let used = usage.used(client_id).await?;
        Ok(QuotaStatus {
            monthly_limit: licence.ai_quota_monthly,
            used,
            remaining: (licence.ai_quota_monthly - used).max(0),
            month: usage.month(),
        })
    }

    /// Deletes analyses past their expiry (90 days after they ran, the
    /// spec's `ai_*` retention); returns how many.
    pub async fn purge_expired(db: &Database, now: DateTime<Utc>) -> Result<u64, sea_orm::DbErr> {
        Ok(ai_analysis_results::Entity::delete_many()
            .filter(ai_analysis_results::Column::ExpiresAt.lt(now))
            .exec(&db.conn)
            .await?
            .rows_affected)
    }
}

fn to_chrono(d: Duration) -> Days {
    Days::from_std(d).unwrap_or(Days::MAX)
}

pub fn narrator_code(n: NarratorKind) -> &'static str {
    match n {
        NarratorKind::Builtin => "builtin",
        NarratorKind::Claude => "claude",
    }
}

pub fn risk_code(r: super::findings::RiskLevel) -> &'static str {
    use super::findings::RiskLevel as R;
    match r {
        R::Low => "low",
        R::Medium => "medium",
        R::High => "high",
        R::Critical => "critical",
    }
}

fn read(row: ai_analysis_results::Model) -> Result<StoredAnalysis, DomainError> {
    let kind =
        AnalysisKind::parse(&row.analysis_type).ok_or(DomainError::invariant("unknown analysis type"))?;
    let findings: Findings =
        serde_json::from_str(&row.findings).map_err(|e| DomainError::internal("stored findings", e))?;
    let narrative: Narrative =
        serde_json::from_value(row.narrative).map_err(|e| DomainError::internal("stored narrative", e))?;
    Ok(StoredAnalysis {
        id: row.id,
        client_id: row.client_id,
        machine_id: row.machine_id,
        kind,
        findings,
        summary: row.summary,
        explanations: narrative.explanations,
        narrator: narrative.narrator,
        language: row.language,
        origin: Origin::read(&row.origin, row.origin_id),
        cost: row.cost,
        created_at: row.created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(cpu: f64, ram: f64, disk: f64) -> Observed {
        Observed {
            cpu: Some(cpu),
            ram: Some(ram),
            disk: Some(disk),
            metrics_until: None,
            events_until: None,
            disks_until: None,
            new_errors: 0,
            new_critical: 0,
            alert_changes: 0,
        }
    }

    #[test]
    fn a_change_is_significant_from_15_points_3_errors_a_critical_event_or_an_alert() {
        let before = Snapshot {
            cpu: Some(20.0),
            ram: Some(50.0),
            disk: Some(70.0),
        };
        assert_eq!(significant(&before, &observed(34.9, 50.0, 70.0)), None);
        assert_eq!(significant(&before, &observed(35.0, 50.0, 70.0)), Some("cpu"));
        assert_eq!(significant(&before, &observed(20.0, 35.0, 70.0)), Some("ram"));
        assert_eq!(significant(&before, &observed(20.0, 50.0, 85.5)), Some("disk"));
        let mut errors = observed(20.0, 50.0, 70.0);
        errors.new_errors = 2;
        assert_eq!(significant(&before, &errors), None);
        errors.new_errors = 3;
        assert_eq!(significant(&before, &errors), Some("errors"));
        let mut critical = observed(20.0, 50.0, 70.0);
        critical.new_critical = 1;
        assert_eq!(significant(&before, &critical), Some("critical_event"));
        let mut alert = observed(20.0, 50.0, 70.0);
        alert.alert_changes = 1;
        assert_eq!(significant(&before, &alert), Some("alerts"));
        let mut silent = observed(0.0, 0.0, 0.0);
        silent.cpu = None;
        assert_eq!(
            significant(
                &Snapshot {
                    cpu: Some(1.0),
                    ..before
                },
                &Observed {
                    ram: Some(50.0),
                    disk: Some(70.0),
                    ..silent
                }
            ),
            None,
            "a series gone quiet is no news"
        );
        assert_eq!(
            significant(&Snapshot { cpu: None, ..before }, &observed(20.0, 50.0, 70.0)),
            Some("cpu"),
            "a series the last run did not have is"
        );
    }

    #[test]
    fn origins_round_trip_through_their_stored_form() {
        let routine = Origin::Routine {
            routine_id: Uuid::from_u128(7),
        };
        assert_eq!(Origin::read(routine.code(), routine.id()), routine);
        let token = Origin::Manual { user_id: None };
        assert_eq!(Origin::read(token.code(), token.id()), token);
    }
}

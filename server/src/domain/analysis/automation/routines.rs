//! Routines: CRUD, history and stats, and the scheduler's pass. A run is
//! claimed by moving `next_run_at` with a conditional UPDATE before the
//! run starts, so however many instances tick at once, one runs it.

use super::{
    disposition,
    spec::{check_name, check_routine_config, Machines, RoutineConfig, RoutineType, Schedule},
    Automation, Disposition, DEFAULT_HISTORY, MAX_HISTORY, MAX_PER_TENANT,
};
use crate::domain::{
    activity::{Category, Entry, Level, RequestMeta},
    analysis::service::{Origin, RunRequest, StoredAnalysis},
    auth::Principal,
    licensing::Feature,
    DomainError,
};
use chrono::{DateTime, Duration, Utc};
use entities::{ai_routine_history, ai_routines, machines};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// Routines one scheduler pass takes at most; the rest wait for the next.
const BATCH: u64 = 200;

#[derive(Clone, Debug)]
pub struct RoutineInput {
    pub name: Option<String>,
    pub routine_type: String,
    pub schedule: String,
    pub timezone: Option<String>,
    pub enabled: bool,
    pub config: RoutineConfig,
}

/// `routineStats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoutineStats {
    pub total: u64,
    pub enabled: u64,
    pub last_24h_runs: u64,
}

/// What one scheduler pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pass {
    /// Routines this pass claimed and ran.
    pub ran: Vec<Uuid>,
}

/// A run's tally, written to its history row.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub analyzed: i32,
    pub skipped: i32,
    pub failed: i32,
    pub issues: i32,
    pub stopped: Option<String>,
    pub errors: Vec<String>,
    /// The analyses made, for the notification.
    pub analyses: Vec<StoredAnalysis>,
    /// (hostname, drifting metrics) of a drift detection.
    pub drifts: Vec<(String, Vec<String>)>,
}

impl Tally {
    pub fn status(&self) -> &'static str {
        if self.stopped.is_some() || (self.failed > 0 && self.analyzed > 0) {
            "partial"
        } else if self.failed > 0 {
            "failed"
        } else {
            "success"
        }
    }
}

fn check_type(code: &str) -> Result<RoutineType, DomainError> {
    RoutineType::parse(code.trim()).ok_or_else(|| {
        DomainError::invalid(
            "routineType",
            format!(
                "must be one of {}",
                RoutineType::ALL.map(RoutineType::code).join(", ")
            ),
        )
    })
}

/// A routine's configuration as stored, read back.
pub fn config_of(routine: &ai_routines::Model) -> RoutineConfig {
    serde_json::from_value(routine.config.clone()).unwrap_or_default()
}

impl Automation {
    /// The checked row of an input, and its schedule.
    async fn checked(
        &self,
        client_id: Uuid,
        input: RoutineInput,
    ) -> Result<(String, RoutineType, Schedule, Option<String>, RoutineConfig), DomainError> {
        let routine_type = check_type(&input.routine_type)?;
        let name = match input.name.as_deref() {
            Some(n) => check_name(n)?,
            None => routine_type.code().to_owned(),
        };
        let timezone = input
            .timezone
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let schedule = Schedule::parse(&input.schedule, timezone.as_deref())?;
        let config = check_routine_config(input.config)?;
        if let Machines::List(ids) = &config.machines {
            self.check_machines(client_id, "config.machines", ids).await?;
        }
        self.check_channels(client_id, "config.notifyChannels", &config.notify_channels)
            .await?;
        Ok((name, routine_type, schedule, timezone, config))
    }

    async fn owned_routine(&self, client_id: Uuid, id: Uuid) -> Result<ai_routines::Model, DomainError> {
        ai_routines::Entity::find_by_id(id)
            .filter(ai_routines::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("routine"))
    }

    pub async fn routines(&self, actor: &Principal) -> Result<Vec<ai_routines::Model>, DomainError> {
        self.gate(actor).await?;
        Ok(ai_routines::Entity::find()
            .filter(ai_routines::Column::ClientId.eq(actor.client_id))
            .order_by_asc(ai_routines::Column::CreatedAt)
            .order_by_asc(ai_routines::Column::Id)
            .all(&self.db.conn)
            .await?)
    }

    pub async fn routine(&self, actor: &Principal, id: Uuid) -> Result<ai_routines::Model, DomainError> {
        self.gate(actor).await?;
        self.owned_routine(actor.client_id, id).await
    }

    pub async fn create_routine(
        &self,
        actor: &Principal,
        input: RoutineInput,
        meta: &RequestMeta,
    ) -> Result<ai_routines::Model, DomainError> {
        self.gate(actor).await?;
        let enabled = input.enabled;
        let (name, routine_type, schedule, timezone, config) = self.checked(actor.client_id, input).await?;
        let count = ai_routines::Entity::find()
            .filter(ai_routines::Column::ClientId.eq(actor.client_id))
            .count(&self.db.conn)
            .await?;
        if count >= MAX_PER_TENANT {
            return Err(DomainError::Conflict(format!(
                "at most {MAX_PER_TENANT} routines per tenant"
            )));
        }
        let now = self.clock.now();
        let routine = ai_routines::Entity::insert(ai_routines::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(actor.client_id),
            name: Set(name),
            routine_type: Set(routine_type.code().to_owned()),
            schedule: Set(schedule.expression().to_owned()),
            timezone: Set(timezone),
            enabled: Set(enabled),
            config: Set(json!(config)),
            last_run_at: Set(None),
            next_run_at: Set(schedule.next_after(now)),
            created_by: Set(actor.user_id),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_with_returning(&self.db.conn)
        .await?;
        self.log_routine(actor, "Routine IA créée", &routine, meta).await;
        Ok(routine)
    }

    pub async fn update_routine(
        &self,
        actor: &Principal,
        id: Uuid,
        input: RoutineInput,
        meta: &RequestMeta,
    ) -> Result<ai_routines::Model, DomainError> {
        self.gate(actor).await?;
        let current = self.owned_routine(actor.client_id, id).await?;
        let enabled = input.enabled;
        let (name, routine_type, schedule, timezone, config) = self.checked(actor.client_id, input).await?;
        let now = self.clock.now();
        let mut model: ai_routines::ActiveModel = current.into();
        model.name = Set(name);
        model.routine_type = Set(routine_type.code().to_owned());
        model.schedule = Set(schedule.expression().to_owned());
        model.timezone = Set(timezone);
        model.enabled = Set(enabled);
        model.config = Set(json!(config));
        // A new schedule starts from now: a routine edited at 07:59 to run
        // at 08:00 runs at 08:00, not at the old schedule's next time.
        model.next_run_at = Set(schedule.next_after(now));
        model.updated_at = Set(now);
        let routine = model.update(&self.db.conn).await?;
        self.log_routine(actor, "Routine IA modifiée", &routine, meta)
            .await;
        Ok(routine)
    }

    /// Deletes the routine and its history.
    pub async fn delete_routine(
        &self,
        actor: &Principal,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        self.gate(actor).await?;
        let routine = self.owned_routine(actor.client_id, id).await?;
        ai_routines::Entity::delete_by_id(id)
            .filter(ai_routines::Column::ClientId.eq(actor.client_id))
            .exec(&self.db.conn)
            .await?;
        self.log_routine(actor, "Routine IA supprimée", &routine, meta)
            .await;
        Ok(())
    }

    async fn log_routine(
        &self,
        actor: &Principal,
        message: &str,
        r: &ai_routines::Model,
        meta: &RequestMeta,
    ) {
        let entry = Entry::new(Level::Info, Category::System, message)
            .client(actor.client_id)
            .by(actor.user_id)
            .metadata(json!({
                "routine_id": r.id, "name": r.name, "routine_type": r.routine_type,
                "schedule": r.schedule, "enabled": r.enabled,
            }));
        self.activity.record(entry, meta).await;
    }

    /// The routine's runs, newest first (`first`: 20 by default, 100 at most).
    pub async fn routine_history(
        &self,
        actor: &Principal,
        id: Uuid,
        first: Option<u64>,
    ) -> Result<Vec<ai_routine_history::Model>, DomainError> {
        self.gate(actor).await?;
        self.owned_routine(actor.client_id, id).await?;
        let first = first.unwrap_or(DEFAULT_HISTORY).clamp(1, MAX_HISTORY);
        Ok(ai_routine_history::Entity::find()
            .filter(ai_routine_history::Column::RoutineId.eq(id))
            .filter(ai_routine_history::Column::ClientId.eq(actor.client_id))
            .order_by_desc(ai_routine_history::Column::StartedAt)
            .order_by_desc(ai_routine_history::Column::Id)
            .limit(first)
            .all(&self.db.conn)
            .await?)
    }

    /// The newest run of each routine listed (one query), for the overview.
    pub async fn last_routine_runs(
        &self,
        client_id: Uuid,
        ids: &[Uuid],
    ) -> Result<HashMap<Uuid, ai_routine_history::Model>, DomainError> {
        use ai_routine_history::Column as C;
        let rows = super::latest_per_parent::<ai_routine_history::Entity>(
            &self.db,
            (C::ClientId, C::RoutineId, C::StartedAt),
            client_id,
            ids,
        )
        .await?;
        Ok(rows.into_iter().map(|r| (r.routine_id, r)).collect())
    }

    pub async fn routine_stats(&self, actor: &Principal) -> Result<RoutineStats, DomainError> {
        self.gate(actor).await?;
        let client_id = actor.client_id;
        let base = || ai_routines::Entity::find().filter(ai_routines::Column::ClientId.eq(client_id));
        let since = self.clock.now() - Duration::hours(24);
        let (total, enabled, runs) = futures::try_join!(
            base().count(&self.db.conn),
            base()
                .filter(ai_routines::Column::Enabled.eq(true))
                .count(&self.db.conn),
            ai_routine_history::Entity::find()
                .filter(ai_routine_history::Column::ClientId.eq(client_id))
                .filter(ai_routine_history::Column::StartedAt.gte(since))
                .count(&self.db.conn),
        )?;
        Ok(RoutineStats {
            total,
            enabled,
            last_24h_runs: runs,
        })
    }

    /// One scheduler pass: every enabled routine due now, of a tenant whose
    /// licence is active and includes automation, is claimed and run.
    pub async fn run_due(&self) -> Result<Pass, DomainError> {
        let now = self.clock.now();
        let due = ai_routines::Entity::find()
            .filter(ai_routines::Column::Enabled.eq(true))
            .filter(
                Condition::any()
                    .add(ai_routines::Column::NextRunAt.is_null())
                    .add(ai_routines::Column::NextRunAt.lte(now)),
            )
            .order_by_asc(ai_routines::Column::NextRunAt)
            .limit(BATCH)
            .all(&self.db.conn)
            .await?;
        let mut allowed: HashMap<Uuid, bool> = HashMap::new();
        let mut pass = Pass::default();
        for routine in due {
            let ok = match allowed.get(&routine.client_id) {
                Some(ok) => *ok,
                None => {
                    let licence = self.licensing.of(routine.client_id).await?;
                    let ok = licence.is_active() && licence.require(Feature::AiAutomation).is_ok();
                    allowed.insert(routine.client_id, ok);
                    ok
                }
            };
            // A routine of a lapsed licence keeps its due date: it catches up
            // once the licence is renewed.
            if !ok || !self.claim(&routine, now).await? {
                continue;
            }
            if let Err(e) = self.run_routine(&routine, now).await {
                e.log("routine run");
            }
            pass.ran.push(routine.id);
        }
        Ok(pass)
    }

    /// Moves the routine's `next_run_at` to its next time, on condition that
    /// it still holds the value this pass read: true for the one instance
    /// whose UPDATE matched.
    async fn claim(&self, routine: &ai_routines::Model, now: DateTime<Utc>) -> Result<bool, DomainError> {
        let next = Schedule::parse(&routine.schedule, routine.timezone.as_deref())
            .ok()
            .and_then(|s| s.next_after(now));
        let mut update = ai_routines::Entity::update_many()
            .col_expr(ai_routines::Column::NextRunAt, Expr::value(next))
            .col_expr(ai_routines::Column::LastRunAt, Expr::value(Some(now)))
            .filter(ai_routines::Column::Id.eq(routine.id))
            .filter(ai_routines::Column::Enabled.eq(true));
        update = match routine.next_run_at {
            Some(at) => update.filter(ai_routines::Column::NextRunAt.eq(at)),
            None => update.filter(ai_routines::Column::NextRunAt.is_null()),
        };
        Ok(update.exec(&self.db.conn).await?.rows_affected == 1)
    }

    /// Runs a claimed routine over its machines and records the run.
    async fn run_routine(&self, routine: &ai_routines::Model, now: DateTime<Utc>) -> Result<(), DomainError> {
        let history_id = Uuid::now_v7();
        ai_routine_history::Entity::insert(ai_routine_history::ActiveModel {
            id: Set(history_id),
            routine_id: Set(routine.id),
            client_id: Set(routine.client_id),
            started_at: Set(now),
            completed_at: Set(None),
            status: Set("running".into()),
            machines_analyzed: Set(0),
            issues_found: Set(0),
            error: Set(None),
        })
        .exec(&self.db.conn)
        .await?;
        let tally = match self.analyse_all(routine).await {
            Ok(t) => t,
            Err(e) => Tally {
                failed: 1,
                errors: vec![super::reason(&e)],
                ..Tally::default()
            },
        };
        let mut errors = tally.errors.clone();
        if let Some(stop) = &tally.stopped {
            errors.insert(0, stop.clone());
        }
        let error = (!errors.is_empty()).then(|| errors.join("; ").chars().take(2000).collect::<String>());
        ai_routine_history::Entity::update_many()
            .col_expr(
                ai_routine_history::Column::CompletedAt,
                Expr::value(Some(self.clock.now())),
            )
            .col_expr(ai_routine_history::Column::Status, Expr::value(tally.status()))
            .col_expr(
                ai_routine_history::Column::MachinesAnalyzed,
                Expr::value(tally.analyzed),
            )
            .col_expr(ai_routine_history::Column::IssuesFound, Expr::value(tally.issues))
            .col_expr(ai_routine_history::Column::Error, Expr::value(error))
            .filter(ai_routine_history::Column::Id.eq(history_id))
            .exec(&self.db.conn)
            .await?;
        if let Err(e) = self.deliver_routine(routine, &tally).await {
            e.log("routine notification");
        }
        Ok(())
    }

    /// The routine's target machines now, by hostname.
    async fn targets(
        &self,
        routine: &ai_routines::Model,
        config: &RoutineConfig,
    ) -> Result<Vec<machines::Model>, DomainError> {
        let mut q = machines::Entity::find().filter(machines::Column::ClientId.eq(routine.client_id));
        if let Machines::List(ids) = &config.machines {
            q = q.filter(machines::Column::Id.is_in(ids.iter().copied()));
        }
        Ok(q.order_by_asc(machines::Column::Hostname)
            .all(&self.db.conn)
            .await?)
    }

    async fn analyse_all(&self, routine: &ai_routines::Model) -> Result<Tally, DomainError> {
        let routine_type = RoutineType::parse(&routine.routine_type)
            .ok_or(DomainError::invariant("a stored routine type is unknown"))?;
        let config = config_of(routine);
        let kind = config.kind(routine_type);
        let mut tally = Tally::default();
        for machine in self.targets(routine, &config).await? {
            let result = match kind {
                Some(kind) => self
                    .analyses
                    .run(RunRequest {
                        client_id: routine.client_id,
                        machine_id: machine.id,
                        kind,
                        language: None,
                        origin: Origin::Routine {
                            routine_id: routine.id,
                        },
                    })
                    .await
                    .map(|a| {
                        tally.issues += a.findings.issues.len() as i32;
                        tally.analyses.push(a);
                    }),
                None => match &self.baselines {
                    Some(b) => b.refresh(routine.client_id, machine.id).await.map(|drifts| {
                        let drifting: Vec<String> = drifts
                            .iter()
                            .filter(|d| d.severity != crate::domain::analysis::findings::DriftSeverity::None)
                            .map(|d| d.metric.clone())
                            .collect();
                        tally.issues += drifting.len() as i32;
                        if !drifting.is_empty() {
                            tally.drifts.push((machine.hostname.clone(), drifting));
                        }
                    }),
                    None => Err(DomainError::invariant("drift baselines are not available")),
                },
            };
            match result {
                Ok(()) => tally.analyzed += 1,
                Err(e) => match disposition(&e) {
                    Disposition::Skipped => tally.skipped += 1,
                    Disposition::Stop => {
                        tally.stopped = Some(super::reason(&e));
                        break;
                    }
                    Disposition::Failed => {
                        e.log("routine analysis");
                        tally.failed += 1;
                        if tally.errors.len() < 5 {
                            tally
                                .errors
                                .push(format!("{}: {}", machine.hostname, super::reason(&e)));
                        }
                    }
                },
            }
        }
        Ok(tally)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::{
            analysis::{
                automation::{for_tests, DriftBaselines},
                findings::{Drift, DriftSeverity},
            },
            fixtures,
        },
        infra::{
            clock::{Clock, ManualClock},
            db::Database,
        },
    };
    use async_trait::async_trait;
    use std::sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    };

    /// Drifts on every machine, or the quota refusal.
    struct Baselines {
        quota_spent: bool,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl DriftBaselines for Baselines {
        async fn refresh(&self, _client_id: Uuid, _machine_id: Uuid) -> Result<Vec<Drift>, DomainError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.quota_spent {
                return Err(DomainError::QuotaExceeded {
                    limit: 10,
                    used: 10,
                    resets_at: chrono::Utc::now(),
                });
            }
            let drift = |metric: &str, severity| Drift {
                metric: metric.into(),
                baseline_mean: 20.0,
                baseline_stddev: 5.0,
                baseline_p95: 30.0,
                current_value: 40.0,
                z_score: 4.0,
                severity,
            };
            Ok(vec![
                drift("cpu_percent", DriftSeverity::Critical),
                drift("ram_percent", DriftSeverity::None),
            ])
        }
    }

    async fn due_drift_routine(db: &Database, client_id: Uuid, at: DateTime<Utc>) -> ai_routines::Model {
        ai_routines::Entity::insert(ai_routines::ActiveModel {
            id: Set(Uuid::new_v4()),
            client_id: Set(client_id),
            name: Set("Dérives".into()),
            routine_type: Set("drift_detection".into()),
            schedule: Set("0 8 * * *".into()),
            timezone: Set(None),
            enabled: Set(true),
            config: Set(json!({"machines": "all"})),
            last_run_at: Set(None),
            next_run_at: Set(Some(at - Duration::minutes(1))),
            created_by: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        })
        .exec_with_returning(&db.conn)
        .await
        .unwrap()
    }

    /// A drift-detection run refreshes every machine's baselines, counts
    /// the drifting metrics, records the run and moves the next one; a
    /// spent quota stops the run as partial.
    #[tokio::test]
    async fn a_drift_routine_counts_its_drifts_and_a_spent_quota_stops_it_partial() {
        let db = Database::in_memory().await.unwrap();
        let clock = ManualClock::starting_now();
        let (client, machine) = fixtures::tenant_with_machine(&db, clock.now()).await;
        let baselines = Arc::new(Baselines {
            quota_spent: false,
            calls: AtomicUsize::new(0),
        });
        let automation = for_tests(&db, &clock).with_baselines(baselines.clone());
        let routine = due_drift_routine(&db, client.id, clock.now()).await;

        let pass = automation.run_due().await.unwrap();
        assert_eq!(pass.ran, vec![routine.id]);
        assert_eq!(
            automation.run_due().await.unwrap().ran,
            Vec::<Uuid>::new(),
            "not due twice"
        );
        let run = ai_routine_history::Entity::find()
            .one(&db.conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (run.status.as_str(), run.machines_analyzed, run.issues_found),
            ("success", 1, 1)
        );
        assert!(run.completed_at.is_some() && run.error.is_none());
        let after = ai_routines::Entity::find_by_id(routine.id)
            .one(&db.conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.last_run_at, Some(clock.now()));
        assert!(after.next_run_at.unwrap() > clock.now());

        // A second machine, and the quota spent: the first refusal stops it.
        let second = machines::ActiveModel {
            id: Set(Uuid::new_v4()),
            hostname: Set("srv-02".into()),
            hardware_id: Set(Some("HW-2".into())),
            ..machine.clone().into()
        };
        machines::Entity::insert(second).exec(&db.conn).await.unwrap();
        let spent = Arc::new(Baselines {
            quota_spent: true,
            calls: AtomicUsize::new(0),
        });
        let automation = for_tests(&db, &clock).with_baselines(spent.clone());
        let routine = due_drift_routine(&db, client.id, clock.now()).await;
        assert_eq!(automation.run_due().await.unwrap().ran, vec![routine.id]);
        assert_eq!(
            spent.calls.load(Ordering::SeqCst),
            1,
            "stopped at the first refusal"
        );
        let run = ai_routine_history::Entity::find()
            .filter(ai_routine_history::Column::RoutineId.eq(routine.id))
            .one(&db.conn)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((run.status.as_str(), run.machines_analyzed), ("partial", 0));
        assert!(run.error.unwrap().contains("quota"));
    }
}

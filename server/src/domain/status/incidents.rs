//! Service incidents: opened and resolved by the checks (the uptime job's
//! and every refresh of the status report), or posted by hand by a
//! super_admin.
//!
//! A check drives transitions against the open incident of its service:
//! none → degraded/offline opens one, a worse state raises its status,
//! online resolves it. The partial unique index (one open incident per
//! service) makes concurrent opens from several instances land once.
//!
//! While the database is away nothing can be written, and the database is
//! the service most likely to be failing: the transitions are then kept in
//! this instance's memory (and shown by [`Incidents::latest`]), and written
//! with their true times by the first check that reaches the database again.
//! Each instance keeps its own copy of a shared outage: the first written
//! stands for it, and the later copies merge into the row whose span they
//! overlap.

use super::{
    keys,
    uptime::{Checks, Service, State},
};
use crate::{
    domain::{
        activity::{ActivityLog, Category, Entry, Level, RequestMeta},
        auth::Principal,
        DomainError,
    },
    infra::{cache::Cache, clock::Clock, db::Database},
};
use chrono::{DateTime, Utc};
use entities::service_incidents;
use sea_orm::{
    sea_query::{Expr, Func},
    ActiveValue::Set,
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use uuid::Uuid;

/// Incidents `GET /status/incidents` lists.
pub const LATEST: u64 = 10;
/// Longest description a super_admin may post.
pub const MAX_DESCRIPTION: usize = 2_000;
/// How long the public list is reused; every change drops it sooner.
pub const LIST_TTL: Duration = Duration::from_secs(30);
pub const MAX_PAGE: u64 = 100;
/// A public read waits no longer for a database that is away: the list
/// this instance last read answers instead.
const READ_WITHIN: Duration = Duration::from_secs(2);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: Uuid,
    pub service_name: String,
    /// degraded or offline
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub description: Option<String>,
    /// Posted by a super_admin: the checks neither raise nor resolve it.
    #[serde(default)]
    pub manual: bool,
}

const MANUAL: &str = "manual";
const CHECK: &str = "check";

impl From<service_incidents::Model> for Incident {
    fn from(m: service_incidents::Model) -> Self {
        Self {
            id: m.id,
            service_name: m.service_name,
            status: m.status,
            started_at: m.started_at,
            resolved_at: m.resolved_at,
            description: m.description,
            manual: m.source == MANUAL,
        }
    }
}

impl Incident {
    fn state(&self) -> State {
        State::parse(&self.status).unwrap_or(State::Offline)
    }
}

/// The newest incidents and how many there are in all.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IncidentList {
    pub incidents: Vec<Incident>,
    pub total: i64,
}

/// A change made while the database was away.
#[derive(Clone, Debug)]
struct Unwritten {
    incident: Incident,
    /// The row exists (opened before the outage): update it, don't insert.
    stored: bool,
}

#[derive(Default)]
struct Memory {
    /// In the order they happened.
    unwritten: Vec<Unwritten>,
    /// Open incidents as last read from the database, by service.
    open: HashMap<Service, Incident>,
    /// The last list read from the database.
    latest: Option<IncidentList>,
}

/// A super_admin's new incident.
#[derive(Clone, Debug)]
pub struct NewIncident {
    pub service_name: String,
    pub status: State,
    pub description: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
}

/// A super_admin's change to an incident; `None` leaves a field as is.
#[derive(Clone, Debug, Default)]
pub struct IncidentChange {
    pub status: Option<State>,
    pub description: Option<String>,
}

/// Position after which a page starts (newest first).
#[derive(Clone, Copy, Debug)]
pub struct Cursor {
    pub started_at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(Clone)]
pub struct Incidents {
    db: Database,
    cache: Arc<dyn Cache>,
    clock: Arc<dyn Clock>,
    activity: ActivityLog,
    memory: Arc<Mutex<Memory>>,
}

fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

fn problem_state(state: State, field: &str) -> Result<State, DomainError> {
    match state {
        State::Online => Err(DomainError::invalid(field, "must be degraded or offline")),
        s => Ok(s),
    }
}

fn checked_description(description: Option<String>) -> Result<Option<String>, DomainError> {
    let Some(text) = description.map(|d| d.trim().to_owned()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(DomainError::invalid(
            "description",
            format!("must be at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok((!text.is_empty()).then_some(text))
}

fn automatic_description(service: Service, state: State) -> String {
    format!("{} {} (automatic check)", service.as_str(), state.as_str())
}

/// An incident a check opens.
fn opened(service: Service, state: State, at: DateTime<Utc>) -> Incident {
    Incident {
        id: Uuid::now_v7(),
        service_name: service.as_str().into(),
        status: state.as_str().into(),
        started_at: at,
        resolved_at: None,
        description: Some(automatic_description(service, state)),
        manual: false,
    }
}

/// What a check does to its service's incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Keep,
    /// No incident was open: one opens in this state.
    Open(State),
    /// The open incident takes this worse state.
    Raise(State),
    Resolve,
}

/// `open`: the state of the service's open incident and whether a
/// super_admin posted it (then it is theirs: the checks leave it alone).
pub fn transition(open: Option<(State, bool)>, checked: State) -> Transition {
    match (open, checked) {
        (Some((_, true)), _) | (None, State::Online) => Transition::Keep,
        (None, state) => Transition::Open(state),
        (Some(_), State::Online) => Transition::Resolve,
        (Some((current, _)), state) if state > current => Transition::Raise(state),
        (Some(_), _) => Transition::Keep,
    }
}

impl Incidents {
    pub fn new(db: Database, cache: Arc<dyn Cache>, clock: Arc<dyn Clock>, activity: ActivityLog) -> Self {
        Self {
            db,
            cache,
            clock,
            activity,
            memory: Arc::new(Mutex::new(Memory::default())),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn invalidate(&self) {
        crate::infra::cache::delete_settled(self.cache.clone(), keys::INCIDENTS.to_owned()).await;
    }

    /// Applies one pass of checks: in the database when it answers (first
    /// writing what an outage kept in memory), in memory otherwise. Never
    /// fails: a check must not be lost because storage is away.
    pub async fn observe(&self, checks: &Checks) {
        if checks.database_reachable() {
            match self.observe_stored(checks).await {
                Ok(()) => return,
                Err(e) => e.log("incident transitions"),
            }
        }
        self.observe_in_memory(checks);
    }

    async fn observe_stored(&self, checks: &Checks) -> Result<(), DomainError> {
        let flushed = self.flush().await?;
        let open = self.open().await?;
        let mut changed = flushed;
        for check in checks.all() {
            let current = open.get(&check.service);
            match transition(current.map(|i| (i.state(), i.manual)), check.state) {
                Transition::Keep => {}
                Transition::Open(state) => {
                    // Another instance opening the same incident first is fine.
                    changed |= self.insert(&opened(check.service, state, checks.at)).await?;
                }
                Transition::Raise(state) => {
                    if let Some(i) = current {
                        self.raise(i.id, state).await?;
                        changed = true;
                    }
                }
                Transition::Resolve => {
                    if let Some(i) = current {
                        self.resolve_open(i.id, checks.at).await?;
                        changed = true;
                    }
                }
            }
        }
        let open = if changed { self.open().await? } else { open };
        self.memory().open = open;
        if changed {
            self.invalidate().await;
        }
        Ok(())
    }

    /// The same transitions on what this instance knows: incidents changed
    /// since the outage began, else the open ones it last read.
    fn observe_in_memory(&self, checks: &Checks) {
        let mut memory = self.memory();
        let Memory { unwritten, open, .. } = &mut *memory;
        for check in checks.all() {
            let name = check.service.as_str();
            let pending = unwritten
                .iter()
                .position(|u| u.incident.service_name == name && u.incident.resolved_at.is_none());
            let current = match pending {
                Some(at) => Some(&unwritten[at].incident),
                None => open.get(&check.service),
            };
            let change = transition(current.map(|i| (i.state(), i.manual)), check.state);
            if change == Transition::Keep {
                continue;
            }
            // The incident the change applies to, now among the unwritten.
            let index = match (pending, change) {
                (_, Transition::Open(state)) => {
                    tracing::warn!(
                        service = name,
                        state = state.as_str(),
                        "incident kept in memory until the database answers"
                    );
                    unwritten.push(Unwritten {
                        incident: opened(check.service, state, checks.at),
                        stored: false,
                    });
                    continue;
                }
                (Some(at), _) => at,
                (None, _) => {
                    let Some(known) = open.remove(&check.service) else {
                        continue;
                    };
                    unwritten.push(Unwritten {
                        incident: known,
                        stored: true,
                    });
                    unwritten.len() - 1
                }
            };
            let incident = &mut unwritten[index].incident;
            match change {
                Transition::Raise(state) => incident.status = state.as_str().into(),
                Transition::Resolve => incident.resolved_at = Some(checks.at),
                Transition::Keep | Transition::Open(_) => {}
            }
        }
    }

    /// Writes what an outage kept in memory; whether anything was written.
    async fn flush(&self) -> Result<bool, DomainError> {
        let unwritten = std::mem::take(&mut self.memory().unwritten);
        if unwritten.is_empty() {
            return Ok(false);
        }
        for (done, u) in unwritten.iter().enumerate() {
            if let Err(e) = self.write_back(u).await {
                // Keep what is left, ahead of anything observed meanwhile.
                let mut memory = self.memory();
                let later = std::mem::take(&mut memory.unwritten);
                memory.unwritten = unwritten[done..].to_vec();
                memory.unwritten.extend(later);
                return Err(e);
            }
        }
        tracing::info!(
            incidents = unwritten.len(),
            "incidents kept during the outage written"
        );
        Ok(true)
    }

    async fn write_back(&self, u: &Unwritten) -> Result<(), DomainError> {
        let i = &u.incident;
        if u.stored {
            // Opened before the outage: only what was seen since is new.
            let mut update = service_incidents::Entity::update_many()
                .filter(service_incidents::Column::Id.eq(i.id))
                .filter(service_incidents::Column::ResolvedAt.is_null());
            if i.state() == State::Offline {
                update = update.col_expr(service_incidents::Column::Status, Expr::value(i.status.clone()));
            }
            if let Some(at) = i.resolved_at {
                update = update.col_expr(service_incidents::Column::ResolvedAt, Expr::value(at));
            }
            update.exec(&self.db.conn).await?;
            return Ok(());
        }
        // Every instance that lost the database kept its own copy of the
        // same outage; the first written stands for it, the others merge
        // in. Incidents that ended during the outage are inserted resolved,
        // out of reach of the one-open-per-service index: only this lookup
        // keeps them from being counted once per instance.
        if let Some(existing) = self.overlapping(i).await? {
            return self.merge(existing, i).await;
        }
        if self.insert(i).await? {
            return Ok(());
        }
        // A retry of an insert that went through before the connection
        // dropped also violates a unique key: then the row is ours already.
        if service_incidents::Entity::find_by_id(i.id)
            .one(&self.db.conn)
            .await?
            .is_some()
        {
            return Ok(());
        }
        // Another instance opened this service's incident meanwhile. None
        // found: the open one is a super_admin's, which the checks leave alone.
        if let Some(existing) = self.overlapping(i).await? {
            self.merge(existing, i).await?;
        }
        Ok(())
    }

    /// A check incident of `i`'s service whose span meets `i`'s (an open
    /// one running until now), the open one first, else the earliest.
    async fn overlapping(&self, i: &Incident) -> Result<Option<service_incidents::Model>, DomainError> {
        let end = i
            .resolved_at
            .unwrap_or_else(|| self.clock.now().max(i.started_at));
        let rows = service_incidents::Entity::find()
            .filter(service_incidents::Column::ServiceName.eq(i.service_name.as_str()))
            .filter(service_incidents::Column::Source.eq(CHECK))
            .filter(service_incidents::Column::StartedAt.lte(end))
            .filter(
                Condition::any()
                    .add(service_incidents::Column::ResolvedAt.is_null())
                    .add(service_incidents::Column::ResolvedAt.gte(i.started_at)),
            )
            .order_by_asc(service_incidents::Column::StartedAt)
            .order_by_asc(service_incidents::Column::Id)
            .all(&self.db.conn)
            .await?;
        let open = rows.iter().position(|m| m.resolved_at.is_none());
        Ok(match open {
            Some(at) => rows.into_iter().nth(at),
            None => rows.into_iter().next(),
        })
    }

    /// Folds `i` into the stored `existing`: the earlier start, the worse
    /// status, and an end if the row has none yet. Only columns that change
    /// are written, so a concurrent raise or resolution is not undone.
    async fn merge(&self, existing: service_incidents::Model, i: &Incident) -> Result<(), DomainError> {
        let stored = Incident::from(existing);
        let mut update =
            service_incidents::Entity::update_many().filter(service_incidents::Column::Id.eq(stored.id));
        let mut changed = false;
        if i.started_at < stored.started_at {
            update = update.col_expr(service_incidents::Column::StartedAt, Expr::value(i.started_at));
            changed = true;
        }
        if i.state() > stored.state() {
            update = update.col_expr(service_incidents::Column::Status, Expr::value(i.status.clone()));
            changed = true;
        }
        if let (None, Some(at)) = (stored.resolved_at, i.resolved_at) {
            // COALESCE: another instance may have resolved it since we read it.
            update = update.col_expr(
                service_incidents::Column::ResolvedAt,
                Func::coalesce([
                    Expr::col(service_incidents::Column::ResolvedAt).into(),
                    Expr::value(at),
                ])
                .into(),
            );
            changed = true;
        }
        if changed {
            update.exec(&self.db.conn).await?;
        }
        Ok(())
    }

    /// Inserts an open or finished incident; false when the service already
    /// has an open one.
    async fn insert(&self, i: &Incident) -> Result<bool, DomainError> {
        let row = service_incidents::ActiveModel {
            id: Set(i.id),
            service_name: Set(i.service_name.clone()),
            status: Set(i.status.clone()),
            started_at: Set(i.started_at),
            resolved_at: Set(i.resolved_at),
            description: Set(i.description.clone()),
            source: Set(if i.manual { MANUAL } else { CHECK }.into()),
            created_at: Set(self.clock.now()),
        };
        match service_incidents::Entity::insert(row).exec(&self.db.conn).await {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn resolve_open(&self, id: Uuid, at: DateTime<Utc>) -> Result<u64, DomainError> {
        Ok(service_incidents::Entity::update_many()
            .col_expr(service_incidents::Column::ResolvedAt, Expr::value(at))
            .filter(service_incidents::Column::Id.eq(id))
            .filter(service_incidents::Column::ResolvedAt.is_null())
            .exec(&self.db.conn)
            .await?
            .rows_affected)
    }

    async fn raise(&self, id: Uuid, state: State) -> Result<(), DomainError> {
        service_incidents::Entity::update_many()
            .col_expr(service_incidents::Column::Status, Expr::value(state.as_str()))
            .filter(service_incidents::Column::Id.eq(id))
            .exec(&self.db.conn)
            .await?;
        Ok(())
    }

    /// The open incident of each service.
    async fn open(&self) -> Result<HashMap<Service, Incident>, DomainError> {
        let rows = service_incidents::Entity::find()
            .filter(service_incidents::Column::ResolvedAt.is_null())
            .all(&self.db.conn)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|m| Some((Service::parse(&m.service_name)?, Incident::from(m))))
            .collect())
    }

    /// The public list: the [`LATEST`] newest by start, and the total.
    /// With the database away, the last list read, with what this instance
    /// observed since.
    pub async fn latest(&self) -> IncidentList {
        let pending = !self.memory().unwritten.is_empty();
        if !pending {
            if let Ok(Some(cached)) = self.cache.get(keys::INCIDENTS).await {
                if let Ok(list) = serde_json::from_str::<IncidentList>(&cached) {
                    return list;
                }
            }
        }
        match self.read_latest().await {
            Ok(list) => {
                self.memory().latest = Some(list.clone());
                if !pending {
                    if let Ok(json) = serde_json::to_string(&list) {
                        if let Err(e) = self.cache.set(keys::INCIDENTS, &json, LIST_TTL).await {
                            tracing::warn!(error = %e, "incident list not cached");
                        }
                    }
                }
                self.with_unwritten(list)
            }
            Err(e) => {
                e.log("incident list");
                let last = self.memory().latest.clone().unwrap_or_default();
                self.with_unwritten(last)
            }
        }
    }

    async fn read_latest(&self) -> Result<IncidentList, DomainError> {
        tokio::time::timeout(READ_WITHIN, self.read_latest_unbounded())
            .await
            .map_err(DomainError::unavailable)?
    }

    async fn read_latest_unbounded(&self) -> Result<IncidentList, DomainError> {
        let (rows, total) = futures::try_join!(
            service_incidents::Entity::find()
                .order_by_desc(service_incidents::Column::StartedAt)
                .order_by_desc(service_incidents::Column::Id)
                .limit(LATEST)
                .all(&self.db.conn),
            service_incidents::Entity::find().count(&self.db.conn),
        )?;
        Ok(IncidentList {
            incidents: rows.into_iter().map(Incident::from).collect(),
            total: i64::try_from(total).unwrap_or(i64::MAX),
        })
    }

    /// `list` with the changes not yet written laid over it.
    fn with_unwritten(&self, mut list: IncidentList) -> IncidentList {
        let memory = self.memory();
        for u in &memory.unwritten {
            match list.incidents.iter_mut().find(|i| i.id == u.incident.id) {
                Some(shown) => *shown = u.incident.clone(),
                None => {
                    list.incidents.push(u.incident.clone());
                    if !u.stored {
                        list.total += 1;
                    }
                }
            }
        }
        list.incidents
            .sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.id.cmp(&a.id)));
        list.incidents.truncate(LATEST as usize);
        list
    }

    fn require_super_admin(actor: &Principal) -> Result<(), DomainError> {
        if actor.is_super_admin() {
            Ok(())
        } else {
            Err(DomainError::Forbidden("super_admin only".into()))
        }
    }

    async fn audit(&self, actor: &Principal, message: String, incident: &Incident, meta: &RequestMeta) {
        let entry = Entry::new(Level::Info, Category::System, message)
            .client(actor.client_id)
            .metadata(json!({
                "incident_id": incident.id,
                "service_name": incident.service_name,
                "status": incident.status,
                "resolved_at": incident.resolved_at,
            }))
            .by(actor.user_id);
        self.activity.record(entry, meta).await;
    }

    /// Newest first by start, up to `first` after `after`, and whether more
    /// exist (super_admin).
    pub async fn page(
        &self,
        actor: &Principal,
        first: u64,
        after: Option<Cursor>,
    ) -> Result<(Vec<Incident>, bool), DomainError> {
        Self::require_super_admin(actor)?;
        let first = first.clamp(1, MAX_PAGE);
        let mut query = service_incidents::Entity::find();
        if let Some(cur) = after {
            query = query.filter(
                Condition::any()
                    .add(service_incidents::Column::StartedAt.lt(cur.started_at))
                    .add(
                        Condition::all()
                            .add(service_incidents::Column::StartedAt.eq(cur.started_at))
                            .add(service_incidents::Column::Id.lt(cur.id)),
                    ),
            );
        }
        let mut rows = query
            .order_by_desc(service_incidents::Column::StartedAt)
            .order_by_desc(service_incidents::Column::Id)
            .limit(first + 1)
            .all(&self.db.conn)
            .await?;
        let more = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Ok((rows.into_iter().map(Incident::from).collect(), more))
    }

    /// Posts an incident by hand (super_admin); a service has at most one
    /// open incident.
    pub async fn create(
        &self,
        actor: &Principal,
        input: NewIncident,
        meta: &RequestMeta,
    ) -> Result<Incident, DomainError> {
        Self::require_super_admin(actor)?;
        let service = Service::parse(input.service_name.trim())
            .ok_or_else(|| DomainError::invalid("serviceName", "must be one of api, database, ai"))?;
        let status = problem_state(input.status, "status")?;
        let description = checked_description(input.description)?;
        let now = self.clock.now();
        let started_at = input.started_at.unwrap_or(now);
        if started_at > now {
            return Err(DomainError::invalid("startedAt", "must not be in the future"));
        }
        let incident = Incident {
            id: Uuid::now_v7(),
            service_name: service.as_str().into(),
            status: status.as_str().into(),
            started_at,
            resolved_at: None,
            description,
            manual: true,
        };
        if !self.insert(&incident).await? {
            return Err(DomainError::Conflict(format!(
                "{} already has an open incident; update or resolve it",
                service.as_str()
            )));
        }
        self.invalidate().await;
        self.audit(
            actor,
            format!("Incident ouvert : {}", service.as_str()),
            &incident,
            meta,
        )
        .await;
        Ok(incident)
    }

    async fn find(&self, id: Uuid) -> Result<service_incidents::Model, DomainError> {
        service_incidents::Entity::find_by_id(id)
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("incident"))
    }

    /// Changes an incident's status or description (super_admin).
    pub async fn update(
        &self,
        actor: &Principal,
        id: Uuid,
        change: IncidentChange,
        meta: &RequestMeta,
    ) -> Result<Incident, DomainError> {
        Self::require_super_admin(actor)?;
        let status = change.status.map(|s| problem_state(s, "status")).transpose()?;
        let description = change
            .description
            .map(|d| checked_description(Some(d)))
            .transpose()?;
        let mut row: service_incidents::ActiveModel = self.find(id).await?.into();
        if let Some(s) = status {
            row.status = Set(s.as_str().into());
        }
        if let Some(d) = description {
            row.description = Set(d);
        }
        let updated = Incident::from(sea_orm::ActiveModelTrait::update(row, &self.db.conn).await?);
        self.invalidate().await;
        self.audit(
            actor,
            format!("Incident modifié : {}", updated.service_name),
            &updated,
            meta,
        )
        .await;
        Ok(updated)
    }

    /// Ends an incident at `resolved_at` (now by default; super_admin).
    pub async fn resolve(
        &self,
        actor: &Principal,
        id: Uuid,
        resolved_at: Option<DateTime<Utc>>,
        meta: &RequestMeta,
    ) -> Result<Incident, DomainError> {
        Self::require_super_admin(actor)?;
        let current = self.find(id).await?;
        if current.resolved_at.is_some() {
            return Err(DomainError::Conflict("the incident is already resolved".into()));
        }
        let now = self.clock.now();
        let at = resolved_at.unwrap_or(now);
        if at < current.started_at {
            return Err(DomainError::invalid(
                "resolvedAt",
                "must not be before the incident started",
            ));
        }
        if at > now {
            return Err(DomainError::invalid("resolvedAt", "must not be in the future"));
        }
        if self.resolve_open(id, at).await? == 0 {
            // Resolved between our read and our write.
            return Err(DomainError::Conflict("the incident is already resolved".into()));
        }
        let resolved = Incident::from(self.find(id).await?);
        self.invalidate().await;
        self.audit(
            actor,
            format!("Incident résolu : {}", resolved.service_name),
            &resolved,
            meta,
        )
        .await;
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_open_raise_and_resolve_their_own_incidents_only() {
        use State::*;
        assert_eq!(transition(None, Online), Transition::Keep);
        assert_eq!(transition(None, Degraded), Transition::Open(Degraded));
        assert_eq!(transition(None, Offline), Transition::Open(Offline));
        assert_eq!(
            transition(Some((Degraded, false)), Offline),
            Transition::Raise(Offline)
        );
        // Better but not back: the incident keeps its worst state.
        assert_eq!(transition(Some((Offline, false)), Degraded), Transition::Keep);
        assert_eq!(transition(Some((Degraded, false)), Degraded), Transition::Keep);
        assert_eq!(transition(Some((Offline, false)), Online), Transition::Resolve);
        for state in [Online, Degraded, Offline] {
            assert_eq!(transition(Some((Degraded, true)), state), Transition::Keep);
        }
    }

    #[test]
    fn descriptions_are_bounded_and_blank_ones_dropped() {
        assert_eq!(checked_description(Some("  ".into())).unwrap(), None);
        assert_eq!(
            checked_description(Some(" Latence élevée ".into()))
                .unwrap()
                .as_deref(),
            Some("Latence élevée")
        );
        assert!(checked_description(Some("é".repeat(MAX_DESCRIPTION))).is_ok());
        assert!(checked_description(Some("é".repeat(MAX_DESCRIPTION + 1))).is_err());
        assert!(problem_state(State::Online, "status").is_err());
    }
}

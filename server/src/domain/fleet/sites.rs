//! Sites (Business+): a tenant's geographic locations, the machines at
//! each, and each site's health: the mean of its machines' scores, 100
//! with none, as the spec computes it. The overview is a constant number
//! of statements whatever the fleet's size.

use super::count_where;
use crate::{
    domain::{
        activity::{ActivityLog, Category, Entry, Level, RequestMeta},
        agents::OFFLINE_AFTER,
        auth::Principal,
        licensing::{Feature, Licensing},
        DomainError,
    },
    infra::{clock::Clock, db::Database},
};
use chrono::Utc;
use entities::{alert_rule_history, machines, sites};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, FromQueryResult, JoinType,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::json;
use std::{collections::HashMap, sync::Arc};
use uuid::Uuid;

pub const DEFAULT_TIMEZONE: &str = "Europe/Paris";
/// Machines one `setMachinesSite` may move.
pub const MAX_BATCH: usize = 500;
/// What a site with no machine scores.
const EMPTY_SCORE: f64 = 100.0;

#[derive(Clone, Debug, Default)]
pub struct SiteInput {
    pub name: String,
    pub location: Option<String>,
    /// None = Europe/Paris.
    pub timezone: Option<String>,
}

/// A site's machines and alerts now.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteFigures {
    pub machines: i64,
    pub online: i64,
    pub offline: i64,
    pub active_alerts: i64,
    /// Mean machine health, 100 with no machines.
    pub health: f64,
}

impl Default for SiteFigures {
    fn default() -> Self {
        Self {
            machines: 0,
            online: 0,
            offline: 0,
            active_alerts: 0,
            health: EMPTY_SCORE,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SitesOverview {
    pub sites: Vec<(sites::Model, SiteFigures)>,
    /// Every machine at a site, averaged: a site of 100 machines weighs
    /// 100 times one of a single machine (the spec's formula).
    pub aggregated_health: f64,
    /// Machines at no site.
    pub unassigned: i64,
}

fn validate(input: &SiteInput) -> Result<sites::Model, DomainError> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(DomainError::invalid("name", "must be 1-100 printable characters"));
    }
    let location = input.location.as_deref().map(str::trim).filter(|l| !l.is_empty());
    if location.is_some_and(|l| l.chars().count() > 200) {
        return Err(DomainError::invalid("location", "must be at most 200 characters"));
    }
    let timezone = input.timezone.as_deref().map_or(DEFAULT_TIMEZONE, str::trim);
    if timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(DomainError::invalid(
            "timezone",
            "must be an IANA time zone, such as Europe/Paris",
        ));
    }
    Ok(sites::Model {
        id: Uuid::nil(),
        client_id: Uuid::nil(),
        name: name.to_owned(),
        location: location.map(str::to_owned),
        timezone: timezone.to_owned(),
        created_at: Utc::now(),
    })
}

#[derive(Clone)]
pub struct Sites {
    db: Database,
    licensing: Licensing,
    activity: ActivityLog,
    clock: Arc<dyn Clock>,
}

impl Sites {
    pub fn new(db: Database, licensing: Licensing, activity: ActivityLog, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            licensing,
            activity,
            clock,
        }
    }

    /// Every site call starts here: the tenant's plan must have sites.
    async fn gate(&self, actor: &Principal) -> Result<(), DomainError> {
        self.licensing.require(actor, Feature::Sites).await.map(drop)
    }

    pub async fn list(&self, actor: &Principal) -> Result<Vec<sites::Model>, DomainError> {
        self.gate(actor).await?;
        Ok(sites::Entity::find()
            .filter(sites::Column::ClientId.eq(actor.client_id))
            .order_by_asc(sites::Column::Name)
            .order_by_asc(sites::Column::Id)
            .all(&self.db.conn)
            .await?)
    }

    pub async fn get(&self, actor: &Principal, id: Uuid) -> Result<sites::Model, DomainError> {
        self.gate(actor).await?;
        self.owned(actor, id).await
    }

    async fn owned(&self, actor: &Principal, id: Uuid) -> Result<sites::Model, DomainError> {
        sites::Entity::find_by_id(id)
            .filter(sites::Column::ClientId.eq(actor.client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("site"))
    }

    pub async fn create(
        &self,
        actor: &Principal,
        input: SiteInput,
        meta: &RequestMeta,
    ) -> Result<sites::Model, DomainError> {
        self.gate(actor).await?;
        let v = validate(&input)?;
        let site = sites::Entity::insert(sites::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(actor.client_id),
            name: Set(v.name),
            location: Set(v.location),
            timezone: Set(v.timezone),
            created_at: Set(self.clock.now()),
        })
        .exec_with_returning(&self.db.conn)
        .await?;
        self.log(actor, "Site créé", &site, json!({}), meta).await;
        Ok(site)
    }

    pub async fn update(
        &self,
        actor: &Principal,
        id: Uuid,
        input: SiteInput,
        meta: &RequestMeta,
    ) -> Result<sites::Model, DomainError> {
        self.gate(actor).await?;
        let v = validate(&input)?;
        let current = self.owned(actor, id).await?;
        let mut model: sites::ActiveModel = current.clone().into();
        model.name = Set(v.name);
        model.location = Set(v.location);
        model.timezone = Set(v.timezone);
        let site = model.update(&self.db.conn).await?;
        let before =
            json!({ "name": current.name, "location": current.location, "timezone": current.timezone });
        self.log(actor, "Site modifié", &site, json!({ "before": before }), meta)
            .await;
        Ok(site)
    }

    /// Deletes the site; its machines keep running, at no site.
    pub async fn delete(&self, actor: &Principal, id: Uuid, meta: &RequestMeta) -> Result<(), DomainError> {
        self.gate(actor).await?;
        let site = self.owned(actor, id).await?;
        let txn = self.db.conn.begin().await?;
        let moved = machines::Entity::update_many()
            .col_expr(machines::Column::SiteId, Expr::value(Option::<Uuid>::None))
            .filter(machines::Column::SiteId.eq(id))
            .filter(machines::Column::ClientId.eq(actor.client_id))
            .exec(&txn)
            .await?
            .rows_affected;
        sites::Entity::delete_by_id(id)
            .filter(sites::Column::ClientId.eq(actor.client_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        self.log(
            actor,
            "Site supprimé",
            &site,
            json!({ "machines_unassigned": moved }),
            meta,
        )
        .await;
        Ok(())
    }

    /// Moves machines of the caller's tenant to a site (None: to no
    /// site). All or nothing: an id of another tenant is NOT_FOUND.
    pub async fn set_machines_site(
        &self,
        actor: &Principal,
        machine_ids: &[Uuid],
        site_id: Option<Uuid>,
        meta: &RequestMeta,
    ) -> Result<u64, DomainError> {
        self.gate(actor).await?;
        if machine_ids.is_empty() || machine_ids.len() > MAX_BATCH {
            return Err(DomainError::invalid(
                "machineIds",
                format!("must name 1-{MAX_BATCH} machines"),
            ));
        }
        let site = match site_id {
            Some(id) => Some(self.owned(actor, id).await?),
            None => None,
        };
        let txn = self.db.conn.begin().await?;
        let moved = machines::Entity::update_many()
            .col_expr(machines::Column::SiteId, Expr::value(site_id))
            .col_expr(machines::Column::UpdatedAt, Expr::value(self.clock.now()))
            .filter(machines::Column::Id.is_in(machine_ids.iter().copied()))
            .filter(machines::Column::ClientId.eq(actor.client_id))
            .exec(&txn)
            .await?
            .rows_affected;
        let distinct = machine_ids.iter().collect::<std::collections::HashSet<_>>().len() as u64;
        if moved != distinct {
            txn.rollback().await?;
            return Err(DomainError::NotFound("machine"));
        }
        txn.commit().await?;
        let entry = Entry::new(
            Level::Info,
            Category::Machine,
            match &site {
                Some(s) => format!("Machines affectées au site {}", s.name),
                None => "Machines retirées de leur site".to_owned(),
            },
        )
        .client(actor.client_id)
        .metadata(json!({ "site_id": site_id, "machine_ids": machine_ids }))
        .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok(moved)
    }

    /// One site's figures.
    pub async fn health(&self, actor: &Principal, id: Uuid) -> Result<SiteFigures, DomainError> {
        self.gate(actor).await?;
        self.owned(actor, id).await?;
        let mut figures = self.figures(actor.client_id, Some(id)).await?;
        Ok(figures.remove(&Some(id)).unwrap_or_default())
    }

    /// Every site's figures and the aggregated score: three statements.
    pub async fn overview(&self, actor: &Principal) -> Result<SitesOverview, DomainError> {
        let sites = self.list(actor).await?;
        let mut figures = self.figures(actor.client_id, None).await?;
        let unassigned = figures.remove(&None).map_or(0, |f| f.machines);
        let (sum, count) = figures.values().fold((0.0, 0_i64), |(s, n), f| {
            (s + f.health * f.machines as f64, n + f.machines)
        });
        let aggregated_health = if count == 0 {
            EMPTY_SCORE
        } else {
            sum / count as f64
        };
        Ok(SitesOverview {
            sites: sites
                .into_iter()
                .map(|s| {
                    let f = figures.remove(&Some(s.id)).unwrap_or_default();
                    (s, f)
                })
                .collect(),
            aggregated_health,
            unassigned,
        })
    }

    /// Figures per site id (None = no site): one statement for machines,
    /// one for unresolved alerts.
    async fn figures(
        &self,
        client_id: Uuid,
        only: Option<Uuid>,
    ) -> Result<HashMap<Option<Uuid>, SiteFigures>, DomainError> {
        #[derive(FromQueryResult)]
        struct MachineRow {
            site_id: Option<Uuid>,
            total: i64,
            online: Option<i64>,
            health: Option<f64>,
        }
        #[derive(FromQueryResult)]
        struct AlertRow {
            site_id: Option<Uuid>,
            n: i64,
        }
        let since = self.clock.now() - OFFLINE_AFTER;
        let mut machines_q = machines::Entity::find()
            .select_only()
            .column(machines::Column::SiteId)
            .column_as(Expr::col(machines::Column::Id).count(), "total")
            .column_as(count_where(machines::Column::LastSeen.gte(since)), "online")
            .column_as(
                Expr::cust("CAST(AVG(health_score) AS DOUBLE PRECISION)"),
                "health",
            )
            .filter(machines::Column::ClientId.eq(client_id))
            .group_by(machines::Column::SiteId);
        let mut alerts_q = alert_rule_history::Entity::find()
            .select_only()
            .column_as(Expr::col((machines::Entity, machines::Column::SiteId)), "site_id")
            .column_as(
                Expr::col((alert_rule_history::Entity, alert_rule_history::Column::Id)).count(),
                "n",
            )
            .join(
                JoinType::InnerJoin,
                alert_rule_history::Entity::belongs_to(machines::Entity)
                    .from(alert_rule_history::Column::MachineId)
                    .to(machines::Column::Id)
                    .into(),
            )
            .filter(alert_rule_history::Column::ClientId.eq(client_id))
            .filter(alert_rule_history::Column::ResolvedAt.is_null())
            .group_by(Expr::col((machines::Entity, machines::Column::SiteId)));
        if let Some(site) = only {
            machines_q = machines_q.filter(machines::Column::SiteId.eq(site));
            alerts_q = alerts_q.filter(Expr::col((machines::Entity, machines::Column::SiteId)).eq(site));
        }
        let (machine_rows, alert_rows) = tokio::try_join!(
            machines_q.into_model::<MachineRow>().all(&self.db.conn),
            alerts_q.into_model::<AlertRow>().all(&self.db.conn),
        )?;
        let mut out: HashMap<Option<Uuid>, SiteFigures> = machine_rows
            .into_iter()
            .map(|r| {
                let online = r.online.unwrap_or(0);
                let figures = SiteFigures {
                    machines: r.total,
                    online,
                    offline: r.total - online,
                    active_alerts: 0,
                    health: r.health.unwrap_or(EMPTY_SCORE),
                };
                (r.site_id, figures)
            })
            .collect();
        for a in alert_rows {
            out.entry(a.site_id).or_default().active_alerts = a.n;
        }
        Ok(out)
    }

    async fn log(
        &self,
        actor: &Principal,
        what: &str,
        site: &sites::Model,
        extra: serde_json::Value,
        meta: &RequestMeta,
    ) {
        let entry = Entry::new(Level::Info, Category::System, format!("{what} : {}", site.name))
            .client(actor.client_id)
            .metadata(
                json!({ "site_id": site.id, "name": site.name, "location": site.location,
                              "timezone": site.timezone, "details": extra }),
            )
            .by(actor.user_id);
        self.activity.record(entry, meta).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_is_checked_against_the_spec_limits() {
        let ok = validate(&SiteInput {
            name: " Lyon ".into(),
            location: Some("  ".into()),
            timezone: None,
        })
        .unwrap();
        assert_eq!(
            (ok.name.as_str(), ok.location, ok.timezone.as_str()),
            ("Lyon", None, "Europe/Paris")
        );
        let field = |input: SiteInput| match validate(&input) {
            Err(DomainError::InvalidInput { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(SiteInput {
                name: "x".repeat(101),
                ..Default::default()
            }),
            "name"
        );
        assert_eq!(
            field(SiteInput {
                name: "a".into(),
                location: Some("y".repeat(201)),
                timezone: None
            }),
            "location"
        );
        assert_eq!(
            field(SiteInput {
                name: "a".into(),
                location: None,
                timezone: Some("Mars/Olympus".into())
            }),
            "timezone"
        );
        assert!(validate(&SiteInput {
            name: "a".into(),
            location: None,
            timezone: Some("America/New_York".into())
        })
        .is_ok());
    }
}

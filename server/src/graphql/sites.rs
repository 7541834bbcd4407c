//! Sites (Business+): locations, their machines and health.

use super::{
    error::Result,
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{
    auth::Role,
    fleet::sites::{SiteFigures, SiteInput as DomainSiteInput},
};
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use entities::sites;

/// A location of the tenant's fleet.
#[derive(SimpleObject)]
pub struct Site {
    id: ID,
    name: String,
    location: Option<String>,
    /// IANA time zone.
    timezone: String,
    created_at: DateTime<Utc>,
}

impl From<sites::Model> for Site {
    fn from(s: sites::Model) -> Self {
        Self {
            id: id(s.id),
            name: s.name,
            location: s.location,
            timezone: s.timezone,
            created_at: s.created_at,
        }
    }
}

/// A site's machines and alerts now.
#[derive(SimpleObject)]
pub struct SiteHealth {
    machines: i64,
    online: i64,
    offline: i64,
    /// Unresolved alerts on its machines.
    active_alerts: i64,
    /// Mean machine health score; 100 with no machines.
    health_score: f64,
}

impl From<SiteFigures> for SiteHealth {
    fn from(f: SiteFigures) -> Self {
        Self {
            machines: f.machines,
            online: f.online,
            offline: f.offline,
            active_alerts: f.active_alerts,
            health_score: round1(f.health),
        }
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[derive(SimpleObject)]
pub struct SiteSummary {
    site: Site,
    health: SiteHealth,
}

/// Every site side by side.
#[derive(SimpleObject)]
pub struct SitesOverview {
    sites: Vec<SiteSummary>,
    /// Every machine at a site averaged (a larger site weighs more); 100
    /// with none.
    aggregated_health_score: f64,
    /// Machines at no site.
    unassigned_machines: i64,
}

#[derive(InputObject)]
pub struct SiteInput {
    /// 1-100 characters.
    name: String,
    /// Up to 200 characters.
    location: Option<String>,
    /// IANA time zone; Europe/Paris when left out.
    timezone: Option<String>,
}

impl From<SiteInput> for DomainSiteInput {
    fn from(i: SiteInput) -> Self {
        Self {
            name: i.name,
            location: i.location,
            timezone: i.timezone,
        }
    }
}

#[derive(Default)]
pub struct SiteQuery;

#[Object]
impl SiteQuery {
    /// The tenant's sites, by name (Business+).
    async fn sites(&self, ctx: &Context<'_>) -> Result<Vec<Site>> {
        let principal = ctx.caller()?;
        let list = ctx.services().sites.list(principal).await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    async fn site(&self, ctx: &Context<'_>, id: ID) -> Result<Site> {
        let principal = ctx.caller()?;
        let id = parse_id("id", &id)?;
        Ok(ctx.services().sites.get(principal, id).await?.into())
    }

    /// One site's machines, alerts and health (Business+).
    async fn site_health(&self, ctx: &Context<'_>, id: ID) -> Result<SiteHealth> {
        let principal = ctx.caller()?;
        let id = parse_id("id", &id)?;
        Ok(ctx.services().sites.health(principal, id).await?.into())
    }

    /// Every site's figures and the aggregated health score (Business+).
    async fn sites_overview(&self, ctx: &Context<'_>) -> Result<SitesOverview> {
        let principal = ctx.caller()?;
        let o = ctx.services().sites.overview(principal).await?;
        Ok(SitesOverview {
            sites: o
                .sites
                .into_iter()
                .map(|(s, f)| SiteSummary {
                    site: s.into(),
                    health: f.into(),
                })
                .collect(),
            aggregated_health_score: round1(o.aggregated_health),
            unassigned_machines: o.unassigned,
        })
    }
}

#[derive(Default)]
pub struct SiteMutation;

#[Object]
impl SiteMutation {
    /// Creates a site (admin, Business+).
    async fn create_site(&self, ctx: &Context<'_>, input: SiteInput) -> Result<Site> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let site = ctx
            .services()
            .sites
            .create(principal, input.into(), ctx.meta())
            .await?;
        Ok(site.into())
    }

    /// Replaces a site's name, location and time zone (admin, Business+).
    async fn update_site(&self, ctx: &Context<'_>, id: ID, input: SiteInput) -> Result<Site> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        let site = ctx
            .services()
            .sites
            .update(principal, id, input.into(), ctx.meta())
            .await?;
        Ok(site.into())
    }

    /// Deletes a site; its machines keep running at no site (admin,
    /// Business+).
    async fn delete_site(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services().sites.delete(principal, id, ctx.meta()).await?;
        Ok(true)
    }

    /// Moves machines to a site, or to none with `siteId: null` (admin,
    /// Business+). Returns how many moved.
    async fn set_machines_site(
        &self,
        ctx: &Context<'_>,
        machine_ids: Vec<ID>,
        site_id: Option<ID>,
    ) -> Result<u64> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let ids = machine_ids
            .iter()
            .map(|m| parse_id("machineIds", m))
            .collect::<Result<Vec<_>>>()?;
        let site_id = site_id.as_ref().map(|s| parse_id("siteId", s)).transpose()?;
        Ok(ctx
            .services()
            .sites
            .set_machines_site(principal, &ids, site_id, ctx.meta())
            .await?)
    }
}

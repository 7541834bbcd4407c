//! Known Windows builds: the super_admin's reference list and its refresh
//! from endoflife.date, and the build → name mapping every caller reads.

use super::{error::Result, types::id, ContextExt};
use crate::domain::{auth::Role, windows_builds::Grouped};
use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, Utc};
use entities::windows_builds;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum WindowsOsType {
    /// Windows 10/11 (workstation).
    Client,
    Server,
}

impl WindowsOsType {
    fn of(stored: &str) -> Self {
        if stored == "server" {
            Self::Server
        } else {
            Self::Client
        }
    }
}

#[derive(SimpleObject)]
pub struct WindowsBuild {
    id: ID,
    os_type: WindowsOsType,
    build_number: i32,
    /// "Windows 11 (24H2)", "Windows 10 LTSC 2021", "Windows Server 2022".
    name: String,
    release_date: Option<NaiveDate>,
    /// Shown in the minimum-build dropdowns and the name mapping.
    is_active: bool,
    sort_order: i32,
    created_at: DateTime<Utc>,
}

impl From<windows_builds::Model> for WindowsBuild {
    fn from(m: windows_builds::Model) -> Self {
        Self {
            id: id(m.id),
            os_type: WindowsOsType::of(&m.os_type),
            build_number: m.build_number,
            name: m.name,
            release_date: m.release_date,
            is_active: m.is_active,
            sort_order: m.sort_order,
            created_at: m.created_at,
        }
    }
}

/// Builds by OS type, each list in display order.
#[derive(SimpleObject)]
pub struct WindowsBuildList {
    client: Vec<WindowsBuild>,
    server: Vec<WindowsBuild>,
}

impl From<Grouped> for WindowsBuildList {
    fn from(g: Grouped) -> Self {
        Self {
            client: g.client.into_iter().map(Into::into).collect(),
            server: g.server.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(SimpleObject)]
pub struct WindowsBuildsRefresh {
    inserted: i32,
    /// Builds already known, whose name and release date were rewritten.
    updated: i32,
    /// Entries left out: IoT/Embedded editions, builds below 17763, other
    /// products, further editions of a build already kept.
    skipped: i32,
    builds: WindowsBuildList,
}

/// How to display a Windows build number.
#[derive(SimpleObject)]
pub struct WindowsVersion {
    os_type: WindowsOsType,
    build_number: i32,
    name: String,
}

#[derive(Default)]
pub struct WindowsBuildQuery;

#[Object]
impl WindowsBuildQuery {
    /// super_admin: every known build, active or not.
    async fn windows_builds(&self, ctx: &Context<'_>) -> Result<WindowsBuildList> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        Ok(ctx.services().windows_builds.grouped().await?.into())
    }

    /// Build number → display name, for every active build.
    async fn windows_versions(&self, ctx: &Context<'_>) -> Result<Vec<WindowsVersion>> {
        ctx.caller()?;
        let rows = ctx.services().windows_builds.active().await?;
        Ok(rows
            .into_iter()
            .map(|m| WindowsVersion {
                os_type: WindowsOsType::of(&m.os_type),
                build_number: m.build_number,
                name: m.name,
            })
            .collect())
    }
}

#[derive(Default)]
pub struct WindowsBuildMutation;

#[Object]
impl WindowsBuildMutation {
    /// super_admin: reads endoflife.date's Windows release list and inserts
    /// or renames builds (IoT/Embedded and builds below 17763 left out).
    /// SERVICE_UNAVAILABLE, with nothing changed, when the list cannot be
    /// read.
    async fn refresh_windows_builds(&self, ctx: &Context<'_>) -> Result<WindowsBuildsRefresh> {
        let principal = ctx.user_session_with_role(Role::SuperAdmin)?;
        let r = ctx
            .services()
            .windows_builds
            .refresh(principal, ctx.meta())
            .await?;
        Ok(WindowsBuildsRefresh {
            inserted: r.inserted as i32,
            updated: r.updated as i32,
            skipped: r.skipped as i32,
            builds: r.builds.into(),
        })
    }
}

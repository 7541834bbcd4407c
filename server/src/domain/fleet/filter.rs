//! Which machines a list reads: the tenant (or, for super_admins, every
//! tenant) and the filters dashboards offer.

use crate::domain::agents::OFFLINE_AFTER;
use chrono::{DateTime, Utc};
use entities::{enums::UpdateChannel, machine_labels, machines};
use sea_orm::{
    sea_query::{Expr, Func, LikeExpr},
    ColumnTrait, Condition,
};
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Online,
    Offline,
}

/// Whose machines a read covers. Tenant callers always pass their own
/// tenant; `AllTenants` is for super_admin reads only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    Tenant(Uuid),
    AllTenants,
}

impl From<Uuid> for Reach {
    fn from(client_id: Uuid) -> Self {
        Self::Tenant(client_id)
    }
}

impl Reach {
    /// The tenant condition, when there is one.
    pub(super) fn condition(self) -> Condition {
        match self {
            Self::Tenant(id) => Condition::all().add(machines::Column::ClientId.eq(id)),
            Self::AllTenants => Condition::all(),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct MachineFilter {
    pub status: Option<Status>,
    pub group_id: Option<Uuid>,
    pub label_id: Option<Uuid>,
    /// With `label_id`: only machines carrying the label with this value.
    pub label_value: Option<String>,
    pub site_id: Option<Uuid>,
    /// Substring of the OS name, any case ("windows", "ubuntu").
    pub os: Option<String>,
    /// Substring of the host name, any case.
    pub search: Option<String>,
    pub update_channel: Option<UpdateChannel>,
    /// The agent version reported, exactly ("2.1.0").
    pub agent_version: Option<String>,
}

pub(super) fn like_pattern(term: &str) -> String {
    let escaped = term
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub(super) fn lower(col: machines::Column) -> Expr {
    Expr::expr(Func::lower(Expr::col(col)))
}

pub(super) fn filtered(reach: Reach, f: &MachineFilter, now: DateTime<Utc>) -> Condition {
    let mut cond = reach.condition();
    let since = now - OFFLINE_AFTER;
    match f.status {
        Some(Status::Online) => cond = cond.add(machines::Column::LastSeen.gte(since)),
        Some(Status::Offline) => {
            cond = cond.add(
                Condition::any()
                    .add(machines::Column::LastSeen.is_null())
                    .add(machines::Column::LastSeen.lt(since)),
            )
        }
        None => {}
    }
    if let Some(g) = f.group_id {
        cond = cond.add(machines::Column::GroupId.eq(g));
    }
    if let Some(s) = f.site_id {
        cond = cond.add(machines::Column::SiteId.eq(s));
    }
    if let Some(l) = f.label_id {
        let mut carriers = sea_orm::sea_query::Query::select()
            .column(machine_labels::Column::MachineId)
            .from(machine_labels::Entity)
            .and_where(machine_labels::Column::LabelId.eq(l))
            .to_owned();
        if let Some(v) = &f.label_value {
            carriers.and_where(machine_labels::Column::Value.eq(v.trim()));
        }
        cond = cond.add(machines::Column::Id.in_subquery(carriers));
    }
    if let Some(os) = f.os.as_deref().filter(|s| !s.trim().is_empty()) {
        cond = cond.add(lower(machines::Column::Os).like(LikeExpr::new(like_pattern(os)).escape('\\')));
    }
    if let Some(term) = f.search.as_deref().filter(|s| !s.trim().is_empty()) {
        cond =
            cond.add(lower(machines::Column::Hostname).like(LikeExpr::new(like_pattern(term)).escape('\\')));
    }
    if let Some(channel) = f.update_channel {
        cond = cond.add(machines::Column::UpdateChannel.eq(channel));
    }
    if let Some(v) = f
        .agent_version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        cond = cond.add(machines::Column::AgentVersion.eq(v));
    }
    cond
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern(" SRV_1% "), "%srv\\_1\\%%");
    }
}

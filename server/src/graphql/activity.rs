//! The activity log: admins see their tenant, super_admins everything.

use super::{
    error::{ApiError, Result},
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{
    activity::{Category, Cursor, Filter, Level},
    auth::Role,
};
use async_graphql::resolver_utils::EnumType;
use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    Context, Enum, InputObject, Json, Object, SimpleObject, ID,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use entities::activity_logs;
use uuid::Uuid;

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ActivityLevel {
    Info,
    Warn,
    Error,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ActivityCategory {
    Auth,
    Email,
    Alert,
    System,
    User,
    Machine,
    Certificate,
}

impl From<ActivityLevel> for Level {
    fn from(l: ActivityLevel) -> Self {
        match l {
            ActivityLevel::Info => Self::Info,
            ActivityLevel::Warn => Self::Warn,
            ActivityLevel::Error => Self::Error,
        }
    }
}

impl From<ActivityCategory> for Category {
    fn from(c: ActivityCategory) -> Self {
        match c {
            ActivityCategory::Auth => Self::Auth,
            ActivityCategory::Email => Self::Email,
            ActivityCategory::Alert => Self::Alert,
            ActivityCategory::System => Self::System,
            ActivityCategory::User => Self::User,
            ActivityCategory::Machine => Self::Machine,
            ActivityCategory::Certificate => Self::Certificate,
        }
    }
}

#[derive(SimpleObject)]
pub struct ActivityLog {
    id: ID,
    timestamp: DateTime<Utc>,
    /// info, warn, error
    level: String,
    /// auth, email, alert, system, user, machine, certificate
    category: String,
    message: String,
    metadata: Option<Json<serde_json::Value>>,
    client_id: Option<ID>,
    user_id: Option<ID>,
    ip_address: Option<String>,
    user_agent: Option<String>,
}

impl From<activity_logs::Model> for ActivityLog {
    fn from(m: activity_logs::Model) -> Self {
        Self {
            id: id(m.id),
            timestamp: m.timestamp,
            level: m.level,
            category: m.category,
            message: m.message,
            metadata: m.metadata.map(Json),
            client_id: m.client_id.map(id),
            user_id: m.user_id.map(id),
            ip_address: m.ip_address,
            user_agent: m.user_agent,
        }
    }
}

#[derive(SimpleObject)]
pub struct CategoryCount {
    category: ActivityCategory,
    count: i64,
}

#[derive(SimpleObject)]
pub struct LevelCount {
    level: ActivityLevel,
    count: i64,
}

/// Activity-log entries over a span, every category and level listed
/// (zero included).
#[derive(SimpleObject)]
pub struct ActivityStats {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    total: i64,
    by_category: Vec<CategoryCount>,
    by_level: Vec<LevelCount>,
}

#[derive(InputObject, Default)]
pub struct ActivityLogFilter {
    category: Option<ActivityCategory>,
    level: Option<ActivityLevel>,
    user_id: Option<ID>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    /// super_admin only: one tenant's entries.
    client_id: Option<ID>,
}

fn encode_cursor(m: &activity_logs::Model) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", m.timestamp.timestamp_micros(), m.id))
}

fn decode_cursor(raw: &str) -> Option<Cursor> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
    let (micros, id) = text.split_once('|')?;
    Some(Cursor {
        timestamp: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id: Uuid::parse_str(id).ok()?,
    })
}

#[derive(Default)]
pub struct ActivityQuery;

#[Object]
impl ActivityQuery {
    /// Entries by category and by level over `range` or `from`/`to`
    /// (LAST_30_DAYS by default), across tenants or for one (super_admin).
    async fn activity_stats(
        &self,
        ctx: &Context<'_>,
        range: Option<super::admin::StatsRange>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        client_id: Option<ID>,
    ) -> Result<ActivityStats> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let period = super::admin::period(ctx, range, from, to)?;
        let client_id = client_id.as_ref().map(|c| parse_id("clientId", c)).transpose()?;
        let stats = ctx
            .services()
            .activity
            .stats(client_id, period.from, period.to)
            .await?;
        let count =
            |map: &std::collections::BTreeMap<String, i64>, name: &str| map.get(name).copied().unwrap_or(0);
        Ok(ActivityStats {
            from: period.from,
            to: period.to,
            total: stats.total,
            by_category: ActivityCategory::items()
                .iter()
                .map(|item| CategoryCount {
                    category: item.value,
                    count: count(&stats.by_category, Category::from(item.value).as_str()),
                })
                .collect(),
            by_level: ActivityLevel::items()
                .iter()
                .map(|item| LevelCount {
                    level: item.value,
                    count: count(&stats.by_level, Level::from(item.value).as_str()),
                })
                .collect(),
        })
    }

    /// Newest first, `first` up to 200 per page.
    #[graphql(
        complexity = "super::cost::page(Some(first), 50, crate::domain::activity::MAX_PAGE, child_complexity)"
    )]
    async fn activity_logs(
        &self,
        ctx: &Context<'_>,
        filter: Option<ActivityLogFilter>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, ActivityLog, EmptyFields, EmptyFields>> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let filter = filter.unwrap_or_default();
        if !(1..=200).contains(&first) {
            return Err(ApiError::bad_input("first", "must be between 1 and 200"));
        }
        let client_id = match (&filter.client_id, principal.is_super_admin()) {
            (Some(c), true) => Some(parse_id("filter.clientId", c)?),
            (None, true) => None,
            // Client admins always see their own tenant only.
            (_, false) => Some(principal.client_id),
        };
        let after = match after {
            None => None,
            Some(raw) => Some(
                decode_cursor(&raw).ok_or_else(|| ApiError::bad_input("after", "is not a valid cursor"))?,
            ),
        };
        let domain_filter = Filter {
            client_id,
            category: filter.category.map(Into::into),
            level: filter.level.map(Into::into),
            user_id: filter
                .user_id
                .as_ref()
                .map(|u| parse_id("filter.userId", u))
                .transpose()?,
            since: filter.since,
            until: filter.until,
        };
        let (rows, more) = ctx
            .services()
            .activity
            .list(&domain_filter, first as u64, after)
            .await?;
        let mut connection = Connection::new(after.is_some(), more);
        connection.edges.extend(
            rows.into_iter()
                .map(|m| Edge::new(encode_cursor(&m), ActivityLog::from(m))),
        );
        Ok(connection)
    }
}

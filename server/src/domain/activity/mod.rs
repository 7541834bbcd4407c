//! The audit trail: who did what, from where. Recording never fails the
//! action being recorded; a write error is logged instead.

mod stats;

pub use stats::Stats;

use crate::{domain::DomainError, infra::db::Database};
use chrono::{DateTime, Utc};
use entities::activity_logs;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Auth,
    Email,
    Alert,
    System,
    User,
    Machine,
    Certificate,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Email => "email",
            Self::Alert => "alert",
            Self::System => "system",
            Self::User => "user",
            Self::Machine => "machine",
            Self::Certificate => "certificate",
        }
    }
}

/// Where a request came from, for the audit trail and rate limits.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub level: Level,
    pub category: Category,
    pub message: String,
    pub metadata: Option<Value>,
    pub client_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
}

impl Entry {
    pub fn new(level: Level, category: Category, message: impl Into<String>) -> Self {
        Self {
            level,
            category,
            message: message.into(),
            metadata: None,
            client_id: None,
            user_id: None,
        }
    }

    pub fn client(mut self, client_id: Uuid) -> Self {
        self.client_id = Some(client_id);
        self
    }

    pub fn user(mut self, user_id: Uuid) -> Self {
        self.user_id = Some(user_id);
        self
    }

    /// The acting user, when the actor is one (API tokens may have none).
    pub fn by(mut self, user_id: Option<Uuid>) -> Self {
        self.user_id = user_id.or(self.user_id);
        self
    }

    pub fn metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }
}

#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Restricts to one tenant; `None` only for super_admin callers.
    pub client_id: Option<Uuid>,
    pub category: Option<Category>,
    pub level: Option<Level>,
    pub user_id: Option<Uuid>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Position after which a page starts (newest first).
#[derive(Clone, Copy, Debug)]
pub struct Cursor {
    pub timestamp: DateTime<Utc>,
    pub id: Uuid,
}

pub const MAX_PAGE: u64 = 200;

#[derive(Clone)]
pub struct ActivityLog {
    db: Database,
}

impl ActivityLog {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub async fn record(&self, entry: Entry, meta: &RequestMeta) {
        let row = activity_logs::ActiveModel {
            id: Set(Uuid::now_v7()),
            timestamp: Set(Utc::now()),
            level: Set(entry.level.as_str().into()),
            category: Set(entry.category.as_str().into()),
            message: Set(entry.message),
            metadata: Set(entry.metadata),
            client_id: Set(entry.client_id),
            user_id: Set(entry.user_id),
            ip_address: Set(meta.ip.clone()),
            user_agent: Set(meta.user_agent.as_ref().map(|ua| ua.chars().take(512).collect())),
        };
        if let Err(e) = activity_logs::Entity::insert(row).exec(&self.db.conn).await {
            tracing::error!(error = %e, "activity log write failed");
        }
    }

    /// Newest first; returns up to `first` rows after `after`, plus whether
    /// more exist.
    pub async fn list(
        &self,
        filter: &Filter,
        first: u64,
        after: Option<Cursor>,
    ) -> Result<(Vec<activity_logs::Model>, bool), DomainError> {
        let first = first.clamp(1, MAX_PAGE);
        let mut cond = Condition::all();
        if let Some(c) = filter.client_id {
            cond = cond.add(activity_logs::Column::ClientId.eq(c));
        }
        if let Some(c) = filter.category {
            cond = cond.add(activity_logs::Column::Category.eq(c.as_str()));
        }
        if let Some(l) = filter.level {
            cond = cond.add(activity_logs::Column::Level.eq(l.as_str()));
        }
        if let Some(u) = filter.user_id {
            cond = cond.add(activity_logs::Column::UserId.eq(u));
        }
        if let Some(s) = filter.since {
            cond = cond.add(activity_logs::Column::Timestamp.gte(s));
        }
        if let Some(u) = filter.until {
            cond = cond.add(activity_logs::Column::Timestamp.lt(u));
        }
        if let Some(cur) = after {
            cond = cond.add(
                Condition::any()
                    .add(activity_logs::Column::Timestamp.lt(cur.timestamp))
                    .add(
                        Condition::all()
                            .add(activity_logs::Column::Timestamp.eq(cur.timestamp))
                            .add(activity_logs::Column::Id.lt(cur.id)),
                    ),
            );
        }
        let mut rows = activity_logs::Entity::find()
            .filter(cond)
            .order_by_desc(activity_logs::Column::Timestamp)
            .order_by_desc(activity_logs::Column::Id)
            .limit(first + 1)
            .all(&self.db.conn)
            .await?;
        let more = rows.len() as u64 > first;
        rows.truncate(first as usize);
        Ok((rows, more))
    }
}

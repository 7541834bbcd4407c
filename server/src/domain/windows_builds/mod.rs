//! Known Windows builds: the reference list behind the minimum-build
//! dropdowns and the build → name mapping, refreshed on demand from
//! endoflife.date. Shared by every tenant; only a super_admin changes it.

pub mod endoflife;

use crate::{
    domain::{
        activity::{ActivityLog, Category, Entry, Level, RequestMeta},
        auth::Principal,
        DomainError,
    },
    infra::db::Database,
};
use async_trait::async_trait;
use endoflife::{FeedBuild, OsType};
use entities::windows_builds;
use sea_orm::{
    sea_query::OnConflict, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use serde_json::json;
use std::{collections::HashSet, sync::Arc};
use uuid::Uuid;

/// Where the release list comes from (endoflife.date over HTTP in
/// production, a local stand-in in tests).
#[async_trait]
pub trait ReleaseSource: Send + Sync {
    /// Where the list is read, for messages.
    fn location(&self) -> &str;
    /// The raw document; `Err` says, for the caller, why it could not be
    /// had (unreachable, HTTP status, too large).
    async fn fetch(&self) -> Result<Vec<u8>, String>;
}

/// The builds, client and server apart, in display order.
#[derive(Debug, Default)]
pub struct Grouped {
    pub client: Vec<windows_builds::Model>,
    pub server: Vec<windows_builds::Model>,
}

impl Grouped {
    fn of(rows: Vec<windows_builds::Model>) -> Self {
        let (client, server) = rows
            .into_iter()
            .partition(|r| r.os_type == OsType::Client.as_str());
        Self { client, server }
    }
}

#[derive(Debug)]
pub struct Refreshed {
    pub inserted: u32,
    /// Builds already known, whose name and release date were rewritten.
    pub updated: u32,
    /// Feed entries left out (IoT/Embedded, below 17763, other products,
    /// further editions of a build already kept).
    pub skipped: u32,
    pub builds: Grouped,
}

/// Whether `build` is an active known build of `os_type`: a minimum build
/// an admin picks must be one the dropdowns offer.
pub async fn is_known(conn: &impl ConnectionTrait, os_type: OsType, build: i32) -> Result<bool, DomainError> {
    Ok(windows_builds::Entity::find()
        .filter(windows_builds::Column::OsType.eq(os_type.as_str()))
        .filter(windows_builds::Column::BuildNumber.eq(build))
        .filter(windows_builds::Column::IsActive.eq(true))
        .one(conn)
        .await?
        .is_some())
}

#[derive(Clone)]
pub struct WindowsBuilds {
    db: Database,
    activity: ActivityLog,
    source: Arc<dyn ReleaseSource>,
}

impl WindowsBuilds {
    pub fn new(db: Database, activity: ActivityLog, source: Arc<dyn ReleaseSource>) -> Self {
        Self { db, activity, source }
    }

    async fn rows(&self, active_only: bool) -> Result<Vec<windows_builds::Model>, DomainError> {
        let mut query = windows_builds::Entity::find();
        if active_only {
            query = query.filter(windows_builds::Column::IsActive.eq(true));
        }
        Ok(query
            .order_by_asc(windows_builds::Column::SortOrder)
            .order_by_asc(windows_builds::Column::BuildNumber)
            .all(&self.db.conn)
            .await?)
    }

    /// Every build, active or not, grouped by OS type.
    pub async fn grouped(&self) -> Result<Grouped, DomainError> {
        Ok(Grouped::of(self.rows(false).await?))
    }

    /// The active builds: the build → name mapping clients display.
    pub async fn active(&self) -> Result<Vec<windows_builds::Model>, DomainError> {
        self.rows(true).await
    }

    /// Reads the release list and upserts its builds. Nothing changes when
    /// the source is unreachable or answers something else than a release
    /// list.
    pub async fn refresh(&self, actor: &Principal, meta: &RequestMeta) -> Result<Refreshed, DomainError> {
        let location = self.source.location().to_owned();
        let body = self.source.fetch().await.map_err(|why| {
            DomainError::upstream(format!("Windows builds could not be refreshed: {why}"), None)
        })?;
        let feed = endoflife::parse(&body).map_err(|e| {
            DomainError::upstream(
                format!(
                    "Windows builds could not be refreshed: {location} did not answer a JSON release list"
                ),
                Some(e.into()),
            )
        })?;
        if feed.builds.is_empty() {
            return Err(DomainError::upstream(
                format!("Windows builds could not be refreshed: {location} listed no Windows 10/11 or Server build"),
                None,
            ));
        }
        let (inserted, updated) = self.upsert(&feed.builds).await?;
        let entry = Entry::new(
            Level::Info,
            Category::System,
            format!("Builds Windows rafraîchis : {inserted} ajoutés, {updated} mis à jour"),
        )
        .metadata(json!({
            "source": location,
            "inserted": inserted,
            "updated": updated,
            "skipped": feed.skipped,
        }))
        .client(actor.client_id)
        .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok(Refreshed {
            inserted,
            updated,
            skipped: feed.skipped,
            builds: self.grouped().await?,
        })
    }

    /// Inserts new builds and renames known ones, in one transaction; a
    /// concurrent refresh inserting the same build turns into an update.
    async fn upsert(&self, builds: &[FeedBuild]) -> Result<(u32, u32), DomainError> {
        let txn = self.db.conn.begin().await?;
        let known: HashSet<(String, i32)> = windows_builds::Entity::find()
            .all(&txn)
            .await?
            .into_iter()
            .map(|r| (r.os_type, r.build_number))
            .collect();
        let (mut inserted, mut updated) = (0, 0);
        for b in builds {
            if known.contains(&(b.os_type.as_str().to_owned(), b.build_number)) {
                updated += 1;
            } else {
                inserted += 1;
            }
            let row = windows_builds::ActiveModel {
                id: Set(Uuid::new_v4()),
                os_type: Set(b.os_type.as_str().into()),
                build_number: Set(b.build_number),
                name: Set(b.name.clone()),
                release_date: Set(b.release_date),
                is_active: Set(true),
                sort_order: Set(b.build_number),
                created_at: Set(chrono::Utc::now()),
            };
            // An operator's is_active and sort_order survive a refresh.
            windows_builds::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([
                        windows_builds::Column::OsType,
                        windows_builds::Column::BuildNumber,
                    ])
                    .update_columns([windows_builds::Column::Name, windows_builds::Column::ReleaseDate])
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok((inserted, updated))
    }
}

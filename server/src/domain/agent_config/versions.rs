//! Published agent builds: one active version per channel, platform and
//! architecture is what agents there update to. The active version per
//! target is cached (shared cache, 60 s, dropped on every change) because
//! every heartbeat asks for it.

use crate::{
    domain::DomainError,
    infra::{cache::Cache, db::Database},
};
use chrono::{DateTime, Utc};
use entities::{
    agent_versions,
    enums::{Stored, UpdateChannel},
};
use sea_orm::{
    sea_query::Expr, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use std::{sync::Arc, time::Duration};
use uuid::Uuid;

const CACHE_PREFIX: &str = "agent-version:";
const CACHE_TTL: Duration = Duration::from_secs(60);
/// Cached marker for "no active version for this target".
const NONE_MARKER: &str = "none";

pub use super::target::{is_newer, parse_version, Target, ARCHITECTURES, PLATFORMS};

/// A published build, as agents and the dashboard see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentVersion {
    pub id: Uuid,
    pub version: String,
    pub channel: String,
    pub platform: String,
    pub architecture: String,
    pub download_url: String,
    pub checksum_sha256: String,
    pub file_size_bytes: i64,
    pub changelog: String,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<agent_versions::Model> for AgentVersion {
    fn from(m: agent_versions::Model) -> Self {
        Self {
            id: m.id,
            version: m.version,
            channel: m.channel.stored(),
            platform: m.platform,
            architecture: m.architecture,
            download_url: m.download_url,
            checksum_sha256: m.checksum_sha256,
            file_size_bytes: m.file_size_bytes,
            changelog: m.changelog,
            is_active: m.is_active,
            created_at: m.created_at,
        }
    }
}

#[derive(Clone, Debug)]
pub struct NewVersion {
    pub version: String,
    pub target: Target,
    pub download_url: String,
    pub checksum_sha256: String,
    pub file_size_bytes: i64,
    pub changelog: String,
    pub is_active: bool,
}

/// Changes to a published version; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub struct VersionChanges {
    pub download_url: Option<String>,
    pub checksum_sha256: Option<String>,
    pub file_size_bytes: Option<i64>,
    pub changelog: Option<String>,
    pub is_active: Option<bool>,
}

fn check_url(url: &str) -> Result<String, DomainError> {
    let u = url::Url::parse(url.trim()).map_err(|_| DomainError::invalid("downloadUrl", "is not a URL"))?;
    if !matches!(u.scheme(), "https" | "http") {
        return Err(DomainError::invalid("downloadUrl", "must be an http(s) URL"));
    }
    Ok(u.to_string())
}

fn check_checksum(sum: &str) -> Result<String, DomainError> {
    let s = sum.trim().to_ascii_lowercase();
    if s.len() != 64 || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(DomainError::invalid(
            "checksumSha256",
            "must be 64 hexadecimal characters",
        ));
    }
    Ok(s)
}

fn check_size(size: i64) -> Result<i64, DomainError> {
    if size < 0 {
        return Err(DomainError::invalid("fileSizeBytes", "must not be negative"));
    }
    Ok(size)
}

fn check_changelog(text: &str) -> Result<String, DomainError> {
    if text.chars().count() > 20_000 {
        return Err(DomainError::invalid(
            "changelog",
            "must be at most 20000 characters",
        ));
    }
    Ok(text.to_owned())
}

fn in_target(t: &Target) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(agent_versions::Column::Channel.eq(t.channel))
        .add(agent_versions::Column::Platform.eq(&t.platform))
        .add(agent_versions::Column::Architecture.eq(&t.architecture))
}

fn cache_key(t: &Target) -> String {
    format!(
        "{CACHE_PREFIX}{}:{}:{}",
        t.channel.stored(),
        t.platform,
        t.architecture
    )
}

fn target_of(m: &agent_versions::Model) -> Target {
    Target {
        channel: m.channel,
        platform: m.platform.clone(),
        architecture: m.architecture.clone(),
    }
}

#[derive(Clone)]
pub struct AgentVersions {
    db: Database,
    cache: Arc<dyn Cache>,
}

impl AgentVersions {
    pub fn new(db: Database, cache: Arc<dyn Cache>) -> Self {
        Self { db, cache }
    }

    /// Published versions, newest first, optionally for one target part.
    pub async fn list(
        &self,
        channel: Option<&str>,
        platform: Option<&str>,
        architecture: Option<&str>,
    ) -> Result<Vec<AgentVersion>, DomainError> {
        let mut q = agent_versions::Entity::find();
        if let Some(c) = channel {
            // An unknown channel matches nothing, as an unknown platform does.
            match UpdateChannel::from_stored(&c.to_ascii_lowercase()) {
                Some(c) => q = q.filter(agent_versions::Column::Channel.eq(c)),
                None => return Ok(Vec::new()),
            }
        }
        if let Some(p) = platform {
            q = q.filter(agent_versions::Column::Platform.eq(p.to_ascii_lowercase()));
        }
        if let Some(a) = architecture {
            q = q.filter(agent_versions::Column::Architecture.eq(a.to_ascii_lowercase()));
        }
        let mut list: Vec<AgentVersion> = q
            .order_by_desc(agent_versions::Column::CreatedAt)
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        list.sort_by_key(|v| std::cmp::Reverse(parse_version(&v.version)));
        Ok(list)
    }

    /// The active build of every channel, platform and architecture that
    /// has one, in that order.
    pub async fn active_builds(&self) -> Result<Vec<AgentVersion>, DomainError> {
        Ok(agent_versions::Entity::find()
            .filter(agent_versions::Column::IsActive.eq(true))
            .order_by_asc(agent_versions::Column::Channel)
            .order_by_asc(agent_versions::Column::Platform)
            .order_by_asc(agent_versions::Column::Architecture)
            .all(&self.db.conn)
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    pub async fn get(&self, id: Uuid) -> Result<AgentVersion, DomainError> {
        Ok(self.row(id).await?.into())
    }

    async fn row(&self, id: Uuid) -> Result<agent_versions::Model, DomainError> {
        agent_versions::Entity::find_by_id(id)
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("agent version"))
    }

    /// The version agents on `target` update to, if one is active.
    pub async fn latest(&self, target: &Target) -> Result<Option<AgentVersion>, DomainError> {
        let key = cache_key(target);
        if let Ok(Some(cached)) = self.cache.get(&key).await {
            if cached == NONE_MARKER {
                return Ok(None);
            }
            if let Ok(v) = serde_json::from_str(&cached) {
                return Ok(Some(v));
            }
        }
        let found: Option<AgentVersion> = agent_versions::Entity::find()
            .filter(in_target(target))
            .filter(agent_versions::Column::IsActive.eq(true))
            .one(&self.db.conn)
            .await?
            .map(Into::into);
        let value = match &found {
            Some(v) => serde_json::to_string(v).unwrap_or_default(),
            None => NONE_MARKER.to_owned(),
        };
        let _ = self.cache.set(&key, &value, CACHE_TTL).await;
        Ok(found)
    }

    /// The update a machine running `running` should install, if any.
    pub async fn update_for(
        &self,
        target: &Target,
        running: &str,
    ) -> Result<Option<AgentVersion>, DomainError> {
        Ok(self
            .latest(target)
            .await?
            .filter(|v| is_newer(&v.version, running)))
    }

    async fn forget_cached(&self) {
        let _ = self.cache.delete_prefix(CACHE_PREFIX).await;
    }

    /// Makes `id` the only active version of its target.
    async fn activate(txn: &impl ConnectionTrait, target: &Target, id: Uuid) -> Result<(), DomainError> {
        agent_versions::Entity::update_many()
            .col_expr(
                agent_versions::Column::IsActive,
                Expr::col(agent_versions::Column::Id).eq(id),
            )
            .filter(in_target(target))
            .exec(txn)
            .await?;
        Ok(())
    }

    pub async fn create(&self, new: NewVersion) -> Result<AgentVersion, DomainError> {
        let version = new.version.trim();
        let version = version.strip_prefix('v').unwrap_or(version).to_owned();
        if semver::Version::parse(&version).is_err() || version.len() > 32 {
            return Err(DomainError::invalid(
                "version",
                "must be a semantic version such as 1.4.2",
            ));
        }
        let model = agent_versions::ActiveModel {
            id: Set(Uuid::now_v7()),
            version: Set(version.clone()),
            channel: Set(new.target.channel),
            platform: Set(new.target.platform.clone()),
            architecture: Set(new.target.architecture.clone()),
            download_url: Set(check_url(&new.download_url)?),
            checksum_sha256: Set(check_checksum(&new.checksum_sha256)?),
            file_size_bytes: Set(check_size(new.file_size_bytes)?),
            changelog: Set(check_changelog(&new.changelog)?),
            is_active: Set(false),
            created_at: Set(Utc::now()),
        };
        let exists = agent_versions::Entity::find()
            .filter(in_target(&new.target))
            .filter(agent_versions::Column::Version.eq(&version))
            .one(&self.db.conn)
            .await?;
        if exists.is_some() {
            return Err(DomainError::Conflict(format!(
                "version {version} is already published for this channel, platform and architecture"
            )));
        }
        let txn = self.db.conn.begin().await?;
        let id = agent_versions::Entity::insert(model)
            .exec(&txn)
            .await?
            .last_insert_id;
        if new.is_active {
            Self::activate(&txn, &new.target, id).await?;
        }
        txn.commit().await?;
        self.forget_cached().await;
        self.get(id).await
    }

    pub async fn update(&self, id: Uuid, changes: VersionChanges) -> Result<AgentVersion, DomainError> {
        let current = self.row(id).await?;
        let mut update = agent_versions::Entity::update_many().filter(agent_versions::Column::Id.eq(id));
        let mut any = false;
        if let Some(url) = &changes.download_url {
            update = update.col_expr(agent_versions::Column::DownloadUrl, Expr::value(check_url(url)?));
            any = true;
        }
        if let Some(sum) = &changes.checksum_sha256 {
            update = update.col_expr(
                agent_versions::Column::ChecksumSha256,
                Expr::value(check_checksum(sum)?),
            );
            any = true;
        }
        if let Some(size) = changes.file_size_bytes {
            update = update.col_expr(
                agent_versions::Column::FileSizeBytes,
                Expr::value(check_size(size)?),
            );
            any = true;
        }
        if let Some(text) = &changes.changelog {
            update = update.col_expr(
                agent_versions::Column::Changelog,
                Expr::value(check_changelog(text)?),
            );
            any = true;
        }
        let txn = self.db.conn.begin().await?;
        if any {
            update.exec(&txn).await?;
        }
        match changes.is_active {
            Some(true) => Self::activate(&txn, &target_of(&current), id).await?,
            Some(false) => {
                agent_versions::Entity::update_many()
                    .col_expr(agent_versions::Column::IsActive, Expr::value(false))
                    .filter(agent_versions::Column::Id.eq(id))
                    .exec(&txn)
                    .await?;
            }
            None => {}
        }
        txn.commit().await?;
        self.forget_cached().await;
        self.get(id).await
    }

    /// Deletes a version; when it was the active one, the newest remaining
    /// version of the same target becomes active.
    pub async fn delete(&self, id: Uuid) -> Result<(), DomainError> {
        let current = self.row(id).await?;
        let target = target_of(&current);
        let txn = self.db.conn.begin().await?;
        agent_versions::Entity::delete_by_id(id).exec(&txn).await?;
        if current.is_active {
            let remaining = agent_versions::Entity::find()
                .filter(in_target(&target))
                .all(&txn)
                .await?;
            if let Some(next) = remaining
                .iter()
                .max_by(|a, b| parse_version(&a.version).cmp(&parse_version(&b.version)))
            {
                Self::activate(&txn, &target, next.id).await?;
            }
        }
        txn.commit().await?;
        self.forget_cached().await;
        Ok(())
    }

    /// Publishes a beta build on the stable channel (same file) and makes
    /// it the active stable version.
    pub async fn promote(&self, id: Uuid) -> Result<AgentVersion, DomainError> {
        let beta = self.row(id).await?;
        if beta.channel != UpdateChannel::Beta {
            return Err(DomainError::invalid("id", "only a beta version can be promoted"));
        }
        let target = Target {
            channel: UpdateChannel::Stable,
            ..target_of(&beta)
        };
        let txn = self.db.conn.begin().await?;
        let existing = agent_versions::Entity::find()
            .filter(in_target(&target))
            .filter(agent_versions::Column::Version.eq(&beta.version))
            .one(&txn)
            .await?;
        let stable_id = match existing {
            Some(row) => row.id,
            None => {
                agent_versions::Entity::insert(agent_versions::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    version: Set(beta.version.clone()),
                    channel: Set(target.channel),
                    platform: Set(beta.platform.clone()),
                    architecture: Set(beta.architecture.clone()),
                    download_url: Set(beta.download_url.clone()),
                    checksum_sha256: Set(beta.checksum_sha256.clone()),
                    file_size_bytes: Set(beta.file_size_bytes),
                    changelog: Set(beta.changelog.clone()),
                    is_active: Set(false),
                    created_at: Set(Utc::now()),
                })
                .exec(&txn)
                .await?
                .last_insert_id
            }
        };
        Self::activate(&txn, &target, stable_id).await?;
        txn.commit().await?;
        self.forget_cached().await;
        self.get(stable_id).await
    }
}

//! Agent builds (super_admin), collection intervals (tenant admins) and
//! per-machine agent commands.

use super::{
    error::{ApiError, Result},
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{
    agent_config::{
        intervals::{Effective, EffectiveIntervals, Scope, Setting, SettingInput, Source},
        versions::{AgentVersion as Version, NewVersion, Target, VersionChanges},
    },
    auth::Role,
    collectors::Collector,
};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum UpdateChannel {
    Stable,
    Beta,
}

impl UpdateChannel {
    fn as_str(self) -> &'static str {
        match self {
            Self::Stable => "stable",
            Self::Beta => "beta",
        }
    }
}

impl From<UpdateChannel> for entities::enums::UpdateChannel {
    fn from(c: UpdateChannel) -> Self {
        match c {
            UpdateChannel::Stable => Self::Stable,
            UpdateChannel::Beta => Self::Beta,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum AgentPlatform {
    Windows,
    Linux,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum CpuArchitecture {
    #[graphql(name = "AMD64")]
    Amd64,
    #[graphql(name = "ARM64")]
    Arm64,
}

impl AgentPlatform {
    fn as_str(self) -> &'static str {
        match self {
            Self::Windows => "windows",
            Self::Linux => "linux",
        }
    }
}

impl CpuArchitecture {
    fn as_str(self) -> &'static str {
        match self {
            Self::Amd64 => "amd64",
            Self::Arm64 => "arm64",
        }
    }
}

/// A published agent build.
#[derive(SimpleObject)]
pub struct AgentVersion {
    id: ID,
    version: String,
    channel: String,
    platform: String,
    architecture: String,
    download_url: String,
    checksum_sha256: String,
    file_size_bytes: i64,
    changelog: String,
    /// Agents on this channel, platform and architecture update to it.
    is_active: bool,
    created_at: DateTime<Utc>,
}

impl From<Version> for AgentVersion {
    fn from(v: Version) -> Self {
        Self {
            id: id(v.id),
            version: v.version,
            channel: v.channel,
            platform: v.platform,
            architecture: v.architecture,
            download_url: v.download_url,
            checksum_sha256: v.checksum_sha256,
            file_size_bytes: v.file_size_bytes,
            changelog: v.changelog,
            is_active: v.is_active,
            created_at: v.created_at,
        }
    }
}

#[derive(InputObject)]
pub struct CreateAgentVersionInput {
    /// Semantic version, e.g. 1.4.2.
    version: String,
    channel: UpdateChannel,
    platform: AgentPlatform,
    architecture: CpuArchitecture,
    download_url: String,
    /// 64 hexadecimal characters.
    checksum_sha256: String,
    #[graphql(default)]
    file_size_bytes: i64,
    #[graphql(default)]
    changelog: String,
    /// Make it the version agents update to now.
    #[graphql(default)]
    is_active: bool,
}

#[derive(InputObject, Default)]
pub struct UpdateAgentVersionInput {
    download_url: Option<String>,
    checksum_sha256: Option<String>,
    file_size_bytes: Option<i64>,
    changelog: Option<String>,
    is_active: Option<bool>,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "Collector")]
pub enum CollectorKind {
    Metrics,
    Storage,
    StorageHealth,
    Network,
    Services,
    Security,
    Software,
    Patches,
}

impl From<CollectorKind> for Collector {
    fn from(c: CollectorKind) -> Self {
        match c {
            CollectorKind::Metrics => Self::Metrics,
            CollectorKind::Storage => Self::Storage,
            CollectorKind::StorageHealth => Self::StorageHealth,
            CollectorKind::Network => Self::Network,
            CollectorKind::Services => Self::Services,
            CollectorKind::Security => Self::Security,
            CollectorKind::Software => Self::Software,
            CollectorKind::Patches => Self::Patches,
        }
    }
}

impl From<Collector> for CollectorKind {
    fn from(c: Collector) -> Self {
        match c {
            Collector::Metrics => Self::Metrics,
            Collector::Storage => Self::Storage,
            Collector::StorageHealth => Self::StorageHealth,
            Collector::Network => Self::Network,
            Collector::Services => Self::Services,
            Collector::Security => Self::Security,
            Collector::Software => Self::Software,
            Collector::Patches => Self::Patches,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum SettingScope {
    Client,
    Group,
    Label,
    Machine,
}

impl From<Scope> for SettingScope {
    fn from(s: Scope) -> Self {
        match s {
            Scope::Client => Self::Client,
            Scope::Group => Self::Group,
            Scope::Label => Self::Label,
            Scope::Machine => Self::Machine,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum IntervalSource {
    Default,
    ClientSetting,
    GroupSetting,
    LabelSetting,
    MachineSetting,
}

impl From<Source> for IntervalSource {
    fn from(s: Source) -> Self {
        match s {
            Source::Default => Self::Default,
            Source::Setting(Scope::Client) => Self::ClientSetting,
            Source::Setting(Scope::Group) => Self::GroupSetting,
            Source::Setting(Scope::Label) => Self::LabelSetting,
            Source::Setting(Scope::Machine) => Self::MachineSetting,
        }
    }
}

#[derive(SimpleObject)]
pub struct CollectorInterval {
    collector: CollectorKind,
    seconds: i32,
}

#[derive(InputObject)]
pub struct CollectorIntervalInput {
    collector: CollectorKind,
    seconds: i32,
}

/// Collection intervals for the whole tenant, a group, a label or a
/// machine.
#[derive(SimpleObject)]
pub struct CollectionSetting {
    id: ID,
    name: String,
    priority: i32,
    scope: SettingScope,
    machine_id: Option<ID>,
    group_id: Option<ID>,
    label_id: Option<ID>,
    intervals: Vec<CollectorInterval>,
    disabled_collectors: Vec<CollectorKind>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Setting> for CollectionSetting {
    fn from(s: Setting) -> Self {
        Self {
            id: id(s.id),
            name: s.name,
            priority: s.priority,
            scope: s.scope.into(),
            machine_id: s.machine_id.map(id),
            group_id: s.group_id.map(id),
            label_id: s.label_id.map(id),
            intervals: s
                .intervals
                .into_iter()
                .map(|(c, seconds)| CollectorInterval {
                    collector: c.into(),
                    seconds,
                })
                .collect(),
            disabled_collectors: s.disabled.into_iter().map(Into::into).collect(),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(InputObject)]
pub struct CollectionSettingInput {
    name: String,
    /// Higher wins within one scope; default 0.
    #[graphql(default)]
    priority: i32,
    /// At most one of machineId, groupId, labelId; none applies to every
    /// machine of the tenant.
    machine_id: Option<ID>,
    group_id: Option<ID>,
    label_id: Option<ID>,
    /// Seconds per collector; clamped to each collector's bounds when
    /// applied.
    #[graphql(default)]
    intervals: Vec<CollectorIntervalInput>,
    /// Collectors switched off in this scope.
    #[graphql(default)]
    disabled_collectors: Vec<CollectorKind>,
}

impl CollectionSettingInput {
    fn into_domain(self) -> std::result::Result<SettingInput, ApiError> {
        let opt = |field: &str, v: &Option<ID>| v.as_ref().map(|i| parse_id(field, i)).transpose();
        Ok(SettingInput {
            machine_id: opt("machineId", &self.machine_id)?,
            group_id: opt("groupId", &self.group_id)?,
            label_id: opt("labelId", &self.label_id)?,
            name: self.name,
            priority: self.priority,
            intervals: self
                .intervals
                .into_iter()
                .map(|i| (i.collector.into(), i.seconds))
                .collect(),
            disabled: self.disabled_collectors.into_iter().map(Into::into).collect(),
        })
    }
}

#[derive(SimpleObject)]
pub struct EffectiveCollector {
    collector: CollectorKind,
    enabled: bool,
    /// Seconds, within the collector's bounds.
    interval: i32,
    source: IntervalSource,
    setting_id: Option<ID>,
}

impl From<Effective> for EffectiveCollector {
    fn from(e: Effective) -> Self {
        Self {
            collector: e.collector.into(),
            enabled: e.enabled,
            interval: e.interval,
            source: e.source.into(),
            setting_id: e.setting_id.map(id),
        }
    }
}

/// What the machine's agent receives from `GET /agent/config/collectors`.
#[derive(SimpleObject)]
pub struct EffectiveIntervalsResult {
    machine_id: ID,
    collectors: Vec<EffectiveCollector>,
    /// The most specific scope that contributed.
    source: IntervalSource,
    setting_id: Option<ID>,
    setting_name: Option<String>,
}

impl From<EffectiveIntervals> for EffectiveIntervalsResult {
    fn from(e: EffectiveIntervals) -> Self {
        Self {
            machine_id: id(e.machine_id),
            collectors: e.collectors.into_iter().map(Into::into).collect(),
            source: e.source.into(),
            setting_id: e.setting_id.map(id),
            setting_name: e.setting_name,
        }
    }
}

#[derive(Default)]
pub struct AgentConfigQuery;

#[Object]
impl AgentConfigQuery {
    /// Published agent builds, newest first (super_admin).
    async fn agent_versions(
        &self,
        ctx: &Context<'_>,
        channel: Option<UpdateChannel>,
        platform: Option<AgentPlatform>,
        architecture: Option<CpuArchitecture>,
    ) -> Result<Vec<AgentVersion>> {
        ctx.caller_with_role(Role::SuperAdmin)?;
        let list = ctx
            .services()
            .agent_versions
            .list(
                channel.map(UpdateChannel::as_str),
                platform.map(AgentPlatform::as_str),
                architecture.map(CpuArchitecture::as_str),
            )
            .await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// The tenant's collection settings.
    async fn collection_settings(&self, ctx: &Context<'_>) -> Result<Vec<CollectionSetting>> {
        let principal = ctx.caller()?;
        let list = ctx
            .services()
            .collection_settings
            .list(principal.client_id)
            .await?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    async fn collection_setting(&self, ctx: &Context<'_>, id: ID) -> Result<CollectionSetting> {
        let principal = ctx.caller()?;
        let id = parse_id("id", &id)?;
        let s = ctx
            .services()
            .collection_settings
            .get(principal.client_id, id)
            .await?;
        Ok(s.into())
    }

    /// The intervals a machine's agent runs with, and where each comes from.
    async fn effective_intervals(
        &self,
        ctx: &Context<'_>,
        machine_id: ID,
    ) -> Result<EffectiveIntervalsResult> {
        let principal = ctx.caller()?;
        let machine_id = parse_id("machineId", &machine_id)?;
        let e = ctx
            .services()
            .collection_settings
            .effective(principal.client_id, machine_id)
            .await?;
        Ok(e.into())
    }
}

#[derive(Default)]
pub struct AgentConfigMutation;

#[Object]
impl AgentConfigMutation {
    /// Publishes an agent build (super_admin).
    async fn create_agent_version(
        &self,
        ctx: &Context<'_>,
        input: CreateAgentVersionInput,
    ) -> Result<AgentVersion> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let target = Target::new(
            input.channel.as_str(),
            input.platform.as_str(),
            input.architecture.as_str(),
        )?;
        let v = ctx
            .services()
            .agent_versions
            .create(NewVersion {
                version: input.version,
                target,
                download_url: input.download_url,
                checksum_sha256: input.checksum_sha256,
                file_size_bytes: input.file_size_bytes,
                changelog: input.changelog,
                is_active: input.is_active,
            })
            .await?;
        Ok(v.into())
    }

    async fn update_agent_version(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateAgentVersionInput,
    ) -> Result<AgentVersion> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let id = parse_id("id", &id)?;
        let v = ctx
            .services()
            .agent_versions
            .update(
                id,
                VersionChanges {
                    download_url: input.download_url,
                    checksum_sha256: input.checksum_sha256,
                    file_size_bytes: input.file_size_bytes,
                    changelog: input.changelog,
                    is_active: input.is_active,
                },
            )
            .await?;
        Ok(v.into())
    }

    /// Deletes a build; if it was active, the newest remaining build of
    /// its channel, platform and architecture becomes active.
    async fn delete_agent_version(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let id = parse_id("id", &id)?;
        ctx.services().agent_versions.delete(id).await?;
        Ok(true)
    }

    /// Publishes a beta build on the stable channel and activates it there.
    async fn promote_agent_version(&self, ctx: &Context<'_>, id: ID) -> Result<AgentVersion> {
        ctx.user_session_with_role(Role::SuperAdmin)?;
        let id = parse_id("id", &id)?;
        let v = ctx.services().agent_versions.promote(id).await?;
        Ok(v.into())
    }

    async fn create_collection_setting(
        &self,
        ctx: &Context<'_>,
        input: CollectionSettingInput,
    ) -> Result<CollectionSetting> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let s = ctx
            .services()
            .collection_settings
            .create(principal, input.into_domain()?, ctx.meta())
            .await?;
        Ok(s.into())
    }

    /// Replaces a setting's content.
    async fn update_collection_setting(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: CollectionSettingInput,
    ) -> Result<CollectionSetting> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        let s = ctx
            .services()
            .collection_settings
            .update(principal, id, input.into_domain()?, ctx.meta())
            .await?;
        Ok(s.into())
    }

    async fn delete_collection_setting(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .collection_settings
            .delete(principal, id, ctx.meta())
            .await?;
        Ok(true)
    }

    /// Asks the machine's agent to run every collector at its next
    /// heartbeat (command `force_collect`).
    async fn force_collect(&self, ctx: &Context<'_>, machine_id: ID) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let machine_id = parse_id("machineId", &machine_id)?;
        ctx.services()
            .agents
            .request_force_collect(principal, machine_id, ctx.meta())
            .await?;
        Ok(true)
    }

    /// Moves a machine to the stable or beta update channel.
    async fn set_machine_update_channel(
        &self,
        ctx: &Context<'_>,
        machine_id: ID,
        channel: UpdateChannel,
    ) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let machine_id = parse_id("machineId", &machine_id)?;
        ctx.services()
            .agents
            .set_update_channel(principal, machine_id, channel.into(), ctx.meta())
            .await?;
        Ok(true)
    }
}

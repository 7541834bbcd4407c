//! The fleet as dashboards read it: machine lists, one machine, its
//! inventory and charts, and the overview. Everything is scoped to the
//! caller's tenant; nested data goes through dataloaders.

use super::{
    agent_config::{CollectorKind, UpdateChannel},
    error::{ApiError, Result},
    loaders::{GroupLoader, LabelsLoader, LatestMetricsLoader, RiskOverridesLoader, SnapshotLoader},
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{
    auth::Role,
    collectors::Collector,
    fleet::{
        self,
        history::{Point, Range, Resolution, Series},
        risks::{self, Level, OverrideInput, Severity},
        Cursor, MachineFilter as Filter,
    },
};
use async_graphql::{
    connection::{Connection, Edge},
    Context, Enum, InputObject, Json, Object, SimpleObject, ID,
};
use chrono::{DateTime, Utc};
use entities::{machines, risk_overrides};
use uuid::Uuid;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum MachineStatus {
    Online,
    Offline,
    /// In maintenance mode (alerts are muted).
    Maintenance,
}

#[derive(InputObject, Default)]
pub struct MachineFilter {
    /// ONLINE or OFFLINE (MAINTENANCE is a state, not a filter).
    status: Option<MachineStatus>,
    group_id: Option<ID>,
    label_id: Option<ID>,
    /// With `labelId`: only machines carrying the label with this value.
    label_value: Option<String>,
    site_id: Option<ID>,
    /// Substring of the OS name, any case.
    os: Option<String>,
    /// Substring of the host name, any case.
    search: Option<String>,
    update_channel: Option<UpdateChannel>,
    /// The agent version reported, exactly ("2.1.0").
    agent_version: Option<String>,
}

impl MachineFilter {
    pub(super) fn into_domain(self) -> std::result::Result<Filter, ApiError> {
        Ok(Filter {
            status: match self.status {
                None => None,
                Some(MachineStatus::Online) => Some(fleet::Status::Online),
                Some(MachineStatus::Offline) => Some(fleet::Status::Offline),
                Some(MachineStatus::Maintenance) => {
                    return Err(ApiError::bad_input(
                        "filter.status",
                        "filter on ONLINE or OFFLINE",
                    ))
                }
            },
            group_id: self
                .group_id
                .as_ref()
                .map(|g| parse_id("filter.groupId", g))
                .transpose()?,
            label_id: self
                .label_id
                .as_ref()
                .map(|l| parse_id("filter.labelId", l))
                .transpose()?,
            label_value: match (&self.label_id, self.label_value) {
                (None, Some(_)) => {
                    return Err(ApiError::bad_input(
                        "filter.labelValue",
                        "give labelId with labelValue",
                    ))
                }
                (_, value) => value,
            },
            site_id: self
                .site_id
                .as_ref()
                .map(|s| parse_id("filter.siteId", s))
                .transpose()?,
            os: self.os,
            search: self.search,
            update_channel: self.update_channel.map(Into::into),
            agent_version: self.agent_version,
        })
    }
}

#[derive(SimpleObject)]
pub struct LatestMetrics {
    cpu_percent: f64,
    ram_percent: f64,
    uptime_seconds: i64,
    cpu_temp: Option<f64>,
    collected_at: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct MachineLabel {
    label_id: ID,
    key: String,
    value: String,
    color: String,
}

#[derive(SimpleObject)]
pub struct Group {
    id: ID,
    name: String,
    description: Option<String>,
}

impl From<entities::groups::Model> for Group {
    fn from(g: entities::groups::Model) -> Self {
        Self {
            id: id(g.id),
            name: g.name,
            description: g.description,
        }
    }
}

/// The latest payload one collector sent.
#[derive(SimpleObject)]
pub struct CollectorSnapshot {
    collector: CollectorKind,
    collected_at: DateTime<Utc>,
    /// The payload as stored (normalised; the collector's documented
    /// fields).
    data: Json<serde_json::Value>,
}

/// One volume, from the storage collector's latest sample.
#[derive(SimpleObject)]
pub struct Disk {
    mount_point: String,
    device: String,
    fs_type: String,
    total_gb: f64,
    used_gb: f64,
    used_percent: f64,
    model: Option<String>,
    interface: Option<String>,
}

/// One physical or virtual disk's S.M.A.R.T. health, from the
/// storage_health collector's latest sample.
#[derive(SimpleObject)]
pub struct SmartDisk {
    device: String,
    model: Option<String>,
    serial: Option<String>,
    /// healthy, warning, critical, virtual, unavailable
    smart_status: String,
    is_virtual: bool,
    temperature: Option<i32>,
    power_on_hours: Option<i64>,
    reallocated_sectors: Option<i64>,
    current_pending_sectors: Option<i64>,
    offline_uncorrectable: Option<i64>,
    predicted_failure: bool,
}

pub struct Machine(pub(super) machines::Model);

impl Machine {
    async fn snapshot(&self, ctx: &Context<'_>, collector: Collector) -> Result<Option<CollectorSnapshot>> {
        let all = ctx
            .loader::<SnapshotLoader>()
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(all
            .into_iter()
            .find(|s| s.collector == collector.name())
            .map(|s| CollectorSnapshot {
                collector: collector.into(),
                collected_at: s.collected_at,
                data: Json(s.data),
            }))
    }
}

#[Object]
impl Machine {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn hostname(&self) -> &str {
        &self.0.hostname
    }
    async fn hardware_id(&self) -> Option<&str> {
        self.0.hardware_id.as_deref()
    }
    async fn os(&self) -> &str {
        &self.0.os
    }
    async fn os_version(&self) -> &str {
        &self.0.os_version
    }
    async fn arch(&self) -> Option<&str> {
        self.0.arch.as_deref()
    }
    /// Local IP the agent reported.
    async fn ip(&self) -> &str {
        &self.0.ip
    }
    async fn agent_version(&self) -> &str {
        &self.0.agent_version
    }
    async fn last_seen(&self) -> Option<DateTime<Utc>> {
        self.0.last_seen
    }
    /// Heard from within the last 5 minutes.
    async fn online(&self, ctx: &Context<'_>) -> bool {
        ctx.services().fleet.is_online(&self.0)
    }
    async fn status(&self, ctx: &Context<'_>) -> MachineStatus {
        match ctx.services().fleet.state_of(&self.0) {
            fleet::State::Online => MachineStatus::Online,
            fleet::State::Offline => MachineStatus::Offline,
            fleet::State::Maintenance => MachineStatus::Maintenance,
        }
    }
    /// 0-100.
    async fn health_score(&self) -> i32 {
        self.0.health_score
    }
    async fn is_os_compliant(&self) -> bool {
        self.0.is_os_compliant
    }
    /// stable or beta.
    async fn update_channel(&self) -> String {
        entities::enums::Stored::stored(&self.0.update_channel)
    }
    /// In maintenance now (false once `maintenanceUntil` has passed).
    async fn maintenance_mode(&self, ctx: &Context<'_>) -> bool {
        ctx.services().fleet.state_of(&self.0) == fleet::State::Maintenance
    }
    async fn maintenance_until(&self, ctx: &Context<'_>) -> Option<DateTime<Utc>> {
        self.0
            .maintenance_until
            .filter(|_| ctx.services().fleet.state_of(&self.0) == fleet::State::Maintenance)
    }
    async fn maintenance_reason(&self, ctx: &Context<'_>) -> Option<&str> {
        self.0
            .maintenance_reason
            .as_deref()
            .filter(|_| ctx.services().fleet.state_of(&self.0) == fleet::State::Maintenance)
    }
    async fn cert_serial(&self) -> Option<&str> {
        self.0.cert_serial.as_deref()
    }
    async fn cert_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.cert_expires_at
    }
    async fn last_config_sync(&self) -> Option<DateTime<Utc>> {
        self.0.last_config_sync
    }
    /// Set after `releaseMachineForReenrolment`: until then the next
    /// enrolment with this host name takes the machine over.
    async fn reenrolment_allowed_until(&self) -> Option<DateTime<Utc>> {
        self.0
            .reenrolment_allowed_until
            .filter(|until| *until > Utc::now())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn group(&self, ctx: &Context<'_>) -> Result<Option<Group>> {
        let Some(group_id) = self.0.group_id else {
            return Ok(None);
        };
        let group = ctx.loader::<GroupLoader>().load_one(group_id).await?;
        Ok(group.map(Into::into))
    }

    async fn labels(&self, ctx: &Context<'_>) -> Result<Vec<MachineLabel>> {
        let labels = ctx
            .loader::<LabelsLoader>()
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(labels
            .into_iter()
            .map(|l| MachineLabel {
                label_id: id(l.label_id),
                key: l.key,
                value: l.value,
                color: l.color,
            })
            .collect())
    }

    /// From the metrics collector's latest sample; null before the first.
    async fn latest_metrics(&self, ctx: &Context<'_>) -> Result<Option<LatestMetrics>> {
        let latest = ctx.loader::<LatestMetricsLoader>().load_one(self.0.id).await?;
        Ok(latest.map(|m| LatestMetrics {
            cpu_percent: m.cpu_percent,
            ram_percent: m.ram_percent,
            uptime_seconds: m.uptime_seconds,
            cpu_temp: m.cpu_temp,
            collected_at: m.collected_at,
        }))
    }

    /// The latest snapshot of one collector, or of all of them.
    async fn inventory(
        &self,
        ctx: &Context<'_>,
        collector: Option<CollectorKind>,
    ) -> Result<Vec<CollectorSnapshot>> {
        let wanted: Vec<Collector> = match collector {
            Some(c) => vec![c.into()],
            None => Collector::ALL.to_vec(),
        };
        let mut out = Vec::new();
        for c in wanted {
            if let Some(s) = self.snapshot(ctx, c).await? {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// Volumes from the latest storage sample.
    async fn disks(&self, ctx: &Context<'_>) -> Result<Vec<Disk>> {
        let Some(snapshot) = self.snapshot(ctx, Collector::Storage).await? else {
            return Ok(vec![]);
        };
        let disks: Vec<crate::domain::ingest::payloads::DiskUsage> =
            serde_json::from_value(snapshot.data.0["disks"].clone()).unwrap_or_default();
        Ok(disks
            .into_iter()
            .map(|d| Disk {
                used_percent: d.used_percent.unwrap_or_default(),
                mount_point: d.mount_point,
                device: d.device,
                fs_type: d.fs_type,
                total_gb: d.total_gb,
                used_gb: d.used_gb,
                model: d.model,
                interface: d.interface,
            })
            .collect())
    }

    /// S.M.A.R.T. health from the latest storage_health sample.
    async fn smart_disks(&self, ctx: &Context<'_>) -> Result<Vec<SmartDisk>> {
        let Some(snapshot) = self.snapshot(ctx, Collector::StorageHealth).await? else {
            return Ok(vec![]);
        };
        let disks: Vec<crate::domain::ingest::payloads::SmartDiskInfo> =
            serde_json::from_value(snapshot.data.0["disks"].clone()).unwrap_or_default();
        Ok(disks
            .into_iter()
            .map(|d| SmartDisk {
                device: d.device,
                model: d.model,
                serial: d.serial,
                smart_status: d.smart_status,
                is_virtual: d.is_virtual,
                temperature: d.temperature,
                power_on_hours: d.power_on_hours,
                reallocated_sectors: d.reallocated_sectors,
                current_pending_sectors: d.current_pending_sectors,
                offline_uncorrectable: d.offline_uncorrectable,
                predicted_failure: d.predicted_failure,
            })
            .collect())
    }

    /// Risks in the latest security, patches, services and disk-health
    /// data, with overrides applied; most severe first.
    async fn risks(&self, ctx: &Context<'_>) -> Result<Vec<MachineRisk>> {
        let snapshots = ctx
            .loader::<SnapshotLoader>()
            .load_one(self.0.id)
            .await?
            .unwrap_or_default();
        let overrides = self.overrides(ctx).await?;
        let risks = risks::apply(risks::detect(&snapshots), &overrides, Utc::now());
        Ok(risks
            .into_iter()
            .map(|r| MachineRisk {
                key: r.key,
                title: r.title,
                detected_severity: r.detected.into(),
                severity: r.effective.map(Into::into),
                accepted: r.override_id.is_some() && r.effective.is_none(),
                override_id: r.override_id.map(id),
                override_reason: r.override_reason,
            })
            .collect())
    }

    async fn risk_overrides(&self, ctx: &Context<'_>) -> Result<Vec<RiskOverride>> {
        Ok(self.overrides(ctx).await?.into_iter().map(Into::into).collect())
    }
}

impl Machine {
    async fn overrides(&self, ctx: &Context<'_>) -> Result<Vec<risk_overrides::Model>> {
        Ok(ctx
            .loader::<RiskOverridesLoader>()
            .load_one(self.0.id)
            .await?
            .unwrap_or_default())
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum RiskSeverity {
    Low,
    Medium,
    High,
    Critical,
}

impl From<Severity> for RiskSeverity {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Low => Self::Low,
            Severity::Medium => Self::Medium,
            Severity::High => Self::High,
            Severity::Critical => Self::Critical,
        }
    }
}

/// What an override does to a risk.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum RiskLevel {
    /// Known and accepted: the risk no longer counts.
    Accepted,
    Low,
    Medium,
    High,
    Critical,
}

impl From<RiskLevel> for Level {
    fn from(l: RiskLevel) -> Self {
        match l {
            RiskLevel::Accepted => Self::Accepted,
            RiskLevel::Low => Self::Severity(Severity::Low),
            RiskLevel::Medium => Self::Severity(Severity::Medium),
            RiskLevel::High => Self::Severity(Severity::High),
            RiskLevel::Critical => Self::Severity(Severity::Critical),
        }
    }
}

fn level_of(stored: entities::enums::RiskLevel) -> RiskLevel {
    match Level::from(stored) {
        Level::Accepted => RiskLevel::Accepted,
        Level::Severity(Severity::Low) => RiskLevel::Low,
        Level::Severity(Severity::Medium) => RiskLevel::Medium,
        Level::Severity(Severity::High) => RiskLevel::High,
        Level::Severity(Severity::Critical) => RiskLevel::Critical,
    }
}

/// A risk detected in the machine's latest data.
#[derive(SimpleObject)]
pub struct MachineRisk {
    /// Stable key overrides refer to (antivirus_disabled, port:3389, ...).
    key: String,
    title: String,
    detected_severity: RiskSeverity,
    /// After the override; null when accepted.
    severity: Option<RiskSeverity>,
    accepted: bool,
    override_id: Option<ID>,
    override_reason: Option<String>,
}

#[derive(SimpleObject)]
pub struct RiskOverride {
    id: ID,
    machine_id: ID,
    risk_key: String,
    level: RiskLevel,
    reason: String,
    expires_at: Option<DateTime<Utc>>,
    created_by: Option<ID>,
    updated_at: DateTime<Utc>,
}

impl From<risk_overrides::Model> for RiskOverride {
    fn from(o: risk_overrides::Model) -> Self {
        Self {
            id: id(o.id),
            machine_id: id(o.machine_id),
            level: level_of(o.level),
            risk_key: o.risk_key,
            reason: o.reason,
            expires_at: o.expires_at,
            created_by: o.created_by.map(id),
            updated_at: o.updated_at,
        }
    }
}

#[derive(InputObject)]
pub struct RiskOverrideInput {
    risk_key: String,
    level: RiskLevel,
    #[graphql(default)]
    reason: String,
    /// The override lapses then; none = until deleted.
    expires_at: Option<DateTime<Utc>>,
}

/// Extra fields of the machines connection.
pub struct MachinePageInfo {
    pub(super) reach: fleet::Reach,
    pub(super) filter: Filter,
}

#[Object]
impl MachinePageInfo {
    /// Machines matching the filter, all pages together (one more
    /// statement; ask only when shown).
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        Ok(ctx.services().fleet.count(self.reach, &self.filter).await?)
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum MetricRange {
    #[graphql(name = "H1")]
    H1,
    #[graphql(name = "H24")]
    H24,
    #[graphql(name = "D7")]
    D7,
    #[graphql(name = "D30")]
    D30,
}

impl From<MetricRange> for Range {
    fn from(r: MetricRange) -> Self {
        match r {
            MetricRange::H1 => Self::H1,
            MetricRange::H24 => Self::H24,
            MetricRange::D7 => Self::D7,
            MetricRange::D30 => Self::D30,
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum MetricResolution {
    /// Every sample.
    Raw,
    /// One point per hour (rollup averages, or the hour's last sample when
    /// rollups are not there yet).
    Hourly,
}

impl From<Resolution> for MetricResolution {
    fn from(r: Resolution) -> Self {
        match r {
            Resolution::Raw => Self::Raw,
            Resolution::Hourly => Self::Hourly,
        }
    }
}

#[derive(SimpleObject)]
pub struct MetricPoint {
    at: DateTime<Utc>,
    cpu_percent: Option<f64>,
    ram_percent: Option<f64>,
    cpu_temp: Option<f64>,
    cpu_min: Option<f64>,
    cpu_max: Option<f64>,
    ram_min: Option<f64>,
    ram_max: Option<f64>,
}

impl From<Point> for MetricPoint {
    fn from(p: Point) -> Self {
        Self {
            at: p.at,
            cpu_percent: p.cpu_percent,
            ram_percent: p.ram_percent,
            cpu_temp: p.cpu_temp,
            cpu_min: p.cpu_min,
            cpu_max: p.cpu_max,
            ram_min: p.ram_min,
            ram_max: p.ram_max,
        }
    }
}

#[derive(SimpleObject)]
pub struct MetricHistory {
    points: Vec<MetricPoint>,
    resolution: MetricResolution,
}

#[derive(SimpleObject)]
pub struct NetworkPoint {
    at: DateTime<Utc>,
    bytes_recv: Option<f64>,
    bytes_sent: Option<f64>,
    packet_loss: Option<f64>,
    latency_ms: Option<f64>,
    bytes_recv_max: Option<f64>,
    bytes_sent_max: Option<f64>,
    packet_loss_max: Option<f64>,
    latency_max: Option<f64>,
}

impl From<Point> for NetworkPoint {
    fn from(p: Point) -> Self {
        Self {
            at: p.at,
            bytes_recv: p.bytes_recv,
            bytes_sent: p.bytes_sent,
            packet_loss: p.packet_loss,
            latency_ms: p.latency_ms,
            bytes_recv_max: p.bytes_recv_max,
            bytes_sent_max: p.bytes_sent_max,
            packet_loss_max: p.packet_loss_max,
            latency_max: p.latency_max,
        }
    }
}

#[derive(SimpleObject)]
pub struct NetworkMetricHistory {
    points: Vec<NetworkPoint>,
    resolution: MetricResolution,
}

#[derive(SimpleObject)]
pub struct FleetOverview {
    total_machines: i64,
    online: i64,
    offline: i64,
    in_maintenance: i64,
    non_compliant: i64,
    /// Mean health score (100 for an empty fleet).
    average_health: f64,
}

impl From<fleet::Overview> for FleetOverview {
    fn from(o: fleet::Overview) -> Self {
        Self {
            total_machines: o.total,
            online: o.online,
            offline: o.offline,
            in_maintenance: o.in_maintenance,
            non_compliant: o.non_compliant,
            average_health: o.average_health,
        }
    }
}

#[derive(Default)]
pub struct MachineQuery;

#[Object]
impl MachineQuery {
    /// The tenant's machines in host-name order, `first` up to 100.
    #[graphql(
        complexity = "super::cost::page(first, fleet::DEFAULT_PAGE, fleet::MAX_PAGE, child_complexity)"
    )]
    async fn machines(
        &self,
        ctx: &Context<'_>,
        filter: Option<MachineFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Connection<String, Machine, MachinePageInfo>> {
        let principal = ctx.caller()?;
        let filter = filter.unwrap_or_default().into_domain()?;
        let page = ctx
            .services()
            .fleet
            .list(principal.client_id.into(), &filter, first, after.as_deref())
            .await?;
        let mut connection = Connection::with_additional_fields(
            after.is_some(),
            page.has_next,
            MachinePageInfo {
                reach: principal.client_id.into(),
                filter,
            },
        );
        connection.edges.extend(
            page.items
                .into_iter()
                .map(|m| Edge::new(Cursor::of(&m).encode(), Machine(m))),
        );
        Ok(connection)
    }

    async fn machine(&self, ctx: &Context<'_>, id: ID) -> Result<Machine> {
        let principal = ctx.caller()?;
        let id = parse_id("id", &id)?;
        let m = ctx.services().fleet.get(principal.client_id, id).await?;
        Ok(Machine(m))
    }

    /// Case-insensitive.
    async fn machine_by_hostname(&self, ctx: &Context<'_>, hostname: String) -> Result<Machine> {
        let principal = ctx.caller()?;
        let m = ctx
            .services()
            .fleet
            .by_hostname(principal.client_id, &hostname)
            .await?;
        Ok(Machine(m))
    }

    /// CPU, RAM and temperature over a range: every sample for H1 and H24,
    /// hourly for D7 and D30.
    async fn metric_history(
        &self,
        ctx: &Context<'_>,
        machine_id: ID,
        range: MetricRange,
    ) -> Result<MetricHistory> {
        let (client_id, machine_id) = owned_machine(ctx, &machine_id).await?;
        let h = ctx
            .services()
            .fleet
            .history(client_id, machine_id, Series::Metrics, range.into())
            .await?;
        Ok(MetricHistory {
            points: h.points.into_iter().map(Into::into).collect(),
            resolution: h.resolution.into(),
        })
    }

    /// Throughput, packet loss and latency over a range.
    async fn network_metric_history(
        &self,
        ctx: &Context<'_>,
        machine_id: ID,
        range: MetricRange,
    ) -> Result<NetworkMetricHistory> {
        let (client_id, machine_id) = owned_machine(ctx, &machine_id).await?;
        let h = ctx
            .services()
            .fleet
            .history(client_id, machine_id, Series::Network, range.into())
            .await?;
        Ok(NetworkMetricHistory {
            points: h.points.into_iter().map(Into::into).collect(),
            resolution: h.resolution.into(),
        })
    }

    /// A machine's risk overrides.
    async fn risk_overrides(&self, ctx: &Context<'_>, machine_id: ID) -> Result<Vec<RiskOverride>> {
        let (_, machine_id) = owned_machine(ctx, &machine_id).await?;
        let list = ctx
            .services()
            .risk_overrides
            .of_machines(&[machine_id])
            .await?
            .remove(&machine_id)
            .unwrap_or_default();
        Ok(list.into_iter().map(Into::into).collect())
    }

    /// Fleet counts and mean health.
    async fn overview(&self, ctx: &Context<'_>) -> Result<FleetOverview> {
        let principal = ctx.caller()?;
        let o = ctx.services().fleet.overview(principal.client_id).await?;
        Ok(o.into())
    }
}

#[derive(Default)]
pub struct MachineMutation;

#[Object]
impl MachineMutation {
    /// Accepts a detected risk of a machine or sets its severity (replaces
    /// the machine's earlier override of the same risk).
    async fn set_risk_override(
        &self,
        ctx: &Context<'_>,
        machine_id: ID,
        input: RiskOverrideInput,
    ) -> Result<RiskOverride> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let (_, machine_id) = owned_machine(ctx, &machine_id).await?;
        let o = ctx
            .services()
            .risk_overrides
            .set(
                principal,
                machine_id,
                OverrideInput {
                    risk_key: input.risk_key,
                    level: input.level.into(),
                    reason: input.reason,
                    expires_at: input.expires_at,
                },
                ctx.meta(),
            )
            .await?;
        Ok(o.into())
    }

    async fn delete_risk_override(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .risk_overrides
            .delete(principal, id, ctx.meta())
            .await?;
        Ok(true)
    }
}

/// The caller's tenant and the machine id, once the machine is known to
/// belong to it (NOT_FOUND otherwise).
async fn owned_machine(ctx: &Context<'_>, machine_id: &ID) -> Result<(Uuid, Uuid)> {
    let principal = ctx.caller()?;
    let machine_id = parse_id("machineId", machine_id)?;
    ctx.services().fleet.get(principal.client_id, machine_id).await?;
    Ok((principal.client_id, machine_id))
}

//! Alert rules, fired alerts, notification channels and the notification
//! history. Everyone signed in reads; admins change.

use super::{
    error::{ApiError, Result},
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{
    activity::Cursor,
    alerting::{
        alerts::{HistoryFilter, MAX_PAGE},
        channels::{ChannelInput, Destination},
        rules::{Rule, RuleInput},
    },
    auth::Role,
    licensing::Feature,
};
use async_graphql::{
    connection::{Connection, Edge, EmptyFields},
    Context, Enum, InputObject, Object, SimpleObject, ID,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};
use entities::{
    alert_rule_history,
    enums::{self, Stored},
    notification_channels, notification_history,
};
use uuid::Uuid;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enums::AlertMetric")]
pub enum AlertMetric {
    Cpu,
    Ram,
    /// The fullest volume's percent used.
    Disk,
    /// The CPU temperature in °C.
    Temperature,
    OfflineMinutes,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enums::AlertOperator")]
pub enum AlertOperator {
    /// `>`
    Gt,
    /// `<`
    Lt,
    /// `>=`
    Gte,
    /// `<=`
    Lte,
    /// `==`
    Eq,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enums::Severity")]
pub enum Severity {
    Low,
    Warning,
    Critical,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enums::ChannelType")]
pub enum ChannelType {
    Email,
    WebhookTeams,
    WebhookSlack,
    WebhookDiscord,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "enums::DeliveryStatus")]
pub enum DeliveryStatus {
    Pending,
    Sending,
    Sent,
    Failed,
}

pub(super) fn cursor(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.timestamp_micros()))
}

pub(super) fn parse_cursor(raw: Option<String>) -> Result<Option<Cursor>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let bad = || ApiError::bad_input("after", "is not a valid cursor");
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?).map_err(|_| bad())?;
    let (micros, id) = text.split_once('|').ok_or_else(bad)?;
    Ok(Some(Cursor {
        timestamp: DateTime::from_timestamp_micros(micros.parse().map_err(|_| bad())?).ok_or_else(bad)?,
        id: Uuid::parse_str(id).map_err(|_| bad())?,
    }))
}

fn check_first(first: i32) -> Result<u64> {
    if !(1..=MAX_PAGE as i32).contains(&first) {
        return Err(ApiError::bad_input(
            "first",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    Ok(first as u64)
}

#[derive(SimpleObject)]
pub struct AlertRule {
    id: ID,
    name: String,
    metric: AlertMetric,
    operator: AlertOperator,
    /// The operator as the spec writes it (`>`, `<=`, ...).
    operator_symbol: String,
    threshold: f64,
    severity: Severity,
    enabled: bool,
    cooldown_minutes: i32,
    /// The one machine watched, if the rule is scoped to a machine.
    machine_id: Option<ID>,
    /// The group watched, if the rule is scoped to a group.
    group_id: Option<ID>,
    channel_ids: Vec<ID>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Rule> for AlertRule {
    fn from(r: Rule) -> Self {
        let m = r.model;
        Self {
            id: id(m.id),
            name: m.name,
            metric: m.metric.into(),
            operator: m.operator.into(),
            operator_symbol: m.operator.stored(),
            threshold: m.threshold,
            severity: m.severity.into(),
            enabled: m.enabled,
            cooldown_minutes: m.cooldown_minutes,
            machine_id: m.machine_id.map(id),
            group_id: m.group_id.map(id),
            channel_ids: r.channel_ids.into_iter().map(id).collect(),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// A rule as created, or as replaced by `updateAlertRule`.
#[derive(InputObject)]
pub struct AlertRuleInput {
    /// 1-100 characters.
    name: String,
    metric: AlertMetric,
    operator: AlertOperator,
    /// Finite, within the metric's range (percent 0-100, temperature
    /// -50-150 °C, offline minutes 1-525600).
    threshold: f64,
    severity: Severity,
    #[graphql(default = true)]
    enabled: bool,
    /// 5 minutes at least; 60 when left out.
    cooldown_minutes: Option<i32>,
    /// One of your machines; leave out with `groupId` for all machines.
    machine_id: Option<ID>,
    /// One of your groups.
    group_id: Option<ID>,
    /// Your channels to notify.
    #[graphql(default)]
    channel_ids: Vec<ID>,
}

impl AlertRuleInput {
    fn into_domain(self) -> Result<RuleInput> {
        Ok(RuleInput {
            name: self.name,
            metric: self.metric.into(),
            operator: self.operator.into(),
            threshold: self.threshold,
            severity: self.severity.into(),
            enabled: self.enabled,
            cooldown_minutes: self.cooldown_minutes,
            machine_id: self
                .machine_id
                .as_ref()
                .map(|m| parse_id("machineId", m))
                .transpose()?,
            group_id: self
                .group_id
                .as_ref()
                .map(|g| parse_id("groupId", g))
                .transpose()?,
            channel_ids: self
                .channel_ids
                .iter()
                .map(|c| parse_id("channelIds", c))
                .collect::<Result<_>>()?,
        })
    }
}

/// One fired alert.
#[derive(SimpleObject)]
pub struct AlertHistoryEntry {
    id: ID,
    /// Null once the rule is deleted.
    rule_id: Option<ID>,
    rule_name: String,
    machine_id: ID,
    machine_hostname: String,
    /// high_cpu, high_ram, disk_critical, high_temperature, machine_offline
    alert_type: String,
    metric: AlertMetric,
    severity: Severity,
    threshold: f64,
    triggered_value: f64,
    triggered_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    resolved_value: Option<f64>,
    acknowledged_at: Option<DateTime<Utc>>,
    acknowledged_by: Option<ID>,
}

impl From<alert_rule_history::Model> for AlertHistoryEntry {
    fn from(a: alert_rule_history::Model) -> Self {
        Self {
            id: id(a.id),
            rule_id: a.rule_id.map(id),
            rule_name: a.rule_name,
            machine_id: id(a.machine_id),
            machine_hostname: a.machine_hostname,
            alert_type: a.alert_type.stored(),
            metric: a.metric.into(),
            severity: a.severity.into(),
            threshold: a.threshold,
            triggered_value: a.triggered_value,
            triggered_at: a.triggered_at,
            resolved_at: a.resolved_at,
            resolved_value: a.resolved_value,
            acknowledged_at: a.acknowledged_at,
            acknowledged_by: a.acknowledged_by.map(id),
        }
    }
}

/// The values rules accept, as the spec spells them.
#[derive(SimpleObject)]
pub struct AlertRuleMetadata {
    metrics: Vec<String>,
    operators: Vec<String>,
    severities: Vec<String>,
}

#[derive(SimpleObject)]
pub struct ChannelConfig {
    /// E-mail channels: the addresses.
    emails: Option<Vec<String>>,
    /// Webhook channels: the URL, masked (it is a secret).
    webhook_url: Option<String>,
}

#[derive(SimpleObject)]
pub struct NotificationChannel {
    id: ID,
    name: String,
    #[graphql(name = "type")]
    channel_type: ChannelType,
    enabled: bool,
    config: ChannelConfig,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<notification_channels::Model> for NotificationChannel {
    type Error = ApiError;

    fn try_from(c: notification_channels::Model) -> Result<Self> {
        let config = match Destination::parse(&c.config)?.masked() {
            Destination::Emails { emails } => ChannelConfig {
                emails: Some(emails),
                webhook_url: None,
            },
            Destination::Webhook { webhook_url } => ChannelConfig {
                emails: None,
                webhook_url: Some(webhook_url),
            },
        };
        Ok(Self {
            id: id(c.id),
            name: c.name,
            channel_type: c.channel_type.into(),
            enabled: c.enabled,
            config,
            created_at: c.created_at,
            updated_at: c.updated_at,
        })
    }
}

#[derive(InputObject)]
pub struct ChannelConfigInput {
    /// For EMAIL: 1-20 addresses.
    emails: Option<Vec<String>>,
    /// For webhooks: an https URL that does not point inside the network.
    /// Left out on update, the stored URL stays.
    webhook_url: Option<String>,
}

#[derive(InputObject)]
pub struct NotificationChannelInput {
    /// 1-100 characters.
    name: String,
    #[graphql(name = "type")]
    channel_type: ChannelType,
    config: ChannelConfigInput,
    #[graphql(default = true)]
    enabled: bool,
}

impl From<NotificationChannelInput> for ChannelInput {
    fn from(i: NotificationChannelInput) -> Self {
        Self {
            name: i.name,
            channel_type: i.channel_type.into(),
            emails: i.config.emails,
            webhook_url: i.config.webhook_url,
            enabled: i.enabled,
        }
    }
}

/// One notification to one channel, with its delivery state.
#[derive(SimpleObject)]
pub struct NotificationRecord {
    id: ID,
    /// Null once the channel is deleted.
    channel_id: Option<ID>,
    channel_name: String,
    channel_type: ChannelType,
    /// machine_offline, machine_online, high_cpu, ... (`notificationTypes`)
    alert_type: String,
    alert_id: Option<ID>,
    machine_id: Option<ID>,
    subject: String,
    status: DeliveryStatus,
    attempts: i32,
    last_error: Option<String>,
    created_at: DateTime<Utc>,
    sent_at: Option<DateTime<Utc>>,
}

impl From<notification_history::Model> for NotificationRecord {
    fn from(n: notification_history::Model) -> Self {
        Self {
            id: id(n.id),
            channel_id: n.channel_id.map(id),
            channel_name: n.channel_name,
            channel_type: n.channel_type.into(),
            alert_type: n.alert_type.stored(),
            alert_id: n.alert_id.map(id),
            machine_id: n.machine_id.map(id),
            subject: n.subject,
            status: n.status.into(),
            attempts: n.attempts,
            last_error: n.last_error,
            created_at: n.created_at,
            sent_at: n.sent_at,
        }
    }
}

/// A key the API uses, with its French and English labels.
#[derive(SimpleObject)]
pub struct Labelled {
    key: String,
    label_fr: String,
    label_en: String,
}

fn labelled(key: impl Into<String>, fr: &str, en: &str) -> Labelled {
    Labelled {
        key: key.into(),
        label_fr: fr.into(),
        label_en: en.into(),
    }
}

#[derive(Default)]
pub struct AlertingQuery;

#[Object]
impl AlertingQuery {
    async fn alert_rules(&self, ctx: &Context<'_>) -> Result<Vec<AlertRule>> {
        let principal = ctx.caller()?;
        let rules = ctx.services().alerting.rules(principal.client_id).await?;
        Ok(rules.into_iter().map(Into::into).collect())
    }

    async fn alert_rule(&self, ctx: &Context<'_>, id: ID) -> Result<AlertRule> {
        let principal = ctx.caller()?;
        let id = parse_id("id", &id)?;
        Ok(ctx
            .services()
            .alerting
            .rule(principal.client_id, id)
            .await?
            .into())
    }

    async fn alert_rule_metadata(&self) -> AlertRuleMetadata {
        AlertRuleMetadata {
            metrics: enums::AlertMetric::all_stored(),
            operators: enums::AlertOperator::all_stored(),
            severities: enums::Severity::all_stored(),
        }
    }

    /// Fired alerts, newest first, `first` up to 200 per page.
    #[graphql(complexity = "super::cost::page(Some(first), 50, MAX_PAGE, child_complexity)")]
    async fn alert_history(
        &self,
        ctx: &Context<'_>,
        rule_id: Option<ID>,
        machine_id: Option<ID>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, AlertHistoryEntry, EmptyFields, EmptyFields>> {
        let principal = ctx.caller()?;
        let first = check_first(first)?;
        let filter = HistoryFilter {
            rule_id: rule_id.as_ref().map(|r| parse_id("ruleId", r)).transpose()?,
            machine_id: machine_id
                .as_ref()
                .map(|m| parse_id("machineId", m))
                .transpose()?,
        };
        let after = parse_cursor(after)?;
        let (rows, more) = ctx
            .services()
            .alerting
            .history(principal.client_id, &filter, first, after)
            .await?;
        let mut page = Connection::new(after.is_some(), more);
        page.edges.extend(
            rows.into_iter()
                .map(|a| Edge::new(cursor(a.triggered_at, a.id), a.into())),
        );
        Ok(page)
    }

    /// The tenant's unresolved alerts, newest first.
    async fn active_alerts(&self, ctx: &Context<'_>) -> Result<Vec<AlertHistoryEntry>> {
        let principal = ctx.caller()?;
        let rows = ctx.services().alerting.active_alerts(principal.client_id).await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn notification_channels(&self, ctx: &Context<'_>) -> Result<Vec<NotificationChannel>> {
        let principal = ctx.caller()?;
        let list = ctx.services().alerting.channels(principal.client_id).await?;
        list.into_iter().map(TryInto::try_into).collect()
    }

    async fn notification_channel(&self, ctx: &Context<'_>, id: ID) -> Result<NotificationChannel> {
        let principal = ctx.caller()?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .alerting
            .channel(principal.client_id, id)
            .await?
            .try_into()
    }

    /// Notifications sent or queued, newest first, `first` up to 200.
    #[graphql(complexity = "super::cost::page(Some(first), 50, MAX_PAGE, child_complexity)")]
    async fn notification_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, NotificationRecord, EmptyFields, EmptyFields>> {
        let principal = ctx.caller()?;
        let first = check_first(first)?;
        let after = parse_cursor(after)?;
        let (rows, more) = ctx
            .services()
            .alerting
            .notifications(principal.client_id, first, after)
            .await?;
        let mut page = Connection::new(after.is_some(), more);
        page.edges.extend(
            rows.into_iter()
                .map(|n| Edge::new(cursor(n.created_at, n.id), n.into())),
        );
        Ok(page)
    }

    /// The alert types notifications carry.
    async fn notification_types(&self) -> Vec<Labelled> {
        use enums::AlertType as T;
        [
            (T::MachineOffline, "Machine hors ligne", "Machine offline"),
            (T::MachineOnline, "Machine en ligne", "Machine online"),
            (T::HighCpu, "CPU élevé", "High CPU"),
            (T::HighRam, "RAM élevée", "High RAM"),
            (T::DiskCritical, "Disque critique", "Disk critical"),
            (T::HighTemperature, "Température élevée", "High temperature"),
            (T::SmartWarning, "Alerte SMART", "SMART warning"),
            (T::BruteForce, "Tentative de brute force", "Brute force attempt"),
            (T::AlertResolved, "Alerte résolue", "Alert resolved"),
            (T::Test, "Test", "Test"),
        ]
        .into_iter()
        .map(|(t, fr, en)| labelled(t.stored(), fr, en))
        .collect()
    }

    async fn notification_channel_types(&self) -> Vec<Labelled> {
        use enums::ChannelType as C;
        [
            (C::Email, "E-mail (HTML)", "E-mail (HTML)"),
            (
                C::WebhookTeams,
                "Microsoft Teams (Adaptive Card 1.5)",
                "Microsoft Teams (Adaptive Card 1.5)",
            ),
            (C::WebhookSlack, "Slack (Block Kit)", "Slack (Block Kit)"),
            (C::WebhookDiscord, "Discord (embeds)", "Discord (embeds)"),
        ]
        .into_iter()
        .map(|(c, fr, en)| labelled(c.stored(), fr, en))
        .collect()
    }
}

#[derive(Default)]
pub struct AlertingMutation;

#[Object]
impl AlertingMutation {
    async fn create_alert_rule(&self, ctx: &Context<'_>, input: AlertRuleInput) -> Result<AlertRule> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        ctx.services()
            .licensing
            .require(principal, Feature::IntelligentAlerts)
            .await?;
        let input = input.into_domain()?;
        Ok(ctx
            .services()
            .alerting
            .create_rule(principal, input, ctx.meta())
            .await?
            .into())
    }

    /// Replaces every setting of the rule.
    async fn update_alert_rule(&self, ctx: &Context<'_>, id: ID, input: AlertRuleInput) -> Result<AlertRule> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        ctx.services()
            .licensing
            .require(principal, Feature::IntelligentAlerts)
            .await?;
        let id = parse_id("id", &id)?;
        let input = input.into_domain()?;
        Ok(ctx
            .services()
            .alerting
            .update_rule(principal, id, input, ctx.meta())
            .await?
            .into())
    }

    /// Its fired alerts stay in the history, under its name.
    async fn delete_alert_rule(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .alerting
            .delete_rule(principal, id, ctx.meta())
            .await?;
        Ok(true)
    }

    /// Records that the caller took the alert (the first acknowledgement
    /// stays).
    async fn acknowledge_alert(&self, ctx: &Context<'_>, id: ID) -> Result<AlertHistoryEntry> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        Ok(ctx
            .services()
            .alerting
            .acknowledge(principal, id, ctx.meta())
            .await?
            .into())
    }

    async fn create_notification_channel(
        &self,
        ctx: &Context<'_>,
        input: NotificationChannelInput,
    ) -> Result<NotificationChannel> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        ctx.services()
            .alerting
            .create_channel(principal, input.into(), ctx.meta())
            .await?
            .try_into()
    }

    /// Replaces the channel's settings; a webhook URL left out is kept.
    async fn update_notification_channel(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: NotificationChannelInput,
    ) -> Result<NotificationChannel> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .alerting
            .update_channel(principal, id, input.into(), ctx.meta())
            .await?
            .try_into()
    }

    async fn delete_notification_channel(&self, ctx: &Context<'_>, id: ID) -> Result<bool> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        ctx.services()
            .alerting
            .delete_channel(principal, id, ctx.meta())
            .await?;
        Ok(true)
    }

    /// Queues a test message through the channel; returns the notification
    /// to follow in `notificationHistory`.
    async fn test_notification_channel(&self, ctx: &Context<'_>, id: ID) -> Result<NotificationRecord> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let id = parse_id("id", &id)?;
        let alerting = &ctx.services().alerting;
        let notification = alerting.test_channel(principal, id, ctx.meta()).await?;
        Ok(alerting
            .notification(principal.client_id, notification)
            .await?
            .into())
    }
}

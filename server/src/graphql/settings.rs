//! The tenant's preferences: read by any signed-in member, changed by its
//! admins.

use super::{
    error::Result,
    tenancy::Language,
    types::{id, parse_id},
    ContextExt,
};
use crate::domain::{
    auth::Role,
    tenancy::settings::{Settings as DomainSettings, SettingsChange},
};
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};

#[derive(SimpleObject)]
pub struct Settings {
    /// The language of notifications and e-mails.
    language: Language,
    /// IANA time zone (Europe/Paris by default).
    timezone: String,
    daily_summary_enabled: bool,
    /// 0-23, in `timezone`.
    daily_summary_hour: i32,
    daily_summary_recipients: Vec<String>,
    /// Channels a new alert rule starts with.
    default_channel_ids: Vec<ID>,
    /// Cooldown a new alert rule starts with (at least 5).
    default_cooldown_minutes: i32,
}

impl From<DomainSettings> for Settings {
    fn from(s: DomainSettings) -> Self {
        Self {
            language: s.language.into(),
            timezone: s.timezone,
            daily_summary_enabled: s.daily_summary_enabled,
            daily_summary_hour: s.daily_summary_hour,
            daily_summary_recipients: s.daily_summary_recipients,
            default_channel_ids: s.default_channel_ids.into_iter().map(id).collect(),
            default_cooldown_minutes: s.default_cooldown_minutes,
        }
    }
}

/// Fields to change; absent ones stay.
#[derive(InputObject, Default)]
pub struct SettingsInput {
    language: Option<Language>,
    timezone: Option<String>,
    daily_summary_enabled: Option<bool>,
    daily_summary_hour: Option<i32>,
    /// At most 20 addresses.
    daily_summary_recipients: Option<Vec<String>>,
    default_channel_ids: Option<Vec<ID>>,
    default_cooldown_minutes: Option<i32>,
}

#[derive(Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    async fn settings(&self, ctx: &Context<'_>) -> Result<Settings> {
        let principal = ctx.caller()?;
        Ok(ctx.services().settings.get(principal.client_id).await?.into())
    }
}

#[derive(Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Checks every given field first: an invalid one changes nothing.
    async fn update_settings(&self, ctx: &Context<'_>, input: SettingsInput) -> Result<Settings> {
        let principal = ctx.caller_with_role(Role::Admin)?;
        let default_channel_ids = input
            .default_channel_ids
            .map(|ids| {
                ids.iter()
                    .map(|i| parse_id("defaultChannelIds", i))
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .transpose()?;
        let change = SettingsChange {
            language: input.language.map(Into::into),
            timezone: input.timezone,
            daily_summary_enabled: input.daily_summary_enabled,
            daily_summary_hour: input.daily_summary_hour,
            daily_summary_recipients: input.daily_summary_recipients,
            default_channel_ids,
            default_cooldown_minutes: input.default_cooldown_minutes,
        };
        let s = ctx
            .services()
            .settings
            .update(principal, change, ctx.meta())
            .await?;
        Ok(s.into())
    }
}

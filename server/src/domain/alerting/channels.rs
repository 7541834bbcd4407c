//! Notification channels: where a tenant's notifications go. A channel is
//! a destination only (an e-mail list or a chat webhook); rules hold the
//! logic. A webhook URL is a secret: stored as given, masked in reads.

use super::Alerting;
use crate::domain::{
    activity::{Category, Entry, Level, RequestMeta},
    auth::Principal,
    notify::webhook::UrlRefused,
    DomainError,
};
use chrono::Utc;
use entities::{enums::ChannelType, notification_channels};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

pub const MAX_NAME: usize = 100;
pub const MAX_EMAILS: usize = 20;
/// Channels one tenant may have.
pub const MAX_CHANNELS: u64 = 50;

/// A channel's destination, as stored in `notification_channels.config`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Destination {
    Emails { emails: Vec<String> },
    Webhook { webhook_url: String },
}

impl Destination {
    pub fn parse(stored: &str) -> Result<Self, DomainError> {
        serde_json::from_str(stored)
            .map_err(|e| DomainError::internal("reading a channel's configuration", e))
    }

    /// What reads show: addresses in full, a webhook URL as its scheme,
    /// host and last four characters.
    pub fn masked(&self) -> Self {
        match self {
            Self::Emails { .. } => self.clone(),
            Self::Webhook { webhook_url } => Self::Webhook {
                webhook_url: mask(webhook_url),
            },
        }
    }
}

/// `https://hooks.slack.com/…f00d`: enough to tell channels apart, not
/// enough to post to one.
pub fn mask(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    let tail: String = {
        let chars: Vec<char> = url.chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    };
    format!("{scheme}://{host}/…{tail}")
}

/// What an admin gives for a channel.
#[derive(Clone, Debug)]
pub struct ChannelInput {
    pub name: String,
    pub channel_type: ChannelType,
    pub emails: Option<Vec<String>>,
    pub webhook_url: Option<String>,
    pub enabled: bool,
}

fn check_name(name: &str) -> Result<String, DomainError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "name",
            format!("must be 1-{MAX_NAME} printable characters"),
        ));
    }
    Ok(n.to_owned())
}

/// A plausible single address: one `@`, something either side, a dot in
/// the domain, no spaces, commas or angle brackets (which would let one
/// entry smuggle in more recipients).
fn valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    e.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | ';' | '<' | '>' | '"'))
}

fn check_emails(list: Option<&[String]>) -> Result<Vec<String>, DomainError> {
    let list = list.unwrap_or_default();
    if list.is_empty() || list.len() > MAX_EMAILS {
        return Err(DomainError::invalid(
            "config.emails",
            format!("must list 1-{MAX_EMAILS} addresses"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for e in list {
        let e = e.trim().to_ascii_lowercase();
        if !valid_email(&e) {
            return Err(DomainError::invalid(
                "config.emails",
                format!("{e:?} is not an e-mail address"),
            ));
        }
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

impl Alerting {
    /// Checks an input into the stored destination.
    async fn destination(&self, input: &ChannelInput) -> Result<Destination, DomainError> {
        match input.channel_type {
            ChannelType::Email => Ok(Destination::Emails {
                emails: check_emails(input.emails.as_deref())?,
            }),
            ChannelType::WebhookTeams | ChannelType::WebhookSlack | ChannelType::WebhookDiscord => {
                let url = input.webhook_url.as_deref().map(str::trim).unwrap_or_default();
                if url.is_empty() || url.len() > 2048 {
                    return Err(DomainError::invalid(
                        "config.webhookUrl",
                        "is required (at most 2048 characters)",
                    ));
                }
                self.webhooks
                    .check(url)
                    .await
                    .map_err(|UrlRefused(why)| DomainError::invalid("config.webhookUrl", why))?;
                Ok(Destination::Webhook {
                    webhook_url: url.to_owned(),
                })
            }
        }
    }

    pub async fn channels(&self, client_id: Uuid) -> Result<Vec<notification_channels::Model>, DomainError> {
        Ok(notification_channels::Entity::find()
            .filter(notification_channels::Column::ClientId.eq(client_id))
            .order_by_asc(notification_channels::Column::Name)
            .all(&self.db.conn)
            .await?)
    }

    pub async fn channel(
        &self,
        client_id: Uuid,
        id: Uuid,
    ) -> Result<notification_channels::Model, DomainError> {
        notification_channels::Entity::find_by_id(id)
            .filter(notification_channels::Column::ClientId.eq(client_id))
            .one(&self.db.conn)
            .await?
            .ok_or(DomainError::NotFound("notification channel"))
    }

    pub async fn create_channel(
        &self,
        actor: &Principal,
        input: ChannelInput,
        meta: &RequestMeta,
    ) -> Result<notification_channels::Model, DomainError> {
        let name = check_name(&input.name)?;
        let destination = self.destination(&input).await?;
        let count = sea_orm::PaginatorTrait::count(
            notification_channels::Entity::find()
                .filter(notification_channels::Column::ClientId.eq(actor.client_id)),
            &self.db.conn,
        )
        .await?;
        if count >= MAX_CHANNELS {
            return Err(DomainError::Conflict(format!(
                "this tenant already has {MAX_CHANNELS} channels"
            )));
        }
        let now = Utc::now();
        let model = notification_channels::Entity::insert(notification_channels::ActiveModel {
            id: Set(Uuid::now_v7()),
            client_id: Set(actor.client_id),
            name: Set(name),
            channel_type: Set(input.channel_type),
            config: Set(serde_json::to_string(&destination)
                .map_err(|e| DomainError::internal("channel config", e))?),
            enabled: Set(input.enabled),
            created_at: Set(now),
            updated_at: Set(now),
        })
        .exec_with_returning(&self.db.conn)
        .await?;
        self.log_channel(actor, "Canal de notification créé", &model, meta)
            .await;
        Ok(model)
    }

    /// Replaces the channel's settings. A webhook URL left out keeps the
    /// stored one (reads only ever show it masked).
    pub async fn update_channel(
        &self,
        actor: &Principal,
        id: Uuid,
        mut input: ChannelInput,
        meta: &RequestMeta,
    ) -> Result<notification_channels::Model, DomainError> {
        let current = self.channel(actor.client_id, id).await?;
        let name = check_name(&input.name)?;
        if input.webhook_url.is_none() && input.channel_type == current.channel_type {
            if let Destination::Webhook { webhook_url } = Destination::parse(&current.config)? {
                input.webhook_url = Some(webhook_url);
            }
        }
        let destination = self.destination(&input).await?;
        let mut active: notification_channels::ActiveModel = current.into();
        active.name = Set(name);
        active.channel_type = Set(input.channel_type);
        active.config =
            Set(serde_json::to_string(&destination)
                .map_err(|e| DomainError::internal("channel config", e))?);
        active.enabled = Set(input.enabled);
        active.updated_at = Set(Utc::now());
        let model = notification_channels::Entity::update(active)
            .exec(&self.db.conn)
            .await?;
        self.log_channel(actor, "Canal de notification modifié", &model, meta)
            .await;
        Ok(model)
    }

    /// Rules lose the channel; notifications already sent keep its name.
    pub async fn delete_channel(
        &self,
        actor: &Principal,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        let current = self.channel(actor.client_id, id).await?;
        notification_channels::Entity::delete_many()
            .filter(notification_channels::Column::Id.eq(id))
            .filter(notification_channels::Column::ClientId.eq(actor.client_id))
            .exec(&self.db.conn)
            .await?;
        self.rules_changed(actor.client_id).await;
        self.log_channel(actor, "Canal de notification supprimé", &current, meta)
            .await;
        Ok(())
    }

    async fn log_channel(
        &self,
        actor: &Principal,
        message: &str,
        channel: &notification_channels::Model,
        meta: &RequestMeta,
    ) {
        let entry = Entry::new(Level::Info, Category::System, message)
            .client(actor.client_id)
            .by(actor.user_id)
            .metadata(
                json!({ "channel_id": channel.id, "name": channel.name, "type": channel.channel_type }),
            );
        self.activity.record(entry, meta).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_the_host_and_four_characters() {
        assert_eq!(
            mask("https://hooks.slack.com/services/T000/B000/XXXXabcd"),
            "https://hooks.slack.com/…abcd"
        );
        assert_eq!(
            mask("https://user:pw@example.com/x1234"),
            "https://example.com/…1234"
        );
    }

    #[test]
    fn e_mail_lists_refuse_smuggled_recipients() {
        assert!(check_emails(Some(&["ops@example.com".into()])).is_ok());
        assert!(check_emails(Some(&["a@example.com, b@evil.com".into()])).is_err());
        assert!(check_emails(Some(&["not-an-address".into()])).is_err());
        assert!(check_emails(Some(&[])).is_err());
        assert_eq!(
            check_emails(Some(&["A@Example.com".into(), "a@example.com".into()])).unwrap(),
            vec!["a@example.com".to_string()]
        );
    }

    #[test]
    fn destinations_round_trip_as_the_spec_stores_them() {
        let d = Destination::Webhook {
            webhook_url: "https://x.example/y".into(),
        };
        let s = serde_json::to_string(&d).unwrap();
        assert_eq!(s, r#"{"webhook_url":"https://x.example/y"}"#);
        assert_eq!(Destination::parse(&s).unwrap(), d);
        let e = Destination::parse(r#"{"emails":["a@b.c"]}"#).unwrap();
        assert_eq!(
            e,
            Destination::Emails {
                emails: vec!["a@b.c".into()]
            }
        );
    }
}

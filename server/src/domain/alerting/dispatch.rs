//! Turning a [`Notice`] into queued messages: one `notification_history`
//! row and one outbox message per enabled channel, written in the caller's
//! transaction. The outbox worker delivers them; webhook delivery is here.

use super::{channels::Destination, Alerting};
use crate::domain::{
    activity::{Category, Entry, Level, RequestMeta},
    auth::Principal,
    notify::{
        email,
        outbox::{Outgoing, Retry, Transport},
        MachineFacts, Notice,
    },
    DomainError,
};
use chrono::{DateTime, Datelike, Utc};
use entities::{
    clients, email_outbox,
    enums::{AlertType, ChannelType, DeliveryStatus, Stored},
    machines, notification_channels, notification_history, reminders_sent,
};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

/// The outbox kind of every alert notification.
pub const KIND: &str = "alert";

pub fn machine_facts(m: &machines::Model) -> MachineFacts {
    MachineFacts {
        id: m.id,
        hostname: m.hostname.clone(),
        os: if m.os_version.is_empty() {
            m.os.clone()
        } else {
            m.os_version.clone()
        },
        ip: m.ip.clone(),
        agent_version: m.agent_version.clone(),
        update_channel: m.update_channel.stored(),
        last_seen: m.last_seen,
    }
}

/// What one channel receives for a notice.
struct Rendered {
    subject: String,
    transport: Transport,
}

fn render(
    channel: &notification_channels::Model,
    notice: &Notice,
    now: DateTime<Utc>,
    base_url: &str,
) -> Result<Rendered, DomainError> {
    let subject = crate::domain::notify::render::subject(notice);
    let transport = match (Destination::parse(&channel.config)?, channel.channel_type) {
        (Destination::Emails { emails }, ChannelType::Email) => {
            let mail = email::machine_alert(notice, &email::Common::new(base_url, now.year()))?;
            Transport::Email {
                recipient: emails.join(","),
                subject: mail.subject,
                body_text: mail.text,
                body_html: Some(mail.html),
            }
        }
        (Destination::Webhook { .. }, kind) => {
            let body = match kind {
                ChannelType::WebhookTeams => crate::domain::notify::render::teams(notice, now),
                ChannelType::WebhookSlack => crate::domain::notify::render::slack(notice, now),
                ChannelType::WebhookDiscord => crate::domain::notify::render::discord(notice, now),
                ChannelType::Email => {
                    return Err(DomainError::invariant("an e-mail channel holds a webhook"))
                }
            };
            Transport::Webhook {
                channel_id: channel.id,
                subject: subject.clone(),
                payload: body.to_string(),
            }
        }
        (Destination::Emails { .. }, _) => {
            return Err(DomainError::invariant("a webhook channel holds e-mails"))
        }
    };
    Ok(Rendered { subject, transport })
}

impl Alerting {
    pub(super) async fn tenant(
        &self,
        conn: &impl ConnectionTrait,
        client_id: Uuid,
    ) -> Result<clients::Model, DomainError> {
        clients::Entity::find_by_id(client_id)
            .one(conn)
            .await?
            .ok_or(DomainError::NotFound("tenant"))
    }

    /// Records `key` in `reminders_sent` inside `txn`; false when it was
    /// already there. What is sent once (a reminder, a SMART warning, a
    /// brute-force notice) is queued in the same transaction, so a restart
    /// or a second instance never sends it again.
    pub(super) async fn record_once(
        &self,
        txn: &impl ConnectionTrait,
        key: String,
        client_id: Option<Uuid>,
    ) -> Result<bool, DomainError> {
        let inserted = reminders_sent::Entity::insert(reminders_sent::ActiveModel {
            key: Set(key.chars().take(200).collect()),
            client_id: Set(client_id),
            sent_at: Set(self.clock.now()),
        })
        .on_conflict(
            OnConflict::column(reminders_sent::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        Ok(inserted > 0)
    }

    /// The machine's page on the dashboard, or the dashboard.
    pub(super) fn link(&self, machine_id: Option<Uuid>) -> String {
        match machine_id {
            Some(id) => format!("{}/machines/{id}", self.dashboard_url),
            None => self.dashboard_url.clone(),
        }
    }

    /// The tenant's enabled channels; with `only`, those of them listed.
    pub(super) async fn enabled_channels(
        &self,
        conn: &impl ConnectionTrait,
        client_id: Uuid,
        only: Option<&[Uuid]>,
    ) -> Result<Vec<notification_channels::Model>, DomainError> {
        let mut q = notification_channels::Entity::find()
            .filter(notification_channels::Column::ClientId.eq(client_id))
            .filter(notification_channels::Column::Enabled.eq(true));
        if let Some(ids) = only {
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            q = q.filter(notification_channels::Column::Id.is_in(ids.to_vec()));
        }
        Ok(q.all(conn).await?)
    }

    /// Queues `notice` to each channel inside `txn`; returns the
    /// notifications' ids. Call
    /// `self.outbox.wake()` after the commit.
    pub(super) async fn queue(
        &self,
        txn: &impl ConnectionTrait,
        client: &clients::Model,
        notice: &Notice,
        channels: &[notification_channels::Model],
        alert_id: Option<Uuid>,
    ) -> Result<Vec<Uuid>, DomainError> {
        let now = self.clock.now();
        let mut ids = Vec::with_capacity(channels.len());
        for channel in channels {
            let rendered = render(channel, notice, now, &self.dashboard_url)?;
            let notification_id = Uuid::now_v7();
            notification_history::Entity::insert(notification_history::ActiveModel {
                id: Set(notification_id),
                client_id: Set(client.id),
                channel_id: Set(Some(channel.id)),
                channel_type: Set(channel.channel_type),
                channel_name: Set(channel.name.clone()),
                alert_type: Set(notice.alert_type),
                alert_id: Set(alert_id),
                machine_id: Set(notice.machine.as_ref().map(|m| m.id)),
                subject: Set(rendered.subject.chars().take(255).collect()),
                status: Set(DeliveryStatus::Pending),
                attempts: Set(0),
                last_error: Set(None),
                created_at: Set(now),
                sent_at: Set(None),
            })
            .exec(txn)
            .await?;
            self.outbox
                .enqueue_in(
                    txn,
                    Outgoing {
                        kind: KIND,
                        client_id: Some(client.id),
                        language: client.language,
                        notification_id: Some(notification_id),
                        transport: rendered.transport,
                    },
                )
                .await?;
            ids.push(notification_id);
        }
        Ok(ids)
    }

    /// Queues a notice to the tenant's enabled channels (all of them, or
    /// those listed) in a transaction of its own.
    pub(super) async fn broadcast(
        &self,
        client: &clients::Model,
        notice: &Notice,
        only: Option<&[Uuid]>,
    ) -> Result<usize, DomainError> {
        let txn = self.db.begin_write().await?;
        let channels = self.enabled_channels(&txn, client.id, only).await?;
        let n = self.queue(&txn, client, notice, &channels, None).await?.len();
        txn.commit().await?;
        if n > 0 {
            self.outbox.wake();
        }
        Ok(n)
    }

    /// Sends a test notification through one channel, enabled or not;
    /// returns the `notification_history` id to follow it by.
    pub async fn test_channel(
        &self,
        actor: &Principal,
        id: Uuid,
        meta: &RequestMeta,
    ) -> Result<Uuid, DomainError> {
        let channel = self.channel(actor.client_id, id).await?;
        let txn = self.db.begin_write().await?;
        let client = self.tenant(&txn, actor.client_id).await?;
        let notice = Notice {
            alert_type: AlertType::Test,
            language: client.language,
            tenant: client.name.clone(),
            machine: None,
            rule: None,
            resolves: None,
            detail: Some(channel.name.clone()),
            at: self.clock.now(),
            link: self.link(None),
        };
        let ids = self
            .queue(&txn, &client, &notice, std::slice::from_ref(&channel), None)
            .await?;
        txn.commit().await?;
        self.outbox.wake();
        let entry = Entry::new(Level::Info, Category::System, "Canal de notification testé")
            .client(actor.client_id)
            .by(actor.user_id)
            .metadata(json!({ "channel_id": channel.id, "name": channel.name }));
        self.activity.record(entry, meta).await;
        ids.first()
            .copied()
            .ok_or(DomainError::invariant("test notification not queued"))
    }

    /// Posts one queued webhook message to its channel's current URL.
    pub async fn deliver_webhook(&self, row: &email_outbox::Model) -> Result<(), (String, Retry)> {
        let never = |m: &str| (m.to_owned(), Retry::Never);
        let channel_id = row.channel_id.ok_or_else(|| never("no channel"))?;
        let channel = notification_channels::Entity::find_by_id(channel_id)
            .one(&self.db.conn)
            .await
            .map_err(|e| (format!("reading the channel: {e}"), Retry::After(None)))?
            .ok_or_else(|| never("the channel was deleted"))?;
        let url = match Destination::parse(&channel.config) {
            Ok(Destination::Webhook { webhook_url }) => webhook_url,
            _ => return Err(never("the channel is no longer a webhook")),
        };
        let body: serde_json::Value = serde_json::from_str(row.payload.as_deref().unwrap_or("null"))
            .map_err(|e| never(&format!("stored payload unreadable: {e}")))?;
        self.webhooks.post(&url, &body).await.map_err(|e| {
            let retry = if e.retryable {
                Retry::After(e.retry_after)
            } else {
                Retry::Never
            };
            (e.message, retry)
        })
    }
}

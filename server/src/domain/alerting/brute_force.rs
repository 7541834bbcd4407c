//! `brute_force` notifications: an account whose sign-ins keep hitting the
//! limit is reported to its tenant's channels, once per account and hour.

use super::Alerting;
use crate::domain::{
    activity::{Category, Entry, Level, RequestMeta},
    auth::LoginAlarm,
    notify::Notice,
    DomainError,
};
use entities::{enums::AlertType, users};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

impl Alerting {
    /// Notifies the tenant of the account `email` that its sign-ins are
    /// being refused by the limit, unless done already this hour (UTC) by
    /// any instance. Returns how many channels were notified, or `None`
    /// when nothing was sent (no such account, or already told).
    pub async fn brute_force(&self, email: &str) -> Result<Option<usize>, DomainError> {
        let Some(user) = users::Entity::find()
            .filter(users::Column::Email.eq(email))
            .one(&self.db.conn)
            .await?
        else {
            return Ok(None);
        };
        let now = self.clock.now();
        let txn = self.db.begin_write().await?;
        let key = format!("brute_force:{}:{}", user.id, now.format("%Y-%m-%dT%H"));
        if !self.record_once(&txn, key, Some(user.client_id)).await? {
            return Ok(None);
        }
        let client = self.tenant(&txn, user.client_id).await?;
        let notice = Notice {
            alert_type: AlertType::BruteForce,
            language: client.language,
            tenant: client.name.clone(),
            machine: None,
            rule: None,
            resolves: None,
            detail: Some(user.email.clone()),
            at: now,
            link: self.link(None),
        };
        let channels = self.enabled_channels(&txn, client.id, None).await?;
        let queued = self.queue(&txn, &client, &notice, &channels, None).await?.len();
        txn.commit().await?;
        if queued > 0 {
            self.outbox.wake();
        }
        let entry = Entry::new(Level::Warn, Category::Alert, "Tentative de brute force détectée")
            .client(client.id)
            .user(user.id)
            .metadata(json!({ "email": user.email, "channels": queued }));
        self.activity.record(entry, &RequestMeta::default()).await;
        Ok(Some(queued))
    }
}

#[async_trait::async_trait]
impl LoginAlarm for Alerting {
    async fn repeated_lockouts(&self, email: &str) {
        if let Err(e) = self.brute_force(email).await {
            e.log("brute-force notification");
        }
    }
}

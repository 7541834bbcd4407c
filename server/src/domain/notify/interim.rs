//! Placeholder renderers until the channel formats land (replaced by
//! `render` and `email`; this file is deleted then).

use super::Notice;
use chrono::{DateTime, Utc};
use entities::enums::Stored;
use serde_json::{json, Value};

pub fn subject(n: &Notice) -> String {
    let host = n.machine.as_ref().map(|m| m.hostname.as_str()).unwrap_or("-");
    format!("[Optralis] {} - {host}", n.alert_type.stored())
}

pub fn teams(n: &Notice, _now: DateTime<Utc>) -> Value {
    json!({ "text": subject(n) })
}

pub fn slack(n: &Notice, _now: DateTime<Utc>) -> Value {
    json!({ "text": subject(n) })
}

pub fn discord(n: &Notice, _now: DateTime<Utc>) -> Value {
    json!({ "content": subject(n) })
}

pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn machine_alert(n: &Notice) -> Mail {
    Mail {
        subject: subject(n),
        text: subject(n),
        html: format!("<p>{}</p>", subject(n)),
    }
}

/// Placeholder sender until `infra::webhook` lands.
pub struct PlainWebhooks(pub reqwest::Client);

#[async_trait::async_trait]
impl super::webhook::WebhookSender for PlainWebhooks {
    async fn check(&self, url: &str) -> Result<(), super::webhook::UrlRefused> {
        url::Url::parse(url)
            .map(|_| ())
            .map_err(|e| super::webhook::UrlRefused(e.to_string()))
    }

    async fn post(&self, url: &str, body: &Value) -> Result<(), super::webhook::DeliveryError> {
        let r = self
            .0
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| super::webhook::DeliveryError {
                message: e.to_string(),
                retryable: true,
                retry_after: None,
            })?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(super::webhook::DeliveryError {
                message: r.status().to_string(),
                retryable: r.status().is_server_error() || r.status().as_u16() == 429,
                retry_after: r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok()?.parse().ok())
                    .map(std::time::Duration::from_secs),
            })
        }
    }
}

//! Delivers queued emails, with retries and backoff, logging each outcome
//! in the activity log.

use crate::{
    domain::{
        activity::{Category, Entry, Level, RequestMeta},
        notify::outbox::Retry,
        DomainError,
    },
    infra::{
        mailer::{recipients, Mailer, OutgoingEmail},
        metrics::{self, Job},
    },
    services::Services,
};
use serde_json::json;
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

const POLL: Duration = Duration::from_secs(5);
const BATCH: u64 = 20;

fn sent_message(kind: &str) -> &'static str {
    match kind {
        "welcome" => "Email de bienvenue envoyé",
        "password_reset" => "Email de réinitialisation envoyé",
        "new_password" => "Email de nouveau mot de passe envoyé",
        "alert" => "Email d'alerte envoyé",
        "password_expiration" => "Rappel d'expiration du mot de passe envoyé",
        "licence_expiration" => "Rappel d'expiration de licence envoyé",
        "certificate_expiration" => "Récapitulatif des certificats à renouveler envoyé",
        _ => "Email envoyé",
    }
}

pub async fn run(services: Services, mailer: Arc<dyn Mailer>, stop: CancellationToken) {
    let wake = services.outbox.wake_signal();
    loop {
        match metrics::job(Job::Outbox, deliver(&services, mailer.as_ref(), &stop)).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => e.log("outbox claim"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Delivers one batch of due emails; returns how many were attempted.
pub async fn tick(services: &Services, mailer: &dyn Mailer) -> Result<usize, DomainError> {
    metrics::job(Job::Outbox, deliver(services, mailer, &CancellationToken::new())).await
}

/// Claimed emails left when `stop` is cancelled go back to the queue when
/// their lease runs out.
async fn deliver(
    services: &Services,
    mailer: &dyn Mailer,
    stop: &CancellationToken,
) -> Result<usize, DomainError> {
    let batch = services.outbox.claim(BATCH).await?;
    let mut attempted = 0;
    for message in batch {
        if stop.is_cancelled() {
            break;
        }
        attempted += 1;
        let (result, mut entry) = if message.transport == "webhook" {
            let result = services.alerting.deliver_webhook(&message).await;
            let entry = match &result {
                Ok(()) => Entry::new(Level::Info, Category::Alert, "Webhook envoyé"),
                Err(_) => Entry::new(Level::Error, Category::Alert, "Échec d'envoi de webhook"),
            };
            (result, entry)
        } else {
            let outgoing = OutgoingEmail {
                to: recipients(&message.recipient),
                subject: message.subject.clone(),
                text: message.body_text.clone(),
                html: message.body_html.clone(),
            };
            let result = mailer.send(&outgoing).await.map_err(|e| (e, Retry::After(None)));
            let entry = match &result {
                Ok(()) => Entry::new(Level::Info, Category::Email, sent_message(&message.kind)),
                Err(_) => Entry::new(Level::Error, Category::Email, "Échec d'envoi d'email"),
            };
            (result, entry)
        };
        entry = entry.metadata(json!({
            "kind": message.kind,
            "transport": message.transport,
            "recipient": message.recipient,
            "channel_id": message.channel_id,
            "attempt": message.attempts + 1,
        }));
        if let Some(c) = message.client_id {
            entry = entry.client(c);
        }
        let outcome = match result {
            Ok(()) => services.outbox.mark_sent(&message).await,
            Err((error, retry)) => {
                tracing::warn!(%error, id = %message.id, transport = %message.transport, "delivery failed");
                entry = entry.metadata(json!({
                    "kind": message.kind,
                    "transport": message.transport,
                    "recipient": message.recipient,
                    "channel_id": message.channel_id,
                    "attempt": message.attempts + 1,
                    "error": error,
                }));
                services
                    .outbox
                    .mark_failed(&message, &error, retry)
                    .await
                    .map(|_| ())
            }
        };
        if let Err(e) = outcome {
            e.log("outbox bookkeeping");
        }
        services.activity.record(entry, &RequestMeta::default()).await;
    }
    Ok(attempted)
}

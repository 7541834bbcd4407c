//! Delivers queued emails, with retries and backoff, logging each outcome
//! in the activity log.

use crate::{
    app::Services,
    domain::activity::{Category, Entry, Level, RequestMeta},
    infra::mailer::Mailer,
};
use serde_json::json;
use std::{sync::Arc, time::Duration};

const POLL: Duration = Duration::from_secs(5);
const BATCH: u64 = 20;

fn sent_message(kind: &str) -> &'static str {
    match kind {
        "welcome" => "Email de bienvenue envoyé",
        "password_reset" => "Email de réinitialisation envoyé",
        "new_password" => "Email de nouveau mot de passe envoyé",
        _ => "Email envoyé",
    }
}

pub async fn run(services: Services, mailer: Arc<dyn Mailer>) {
    let wake = services.outbox.wake_signal();
    loop {
        match services.outbox.claim(BATCH).await {
            Ok(batch) if !batch.is_empty() => {
                for email in batch {
                    let result = mailer
                        .send(&email.recipient, &email.subject, &email.body_text)
                        .await;
                    let mut entry = match &result {
                        Ok(()) => Entry::new(Level::Info, Category::Email, sent_message(&email.kind)),
                        Err(_) => Entry::new(Level::Error, Category::Email, "Échec d'envoi d'email"),
                    }
                    .metadata(json!({ "kind": email.kind, "recipient": email.recipient, "attempt": email.attempts + 1 }));
                    if let Some(c) = email.client_id {
                        entry = entry.client(c);
                    }
                    let outcome = match result {
                        Ok(()) => services.outbox.mark_sent(email.id).await.map(|_| ()),
                        Err(error) => {
                            tracing::warn!(%error, id = %email.id, "email delivery failed");
                            services
                                .outbox
                                .mark_failed(email.id, email.attempts, &error)
                                .await
                                .map(|_| ())
                        }
                    };
                    if let Err(e) = outcome {
                        tracing::error!(error = %e, "outbox bookkeeping failed");
                    }
                    services.activity.record(entry, &RequestMeta::default()).await;
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "outbox claim failed"),
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

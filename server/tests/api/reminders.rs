//! Reminders and brute_force notifications end to end: rows aged in the
//! database, the reminders job driven by hand, the outbox delivering, and
//! a webhook stand-in for the channel told of a brute-force attempt.

use crate::{
    alerting::{create_channel, WebhookSink},
    helpers::{tenant_with_admin, TestEnv, TestServer, WITHOUT_WORKERS},
};
use chrono::{Duration, Timelike, Utc};
use entities::{clients, email_outbox, reminders_sent, users};
use optralis::infra::mailer::FileMailer;
use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use uuid::Uuid;

async fn queued(server: &TestServer, kind: &str, recipient: &str) -> Vec<email_outbox::Model> {
    email_outbox::Entity::find()
        .filter(email_outbox::Column::Kind.eq(kind))
        .filter(email_outbox::Column::Recipient.eq(recipient))
        .all(&server.state.services.infra.db.conn)
        .await
        .unwrap()
}

/// Delivers everything queued into `dir`; returns how many went.
async fn deliver(server: &TestServer, dir: &std::path::Path) -> usize {
    let mailer = FileMailer::new(dir.to_path_buf());
    let mut total = 0;
    loop {
        let n = optralis::jobs::outbox::tick(&server.state.services, &mailer)
            .await
            .unwrap();
        if n == 0 {
            return total;
        }
        total += n;
    }
}

#[tokio::test]
async fn a_password_ten_days_from_expiry_is_reminded_once_with_the_days_left() {
    let server = TestServer::spawn_env(TestEnv::new().await.set(WITHOUT_WORKERS, "1")).await;
    let root = server.admin_token().await;
    let (_, email, _) = tenant_with_admin(&server, &root, "Remind").await;
    let services = &server.state.services;
    users::Entity::update_many()
        .col_expr(
            users::Column::PasswordChangedAt,
            Expr::value(Utc::now() - Duration::days(80)),
        )
        .filter(users::Column::Email.eq(&email))
        .exec(&services.infra.db.conn)
        .await
        .unwrap();

    let first = optralis::jobs::reminders::tick(services).await.unwrap().unwrap();
    assert_eq!(first.passwords, 1, "{first:?}");
    let second = optralis::jobs::reminders::tick(services).await.unwrap().unwrap();
    assert_eq!(second.passwords, 0, "{second:?}");

    let outbox = tempfile::tempdir().unwrap();
    assert!(deliver(&server, outbox.path()).await >= 1);
    let mails = queued(&server, "password_expiration", &email).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].status, "sent");
    assert!(mails[0].subject.contains("10 jours"), "{}", mails[0].subject);
    assert!(
        mails[0].body_text.contains("expire dans 10 jours"),
        "{}",
        mails[0].body_text
    );
    let files = std::fs::read_dir(outbox.path()).unwrap().count();
    assert!(files >= 1);
}

#[tokio::test]
async fn a_licence_six_days_from_expiry_gets_the_seven_day_reminder_after_nine() {
    let server = TestServer::spawn_env(TestEnv::new().await.set(WITHOUT_WORKERS, "1")).await;
    let root = server.admin_token().await;
    let (client_id, email, _) = tenant_with_admin(&server, &root, "Licence").await;
    let services = &server.state.services;
    let client_id = Uuid::parse_str(&client_id).unwrap();
    clients::Entity::update_many()
        .col_expr(
            clients::Column::LicenseExpiresAt,
            Expr::value(Some(Utc::now() + Duration::days(6))),
        )
        .filter(clients::Column::Id.eq(client_id))
        .exec(&services.infra.db.conn)
        .await
        .unwrap();
    let before_nine = Utc::now().hour() < 9;

    let first = optralis::jobs::reminders::tick(services).await.unwrap().unwrap();
    let second = optralis::jobs::reminders::tick(services).await.unwrap().unwrap();
    assert_eq!(second.licences, 0, "{second:?}");
    let mails = queued(&server, "licence_expiration", &email).await;
    if before_nine {
        // The server runs on the wall clock and this ran before 09:00 UTC:
        // nothing may go yet. The domain test with a manual clock covers
        // the crossing of 09:00.
        assert_eq!(first.licences, 0, "{first:?}");
        assert!(mails.is_empty(), "{mails:?}");
        return;
    }
    assert_eq!(first.licences, 1, "{first:?}");
    assert_eq!(mails.len(), 1, "{mails:?}");
    let keys: Vec<String> = reminders_sent::Entity::find()
        .filter(reminders_sent::Column::Key.starts_with(format!("licence:{client_id}:")))
        .all(&services.infra.db.conn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].ends_with(":7"), "{keys:?}");
    assert!(mails[0].body_text.contains("Licence"), "{}", mails[0].body_text);
}

#[tokio::test]
async fn an_account_locked_out_again_and_again_is_reported_once_to_the_tenant_channels() {
    let env = TestEnv::new()
        .await
        .with_login_limits()
        .set("ALLOW_PRIVATE_WEBHOOKS", "true");
    let server = TestServer::spawn_env(env).await;
    let root = server.admin_token().await;
    let (_, email, admin) = tenant_with_admin(&server, &root, "Guarded").await;
    let sink = WebhookSink::start(0).await;
    create_channel(
        &server,
        &admin,
        "Ops Slack",
        "WEBHOOK_SLACK",
        &format!("{}/slack", sink.url),
    )
    .await;

    let mut limited = 0;
    for _ in 0..10 {
        let body: Value = server
            .graphql(
                "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
                json!({ "e": email, "p": "Wrong-Passw0rd!" }),
            )
            .await;
        if crate::helpers::error_code(&body) == "RATE_LIMITED" {
            limited += 1;
        }
    }
    assert!(limited >= 4, "only {limited} refusals by the limit");

    let got = sink.wait_for(1).await;
    // Later refusals in the same hour must not add a second message.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let got_later = sink.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got_later.len(), 1, "{got_later:?}");
    assert_eq!(got[0].0, "/slack");
    let text = got[0].1.to_string();
    assert!(text.contains("brute force"), "{text}");
    assert!(text.contains(&email), "{text}");

    let history = entities::notification_history::Entity::find()
        .filter(entities::notification_history::Column::AlertType.eq(entities::enums::AlertType::BruteForce))
        .all(&server.state.services.infra.db.conn)
        .await
        .unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
}

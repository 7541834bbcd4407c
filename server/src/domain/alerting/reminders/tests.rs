use super::*;
use crate::{
    domain::{activity::ActivityLog, fixtures, live, notify::outbox::Outbox},
    infra::{
        clock::{Clock, ManualClock},
        db::Database,
    },
};
use chrono::TimeZone;
use entities::email_outbox;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, IntoActiveModel, PaginatorTrait};
use std::sync::Arc;

#[test]
fn the_tightest_threshold_reached_is_the_one_due() {
    let t = &PASSWORD_THRESHOLDS;
    assert_eq!(threshold(45, t), None);
    assert_eq!(threshold(31, t), None);
    assert_eq!(threshold(30, t), Some(30));
    assert_eq!(threshold(11, t), Some(30));
    assert_eq!(threshold(10, t), Some(10));
    assert_eq!(threshold(4, t), Some(10));
    assert_eq!(threshold(3, t), Some(3));
    assert_eq!(threshold(2, t), Some(3));
    assert_eq!(threshold(0, t), Some(3));
    assert_eq!(threshold(-1, t), None);
    assert_eq!(threshold(6, &LICENCE_THRESHOLDS), Some(7));
    assert_eq!(threshold(13, &LICENCE_THRESHOLDS), Some(14));
}

#[test]
fn days_left_counts_calendar_days() {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 23, 0, 0).unwrap();
    let expiry = Utc.with_ymd_and_hms(2026, 3, 11, 1, 0, 0).unwrap();
    assert_eq!(days_left(expiry, now), 10);
    assert_eq!(days_left(now, now), 0);
}

struct Setup {
    db: Database,
    clock: ManualClock,
    alerting: Alerting,
    client: clients::Model,
    admin: users::Model,
}

async fn setup(now: DateTime<Utc>) -> Setup {
    let db = Database::in_memory().await.unwrap();
    let clock = ManualClock::new(now);
    let (client, _) = fixtures::tenant_with_machine(&db, now).await;
    let admin = users::Entity::insert(users::ActiveModel {
        id: Set(Uuid::new_v4()),
        client_id: Set(client.id),
        email: Set("admin@acme.test".into()),
        password_hash: Set("x".into()),
        first_name: Set("Ada".into()),
        last_name: Set("Admin".into()),
        role: Set(Role::Admin),
        must_change_password: Set(false),
        password_changed_at: Set(now),
        totp_enabled: Set(false),
        session_version: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .exec_with_returning(&db.conn)
    .await
    .unwrap();
    let alerting = Alerting::new(
        db.clone(),
        Arc::new(crate::infra::bus::LocalBus::<live::LiveEvent>::new()),
        ActivityLog::new(db.clone()),
        Outbox::new(db.clone()),
        Arc::new(NoWebhooks),
        clock.shared(),
        "https://rmm.example".into(),
    );
    Setup {
        db,
        clock,
        alerting,
        client,
        admin,
    }
}

struct NoWebhooks;

#[async_trait::async_trait]
impl crate::domain::notify::webhook::WebhookSender for NoWebhooks {
    async fn check(&self, _url: &str) -> Result<(), crate::domain::notify::webhook::UrlRefused> {
        Ok(())
    }

    async fn post(
        &self,
        _url: &str,
        _body: &serde_json::Value,
    ) -> Result<(), crate::domain::notify::webhook::DeliveryError> {
        Ok(())
    }
}

async fn mails(db: &Database, kind: &str) -> Vec<email_outbox::Model> {
    email_outbox::Entity::find()
        .filter(email_outbox::Column::Kind.eq(kind))
        .order_by_asc(email_outbox::Column::CreatedAt)
        .all(&db.conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_password_reminder_goes_once_per_threshold_and_a_new_password_starts_over() {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
    let s = setup(now).await;
    let mut admin = s.admin.clone().into_active_model();
    // First seen with 2 days left: only the 3-day reminder.
    admin.password_changed_at = Set(now - Duration::days(88));
    admin.update(&s.db.conn).await.unwrap();

    assert_eq!(s.alerting.send_reminders().await.unwrap().passwords, 1);
    assert_eq!(s.alerting.send_reminders().await.unwrap().passwords, 0);
    s.clock.advance(Duration::hours(20));
    assert_eq!(s.alerting.send_reminders().await.unwrap().passwords, 0);
    let sent = mails(&s.db, "password_expiration").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipient, "admin@acme.test");
    assert!(sent[0].subject.contains("2 jours"), "{}", sent[0].subject);

    // A new password, then 20 days later: the 30-day reminder again.
    let mut admin = s.admin.clone().into_active_model();
    admin.password_changed_at = Set(s.clock.now() - Duration::days(61));
    admin.update(&s.db.conn).await.unwrap();
    assert_eq!(s.alerting.send_reminders().await.unwrap().passwords, 1);
    assert_eq!(mails(&s.db, "password_expiration").await.len(), 2);

    // Expired: nothing more.
    let mut admin = s.admin.clone().into_active_model();
    admin.password_changed_at = Set(s.clock.now() - Duration::days(91));
    admin.update(&s.db.conn).await.unwrap();
    assert_eq!(s.alerting.send_reminders().await.unwrap().passwords, 0);
    let _ = s.client;
}

#[tokio::test]
async fn licence_reminders_wait_for_nine_o_clock_and_go_to_each_admin_once() {
    let early = Utc.with_ymd_and_hms(2026, 3, 1, 8, 59, 0).unwrap();
    let s = setup(early).await;
    let mut client = s.client.clone().into_active_model();
    client.license_expires_at = Set(Some(early + Duration::days(6)));
    client.update(&s.db.conn).await.unwrap();

    assert_eq!(s.alerting.send_reminders().await.unwrap().licences, 0);
    s.clock.advance(Duration::minutes(1));
    assert_eq!(s.alerting.send_reminders().await.unwrap().licences, 1);
    s.clock.advance(Duration::hours(3));
    assert_eq!(s.alerting.send_reminders().await.unwrap().licences, 0);
    let sent = mails(&s.db, "licence_expiration").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipient, "admin@acme.test");
    assert!(sent[0].subject.contains("6 jours"), "{}", sent[0].subject);
    let keys = reminders_sent::Entity::find().count(&s.db.conn).await.unwrap();
    assert_eq!(keys, 1);
}

#[tokio::test]
async fn the_certificate_digest_goes_once_a_day_and_only_with_something_to_say() {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
    let s = setup(now).await;
    assert_eq!(s.alerting.send_reminders().await.unwrap().certificate_digests, 0);

    let machine = machines::Entity::find()
        .filter(machines::Column::ClientId.eq(s.client.id))
        .one(&s.db.conn)
        .await
        .unwrap()
        .unwrap();
    let mut m = machine.into_active_model();
    m.cert_expires_at = Set(Some(now + Duration::days(12)));
    m.update(&s.db.conn).await.unwrap();
    assert_eq!(s.alerting.send_reminders().await.unwrap().certificate_digests, 1);
    assert_eq!(s.alerting.send_reminders().await.unwrap().certificate_digests, 0);
    s.clock.advance(Duration::days(1));
    assert_eq!(s.alerting.send_reminders().await.unwrap().certificate_digests, 1);
    let sent = mails(&s.db, "certificate_expiration").await;
    assert_eq!(sent.len(), 2);
    assert!(sent[0].body_text.contains("srv-01"), "{}", sent[0].body_text);
}

#[tokio::test]
async fn brute_force_is_reported_once_per_account_and_hour() {
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 10, 15, 0).unwrap();
    let s = setup(now).await;
    assert_eq!(s.alerting.brute_force("nobody@acme.test").await.unwrap(), None);
    // No channel configured: reported (and logged) with no message.
    assert_eq!(s.alerting.brute_force("admin@acme.test").await.unwrap(), Some(0));
    assert_eq!(s.alerting.brute_force("admin@acme.test").await.unwrap(), None);
    s.clock.advance(Duration::minutes(30));
    assert_eq!(s.alerting.brute_force("admin@acme.test").await.unwrap(), None);
    s.clock.advance(Duration::minutes(30));
    assert_eq!(s.alerting.brute_force("admin@acme.test").await.unwrap(), Some(0));
}

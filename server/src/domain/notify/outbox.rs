//! Enqueueing and claiming outbox emails. Claiming marks rows `sending`
//! with a lease; on PostgreSQL rows are picked with `FOR UPDATE SKIP
//! LOCKED`, so several instances never send the same email twice.

use crate::{
    domain::DomainError,
    infra::db::{Backend, Database},
};
use chrono::{Duration, Utc};
use entities::{email_outbox, enums::Language};
use sea_orm::{
    sea_query::{Expr, LockBehavior, LockType},
    ActiveValue::Set,
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use std::sync::Arc;
use tokio::sync::Notify;
use uuid::Uuid;

pub const MAX_ATTEMPTS: i32 = 8;
/// A claimed email not confirmed within this time is claimed again.
const LEASE: Duration = Duration::minutes(5);

#[derive(Clone, Debug)]
pub struct Email {
    pub kind: &'static str,
    /// One address, or several separated by commas (an e-mail channel).
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    /// The HTML alternative, when the message has one.
    pub body_html: Option<String>,
    pub language: Language,
    pub client_id: Option<Uuid>,
}

#[derive(Clone)]
pub struct Outbox {
    db: Database,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn new(db: Database) -> Self {
        Self {
            db,
            wake: Arc::new(Notify::new()),
        }
    }

    pub fn wake_signal(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub async fn enqueue(&self, email: Email) -> Result<Uuid, DomainError> {
        let id = Uuid::now_v7();
        let now = Utc::now();
        email_outbox::Entity::insert(email_outbox::ActiveModel {
            id: Set(id),
            client_id: Set(email.client_id),
            kind: Set(email.kind.into()),
            recipient: Set(email.recipient),
            subject: Set(email.subject),
            body_text: Set(email.body_text),
            transport: Set("email".into()),
            body_html: Set(email.body_html),
            payload: Set(None),
            channel_id: Set(None),
            notification_id: Set(None),
            language: Set(email.language),
            status: Set("pending".into()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            last_error: Set(None),
            created_at: Set(now),
            sent_at: Set(None),
        })
        .exec(&self.db.conn)
        .await?;
        self.wake.notify_one();
        Ok(id)
    }

    /// Takes up to `limit` due emails and leases them to this worker.
    pub async fn claim(&self, limit: u64) -> Result<Vec<email_outbox::Model>, DomainError> {
        let now = Utc::now();
        let txn = self.db.conn.begin().await?;
        let mut query = email_outbox::Entity::find()
            .filter(email_outbox::Column::Status.is_in(["pending", "sending"]))
            .filter(email_outbox::Column::NextAttemptAt.lte(now))
            .order_by_asc(email_outbox::Column::NextAttemptAt)
            .limit(limit);
        if self.db.backend == Backend::Postgres {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = query.all(&txn).await?;
        if !rows.is_empty() {
            email_outbox::Entity::update_many()
                .col_expr(email_outbox::Column::Status, Expr::value("sending"))
                .col_expr(email_outbox::Column::NextAttemptAt, Expr::value(now + LEASE))
                .col_expr(
                    email_outbox::Column::Attempts,
                    Expr::col(email_outbox::Column::Attempts).add(1),
                )
                .filter(email_outbox::Column::Id.is_in(rows.iter().map(|r| r.id)))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(rows)
    }

    pub async fn mark_sent(&self, id: Uuid) -> Result<(), DomainError> {
        email_outbox::Entity::update_many()
            .col_expr(email_outbox::Column::Status, Expr::value("sent"))
            .col_expr(email_outbox::Column::SentAt, Expr::value(Utc::now()))
            .col_expr(
                email_outbox::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .filter(email_outbox::Column::Id.eq(id))
            .exec(&self.db.conn)
            .await?;
        Ok(())
    }

    /// Schedules a retry with exponential backoff, or gives up after
    /// [`MAX_ATTEMPTS`]. `attempts` is the count before this claim.
    pub async fn mark_failed(&self, id: Uuid, attempts: i32, error: &str) -> Result<bool, DomainError> {
        let attempts = attempts + 1;
        let give_up = attempts >= MAX_ATTEMPTS;
        let backoff = Duration::seconds(5 * 2_i64.pow(attempts.clamp(0, 12) as u32)).min(Duration::hours(1));
        email_outbox::Entity::update_many()
            .col_expr(
                email_outbox::Column::Status,
                Expr::value(if give_up { "failed" } else { "pending" }),
            )
            .col_expr(
                email_outbox::Column::NextAttemptAt,
                Expr::value(Utc::now() + backoff),
            )
            .col_expr(
                email_outbox::Column::LastError,
                Expr::value(Some(error.chars().take(1000).collect::<String>())),
            )
            .filter(email_outbox::Column::Id.eq(id))
            .exec(&self.db.conn)
            .await?;
        Ok(give_up)
    }
}

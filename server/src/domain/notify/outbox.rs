//! Enqueueing and claiming outbox emails. Claiming marks rows `sending`
//! with a lease; on PostgreSQL rows are picked with `FOR UPDATE SKIP
//! LOCKED`, so several instances never send the same email twice.

use crate::{
    domain::DomainError,
    infra::{
        db::{Backend, Database},
        metrics::{self, Delivery},
    },
};
use chrono::{Duration, Utc};
use entities::{
    email_outbox,
    enums::{DeliveryStatus, Language},
    notification_history,
};
use sea_orm::{
    sea_query::{Expr, LockBehavior, LockType},
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
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

/// How a queued message travels.
#[derive(Clone, Debug)]
pub enum Transport {
    /// `recipient` holds one address or several separated by commas.
    Email {
        recipient: String,
        subject: String,
        body_text: String,
        body_html: Option<String>,
    },
    /// The channel's URL is read at send time: it is a secret, kept in one
    /// place, and an edited URL applies to what is still queued.
    Webhook {
        channel_id: Uuid,
        subject: String,
        payload: String,
    },
}

/// A message for the outbox.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub kind: &'static str,
    pub client_id: Option<Uuid>,
    pub language: Language,
    /// The `notification_history` row whose state follows this message.
    pub notification_id: Option<Uuid>,
    pub transport: Transport,
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
        let client_id = email.client_id;
        let language = email.language;
        let id = self
            .enqueue_in(
                &self.db.conn,
                Outgoing {
                    kind: email.kind,
                    client_id,
                    language,
                    notification_id: None,
                    transport: Transport::Email {
                        recipient: email.recipient,
                        subject: email.subject,
                        body_text: email.body_text,
                        body_html: email.body_html,
                    },
                },
            )
            .await?;
        self.wake();
        Ok(id)
    }

    /// Queues a message inside the caller's transaction, so it exists if and
    /// only if what it announces was committed. Call [`Outbox::wake`] after
    /// the commit.
    pub async fn enqueue_in(&self, conn: &impl ConnectionTrait, msg: Outgoing) -> Result<Uuid, DomainError> {
        let id = Uuid::now_v7();
        let now = Utc::now();
        let (transport, recipient, subject, body_text, body_html, payload, channel_id) = match msg.transport {
            Transport::Email {
                recipient,
                subject,
                body_text,
                body_html,
            } => ("email", recipient, subject, body_text, body_html, None, None),
            Transport::Webhook {
                channel_id,
                subject,
                payload,
            } => (
                "webhook",
                String::new(),
                subject,
                String::new(),
                None,
                Some(payload),
                Some(channel_id),
            ),
        };
        email_outbox::Entity::insert(email_outbox::ActiveModel {
            id: Set(id),
            client_id: Set(msg.client_id),
            kind: Set(msg.kind.into()),
            recipient: Set(recipient),
            subject: Set(subject),
            body_text: Set(body_text),
            transport: Set(transport.into()),
            body_html: Set(body_html),
            payload: Set(payload),
            channel_id: Set(channel_id),
            notification_id: Set(msg.notification_id),
            language: Set(msg.language),
            status: Set("pending".into()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            last_error: Set(None),
            created_at: Set(now),
            sent_at: Set(None),
        })
        .exec(conn)
        .await?;
        Ok(id)
    }

    /// Tells the worker something is due.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Takes up to `limit` due emails and leases them to this worker.
    pub async fn claim(&self, limit: u64) -> Result<Vec<email_outbox::Model>, DomainError> {
        let now = Utc::now();
        let txn = self.db.begin_write().await?;
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

    /// Messages not yet delivered nor given up: queued or being sent.
    pub async fn pending(&self) -> Result<u64, DomainError> {
        Ok(email_outbox::Entity::find()
            .filter(email_outbox::Column::Status.is_in(["pending", "sending"]))
            .count(&self.db.conn)
            .await?)
    }

    pub async fn mark_sent(&self, row: &email_outbox::Model) -> Result<(), DomainError> {
        metrics::outbox_delivery(&row.transport, Delivery::Sent);
        let now = Utc::now();
        email_outbox::Entity::update_many()
            .col_expr(email_outbox::Column::Status, Expr::value("sent"))
            .col_expr(email_outbox::Column::SentAt, Expr::value(now))
            .col_expr(
                email_outbox::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .filter(email_outbox::Column::Id.eq(row.id))
            .exec(&self.db.conn)
            .await?;
        if let Some(n) = row.notification_id {
            notification_history::Entity::update_many()
                .col_expr(
                    notification_history::Column::Status,
                    Expr::value(DeliveryStatus::Sent),
                )
                .col_expr(notification_history::Column::SentAt, Expr::value(Some(now)))
                .col_expr(
                    notification_history::Column::Attempts,
                    Expr::value(row.attempts + 1),
                )
                .col_expr(
                    notification_history::Column::LastError,
                    Expr::value(Option::<String>::None),
                )
                .filter(notification_history::Column::Id.eq(n))
                .exec(&self.db.conn)
                .await?;
        }
        Ok(())
    }

    /// Schedules a retry with exponential backoff (or the receiver's
    /// `Retry-After` when longer), or gives up after [`MAX_ATTEMPTS`] or on
    /// a failure not worth retrying. Returns whether it gave up.
    pub async fn mark_failed(
        &self,
        row: &email_outbox::Model,
        error: &str,
        retry: Retry,
    ) -> Result<bool, DomainError> {
        let attempts = row.attempts + 1;
        let give_up = attempts >= MAX_ATTEMPTS || matches!(retry, Retry::Never);
        metrics::outbox_delivery(
            &row.transport,
            if give_up {
                Delivery::Failed
            } else {
                Delivery::Retry
            },
        );
        let mut backoff =
            Duration::seconds(5 * 2_i64.pow(attempts.clamp(0, 12) as u32)).min(Duration::hours(1));
        if let Retry::After(Some(asked)) = retry {
            let asked = Duration::from_std(asked)
                .unwrap_or(Duration::hours(1))
                .min(Duration::hours(1));
            backoff = backoff.max(asked);
        }
        let error: String = error.chars().take(1000).collect();
        email_outbox::Entity::update_many()
            .col_expr(
                email_outbox::Column::Status,
                Expr::value(if give_up { "failed" } else { "pending" }),
            )
            .col_expr(
                email_outbox::Column::NextAttemptAt,
                Expr::value(Utc::now() + backoff),
            )
            .col_expr(email_outbox::Column::LastError, Expr::value(Some(error.clone())))
            .filter(email_outbox::Column::Id.eq(row.id))
            .exec(&self.db.conn)
            .await?;
        if let Some(n) = row.notification_id {
            let status = if give_up {
                DeliveryStatus::Failed
            } else {
                DeliveryStatus::Pending
            };
            notification_history::Entity::update_many()
                .col_expr(notification_history::Column::Status, Expr::value(status))
                .col_expr(notification_history::Column::Attempts, Expr::value(attempts))
                .col_expr(notification_history::Column::LastError, Expr::value(Some(error)))
                .filter(notification_history::Column::Id.eq(n))
                .exec(&self.db.conn)
                .await?;
        }
        Ok(give_up)
    }
}

/// Whether a failed delivery is worth another attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// Yes, after the backoff or the receiver's delay if longer.
    After(Option<std::time::Duration>),
    /// No: the receiver refused the message itself.
    Never,
}

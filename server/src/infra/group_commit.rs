//! Group commit: concurrent writers hand their rows to one task that
//! commits them together, and each is answered only once its batch is
//! committed (or has failed). Batching is natural: while one batch commits
//! the next one gathers, so a quiet server commits each request at once
//! and a busy one commits hundreds per transaction, without a timer adding
//! latency (a fixed linger was measured: it caps each connection at one
//! request per linger).
//!
//! Failures stay typed: each writer gets the `DbErr` itself, so the domain
//! classifies it like any other database error (an outage answers 503,
//! a fault 500).

use super::{db::Database, db_failure};
use futures::future::BoxFuture;
use sea_orm::DbErr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Jobs queued beyond this make writers wait (back-pressure).
const QUEUE: usize = 8192;

/// Writes one batch in one transaction.
pub type FlushFn<T> =
    Arc<dyn Fn(Database, Vec<Arc<T>>) -> BoxFuture<'static, Result<(), DbErr>> + Send + Sync>;

/// Shared: a batch that fails for an outage fails every writer in it.
type Outcome = Result<(), Arc<DbErr>>;
type Job<T> = (Arc<T>, oneshot::Sender<Outcome>);

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("batch write failed: {0}")]
    Failed(#[source] Arc<DbErr>),
    #[error("writer stopped")]
    Stopped,
}

pub struct GroupCommit<T> {
    tx: mpsc::Sender<Job<T>>,
}

impl<T> Clone for GroupCommit<T> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone() }
    }
}

impl<T: Send + Sync + 'static> GroupCommit<T> {
    /// Starts the writer task; `max_batch` bounds one transaction.
    pub fn start(name: &'static str, db: Database, max_batch: usize, flush: FlushFn<T>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(name, db, max_batch, flush, rx));
        Self { tx }
    }

    /// Returns once `item` is committed.
    pub async fn write(&self, item: T) -> Result<(), CommitError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((Arc::new(item), done))
            .await
            .map_err(|_| CommitError::Stopped)?;
        wait.await
            .map_err(|_| CommitError::Stopped)?
            .map_err(CommitError::Failed)
    }
}

async fn run<T: Send + Sync + 'static>(
    name: &'static str,
    db: Database,
    max_batch: usize,
    flush: FlushFn<T>,
    mut rx: mpsc::Receiver<Job<T>>,
) {
    let mut batch: Vec<Job<T>> = Vec::with_capacity(max_batch);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let items = batch.iter().map(|(item, _)| item.clone()).collect();
        let started = std::time::Instant::now();
        let flushed = flush(db.clone(), items).await;
        super::metrics::group_commit_flush(name, batch.len(), started.elapsed(), flushed.is_ok());
        match flushed {
            Ok(()) => {
                for (_, done) in batch.drain(..) {
                    let _ = done.send(Ok(()));
                }
            }
            // One writer's rows can fail the whole transaction (its machine
            // deleted meanwhile, say): write each alone, so only that one
            // fails and the others are not told to retry for nothing.
            Err(e) if batch.len() > 1 && !db_failure::is_unavailable(&e) => {
                tracing::warn!(writer = name, error = %e, size = batch.len(), "batch failed; writing its requests one by one");
                for (item, done) in batch.drain(..) {
                    let outcome = flush(db.clone(), vec![item]).await.map_err(Arc::new);
                    if let Err(e) = &outcome {
                        tracing::error!(writer = name, error = %e, "write failed");
                    }
                    let _ = done.send(outcome);
                }
            }
            Err(e) => {
                super::metrics::db_error(&e);
                tracing::warn!(writer = name, error = %e, size = batch.len(), "batch failed");
                let e = Arc::new(e);
                for (_, done) in batch.drain(..) {
                    let _ = done.send(Err(e.clone()));
                }
            }
        }
    }
}

//! Periodic jobs that must run on one instance per tick when several
//! share a PostgreSQL database: each tick takes a transaction-scoped
//! advisory lock and skips if another instance holds it. On SQLite there
//! is one instance by construction.

use crate::infra::db::{Backend, Database};
use sea_orm::{ConnectionTrait, DbErr, Statement, TransactionTrait};
use std::future::Future;

/// Advisory lock keys, one per job.
pub mod keys {
    pub const CLEANUP: i64 = 0x4F50_0001;
    pub const ROLLUPS: i64 = 0x4F50_0002;
    pub const OFFLINE: i64 = 0x4F50_0003;
    pub const REMINDERS: i64 = 0x4F50_0004;
    pub const UPTIME: i64 = 0x4F50_0005;
}

/// Runs `job` unless another instance is running the same one right now;
/// returns whether it ran.
pub async fn run_once<F, Fut, E>(db: &Database, key: i64, job: F) -> Result<bool, E>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: From<DbErr>,
{
    if db.backend == Backend::Sqlite {
        job().await?;
        return Ok(true);
    }
    let txn = db.conn.begin().await?;
    let row = txn
        .query_one(Statement::from_string(
            txn.get_database_backend(),
            format!("SELECT pg_try_advisory_xact_lock({key}) AS locked"),
        ))
        .await?;
    let locked = row
        .map(|r| r.try_get::<bool>("", "locked"))
        .transpose()?
        .unwrap_or(false);
    if !locked {
        return Ok(false);
    }
    let result = job().await;
    // Commit or not, ending the transaction releases the lock.
    txn.commit().await?;
    result.map(|()| true)
}

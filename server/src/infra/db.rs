//! Connection pool for both backends, migrations and the health ping.

use crate::config::{Config, DatabaseTarget};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    sqlx::{
        postgres::PgConnectOptions,
        sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous},
    },
    ConnectOptions, ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait,
};
use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// Pooled connection plus what the server learned about the backend.
#[derive(Clone, Debug)]
pub struct Database {
    pub conn: DatabaseConnection,
    pub backend: Backend,
    statements: Arc<AtomicU64>,
}

/// How long a request may wait for a pooled connection before it fails
/// (instead of queueing forever behind a stuck pool).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Statements slower than this are logged.
const SLOW_STATEMENT: Duration = Duration::from_secs(1);
/// PostgreSQL cancels any statement running longer than this.
const STATEMENT_TIMEOUT: &str = "30s";
/// Advisory lock key held while migrating ("OPTRAMIG" as ASCII bytes).
const MIGRATION_LOCK_KEY: i64 = 0x4F50_5452_414D_4947;

impl Database {
    pub async fn connect(config: &Config) -> Result<Self, DbErr> {
        let (url, backend) = match &config.database {
            DatabaseTarget::Sqlite { path } => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| DbErr::Custom(format!("{}: {e}", parent.display())))?;
                }
                (format!("sqlite://{}?mode=rwc", path.display()), Backend::Sqlite)
            }
            DatabaseTarget::Postgres { url } => (url.clone(), Backend::Postgres),
        };
        let mut opts = ConnectOptions::new(url);
        opts.max_connections(match backend {
            // SQLite serialises writers; a few readers in WAL mode is plenty.
            Backend::Sqlite => config.database_max_connections.min(8),
            Backend::Postgres => config.database_max_connections,
        })
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .idle_timeout(Duration::from_secs(600))
        .max_lifetime(Duration::from_secs(300))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o: SqliteConnectOptions| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true)
                .create_if_missing(true)
        })
        .map_sqlx_postgres_opts(|o: PgConnectOptions| {
            o.options([("statement_timeout", STATEMENT_TIMEOUT)])
                .application_name("optralis")
        });
        let mut conn = sea_orm::Database::connect(opts).await?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        conn.set_metric_callback(move |info| {
            counter.fetch_add(1, Ordering::Relaxed);
            if info.elapsed > SLOW_STATEMENT {
                tracing::warn!(elapsed_ms = info.elapsed.as_millis() as u64, failed = info.failed, sql = %info.statement.sql, "slow statement");
            }
        });
        Ok(Self {
            conn,
            backend,
            statements,
        })
    }

    /// A transaction that will write after reading. On SQLite it takes the
    /// write lock first (a no-op UPDATE, waiting up to the busy timeout):
    /// a WAL read transaction that later tries to write fails at once with
    /// SQLITE_BUSY when another connection committed in between, and the
    /// busy timeout does not apply to that upgrade. PostgreSQL needs
    /// nothing here.
    pub async fn begin_write(&self) -> Result<sea_orm::DatabaseTransaction, DbErr> {
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let txn = self.conn.begin().await?;
        if self.backend == Backend::Sqlite {
            txn.execute_unprepared("UPDATE seaql_migrations SET version = version WHERE 0")
                .await?;
        }
        Ok(txn)
    }

    /// A migrated in-memory SQLite database for unit tests, on a single
    /// connection: each SQLite connection to `:memory:` is a database of
    /// its own.
    #[cfg(test)]
    pub async fn in_memory() -> Result<Self, DbErr> {
        let mut opts = ConnectOptions::new("sqlite::memory:");
        opts.max_connections(1)
            .min_connections(1)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o: SqliteConnectOptions| o.foreign_keys(true));
        let db = Self {
            conn: sea_orm::Database::connect(opts).await?,
            backend: Backend::Sqlite,
            statements: Arc::new(AtomicU64::new(0)),
        };
        db.migrate().await?;
        Ok(db)
    }

    /// Applies pending migrations. On PostgreSQL several instances may
    /// start at once: a transaction-scoped advisory lock lets one migrate
    /// while the others wait, then find nothing left to do.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        match self.backend {
            Backend::Sqlite => Migrator::up(&self.conn, None).await,
            Backend::Postgres => {
                let txn = self.conn.begin().await?;
                txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})"))
                    .await?;
                Migrator::up(&txn, None).await?;
                txn.commit().await
            }
        }
    }

    /// Statements run since start (tests count them per request; it is
    /// also a cheap load figure).
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// The pool's connections in use and idle, and its ceiling.
    pub fn pool_figures(&self) -> super::metrics::PoolFigures {
        let (size, idle, max) = match self.backend {
            Backend::Postgres => {
                let pool = self.conn.get_postgres_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
            Backend::Sqlite => {
                let pool = self.conn.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle(), pool.options().get_max_connections())
            }
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        super::metrics::PoolFigures {
            in_use: size.saturating_sub(idle),
            idle,
            max,
        }
    }

    /// Whether TimescaleDB is active on this database.
    pub async fn timescaledb(&self) -> Result<bool, DbErr> {
        migration::timescale::is_enabled(&self.conn).await
    }

    /// Round-trip time of a trivial query, bounded so a hung database
    /// answers "down" instead of hanging the health check.
    pub async fn ping(&self) -> Result<Duration, DbErr> {
        let started = Instant::now();
        match tokio::time::timeout(Duration::from_secs(3), self.conn.ping()).await {
            Ok(Ok(())) => Ok(started.elapsed()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(DbErr::Custom("ping timed out".into())),
        }
    }
}

//! The one place that decides whether a database error means "the database
//! is out of reach for now" (the caller should come back later) or a fault
//! (a bug or bad data, logged as internal). Every path that touches the
//! database — resolvers, heartbeats, collect, enrolment, agent config,
//! jobs — reaches this through `DomainError::from(DbErr)` or the
//! group-commit writer, so a PostgreSQL restart answers the same
//! everywhere: SERVICE_UNAVAILABLE in GraphQL, 503 + Retry-After on the
//! gateway.
//!
//! How sqlx failures surface through sea-orm 1.1: a pool that cannot hand
//! out a connection is `DbErr::ConnectionAcquire` (sqlx keeps retrying a
//! refused connect until the acquire timeout, then `PoolTimedOut`); a
//! connect that fails otherwise, and a connection that dies under a
//! statement, come as `Conn`/`Exec`/`Query` wrapping `sqlx::Error::Io`
//! (reset, broken pipe, unexpected EOF) or the server's own goodbye
//! (SQLSTATE 57P01 when an administrator or a shutdown terminates the
//! backend). A connect whose socket closes during the handshake comes as
//! a protocol error on `DbErr::Conn`.

use sea_orm::{sqlx, DbErr, RuntimeErr};
use std::time::Duration;

/// What a client is told to wait before retrying after an outage.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// PostgreSQL SQLSTATEs that mean the server, not the statement, failed.
/// Class 08 is "connection exception" (except 08P01, a protocol bug).
const PG_UNAVAILABLE: &[&str] = &[
    "57P01", // admin_shutdown: terminated by an administrator or a restart
    "57P02", // crash_shutdown
    "57P03", // cannot_connect_now: starting up or shutting down
    "53300", // too_many_connections
];

/// SQLite's primary result code for "database is locked" once the busy
/// timeout has passed: contention that a retry resolves.
const SQLITE_BUSY: i32 = 5;

/// Whether `e` means the database could not be reached or lost the
/// connection, rather than refusing the statement itself.
pub fn is_unavailable(e: &DbErr) -> bool {
    match e {
        DbErr::ConnectionAcquire(_) => true,
        // A connection torn down during its handshake: sqlx reads garbage
        // from the closed socket (`unexpected response from SSLRequest`)
        // and says protocol error.
        DbErr::Conn(RuntimeErr::SqlxError(sqlx::Error::Protocol(_))) => true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_unavailable(e),
        _ => false,
    }
}

/// Whether `e` is PostgreSQL's `lock_not_available` (55P03): another
/// session holds what the statement needed, such as a continuous aggregate
/// being refreshed by a policy or another job.
pub fn is_lock_not_available(e: &DbErr) -> bool {
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(db)))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Database(db))) => {
            db.code().as_deref() == Some("55P03")
        }
        _ => false,
    }
}

fn sqlx_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| code_unavailable(&code)),
        _ => false,
    }
}

fn code_unavailable(code: &str) -> bool {
    if code.len() == 5 {
        return (code.starts_with("08") && code != "08P01") || PG_UNAVAILABLE.contains(&code);
    }
    // SQLite reports its extended result code; the low byte is the primary.
    code.parse::<i32>()
        .is_ok_and(|extended| extended & 0xff == SQLITE_BUSY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnAcquireErr, ConnectOptions, ConnectionTrait};
    use std::{borrow::Cow, io};

    /// A database error with a chosen code, as a driver would report it.
    #[derive(Debug)]
    struct Coded(&'static str);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "error {}", self.0)
        }
    }

    impl std::error::Error for Coded {}

    impl sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn db(code: &'static str) -> DbErr {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::Database(Box::new(Coded(
            code,
        )))))
    }

    fn io(kind: io::ErrorKind) -> sqlx::Error {
        sqlx::Error::Io(io::Error::new(kind, "test"))
    }

    #[test]
    fn connectivity_failures_are_unavailable() {
        let cases = [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            DbErr::Conn(RuntimeErr::SqlxError(io(io::ErrorKind::ConnectionRefused))),
            DbErr::Conn(RuntimeErr::SqlxError(sqlx::Error::PoolTimedOut)),
            DbErr::Query(RuntimeErr::SqlxError(io(io::ErrorKind::ConnectionReset))),
            DbErr::Exec(RuntimeErr::SqlxError(io(io::ErrorKind::BrokenPipe))),
            DbErr::Query(RuntimeErr::SqlxError(io(io::ErrorKind::UnexpectedEof))),
            DbErr::Conn(RuntimeErr::SqlxError(sqlx::Error::Protocol(
                "unexpected response from SSLRequest: 0x00".into(),
            ))),
            DbErr::Exec(RuntimeErr::SqlxError(sqlx::Error::PoolClosed)),
            db("57P01"),
            db("57P03"),
            db("08006"),
            db("08001"),
            db("53300"),
            db("5"),
            db("517"),
        ];
        for e in cases {
            assert!(is_unavailable(&e), "{e:?}");
        }
    }

    #[test]
    fn refusals_of_the_statement_are_not() {
        let cases = [
            db("23505"),
            db("42P01"),
            db("08P01"),
            db("40001"),
            db("19"),
            db("2067"),
            DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::RowNotFound)),
            DbErr::Query(RuntimeErr::SqlxError(sqlx::Error::Protocol("odd message".into()))),
            DbErr::Exec(RuntimeErr::Internal("bad statement".into())),
            DbErr::RecordNotFound("machine".into()),
            DbErr::Custom("anything".into()),
            DbErr::Type("bad column".into()),
        ];
        for e in cases {
            assert!(!is_unavailable(&e), "{e:?}");
        }
    }

    /// Real driver errors, not hand-built ones: a closed port, and a
    /// constraint violation on SQLite.
    #[tokio::test]
    async fn driver_errors_classify_as_they_surface() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let mut opts = ConnectOptions::new(format!("postgres://nobody@127.0.0.1:{port}/none"));
        opts.acquire_timeout(Duration::from_millis(300))
            .connect_timeout(Duration::from_millis(300))
            .connect_lazy(true);
        let lazy = sea_orm::Database::connect(opts).await.unwrap();
        let refused = lazy.execute_unprepared("SELECT 1").await.unwrap_err();
        assert!(is_unavailable(&refused), "{refused:?}");

        let sqlite = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
        sqlite
            .execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        sqlite
            .execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .unwrap();
        let duplicate = sqlite
            .execute_unprepared("INSERT INTO t VALUES (1)")
            .await
            .unwrap_err();
        assert!(!is_unavailable(&duplicate), "{duplicate:?}");
        let missing = sqlite
            .execute_unprepared("SELECT * FROM missing")
            .await
            .unwrap_err();
        assert!(!is_unavailable(&missing), "{missing:?}");
    }
}

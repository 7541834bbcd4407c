//! TimescaleDB detection. Hypertables are an optimisation: where the
//! extension is not installed the same tables stay plain, and the server
//! says which mode it runs in.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};

/// True when the connected database is PostgreSQL with the `timescaledb`
/// extension created (after [`ensure_extension`]).
pub async fn is_enabled<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(false);
    }
    let row = db
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            "SELECT 1 AS present FROM pg_extension WHERE extname = 'timescaledb'",
        ))
        .await?;
    Ok(row.is_some())
}

/// Creates the extension when the server offers it. Returns whether it is
/// now enabled; a server without it is not an error.
pub async fn ensure_extension<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(false);
    }
    let available = db
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            "SELECT 1 AS present FROM pg_available_extensions WHERE name = 'timescaledb'",
        ))
        .await?
        .is_some();
    if !available {
        return Ok(false);
    }
    if let Err(err) = db
        .execute_unprepared("CREATE EXTENSION IF NOT EXISTS timescaledb")
        .await
    {
        // Typically: the library is installed but not preloaded. Run plain.
        tracing::warn!(error = %err, "timescaledb is available but could not be enabled");
        return Ok(false);
    }
    is_enabled(db).await
}

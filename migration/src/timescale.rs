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
    if is_enabled(db).await? {
        return Ok(true);
    }
    // Installed but not preloaded (a second cluster sharing the binaries,
    // many managed services): there CREATE EXTENSION is a FATAL error that
    // ends the connection, so the fallback below would never run. Ask first.
    let preload = db
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_setting('shared_preload_libraries') AS libraries",
        ))
        .await?
        .map(|row| row.try_get::<String>("", "libraries"))
        .transpose()?
        .unwrap_or_default();
    if !preloads_timescaledb(&preload) {
        tracing::warn!(
            shared_preload_libraries = %preload,
            "timescaledb is installed but not preloaded; running on plain tables"
        );
        return Ok(false);
    }
    if let Err(err) = db
        .execute_unprepared("CREATE EXTENSION IF NOT EXISTS timescaledb")
        .await
    {
        // A refusal that leaves the connection usable (permissions): run plain.
        tracing::warn!(error = %err, "timescaledb is available but could not be enabled");
        return Ok(false);
    }
    is_enabled(db).await
}

/// Whether a `shared_preload_libraries` value names TimescaleDB: a
/// comma-separated list whose entries may be quoted or carry a directory
/// (`'$libdir/timescaledb'`).
pub fn preloads_timescaledb(setting: &str) -> bool {
    setting.split(',').any(|entry| {
        let entry = entry.trim().trim_matches(|c| c == '"' || c == '\'');
        let name = entry.rsplit('/').next().unwrap_or(entry);
        name == "timescaledb" || name == "timescaledb.so"
    })
}

#[cfg(test)]
mod tests {
    use super::preloads_timescaledb;

    #[test]
    fn the_preload_list_is_read_entry_by_entry() {
        assert!(preloads_timescaledb("timescaledb"));
        assert!(preloads_timescaledb("pg_stat_statements, timescaledb"));
        assert!(preloads_timescaledb("'$libdir/timescaledb'"));
        assert!(preloads_timescaledb("\"timescaledb\",auto_explain"));
        assert!(!preloads_timescaledb(""));
        assert!(!preloads_timescaledb("pg_stat_statements"));
        assert!(!preloads_timescaledb("timescaledb_toolkit"));
    }
}

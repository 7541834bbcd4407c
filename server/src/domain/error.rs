use crate::infra::{db_failure, group_commit::CommitError};
use std::{error::Error as StdError, fmt, time::Duration};

/// The cause of an internal or unavailable error, kept for the logs.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// What a domain operation can refuse, independent of transport.
///
/// `Display` never shows a cause: transports map each variant to their own
/// message, and logs use [`DomainError::report`] for the whole chain.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{field}: {message}")]
    InvalidInput { field: String, message: String },
    #[error("not authenticated")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited { retry_after: Duration },
    /// The tenant's plan does not include the feature.
    #[error("{feature} requires the {} plan or higher", crate::domain::licensing::tier_name(*tier))]
    PremiumRequired {
        feature: &'static str,
        tier: entities::enums::Tier,
    },
    /// The same analysis ran on this machine too recently (or is running
    /// now); it may run again at `next_available`.
    #[error("analysis on cooldown; retry in {} s", remaining.as_secs().max(1))]
    Cooldown {
        remaining: Duration,
        next_available: chrono::DateTime<chrono::Utc>,
    },
    /// Nothing was collected since the last analysis of this type: it
    /// would say the same thing again.
    #[error("no new data since the last analysis")]
    NoNewData {
        last_analysis: chrono::DateTime<chrono::Utc>,
    },
    /// Data came in, but nothing moved enough to change the last
    /// analysis's conclusions, which still stand.
    #[error("no significant changes since the last analysis")]
    NoSignificantChanges {
        last_analysis: chrono::DateTime<chrono::Utc>,
        /// The titles of the issues the last analysis found.
        previous_issues: Vec<String>,
    },
    /// The tenant's monthly AI quota would be exceeded.
    #[error("monthly AI quota exceeded ({used}/{limit}); it renews on {}", resets_at.format("%Y-%m-%d"))]
    QuotaExceeded {
        limit: i32,
        used: i32,
        resets_at: chrono::DateTime<chrono::Utc>,
    },
    /// The tenant's licence is expired or suspended: it may read, not write.
    #[error("{0}")]
    LicenceInactive(String),
    /// A dependency (the database) is out of reach for a moment; nothing
    /// was kept and the caller may retry.
    #[error("temporarily unavailable; retry in {} s", retry_after.as_secs().max(1))]
    Unavailable {
        retry_after: Duration,
        #[source]
        source: Option<BoxError>,
    },
    /// An outside service we depend on for this one operation (the Docker
    /// engine, endoflife.date) failed or could not be reached. Unlike
    /// `Unavailable`, `message` names the service and is shown to the
    /// caller: it tells an operator what to fix.
    #[error("{message}")]
    Upstream {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// A fault on our side. `context` says where; `source` is the cause.
    #[error("internal error: {context}")]
    Internal {
        context: &'static str,
        #[source]
        source: Option<BoxError>,
    },
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// A fault caused by `source`.
    pub fn internal(context: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Internal {
            context,
            source: Some(source.into()),
        }
    }

    /// A broken invariant, with no underlying error to keep.
    pub fn invariant(context: &'static str) -> Self {
        Self::Internal {
            context,
            source: None,
        }
    }

    /// The database is out of reach; `source` says how.
    pub fn unavailable(source: impl Into<BoxError>) -> Self {
        Self::Unavailable {
            retry_after: db_failure::RETRY_AFTER,
            source: Some(source.into()),
        }
    }

    /// An outside service failed; `message` is shown to the caller.
    pub fn upstream(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Self::Upstream {
            message: message.into(),
            source,
        }
    }

    /// The error and every cause under it, for logs only.
    pub fn report(&self) -> Report<'_> {
        Report(self)
    }

    /// Logs a failure nobody answers for (a background job): an outage as
    /// a warning, a fault as an error, with the whole cause chain.
    pub fn log(&self, what: &str) {
        match self {
            Self::Unavailable { .. } => {
                tracing::warn!(error = %self.report(), "{what}: database unavailable; next run retries")
            }
            Self::Internal { .. } => tracing::error!(error = %self.report(), "{what} failed"),
            _ => tracing::warn!(error = %self, "{what} failed"),
        }
    }
}

/// `error: cause: cause of the cause…`
pub struct Report<'a>(&'a DomainError);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

impl From<sea_orm::DbErr> for DomainError {
    fn from(e: sea_orm::DbErr) -> Self {
        // Every database error passes here once (the group-commit writer
        // counts its own), so pool waits are counted here.
        crate::infra::metrics::db_error(&e);
        if db_failure::is_unavailable(&e) {
            Self::unavailable(e)
        } else {
            Self::internal("database", e)
        }
    }
}

impl From<CommitError> for DomainError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Failed(e) if db_failure::is_unavailable(&e) => Self::unavailable(e),
            CommitError::Failed(e) => Self::internal("batched write", e),
            CommitError::Stopped => Self::invariant("batched writer stopped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnAcquireErr, DbErr};

    #[test]
    fn outages_are_unavailable_and_keep_their_cause() {
        let e = DomainError::from(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout));
        assert!(matches!(e, DomainError::Unavailable { .. }), "{e:?}");
        assert_eq!(e.to_string(), "temporarily unavailable; retry in 5 s");
        assert!(e.report().to_string().contains("Connection pool timed out"));
    }

    #[test]
    fn faults_keep_the_db_error_out_of_display() {
        let e = DomainError::from(DbErr::Custom("secret table layout".into()));
        assert!(matches!(
            e,
            DomainError::Internal {
                context: "database",
                ..
            }
        ));
        assert_eq!(e.to_string(), "internal error: database");
        let source = StdError::source(&e).expect("source kept");
        assert!(source.downcast_ref::<DbErr>().is_some(), "the DbErr itself");
        assert!(e.report().to_string().ends_with("secret table layout"));
    }

    #[test]
    fn batched_writes_classify_like_direct_ones() {
        let down = CommitError::Failed(std::sync::Arc::new(DbErr::ConnectionAcquire(
            ConnAcquireErr::Timeout,
        )));
        assert!(matches!(DomainError::from(down), DomainError::Unavailable { .. }));
        let bad = CommitError::Failed(std::sync::Arc::new(DbErr::Custom("constraint".into())));
        assert!(matches!(DomainError::from(bad), DomainError::Internal { .. }));
    }
}

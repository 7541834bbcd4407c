//! The error codes clients can rely on (`extensions.code`).

use crate::domain::DomainError;
use async_graphql::ErrorExtensions;
use std::{sync::Arc, time::Duration};

/// What every resolver returns. `?` converts a [`DomainError`] (and the
/// guards' own [`ApiError`]s); any other error type is a compile error, so
/// a cause can never reach a client through async-graphql's blanket
/// `From<T: Display>` conversion, which turns a message into an uncoded
/// error the policy reports as INTERNAL_SERVER_ERROR. For example
///
/// ```compile_fail
/// async fn field(&self) -> Result<u32> {
///     Ok(serde_json::from_str::<u32>("x")?)
/// }
/// ```
///
/// fails with E0277: "`?` couldn't convert the error to `ApiError`: the
/// trait `From<serde_json::Error>` is not implemented for `ApiError`".
/// Doctests are off in this crate; `not_implemented_for_api_error!` at the
/// end of this file holds the same property at every build.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    RateLimited,
    PremiumRequired,
    LicenseInactive,
    Cooldown,
    NoNewData,
    NoSignificantChanges,
    QuotaExceeded,
    PasswordChangeRequired,
    GraphqlParseFailed,
    GraphqlValidationFailed,
    ServiceUnavailable,
    InternalServerError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Conflict => "CONFLICT",
            Self::RateLimited => "RATE_LIMITED",
            Self::PremiumRequired => "PREMIUM_REQUIRED",
            Self::LicenseInactive => "LICENSE_INACTIVE",
            Self::Cooldown => "COOLDOWN",
            Self::NoNewData => "NO_NEW_DATA",
            Self::NoSignificantChanges => "NO_SIGNIFICANT_CHANGES",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::PasswordChangeRequired => "PASSWORD_CHANGE_REQUIRED",
            Self::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Self::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::InternalServerError => "INTERNAL_SERVER_ERROR",
        }
    }
}

/// A resolver error with its code. Internal details never go in `message`.
/// (No `Display`: that would collide with async-graphql's blanket
/// conversion, which is exactly the leaky path this type replaces. No
/// `From<E: Display>` either, for the same reason.)
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_secs: Option<u64>,
    /// With PREMIUM_REQUIRED: the lowest plan that has the feature.
    pub required_tier: Option<&'static str>,
    /// Further `extensions` a refusal carries (`remainingSecs`,
    /// `lastAnalysis`, …), by name.
    pub details: Vec<(&'static str, async_graphql::Value)>,
}

pub const INTERNAL_MESSAGE: &str = "Internal server error";

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
            required_tier: None,
            details: Vec::new(),
        }
    }

    fn with(mut self, name: &'static str, value: impl Into<async_graphql::Value>) -> Self {
        self.details.push((name, value.into()));
        self
    }

    pub fn unavailable(retry_after: Duration) -> Self {
        let secs = retry_after.as_secs().max(1);
        Self {
            retry_after_secs: Some(secs),
            ..Self::new(
                ErrorCode::ServiceUnavailable,
                format!("Temporarily unavailable; retry in {secs} s"),
            )
        }
    }

    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        Self {
            message: format!("{field}: {}", message.into()),
            field: Some(field),
            ..Self::new(ErrorCode::BadUserInput, "")
        }
    }
}

impl From<&DomainError> for ApiError {
    fn from(e: &DomainError) -> Self {
        match e {
            DomainError::NotFound(what) => Self::new(ErrorCode::NotFound, format!("{what} not found")),
            DomainError::InvalidInput { field, message } => Self::bad_input(field.clone(), message.clone()),
            DomainError::Unauthenticated => Self::new(ErrorCode::Unauthenticated, "Not authenticated"),
            DomainError::Forbidden(m) => Self::new(ErrorCode::Forbidden, m.clone()),
            DomainError::Conflict(m) => Self::new(ErrorCode::Conflict, m.clone()),
            DomainError::RateLimited { retry_after } => {
                let secs = retry_after.as_secs().max(1);
                Self {
                    retry_after_secs: Some(secs),
                    ..Self::new(
                        ErrorCode::RateLimited,
                        format!("Too many attempts; retry in {secs} s"),
                    )
                }
            }
            DomainError::PremiumRequired { tier, .. } => Self {
                required_tier: Some(crate::domain::licensing::tier_code(*tier)),
                ..Self::new(ErrorCode::PremiumRequired, e.to_string())
            },
            DomainError::LicenceInactive(m) => Self::new(ErrorCode::LicenseInactive, m.clone()),
            DomainError::Cooldown {
                remaining,
                next_available,
            } => Self::new(ErrorCode::Cooldown, e.to_string())
                .with("remainingSecs", remaining.as_secs().max(1))
                .with("nextAvailable", next_available.to_rfc3339()),
            DomainError::NoNewData { last_analysis } => Self::new(ErrorCode::NoNewData, e.to_string())
                .with("lastAnalysis", last_analysis.to_rfc3339()),
            DomainError::NoSignificantChanges {
                last_analysis,
                previous_issues,
            } => Self::new(ErrorCode::NoSignificantChanges, e.to_string())
                .with("lastAnalysis", last_analysis.to_rfc3339())
                .with("previousIssues", previous_issues.clone()),
            DomainError::QuotaExceeded {
                limit,
                used,
                resets_at,
            } => Self::new(ErrorCode::QuotaExceeded, e.to_string())
                .with("limit", *limit)
                .with("used", *used)
                .with("resetsAt", resets_at.to_rfc3339()),
            DomainError::Unavailable { retry_after, .. } => {
                tracing::warn!(error = %e.report(), "resolver refused: storage unavailable");
                Self::unavailable(*retry_after)
            }
            DomainError::Upstream { message, .. } => {
                tracing::warn!(error = %e.report(), "resolver refused: upstream service failed");
                Self::new(ErrorCode::ServiceUnavailable, message.clone())
            }
            DomainError::Internal { .. } => {
                tracing::error!(error = %e.report(), "internal error in resolver");
                Self::new(ErrorCode::InternalServerError, INTERNAL_MESSAGE)
            }
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self::from(&e)
    }
}

/// Dataloaders share one error among every key of a batch.
impl From<Arc<DomainError>> for ApiError {
    fn from(e: Arc<DomainError>) -> Self {
        Self::from(&*e)
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        let ApiError {
            code,
            message,
            field,
            retry_after_secs,
            required_tier,
            details,
        } = e;
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            if let Some(field) = &field {
                ext.set("field", field.as_str());
            }
            if let Some(secs) = retry_after_secs {
                ext.set("retryAfter", secs);
            }
            if let Some(tier) = required_tier {
                ext.set("requiredTier", tier);
            }
            for (name, value) in &details {
                ext.set(*name, value.clone());
            }
        })
    }
}

// Fails to build if `ApiError` gains a conversion from a foreign error
// type (or `Display`): each trait listed must stay unimplemented. The check
// is the one `static_assertions::assert_not_impl_any!` makes: were a trait
// implemented, `some_item` would be ambiguous between the two impls and
// the build would stop with E0283 ("type annotations needed").
macro_rules! not_implemented_for_api_error {
    ($($tr:path),+ $(,)?) => {
        const _: fn() = || {$({
            trait AmbiguousIfImpl<A> {
                fn some_item() {}
            }
            impl<T: ?Sized> AmbiguousIfImpl<()> for T {}
            struct Invalid;
            impl<T: ?Sized + $tr> AmbiguousIfImpl<Invalid> for T {}
            let _ = <ApiError as AmbiguousIfImpl<_>>::some_item;
        })+};
    };
}

not_implemented_for_api_error!(
    std::fmt::Display,
    From<async_graphql::Error>,
    From<sea_orm::DbErr>,
    From<std::io::Error>,
    From<serde_json::Error>,
    From<String>,
    From<&'static str>,
    From<Box<dyn std::error::Error + Send + Sync>>,
    From<crate::infra::cache::CacheError>,
);

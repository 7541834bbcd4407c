//! The error codes clients can rely on (`extensions.code`).

use crate::domain::DomainError;
use async_graphql::ErrorExtensions;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    RateLimited,
    PremiumRequired,
    Cooldown,
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
            Self::Cooldown => "COOLDOWN",
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
/// conversion, which is exactly the leaky path this type replaces.)
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_secs: Option<u64>,
}

pub const INTERNAL_MESSAGE: &str = "Internal server error";

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after_secs: None,
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

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(what) => Self::new(ErrorCode::NotFound, format!("{what} not found")),
            DomainError::InvalidInput { field, message } => Self::bad_input(field, message),
            DomainError::Unauthenticated => Self::new(ErrorCode::Unauthenticated, "Not authenticated"),
            DomainError::Forbidden(m) => Self::new(ErrorCode::Forbidden, m),
            DomainError::Conflict(m) => Self::new(ErrorCode::Conflict, m),
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
            DomainError::Unavailable { retry_after } => {
                let secs = retry_after.as_secs().max(1);
                Self {
                    retry_after_secs: Some(secs),
                    ..Self::new(
                        ErrorCode::ServiceUnavailable,
                        format!("Temporarily unavailable; retry in {secs} s"),
                    )
                }
            }
            DomainError::Internal(detail) => {
                tracing::error!(%detail, "internal error in resolver");
                Self::new(ErrorCode::InternalServerError, INTERNAL_MESSAGE)
            }
        }
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        let ApiError {
            code,
            message,
            field,
            retry_after_secs,
        } = e;
        async_graphql::Error::new(message).extend_with(|_, ext| {
            ext.set("code", code.as_str());
            if let Some(field) = &field {
                ext.set("field", field.as_str());
            }
            if let Some(secs) = retry_after_secs {
                ext.set("retryAfter", secs);
            }
        })
    }
}

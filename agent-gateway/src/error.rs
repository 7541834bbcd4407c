//! Gateway errors as agents see them: a status and a JSON body
//! `{"error": "...", "code": "..."}`.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GatewayErrorCode {
    BadRequest,
    Unauthenticated,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    Conflict,
    PayloadTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    RateLimited,
    HeadersTooLarge,
    Unavailable,
    Internal,
}

impl GatewayErrorCode {
    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UriTooLong => StatusCode::URI_TOO_LONG,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The code for an error status that arrived without one (from a
    /// middleware or from hyper itself).
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => Self::Unauthenticated,
            StatusCode::FORBIDDEN => Self::Forbidden,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::REQUEST_TIMEOUT => Self::RequestTimeout,
            StatusCode::CONFLICT => Self::Conflict,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::URI_TOO_LONG => Self::UriTooLong,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::TOO_MANY_REQUESTS => Self::RateLimited,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => Self::HeadersTooLarge,
            StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            s if s.is_server_error() => Self::Internal,
            _ => Self::BadRequest,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct GatewayError {
    pub code: GatewayErrorCode,
    pub message: String,
    /// Sent as `Retry-After` (seconds).
    pub retry_after: Option<u64>,
}

impl GatewayError {
    pub fn new(code: GatewayErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    code: GatewayErrorCode,
}

/// The JSON body of an error, for answers written outside axum.
pub(crate) fn json_body(code: GatewayErrorCode, message: &str) -> Vec<u8> {
    serde_json::to_vec(&Body { error: message, code }).unwrap_or_default()
}

/// Gives an error response that has no JSON body (tower-http's 413 in
/// plain text, its empty 415 for an unknown `Content-Encoding`, axum's
/// empty 405) the gateway's `{error, code}` body, keeping status and
/// headers such as `Allow` and `Accept-Encoding`.
pub async fn json_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let message = status.canonical_reason().unwrap_or("Error");
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Response::from_parts(
        parts,
        axum::body::Body::from(json_body(GatewayErrorCode::for_status(status), message)),
    )
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let body = Body {
            error: &self.message,
            code: self.code,
        };
        let mut response = (self.code.status(), Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_status_and_code() {
        let resp = GatewayError::new(GatewayErrorCode::RateLimited, "slow down").into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        let body = serde_json::to_value(Body {
            error: "slow down",
            code: GatewayErrorCode::RateLimited,
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "slow down", "code": "RATE_LIMITED"})
        );
    }
}

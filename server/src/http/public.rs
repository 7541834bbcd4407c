//! Public REST routes: `POST /api/public/contact`,
//! `GET /api/public/landing-stats` and `GET /status/external`.

use super::{
    errors::{json_error, unavailable},
    graphql::request_meta,
};
use crate::{
    app::AppState,
    domain::{
        public::{
            contact::{ContactInput, TURNSTILE_FIELD},
            landing,
        },
        status::external,
        DomainError,
    },
    serve::RemoteAddr,
};
use axum::{
    body::Body,
    extract::State,
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::{json, Map, Value};

/// A contact form is a few KiB at most; the route reads no further.
pub const CONTACT_MAX_BODY: usize = 64 * 1024;

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

fn validation_error(field: &str, message: &str) -> Response {
    let (code, text) = if field == TURNSTILE_FIELD {
        ("TURNSTILE_FAILED", message.to_owned())
    } else {
        ("VALIDATION_ERROR", format!("{field} {message}"))
    };
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": text, "code": code, "field": field })),
    )
        .into_response()
}

/// Each text field of the body; `Err` names a field of another type.
fn input_from(object: &Map<String, Value>) -> Result<ContactInput, &'static str> {
    let text = |field: &'static str| match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(field),
    };
    Ok(ContactInput {
        name: text("name")?,
        email: text("email")?,
        company: text("company")?,
        subject: text("subject")?,
        message: text("message")?,
        language: text("language")?,
        turnstile_token: text("turnstile_token")?,
        website: text("website")?,
    })
}

pub async fn contact(
    State(state): State<AppState>,
    remote: Option<axum::Extension<RemoteAddr>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let meta = request_meta(&state, &headers, remote.as_deref());
    let form = &state.services.contact;
    // Counted before anything is read: malformed and refused submissions
    // spend the budget too.
    if let Err(e) = form.admit(meta.ip.as_deref()).await {
        return refusal(e);
    }
    if !is_json(&headers) {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "Send the form as application/json",
        );
    }
    let bytes = match axum::body::to_bytes(body, CONTACT_MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("The form must be at most {} KiB", CONTACT_MAX_BODY / 1024),
            )
        }
    };
    let object = match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(o)) => o,
        _ => return validation_error("body", "must be a JSON object"),
    };
    let input = match input_from(&object) {
        Ok(i) => i,
        Err(field) => return validation_error(field, "must be a string"),
    };
    match form.submit(input, &meta).await {
        Ok(_) => Json(json!({
            "success": true,
            "message": "Message received; we will get back to you shortly.",
        }))
        .into_response(),
        Err(e) => refusal(e),
    }
}

fn refusal(e: DomainError) -> Response {
    match e {
        DomainError::InvalidInput { field, message } => validation_error(&field, &message),
        DomainError::RateLimited { retry_after } => {
            let secs = retry_after.as_secs().max(1);
            let mut response = json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!("Too many messages from this address; retry in {secs} s"),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            response
        }
        DomainError::Upstream { message, .. } => {
            json_error(StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", message)
        }
        DomainError::Unavailable { retry_after, .. } => unavailable(retry_after),
        e => {
            tracing::error!(error = %e.report(), "contact form failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "The message could not be sent",
            )
        }
    }
}

pub async fn landing_stats(State(state): State<AppState>) -> Response {
    match state.services.landing.stats().await {
        Ok(stats) => {
            let mut response = Json(stats).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={}", landing::TTL.as_secs())) {
                response.headers_mut().insert(header::CACHE_CONTROL, v);
            }
            response
        }
        Err(DomainError::Unavailable { retry_after, .. }) => unavailable(retry_after),
        Err(e) => {
            tracing::error!(error = %e.report(), "landing stats failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "Statistics unavailable",
            )
        }
    }
}

pub async fn external(State(state): State<AppState>) -> Response {
    let report = state.services.external_monitors.report().await;
    let ttl = if report.error.is_some() {
        external::FAILURE_TTL
    } else {
        external::TTL
    };
    let mut response = Json(report).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={}", ttl.as_secs())) {
        response.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    response
}

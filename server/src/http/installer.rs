//! `GET /api/installer/windows`, `/api/installer/{platform}/{arch}`: the
//! active stable agent build for an install-token holder, as a 302 to
//! where the build is published. The token travels as `?token=`, since
//! the one-line install commands have nowhere else to put it; checking it
//! counts no use (enrolment does).

use super::{
    errors::{json_error, unavailable},
    graphql::request_meta,
};
use crate::{app::AppState, domain::DomainError, serve::RemoteAddr};
use axum::{
    extract::{Path, Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn windows(
    state: State<AppState>,
    remote: Option<axum::Extension<RemoteAddr>>,
    headers: HeaderMap,
    query: Query<TokenQuery>,
) -> Response {
    download(state, remote, headers, "windows", "amd64", query).await
}

pub async fn by_target(
    state: State<AppState>,
    remote: Option<axum::Extension<RemoteAddr>>,
    headers: HeaderMap,
    Path((platform, arch)): Path<(String, String)>,
    query: Query<TokenQuery>,
) -> Response {
    download(state, remote, headers, &platform, &arch, query).await
}

async fn download(
    State(state): State<AppState>,
    remote: Option<axum::Extension<RemoteAddr>>,
    headers: HeaderMap,
    platform: &str,
    arch: &str,
    Query(query): Query<TokenQuery>,
) -> Response {
    let meta = request_meta(&state, &headers, remote.as_deref());
    let found = state
        .services
        .installers
        .build_for(query.token.as_deref(), platform, arch, meta.ip.as_deref())
        .await;
    let build = match found {
        Ok(build) => build,
        Err(e) => return refusal(e),
    };
    let filename = match build.platform.as_str() {
        "windows" => format!("optralis-agent-{}-{}.exe", build.version, build.architecture),
        _ => format!("optralis-agent-{}-linux-{}", build.version, build.architecture),
    };
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, build.download_url),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            // What the client should check the file against, and call it.
            (
                header::HeaderName::from_static("x-checksum-sha256"),
                build.checksum_sha256,
            ),
            (header::HeaderName::from_static("x-agent-version"), build.version),
            (header::HeaderName::from_static("x-agent-filename"), filename),
        ],
    )
        .into_response()
}

fn refusal(e: DomainError) -> Response {
    match e {
        DomainError::Unauthenticated => json_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "Install token missing, invalid, expired, revoked or used up",
        ),
        DomainError::InvalidInput { field, message } => json_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("No installer for this {field}: {message}"),
        ),
        DomainError::NotFound(what) => json_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("No {what} is published"),
        ),
        DomainError::RateLimited { retry_after } => {
            let mut response = json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "Too many installer requests from this address",
            );
            if let Ok(v) = header::HeaderValue::from_str(&retry_after.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        DomainError::Unavailable { retry_after, .. } => unavailable(retry_after),
        e => {
            tracing::error!(error = %e.report(), "installer download failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "Download failed",
            )
        }
    }
}

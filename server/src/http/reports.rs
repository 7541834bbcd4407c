//! `GET /api/reports/{id}.html`: a stored analysis as a styled,
//! self-contained HTML page, for the tenant that ran it. Authenticated
//! like GraphQL (Bearer or the session cookie); another tenant's id is
//! not found.

use super::{
    errors::{json_error, unavailable},
    export::signed_in,
};
use crate::{
    app::AppState,
    domain::{analysis::report, DomainError},
    serve::RemoteAddr,
};
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use uuid::Uuid;

/// The page's inline styles are its only resource.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "NOT_FOUND", "report not found")
}

pub async fn html(
    State(state): State<AppState>,
    remote: Option<axum::Extension<RemoteAddr>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let principal = match signed_in(&state, &headers, remote.as_deref()).await {
        Ok(p) => p,
        Err(refusal) => return refusal,
    };
    let Some(id) = file.strip_suffix(".html").and_then(|id| Uuid::parse_str(id).ok()) else {
        return not_found();
    };
    let rendered = match state.services.analyses.get(principal.client_id, id).await {
        Ok(analysis) => report::render(&analysis).map(|html| (analysis, html)),
        Err(e) => Err(e),
    };
    match rendered {
        Ok((analysis, html)) => {
            let filename = format!(
                "optralis-{}-{}-{}.html",
                analysis.kind.code(),
                analysis.created_at.format("%Y%m%d-%H%M"),
                &analysis.id.simple().to_string()[..8],
            );
            (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{filename}\""),
                    ),
                    (header::CACHE_CONTROL, "no-store".to_owned()),
                    (header::CONTENT_SECURITY_POLICY, CSP.to_owned()),
                ],
                html,
            )
                .into_response()
        }
        Err(DomainError::NotFound(_)) => not_found(),
        Err(DomainError::Unavailable { retry_after, .. }) => unavailable(retry_after),
        Err(e) => {
            tracing::error!(error = %e.report(), "report download failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL_SERVER_ERROR",
                "Report failed",
            )
        }
    }
}

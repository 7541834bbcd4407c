//! `GET /status` (JSON, or the status page for browsers) and
//! `GET /status/incidents`. Both always answer 200: with the database away
//! they say so, from what this instance last knew.

use crate::app::AppState;
use axum::{
    extract::State,
    http::{header, HeaderMap, HeaderValue},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

pub async fn status(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if super::status_page::wants_html(&headers) {
        return super::status_page::page(&state);
    }
    status_json(&state).await
}

/// Public and the same for everyone for a minute: shared caches may keep it.
const CACHE_CONTROL: &str = "public, max-age=60";

async fn status_json(state: &AppState) -> Response {
    let json = state.services.status_board.report_json().await;
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL)),
            // The same URL is the page for browsers: a shared cache must
            // not hand this JSON to them.
            (header::VARY, HeaderValue::from_static("Accept")),
        ],
        json,
    )
        .into_response()
}

pub async fn incidents(State(state): State<AppState>) -> Response {
    let list = state.services.status_board.incidents.latest().await;
    let incidents: Vec<_> = list
        .incidents
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "service_name": i.service_name,
                "status": i.status,
                "started_at": i.started_at,
                "resolved_at": i.resolved_at,
                "description": i.description,
            })
        })
        .collect();
    (
        [(header::CACHE_CONTROL, "public, max-age=30")],
        Json(json!({ "incidents": incidents, "total": list.total })),
    )
        .into_response()
}

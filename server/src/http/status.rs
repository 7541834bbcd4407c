//! `GET /status` (JSON, or the status page for browsers) and
//! `GET /status/incidents`.

use super::json_error;
use crate::app::AppState;
use axum::{
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};

pub async fn status(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if super::status_page::wants_html(&headers) {
        return super::status_page::page(&state);
    }
    status_json(&state).await
}

async fn status_json(_state: &AppState) -> Response {
    json_error(StatusCode::NOT_IMPLEMENTED, "NOT_IMPLEMENTED", "not built yet")
}

pub async fn incidents(State(_state): State<AppState>) -> Response {
    json_error(StatusCode::NOT_IMPLEMENTED, "NOT_IMPLEMENTED", "not built yet")
}

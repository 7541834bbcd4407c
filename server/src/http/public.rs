//! Public REST routes: `POST /api/public/contact`,
//! `GET /api/public/landing-stats` and `GET /status/external`.

use super::json_error;
use crate::app::AppState;
use axum::{extract::State, http::StatusCode, response::Response};

pub async fn contact(State(_state): State<AppState>) -> Response {
    json_error(StatusCode::NOT_IMPLEMENTED, "NOT_IMPLEMENTED", "not built yet")
}

pub async fn landing_stats(State(_state): State<AppState>) -> Response {
    json_error(StatusCode::NOT_IMPLEMENTED, "NOT_IMPLEMENTED", "not built yet")
}

pub async fn external(State(_state): State<AppState>) -> Response {
    json_error(StatusCode::NOT_IMPLEMENTED, "NOT_IMPLEMENTED", "not built yet")
}

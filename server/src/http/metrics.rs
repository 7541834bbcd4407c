//! `GET /metrics`: Prometheus text exposition, for `METRICS_TOKEN` bearers
//! or, without a token configured, loopback clients only.

use super::json_error;
use crate::app::AppState;
use axum::{extract::State, http::StatusCode, response::Response};

pub async fn metrics(State(_state): State<AppState>) -> Response {
    json_error(StatusCode::NOT_IMPLEMENTED, "NOT_IMPLEMENTED", "not built yet")
}

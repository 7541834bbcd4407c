//! The status page for browsers: one self-contained HTML document served
//! from the binary; it reads the `/status*` JSON routes itself.
//!
//! Its style and script are inline (no other request than the JSON, no
//! CDN, no web font) and allowed by their sha256 in the page's own
//! Content-Security-Policy, so no other inline code could run.

use crate::app::AppState;
use axum::{
    http::{header, HeaderMap, HeaderValue},
    response::{Html, IntoResponse, Response},
};
use base64::{engine::general_purpose::STANDARD, Engine};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

const TEMPLATE: &str = include_str!("../../assets/status/status.html");
const STYLE: &str = include_str!("../../assets/status/status.css");
const SCRIPT: &str = include_str!("../../assets/status/status.js");

struct Page {
    html: String,
    policy: HeaderValue,
}

/// A CSP source allowing exactly this inline code.
fn csp_hash(code: &str) -> String {
    format!("'sha256-{}'", STANDARD.encode(Sha256::digest(code.as_bytes())))
}

static PAGE: LazyLock<Page> = LazyLock::new(|| {
    let html = TEMPLATE.replace("{{style}}", STYLE).replace("{{script}}", SCRIPT);
    // `img-src data:` is the empty favicon, which spares a request that
    // would only answer 404.
    let policy = format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; img-src data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE),
    );
    Page {
        html,
        policy: HeaderValue::from_str(&policy).expect("a CSP of hashes is a valid header"),
    }
});

/// Whether the client prefers HTML (a browser) to JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

pub fn page(_state: &AppState) -> Response {
    let mut response = Html(PAGE.html.clone()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, PAGE.policy.clone());
    // The same URL answers JSON to other clients: caches must keep both.
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_one_document_with_its_code_inline() {
        assert!(!PAGE.html.contains("{{"), "a placeholder was left in the page");
        assert_eq!(PAGE.html.matches("<script").count(), 1);
        assert_eq!(PAGE.html.matches("<style").count(), 1);
        // No external asset: nothing is loaded from another URL.
        for needle in [
            "src=\"http",
            "href=\"http",
            "@import",
            "url(http",
            "<link rel=\"stylesheet\"",
        ] {
            assert!(!PAGE.html.contains(needle), "{needle}");
        }
        // The inline code must not end its own element early.
        assert!(!SCRIPT.contains("</script"));
        assert!(!STYLE.contains("</style"));
    }
}

//! GraphiQL for integrators at `GET /graphql` (browsers only, unless
//! `GRAPHIQL=false`), with every asset served from the binary so the
//! explorer works offline and under a CSP that allows no other origin.
//!
//! async-graphql's `GraphiQLSource` is not used: its page loads React and
//! GraphiQL from unpkg.com, which neither works offline nor passes a
//! `script-src 'self'` policy. Where the vendored files come from is
//! written down in `server/assets/README.md`.

use super::json_error;
use crate::app::AppState;
use axum::{
    extract::{Path, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::{Html, IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Where the assets are served; each file name carries a hash of its
/// content, so a cached copy never goes stale and may be kept for a year.
pub const ASSETS_PREFIX: &str = "/graphql/assets/";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

struct Asset {
    /// The file's name in `server/assets/graphiql/`.
    source: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const SOURCES: [Asset; 6] = [
    Asset {
        source: "react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/react.production.min.js"),
    },
    Asset {
        source: "react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    },
    Asset {
        source: "graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        source: "graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        source: "explorer.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/explorer.js"),
    },
    Asset {
        source: "explorer.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/graphiql/explorer.css"),
    },
];

/// `graphiql.min.css` → `graphiql.min.0123456789ab.css`.
fn served_name(asset: &Asset) -> String {
    let digest = hex::encode(Sha256::digest(asset.bytes));
    let (stem, ext) = asset.source.rsplit_once('.').unwrap_or((asset.source, ""));
    format!("{stem}.{}.{ext}", &digest[..12])
}

struct Explorer {
    /// Served name → asset.
    assets: Vec<(String, &'static Asset)>,
    page: String,
}

static EXPLORER: LazyLock<Explorer> = LazyLock::new(|| {
    let assets: Vec<(String, &'static Asset)> = SOURCES.iter().map(|a| (served_name(a), a)).collect();
    let url = |source: &str| {
        let (name, _) = assets
            .iter()
            .find(|(_, a)| a.source == source)
            .expect("every asset the page names is vendored");
        format!("{ASSETS_PREFIX}{name}")
    };
    let page = include_str!("../../assets/graphiql/explorer.html")
        .replace("{{graphiql.css}}", &url("graphiql.min.css"))
        .replace("{{explorer.css}}", &url("explorer.css"))
        .replace("{{react.js}}", &url("react.production.min.js"))
        .replace("{{react-dom.js}}", &url("react-dom.production.min.js"))
        .replace("{{graphiql.js}}", &url("graphiql.min.js"))
        .replace("{{explorer.js}}", &url("explorer.js"));
    Explorer { assets, page }
});

/// Whether `GET /graphql` should answer with the explorer: enabled, asked
/// for by a browser, and no `query` to run (a GET with one always runs
/// it, whatever the client accepts).
pub fn wanted(enabled: bool, headers: &HeaderMap, raw_query: Option<&str>) -> bool {
    let has_query =
        raw_query.is_some_and(|q| url::form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == "query"));
    enabled && !has_query && super::status_page::wants_html(headers)
}

/// A `Host` header fit to be written into the policy; anything else (a
/// `;` would start a new directive) leaves the WebSocket sources out and
/// the explorer without subscriptions rather than the policy forged.
fn policy_host(headers: &HeaderMap) -> Option<&str> {
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let valid = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    valid.then_some(host)
}

fn content_security_policy(headers: &HeaderMap) -> String {
    // `connect-src 'self'` covers ws(s) to the same host only from CSP
    // level 3 on; older engines need the WebSocket origins spelled out.
    let sockets = policy_host(headers)
        .map(|host| format!(" ws://{host} wss://{host}"))
        .unwrap_or_default();
    // GraphiQL's bundled stylesheet embeds its fonts and icons as data:
    // URLs; its editor sets element styles from script (CSSOM), which
    // `style-src` does not govern.
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; font-src data:; img-src 'self' data:; \
         connect-src 'self'{sockets}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The explorer page. Not cached: it names the current assets.
pub fn page(headers: &HeaderMap) -> Response {
    let mut response = Html(EXPLORER.page.clone()).into_response();
    let headers_out = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(headers)) {
        headers_out.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers_out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // `/graphql` answers JSON to other clients.
    headers_out.insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// `GET /graphql/assets/{file}`: the vendored files and the explorer's own
/// script and style, by their hashed names.
pub async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    if !state.config.graphiql {
        return json_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The GraphQL explorer is turned off",
        );
    }
    let Some((_, asset)) = EXPLORER.assets.iter().find(|(name, _)| *name == file) else {
        return json_error(StatusCode::NOT_FOUND, "NOT_FOUND", "No such explorer asset");
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
        ],
        asset.bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_every_asset_by_its_hashed_name() {
        for (name, asset) in &EXPLORER.assets {
            assert!(
                EXPLORER.page.contains(&format!("{ASSETS_PREFIX}{name}")),
                "{}",
                asset.source
            );
        }
        assert!(
            !EXPLORER.page.contains("{{"),
            "a placeholder was left in the page"
        );
    }

    #[test]
    fn only_a_plain_host_reaches_the_policy() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("api.example.com:8080"));
        assert!(content_security_policy(&headers)
            .contains("ws://api.example.com:8080 wss://api.example.com:8080;"));
        headers.insert(header::HOST, HeaderValue::from_static("x; script-src *"));
        let policy = content_security_policy(&headers);
        assert!(!policy.contains("script-src *"));
        assert!(policy.contains("connect-src 'self';"));
    }

    #[test]
    fn a_get_with_a_query_runs_it_even_for_browsers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html,application/xhtml+xml"),
        );
        assert!(wanted(true, &headers, None));
        assert!(wanted(true, &headers, Some("")));
        assert!(!wanted(true, &headers, Some("query=%7B__typename%7D")));
        assert!(!wanted(false, &headers, None));
        assert!(!wanted(true, &HeaderMap::new(), None));
    }
}

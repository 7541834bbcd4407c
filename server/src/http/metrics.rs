//! `GET /metrics`: Prometheus text exposition, for `METRICS_TOKEN` bearers
//! or, without a token configured, loopback clients only; and the layer
//! that counts the main port's requests.

use super::json_error;
use crate::{app::AppState, domain::crypto::constant_time_eq_bytes, infra::metrics, serve::RemoteAddr};
use axum::{
    extract::{MatchedPath, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{IntoResponse, Response},
    Extension,
};
use sha2::{Digest, Sha256};
use std::time::Instant;

/// The text format's media type, as Prometheus asks for it.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Headers a reverse proxy adds: a relayed request comes from the proxy's
/// loopback address, but not from this host's operator.
const PROXY_HEADERS: [&str; 7] = [
    "x-forwarded-for",
    "forwarded",
    "x-real-ip",
    "via",
    "x-forwarded-host",
    "x-forwarded-proto",
    "cf-connecting-ip",
];

pub async fn metrics(
    State(state): State<AppState>,
    remote: Option<Extension<RemoteAddr>>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) = refusal(state.config.metrics_token.as_deref(), &headers, remote.as_deref()) {
        return refusal;
    }
    let services = &state.services;
    let stats = services.status.server_stats();
    let gauges = metrics::Gauges {
        websocket_connections: stats.websocket_connections,
        live_subscriptions: stats.live_subscriptions,
        resident_memory_bytes: stats.resident_memory_bytes,
        started_at_unix_seconds: services.status.started_at().timestamp_millis() as f64 / 1000.0,
        pool: services.infra.db.pool_figures(),
        outbox_pending: match services.outbox.pending().await {
            Ok(n) => Some(n),
            Err(e) => {
                e.log("metrics: outbox depth");
                None
            }
        },
    };
    let Some(body) = metrics::render(&gauges) else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "Metrics are not recorded in this process",
        );
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// Why the caller may not scrape, if it may not.
fn refusal(token: Option<&str>, headers: &HeaderMap, remote: Option<&RemoteAddr>) -> Option<Response> {
    match token {
        Some(expected) => {
            // Hashed first, so the comparison takes the same time whatever
            // the lengths.
            let granted = super::graphql::bearer(headers).is_some_and(|presented| {
                constant_time_eq_bytes(
                    &Sha256::digest(presented.as_bytes()),
                    &Sha256::digest(expected.as_bytes()),
                )
            });
            if granted {
                return None;
            }
            let mut response = json_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "A valid Bearer token is required to read metrics",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Some(response)
        }
        None => {
            let loopback = remote.is_some_and(|r| r.0.ip().to_canonical().is_loopback());
            let relayed = PROXY_HEADERS.iter().any(|h| headers.contains_key(*h));
            (!loopback || relayed).then(|| {
                json_error(
                    StatusCode::FORBIDDEN,
                    "FORBIDDEN",
                    "Metrics are served to local clients only unless METRICS_TOKEN is set",
                )
            })
        }
    }
}

/// Counts each request by its route template (never the raw path, which
/// a client could make unbounded), method and status, with its latency.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let response = next.run(request).await;
    metrics::http_request(
        route.as_ref().map(MatchedPath::as_str),
        &method,
        response.status(),
        started.elapsed(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::extract::ConnectInfo;

    fn peer(addr: &str) -> RemoteAddr {
        ConnectInfo(addr.parse().unwrap())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn without_a_token_only_direct_loopback_peers_scrape() {
        let none = headers(&[]);
        for local in ["127.0.0.1:5000", "[::1]:5000", "[::ffff:127.0.0.1]:5000"] {
            assert!(refusal(None, &none, Some(&peer(local))).is_none(), "{local}");
        }
        for (remote, hdrs) in [
            (Some(peer("10.0.0.7:5000")), headers(&[])),
            (None, headers(&[])),
            (
                Some(peer("127.0.0.1:5000")),
                headers(&[("x-forwarded-for", "203.0.113.9")]),
            ),
            (
                Some(peer("127.0.0.1:5000")),
                headers(&[("forwarded", "for=203.0.113.9")]),
            ),
            (
                Some(peer("127.0.0.1:5000")),
                headers(&[("x-real-ip", "203.0.113.9")]),
            ),
            (Some(peer("127.0.0.1:5000")), headers(&[("via", "1.1 nginx")])),
            (
                Some(peer("127.0.0.1:5000")),
                headers(&[("x-forwarded-proto", "https")]),
            ),
        ] {
            let refused = refusal(None, &hdrs, remote.as_ref()).expect("refused");
            assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        }
    }

    #[test]
    fn with_a_token_every_peer_needs_it() {
        let local = peer("127.0.0.1:5000");
        let refused = refusal(Some("s3cret"), &headers(&[]), Some(&local)).expect("refused");
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(refused.headers()[header::WWW_AUTHENTICATE], "Bearer");
        for wrong in ["Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret"] {
            let refused = refusal(
                Some("s3cret"),
                &headers(&[("authorization", wrong)]),
                Some(&local),
            );
            assert_eq!(refused.expect(wrong).status(), StatusCode::UNAUTHORIZED);
        }
        let remote = peer("203.0.113.9:5000");
        assert!(refusal(
            Some("s3cret"),
            &headers(&[("authorization", "Bearer s3cret")]),
            Some(&remote)
        )
        .is_none());
    }
}

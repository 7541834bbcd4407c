//! The axum router: `/graphql` (+ `/graphql/ws`), `/health`, and the
//! middleware stack, set in one place.

mod errors;
mod export;
mod graphiql;
mod graphql;
mod health;
mod installer;
mod metrics;
mod public;
mod reports;
mod status;
mod status_page;

use crate::{app::AppState, config::CorsOrigins};
use axum::{
    extract::DefaultBodyLimit,
    handler::Handler,
    http::{header, HeaderName, HeaderValue, Method, StatusCode},
    middleware,
    routing::{get, post},
    Router,
};
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::{DefaultOnResponse, TraceLayer},
};

pub use errors::json_error;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

pub fn router(state: AppState) -> Router {
    let timeout = state.config.request_timeout;
    let cors = cors_layer(&state.config.cors_origins);
    Router::new()
        .route(
            "/graphql",
            get(graphql::get).post(graphql::post.layer(middleware::from_fn(graphql::single_json_operation))),
        )
        .route("/graphql/ws", get(graphql::websocket))
        .route("/graphql/assets/{file}", get(graphiql::asset))
        .route("/health", get(health::health))
        .route("/status", get(status::status))
        .route("/status/incidents", get(status::incidents))
        .route("/status/external", get(public::external))
        .route("/api/public/contact", post(public::contact))
        .route("/api/public/landing-stats", get(public::landing_stats))
        .route("/metrics", get(metrics::metrics))
        .route("/api/export/machines", get(export::machines))
        .route("/api/reports/{file}", get(reports::html))
        .route("/api/installer/windows", get(installer::windows))
        .route("/api/installer/{platform}/{arch}", get(installer::by_target))
        .fallback(errors::not_found)
        .method_not_allowed_fallback(errors::method_not_allowed)
        .with_state(state.clone())
        .merge(crate::gateway::public_router(state))
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(HeaderName::from_static(REQUEST_ID_HEADER), MakeRequestUuid))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(|req: &axum::extract::Request| {
                            let id = req
                                .headers()
                                .get(REQUEST_ID_HEADER)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("-");
                            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
                        })
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
                )
                .layer(PropagateRequestIdLayer::new(HeaderName::from_static(REQUEST_ID_HEADER)))
                .layer(CatchPanicLayer::custom(errors::panic_response))
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_FRAME_OPTIONS,
                    HeaderValue::from_static("DENY"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("strict-origin-when-cross-origin"),
                ))
                .layer(SetResponseHeaderLayer::if_not_present(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
                ))
                .layer(cors)
                .layer(CompressionLayer::new().gzip(true).no_br().no_deflate().no_zstd())
                .map_response(errors::json_for_bare_errors)
                .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
                .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
                .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        // Outermost, so the count sees the status the client gets (a 408
        // from the timeout, a 500 from a panic) and the latency includes
        // every layer.
        .layer(middleware::from_fn(metrics::track))
}

fn cors_layer(origins: &CorsOrigins) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-csrf-token"),
            HeaderName::from_static(REQUEST_ID_HEADER),
        ])
        .expose_headers([HeaderName::from_static(REQUEST_ID_HEADER)])
        .max_age(Duration::from_secs(600));
    match origins {
        // Without a list, any page may call with a Bearer token but never
        // with cookies: credentials require an explicit origin.
        CorsOrigins::Any => base.allow_origin(AllowOrigin::any()),
        CorsOrigins::List(list) => base
            .allow_origin(AllowOrigin::list(
                list.iter().filter_map(|o| HeaderValue::from_str(o).ok()),
            ))
            .allow_credentials(true),
    }
}

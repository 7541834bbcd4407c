//! Routes: public enrolment and CRL, and the mTLS-only agent API.

use crate::{
    tls::{PeerCertificate, RemoteAddr},
    AgentBackend, BootstrapRequest, CertificateState, ClientCertificate, CnError, CollectRequest,
    GatewayError, GatewayErrorCode, HeartbeatRequest, VersionQuery,
};
use axum::{
    extract::{
        rejection::{JsonRejection, QueryRejection},
        FromRequest, Query, Request, State,
    },
    http::header,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{get, post},
    Extension, Json, Router,
};
use serde::de::DeserializeOwned;
use std::{sync::Arc, time::Duration};

/// Largest accepted request body (after decompression).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

type Backend = Arc<dyn AgentBackend>;

/// JSON body whose errors are 400 `{error, code}` naming the field.
pub struct AgentJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AgentJson<T> {
    type Rejection = GatewayError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(GatewayError::new(
                if matches!(rejection, JsonRejection::MissingJsonContentType(_)) {
                    GatewayErrorCode::BadRequest
                } else if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    GatewayErrorCode::PayloadTooLarge
                } else {
                    GatewayErrorCode::BadRequest
                },
                rejection.body_text(),
            )),
        }
    }
}

/// The public routes the main port serves too: the CRL and the latest
/// agent version.
pub fn public_router(backend: Backend) -> Router {
    Router::new()
        .route("/api/public/crl", get(crl))
        .route("/api/public/latest-version", get(public_latest_version))
        .with_state(backend)
}

/// The gateway's routes. `request_timeout` bounds each request from its
/// headers to its answer, reading the body included: a client trickling a
/// body gets 408 and its connection closed instead of holding it open.
pub fn router(backend: Backend, request_timeout: Duration) -> Router {
    let agent = Router::new()
        .route("/agent/heartbeat", post(heartbeat))
        .route("/agent/collect", post(collect))
        .route("/agent/certificate/renew", post(renew))
        .route("/agent/config", get(config))
        .route("/agent/config/collectors", get(collectors))
        .route("/agent/latest-version", get(agent_latest_version))
        .route_layer(middleware::from_fn_with_state(backend.clone(), require_agent));
    Router::new()
        .route("/api/public/bootstrap", post(bootstrap))
        .route("/agent/requirements", get(requirements))
        .merge(agent)
        .fallback(|| async { GatewayError::new(GatewayErrorCode::NotFound, "No such route") })
        .with_state(backend.clone())
        .merge(public_router(backend))
        // After every route is in: it applies to the routes present.
        .method_not_allowed_fallback(|| async {
            GatewayError::new(
                GatewayErrorCode::MethodNotAllowed,
                "Method not allowed on this route",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(tower_http::decompression::RequestDecompressionLayer::new().gzip(true))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(middleware::map_response(crate::error::json_for_bare_errors))
        .layer(middleware::from_fn_with_state(request_timeout, deadline))
}

async fn deadline(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => GatewayError::new(
            GatewayErrorCode::RequestTimeout,
            format!("The request took longer than {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

/// Admits only connections that presented a certificate from our CA whose
/// CN is `client_id:machine_id`, unexpired and not revoked (checked on every
/// request, so a revocation applies to open connections too).
async fn require_agent(
    State(backend): State<Backend>,
    peer: Option<Extension<PeerCertificate>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(der) = peer.and_then(|Extension(p)| p.0) else {
        return GatewayError::new(
            GatewayErrorCode::Unauthenticated,
            "A client certificate is required",
        )
        .into_response();
    };
    let cert = match ClientCertificate::from_der(der.as_ref()) {
        Ok(c) => c,
        Err(CnError::Legacy) => {
            return GatewayError::new(GatewayErrorCode::Forbidden, CnError::Legacy.to_string())
                .into_response()
        }
        Err(e) => return GatewayError::new(GatewayErrorCode::Unauthenticated, e.to_string()).into_response(),
    };
    if cert.not_after <= chrono::Utc::now() {
        return GatewayError::new(GatewayErrorCode::Unauthenticated, "Certificate expired").into_response();
    }
    match backend.certificate_state(&cert.identity, &cert.serial).await {
        Ok(CertificateState::Valid) => {}
        Ok(CertificateState::Revoked) => {
            return GatewayError::new(GatewayErrorCode::Forbidden, "Certificate revoked").into_response()
        }
        Ok(CertificateState::Unknown) => {
            return GatewayError::new(GatewayErrorCode::Forbidden, "Unknown certificate").into_response()
        }
        Err(e) => return e.into_response(),
    }
    if !backend.allow(&cert.identity).await {
        return GatewayError::new(
            GatewayErrorCode::RateLimited,
            "Too many requests from this machine",
        )
        .into_response();
    }
    req.extensions_mut().insert(cert);
    next.run(req).await
}

fn remote_ip(remote: Option<Extension<RemoteAddr>>) -> Option<std::net::IpAddr> {
    remote.map(|Extension(r)| r.0.ip())
}

async fn bootstrap(
    State(backend): State<Backend>,
    remote: Option<Extension<RemoteAddr>>,
    AgentJson(request): AgentJson<BootstrapRequest>,
) -> Result<Response, GatewayError> {
    let answer = backend.bootstrap(request, remote_ip(remote)).await?;
    Ok(Json(answer).into_response())
}

async fn heartbeat(
    State(backend): State<Backend>,
    remote: Option<Extension<RemoteAddr>>,
    Extension(cert): Extension<ClientCertificate>,
    AgentJson(request): AgentJson<HeartbeatRequest>,
) -> Result<Response, GatewayError> {
    let answer = backend
        .heartbeat(cert.identity, &cert.serial, request, remote_ip(remote))
        .await?;
    Ok(Json(answer).into_response())
}

async fn collect(
    State(backend): State<Backend>,
    Extension(cert): Extension<ClientCertificate>,
    AgentJson(request): AgentJson<CollectRequest>,
) -> Result<Response, GatewayError> {
    Ok(Json(backend.collect(cert.identity, request).await?).into_response())
}

async fn renew(
    State(backend): State<Backend>,
    remote: Option<Extension<RemoteAddr>>,
    Extension(cert): Extension<ClientCertificate>,
) -> Result<Response, GatewayError> {
    let answer = backend
        .renew(cert.identity, &cert.serial, remote_ip(remote))
        .await?;
    Ok(Json(answer).into_response())
}

async fn config(
    State(backend): State<Backend>,
    Extension(cert): Extension<ClientCertificate>,
) -> Result<Response, GatewayError> {
    Ok(Json(backend.config(cert.identity).await?).into_response())
}

/// The `hostname` query parameter older agents send is ignored: the
/// certificate names the machine.
async fn collectors(
    State(backend): State<Backend>,
    Extension(cert): Extension<ClientCertificate>,
) -> Result<Response, GatewayError> {
    Ok(Json(backend.collectors(cert.identity).await?).into_response())
}

async fn agent_latest_version(
    State(backend): State<Backend>,
    Extension(cert): Extension<ClientCertificate>,
    query: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<Response, GatewayError> {
    let Query(query) = query.map_err(bad_query)?;
    Ok(Json(backend.latest_version(Some(cert.identity), query).await?).into_response())
}

/// Public: the dashboard's install page shows it.
async fn public_latest_version(
    State(backend): State<Backend>,
    query: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<Response, GatewayError> {
    let Query(query) = query.map_err(bad_query)?;
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(backend.latest_version(None, query).await?),
    )
        .into_response())
}

fn bad_query(rejection: QueryRejection) -> GatewayError {
    GatewayError::new(GatewayErrorCode::BadRequest, rejection.body_text())
}

async fn requirements(State(backend): State<Backend>) -> Result<Response, GatewayError> {
    Ok(Json(backend.requirements().await?).into_response())
}

/// DER CRL, as the spec serves it.
async fn crl(State(backend): State<Backend>) -> Result<Response, GatewayError> {
    let der = backend.crl().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pkix-crl"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"optralis-agent.crl\"",
            ),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        der,
    )
        .into_response())
}

//! Routes: public enrolment and CRL, and the mTLS-only agent API. Each
//! handler carries its `utoipa::path` description: the OpenAPI document
//! (`crate::openapi`) is assembled from them.

use crate::{
    tls::{PeerCertificate, RemoteAddr},
    wire::{
        AgentConfig, AgentVersionInfo, BootstrapRequest, BootstrapResponse, CollectRequest, CollectResponse,
        CollectorsConfig, ErrorBody, HeartbeatRequest, HeartbeatResponse, RenewResponse, Requirements,
        VersionQuery,
    },
    AgentBackend, CertificateState, ClientCertificate, CnError, GatewayError, GatewayErrorCode,
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

/// The public routes the main port serves too: the CRL, the latest agent
/// version and the agent contract.
pub fn public_router(backend: Backend) -> Router {
    Router::new()
        .route("/api/public/crl", get(crl))
        .route("/api/public/latest-version", get(public_latest_version))
        .route(crate::openapi::DOCUMENT_PATH, get(agent_openapi))
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
            "No client certificate: this route needs the certificate issued at enrolment",
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
        let message = format!(
            "Certificate expired on {}; re-enrol the agent",
            cert.not_after.to_rfc3339()
        );
        return GatewayError::new(GatewayErrorCode::Unauthenticated, message).into_response();
    }
    let refused = match backend.certificate_state(&cert.identity, &cert.serial).await {
        Ok(CertificateState::Valid) => None,
        Ok(CertificateState::Revoked) => Some("Certificate revoked by an administrator"),
        Ok(CertificateState::Superseded) => {
            Some("Certificate superseded: a renewal or re-enrolment replaced it; use the newer one")
        }
        Ok(CertificateState::Unknown) => Some("Unknown certificate: this server has no record of its serial"),
        Ok(CertificateState::OtherMachine) => {
            Some("Certificate common name does not match the machine it was issued to")
        }
        Err(e) => return e.into_response(),
    };
    if let Some(message) = refused {
        return GatewayError::new(GatewayErrorCode::Forbidden, message).into_response();
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

/// Enrols a machine with an install token.
///
/// A machine re-enrolling keeps its id when its `hardware_id` matches; the
/// answer's private key is shown once.
#[utoipa::path(
    post,
    path = "/api/public/bootstrap",
    tag = "public",
    request_body = BootstrapRequest,
    responses(
        (status = 200, description = "Enrolled", body = BootstrapResponse),
        (status = 400, description = "A field is invalid (named in `error`)", body = ErrorBody),
        (status = 401, description = "Install token invalid, expired, revoked or used up", body = ErrorBody),
        (status = 403, description = "The tenant's machine limit is reached", body = ErrorBody),
    )
)]
pub(crate) async fn bootstrap(
    State(backend): State<Backend>,
    remote: Option<Extension<RemoteAddr>>,
    AgentJson(request): AgentJson<BootstrapRequest>,
) -> Result<Response, GatewayError> {
    let answer = backend.bootstrap(request, remote_ip(remote)).await?;
    Ok(Json(answer).into_response())
}

/// Reports the machine alive; answers with its commands, next interval and
/// the update to install.
#[utoipa::path(
    post,
    path = "/agent/heartbeat",
    tag = "agent",
    security(("agent_certificate" = [])),
    request_body = HeartbeatRequest,
    responses(
        (status = 200, description = "Heartbeat taken", body = HeartbeatResponse),
        (status = 400, description = "A field is invalid (named in `error`)", body = ErrorBody),
        (status = 404, description = "The machine no longer exists", body = ErrorBody),
    )
)]
pub(crate) async fn heartbeat(
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

/// Stores one collector's sample; answers once it is committed.
///
/// A sample already stored (same machine, series and timestamp) is not
/// stored twice, so an agent retries a 503 with the same body.
#[utoipa::path(
    post,
    path = "/agent/collect",
    tag = "agent",
    security(("agent_certificate" = [])),
    request_body = CollectRequest,
    responses(
        (status = 200, description = "Committed", body = CollectResponse),
        (status = 400, description = "The sample is invalid (the field is named in `error`); nothing was kept", body = ErrorBody),
    )
)]
pub(crate) async fn collect(
    State(backend): State<Backend>,
    Extension(cert): Extension<ClientCertificate>,
    AgentJson(request): AgentJson<CollectRequest>,
) -> Result<Response, GatewayError> {
    Ok(Json(backend.collect(cert.identity, request).await?).into_response())
}

/// Issues a new key pair and certificate.
///
/// Open in the last 30 days before expiry, or at once after an
/// administrator asked for it (`renew_certificate`). The presented
/// certificate keeps working for 24 hours.
#[utoipa::path(
    post,
    path = "/agent/certificate/renew",
    tag = "agent",
    security(("agent_certificate" = [])),
    responses(
        (status = 200, description = "Renewed", body = RenewResponse),
        (status = 400, description = "Renewal is not open yet (it opens 30 days before expiry)", body = ErrorBody),
        (status = 404, description = "The presented certificate is not on record", body = ErrorBody),
        (status = 409, description = "This certificate was already renewed or revoked", body = ErrorBody),
    )
)]
pub(crate) async fn renew(
    State(backend): State<Backend>,
    remote: Option<Extension<RemoteAddr>>,
    Extension(cert): Extension<ClientCertificate>,
) -> Result<Response, GatewayError> {
    let answer = backend
        .renew(cert.identity, &cert.serial, remote_ip(remote))
        .await?;
    Ok(Json(answer).into_response())
}

/// The machine's server-side settings.
#[utoipa::path(
    get,
    path = "/agent/config",
    tag = "agent",
    security(("agent_certificate" = [])),
    responses(
        (status = 200, description = "The machine's settings", body = AgentConfig),
        (status = 404, description = "The machine no longer exists", body = ErrorBody),
    )
)]
pub(crate) async fn config(
    State(backend): State<Backend>,
    Extension(cert): Extension<ClientCertificate>,
) -> Result<Response, GatewayError> {
    Ok(Json(backend.config(cert.identity).await?).into_response())
}

/// The eight collectors' effective intervals for this machine.
///
/// The `hostname` query parameter older agents send is ignored: the
/// certificate names the machine.
#[utoipa::path(
    get,
    path = "/agent/config/collectors",
    tag = "agent",
    security(("agent_certificate" = [])),
    responses(
        (status = 200, description = "Effective intervals", body = CollectorsConfig),
    )
)]
pub(crate) async fn collectors(
    State(backend): State<Backend>,
    Extension(cert): Extension<ClientCertificate>,
) -> Result<Response, GatewayError> {
    Ok(Json(backend.collectors(cert.identity).await?).into_response())
}

/// The build this machine should run; parts of the target left out are
/// the machine's.
#[utoipa::path(
    get,
    path = "/agent/latest-version",
    tag = "agent",
    security(("agent_certificate" = [])),
    params(VersionQuery),
    responses(
        (status = 200, description = "The active build", body = AgentVersionInfo),
        (status = 400, description = "A query parameter is invalid", body = ErrorBody),
        (status = 404, description = "No build published for this target", body = ErrorBody),
    )
)]
pub(crate) async fn agent_latest_version(
    State(backend): State<Backend>,
    Extension(cert): Extension<ClientCertificate>,
    query: Result<Query<VersionQuery>, QueryRejection>,
) -> Result<Response, GatewayError> {
    let Query(query) = query.map_err(bad_query)?;
    Ok(Json(backend.latest_version(Some(cert.identity), query).await?).into_response())
}

/// The active build for a channel, platform and architecture (stable,
/// windows, amd64 when left out). Public: the dashboard's install page
/// shows it.
#[utoipa::path(
    get,
    path = "/api/public/latest-version",
    tag = "public",
    params(VersionQuery),
    responses(
        (status = 200, description = "The active build (cacheable 5 minutes)", body = AgentVersionInfo),
        (status = 400, description = "A query parameter is invalid", body = ErrorBody),
        (status = 404, description = "No build published for this target", body = ErrorBody),
    )
)]
pub(crate) async fn public_latest_version(
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

/// OS prerequisites for installers.
#[utoipa::path(
    get,
    path = "/agent/requirements",
    tag = "public",
    responses((status = 200, description = "The prerequisites", body = Requirements))
)]
pub(crate) async fn requirements(State(backend): State<Backend>) -> Result<Response, GatewayError> {
    Ok(Json(backend.requirements().await?).into_response())
}

/// The certificate revocation list of agent certificates (DER).
#[utoipa::path(
    get,
    path = "/api/public/crl",
    tag = "public",
    responses((
        status = 200,
        description = "DER CRL of every revoked, unexpired certificate (cacheable 5 minutes)",
        content(("application/pkix-crl")),
    ))
)]
pub(crate) async fn crl(State(backend): State<Backend>) -> Result<Response, GatewayError> {
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

/// This document: the agent contract, OpenAPI 3.1.
#[utoipa::path(
    get,
    path = "/api/public/agent-openapi.json",
    tag = "public",
    responses((status = 200, description = "The OpenAPI document", body = Object))
)]
pub(crate) async fn agent_openapi() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        crate::openapi::document_json(),
    )
        .into_response()
}

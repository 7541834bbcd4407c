//! The server's side of the agent gateway: implements
//! [`agent_gateway::AgentBackend`] with the domain services, and builds the
//! gateway's TLS configuration from our CA.

use crate::{
    app::AppState,
    domain::{
        activity::RequestMeta,
        agent_config::versions::Target,
        ingest::CollectRequest as IngestRequest,
        pki::enrolment::{
            CertState, EnrolRequest, Heartbeat, HEARTBEAT_INTERVAL_SECONDS, RENEWAL_WINDOW_DAYS,
        },
        DomainError,
    },
};
use agent_gateway::{
    AgentBackend, AgentIdentity, BootstrapRequest, BootstrapResponse, CertificateState, CollectRequest,
    GatewayError, GatewayErrorCode, HeartbeatRequest, RenewResponse, VersionQuery,
};
use async_trait::async_trait;
use serde_json::json;
use std::{net::IpAddr, sync::Arc};

const AGENT_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

pub struct Backend {
    state: AppState,
}

fn meta(ip: Option<IpAddr>) -> RequestMeta {
    RequestMeta {
        ip: ip.map(|i| i.to_string()),
        user_agent: None,
    }
}

fn to_gateway(e: DomainError) -> GatewayError {
    match e {
        DomainError::InvalidInput { field, message } => {
            GatewayError::new(GatewayErrorCode::BadRequest, format!("{field}: {message}"))
        }
        DomainError::Unauthenticated => GatewayError::new(
            GatewayErrorCode::Unauthenticated,
            "Install token invalid, expired, revoked or used up",
        ),
        DomainError::NotFound(what) => {
            GatewayError::new(GatewayErrorCode::NotFound, format!("{what} not found"))
        }
        DomainError::Forbidden(m) => GatewayError::new(GatewayErrorCode::Forbidden, m),
        DomainError::Conflict(m) => GatewayError::new(GatewayErrorCode::BadRequest, m),
        DomainError::RateLimited { .. } => {
            GatewayError::new(GatewayErrorCode::RateLimited, "Too many requests")
        }
        DomainError::Unavailable { retry_after } => GatewayError::new(
            GatewayErrorCode::Unavailable,
            "Storage is unavailable for a moment; nothing was kept, retry",
        )
        .retry_after(retry_after.as_secs().max(1)),
        DomainError::Internal(detail) => {
            tracing::error!(%detail, "gateway internal error");
            GatewayError::new(GatewayErrorCode::Internal, "Internal server error")
        }
    }
}

#[async_trait]
impl AgentBackend for Backend {
    async fn bootstrap(
        &self,
        r: BootstrapRequest,
        ip: Option<IpAddr>,
    ) -> Result<BootstrapResponse, GatewayError> {
        let enrolled = self
            .state
            .services
            .enrolment
            .enrol(
                EnrolRequest {
                    token: r.token,
                    hostname: r.hostname,
                    hardware_id: r.hardware_id,
                    os: r.os,
                    os_version: r.os_version,
                    arch: r.arch,
                },
                &meta(ip),
            )
            .await
            .map_err(to_gateway)?;
        Ok(BootstrapResponse {
            certificate: enrolled.issued.cert_pem,
            private_key: enrolled.issued.key_pem,
            ca_certificate: enrolled.ca_pem,
            machine_id: enrolled.machine_id.to_string(),
            client_id: enrolled.client_id.to_string(),
            expires_at: enrolled.issued.not_after,
        })
    }

    async fn heartbeat(
        &self,
        agent: AgentIdentity,
        serial: &str,
        r: HeartbeatRequest,
        ip: Option<IpAddr>,
    ) -> Result<serde_json::Value, GatewayError> {
        self.state
            .services
            .enrolment
            .heartbeat(
                agent.client_id,
                agent.machine_id,
                serial,
                Heartbeat {
                    hostname: r.hostname,
                    hardware_id: r.hardware_id,
                    os: r.os,
                    os_version: r.os_version,
                    ip: r.ip,
                    agent_version: r.agent_version,
                },
                &meta(ip),
            )
            .await
            .map_err(to_gateway)
    }

    async fn collect(
        &self,
        agent: AgentIdentity,
        r: CollectRequest,
    ) -> Result<serde_json::Value, GatewayError> {
        self.state
            .services
            .ingest
            .collect(
                agent.client_id,
                agent.machine_id,
                IngestRequest {
                    collector: r.collector,
                    collected_at: r.collected_at,
                    data: r.data,
                },
            )
            .await
            .map_err(to_gateway)
    }

    async fn renew(
        &self,
        agent: AgentIdentity,
        serial: &str,
        ip: Option<IpAddr>,
    ) -> Result<RenewResponse, GatewayError> {
        let enrolment = &self.state.services.enrolment;
        let issued = enrolment
            .renew(agent.client_id, agent.machine_id, serial, &meta(ip))
            .await
            .map_err(to_gateway)?;
        Ok(RenewResponse {
            certificate: issued.cert_pem,
            private_key: issued.key_pem,
            ca_certificate: enrolment.ca().cert_pem().to_owned(),
            expires_at: issued.not_after,
        })
    }

    async fn certificate_state(
        &self,
        agent: &AgentIdentity,
        serial: &str,
    ) -> Result<CertificateState, GatewayError> {
        let state = self
            .state
            .services
            .enrolment
            .certificate_state(agent.client_id, agent.machine_id, serial)
            .await
            .map_err(to_gateway)?;
        Ok(match state {
            CertState::Valid => CertificateState::Valid,
            CertState::Revoked => CertificateState::Revoked,
            CertState::Unknown => CertificateState::Unknown,
        })
    }

    async fn allow(&self, agent: &AgentIdentity) -> bool {
        let key = format!("rl:agent:{}", agent.machine_id);
        let hit = self.state.services.infra.cache.hit(&key, AGENT_WINDOW).await;
        hit.count <= self.state.config.agent_rate_limit_per_minute
    }

    async fn config(&self, agent: AgentIdentity) -> Result<serde_json::Value, GatewayError> {
        let services = &self.state.services;
        let machine = services
            .fleet
            .get(agent.client_id, agent.machine_id)
            .await
            .map_err(to_gateway)?;
        let effective = services
            .collection_settings
            .effective(agent.client_id, agent.machine_id)
            .await
            .map_err(to_gateway)?;
        Ok(json!({
            "machine_id": machine.id,
            "client_id": machine.client_id,
            "hostname": machine.hostname,
            "update_channel": machine.update_channel,
            "heartbeat_interval_seconds": HEARTBEAT_INTERVAL_SECONDS,
            "maintenance_mode": machine.maintenance_mode,
            "maintenance_until": machine.maintenance_until,
            "certificate_expires_at": machine.cert_expires_at,
            "renewal_window_days": RENEWAL_WINDOW_DAYS,
            "collectors": effective.to_agent_json()["collectors"],
            "server_time": chrono::Utc::now(),
        }))
    }

    async fn collectors(&self, agent: AgentIdentity) -> Result<serde_json::Value, GatewayError> {
        let services = &self.state.services;
        let effective = services
            .collection_settings
            .effective(agent.client_id, agent.machine_id)
            .await
            .map_err(to_gateway)?;
        services.enrolment.touch_config_sync(agent.machine_id);
        Ok(effective.to_agent_json())
    }

    async fn latest_version(
        &self,
        agent: Option<AgentIdentity>,
        q: VersionQuery,
    ) -> Result<serde_json::Value, GatewayError> {
        let services = &self.state.services;
        let machine_target = match &agent {
            Some(a) => {
                let m = services
                    .fleet
                    .get(a.client_id, a.machine_id)
                    .await
                    .map_err(to_gateway)?;
                Target::of_machine(&m.update_channel, &m.os, m.arch.as_deref())
            }
            None => None,
        };
        let fallback = machine_target.unwrap_or(Target {
            channel: "stable".into(),
            platform: "windows".into(),
            architecture: "amd64".into(),
        });
        let target = Target::new(
            q.channel.as_deref().unwrap_or(&fallback.channel),
            q.platform.as_deref().unwrap_or(&fallback.platform),
            q.architecture.as_deref().unwrap_or(&fallback.architecture),
        )
        .map_err(to_gateway)?;
        let found = services
            .agent_versions
            .latest(&target)
            .await
            .map_err(to_gateway)?
            .ok_or_else(|| {
                GatewayError::new(
                    GatewayErrorCode::NotFound,
                    "No version published for this channel, platform and architecture",
                )
            })?;
        serde_json::to_value(found).map_err(|e| to_gateway(DomainError::Internal(e.to_string())))
    }

    async fn requirements(&self) -> Result<serde_json::Value, GatewayError> {
        let req = self
            .state
            .services
            .enrolment
            .requirements()
            .get()
            .await
            .map_err(to_gateway)?;
        serde_json::to_value(req).map_err(|e| to_gateway(DomainError::Internal(e.to_string())))
    }

    async fn crl(&self) -> Result<Vec<u8>, GatewayError> {
        self.state.services.enrolment.crl().await.map_err(to_gateway)
    }
}

/// The gateway's routes, backed by this server's services.
pub fn router(state: AppState) -> axum::Router {
    let request_timeout = state.config.request_timeout;
    agent_gateway::router(Arc::new(Backend { state }), request_timeout)
}

/// The public routes the main port serves as well (CRL, latest version).
pub fn public_router(state: AppState) -> axum::Router {
    agent_gateway::public_router(Arc::new(Backend { state }))
}

/// TLS: a server certificate for the configured names, issued by our CA
/// at start, and client certificates verified against the same CA.
pub fn tls_config(state: &AppState) -> Result<Arc<rustls::ServerConfig>, String> {
    let ca = state.services.enrolment.ca();
    let server = ca
        .issue_server(&state.config.agent_tls_names)
        .map_err(|e| e.to_string())?;
    let chain = format!("{}{}", server.cert_pem, ca.cert_pem());
    agent_gateway::tls::server_config(&chain, &server.key_pem, ca.cert_pem()).map_err(|e| e.to_string())
}

//! The server's side of the agent gateway: implements
//! [`agent_gateway::AgentBackend`] with the domain services, and builds the
//! gateway's TLS configuration from our CA. The domain answers in its own
//! types; this file turns them into the gateway's wire types, so the
//! domain never depends on the transport and the contract is written in
//! one place.

use crate::{
    app::AppState,
    domain::{
        activity::RequestMeta,
        agent_config::{
            intervals::{EffectiveIntervals, Scope, Source},
            versions::{AgentVersion, Target},
        },
        agents::{
            keys, BeatAnswer, CertState, Command, EnrolRequest, Heartbeat, HEARTBEAT_INTERVAL_SECONDS,
            RENEWAL_WINDOW_DAYS,
        },
        collectors::Collector,
        fleet::State as MachineState,
        ingest::CollectRequest as IngestRequest,
        DomainError,
    },
};
use agent_gateway::{
    wire::{
        Ack, AgentCommand, AgentConfig, AgentVersionInfo, CollectResponse, CollectorInterval, CollectorKind,
        CollectorsConfig, ConfigSource, HeartbeatResponse, Requirements, UpdateOffer,
    },
    AgentBackend, AgentIdentity, BootstrapRequest, BootstrapResponse, CertificateState, CollectRequest,
    GatewayError, GatewayErrorCode, HeartbeatRequest, RenewResponse, VersionQuery,
};
use async_trait::async_trait;
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
        DomainError::Forbidden(m) | DomainError::LicenceInactive(m) => {
            GatewayError::new(GatewayErrorCode::Forbidden, m)
        }
        DomainError::PremiumRequired { .. } => GatewayError::new(GatewayErrorCode::Forbidden, e.to_string()),
        DomainError::Conflict(m) => GatewayError::new(GatewayErrorCode::Conflict, m),
        DomainError::RateLimited { .. }
        | DomainError::Cooldown { .. }
        | DomainError::NoNewData { .. }
        | DomainError::NoSignificantChanges { .. }
        | DomainError::QuotaExceeded { .. } => {
            GatewayError::new(GatewayErrorCode::RateLimited, "Too many requests")
        }
        DomainError::Unavailable { retry_after, .. } => {
            tracing::warn!(error = %e.report(), "agent request refused: storage unavailable");
            GatewayError::new(
                GatewayErrorCode::Unavailable,
                "Storage is unavailable for a moment; nothing was kept, retry",
            )
            .retry_after(retry_after.as_secs().max(1))
        }
        DomainError::Upstream { ref message, .. } => {
            tracing::warn!(error = %e.report(), "agent request refused: upstream service failed");
            GatewayError::new(GatewayErrorCode::Unavailable, message.clone())
        }
        DomainError::Internal { .. } => {
            tracing::error!(error = %e.report(), "gateway internal error");
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
            .agents
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
            machine_id: enrolled.machine_id,
            client_id: enrolled.client_id,
            expires_at: enrolled.issued.not_after,
        })
    }

    async fn heartbeat(
        &self,
        agent: AgentIdentity,
        serial: &str,
        r: HeartbeatRequest,
        ip: Option<IpAddr>,
    ) -> Result<HeartbeatResponse, GatewayError> {
        self.state
            .services
            .agents
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
            .map(heartbeat_response)
            .map_err(to_gateway)
    }

    async fn collect(
        &self,
        agent: AgentIdentity,
        r: CollectRequest,
    ) -> Result<CollectResponse, GatewayError> {
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
            .map(|accepted| CollectResponse {
                collected_at: accepted.collected_at,
                collector: collector_kind(accepted.collector),
                status: Ack::Ok,
            })
            .map_err(to_gateway)
    }

    async fn renew(
        &self,
        agent: AgentIdentity,
        serial: &str,
        ip: Option<IpAddr>,
    ) -> Result<RenewResponse, GatewayError> {
        let agents = &self.state.services.agents;
        let issued = agents
            .renew(agent.client_id, agent.machine_id, serial, &meta(ip))
            .await
            .map_err(to_gateway)?;
        Ok(RenewResponse {
            certificate: issued.cert_pem,
            private_key: issued.key_pem,
            ca_certificate: agents.ca().cert_pem().to_owned(),
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
            .agents
            .certificate_state(agent.client_id, agent.machine_id, serial)
            .await
            .map_err(to_gateway)?;
        Ok(match state {
            CertState::Valid => CertificateState::Valid,
            CertState::Revoked => CertificateState::Revoked,
            CertState::Superseded => CertificateState::Superseded,
            CertState::Unknown => CertificateState::Unknown,
            CertState::OtherMachine => CertificateState::OtherMachine,
        })
    }

    async fn allow(&self, agent: &AgentIdentity) -> bool {
        let key = keys::request_budget(agent.machine_id);
        let hit = self.state.services.infra.cache.hit(&key, AGENT_WINDOW).await;
        hit.count <= self.state.config.agent_rate_limit_per_minute
    }

    async fn config(&self, agent: AgentIdentity) -> Result<AgentConfig, GatewayError> {
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
        let in_maintenance = services.fleet.state_of(&machine) == MachineState::Maintenance;
        Ok(AgentConfig {
            certificate_expires_at: machine.cert_expires_at,
            client_id: machine.client_id,
            collectors: collector_intervals(&effective),
            heartbeat_interval_seconds: HEARTBEAT_INTERVAL_SECONDS,
            hostname: machine.hostname,
            machine_id: machine.id,
            maintenance_mode: in_maintenance,
            maintenance_until: machine.maintenance_until.filter(|_| in_maintenance),
            renewal_window_days: RENEWAL_WINDOW_DAYS,
            server_time: chrono::Utc::now(),
            update_channel: entities::enums::Stored::stored(&machine.update_channel),
        })
    }

    async fn collectors(&self, agent: AgentIdentity) -> Result<CollectorsConfig, GatewayError> {
        let services = &self.state.services;
        let effective = services
            .collection_settings
            .effective(agent.client_id, agent.machine_id)
            .await
            .map_err(to_gateway)?;
        services.agents.touch_config_sync(agent.machine_id);
        Ok(CollectorsConfig {
            collectors: collector_intervals(&effective),
            setting_id: effective.setting_id,
            setting_name: effective.setting_name,
            source: config_source(effective.source),
        })
    }

    async fn latest_version(
        &self,
        agent: Option<AgentIdentity>,
        q: VersionQuery,
    ) -> Result<AgentVersionInfo, GatewayError> {
        let services = &self.state.services;
        let machine_target = match &agent {
            Some(a) => {
                let m = services
                    .fleet
                    .get(a.client_id, a.machine_id)
                    .await
                    .map_err(to_gateway)?;
                Target::of_machine(m.update_channel, &m.os, m.arch.as_deref())
            }
            None => None,
        };
        let fallback = machine_target.unwrap_or(Target {
            channel: entities::enums::UpdateChannel::Stable,
            platform: "windows".into(),
            architecture: "amd64".into(),
        });
        let target = Target::new(
            &q.channel
                .clone()
                .unwrap_or_else(|| entities::enums::Stored::stored(&fallback.channel)),
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
        Ok(version_info(found))
    }

    async fn requirements(&self) -> Result<Requirements, GatewayError> {
        let req = self
            .state
            .services
            .agents
            .requirements()
            .get()
            .await
            .map_err(to_gateway)?;
        Ok(Requirements {
            linux_enabled: req.linux_enabled,
            unsupported_os_message: req.unsupported_os_message,
            updated_at: req.updated_at,
            windows_client_enabled: req.windows_client_enabled,
            windows_client_min_build: req.windows_client_min_build,
            windows_server_enabled: req.windows_server_enabled,
            windows_server_min_build: req.windows_server_min_build,
        })
    }

    async fn crl(&self) -> Result<Vec<u8>, GatewayError> {
        self.state.services.agents.crl().await.map_err(to_gateway)
    }
}

fn heartbeat_response(answer: BeatAnswer) -> HeartbeatResponse {
    HeartbeatResponse {
        commands: answer
            .commands
            .into_iter()
            .map(|c| match c {
                Command::RenewCertificate => AgentCommand::RenewCertificate,
                Command::ForceCollect => AgentCommand::ForceCollect,
            })
            .collect(),
        is_os_compliant: answer.is_os_compliant,
        machine_id: answer.machine_id,
        next_heartbeat_seconds: answer.next_heartbeat_seconds,
        server_time: answer.server_time,
        status: Ack::Ok,
        update: answer.update.map(|v| UpdateOffer {
            changelog: v.changelog,
            channel: v.channel,
            checksum_sha256: v.checksum_sha256,
            download_url: v.download_url,
            file_size_bytes: v.file_size_bytes,
            version: v.version,
        }),
    }
}

fn version_info(v: AgentVersion) -> AgentVersionInfo {
    AgentVersionInfo {
        architecture: v.architecture,
        changelog: v.changelog,
        channel: v.channel,
        checksum_sha256: v.checksum_sha256,
        created_at: v.created_at,
        download_url: v.download_url,
        file_size_bytes: v.file_size_bytes,
        id: v.id,
        is_active: v.is_active,
        platform: v.platform,
        version: v.version,
    }
}

fn collector_kind(c: Collector) -> CollectorKind {
    match c {
        Collector::Metrics => CollectorKind::Metrics,
        Collector::Storage => CollectorKind::Storage,
        Collector::StorageHealth => CollectorKind::StorageHealth,
        Collector::Network => CollectorKind::Network,
        Collector::Services => CollectorKind::Services,
        Collector::Security => CollectorKind::Security,
        Collector::Software => CollectorKind::Software,
        Collector::Patches => CollectorKind::Patches,
    }
}

fn collector_intervals(effective: &EffectiveIntervals) -> Vec<CollectorInterval> {
    effective
        .collectors
        .iter()
        .map(|e| CollectorInterval {
            enabled: e.enabled,
            interval: e.interval,
            kind: collector_kind(e.collector),
        })
        .collect()
}

fn config_source(source: Source) -> ConfigSource {
    match source {
        Source::Default => ConfigSource::Default,
        Source::Setting(Scope::Client) => ConfigSource::ClientSetting,
        Source::Setting(Scope::Group) => ConfigSource::GroupSetting,
        Source::Setting(Scope::Label) => ConfigSource::LabelSetting,
        Source::Setting(Scope::Machine) => ConfigSource::MachineSetting,
    }
}

/// The gateway's routes, backed by this server's services.
pub fn router(state: AppState) -> axum::Router {
    let request_timeout = state.config.request_timeout;
    agent_gateway::router(Arc::new(Backend { state }), request_timeout)
        .layer(axum::middleware::from_fn(count_agent_requests))
}

/// Counts agent requests by route template and status; here rather than
/// in the gateway crate, which knows nothing of this server's metrics.
async fn count_agent_requests(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let route = request.extensions().get::<axum::extract::MatchedPath>().cloned();
    let response = next.run(request).await;
    crate::infra::metrics::agent_request(
        route.as_ref().map(|r| r.as_str()),
        response.status(),
        started.elapsed(),
    );
    response
}

/// The public routes the main port serves as well (CRL, latest version).
pub fn public_router(state: AppState) -> axum::Router {
    agent_gateway::public_router(Arc::new(Backend { state }))
}

/// TLS: a server certificate for the configured names, issued by our CA
/// at start, and client certificates verified against the same CA.
pub fn tls_config(state: &AppState) -> Result<Arc<rustls::ServerConfig>, String> {
    let ca = state.services.agents.ca();
    let server = ca
        .issue_server(&state.config.agent_tls_names)
        .map_err(|e| e.to_string())?;
    let chain = format!("{}{}", server.cert_pem, ca.cert_pem());
    agent_gateway::tls::server_config(&chain, &server.key_pem, ca.cert_pem()).map_err(|e| e.to_string())
}

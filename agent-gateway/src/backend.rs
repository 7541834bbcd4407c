use crate::{AgentIdentity, GatewayError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// `POST /api/public/bootstrap`: enrolment with an install token.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapRequest {
    pub token: String,
    pub hostname: String,
    pub hardware_id: Option<String>,
    pub os: String,
    pub os_version: String,
    pub arch: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BootstrapResponse {
    pub certificate: String,
    pub private_key: String,
    pub ca_certificate: String,
    pub machine_id: String,
    pub client_id: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// `POST /agent/certificate/renew` answer.
#[derive(Clone, Debug, Serialize)]
pub struct RenewResponse {
    pub certificate: String,
    pub private_key: String,
    pub ca_certificate: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// `POST /agent/heartbeat`.
#[derive(Clone, Debug, Deserialize)]
pub struct HeartbeatRequest {
    pub hostname: String,
    pub hardware_id: Option<String>,
    pub os: String,
    pub os_version: String,
    pub ip: Option<String>,
    pub agent_version: String,
}

/// `?channel=&platform=&architecture=` of the latest-version routes.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    pub channel: Option<String>,
    pub platform: Option<String>,
    pub architecture: Option<String>,
}

/// `POST /agent/collect`: one collector's sample.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectRequest {
    pub collector: String,
    /// When the agent took the sample; the server's time when absent.
    #[serde(default)]
    pub collected_at: Option<chrono::DateTime<chrono::Utc>>,
    pub data: serde_json::Value,
}

/// What the backend knows of a presented certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateState {
    Valid,
    Revoked,
    Unknown,
}

#[async_trait]
pub trait AgentBackend: Send + Sync + 'static {
    async fn bootstrap(
        &self,
        request: BootstrapRequest,
        ip: Option<IpAddr>,
    ) -> Result<BootstrapResponse, GatewayError>;
    /// `serial` is the certificate the agent presented (hex).
    async fn heartbeat(
        &self,
        agent: AgentIdentity,
        serial: &str,
        request: HeartbeatRequest,
        ip: Option<IpAddr>,
    ) -> Result<serde_json::Value, GatewayError>;
    /// Stores one sample; answers once it is committed.
    async fn collect(
        &self,
        agent: AgentIdentity,
        request: CollectRequest,
    ) -> Result<serde_json::Value, GatewayError>;
    /// New key pair and certificate for the caller's certificate `serial`.
    async fn renew(
        &self,
        agent: AgentIdentity,
        serial: &str,
        ip: Option<IpAddr>,
    ) -> Result<RenewResponse, GatewayError>;
    /// Counts one request of this machine; false once its budget (3000 a
    /// minute by default) is spent.
    async fn allow(&self, agent: &AgentIdentity) -> bool;
    /// Revocation state of a certificate serial (hex), answered from cache.
    async fn certificate_state(
        &self,
        agent: &AgentIdentity,
        serial: &str,
    ) -> Result<CertificateState, GatewayError>;
    /// `GET /agent/config`: what the agent should know of its server-side
    /// settings.
    async fn config(&self, agent: AgentIdentity) -> Result<serde_json::Value, GatewayError>;
    /// `GET /agent/config/collectors`: the eight collectors' effective
    /// intervals for this machine.
    async fn collectors(&self, agent: AgentIdentity) -> Result<serde_json::Value, GatewayError>;
    /// The active build for a target; parts left out come from the machine
    /// (`agent`) or default to stable/windows/amd64 (public route).
    async fn latest_version(
        &self,
        agent: Option<AgentIdentity>,
        query: VersionQuery,
    ) -> Result<serde_json::Value, GatewayError>;
    /// OS prerequisites for installers (public).
    async fn requirements(&self) -> Result<serde_json::Value, GatewayError>;
    /// The current DER CRL.
    async fn crl(&self) -> Result<Vec<u8>, GatewayError>;
}

use crate::{
    wire::{
        AgentConfig, AgentVersionInfo, BootstrapRequest, BootstrapResponse, CollectRequest, CollectResponse,
        CollectorsConfig, HeartbeatRequest, HeartbeatResponse, RenewResponse, Requirements, VersionQuery,
    },
    AgentIdentity, GatewayError,
};
use async_trait::async_trait;
use std::net::IpAddr;

/// What the backend knows of a presented certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertificateState {
    /// The machine's live certificate (or a renewed one in its grace
    /// period).
    Valid,
    /// Revoked by an administrator.
    Revoked,
    /// Replaced by a renewal or a re-enrolment.
    Superseded,
    /// Never issued by this server.
    Unknown,
    /// Issued to another machine than its common name says.
    OtherMachine,
}

/// The domain behind the gateway. Every body crosses it as a [`crate::wire`]
/// type, so the contract the OpenAPI document describes is the one the
/// server implements.
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
    ) -> Result<HeartbeatResponse, GatewayError>;
    /// Stores one sample; answers once it is committed.
    async fn collect(
        &self,
        agent: AgentIdentity,
        request: CollectRequest,
    ) -> Result<CollectResponse, GatewayError>;
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
    async fn config(&self, agent: AgentIdentity) -> Result<AgentConfig, GatewayError>;
    /// `GET /agent/config/collectors`: the eight collectors' effective
    /// intervals for this machine.
    async fn collectors(&self, agent: AgentIdentity) -> Result<CollectorsConfig, GatewayError>;
    /// The active build for a target; parts left out come from the machine
    /// (`agent`) or default to stable/windows/amd64 (public route).
    async fn latest_version(
        &self,
        agent: Option<AgentIdentity>,
        query: VersionQuery,
    ) -> Result<AgentVersionInfo, GatewayError>;
    /// OS prerequisites for installers (public).
    async fn requirements(&self) -> Result<Requirements, GatewayError>;
    /// The current DER CRL.
    async fn crl(&self) -> Result<Vec<u8>, GatewayError>;
}

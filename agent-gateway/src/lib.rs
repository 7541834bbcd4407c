//! The agent-facing REST transport: the mTLS listener, certificate
//! identity, JSON errors and the `/agent/*` and `/api/public/*` routes. It
//! reaches the domain only through [`AgentBackend`], which the server
//! implements, so it never touches the database itself.

mod backend;
mod error;
mod identity;
pub mod listener;
mod routes;
pub mod tls;

pub use backend::{
    AgentBackend, BootstrapRequest, BootstrapResponse, CertificateState, CollectRequest, HeartbeatRequest,
    RenewResponse, VersionQuery,
};
pub use error::{GatewayError, GatewayErrorCode};
pub use identity::{AgentIdentity, ClientCertificate, CnError};
pub use routes::{public_router, router};

//! The agent-facing REST transport: the mTLS listener, certificate
//! identity, JSON errors, the `/agent/*` and `/api/public/*` routes, and the
//! typed contract they speak ([`wire`], published by [`openapi`]). It
//! reaches the domain only through [`AgentBackend`], which the server
//! implements, so it never touches the database itself.

mod backend;
mod error;
mod identity;
pub mod listener;
pub mod openapi;
mod routes;
pub mod tls;
pub mod wire;

pub use backend::{AgentBackend, CertificateState};
pub use error::{GatewayError, GatewayErrorCode};
pub use identity::{AgentIdentity, ClientCertificate, CnError};
pub use routes::{public_router, router};
pub use wire::{
    BootstrapRequest, BootstrapResponse, CollectRequest, HeartbeatRequest, RenewResponse, VersionQuery,
};

//! The agent-facing REST transport: mTLS identity, JSON errors, and (in
//! later steps) the `/agent/*` and `/api/public/*` routes. It reaches the
//! domain only through traits the server implements, so it never touches
//! the database directly.

mod error;
mod identity;

pub use error::{GatewayError, GatewayErrorCode};
pub use identity::{AgentIdentity, CnError};

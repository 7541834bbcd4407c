//! Business rules. Plain Rust in and out: nothing here knows HTTP or
//! GraphQL; callers map [`DomainError`] to their transport.

pub mod error;
pub mod status;

pub use error::DomainError;

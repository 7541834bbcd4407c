//! Optralis server library: the `optralis` binary is a thin CLI over it,
//! and integration tests spawn it in-process.

pub mod app;
pub mod config;
pub mod domain;
pub mod gateway;
pub mod graphql;
pub mod http;
pub mod infra;
pub mod jobs;
pub mod replay;
pub mod serve;
pub mod services;
pub mod telemetry;

//! Analyses: a statistical engine that computes every number itself
//! (`engine`), over the stored series, explained by a narrator
//! (`narrative`: our templates, or Claude when a key is set), behind the
//! spec's protections (`service`), run by hand, by routines or by triggers.

pub mod automation;
pub mod baselines;
pub mod config;
pub mod detector;
pub mod engine;
pub mod findings;
pub mod history;
pub mod kind;
pub mod narrative;
pub mod report;
pub mod service;
pub mod stats;

pub use findings::Findings;
pub use kind::{AnalysisKind, Section};

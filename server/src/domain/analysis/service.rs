//! PLACEHOLDER until the service lands: the call routines and triggers make.

use super::{findings::Findings, narrative::NarratorKind, AnalysisKind};
use crate::domain::DomainError;
use chrono::{DateTime, Utc};
use entities::enums::Language;
use uuid::Uuid;

/// Who asked for a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Manual { user_id: Uuid },
    Routine { routine_id: Uuid },
    Trigger { trigger_id: Uuid },
}

#[derive(Clone, Debug)]
pub struct RunRequest {
    pub client_id: Uuid,
    pub machine_id: Uuid,
    pub kind: AnalysisKind,
    /// `None`: the tenant's language.
    pub language: Option<Language>,
    pub origin: Origin,
}

/// A completed, stored analysis.
#[derive(Clone, Debug)]
pub struct StoredAnalysis {
    pub id: Uuid,
    pub client_id: Uuid,
    pub machine_id: Uuid,
    pub kind: AnalysisKind,
    pub findings: Findings,
    pub summary: String,
    pub narrator: NarratorKind,
    pub language: Language,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Default)]
pub struct Analyses {}

impl Analyses {
    /// Runs one analysis behind the spec's protections, stores it and
    /// returns it; refusals are `DomainError`s with their own codes.
    pub async fn run(&self, _request: RunRequest) -> Result<StoredAnalysis, DomainError> {
        Err(DomainError::invariant("analyses are not wired yet"))
    }
}

//! PLACEHOLDER until the engine lands: the signature the service calls.
//! Computes nothing yet.

use super::{AnalysisKind, Findings};
use crate::domain::DomainError;
use crate::infra::{clock::Clock, db::Database};
use entities::enums::Language;
use std::sync::Arc;
use uuid::Uuid;

#[derive(Clone)]
pub struct Engine {
    #[allow(dead_code)]
    db: Database,
    clock: Arc<dyn Clock>,
}

impl Engine {
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    /// The findings of `kind` for one machine of `client_id`
    /// (`NotFound("machine")` when it is not the tenant's).
    pub async fn findings(
        &self,
        _client_id: Uuid,
        machine_id: Uuid,
        _kind: AnalysisKind,
        _lang: Language,
    ) -> Result<Findings, DomainError> {
        Ok(Findings {
            machine_id,
            computed_at: self.clock.now(),
            ..Findings::default()
        })
    }
}

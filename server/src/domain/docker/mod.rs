//! The super_admin's Docker panel: containers of the host the server runs
//! on, read and started/stopped through the engine's API. Every change is
//! written to the activity log.

pub mod engine;
pub mod stats;

use crate::domain::{
    activity::{ActivityLog, Category, Entry, Level, RequestMeta},
    auth::Principal,
    DomainError,
};
use engine::{Action, ContainerDetails, ContainerSummary, Engine, EngineError, LogLine};
use serde_json::json;
use stats::ContainerStats;
use std::sync::Arc;

pub const DEFAULT_LOG_TAIL: u32 = 100;
pub const MAX_LOG_TAIL: u32 = 5000;

#[derive(Clone)]
pub struct DockerPanel {
    engine: Arc<dyn Engine>,
    activity: ActivityLog,
}

impl DockerPanel {
    pub fn new(engine: Arc<dyn Engine>, activity: ActivityLog) -> Self {
        Self { engine, activity }
    }

    fn error(&self, e: EngineError) -> DomainError {
        let endpoint = self.engine.endpoint();
        match e {
            EngineError::NotFound => DomainError::NotFound("container"),
            EngineError::Conflict(m) => DomainError::Conflict(format!("Docker engine refused: {m}")),
            EngineError::Unreachable(why) => DomainError::upstream(
                format!("Docker engine unreachable at {endpoint}"),
                Some(why.into()),
            ),
            EngineError::Failed(why) => {
                DomainError::upstream(format!("Docker engine at {endpoint} failed: {why}"), None)
            }
        }
    }

    pub async fn list(&self) -> Result<Vec<ContainerSummary>, DomainError> {
        self.engine.list().await.map_err(|e| self.error(e))
    }

    pub async fn inspect(&self, id: &str) -> Result<ContainerDetails, DomainError> {
        let id = container_ref(id)?;
        self.engine.inspect(id).await.map_err(|e| self.error(e))
    }

    /// The last `tail` lines (default 100, at most 5000).
    pub async fn logs(&self, id: &str, tail: Option<i32>) -> Result<Vec<LogLine>, DomainError> {
        let id = container_ref(id)?;
        let tail = match tail {
            None => DEFAULT_LOG_TAIL,
            Some(n) if n < 1 => return Err(DomainError::invalid("tail", "must be at least 1")),
            Some(n) => (n as u32).min(MAX_LOG_TAIL),
        };
        self.engine.logs(id, tail).await.map_err(|e| self.error(e))
    }

    pub async fn stats(&self, id: &str) -> Result<ContainerStats, DomainError> {
        let id = container_ref(id)?;
        let raw = self.engine.stats(id).await.map_err(|e| self.error(e))?;
        Ok(stats::compute(&raw))
    }

    /// Starts, stops or restarts the container; answers its state after.
    pub async fn act(
        &self,
        actor: &Principal,
        id: &str,
        action: Action,
        meta: &RequestMeta,
    ) -> Result<ContainerDetails, DomainError> {
        let id = container_ref(id)?;
        self.engine.act(id, action).await.map_err(|e| self.error(e))?;
        let after = self.engine.inspect(id).await.map_err(|e| self.error(e))?;
        let verb = match action {
            Action::Start => "démarré",
            Action::Stop => "arrêté",
            Action::Restart => "redémarré",
        };
        let entry = Entry::new(
            Level::Info,
            Category::System,
            format!("Conteneur Docker {verb} : {}", after.name),
        )
        .metadata(json!({
            "container_id": after.id,
            "container_name": after.name,
            "action": action.as_str(),
            "state": after.state.status,
        }))
        .client(actor.client_id)
        .by(actor.user_id);
        self.activity.record(entry, meta).await;
        Ok(after)
    }
}

/// A container id or name as the engine accepts them. The value goes into
/// the request path, so anything else ('/', '..', '?') is refused here.
fn container_ref(id: &str) -> Result<&str, DomainError> {
    let id = id.trim();
    let valid = (1..=128).contains(&id.len())
        && id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(id)
    } else {
        Err(DomainError::invalid(
            "id",
            "must be a container id or name (letters, digits, '_', '.', '-')",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::container_ref;

    #[test]
    fn only_ids_and_names_reach_the_request_path() {
        for ok in ["3f4e8a9b2c1d", "optralis-db", "web_1", "a.b"] {
            assert_eq!(container_ref(ok).unwrap(), ok);
        }
        for bad in ["", "../images/json", "a/b", "x?all=1", "-flag", &"a".repeat(129)] {
            assert!(container_ref(bad).is_err(), "{bad}");
        }
    }
}

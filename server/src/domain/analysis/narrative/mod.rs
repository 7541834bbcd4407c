//! The narrative layer: explains the findings in words, never changes a
//! number. Without an Anthropic key our templates write it (`templates`);
//! with one, Claude does (`prompt`, then `validate`), and any failure of
//! that path (rate limit, timeout, HTTP error, bad JSON, a reply that
//! changes the numbers) falls back to the templates: an analysis never
//! fails because of its narrator.

mod prompt;
mod templates;
mod validate;

pub use templates::narrate as builtin;
pub use validate::{MAX_EXPLANATION_CHARS, MAX_SUMMARY_CHARS};

use super::{AnalysisKind, Findings};
use crate::infra::{
    anthropic::{AnthropicClient, AnthropicError, ApiKey},
    cache::Cache,
};
use entities::enums::Language;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::{sync::Arc, time::Duration};

/// Who wrote the narrative; every stored analysis records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NarratorKind {
    /// Our templates (no key, or the model failed or answered badly).
    Builtin,
    /// The Anthropic Messages API.
    Claude,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Narrative {
    pub summary: String,
    /// One paragraph per issue, in the order of `Findings::issues`.
    pub explanations: Vec<String>,
    pub narrator: NarratorKind,
}

/// What the tenant told us about its fleet (AI configuration, Enterprise):
/// added to the prompt as data.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NarrationContext {
    /// `critical`, `important` or `standard`, when configured.
    pub criticality: Option<String>,
    pub custom_context: Option<String>,
}

/// The Claude narrator's settings (`ANTHROPIC_*`, `AI_*`); present only
/// when `ANTHROPIC_API_KEY` is set.
#[derive(Clone, Debug)]
pub struct ClaudeSettings {
    pub api_key: ApiKey,
    /// Without `/v1/messages`.
    pub base_url: String,
    pub model: String,
    pub max_tokens: u32,
    /// Calls to the API per minute across the deployment; past it the
    /// templates answer at once instead of making the analysis wait.
    pub rate_limit_per_minute: u64,
    /// How long a Claude narrative is reused for the same findings;
    /// zero disables the cache.
    pub cache_ttl: Duration,
}

/// Shared-cache keys of the narrator; nothing else writes them.
mod keys {
    use super::*;

    /// The per-minute window of API calls.
    pub const CALLS: &str = "ai:narrator:calls";

    /// A Claude narrative, keyed by what it was written from: the findings
    /// (less `computed_at`, which changes on every run without changing
    /// what there is to say), the type, the language, the tenant's context
    /// and the model.
    pub fn narrative(
        findings: &Findings,
        kind: AnalysisKind,
        lang: Language,
        context: &NarrationContext,
        model: &str,
    ) -> String {
        let mut doc = serde_json::to_value(findings).expect("findings serialize");
        if let Some(map) = doc.as_object_mut() {
            map.remove("computed_at");
        }
        let input = serde_json::json!({
            "findings": doc,
            "kind": kind.code(),
            "lang": match lang { Language::Fr => "fr", Language::En => "en" },
            "criticality": context.criticality,
            "custom_context": context.custom_context,
            "model": model,
        });
        let digest = Sha256::digest(input.to_string().as_bytes());
        format!("ai:narrative:{}", hex::encode(digest))
    }
}

#[derive(Debug, thiserror::Error)]
enum NarrationError {
    #[error("over AI_RATE_LIMIT_PER_MINUTE")]
    RateLimited,
    #[error(transparent)]
    Api(#[from] AnthropicError),
    #[error(transparent)]
    Invalid(#[from] validate::Invalid),
}

struct Claude {
    client: AnthropicClient,
    settings: ClaudeSettings,
    cache: Arc<dyn Cache>,
}

/// Cheap to clone; built once at start and shared.
#[derive(Clone, Default)]
pub struct Narrator {
    /// `None`: no key, our templates only.
    claude: Option<Arc<Claude>>,
}

impl Narrator {
    /// `settings` is `None` without `ANTHROPIC_API_KEY`; the cache holds
    /// the narratives and the rate-limit window.
    pub fn new(settings: Option<ClaudeSettings>, cache: Arc<dyn Cache>) -> Self {
        Self {
            claude: settings.map(|settings| {
                Arc::new(Claude {
                    client: AnthropicClient::new(&settings.base_url, settings.api_key.clone()),
                    settings,
                    cache,
                })
            }),
        }
    }

    /// Which narrator answers when nothing fails.
    pub fn preferred(&self) -> NarratorKind {
        if self.claude.is_some() {
            NarratorKind::Claude
        } else {
            NarratorKind::Builtin
        }
    }

    pub async fn narrate(
        &self,
        findings: &Findings,
        kind: AnalysisKind,
        lang: Language,
        context: &NarrationContext,
    ) -> Narrative {
        let Some(claude) = &self.claude else {
            return templates::narrate(findings, kind, lang);
        };
        match claude.narrate(findings, kind, lang, context).await {
            Ok(narrative) => narrative,
            Err(e) => {
                tracing::warn!(
                    machine_id = %findings.machine_id,
                    kind = kind.code(),
                    error = %e,
                    "Claude narrative unavailable; the built-in templates write it"
                );
                templates::narrate(findings, kind, lang)
            }
        }
    }
}

impl Claude {
    async fn narrate(
        &self,
        findings: &Findings,
        kind: AnalysisKind,
        lang: Language,
        context: &NarrationContext,
    ) -> Result<Narrative, NarrationError> {
        let s = &self.settings;
        let key = keys::narrative(findings, kind, lang, context, &s.model);
        if !s.cache_ttl.is_zero() {
            match self.cache.get(&key).await {
                Ok(Some(hit)) => {
                    if let Ok(narrative) = serde_json::from_str::<Narrative>(&hit) {
                        return Ok(narrative);
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, "narrative cache unreadable"),
            }
        }
        let window = self.cache.hit(keys::CALLS, Duration::from_secs(60)).await;
        if window.count > s.rate_limit_per_minute {
            return Err(NarrationError::RateLimited);
        }
        let request = prompt::request(findings, kind, lang, context, &s.model, s.max_tokens);
        let text = self.client.messages(&request).await?;
        let reply = validate::parse_and_check(&text, findings)?;
        let narrative = Narrative {
            summary: reply.summary.trim().to_owned(),
            explanations: reply
                .explanations
                .into_iter()
                .map(|e| e.trim().to_owned())
                .collect(),
            narrator: NarratorKind::Claude,
        };
        if !s.cache_ttl.is_zero() {
            let value = serde_json::to_string(&narrative).expect("narrative serializes");
            if let Err(e) = self.cache.set(&key, &value, s.cache_ttl).await {
                tracing::debug!(error = %e, "narrative not cached");
            }
        }
        Ok(narrative)
    }
}

#[cfg(test)]
mod tests;

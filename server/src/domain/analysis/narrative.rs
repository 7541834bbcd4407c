//! PLACEHOLDER until the narrator lands: the types and the call the service
//! makes. Explains findings in words; never changes a number.

use super::{AnalysisKind, Findings};
use entities::enums::Language;
use serde::{Deserialize, Serialize};

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

#[derive(Clone, Default)]
pub struct Narrator {}

impl Narrator {
    pub async fn narrate(
        &self,
        findings: &Findings,
        _kind: AnalysisKind,
        _lang: Language,
        _context: &NarrationContext,
    ) -> Narrative {
        Narrative {
            summary: findings
                .issues
                .iter()
                .map(|i| i.title.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            explanations: Vec::new(),
            narrator: NarratorKind::Builtin,
        }
    }
}

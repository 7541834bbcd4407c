//! A stored analysis as a styled, self-contained HTML page (the report
//! `/api/reports/{id}.html` downloads): one file, inline CSS, no outside
//! resource. Rendered from the stored findings and narrative through the
//! e-mails' minijinja escaping: hostnames, event messages and the
//! narrative are data, never markup.

use super::{
    findings::{Direction, RiskLevel, Severity},
    service::{narrator_code, StoredAnalysis},
    AnalysisKind,
};
use crate::domain::{notify::email::html_formatter, DomainError};
use entities::enums::Language;
use minijinja::{context, Environment, Value};
use std::{collections::BTreeMap, sync::OnceLock};

const TEMPLATE: &str = include_str!("../../../templates/report/analysis.html");
const ACCENT: &str = "#f97316";

fn environment() -> Result<&'static Environment<'static>, DomainError> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_formatter(html_formatter);
        env.add_template("analysis.html", TEMPLATE)
            .map_err(|e| e.to_string())?;
        Ok(env)
    })
    .as_ref()
    .map_err(|e| DomainError::internal("report template", e.clone()))
}

fn pick(lang: Language, fr: &'static str, en: &'static str) -> &'static str {
    match lang {
        Language::Fr => fr,
        Language::En => en,
    }
}

fn severity(s: Severity) -> (&'static str, &'static str, &'static str) {
    match s {
        Severity::Low => ("low", "Faible", "Low"),
        Severity::Medium => ("medium", "Moyenne", "Medium"),
        Severity::High => ("high", "Élevée", "High"),
        Severity::Critical => ("critical", "Critique", "Critical"),
    }
}

fn risk(r: RiskLevel) -> (&'static str, &'static str, &'static str) {
    match r {
        RiskLevel::Low => ("low", "Faible", "Low"),
        RiskLevel::Medium => ("medium", "Moyen", "Medium"),
        RiskLevel::High => ("high", "Élevé", "High"),
        RiskLevel::Critical => ("critical", "Critique", "Critical"),
    }
}

fn kind_label(kind: AnalysisKind, lang: Language) -> &'static str {
    use AnalysisKind as K;
    match kind {
        K::Logs => pick(lang, "Analyse des journaux", "Log analysis"),
        K::Anomalies => pick(lang, "Détection d'anomalies", "Anomaly detection"),
        K::Full => pick(lang, "Analyse complète", "Full analysis"),
        K::Recommendations => pick(lang, "Recommandations", "Recommendations"),
        K::HealthScore => pick(lang, "Score de santé", "Health score"),
        K::Trends => pick(lang, "Tendances", "Trends"),
        K::Scripts => pick(lang, "Scripts de remédiation", "Remediation scripts"),
        K::Reports => pick(lang, "Rapport", "Report"),
        K::Degradation => pick(lang, "Dégradation", "Degradation"),
        K::Intermittent => pick(lang, "Problèmes intermittents", "Intermittent issues"),
        K::Correlate => pick(lang, "Corrélation", "Correlation"),
        K::PredictiveMaintenance => pick(lang, "Maintenance prédictive", "Predictive maintenance"),
    }
}

/// The report's HTML.
pub fn render(a: &StoredAnalysis) -> Result<String, DomainError> {
    let lang = a.language;
    let l = |fr, en| pick(lang, fr, en);
    let t: BTreeMap<&str, &str> = [
        ("title", l("Rapport d'analyse", "Analysis report")),
        ("narrator", l("Rédigé par", "Written by")),
        ("risk", l("Risque", "Risk")),
        ("trend", l("Tendance", "Trend")),
        ("confidence", l("Confiance", "Confidence")),
        ("summary", l("Synthèse", "Summary")),
        ("issues", l("Problèmes principaux", "Top issues")),
        ("recommendations", l("Recommandations", "Recommendations")),
        ("recommendation", l("Recommandation", "Recommendation")),
        ("severity", l("Gravité", "Severity")),
        ("degradations", l("Dégradations", "Degradations")),
        ("metric", l("Métrique", "Metric")),
        ("current", l("Actuel", "Current")),
        ("slope", l("Pente / jour", "Slope / day")),
        ("critical_at", l("Seuil critique prévu", "Predicted critical")),
        ("logs", l("Erreurs récurrentes", "Recurring errors")),
        ("source", l("Source", "Source")),
        ("count", l("Occurrences", "Count")),
        ("last_seen", l("Dernière", "Last seen")),
        ("message", l("Message", "Message")),
        ("scripts", l("Scripts de remédiation", "Remediation scripts")),
        (
            "footer",
            l(
                "Chiffres calculés par Optralis ; les scripts ne sont jamais exécutés par le serveur.",
                "Figures computed by Optralis; scripts are never run by the server.",
            ),
        ),
    ]
    .into_iter()
    .collect();
    let f = &a.findings;
    let health = f.health.as_ref().map(|h| {
        let (code, fr, en) = risk(h.risk);
        let categories = [
            ("CPU", h.categories.cpu),
            ("RAM", h.categories.ram),
            (l("Disque", "Disk"), h.categories.disk),
            (l("Sécurité", "Security"), h.categories.security),
            (l("Stabilité", "Stability"), h.categories.stability),
        ]
        .into_iter()
        .map(|(label, score)| context! { label, score })
        .collect::<Vec<_>>();
        context! {
            overall => h.overall,
            risk => code,
            risk_label => pick(lang, fr, en),
            trend_label => match h.trend {
                Direction::Improving => l("en amélioration", "improving"),
                Direction::Stable => l("stable", "stable"),
                Direction::Declining => l("en dégradation", "declining"),
            },
            confidence => (h.confidence * 100.0).round(),
            categories,
        }
    });
    let issues: Vec<Value> = f
        .issues
        .iter()
        .enumerate()
        .map(|(n, i)| {
            let (code, fr, en) = severity(i.severity);
            context! {
                severity => code,
                severity_label => pick(lang, fr, en),
                title => &i.title,
                description => &i.description,
                explanation => a.explanations.get(n),
            }
        })
        .collect();
    let recommendations: Vec<Value> = f
        .recommendations
        .iter()
        .flatten()
        .map(|r| {
            let (code, fr, en) = severity(r.severity);
            context! {
                priority => r.priority,
                title => &r.title,
                detail => &r.detail,
                severity => code,
                severity_label => pick(lang, fr, en),
            }
        })
        .collect();
    let degradations: Vec<Value> = f
        .degradations
        .iter()
        .flatten()
        .map(|d| {
            context! {
                metric => &d.metric,
                current => format!("{:.1}", d.current),
                slope => format!("{:+.2}", d.slope_per_day),
                critical_at => d.predicted_critical_at.map(|at| at.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "—".into()),
            }
        })
        .collect();
    let logs: Vec<Value> = f
        .logs
        .iter()
        .flatten()
        .map(|p| {
            context! {
                source => &p.source,
                event_id => p.event_id,
                count => p.count,
                last_seen => p.last_seen.format("%Y-%m-%d %H:%M").to_string(),
                message => &p.sample_message,
            }
        })
        .collect();
    let scripts: Vec<Value> = f
        .scripts
        .iter()
        .flatten()
        .map(|s| {
            context! {
                title => &s.title,
                shell => match s.shell {
                    super::findings::ScriptShell::PowerShell => "PowerShell",
                    super::findings::ScriptShell::Bash => "Bash",
                },
                warnings => &s.warnings,
                body => &s.body,
            }
        })
        .collect();
    environment()?
        .get_template("analysis.html")
        .and_then(|tpl| {
            tpl.render(context! {
                language => pick(lang, "fr", "en"),
                accent => ACCENT,
                t,
                hostname => &f.hostname,
                kind_label => kind_label(a.kind, lang),
                created_at => a.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                narrator => narrator_code(a.narrator),
                summary => &a.summary,
                health,
                issues,
                recommendations,
                degradations,
                logs,
                scripts,
            })
        })
        .map_err(|e| DomainError::internal("report render", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::analysis::{
        findings::{CategoryScores, Findings, HealthFinding, Issue, LogPattern},
        narrative::NarratorKind,
        service::Origin,
    };
    use chrono::Utc;
    use uuid::Uuid;

    fn analysis(hostname: &str, message: &str) -> StoredAnalysis {
        let now = Utc::now();
        StoredAnalysis {
            id: Uuid::now_v7(),
            client_id: Uuid::now_v7(),
            machine_id: Uuid::now_v7(),
            kind: AnalysisKind::Reports,
            findings: Findings {
                hostname: hostname.into(),
                computed_at: now,
                health: Some(HealthFinding {
                    overall: 73,
                    categories: CategoryScores {
                        cpu: 80,
                        ram: 70,
                        disk: 40,
                        security: 90,
                        stability: 85,
                    },
                    trend: Direction::Declining,
                    risk: RiskLevel::Medium,
                    confidence: 0.8,
                }),
                logs: Some(vec![LogPattern {
                    source: "Disk".into(),
                    event_id: 7,
                    level: "error".into(),
                    count: 12,
                    first_seen: now,
                    last_seen: now,
                    sample_message: message.into(),
                }]),
                issues: vec![Issue {
                    code: "disk_filling".into(),
                    title: "Disque presque plein".into(),
                    description: "C:\\ à 92 %".into(),
                    severity: Severity::High,
                }],
                ..Findings::default()
            },
            summary: "Santé correcte".into(),
            explanations: vec!["Le disque se remplit".into()],
            narrator: NarratorKind::Builtin,
            language: Language::Fr,
            origin: Origin::Manual { user_id: None },
            cost: 2,
            created_at: now,
        }
    }

    #[test]
    fn the_report_shows_the_findings_and_escapes_machine_text() {
        let html = render(&analysis("srv-<b>01</b>", "<script>alert(1)</script> & more")).unwrap();
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("73"), "overall score");
        assert!(html.contains("Disque presque plein"));
        assert!(
            html.contains("Le disque se remplit"),
            "the explanation of the issue"
        );
        assert!(html.contains("srv-&lt;b&gt;01&lt;/b&gt;"), "hostname escaped");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
        assert!(!html.contains("<script>"), "no markup from the machine");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "self-contained"
        );
    }
}

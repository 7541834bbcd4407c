//! From findings to issues (stable codes, worst first), recommendations
//! (one per kind of fix, prioritised) and scripts (a vetted template per
//! recommendation that has one).

use super::super::{
    findings::{
        Correlation, Degradation, Drift, DriftSeverity, Findings, Intermittency, Issue, Recommendation,
        RemediationScript, ScriptShell, Severity,
    },
    history::Volume,
};
use super::{
    scripts::{self, Param},
    text,
};
use crate::domain::fleet::health::{Inputs, Smart};
use entities::enums::Language;

/// Every issue code the engine emits.
pub const CODES: [&str; 26] = [
    "cpu_high",
    "ram_high",
    "disk_full",
    "disk_filling",
    "smart_failing",
    "smart_warning",
    "security_risks",
    "os_outdated",
    "reboot_required",
    "service_failed",
    "critical_events",
    "active_alerts",
    "cpu_anomaly",
    "ram_anomaly",
    "disk_latency_anomaly",
    "io_wait_anomaly",
    "cpu_degrading",
    "ram_degrading",
    "disk_latency_spikes",
    "io_wait_spikes",
    "event_correlated_spike",
    "cpu_drift",
    "ram_drift",
    "disk_latency_drift",
    "ram_capacity",
    "recurring_errors",
];

/// Issues kept in the findings.
const MAX_ISSUES: usize = 10;

/// An issue with what it is about (a mount point, a service), which picks
/// and fills its script.
#[derive(Clone, Debug, PartialEq)]
pub struct Found {
    pub issue: Issue,
    pub subject: Option<String>,
}

/// What the issues read beyond the findings.
#[derive(Clone, Debug, Default)]
pub struct Context {
    pub inputs: Option<Inputs>,
    pub volumes: Vec<Volume>,
    pub failed_services: Vec<String>,
    pub reboot_required: bool,
    pub active_alerts: usize,
    pub critical_alerts: usize,
}

fn metric_code(metric: &str, suffix: &str) -> String {
    let base = match metric {
        "cpu_percent" => "cpu",
        "ram_percent" => "ram",
        "disk_latency_ms" => "disk_latency",
        "io_wait_percent" => "io_wait",
        _ => "disk",
    };
    format!("{base}_{suffix}")
}

struct Builder {
    lang: Language,
    out: Vec<Found>,
}

impl Builder {
    fn add(&mut self, code: &str, severity: Severity, subject: Option<String>, fr: String, en: String) {
        let description = match self.lang {
            Language::Fr => fr,
            Language::En => en,
        };
        let found = Found {
            issue: Issue {
                code: code.to_owned(),
                title: text::issue_title(self.lang, code).to_owned(),
                description,
                severity,
            },
            subject,
        };
        // One issue per code and subject: the worst one.
        match self
            .out
            .iter_mut()
            .find(|f| f.issue.code == found.issue.code && f.subject == found.subject)
        {
            Some(f) if f.issue.severity < found.issue.severity => *f = found,
            Some(_) => {}
            None => self.out.push(found),
        }
    }
}

fn level(v: f64, steps: [(f64, Severity); 3]) -> Option<Severity> {
    steps.iter().find(|(at, _)| v >= *at).map(|(_, s)| *s)
}

fn health_issues(b: &mut Builder, i: &Inputs) {
    use Severity::*;
    if let Some(v) = i.cpu_percent {
        if let Some(s) = level(v, [(95.0, Critical), (85.0, High), (75.0, Medium)]) {
            b.add(
                "cpu_high",
                s,
                None,
                format!("CPU à {v:.0} % sur la dernière heure"),
                format!("CPU at {v:.0}% over the last hour"),
            );
        }
    }
    if let Some(v) = i.ram_percent {
        if let Some(s) = level(v, [(95.0, Critical), (90.0, High), (80.0, Medium)]) {
            b.add(
                "ram_high",
                s,
                None,
                format!("Mémoire à {v:.0} % sur la dernière heure"),
                format!("Memory at {v:.0}% over the last hour"),
            );
        }
    }
    match i.smart {
        Smart::Failing => b.add(
            "smart_failing",
            Critical,
            None,
            "Un disque annonce une défaillance".into(),
            "A disk reports a failure".into(),
        ),
        Smart::Warning => b.add(
            "smart_warning",
            Medium,
            None,
            "Un disque signale des secteurs défectueux".into(),
            "A disk reports bad sectors".into(),
        ),
        _ => {}
    }
    let r = &i.risks;
    let risk = if r.critical > 0 {
        Some(High)
    } else if r.high > 0 {
        Some(Medium)
    } else if r.medium + r.low > 0 {
        Some(Low)
    } else {
        None
    };
    if let Some(s) = risk {
        let n = r.critical + r.high + r.medium + r.low;
        b.add(
            "security_risks",
            s,
            None,
            format!("{n} risque(s) de sécurité ouvert(s)"),
            format!("{n} open security risk(s)"),
        );
    }
    if !i.os_compliant {
        b.add(
            "os_outdated",
            Medium,
            None,
            "Le système est sous le niveau requis".into(),
            "The system is below the required level".into(),
        );
    }
    if i.critical_events_24h > 0 {
        let n = i.critical_events_24h;
        let s = if n >= 5 { High } else { Medium };
        b.add(
            "critical_events",
            s,
            None,
            format!("{n} événement(s) critique(s) en 24 h"),
            format!("{n} critical event(s) in 24 h"),
        );
    }
}

fn volume_issues(b: &mut Builder, volumes: &[Volume]) {
    use Severity::*;
    for v in volumes {
        if let Some(s) = level(v.used_percent, [(95.0, Critical), (90.0, High), (80.0, Medium)]) {
            let (p, free) = (v.used_percent, (v.total_gb - v.used_gb).max(0.0));
            let m = &v.mount_point;
            b.add(
                "disk_full",
                s,
                Some(m.clone()),
                format!("« {m} » utilisé à {p:.0} % ({free:.1} Go libres)"),
                format!("“{m}” {p:.0}% used ({free:.1} GB free)"),
            );
        }
    }
}

fn degradation_issue(b: &mut Builder, d: &Degradation) {
    let (code, subject) = match d.metric.strip_prefix("disk_percent:") {
        Some(mount) => ("disk_filling".to_owned(), Some(mount.to_owned())),
        None => (metric_code(&d.metric, "degrading"), None),
    };
    let name = (
        text::metric_name(Language::Fr, &d.metric),
        text::metric_name(Language::En, &d.metric),
    );
    let (fr, en) = match d.predicted_critical_at {
        Some(at) => (
            format!(
                "{} : +{:.2} points/jour, 90 % atteint vers le {}",
                name.0,
                d.slope_per_day,
                at.format("%d/%m/%Y")
            ),
            format!(
                "{}: +{:.2} points/day, 90% reached around {}",
                name.1,
                d.slope_per_day,
                at.format("%Y-%m-%d")
            ),
        ),
        None => (
            format!(
                "{} : +{:.2} points/jour, déjà au-dessus de 90 %",
                name.0, d.slope_per_day
            ),
            format!(
                "{}: +{:.2} points/day, already above 90%",
                name.1, d.slope_per_day
            ),
        ),
    };
    b.add(&code, d.severity, subject, fr, en);
}

fn intermittency_issue(b: &mut Builder, i: &Intermittency) {
    let code = metric_code(&i.metric, "spikes");
    let pattern = |lang| match (i.pattern, lang) {
        (super::super::findings::SpikePattern::Random, Language::Fr) => "aléatoires",
        (super::super::findings::SpikePattern::Periodic, Language::Fr) => "périodiques",
        (super::super::findings::SpikePattern::Escalating, Language::Fr) => "en aggravation",
        (super::super::findings::SpikePattern::Random, Language::En) => "random",
        (super::super::findings::SpikePattern::Periodic, Language::En) => "periodic",
        (super::super::findings::SpikePattern::Escalating, Language::En) => "escalating",
    };
    b.add(
        &code,
        i.severity,
        None,
        format!(
            "{} pics {} au-dessus de {} (max {})",
            i.spikes,
            pattern(Language::Fr),
            i.threshold,
            i.max
        ),
        format!(
            "{} {} spikes over {} (max {})",
            i.spikes,
            pattern(Language::En),
            i.threshold,
            i.max
        ),
    );
}

fn drift_issue(b: &mut Builder, d: &Drift) {
    let severity = match d.severity {
        DriftSeverity::None => return,
        DriftSeverity::Warning => Severity::Medium,
        DriftSeverity::Critical => Severity::High,
    };
    b.add(
        &metric_code(&d.metric, "drift"),
        severity,
        None,
        format!(
            "Dernière heure {} contre {} ± {} sur 7 jours (z = {})",
            d.current_value, d.baseline_mean, d.baseline_stddev, d.z_score
        ),
        format!(
            "Last hour {} against {} ± {} over 7 days (z = {})",
            d.current_value, d.baseline_mean, d.baseline_stddev, d.z_score
        ),
    );
}

fn correlation_issue(b: &mut Builder, c: &Correlation) {
    let severity = if c.confidence >= 0.8 {
        Severity::Medium
    } else {
        Severity::Low
    };
    b.add(
        "event_correlated_spike",
        severity,
        None,
        c.root_cause.clone(),
        c.root_cause.clone(),
    );
}

/// The issues of `f`, worst first.
pub fn issues(f: &Findings, ctx: &Context, lang: Language) -> Vec<Found> {
    use Severity::*;
    let mut b = Builder {
        lang,
        out: Vec::new(),
    };
    if f.health.is_some() {
        if let Some(i) = &ctx.inputs {
            health_issues(&mut b, i);
        }
        volume_issues(&mut b, &ctx.volumes);
        if ctx.active_alerts > 0 {
            let (n, s) = (
                ctx.active_alerts,
                if ctx.critical_alerts > 0 { High } else { Medium },
            );
            b.add(
                "active_alerts",
                s,
                None,
                format!("{n} alerte(s) non résolue(s)"),
                format!("{n} unresolved alert(s)"),
            );
        }
    }
    if f.health.is_some() || f.recommendations.is_some() || f.scripts.is_some() {
        for s in ctx.failed_services.iter().take(3) {
            b.add(
                "service_failed",
                Medium,
                Some(s.clone()),
                format!("Le service « {s} » est arrêté ou en échec"),
                format!("Service “{s}” is stopped or failed"),
            );
        }
        if ctx.reboot_required {
            b.add(
                "reboot_required",
                Low,
                None,
                "Des mises à jour attendent un redémarrage".into(),
                "Updates wait for a reboot".into(),
            );
        }
    }
    for a in f.anomalies.iter().flatten() {
        let (fr, en) = (
            text::metric_name(Language::Fr, &a.metric),
            text::metric_name(Language::En, &a.metric),
        );
        b.add(
            &metric_code(&a.metric, "anomaly"),
            a.severity,
            None,
            format!(
                "{fr} à {} contre {} attendu (score {})",
                a.value, a.expected, a.score
            ),
            format!(
                "{en} at {} against {} expected (score {})",
                a.value, a.expected, a.score
            ),
        );
    }
    for d in f.degradations.iter().flatten() {
        degradation_issue(&mut b, d);
    }
    for i in f.intermittency.iter().flatten() {
        intermittency_issue(&mut b, i);
    }
    if let Some(c) = f.correlations.iter().flatten().next() {
        correlation_issue(&mut b, c);
    }
    if let Some(plan) = &f.capacity {
        for d in &plan.disks {
            if let Some(days) = d.days_until_critical.filter(|d| *d > 0.0 && *d <= 90.0) {
                let s = if days <= 7.0 {
                    Critical
                } else if days <= 30.0 {
                    High
                } else {
                    Medium
                };
                let m = &d.mount_point;
                b.add(
                    "disk_filling",
                    s,
                    Some(m.clone()),
                    format!(
                        "« {m} » : +{:.1} Go/mois, 90 % dans {days:.0} jours",
                        d.growth_rate_gb_per_month
                    ),
                    format!(
                        "“{m}”: +{:.1} GB/month, 90% in {days:.0} days",
                        d.growth_rate_gb_per_month
                    ),
                );
            }
        }
        if let Some(date) = plan.ram.as_ref().and_then(|r| r.predicted_full_date) {
            let days = (date - f.computed_at.date_naive()).num_days();
            if days <= 90 {
                b.add(
                    "ram_capacity",
                    if days <= 30 { High } else { Medium },
                    None,
                    format!("Mémoire saturée vers le {}", date.format("%d/%m/%Y")),
                    format!("Memory full around {date}"),
                );
            }
        }
    }
    for d in f.drift.iter().flatten() {
        drift_issue(&mut b, d);
    }
    if let Some(top) = f.logs.iter().flatten().find(|p| p.count >= 3) {
        let recurring = f.logs.iter().flatten().filter(|p| p.count >= 3).count();
        let s = if top.level == "critical" { High } else { Medium };
        b.add(
            "recurring_errors",
            s,
            None,
            format!(
                "{recurring} erreur(s) récurrente(s), la plus fréquente « {} » ({}) : {} fois",
                top.source, top.event_id, top.count
            ),
            format!(
                "{recurring} recurring error(s), the most frequent “{}” ({}): {} times",
                top.source, top.event_id, top.count
            ),
        );
    }
    let mut out = b.out;
    out.sort_by_key(|f| std::cmp::Reverse(f.issue.severity));
    out.truncate(MAX_ISSUES);
    out
}

fn param(found: &Found) -> Param {
    match (found.issue.code.as_str(), &found.subject) {
        ("disk_full" | "disk_filling", Some(m)) => Param::MountPoint(m.clone()),
        ("service_failed", Some(s)) => Param::Service(s.clone()),
        _ => Param::None,
    }
}

/// One recommendation per kind of fix, in the order of the issues; each
/// names the script template that addresses it when one renders.
pub fn recommendations(found: &[Found], shell: ScriptShell, lang: Language) -> Vec<Recommendation> {
    let mut out: Vec<Recommendation> = Vec::new();
    for f in found {
        let (title, detail) = text::advice(lang, &f.issue.code);
        let script = scripts::template_for(&f.issue.code)
            .filter(|id| scripts::render(id, shell, &param(f), lang).is_some())
            .map(str::to_owned);
        if out
            .iter()
            .any(|r| r.title == title && (r.script == script || script.is_none()))
        {
            continue;
        }
        out.push(Recommendation {
            priority: (out.len() + 1).min(255) as u8,
            code: f.issue.code.clone(),
            title: title.to_owned(),
            detail: detail.to_owned(),
            severity: f.issue.severity,
            script,
        });
    }
    out
}

/// The scripts the recommendations name, filled from their issues.
pub fn scripts(found: &[Found], shell: ScriptShell, lang: Language) -> Vec<RemediationScript> {
    let mut out: Vec<RemediationScript> = Vec::new();
    for f in found {
        let Some(id) = scripts::template_for(&f.issue.code) else {
            continue;
        };
        if let Some(s) = scripts::render(id, shell, &param(f), lang) {
            if !out.iter().any(|o| o.id == s.id && o.body == s.body) {
                out.push(s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::analysis::findings::{Anomaly, CategoryScores, Direction, HealthFinding, RiskLevel};
    use chrono::Utc;

    #[test]
    fn issues_are_deduplicated_sorted_and_answered_with_scripts() {
        let f = Findings {
            health: Some(HealthFinding {
                overall: 50,
                categories: CategoryScores {
                    cpu: 100,
                    ram: 100,
                    disk: 40,
                    security: 100,
                    stability: 100,
                },
                trend: Direction::Stable,
                risk: RiskLevel::High,
                confidence: 1.0,
            }),
            anomalies: Some(vec![Anomaly {
                metric: "ram_percent".into(),
                at: Utc::now(),
                value: 70.0,
                expected: 40.0,
                score: 5.0,
                seasonal: false,
                severity: Severity::Medium,
            }]),
            ..Findings::default()
        };
        let ctx = Context {
            inputs: Some(Inputs {
                cpu_percent: Some(97.0),
                ..Inputs::default()
            }),
            volumes: vec![
                Volume {
                    mount_point: "/".into(),
                    total_gb: 100.0,
                    used_gb: 93.0,
                    used_percent: 93.0,
                },
                Volume {
                    mount_point: "/bad'name".into(),
                    total_gb: 100.0,
                    used_gb: 96.0,
                    used_percent: 96.0,
                },
            ],
            failed_services: vec!["nginx".into()],
            reboot_required: true,
            ..Context::default()
        };
        let found = issues(&f, &ctx, Language::En);
        let codes: Vec<&str> = found.iter().map(|f| f.issue.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "cpu_high",
                "disk_full",
                "disk_full",
                "service_failed",
                "ram_anomaly",
                "reboot_required"
            ]
        );
        assert_eq!(found[0].issue.title, "High CPU usage");
        assert_eq!(found[1].issue.severity, Severity::Critical, "96 % first");
        let recs = recommendations(&found, ScriptShell::Bash, Language::En);
        assert_eq!(recs[0].priority, 1);
        assert_eq!(recs[0].script.as_deref(), Some("top_cpu_processes"));
        // The mount that fails the pattern gets advice, no script; the
        // valid one gets both.
        assert_eq!(recs[1].code, "disk_full");
        assert_eq!(recs[1].script, None);
        assert_eq!(recs[2].script.as_deref(), Some("clean_disk"));
        let scripts = scripts(&found, ScriptShell::Bash, Language::En);
        let ids: Vec<&str> = scripts.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "top_cpu_processes",
                "clean_disk",
                "restart_service",
                "top_memory_processes",
                "pending_reboot"
            ]
        );
        assert!(scripts.iter().all(|s| !s.body.contains("bad'name")));
        let fr = issues(&f, &ctx, Language::Fr);
        assert_eq!(fr[0].issue.title, "Utilisation CPU élevée");
    }
}

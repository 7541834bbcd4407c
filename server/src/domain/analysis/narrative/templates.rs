//! The built-in narrator: pure functions of the findings writing a summary
//! and one explanation per issue, in French or English. Every number it
//! prints comes from the findings, rounded for reading; it is also the
//! text every failed Claude call falls back to.

use super::super::findings::*;
use super::{Narrative, NarratorKind, MAX_SUMMARY_CHARS};
use crate::domain::analysis::AnalysisKind;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use entities::enums::Language;

/// Items listed per section; the rest are counted, not named, so the
/// summary stays readable (and under the 2,000 characters a summary has).
const LISTED: usize = 3;

pub fn narrate(findings: &Findings, kind: AnalysisKind, lang: Language) -> Narrative {
    Narrative {
        summary: summary(findings, kind, lang),
        explanations: findings
            .issues
            .iter()
            .map(|i| explanation(findings, i, lang))
            .collect(),
        narrator: NarratorKind::Builtin,
    }
}

fn fr(lang: Language) -> bool {
    lang == Language::Fr
}

/// Picks the French or the English text.
fn t(lang: Language, fr_text: &str, en_text: &str) -> String {
    if fr(lang) { fr_text } else { en_text }.to_owned()
}

pub(super) fn summary(f: &Findings, kind: AnalysisKind, lang: Language) -> String {
    let mut parts = vec![opening(f, kind, lang)];
    if let Some(h) = &f.health {
        parts.push(health(h, lang));
    }
    if let Some(a) = &f.anomalies {
        parts.push(anomalies(a, lang));
    }
    if let Some(tr) = &f.trends {
        parts.push(trends(tr, lang));
    }
    if let Some(d) = &f.degradations {
        parts.push(degradations(d, lang));
    }
    if let Some(i) = &f.intermittency {
        parts.push(intermittency(i, lang));
    }
    if let Some(c) = &f.correlations {
        parts.push(correlations(c, lang));
    }
    if let Some(c) = &f.capacity {
        parts.push(capacity(c, lang));
    }
    if let Some(d) = &f.drift {
        parts.push(drift(d, lang));
    }
    if let Some(l) = &f.logs {
        parts.push(logs(l, lang));
    }
    if let Some(r) = &f.recommendations {
        parts.push(recommendations(r, lang));
    }
    if let Some(s) = &f.scripts {
        parts.push(scripts(s, lang));
    }
    parts.iter_mut().for_each(capitalize);
    // The worst issue always closes the summary; sections that would take
    // it past the limit are left to the findings, which show them all.
    let closing = issues_line(&f.issues, lang);
    let mut out = String::new();
    for part in parts.iter().filter(|p| !p.is_empty()) {
        if out.chars().count() + part.chars().count() + closing.chars().count() + 2 > MAX_SUMMARY_CHARS {
            break;
        }
        out.push_str(part);
        out.push(' ');
    }
    out.push_str(&closing);
    out
}

fn opening(f: &Findings, kind: AnalysisKind, lang: Language) -> String {
    let name = kind_name(kind, lang);
    if fr(lang) {
        format!(
            "{name} de {} ({} échantillons analysés).",
            quoted(&f.hostname, lang),
            f.samples
        )
    } else {
        format!(
            "{name} of {} ({} samples analysed).",
            quoted(&f.hostname, lang),
            f.samples
        )
    }
}

fn kind_name(kind: AnalysisKind, lang: Language) -> String {
    use AnalysisKind::*;
    let (fr_name, en_name) = match kind {
        Logs => ("Analyse des journaux", "Log analysis"),
        Anomalies => ("Détection d'anomalies", "Anomaly detection"),
        Full => ("Analyse complète", "Full analysis"),
        Recommendations => ("Recommandations", "Recommendations"),
        HealthScore => ("Score de santé", "Health score"),
        Trends => ("Analyse des tendances", "Trend analysis"),
        Scripts => ("Scripts de remédiation", "Remediation scripts"),
        Reports => ("Rapport", "Report"),
        Degradation => ("Analyse de dégradation", "Degradation analysis"),
        Intermittent => ("Analyse des problèmes intermittents", "Intermittency analysis"),
        Correlate => ("Corrélation journaux/métriques", "Log/metric correlation"),
        PredictiveMaintenance => ("Maintenance prédictive", "Predictive maintenance"),
    };
    t(lang, fr_name, en_name)
}

fn health(h: &HealthFinding, lang: Language) -> String {
    let c = &h.categories;
    if fr(lang) {
        format!(
            "Score de santé : {}/100 (CPU {}, RAM {}, disque {}, sécurité {}, stabilité {}), tendance {}, risque {}, confiance {}.",
            h.overall,
            c.cpu,
            c.ram,
            c.disk,
            c.security,
            c.stability,
            direction(h.trend, lang),
            risk(h.risk, lang),
            percent(h.confidence * 100.0, lang)
        )
    } else {
        format!(
            "Health score: {}/100 (CPU {}, RAM {}, disk {}, security {}, stability {}), {} trend, {} risk, confidence {}.",
            h.overall,
            c.cpu,
            c.ram,
            c.disk,
            c.security,
            c.stability,
            direction(h.trend, lang),
            risk(h.risk, lang),
            percent(h.confidence * 100.0, lang)
        )
    }
}

fn anomalies(list: &[Anomaly], lang: Language) -> String {
    let Some(worst) = list.iter().max_by(|a, b| a.score.abs().total_cmp(&b.score.abs())) else {
        return t(lang, "Aucune anomalie détectée.", "No anomaly detected.");
    };
    let expected_from = if worst.seasonal {
        t(lang, "selon le profil horaire", "from the hourly profile")
    } else {
        t(lang, "selon la médiane", "from the median")
    };
    if fr(lang) {
        format!(
            "{} anomalie(s) détectée(s) ; la plus marquée : {} à {} le {} pour {} attendu(s) {expected_from} (score {}, sévérité {}).",
            list.len(),
            metric_name(&worst.metric, lang),
            value(&worst.metric, worst.value, lang),
            datetime(worst.at, lang),
            value(&worst.metric, worst.expected, lang),
            num(worst.score, 1, lang),
            severity(worst.severity, lang)
        )
    } else {
        format!(
            "{} anomaly(ies) detected; the strongest: {} at {} on {} where {} was expected {expected_from} (score {}, {} severity).",
            list.len(),
            metric_name(&worst.metric, lang),
            value(&worst.metric, worst.value, lang),
            datetime(worst.at, lang),
            value(&worst.metric, worst.expected, lang),
            num(worst.score, 1, lang),
            severity(worst.severity, lang)
        )
    }
}

fn trends(list: &[MetricTrend], lang: Language) -> String {
    if list.is_empty() {
        return t(
            lang,
            "Pas assez de données pour dégager des tendances.",
            "Not enough data for trends.",
        );
    }
    // The longest window of each metric says the most.
    let mut longest: Vec<&MetricTrend> = Vec::new();
    for trend in list {
        match longest.iter_mut().find(|t| t.metric == trend.metric) {
            Some(kept) if kept.window_days < trend.window_days => *kept = trend,
            Some(_) => {}
            None => longest.push(trend),
        }
    }
    let lines: Vec<String> = longest
        .iter()
        .take(LISTED)
        .map(|tr| {
            let slope = signed(tr.slope_per_day, 2, lang);
            let unit = per_day_unit(&tr.metric, lang);
            if fr(lang) {
                format!(
                    "{} sur {} jours : moyenne {}, p95 {}, p99 {}, {} ({slope} {unit})",
                    metric_name(&tr.metric, lang),
                    tr.window_days,
                    value(&tr.metric, tr.mean, lang),
                    value(&tr.metric, tr.p95, lang),
                    value(&tr.metric, tr.p99, lang),
                    direction(tr.direction, lang)
                )
            } else {
                format!(
                    "{} over {} days: mean {}, p95 {}, p99 {}, {} ({slope} {unit})",
                    metric_name(&tr.metric, lang),
                    tr.window_days,
                    value(&tr.metric, tr.mean, lang),
                    value(&tr.metric, tr.p95, lang),
                    value(&tr.metric, tr.p99, lang),
                    direction(tr.direction, lang)
                )
            }
        })
        .collect();
    format!("{}.", lines.join(sep(lang)))
}

fn degradations(list: &[Degradation], lang: Language) -> String {
    if list.is_empty() {
        return t(
            lang,
            "Aucune dégradation lente détectée.",
            "No slow degradation detected.",
        );
    }
    let mut sorted: Vec<&Degradation> = list.iter().collect();
    sorted.sort_by_key(|d| std::cmp::Reverse(d.severity));
    let lines: Vec<String> = sorted
        .iter()
        .take(LISTED)
        .map(|d| {
            let name = metric_name(&d.metric, lang);
            let slope = signed(d.slope_per_day, 2, lang);
            let unit = per_day_unit(&d.metric, lang);
            let current = value(&d.metric, d.current, lang);
            let threshold = value(&d.metric, d.critical_threshold, lang);
            let r2 = num(d.r_squared, 2, lang);
            match (d.predicted_critical_at, d.days_until_critical) {
                (Some(at), days) if fr(lang) => format!(
                    "{name} se dégrade de {slope} {unit} (actuellement {current}, R² {r2}) : seuil critique de {threshold} atteint vers le {}{}",
                    date(at.date_naive(), lang),
                    days.map(|d| format!(" (dans {} jours)", num(d, 0, lang))).unwrap_or_default()
                ),
                (Some(at), days) => format!(
                    "{name} is degrading by {slope} {unit} (now {current}, R² {r2}): critical threshold of {threshold} expected around {}{}",
                    date(at.date_naive(), lang),
                    days.map(|d| format!(" (in {} days)", num(d, 0, lang))).unwrap_or_default()
                ),
                (None, _) if d.current >= d.critical_threshold => {
                    if fr(lang) {
                        format!("{name} a déjà dépassé son seuil critique de {threshold} (actuellement {current})")
                    } else {
                        format!("{name} is already past its critical threshold of {threshold} (now {current})")
                    }
                }
                (None, _) => {
                    if fr(lang) {
                        format!("{name} évolue de {slope} {unit} (actuellement {current}) sans atteindre son seuil critique de {threshold}")
                    } else {
                        format!("{name} moves by {slope} {unit} (now {current}) without reaching its critical threshold of {threshold}")
                    }
                }
            }
        })
        .collect();
    format!("{}.", lines.join(sep(lang)))
}

fn intermittency(list: &[Intermittency], lang: Language) -> String {
    if list.is_empty() {
        return t(
            lang,
            "Aucun problème intermittent (latence disque, attente E/S).",
            "No intermittent problem (disk latency, IO wait).",
        );
    }
    let lines: Vec<String> = list
        .iter()
        .take(LISTED)
        .map(|i| {
            let name = metric_name(&i.metric, lang);
            let threshold = value(&i.metric, i.threshold, lang);
            let max = value(&i.metric, i.max, lang);
            let period = i
                .period_secs
                .filter(|_| i.pattern == SpikePattern::Periodic)
                .map(|s| {
                    if fr(lang) {
                        format!(", toutes les {}", duration(s, lang))
                    } else {
                        format!(", every {}", duration(s, lang))
                    }
                })
                .unwrap_or_default();
            if fr(lang) {
                format!(
                    "{name} : {} pic(s) au-dessus de {threshold} (max {max}), motif {}{period}, du {} au {}",
                    i.spikes,
                    pattern(i.pattern, lang),
                    datetime(i.first_at, lang),
                    datetime(i.last_at, lang)
                )
            } else {
                format!(
                    "{name}: {} spike(s) above {threshold} (max {max}), {} pattern{period}, from {} to {}",
                    i.spikes,
                    pattern(i.pattern, lang),
                    datetime(i.first_at, lang),
                    datetime(i.last_at, lang)
                )
            }
        })
        .collect();
    format!("{}.", lines.join(sep(lang)))
}

fn correlations(list: &[Correlation], lang: Language) -> String {
    if list.is_empty() {
        return t(
            lang,
            "Aucun événement système ne précède les pics de métriques.",
            "No system event precedes the metric spikes.",
        );
    }
    let mut sorted: Vec<&Correlation> = list.iter().collect();
    sorted.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let lines: Vec<String> = sorted
        .iter()
        .take(LISTED)
        .map(|c| {
            let spike = &c.metric_spike;
            let events = c
                .related_events
                .iter()
                .take(LISTED)
                .map(|e| format!("{} #{}", quoted(&e.source, lang), e.event_id))
                .collect::<Vec<_>>()
                .join(", ");
            if fr(lang) {
                format!(
                    "pic de {} à {} le {}, précédé de {} événement(s) ({events}), confiance {} : {}",
                    metric_name(&spike.metric, lang),
                    value(&spike.metric, spike.value, lang),
                    datetime(spike.at, lang),
                    c.related_events.len(),
                    percent(c.confidence * 100.0, lang),
                    c.root_cause
                )
            } else {
                format!(
                    "{} spike at {} on {}, preceded by {} event(s) ({events}), confidence {}: {}",
                    metric_name(&spike.metric, lang),
                    value(&spike.metric, spike.value, lang),
                    datetime(spike.at, lang),
                    c.related_events.len(),
                    percent(c.confidence * 100.0, lang),
                    c.root_cause
                )
            }
        })
        .collect();
    let head = if fr(lang) {
        format!("{} corrélation(s) : ", list.len())
    } else {
        format!("{} correlation(s): ", list.len())
    };
    format!("{head}{}.", lines.join(sep(lang)))
}

fn capacity(plan: &CapacityPlan, lang: Language) -> String {
    let mut lines: Vec<String> = plan
        .disks
        .iter()
        .map(|d| {
            let full = match (d.predicted_full_date, d.days_until_critical) {
                (Some(at), Some(days)) if fr(lang) => {
                    format!(
                        "plein prévu le {} (seuil critique dans {} jours)",
                        date(at, lang),
                        num(days, 0, lang)
                    )
                }
                (Some(at), Some(days)) => {
                    format!(
                        "full expected on {} (critical threshold in {} days)",
                        date(at, lang),
                        num(days, 0, lang)
                    )
                }
                (Some(at), None) if fr(lang) => format!("plein prévu le {}", date(at, lang)),
                (Some(at), None) => format!("full expected on {}", date(at, lang)),
                (None, _) => t(lang, "pas de saturation prévue", "no saturation expected"),
            };
            let growth = signed(d.growth_rate_gb_per_month, 1, lang);
            if fr(lang) {
                format!(
                    "disque {} : {} utilisés sur {} Go, {growth} Go/mois, {full}",
                    quoted(&d.mount_point, lang),
                    percent(d.current_usage_percent, lang),
                    num(d.total_gb, 0, lang)
                )
            } else {
                format!(
                    "disk {}: {} used of {} GB, {growth} GB/month, {full}",
                    quoted(&d.mount_point, lang),
                    percent(d.current_usage_percent, lang),
                    num(d.total_gb, 0, lang)
                )
            }
        })
        .collect();
    if let Some(ram) = &plan.ram {
        let full = match ram.predicted_full_date {
            Some(at) if fr(lang) => format!("saturation prévue le {}", date(at, lang)),
            Some(at) => format!("saturation expected on {}", date(at, lang)),
            None => t(lang, "pas de saturation prévue", "no saturation expected"),
        };
        lines.push(if fr(lang) {
            format!(
                "RAM : {} en moyenne, {}, {full}",
                percent(ram.avg_usage_percent, lang),
                direction(ram.trend, lang)
            )
        } else {
            format!(
                "RAM: {} on average, {}, {full}",
                percent(ram.avg_usage_percent, lang),
                direction(ram.trend, lang)
            )
        });
    }
    if lines.is_empty() {
        return t(
            lang,
            "Pas assez d'historique pour prévoir la capacité.",
            "Not enough history to forecast capacity.",
        );
    }
    let head = t(lang, "Capacité : ", "Capacity: ");
    format!("{head}{}.", lines.join(sep(lang)))
}

fn drift(list: &[Drift], lang: Language) -> String {
    let drifting: Vec<&Drift> = list
        .iter()
        .filter(|d| d.severity != DriftSeverity::None)
        .collect();
    if drifting.is_empty() {
        return t(
            lang,
            "Aucune dérive par rapport à la référence de 7 jours.",
            "No drift from the 7-day baseline.",
        );
    }
    let lines: Vec<String> = drifting
        .iter()
        .take(LISTED)
        .map(|d| {
            let level = match (d.severity, fr(lang)) {
                (DriftSeverity::Critical, true) => "critique",
                (_, true) => "avertissement",
                (DriftSeverity::Critical, false) => "critical",
                (_, false) => "warning",
            };
            if fr(lang) {
                format!(
                    "dérive de {} : {} contre une référence de {} ± {} (z-score {}, {level})",
                    metric_name(&d.metric, lang),
                    value(&d.metric, d.current_value, lang),
                    value(&d.metric, d.baseline_mean, lang),
                    num(d.baseline_stddev, 1, lang),
                    num(d.z_score, 1, lang)
                )
            } else {
                format!(
                    "{} drift: {} against a baseline of {} ± {} (z-score {}, {level})",
                    metric_name(&d.metric, lang),
                    value(&d.metric, d.current_value, lang),
                    value(&d.metric, d.baseline_mean, lang),
                    num(d.baseline_stddev, 1, lang),
                    num(d.z_score, 1, lang)
                )
            }
        })
        .collect();
    format!("{}.", lines.join(sep(lang)))
}

fn logs(list: &[LogPattern], lang: Language) -> String {
    if list.is_empty() {
        return t(
            lang,
            "Aucune erreur récurrente dans les journaux.",
            "No recurring error in the logs.",
        );
    }
    let mut sorted: Vec<&LogPattern> = list.iter().collect();
    sorted.sort_by_key(|l| std::cmp::Reverse(l.count));
    let lines: Vec<String> = sorted
        .iter()
        .take(LISTED)
        .map(|l| {
            if fr(lang) {
                format!(
                    "{} #{} ({}) ×{} du {} au {}",
                    quoted(&l.source, lang),
                    l.event_id,
                    level(&l.level, lang),
                    l.count,
                    datetime(l.first_seen, lang),
                    datetime(l.last_seen, lang)
                )
            } else {
                format!(
                    "{} #{} ({}) ×{} from {} to {}",
                    quoted(&l.source, lang),
                    l.event_id,
                    level(&l.level, lang),
                    l.count,
                    datetime(l.first_seen, lang),
                    datetime(l.last_seen, lang)
                )
            }
        })
        .collect();
    if fr(lang) {
        format!(
            "{} erreur(s) récurrente(s) : {}.",
            list.len(),
            lines.join(sep(lang))
        )
    } else {
        format!("{} recurring error(s): {}.", list.len(), lines.join(sep(lang)))
    }
}

fn recommendations(list: &[Recommendation], lang: Language) -> String {
    let Some(first) = list.iter().min_by_key(|r| r.priority) else {
        return t(lang, "Aucune action recommandée.", "No action recommended.");
    };
    if fr(lang) {
        format!(
            "{} recommandation(s) ; la plus urgente (priorité {}) : {}.",
            list.len(),
            first.priority,
            first.title
        )
    } else {
        format!(
            "{} recommendation(s); the most urgent (priority {}): {}.",
            list.len(),
            first.priority,
            first.title
        )
    }
}

fn scripts(list: &[RemediationScript], lang: Language) -> String {
    if list.is_empty() {
        return t(
            lang,
            "Aucun script de remédiation ne s'applique.",
            "No remediation script applies.",
        );
    }
    let titles = list
        .iter()
        .take(LISTED)
        .map(|s| format!("{} ({})", s.title, shell(s.shell)))
        .collect::<Vec<_>>()
        .join(", ");
    if fr(lang) {
        format!(
            "{} script(s) de remédiation proposé(s) : {titles}. À relire avant de les exécuter ; le serveur ne les exécute jamais.",
            list.len()
        )
    } else {
        format!(
            "{} remediation script(s) offered: {titles}. Review them before running them; the server never runs them.",
            list.len()
        )
    }
}

fn issues_line(issues: &[Issue], lang: Language) -> String {
    let Some(worst) = issues.first() else {
        return t(lang, "Aucun problème à signaler.", "No issue to report.");
    };
    if fr(lang) {
        format!(
            "{} problème(s) relevé(s), le plus grave : {} ({}).",
            issues.len(),
            worst.title,
            severity(worst.severity, lang)
        )
    } else {
        format!(
            "{} issue(s) found, the most serious: {} ({}).",
            issues.len(),
            worst.title,
            severity(worst.severity, lang)
        )
    }
}

/// One issue: its severity and description, then what the findings
/// recommend for its code and the vetted script that goes with it.
fn explanation(f: &Findings, issue: &Issue, lang: Language) -> String {
    let mut text = if fr(lang) {
        format!(
            "{} (sévérité {}). {}",
            issue.title,
            severity(issue.severity, lang),
            issue.description
        )
    } else {
        format!(
            "{} ({} severity). {}",
            issue.title,
            severity(issue.severity, lang),
            issue.description
        )
    };
    end_sentence(&mut text);
    let recommendation = f
        .recommendations
        .iter()
        .flatten()
        .filter(|r| r.code == issue.code)
        .min_by_key(|r| r.priority);
    if let Some(r) = recommendation {
        text.push_str(&if fr(lang) {
            format!(" Action recommandée (priorité {}) : {}", r.priority, r.title)
        } else {
            format!(" Recommended action (priority {}): {}", r.priority, r.title)
        });
        if !r.detail.is_empty() {
            text.push_str(" — ");
            text.push_str(&r.detail);
        }
        end_sentence(&mut text);
        let script = r
            .script
            .as_deref()
            .and_then(|id| f.scripts.iter().flatten().find(|s| s.id == id));
        if let Some(s) = script {
            text.push_str(&if fr(lang) {
                format!(
                    " Script proposé : {} ({}), à relire avant exécution.",
                    s.title,
                    shell(s.shell)
                )
            } else {
                format!(
                    " Suggested script: {} ({}), to review before running it.",
                    s.title,
                    shell(s.shell)
                )
            });
        }
    }
    text
}

fn end_sentence(text: &mut String) {
    let trimmed = text.trim_end().len();
    text.truncate(trimmed);
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
}

fn capitalize(text: &mut String) {
    if let Some(first) = text.chars().next() {
        let upper: String = first.to_uppercase().collect();
        text.replace_range(..first.len_utf8(), &upper);
    }
}

fn sep(lang: Language) -> &'static str {
    if fr(lang) {
        " ; "
    } else {
        "; "
    }
}

/// Machine-supplied names are quoted so a reader tells them from our text.
fn quoted(text: &str, lang: Language) -> String {
    if fr(lang) {
        format!("\u{ab}\u{a0}{text}\u{a0}\u{bb}")
    } else {
        format!("\u{201c}{text}\u{201d}")
    }
}

pub(super) fn num(x: f64, decimals: usize, lang: Language) -> String {
    let mut s = format!("{x:.decimals$}");
    if decimals > 0 {
        // 12.0 reads as 12.
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    if s == "-0" {
        s = "0".into();
    }
    if fr(lang) {
        s = s.replace('.', ",");
    }
    s
}

fn signed(x: f64, decimals: usize, lang: Language) -> String {
    let s = num(x, decimals, lang);
    if s.starts_with('-') || s == "0" {
        s
    } else {
        format!("+{s}")
    }
}

fn percent(x: f64, lang: Language) -> String {
    if fr(lang) {
        format!("{}\u{a0}%", num(x, 1, lang))
    } else {
        format!("{}%", num(x, 1, lang))
    }
}

fn is_latency(metric: &str) -> bool {
    metric.ends_with("_ms")
}

/// A value in the metric's unit.
fn value(metric: &str, x: f64, lang: Language) -> String {
    if is_latency(metric) {
        format!("{} ms", num(x, 1, lang))
    } else {
        percent(x, lang)
    }
}

fn per_day_unit(metric: &str, lang: Language) -> String {
    if is_latency(metric) {
        t(lang, "ms/jour", "ms/day")
    } else {
        t(lang, "point(s)/jour", "point(s)/day")
    }
}

fn metric_name(metric: &str, lang: Language) -> String {
    if let Some(mount) = metric.strip_prefix("disk_percent:") {
        return if fr(lang) {
            format!("le disque {}", quoted(mount, lang))
        } else {
            format!("disk {}", quoted(mount, lang))
        };
    }
    match metric {
        "cpu_percent" => "CPU".into(),
        "ram_percent" => "RAM".into(),
        "disk_percent" => t(lang, "le disque", "disk"),
        "disk_latency_ms" => t(lang, "la latence disque", "disk latency"),
        "io_wait_percent" => t(lang, "l'attente E/S", "IO wait"),
        "cpu_temp" => t(lang, "la température CPU", "CPU temperature"),
        other => other.to_owned(),
    }
}

fn severity(s: Severity, lang: Language) -> String {
    match s {
        Severity::Low => t(lang, "faible", "low"),
        Severity::Medium => t(lang, "moyenne", "medium"),
        Severity::High => t(lang, "élevée", "high"),
        Severity::Critical => t(lang, "critique", "critical"),
    }
}

fn risk(r: RiskLevel, lang: Language) -> String {
    match r {
        RiskLevel::Low => t(lang, "faible", "low"),
        RiskLevel::Medium => t(lang, "moyen", "medium"),
        RiskLevel::High => t(lang, "élevé", "high"),
        RiskLevel::Critical => t(lang, "critique", "critical"),
    }
}

fn direction(d: Direction, lang: Language) -> String {
    match d {
        Direction::Improving => t(lang, "en amélioration", "improving"),
        Direction::Stable => t(lang, "stable", "stable"),
        Direction::Declining => t(lang, "en dégradation", "declining"),
    }
}

fn pattern(p: SpikePattern, lang: Language) -> String {
    match p {
        SpikePattern::Random => t(lang, "aléatoire", "random"),
        SpikePattern::Periodic => t(lang, "périodique", "periodic"),
        SpikePattern::Escalating => t(lang, "en aggravation", "escalating"),
    }
}

fn level(level: &str, lang: Language) -> String {
    match level {
        "critical" => t(lang, "critique", "critical"),
        "error" => t(lang, "erreur", "error"),
        "warning" => t(lang, "avertissement", "warning"),
        other => other.to_owned(),
    }
}

fn shell(s: ScriptShell) -> &'static str {
    match s {
        ScriptShell::PowerShell => "PowerShell",
        ScriptShell::Bash => "Bash",
    }
}

fn duration(secs: i64, lang: Language) -> String {
    let secs = secs.max(0);
    if secs >= 86_400 && secs % 3_600 == 0 {
        let days = num(secs as f64 / 86_400.0, 1, lang);
        format!("{days} {}", t(lang, "j", "d"))
    } else if secs >= 3_600 {
        format!("{} h", num(secs as f64 / 3_600.0, 1, lang))
    } else if secs >= 60 {
        format!("{} min", num(secs as f64 / 60.0, 0, lang))
    } else {
        format!("{secs} s")
    }
}

const MONTHS_FR: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A full date: `3 avril 2027`, `3 April 2027`.
pub(super) fn date(d: NaiveDate, lang: Language) -> String {
    let months = if fr(lang) { MONTHS_FR } else { MONTHS_EN };
    format!("{} {} {}", d.day(), months[d.month0() as usize], d.year())
}

fn datetime(at: DateTime<Utc>, lang: Language) -> String {
    let time = at.format("%H:%M");
    if fr(lang) {
        format!("{} à {time} UTC", date(at.date_naive(), lang))
    } else {
        format!("{} at {time} UTC", date(at.date_naive(), lang))
    }
}

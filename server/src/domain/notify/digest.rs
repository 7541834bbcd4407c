//! What an AI routine or trigger tells a tenant's channels: the spec's
//! `routine_notification` (a short text: what ran, how many machines,
//! how many issues, the top ones) and `report_notification` (the reports'
//! summaries, each linked to its page). Rendered by pure functions for
//! e-mail (`email::digest`) and for each chat platform (here).

use super::render::clip;
use chrono::{DateTime, Utc};
use entities::enums::Language;
use serde::Serialize;
use serde_json::{json, Value};

/// The two templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestKind {
    /// `routine_notification`.
    Routine,
    /// `report_notification`.
    Report,
}

impl DigestKind {
    /// The outbox kind.
    pub fn code(self) -> &'static str {
        match self {
            Self::Routine => "routine_notification",
            Self::Report => "report_notification",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DigestIssue {
    pub hostname: String,
    pub title: String,
    /// low, medium, high, critical
    pub severity: String,
}

/// One machine's report in a report notification.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DigestReport {
    pub hostname: String,
    pub summary: String,
    /// `{dashboard_url}/reports/{analysis_id}`.
    pub link: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Digest {
    pub kind: DigestKind,
    pub language: Language,
    pub tenant: String,
    /// The routine's or trigger's name.
    pub name: String,
    pub at: DateTime<Utc>,
    pub machines_analyzed: i32,
    pub issues_found: i32,
    /// Worst first, at most [`TOP_ISSUES`].
    pub top_issues: Vec<DigestIssue>,
    pub reports: Vec<DigestReport>,
    /// The dashboard (routine) or the first report's page.
    pub link: String,
}

/// Issues a notification lists.
pub const TOP_ISSUES: usize = 5;
/// Reports a notification lists (the dashboard has them all).
pub const MAX_REPORTS: usize = 10;

fn fr(lang: Language) -> bool {
    lang == Language::Fr
}

/// The one-line subject of every channel.
pub fn subject(d: &Digest) -> String {
    let date = match d.language {
        Language::Fr => d.at.format("%d/%m/%Y").to_string(),
        Language::En => d.at.format("%m/%d/%Y").to_string(),
    };
    match (d.kind, fr(d.language)) {
        (DigestKind::Routine, true) => format!("[Optralis] {} - Routine IA : {} ({date})", d.tenant, d.name),
        (DigestKind::Routine, false) => format!("[Optralis] {} - AI routine: {} ({date})", d.tenant, d.name),
        (DigestKind::Report, true) => format!("[Optralis] Rapport IA : {} - {} ({date})", d.name, d.tenant),
        (DigestKind::Report, false) => format!("[Optralis] AI report: {} - {} ({date})", d.name, d.tenant),
    }
}

/// "3 machine(s) analysée(s), 2 problème(s) trouvé(s)".
pub fn tally(d: &Digest) -> String {
    match d.language {
        Language::Fr => format!(
            "{} machine(s) analysée(s), {} problème(s) trouvé(s)",
            d.machines_analyzed, d.issues_found
        ),
        Language::En => format!(
            "{} machine(s) analysed, {} issue(s) found",
            d.machines_analyzed, d.issues_found
        ),
    }
}

pub fn severity_label(s: &str, lang: Language) -> &'static str {
    match (s, fr(lang)) {
        ("critical", true) => "Critique",
        ("critical", false) => "Critical",
        ("high", true) => "Élevée",
        ("high", false) => "High",
        ("medium", true) => "Moyenne",
        ("medium", false) => "Medium",
        (_, true) => "Faible",
        (_, false) => "Low",
    }
}

/// The lines every chat platform shows, in order, as plain text.
pub fn lines(d: &Digest) -> Vec<String> {
    let mut out = vec![tally(d)];
    if !d.top_issues.is_empty() {
        out.push(
            if fr(d.language) {
                "Principaux problèmes :"
            } else {
                "Top issues:"
            }
            .to_owned(),
        );
        for i in &d.top_issues {
            out.push(format!(
                "• {} – {} ({})",
                i.hostname,
                i.title,
                severity_label(&i.severity, d.language)
            ));
        }
    }
    out
}

fn open_label(d: &Digest) -> &'static str {
    match (d.kind, fr(d.language)) {
        (DigestKind::Report, true) => "Voir le rapport",
        (DigestKind::Report, false) => "Open the report",
        (DigestKind::Routine, true) => "Voir sur Optralis",
        (DigestKind::Routine, false) => "Open in Optralis",
    }
}

/// A Teams workflow message (Adaptive Card 1.5).
pub fn teams(d: &Digest) -> Value {
    let mut body = vec![
        json!({"type": "TextBlock", "text": format!("🏢 {}", d.tenant.to_uppercase()), "size": "Large", "weight": "Bolder", "color": "Accent"}),
        json!({"type": "TextBlock", "text": format!("🤖 {}", d.name), "size": "Medium", "weight": "Bolder", "wrap": true}),
    ];
    for line in lines(d) {
        body.push(json!({"type": "TextBlock", "text": clip(&line, 1000), "wrap": true}));
    }
    for r in &d.reports {
        body.push(json!({"type": "TextBlock", "text": format!("**{}**", r.hostname), "wrap": true}));
        body.push(
            json!({"type": "TextBlock", "text": clip(&r.summary, 1000), "wrap": true, "isSubtle": true}),
        );
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "type": "AdaptiveCard",
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "version": "1.5",
                "body": body,
                "actions": [{"type": "Action.OpenUrl", "title": open_label(d), "url": d.link}]
            }
        }]
    })
}

/// A Slack Block Kit message; user text escaped as Slack documents.
pub fn slack(d: &Digest) -> Value {
    let esc = super::render::slack_escape;
    let mut text = format!("*🤖 {}*\n", esc(&d.name));
    for line in lines(d) {
        text.push_str(&esc(&line));
        text.push('\n');
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": clip(&format!("🏢 {}", d.tenant.to_uppercase()), 150), "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&text, 2900)}}),
    ];
    for r in &d.reports {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": clip(&format!("*{}*\n{}\n<{}|{}>", esc(&r.hostname), esc(&r.summary), r.link, open_label(d)), 2900)}}));
    }
    blocks.push(json!({"type": "actions", "elements": [{
        "type": "button", "style": "primary",
        "text": {"type": "plain_text", "text": open_label(d), "emoji": true},
        "url": d.link
    }]}));
    json!({ "blocks": blocks })
}

/// A Discord embed.
pub fn discord(d: &Digest) -> Value {
    let mut fields: Vec<Value> = d
        .reports
        .iter()
        .map(|r| json!({"name": clip(&r.hostname, 256), "value": clip(&format!("{}\n[{}]({})", r.summary, open_label(d), r.link), 1000), "inline": false}))
        .collect();
    fields.push(json!({"name": "🔗", "value": format!("[{}]({})", open_label(d), d.link), "inline": false}));
    json!({ "embeds": [{
        "author": {"name": clip(&d.tenant, 256)},
        "title": clip(&format!("🤖 {}", d.name), 256),
        "description": clip(&lines(d).join("\n"), 4000),
        "color": 0x3b82f6,
        "fields": fields,
        "footer": {"text": "Optralis"},
        "timestamp": d.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }]})
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn sample(kind: DigestKind, language: Language) -> Digest {
        let reports = match kind {
            DigestKind::Report => vec![DigestReport {
                hostname: "SRV-PROD-01".into(),
                summary: "Santé 72/100 : le disque C: se remplit.".into(),
                link: "https://dash.example.test/reports/00000000-0000-0000-0000-000000000007".into(),
            }],
            DigestKind::Routine => vec![],
        };
        Digest {
            kind,
            language,
            tenant: "MonClient".into(),
            name: "Santé quotidienne".into(),
            at: Utc.with_ymd_and_hms(2026, 1, 9, 8, 0, 0).unwrap(),
            machines_analyzed: 3,
            issues_found: 2,
            top_issues: vec![
                DigestIssue {
                    hostname: "SRV-PROD-01".into(),
                    title: "Disk C: filling".into(),
                    severity: "high".into(),
                },
                DigestIssue {
                    hostname: "<b>pc-02</b>".into(),
                    title: "CPU saturated".into(),
                    severity: "medium".into(),
                },
            ],
            reports,
            link: "https://dash.example.test".into(),
        }
    }

    #[test]
    fn every_platform_matches_its_golden_file() {
        for kind in [DigestKind::Routine, DigestKind::Report] {
            for (lang, code) in [(Language::Fr, "fr"), (Language::En, "en")] {
                let d = sample(kind, lang);
                for (platform, payload) in [
                    ("teams", teams(&d)),
                    ("slack", slack(&d)),
                    ("discord", discord(&d)),
                ] {
                    insta::assert_json_snapshot!(format!("{platform}__{}_{code}", kind.code()), payload);
                }
            }
        }
    }

    #[test]
    fn slack_escapes_machine_text_and_subjects_name_the_routine() {
        let d = sample(DigestKind::Routine, Language::Fr);
        let text = slack(&d).to_string();
        assert!(text.contains("&lt;b&gt;pc-02&lt;/b&gt;") && !text.contains("<b>pc-02"));
        assert_eq!(
            subject(&d),
            "[Optralis] MonClient - Routine IA : Santé quotidienne (09/01/2026)"
        );
        let en = sample(DigestKind::Report, Language::En);
        assert_eq!(
            subject(&en),
            "[Optralis] AI report: Santé quotidienne - MonClient (01/09/2026)"
        );
    }
}

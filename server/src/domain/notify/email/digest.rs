//! The wording of the AI automation e-mails: `routine_notification` and
//! `report_notification`.

use super::helpers::{pick, Draft, Text};
use crate::domain::notify::digest::{severity_label, subject, tally, Digest, DigestKind};
use minijinja::context;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct IssueLine {
    hostname: String,
    line: String,
}

pub(super) fn digest(d: &Digest) -> Draft {
    let lang = d.language;
    let l = |fr: &str, en: &str| pick(lang, fr, en);
    let title = match d.kind {
        DigestKind::Routine => format!("{}{}", l("Routine IA : ", "AI routine: "), d.name),
        DigestKind::Report => format!("{}{}", l("Rapport IA : ", "AI report: "), d.name),
    };
    let intro = format!("{} – {}.", d.tenant, tally(d));
    let issues_label = l("Principaux problèmes", "Top issues");
    let issues: Vec<IssueLine> = d
        .top_issues
        .iter()
        .map(|i| IssueLine {
            hostname: i.hostname.clone(),
            line: format!("{} ({})", i.title, severity_label(&i.severity, lang)),
        })
        .collect();
    let open_report = l("Voir le rapport complet", "Open the full report");
    let cta = match d.kind {
        DigestKind::Routine => l("Ouvrir le tableau de bord", "Open the dashboard"),
        DigestKind::Report => l("Voir le rapport", "Open the report"),
    };
    // French sets a space before the colon.
    let colon = l(" :", ":");
    let mut text = Text::new(lang, &title);
    text.para(&intro);
    for r in &d.reports {
        text.para(&format!("{}\n{}", r.hostname, r.summary))
            .link(&format!("{open_report}{colon}"), &r.link);
    }
    if !issues.is_empty() {
        text.para(&format!("{issues_label}{colon}"));
        for i in &issues {
            text.field(&i.hostname, &i.line);
        }
        text.gap();
    }
    text.link(&format!("{cta}{colon}"), &d.link);
    let reports = &d.reports;
    let link = &d.link;
    Draft {
        subject: subject(d),
        t: BTreeMap::from([
            ("title", title),
            ("intro", intro),
            ("issues_label", issues_label),
            ("open_report", open_report),
            ("cta", cta),
        ]),
        vars: context! { issues, reports, link },
        text,
    }
}

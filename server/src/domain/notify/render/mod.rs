//! A [`Notice`] shaped for each webhook platform. The three renderers are
//! pure; every word they show is chosen here, so a wording change (or a
//! new alert type) is made once for Teams, Slack and Discord alike.

mod discord;
mod slack;
mod teams;

pub use discord::discord;
pub(crate) use slack::escape as slack_escape;
pub use slack::slack;
pub use teams::teams;

use super::notice::{format_ago, format_date, Notice, RuleFacts};
use chrono::{DateTime, Utc};
use entities::enums::{AlertMetric, AlertType, Language, Severity};

/// The logo the spec's Slack and Discord samples show.
pub(crate) const LOGO_URL: &str = "https://optralis-img.2lacs-it.com/assets/Optralis-white.png";

/// How alarming a notice is, which each platform draws its own way
/// (Teams colour names, Discord integers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tone {
    Danger,
    Warning,
    Caution,
    Good,
    Info,
}

impl Tone {
    /// Discord embed colour: the dashboard's palette (red-500, amber-500,
    /// orange-500, green-500, blue-500), so a card reads like the UI.
    pub(crate) fn rgb(self) -> u32 {
        match self {
            Tone::Danger => 0xef4444,
            Tone::Warning => 0xf97316,
            Tone::Caution => 0xf59e0b,
            Tone::Good => 0x22c55e,
            Tone::Info => 0x3b82f6,
        }
    }

    /// Adaptive Cards know a few named colours only.
    pub(crate) fn teams_color(self) -> &'static str {
        match self {
            Tone::Danger => "attention",
            Tone::Warning | Tone::Caution => "warning",
            Tone::Good => "good",
            Tone::Info => "accent",
        }
    }
}

/// The words of the status line ("🔴 **ATTENTION** - Machine hors ligne")
/// and of Discord's title ("🔴 MACHINE OFFLINE").
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Headline {
    pub emoji: &'static str,
    pub level: &'static str,
    pub text: String,
    pub title: String,
    pub tone: Tone,
}

/// What an alert type is called in a sentence ("CPU élevé").
pub(crate) fn type_name(t: AlertType, lang: Language) -> &'static str {
    let fr = lang == Language::Fr;
    match t {
        AlertType::MachineOffline => pick(fr, "Machine hors ligne", "Machine offline"),
        AlertType::MachineOnline => pick(fr, "Machine de retour en ligne", "Machine back online"),
        AlertType::HighCpu => pick(fr, "CPU élevé", "High CPU"),
        AlertType::HighRam => pick(fr, "RAM élevée", "High RAM"),
        AlertType::DiskCritical => pick(fr, "Disque critique", "Critical disk"),
        AlertType::HighTemperature => pick(fr, "Température élevée", "High temperature"),
        AlertType::SmartWarning => pick(fr, "Alerte SMART", "SMART warning"),
        AlertType::BruteForce => pick(fr, "Tentative de brute force", "Brute force attempt"),
        AlertType::AlertResolved => pick(fr, "Alerte résolue", "Alert resolved"),
        AlertType::Test => pick(fr, "Notification de test", "Test notification"),
    }
}

pub(crate) fn headline(n: &Notice) -> Headline {
    let fr = n.language == Language::Fr;
    let attention = "ATTENTION";
    let warning = pick(fr, "AVERTISSEMENT", "WARNING");
    let (emoji, level, title, tone) = match n.alert_type {
        AlertType::MachineOffline => ("🔴", attention, "MACHINE OFFLINE", Tone::Danger),
        AlertType::MachineOnline => ("🟢", "OK", "MACHINE ONLINE", Tone::Good),
        AlertType::HighCpu => ("🟠", warning, pick(fr, "CPU ÉLEVÉ", "HIGH CPU"), Tone::Warning),
        AlertType::HighRam => ("🟠", warning, pick(fr, "RAM ÉLEVÉE", "HIGH RAM"), Tone::Warning),
        AlertType::DiskCritical => (
            "🔴",
            attention,
            pick(fr, "DISQUE CRITIQUE", "CRITICAL DISK"),
            Tone::Danger,
        ),
        AlertType::HighTemperature => (
            "🟠",
            warning,
            pick(fr, "TEMPÉRATURE ÉLEVÉE", "HIGH TEMPERATURE"),
            Tone::Warning,
        ),
        AlertType::SmartWarning => (
            "🟡",
            warning,
            pick(fr, "ALERTE SMART", "SMART WARNING"),
            Tone::Caution,
        ),
        AlertType::BruteForce => (
            "🔴",
            attention,
            pick(fr, "TENTATIVE BRUTE FORCE", "BRUTE FORCE ATTEMPT"),
            Tone::Danger,
        ),
        AlertType::AlertResolved => (
            "✅",
            pick(fr, "RÉSOLU", "RESOLVED"),
            pick(fr, "ALERTE RÉSOLUE", "ALERT RESOLVED"),
            Tone::Good,
        ),
        AlertType::Test => (
            "🧪",
            "TEST",
            pick(fr, "NOTIFICATION DE TEST", "TEST NOTIFICATION"),
            Tone::Info,
        ),
    };
    let text = match (n.alert_type, n.resolves) {
        // Without the resolved type the line would not say what is over.
        (AlertType::AlertResolved, Some(what)) => {
            let sep = pick(fr, " : ", ": ");
            format!(
                "{}{sep}{}",
                type_name(AlertType::AlertResolved, n.language),
                type_name(what, n.language)
            )
        }
        (t, _) => type_name(t, n.language).to_owned(),
    };
    Headline {
        emoji,
        level,
        text,
        title: format!("{emoji} {title}"),
        tone,
    }
}

/// The one-line subject every channel's record (and e-mail) carries:
/// "[Optralis] Acme - CPU élevé - SRV-01".
pub fn subject(n: &Notice) -> String {
    let what = headline(n).text;
    match &n.machine {
        Some(m) => format!("[Optralis] {} - {what} - {}", n.tenant, m.hostname),
        None => format!("[Optralis] {} - {what}", n.tenant),
    }
}

pub(crate) fn severity_label(s: Severity, lang: Language) -> &'static str {
    let fr = lang == Language::Fr;
    match s {
        Severity::Low => pick(fr, "Faible", "Low"),
        Severity::Warning => pick(fr, "Avertissement", "Warning"),
        Severity::Critical => pick(fr, "Critique", "Critical"),
    }
}

/// "CPU : 95,5 % (seuil > 90 %)" / "CPU: 95.5% (threshold > 90%)".
pub(crate) fn measurement(rule: &RuleFacts, lang: Language) -> String {
    let fr = lang == Language::Fr;
    let (name, unit) = match rule.metric {
        AlertMetric::Cpu => ("CPU", "%"),
        AlertMetric::Ram => ("RAM", "%"),
        AlertMetric::Disk => (pick(fr, "Disque", "Disk"), "%"),
        AlertMetric::Temperature => (pick(fr, "Température", "Temperature"), "°C"),
        AlertMetric::OfflineMinutes => (pick(fr, "Hors ligne", "Offline"), "min"),
    };
    // French typography spaces the colon and every unit; English spaces
    // only words ("12 min", but "95.5%").
    let spaced = fr || unit == "min";
    let quantity = |v: f64| {
        let number = number(v, lang);
        if spaced {
            format!("{number} {unit}")
        } else {
            format!("{number}{unit}")
        }
    };
    let (colon, threshold) = pick(fr, (" : ", "seuil"), (": ", "threshold"));
    format!(
        "{name}{colon}{} ({threshold} {} {})",
        quantity(rule.value),
        rule.operator,
        quantity(rule.threshold)
    )
}

/// At most two decimals, none when whole, with the language's decimal mark.
fn number(v: f64, lang: Language) -> String {
    let mut s = format!("{v:.2}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    if s == "-0" {
        s = "0".to_owned();
    }
    match lang {
        Language::Fr => s.replace('.', ","),
        Language::En => s,
    }
}

/// One labelled value of a card, in the order the spec lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fact {
    pub label: String,
    pub value: String,
    pub kind: FactKind,
}

/// How a value is set apart: the machine name stands out, identifiers
/// read as code in Slack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FactKind {
    Hostname,
    Date,
    Code,
    Plain,
}

pub(crate) struct Labels {
    pub machine: &'static str,
    pub date: &'static str,
    pub detected: &'static str,
    pub last_seen: &'static str,
    pub system: &'static str,
    pub ip: &'static str,
    pub agent_version: &'static str,
    pub channel: &'static str,
    pub measurement: &'static str,
    pub severity: &'static str,
    pub rule: &'static str,
    pub link: &'static str,
    pub open_button: &'static str,
    pub open_machine: &'static str,
    pub client: &'static str,
    pub tagline: &'static str,
    /// What `last_seen` reads when the agent never reported.
    pub never: &'static str,
}

pub(crate) fn labels(lang: Language) -> Labels {
    match lang {
        Language::Fr => Labels {
            machine: "🖥️ Machine",
            date: "📅 Date",
            detected: "📅 Détecté le",
            last_seen: "🕐 Dernière connexion",
            system: "💻 Système",
            ip: "🌐 IP locale",
            agent_version: "📦 Version agent",
            channel: "🔄 Canal",
            measurement: "📈 Mesure",
            severity: "⚠️ Sévérité",
            rule: "📏 Règle",
            link: "🔗 Lien",
            open_button: "🔗 Voir sur Optralis",
            open_machine: "Voir la machine",
            client: "Client : ",
            tagline: "Voir plus loin. Agir plus vite.",
            never: "Jamais",
        },
        Language::En => Labels {
            machine: "🖥️ Machine",
            date: "📅 Date",
            detected: "📅 Detected",
            last_seen: "🕐 Last seen",
            system: "💻 System",
            ip: "🌐 Local IP",
            agent_version: "📦 Agent version",
            channel: "🔄 Channel",
            measurement: "📈 Measurement",
            severity: "⚠️ Severity",
            rule: "📏 Rule",
            link: "🔗 Link",
            open_button: "🔗 Open in Optralis",
            open_machine: "View machine",
            client: "Client: ",
            tagline: "See further. Act faster.",
            never: "Never",
        },
    }
}

/// The label of `detail`, which means something different per type.
pub(crate) fn detail_label(t: AlertType, lang: Language) -> &'static str {
    let fr = lang == Language::Fr;
    match t {
        AlertType::BruteForce => pick(fr, "👤 Compte ciblé", "👤 Targeted account"),
        AlertType::SmartWarning => pick(fr, "💽 Disque", "💽 Disk"),
        AlertType::Test => "💬 Message",
        _ => pick(fr, "ℹ️ Détail", "ℹ️ Detail"),
    }
}

pub(crate) fn last_seen(n: &Notice, now: DateTime<Utc>) -> Option<String> {
    let m = n.machine.as_ref()?;
    Some(match m.last_seen {
        Some(at) => format_ago(at, now, n.language),
        None => labels(n.language).never.to_owned(),
    })
}

/// The facts Teams and Slack lay out two by two: the spec's machine rows
/// (each pair as the spec pairs them), then what the type adds.
pub(crate) fn facts(n: &Notice, now: DateTime<Utc>) -> Vec<Fact> {
    let l = labels(n.language);
    let fact = |label: &str, value: String, kind| Fact {
        label: label.to_owned(),
        value: clip(&value, FIELD_MAX),
        kind,
    };
    let date = format_date(n.at, n.language);
    let mut out = Vec::new();
    match &n.machine {
        Some(m) => {
            out.push(fact(l.machine, m.hostname.clone(), FactKind::Hostname));
            out.push(fact(l.date, date, FactKind::Date));
            out.push(fact(
                l.last_seen,
                last_seen(n, now).unwrap_or_default(),
                FactKind::Plain,
            ));
            out.push(fact(l.system, m.os.clone(), FactKind::Plain));
            out.push(fact(l.ip, m.ip.clone(), FactKind::Code));
            out.push(fact(
                l.agent_version,
                agent_version(&m.agent_version, &m.update_channel),
                FactKind::Plain,
            ));
        }
        None => out.push(fact(l.date, date, FactKind::Date)),
    }
    if let Some(detail) = &n.detail {
        out.push(fact(
            detail_label(n.alert_type, n.language),
            detail.clone(),
            FactKind::Plain,
        ));
    }
    out.extend(
        rule_facts(n)
            .into_iter()
            .map(|(label, value)| fact(label, value, FactKind::Plain)),
    );
    out
}

/// "2.1.0 (stable)", or the version alone when the channel is unknown.
pub(crate) fn agent_version(version: &str, channel: &str) -> String {
    if channel.is_empty() {
        version.to_owned()
    } else {
        format!("{version} ({channel})")
    }
}

/// Measurement, severity and rule name of a metric alert.
pub(crate) fn rule_facts(n: &Notice) -> Vec<(&'static str, String)> {
    let Some(rule) = &n.rule else { return Vec::new() };
    let l = labels(n.language);
    vec![
        (l.measurement, measurement(rule, n.language)),
        (l.severity, severity_label(rule.severity, n.language).to_owned()),
        (l.rule, rule.name.clone()),
    ]
}

/// Discord's smallest limit on a field value is 1024 characters, Slack's
/// 2000; an over-long user text must shorten the card, not get it refused.
pub(crate) const FIELD_MAX: usize = 1000;

/// `s` cut to `max` characters, an ellipsis marking the cut.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn pick<T>(fr: bool, french: T, english: T) -> T {
    if fr {
        french
    } else {
        english
    }
}

#[cfg(test)]
mod tests;

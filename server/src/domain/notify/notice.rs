//! What a notification says, before any channel shapes it: one [`Notice`]
//! per event, rendered by pure functions into an e-mail, a Teams card, a
//! Slack message or a Discord embed.

use chrono::{DateTime, Utc};
use entities::enums::{AlertMetric, AlertType, Language, Severity};
use uuid::Uuid;

/// The facts about a machine every format shows (spec: machine, last
/// connection, OS, IP, agent version, date).
#[derive(Clone, Debug, PartialEq)]
pub struct MachineFacts {
    pub id: Uuid,
    pub hostname: String,
    pub os: String,
    pub ip: String,
    pub agent_version: String,
    /// stable or beta.
    pub update_channel: String,
    pub last_seen: Option<DateTime<Utc>>,
}

/// The rule behind a metric alert.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleFacts {
    pub name: String,
    pub metric: AlertMetric,
    pub severity: Severity,
    /// The operator as written (`>`, `<=`, ...).
    pub operator: String,
    pub threshold: f64,
    /// The value that crossed (or, for a resolution, came back across).
    pub value: f64,
}

/// One event to tell a tenant about.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub alert_type: AlertType,
    pub language: Language,
    /// The tenant's name, shown as the card's header.
    pub tenant: String,
    pub machine: Option<MachineFacts>,
    pub rule: Option<RuleFacts>,
    /// For `alert_resolved`: the type of the alert that resolved.
    pub resolves: Option<AlertType>,
    /// Free text some types carry: the account under brute force, the
    /// SMART device, a test message.
    pub detail: Option<String>,
    /// When it was detected.
    pub at: DateTime<Utc>,
    /// Dashboard link: the machine's page, or the dashboard.
    pub link: String,
}

/// "08/01/2026 à 14:30" in French, "01/08/2026 at 2:30 PM" in English
/// (UTC: tenants have no time zone yet).
pub fn format_date(at: DateTime<Utc>, language: Language) -> String {
    match language {
        Language::Fr => at.format("%d/%m/%Y à %H:%M").to_string(),
        Language::En => at.format("%m/%d/%Y at %-I:%M %p").to_string(),
    }
}

/// "Il y a 5 minutes" / "5 minutes ago", from `then` to `now`.
pub fn format_ago(then: DateTime<Utc>, now: DateTime<Utc>, language: Language) -> String {
    let secs = (now - then).num_seconds().max(0);
    let (n, unit_fr, unit_en) = if secs < 60 {
        (secs, "seconde", "second")
    } else if secs < 3600 {
        (secs / 60, "minute", "minute")
    } else if secs < 86_400 {
        (secs / 3600, "heure", "hour")
    } else {
        (secs / 86_400, "jour", "day")
    };
    let plural = if n > 1 { "s" } else { "" };
    match language {
        Language::Fr => format!("Il y a {n} {unit_fr}{plural}"),
        Language::En => format!("{n} {unit_en}{plural} ago"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dates_read_as_each_language_writes_them() {
        let at = Utc.with_ymd_and_hms(2026, 1, 8, 14, 30, 0).unwrap();
        assert_eq!(format_date(at, Language::Fr), "08/01/2026 à 14:30");
        assert_eq!(format_date(at, Language::En), "01/08/2026 at 2:30 PM");
        let earlier = at - chrono::Duration::minutes(5);
        assert_eq!(format_ago(earlier, at, Language::Fr), "Il y a 5 minutes");
        assert_eq!(format_ago(earlier, at, Language::En), "5 minutes ago");
        assert_eq!(
            format_ago(at - chrono::Duration::minutes(61), at, Language::Fr),
            "Il y a 1 heure"
        );
    }
}

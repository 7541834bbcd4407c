//! Slack incoming webhooks: a Block Kit message.

use super::{clip, facts, headline, labels, Fact, FactKind, LOGO_URL};
use crate::domain::notify::Notice;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// Slack refuses a header longer than this.
const HEADER_MAX: usize = 150;

pub fn slack(n: &Notice, now: DateTime<Utc>) -> Value {
    let h = headline(n);
    let l = labels(n.language);
    let header = clip(&format!("🏢 {}", n.tenant.to_uppercase()), HEADER_MAX);
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header, "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{} *{}* - {}", h.emoji, h.level, escape(&h.text))}}),
        json!({"type": "divider"}),
    ];
    for pair in facts(n, now).chunks(2) {
        blocks.push(json!({"type": "section", "fields": pair.iter().map(field).collect::<Vec<_>>()}));
    }
    blocks.push(json!({"type": "actions", "elements": [{
        "type": "button", "style": "primary",
        "text": {"type": "plain_text", "text": l.open_button, "emoji": true},
        "url": n.link
    }]}));
    blocks.push(json!({"type": "divider"}));
    blocks.push(json!({"type": "context", "elements": [
        {"type": "image", "image_url": LOGO_URL, "alt_text": "Optralis"},
        {"type": "mrkdwn", "text": format!("🟠 *Optralis* Monitoring • _{}_", l.tagline)}
    ]}));
    json!({ "blocks": blocks })
}

fn field(f: &Fact) -> Value {
    let value = escape(&f.value);
    let value = match f.kind {
        // A backtick would close the code span early and let the rest be
        // read as formatting.
        FactKind::Hostname | FactKind::Code => format!("`{}`", value.replace('`', "'")),
        FactKind::Date | FactKind::Plain => value,
    };
    json!({"type": "mrkdwn", "text": format!("*{}*\n{value}", f.label)})
}

/// Slack's documented escaping for text it parses: without it, a name
/// containing `<!channel>` or `<https://x|y>` becomes a mention or a link.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

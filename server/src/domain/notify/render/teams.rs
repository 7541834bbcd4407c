//! Microsoft Teams through a Power Automate workflow: an Adaptive Card 1.5
//! inside a `message` envelope (Office 365 connectors and their
//! MessageCard are retired).

use super::{facts, headline, labels, Fact, FactKind};
use crate::domain::notify::Notice;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub fn teams(n: &Notice, now: DateTime<Utc>) -> Value {
    let h = headline(n);
    let l = labels(n.language);
    let mut body = vec![
        json!({"type": "TextBlock", "text": format!("🏢 {}", n.tenant.to_uppercase()), "size": "Large", "weight": "Bolder", "color": "Accent"}),
        json!({"type": "TextBlock", "text": format!("{} **{}** - {}", h.emoji, h.level, h.text), "size": "Medium", "color": h.tone.teams_color()}),
        json!({"type": "TextBlock", "text": "━━━━━━━━━━━━━━━━━━━━", "size": "Small", "color": "Light"}),
    ];
    for pair in facts(n, now).chunks(2) {
        body.push(json!({"type": "ColumnSet", "columns": pair.iter().map(column).collect::<Vec<_>>()}));
    }
    body.push(
        json!({"type": "TextBlock", "text": "🟠 **Optralis** Monitoring", "size": "Small", "color": "Light"}),
    );
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
                "actions": [
                    {"type": "Action.OpenUrl", "title": l.open_button, "url": n.link}
                ]
            }
        }]
    })
}

fn column(f: &Fact) -> Value {
    let value = match f.kind {
        FactKind::Hostname => {
            json!({"type": "TextBlock", "text": f.value, "size": "Medium", "weight": "Bolder"})
        }
        FactKind::Date => json!({"type": "TextBlock", "text": f.value, "size": "Medium"}),
        FactKind::Code | FactKind::Plain => json!({"type": "TextBlock", "text": f.value}),
    };
    json!({"type": "Column", "width": "stretch", "items": [
        {"type": "TextBlock", "text": f.label, "size": "Small", "color": "Light", "weight": "Bolder"},
        value
    ]})
}

//! Discord webhooks: one embed laid out as the spec's three-column status
//! card (inline fields), the link at full width.

use super::{
    agent_version, clip, detail_label, headline, labels, last_seen, rule_facts, FIELD_MAX, LOGO_URL,
};
use crate::domain::notify::{notice::format_date, Notice};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// Discord's limit on the author name and the title.
const NAME_MAX: usize = 256;

pub fn discord(n: &Notice, now: DateTime<Utc>) -> Value {
    let h = headline(n);
    let l = labels(n.language);
    let mut fields = Vec::new();
    let mut inline = |name: &str, value: String| {
        fields.push(json!({"name": name, "value": clip(&value, FIELD_MAX), "inline": true}));
    };
    if let Some(m) = &n.machine {
        inline(l.last_seen, last_seen(n, now).unwrap_or_default());
        inline(l.system, m.os.clone());
        inline(l.ip, m.ip.clone());
        // The channel has a field of its own here, so the version stands
        // alone rather than as "2.1.0 (stable)".
        inline(l.agent_version, agent_version(&m.agent_version, ""));
        inline(l.channel, m.update_channel.clone());
    }
    inline(l.detected, format_date(n.at, n.language));
    if let Some(detail) = &n.detail {
        inline(detail_label(n.alert_type, n.language), detail.clone());
    }
    for (name, value) in rule_facts(n) {
        inline(name, value);
    }
    let link_text = if n.machine.is_some() {
        l.open_machine
    } else {
        l.open_button.trim_start_matches("🔗 ")
    };
    fields.push(json!({"name": l.link, "value": format!("[{link_text}]({})", n.link), "inline": false}));

    let mut embed = Map::new();
    embed.insert(
        "author".into(),
        json!({"name": clip(&format!("{}{}", l.client, n.tenant), NAME_MAX)}),
    );
    embed.insert("title".into(), json!(h.title));
    if let Some(m) = &n.machine {
        embed.insert("description".into(), json!(clip(&m.hostname, FIELD_MAX)));
    }
    embed.insert("color".into(), json!(h.tone.rgb()));
    embed.insert("fields".into(), Value::Array(fields));
    embed.insert("image".into(), json!({"url": LOGO_URL}));
    embed.insert("footer".into(), json!({"text": "Optralis"}));
    embed.insert(
        "timestamp".into(),
        json!(n.at.to_rfc3339_opts(SecondsFormat::Secs, true)),
    );
    json!({ "embeds": [embed] })
}

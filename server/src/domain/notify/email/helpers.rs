//! Small pieces every template's wording shares: the language switch, the
//! greeting, counts and units, and the plain-text builder.

use super::Common;
use entities::enums::{AlertMetric, Language};
use minijinja::Value;
use std::collections::BTreeMap;

pub(super) fn pick(lang: Language, fr: &str, en: &str) -> String {
    match lang {
        Language::Fr => fr.to_owned(),
        Language::En => en.to_owned(),
    }
}

pub(super) fn code(lang: Language) -> &'static str {
    match lang {
        Language::Fr => "fr",
        Language::En => "en",
    }
}

pub(super) fn greeting(lang: Language, name: &str) -> String {
    let name = name.trim();
    match (lang, name.is_empty()) {
        (Language::Fr, true) => "Bonjour,".into(),
        (Language::Fr, false) => format!("Bonjour {name},"),
        (Language::En, true) => "Hello,".into(),
        (Language::En, false) => format!("Hello {name},"),
    }
}

pub(super) fn days(lang: Language, n: i64) -> String {
    let plural = if n.abs() > 1 { "s" } else { "" };
    match lang {
        Language::Fr => format!("{n} jour{plural}"),
        Language::En => format!("{n} day{plural}"),
    }
}

/// The plain-text part, built line by line in the same order as the HTML.
pub(super) struct Text {
    lang: Language,
    out: String,
}

impl Text {
    pub(super) fn new(lang: Language, title: &str) -> Self {
        let mut out = String::new();
        out.push_str(title);
        out.push_str("\n\n");
        Self { lang, out }
    }

    pub(super) fn para(&mut self, text: &str) -> &mut Self {
        self.out.push_str(text);
        self.out.push_str("\n\n");
        self
    }

    /// French sets a space before the colon.
    pub(super) fn field(&mut self, label: &str, value: &str) -> &mut Self {
        let sep = match self.lang {
            Language::Fr => " : ",
            Language::En => ": ",
        };
        self.out.push_str(label);
        self.out.push_str(sep);
        self.out.push_str(value);
        self.out.push('\n');
        self
    }

    pub(super) fn opt_field(&mut self, label: &str, value: Option<&String>) -> &mut Self {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.field(label, v);
        }
        self
    }

    pub(super) fn gap(&mut self) -> &mut Self {
        self.out.push('\n');
        self
    }

    /// A link on a line of its own, so mail clients make it clickable.
    pub(super) fn link(&mut self, label: &str, url: &str) -> &mut Self {
        self.out.push_str(label);
        self.out.push('\n');
        self.out.push_str(url);
        self.out.push_str("\n\n");
        self
    }

    pub(super) fn finish(mut self, footer: &str, common: &Common) -> String {
        self.out.push_str("-- \n");
        self.out.push_str(footer);
        self.out.push('\n');
        self.out.push_str(&format!(
            "© {} {} – {}\n",
            common.year, common.company_name, common.company_url
        ));
        self.out
    }
}

/// What one template needs rendered: its words, its own variables and
/// its text part.
pub(super) struct Draft {
    pub(super) subject: String,
    pub(super) t: BTreeMap<&'static str, String>,
    pub(super) vars: Value,
    pub(super) text: Text,
}

pub(super) fn unit(metric: AlertMetric) -> &'static str {
    match metric {
        AlertMetric::Cpu | AlertMetric::Ram | AlertMetric::Disk => " %",
        AlertMetric::Temperature => " °C",
        AlertMetric::OfflineMinutes => " min",
    }
}

/// Whole numbers without decimals, others with one; French writes a comma.
pub(super) fn number(v: f64, lang: Language) -> String {
    let s = if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    };
    match lang {
        Language::Fr => s.replace('.', ","),
        Language::En => s,
    }
}

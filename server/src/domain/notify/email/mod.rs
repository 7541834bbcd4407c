//! The product's e-mails: nine HTML templates (the spec's Linear design,
//! inline CSS and table layout so Gmail and Outlook show them as designed)
//! and a plain-text alternative we write ourselves, in French or English.
//!
//! The wording of every e-mail lives in this module (`account`, `fleet`),
//! in one table per template; the `.html` files only lay it out, so the
//! text and HTML parts always say the same thing. Every value reaches the
//! HTML through minijinja's escaping: names, hostnames and messages are
//! data, never markup.

mod account;
mod digest;
mod fleet;
mod helpers;
#[cfg(test)]
mod tests;

use super::notice::{format_ago, format_date, Notice};
use crate::{domain::DomainError, infra::mailer::LOGO_CID};
use entities::enums::{AlertType, Language};
use helpers::{code, number, pick, unit, Draft};
use minijinja::{context, escape_formatter, AutoEscape, Environment, Output, State, Value};
use serde::Serialize;
use std::sync::OnceLock;

pub const ORANGE: &str = "#f97316";
pub const GREEN: &str = "#22c55e";
pub const RED: &str = "#ef4444";
pub const AMBER: &str = "#f59e0b";

pub const COMPANY_NAME: &str = "2LACS IT";
pub const COMPANY_URL: &str = "https://2lacs-it.com";

/// What every template shows besides its own data.
#[derive(Clone, Debug, PartialEq)]
pub struct Common {
    /// The dashboard's address, without a trailing slash.
    pub base_url: String,
    pub company_url: String,
    pub company_name: String,
    pub year: i32,
    /// The Content-ID of the inline logo part the mailer attaches.
    pub logo_cid: String,
}

impl Common {
    pub fn new(base_url: &str, year: i32) -> Self {
        Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            company_url: COMPANY_URL.into(),
            company_name: COMPANY_NAME.into(),
            year,
            logo_cid: LOGO_CID.into(),
        }
    }
}

/// One line of a certificate-expiration e-mail.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExpiringCertificate {
    pub hostname: String,
    /// Already formatted in the recipient's language.
    pub expires_at: String,
    pub expired: bool,
}

/// The machine-alert template's data. Every field but the tenant and the
/// link is optional: an alert shows only what it knows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MachineAlert {
    pub tenant: String,
    /// The alert is over (resolved, or the machine is back): told in green.
    pub resolved: bool,
    /// A test of the channel rather than a real alert.
    pub test: bool,
    pub machine_name: Option<String>,
    pub machine_status: Option<String>,
    pub alert_time: Option<String>,
    pub last_seen: Option<String>,
    pub machine_os: Option<String>,
    pub machine_ip: Option<String>,
    pub agent_version: Option<String>,
    pub rule: Option<String>,
    pub detail: Option<String>,
    pub dashboard_url: String,
}

/// An e-mail to render, with its data.
#[derive(Clone, Debug, PartialEq)]
pub enum Template {
    PasswordReset {
        name: String,
        reset_url: String,
        expires_minutes: u32,
    },
    /// A new account, or (`reset_by_admin`) a temporary password an
    /// administrator set: the same message with another opening.
    Welcome {
        name: String,
        email: String,
        login_url: String,
        temporary_password: Option<String>,
        reset_by_admin: bool,
    },
    ContactConfirmation,
    ContactNotification {
        name: String,
        email: String,
        company: Option<String>,
        message: String,
    },
    MachineAlert(MachineAlert),
    PasswordExpiration {
        name: String,
        days_left: i64,
        expires_on: String,
    },
    LicenseExpiration {
        tenant: String,
        licence_type: String,
        days_left: i64,
        expires_on: String,
    },
    LicenseExtended {
        tenant: String,
        licence_type: String,
        new_expiry: String,
    },
    CertificateExpiration {
        tenant: String,
        certificates: Vec<ExpiringCertificate>,
    },
    /// `routine_notification` or `report_notification`, as the digest's
    /// kind says.
    Digest(super::digest::Digest),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Template {
    pub fn file(&self) -> &'static str {
        match self {
            Self::PasswordReset { .. } => "password-reset.html",
            Self::Welcome { .. } => "welcome.html",
            Self::ContactConfirmation => "contact-confirmation.html",
            Self::ContactNotification { .. } => "contact-notification.html",
            Self::MachineAlert(_) => "machine-alert.html",
            Self::PasswordExpiration { .. } => "password-expiration.html",
            Self::LicenseExpiration { .. } => "license-expiration.html",
            Self::LicenseExtended { .. } => "license-extended.html",
            Self::CertificateExpiration { .. } => "certificate-expiration.html",
            Self::Digest(d) => match d.kind {
                super::digest::DigestKind::Routine => "ai-routine.html",
                super::digest::DigestKind::Report => "ai-report.html",
            },
        }
    }

    /// The spec's accent per template: the line atop the header and the
    /// title's colour.
    pub fn accent(&self) -> &'static str {
        match self {
            Self::PasswordReset { .. } | Self::Welcome { .. } | Self::ContactNotification { .. } => ORANGE,
            Self::ContactConfirmation | Self::LicenseExtended { .. } => GREEN,
            Self::PasswordExpiration { .. } | Self::LicenseExpiration { .. } => AMBER,
            Self::CertificateExpiration { .. } => RED,
            Self::Digest(_) => ORANGE,
            // A resolution is good news and a channel test no news at all:
            // neither should look like the danger red of a live alert.
            Self::MachineAlert(a) if a.resolved => GREEN,
            Self::MachineAlert(a) if a.test => ORANGE,
            Self::MachineAlert(_) => RED,
        }
    }
}

const FILES: [(&str, &str); 13] = [
    ("base.html", include_str!("../../../../templates/email/base.html")),
    (
        "macros.html",
        include_str!("../../../../templates/email/macros.html"),
    ),
    (
        "password-reset.html",
        include_str!("../../../../templates/email/password-reset.html"),
    ),
    (
        "welcome.html",
        include_str!("../../../../templates/email/welcome.html"),
    ),
    (
        "contact-confirmation.html",
        include_str!("../../../../templates/email/contact-confirmation.html"),
    ),
    (
        "contact-notification.html",
        include_str!("../../../../templates/email/contact-notification.html"),
    ),
    (
        "machine-alert.html",
        include_str!("../../../../templates/email/machine-alert.html"),
    ),
    (
        "password-expiration.html",
        include_str!("../../../../templates/email/password-expiration.html"),
    ),
    (
        "license-expiration.html",
        include_str!("../../../../templates/email/license-expiration.html"),
    ),
    (
        "license-extended.html",
        include_str!("../../../../templates/email/license-extended.html"),
    ),
    (
        "certificate-expiration.html",
        include_str!("../../../../templates/email/certificate-expiration.html"),
    ),
    (
        "ai-routine.html",
        include_str!("../../../../templates/email/ai-routine.html"),
    ),
    (
        "ai-report.html",
        include_str!("../../../../templates/email/ai-report.html"),
    ),
];

/// Parsed once; the `.html` names turn on HTML escaping for every value.
fn environment() -> Result<&'static Environment<'static>, DomainError> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_formatter(html_formatter);
        for (name, source) in FILES {
            env.add_template(name, source).map_err(|e| e.to_string())?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(|e| DomainError::internal("email templates", e.clone()))
}

/// minijinja's own HTML escaping also turns `/` into `&#x2f;`: valid, but
/// links become unreadable in the source and in plain-text previews that
/// some clients build from it. Escaping the five markup characters is
/// enough to keep values from breaking out of text or a quoted attribute.
pub(crate) fn html_formatter(out: &mut Output, state: &State, value: &Value) -> Result<(), minijinja::Error> {
    if state.auto_escape() != AutoEscape::Html || value.is_safe() || value.is_none() || value.is_undefined() {
        return escape_formatter(out, state, value);
    }
    let raw = value.to_string();
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    out.write_str(&escaped)?;
    Ok(())
}

pub fn render(template: &Template, language: Language, common: &Common) -> Result<Rendered, DomainError> {
    let lang = language;
    let footer = pick(
        lang,
        "Cet e-mail a été envoyé automatiquement par Optralis ; merci de ne pas y répondre.",
        "This e-mail was sent automatically by Optralis; please do not reply to it.",
    );
    let Draft {
        subject,
        mut t,
        vars,
        text,
    } = draft(template, lang, common);
    t.insert("footer", footer.clone());
    let html = environment()?
        .get_template(template.file())
        .and_then(|tpl| {
            tpl.render(context! {
                language => code(lang),
                subject => &subject,
                accent => template.accent(),
                t => &t,
                base_url => &common.base_url,
                company_url => &common.company_url,
                company_name => &common.company_name,
                year => common.year,
                logo_cid => &common.logo_cid,
                ..vars
            })
        })
        .map_err(|e| DomainError::internal("email template render", e.to_string()))?;
    Ok(Rendered {
        subject,
        text: text.finish(&footer, common),
        html,
    })
}

fn draft(template: &Template, lang: Language, common: &Common) -> Draft {
    match template {
        Template::PasswordReset {
            name,
            reset_url,
            expires_minutes,
        } => account::password_reset(lang, name, reset_url, *expires_minutes),
        Template::Welcome {
            name,
            email,
            login_url,
            temporary_password,
            reset_by_admin,
        } => account::welcome(
            lang,
            name,
            email,
            login_url,
            temporary_password.as_ref(),
            *reset_by_admin,
        ),
        Template::ContactConfirmation => account::contact_confirmation(lang),
        Template::ContactNotification {
            name,
            email,
            company,
            message,
        } => account::contact_notification(lang, name, email, company.as_ref(), message),
        Template::MachineAlert(a) => fleet::machine_alert(a, lang),
        Template::PasswordExpiration {
            name,
            days_left,
            expires_on,
        } => account::password_expiration(lang, common, name, *days_left, expires_on),
        Template::LicenseExpiration {
            tenant,
            licence_type,
            days_left,
            expires_on,
        } => fleet::license_expiration(lang, common, tenant, licence_type, *days_left, expires_on),
        Template::LicenseExtended {
            tenant,
            licence_type,
            new_expiry,
        } => fleet::license_extended(lang, common, tenant, licence_type, new_expiry),
        Template::CertificateExpiration { tenant, certificates } => {
            fleet::certificate_expiration(lang, common, tenant, certificates)
        }
        Template::Digest(d) => digest::digest(d),
    }
}

/// What an alert type is called in a status line.
pub fn status_label(alert: AlertType, language: Language) -> &'static str {
    let (fr, en) = match alert {
        AlertType::MachineOffline => ("Hors ligne", "Offline"),
        AlertType::MachineOnline => ("De nouveau en ligne", "Back online"),
        AlertType::HighCpu => ("CPU élevé", "High CPU"),
        AlertType::HighRam => ("Mémoire élevée", "High memory"),
        AlertType::DiskCritical => ("Disque critique", "Disk critical"),
        AlertType::HighTemperature => ("Température élevée", "High temperature"),
        AlertType::SmartWarning => ("Alerte SMART", "SMART warning"),
        AlertType::BruteForce => ("Tentatives de connexion suspectes", "Brute-force attempts"),
        AlertType::AlertResolved => ("Alerte résolue", "Alert resolved"),
        AlertType::Test => ("Notification de test", "Test notification"),
    };
    match language {
        Language::Fr => fr,
        Language::En => en,
    }
}

/// The machine-alert e-mail for a [`Notice`], in the notice's language.
pub fn machine_alert(notice: &Notice, common: &Common) -> Result<Rendered, DomainError> {
    let lang = notice.language;
    let resolved = matches!(
        notice.alert_type,
        AlertType::AlertResolved | AlertType::MachineOnline
    );
    let mut status = match (notice.alert_type, notice.resolves) {
        (AlertType::AlertResolved, Some(what)) => match lang {
            Language::Fr => format!("Résolu : {}", status_label(what, lang)),
            Language::En => format!("Resolved: {}", status_label(what, lang)),
        },
        (other, _) => status_label(other, lang).to_owned(),
    };
    let rule = notice.rule.as_ref().map(|r| {
        let u = unit(r.metric);
        let (value, threshold) = (number(r.value, lang), number(r.threshold, lang));
        status = match lang {
            Language::Fr => format!("{status} : {value}{u} (seuil {} {threshold}{u})", r.operator),
            Language::En => format!("{status}: {value}{u} (threshold {} {threshold}{u})", r.operator),
        };
        r.name.clone()
    });
    let machine = notice.machine.as_ref();
    let non_empty = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    let data = MachineAlert {
        tenant: notice.tenant.clone(),
        resolved,
        test: notice.alert_type == AlertType::Test,
        machine_name: machine.and_then(|m| non_empty(&m.hostname)),
        machine_status: Some(status),
        alert_time: Some(format_date(notice.at, lang)),
        last_seen: machine.and_then(|m| m.last_seen).map(|seen| {
            format!(
                "{} ({})",
                format_date(seen, lang),
                format_ago(seen, notice.at, lang).to_lowercase()
            )
        }),
        machine_os: machine.and_then(|m| non_empty(&m.os)),
        machine_ip: machine.and_then(|m| non_empty(&m.ip)),
        agent_version: machine.filter(|m| !m.agent_version.is_empty()).map(|m| {
            match m.update_channel.as_str() {
                "" => m.agent_version.clone(),
                channel => format!("{} ({channel})", m.agent_version),
            }
        }),
        rule,
        detail: notice.detail.clone(),
        dashboard_url: notice.link.clone(),
    };
    render(&Template::MachineAlert(data), lang, common)
}

//! The product's e-mails: nine HTML templates (the spec's Linear design,
//! inline CSS and table layout so Gmail and Outlook show them as designed)
//! and a plain-text alternative we write ourselves, in French or English.
//!
//! The wording of every e-mail lives here, in one table per template; the
//! `.html` files only lay it out, so the text and HTML parts always say the
//! same thing. Every value reaches the HTML through minijinja's escaping:
//! names, hostnames and messages are data, never markup.

use super::notice::{format_ago, format_date, Notice};
use crate::{domain::DomainError, infra::mailer::LOGO_CID};
use entities::enums::{AlertMetric, AlertType, Language};
use minijinja::{context, escape_formatter, AutoEscape, Environment, Output, State, Value};
use serde::Serialize;
use std::{collections::BTreeMap, sync::OnceLock};

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
    ContactConfirmation {
        name: String,
        message: String,
    },
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
            Self::ContactConfirmation { .. } => "contact-confirmation.html",
            Self::ContactNotification { .. } => "contact-notification.html",
            Self::MachineAlert(_) => "machine-alert.html",
            Self::PasswordExpiration { .. } => "password-expiration.html",
            Self::LicenseExpiration { .. } => "license-expiration.html",
            Self::LicenseExtended { .. } => "license-extended.html",
            Self::CertificateExpiration { .. } => "certificate-expiration.html",
        }
    }

    /// The spec's accent per template: the line atop the header and the
    /// title's colour.
    pub fn accent(&self) -> &'static str {
        match self {
            Self::PasswordReset { .. } | Self::Welcome { .. } | Self::ContactNotification { .. } => ORANGE,
            Self::ContactConfirmation { .. } | Self::LicenseExtended { .. } => GREEN,
            Self::PasswordExpiration { .. } | Self::LicenseExpiration { .. } => AMBER,
            Self::CertificateExpiration { .. } => RED,
            // A resolution is good news and a channel test no news at all:
            // neither should look like the danger red of a live alert.
            Self::MachineAlert(a) if a.resolved => GREEN,
            Self::MachineAlert(a) if a.test => ORANGE,
            Self::MachineAlert(_) => RED,
        }
    }
}

const FILES: [(&str, &str); 11] = [
    ("base.html", include_str!("../../../templates/email/base.html")),
    (
        "macros.html",
        include_str!("../../../templates/email/macros.html"),
    ),
    (
        "password-reset.html",
        include_str!("../../../templates/email/password-reset.html"),
    ),
    (
        "welcome.html",
        include_str!("../../../templates/email/welcome.html"),
    ),
    (
        "contact-confirmation.html",
        include_str!("../../../templates/email/contact-confirmation.html"),
    ),
    (
        "contact-notification.html",
        include_str!("../../../templates/email/contact-notification.html"),
    ),
    (
        "machine-alert.html",
        include_str!("../../../templates/email/machine-alert.html"),
    ),
    (
        "password-expiration.html",
        include_str!("../../../templates/email/password-expiration.html"),
    ),
    (
        "license-expiration.html",
        include_str!("../../../templates/email/license-expiration.html"),
    ),
    (
        "license-extended.html",
        include_str!("../../../templates/email/license-extended.html"),
    ),
    (
        "certificate-expiration.html",
        include_str!("../../../templates/email/certificate-expiration.html"),
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
fn html_formatter(out: &mut Output, state: &State, value: &Value) -> Result<(), minijinja::Error> {
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

fn pick(lang: Language, fr: &str, en: &str) -> String {
    match lang {
        Language::Fr => fr.to_owned(),
        Language::En => en.to_owned(),
    }
}

fn code(lang: Language) -> &'static str {
    match lang {
        Language::Fr => "fr",
        Language::En => "en",
    }
}

fn greeting(lang: Language, name: &str) -> String {
    let name = name.trim();
    match (lang, name.is_empty()) {
        (Language::Fr, true) => "Bonjour,".into(),
        (Language::Fr, false) => format!("Bonjour {name},"),
        (Language::En, true) => "Hello,".into(),
        (Language::En, false) => format!("Hello {name},"),
    }
}

fn days(lang: Language, n: i64) -> String {
    let plural = if n.abs() > 1 { "s" } else { "" };
    match lang {
        Language::Fr => format!("{n} jour{plural}"),
        Language::En => format!("{n} day{plural}"),
    }
}

/// The plain-text part, built line by line in the same order as the HTML.
struct Text {
    lang: Language,
    out: String,
}

impl Text {
    fn new(lang: Language, title: &str) -> Self {
        let mut out = String::new();
        out.push_str(title);
        out.push_str("\n\n");
        Self { lang, out }
    }

    fn para(&mut self, text: &str) -> &mut Self {
        self.out.push_str(text);
        self.out.push_str("\n\n");
        self
    }

    /// French sets a space before the colon.
    fn field(&mut self, label: &str, value: &str) -> &mut Self {
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

    fn opt_field(&mut self, label: &str, value: Option<&String>) -> &mut Self {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.field(label, v);
        }
        self
    }

    fn gap(&mut self) -> &mut Self {
        self.out.push('\n');
        self
    }

    /// A link on a line of its own, so mail clients make it clickable.
    fn link(&mut self, label: &str, url: &str) -> &mut Self {
        self.out.push_str(label);
        self.out.push('\n');
        self.out.push_str(url);
        self.out.push_str("\n\n");
        self
    }

    fn finish(mut self, footer: &str, common: &Common) -> String {
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
struct Draft {
    subject: String,
    t: BTreeMap<&'static str, String>,
    vars: Value,
    text: Text,
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
    let l = |fr: &str, en: &str| pick(lang, fr, en);
    match template {
        Template::PasswordReset {
            name,
            reset_url,
            expires_minutes,
        } => {
            let title = l("Réinitialisation du mot de passe", "Password reset");
            let intro = l(
                "Vous avez demandé à réinitialiser votre mot de passe Optralis. Utilisez le bouton ci-dessous pour en choisir un nouveau.",
                "You asked to reset your Optralis password. Use the button below to choose a new one.",
            );
            let validity = match lang {
                Language::Fr => {
                    format!("Ce lien est valable {expires_minutes} minutes et ne sert qu'une fois.")
                }
                Language::En => format!("This link is valid for {expires_minutes} minutes and works once."),
            };
            let ignore = l(
                "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : votre mot de passe reste inchangé.",
                "If you did not ask for this, ignore this message: your password stays unchanged.",
            );
            let fallback = l(
                "Si le bouton ne fonctionne pas, copiez ce lien dans votre navigateur :",
                "If the button does not work, paste this link into your browser:",
            );
            let mut text = Text::new(lang, &title);
            text.para(&greeting(lang, name)).para(&intro).link(
                &l("Choisir un nouveau mot de passe :", "Choose a new password:"),
                reset_url,
            );
            text.para(&validity).para(&ignore);
            Draft {
                subject: l(
                    "Optralis – réinitialisation de votre mot de passe",
                    "Optralis – reset your password",
                ),
                t: BTreeMap::from([
                    ("title", title),
                    ("greeting", greeting(lang, name)),
                    ("intro", intro),
                    (
                        "cta",
                        l("Choisir un nouveau mot de passe", "Choose a new password"),
                    ),
                    ("validity", validity),
                    ("ignore", ignore),
                    ("fallback", fallback),
                ]),
                vars: context! { reset_url },
                text,
            }
        }
        Template::Welcome {
            name,
            email,
            login_url,
            temporary_password,
            reset_by_admin,
        } => {
            let (subject, title, intro) = if *reset_by_admin {
                (
                    l(
                        "Optralis – votre nouveau mot de passe",
                        "Optralis – your new password",
                    ),
                    l("Nouveau mot de passe", "New password"),
                    l(
                        "Un administrateur a réinitialisé votre mot de passe Optralis.",
                        "An administrator reset your Optralis password.",
                    ),
                )
            } else {
                (
                    l("Bienvenue sur Optralis", "Welcome to Optralis"),
                    l("Bienvenue sur Optralis", "Welcome to Optralis"),
                    l(
                        "Votre compte Optralis a été créé. Voici de quoi vous connecter.",
                        "Your Optralis account has been created. Here is how to sign in.",
                    ),
                )
            };
            let login_label = l("Identifiant", "Login");
            let password_label = l("Mot de passe temporaire", "Temporary password");
            let change_note = l(
                "Vous devrez changer ce mot de passe à la première connexion.",
                "You will have to change this password when you first sign in.",
            );
            let mut text = Text::new(lang, &title);
            text.para(&greeting(lang, name))
                .para(&intro)
                .field(&login_label, email);
            if let Some(p) = temporary_password {
                text.field(&password_label, p).gap().para(&change_note);
            } else {
                text.gap();
            }
            text.link(&l("Se connecter :", "Sign in:"), login_url);
            Draft {
                subject,
                t: BTreeMap::from([
                    ("title", title),
                    ("greeting", greeting(lang, name)),
                    ("intro", intro),
                    ("login_label", login_label),
                    ("password_label", password_label),
                    ("change_note", change_note),
                    ("cta", l("Se connecter", "Sign in")),
                    (
                        "fallback",
                        l(
                            "Si le bouton ne fonctionne pas, copiez ce lien dans votre navigateur :",
                            "If the button does not work, paste this link into your browser:",
                        ),
                    ),
                ]),
                vars: context! { email, login_url, temporary_password },
                text,
            }
        }
        Template::ContactConfirmation { name, message } => {
            let title = l("Message bien reçu", "Message received");
            let intro = l(
                "Merci de nous avoir écrit. Notre équipe vous répondra dans les meilleurs délais.",
                "Thank you for writing to us. Our team will get back to you shortly.",
            );
            let message_label = l("Votre message", "Your message");
            let outro = l(
                "Vous n'avez rien d'autre à faire : cet e-mail confirme simplement la réception.",
                "There is nothing else to do: this e-mail only confirms we received it.",
            );
            let mut text = Text::new(lang, &title);
            text.para(&greeting(lang, name))
                .para(&intro)
                .para(&format!("{message_label} :\n{message}"))
                .para(&outro);
            Draft {
                subject: l(
                    "Optralis – nous avons bien reçu votre message",
                    "Optralis – we received your message",
                ),
                t: BTreeMap::from([
                    ("title", title),
                    ("greeting", greeting(lang, name)),
                    ("intro", intro),
                    ("message_label", message_label),
                    ("outro", outro),
                ]),
                vars: context! { message },
                text,
            }
        }
        Template::ContactNotification {
            name,
            email,
            company,
            message,
        } => {
            let title = l("Nouveau message de contact", "New contact message");
            let intro = l(
                "Quelqu'un a rempli le formulaire de contact du site.",
                "Someone filled in the website's contact form.",
            );
            let (name_label, email_label, company_label, message_label) = (
                l("Nom", "Name"),
                l("E-mail", "E-mail"),
                l("Société", "Company"),
                l("Message", "Message"),
            );
            let mut text = Text::new(lang, &title);
            text.para(&intro)
                .field(&name_label, name)
                .field(&email_label, email)
                .opt_field(&company_label, company.as_ref())
                .gap()
                .para(&format!("{message_label} :\n{message}"));
            Draft {
                subject: match lang {
                    Language::Fr => format!("Optralis – nouveau message de contact de {name}"),
                    Language::En => format!("Optralis – new contact message from {name}"),
                },
                t: BTreeMap::from([
                    ("title", title),
                    ("intro", intro),
                    ("name_label", name_label),
                    ("email_label", email_label),
                    ("company_label", company_label),
                    ("message_label", message_label),
                    ("cta", l("Répondre", "Reply")),
                ]),
                vars: context! {
                    name, email, company, message,
                    reply_url => format!("mailto:{email}"),
                },
                text,
            }
        }
        Template::MachineAlert(a) => draft_machine_alert(a, lang),
        Template::PasswordExpiration {
            name,
            days_left,
            expires_on,
        } => {
            let title = l(
                "Votre mot de passe va expirer",
                "Your password is about to expire",
            );
            let intro = match lang {
                Language::Fr => format!(
                    "Votre mot de passe Optralis expire dans {}.",
                    days(lang, *days_left)
                ),
                Language::En => format!("Your Optralis password expires in {}.", days(lang, *days_left)),
            };
            let date_label = l("Date d'expiration", "Expiry date");
            let advice = l(
                "Changez-le dès maintenant depuis votre profil pour garder l'accès à votre compte.",
                "Change it now from your profile to keep access to your account.",
            );
            let change_url = format!("{}/profile", common.base_url);
            let mut text = Text::new(lang, &title);
            text.para(&greeting(lang, name))
                .para(&intro)
                .field(&date_label, expires_on)
                .gap()
                .para(&advice)
                .link(
                    &l("Changer mon mot de passe :", "Change my password:"),
                    &change_url,
                );
            Draft {
                subject: match lang {
                    Language::Fr => format!(
                        "Optralis – votre mot de passe expire dans {}",
                        days(lang, *days_left)
                    ),
                    Language::En => format!("Optralis – your password expires in {}", days(lang, *days_left)),
                },
                t: BTreeMap::from([
                    ("title", title),
                    ("greeting", greeting(lang, name)),
                    ("intro", intro),
                    ("date_label", date_label),
                    ("advice", advice),
                    ("cta", l("Changer mon mot de passe", "Change my password")),
                ]),
                vars: context! { expires_on, change_url },
                text,
            }
        }
        Template::LicenseExpiration {
            tenant,
            licence_type,
            days_left,
            expires_on,
        } => {
            let title = l(
                "Votre licence arrive à échéance",
                "Your licence is about to expire",
            );
            let intro = match lang {
                Language::Fr => format!(
                    "La licence Optralis de {tenant} expire dans {}.",
                    days(lang, *days_left)
                ),
                Language::En => format!(
                    "The Optralis licence of {tenant} expires in {}.",
                    days(lang, *days_left)
                ),
            };
            let (tenant_label, licence_label, date_label) = (
                l("Client", "Customer"),
                l("Licence", "Licence"),
                l("Date d'expiration", "Expiry date"),
            );
            let advice = l(
                "Sans renouvellement, la surveillance de vos machines s'arrêtera à cette date. Contactez-nous pour la prolonger.",
                "Unless it is renewed, monitoring of your machines stops on that date. Contact us to extend it.",
            );
            let mut text = Text::new(lang, &title);
            text.para(&intro)
                .field(&tenant_label, tenant)
                .field(&licence_label, licence_type)
                .field(&date_label, expires_on)
                .gap()
                .para(&advice)
                .link(&l("Tableau de bord :", "Dashboard:"), &common.base_url);
            Draft {
                subject: match lang {
                    Language::Fr => {
                        format!("Optralis – votre licence expire dans {}", days(lang, *days_left))
                    }
                    Language::En => format!("Optralis – your licence expires in {}", days(lang, *days_left)),
                },
                t: BTreeMap::from([
                    ("title", title),
                    ("intro", intro),
                    ("tenant_label", tenant_label),
                    ("licence_label", licence_label),
                    ("date_label", date_label),
                    ("advice", advice),
                    ("cta", l("Ouvrir le tableau de bord", "Open the dashboard")),
                ]),
                vars: context! { tenant, licence_type, expires_on },
                text,
            }
        }
        Template::LicenseExtended {
            tenant,
            licence_type,
            new_expiry,
        } => {
            let title = l("Licence prolongée", "Licence extended");
            let intro = match lang {
                Language::Fr => format!("La licence Optralis de {tenant} a été prolongée."),
                Language::En => format!("The Optralis licence of {tenant} has been extended."),
            };
            let (tenant_label, licence_label, date_label) = (
                l("Client", "Customer"),
                l("Licence", "Licence"),
                l("Nouvelle échéance", "New expiry date"),
            );
            let outro = l(
                "Merci de votre confiance. La surveillance de vos machines continue sans interruption.",
                "Thank you for your trust. Monitoring of your machines carries on without interruption.",
            );
            let mut text = Text::new(lang, &title);
            text.para(&intro)
                .field(&tenant_label, tenant)
                .field(&licence_label, licence_type)
                .field(&date_label, new_expiry)
                .gap()
                .para(&outro)
                .link(&l("Tableau de bord :", "Dashboard:"), &common.base_url);
            Draft {
                subject: l(
                    "Optralis – votre licence a été prolongée",
                    "Optralis – your licence has been extended",
                ),
                t: BTreeMap::from([
                    ("title", title),
                    ("intro", intro),
                    ("tenant_label", tenant_label),
                    ("licence_label", licence_label),
                    ("date_label", date_label),
                    ("outro", outro),
                    ("cta", l("Ouvrir le tableau de bord", "Open the dashboard")),
                ]),
                vars: context! { tenant, licence_type, new_expiry },
                text,
            }
        }
        Template::CertificateExpiration { tenant, certificates } => {
            let n = certificates.len();
            let title = l("Certificats mTLS à renouveler", "mTLS certificates to renew");
            let intro = match lang {
                Language::Fr => format!(
                    "{n} certificat(s) d'agent de {tenant} ont expiré ou expirent bientôt. Ces machines ne pourront plus envoyer de données une fois leur certificat expiré."
                ),
                Language::En => format!(
                    "{n} agent certificate(s) of {tenant} have expired or expire soon. These machines cannot send data once their certificate has expired."
                ),
            };
            let (expired, expiring) = (l("Expiré", "Expired"), l("Expire bientôt", "Expiring"));
            let advice = l(
                "Vérifiez que ces agents sont en ligne : ils renouvellent leur certificat automatiquement. Sinon, réinstallez l'agent avec un nouveau jeton.",
                "Check that these agents are online: they renew their certificate on their own. Otherwise reinstall the agent with a new token.",
            );
            let mut text = Text::new(lang, &title);
            text.para(&intro);
            for c in certificates {
                let state = if c.expired { &expired } else { &expiring };
                text.field(&c.hostname, &format!("{} ({state})", c.expires_at));
            }
            text.gap()
                .para(&advice)
                .link(&l("Tableau de bord :", "Dashboard:"), &common.base_url);
            Draft {
                subject: match lang {
                    Language::Fr => {
                        format!("Optralis – {n} certificat(s) mTLS expiré(s) ou bientôt expiré(s)")
                    }
                    Language::En => format!("Optralis – {n} mTLS certificate(s) expired or expiring"),
                },
                t: BTreeMap::from([
                    ("title", title),
                    ("intro", intro),
                    ("host_label", l("Machine", "Machine")),
                    ("date_label", l("Expiration", "Expiry")),
                    ("state_label", l("État", "State")),
                    ("expired", expired),
                    ("expiring", expiring),
                    ("advice", advice),
                    ("cta", l("Ouvrir le tableau de bord", "Open the dashboard")),
                ]),
                vars: context! { tenant, certificates },
                text,
            }
        }
    }
}

fn draft_machine_alert(a: &MachineAlert, lang: Language) -> Draft {
    let l = |fr: &str, en: &str| pick(lang, fr, en);
    let subject_what = a.machine_name.as_deref().unwrap_or(&a.tenant);
    let status = a.machine_status.clone().unwrap_or_else(|| l("Alerte", "Alert"));
    let (title, intro) = if a.test {
        (
            l("Notification de test", "Test notification"),
            l(
                "Ceci est un message de test envoyé par Optralis pour vérifier ce canal de notification.",
                "This is a test message from Optralis to check this notification channel.",
            ),
        )
    } else if a.resolved {
        (
            l("Alerte résolue", "Alert resolved"),
            match lang {
                Language::Fr => format!("L'alerte est résolue : {subject_what} est revenu à la normale."),
                Language::En => format!("The alert has resolved: {subject_what} is back to normal."),
            },
        )
    } else {
        (
            l("Alerte machine", "Machine alert"),
            match lang {
                Language::Fr => format!("Une alerte a été déclenchée sur {subject_what}."),
                Language::En => format!("An alert was raised on {subject_what}."),
            },
        )
    };
    let labels = [
        ("machine_label", l("Machine", "Machine")),
        ("status_label", l("Statut", "Status")),
        ("time_label", l("Détectée le", "Detected")),
        ("last_seen_label", l("Dernière connexion", "Last seen")),
        ("os_label", l("Système", "Operating system")),
        ("ip_label", l("IP locale", "Local IP")),
        ("agent_label", l("Agent", "Agent")),
        ("rule_label", l("Règle", "Rule")),
        ("detail_label", l("Détail", "Detail")),
    ];
    let label = |key: &str| {
        labels
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut text = Text::new(lang, &title);
    text.para(&format!("{} – {}", a.tenant, intro))
        .opt_field(&label("machine_label"), a.machine_name.as_ref())
        .opt_field(&label("status_label"), a.machine_status.as_ref())
        .opt_field(&label("time_label"), a.alert_time.as_ref())
        .opt_field(&label("last_seen_label"), a.last_seen.as_ref())
        .opt_field(&label("os_label"), a.machine_os.as_ref())
        .opt_field(&label("ip_label"), a.machine_ip.as_ref())
        .opt_field(&label("agent_label"), a.agent_version.as_ref())
        .opt_field(&label("rule_label"), a.rule.as_ref())
        .opt_field(&label("detail_label"), a.detail.as_ref())
        .gap();
    if !a.dashboard_url.is_empty() {
        text.link(
            &l("Voir dans le tableau de bord :", "View in the dashboard:"),
            &a.dashboard_url,
        );
    }
    let mut t: BTreeMap<&'static str, String> = labels.into_iter().collect();
    t.insert("title", title);
    t.insert("intro", format!("{} – {}", a.tenant, intro));
    t.insert("cta", l("Voir dans le tableau de bord", "View in the dashboard"));
    // Empty strings count as absent, like a missing field.
    let some = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    Draft {
        subject: format!("[Optralis] {status} – {subject_what}"),
        t,
        vars: context! {
            machine_name => some(&a.machine_name),
            machine_status => some(&a.machine_status),
            alert_time => some(&a.alert_time),
            last_seen => some(&a.last_seen),
            machine_os => some(&a.machine_os),
            machine_ip => some(&a.machine_ip),
            agent_version => some(&a.agent_version),
            rule => some(&a.rule),
            detail => some(&a.detail),
            dashboard_url => Some(a.dashboard_url.clone()).filter(|s| !s.is_empty()),
        },
        text,
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

fn unit(metric: AlertMetric) -> &'static str {
    match metric {
        AlertMetric::Cpu | AlertMetric::Ram | AlertMetric::Disk => " %",
        AlertMetric::Temperature => " °C",
        AlertMetric::OfflineMinutes => " min",
    }
}

/// Whole numbers without decimals, others with one; French writes a comma.
fn number(v: f64, lang: Language) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::notify::{MachineFacts, RuleFacts};
    use chrono::{TimeZone, Utc};
    use entities::enums::Severity;

    fn common() -> Common {
        Common::new("https://dash.example.test/", 2026)
    }

    fn all() -> Vec<(Template, &'static str, Vec<&'static str>)> {
        vec![
            (
                Template::PasswordReset {
                    name: "Alice".into(),
                    reset_url: "https://dash.example.test/reset-password?token=abc123".into(),
                    expires_minutes: 60,
                },
                ORANGE,
                vec![
                    "Alice",
                    "https://dash.example.test/reset-password?token=abc123",
                    "60",
                ],
            ),
            (
                Template::Welcome {
                    name: "Bob".into(),
                    email: "bob@example.test".into(),
                    login_url: "https://dash.example.test".into(),
                    temporary_password: Some("Tmp-Pass-42".into()),
                    reset_by_admin: false,
                },
                ORANGE,
                vec![
                    "Bob",
                    "bob@example.test",
                    "Tmp-Pass-42",
                    "https://dash.example.test",
                ],
            ),
            (
                Template::ContactConfirmation {
                    name: "Carla".into(),
                    message: "Need a quote for 40 seats".into(),
                },
                GREEN,
                vec!["Carla", "Need a quote for 40 seats"],
            ),
            (
                Template::ContactNotification {
                    name: "Dan".into(),
                    email: "dan@corp.test".into(),
                    company: Some("Corp SA".into()),
                    message: "Call me back".into(),
                },
                ORANGE,
                vec!["Dan", "dan@corp.test", "Corp SA", "Call me back"],
            ),
            (
                Template::MachineAlert(MachineAlert {
                    tenant: "Acme".into(),
                    machine_name: Some("srv-web-01".into()),
                    machine_status: Some("Offline".into()),
                    alert_time: Some("08/01/2026".into()),
                    dashboard_url: "https://dash.example.test/machines/1".into(),
                    ..MachineAlert::default()
                }),
                RED,
                vec!["Acme", "srv-web-01", "https://dash.example.test/machines/1"],
            ),
            (
                Template::PasswordExpiration {
                    name: "Eve".into(),
                    days_left: 7,
                    expires_on: "15/01/2026".into(),
                },
                AMBER,
                vec!["Eve", "7", "15/01/2026"],
            ),
            (
                Template::LicenseExpiration {
                    tenant: "Acme".into(),
                    licence_type: "pro".into(),
                    days_left: 14,
                    expires_on: "22/01/2026".into(),
                },
                AMBER,
                vec!["Acme", "pro", "14", "22/01/2026"],
            ),
            (
                Template::LicenseExtended {
                    tenant: "Acme".into(),
                    licence_type: "enterprise".into(),
                    new_expiry: "31/12/2027".into(),
                },
                GREEN,
                vec!["Acme", "enterprise", "31/12/2027"],
            ),
            (
                Template::CertificateExpiration {
                    tenant: "Acme".into(),
                    certificates: vec![
                        ExpiringCertificate {
                            hostname: "pc-01".into(),
                            expires_at: "01/01/2026".into(),
                            expired: true,
                        },
                        ExpiringCertificate {
                            hostname: "pc-02".into(),
                            expires_at: "20/01/2026".into(),
                            expired: false,
                        },
                    ],
                },
                RED,
                vec!["Acme", "pc-01", "pc-02", "01/01/2026", "20/01/2026"],
            ),
        ]
    }

    #[test]
    fn every_template_renders_in_both_languages_with_its_accent_and_data() {
        let expected_subjects = [
            ("réinitialisation", "reset your password"),
            ("Bienvenue", "Welcome"),
            ("bien reçu", "received"),
            ("nouveau message", "new contact message"),
            ("srv-web-01", "srv-web-01"),
            ("mot de passe expire dans 7 jours", "password expires in 7 days"),
            ("licence expire dans 14 jours", "licence expires in 14 days"),
            ("prolongée", "extended"),
            ("2 certificat(s)", "2 mTLS certificate(s)"),
        ];
        for ((template, accent, facts), (fr, en)) in all().into_iter().zip(expected_subjects) {
            for (lang, subject_part) in [(Language::Fr, fr), (Language::En, en)] {
                let out = render(&template, lang, &common()).unwrap();
                let file = template.file();
                assert!(
                    out.subject.contains(subject_part),
                    "{file} {lang:?}: {}",
                    out.subject
                );
                assert!(
                    out.html.contains(&format!("border-top:3px solid {accent}")),
                    "{file}: accent line"
                );
                assert!(
                    out.html.contains(&format!("color:{accent};\">")),
                    "{file}: title colour"
                );
                assert!(out.html.contains("src=\"cid:logo@optralis\""), "{file}: logo");
                assert!(out.html.contains(&format!("<html lang=\"{}\">", code(lang))));
                assert!(out.html.contains("2LACS IT") && out.html.contains("2026"));
                for fact in &facts {
                    assert!(out.html.contains(fact), "{file} {lang:?} html lacks {fact}");
                    assert!(out.text.contains(fact), "{file} {lang:?} text lacks {fact}");
                }
                assert!(!out.text.contains('<'), "{file}: text part has markup");
            }
        }
    }

    #[test]
    fn the_two_languages_say_it_differently() {
        let reset = &all()[0].0;
        let fr = render(reset, Language::Fr, &common()).unwrap();
        let en = render(reset, Language::En, &common()).unwrap();
        assert!(fr.text.contains("Bonjour Alice,") && fr.html.contains("Bonjour Alice,"));
        assert!(en.text.contains("Hello Alice,") && en.html.contains("Hello Alice,"));
        assert!(fr.text.contains("valable 60 minutes"));
        assert!(en.text.contains("valid for 60 minutes"));
    }

    #[test]
    fn outputs_follow_the_mail_client_rules() {
        for (template, _, _) in all() {
            for lang in [Language::Fr, Language::En] {
                let html = render(&template, lang, &common()).unwrap().html;
                let file = template.file();
                assert!(!html.contains("rgba("), "{file}: rgba");
                assert!(!html.contains("background-clip"), "{file}: background-clip");
                assert!(!html.contains("<link"), "{file}: external CSS");
                assert!(!html.contains("<style"), "{file}: style sheet");
                assert!(html.contains("<table"), "{file}: table layout");
                assert!(
                    !html.contains("{{") && !html.contains("{%"),
                    "{file}: unrendered tag"
                );
            }
        }
    }

    #[test]
    fn user_text_is_escaped_in_html() {
        let template = Template::ContactNotification {
            name: "<script>alert(1)</script>".into(),
            email: "x@y.test\"><img src=x>".into(),
            company: None,
            message: "<b>hi</b> & bye".into(),
        };
        let out = render(&template, Language::En, &common()).unwrap();
        assert!(!out.html.contains("<script>"), "{}", out.html);
        assert!(out.html.contains("&lt;script&gt;"));
        assert!(!out.html.contains("<img src=x>"));
        assert!(!out.html.contains("<b>hi</b>"));
        assert!(out.html.contains("&amp; bye"));
        // The text part is not HTML and keeps the words as written.
        assert!(out.text.contains("<b>hi</b> & bye"));
    }

    #[test]
    fn welcome_without_a_password_and_the_admin_reset_variant() {
        let mut welcome = all()[1].0.clone();
        if let Template::Welcome {
            temporary_password,
            reset_by_admin,
            ..
        } = &mut welcome
        {
            *temporary_password = None;
            *reset_by_admin = true;
        }
        let out = render(&welcome, Language::Fr, &common()).unwrap();
        assert!(out.subject.contains("nouveau mot de passe"));
        assert!(out
            .text
            .contains("Un administrateur a réinitialisé votre mot de passe"));
        assert!(!out.html.contains("Mot de passe temporaire"));
        assert!(!out.text.contains("Mot de passe temporaire"));
    }

    fn notice(alert_type: AlertType, language: Language) -> Notice {
        let at = Utc.with_ymd_and_hms(2026, 1, 8, 14, 30, 0).unwrap();
        Notice {
            alert_type,
            language,
            tenant: "Acme & Co".into(),
            machine: Some(MachineFacts {
                id: uuid::Uuid::nil(),
                hostname: "srv-<db>".into(),
                os: "Windows Server 2022".into(),
                ip: "10.0.0.5".into(),
                agent_version: "2.4.1".into(),
                update_channel: "beta".into(),
                last_seen: Some(at - chrono::Duration::minutes(12)),
            }),
            rule: None,
            resolves: None,
            detail: None,
            at,
            link: "https://dash.example.test/machines/42".into(),
        }
    }

    #[test]
    fn a_notice_becomes_a_machine_alert() {
        let out = machine_alert(&notice(AlertType::MachineOffline, Language::Fr), &common()).unwrap();
        assert_eq!(out.subject, "[Optralis] Hors ligne – srv-<db>");
        assert!(out.html.contains("srv-&lt;db&gt;"));
        assert!(out.html.contains("Acme &amp; Co"));
        assert!(out.html.contains(RED));
        for fact in [
            "Hors ligne",
            "08/01/2026 à 14:30",
            "il y a 12 minutes",
            "Windows Server 2022",
            "10.0.0.5",
            "2.4.1 (beta)",
            "https://dash.example.test/machines/42",
        ] {
            assert!(out.text.contains(fact), "text lacks {fact}: {}", out.text);
            assert!(out.html.contains(fact), "html lacks {fact}");
        }

        let mut cpu = notice(AlertType::HighCpu, Language::En);
        cpu.rule = Some(RuleFacts {
            name: "CPU > 90".into(),
            metric: AlertMetric::Cpu,
            severity: Severity::Critical,
            operator: ">".into(),
            threshold: 90.0,
            value: 97.5,
        });
        cpu.machine.as_mut().unwrap().os.clear();
        let out = machine_alert(&cpu, &common()).unwrap();
        assert!(out.subject.starts_with("[Optralis] High CPU: 97.5 %"));
        assert!(out.text.contains("threshold > 90 %"));
        assert!(out.text.contains("01/08/2026 at 2:30 PM"));
        // An absent fact leaves no empty row behind.
        assert!(!out.text.contains("Operating system"));
        assert!(!out.html.contains("Operating system"));

        let mut resolved = notice(AlertType::AlertResolved, Language::En);
        resolved.resolves = Some(AlertType::HighCpu);
        let out = machine_alert(&resolved, &common()).unwrap();
        assert!(out.subject.contains("Resolved: High CPU"));
        assert!(out.text.contains("Alert resolved") && out.text.contains("back to normal"));
        assert!(out.html.contains(&format!("border-top:3px solid {GREEN}")));

        let mut brute = notice(AlertType::BruteForce, Language::Fr);
        brute.machine = None;
        brute.detail = Some("compte admin".into());
        let out = machine_alert(&brute, &common()).unwrap();
        assert!(out
            .subject
            .contains("Tentatives de connexion suspectes – Acme & Co"));
        assert!(out.text.contains("compte admin"));
        assert!(!out.text.contains("Machine :"));
    }
}

//! The wording of the account e-mails: password reset, welcome,
//! password expiration and the two contact-form messages.

use super::helpers::{days, greeting, pick, Draft, Text};
use super::Common;
use entities::enums::Language;
use minijinja::context;
use std::collections::BTreeMap;

pub(super) fn password_reset(lang: Language, name: &str, reset_url: &str, expires_minutes: u32) -> Draft {
    let l = |fr: &str, en: &str| pick(lang, fr, en);
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

pub(super) fn welcome(
    lang: Language,
    name: &str,
    email: &str,
    login_url: &str,
    temporary_password: Option<&String>,
    reset_by_admin: bool,
) -> Draft {
    let l = |fr: &str, en: &str| pick(lang, fr, en);
    let (subject, title, intro) = if reset_by_admin {
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

/// Says only that the message arrived: the address is the sender's to
/// choose, so nothing they typed (name or message) is echoed back, or the
/// form would mail anyone any text from our domain.
pub(super) fn contact_confirmation(lang: Language) -> Draft {
    let l = |fr: &str, en: &str| pick(lang, fr, en);
    let title = l("Message bien reçu", "Message received");
    let intro = l(
        "Merci de nous avoir écrit. Notre équipe vous répondra dans les meilleurs délais.",
        "Thank you for writing to us. Our team will get back to you shortly.",
    );
    let outro = l(
        "Vous n'avez rien d'autre à faire : cet e-mail confirme simplement la réception. Si vous n'avez rien envoyé, ignorez-le.",
        "There is nothing else to do: this e-mail only confirms we received it. If you sent nothing, ignore it.",
    );
    let mut text = Text::new(lang, &title);
    text.para(&greeting(lang, "")).para(&intro).para(&outro);
    Draft {
        subject: l(
            "Optralis – nous avons bien reçu votre message",
            "Optralis – we received your message",
        ),
        t: BTreeMap::from([
            ("title", title),
            ("greeting", greeting(lang, "")),
            ("intro", intro),
            ("outro", outro),
        ]),
        vars: context! {},
        text,
    }
}

pub(super) fn contact_notification(
    lang: Language,
    name: &str,
    email: &str,
    company: Option<&String>,
    message: &str,
) -> Draft {
    let l = |fr: &str, en: &str| pick(lang, fr, en);
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
        .opt_field(&company_label, company)
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
            // Encoded: the local part may hold `?` or `=`, which would
            // otherwise add headers (a cc) to the reply.
            reply_url => format!("mailto:{}", url::form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>()),
        },
        text,
    }
}

pub(super) fn password_expiration(
    lang: Language,
    common: &Common,
    name: &str,
    days_left: i64,
    expires_on: &str,
) -> Draft {
    let l = |fr: &str, en: &str| pick(lang, fr, en);
    let title = l(
        "Votre mot de passe va expirer",
        "Your password is about to expire",
    );
    let intro = match lang {
        Language::Fr => format!(
            "Votre mot de passe Optralis expire dans {}.",
            days(lang, days_left)
        ),
        Language::En => format!("Your Optralis password expires in {}.", days(lang, days_left)),
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
                days(lang, days_left)
            ),
            Language::En => format!("Optralis – your password expires in {}", days(lang, days_left)),
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

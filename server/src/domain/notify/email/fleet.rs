//! The wording of the fleet e-mails: machine alerts, the licence's
//! expiration and extension, and the certificate digest.

use super::helpers::{days, pick, Draft, Text};
use super::{Common, ExpiringCertificate, MachineAlert};
use entities::enums::Language;
use minijinja::context;
use std::collections::BTreeMap;

pub(super) fn machine_alert(a: &MachineAlert, lang: Language) -> Draft {
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

pub(super) fn license_expiration(
    lang: Language,
    common: &Common,
    tenant: &str,
    licence_type: &str,
    days_left: i64,
    expires_on: &str,
) -> Draft {
    let l = |fr: &str, en: &str| pick(lang, fr, en);
    let title = l(
        "Votre licence arrive à échéance",
        "Your licence is about to expire",
    );
    let intro = match lang {
        Language::Fr => format!(
            "La licence Optralis de {tenant} expire dans {}.",
            days(lang, days_left)
        ),
        Language::En => format!(
            "The Optralis licence of {tenant} expires in {}.",
            days(lang, days_left)
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
                format!("Optralis – votre licence expire dans {}", days(lang, days_left))
            }
            Language::En => format!("Optralis – your licence expires in {}", days(lang, days_left)),
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

pub(super) fn license_extended(
    lang: Language,
    common: &Common,
    tenant: &str,
    licence_type: &str,
    new_expiry: &str,
) -> Draft {
    let l = |fr: &str, en: &str| pick(lang, fr, en);
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

pub(super) fn certificate_expiration(
    lang: Language,
    common: &Common,
    tenant: &str,
    certificates: &[ExpiringCertificate],
) -> Draft {
    let l = |fr: &str, en: &str| pick(lang, fr, en);
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

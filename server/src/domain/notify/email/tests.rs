use super::*;
use crate::domain::notify::{MachineFacts, RuleFacts};
use chrono::{TimeZone, Utc};
use entities::enums::{AlertMetric, Severity};

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
            // Nothing of the sender's: see `contact_confirmation`.
            Template::ContactConfirmation,
            GREEN,
            vec![],
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
fn the_reply_link_cannot_add_headers() {
    let template = Template::ContactNotification {
        name: "Eve".into(),
        email: "a?cc=x@evil.test".into(),
        company: None,
        message: "hi".into(),
    };
    let out = render(&template, Language::En, &common()).unwrap();
    assert!(
        out.html.contains("href=\"mailto:a%3Fcc%3Dx%40evil.test\""),
        "{}",
        out.html
    );
    assert!(!out.html.contains("mailto:a?cc"), "{}", out.html);
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

/// Golden files of what every template says, subject and text part, in
/// both languages; the HTML carries the same wording (checked above).
#[test]
fn every_template_matches_its_golden_text() {
    let names = [
        "password_reset",
        "welcome",
        "contact_confirmation",
        "contact_notification",
        "machine_alert",
        "password_expiration",
        "license_expiration",
        "license_extended",
        "certificate_expiration",
    ];
    for ((template, _, _), name) in all().into_iter().zip(names) {
        for (lang, code) in [(Language::Fr, "fr"), (Language::En, "en")] {
            let r = render(&template, lang, &common()).unwrap();
            insta::assert_snapshot!(
                format!("{name}_{code}"),
                format!("Subject: {}\n\n{}", r.subject, r.text)
            );
        }
    }
}

/// Golden text of the AI automation e-mails, both kinds and languages;
/// machine-supplied text reaches the HTML escaped.
#[test]
fn ai_digests_match_their_golden_text_and_escape_machine_text() {
    use crate::domain::notify::digest::{tests::sample, DigestKind};
    for kind in [DigestKind::Routine, DigestKind::Report] {
        for (lang, code) in [(Language::Fr, "fr"), (Language::En, "en")] {
            let d = sample(kind, lang);
            let r = render(&Template::Digest(d.clone()), lang, &common()).unwrap();
            insta::assert_snapshot!(
                format!("{}_{code}", kind.code()),
                format!("Subject: {}\n\n{}", r.subject, r.text)
            );
            assert!(r.html.contains("&lt;b&gt;pc-02&lt;/b&gt;"), "{}", r.html);
            assert!(r.html.contains("SRV-PROD-01") && r.html.contains(&d.link));
            assert!(!r.html.contains("{{") && !r.html.contains("{%"));
            assert!(r.html.contains(&format!("border-top:3px solid {ORANGE}")));
            if kind == DigestKind::Report {
                assert!(r.html.contains("/reports/00000000-0000-0000-0000-000000000007"));
                assert!(r.text.contains("/reports/00000000-0000-0000-0000-000000000007"));
            }
        }
    }
}

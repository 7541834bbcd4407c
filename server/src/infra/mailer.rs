//! Email delivery: SMTP through lettre when configured, otherwise `.eml`
//! files in `<data_dir>/outbox` (zero-config installs still "send" mail an
//! operator can read). Both write the same MIME message.

use crate::config::{SmtpConfig, SmtpSecurity};
use async_trait::async_trait;
use lettre::{
    message::{
        header::{ContentTransferEncoding, ContentType},
        Attachment, Body, Mailbox, MultiPart, SinglePart,
    },
    transport::smtp::authentication::Credentials,
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use std::{path::PathBuf, time::Duration};

/// The Content-ID of the logo every HTML message carries inline; the
/// templates point at it with `cid:`.
pub const LOGO_CID: &str = "logo@optralis";
/// Sent inside the message rather than linked, so mail clients that block
/// remote images still show it.
pub const LOGO_PNG: &[u8] = include_bytes!("../../assets/logo.png");

/// One message, to one or several recipients (all in its To header).
#[derive(Clone, Debug, PartialEq)]
pub struct OutgoingEmail {
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    /// With it, the message is text and HTML alternatives, the HTML with
    /// the logo inline; without it, plain text only.
    pub html: Option<String>,
}

/// The addresses in an outbox `recipient`: one, or several separated by
/// commas.
pub fn recipients(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), String>;
}

/// Quoted-printable whatever the content: readable in the raw source, and
/// long lines (links) fold instead of being cut by a relay.
fn qp(content_type: ContentType, body: &str) -> SinglePart {
    SinglePart::builder().header(content_type).body(
        Body::new_with_encoding(body.to_owned(), ContentTransferEncoding::QuotedPrintable)
            .unwrap_or_else(Body::new),
    )
}

pub fn build(from: &Mailbox, email: &OutgoingEmail) -> Result<Message, String> {
    if email.to.is_empty() {
        return Err("no recipient".into());
    }
    let mut builder = Message::builder().from(from.clone()).subject(&email.subject);
    for to in &email.to {
        let to: Mailbox = to.parse().map_err(|e| format!("recipient {to}: {e}"))?;
        builder = builder.to(to);
    }
    match &email.html {
        None => builder.header(ContentType::TEXT_PLAIN).body(email.text.clone()),
        Some(html) => builder.multipart(
            MultiPart::alternative()
                .singlepart(qp(ContentType::TEXT_PLAIN, &email.text))
                .multipart(
                    MultiPart::related()
                        .singlepart(qp(ContentType::TEXT_HTML, html))
                        .singlepart(
                            Attachment::new_inline(LOGO_CID.to_owned())
                                .body(LOGO_PNG.to_vec(), "image/png".parse().map_err(|_| "image/png")?),
                        ),
                ),
        ),
    }
    .map_err(|e| e.to_string())
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl SmtpMailer {
    pub fn new(cfg: &SmtpConfig) -> Result<Self, String> {
        let mut builder = match cfg.security {
            SmtpSecurity::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host),
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.host).map_err(|e| e.to_string())?
            }
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.host).map_err(|e| e.to_string())?
            }
        }
        .port(cfg.port)
        .timeout(Some(Duration::from_secs(20)));
        if let (Some(user), Some(pass)) = (&cfg.username, &cfg.password) {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(Self {
            transport: builder.build(),
            from: cfg.from.parse().map_err(|e| format!("SMTP_FROM: {e}"))?,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), String> {
        let message = build(&self.from, email)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

pub struct FileMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl FileMailer {
    pub fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            from: "Optralis <noreply@optralis.local>"
                .parse()
                .expect("static mailbox"),
        }
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), String> {
        let message = build(&self.from, email)?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| e.to_string())?;
        let path = self.dir.join(format!("{}.eml", uuid::Uuid::now_v7()));
        // Messages may hold temporary passwords: owner-only, like the rest
        // of the data dir.
        let bytes = message.formatted();
        tokio::task::spawn_blocking(move || crate::infra::secrets::write_private(&path, &bytes))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    fn from() -> Mailbox {
        "Optralis <noreply@optralis.test>".parse().unwrap()
    }

    #[test]
    fn a_channel_with_several_addresses_gets_one_message() {
        let email = OutgoingEmail {
            to: recipients(" a@x.test, b@x.test ,,"),
            subject: "Alerte".into(),
            text: "hors ligne".into(),
            html: None,
        };
        let raw = build(&from(), &email).unwrap().formatted();
        let parsed = MessageParser::default().parse(&raw[..]).unwrap();
        let to: Vec<_> = parsed.to().unwrap().iter().filter_map(|a| a.address()).collect();
        assert_eq!(to, ["a@x.test", "b@x.test"]);
        // Without HTML the message stays a single text part, no logo.
        assert_eq!(parsed.parts.len(), 1);
        assert!(parsed.parts[0]
            .content_type()
            .is_some_and(|c| c.ctype() == "text" && c.subtype() == Some("plain")));
    }

    #[test]
    fn no_recipient_is_an_error_not_a_message() {
        let email = OutgoingEmail {
            to: recipients(" , "),
            subject: "s".into(),
            text: "t".into(),
            html: Some("<p>t</p>".into()),
        };
        assert!(build(&from(), &email).is_err());
    }

    #[test]
    fn html_goes_with_the_logo_under_the_id_templates_use() {
        let email = OutgoingEmail {
            to: vec!["a@x.test".into()],
            subject: "s".into(),
            text: "texte é".into(),
            html: Some(format!("<img src=\"cid:{LOGO_CID}\"><p>é</p>")),
        };
        let raw = build(&from(), &email).unwrap().formatted();
        let parsed = MessageParser::default().parse(&raw[..]).unwrap();
        assert_eq!(parsed.body_text(0).as_deref(), Some("texte é"));
        assert!(parsed.body_html(0).unwrap().contains("<p>é</p>"));
        let logo = parsed
            .parts
            .iter()
            .find(|p| p.content_id().is_some())
            .expect("an inline part");
        assert_eq!(logo.content_id(), Some(LOGO_CID));
        assert_eq!(logo.contents(), LOGO_PNG);
    }
}

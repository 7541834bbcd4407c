//! E-mails as a mail client receives them: through SMTP to a stand-in
//! server, then parsed as MIME.

use crate::helpers::{SmtpSink, TestEnv, TestServer, ADMIN_EMAIL};
use mail_parser::{MessageParser, MimeHeaders};
use serde_json::json;

const ORANGE: &str = "#f97316";

fn is(part: &mail_parser::MessagePart<'_>, ctype: &str, subtype: &str) -> bool {
    part.content_type().is_some_and(|c| {
        c.ctype().eq_ignore_ascii_case(ctype) && c.subtype().is_some_and(|s| s.eq_ignore_ascii_case(subtype))
    })
}

#[tokio::test]
async fn email_password_reset_is_html_and_text_with_the_logo_inline() {
    let mut sink = SmtpSink::start().await;
    let env = TestEnv::new()
        .await
        .set("SMTP_HOST", "127.0.0.1")
        .set("SMTP_PORT", &sink.port.to_string())
        .set("SMTP_TLS", "none")
        .set("SMTP_FROM", "Optralis <noreply@optralis.test>")
        .set("DASHBOARD_URL", "https://dash.optralis.test");
    let server = TestServer::spawn_env(env).await;

    let asked = server
        .graphql(
            "mutation($e: String!) { requestPasswordReset(email: $e) }",
            json!({ "e": ADMIN_EMAIL }),
        )
        .await;
    assert_eq!(asked["data"]["requestPasswordReset"], true, "{asked}");

    let raw = sink.next().await;
    let message = MessageParser::default()
        .parse(raw.as_bytes())
        .expect("the message parses as MIME");
    assert!(is(&message.parts[0], "multipart", "alternative"), "{raw}");
    let to: Vec<_> = message
        .to()
        .expect("a To header")
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(to, [ADMIN_EMAIL]);
    assert!(message.subject().is_some_and(|s| s.contains("Optralis")));

    let text = message
        .parts
        .iter()
        .find(|p| is(p, "text", "plain"))
        .and_then(|p| p.text_contents())
        .expect("a text/plain part");
    let html = message
        .parts
        .iter()
        .find(|p| is(p, "text", "html"))
        .and_then(|p| p.text_contents())
        .expect("a text/html part");
    let logo = message
        .parts
        .iter()
        .find(|p| is(p, "image", "png"))
        .expect("an image/png part");

    let link = "https://dash.optralis.test/reset-password?token=";
    let token = text
        .split(link)
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the reset link in the text part");
    assert!(html.contains(&format!("{link}{token}")), "{html}");
    assert!(html.contains(ORANGE), "the accent colour");
    assert!(!html.contains("rgba("));
    assert!(!text.contains('<'), "the text part is no HTML: {text}");

    // The HTML points at the inline part by its Content-ID.
    let cid = html
        .split("src=\"cid:")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a cid: image in the HTML");
    let content_id = logo.content_id().expect("the logo has a Content-ID");
    assert_eq!(content_id.trim_matches(['<', '>']), cid);
    assert!(logo.contents().starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(logo
        .content_disposition()
        .is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline")));

    // The link in the mail works.
    let valid = server
        .graphql(
            "query($t: String!) { validateResetToken(token: $t) }",
            json!({ "t": token }),
        )
        .await;
    assert_eq!(valid["data"]["validateResetToken"], true, "{valid}");
}

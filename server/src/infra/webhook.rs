//! Webhook delivery over HTTP. A webhook URL is typed by a tenant admin,
//! so the server must not become their way into its own network: every
//! address the host resolves to is checked, and the request then goes to
//! those checked addresses only, so a DNS answer that changes between the
//! check and the connection (rebinding) cannot redirect it.

use crate::domain::notify::webhook::{DeliveryError, UrlRefused, WebhookSender};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use url::{Host, Url};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);
const DNS_TIMEOUT: Duration = Duration::from_secs(5);
/// Enough of an error body to show why a platform refused the payload
/// (Slack's `invalid_blocks`, Discord's JSON errors), no more.
const ERROR_BODY_MAX: usize = 300;

/// [`WebhookSender`] over reqwest.
#[derive(Clone, Debug)]
pub struct HttpWebhooks {
    allow_private: bool,
}

/// A URL that passed the checks, with the addresses it was checked at.
#[derive(Debug)]
struct Target {
    url: Url,
    host: String,
    /// Empty when the host is an IP literal: there is nothing to resolve.
    pinned: Vec<SocketAddr>,
}

impl HttpWebhooks {
    /// `allow_private` (ALLOW_PRIVATE_WEBHOOKS) also accepts plain http
    /// and loopback or private targets, for tests and labs.
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private }
    }

    async fn target(&self, raw: &str) -> Result<Target, UrlRefused> {
        let refuse = |why: String| Err(UrlRefused(why));
        let Ok(url) = Url::parse(raw.trim()) else {
            return refuse("the webhook URL is not a valid URL".into());
        };
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            _ => return refuse("the webhook URL must use https".into()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return refuse("the webhook URL must not contain a user name or password".into());
        }
        let Some(port) = url.port_or_known_default() else {
            return refuse("the webhook URL has no port".into());
        };
        let (host, addrs, pinned) = match url.host() {
            None => return refuse("the webhook URL has no host".into()),
            Some(Host::Ipv4(ip)) => (ip.to_string(), vec![IpAddr::V4(ip)], Vec::new()),
            Some(Host::Ipv6(ip)) => (ip.to_string(), vec![IpAddr::V6(ip)], Vec::new()),
            Some(Host::Domain(domain)) => {
                let domain = domain.to_owned();
                let lookup = tokio::net::lookup_host((domain.as_str(), port));
                let sockets: Vec<SocketAddr> = match tokio::time::timeout(DNS_TIMEOUT, lookup).await {
                    Ok(Ok(found)) => found.collect(),
                    Ok(Err(_)) => return refuse(format!("the webhook host {domain} does not resolve")),
                    Err(_) => return refuse(format!("resolving the webhook host {domain} timed out")),
                };
                if sockets.is_empty() {
                    return refuse(format!("the webhook host {domain} does not resolve"));
                }
                (domain, sockets.iter().map(SocketAddr::ip).collect(), sockets)
            }
        };
        if !self.allow_private {
            // One inside address is enough to refuse: the client could
            // connect to any of them.
            if let Some((ip, why)) = addrs.iter().find_map(|ip| non_public(*ip).map(|why| (ip, why))) {
                return refuse(format!("the webhook host {host} points to {ip}, a {why} address"));
            }
        }
        Ok(Target { url, host, pinned })
    }
}

#[async_trait]
impl WebhookSender for HttpWebhooks {
    async fn check(&self, url: &str) -> Result<(), UrlRefused> {
        self.target(url).await.map(|_| ())
    }

    async fn post(&self, url: &str, body: &serde_json::Value) -> Result<(), DeliveryError> {
        let target = self.target(url).await.map_err(|UrlRefused(why)| DeliveryError {
            message: why,
            retryable: false,
            retry_after: None,
        })?;
        let host = target.host.clone();
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            // A proxy would resolve the host itself, undoing the pinning.
            .no_proxy();
        if !target.pinned.is_empty() {
            builder = builder.resolve_to_addrs(&target.host, &target.pinned);
        }
        let client = builder.build().map_err(|e| DeliveryError {
            message: format!("could not build the HTTP client: {}", root_cause(&e)),
            retryable: true,
            retry_after: None,
        })?;
        let response = match client.post(target.url).json(body).send().await {
            Ok(r) => r,
            Err(e) => return Err(transport_error(&host, &e)),
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, Utc::now()));
        let retryable = status == reqwest::StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
        let mut message = format!("{host} answered HTTP {}", status.as_u16());
        if status.is_redirection() {
            message.push_str(" (redirects are not followed)");
        }
        let text = error_body(response).await;
        if !text.is_empty() {
            message.push_str(": ");
            message.push_str(&redact(&text, url));
        }
        Err(DeliveryError {
            message,
            retryable,
            retry_after: if retryable { retry_after } else { None },
        })
    }
}

/// Why `ip` may not be a webhook target, or `None` for a public address.
/// Addresses embedding an IPv4 one (mapped, compatible, NAT64, 6to4) are
/// judged by that address, which is where the packets would end up.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_broadcast() => "broadcast",
        (0, _, _) => "unspecified",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "shared (CGNAT)",
        (192, 0, 0) => "reserved",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if let Some(v4) = embedded_v4(ip) {
        return non_public_v4(v4);
    }
    Some(match s[0] {
        0xff00..=0xffff => "multicast",
        0xfc00..=0xfdff => "unique-local",
        0xfe80..=0xfebf => "link-local",
        // Deprecated site-local, still routed inside some networks.
        0xfec0..=0xfeff => "site-local",
        0x2001 if s[1] == 0x0db8 => "documentation",
        0x3fff if s[1] <= 0x0fff => "documentation",
        0x0100 if s[1..4] == [0, 0, 0] => "discard-only",
        // Whatever else is not global unicast (2000::/3) is unassigned.
        x if !(0x2000..=0x3fff).contains(&x) => "reserved",
        _ => return None,
    })
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) or 6to4
/// (`2002:aabb:ccdd::`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(tail()),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail()),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// `Retry-After` as seconds or as an HTTP date; a date already past means
/// "now".
pub(crate) fn parse_retry_after(raw: &str, now: DateTime<Utc>) -> Option<Duration> {
    let raw = raw.trim();
    if let Ok(secs) = raw.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(raw).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// reqwest's own message names the URL, which carries the webhook's
/// secret: the message is rebuilt from the host and the underlying cause.
fn transport_error(host: &str, e: &reqwest::Error) -> DeliveryError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    DeliveryError {
        message: format!("POST to {host} {what}: {}", root_cause(e)),
        retryable: true,
        retry_after: None,
    }
}

/// The innermost cause of an error, for a one-line message.
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The start of an error response's body, read no further than needed.
async fn error_body(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < ERROR_BODY_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let text: String = text.chars().take(ERROR_BODY_MAX).collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A receiver may echo the request URL in its error: the secret part
/// (path and query) is blanked out.
fn redact(text: &str, raw_url: &str) -> String {
    let Ok(url) = Url::parse(raw_url.trim()) else {
        return text.to_owned();
    };
    let mut secret = url.path().to_owned();
    if let Some(q) = url.query() {
        secret.push('?');
        secret.push_str(q);
    }
    if secret.len() <= 1 {
        return text.to_owned();
    }
    text.replace(raw_url.trim(), "…")
        .replace(url.as_str(), "…")
        .replace(&secret, "…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::{
        body::Bytes,
        http::{header, HeaderMap, StatusCode},
        response::IntoResponse,
        routing::post,
        Router,
    };
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn only_public_addresses_are_targets() {
        for (ip, expected) in [
            ("93.184.216.34", None),
            ("1.1.1.1", None),
            ("2606:4700:4700::1111", None),
            ("127.0.0.1", Some("loopback")),
            ("127.8.9.10", Some("loopback")),
            ("10.1.2.3", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("172.32.0.1", None),
            ("192.168.1.42", Some("private")),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("shared (CGNAT)")),
            ("100.127.255.254", Some("shared (CGNAT)")),
            ("100.128.0.1", None),
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("unspecified")),
            ("255.255.255.255", Some("broadcast")),
            ("224.0.0.1", Some("multicast")),
            ("240.0.0.1", Some("reserved")),
            ("192.0.2.10", Some("documentation")),
            ("198.51.100.1", Some("documentation")),
            ("203.0.113.9", Some("documentation")),
            ("198.18.0.1", Some("benchmarking")),
            ("::", Some("unspecified")),
            ("::1", Some("loopback")),
            ("fe80::1", Some("link-local")),
            ("febf::1", Some("link-local")),
            ("fc00::1", Some("unique-local")),
            ("fd12:3456::1", Some("unique-local")),
            ("ff02::1", Some("multicast")),
            ("2001:db8::1", Some("documentation")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("::ffff:93.184.216.34", None),
            ("::10.0.0.1", Some("private")),
            ("64:ff9b::192.168.0.1", Some("private")),
            ("2002:c0a8:0101::1", Some("private")),
            ("2002:5db8:d822::1", None),
        ] {
            let parsed: IpAddr = ip.parse().unwrap();
            assert_eq!(non_public(parsed), expected, "{ip}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = Utc.with_ymd_and_hms(2026, 1, 8, 14, 30, 0).unwrap();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Thu, 08 Jan 2026 14:31:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Thu, 08 Jan 2026 14:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn echoed_urls_are_blanked() {
        let url = "https://hooks.example.com/services/T0/B0/secret?token=abc";
        let text = format!("no such hook {url} (path /services/T0/B0/secret?token=abc)");
        let out = redact(&text, url);
        assert!(!out.contains("secret") && !out.contains("abc"), "{out}");
    }

    /// A stand-in receiver: each path answers one way; `/ok` also insists
    /// on a JSON body sent as JSON.
    async fn receiver() -> SocketAddr {
        async fn ok(headers: HeaderMap, body: Bytes) -> StatusCode {
            let json = headers
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v == "application/json");
            let parsed: Result<serde_json::Value, _> = serde_json::from_slice(&body);
            if json && parsed.is_ok_and(|v| v == json!({"text": "hello"})) {
                StatusCode::NO_CONTENT
            } else {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
        }
        let app = Router::new()
            .route("/ok", post(ok))
            .route("/fail", post(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
            .route(
                "/busy",
                post(|| async {
                    (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "7")]).into_response()
                }),
            )
            .route(
                "/missing",
                post(|| async { (StatusCode::NOT_FOUND, "unknown webhook /missing/s3cr3t").into_response() }),
            )
            .route(
                "/moved",
                post(|| async { (StatusCode::FOUND, [(header::LOCATION, "/ok")]).into_response() }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr
    }

    fn body() -> serde_json::Value {
        json!({"text": "hello"})
    }

    #[tokio::test]
    async fn answers_are_classified_for_retries() {
        let addr = receiver().await;
        let hooks = HttpWebhooks::new(true);
        let url = |path: &str| format!("http://{addr}{path}");

        assert_eq!(hooks.post(&url("/ok"), &body()).await, Ok(()));

        let err = hooks.post(&url("/fail"), &body()).await.unwrap_err();
        assert!(err.retryable && err.retry_after.is_none(), "{err:?}");
        assert!(err.message.contains("500"), "{err:?}");

        let err = hooks.post(&url("/busy"), &body()).await.unwrap_err();
        assert!(err.retryable, "{err:?}");
        assert_eq!(err.retry_after, Some(Duration::from_secs(7)));

        let err = hooks.post(&url("/missing/s3cr3t"), &body()).await.unwrap_err();
        assert!(!err.retryable, "{err:?}");
        assert!(
            err.message.contains("404") && !err.message.contains("s3cr3t"),
            "{err:?}"
        );

        let err = hooks.post(&url("/moved"), &body()).await.unwrap_err();
        assert!(!err.retryable && err.message.contains("302"), "{err:?}");
    }

    #[tokio::test]
    async fn unreachable_receivers_are_retried_without_naming_the_url() {
        // Bound then dropped: nothing listens there any more.
        let port = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap().port()
        };
        let hooks = HttpWebhooks::new(true);
        let err = hooks
            .post(&format!("http://127.0.0.1:{port}/hook/s3cr3t"), &body())
            .await
            .unwrap_err();
        assert!(err.retryable, "{err:?}");
        assert!(
            err.message.contains("127.0.0.1") && !err.message.contains("s3cr3t"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn resolved_hosts_are_reached_at_the_checked_address() {
        let addr = receiver().await;
        let hooks = HttpWebhooks::new(true);
        let url = format!("http://localhost:{}/ok", addr.port());
        assert_eq!(hooks.post(&url, &body()).await, Ok(()));
    }

    #[tokio::test]
    async fn inside_targets_are_refused_unless_allowed() {
        let addr = receiver().await;
        let hooks = HttpWebhooks::new(false);
        let local = format!("http://{addr}/ok");
        assert!(hooks.check(&local).await.is_err());
        let err = hooks.post(&local, &body()).await.unwrap_err();
        assert!(!err.retryable, "{err:?}");

        for url in [
            "https://localhost/",
            "https://127.0.0.1/hook",
            "https://[::1]/hook",
            "https://[::ffff:10.0.0.1]/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://0x7f.1/hook",
            "http://93.184.216.34/plain-http",
            "https://user:pass@93.184.216.34/x",
            "ftp://93.184.216.34/x",
            "not a url",
        ] {
            assert!(hooks.check(url).await.is_err(), "{url}");
        }
        let refused = hooks.check("https://10.0.0.1/s3cr3t?token=1").await.unwrap_err();
        assert!(
            !refused.0.contains("s3cr3t") && refused.0.contains("private"),
            "{refused:?}"
        );

        assert_eq!(hooks.check("https://93.184.216.34/x").await, Ok(()));
        assert_eq!(hooks.check("https://[2606:4700:4700::1111]/x").await, Ok(()));

        let allowed = HttpWebhooks::new(true);
        assert_eq!(allowed.check(&local).await, Ok(()));
        assert_eq!(allowed.check("https://localhost/").await, Ok(()));
    }
}

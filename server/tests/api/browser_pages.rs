//! The pages served to browsers: the status page at `GET /status` and the
//! GraphiQL explorer at `GET /graphql`, negotiated on `Accept`, each with
//! its own Content-Security-Policy. The browser tests in
//! `web-client-tests/tests/pages.test.js` drive the same pages in Chromium.

use crate::helpers::{TestEnv, TestServer};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde_json::Value;
use sha2::{Digest, Sha256};

const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// The text of every `<tag>…</tag>` element of a page.
fn inline_elements<'a>(html: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let body = &rest[start + open.len()..];
        let end = body.find(&close).expect("element is closed");
        found.push(&body[..end]);
        rest = &body[end + close.len()..];
    }
    found
}

/// One directive of a policy, by name.
fn directive<'a>(policy: &'a str, name: &str) -> Vec<&'a str> {
    policy
        .split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
        .unwrap_or_else(|| panic!("no {name} in {policy}"))
        .split_whitespace()
        .collect()
}

/// `path` as a browser asks for it.
async fn browse(server: &TestServer, path: &str) -> reqwest::Response {
    server
        .http
        .get(server.url(path))
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap()
}

fn sha256_source(code: &str) -> String {
    format!("'sha256-{}'", STANDARD.encode(Sha256::digest(code.as_bytes())))
}

#[tokio::test]
async fn status_page_is_one_html_document_whose_policy_allows_exactly_its_inline_code() {
    let server = TestServer::spawn().await;
    let resp = browse(&server, "/status").await;
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "content-type").starts_with("text/html"));
    assert_eq!(header(&resp, "vary"), "Accept");
    let policy = header(&resp, "content-security-policy").to_owned();
    let html = resp.text().await.unwrap();

    let scripts = inline_elements(&html, "script");
    let styles = inline_elements(&html, "style");
    assert_eq!(
        (scripts.len(), styles.len()),
        (1, 1),
        "one inline script and one style"
    );
    assert_eq!(directive(&policy, "script-src"), [sha256_source(scripts[0])]);
    assert_eq!(directive(&policy, "style-src"), [sha256_source(styles[0])]);
    assert_eq!(directive(&policy, "connect-src"), ["'self'"]);
    assert_eq!(directive(&policy, "default-src"), ["'none'"]);
    // Self-contained: no script, stylesheet or font from anywhere else.
    assert!(!html.contains("<script src"), "external script");
    assert!(!html.contains("rel=\"stylesheet\""), "external stylesheet");
    assert!(
        !html.contains("@import") && !html.contains("url(http"),
        "external style resource"
    );
    // The page reads the JSON routes itself, and says so without JS.
    for route in ["'/status'", "'/status/incidents'", "'/status/external'"] {
        assert!(scripts[0].contains(route), "page does not read {route}");
    }
    assert!(html.contains("<noscript>"));
    assert!(html.contains("name=\"viewport\""));
}

#[tokio::test]
async fn status_negotiates_json_for_clients_that_do_not_ask_for_html() {
    let server = TestServer::spawn().await;
    for accept in [None, Some("application/json"), Some("*/*")] {
        let mut request = server.http.get(server.url("/status"));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let resp = request.send().await.unwrap();
        assert!(
            header(&resp, "content-type").starts_with("application/json"),
            "Accept {accept:?} got {:?}",
            resp.headers().get("content-type")
        );
        assert!(resp
            .headers()
            .get("content-security-policy")
            .is_some_and(|csp| !csp.to_str().unwrap().contains("sha256-")));
    }
}

/// The vendored files' sha256, as `server/assets/graphiql/SHA256SUMS` lists
/// them (the file `scripts/graphiql-assets.sh` checks against npm).
fn vendored_sums() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/graphiql/SHA256SUMS");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (sum, name) = l.split_once("  ").expect("sha256sum format");
            (name.trim().to_owned(), sum.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn graphiql_page_and_its_assets_come_from_the_binary() {
    let server = TestServer::spawn().await;
    let resp = browse(&server, "/graphql").await;
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "content-type").starts_with("text/html"));
    assert_eq!(header(&resp, "vary"), "Accept");
    let policy = header(&resp, "content-security-policy").to_owned();
    let html = resp.text().await.unwrap();
    assert!(html.contains("id=\"graphiql\""));
    assert!(html.contains("Bearer token"));

    assert_eq!(directive(&policy, "script-src"), ["'self'"]);
    let host = server.addr.to_string();
    assert_eq!(
        directive(&policy, "connect-src"),
        ["'self'", &format!("ws://{host}"), &format!("wss://{host}")]
    );
    assert!(inline_elements(&html, "script").is_empty(), "no inline script");
    assert!(
        !html.contains("unpkg") && !html.contains("https://"),
        "nothing from a CDN"
    );

    let urls: Vec<&str> = html
        .split('"')
        .filter(|part| part.starts_with("/graphql/assets/"))
        .collect();
    assert_eq!(
        urls.len(),
        6,
        "react, react-dom, graphiql js and css, explorer js and css"
    );
    let sums = vendored_sums();
    assert_eq!(sums.len(), 4);
    let mut checked = 0;
    for url in urls {
        let resp = server.http.get(server.url(url)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{url}");
        let expected_type = if url.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(header(&resp, "content-type"), expected_type, "{url}");
        assert_eq!(
            header(&resp, "cache-control"),
            "public, max-age=31536000, immutable"
        );
        let body = resp.bytes().await.unwrap();
        let digest = hex::encode(Sha256::digest(&body));
        // The name carries the content's hash: a new file is a new URL.
        let name = url.trim_start_matches("/graphql/assets/");
        let parts: Vec<&str> = name.rsplitn(3, '.').collect();
        assert_eq!(digest[..12], *parts[1], "{url}");
        let source = format!("{}.{}", parts[2], parts[0]);
        if let Some((_, sum)) = sums.iter().find(|(n, _)| *n == source) {
            assert_eq!(&digest, sum, "{source} differs from the vendored file");
            checked += 1;
        }
    }
    assert_eq!(checked, 4, "every vendored file is served as published");
    let css = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/graphiql/explorer.css"
    ))
    .unwrap();
    let name = format!("explorer.{}.css", &hex::encode(Sha256::digest(&css))[..12]);
    assert!(html.contains(&format!("/graphql/assets/{name}")));

    let resp = server
        .http
        .get(server.url("/graphql/assets/graphiql.min.000000000000.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "NOT_FOUND");
}

#[tokio::test]
async fn a_get_with_a_query_runs_it_whatever_the_client_accepts() {
    let server = TestServer::spawn().await;
    let resp = server
        .http
        .get(server.url("/graphql"))
        .query(&[("query", "{ serverInfo { version } }")])
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(header(&resp, "content-type").starts_with("application/json"));
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn graphiql_false_turns_the_explorer_off() {
    let server = TestServer::spawn_env(TestEnv::new().await.set("GRAPHIQL", "false")).await;
    let resp = browse(&server, "/graphql").await;
    // As for any client: a GET without a query is answered with a GraphQL
    // error, not a page.
    assert!(header(&resp, "content-type").starts_with("application/json"));
    assert!(resp
        .headers()
        .get("content-security-policy")
        .is_some_and(|csp| !csp.to_str().unwrap().contains("script-src")));
    let body: Value = resp.json().await.unwrap();
    assert!(
        !body["errors"][0]["message"].as_str().unwrap().is_empty(),
        "{body}"
    );
    // Its assets are not served either: nothing of the explorer is left.
    let css = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/graphiql/explorer.css"
    ))
    .unwrap();
    let name = format!("explorer.{}.css", &hex::encode(Sha256::digest(&css))[..12]);
    let resp = server
        .http
        .get(server.url(&format!("/graphql/assets/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // Queries over GET still run.
    let resp = server
        .http
        .get(server.url("/graphql"))
        .query(&[("query", "{ serverInfo { version } }")])
        .header("accept", BROWSER_ACCEPT)
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
}

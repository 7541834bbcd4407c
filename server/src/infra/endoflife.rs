//! endoflife.date's release list over HTTP: a bounded GET (time and size),
//! handed to the domain as bytes.

use super::webhook::root_cause;
use crate::domain::windows_builds::ReleaseSource;
use async_trait::async_trait;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(20);
/// The real document is about 40 KiB; anything far larger is not it.
const MAX_BODY: usize = 2 * 1024 * 1024;

pub struct HttpReleaseSource {
    url: String,
}

impl HttpReleaseSource {
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into() }
    }
}

#[async_trait]
impl ReleaseSource for HttpReleaseSource {
    fn location(&self) -> &str {
        &self.url
    }

    async fn fetch(&self) -> Result<Vec<u8>, String> {
        let url = &self.url;
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| format!("could not build the HTTP client: {}", root_cause(&e)))?;
        let mut response = client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                let what = if e.is_timeout() { "timed out" } else { "failed" };
                format!("GET {url} {what}: {}", root_cause(&e))
            })?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(format!("{url} answered HTTP {}", status.as_u16()));
        }
        if response.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(format!("{url} answered more than {} KiB", MAX_BODY / 1024));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| format!("reading {url} failed: {}", root_cause(&e)))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(format!("{url} answered more than {} KiB", MAX_BODY / 1024));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

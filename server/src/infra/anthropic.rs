//! The Anthropic Messages API over reqwest: one bounded POST per attempt,
//! retried on 429, 529 and 5xx with exponential backoff and jitter (or the
//! server's `retry-after`), at most [`MAX_ATTEMPTS`] times. Answers the
//! text of the reply; the caller validates it.
//!
//! The API key travels in a header only: it is never part of a URL, an
//! error or a log line, and [`ApiKey`]'s `Debug` hides it.

use super::webhook::root_cause;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
pub const API_VERSION: &str = "2023-06-01";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Per attempt, reading the answer included.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(30);
/// For all attempts and waits together: an analysis waits no longer for
/// its narrative, retries or not.
const DEADLINE: Duration = Duration::from_secs(60);
pub const MAX_ATTEMPTS: u32 = 3;
/// A `retry-after` longer than this is not worth holding an analysis for:
/// the caller falls back to its own text instead.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// A reply of 4096 tokens is about 16 KiB; anything far larger is not one.
const MAX_BODY: usize = 1024 * 1024;

/// The secret `x-api-key`.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// Whether it can travel in a header (printable ASCII, no spaces).
    pub fn is_well_formed(&self) -> bool {
        !self.0.is_empty() && self.0.bytes().all(|b| b.is_ascii_graphic())
    }

    /// Marked sensitive, so no `Debug` of the request shows it either.
    fn header(&self) -> reqwest::header::HeaderValue {
        let mut value = reqwest::header::HeaderValue::from_str(&self.0)
            .unwrap_or_else(|_| reqwest::header::HeaderValue::from_static("invalid-key"));
        value.set_sensitive(true);
        value
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<hidden>)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AnthropicError {
    #[error("the Messages API could not be reached: {0}")]
    Transport(String),
    #[error("the Messages API timed out")]
    Timeout,
    #[error("the Messages API answered HTTP {status} after {attempts} attempt(s)")]
    Status { status: u16, attempts: u32 },
    #[error("the Messages API asked to retry after {0} s, longer than we wait")]
    RetryTooLate(u64),
    #[error("the Messages API answered an unreadable body: {0}")]
    Body(String),
}

#[derive(Clone, Debug, Serialize)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct MessagesRequest {
    pub model: String,
    pub max_tokens: u32,
    pub system: String,
    pub messages: Vec<Message>,
}

#[derive(Deserialize)]
struct MessagesResponse {
    content: Vec<ContentBlock>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ContentBlock {
    Text {
        text: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Clone)]
pub struct AnthropicClient {
    http: reqwest::Client,
    endpoint: String,
    api_key: ApiKey,
    /// First backoff step; doubles per attempt, plus up to as much jitter.
    backoff: Duration,
}

impl AnthropicClient {
    pub fn new(base_url: &str, api_key: ApiKey) -> Self {
        let http = super::api_client(CONNECT_TIMEOUT, TOTAL_TIMEOUT);
        Self {
            http,
            endpoint: format!("{}/v1/messages", base_url.trim_end_matches('/')),
            api_key,
            backoff: Duration::from_millis(500),
        }
    }

    /// Sends one request (retrying as the module says) and returns the
    /// concatenated text blocks of the reply.
    pub async fn messages(&self, request: &MessagesRequest) -> Result<String, AnthropicError> {
        let started = std::time::Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let left = DEADLINE.saturating_sub(started.elapsed());
            let response = self
                .http
                .post(&self.endpoint)
                .timeout(left.min(TOTAL_TIMEOUT))
                .header("x-api-key", self.api_key.header())
                .header("anthropic-version", API_VERSION)
                .json(request)
                .send()
                .await
                .map_err(|e| {
                    if e.is_timeout() {
                        AnthropicError::Timeout
                    } else {
                        AnthropicError::Transport(root_cause(&e))
                    }
                })?;
            let status = response.status();
            if status.is_success() {
                let body = read_bounded(response).await?;
                let parsed: MessagesResponse =
                    serde_json::from_slice(&body).map_err(|e| AnthropicError::Body(e.to_string()))?;
                return Ok(parsed
                    .content
                    .into_iter()
                    .filter_map(|b| match b {
                        ContentBlock::Text { text } => Some(text),
                        ContentBlock::Other => None,
                    })
                    .collect());
            }
            let code = status.as_u16();
            let retryable = code == 429 || code == 529 || status.is_server_error();
            if !retryable || attempt >= MAX_ATTEMPTS {
                return Err(AnthropicError::Status {
                    status: code,
                    attempts: attempt,
                });
            }
            let wait = match retry_after(&response) {
                Some(wait) if wait > MAX_RETRY_AFTER => {
                    return Err(AnthropicError::RetryTooLate(wait.as_secs()))
                }
                Some(wait) => wait,
                None => {
                    let step = self.backoff * 2u32.pow(attempt - 1);
                    step + step.mul_f64(rand::rng().random::<f64>())
                }
            };
            if started.elapsed() + wait >= DEADLINE {
                return Err(AnthropicError::Status {
                    status: code,
                    attempts: attempt,
                });
            }
            tracing::debug!(
                status = code,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "Messages API busy; retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

/// `retry-after`, read as the webhooks read it (seconds or an HTTP date).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let raw = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    super::webhook::parse_retry_after(raw, chrono::Utc::now())
}

async fn read_bounded(mut response: reqwest::Response) -> Result<Vec<u8>, AnthropicError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        if e.is_timeout() {
            AnthropicError::Timeout
        } else {
            AnthropicError::Body(root_cause(&e))
        }
    })? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(AnthropicError::Body(format!("more than {} KiB", MAX_BODY / 1024)));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether the Messages API's host answers at all, for the status page:
/// one GET of the base URL, no key and no model call (so it costs nothing).
/// Any HTTP answer, 404 included, means reachable.
#[derive(Clone)]
pub struct Reachability {
    http: reqwest::Client,
    base_url: String,
}

impl Reachability {
    pub fn new(base_url: &str, within: Duration) -> Self {
        let http = super::api_client(within, within);
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The round-trip time, or why the host could not be reached.
    pub async fn probe(&self) -> Result<Duration, AnthropicError> {
        let started = std::time::Instant::now();
        match self.http.get(format!("{}/", self.base_url)).send().await {
            Ok(_) => Ok(started.elapsed()),
            Err(e) if e.is_timeout() => Err(AnthropicError::Timeout),
            Err(e) => Err(AnthropicError::Transport(root_cause(&e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let key = ApiKey::new("sk-ant-secret-value");
        assert!(!format!("{key:?}").contains("secret"));
    }
}

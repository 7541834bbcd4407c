//! The domain's view of webhook delivery: which URLs may be used, and a
//! POST whose failure says whether to retry. The HTTP client and the DNS
//! checks live in `infra::webhook`.

use async_trait::async_trait;
use std::time::Duration;

/// Why a webhook URL is refused (shown to the admin as `BAD_USER_INPUT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlRefused(pub String);

/// A failed POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryError {
    pub message: String,
    /// Timeouts, connection failures, 5xx and 429 are worth another try;
    /// other 4xx, and refused URLs, are not.
    pub retryable: bool,
    /// The receiver's `Retry-After`, honoured when longer than the backoff.
    pub retry_after: Option<Duration>,
}

#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Checks the URL's form and, after DNS resolution, that it does not
    /// point inside the network (unless private targets are allowed).
    async fn check(&self, url: &str) -> Result<(), UrlRefused>;
    /// POSTs `body` as JSON to `url`, checking it again first: DNS may have
    /// changed since the channel was saved.
    async fn post(&self, url: &str, body: &serde_json::Value) -> Result<(), DeliveryError>;
}

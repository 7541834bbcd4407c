//! Cloudflare Turnstile siteverify client.

use super::webhook::root_cause;
use crate::{config::TurnstileSettings, domain::public::contact::BotCheck};
use async_trait::async_trait;
use serde::Deserialize;
use std::time::Duration;

/// A person waits on this answer to their form: a verifier slower than
/// this counts as unreachable.
const TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

pub struct Turnstile {
    http: reqwest::Client,
    settings: TurnstileSettings,
}

#[derive(Deserialize)]
struct Verdict {
    success: bool,
    #[serde(default, rename = "error-codes")]
    error_codes: Vec<String>,
}

impl Turnstile {
    pub fn new(settings: TurnstileSettings) -> Self {
        let http = super::api_client(CONNECT_TIMEOUT, TIMEOUT);
        Self { http, settings }
    }
}

#[async_trait]
impl BotCheck for Turnstile {
    async fn verify(&self, token: &str, ip: Option<&str>) -> Result<bool, String> {
        let mut form = vec![("secret", self.settings.secret_key.as_str()), ("response", token)];
        if let Some(ip) = ip {
            form.push(("remoteip", ip));
        }
        let response = self
            .http
            .post(&self.settings.verify_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                let what = if e.is_timeout() { "timed out" } else { "failed" };
                format!("Turnstile siteverify {what}: {}", root_cause(&e))
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("Turnstile siteverify answered HTTP {}", status.as_u16()));
        }
        let verdict: Verdict = response
            .json()
            .await
            .map_err(|e| format!("Turnstile siteverify answered no verdict: {}", root_cause(&e)))?;
        if !verdict.success {
            tracing::info!(codes = ?verdict.error_codes, "Turnstile refused a contact-form token");
        }
        Ok(verdict.success)
    }
}

//! Fixed-window attempt limits per action and client IP, counted in the
//! shared cache (Redis when configured) so every instance enforces one
//! budget.

use crate::{domain::DomainError, infra::cache::Cache};
use std::{sync::Arc, time::Duration};

#[derive(Clone, Copy, Debug)]
pub enum LimitedAction {
    Login,
    Refresh,
    MfaVerify,
    PasswordResetRequest,
    PasswordReset,
    InstallerDownload,
    /// The public contact form.
    ContactForm,
}

impl LimitedAction {
    fn key(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Refresh => "refresh",
            Self::MfaVerify => "mfa",
            Self::PasswordResetRequest => "reset-request",
            Self::PasswordReset => "reset",
            Self::InstallerDownload => "installer",
            Self::ContactForm => "contact",
        }
    }
}

#[derive(Clone)]
pub struct RateLimiter {
    cache: Arc<dyn Cache>,
    attempts: u64,
    window: Duration,
}

impl RateLimiter {
    pub fn new(cache: Arc<dyn Cache>, attempts: u64, window: Duration) -> Self {
        Self {
            cache,
            attempts,
            window,
        }
    }

    /// Counts one attempt; refuses once the window's budget is spent.
    /// Attempts count per IPv4 address or IPv6 /64: a client rotating
    /// addresses within its own block is still one client.
    pub async fn check(&self, action: LimitedAction, ip: Option<&str>) -> Result<(), DomainError> {
        let client = match ip.map(|ip| ip.parse::<std::net::IpAddr>()) {
            Some(Ok(ip)) => agent_gateway::tls::subscriber_block(ip).to_string(),
            Some(Err(_)) => ip.unwrap_or_default().to_owned(),
            None => "unknown".to_owned(),
        };
        let key = format!("rl:{}:{client}", action.key());
        let hit = self.cache.hit(&key, self.window).await;
        if hit.count > self.attempts {
            return Err(DomainError::RateLimited {
                retry_after: hit.resets_in.max(Duration::from_secs(1)),
            });
        }
        Ok(())
    }
}

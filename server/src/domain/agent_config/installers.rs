//! Installer downloads: anyone holding a live install token gets the
//! active stable build for a platform and architecture. Builds are
//! published as URLs (the server holds no files), so the answer is where
//! to fetch it. Checking the token counts no use: enrolment does.

use super::{
    target::Target,
    versions::{AgentVersion, AgentVersions},
};
use crate::{
    domain::{
        auth::rate_limit::{LimitedAction, RateLimiter},
        pki::install_tokens::InstallTokens,
        DomainError,
    },
    infra::cache::Cache,
};
use entities::enums::{Stored, UpdateChannel};
use std::{sync::Arc, time::Duration};

/// Requests per client address and minute, valid or not: enough for a
/// script installing a site behind one NAT address, and it keeps token
/// guessing and floods off the database.
pub const DOWNLOADS_PER_MINUTE: u64 = 60;

#[derive(Clone)]
pub struct Installers {
    tokens: InstallTokens,
    versions: AgentVersions,
    limiter: RateLimiter,
}

impl Installers {
    pub fn new(tokens: InstallTokens, versions: AgentVersions, cache: Arc<dyn Cache>) -> Self {
        Self {
            tokens,
            versions,
            limiter: RateLimiter::new(cache, DOWNLOADS_PER_MINUTE, Duration::from_secs(60)),
        }
    }

    /// The build a holder of `token` may download for `platform` and
    /// `architecture`. Refusals, in order: RateLimited, InvalidInput (no
    /// such platform or architecture), Unauthenticated (token missing,
    /// expired, revoked or used up), NotFound (nothing published).
    pub async fn build_for(
        &self,
        token: Option<&str>,
        platform: &str,
        architecture: &str,
        ip: Option<&str>,
    ) -> Result<AgentVersion, DomainError> {
        self.limiter.check(LimitedAction::InstallerDownload, ip).await?;
        let target = Target::new(&UpdateChannel::Stable.stored(), platform, architecture)?;
        let token = token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(DomainError::Unauthenticated)?;
        self.tokens.check(token).await?;
        self.versions
            .latest(&target)
            .await?
            .ok_or(DomainError::NotFound("stable build for this platform"))
    }
}

//! Sign-in, sessions, passwords and MFA.

use super::{
    auth::{self as guard, clear_session_cookies, set_session_cookies},
    error::{ApiError, Result},
    types::{id, parse_id, User},
    ContextExt,
};
use crate::domain::auth::{LoginOutcome, Session};
use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

/// Outcome of `login`, `verifyMfa` and `refreshToken`. While MFA is
/// pending, tokens and user are null and `mfaSessionId` is set.
#[derive(SimpleObject, Default)]
pub struct LoginPayload {
    access_token: Option<String>,
    refresh_token: Option<String>,
    access_token_expires_at: Option<DateTime<Utc>>,
    refresh_token_expires_at: Option<DateTime<Utc>>,
    mfa_required: bool,
    mfa_session_id: Option<String>,
    user: Option<User>,
    client_name: Option<String>,
}

impl From<&Session> for LoginPayload {
    fn from(s: &Session) -> Self {
        Self {
            access_token: Some(s.access_token.clone()),
            refresh_token: Some(s.refresh_token.clone()),
            access_token_expires_at: Some(s.access.expires_at()),
            refresh_token_expires_at: Some(s.refresh_expires_at),
            mfa_required: false,
            mfa_session_id: None,
            user: Some(s.user.clone().into()),
            client_name: Some(s.client_name.clone()),
        }
    }
}

fn session_payload(ctx: &Context<'_>, session: &Session) -> LoginPayload {
    set_session_cookies(ctx, session);
    session.into()
}

/// Returned once by `mfaSetup`: scan the URL, keep the backup codes.
#[derive(SimpleObject)]
pub struct MfaSetupPayload {
    secret: String,
    otpauth_url: String,
    backup_codes: Vec<String>,
}

#[derive(SimpleObject)]
pub struct MfaStatus {
    enabled: bool,
    verified_at: Option<DateTime<Utc>>,
    backup_codes_left: u64,
}

#[derive(SimpleObject)]
pub struct ImpersonationPayload {
    access_token: String,
    expires_at: DateTime<Utc>,
    client_id: ID,
}

#[derive(Default)]
pub struct IdentityQuery;

#[Object]
impl IdentityQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> Result<User> {
        let principal = ctx.user_session()?;
        Ok(ctx.services().auth.me(principal).await?.into())
    }

    async fn mfa_status(&self, ctx: &Context<'_>) -> Result<MfaStatus> {
        let principal = ctx.user_session()?;
        let s = ctx.services().auth.mfa_status(principal).await?;
        Ok(MfaStatus {
            enabled: s.enabled,
            verified_at: s.verified_at,
            backup_codes_left: s.backup_codes_left,
        })
    }

    /// Whether a password-reset token is still usable. Public.
    async fn validate_reset_token(&self, ctx: &Context<'_>, token: String) -> Result<bool> {
        Ok(ctx.services().auth.validate_reset_token(&token).await?)
    }
}

#[derive(Default)]
pub struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Signs in. Same error for an unknown email and a wrong password.
    async fn login(&self, ctx: &Context<'_>, email: String, password: String) -> Result<LoginPayload> {
        let outcome = ctx.services().auth.login(&email, &password, ctx.meta()).await?;
        Ok(match outcome {
            LoginOutcome::Session(session) => session_payload(ctx, &session),
            LoginOutcome::MfaRequired { mfa_session_id } => LoginPayload {
                mfa_required: true,
                mfa_session_id: Some(mfa_session_id),
                ..Default::default()
            },
        })
    }

    /// Completes a login with a TOTP code or a backup code (single use).
    async fn verify_mfa(
        &self,
        ctx: &Context<'_>,
        mfa_session_id: String,
        code: String,
    ) -> Result<LoginPayload> {
        let session = ctx
            .services()
            .auth
            .verify_mfa(&mfa_session_id, &code, ctx.meta())
            .await?;
        Ok(session_payload(ctx, &session))
    }

    /// Rotates a refresh token (argument, or the refresh cookie).
    async fn refresh_token(&self, ctx: &Context<'_>, refresh_token: Option<String>) -> Result<LoginPayload> {
        let auth = ctx.request_auth();
        let token = refresh_token
            .or_else(|| auth.refresh_cookie.clone())
            .ok_or_else(|| ApiError::bad_input("refreshToken", "is required (argument or cookie)"))?;
        let session = ctx.services().auth.refresh(&token, &auth.meta).await?;
        Ok(session_payload(ctx, &session))
    }

    /// Revokes the access token now (and the refresh family when the
    /// refresh token is given or in a cookie).
    async fn logout(&self, ctx: &Context<'_>, refresh_token: Option<String>) -> Result<bool> {
        let principal = ctx.caller_allowing_password_change()?;
        let auth = ctx.request_auth();
        let refresh = refresh_token.or_else(|| auth.refresh_cookie.clone());
        ctx.services()
            .auth
            .logout(principal, refresh.as_deref(), &auth.meta)
            .await?;
        clear_session_cookies(ctx);
        Ok(true)
    }

    /// Changes the caller's password; the only operation allowed while a
    /// change is required. Other sessions of the user are signed out.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<bool> {
        let principal = ctx.caller_allowing_password_change()?;
        if principal.is_api_token() {
            return Err(guard::api_token_forbidden());
        }
        ctx.services()
            .auth
            .change_password(principal, &current_password, &new_password, ctx.meta())
            .await?;
        Ok(true)
    }

    /// Sends a reset link if the address is known; always answers true.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        ctx.services()
            .auth
            .request_password_reset(&email, ctx.meta())
            .await?;
        Ok(true)
    }

    async fn reset_password(&self, ctx: &Context<'_>, token: String, new_password: String) -> Result<bool> {
        ctx.services()
            .auth
            .reset_password(&token, &new_password, ctx.meta())
            .await?;
        Ok(true)
    }

    /// Starts TOTP enrolment: secret, otpauth URL and backup codes (once).
    async fn mfa_setup(&self, ctx: &Context<'_>) -> Result<MfaSetupPayload> {
        let principal = ctx.user_session()?;
        let s = ctx.services().auth.mfa_setup(principal).await?;
        Ok(MfaSetupPayload {
            secret: s.secret,
            otpauth_url: s.otpauth_url,
            backup_codes: s.backup_codes,
        })
    }

    /// Turns MFA on with a first valid code.
    async fn mfa_enable(&self, ctx: &Context<'_>, code: String) -> Result<bool> {
        let principal = ctx.user_session()?;
        ctx.services()
            .auth
            .mfa_enable(principal, &code, ctx.meta())
            .await?;
        Ok(true)
    }

    async fn mfa_disable(&self, ctx: &Context<'_>, password: String) -> Result<bool> {
        let principal = ctx.user_session()?;
        ctx.services()
            .auth
            .mfa_disable(principal, &password, ctx.meta())
            .await?;
        Ok(true)
    }

    /// super_admin: a 15-minute admin token for another tenant (audited).
    async fn impersonate(&self, ctx: &Context<'_>, client_id: ID) -> Result<ImpersonationPayload> {
        let principal = ctx.user_session()?;
        let client_id = parse_id("clientId", &client_id)?;
        let (token, claims) = ctx
            .services()
            .auth
            .impersonate(principal, client_id, ctx.meta())
            .await?;
        Ok(ImpersonationPayload {
            access_token: token,
            expires_at: claims.expires_at(),
            client_id: id(claims.cid),
        })
    }
}

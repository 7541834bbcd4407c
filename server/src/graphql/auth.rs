//! Guards and session cookies. The transport resolves the caller once per
//! request into [`RequestAuth`]; resolvers ask for the level they need.

use super::error::{ApiError, ErrorCode};
use crate::domain::{
    activity::RequestMeta,
    auth::{AuthFailure, AuthVia, Principal, Role, Session},
};
use async_graphql::Context;
use cookie::{time::Duration as CookieDuration, Cookie, SameSite};

pub const ACCESS_COOKIE: &str = "optralis_access";
pub const REFRESH_COOKIE: &str = "optralis_refresh";
pub const CSRF_COOKIE: &str = "optralis_csrf";

/// The caller of one request (or WebSocket connection).
#[derive(Clone, Debug, Default)]
pub struct RequestAuth {
    pub principal: Option<Principal>,
    /// Why a presented credential was refused, if one was.
    pub failure: Option<AuthFailure>,
    pub meta: RequestMeta,
    /// The refresh cookie, for `refreshToken`/`logout` without arguments.
    pub refresh_cookie: Option<String>,
    /// Whether cookies are marked `Secure`.
    pub secure_cookies: bool,
}

pub fn request_auth<'a>(ctx: &'a Context<'_>) -> &'a RequestAuth {
    static ANONYMOUS: std::sync::OnceLock<RequestAuth> = std::sync::OnceLock::new();
    ctx.data_opt::<RequestAuth>()
        .unwrap_or_else(|| ANONYMOUS.get_or_init(RequestAuth::default))
}

pub fn meta<'a>(ctx: &'a Context<'_>) -> &'a RequestMeta {
    &request_auth(ctx).meta
}

fn unauthenticated(auth: &RequestAuth) -> ApiError {
    let message = match auth.failure {
        Some(AuthFailure::Expired) => "Access token expired",
        Some(AuthFailure::Revoked) => "Access token revoked",
        Some(AuthFailure::Invalid) => "Invalid credentials",
        None => "Authentication required",
    };
    ApiError::new(ErrorCode::Unauthenticated, message)
}

/// Any authenticated caller whose password is in order.
pub fn caller<'a>(ctx: &'a Context<'_>) -> Result<&'a Principal, ApiError> {
    let principal = caller_allowing_password_change(ctx)?;
    if principal.password_change_required {
        return Err(ApiError::new(
            ErrorCode::PasswordChangeRequired,
            "Password change required: call changePassword first",
        ));
    }
    Ok(principal)
}

/// Any authenticated caller, even one that must change its password.
pub fn caller_allowing_password_change<'a>(ctx: &'a Context<'_>) -> Result<&'a Principal, ApiError> {
    let auth = request_auth(ctx);
    auth.principal.as_ref().ok_or_else(|| unauthenticated(auth))
}

/// A caller with at least `role`.
pub fn with_role<'a>(ctx: &'a Context<'_>, role: Role) -> Result<&'a Principal, ApiError> {
    let principal = caller(ctx)?;
    if principal.role < role {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("{} access required", entities::enums::Stored::stored(&role)),
        ));
    }
    Ok(principal)
}

pub fn api_token_forbidden() -> ApiError {
    ApiError::new(
        ErrorCode::Forbidden,
        "API tokens cannot perform identity operations",
    )
}

/// A signed-in user (not an API token): identity operations.
pub fn user_session<'a>(ctx: &'a Context<'_>) -> Result<&'a Principal, ApiError> {
    user_session_with_role(ctx, Role::Observer)
}

pub fn user_session_with_role<'a>(ctx: &'a Context<'_>, role: Role) -> Result<&'a Principal, ApiError> {
    let principal = with_role(ctx, role)?;
    if principal.is_api_token() {
        return Err(api_token_forbidden());
    }
    Ok(principal)
}

fn cookie(name: &str, value: String, max_age: CookieDuration, http_only: bool, secure: bool) -> String {
    Cookie::build((name.to_owned(), value))
        .path("/")
        .http_only(http_only)
        .secure(secure)
        .same_site(SameSite::Strict)
        .max_age(max_age)
        .build()
        .to_string()
}

/// Sets the three session cookies (access, refresh, CSRF).
pub fn set_session_cookies(ctx: &Context<'_>, session: &Session) {
    let secure = request_auth(ctx).secure_cookies;
    let access_age = CookieDuration::seconds((session.access.exp - session.access.iat).max(0));
    let refresh_age = CookieDuration::seconds(
        (session.refresh_expires_at - chrono::Utc::now())
            .num_seconds()
            .max(0),
    );
    let csrf = crate::domain::crypto::random_token();
    ctx.append_http_header(
        "set-cookie",
        cookie(
            ACCESS_COOKIE,
            session.access_token.clone(),
            access_age,
            true,
            secure,
        ),
    );
    ctx.append_http_header(
        "set-cookie",
        cookie(
            REFRESH_COOKIE,
            session.refresh_token.clone(),
            refresh_age,
            true,
            secure,
        ),
    );
    ctx.append_http_header(
        "set-cookie",
        cookie(CSRF_COOKIE, csrf, refresh_age, false, secure),
    );
}

pub fn clear_session_cookies(ctx: &Context<'_>) {
    let secure = request_auth(ctx).secure_cookies;
    for (name, http_only) in [
        (ACCESS_COOKIE, true),
        (REFRESH_COOKIE, true),
        (CSRF_COOKIE, false),
    ] {
        ctx.append_http_header(
            "set-cookie",
            cookie(name, String::new(), CookieDuration::ZERO, http_only, secure),
        );
    }
}

/// Whether the caller reached us with a cookie session.
pub fn via_cookie(principal: &Principal) -> bool {
    matches!(principal.via, AuthVia::Session { cookie: true, .. })
}

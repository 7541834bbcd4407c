//! The caller of a request and the session cookies. The transport
//! resolves the caller once per request into [`RequestAuth`]; resolvers ask
//! for the level they need through [`super::ContextExt`].

use super::{
    error::{ApiError, ErrorCode},
    ContextExt,
};
use crate::domain::{
    activity::RequestMeta,
    auth::{AuthFailure, AuthVia, Principal, Session},
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
    /// Set when the credential could not be checked because storage was
    /// out of reach: guards answer SERVICE_UNAVAILABLE, not UNAUTHENTICATED,
    /// so a client retries instead of signing its user out.
    pub unavailable: Option<std::time::Duration>,
    pub meta: RequestMeta,
    /// The refresh cookie, for `refreshToken`/`logout` without arguments.
    pub refresh_cookie: Option<String>,
    /// Whether cookies are marked `Secure`.
    pub secure_cookies: bool,
}

pub fn api_token_forbidden() -> ApiError {
    ApiError::new(
        ErrorCode::Forbidden,
        "API tokens cannot perform identity operations",
    )
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
    let secure = ctx.request_auth().secure_cookies;
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
    let secure = ctx.request_auth().secure_cookies;
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

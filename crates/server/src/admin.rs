//! Console sessions. A signed-in admin holds a session token, as the `vouch_admin`
//! cookie (HttpOnly, SameSite=Strict, Secure when the public URL is https) for the
//! console, or as `Authorization: Bearer vas_…` for the JSON API. Sessions end after
//! [`IDLE_MS`] without a request or [`ABSOLUTE_MS`] after login. Requests that change
//! something and come with the cookie must carry the session's CSRF token
//! (`x-csrf-token` header or `_csrf` form field).

use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method};
use subtle::ConstantTimeEq;
use vouch_store::admin::{Admin, AdminSession};

/// The cookie's name.
pub const COOKIE: &str = "vouch_admin";

pub use vouch_app::admin::{
    dummy_hash, hash_password, new_token, verify_password, ABSOLUTE_MS, IDLE_MS,
    MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, PENDING_MS, TOKEN_PREFIX,
};

/// The `Set-Cookie` value that stores a session token.
pub fn session_cookie(state: &AppState, token: &str) -> HeaderValue {
    let secure = if state.config.base_url().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let value = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        ABSOLUTE_MS / 1000
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("vouch_admin=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim())
        .filter(|v| v.starts_with(TOKEN_PREFIX))
}

/// The presented session token and whether it came as the cookie.
pub fn presented(headers: &HeaderMap) -> Option<(&str, bool)> {
    if let Some(t) = crate::auth::presented_secret(headers).filter(|t| t.starts_with(TOKEN_PREFIX))
    {
        return Some((t, false));
    }
    cookie_token(headers).map(|t| (t, true))
}

/// Constant-time comparison of a presented CSRF token with the session's.
pub fn csrf_ok(session: &AdminSession, given: &str) -> bool {
    !given.is_empty() && bool::from(given.as_bytes().ct_eq(session.csrf.as_bytes()))
}

/// A signed-in admin (stage `full`), for the JSON API and the console.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    /// The admin.
    pub admin: Admin,
    /// Their session.
    pub session: AdminSession,
    /// The session came as the cookie (CSRF applies).
    pub via_cookie: bool,
}

impl AdminCaller {
    /// Checks the CSRF token of a cookie-authenticated request that changes something.
    pub fn check_csrf(&self, given: Option<&str>) -> Result<(), ApiError> {
        if !self.via_cookie || given.is_some_and(|g| csrf_ok(&self.session, g)) {
            return Ok(());
        }
        Err(ApiError::forbidden(
            "Missing or wrong CSRF token: reload the page and try again",
        ))
    }

    /// An audit record of this admin's action.
    pub fn audit(&self, action: &str) -> vouch_core::model::AuditRecord {
        vouch_core::model::AuditRecord::new(
            Some(&self.admin.org_id),
            vouch_core::model::Actor::Admin(self.admin.id.clone()),
            action,
        )
    }
}

impl FromRequestParts<AppState> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = || ApiError::unauthorized("Sign in to the console first");
        let (token, via_cookie) = presented(&parts.headers).ok_or_else(unauthorized)?;
        let (session, admin) = state
            .app
            .admin
            .signed_in(token)
            .await?
            .ok_or_else(unauthorized)?;
        let caller = AdminCaller {
            admin,
            session,
            via_cookie,
        };
        // JSON calls that change something carry the CSRF header; forms are checked by
        // their handlers (the token is a form field).
        let changes = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if changes && !is_form {
            let given = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok());
            caller.check_csrf(given)?;
        }
        Ok(caller)
    }
}

/// A new password's length rule, in the admin API's error shape.
pub fn check_new_password(password: &str) -> Result<(), ApiError> {
    Ok(vouch_app::admin::check_new_password(password)?)
}

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
use rand::RngCore;
use subtle::ConstantTimeEq;
use vouch_core::admin_login::LoginStage;
use vouch_core::now_millis;
use vouch_core::Millis;
use vouch_store::admin::{token_digest, Admin, AdminSession};

/// The cookie's name.
pub const COOKIE: &str = "vouch_admin";
/// Prefix of session tokens.
pub const TOKEN_PREFIX: &str = "vas_";
/// Idle timeout.
pub const IDLE_MS: Millis = 30 * 60 * 1000;
/// Absolute timeout.
pub const ABSOLUTE_MS: Millis = 12 * 3600 * 1000;
/// Lifetime of the 2FA step after the password (`sessionToken`).
pub const PENDING_MS: Millis = 5 * 60 * 1000;

/// A random URL-safe token with a prefix.
pub fn new_token(prefix: &str) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

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

/// Reads a live session of a stage from a token; refreshes its idle clock.
pub async fn live_session(
    state: &AppState,
    token: &str,
    stage: LoginStage,
) -> Result<Option<AdminSession>, ApiError> {
    if token.len() > 128 {
        return Ok(None);
    }
    let Some(s) = state.store.admin_session(&token_digest(token)).await? else {
        return Ok(None);
    };
    let now = now_millis();
    if s.stage != stage || s.last_seen_at + IDLE_MS <= now {
        if s.last_seen_at + IDLE_MS <= now {
            state.store.delete_admin_session(&s.id).await?;
        }
        return Ok(None);
    }
    // Refresh the idle clock at most once a minute (a write per request would cost).
    if now - s.last_seen_at > 60_000 {
        state.store.touch_admin_session(&s.id).await?;
    }
    Ok(Some(s))
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
        let session = live_session(state, token, LoginStage::SignedIn)
            .await?
            .ok_or_else(unauthorized)?;
        let admin = state.store.admin(&session.admin_id).await?;
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

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest accepted password, in characters.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Checks a new password's length.
pub fn check_new_password(password: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(ApiError::bad_request(format!(
            "password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// Hashes a password with argon2id (default parameters) into a PHC string. Costly:
/// call from the blocking pool.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a password against a PHC string (false for a malformed one). Costly: call
/// from the blocking pool.
pub fn verify_password(phc: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A fixed argon2id hash of a random secret, checked when a login names no account (or
/// one without a password), so that the answer takes as long as for a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&new_token("dummy_")).unwrap_or_default())
}

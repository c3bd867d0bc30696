//! OAuth 2.0 client credentials for the phone API (`POST /token`), as the
//! `@prove-identity/prove-api` SDK calls it: a form body with `grant_type`, `client_id`
//! and `client_secret` (HTTP Basic is accepted too, as RFC 6749 asks).

use crate::error::{ApiError, ApiForm, ApiResult, ErrorFormat};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Lifetime of an access token.
pub const TOKEN_TTL_SECS: i64 = 3600;

/// The token request form.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// Must be `client_credentials`.
    #[schema(pattern = "^client_credentials$")]
    pub grant_type: Option<String>,
    /// The client id.
    pub client_id: Option<String>,
    /// The client secret.
    pub client_secret: Option<String>,
    /// Ignored: v3 operations need no scopes.
    pub scope: Option<String>,
}

/// The token response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// The bearer token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// The error body of this endpoint: RFC 6749's fields and the phone SDK's.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthError {
    /// RFC 6749 error code (`invalid_client`, `unsupported_grant_type`, `invalid_request`).
    pub error: String,
    /// Human-readable description.
    pub error_description: String,
    /// The HTTP status, as the phone SDK's error schema expects.
    pub code: u16,
    /// Human-readable description, as the phone SDK's error schema expects.
    pub message: String,
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, rest) = v.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_string(), secret.to_string()))
}

/// Exchanges client credentials for an access token.
#[utoipa::path(post, path = "/token", tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = TokenResponse),
              (status = 400, body = OAuthError),
              (status = 401, body = OAuthError),
              (status = 415, body = OAuthError)))]
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<ApiForm<TokenRequest>, ApiError>,
) -> ApiResult<Json<TokenResponse>> {
    let form = form.map_err(|e| e.in_format(ErrorFormat::OAuth))?.0;
    issue(&state, &headers, form)
        .await
        .map_err(|e| e.in_format(ErrorFormat::OAuth))
}

async fn issue(
    state: &AppState,
    headers: &HeaderMap,
    form: TokenRequest,
) -> ApiResult<Json<TokenResponse>> {
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!(
                    "Unsupported grant_type '{}': use client_credentials",
                    other.chars().take(64).collect::<String>()
                ),
            ))
        }
        None => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing grant_type",
            ))
        }
    }
    let (id, secret) = match (form.client_id, form.client_secret) {
        (Some(id), Some(secret)) => (id, secret),
        _ => basic_credentials(headers).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Missing client credentials",
            )
        })?,
    };
    let issued = state
        .app
        .keys
        .access_token(&id, &secret, TOKEN_TTL_SECS * 1000)
        .await
        .map_err(ApiError::from)?;
    let access_token = issued.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client credentials",
        )
    })?;
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: TOKEN_TTL_SECS,
    }))
}

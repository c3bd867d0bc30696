//! Human Presence Tokens (spec: biometric-identity-api.md): an agent with a service token
//! opens a presence session, the person scans their face at `verifyUrl` (the hosted page,
//! selfie step only: a live capture with a blink or turn, matched 1:N against the
//! organisation's enrolled people, and against the locked e-mail when set), and the agent
//! fetches a signed JWT (ES256; keys at `/.well-known/jwks.json`) that anyone can verify
//! offline, or that `POST /api/presence/verify-token` checks (and redeems once on request).

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_app::presence::{Answer, NewPresence, TokenCheck, TokenError};
use vouch_app::tokens::Algorithm;
use vouch_core::ids::PresenceId;
use vouch_core::model::ServiceToken;
use vouch_core::rfc3339;
use vouch_store::presence::{PresenceSession, PresenceStatus};
use vouch_store::tenancy::Principal;

pub use vouch_app::presence::{MAX_TTL_SECONDS, SESSION_MINUTES};

fn service_token(caller: &Caller) -> ApiResult<&ServiceToken> {
    match &caller.principal {
        Principal::ServiceToken(t) => Ok(t),
        _ => Err(ApiError::forbidden(
            "This endpoint needs a service token (Authorization: Bearer vst_…)",
        )),
    }
}

fn session_json(s: &PresenceSession) -> Value {
    json!({
        "sessionId": s.id,
        "status": s.status.as_str(),
        "purpose": s.purpose,
        "verifiedEmail": s.verified_email,
        "verifiedAt": s.verified_at.map(rfc3339),
        "expiresAt": rfc3339(s.expires_at),
    })
}

/// The body of `POST /api/presence/sessions`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatePresence {
    /// The organisation (must be the service token's).
    pub org_id: String,
    /// What the agent asks presence for (shown to the person), 1–500 characters.
    pub purpose: String,
    /// Only the person enrolled with this e-mail may answer.
    pub email: Option<String>,
    /// Bound into the token, for replay protection (≤ 200 characters).
    pub nonce: Option<String>,
    /// Token lifetime in seconds, 1–3600 (default 300).
    pub ttl_seconds: Option<i64>,
}

/// Opens a presence session; returns the URL to send to the person.
#[utoipa::path(post, path = "/api/presence/sessions", tag = "presence", request_body = CreatePresence,
    security(("service_token" = [])),
    responses((status = 201, description = "sessionId, verifyUrl, expiresAt"),
              (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreatePresence>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let token = service_token(&caller)?;
    if body.org_id != token.org_id.as_str() {
        return Err(ApiError::forbidden(
            "orgId is not the organisation of this service token",
        ));
    }
    let new = NewPresence {
        purpose: body.purpose,
        email: body.email,
        nonce: body.nonce,
        ttl_seconds: body.ttl_seconds,
    };
    let opened = state
        .app
        .presence
        .open(&token.org_id, &token.id, new)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "sessionId": opened.session.id,
            "verifyUrl": format!(
                "{}/verify-presence/{}",
                state.config.base_url(),
                opened.page_token
            ),
            "expiresAt": rfc3339(opened.session.expires_at),
        })),
    ))
}

async fn own_session(state: &AppState, caller: &Caller, id: String) -> ApiResult<PresenceSession> {
    let token = service_token(caller)?;
    Ok(state
        .app
        .presence
        .session(&token.org_id, &PresenceId::from_string(id))
        .await?)
}

/// A presence session's status: PENDING, VERIFIED, EXPIRED or CANCELLED.
#[utoipa::path(get, path = "/api/presence/sessions/{id}", tag = "presence",
    params(("id" = String, Path, description = "Presence session id")), security(("service_token" = [])),
    responses((status = 200, description = "sessionId, status, verifiedEmail, verifiedAt, expiresAt"),
              (status = 403, description = "not a service token", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(session_json(&own_session(&state, &caller, id).await?)))
}

/// The Human Presence Token of a VERIFIED session (409 before, 410 once expired).
#[utoipa::path(get, path = "/api/presence/sessions/{id}/token", tag = "presence",
    params(("id" = String, Path, description = "Presence session id")), security(("service_token" = [])),
    responses((status = 200, description = "token, jti, verifiedEmail, verifiedAt"),
              (status = 403, description = "not a service token", body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
              (status = 410, body = crate::error::ErrorBody)))]
pub async fn token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let token = service_token(&caller)?;
    let alg = if state.config.presence_tokens_hs256 {
        Algorithm::HS256
    } else {
        Algorithm::ES256
    };
    let id = PresenceId::from_string(id);
    let issued = state
        .app
        .presence
        .token(&token.org_id, &id, &state.config.base_url(), alg)
        .await
        .map_err(|e| match e {
            TokenError::SessionOver(status) => ApiError::new(
                StatusCode::GONE,
                "session_expired",
                format!("The presence session is {}", status.as_str()),
            ),
            TokenError::NotVerified => ApiError::new(
                StatusCode::CONFLICT,
                "not_verified",
                "The person has not been verified yet",
            ),
            TokenError::TokenExpired => ApiError::new(
                StatusCode::GONE,
                "token_expired",
                "The presence token's lifetime is over",
            ),
            TokenError::Core(e) => e.into(),
        })?;
    Ok(Json(json!({
        "token": issued.token,
        "jti": issued.jti,
        "verifiedEmail": issued.verified_email,
        "verifiedAt": rfc3339(issued.verified_at),
    })))
}

/// The body of `POST /api/presence/verify-token`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyToken {
    /// The HPT.
    pub token: String,
    /// The organisation it must be for; the caller's own when absent (the spec's SDK
    /// example sends only the token).
    pub expected_org_id: Option<String>,
    /// The person it must name.
    pub expected_email: Option<String>,
    /// The nonce it must carry.
    pub expected_nonce: Option<String>,
    /// Redeem it: a second verification with `redeem` answers invalid (replay).
    #[serde(default)]
    pub redeem: bool,
}

fn invalid(why: &str) -> Json<Value> {
    Json(json!({"valid": false, "error": why}))
}

/// Checks a token's signature, expiry, organisation, e-mail and nonce → its claims.
#[utoipa::path(post, path = "/api/presence/verify-token", tag = "presence", request_body = VerifyToken,
    security(("service_token" = [])),
    responses((status = 200, description = "valid, sub, orgId, userId, sessionId, purpose, checks, issuedAt, expiresAt — or valid false with error"),
              (status = 403, description = "not a service token", body = crate::error::ErrorBody)))]
pub async fn verify_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<VerifyToken>,
) -> ApiResult<Json<Value>> {
    let token = service_token(&caller)?;
    let check = TokenCheck {
        org_id: body.expected_org_id.as_deref(),
        email: body.expected_email.as_deref(),
        nonce: body.expected_nonce.as_deref(),
        redeem: body.redeem,
    };
    let claims = match state
        .app
        .presence
        .check_token(&token.org_id, &body.token, check)
        .await?
    {
        Ok(c) => c,
        Err(why) => return Ok(invalid(why)),
    };
    let secs = |k: &str| claims[k].as_i64().map(|s| rfc3339(s * 1000));
    Ok(Json(json!({
        "valid": true,
        "sub": claims["sub"],
        "orgId": claims["org_id"],
        "userId": claims["user_id"],
        "sessionId": claims["session_id"],
        "purpose": claims["purpose"],
        "nonce": claims.get("nonce"),
        "jti": claims["jti"],
        "checks": claims["checks"],
        "issuedAt": secs("iat"),
        "expiresAt": secs("exp"),
    })))
}

/// The public keys that sign Human Presence Tokens (JWKS).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "presence",
    responses((status = 200, description = "{keys: [JWK…]}")))]
pub async fn jwks(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let keys: Vec<Value> = state
        .app
        .tokens
        .public_keys()
        .await?
        .iter()
        .map(|k| k.jwk())
        .collect();
    Ok(Json(json!({ "keys": keys })))
}

async fn page_session(state: &AppState, token: &str) -> ApiResult<PresenceSession> {
    let s = state.app.presence.by_page(token).await?;
    match s.status {
        PresenceStatus::Pending => Ok(s),
        PresenceStatus::Verified => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_complete",
            "Presence is already confirmed",
        )),
        _ => Err(ApiError::new(
            StatusCode::GONE,
            "session_expired",
            "This link has expired",
        )),
    }
}

/// The body of `POST /verify-presence/{token}/selfie`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ScanBody {
    /// 2 to 12 frames of a live capture (base64 or data URLs).
    pub frames: Vec<String>,
}

/// The person's live scan: a consistent capture with a blink or a turn, matched against
/// the organisation's enrolled people (and the locked e-mail). VERIFIED on success.
#[utoipa::path(post, path = "/verify-presence/{token}/selfie", tag = "presence", request_body = ScanBody,
    params(("token" = String, Path, description = "The token of the session's verifyUrl")),
    responses((status = 200, description = "sessionId, status"), (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 410, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody),
              (status = 429, description = "too many analysis requests for this session: retry after `Retry-After` seconds", body = crate::error::ErrorBody)))]
pub async fn scan(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<ScanBody>,
) -> ApiResult<Json<Value>> {
    let s = page_session(&state, &token).await?;
    if state.engines.is_none() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "models_missing",
            super::hosted::MODELS_MISSING,
        ));
    }
    super::hosted::count_attempt(&state, &format!("presence:{}", s.id.as_str())).await?;
    let scan = super::hosted::live_scan(&state, &body.frames).await?;
    match state.app.presence.answer(&s, &scan).await? {
        Answer::Verified(done) => Ok(Json(
            json!({"sessionId": done.id, "status": done.status.as_str(), "received": "selfie"}),
        )),
        Answer::NotRecognised => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_recognised",
            "Identity not recognised",
        )),
        Answer::OtherPerson => Err(ApiError::forbidden("This request is for another person")),
    }
}

/// Ends the page's flow: the outcome for the page (APPROVED once verified).
#[utoipa::path(post, path = "/verify-presence/{token}/complete", tag = "presence",
    params(("token" = String, Path, description = "The token of the session's verifyUrl")),
    responses((status = 200, description = "sessionId, overallResult"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn complete(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Json<Value>> {
    let s = state.app.presence.by_page(&token).await?;
    let result = if s.status == PresenceStatus::Verified {
        "APPROVED"
    } else {
        "REJECTED"
    };
    Ok(Json(json!({"sessionId": s.id, "overallResult": result})))
}

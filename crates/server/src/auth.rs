//! Authentication and per-credential rate limiting for the API routes.
//!
//! A credential comes as `Authorization: Bearer <secret>` or `x-api-key: <secret>`. Its
//! prefix says its kind (API key, service token, OAuth access token); the store resolves
//! it by digest. Every authenticated response carries the `X-RateLimit-*` headers; over
//! the limit the answer is 429 with `Retry-After`.

use crate::error::{ApiError, ErrorFormat};
use crate::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{request::Parts, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use vouch_core::model::{Actor, AuditRecord};
use vouch_store::ratelimit::RateDecision;
use vouch_store::tenancy::{Principal, Refusal};

/// The authenticated caller of a request, with its request id.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Who is calling.
    pub principal: Principal,
    /// The request id (`x-request-id`).
    pub request_id: Option<String>,
}

impl Caller {
    /// The audit actor of this caller.
    pub fn actor(&self) -> Actor {
        match &self.principal {
            Principal::ApiKey(k) => Actor::ApiKey(k.id.clone()),
            Principal::ServiceToken(t) => Actor::ServiceToken(t.id.clone()),
            Principal::OAuth { client, .. } => Actor::OAuthClient(client.id.clone()),
        }
    }

    /// An audit record for an action of this caller in its organisation.
    pub fn audit(&self, action: &str) -> AuditRecord {
        AuditRecord::new(Some(self.principal.org_id()), self.actor(), action)
            .request_id(self.request_id.clone())
    }

    /// The API key, or 403 for other credential kinds.
    pub fn api_key(&self) -> Result<&vouch_core::model::ApiKey, ApiError> {
        match &self.principal {
            Principal::ApiKey(k) => Ok(k),
            _ => Err(ApiError::forbidden("This endpoint needs an API key")),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("Missing API key"))
    }
}

/// The request id set by the request-id layer.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Reads the presented secret from `Authorization: Bearer` or `x-api-key`.
pub fn presented_secret(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let mut parts = v.trim().splitn(2, ' ');
        let scheme = parts.next().unwrap_or("");
        let token = parts.next().unwrap_or("").trim();
        if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
            return Some(token);
        }
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn rate_headers(headers: &mut HeaderMap, d: &RateDecision) {
    let pairs = [
        ("x-ratelimit-limit", d.limit.to_string()),
        ("x-ratelimit-remaining", d.remaining.to_string()),
        ("x-ratelimit-reset", (d.reset_at / 1000).to_string()),
    ];
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}

/// Middleware: authenticate, count against the rate limit, then run the handler.
pub async fn require_credential(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    authenticate(state, req, next, ErrorFormat::Standard).await
}

/// [`require_credential`] with the phone API's error bodies.
pub async fn require_phone_credential(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    authenticate(state, req, next, ErrorFormat::Prove).await
}

async fn authenticate(
    state: AppState,
    mut req: Request,
    next: Next,
    format: ErrorFormat,
) -> Response {
    let fail = |e: ApiError| e.in_format(format).into_response();
    let Some(secret) = presented_secret(req.headers()) else {
        return fail(ApiError::unauthorized(
            "Missing API key: send Authorization: Bearer <key> or x-api-key",
        ));
    };
    let principal = match state.app.keys.authenticate(secret).await {
        Ok(Ok(p)) => p,
        Ok(Err(Refusal::Unknown)) => return fail(ApiError::unauthorized("Invalid API key")),
        Ok(Err(Refusal::Revoked)) => {
            return fail(ApiError::unauthorized("This credential has been revoked"))
        }
        Ok(Err(Refusal::Expired)) => {
            return fail(ApiError::unauthorized("This credential has expired"))
        }
        Err(e) => return fail(ApiError::from(e)),
    };
    let (bucket, limit) = match &principal {
        Principal::ApiKey(k) => (k.id.to_string(), k.settings.rate_limit),
        Principal::ServiceToken(t) => (t.id.to_string(), state.config.client_rate_limit),
        Principal::OAuth { client, .. } => (client.id.to_string(), state.config.client_rate_limit),
    };
    let decision = match state.app.keys.count_request(&bucket, limit).await {
        Ok(d) => d,
        Err(e) => return fail(ApiError::from(e)),
    };
    if !decision.allowed {
        let wait = decision.retry_after_secs(vouch_core::now_millis());
        let mut resp = ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("Rate limit of {limit} requests a minute exceeded; retry in {wait} s"),
        )
        .with_header("retry-after", wait.to_string())
        .in_format(format)
        .into_response();
        rate_headers(resp.headers_mut(), &decision);
        return resp;
    }
    let caller = Caller {
        principal,
        request_id: request_id(req.headers()),
    };
    req.extensions_mut().insert(caller);
    let mut resp = next.run(req).await;
    rate_headers(resp.headers_mut(), &decision);
    resp
}

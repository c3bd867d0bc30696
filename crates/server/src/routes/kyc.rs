//! The KYC sessions dialect (`spec/kyc-sessions-api.md`): create, read, list and cancel
//! verification sessions under `/api/v1/verify`, and the hosted page link they hand out.

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use vouch_core::credential::{issue, SecretKind};
use vouch_core::ids::SessionId;
use vouch_core::session::{Decision, NewSession, SessionStatus};
use vouch_core::{now_millis, rfc3339};
use vouch_store::sessions::SessionFilter;

/// The body of `POST /api/v1/verify`. Every field is optional.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateSession {
    /// Your internal reference (user id, order id…), at most 255 characters.
    pub external_ref: Option<String>,
    /// Checks to run (`liveness`, `age_estimation`, `doc_verify`, `face_match`);
    /// left out, the key's enabled checks.
    pub checks: Option<Vec<String>>,
    /// Where the hosted page sends the user when done (http or https).
    pub redirect_url: Option<String>,
    /// Webhook URL for this session, instead of the key's (http or https).
    pub callback_url: Option<String>,
    /// A JSON object stored with the session and returned in webhooks (at most 16 KiB).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// Creates a verification session and returns the URL of its hosted page.
#[utoipa::path(post, path = "/api/v1/verify", tag = "kyc", request_body = CreateSession,
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 201, description = "sessionId, verificationUrl, expiresAt, requestedChecks"),
              (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody)))]
pub async fn create_session(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateSession>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let key = caller.api_key()?;
    let new = NewSession::validate(
        body.external_ref,
        body.checks,
        body.redirect_url,
        body.callback_url,
        body.metadata,
        &key.settings.checks,
    )?;
    let token = issue(SecretKind::SessionToken);
    let expires_at = now_millis() + i64::from(key.settings.session_ttl_secs) * 1000;
    let session = state
        .app
        .kyc
        .create(
            &key.org_id,
            &key.id,
            new,
            token.hash.clone(),
            expires_at,
            caller.audit("verification.created"),
        )
        .await?;
    let url = format!("{}/verify/{}", state.config.base_url(), token.secret);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "sessionId": session.id,
            "verificationUrl": url,
            "expiresAt": rfc3339(session.expires_at),
            "requestedChecks": session.checks,
        })),
    ))
}

/// The status and results of a session.
#[utoipa::path(get, path = "/api/v1/verify/{sessionId}", tag = "kyc",
    params(("sessionId" = String, Path, description = "Session id")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "id, externalRef, status, overallResult, checks, metadata"),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = caller.api_key()?;
    let session = state
        .app
        .kyc
        .get(&key.org_id, &SessionId::from_string(id))
        .await?;
    Ok(Json(session.to_json()))
}

/// The capture images a session still holds (while undecided, then for the key's
/// `imageRetentionDays`), for a reviewer.
#[utoipa::path(get, path = "/api/v1/verify/{sessionId}/images", tag = "kyc",
    params(("sessionId" = String, Path, description = "Session id")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "images: name, contentType, sizeBytes, createdAt, deleteAfter"),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn list_images(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = caller.api_key()?;
    let images = state
        .app
        .kyc
        .images(&key.org_id, &SessionId::from_string(id))
        .await?;
    Ok(Json(json!({ "images": images })))
}

/// One capture image of a session, as it was received. Every view is in the audit log.
#[utoipa::path(get, path = "/api/v1/verify/{sessionId}/images/{name}", tag = "kyc",
    params(("sessionId" = String, Path, description = "Session id"),
           ("name" = String, Path, description = "selfie, document_front or document_back")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The image (image/jpeg, image/png or image/webp)"),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_image(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let key = caller.api_key()?;
    let (content_type, bytes) = state
        .app
        .kyc
        .image(
            &key.org_id,
            &SessionId::from_string(id),
            &name,
            caller.audit("verification.image_viewed"),
        )
        .await?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, content_type),
            (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

/// Filters and paging of the session list.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// PENDING, IN_PROGRESS, COMPLETED, EXPIRED or CANCELLED.
    pub status: Option<String>,
    /// Only sessions with this external reference.
    pub external_ref: Option<String>,
    /// APPROVED, REJECTED or REVIEW (`overallResult=REVIEW` is the review queue).
    pub overall_result: Option<String>,
    /// Page number from 1 (default 1).
    pub page: Option<i64>,
    /// Sessions a page, 1 to 100 (default 20).
    pub limit: Option<i64>,
}

/// Sessions a page when the client does not say.
const DEFAULT_LIMIT: i64 = 20;
/// The most sessions a page.
const MAX_LIMIT: i64 = 100;

/// The organisation's sessions, newest first, a page at a time.
#[utoipa::path(get, path = "/api/v1/verify", tag = "kyc", params(ListQuery),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "data, page, limit, total, totalPages"),
              (status = 400, body = crate::error::ErrorBody)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let key = caller.api_key()?;
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            SessionStatus::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
                ApiError::bad_request(
                    "status must be PENDING, IN_PROGRESS, COMPLETED, EXPIRED or CANCELLED",
                )
            })?,
        ),
    };
    let page = q.page.unwrap_or(1);
    if page < 1 {
        return Err(ApiError::bad_request("page must be at least 1"));
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let overall_result = match q.overall_result.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(Decision::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
            ApiError::bad_request("overallResult must be APPROVED, REJECTED or REVIEW")
        })?),
    };
    let filter = SessionFilter {
        status,
        external_ref: q.external_ref,
        overall_result,
    };
    let found = state
        .app
        .kyc
        .list(&key.org_id, &filter, page, limit)
        .await?;
    let data: Vec<Value> = found.items.iter().map(|s| s.to_json()).collect();
    Ok(Json(json!({
        "data": data,
        "page": page,
        "limit": limit,
        "total": found.total,
        "totalPages": (found.total + limit - 1) / limit,
    })))
}

/// Cancels a PENDING or IN_PROGRESS session; any other status answers 409.
#[utoipa::path(post, path = "/api/v1/verify/{sessionId}/cancel", tag = "kyc",
    params(("sessionId" = String, Path, description = "Session id")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The cancelled session"),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub async fn cancel_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = caller.api_key()?;
    let session = state
        .app
        .kyc
        .cancel(
            &key.org_id,
            &SessionId::from_string(id),
            caller.audit("verification.cancelled"),
        )
        .await?;
    Ok(Json(session.to_json()))
}

/// The body of `POST /api/v1/verify/{sessionId}/review`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReviewBody {
    /// `APPROVED` or `REJECTED`.
    #[schema(pattern = "^(APPROVED|REJECTED)$")]
    pub decision: String,
    /// Why, for the audit log (at most 1000 characters).
    pub note: Option<String>,
}

/// Decides a session awaiting review (COMPLETED with overallResult REVIEW): it is
/// given the reviewer's decision, the audit log records who decided, and
/// `verification.reviewed` fires (the same body as `verification.completed`, with the
/// final overallResult). Any other session answers 409.
#[utoipa::path(post, path = "/api/v1/verify/{sessionId}/review", tag = "kyc", request_body = ReviewBody,
    params(("sessionId" = String, Path, description = "Session id")),
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The completed session"),
              (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn review_session(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReviewBody>,
) -> ApiResult<Json<Value>> {
    let key = caller.api_key()?;
    let review = vouch_app::kyc::Review {
        decision: &body.decision,
        note: body.note.as_deref(),
    };
    let session = state
        .app
        .kyc
        .review(
            &key.org_id,
            &SessionId::from_string(id),
            review,
            caller.audit("verification.reviewed"),
        )
        .await?;
    Ok(Json(session.to_json()))
}

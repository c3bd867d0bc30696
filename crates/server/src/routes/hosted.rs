//! The hosted flow's capture endpoints, authenticated by the session token in the path
//! (found by its SHA-256, so the lookup takes no time that depends on the token):
//! `POST /verify/{token}/selfie`, `/document` and `/complete` (the digital ID step is
//! [`super::digital_id`]). Decisions follow
//! [`vouch_core::policy`].
//!
//! Images are decoded in memory; of each step one is kept, sealed, for a reviewer (the
//! selfie's middle frame, the document's sides: `vouch_store::images`) until the session
//! ends plus the key's image retention. The biometric templates a later step needs (the
//! selfie's and the portrait's embeddings, for face match) are kept sealed with the
//! session until it is decided (`/complete`), then deleted; results stay.
//! The capture endpoints answer only what was received, never scores: the hosted page
//! must not become an oracle for tuning a spoof. Results go to the client (API, webhook).

use crate::analysis::{CaptureError, Engines};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use vouch_app::capture::{Closed, ImageError, StepError};
use vouch_core::session::VerificationSession;

pub use vouch_app::capture::{image_type, CAPTURES_PER_MINUTE, MAX_FRAMES, MAX_IMAGE_BYTES};

/// The message of the 503 answered without models.
pub const MODELS_MISSING: &str = "Analysis models not installed (run scripts/fetch-models.sh)";

fn models_missing() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "models_missing",
        MODELS_MISSING,
    )
}

fn unprocessable(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

/// A live scan outside a KYC session (presence, the admin's face factor): the frames
/// decoded here, the rest by the one use case (`vouch_app::scan`).
pub(crate) async fn live_scan(
    state: &AppState,
    frames: &[String],
) -> ApiResult<vouch_app::scan::LiveScan> {
    use vouch_app::scan::ScanError;
    let engines = state.engines.clone().ok_or_else(models_missing)?;
    if frames.len() > MAX_FRAMES {
        return Err(ApiError::bad_request(format!(
            "frames must hold {} to {MAX_FRAMES} images",
            vouch_app::scan::MIN_FRAMES
        )));
    }
    let frames = vouch_app::capture::decode_frames(frames).map_err(image_error)?;
    vouch_app::scan::live_scan(engines, frames)
        .await
        .map_err(|e| match e {
            ScanError::Frames(m) => ApiError::bad_request(m),
            ScanError::Capture(c) => capture_error(c),
            ScanError::NotLive(_) => unprocessable(
                "liveness_failed",
                "Liveness check failed: look at the camera and blink when asked".into(),
            ),
        })
}

/// A capture that could not be analysed: 422 with its code, or 500 for an engine failure.
pub(crate) fn capture_error(e: CaptureError) -> ApiError {
    match e {
        CaptureError::Image { code, message } => unprocessable(code, message),
        CaptureError::Engine(m) => ApiError::internal(m),
    }
}

fn engines(state: &AppState) -> ApiResult<Arc<Engines>> {
    state.engines.clone().ok_or_else(models_missing)
}

/// A refused capture step in the hosted page's shape.
pub(crate) fn step_error(e: StepError) -> ApiError {
    match e {
        StepError::Closed(Closed::Expired) => ApiError::new(
            StatusCode::GONE,
            "session_expired",
            "This verification link has expired",
        ),
        StepError::Closed(Closed::Cancelled) => ApiError::new(
            StatusCode::GONE,
            "session_cancelled",
            "This verification was cancelled",
        ),
        StepError::Closed(Closed::AwaitingReview) => ApiError::new(
            StatusCode::CONFLICT,
            "awaiting_review",
            "This verification is awaiting review",
        ),
        StepError::Closed(Closed::Complete) => ApiError::new(
            StatusCode::CONFLICT,
            "already_complete",
            "This verification is already complete",
        ),
        StepError::RateLimited(wait) => ApiError::too_many_attempts(wait),
        StepError::NotAsked(m) => ApiError::bad_request(m),
        StepError::Frames(m) => ApiError::bad_request(m),
        StepError::Image(e) => image_error(e),
        StepError::Capture(c) => capture_error(c),
        StepError::Unreadable => unprocessable(
            "document_unreadable",
            "The document could not be read: photograph it flat, in good light, filling the frame"
                .into(),
        ),
        StepError::Incomplete(what) => ApiError::new(
            StatusCode::CONFLICT,
            "incomplete",
            format!("Submit the {what} first"),
        ),
        StepError::Core(e) => e.into(),
    }
}

fn image_error(e: ImageError) -> ApiError {
    match e {
        ImageError::TooLarge(m) => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", m)
        }
        ImageError::NotBase64(m) => ApiError::bad_request(m),
    }
}

/// The session of a token, if it still accepts captures: 404 unknown, 410 expired or
/// cancelled, 409 completed or awaiting review.
pub(crate) async fn open_session(state: &AppState, token: &str) -> ApiResult<VerificationSession> {
    state.app.capture.open(token).await.map_err(step_error)
}

/// Counts one analysis request of a public capture page (its `bucket`: one per session)
/// against [`CAPTURES_PER_MINUTE`]; 429 with `Retry-After` beyond.
pub(crate) async fn count_attempt(state: &AppState, bucket: &str) -> ApiResult<()> {
    state
        .app
        .capture
        .count_attempt(bucket)
        .await
        .map_err(step_error)
}

/// Decodes a base64 image (a data URL as a canvas gives it, or plain base64), at most
/// [`MAX_IMAGE_BYTES`]; 413 when larger, 400 when not base64.
pub fn decode_image(name: &str, b64: &str) -> ApiResult<Vec<u8>> {
    vouch_app::capture::decode_image(name, b64).map_err(image_error)
}

/// The body of `POST /verify/{token}/selfie`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SelfieBody {
    /// 1 to 12 frames of the capture sequence, base64 JPEG or PNG (data URLs accepted),
    /// each at most 8 MiB, in capture order.
    pub frames: Vec<String>,
}

/// Receives the selfie frames: one face in each, then liveness and age are judged and
/// the face kept (sealed) for face match. Moves the session to IN_PROGRESS.
#[utoipa::path(post, path = "/verify/{token}/selfie", tag = "kyc", request_body = SelfieBody,
    params(("token" = String, Path, description = "The token of the session's verificationUrl")),
    responses((status = 200, description = "sessionId, status, received"),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
              (status = 410, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
              (status = 503, body = crate::error::ErrorBody),
              (status = 429, description = "too many analysis requests for this session: retry after `Retry-After` seconds", body = crate::error::ErrorBody)))]
pub async fn selfie(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<SelfieBody>,
) -> ApiResult<Json<Value>> {
    let session = open_session(&state, &token).await?;
    let engines = engines(&state)?;
    let s = state
        .app
        .capture
        .selfie(engines, &session, &body.frames)
        .await
        .map_err(step_error)?;
    Ok(Json(
        json!({"sessionId": s.id, "status": s.status, "received": "selfie"}),
    ))
}

/// The body of `POST /verify/{token}/document`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct DocumentBody {
    /// The document's front (the page with the MRZ or the portrait), base64, ≤ 8 MiB.
    pub front: String,
    /// The back of a driver's licence (its PDF417 barcode), base64, ≤ 8 MiB.
    pub back: Option<String>,
}

/// Receives the identity document: it is read and checked (expired, wrong check digits:
/// FAIL) and its portrait kept (sealed) for face match. Moves the session to IN_PROGRESS.
#[utoipa::path(post, path = "/verify/{token}/document", tag = "kyc", request_body = DocumentBody,
    params(("token" = String, Path, description = "The token of the session's verificationUrl")),
    responses((status = 200, description = "sessionId, status, received"),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
              (status = 410, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
              (status = 503, body = crate::error::ErrorBody),
              (status = 429, description = "too many analysis requests for this session: retry after `Retry-After` seconds", body = crate::error::ErrorBody)))]
pub async fn document(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<DocumentBody>,
) -> ApiResult<Json<Value>> {
    let session = open_session(&state, &token).await?;
    let engines = engines(&state)?;
    let s = state
        .app
        .capture
        .document(engines, &session, &body.front, body.back.as_deref())
        .await
        .map_err(step_error)?;
    Ok(Json(
        json!({"sessionId": s.id, "status": s.status, "received": "document"}),
    ))
}

/// Ends the capture: face match is judged, then the overall decision (REJECTED if any
/// requested check failed, REVIEW if any needs a person, else APPROVED). Every decision
/// completes the session and fires `verification.completed`; a REVIEW waits for a
/// reviewer (`POST /api/v1/verify/{id}/review`, then `verification.reviewed`). The
/// biometric templates are deleted.
#[utoipa::path(post, path = "/verify/{token}/complete", tag = "kyc",
    params(("token" = String, Path, description = "The token of the session's verificationUrl")),
    responses((status = 200, description = "sessionId, overallResult, redirectUrl"),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
              (status = 410, body = crate::error::ErrorBody)))]
pub async fn complete(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Json<Value>> {
    let session = open_session(&state, &token).await?;
    let done = state
        .app
        .capture
        .complete(&session)
        .await
        .map_err(step_error)?;
    let mut out = json!({"sessionId": done.session.id, "overallResult": done.decision});
    if let Some(url) = done.redirect_url {
        out["redirectUrl"] = json!(url);
    }
    Ok(Json(out))
}

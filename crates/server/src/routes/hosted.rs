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

use crate::analysis::{analyse_document, analyse_selfie, CaptureError, Engines};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use vouch_core::check::Check;
use vouch_core::credential::{hash_secret, SecretKind};
use vouch_core::model::KeySettings;
use vouch_core::model::{Actor, AuditRecord};
use vouch_core::policy::{self, Outcome};
use vouch_core::session::{result_key, Decision, SessionStatus, VerificationSession};
use vouch_store::images::NewImage;
use vouch_store::sessions::Decider;

/// The largest image, decoded from base64, in bytes.
pub const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;
/// The most selfie frames one request may carry.
pub const MAX_FRAMES: usize = vouch_app::scan::MAX_FRAMES;

/// Analysis requests (selfie, document) one session may make in a minute: a person
/// retrying after a blurred photo needs a few, a script probing the models many.
pub const CAPTURES_PER_MINUTE: u32 = 10;

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
    let frames = frames
        .iter()
        .enumerate()
        .map(|(i, f)| decode_image(&format!("frame {}", i + 1), f))
        .collect::<ApiResult<Vec<_>>>()?;
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

/// The session of a token, if it still accepts captures: 404 unknown, 410 expired or
/// cancelled, 409 completed or awaiting review.
pub(crate) async fn open_session(state: &AppState, token: &str) -> ApiResult<VerificationSession> {
    if !token.starts_with(SecretKind::SessionToken.prefix()) || token.len() > 128 {
        return Err(ApiError::not_found("Session not found"));
    }
    let s = state
        .store
        .session_by_token_hash(&hash_secret(token))
        .await?;
    match s.status {
        SessionStatus::Expired => Err(ApiError::new(
            StatusCode::GONE,
            "session_expired",
            "This verification link has expired",
        )),
        SessionStatus::Cancelled => Err(ApiError::new(
            StatusCode::GONE,
            "session_cancelled",
            "This verification was cancelled",
        )),
        _ if s.awaiting_review() => Err(ApiError::new(
            StatusCode::CONFLICT,
            "awaiting_review",
            "This verification is awaiting review",
        )),
        SessionStatus::Completed => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_complete",
            "This verification is already complete",
        )),
        SessionStatus::Pending | SessionStatus::InProgress if s.overall_result.is_some() => {
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "awaiting_review",
                "This verification is awaiting review",
            ))
        }
        SessionStatus::Pending | SessionStatus::InProgress => Ok(s),
    }
}

/// Counts one analysis request of a session against [`CAPTURES_PER_MINUTE`].
async fn count_capture(state: &AppState, s: &VerificationSession) -> ApiResult<()> {
    count_attempt(state, &format!("capture:{}", s.id.as_str())).await
}

/// Counts one analysis request of a public capture page (its `bucket`: one per session)
/// against [`CAPTURES_PER_MINUTE`]; 429 with `Retry-After` beyond.
pub(crate) async fn count_attempt(state: &AppState, bucket: &str) -> ApiResult<()> {
    let d = state
        .store
        .hit_rate_limit(bucket, CAPTURES_PER_MINUTE, vouch_core::now_millis())
        .await?;
    if d.allowed {
        return Ok(());
    }
    let wait = ((d.reset_at - vouch_core::now_millis()) / 1000).max(1);
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("Too many attempts; try again in {wait} s"),
    )
    .with_header("retry-after", wait.to_string()))
}

/// The media type of an image the decoder accepted, from its first bytes.
pub fn image_type(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        _ => "application/octet-stream",
    }
}

async fn settings(state: &AppState, s: &VerificationSession) -> ApiResult<KeySettings> {
    Ok(state.store.api_key(&s.org_id, &s.key_id).await?.settings)
}

/// A capture image to keep with the step, for review.
fn kept<'a>(name: &'a str, bytes: &'a [u8], settings: &KeySettings) -> NewImage<'a> {
    NewImage {
        name,
        content_type: image_type(bytes),
        bytes,
        keep_days: settings.image_retention_days,
    }
}

/// Decodes a base64 image (a data URL as a canvas gives it, or plain base64), at most
/// [`MAX_IMAGE_BYTES`]; 413 when larger, 400 when not base64.
pub fn decode_image(name: &str, b64: &str) -> ApiResult<Vec<u8>> {
    image(name, b64)
}

fn image(name: &str, b64: &str) -> ApiResult<Vec<u8>> {
    // Accept a data URL as a browser's canvas gives it.
    let data = match b64.split_once(";base64,") {
        Some((head, rest)) if head.starts_with("data:") => rest,
        _ => b64,
    };
    if data.len() > MAX_IMAGE_BYTES / 3 * 4 + 4 {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("{name} is larger than {MAX_IMAGE_BYTES} bytes"),
        ));
    }
    STANDARD
        .decode(data.trim())
        .map_err(|_| ApiError::bad_request(format!("{name} is not valid base64")))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CaptureError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
        .map_err(capture_error)
}

fn round(v: f32, places: i32) -> f64 {
    let m = 10f64.powi(places);
    (f64::from(v) * m).round() / m
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
    count_capture(&state, &session).await?;
    if !session
        .checks
        .iter()
        .any(|c| matches!(c, Check::Liveness | Check::AgeEstimation | Check::FaceMatch))
    {
        return Err(ApiError::bad_request(
            "This verification does not ask for a selfie",
        ));
    }
    if body.frames.is_empty() || body.frames.len() > MAX_FRAMES {
        return Err(ApiError::bad_request(format!(
            "frames must hold 1 to {MAX_FRAMES} images"
        )));
    }
    let frames = body
        .frames
        .iter()
        .enumerate()
        .map(|(i, f)| image(&format!("frame {}", i + 1), f))
        .collect::<ApiResult<Vec<_>>>()?;
    // The middle frame is kept (sealed) for a reviewer; the others are dropped here.
    let frame = frames[frames.len() / 2].clone();
    let face = engines.face.clone();
    let analysis = blocking(move || analyse_selfie(&face, &frames)).await?;
    let settings = settings(&state, &session).await?;
    let t = &settings.thresholds;
    let mut results = Map::new();
    if session.checks.contains(&Check::Liveness) {
        let l = policy::liveness(&analysis.liveness, t);
        results.insert(
            result_key(Check::Liveness).into(),
            json!({
                "status": "COMPLETED",
                "result": l.result,
                "livenessScore": round(l.liveness_score, 4),
                "blink": l.blink,
                "turn": l.turn,
                "consistent": l.consistent,
                "frames": l.frames,
            }),
        );
    }
    if session.checks.contains(&Check::AgeEstimation) {
        let (result, meets) = policy::age(analysis.estimated_age, t);
        results.insert(
            result_key(Check::AgeEstimation).into(),
            json!({
                "status": "COMPLETED",
                "result": result,
                "estimatedAge": round(analysis.estimated_age, 1),
                "meetsMinAge": meets,
            }),
        );
    }
    let mut evidence = Map::new();
    if session.checks.contains(&Check::FaceMatch) {
        evidence.insert("selfie".into(), json!(analysis.embedding));
    }
    let images = [kept("selfie", &frame, &settings)];
    let s = state
        .store
        .record_session_step(&session.org_id, &session.id, results, evidence, &images)
        .await?;
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
    count_capture(&state, &session).await?;
    if !session.checks.contains(&Check::DocVerify) && !session.checks.contains(&Check::FaceMatch) {
        return Err(ApiError::bad_request(
            "This verification does not ask for a document",
        ));
    }
    let front = image("front", &body.front)?;
    let back = body.back.as_deref().map(|b| image("back", b)).transpose()?;
    let (front_kept, back_kept) = (front.clone(), back.clone());
    let today = chrono::Utc::now().date_naive();
    let doc = blocking(move || analyse_document(&engines, &front, back.as_deref(), today)).await?;
    // Nothing read at all is a photo to retake, not a verdict: answered 422 and not
    // recorded (the per-session capture limit bounds the retries).
    if session.checks.contains(&Check::DocVerify) && doc.read.reasons.contains(&"UNREADABLE") {
        return Err(unprocessable(
            "document_unreadable",
            "The document could not be read: photograph it flat, in good light, filling the frame"
                .into(),
        ));
    }
    let mut results = Map::new();
    if session.checks.contains(&Check::DocVerify) {
        results.insert(
            result_key(Check::DocVerify).into(),
            json!({
                "status": "COMPLETED",
                "result": doc.read.result,
                "documentType": doc.read.document_type,
                "ocrConfidence": round(doc.read.ocr_confidence, 3),
                "reasons": doc.read.reasons,
            }),
        );
    }
    let mut evidence = Map::new();
    if session.checks.contains(&Check::FaceMatch) {
        evidence.insert("document".into(), json!(true));
        evidence.insert("portrait".into(), json!(doc.portrait));
    }
    let settings = settings(&state, &session).await?;
    let mut images = vec![kept("document_front", &front_kept, &settings)];
    if let Some(back) = &back_kept {
        images.push(kept("document_back", back, &settings));
    }
    let s = state
        .store
        .record_session_step(&session.org_id, &session.id, results, evidence, &images)
        .await?;
    Ok(Json(
        json!({"sessionId": s.id, "status": s.status, "received": "document"}),
    ))
}

fn embedding(v: Option<&Value>) -> Option<Vec<f32>> {
    serde_json::from_value(v?.clone()).ok()
}

fn redirect(session: &VerificationSession, decision: Decision) -> Option<String> {
    let mut url = url::Url::parse(session.redirect_url.as_deref()?).ok()?;
    url.query_pairs_mut()
        .append_pair("session_id", session.id.as_str())
        .append_pair("result", decision.as_str());
    Some(url.to_string())
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
    let incomplete = |what: &str| {
        ApiError::new(
            StatusCode::CONFLICT,
            "incomplete",
            format!("Submit the {what} first"),
        )
    };
    for c in &session.checks {
        match c {
            Check::Liveness | Check::AgeEstimation
                if !session.results.contains_key(result_key(*c)) =>
            {
                return Err(incomplete("selfie"))
            }
            Check::DocVerify if !session.results.contains_key(result_key(*c)) => {
                return Err(incomplete("document"))
            }
            Check::DigitalId if !session.results.contains_key(result_key(*c)) => {
                return Err(incomplete("digital ID"))
            }
            _ => {}
        }
    }
    let mut results = Map::new();
    if session.checks.contains(&Check::FaceMatch) {
        let evidence = state
            .store
            .session_evidence(&session.org_id, &session.id)
            .await?;
        let selfie = embedding(evidence.get("selfie")).ok_or_else(|| incomplete("selfie"))?;
        // The reference face: the document's portrait, or the digital ID's.
        if !evidence.contains_key("document") && !evidence.contains_key("credential") {
            return Err(incomplete(if session.checks.contains(&Check::DigitalId) {
                "digital ID"
            } else {
                "document"
            }));
        }
        let t = settings(&state, &session).await?.thresholds;
        let entry = match embedding(evidence.get("portrait")) {
            Some(portrait) => {
                let similarity = vouch_face::cosine(&selfie, &portrait);
                let (result, is_match) = policy::face_match(similarity, &t);
                json!({
                    "status": "COMPLETED",
                    "result": result,
                    "similarityScore": round(similarity, 4),
                    "isMatch": is_match,
                })
            }
            // The detector may miss a worn or glared portrait: a person should look.
            None => json!({
                "status": "COMPLETED",
                "result": Outcome::Review,
                "similarityScore": null,
                "isMatch": false,
                "reason": "NO_PORTRAIT",
            }),
        };
        results.insert(result_key(Check::FaceMatch).into(), entry);
    }
    let outcomes: Vec<Outcome> = session
        .checks
        .iter()
        .map(|c| {
            let key = result_key(*c);
            results
                .get(key)
                .or_else(|| session.results.get(key))
                .and_then(|v| v["result"].as_str())
                .and_then(Outcome::parse)
                .unwrap_or(Outcome::Review)
        })
        .collect();
    let decision = policy::overall(&outcomes);
    let audit = AuditRecord::new(Some(&session.org_id), Actor::System, "verification.decided");
    let s = state
        .store
        .decide_session(
            &session.org_id,
            &session.id,
            results,
            decision,
            Decider::Flow,
            audit,
        )
        .await?;
    state.outbox_notify.notify_one();
    let mut out = json!({"sessionId": s.id, "overallResult": decision});
    if let Some(url) = redirect(&s, decision) {
        out["redirectUrl"] = json!(url);
    }
    Ok(Json(out))
}

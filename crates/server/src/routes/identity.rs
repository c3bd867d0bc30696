//! Biometric identity (spec: biometric-identity-api.md): `POST /api/enroll`, `POST
//! /api/verify` (1:N with the checks pipeline of [`vouch_core::identity`]) and the
//! verification profiles (`/api/profiles`). Authenticated by API key (`x-api-key`).

use crate::analysis::CaptureError;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use vouch_app::identity::{
    Checked, Device, IdentityError, NewAlertRule, ProbeAnalyser, Verification, NOT_RECOGNISED,
};
use vouch_core::identity::ProfileConfig;

/// The most frames one verify may carry.
const MAX_FRAMES: usize = 12;

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Capture(CaptureError::Image { code, message }) => {
                ApiError::new(StatusCode::BAD_REQUEST, code, message)
            }
            IdentityError::Capture(CaptureError::Engine(m)) => ApiError::internal(m),
            IdentityError::Core(e) => e.into(),
        }
    }
}

fn decode_images(list: &[String]) -> ApiResult<Vec<Vec<u8>>> {
    list.iter()
        .enumerate()
        .map(|(i, s)| crate::routes::hosted::decode_image(&format!("image {}", i + 1), s))
        .collect()
}

/// The face engine, or 503 when the models are not installed.
fn analyser(state: &AppState) -> ApiResult<Arc<dyn ProbeAnalyser>> {
    match &state.engines {
        Some(e) => Ok(e.clone()),
        None => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "models_missing",
            crate::routes::hosted::MODELS_MISSING,
        )),
    }
}

/// The body of `POST /api/enroll`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct EnrollBody {
    /// The face, as a data URL or base64 (JPEG, PNG or WebP, ≤ 8 MiB).
    pub image: String,
    /// The person's e-mail: enrolling it again adds a template to the same person.
    pub email: String,
}

/// Enrols a face for a person of the organisation (created on first enrolment).
#[utoipa::path(post, path = "/api/enroll", tag = "identity", request_body = EnrollBody,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, description = "{enrolled: true, userId}"),
              (status = 400, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn enroll(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<EnrollBody>,
) -> ApiResult<Json<Value>> {
    let key = caller.api_key()?;
    let frame = crate::routes::hosted::decode_image("image 1", &body.image)?;
    let enrolled = state
        .app
        .identity
        .enroll(
            analyser(&state)?,
            &key.org_id,
            &key.id,
            &body.email,
            frame,
            caller.audit("user.enrolled"),
        )
        .await?;
    Ok(Json(json!({
        "enrolled": true,
        "userId": enrolled.person,
        "created": enrolled.created,
    })))
}

/// What the client says about the device (all optional).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    /// The browser's user agent.
    pub user_agent: Option<String>,
    /// Camera resolution.
    pub camera_width: Option<u32>,
    /// Camera resolution.
    pub camera_height: Option<u32>,
    /// Screen size.
    pub screen_width: Option<u32>,
    /// Screen size.
    pub screen_height: Option<u32>,
    /// Location (for impossibleTravel), degrees.
    pub latitude: Option<f64>,
    /// Location, degrees.
    pub longitude: Option<f64>,
    /// ISO 3166 alpha-2 country (for geoFence), as the client determined it.
    pub country: Option<String>,
}

impl From<DeviceInfo> for Device {
    fn from(d: DeviceInfo) -> Device {
        Device {
            user_agent: d.user_agent,
            camera_width: d.camera_width,
            camera_height: d.camera_height,
            screen_width: d.screen_width,
            screen_height: d.screen_height,
            latitude: d.latitude,
            longitude: d.longitude,
            country: d.country,
        }
    }
}

/// The body of `POST /api/verify`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyBody {
    /// The probe, as a data URL or base64.
    pub image: Option<String>,
    /// Several frames of one capture (frameConsistency needs 2 or more), at most 12.
    pub images: Option<Vec<String>>,
    /// A verification profile, by id or slug.
    pub profile: Option<String>,
    /// The device, for deviceConsistency, impossibleTravel and geoFence.
    pub device_info: Option<DeviceInfo>,
}

/// Matches a probe 1:N against the organisation's enrolled people and runs the checks
/// pipeline of the profile (or the defaults).
#[utoipa::path(post, path = "/api/verify", tag = "identity", request_body = VerifyBody,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, description = "verified, userId, email, confidence, compositeScore, checkResults"),
              (status = 400, body = crate::error::ErrorBody),
              (status = 422, description = "verified false, error: Identity not recognised or the failing check"),
              (status = 503, body = crate::error::ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<VerifyBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let key = caller.api_key()?;
    let list: Vec<String> = match (body.image, body.images) {
        (Some(one), None) => vec![one],
        (None, Some(many)) if !many.is_empty() && many.len() <= MAX_FRAMES => many,
        (None, Some(_)) => {
            return Err(ApiError::bad_request(format!(
                "images must hold 1 to {MAX_FRAMES} frames"
            )))
        }
        _ => return Err(ApiError::bad_request("send image or images (not both)")),
    };
    let device = Device::from(body.device_info.unwrap_or_default());
    let frames = decode_images(&list)?;
    let outcome = state
        .app
        .identity
        .verify(
            analyser(&state)?,
            &key.org_id,
            &key.id,
            frames,
            body.profile.as_deref(),
            &device,
        )
        .await?;
    Ok(match outcome {
        Verification::NotRecognised => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "verified": false,
                "error": NOT_RECOGNISED,
                "reason": NOT_RECOGNISED,
            })),
        ),
        Verification::Checked(c) => verified_json(c)?,
    })
}

fn verified_json(c: Checked) -> ApiResult<(StatusCode, Json<Value>)> {
    let results = serde_json::to_value(&c.results).map_err(ApiError::internal)?;
    Ok(match c.reason {
        Some(error) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "verified": false,
                "error": error,
                "reason": error,
                "compositeScore": c.composite,
                "checkResults": results,
            })),
        ),
        None => (
            StatusCode::OK,
            Json(json!({
                "verified": true,
                "userId": c.person,
                "email": c.email,
                "confidence": (f64::from(c.similarity) * 1000.0).round() / 1000.0,
                "compositeScore": c.composite,
                "checkResults": results,
            })),
        ),
    })
}

/// The body of `POST /api/profiles` and `PUT /api/profiles/{idOrSlug}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileBody {
    /// Display name.
    pub name: String,
    /// Unique in the organisation: a-z, 0-9, `-` (ignored on update).
    pub slug: Option<String>,
    /// Per check (`liveness`, `frameConsistency`, `impossibleTravel`, `embeddingHistory`,
    /// `deviceConsistency`, `geoFence`, `timeRestriction`): `{enabled, weight, hardFail,
    /// threshold}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub checks: Value,
    /// Composite score needed, 0–1 (default 0.5).
    pub min_composite_score: Option<f64>,
    /// For geoFence: ISO 3166 alpha-2 codes.
    pub allowed_countries: Option<Vec<String>>,
    /// For timeRestriction: `{timeZone, startHour, endHour, days}`.
    #[schema(value_type = Option<Object>)]
    pub time_window: Option<Value>,
}

impl ProfileBody {
    /// The validated configuration (the console's profile form builds one too).
    pub(crate) fn config(&self) -> ApiResult<ProfileConfig> {
        let mut v = json!({});
        if !self.checks.is_null() {
            v["checks"] = self.checks.clone();
        }
        if let Some(m) = self.min_composite_score {
            v["minCompositeScore"] = json!(m);
        }
        if let Some(c) = &self.allowed_countries {
            v["allowedCountries"] = json!(c);
        }
        if let Some(w) = &self.time_window {
            v["timeWindow"] = w.clone();
        }
        Ok(ProfileConfig::parse(&v)?)
    }
}

/// Creates a verification profile.
#[utoipa::path(post, path = "/api/profiles", tag = "identity", request_body = ProfileBody,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 201, description = "The profile"), (status = 400, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn create_profile(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ProfileBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let key = caller.api_key()?;
    let config = body.config()?;
    let slug = body
        .slug
        .clone()
        .ok_or_else(|| ApiError::bad_request("slug is required"))?;
    let p = state
        .app
        .identity
        .create_profile(
            &key.org_id,
            &slug,
            &body.name,
            &config,
            caller.audit("profile.created"),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(json!(p))))
}

/// The organisation's verification profiles.
#[utoipa::path(get, path = "/api/profiles", tag = "identity",
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, description = "{profiles: [...]}")))]
pub async fn list_profiles(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Value>> {
    let key = caller.api_key()?;
    Ok(Json(
        json!({"profiles": state.app.identity.profiles(&key.org_id).await?}),
    ))
}

/// One verification profile, by id or slug.
#[utoipa::path(get, path = "/api/profiles/{idOrSlug}", tag = "identity",
    params(("idOrSlug" = String, Path, description = "Profile id or slug")),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, description = "The profile"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get_profile(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = caller.api_key()?;
    Ok(Json(json!(
        state.app.identity.profile(&key.org_id, &id).await?
    )))
}

/// Replaces a profile's name and configuration.
#[utoipa::path(put, path = "/api/profiles/{idOrSlug}", tag = "identity", request_body = ProfileBody,
    params(("idOrSlug" = String, Path, description = "Profile id or slug")),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, description = "The profile"), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)))]
pub async fn update_profile(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ProfileBody>,
) -> ApiResult<Json<Value>> {
    let key = caller.api_key()?;
    let config = body.config()?;
    let p = state
        .app
        .identity
        .update_profile(
            &key.org_id,
            &id,
            &body.name,
            &config,
            caller.audit("profile.updated"),
        )
        .await?;
    Ok(Json(json!(p)))
}

/// Deletes a profile.
#[utoipa::path(delete, path = "/api/profiles/{idOrSlug}", tag = "identity",
    params(("idOrSlug" = String, Path, description = "Profile id or slug")),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, description = "{deleted: true}"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete_profile(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = caller.api_key()?;
    state
        .app
        .identity
        .delete_profile(&key.org_id, &id, caller.audit("profile.deleted"))
        .await?;
    Ok(Json(json!({"deleted": true})))
}

/// The body of `POST /api/alert-rules`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertRuleBody {
    /// Display name.
    pub name: String,
    /// `person` (failed verifications matched to one person) or `device` (from one
    /// device fingerprint).
    #[schema(pattern = "^(person|device)$")]
    pub scope: String,
    /// Failures that fire `alert.triggered`, 1–1000.
    #[schema(minimum = 1, maximum = 1000)]
    pub threshold: i64,
    /// The window, 1–10080 minutes.
    #[schema(minimum = 1, maximum = 10080)]
    pub window_minutes: i64,
}

/// Creates an alert rule: `threshold` failed verifications within `windowMinutes` fire
/// `alert.triggered` to the key's webhook, once when the count reaches the threshold.
#[utoipa::path(post, path = "/api/alert-rules", tag = "identity", request_body = AlertRuleBody,
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 201, description = "The rule"), (status = 400, body = crate::error::ErrorBody)))]
pub async fn create_alert_rule(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AlertRuleBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let key = caller.api_key()?;
    let rule = NewAlertRule {
        name: body.name,
        scope: body.scope,
        threshold: body.threshold,
        window_minutes: body.window_minutes,
    };
    let rule = state
        .app
        .identity
        .create_alert_rule(&key.org_id, &rule, caller.audit("alert_rule.created"))
        .await?;
    Ok((StatusCode::CREATED, Json(json!(rule))))
}

/// The organisation's alert rules.
#[utoipa::path(get, path = "/api/alert-rules", tag = "identity",
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, description = "{rules: [...]}")))]
pub async fn list_alert_rules(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Value>> {
    let key = caller.api_key()?;
    Ok(Json(
        json!({"rules": state.app.identity.alert_rules(&key.org_id).await?}),
    ))
}

/// Deletes an alert rule.
#[utoipa::path(delete, path = "/api/alert-rules/{id}", tag = "identity",
    params(("id" = String, Path, description = "Alert rule id")),
    security(("api_key" = []), ("bearer" = [])),
    responses((status = 200, description = "{deleted: true}"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete_alert_rule(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let key = caller.api_key()?;
    state
        .app
        .identity
        .delete_alert_rule(&key.org_id, &id, caller.audit("alert_rule.deleted"))
        .await?;
    Ok(Json(json!({"deleted": true})))
}

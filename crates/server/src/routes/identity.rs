//! Biometric identity (spec: biometric-identity-api.md): `POST /api/enroll`, `POST
//! /api/verify` (1:N with the checks pipeline of [`vouch_core::identity`]) and the
//! verification profiles (`/api/profiles`). Authenticated by API key (`x-api-key`).

use crate::analysis::{analyse_frames, CaptureError};
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use vouch_core::identity::{self as rules, CheckResult, ProfileConfig};
use vouch_core::ids::PersonId;
use vouch_store::biometrics::IdentityCheckRecord;

/// The most frames one verify may carry.
const MAX_FRAMES: usize = 12;
/// Past templates the history check compares with.
const HISTORY: i64 = 50;

fn bad_image(e: CaptureError) -> ApiError {
    match e {
        CaptureError::Image { code, message } => {
            ApiError::new(StatusCode::BAD_REQUEST, code, message)
        }
        CaptureError::Engine(m) => ApiError::internal(m),
    }
}

fn decode_images(list: &[String]) -> ApiResult<Vec<Vec<u8>>> {
    list.iter()
        .enumerate()
        .map(|(i, s)| crate::routes::hosted::decode_image(&format!("image {}", i + 1), s))
        .collect()
}

async fn analyse(
    state: &AppState,
    frames: Vec<Vec<u8>>,
) -> ApiResult<crate::analysis::SelfieAnalysis> {
    let engines = state.engines.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "models_missing",
            crate::routes::hosted::MODELS_MISSING,
        )
    })?;
    tokio::task::spawn_blocking(move || analyse_frames(&engines.face, &frames, false))
        .await
        .map_err(ApiError::internal)?
        .map_err(bad_image)
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
    let email = body.email.trim();
    if email.len() > 254 || !email.contains('@') || email.starts_with('@') || email.ends_with('@') {
        return Err(ApiError::bad_request("email must be an e-mail address"));
    }
    let frames = decode_images(std::slice::from_ref(&body.image))?;
    let analysis = analyse(&state, frames).await?;
    let (person, created) = state
        .store
        .enroll_template(
            &key.org_id,
            Some(&key.id),
            email,
            &analysis.embedding,
            caller.audit("user.enrolled"),
        )
        .await?;
    state.outbox_notify.notify_one();
    Ok(Json(
        json!({"enrolled": true, "userId": person, "created": created}),
    ))
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

impl DeviceInfo {
    /// A fingerprint of camera, screen and user agent; none when nothing was sent.
    fn fingerprint(&self) -> Option<String> {
        if self.user_agent.is_none() && self.camera_width.is_none() && self.screen_width.is_none() {
            return None;
        }
        let text = format!(
            "{}|{}x{}|{}x{}",
            self.user_agent.as_deref().unwrap_or(""),
            self.camera_width.unwrap_or(0),
            self.camera_height.unwrap_or(0),
            self.screen_width.unwrap_or(0),
            self.screen_height.unwrap_or(0)
        );
        Some(hex::encode(&Sha256::digest(text.as_bytes())[..16]))
    }

    fn location(&self) -> ApiResult<Option<(f64, f64)>> {
        match (self.latitude, self.longitude) {
            (Some(la), Some(lo))
                if (-90.0..=90.0).contains(&la) && (-180.0..=180.0).contains(&lo) =>
            {
                Ok(Some((la, lo)))
            }
            (None, None) => Ok(None),
            _ => Err(ApiError::bad_request(
                "deviceInfo latitude and longitude go together, in degrees",
            )),
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
    let org = &key.org_id;
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
    let (profile_id, cfg) = match body.profile.as_deref() {
        Some(p) => {
            let profile = state.store.profile(org, p).await.map_err(|e| match e {
                vouch_core::Error::NotFound(_) => {
                    ApiError::bad_request(format!("unknown profile {p:?}"))
                }
                e => e.into(),
            })?;
            (Some(profile.id), ProfileConfig::parse(&profile.config)?)
        }
        None => (None, ProfileConfig::default()),
    };
    let device = body.device_info.unwrap_or_default();
    let location = device.location()?;
    let n = list.len();
    let frames = decode_images(&list)?;
    let analysis = analyse(&state, frames).await?;
    let threshold = state
        .engines
        .as_ref()
        .map_or(0.5, |e| e.face.config().match_threshold);
    let best = state
        .galleries
        .best_match(&state.store, org, &analysis.embedding)
        .await?;
    let matched = best.filter(|(_, sim)| *sim >= threshold);
    let fingerprint = device.fingerprint();
    let Some((person, similarity)) = matched else {
        state
            .store
            .record_identity_check(
                org,
                &IdentityCheckRecord {
                    key_id: key.id.clone(),
                    person_id: None,
                    verified: false,
                    composite: 0.0,
                    results: json!([]),
                    profile_id,
                    device: fingerprint,
                    location,
                    reason: Some("Identity not recognised".into()),
                    probe: None,
                },
            )
            .await?;
        state.outbox_notify.notify_one();
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "verified": false,
                "error": "Identity not recognised",
                "reason": "Identity not recognised",
            })),
        ));
    };
    let results = run_checks(&state, org, &person, &cfg, &analysis, n, &device, location).await?;
    let composite = rules::composite(&results);
    let hard = rules::hard_failure(&results).cloned();
    let verified = hard.is_none() && composite >= cfg.min_composite_score;
    let results_json = serde_json::to_value(&results).map_err(ApiError::internal)?;
    let error = match &hard {
        Some(r) => r
            .message
            .clone()
            .unwrap_or_else(|| format!("{} check failed", r.check)),
        None => format!(
            "composite score {composite:.3} is below {:.3}",
            cfg.min_composite_score
        ),
    };
    state
        .store
        .record_identity_check(
            org,
            &IdentityCheckRecord {
                key_id: key.id.clone(),
                person_id: Some(person.clone()),
                verified,
                composite,
                results: results_json.clone(),
                profile_id,
                device: fingerprint,
                location,
                reason: (!verified).then(|| error.clone()),
                // An accepted probe joins the person's history (not the 1:N index).
                probe: verified.then(|| analysis.embedding.clone()),
            },
        )
        .await?;
    state.outbox_notify.notify_one();
    if !verified {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "verified": false,
                "error": error,
                "reason": error,
                "compositeScore": composite,
                "checkResults": results_json,
            })),
        ));
    }
    let email = state.store.person(org, &person).await?.data.email;
    Ok((
        StatusCode::OK,
        Json(json!({
            "verified": true,
            "userId": person,
            "email": email,
            "confidence": (f64::from(similarity) * 1000.0).round() / 1000.0,
            "compositeScore": composite,
            "checkResults": results_json,
        })),
    ))
}

#[allow(clippy::too_many_arguments)]
async fn run_checks(
    state: &AppState,
    org: &vouch_core::ids::OrgId,
    person: &PersonId,
    cfg: &ProfileConfig,
    analysis: &crate::analysis::SelfieAnalysis,
    frames: usize,
    device: &DeviceInfo,
    location: Option<(f64, f64)>,
) -> ApiResult<Vec<CheckResult>> {
    let mut out = Vec::new();
    let on = |c: &str| cfg.settings(c).enabled;
    // The history the checks read, fetched side by side.
    let fp = device.fingerprint();
    let (last, past, known) = tokio::join!(
        async {
            if on("impossibleTravel") {
                state.store.last_verified_location(org, person).await
            } else {
                Ok(None)
            }
        },
        async {
            if on("embeddingHistory") {
                state.store.person_templates(org, person, HISTORY).await
            } else {
                Ok(Vec::new())
            }
        },
        async {
            match (&fp, on("deviceConsistency")) {
                (Some(fp), true) => state.store.known_device(org, person, fp).await,
                _ => Ok(false),
            }
        },
    );
    let (last, past, known) = (last?, past?, known?);
    if on("liveness") {
        let s = cfg.settings("liveness");
        let passive: Vec<f32> = analysis
            .liveness
            .frames
            .iter()
            .filter_map(|f| f.passive)
            .collect();
        let score = f64::from(vouch_core::policy::median(&passive));
        let pass = score >= s.threshold.unwrap_or(0.5);
        let r = CheckResult::new("liveness", &s, pass, score);
        out.push(if pass {
            r
        } else {
            r.because("Liveness check failed")
        });
    }
    if on("frameConsistency") && frames >= 2 {
        let s = cfg.settings("frameConsistency");
        let ok = analysis.liveness.consistent;
        let r = CheckResult::new("frameConsistency", &s, ok, if ok { 1.0 } else { 0.0 });
        out.push(if ok {
            r
        } else {
            r.because("The frames are not one natural capture of one face")
        });
    }
    if on("impossibleTravel") {
        let s = cfg.settings("impossibleTravel");
        let now = location.map(|l| (l, vouch_core::now_millis()));
        out.push(rules::travel(&s, last, now));
    }
    if on("embeddingHistory") {
        let s = cfg.settings("embeddingHistory");
        let past: Vec<Vec<f32>> = past.into_iter().map(|t| t.embedding).collect();
        out.push(rules::history(&s, &past, &analysis.embedding));
    }
    if on("deviceConsistency") {
        let s = cfg.settings("deviceConsistency");
        out.push(match &fp {
            Some(_) if known => CheckResult::new("deviceConsistency", &s, true, 1.0),
            Some(_) => CheckResult::new("deviceConsistency", &s, true, 0.5)
                .because("a device this person has not verified from"),
            None => {
                CheckResult::new("deviceConsistency", &s, true, 0.5).because("no deviceInfo sent")
            }
        });
    }
    if on("geoFence") {
        let s = cfg.settings("geoFence");
        let country = device.country.as_deref().map(str::to_ascii_uppercase);
        let ok = country
            .as_ref()
            .is_some_and(|c| cfg.allowed_countries.contains(c));
        let r = CheckResult::new("geoFence", &s, ok, if ok { 1.0 } else { 0.0 });
        out.push(if ok {
            r
        } else {
            r.because(match country {
                Some(c) => format!("Verification from {c} is not allowed"),
                None => "No country: deviceInfo.country is needed by this profile".into(),
            })
        });
    }
    if on("timeRestriction") {
        let s = cfg.settings("timeRestriction");
        let ok = cfg
            .time_window
            .as_ref()
            .is_some_and(|w| rules::in_window(w, chrono::Utc::now()));
        let r = CheckResult::new("timeRestriction", &s, ok, if ok { 1.0 } else { 0.0 });
        out.push(if ok {
            r
        } else {
            r.because("Verification is not allowed at this time")
        });
    }
    Ok(out)
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
    pub(crate) fn config(&self) -> ApiResult<Value> {
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            return Err(ApiError::bad_request("name must be 1 to 100 characters"));
        }
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
        let cfg = ProfileConfig::parse(&v)?;
        serde_json::to_value(cfg).map_err(ApiError::internal)
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
        .store
        .create_profile(
            &key.org_id,
            &slug,
            body.name.trim(),
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
        json!({"profiles": state.store.list_profiles(&key.org_id).await?}),
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
    Ok(Json(json!(state.store.profile(&key.org_id, &id).await?)))
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
        .store
        .update_profile(
            &key.org_id,
            &id,
            body.name.trim(),
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
        .store
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
    let rule = state
        .store
        .create_alert_rule(
            &key.org_id,
            &body.name,
            &body.scope,
            body.threshold,
            body.window_minutes,
            caller.audit("alert_rule.created"),
        )
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
        json!({"rules": state.store.list_alert_rules(&key.org_id).await?}),
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
        .store
        .delete_alert_rule(&key.org_id, &id, caller.audit("alert_rule.deleted"))
        .await?;
    Ok(Json(json!({"deleted": true})))
}

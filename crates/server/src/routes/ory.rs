//! Ory Kratos web hooks (spec: ory-kratos-hooks.md): vouch itself is the spec's webhook
//! service. Three hooks, at `/hooks/ory/*` and the spec's `/prove/*`:
//!
//! - **lookup** (`registration.after` with `response.parse: true`, so it runs before
//!   the identity is persisted and can change or stop it; `registration.before` runs
//!   before the person has typed a phone number): the line's signals decide; a good
//!   line answers `{"identity": {traits, metadata_public}}` with prefill data, a risky
//!   one interrupts with Kratos's error payload;
//! - **enroll** (`registration.after`, after persisting): enrols the number in the
//!   identity manager and queues a JSON Patch of the identity's `metadata_admin`
//!   (`prove_identity_id`, `vouch_identity_id`) through the Kratos admin API;
//! - **validate** (`login.after`, `response.parse: true`): the enrolled number must be
//!   unchanged, monitored and without a SIM swap since enrolment.
//!
//! Kratos authenticates with `X-Webhook-Secret` or `Authorization: Bearer`; the secret
//! also names the organisation. When vouch cannot decide (a network signal unavailable,
//! an internal error) lookup and validate fail closed with a clear message, unless the
//! organisation chose fail-open for that hook; either way it is logged and counted.

use crate::error::ApiError;
use crate::phone::enroll;
use crate::phone::evaluate_signals;
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use vouch_core::model::{Actor, AuditRecord};
use vouch_phone::telco::TelcoError;
use vouch_phone::E164;
use vouch_store::ory::OryConfig;

/// Kratos message ids of vouch's answers (in Kratos's 4xxxxxx "validation" range,
/// above the ids Kratos itself uses).
pub mod message_id {
    /// The phone trait is missing or not a number.
    pub const PHONE_MISSING: u64 = 4_100_001;
    /// The SIM was swapped recently.
    pub const SIM_SWAP: u64 = 4_100_002;
    /// The line is disconnected.
    pub const DISCONNECTED: u64 = 4_100_003;
    /// The line's trust is too low.
    pub const LOW_TRUST: u64 = 4_100_004;
    /// vouch could not decide (fail closed).
    pub const UNDECIDED: u64 = 4_100_010;
    /// The person has no enrolled phone identity.
    pub const NOT_ENROLLED: u64 = 4_100_020;
    /// The enrolled number changed hands or was reported changed.
    pub const NUMBER_CHANGED: u64 = 4_100_021;
    /// The body is not what the hook expects.
    pub const BAD_REQUEST: u64 = 4_100_030;
}

/// Kratos's interrupt payload: `{"messages": [{"instance_ptr", "messages": [{id, text,
/// type, context}]}]}` (the inner array is what Kratos decodes).
fn interrupt(status: StatusCode, pointer: &str, id: u64, text: &str, reason: &str) -> Response {
    let body = json!({"messages": [{
        "instance_ptr": pointer,
        "messages": [{"id": id, "text": text, "type": "error", "context": {"reason": reason}}],
    }]});
    (status, Json(body)).into_response()
}

fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers
        .get("x-webhook-secret")
        .and_then(|v| v.to_str().ok())
    {
        return Some(v.trim());
    }
    crate::auth::presented_secret(headers)
}

pub(crate) async fn config(state: &AppState, headers: &HeaderMap) -> Result<OryConfig, Response> {
    let unauthorized = || {
        ApiError::unauthorized(
            "Missing or wrong webhook secret: send X-Webhook-Secret or Authorization: Bearer",
        )
        .into_response()
    };
    let Some(secret) = presented(headers).filter(|s| !s.is_empty() && s.len() <= 512) else {
        return Err(unauthorized());
    };
    match state.app.phone.ory_config(secret).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(unauthorized()),
        // Kratos shows an interrupt to the person; any other shape is a generic error.
        Err(e) => Err(store_failed(state, "config", &e)),
    }
}

/// The body vouch's jsonnet templates send (`integrations/ory/jsonnet/*.jsonnet`).
#[derive(Deserialize, utoipa::ToSchema, Default)]
pub struct HookBody {
    /// The Kratos identity id (`ctx.identity.id`).
    pub identity_id: Option<String>,
    /// The E.164 phone trait.
    pub phone_number: Option<String>,
    /// The identity's traits (lookup: prefill fills empty name fields).
    pub traits: Option<Value>,
    /// The identity's public metadata (lookup adds `vouch`).
    pub metadata_public: Option<Value>,
}

// The error is the hook's whole answer, built at most once a request: not worth boxing.
#[allow(clippy::result_large_err)]
fn parse_body(bytes: &[u8]) -> Result<HookBody, Response> {
    if bytes.len() > 64 * 1024 {
        return Err(interrupt(
            StatusCode::PAYLOAD_TOO_LARGE,
            "#",
            message_id::BAD_REQUEST,
            "The hook body is too large",
            "payload_too_large",
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        interrupt(
            StatusCode::BAD_REQUEST,
            "#",
            message_id::BAD_REQUEST,
            &format!("The hook body is not the JSON vouch's template sends: {e}"),
            "malformed_body",
        )
    })
}

// The error is the hook's whole answer, built at most once a request: not worth boxing.
#[allow(clippy::result_large_err)]
fn phone_of(state: &AppState, body: &HookBody) -> Result<E164, Response> {
    let missing = |text: &str| {
        interrupt(
            StatusCode::BAD_REQUEST,
            "#/traits/phone",
            message_id::PHONE_MISSING,
            text,
            "phone_missing",
        )
    };
    let Some(raw) = body
        .phone_number
        .as_deref()
        .filter(|p| !p.trim().is_empty())
    else {
        return Err(missing("A mobile phone number is required"));
    };
    state.phone.parse(raw).map_err(|e| {
        missing(&format!(
            "This is not a valid mobile phone number ({})",
            e.message
        ))
    })
}

pub(crate) fn count(state: &AppState, hook: &str, outcome: &str) {
    state
        .metrics
        .ory_hooks
        .get_or_create(&crate::metrics::HookLabels {
            hook: hook.into(),
            outcome: outcome.into(),
        })
        .inc();
}

/// The store failed inside a hook: answered as a Kratos interrupt (fail closed), never in
/// another dialect's error shape.
fn store_failed(state: &AppState, hook: &str, e: &vouch_core::Error) -> Response {
    tracing::error!(hook, error = %e, "Ory hook: store failed");
    undecided(state, hook, false, "store unavailable")
}

/// vouch could not decide: fail closed (interrupt) unless the organisation chose open.
fn undecided(state: &AppState, hook: &str, fail_open: bool, why: &str) -> Response {
    tracing::warn!(hook, why, fail_open, "Ory hook could not decide");
    if fail_open {
        count(state, hook, "undecided_open");
        return StatusCode::NO_CONTENT.into_response();
    }
    count(state, hook, "undecided_closed");
    // A 4xx, not a 503: Kratos retries 5xx answers and then fails with a generic
    // error, dropping the message; a 4xx interrupt is shown to the person at once.
    interrupt(
        StatusCode::UNPROCESSABLE_ENTITY,
        "#/traits/phone",
        message_id::UNDECIDED,
        "We could not check your phone number right now. Please try again in a few minutes.",
        "verification_unavailable",
    )
}

pub(crate) fn risky(signals: &crate::phone::Signals) -> Option<(u64, &'static str, &'static str)> {
    use vouch_core::policy::LineRisk;
    Some(match vouch_core::policy::line_risk(signals)? {
        LineRisk::SimSwap => (
            message_id::SIM_SWAP,
            "Your phone's SIM card was changed very recently. For your security, please try again later or contact support.",
            "sim_swap",
        ),
        LineRisk::Disconnected => (
            message_id::DISCONNECTED,
            "This phone number is not connected to a mobile network. Please use an active mobile number.",
            "disconnected",
        ),
        LineRisk::LowTrust => (
            message_id::LOW_TRUST,
            "We could not confirm this phone number is yours. Please use another number or contact support.",
            "low_trust",
        ),
    })
}

/// Registration lookup: signals, then prefill.
#[utoipa::path(post, path = "/hooks/ory/lookup", tag = "ory",
    request_body = HookBody, security(("webhook_secret" = [])),
    responses((status = 200, description = "{identity: {traits, metadata_public}}"),
              (status = 403, description = "Kratos interrupt payload"),
              (status = 401, description = "wrong secret"),
              (status = 204, description = "undecided, and the organisation fails open"),
              (status = 400, description = "Kratos interrupt payload: malformed body, missing or invalid phone"),
              (status = 413, description = "Kratos interrupt payload: body too large"),
              (status = 422, description = "Kratos interrupt payload: undecided (fails closed)")))]
pub async fn lookup(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match config(&state, &headers).await {
        Ok(config) => lookup_for(&state, config, &body).await,
        Err(r) => r,
    }
}

/// The lookup hook of an organisation already found by its secret (the community
/// integration's endpoints hand vouch's own bodies here).
pub(crate) async fn lookup_for(state: &AppState, config: OryConfig, body: &[u8]) -> Response {
    let body = match parse_body(body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let phone = match phone_of(state, &body) {
        Ok(p) => p,
        Err(r) => {
            count(state, "lookup", "phone_missing");
            return r;
        }
    };
    let signals = evaluate_signals(state, &phone).await;
    if let Some((id, text, reason)) = risky(&signals) {
        if !(reason == "low_trust" && signals.undecided()) {
            count(state, "lookup", reason);
            return interrupt(StatusCode::FORBIDDEN, "#/traits/phone", id, text, reason);
        }
    }
    if signals.undecided() {
        return undecided(
            state,
            "lookup",
            config.fail_open_lookup,
            "signals unavailable",
        );
    }
    let record = match state.phone.telco.kyc_fill_in(&phone).await {
        Ok(r) => Some(r),
        Err(TelcoError::NotApplicable(_)) => None,
        Err(e) => {
            tracing::info!(error = %e, "prefill unavailable");
            None
        }
    };
    count(state, "lookup", "pass");
    // Kratos replaces whole fields: send the traits back with only empty name fields
    // filled (keys the schema does not have are never added), and the public metadata
    // with vouch's part. Traits the body did not carry are not answered at all (an
    // empty object would replace the identity's).
    let mut traits = body.traits.clone().filter(Value::is_object);
    let mut prefill = Map::new();
    if let Some(r) = &record {
        for (k, v) in [
            ("firstName", &r.given_name),
            ("lastName", &r.family_name),
            ("birthdate", &r.birthdate),
            ("address", &r.address),
            ("locality", &r.locality),
            ("region", &r.region),
            ("postalCode", &r.postal_code),
        ] {
            if let Some(v) = v {
                prefill.insert(k.into(), json!(v));
            }
        }
        if let Some(name) = traits
            .as_mut()
            .and_then(|t| t.get_mut("name"))
            .and_then(Value::as_object_mut)
        {
            for (key, value) in [("first", &r.given_name), ("last", &r.family_name)] {
                let empty = name
                    .get(key)
                    .is_none_or(|v| v.as_str().is_some_and(str::is_empty));
                if let (true, Some(v)) = (empty && name.contains_key(key), value) {
                    name.insert(key.into(), json!(v));
                }
            }
        }
    }
    let mut metadata = body
        .metadata_public
        .clone()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    metadata["vouch"] = json!({
        "phoneChecked": true,
        "trust": signals.trust,
        "prefill": Value::Object(prefill),
    });
    let mut identity = Map::new();
    if let Some(traits) = traits {
        identity.insert("traits".into(), traits);
    }
    identity.insert("metadata_public".into(), metadata);
    (StatusCode::OK, Json(json!({"identity": identity}))).into_response()
}

/// Registration enrolment: the identity manager, then `metadata_admin` through the
/// Kratos admin API (queued; retried while Kratos is down; the same person and number
/// always get the same id, so a retried hook does not duplicate anything).
#[utoipa::path(post, path = "/hooks/ory/enroll", tag = "ory",
    request_body = HookBody, security(("webhook_secret" = [])),
    responses((status = 200, description = "{identityId, proveId}"),
              (status = 400, description = "missing identity or phone"),
              (status = 401, description = "wrong secret"),
              (status = 413, description = "Kratos interrupt payload: body too large")))]
pub async fn enroll_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match config(&state, &headers).await {
        Ok(config) => enroll_for(&state, config, &body).await,
        Err(r) => r,
    }
}

/// The enroll hook of an organisation already found by its secret.
pub(crate) async fn enroll_for(state: &AppState, config: OryConfig, body: &[u8]) -> Response {
    let (kratos_id, phone) = match identity_hook(state, body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let kratos_id = kratos_id.as_str();
    let id = match enroll(
        state,
        &config.org_id,
        &phone,
        Some(kratos_id.to_string()),
        None,
        None,
    )
    .await
    {
        Ok(id) => id,
        Err(e) => return store_failed(state, "enroll", &e),
    };
    let patch = vouch_store::ory::metadata_patch(
        Map::new(),
        Map::from_iter([
            ("prove_identity_id".to_string(), json!(id)),
            ("vouch_identity_id".to_string(), json!(id)),
        ]),
    );
    let audit = AuditRecord::new(Some(&config.org_id), Actor::System, "ory.enrolled")
        .target(kratos_id.to_string());
    if let Err(e) = state
        .app
        .phone
        .patch_kratos(&config, kratos_id, &patch, audit)
        .await
    {
        return store_failed(state, "enroll", &e);
    }
    count(state, "enroll", "enrolled");
    (
        StatusCode::OK,
        Json(json!({"identityId": id, "proveId": id})),
    )
        .into_response()
}

/// What enroll and validate start with: the Kratos identity id and the phone trait, or
/// the answer that refuses the call.
// The error is the finished answer to Kratos, built at most once a request.
#[allow(clippy::result_large_err)]
fn identity_hook(state: &AppState, body: &[u8]) -> Result<(String, E164), Response> {
    let body = parse_body(body)?;
    let Some(kratos_id) = body.identity_id.as_deref().filter(|i| valid_identity_id(i)) else {
        return Err(interrupt(
            StatusCode::BAD_REQUEST,
            "#",
            message_id::BAD_REQUEST,
            "identity_id is missing or is not a Kratos identity id",
            "identity_missing",
        ));
    };
    let phone = phone_of(state, &body)?;
    Ok((kratos_id.to_string(), phone))
}

/// Kratos ids are UUIDs; anything else is refused before it reaches a URL path.
pub(crate) fn valid_identity_id(id: &str) -> bool {
    id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// Sign-in validation: the enrolled number still in good standing.
#[utoipa::path(post, path = "/hooks/ory/validate", tag = "ory",
    request_body = HookBody, security(("webhook_secret" = [])),
    responses((status = 204, description = "good standing"),
              (status = 403, description = "Kratos interrupt payload"),
              (status = 401, description = "wrong secret"),
              (status = 400, description = "Kratos interrupt payload: malformed body, missing or invalid phone"),
              (status = 413, description = "Kratos interrupt payload: body too large"),
              (status = 422, description = "Kratos interrupt payload: undecided (fails closed)")))]
pub async fn validate_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match config(&state, &headers).await {
        Ok(config) => validate_for(&state, config, &body).await,
        Err(r) => r,
    }
}

/// The validate hook of an organisation already found by its secret.
pub(crate) async fn validate_for(state: &AppState, config: OryConfig, body: &[u8]) -> Response {
    let (kratos_id, phone) = match identity_hook(state, body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let kratos_id = kratos_id.as_str();
    let enrolled = match state
        .app
        .phone
        .active_of_customer(&config.org_id, kratos_id)
        .await
    {
        Ok(found) => found,
        Err(e) => {
            return undecided(state, "validate", config.fail_open_validate, &e.to_string());
        }
    };
    let Some(identity) = enrolled else {
        count(state, "validate", "not_enrolled");
        return interrupt(
            StatusCode::FORBIDDEN,
            "#/traits/phone",
            message_id::NOT_ENROLLED,
            "Your phone number has not been verified for this account. Please contact support.",
            "not_enrolled",
        );
    };
    if identity.phone != phone.as_str() || !identity.monitored {
        count(state, "validate", "number_changed");
        return interrupt(
            StatusCode::FORBIDDEN,
            "#/traits/phone",
            message_id::NUMBER_CHANGED,
            "The phone number on this account has changed or is no longer yours. Please verify your phone again.",
            "number_changed",
        );
    }
    match state.phone.telco.sim_swap_date(&phone).await {
        Ok(d)
            if d.latest_sim_change
                .is_some_and(|t| t.timestamp_millis() > identity.created_at) =>
        {
            count(state, "validate", "sim_swap");
            return interrupt(
                StatusCode::FORBIDDEN,
                "#/traits/phone",
                message_id::SIM_SWAP,
                "Your phone's SIM card was changed since you registered. For your security, please verify your phone again or contact support.",
                "sim_swap",
            );
        }
        Ok(_) => {}
        Err(e) => return undecided(state, "validate", config.fail_open_validate, &e.to_string()),
    }
    let signals = evaluate_signals(state, &phone).await;
    if !signals.reachable {
        count(state, "validate", "disconnected");
        return interrupt(
            StatusCode::FORBIDDEN,
            "#/traits/phone",
            message_id::DISCONNECTED,
            "The phone number on this account is no longer connected. Please update it or contact support.",
            "disconnected",
        );
    }
    if signals.undecided() {
        return undecided(
            state,
            "validate",
            config.fail_open_validate,
            "signals unavailable",
        );
    }
    count(state, "validate", "pass");
    StatusCode::NO_CONTENT.into_response()
}

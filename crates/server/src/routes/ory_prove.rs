//! The community Prove integration for Ory (`ory/integrates`, folder
//! `identity-verification/prove`), served unchanged at `/prove/*`: the spec's hooks as
//! that integration's jsonnet templates send them (`kratos_identity_id`, `phone_number`,
//! `prove_identity_id`) and answered in its shapes (`prove_*` metadata keys, JSON Patch
//! paths on the Kratos admin API, the `phone_number_mismatch` interrupt).
//!
//! A body from vouch's own templates (it carries `identity_id` or `traits`) sent to
//! `/prove/*` is answered by vouch's own hooks ([`super::ory`]), as before.
//!
//! Where vouch differs from the integration's handler, on purpose (docs/ory.md):
//! - lookup refuses a SIM-swapped, disconnected or low-trust line, as vouch's own does;
//! - validate also refuses a sign-in after a SIM swap since enrolment, on a disconnected
//!   line, or when the network reported the number changed hands, with the same
//!   interrupt shape and their own `reason`; when vouch cannot decide it fails closed
//!   unless the organisation chose fail-open (the integration answers 200 with
//!   `prove_validation_status: "validation_error"`, which is vouch's fail-open answer);
//! - the Prove id must belong to the Kratos identity that signs in (`identity_mismatch`);
//! - Kratos patches use `add` operations on the same paths (RFC 6902 `replace` fails on
//!   a key that is not there yet), queued and retried while Kratos is down;
//! - every interrupt also carries Kratos's own inner `messages` array, so Kratos shows
//!   its text to the person.

use super::ory::{config, count, valid_identity_id};
use crate::phone::{enroll, evaluate_signals};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use vouch_core::model::{Actor, AuditRecord};
use vouch_core::{now_millis, rfc3339};
use vouch_phone::E164;
use vouch_store::ory::{metadata_patch, OryConfig};

/// What the integration's three templates send (`jsonnet/{lookup,enroll,validate}.jsonnet`).
#[derive(Deserialize, utoipa::ToSchema, Default)]
pub struct ProveHookBody {
    /// `ctx.identity.id` (enroll, validate).
    pub kratos_identity_id: Option<String>,
    /// The `phone_number` trait, or the transient payload's (lookup); `""` when absent.
    pub phone_number: Option<String>,
    /// `metadata_public.prove_identity_id`, or `null` before enrolment (validate).
    pub prove_identity_id: Option<String>,
}

/// Whose template sent the body.
enum Parsed {
    Community(ProveHookBody),
    Vouch,
}

/// The body, or the answer that refuses it.
// The error is the hook's whole answer, built at most once a request: not worth boxing.
#[allow(clippy::result_large_err)]
fn parse(bytes: &[u8]) -> Result<Parsed, Response> {
    if bytes.len() > 64 * 1024 {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the hook body is too large",
        ));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("the body is not JSON: {e}"),
        )
    })?;
    if value.get("identity_id").is_some() || value.get("traits").is_some() {
        return Ok(Parsed::Vouch);
    }
    serde_json::from_value(value)
        .map(Parsed::Community)
        .map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                &format!("the body is not what the Prove integration's template sends: {e}"),
            )
        })
}

/// Every hook's start: the organisation by its webhook secret (once), then the body,
/// whose template decides who answers it.
// The error is the hook's whole answer, built at most once a request: not worth boxing.
#[allow(clippy::result_large_err)]
async fn prelude(
    state: &AppState,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<(OryConfig, Parsed), Response> {
    let config = config(state, headers).await?;
    Ok((config, parse(bytes)?))
}

/// The integration's plain error answer: `{"error": "…"}`.
fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// The integration's interrupt (`{"messages": [{instance_ptr, message, type, context}]}`),
/// with Kratos's own inner `messages` beside it so Kratos can show the text.
fn refuse(status: StatusCode, id: u64, text: &str, context: Value) -> Response {
    let body = json!({"messages": [{
        "instance_ptr": "#/",
        "message": text,
        "type": "error",
        "context": context,
        "messages": [{"id": id, "text": text, "type": "error", "context": context}],
    }]});
    (status, Json(body)).into_response()
}

/// vouch could not decide and the organisation did not choose fail-open: interrupted.
/// A 4xx, not a 503: Kratos retries 5xx answers and then drops the message.
fn unavailable(state: &AppState, hook: &str, why: &str) -> Response {
    count(state, hook, "undecided_closed");
    tracing::warn!(
        hook,
        why,
        "Prove integration hook could not decide (fails closed)"
    );
    refuse(
        StatusCode::UNPROCESSABLE_ENTITY,
        super::ory::message_id::UNDECIDED,
        "We could not check your phone number right now. Please try again in a few minutes.",
        json!({"reason": "verification_unavailable"}),
    )
}

fn keys<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn now() -> String {
    rfc3339(now_millis())
}

/// A correlation id for one hook call, logged so the operator can find it.
fn correlation(hook: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    tracing::info!(hook, correlation_id = %id, "Prove integration hook");
    id
}

fn phone(state: &AppState, raw: Option<&str>) -> Option<Result<E164, String>> {
    let raw = raw.map(str::trim).filter(|p| !p.is_empty())?;
    Some(state.phone.parse(raw).map_err(|e| e.message))
}

/// Queues a Kratos metadata patch; a failure is logged (the hook's answer already says
/// what was decided, and the integration's handler does the same).
async fn queue_patch(
    state: &AppState,
    config: &OryConfig,
    kratos_id: &str,
    public: Map<String, Value>,
    admin: Map<String, Value>,
    action: &str,
) -> vouch_core::Result<()> {
    let audit =
        AuditRecord::new(Some(&config.org_id), Actor::System, action).target(kratos_id.to_string());
    state
        .app
        .phone
        .patch_kratos(config, kratos_id, &metadata_patch(public, admin), audit)
        .await?;
    Ok(())
}

/// Registration lookup: what the identity manager knows of the number.
#[utoipa::path(post, path = "/prove/lookup", tag = "ory",
    request_body = ProveHookBody, security(("webhook_secret" = [])),
    responses((status = 200, description = "{identity: {traits?, metadata_public: {prove_identity_status, …}, metadata_admin}}"),
              (status = 400, description = "{error}: no phone number, or a malformed body"),
              (status = 401, description = "wrong secret"),
              (status = 403, description = "interrupt: a SIM-swapped, disconnected or low-trust line"),
              (status = 413, description = "{error}: body too large"),
              (status = 422, description = "interrupt with reason verification_unavailable (fails closed)")))]
pub async fn lookup(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Response {
    let (config, body) = match prelude(&state, &headers, &bytes).await {
        Ok((config, Parsed::Community(b))) => (config, b),
        Ok((config, Parsed::Vouch)) => return super::ory::lookup_for(&state, config, &bytes).await,
        Err(r) => return r,
    };
    let lookup_error = |message: &str| {
        Json(json!({"identity": {
            "metadata_public": {"prove_identity_status": "lookup_error"},
            "metadata_admin": {"prove_error_message": message},
        }}))
        .into_response()
    };
    let phone = match phone(&state, body.phone_number.as_deref()) {
        None => {
            count(&state, "prove_lookup", "phone_missing");
            return error(StatusCode::BAD_REQUEST, "phone_number is required");
        }
        Some(Err(why)) => {
            count(&state, "prove_lookup", "lookup_error");
            return lookup_error(&format!("not a valid phone number: {why}"));
        }
        Some(Ok(p)) => p,
    };
    // vouch is stricter than the integration: a risky line stops the registration.
    let signals = evaluate_signals(&state, &phone).await;
    if let Some((id, text, reason)) = super::ory::risky(&signals) {
        if !(reason == "low_trust" && signals.undecided()) {
            count(&state, "prove_lookup", reason);
            return refuse(StatusCode::FORBIDDEN, id, text, json!({"reason": reason}));
        }
    }
    if signals.undecided() && !config.fail_open_lookup {
        return unavailable(&state, "prove_lookup", "signals unavailable");
    }
    let found = match state
        .app
        .phone
        .active_of_number(&config.org_id, phone.as_str())
        .await
    {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "Prove lookup hook: store failed");
            count(&state, "prove_lookup", "lookup_error");
            return lookup_error("the identity manager is unavailable");
        }
    };
    let Some(identity) = found else {
        count(&state, "prove_lookup", "not_found");
        return Json(json!({"identity": {"metadata_public": {
            "prove_identity_status": "not_found",
            "prove_lookup_timestamp": now(),
        }}}))
        .into_response();
    };
    count(&state, "prove_lookup", "verified");
    Json(json!({"identity": {
        "traits": {"phone_number": identity.phone},
        "metadata_public": {
            "prove_identity_status": "verified",
            "prove_identity_id": identity.id,
            "prove_phone_number": identity.phone,
            "prove_carrier": identity.carrier,
            "prove_line_type": identity.line_type,
            "prove_is_active": identity.active,
            "prove_lookup_timestamp": now(),
        },
        "metadata_admin": {
            "prove_correlation_id": correlation("prove_lookup"),
            "prove_client_customer_id": identity.client_customer_id,
            "prove_country_code": identity.country_code,
        },
    }}))
    .into_response()
}

/// Registration enrolment: the identity manager, then the identity's metadata through
/// the Kratos admin API (queued).
#[utoipa::path(post, path = "/prove/enroll", tag = "ory",
    request_body = ProveHookBody, security(("webhook_secret" = [])),
    responses((status = 200, description = "{success: true, prove_identity_id} or {success: false, error}"),
              (status = 400, description = "{error}: kratos_identity_id and phone_number are required"),
              (status = 401, description = "wrong secret"),
              (status = 413, description = "{error}: body too large")))]
pub async fn enroll_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Response {
    let (config, body) = match prelude(&state, &headers, &bytes).await {
        Ok((config, Parsed::Community(b))) => (config, b),
        Ok((config, Parsed::Vouch)) => return super::ory::enroll_for(&state, config, &bytes).await,
        Err(r) => return r,
    };
    let kratos_id = body.kratos_identity_id.as_deref().unwrap_or_default();
    let raw_phone = phone(&state, body.phone_number.as_deref());
    let (true, Some(raw_phone)) = (!kratos_id.is_empty(), raw_phone) else {
        count(&state, "prove_enroll", "bad_request");
        return error(
            StatusCode::BAD_REQUEST,
            "kratos_identity_id and phone_number are required",
        );
    };
    if !valid_identity_id(kratos_id) {
        count(&state, "prove_enroll", "bad_request");
        return error(
            StatusCode::BAD_REQUEST,
            "kratos_identity_id is not a Kratos identity id (a UUID)",
        );
    }
    let enrolled = match raw_phone {
        Ok(p) => enroll(
            &state,
            &config.org_id,
            &p,
            Some(kratos_id.to_string()),
            None,
            None,
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "Prove enroll hook: enrolment failed");
            "Enrollment failed: the identity manager is unavailable".to_string()
        }),
        Err(why) => Err(format!(
            "Enrollment failed: not a valid phone number: {why}"
        )),
    };
    let correlation_id = correlation("prove_enroll");
    match enrolled {
        Ok(id) => {
            let public = keys([
                ("prove_identity_enrolled", json!(true)),
                ("prove_identity_id", json!(id)),
                ("prove_verification_result", json!("enrolled")),
                ("prove_enrollment_timestamp", json!(now())),
            ]);
            let admin = keys([
                ("prove_correlation_id", json!(correlation_id)),
                ("prove_client_customer_id", json!(kratos_id)),
            ]);
            if let Err(e) =
                queue_patch(&state, &config, kratos_id, public, admin, "ory.enrolled").await
            {
                tracing::error!(error = %e, "Prove enroll hook: cannot queue the Kratos patch");
                count(&state, "prove_enroll", "failed");
                return Json(json!({"success": false, "error": "Enrollment failed: the Kratos patch could not be queued"})).into_response();
            }
            count(&state, "prove_enroll", "enrolled");
            Json(json!({"success": true, "prove_identity_id": id})).into_response()
        }
        Err(message) => {
            let admin = keys([
                ("prove_enrollment_error", json!(message)),
                ("prove_enrollment_attempted", json!(now())),
            ]);
            if let Err(e) = queue_patch(
                &state,
                &config,
                kratos_id,
                Map::new(),
                admin,
                "ory.enrollment_failed",
            )
            .await
            {
                tracing::error!(error = %e, "Prove enroll hook: cannot record the failure");
            }
            count(&state, "prove_enroll", "failed");
            Json(json!({"success": false, "error": message})).into_response()
        }
    }
}

/// Sign-in validation: the number on the account is still the enrolled one, in good
/// standing.
#[utoipa::path(post, path = "/prove/validate", tag = "ory",
    request_body = ProveHookBody, security(("webhook_secret" = [])),
    responses((status = 200, description = "{identity: {metadata_public: {prove_validation_status, …}}}"),
              (status = 400, description = "{error}: no kratos_identity_id; or the interrupt with reason phone_number_mismatch, identity_mismatch, number_changed, identity_deactivated, sim_swap or disconnected"),
              (status = 401, description = "wrong secret"),
              (status = 413, description = "{error}: body too large"),
              (status = 422, description = "interrupt with reason verification_unavailable (fails closed)")))]
pub async fn validate_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Response {
    use super::ory::message_id;
    let (config, body) = match prelude(&state, &headers, &bytes).await {
        Ok((config, Parsed::Community(b))) => (config, b),
        Ok((config, Parsed::Vouch)) => {
            return super::ory::validate_for(&state, config, &bytes).await
        }
        Err(r) => return r,
    };
    let kratos_id = body.kratos_identity_id.as_deref().unwrap_or_default();
    if kratos_id.is_empty() {
        count(&state, "prove_validate", "bad_request");
        return error(StatusCode::BAD_REQUEST, "kratos_identity_id required");
    }
    if !valid_identity_id(kratos_id) {
        count(&state, "prove_validate", "bad_request");
        return error(
            StatusCode::BAD_REQUEST,
            "kratos_identity_id is not a Kratos identity id (a UUID)",
        );
    }
    let status_only = |status: &str, error: Option<&str>| {
        let mut identity = json!({"metadata_public": {
            "prove_validation_status": status,
            "prove_last_validation": now(),
        }});
        if let Some(e) = error {
            identity["metadata_admin"] = json!({"prove_validation_error": e});
        }
        Json(json!({"identity": identity})).into_response()
    };
    let Some(prove_id) = body.prove_identity_id.as_deref().filter(|i| !i.is_empty()) else {
        count(&state, "prove_validate", "not_enrolled");
        return status_only("not_enrolled", None);
    };
    let unavailable = |why: &str| {
        if config.fail_open_validate {
            count(&state, "prove_validate", "undecided_open");
            tracing::warn!(why, "Prove validate hook could not decide (fails open)");
            return status_only("validation_error", Some(why));
        }
        unavailable(&state, "prove_validate", why)
    };
    let identity = if prove_id.len() > 64
        || !prove_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        None
    } else {
        match state.app.phone.identity(&config.org_id, prove_id).await {
            Ok(i) => Some(i),
            Err(vouch_core::Error::NotFound(_)) => None,
            Err(e) => return unavailable(&e.to_string()),
        }
    };
    let Some(identity) = identity else {
        count(&state, "prove_validate", "retrieval_failed");
        return status_only(
            "retrieval_failed",
            Some("Failed to retrieve identity from the identity manager"),
        );
    };
    let refused = |outcome: &str, id: u64, text: &str, context: Value| {
        count(&state, "prove_validate", outcome);
        refuse(StatusCode::BAD_REQUEST, id, text, context)
    };
    if identity.client_customer_id.as_deref() != Some(kratos_id) {
        return refused(
            "identity_mismatch",
            message_id::NUMBER_CHANGED,
            "The phone identity on this account belongs to another account. Please contact support.",
            json!({"reason": "identity_mismatch"}),
        );
    }
    let registered = body
        .phone_number
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if let Some(registered) = registered {
        let same = state
            .phone
            .parse(registered)
            .is_ok_and(|p| p.as_str() == identity.phone);
        if !same {
            return refused(
                "phone_number_mismatch",
                message_id::NUMBER_CHANGED,
                "Your phone number has changed. Please update your account information.",
                json!({"reason": "phone_number_mismatch", "prove_phone": identity.phone, "registered_phone": registered}),
            );
        }
    }
    if !identity.active {
        return refused(
            "identity_deactivated",
            message_id::NOT_ENROLLED,
            "The phone identity on this account was deactivated. Please verify your phone again or contact support.",
            json!({"reason": "identity_deactivated"}),
        );
    }
    if !identity.monitored {
        return refused(
            "number_changed",
            message_id::NUMBER_CHANGED,
            "The phone number on this account has changed hands or is no longer yours. Please verify your phone again.",
            json!({"reason": "number_changed"}),
        );
    }
    let phone = match state.phone.parse(&identity.phone) {
        Ok(p) => p,
        Err(e) => return unavailable(&e.message),
    };
    match state.phone.telco.sim_swap_date(&phone).await {
        Ok(d)
            if d.latest_sim_change
                .is_some_and(|t| t.timestamp_millis() > identity.created_at) =>
        {
            return refused(
                "sim_swap",
                message_id::SIM_SWAP,
                "Your phone's SIM card was changed since you registered. For your security, please verify your phone again or contact support.",
                json!({"reason": "sim_swap"}),
            );
        }
        Ok(_) => {}
        Err(e) => return unavailable(&e.to_string()),
    }
    let signals = evaluate_signals(&state, &phone).await;
    if !signals.reachable {
        return refused(
            "disconnected",
            message_id::DISCONNECTED,
            "The phone number on this account is no longer connected. Please update it or contact support.",
            json!({"reason": "disconnected"}),
        );
    }
    if signals.undecided() {
        return unavailable("signals unavailable");
    }
    let correlation_id = correlation("prove_validate");
    let public = keys([
        ("prove_validation_status", json!("verified")),
        ("prove_verification_result", json!("verified")),
        ("prove_last_validation", json!(now())),
        ("prove_phone_verified", json!(identity.phone)),
    ]);
    let admin = keys([("prove_correlation_id", json!(correlation_id))]);
    if let Err(e) = queue_patch(
        &state,
        &config,
        kratos_id,
        public.clone(),
        admin.clone(),
        "ory.validated",
    )
    .await
    {
        return unavailable(&e.to_string());
    }
    count(&state, "prove_validate", "verified");
    // Kratos replaces the whole field with what it parses: the Prove id goes back too,
    // or the next sign-in would find the account "not_enrolled" and skip the check.
    let mut answer = public;
    answer.insert("prove_identity_id".into(), json!(identity.id));
    Json(json!({"identity": {
        "metadata_public": Value::Object(answer),
        "metadata_admin": Value::Object(admin),
    }}))
    .into_response()
}

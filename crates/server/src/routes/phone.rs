//! The phone identity API (v3), as `@prove-identity/prove-api` calls it (spec:
//! phone-verified-users.md, phone-identity-prefill.md; wire: reference/phone-v3-wire.md).
//! Bodies are camelCase JSON under 4 KB (batch enrolment excepted), errors are
//! `{"code": <int>, "message"}`, every call needs a bearer token from `POST /token` (or
//! an API key). A flow is a correlation id that lives 15 minutes; possession happens
//! in the browser through the client SDK (`/v3/sdk/*`), everything else here.
//!
//! No answer depends on whether the organisation already knows a number: start and
//! verify answer the same for every valid number, and nothing but the flow's own
//! outcome decides `success`.
//!
//! Size (over 800 lines): every v3 operation of the dialect (Pre-Fill, Verified Users,
//! Unify, the Identity Manager) with its request types and OpenAPI annotations. Storage
//! is `vouch_app::phone`'s; the steps' logic (possession, signals, the KYC match) is in
//! `crate::phone` and `core::policy` (docs/architecture.md).

use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult, ErrorFormat};
use crate::phone::{
    evaluate_signals, names_match, out_of_order, prove_bad_request, sign_auth_token, FlowData,
    FLOW_TTL_MS,
};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use vouch_core::ids::OrgId;
use vouch_core::now_millis;
use vouch_core::phone_flow::{FlowKind, Possession, Step, Transition};
use vouch_phone::telco::{KycAttributes, TelcoError, Tri};
use vouch_phone::template::Template;
use vouch_phone::E164;
use vouch_store::phone::{PhoneFlow, PhoneIdentity};
use vouch_store::tenancy::Principal;

/// Largest body of a flow call, as the phone API documents.
pub const MAX_FLOW_BODY: usize = 4 * 1024;
/// Most items in one batch enrolment.
pub const MAX_BATCH: usize = 100;

type Body<T> = Result<ApiJson<T>, ApiError>;

fn body<T>(b: Body<T>) -> ApiResult<T> {
    b.map(|j| j.0).map_err(|e| e.in_format(ErrorFormat::Prove))
}

fn prove<T>(r: ApiResult<T>) -> ApiResult<T> {
    r.map_err(|e| e.in_format(ErrorFormat::Prove))
}

fn client_id(caller: &Caller) -> String {
    match &caller.principal {
        Principal::OAuth { client, .. } => client.id.to_string(),
        Principal::ApiKey(k) => k.id.to_string(),
        Principal::ServiceToken(t) => t.id.to_string(),
    }
}

// ---- field checks -------------------------------------------------------------------

fn text(field: &str, v: Option<&String>, max: usize) -> ApiResult<Option<String>> {
    let Some(v) = v.map(|s| s.trim()).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if v.chars().count() > max {
        return Err(prove_bad_request(format!(
            "{field} is longer than {max} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(prove_bad_request(format!(
            "{field} contains control characters"
        )));
    }
    Ok(Some(v.to_string()))
}

fn required(field: &str, v: Option<&String>, max: usize) -> ApiResult<String> {
    text(field, v, max)?.ok_or_else(|| prove_bad_request(format!("field '{field}' is missing")))
}

fn dob(v: Option<&String>) -> ApiResult<Option<String>> {
    let Some(v) = text("dob", v, 10)? else {
        return Ok(None);
    };
    let ok = chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d").is_ok()
        || chrono::NaiveDate::parse_from_str(&format!("{v}-01"), "%Y-%m-%d").is_ok()
        || chrono::NaiveDate::parse_from_str(&format!("2000-{v}"), "%Y-%m-%d").is_ok();
    if !ok {
        return Err(prove_bad_request(
            "dob must be YYYY-MM-DD, YYYY-MM or MM-DD",
        ));
    }
    Ok(Some(v))
}

fn ssn(v: Option<&String>) -> ApiResult<Option<String>> {
    let Some(v) = text("ssn", v, 11)? else {
        return Ok(None);
    };
    let digits: String = v.chars().filter(|c| *c != '-').collect();
    if !(digits.len() == 9 || digits.len() == 4) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(prove_bad_request(
            "ssn must be 9 digits (full) or 4 digits (last 4)",
        ));
    }
    Ok(Some(digits))
}

fn email(field: &str, v: Option<&String>) -> ApiResult<Option<String>> {
    let Some(v) = text(field, v, 254)? else {
        return Ok(None);
    };
    let valid = v.split_once('@').is_some_and(|(l, d)| {
        !l.is_empty() && d.contains('.') && !d.starts_with('.') && !d.ends_with('.')
    }) && !v.contains(char::is_whitespace)
        && v.matches('@').count() == 1;
    if !valid {
        return Err(prove_bad_request(format!(
            "{field} is not an e-mail address"
        )));
    }
    Ok(Some(v))
}

fn ip(v: Option<&String>) -> ApiResult<Option<String>> {
    let Some(v) = text("ipAddress", v, 45)? else {
        return Ok(None);
    };
    v.parse::<std::net::IpAddr>()
        .map_err(|_| prove_bad_request("ipAddress is not an IPv4 or IPv6 address"))?;
    Ok(Some(v))
}

fn target_url(v: Option<&String>, needed: bool) -> ApiResult<Option<String>> {
    let Some(v) = text("finalTargetUrl", v, 128)? else {
        if needed {
            return Err(prove_bad_request(
                "field 'finalTargetUrl' is missing: it is required for the desktop flow",
            ));
        }
        return Ok(None);
    };
    let url = url::Url::parse(&v)
        .map_err(|_| prove_bad_request("finalTargetUrl is not an absolute URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(prove_bad_request(
            "finalTargetUrl must be an http or https URL",
        ));
    }
    Ok(Some(v))
}

fn possession_type(field: &str, v: Option<&String>, allow_none: bool) -> ApiResult<String> {
    let v = required(field, v, 16)?;
    match v.as_str() {
        "desktop" | "mobile" => Ok(v),
        "none" if allow_none => Ok(v),
        _ => Err(prove_bad_request(format!(
            "{field} must be {}",
            if allow_none {
                "desktop, mobile or none"
            } else {
                "desktop or mobile"
            }
        ))),
    }
}

fn sms_template(v: Option<&String>, flow_type: &str) -> ApiResult<Option<String>> {
    let Some(v) = text("smsMessage", v, 160)? else {
        return Ok(None);
    };
    let checked = if flow_type == "desktop" {
        Template::link(Some(&v))
    } else {
        Template::otp(Some(&v))
    };
    checked.map_err(|e| prove_bad_request(e.to_string()))?;
    Ok(Some(v))
}

/// The `next` map: each step's path; a finished flow's is `{"done": "done"}`, as the
/// vendor answers it.
fn next(steps: &[&str]) -> Value {
    let mut m = Map::new();
    for s in steps {
        let path = if *s == "done" {
            "done".to_string()
        } else {
            format!("/{}", s.replacen('-', "/", 1))
        };
        m.insert((*s).to_string(), Value::String(path));
    }
    Value::Object(m)
}

#[allow(clippy::too_many_arguments)]
fn new_flow(
    caller: &Caller,
    state: &AppState,
    kind: FlowKind,
    flow_type: &str,
    phone: Option<&E164>,
    data: FlowData,
    final_target_url: Option<String>,
    sms_message: Option<String>,
    allow_otp_retry: bool,
    client_customer_id: Option<String>,
    client_request_id: Option<String>,
) -> PhoneFlow {
    let now = now_millis();
    let auto = phone.is_some_and(|p| state.phone.auto_possession(p));
    let mut flow = PhoneFlow {
        id: uuid::Uuid::new_v4().to_string(),
        org_id: caller.principal.org_id().clone(),
        client_id: client_id(caller),
        kind,
        flow_type: flow_type.into(),
        phone_bidx: phone.map(|p| state.app.phone.number_index(p.as_str())),
        data: Value::Null,
        step: Step::Started,
        possession: if flow_type == "none" {
            Possession::NotApplicable
        } else if auto {
            Possession::Success
        } else {
            Possession::Pending
        },
        possession_method: auto.then(|| "sandbox".to_string()),
        final_target_url,
        sms_message,
        allow_otp_retry,
        client_customer_id,
        client_request_id,
        otp_hash: None,
        otp_expires_at: None,
        otp_sends: 0,
        otp_failures: 0,
        link_hash: None,
        link_expires_at: None,
        link_sends: 0,
        identity_id: None,
        version: 0,
        expires_at: now + FLOW_TTL_MS,
        created_at: now,
    };
    data.store(&mut flow);
    flow
}

async fn load_flow(state: &AppState, org: &OrgId, id: Option<&String>) -> ApiResult<PhoneFlow> {
    let id = required("correlationId", id, 64)?;
    let flow = state.app.phone.flow(org, &id).await.map_err(|_| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "invalid_correlation_id",
            "correlationId is not a flow of this organisation",
        )
        .in_format(ErrorFormat::Prove)
    })?;
    if flow.expired(now_millis()) {
        return Err(ApiError::new(
            axum::http::StatusCode::GONE,
            "flow_expired",
            "This flow has expired (flows last 15 minutes); start a new one",
        )
        .in_format(ErrorFormat::Prove));
    }
    Ok(flow)
}

/// Saves, retrying once on a concurrent change by reloading (steps are idempotent
/// checks on the reloaded flow, so the caller simply repeats).
async fn save(state: &AppState, flow: &mut PhoneFlow) -> ApiResult<()> {
    prove(crate::phone::save_flow(state, flow).await)
}

fn unavailable(e: TelcoError) -> ApiError {
    tracing::warn!(error = %e, "telco unavailable");
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "The network cannot answer right now; try again shortly",
    )
    .with_header("retry-after", "5")
    .in_format(ErrorFormat::Prove)
}

// ---- Pre-Fill / Prove Identity: start, validate, challenge, complete ----------------

/// `POST /v3/start`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartRequest {
    /// `desktop` or `mobile`.
    #[schema(pattern = "^(desktop|mobile)$")]
    pub flow_type: Option<String>,
    /// E.164 or national number.
    pub phone_number: Option<String>,
    /// Where the Instant Link lands (desktop).
    pub final_target_url: Option<String>,
    /// Date of birth.
    pub dob: Option<String>,
    /// SSN, full or last 4.
    pub ssn: Option<String>,
    /// E-mail.
    pub email_address: Option<String>,
    /// The person's IP address.
    pub ip_address: Option<String>,
    /// SMS text template.
    pub sms_message: Option<String>,
    /// Whether a wrong OTP may be re-entered.
    #[serde(rename = "allowOTPRetry")]
    pub allow_otp_retry: Option<bool>,
}

/// Starts a Pre-Fill flow.
#[utoipa::path(post, path = "/v3/start", tag = "phone", request_body = StartRequest,
    responses((status = 200, description = "authToken, correlationId, next")),
    security(("oauth" = [])))]
pub async fn start(
    State(state): State<AppState>,
    caller: Caller,
    req: Body<StartRequest>,
) -> ApiResult<Json<Value>> {
    let req = body(req)?;
    let flow_type = possession_type("flowType", req.flow_type.as_ref(), false)?;
    let phone = match text("phoneNumber", req.phone_number.as_ref(), 32)? {
        Some(p) => Some(prove(state.phone.parse(&p))?),
        None => None,
    };
    let data = FlowData {
        phone: phone.as_ref().map(|p| p.as_str().to_string()),
        phone_input: req.phone_number.clone(),
        dob: dob(req.dob.as_ref())?,
        ssn: ssn(req.ssn.as_ref())?,
        email: email("emailAddress", req.email_address.as_ref())?,
        ip_address: ip(req.ip_address.as_ref())?,
        phone_needed: phone.is_none(),
        ..Default::default()
    };
    let flow = new_flow(
        &caller,
        &state,
        FlowKind::Prefill,
        &flow_type,
        phone.as_ref(),
        data,
        target_url(req.final_target_url.as_ref(), flow_type == "desktop")?,
        sms_template(req.sms_message.as_ref(), &flow_type)?,
        req.allow_otp_retry.unwrap_or(false),
        None,
        None,
    );
    prove(crate::phone::create_flow(&state, &flow).await)?;
    let token = prove(sign_auth_token(&state, &flow).await)?;
    Ok(Json(json!({
        "authToken": token,
        "correlationId": flow.id,
        "next": next(&["v3-validate"]),
    })))
}

/// `POST /v3/validate` and the other calls that name only a flow.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlowRequest {
    /// The flow.
    pub correlation_id: Option<String>,
}

/// Validates possession and the line: SIM swap, reachability, trust.
#[utoipa::path(post, path = "/v3/validate", tag = "phone", request_body = FlowRequest,
    responses((status = 200, description = "success, challengeMissing, phoneNumber, next"),
              (status = 403, description = "step out of order (8003)", body = crate::error::ProveErrorBody),
              (status = 400, description = "correlationId unknown to this organisation, or the flow expired (8008)", body = crate::error::ProveErrorBody)),
    security(("oauth" = [])))]
pub async fn validate(
    State(state): State<AppState>,
    caller: Caller,
    req: Body<FlowRequest>,
) -> ApiResult<Json<Value>> {
    let req = body(req)?;
    let mut flow = load_flow(
        &state,
        caller.principal.org_id(),
        req.correlation_id.as_ref(),
    )
    .await?;
    if !flow.step.allows(flow.kind, Transition::Validate) {
        return Err(out_of_order(
            "step not allowed: validate follows start, once",
        ));
    }
    let mut data = FlowData::of(&flow);
    let mut success = flow.possession == Possession::Success;
    if flow.possession == Possession::Pending {
        // The SDK finished without proving possession (cancelled, closed): the flow ends.
        flow.possession = Possession::Failed;
        data.reasons.push("possession_not_completed".into());
    }
    if success {
        if let Some(phone) = data.e164() {
            let signals = evaluate_signals(&state, &phone).await;
            success = signals.pass();
            data.reasons.extend(signals.reasons);
        } else {
            success = false;
        }
    }
    flow.step = step_after(&flow, Transition::Validate, success)?;
    let challenge_missing = data.dob.is_none() && data.ssn.is_none();
    data.store(&mut flow);
    save(&state, &mut flow).await?;
    let mut out = json!({
        "success": success,
        "challengeMissing": challenge_missing,
        "next": if success { next(&["v3-challenge", "v3-complete"]) } else { next(&["done"]) },
    });
    if let Some(p) = data.phone_input.as_ref().or(data.phone.as_ref()) {
        out["phoneNumber"] = json!(p);
    }
    Ok(Json(out))
}

/// `POST /v3/challenge`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeRequest {
    /// The flow.
    pub correlation_id: Option<String>,
    /// Date of birth.
    pub dob: Option<String>,
    /// SSN, full or last 4.
    pub ssn: Option<String>,
}

fn individual_of(record: &KycAttributes) -> Value {
    let mut address = Map::new();
    if let Some(a) = &record.address {
        address.insert("address".into(), json!(a));
    }
    for (k, v) in [
        ("city", &record.locality),
        ("region", &record.region),
        ("postalCode", &record.postal_code),
    ] {
        if let Some(v) = v {
            address.insert(k.into(), json!(v));
        }
    }
    let mut out = Map::new();
    for (k, v) in [
        ("firstName", &record.given_name),
        ("lastName", &record.family_name),
        ("dob", &record.birthdate),
        ("ssn", &record.id_document),
    ] {
        if let Some(v) = v {
            out.insert(k.into(), json!(v));
        }
    }
    if !address.is_empty() {
        out.insert("addresses".into(), json!([address]));
    }
    if let Some(e) = &record.email {
        out.insert("emailAddresses".into(), json!([e]));
    }
    Value::Object(out)
}

/// Checks DOB or SSN against the subscriber record and returns the prefilled
/// individual.
#[utoipa::path(post, path = "/v3/challenge", tag = "phone", request_body = ChallengeRequest,
    responses((status = 200, description = "success, individual, next"),
              (status = 403, description = "step out of order (8003)", body = crate::error::ProveErrorBody),
              (status = 400, description = "correlationId unknown to this organisation, or the flow expired (8008)", body = crate::error::ProveErrorBody),
              (status = 500, description = "the network cannot answer (8000, with Retry-After)", body = crate::error::ProveErrorBody)),
    security(("oauth" = [])))]
pub async fn challenge(
    State(state): State<AppState>,
    caller: Caller,
    req: Body<ChallengeRequest>,
) -> ApiResult<Json<Value>> {
    let req = body(req)?;
    let mut flow = load_flow(
        &state,
        caller.principal.org_id(),
        req.correlation_id.as_ref(),
    )
    .await?;
    if !flow.step.allows(flow.kind, Transition::Challenge) {
        return Err(out_of_order(
            "step not allowed: challenge follows a successful validate",
        ));
    }
    let mut data = FlowData::of(&flow);
    let dob = dob(req.dob.as_ref())?.or(data.dob.clone());
    let ssn = ssn(req.ssn.as_ref())?.or(data.ssn.clone());
    if dob.is_none() && ssn.is_none() {
        return Err(prove_bad_request("dob or ssn is required"));
    }
    let phone = data
        .e164()
        .ok_or_else(|| out_of_order("the flow has no phone number"))?;
    let claims = KycAttributes {
        birthdate: dob.clone().filter(|d| d.len() == 10),
        id_document: ssn.clone(),
        id_document_type: ssn.as_ref().map(|_| "social_security_id".to_string()),
        ..Default::default()
    };
    let matched = match state.phone.telco.kyc_match(&phone, &claims).await {
        Ok(m) => m,
        Err(TelcoError::Unavailable(m)) => return Err(unavailable(TelcoError::Unavailable(m))),
        Err(_) => Default::default(),
    };
    // A partial date (YYYY-MM or MM-DD) is not a KYC Match claim: when it is the only
    // answer, the record is read and the date checked against it below.
    let only_partial_dob = claims.birthdate.is_none() && claims.id_document.is_none();
    let all_true = only_partial_dob
        || (!matched.is_empty() && matched.values().all(|f| f.matched == Tri::True));
    let record = if all_true {
        match state.phone.telco.kyc_fill_in(&phone).await {
            Ok(r) => Some(r),
            Err(TelcoError::Unavailable(m)) => return Err(unavailable(TelcoError::Unavailable(m))),
            Err(_) => None,
        }
    } else {
        None
    };
    // A partial date (YYYY-MM or MM-DD) must agree with the record's full date.
    let record = record.filter(|r| match (&dob, &r.birthdate) {
        (Some(d), Some(full)) if d.len() < 10 => {
            full.starts_with(d.as_str()) || full.ends_with(d.as_str())
        }
        _ => true,
    });
    let success = record.is_some();
    flow.step = step_after(&flow, Transition::Challenge, success)?;
    if !success {
        data.reasons.push("challenge_failed".into());
    }
    data.store(&mut flow);
    save(&state, &mut flow).await?;
    let mut out = json!({
        "success": success,
        "next": if success { next(&["v3-complete"]) } else { next(&["done"]) },
    });
    if let Some(r) = record {
        out["individual"] = individual_of(&r);
    }
    Ok(Json(out))
}

/// An address of `individual`.
#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct AddressEntry {
    /// Street address.
    pub address: Option<String>,
    /// Apartment, suite.
    pub extended_address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State.
    pub region: Option<String>,
    /// ZIP or ZIP+4.
    pub postal_code: Option<String>,
}

/// The person `complete` checks.
#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct Individual {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// Addresses (only the first is checked).
    pub addresses: Option<Vec<AddressEntry>>,
    /// E-mails (only the first is checked).
    pub email_addresses: Option<Vec<String>>,
    /// Date of birth.
    pub dob: Option<String>,
    /// SSN, full or last 4.
    pub ssn: Option<String>,
}

/// `POST /v3/complete`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompleteRequest {
    /// The flow.
    pub correlation_id: Option<String>,
    /// The person.
    pub individual: Option<Individual>,
}

fn score_of(m: &vouch_phone::telco::KycMatch, key: &str) -> Option<i64> {
    m.get(key).and_then(|f| match f.matched {
        Tri::True => Some(100),
        Tri::False => Some(i64::from(f.score.unwrap_or(0))),
        Tri::NotAvailable => None,
    })
}

fn is_true(m: &vouch_phone::telco::KycMatch, key: &str) -> Option<bool> {
    m.get(key).and_then(|f| match f.matched {
        Tri::True => Some(true),
        Tri::False => Some(false),
        Tri::NotAvailable => None,
    })
}

/// Matches the submitted person against the subscriber record (KYC Match).
#[utoipa::path(post, path = "/v3/complete", tag = "phone", request_body = CompleteRequest,
    responses((status = 200, description = "success, next, idv"),
              (status = 403, description = "step out of order (8003)", body = crate::error::ProveErrorBody),
              (status = 400, description = "correlationId unknown to this organisation, or the flow expired (8008)", body = crate::error::ProveErrorBody),
              (status = 500, description = "the network cannot answer (8000, with Retry-After)", body = crate::error::ProveErrorBody)),
    security(("oauth" = [])))]
pub async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    req: Body<CompleteRequest>,
) -> ApiResult<Json<Value>> {
    let req = body(req)?;
    let mut flow = load_flow(
        &state,
        caller.principal.org_id(),
        req.correlation_id.as_ref(),
    )
    .await?;
    if !flow.step.allows(flow.kind, Transition::Complete) {
        return Err(out_of_order(
            "step not allowed: complete follows validate or challenge",
        ));
    }
    let ind = req
        .individual
        .ok_or_else(|| prove_bad_request("field 'individual' is missing"))?;
    let first = text("individual.firstName", ind.first_name.as_ref(), 100)?;
    let last = text("individual.lastName", ind.last_name.as_ref(), 100)?;
    let birth = dob(ind.dob.as_ref())?;
    let ssn = ssn(ind.ssn.as_ref())?;
    let addresses = ind.addresses.unwrap_or_default();
    if addresses.len() > 10 {
        return Err(prove_bad_request(
            "individual.addresses has more than 10 entries",
        ));
    }
    let emails = ind.email_addresses.unwrap_or_default();
    if emails.len() > 10 {
        return Err(prove_bad_request(
            "individual.emailAddresses has more than 10 entries",
        ));
    }
    let address = addresses.first();
    let email = email("individual.emailAddresses", emails.first())?;
    let claims = KycAttributes {
        given_name: first.clone(),
        family_name: last.clone(),
        birthdate: birth.clone().filter(|d| d.len() == 10),
        id_document: ssn.clone(),
        id_document_type: ssn.as_ref().map(|_| "social_security_id".to_string()),
        address: match address {
            Some(a) => text("address", a.address.as_ref(), 200)?,
            None => None,
        },
        locality: match address {
            Some(a) => text("city", a.city.as_ref(), 100)?,
            None => None,
        },
        region: match address {
            Some(a) => text("region", a.region.as_ref(), 50)?,
            None => None,
        },
        postal_code: match address {
            Some(a) => text("postalCode", a.postal_code.as_ref(), 10)?,
            None => None,
        },
        email,
        ..Default::default()
    };
    if claims == KycAttributes::default() {
        return Err(prove_bad_request("individual has no field to check"));
    }
    let mut data = FlowData::of(&flow);
    let phone = data
        .e164()
        .ok_or_else(|| out_of_order("the flow has no phone number"))?;
    let m = match state.phone.telco.kyc_match(&phone, &claims).await {
        Ok(m) => m,
        Err(TelcoError::Unavailable(e)) => return Err(unavailable(TelcoError::Unavailable(e))),
        Err(_) => Default::default(),
    };
    let first_score = score_of(&m, "givenName");
    let last_score = score_of(&m, "familyName");
    let claimed: Vec<Option<i64>> = [
        (claims.given_name.is_some(), first_score),
        (claims.family_name.is_some(), last_score),
    ]
    .into_iter()
    .filter(|(claimed, _)| *claimed)
    .map(|(_, score)| score)
    .collect();
    let names = vouch_core::policy::names(&claimed);
    let name_score = names.score;
    let mut reason_codes = Vec::new();
    let names_ok = names.pass;
    if !names_ok {
        reason_codes.push("NA".to_string());
    }
    let dob_ok = is_true(&m, "birthdate");
    let ssn_key_ok = is_true(&m, "idDocument");
    if dob_ok == Some(false) {
        reason_codes.push("DI".to_string());
    }
    if ssn_key_ok == Some(false) {
        reason_codes.push("SS".to_string());
    }
    let address_score = score_of(&m, "address");
    let success = names_ok && dob_ok != Some(false) && ssn_key_ok != Some(false);
    let mut name = Map::new();
    if let Some(s) = first_score {
        name.insert("firstName".into(), json!(s));
    }
    if let Some(s) = last_score {
        name.insert("lastName".into(), json!(s));
    }
    if let Some(s) = name_score {
        name.insert("nameScore".into(), json!(s));
    }
    let mut source = Map::new();
    source.insert("name".into(), Value::Object(name));
    let mut address_out = Map::new();
    if let Some(s) = address_score {
        address_out.insert("addressScore".into(), json!(s));
        address_out.insert("street".into(), json!(s == 100));
    }
    for (k, key) in [
        ("city", "locality"),
        ("region", "region"),
        ("postalCode", "postalCode"),
    ] {
        if let Some(b) = is_true(&m, key) {
            address_out.insert(k.into(), json!(b));
        }
    }
    if !address_out.is_empty() {
        source.insert("address".into(), Value::Object(address_out));
    }
    let mut identifiers = Map::new();
    if let Some(b) = dob_ok {
        identifiers.insert("dob".into(), json!(b));
    }
    if let (Some(b), Some(s)) = (ssn_key_ok, &ssn) {
        identifiers.insert(if s.len() == 4 { "last4" } else { "ssn" }.into(), json!(b));
    }
    if !identifiers.is_empty() {
        source.insert("identifiers".into(), Value::Object(identifiers));
    }
    if let Some(b) = is_true(&m, "email") {
        source.insert("email".into(), json!({"emailAddress": b}));
    }
    let cip = if success && dob_ok == Some(true) && ssn_key_ok == Some(true) {
        "high"
    } else if success {
        "medium"
    } else {
        "low"
    };
    source.insert("cipConfidence".into(), json!(cip));
    source.insert("reasonCodes".into(), json!(reason_codes));
    flow.step = step_after(&flow, Transition::Complete, success)?;
    data.first_name = first;
    data.last_name = last;
    data.store(&mut flow);
    save(&state, &mut flow).await?;
    let changed = state
        .phone
        .telco
        .sim_swap_date(&phone)
        .await
        .ok()
        .and_then(|d| d.latest_sim_change)
        .map(|t| (chrono::Utc::now() - t).num_days());
    let changed = vouch_core::policy::sim_change_detected(changed);
    Ok(Json(json!({
        "success": success,
        "changeDetected": changed,
        "next": next(&["done"]),
        "idv": {"dataSource1": Value::Object(source), "multiCIPConfidence": cip},
        // vouch screens no AML lists yet: the block is there, empty, and says so.
        "kyc": {"amlTypeLists": [], "totalHits": 0, "screened": false},
    })))
}

// ---- Verified Users: verify, verify-status -------------------------------------------

/// `POST /v3/verify`: the 0.9.6 shape (`possessionType`) or the newer synchronous one
/// (`verificationType`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// The number.
    pub phone_number: Option<String>,
    /// `desktop`, `mobile`, `none` (0.9.6 shape).
    #[schema(pattern = "^(desktop|mobile|none)$")]
    pub possession_type: Option<String>,
    /// `verifiedUser`, `accountOpening`, … (newer shape).
    pub verification_type: Option<String>,
    /// Where the Instant Link lands.
    pub final_target_url: Option<String>,
    /// E-mail.
    pub email_address: Option<String>,
    /// IP address.
    pub ip_address: Option<String>,
    /// User agent (newer shape).
    pub user_agent: Option<String>,
    /// The customer's id for the person.
    pub client_customer_id: Option<String>,
    /// The customer's id for the human (newer shape).
    pub client_human_id: Option<String>,
    /// The customer's id for the request.
    pub client_request_id: Option<String>,
    /// SMS template.
    pub sms_message: Option<String>,
    /// Whether a wrong OTP may be re-entered.
    #[serde(rename = "allowOTPRetry")]
    pub allow_otp_retry: Option<bool>,
}

/// Verified Users: starts a verify flow, or answers synchronously with
/// `verificationType`.
#[utoipa::path(post, path = "/v3/verify", tag = "phone", request_body = VerifyRequest,
    responses((status = 200, description = "correlationId, authToken, success, possessionResult, verifyResult")),
    security(("oauth" = [])))]
pub async fn verify(
    State(state): State<AppState>,
    caller: Caller,
    req: Body<VerifyRequest>,
) -> ApiResult<Json<Value>> {
    let req = body(req)?;
    if req.verification_type.is_some() {
        return verify_sync(&state, &caller, req).await;
    }
    let first = required("firstName", req.first_name.as_ref(), 100)?;
    let last = required("lastName", req.last_name.as_ref(), 100)?;
    let input = required("phoneNumber", req.phone_number.as_ref(), 32)?;
    let phone = prove(state.phone.parse(&input))?;
    let ptype = possession_type("possessionType", req.possession_type.as_ref(), true)?;
    let data = FlowData {
        phone: Some(phone.as_str().to_string()),
        phone_input: Some(input),
        first_name: Some(first),
        last_name: Some(last),
        email: email("emailAddress", req.email_address.as_ref())?,
        ip_address: ip(req.ip_address.as_ref())?,
        ..Default::default()
    };
    let mut flow = new_flow(
        &caller,
        &state,
        FlowKind::Verify,
        &ptype,
        Some(&phone),
        data,
        target_url(req.final_target_url.as_ref(), ptype == "desktop")?,
        sms_template(req.sms_message.as_ref(), &ptype)?,
        req.allow_otp_retry.unwrap_or(false),
        text("clientCustomerId", req.client_customer_id.as_ref(), 128)?,
        text("clientRequestId", req.client_request_id.as_ref(), 128)?,
    );
    if ptype == "none" {
        // No possession: the data match is the whole answer.
        let result = verify_result(&state, &mut flow).await?;
        prove(crate::phone::create_flow(&state, &flow).await)?;
        let mut out = json!({
            "correlationId": flow.id,
            "success": result["success"],
            "possessionResult": "not_applicable",
            "verifyResult": result["verifyResult"],
        });
        if let Some(id) = result.get("identityId") {
            out["identityId"] = id.clone();
        }
        return Ok(Json(out));
    }
    prove(crate::phone::create_flow(&state, &flow).await)?;
    let token = prove(sign_auth_token(&state, &flow).await)?;
    Ok(Json(json!({
        "correlationId": flow.id,
        "authToken": token,
        "success": "pending",
        "possessionResult": "pending",
        "verifyResult": "pending",
    })))
}

/// Decides a verify flow whose possession is settled (success or not applicable):
/// names against the record, the line's signals; enrols the identity on success. The
/// answer is kept in the flow so that repeated status calls agree.
async fn verify_result(state: &AppState, flow: &mut PhoneFlow) -> ApiResult<Value> {
    let mut data = FlowData::of(flow);
    if let Some(r) = &data.result {
        return Ok(r.clone());
    }
    let phone = data
        .e164()
        .ok_or_else(|| out_of_order("the flow has no phone number"))?;
    let (names_ok, _, _) = names_match(
        state,
        &phone,
        data.first_name.as_deref(),
        data.last_name.as_deref(),
    )
    .await;
    let signals = evaluate_signals(state, &phone).await;
    let ok = names_ok && signals.pass();
    data.reasons.extend(signals.reasons.iter().cloned());
    if !names_ok {
        data.reasons.push("name_mismatch".into());
    }
    let mut result = json!({
        "success": if ok { "true" } else { "false" },
        "verifyResult": if ok { "success" } else { "failed" },
    });
    if ok {
        let id = enroll(
            state,
            &flow.org_id,
            &phone,
            flow.client_customer_id.clone(),
            None,
            None,
        )
        .await?;
        flow.identity_id = Some(id.clone());
        result["identityId"] = json!(id);
    }
    flow.step = step_after(flow, Transition::Finish, ok)?;
    data.result = Some(result.clone());
    data.store(flow);
    Ok(result)
}

const VERIFICATION_TYPES: [&str; 7] = [
    "verifiedUser",
    "accountOpening",
    "humanAssurance",
    "bot",
    "prefill",
    "prefillForBiz",
    "identityResolution",
];

/// Verification types whose answer carries the subscriber record (name, birth date,
/// addresses, e-mail). `prefillForBiz` fills in the person behind a business
/// application (vouch has no business records: its `business` block is absent).
const PREFILL_TYPES: [&str; 4] = [
    "prefill",
    "prefillForBiz",
    "accountOpening",
    "identityResolution",
];

/// An address in the newer synchronous `/v3/verify` shape (the SDK's `Address`:
/// `address`, `extendedAddress`, `city`, `region`, `zipCode`).
fn verify_address(challenge_shape: &Value) -> Value {
    let mut a = challenge_shape.as_object().cloned().unwrap_or_default();
    if let Some(zip) = a.remove("postalCode") {
        a.insert("zipCode".into(), zip);
    }
    Value::Object(a)
}

async fn verify_sync(
    state: &AppState,
    caller: &Caller,
    req: VerifyRequest,
) -> ApiResult<Json<Value>> {
    let vtype = required("verificationType", req.verification_type.as_ref(), 32)?;
    if !VERIFICATION_TYPES.contains(&vtype.as_str()) {
        return Err(prove_bad_request(format!(
            "verificationType must be one of {}",
            VERIFICATION_TYPES.join(", ")
        )));
    }
    let input = required("phoneNumber", req.phone_number.as_ref(), 32)?;
    let phone = prove(state.phone.parse(&input))?;
    let first = text("firstName", req.first_name.as_ref(), 100)?;
    let last = text("lastName", req.last_name.as_ref(), 100)?;
    email("emailAddress", req.email_address.as_ref())?;
    ip(req.ip_address.as_ref())?;
    text("userAgent", req.user_agent.as_ref(), 512)?;
    let client_customer_id = text("clientCustomerId", req.client_customer_id.as_ref(), 128)?;
    let client_human_id = text("clientHumanId", req.client_human_id.as_ref(), 128)?;
    let client_request_id = text("clientRequestId", req.client_request_id.as_ref(), 128)?;
    let signals = evaluate_signals(state, &phone).await;
    let record = match state.phone.telco.kyc_fill_in(&phone).await {
        Ok(r) => Some(r),
        Err(TelcoError::Unavailable(m)) => return Err(unavailable(TelcoError::Unavailable(m))),
        Err(_) => None,
    };
    let (names_ok, f, l) = if first.is_some() || last.is_some() {
        names_match(state, &phone, first.as_deref(), last.as_deref()).await
    } else {
        (record.is_some(), None, None)
    };
    let mut reasons: Vec<String> = signals.reasons.clone();
    if record.is_none() {
        reasons.push("no_subscriber_record".into());
    }
    if (first.is_some() || last.is_some()) && !names_ok {
        reasons.push("name_mismatch".into());
    }
    let assurance = match (record.is_some(), names_ok, signals.pass()) {
        (false, _, _) => "-1",
        (true, true, true) if f.unwrap_or(100) == 100 && l.unwrap_or(100) == 100 => "3",
        (true, true, true) => "2",
        (true, true, false) | (true, false, true) => "1",
        _ => "0",
    };
    let success = names_ok && signals.pass() && record.is_some();
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let mut out = json!({
        "correlationId": correlation_id,
        "phoneNumber": input,
        "success": if success { "true" } else { "false" },
        "isEnrolled": false,
        "evaluation": {
            "authentication": {"result": if signals.pass() { "pass" } else { "fail" }},
            "risk": {"result": if signals.pass() { "pass" } else { "fail" }, "trustScore": signals.trust},
        },
    });
    let mut identity = json!({"assuranceLevel": assurance, "reasons": reasons});
    if let Some(r) = &record {
        if PREFILL_TYPES.contains(&vtype.as_str()) {
            let ind = individual_of(r);
            for (k, v) in [
                ("firstName", "firstName"),
                ("lastName", "lastName"),
                ("dob", "dateOfBirth"),
            ] {
                if let Some(x) = ind.get(k) {
                    identity[v] = x.clone();
                }
            }
            if let Some(Value::Array(a)) = ind.get("addresses") {
                identity["addresses"] = a.iter().map(verify_address).collect();
            }
            if let Some(e) = ind.get("emailAddresses") {
                identity["emails"] = e.clone();
            }
        } else {
            if let Some(x) = &first {
                identity["firstName"] = json!(x);
            }
            if let Some(x) = &last {
                identity["lastName"] = json!(x);
            }
        }
    }
    out["identity"] = identity;
    if success {
        let id = enroll(
            state,
            caller.principal.org_id(),
            &phone,
            client_customer_id.clone(),
            client_human_id.clone(),
            None,
        )
        .await?;
        out["proveId"] = json!(id);
        out["isEnrolled"] = json!(true);
    }
    for (k, v) in [
        ("clientCustomerId", client_customer_id),
        ("clientHumanId", client_human_id),
        ("clientRequestId", client_request_id),
    ] {
        if let Some(v) = v {
            out[k] = json!(v);
        }
    }
    Ok(Json(out))
}

/// `POST /v3/verify-status`, `/v3/unify-status`, `/v3/unify-bind`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StatusRequest {
    /// The flow.
    pub correlation_id: Option<String>,
    /// The customer's request id (finds the flow when correlationId is absent).
    pub client_request_id: Option<String>,
    /// The number (unify with possessionType none).
    pub phone_number: Option<String>,
}

async fn status_flow(
    state: &AppState,
    caller: &Caller,
    req: &StatusRequest,
) -> ApiResult<PhoneFlow> {
    if req.correlation_id.is_some() {
        return load_flow(
            state,
            caller.principal.org_id(),
            req.correlation_id.as_ref(),
        )
        .await;
    }
    let rid = text("clientRequestId", req.client_request_id.as_ref(), 128)?
        .ok_or_else(|| prove_bad_request("correlationId or clientRequestId is required"))?;
    let flow = state
        .app
        .phone
        .flow_by_request(caller.principal.org_id(), &rid)
        .await
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "invalid_correlation_id",
                "No flow of this organisation has that clientRequestId",
            )
            .in_format(ErrorFormat::Prove)
        })?;
    load_flow(state, caller.principal.org_id(), Some(&flow.id)).await
}

/// The outcome of a verify flow.
#[utoipa::path(post, path = "/v3/verify-status", tag = "phone", request_body = StatusRequest,
    responses((status = 200, description = "success, possessionResult, verifyResult, identityId"),
              (status = 403, description = "step out of order (8003)", body = crate::error::ProveErrorBody),
              (status = 400, description = "correlationId unknown to this organisation, or the flow expired (8008)", body = crate::error::ProveErrorBody)),
    security(("oauth" = [])))]
pub async fn verify_status(
    State(state): State<AppState>,
    caller: Caller,
    req: Body<StatusRequest>,
) -> ApiResult<Json<Value>> {
    let req = body(req)?;
    let mut flow = status_flow(&state, &caller, &req).await?;
    if flow.kind != FlowKind::Verify {
        return Err(out_of_order("verify-status follows verify"));
    }
    let possession = flow.possession;
    let out = match possession {
        Possession::Pending => {
            json!({"success": "pending", "possessionResult": "pending", "verifyResult": "pending"})
        }
        Possession::Failed => {
            json!({"success": "false", "possessionResult": "failed", "verifyResult": "not_applicable"})
        }
        p => {
            let fresh = FlowData::of(&flow).result.is_none();
            let result = verify_result(&state, &mut flow).await?;
            if fresh {
                save(&state, &mut flow).await?;
            }
            let mut out = json!({
                "success": result["success"],
                "possessionResult": if p == Possession::NotApplicable { "not_applicable" } else { "success" },
                "verifyResult": result["verifyResult"],
            });
            if let Some(id) = result.get("identityId") {
                out["identityId"] = id.clone();
            }
            out
        }
    };
    Ok(Json(out))
}

// ---- Unify: unify, unify-status, unify-bind -----------------------------------------

/// `POST /v3/unify`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnifyRequest {
    /// `desktop`, `mobile`, `none`.
    #[schema(pattern = "^(desktop|mobile|none)$")]
    pub possession_type: Option<String>,
    /// The number.
    pub phone_number: Option<String>,
    /// Where the Instant Link lands.
    pub final_target_url: Option<String>,
    /// The customer's id for the person.
    pub client_customer_id: Option<String>,
    /// The customer's id for the request.
    pub client_request_id: Option<String>,
    /// SMS template.
    pub sms_message: Option<String>,
    /// Whether a wrong OTP may be re-entered.
    #[serde(rename = "allowOTPRetry")]
    pub allow_otp_retry: Option<bool>,
    /// Bind again even if bound.
    pub rebind: Option<bool>,
}

/// Unified authentication: possession now, a bound identity (`proveId`) after.
#[utoipa::path(post, path = "/v3/unify", tag = "phone", request_body = UnifyRequest,
    responses((status = 200, description = "correlationId, authToken, success")),
    security(("oauth" = [])))]
pub async fn unify(
    State(state): State<AppState>,
    caller: Caller,
    req: Body<UnifyRequest>,
) -> ApiResult<Json<Value>> {
    let req = body(req)?;
    let ptype = possession_type("possessionType", req.possession_type.as_ref(), true)?;
    let input = text("phoneNumber", req.phone_number.as_ref(), 32)?;
    if input.is_none() && ptype != "mobile" {
        return Err(prove_bad_request(
            "field 'phoneNumber' is missing: it is required unless possessionType is mobile",
        ));
    }
    let phone = match &input {
        Some(p) => Some(prove(state.phone.parse(p))?),
        None => None,
    };
    let data = FlowData {
        phone: phone.as_ref().map(|p| p.as_str().to_string()),
        phone_input: input,
        phone_needed: phone.is_none(),
        result: req.rebind.filter(|r| *r).map(|_| json!({"rebind": true})),
        ..Default::default()
    };
    let flow = new_flow(
        &caller,
        &state,
        FlowKind::Unify,
        &ptype,
        phone.as_ref(),
        data,
        target_url(req.final_target_url.as_ref(), ptype == "desktop")?,
        sms_template(req.sms_message.as_ref(), &ptype)?,
        req.allow_otp_retry.unwrap_or(false),
        text("clientCustomerId", req.client_customer_id.as_ref(), 128)?,
        text("clientRequestId", req.client_request_id.as_ref(), 128)?,
    );
    prove(crate::phone::create_flow(&state, &flow).await)?;
    let mut out = json!({"correlationId": flow.id, "success": "pending"});
    if ptype != "none" {
        out["authToken"] = json!(prove(sign_auth_token(&state, &flow).await)?);
    }
    Ok(Json(out))
}

async fn bind(state: &AppState, flow: &mut PhoneFlow, phone: &E164) -> ApiResult<String> {
    if let Some(id) = &flow.identity_id {
        return Ok(id.clone());
    }
    let id = enroll(
        state,
        &flow.org_id,
        phone,
        flow.client_customer_id.clone(),
        None,
        None,
    )
    .await?;
    flow.identity_id = Some(id.clone());
    flow.step = step_after(flow, Transition::Finish, true)?;
    save(state, flow).await?;
    Ok(id)
}

/// The outcome of a unify flow.
#[utoipa::path(post, path = "/v3/unify-status", tag = "phone", request_body = StatusRequest,
    responses((status = 200, description = "phoneNumber, success, proveId"),
              (status = 403, description = "step out of order (8003)", body = crate::error::ProveErrorBody),
              (status = 400, description = "correlationId unknown to this organisation, or the flow expired (8008)", body = crate::error::ProveErrorBody)),
    security(("oauth" = [])))]
pub async fn unify_status(
    State(state): State<AppState>,
    caller: Caller,
    req: Body<StatusRequest>,
) -> ApiResult<Json<Value>> {
    let req = body(req)?;
    let mut flow = status_flow(&state, &caller, &req).await?;
    if flow.kind != FlowKind::Unify {
        return Err(out_of_order("unify-status follows unify"));
    }
    let data = FlowData::of(&flow);
    let phone_out = data
        .phone_input
        .clone()
        .or(data.phone.clone())
        .unwrap_or_default();
    let mut out = json!({"phoneNumber": phone_out});
    match flow.possession {
        Possession::Pending => out["success"] = json!("pending"),
        Possession::Failed => out["success"] = json!("false"),
        Possession::NotApplicable => {
            // No possession in this flow: true only if the number is already bound.
            let phone = data
                .e164()
                .ok_or_else(|| out_of_order("the flow has no phone number"))?;
            let bound = prove(
                state
                    .app
                    .phone
                    .active_of_number(&flow.org_id, phone.as_str())
                    .await
                    .map_err(ApiError::from),
            )?;
            match bound {
                Some(i) => {
                    out["success"] = json!("true");
                    out["proveId"] = json!(i.id);
                }
                None => out["success"] = json!("possession_required"),
            }
        }
        _ => {
            let phone = data
                .e164()
                .ok_or_else(|| out_of_order("the flow has no phone number"))?;
            let signals = evaluate_signals(&state, &phone).await;
            if signals.pass() {
                let id = bind(&state, &mut flow, &phone).await?;
                out["success"] = json!("true");
                out["proveId"] = json!(id);
            } else {
                out["success"] = json!("false");
            }
        }
    }
    Ok(Json(out))
}

/// Binds the flow's number to an identity after the customer's own possession check
/// (possessionType none).
#[utoipa::path(post, path = "/v3/unify-bind", tag = "phone", request_body = StatusRequest,
    responses((status = 200, description = "phoneNumber, success, proveId"),
              (status = 403, description = "step out of order (8003)", body = crate::error::ProveErrorBody),
              (status = 400, description = "correlationId unknown to this organisation, or the flow expired (8008)", body = crate::error::ProveErrorBody)),
    security(("oauth" = [])))]
pub async fn unify_bind(
    State(state): State<AppState>,
    caller: Caller,
    req: Body<StatusRequest>,
) -> ApiResult<Json<Value>> {
    let req = body(req)?;
    let mut flow = status_flow(&state, &caller, &req).await?;
    if flow.kind != FlowKind::Unify
        || matches!(flow.possession, Possession::Failed | Possession::Pending)
    {
        return Err(out_of_order(
            "unify-bind needs a unify flow whose possession succeeded or was not applicable",
        ));
    }
    let data = FlowData::of(&flow);
    let phone = match (
        text("phoneNumber", req.phone_number.as_ref(), 32)?,
        data.e164(),
    ) {
        (Some(p), Some(own)) => {
            let p = prove(state.phone.parse(&p))?;
            if p.as_str() != own.as_str() {
                return Err(prove_bad_request("phoneNumber is not the flow's number"));
            }
            own
        }
        (_, Some(own)) => own,
        (Some(p), None) => prove(state.phone.parse(&p))?,
        (None, None) => return Err(prove_bad_request("field 'phoneNumber' is missing")),
    };
    let phone_out = data
        .phone_input
        .clone()
        .unwrap_or_else(|| phone.as_str().to_string());
    // The same line checks as unify-status: a swapped SIM or a dead line is not bound.
    if flow.identity_id.is_none() && !evaluate_signals(&state, &phone).await.pass() {
        return Ok(Json(json!({"phoneNumber": phone_out, "success": "false"})));
    }
    let id = bind(&state, &mut flow, &phone).await?;
    Ok(Json(json!({
        "phoneNumber": phone_out,
        "success": "true",
        "proveId": id,
    })))
}

/// The step a transition leads to (`vouch_core::phone_flow`), or 403 out of order.
fn step_after(flow: &PhoneFlow, t: Transition, ok: bool) -> ApiResult<Step> {
    flow.step
        .after(flow.kind, t, ok)
        .map_err(|e| out_of_order(e.to_string()))
}

// ---- Identity Manager ----------------------------------------------------------------

/// Enrols (or finds) the identity of a number (`crate::phone::enroll`), answered in
/// the phone API's error shape.
pub async fn enroll(
    state: &AppState,
    org: &OrgId,
    phone: &E164,
    client_customer_id: Option<String>,
    client_human_id: Option<String>,
    device_id: Option<String>,
) -> ApiResult<String> {
    prove(
        crate::phone::enroll(
            state,
            org,
            phone,
            client_customer_id,
            client_human_id,
            device_id,
        )
        .await
        .map_err(ApiError::from),
    )
}

/// `POST /v3/identity`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrollRequest {
    /// The number.
    pub phone_number: Option<String>,
    /// The customer's id for the person.
    pub client_customer_id: Option<String>,
    /// The customer's id for the human.
    pub client_human_id: Option<String>,
    /// The customer's id for the request.
    pub client_request_id: Option<String>,
    /// A bound device.
    pub device_id: Option<String>,
    /// Extra attributes (accepted, not stored).
    pub identity_attributes: Option<Vec<Value>>,
}

async fn enroll_one(state: &AppState, org: &OrgId, req: &EnrollRequest) -> ApiResult<String> {
    let input = required("phoneNumber", req.phone_number.as_ref(), 32)?;
    let phone = prove(state.phone.parse(&input))?;
    text("clientRequestId", req.client_request_id.as_ref(), 128)?;
    if req
        .identity_attributes
        .as_ref()
        .is_some_and(|a| a.len() > 50)
    {
        return Err(prove_bad_request(
            "identityAttributes has more than 50 entries",
        ));
    }
    enroll(
        state,
        org,
        &phone,
        text("clientCustomerId", req.client_customer_id.as_ref(), 128)?,
        text("clientHumanId", req.client_human_id.as_ref(), 128)?,
        text("deviceId", req.device_id.as_ref(), 128)?,
    )
    .await
}

/// Enrols a phone identity for change monitoring.
#[utoipa::path(post, path = "/v3/identity", tag = "phone", request_body = EnrollRequest,
    responses((status = 200, description = "identityId, proveId, success")),
    security(("oauth" = [])))]
pub async fn enroll_identity(
    State(state): State<AppState>,
    caller: Caller,
    req: Body<EnrollRequest>,
) -> ApiResult<Json<Value>> {
    let req = body(req)?;
    let id = enroll_one(&state, caller.principal.org_id(), &req).await?;
    Ok(Json(
        json!({"identityId": id, "proveId": id, "success": true}),
    ))
}

/// `POST /v3/identity/batch`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchRequest {
    /// Up to 100 enrolments.
    pub items: Option<Vec<EnrollRequest>>,
    /// The customer's id for the request.
    pub client_request_id: Option<String>,
}

/// Enrols up to 100 identities; each item succeeds or carries its own error.
#[utoipa::path(post, path = "/v3/identity/batch", tag = "phone", request_body = BatchRequest,
    responses((status = 200, description = "results")),
    security(("oauth" = [])))]
pub async fn enroll_batch(
    State(state): State<AppState>,
    caller: Caller,
    req: Body<BatchRequest>,
) -> ApiResult<Json<Value>> {
    let req = body(req)?;
    let items = req.items.unwrap_or_default();
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(prove_bad_request(format!(
            "items must hold 1 to {MAX_BATCH} enrolments"
        )));
    }
    let mut results = Vec::with_capacity(items.len());
    for item in &items {
        results.push(
            match enroll_one(&state, caller.principal.org_id(), item).await {
                Ok(id) => json!({"identityId": id, "proveId": id, "success": true}),
                Err(e) if e.status.is_client_error() => {
                    json!({"success": false, "error": e.message})
                }
                Err(e) => return Err(e),
            },
        );
    }
    Ok(Json(json!({"results": results})))
}

/// `GET /v3/identity` query.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// Page size, 1–100 (default 20).
    pub limit: Option<i64>,
    /// The `lastKey` of the previous page.
    pub start_key: Option<String>,
    /// Include deactivated identities.
    pub show_inactive: Option<bool>,
    /// The customer's id for the request.
    pub client_request_id: Option<String>,
}

/// Lists the organisation's identities, a page at a time.
#[utoipa::path(get, path = "/v3/identity", tag = "phone", params(ListQuery),
    responses((status = 200, description = "results, lastKey")),
    security(("oauth" = [])))]
pub async fn list_identities(
    State(state): State<AppState>,
    caller: Caller,
    q: Result<ApiQuery<ListQuery>, ApiError>,
) -> ApiResult<Json<Value>> {
    let q = q.map_err(|e| e.in_format(ErrorFormat::Prove))?.0;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(prove_bad_request("limit must be 1 to 100"));
    }
    let start = text("startKey", q.start_key.as_ref(), 64)?;
    let page = prove(
        state
            .app
            .phone
            .identities(
                caller.principal.org_id(),
                start.as_deref(),
                q.show_inactive.unwrap_or(false),
                limit + 1,
            )
            .await
            .map_err(ApiError::from),
    )?;
    let more = page.len() as i64 > limit;
    let page: Vec<_> = page.into_iter().take(limit as usize).collect();
    let mut out = json!({
        "results": page.iter().map(|i| json!({"identityId": i.id, "proveId": i.id})).collect::<Vec<_>>(),
    });
    if more {
        if let Some(last) = page.last() {
            out["lastKey"] = json!(last.id);
        }
    }
    Ok(Json(out))
}

fn identity_json(i: &PhoneIdentity) -> Value {
    let mut out = json!({
        "identityId": i.id,
        "proveId": i.id,
        "phoneNumber": i.phone.trim_start_matches('+'),
        "active": i.active,
        "monitored": i.monitored,
        "createdAt": i.created_at / 1000,
        "creationString": vouch_core::rfc3339(i.created_at),
    });
    for (k, v) in [
        ("clientCustomerId", &i.client_customer_id),
        ("clientHumanId", &i.client_human_id),
        ("deviceId", &i.device_id),
        ("carrier", &i.carrier),
        ("lineType", &i.line_type),
        ("countryCode", &i.country_code),
    ] {
        if let Some(v) = v {
            out[k] = json!(v);
        }
    }
    out
}

fn identity_id(id: &str) -> ApiResult<&str> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(prove_bad_request("the identity id is malformed"));
    }
    Ok(id)
}

/// One identity (by `identityId` / `proveId`; another organisation's answers 404).
#[utoipa::path(get, path = "/v3/identity/{id}", tag = "phone",
    params(("id" = String, Path, description = "identityId or proveId")),
    responses((status = 200, description = "the identity"),
              (status = 400, description = "malformed identity id", body = crate::error::ProveErrorBody)),
    security(("oauth" = [])))]
pub async fn get_identity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = identity_id(&id)?;
    let i = prove(
        state
            .app
            .phone
            .identity(caller.principal.org_id(), id)
            .await
            .map_err(ApiError::from),
    )?;
    Ok(Json(identity_json(&i)))
}

/// The organisation's identities with a number.
#[utoipa::path(get, path = "/v3/identity/{mobileNumber}/lookup", tag = "phone",
    params(("mobileNumber" = String, Path, description = "E.164 or national number")),
    responses((status = 200, description = "items"),
              (status = 400, description = "not a phone number", body = crate::error::ProveErrorBody)),
    security(("oauth" = [])))]
pub async fn lookup_identity(
    State(state): State<AppState>,
    caller: Caller,
    Path(number): Path<String>,
) -> ApiResult<Json<Value>> {
    let phone = prove(state.phone.parse(&number))?;
    let items = prove(
        state
            .app
            .phone
            .identities_of_number(caller.principal.org_id(), phone.as_str())
            .await
            .map_err(ApiError::from),
    )?;
    Ok(Json(
        json!({"items": items.iter().map(identity_json).collect::<Vec<_>>()}),
    ))
}

/// Re-activates an identity.
#[utoipa::path(post, path = "/v3/identity/{id}/activate", tag = "phone",
    params(("id" = String, Path, description = "identityId")),
    responses((status = 200, description = "success"),
              (status = 400, description = "malformed identity id", body = crate::error::ProveErrorBody)),
    security(("oauth" = [])))]
pub async fn activate_identity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    set_active(&state, &caller, &id, true).await
}

/// Deactivates an identity (kept, not monitored, hidden from lists by default).
#[utoipa::path(post, path = "/v3/identity/{id}/deactivate", tag = "phone",
    params(("id" = String, Path, description = "identityId")),
    responses((status = 200, description = "success"),
              (status = 400, description = "malformed identity id", body = crate::error::ProveErrorBody)),
    security(("oauth" = [])))]
pub async fn deactivate_identity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    set_active(&state, &caller, &id, false).await
}

async fn set_active(
    state: &AppState,
    caller: &Caller,
    id: &str,
    active: bool,
) -> ApiResult<Json<Value>> {
    let id = identity_id(id)?;
    prove(
        state
            .app
            .phone
            .set_active(caller.principal.org_id(), id, active)
            .await
            .map_err(ApiError::from),
    )?;
    Ok(Json(json!({"success": true})))
}

/// Deletes an identity.
#[utoipa::path(delete, path = "/v3/identity/{id}", tag = "phone",
    params(("id" = String, Path, description = "identityId")),
    responses((status = 200, description = "success"),
              (status = 400, description = "malformed identity id", body = crate::error::ProveErrorBody)),
    security(("oauth" = [])))]
pub async fn delete_identity(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = identity_id(&id)?;
    prove(
        state
            .app
            .phone
            .delete(caller.principal.org_id(), id)
            .await
            .map_err(ApiError::from),
    )?;
    Ok(Json(json!({"success": true})))
}

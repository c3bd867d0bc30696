//! What the browser client SDK (`/sdk/vouch-auth.js`) talks to: possession for a flow,
//! authenticated by the flow's `authToken` (`Authorization: Bearer`, or `?token=` for
//! the event stream, which `EventSource` cannot give headers). Also the Instant Link
//! landing (`/l/{token}`) and, in dev mode only, the SMS inbox, the change-event
//! trigger and the example page.

use crate::error::{ApiError, ApiJson, ApiQuery, ApiResult};
use crate::phone::{
    check_otp, decide_possession, flow_of_token, send_link, send_otp, FlowData, OtpOutcome,
    LINK_TTL_MS, MAX_SENDS, OTP_TTL_MS,
};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use futures::stream::Stream;
use serde::Deserialize;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::time::Duration;
use vouch_core::model::{Actor, AuditRecord};
use vouch_core::now_millis;
use vouch_core::phone_flow::Possession;
use vouch_phone::telco::{ChangeEvent, DeviceProof, NumberCheck};
use vouch_phone::{otp, E164};
use vouch_store::phone::PhoneFlow;

/// The browser SDK, embedded.
pub const SDK_JS: &str = include_str!("../../assets/vouch-auth.js");
/// The dev-mode example page.
pub const DEMO_HTML: &str = include_str!("../../assets/phone-demo.html");

fn bearer(headers: &HeaderMap) -> ApiResult<&str> {
    crate::auth::presented_secret(headers).ok_or_else(|| {
        ApiError::unauthorized("Missing auth token: send Authorization: Bearer <authToken>")
    })
}

async fn flow(state: &AppState, headers: &HeaderMap) -> ApiResult<PhoneFlow> {
    flow_of_token(state, bearer(headers)?).await
}

fn session_json(flow: &PhoneFlow) -> Value {
    let data = FlowData::of(flow);
    let methods: Vec<&str> = match flow.flow_type.as_str() {
        "mobile" => vec!["mobile_auth", "otp"],
        "desktop" => vec!["instant_link"],
        _ => vec![],
    };
    json!({
        "correlationId": flow.id,
        "flowType": flow.flow_type,
        "methods": methods,
        "possession": flow.possession.as_str(),
        "phoneNumberNeeded": data.phone.is_none(),
        "maskedNumber": data.e164().map(|p| p.masked()),
        "sendsLeft": (MAX_SENDS - flow.otp_sends - flow.link_sends).max(0),
        "attemptsLeft": (crate::phone::otp_attempts(flow) - flow.otp_failures).max(0),
        "allowOtpRetry": flow.allow_otp_retry,
        "expiresAt": vouch_core::rfc3339(flow.expires_at),
    })
}

/// The flow as the SDK sees it.
#[utoipa::path(get, path = "/v3/sdk/session", tag = "phone",
    responses((status = 200, description = "flow type, methods, possession"),
              (status = 410, description = "the flow has expired", body = crate::error::ErrorBody)),
    security(("flow_token" = [])))]
pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    Ok(Json(session_json(&flow(&state, &headers).await?)))
}

/// Body of the start steps.
#[derive(Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct StartStep {
    /// The number, when the flow has none or the person changes it.
    pub phone_number: Option<String>,
}

fn optional_body<T: Default>(b: Result<ApiJson<T>, ApiError>) -> ApiResult<T> {
    match b {
        Ok(ApiJson(v)) => Ok(v),
        Err(e) if e.code == "unsupported_media_type" => Ok(T::default()),
        Err(e) => Err(e),
    }
}

/// Sends (or re-sends) the SMS OTP. The answer is the same whatever the number.
#[utoipa::path(post, path = "/v3/sdk/otp/start", tag = "phone", request_body = StartStep,
    responses((status = 200, description = "sent"),
              (status = 409, description = "possession is already decided", body = crate::error::ErrorBody),
              (status = 410, description = "the flow has expired", body = crate::error::ErrorBody),
              (status = 422, description = "the text could not be sent to this number", body = crate::error::ErrorBody),
              (status = 429, description = "no sends left", body = crate::error::ErrorBody),
              (status = 503, description = "texts cannot be sent right now", body = crate::error::ErrorBody)),
    security(("flow_token" = [])))]
pub async fn otp_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<ApiJson<StartStep>, ApiError>,
) -> ApiResult<Json<Value>> {
    let body = optional_body(body)?;
    let mut flow = flow(&state, &headers).await?;
    if flow.flow_type == "desktop" {
        return Err(ApiError::bad_request(
            "This flow uses an Instant Link, not an OTP",
        ));
    }
    let phone = send_otp(&state, &mut flow, body.phone_number.as_deref()).await?;
    Ok(Json(json!({
        "sent": true,
        "maskedNumber": phone.masked(),
        "expiresIn": OTP_TTL_MS / 1000,
        "sendsLeft": (MAX_SENDS - flow.otp_sends - flow.link_sends).max(0),
    })))
}

/// Body of the OTP finish step.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct FinishStep {
    /// The code the person typed.
    pub otp: Option<String>,
}

/// Checks the OTP.
#[utoipa::path(post, path = "/v3/sdk/otp/finish", tag = "phone", request_body = FinishStep,
    responses((status = 200, description = "success"), (status = 400, description = "wrong code"),
              (status = 403, description = "too many wrong codes: possession failed", body = crate::error::ErrorBody),
              (status = 409, description = "possession is already decided", body = crate::error::ErrorBody),
              (status = 410, description = "the flow has expired", body = crate::error::ErrorBody)),
    security(("flow_token" = [])))]
pub async fn otp_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<ApiJson<FinishStep>, ApiError>,
) -> ApiResult<Json<Value>> {
    let body = body?.0;
    let code = body
        .otp
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("otp is required"))?;
    let mut flow = flow(&state, &headers).await?;
    // A concurrent attempt bumps the version: read again and count this one too.
    let mut tries = 0;
    let outcome = loop {
        match check_otp(&state, &mut flow, &code).await {
            Err(e) if e.code == "conflict" && tries < 3 => {
                tries += 1;
                flow = crate::phone::flow_of_token(&state, bearer(&headers)?).await?;
            }
            other => break other?,
        }
    };
    match outcome {
        OtpOutcome::Success => Ok(Json(json!({"status": "success"}))),
        OtpOutcome::Wrong(left) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "otp_invalid",
            format!("That code is not right; {left} attempts left"),
        )),
        OtpOutcome::Expired => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "otp_expired",
            "That code has expired; ask for a new one",
        )),
        OtpOutcome::Failed => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "possession_failed",
            "Too many wrong codes: this verification has failed",
        )),
    }
}

/// Sends (or re-sends) the Instant Link.
#[utoipa::path(post, path = "/v3/sdk/instant-link/start", tag = "phone", request_body = StartStep,
    responses((status = 200, description = "sent"),
              (status = 409, description = "possession is already decided", body = crate::error::ErrorBody),
              (status = 410, description = "the flow has expired", body = crate::error::ErrorBody),
              (status = 422, description = "the text could not be sent to this number", body = crate::error::ErrorBody),
              (status = 429, description = "no sends left", body = crate::error::ErrorBody),
              (status = 503, description = "texts cannot be sent right now", body = crate::error::ErrorBody)),
    security(("flow_token" = [])))]
pub async fn link_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<ApiJson<StartStep>, ApiError>,
) -> ApiResult<Json<Value>> {
    let body = optional_body(body)?;
    let mut flow = flow(&state, &headers).await?;
    if flow.flow_type != "desktop" {
        return Err(ApiError::bad_request("Instant Link is for desktop flows"));
    }
    let phone = send_link(&state, &mut flow, body.phone_number.as_deref()).await?;
    Ok(Json(json!({
        "sent": true,
        "maskedNumber": phone.masked(),
        "expiresIn": LINK_TTL_MS / 1000,
        "sendsLeft": (MAX_SENDS - flow.otp_sends - flow.link_sends).max(0),
    })))
}

/// The person gives up (closes the dialog): possession fails.
#[utoipa::path(post, path = "/v3/sdk/cancel", tag = "phone",
    responses((status = 200, description = "cancelled"),
              (status = 410, description = "the flow has expired", body = crate::error::ErrorBody)),
    security(("flow_token" = [])))]
pub async fn cancel(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let mut flow = flow(&state, &headers).await?;
    if flow.possession == Possession::Pending {
        decide_possession(&state, &mut flow, false, "cancelled", Some("cancelled")).await?;
    }
    Ok(Json(session_json(&flow)))
}

/// Network authentication (the "mobile auth" path). With the sandbox, the network
/// answers at once; with an operator, the device is sent to its authorization endpoint
/// (`redirect`), which comes back to `/v3/sdk/mobile-auth/callback`. `fallback` means
/// the network cannot tell: use the OTP.
#[utoipa::path(post, path = "/v3/sdk/mobile-auth", tag = "phone",
    responses((status = 200, description = "success, failed, fallback or redirect"),
              (status = 400, description = "not a mobile flow", body = crate::error::ErrorBody),
              (status = 410, description = "the flow has expired", body = crate::error::ErrorBody)),
    security(("flow_token" = [])))]
pub async fn mobile_auth(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let mut flow = flow(&state, &headers).await?;
    if flow.flow_type != "mobile" {
        return Err(ApiError::bad_request(
            "Network authentication is for mobile flows",
        ));
    }
    if flow.possession != Possession::Pending {
        return Ok(Json(json!({"status": flow.possession.as_str()})));
    }
    let mut data = FlowData::of(&flow);
    let Some(phone) = data.e164() else {
        return Ok(Json(json!({"status": "fallback"})));
    };
    let callback = format!("{}/v3/sdk/mobile-auth/callback", state.config.base_url());
    let nonce = otp::link_token();
    if let Some(r) =
        state
            .phone
            .telco
            .network_auth_redirect(&phone, &format!("{}.{nonce}", flow.id), &callback)
    {
        data.network_state = Some(otp::token_digest(&nonce));
        data.store(&mut flow);
        crate::phone::save_flow(&state, &mut flow).await?;
        return Ok(Json(json!({"status": "redirect", "url": r.url})));
    }
    let status = match state
        .phone
        .telco
        .verify_number(&phone, &DeviceProof::None)
        .await
    {
        Ok(NumberCheck::Verified) => {
            decide_possession(&state, &mut flow, true, "mobile_auth", None).await?;
            "success"
        }
        Ok(NumberCheck::NotVerified) => {
            decide_possession(
                &state,
                &mut flow,
                false,
                "mobile_auth",
                Some("network_number_mismatch"),
            )
            .await?;
            "failed"
        }
        Ok(NumberCheck::Unavailable) | Err(_) => "fallback",
    };
    Ok(Json(json!({"status": status})))
}

/// The operator's redirect after network authentication.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// Authorization code.
    pub code: Option<String>,
    /// `flowId.nonce`.
    pub state: Option<String>,
    /// OAuth error, when the network could not authenticate the device.
    pub error: Option<String>,
}

/// Completes network authentication: exchanges the code, asks Number Verification.
#[utoipa::path(get, path = "/v3/sdk/mobile-auth/callback", tag = "phone", params(CallbackQuery),
    responses((status = 204, description = "recorded"),
              (status = 400, description = "missing or unknown state", body = crate::error::ErrorBody)))]
pub async fn mobile_auth_callback(
    State(state): State<AppState>,
    q: Result<ApiQuery<CallbackQuery>, ApiError>,
) -> ApiResult<StatusCode> {
    let q = q?.0;
    let (flow_id, nonce) = q
        .state
        .as_deref()
        .and_then(|s| s.split_once('.'))
        .ok_or_else(|| ApiError::bad_request("state is missing or malformed"))?;
    let mut flow = state
        .app
        .phone
        .flow_of_state(flow_id)
        .await
        .map_err(|_| ApiError::bad_request("state does not name a flow"))?;
    let mut data = FlowData::of(&flow);
    let expected = data.network_state.take().unwrap_or_default();
    let given = otp::token_digest(nonce);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        expected.as_bytes(),
        given.as_bytes(),
    )) || flow.possession != Possession::Pending
        || flow.expired(now_millis())
    {
        return Err(ApiError::bad_request(
            "state is not valid for a waiting flow",
        ));
    }
    data.store(&mut flow);
    let callback = format!("{}/v3/sdk/mobile-auth/callback", state.config.base_url());
    let check = match (q.code.as_deref(), q.error) {
        (Some(code), None) => match state
            .phone
            .telco
            .exchange_network_code(code, &callback)
            .await
        {
            Ok(proof) => match data.e164() {
                Some(phone) => state
                    .phone
                    .telco
                    .verify_number(&phone, &proof)
                    .await
                    .unwrap_or(NumberCheck::Unavailable),
                None => NumberCheck::Unavailable,
            },
            Err(_) => NumberCheck::Unavailable,
        },
        _ => NumberCheck::Unavailable,
    };
    match check {
        NumberCheck::Verified => {
            decide_possession(&state, &mut flow, true, "mobile_auth", None).await?
        }
        NumberCheck::NotVerified => {
            decide_possession(
                &state,
                &mut flow,
                false,
                "mobile_auth",
                Some("network_number_mismatch"),
            )
            .await?
        }
        NumberCheck::Unavailable => {
            // Leave possession pending: the SDK falls back to the OTP.
            data.reasons.push("network_auth_unavailable".into());
            data.store(&mut flow);
            crate::phone::save_flow(&state, &mut flow).await?;
            state.phone.notify(&flow.id);
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `?token=` of the event stream.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// The flow's auth token.
    pub token: Option<String>,
}

/// Server-sent events for the waiting browser: one `possession` event when the
/// possession of the flow is decided (the Instant Link opened on the phone), then the
/// stream ends; a `timeout` event after the link's 3 minutes.
#[utoipa::path(get, path = "/v3/sdk/events", tag = "phone", params(TokenQuery),
    responses((status = 200, description = "text/event-stream"),
              (status = 401, description = "missing, invalid or expired token", body = crate::error::ErrorBody),
              (status = 410, description = "the flow has expired", body = crate::error::ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
    q: Result<ApiQuery<TokenQuery>, ApiError>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let token =
        q?.0.token
            .ok_or_else(|| ApiError::unauthorized("token is required"))?;
    let first = flow_of_token(&state, &token).await?;
    let org = first.org_id.clone();
    let id = first.id.clone();
    let deadline =
        now_millis() + LINK_TTL_MS.max(first.link_expires_at.unwrap_or(0) - now_millis());
    let stream = async_stream(state, org, id, deadline);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn async_stream(
    state: AppState,
    org: vouch_core::ids::OrgId,
    id: String,
    deadline: i64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(Some(()), move |go| {
        let state = state.clone();
        let org = org.clone();
        let id = id.clone();
        async move {
            go?;
            loop {
                let flow = state.app.phone.flow(&org, &id).await.ok();
                let possession = flow.as_ref().map(|f| f.possession);
                match possession {
                    Some(Possession::Pending) if now_millis() < deadline => {}
                    Some(p) => {
                        let name = if p == Possession::Pending {
                            "timeout"
                        } else {
                            "possession"
                        };
                        let event = Event::default()
                            .event(name)
                            .data(json!({"possession": p.as_str()}).to_string());
                        return Some((Ok(event), None));
                    }
                    _ => {
                        let event = Event::default().event("error").data("{}");
                        return Some((Ok(event), None));
                    }
                }
                // Woken at once by this node; every second for changes on another node.
                state
                    .phone
                    .wait_for_change(&id, Duration::from_secs(1))
                    .await;
            }
        }
    })
}

fn link_page(title: &str, text: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/assets/verify.css\"></head>\
         <body><main class=\"card\"><h1>{title}</h1><p>{text}</p></main></body></html>"
    );
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(html),
    )
        .into_response()
}

/// The Instant Link, opened on the phone: single use, 3 minutes. Proves possession and
/// sends the person to the flow's `finalTargetUrl`.
#[utoipa::path(get, path = "/l/{token}", tag = "phone",
    params(("token" = String, Path, description = "link token")),
    responses((status = 303, description = "to finalTargetUrl"),
              (status = 200, description = "verified: a page (no finalTargetUrl)", content_type = "text/html"),
              (status = 404, description = "not a link token: a page", content_type = "text/html"),
              (status = 410, description = "used or expired: a page", content_type = "text/html")))]
pub async fn open_link(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if token.len() != 43 {
        return (
            StatusCode::NOT_FOUND,
            link_page("Link not found", "This link is not valid."),
        )
            .into_response();
    }
    let hash = otp::token_digest(&token);
    let Ok(mut flow) = state.app.phone.flow_by_link(&hash).await else {
        return (
            StatusCode::GONE,
            link_page(
                "Link already used",
                "This link was already used or replaced by a newer one. Return to your computer.",
            ),
        )
            .into_response();
    };
    let now = now_millis();
    if flow.link_expires_at.is_none_or(|t| t <= now)
        || flow.expired(now)
        || flow.possession != Possession::Pending
    {
        return (
            StatusCode::GONE,
            link_page(
                "Link expired",
                "This link has expired. Ask for a new one on your computer.",
            ),
        )
            .into_response();
    }
    flow.link_hash = None;
    if decide_possession(&state, &mut flow, true, "instant_link", None)
        .await
        .is_err()
    {
        return (
            StatusCode::GONE,
            link_page("Link already used", "This link was already used."),
        )
            .into_response();
    }
    match flow.final_target_url {
        Some(url) => Redirect::to(&url).into_response(),
        None => link_page(
            "Phone verified",
            "Your phone is verified. Return to your computer to continue.",
        ),
    }
}

/// The browser SDK.
#[utoipa::path(get, path = "/sdk/vouch-auth.js", tag = "phone",
    responses((status = 200, description = "JavaScript module")))]
pub async fn sdk_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        SDK_JS,
    )
        .into_response()
}

// ---- dev mode ------------------------------------------------------------------------

fn dev_only(state: &AppState) -> ApiResult<&vouch_phone::sms::DevInbox> {
    state
        .phone
        .dev_inbox
        .as_deref()
        .ok_or_else(|| ApiError::not_found("Not found (dev mode only)"))
}

/// `GET /dev/sms` query.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Only messages to this number (E.164 or national).
    pub to: Option<String>,
    /// At most this many, newest first (default 50, at most 1000).
    pub limit: Option<usize>,
}

/// The dev SMS inbox: every text vouch "sent" in dev mode. 404 outside dev mode.
#[utoipa::path(get, path = "/dev/sms", tag = "phone", params(InboxQuery),
    responses((status = 200, description = "messages, newest first")))]
pub async fn dev_sms(
    State(state): State<AppState>,
    q: Result<ApiQuery<InboxQuery>, ApiError>,
) -> ApiResult<Json<Value>> {
    let inbox = dev_only(&state)?;
    let q = q?.0;
    let to = match q.to.as_deref() {
        Some(t) => Some(
            state
                .phone
                .parse(t)
                .map_err(|e| e.in_format(crate::error::ErrorFormat::Standard))?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 1000);
    Ok(Json(
        json!({"messages": inbox.list(to.as_ref().map(E164::as_str), limit)}),
    ))
}

/// Body of `POST /dev/phone-events`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneEventRequest {
    /// The number the network reports about.
    pub phone_number: Option<String>,
    /// `PHONE_NUMBER_CHANGE`, `DISCONNECT`, `MOVED_OUT_OF_COVERAGE`, `PORT`.
    #[schema(pattern = "^(PHONE_NUMBER_CHANGE|DISCONNECT|MOVED_OUT_OF_COVERAGE|PORT)$")]
    pub event_type: Option<String>,
}

/// Dev mode: the sandbox network reports a change for a number; every monitored
/// identity with it gets a notification and stops being monitored.
#[utoipa::path(post, path = "/dev/phone-events", tag = "phone", request_body = PhoneEventRequest,
    responses((status = 200, description = "notified identities")))]
pub async fn dev_phone_event(
    State(state): State<AppState>,
    body: Result<ApiJson<PhoneEventRequest>, ApiError>,
) -> ApiResult<Json<Value>> {
    dev_only(&state)?;
    let body = body?.0;
    let phone = state
        .phone
        .parse(
            body.phone_number
                .as_deref()
                .ok_or_else(|| ApiError::bad_request("phoneNumber is required"))?,
        )
        .map_err(|e| e.in_format(crate::error::ErrorFormat::Standard))?;
    let kind = body
        .event_type
        .as_deref()
        .and_then(ChangeEvent::parse)
        .ok_or_else(|| {
            ApiError::bad_request(
                "eventType must be PHONE_NUMBER_CHANGE, DISCONNECT, MOVED_OUT_OF_COVERAGE or PORT",
            )
        })?;
    let notified = report_change(&state, &phone, kind).await?;
    Ok(Json(json!({"notified": notified})))
}

/// Delivers a network change event for a number to every organisation monitoring it
/// (one `notifications` body per identity) and ends their monitoring. Returns the
/// identities notified.
pub async fn report_change(state: &AppState, phone: &E164, kind: ChangeEvent) -> ApiResult<usize> {
    let identities = state
        .app
        .phone
        .monitored(None, Some(phone.as_str()))
        .await?;
    let mut notified = 0;
    for identity in identities {
        let body = json!({"notifications": [{
            "eventId": uuid::Uuid::new_v4().to_string(),
            "event": kind.description(),
            "eventType": kind.event_type(),
            "eventTimestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "clientCustomerId": identity.client_customer_id,
            "identityId": identity.id,
        }]});
        let audit = AuditRecord::new(
            Some(&identity.org_id),
            Actor::System,
            "phone.identity_change",
        )
        .target(identity.id.clone());
        if state
            .app
            .phone
            .record_change(&identity, &body, audit)
            .await?
        {
            notified += 1;
        }
    }
    Ok(notified)
}

/// Where the network posts change events (CAMARA SIM Swap subscriptions: a CloudEvent
/// with `Authorization: Bearer <sink token>`); answers 204.
#[utoipa::path(post, path = "/v3/network/change-events", tag = "phone",
    request_body(content = String, content_type = "application/cloudevents+json"),
    responses((status = 204, description = "recorded"), (status = 401, description = "wrong sink token")))]
pub async fn network_change_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<StatusCode> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = crate::phone::sink_token(&state);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        given.as_bytes(),
        expected.as_bytes(),
    )) {
        return Err(ApiError::unauthorized("Invalid sink token"));
    }
    let notice = state
        .phone
        .telco
        .read_change_notice(&body)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let number = notice
        .phone_number
        .as_deref()
        .and_then(|p| E164::from_stored(p).ok());
    let identities = state
        .app
        .phone
        .monitored(
            Some(&notice.subscription_id),
            number.as_ref().map(E164::as_str),
        )
        .await?;
    for identity in identities {
        if let Ok(phone) = E164::from_stored(&identity.phone) {
            report_change(&state, &phone, notice.event).await?;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The sandbox's test numbers (dev mode).
#[utoipa::path(get, path = "/dev/phone-numbers", tag = "phone",
    responses((status = 200, description = "test numbers and what they do")))]
pub async fn dev_numbers(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    dev_only(&state)?;
    let list: Vec<Value> = state
        .phone
        .sandbox
        .as_ref()
        .map(|s| {
            s.all()
                .iter()
                .map(|p| json!({"phoneNumber": p.e164, "behaviour": p.label, "name": format!("{} {}", p.name.0, p.name.1)}))
                .collect()
        })
        .unwrap_or_default();
    Ok(Json(json!({"numbers": list})))
}

/// The example page: a whole phone flow through the browser SDK (dev mode).
#[utoipa::path(get, path = "/dev/phone-demo", tag = "phone",
    responses((status = 200, description = "HTML")))]
pub async fn dev_demo(State(state): State<AppState>) -> ApiResult<Response> {
    dev_only(&state)?;
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; connect-src 'self'",
            ),
        ],
        Html(DEMO_HTML),
    )
        .into_response())
}

//! The device API of the vendor's own browser SDK (npm `@prove-identity/prove-auth`), so
//! a page keeps that SDK unchanged and only its server's base URL changes. The SDK reads
//! its backend origin and first step from the `auth` claims of the `authToken` that
//! `/v3/start`, `/v3/verify` and `/v3/unify` return ([`crate::phone::sign_auth_token`]),
//! then speaks this API with the token as a bearer:
//!
//! - `POST /v1/client/mobile/otp/start` `{mobileNumber?}` and `…/otp/finish` `{otp}`;
//! - `POST /v1/client/mobile/instantlink/start` `{mobileNumber?, isMobile}`, and on the
//!   desktop `GET /v1/client/status?token=` (a WebSocket: `ping` is answered `pong`, and
//!   one frame `{"next": "done"}` is pushed when the link is opened on the phone);
//! - `POST /v1/client/<step>/error` when a step fails in the browser;
//! - `POST /v1/client/mobile/instant/start`, which sends the SDK to the OTP step (vouch's
//!   network authentication is offered through `@vouch/auth`).
//!
//! Every answer is HTTP 200 with the SDK's envelope `{next?, data?, error?: {code,
//! message}}`: the SDK rejects any other status without reading the body. `data` with a
//! code and message asks the page again (a number refused, a wrong code); `error` with
//! `next: ""` ends the flow. A missing or invalid token is 401. The possession rules
//! (sends, attempts, `allowOTPRetry`, single-use links) are the same functions as vouch's
//! own SDK (`crate::phone`), and the page's server still asks `/v3/validate` for the
//! outcome. Cross-origin pages are the norm: these routes answer CORS preflights for any
//! origin (the bearer token, never a cookie, is the credential).

use crate::error::ApiError;
use crate::phone::{check_otp, flow_of_token, send_link, send_otp, OtpOutcome};
use crate::AppState;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;
use vouch_core::now_millis;
use vouch_core::phone_flow::Possession;

/// The SDK's error codes (its `ErrorCode`).
mod code {
    /// Authentication failed (possession refused, the flow over).
    pub const AUTH_FAILURE: u64 = 10000;
    /// Something outside the browser failed (SMS, store).
    pub const EXTERNAL: u64 = 10001;
    /// The browser sent something unusable (a bad number, no code).
    pub const CLIENT: u64 = 10002;
    /// Not allowed in this flow.
    pub const PROHIBITED: u64 = 10003;
    /// No attempts or sends left.
    pub const MAX_ATTEMPTS: u64 = 10005;
}

/// `{"error": {code, message}, "next": next}`: the step fails; `""` ends the flow.
fn fail(code: u64, message: &str, next: &str) -> Response {
    Json(json!({"error": {"code": code, "message": message}, "next": next})).into_response()
}

/// `{"data": {code, message}}`: the SDK asks the page again (a refused number, a wrong
/// or expired code).
fn ask_again(code: u64, message: &str) -> Response {
    Json(json!({"data": {"code": code, "message": message}})).into_response()
}

/// A step's failure in the SDK's envelope. Input problems ask the page again; the rest
/// end the flow.
fn envelope(e: ApiError) -> Response {
    match e.status.as_u16() {
        400 => ask_again(code::CLIENT, &e.message),
        422 => ask_again(code::EXTERNAL, &e.message),
        409 => fail(code::PROHIBITED, &e.message, ""),
        429 => fail(code::MAX_ATTEMPTS, &e.message, ""),
        410 => fail(code::AUTH_FAILURE, &e.message, ""),
        _ => fail(code::EXTERNAL, &e.message, ""),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The flow of the bearer token; 401 without a valid one, the envelope for an expired
/// flow.
async fn flow(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<vouch_store::phone::PhoneFlow, Response> {
    let Some(token) = bearer(headers) else {
        return Err(
            ApiError::unauthorized("Authorization: Bearer <authToken> is required").into_response(),
        );
    };
    match flow_of_token(state, token).await {
        Ok(f) => Ok(f),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => Err(e.into_response()),
        Err(e) => Err(envelope(e)),
    }
}

/// The JSON body, lenient about its media type (the SDK always sends JSON); `{}` when
/// empty.
// The error is the step's whole answer, built at most once a request: not worth boxing.
#[allow(clippy::result_large_err)]
fn body<T: for<'de> Deserialize<'de> + Default>(bytes: &[u8]) -> Result<T, Response> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ask_again(code::CLIENT, &format!("The request body is not valid: {e}")))
}

/// A step's flow (by its bearer token) and body, or the answer that refuses them.
async fn step<T: for<'de> Deserialize<'de> + Default>(
    state: &AppState,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<(vouch_store::phone::PhoneFlow, T), Response> {
    let flow = flow(state, headers).await?;
    Ok((flow, body(bytes)?))
}

/// `otp/start` and `instantlink/start` bodies.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartBody {
    /// The number the page's start step returned (`""` or absent: the flow's own, or a
    /// resend).
    pub mobile_number: Option<String>,
    /// Whether the SDK runs in a mobile browser (Instant Link).
    pub is_mobile: Option<bool>,
    /// The device's IP address, when the page gave one (not used).
    pub source_ip: Option<String>,
}

/// `otp/finish` body.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct OtpBody {
    /// The code the person typed.
    pub otp: Option<String>,
}

/// `<step>/error` body.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct ErrorReport {
    /// The SDK's error code.
    pub code: Option<i64>,
    /// What failed in the browser.
    pub message: Option<String>,
}

fn number(b: &StartBody) -> Option<&str> {
    b.mobile_number
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
}

/// Sends (or re-sends) the SMS code.
#[utoipa::path(post, path = "/v1/client/mobile/otp/start", tag = "phone", request_body = StartBody,
    responses((status = 200, description = "{} when sent; {data: {code, message}} for a refused number; {error, next: \"\"} when the flow is over"),
              (status = 401, description = "missing or invalid authToken", body = crate::error::ErrorBody),
              (status = 413, description = "body over 4 KB")),
    security(("flow_token" = [])))]
pub async fn otp_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Response {
    let (mut flow, b) = match step::<StartBody>(&state, &headers, &bytes).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if flow.flow_type == "desktop" {
        return fail(
            code::PROHIBITED,
            "This flow proves possession with an Instant Link, not a code",
            "",
        );
    }
    match send_otp(&state, &mut flow, number(&b)).await {
        Ok(_) => Json(json!({})).into_response(),
        Err(e) => envelope(e),
    }
}

/// Checks the code.
#[utoipa::path(post, path = "/v1/client/mobile/otp/finish", tag = "phone", request_body = OtpBody,
    responses((status = 200, description = "{next: \"done\"} when right; {data: {code, message}} when wrong or expired and another try is allowed; {error, next: \"\"} when possession failed"),
              (status = 401, description = "missing or invalid authToken", body = crate::error::ErrorBody),
              (status = 413, description = "body over 4 KB")),
    security(("flow_token" = [])))]
pub async fn otp_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Response {
    let (mut flow, b) = match step::<OtpBody>(&state, &headers, &bytes).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(otp) = b.otp.as_deref().map(str::trim).filter(|c| !c.is_empty()) else {
        return ask_again(code::CLIENT, "Enter the code from the text message");
    };
    match check_otp(&state, &mut flow, otp).await {
        Ok(OtpOutcome::Success) => Json(json!({"next": "done"})).into_response(),
        Ok(OtpOutcome::Wrong(left)) => ask_again(
            code::CLIENT,
            &format!(
                "That code is not right; {left} attempt{} left",
                if left == 1 { "" } else { "s" }
            ),
        ),
        Ok(OtpOutcome::Expired) => {
            ask_again(code::CLIENT, "That code has expired; ask for a new one")
        }
        Ok(OtpOutcome::Failed) => fail(
            code::AUTH_FAILURE,
            "Too many wrong codes: the phone could not be verified",
            "",
        ),
        Err(e) => envelope(e),
    }
}

/// Sends (or re-sends) the Instant Link.
#[utoipa::path(post, path = "/v1/client/mobile/instantlink/start", tag = "phone", request_body = StartBody,
    responses((status = 200, description = "{data: {}} on a desktop (the status socket says when the link is opened); {next: \"\"} on a phone; {data: {code, message}} for a refused number"),
              (status = 401, description = "missing or invalid authToken", body = crate::error::ErrorBody),
              (status = 413, description = "body over 4 KB")),
    security(("flow_token" = [])))]
pub async fn link_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: axum::body::Bytes,
) -> Response {
    let (mut flow, b) = match step::<StartBody>(&state, &headers, &bytes).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if flow.possession == Possession::Success {
        return Json(json!({"next": "done"})).into_response();
    }
    match send_link(&state, &mut flow, number(&b)).await {
        // On a phone the link opens this same browser on the final target, and the SDK
        // waits for nothing; on a desktop it waits on the status socket.
        Ok(_) if b.is_mobile == Some(true) => Json(json!({"next": ""})).into_response(),
        Ok(_) => Json(json!({"data": {}})).into_response(),
        Err(e) => envelope(e),
    }
}

/// Network authentication through the vendor's SDK is not offered: the SDK falls back
/// to the code.
#[utoipa::path(post, path = "/v1/client/mobile/instant/start", tag = "phone",
    responses((status = 200, description = "{error, next: \"mobile/otp\"}"),
              (status = 401, description = "missing or invalid authToken", body = crate::error::ErrorBody)),
    security(("flow_token" = [])))]
pub async fn instant_start(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = flow(&state, &headers).await {
        return r;
    }
    fail(
        code::EXTERNAL,
        "Mobile Auth is not offered through this SDK; a code is sent instead",
        "mobile/otp",
    )
}

/// A step failed in the browser: logged; the flow ends quietly (the page's server asks
/// `/v3/validate`, which says possession was not proven).
#[utoipa::path(post, path = "/v1/client/{group}/{step}/error", tag = "phone", request_body = ErrorReport,
    params(("group" = String, Path, description = "mobile or device"),
           ("step" = String, Path, description = "otp, instantlink, instant or passive")),
    responses((status = 200, description = "{next: \"\"}"),
              (status = 401, description = "missing or invalid authToken", body = crate::error::ErrorBody),
              (status = 404, description = "not a step of the SDK", body = crate::error::ErrorBody),
              (status = 413, description = "body over 4 KB")),
    security(("flow_token" = [])))]
pub async fn step_error(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path((group, step)): axum::extract::Path<(String, String)>,
    bytes: axum::body::Bytes,
) -> Response {
    const STEPS: [(&str, &str); 4] = [
        ("mobile", "otp"),
        ("mobile", "instantlink"),
        ("mobile", "instant"),
        ("device", "passive"),
    ];
    if !STEPS.contains(&(group.as_str(), step.as_str())) {
        return ApiError::not_found("Not a step of the client SDK").into_response();
    }
    let flow = match flow(&state, &headers).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let report: ErrorReport = body(&bytes).unwrap_or_default();
    let message: String = report
        .message
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    tracing::warn!(flow = %flow.id, step = %format!("{group}/{step}"), code = ?report.code, message, "the client SDK reported a failed step");
    Json(json!({"next": ""})).into_response()
}

/// `?token=` of the status socket.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// The flow's authToken.
    pub token: Option<String>,
}

/// The desktop's wait for the phone: a WebSocket that answers `ping` with `pong` and
/// pushes one frame when possession is decided: `{"next": "done"}`, or `{"error",
/// "next": ""}` when it failed or the flow expired.
#[utoipa::path(get, path = "/v1/client/status", tag = "phone", params(StatusQuery),
    responses((status = 101, description = "WebSocket"),
              (status = 400, description = "not a WebSocket handshake", body = crate::error::ErrorBody),
              (status = 401, description = "missing or invalid token", body = crate::error::ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Query(q): Query<StatusQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => {
            return ApiError::bad_request(format!(
                "This is a WebSocket endpoint (GET with Upgrade: websocket): {e}"
            ))
            .into_response()
        }
    };
    let Some(token) = q.token.filter(|t| !t.is_empty()) else {
        return ApiError::unauthorized("token is required").into_response();
    };
    let flow = match flow_of_token(&state, &token).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    ws.max_message_size(4096)
        .on_upgrade(move |socket| watch(state, flow.org_id, flow.id, flow.expires_at, socket))
}

/// The frame that settles the desktop's wait, once possession is decided or the flow is
/// over.
async fn settled(
    state: &AppState,
    org: &vouch_core::ids::OrgId,
    id: &str,
    expires_at: i64,
) -> Option<Value> {
    let flow = match state.app.phone.flow(org, id).await {
        Ok(f) => f,
        Err(_) => {
            return Some(
                json!({"error": {"code": code::EXTERNAL, "message": "The verification cannot be read"}, "next": ""}),
            )
        }
    };
    match flow.possession {
        Possession::Success => Some(json!({"next": "done"})),
        Possession::Pending if now_millis() < expires_at => None,
        Possession::Pending => Some(
            json!({"error": {"code": code::AUTH_FAILURE, "message": "The verification expired"}, "next": ""}),
        ),
        _ => Some(
            json!({"error": {"code": code::AUTH_FAILURE, "message": "The phone could not be verified"}, "next": ""}),
        ),
    }
}

async fn watch(
    state: AppState,
    org: vouch_core::ids::OrgId,
    id: String,
    expires_at: i64,
    mut socket: WebSocket,
) {
    loop {
        if let Some(frame) = settled(&state, &org, &id, expires_at).await {
            let _ = socket.send(Message::Text(frame.to_string().into())).await;
            let _ = socket.send(Message::Close(None)).await;
            return;
        }
        tokio::select! {
            // Woken at once by this node; every second for changes on another node.
            _ = state.phone.wait_for_change(&id, Duration::from_secs(1)) => {}
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(t))) if t.as_str() == "ping" => {
                    if socket.send(Message::Text("pong".into())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// The headers the SDK sends (its signed requests add the `pa-sig-*` ones).
const ALLOWED_HEADERS: &str =
    "authorization, content-type, accept, pa-version, pa-sig-version, pa-challenge, pa-kid, pa-signature";

/// CORS for `/v1/client/*` (a middleware over the whole router, so that preflights reach
/// it before routing): a preflight is answered at once for any origin, and every answer
/// carries `Access-Control-Allow-Origin: *`. No credentials: the bearer token is the
/// only one these routes take.
pub async fn cors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use axum::http::{header, HeaderValue, Method};
    if !req.uri().path().starts_with("/v1/client/") {
        return next.run(req).await;
    }
    if req.method() == Method::OPTIONS {
        return (
            StatusCode::NO_CONTENT,
            [
                (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
                (header::ACCESS_CONTROL_ALLOW_METHODS, "POST, GET"),
                (header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOWED_HEADERS),
                (header::ACCESS_CONTROL_MAX_AGE, "600"),
            ],
        )
            .into_response();
    }
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

//! Phone identity: what the v3 routes and the client SDK routes share. The
//! [`PhoneContext`] holds the two boundaries (telco signals, SMS) and the region national
//! numbers are read in; [`FlowData`] is the sealed part of a flow; the possession steps
//! (OTP, Instant Link, network authentication) and the signal evaluation live here so
//! that every route applies the same limits.

use crate::error::{ApiError, ApiResult, ErrorFormat};
use crate::AppState;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use vouch_core::ids::OrgId;
use vouch_core::phone_flow::Possession;
use vouch_core::{now_millis, Millis};
use vouch_phone::sandbox::Sandbox;
use vouch_phone::sms::{DevInbox, OutgoingSms, SmsError, SmsSender};
use vouch_phone::telco::{KycAttributes, Telco, TelcoError, Tri};
use vouch_phone::template::Template;
use vouch_phone::{otp, parse_number, Region, E164};
use vouch_store::phone::{PhoneFlow, PhoneIdentity};

/// A flow's lifetime (correlation id and auth token).
pub const FLOW_TTL_MS: Millis = 15 * 60 * 1000;
/// An OTP's lifetime.
pub const OTP_TTL_MS: Millis = 2 * 60 * 1000;
/// An Instant Link's lifetime.
pub const LINK_TTL_MS: Millis = 3 * 60 * 1000;
/// OTP (or link) messages per flow.
pub const MAX_SENDS: i64 = 3;
/// Re-entries after a wrong OTP in a flow started with `allowOTPRetry` (the vendor's
/// "re-enter the OTP up to three times"); without it, one wrong code fails possession.
pub const OTP_RETRIES: i64 = 3;

/// The OTP entries a flow allows: 1, or 1 + [`OTP_RETRIES`] with `allowOTPRetry`.
pub fn otp_attempts(flow: &PhoneFlow) -> i64 {
    if flow.allow_otp_retry {
        1 + OTP_RETRIES
    } else {
        1
    }
}
/// Audience of the client SDK's auth token.
pub const SDK_AUDIENCE: &str = "vouch-phone-sdk";

/// The phone boundaries of a server.
pub struct PhoneContext {
    /// Telco signals.
    pub telco: Arc<dyn Telco>,
    /// The sandbox, when it is the telco (its test numbers complete possession alone).
    pub sandbox: Option<Arc<Sandbox>>,
    /// Where texts go.
    pub sms: Arc<dyn SmsSender>,
    /// The dev inbox, when texts stay on this machine (dev mode: `/dev/*` routes).
    pub dev_inbox: Option<Arc<DevInbox>>,
    /// The region national numbers are read in.
    pub region: Region,
    waiters: Mutex<HashMap<String, Arc<Notify>>>,
}

impl PhoneContext {
    /// Dev mode: the sandbox network and the dev inbox.
    pub fn dev() -> Self {
        let sandbox = Arc::new(Sandbox::default());
        let inbox = Arc::new(DevInbox::default());
        PhoneContext::new(sandbox.clone(), Some(sandbox), inbox.clone(), Some(inbox))
    }

    /// A context over the given boundaries.
    pub fn new(
        telco: Arc<dyn Telco>,
        sandbox: Option<Arc<Sandbox>>,
        sms: Arc<dyn SmsSender>,
        dev_inbox: Option<Arc<DevInbox>>,
    ) -> Self {
        PhoneContext {
            telco,
            sandbox,
            sms,
            dev_inbox,
            region: Region::US,
            waiters: Mutex::new(HashMap::new()),
        }
    }

    /// The same context reading national numbers in `region`.
    pub fn with_region(mut self, region: Region) -> Self {
        self.region = region;
        self
    }

    /// Parses a number as a caller typed it; 400 with the reason otherwise.
    pub fn parse(&self, input: &str) -> ApiResult<E164> {
        let telco = self.telco.clone();
        parse_number(input, self.region, &move |n| telco.is_test_number(n))
            .map_err(|e| prove_bad_request(e.to_string()))
    }

    /// Whether possession completes by itself for this number (sandbox test numbers).
    pub fn auto_possession(&self, phone: &E164) -> bool {
        self.sandbox
            .as_ref()
            .is_some_and(|s| s.auto_possession(phone.as_str()))
    }

    fn waiter(&self, flow: &str) -> Arc<Notify> {
        let mut map = match self.waiters.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        map.entry(flow.to_string()).or_default().clone()
    }

    /// Waits until this node changes the flow's possession, or `timeout` (the caller
    /// reads the flow again either way: another node may have changed it).
    pub async fn wait_for_change(&self, flow: &str, timeout: std::time::Duration) {
        let waiter = self.waiter(flow);
        let _ = tokio::time::timeout(timeout, waiter.notified()).await;
    }

    /// Wakes the waiters of a flow.
    pub fn notify(&self, flow: &str) {
        let waiter = {
            let mut map = match self.waiters.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            map.remove(flow)
        };
        if let Some(w) = waiter {
            w.notify_waiters();
        }
    }
}

/// Creates a flow. The store writes flows by group commit, whose leader must not be
/// cancelled half-way (a client hanging up cancels its handler), so the write runs in a
/// task of its own.
pub async fn create_flow(state: &AppState, flow: &PhoneFlow) -> ApiResult<()> {
    Ok(state.app.phone.create_flow(flow).await?)
}

/// Saves a flow (compare-and-set on its version; Conflict when it changed meanwhile),
/// in a task of its own like [`create_flow`].
pub async fn save_flow(state: &AppState, flow: &mut PhoneFlow) -> ApiResult<()> {
    Ok(state.app.phone.save_flow(flow).await?)
}

/// A 400 in the phone API's format.
pub fn prove_bad_request(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message).in_format(ErrorFormat::Prove)
}

/// A step called out of order (403, code 8003).
pub fn out_of_order(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "out_of_order", message).in_format(ErrorFormat::Prove)
}

/// The sealed part of a flow: the number and what the customer sent or the network
/// answered.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowData {
    /// E.164, once known.
    pub phone: Option<String>,
    /// The number as the customer sent it (echoed by validate).
    pub phone_input: Option<String>,
    /// First name (verify).
    pub first_name: Option<String>,
    /// Last name (verify).
    pub last_name: Option<String>,
    /// Date of birth from start.
    pub dob: Option<String>,
    /// SSN (full or last 4) from start.
    pub ssn: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// The person's IP address.
    pub ip_address: Option<String>,
    /// Whether the OTP start step may ask for the number.
    pub phone_needed: bool,
    /// The network authentication `state` in flight.
    pub network_state: Option<String>,
    /// Reasons the flow failed or was marked.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The final answer of verify-status / unify-status, kept so that repeated calls
    /// agree.
    pub result: Option<Value>,
}

impl FlowData {
    /// Reads a flow's data.
    pub fn of(flow: &PhoneFlow) -> FlowData {
        serde_json::from_value(flow.data.clone()).unwrap_or_default()
    }

    /// Writes it back into the flow.
    pub fn store(&self, flow: &mut PhoneFlow) {
        flow.data = serde_json::to_value(self).unwrap_or(Value::Null);
    }

    /// The number, parsed.
    pub fn e164(&self) -> Option<E164> {
        self.phone
            .as_deref()
            .and_then(|p| E164::from_stored(p).ok())
    }
}

/// Signs the client SDK's token for a flow (HS256, 15 minutes, audience
/// [`SDK_AUDIENCE`], bound to the flow id and organisation). Its `auth` claims are what
/// the vendor's browser SDK (`@prove-identity/prove-auth`) reads to find vouch:
/// [`vendor_sdk_claims`].
pub async fn sign_auth_token(state: &AppState, flow: &PhoneFlow) -> ApiResult<String> {
    let now = now_millis() / 1000;
    let claims = json!({
        "iss": state.config.base_url(),
        "aud": SDK_AUDIENCE,
        "sub": flow.id,
        "org": flow.org_id.as_str(),
        "iat": now,
        "exp": flow.expires_at / 1000,
        "jti": uuid::Uuid::new_v4().to_string(),
        "auth": vendor_sdk_claims(state, flow),
    });
    let token = state
        .app
        .tokens
        .sign(jsonwebtoken::Algorithm::HS256, &claims)
        .await?;
    if token
        .split('.')
        .nth(1)
        .is_some_and(|p| p.contains(['-', '_']))
    {
        // The vendor's SDK decodes the payload with `atob`, which refuses base64url's
        // `-` and `_`; ASCII JSON only yields them from `>`, `?` and `~`, which no claim
        // holds unless the public URL does.
        tracing::warn!("the authToken's payload is not readable by the vendor's browser SDK: keep '>', '?' and '~' out of VOUCH_PUBLIC_URL");
    }
    Ok(token)
}

/// The `auth` claims of the vendor's browser SDK: its backend origin (`endp`: vouch's
/// public origin, where `/v1/client/*` is served, `routes::prove_client`), the first step
/// (`mobile/otp` on a phone, `mobile/instantlink` on a desktop), the id handed to the
/// page's finish step (`id`: the correlation id), a namespace for what it keeps in the
/// browser (`ans`), a challenge (`chlg`), and whether the number is already known
/// (`subs.mob.auths.*.mnp`). No device-key step is asked for (`uvlvl: none` and
/// `next` never `device/passive`).
pub fn vendor_sdk_claims(state: &AppState, flow: &PhoneFlow) -> Value {
    let base = state.config.base_url();
    let origin = url::Url::parse(&base)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or(base);
    let data = FlowData::of(flow);
    let known = data.phone.is_some() && !data.phone_needed;
    let next = if flow.flow_type == "desktop" {
        "mobile/instantlink"
    } else {
        "mobile/otp"
    };
    json!({
        "id": flow.id,
        "ans": "vouch",
        "endp": origin,
        "chlg": uuid::Uuid::new_v4().simple().to_string(),
        "next": next,
        "subs": {
            "dev": {"auths": {"pasv": {"uvlvl": "none"}}, "sgnls": {"fpt": false}},
            "mob": {"auths": {"otp": {"mnp": known}, "inln": {"mnp": known}}},
            "usr": {"auths": {}},
        },
    })
}

/// Checks an SDK auth token; returns the flow it names (401 otherwise).
pub async fn flow_of_token(state: &AppState, token: &str) -> ApiResult<PhoneFlow> {
    let unauthorized = || ApiError::unauthorized("Invalid or expired auth token");
    if token.len() > 2048 {
        return Err(unauthorized());
    }
    let expect = vouch_app::tokens::Expect {
        audience: Some(SDK_AUDIENCE),
        issuer: None,
    };
    let claims = match state.app.tokens.verify(token, expect).await? {
        Ok(c) => c,
        Err(_) => return Err(unauthorized()),
    };
    let (Some(flow_id), Some(org)) = (claims["sub"].as_str(), claims["org"].as_str()) else {
        return Err(unauthorized());
    };
    let flow = state
        .store
        .phone_flow(&OrgId::from_string(org), flow_id)
        .await
        .map_err(|_| unauthorized())?;
    if flow.expired(now_millis()) {
        return Err(ApiError::new(
            StatusCode::GONE,
            "flow_expired",
            "This verification has expired; start again",
        ));
    }
    Ok(flow)
}

/// The key OTP digests are made with (derived from the store's index key, so a
/// database dump alone cannot brute-force codes).
fn otp_key(state: &AppState) -> Vec<u8> {
    state.app.phone.otp_key()
}

/// The bearer token the network must present when it posts change events to
/// `/v3/network/change-events` (derived from the store's index key: stable across
/// restarts and nodes, never stored).
pub fn sink_token(state: &AppState) -> String {
    state.app.phone.sink_token()
}

fn sms_error(e: SmsError) -> ApiError {
    match e {
        SmsError::Rejected(m) => {
            tracing::warn!(error = %m, "SMS rejected");
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "sms_rejected",
                "The text message could not be sent to this number",
            )
        }
        SmsError::Unavailable(m) => {
            tracing::warn!(error = %m, "SMS provider unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "sms_unavailable",
                "Text messages cannot be sent right now; try again shortly",
            )
            .with_header("retry-after", "5")
        }
    }
}

/// Sets (or changes) the flow's number from the SDK's start step.
fn take_number(state: &AppState, data: &mut FlowData, input: Option<&str>) -> ApiResult<E164> {
    match (input.map(str::trim).filter(|s| !s.is_empty()), data.e164()) {
        // The customer's server chose the number: the browser may repeat it, not
        // replace it (else a page script could bind another number to the customer).
        (Some(input), Some(own)) if !data.phone_needed => {
            let phone = state.phone.parse(input)?;
            if phone.as_str() != own.as_str() {
                return Err(ApiError::bad_request(
                    "This verification is for the number given when it started; it cannot be changed here",
                ));
            }
            Ok(own)
        }
        (Some(input), _) => {
            let phone = state.phone.parse(input)?;
            data.phone = Some(phone.as_str().to_string());
            data.phone_input = Some(input.to_string());
            Ok(phone)
        }
        (None, Some(phone)) => Ok(phone),
        (None, None) => Err(ApiError::bad_request(
            "phoneNumber is needed: this flow was started without one",
        )),
    }
}

fn check_sendable(flow: &PhoneFlow) -> ApiResult<()> {
    if flow.possession != Possession::Pending {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "possession_done",
            "Possession is already decided for this flow",
        ));
    }
    if flow.otp_sends + flow.link_sends >= MAX_SENDS {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_sends",
            format!("At most {MAX_SENDS} messages can be sent in one verification"),
        ));
    }
    Ok(())
}

/// Sends an OTP for the flow (a resend replaces the previous code; the failure count
/// stays). Returns the number it went to.
pub async fn send_otp(
    state: &AppState,
    flow: &mut PhoneFlow,
    phone_input: Option<&str>,
) -> ApiResult<E164> {
    check_sendable(flow)?;
    let mut data = FlowData::of(flow);
    let phone = take_number(state, &mut data, phone_input)?;
    let template = Template::otp(flow.sms_message.as_deref())
        .or_else(|_| Template::otp(None))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let code = otp::generate(template.code_digits());
    let digest = otp::digest(&otp_key(state), &flow.id, &code);
    flow.otp_hash = Some(hex::encode(digest));
    flow.otp_expires_at = Some(now_millis() + OTP_TTL_MS);
    flow.otp_sends += 1;
    flow.possession_method = Some("otp".into());
    flow.phone_bidx = Some(state.app.phone.number_index(phone.as_str()));
    data.store(flow);
    // Record the send first: a crash after it costs the person a resend, never an
    // uncounted message.
    save_flow(state, flow).await?;
    let sms = OutgoingSms {
        to: phone.clone(),
        body: template.render_otp(&code),
    };
    state.phone.sms.send(&sms).await.map_err(sms_error)?;
    Ok(phone)
}

/// What an OTP attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpOutcome {
    /// Right code: possession proven.
    Success,
    /// Wrong code; this many attempts are left.
    Wrong(i64),
    /// The code expired; send a new one.
    Expired,
    /// Too many wrong codes: the flow failed.
    Failed,
}

/// Checks an OTP in constant time. Every attempt is counted (compare-and-set on the
/// flow's version), and a resend does not reset the count.
pub async fn check_otp(
    state: &AppState,
    flow: &mut PhoneFlow,
    code: &str,
) -> ApiResult<OtpOutcome> {
    if flow.possession == Possession::Failed {
        return Ok(OtpOutcome::Failed);
    }
    if flow.possession != Possession::Pending {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "possession_done",
            "Possession is already decided for this flow",
        ));
    }
    let Some(stored) = flow.otp_hash.as_deref().and_then(|h| hex::decode(h).ok()) else {
        return Err(ApiError::bad_request("No code was sent in this flow yet"));
    };
    let code: String = code.chars().take(16).collect();
    let right = otp::verify(&otp_key(state), &flow.id, &code, &stored);
    let now = now_millis();
    let outcome = if flow.otp_expires_at.is_none_or(|t| t <= now) {
        OtpOutcome::Expired
    } else if right {
        flow.possession = Possession::Success;
        flow.otp_hash = None;
        OtpOutcome::Success
    } else {
        flow.otp_failures += 1;
        if flow.otp_failures >= otp_attempts(flow) {
            flow.possession = Possession::Failed;
            flow.otp_hash = None;
            let mut data = FlowData::of(flow);
            data.reasons.push("too_many_otp_attempts".into());
            data.store(flow);
            OtpOutcome::Failed
        } else {
            OtpOutcome::Wrong(otp_attempts(flow) - flow.otp_failures)
        }
    };
    if outcome != OtpOutcome::Expired {
        save_flow(state, flow).await?;
        if matches!(outcome, OtpOutcome::Success | OtpOutcome::Failed) {
            state.phone.notify(&flow.id);
        }
    }
    Ok(outcome)
}

/// Sends an Instant Link for the flow (a resend replaces the previous link).
pub async fn send_link(
    state: &AppState,
    flow: &mut PhoneFlow,
    phone_input: Option<&str>,
) -> ApiResult<E164> {
    check_sendable(flow)?;
    let mut data = FlowData::of(flow);
    let phone = take_number(state, &mut data, phone_input)?;
    let template = Template::link(flow.sms_message.as_deref())
        .or_else(|_| Template::link(None))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let token = otp::link_token();
    flow.link_hash = Some(otp::token_digest(&token));
    flow.link_expires_at = Some(now_millis() + LINK_TTL_MS);
    flow.link_sends += 1;
    flow.possession_method = Some("instant_link".into());
    flow.phone_bidx = Some(state.app.phone.number_index(phone.as_str()));
    data.store(flow);
    save_flow(state, flow).await?;
    let link = format!("{}/l/{token}", state.config.base_url());
    let sms = OutgoingSms {
        to: phone.clone(),
        body: template.render_link(&link),
    };
    state.phone.sms.send(&sms).await.map_err(sms_error)?;
    Ok(phone)
}

/// Sets possession's outcome (network authentication, cancel, sandbox) and wakes
/// waiters.
pub async fn decide_possession(
    state: &AppState,
    flow: &mut PhoneFlow,
    proved: bool,
    method: &str,
    reason: Option<&str>,
) -> ApiResult<()> {
    flow.possession = flow
        .possession
        .decide(proved)
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, "possession_done", e.to_string()))?;
    flow.possession_method = Some(method.into());
    if let Some(r) = reason {
        let mut data = FlowData::of(flow);
        data.reasons.push(r.into());
        data.store(flow);
    }
    save_flow(state, flow).await?;
    state.phone.notify(&flow.id);
    Ok(())
}

/// A line's signals and trust (`vouch_core::policy::phone_line`).
pub use vouch_core::policy::LineSignals as Signals;

/// Asks the network about a number (SIM swap, reachability) and scores it by the one
/// line rule, `vouch_core::policy::phone_line`.
pub async fn evaluate_signals(state: &AppState, phone: &E164) -> Signals {
    let telco = &state.phone.telco;
    let (swap, date, reach) = tokio::join!(
        telco.sim_swap_check(phone, 24),
        telco.sim_swap_date(phone),
        telco.reachability(phone)
    );
    let unavailable = |what: &str, e: &TelcoError| {
        tracing::info!(error = %e, what, "telco signal unavailable");
    };
    let evidence = vouch_core::policy::LineEvidence {
        swapped_24h: swap.map_err(|e| unavailable("sim_swap", &e)).ok(),
        days_since_sim_change: date
            .map(|d| {
                d.latest_sim_change
                    .map(|t| (chrono::Utc::now() - t).num_days())
            })
            .map_err(|e| unavailable("sim_swap_date", &e))
            .ok(),
        reachability: reach
            .map(|r| (r.reachable, r.connectivity.iter().any(|c| c == "DATA")))
            .map_err(|e| unavailable("reachability", &e))
            .ok(),
    };
    vouch_core::policy::phone_line(&evidence)
}

/// A KYC Match answer for names, as 0–100 scores (None: the network has no data).
pub fn name_scores(m: &vouch_phone::telco::KycMatch) -> (Option<i64>, Option<i64>) {
    let score = |key: &str| {
        m.get(key).and_then(|f| match f.matched {
            Tri::True => Some(100),
            Tri::False => Some(i64::from(f.score.unwrap_or(0))),
            Tri::NotAvailable => None,
        })
    };
    (score("givenName"), score("familyName"))
}

/// Matches a first and last name against the subscriber record by the one name rule
/// (`vouch_core::policy::names`: every claimed part scores 80 or more).
pub async fn names_match(
    state: &AppState,
    phone: &E164,
    first: Option<&str>,
    last: Option<&str>,
) -> (bool, Option<i64>, Option<i64>) {
    let claims = KycAttributes {
        given_name: first.map(str::to_string),
        family_name: last.map(str::to_string),
        ..Default::default()
    };
    match state.phone.telco.kyc_match(phone, &claims).await {
        Ok(m) => {
            let (f, l) = name_scores(&m);
            let claimed: Vec<Option<i64>> = [(first, f), (last, l)]
                .into_iter()
                .filter(|(claim, _)| claim.is_some())
                .map(|(_, score)| score)
                .collect();
            (vouch_core::policy::names(&claimed).pass, f, l)
        }
        Err(e) => {
            tracing::info!(error = %e, "KYC match unavailable");
            (false, None, None)
        }
    }
}

/// Enrols (or finds) the identity of a number for a customer id: an active identity
/// with the same number and customer id is reused. Shared by the phone API's identity
/// manager, its verify and unify flows, and the Ory enroll hook.
pub async fn enroll(
    state: &AppState,
    org: &OrgId,
    phone: &E164,
    client_customer_id: Option<String>,
    client_human_id: Option<String>,
    device_id: Option<String>,
) -> vouch_core::Result<String> {
    // Enrolling again after a change event resumes monitoring, as the vendor's
    // identity manager does.
    if let Some(id) = state
        .app
        .phone
        .reenrol(org, phone.as_str(), client_customer_id.as_deref())
        .await?
    {
        return Ok(id);
    }
    let identity = PhoneIdentity {
        id: uuid::Uuid::new_v4().to_string(),
        org_id: org.clone(),
        phone: phone.as_str().to_string(),
        client_customer_id,
        client_human_id,
        device_id,
        active: true,
        monitored: true,
        carrier: state.phone.telco.carrier(phone),
        line_type: Some(line_type(state, phone).await.to_string()),
        country_code: phone.region().map(str::to_string),
        created_at: now_millis(),
    };
    state.app.phone.create_identity(&identity).await?;
    subscribe_changes(state, &identity.org_id, &identity.id, phone);
    Ok(identity.id)
}

/// The identity manager's `lineType`: `mobile`, `landline`, `voip`, `other`, or
/// `unknown`. Where the numbering plan cannot tell a mobile from a fixed line (the US and
/// Canada), a line the mobile network reports reachable is `mobile`.
async fn line_type(state: &AppState, phone: &E164) -> &'static str {
    use vouch_phone::LineType;
    match phone.line_type() {
        LineType::Mobile => "mobile",
        LineType::FixedLine => "landline",
        LineType::Voip => "voip",
        LineType::Other => "other",
        LineType::FixedLineOrMobile => match state.phone.telco.reachability(phone).await {
            Ok(r) if r.reachable => "mobile",
            _ => "unknown",
        },
    }
}

/// Asks the network (in the background) to report changes of an enrolled number to
/// the sink; the sandbox has no subscriptions (its changes come from the dev trigger).
fn subscribe_changes(state: &AppState, org: &OrgId, id: &str, phone: &E164) {
    let (state, org, id, phone) = (state.clone(), org.clone(), id.to_string(), phone.clone());
    tokio::spawn(async move {
        let sink = format!("{}/v3/network/change-events", state.config.base_url());
        let token = sink_token(&state);
        match state
            .phone
            .telco
            .subscribe_changes(&phone, &sink, &token)
            .await
        {
            Ok(Some(sub)) => {
                if let Err(e) = state.app.phone.set_subscription(&org, &id, &sub).await {
                    tracing::warn!(error = %e, "cannot record the change subscription");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "the network refused a change subscription"),
        }
    });
}

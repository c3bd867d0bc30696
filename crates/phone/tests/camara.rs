//! The CAMARA client against a loopback operator that follows the CAMARA OpenAPI files
//! (SIM Swap v2, Number Verification v2, KYC Match v0.4, KYC Fill-in v0.4, KYC Age
//! Verification v0.2, Device Reachability Status v1, SIM Swap Subscriptions v0.3): the
//! versioned paths under an `apiRoot` with a path, the request schemas with their
//! required fields and ranges, `ErrorInfo` error bodies, the `x-correlator` echo, and
//! an OAuth token endpoint with client credentials and authorization codes.
//!
//! Size (over 800 lines): the CAMARA client against a loopback double of each API, sharing
//! the double.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use vouch_phone::camara::{
    parse_sim_swap_event, sink_authorized, CamaraClient, CamaraConfig, SimSwapNotice,
};
use vouch_phone::telco::*;
use vouch_phone::E164;

const CLIENT_ID: &str = "vouch-client";
/// Characters that RFC 6749 §2.3.1 form-encodes before Basic.
const CLIENT_SECRET: &str = "s3cret:with/odd&chars +";
const API_ROOT: &str = "/camara";
const REDIRECT: &str = "https://vouch.example.com/v1/phone/network-callback";
const SWAPPED: &str = "org.camaraproject.sim-swap-subscriptions.v0.swapped";

/// Every scope the operator granted the client at onboarding.
const GRANTED: &[&str] = &[
    "sim-swap:check",
    "sim-swap:retrieve-date",
    "kyc-match:match",
    "kyc-fill-in:set-all",
    "kyc-age-verification:verify",
    "device-reachability-status:read",
    "sim-swap-subscriptions:org.camaraproject.sim-swap-subscriptions.v0.swapped:create",
    "sim-swap-subscriptions:read",
    "sim-swap-subscriptions:delete",
];

// ---------------------------------------------------------------------------------
// The loopback operator.

/// One API request as the operator received it.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    path: String,
    bearer: Option<String>,
    correlator: Option<String>,
    content_type: Option<String>,
    body: Value,
}

/// One token endpoint request.
#[derive(Debug, Clone, PartialEq)]
struct TokenCall {
    grant_type: String,
    scope: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
}

/// What a token stands for.
#[derive(Debug, Clone)]
struct Grant {
    scopes: Vec<String>,
    /// Three-legged: the device's number and whether it authenticated over the mobile
    /// network.
    device: Option<(String, bool)>,
}

/// An answer to give instead of the normal one.
enum Canned {
    Json(u16, Value),
    Raw(u16, &'static str),
    Delay(Duration),
}

struct Operator {
    calls: Vec<Call>,
    token_calls: Vec<TokenCall>,
    grants: HashMap<String, Grant>,
    issued: usize,
    expires_in: u64,
    reject_all_tokens: bool,
    canned: VecDeque<Canned>,
    token_canned: VecDeque<(u16, &'static str)>,
    subscriptions: HashMap<String, Value>,
}

type Shared = Arc<Mutex<Operator>>;

struct Server {
    addr: SocketAddr,
    op: Shared,
}

async fn spawn() -> Server {
    let op = Arc::new(Mutex::new(Operator {
        calls: vec![],
        token_calls: vec![],
        grants: HashMap::new(),
        issued: 0,
        expires_in: 3600,
        reject_all_tokens: false,
        canned: VecDeque::new(),
        token_canned: VecDeque::new(),
        subscriptions: HashMap::new(),
    }));
    let app = Router::new().fallback(handle).with_state(op.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    Server { addr, op }
}

impl Server {
    fn config(&self) -> CamaraConfig {
        CamaraConfig {
            base_url: format!("http://{}{API_ROOT}/", self.addr),
            token_url: format!("http://{}/oauth/token", self.addr),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            authorize_url: Some("https://login.operator.example/authorize".into()),
            timeout: Duration::from_secs(5),
        }
    }

    fn client(&self) -> CamaraClient {
        CamaraClient::new(self.config()).expect("client")
    }

    fn op(&self) -> std::sync::MutexGuard<'_, Operator> {
        self.op.lock().expect("operator lock")
    }

    fn calls(&self) -> Vec<Call> {
        self.op().calls.clone()
    }

    fn last_call(&self) -> Call {
        self.op().calls.last().cloned().expect("a call")
    }

    fn token_calls(&self) -> Vec<TokenCall> {
        self.op().token_calls.clone()
    }

    fn scopes_of(&self, token: &str) -> Vec<String> {
        self.op()
            .grants
            .get(token)
            .map(|g| g.scopes.clone())
            .unwrap_or_default()
    }

    fn push(&self, canned: Canned) {
        self.op().canned.push_back(canned);
    }

    /// Forgets every token issued so far (as after a key rotation).
    fn revoke_all(&self) {
        self.op().grants.clear();
    }
}

fn n(s: &str) -> E164 {
    E164::from_stored(s).expect("number")
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn reply(status: u16, body: Option<Value>, correlator: Option<&str>) -> Response {
    let status = StatusCode::from_u16(status).expect("status");
    let mut response = match body {
        Some(body) => (status, axum::Json(body)).into_response(),
        None => status.into_response(),
    };
    if let Some(c) = correlator.and_then(|c| HeaderValue::from_str(c).ok()) {
        response.headers_mut().insert("x-correlator", c);
    }
    response
}

fn error_info(status: u16, code: &str, message: &str) -> (u16, Option<Value>) {
    (
        status,
        Some(json!({ "status": status, "code": code, "message": message })),
    )
}

async fn handle(
    State(op): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if uri.path() == "/oauth/token" {
        return token_endpoint(&op, &method, &headers, &body);
    }
    let correlator = header(&headers, "x-correlator");
    let bearer = header(&headers, "authorization")
        .and_then(|h| h.strip_prefix("Bearer ").map(str::to_string));
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let canned = {
        let mut op = op.lock().expect("lock");
        op.calls.push(Call {
            method: method.to_string(),
            path: uri.path().to_string(),
            bearer: bearer.clone(),
            correlator: correlator.clone(),
            content_type: header(&headers, "content-type"),
            body: parsed.clone(),
        });
        op.canned.pop_front()
    };
    match canned {
        Some(Canned::Json(status, body)) => {
            return reply(status, Some(body), correlator.as_deref())
        }
        Some(Canned::Raw(status, text)) => {
            let mut r = (StatusCode::from_u16(status).expect("status"), text).into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            return r;
        }
        Some(Canned::Delay(d)) => tokio::time::sleep(d).await,
        None => {}
    }
    if let Some(c) = &correlator {
        let ok = c.len() <= 256
            && c.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "-_:;./<>{}".contains(ch));
        if !ok {
            let (s, b) = error_info(400, "INVALID_ARGUMENT", "x-correlator does not match");
            return reply(s, b, None);
        }
    }
    let (status, body) = {
        let mut op = op.lock().expect("lock");
        api(
            &mut op,
            &method,
            uri.path(),
            bearer.as_deref(),
            &headers,
            &parsed,
        )
    };
    reply(status, body, correlator.as_deref())
}

/// The OAuth 2.0 token endpoint: client credentials and authorization codes, client
/// authentication by HTTP Basic with form-encoded parts.
fn token_endpoint(op: &Shared, method: &Method, headers: &HeaderMap, body: &[u8]) -> Response {
    let oauth = |status: u16, error: &str| {
        reply(
            status,
            Some(json!({ "error": error, "error_description": error })),
            None,
        )
    };
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let mut op = op.lock().expect("lock");
    op.token_calls.push(TokenCall {
        grant_type: form.get("grant_type").cloned().unwrap_or_default(),
        scope: form.get("scope").cloned(),
        code: form.get("code").cloned(),
        redirect_uri: form.get("redirect_uri").cloned(),
    });
    if let Some((status, text)) = op.token_canned.pop_front() {
        let mut r = (StatusCode::from_u16(status).expect("status"), text).into_response();
        r.headers_mut()
            .insert("content-type", HeaderValue::from_static("application/json"));
        return r;
    }
    if method != Method::POST
        || header(headers, "content-type").as_deref() != Some("application/x-www-form-urlencoded")
    {
        return oauth(400, "invalid_request");
    }
    let client = header(headers, "authorization")
        .and_then(|h| h.strip_prefix("Basic ").map(str::to_string))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            let decode = |p: &str| -> String {
                url::form_urlencoded::parse(format!("x={p}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Some((decode(id), decode(secret)))
        });
    if client != Some((CLIENT_ID.to_string(), CLIENT_SECRET.to_string())) {
        return oauth(401, "invalid_client");
    }
    op.issued += 1;
    let (token, grant) = match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            let Some(scope) = form.get("scope") else {
                return oauth(400, "invalid_scope");
            };
            let scopes: Vec<String> = scope.split(' ').map(str::to_string).collect();
            if !scopes.iter().all(|s| GRANTED.contains(&s.as_str())) {
                return oauth(400, "invalid_scope");
            }
            (
                format!("cc-{}", op.issued),
                Grant {
                    scopes,
                    device: None,
                },
            )
        }
        Some("authorization_code") => {
            if form.get("redirect_uri").map(String::as_str) != Some(REDIRECT) {
                return oauth(400, "invalid_grant");
            }
            // `net:<number>` authenticated over the mobile network, `otp:<number>` not.
            let device = match form.get("code").and_then(|c| c.split_once(':')) {
                Some(("net", phone)) => (phone.to_string(), true),
                Some(("otp", phone)) => (phone.to_string(), false),
                _ => return oauth(400, "invalid_grant"),
            };
            let scopes = vec!["openid".into(), "number-verification:verify".into()];
            (
                format!("nv-{}", op.issued),
                Grant {
                    scopes,
                    device: Some(device),
                },
            )
        }
        _ => return oauth(400, "unsupported_grant_type"),
    };
    op.grants.insert(token.clone(), grant);
    let expires_in = op.expires_in;
    reply(
        200,
        Some(json!({ "access_token": token, "token_type": "Bearer", "expires_in": expires_in })),
        None,
    )
}

fn is_phone(v: &Value) -> bool {
    v.as_str()
        .and_then(|s| s.strip_prefix('+'))
        .is_some_and(|d| {
            (5..=15).contains(&d.len())
                && d.bytes().all(|b| b.is_ascii_digit())
                && !d.starts_with('0')
        })
}

/// Whether `body` has only `allowed` keys.
fn only(body: &Value, allowed: &[&str]) -> bool {
    body.as_object()
        .is_some_and(|o| o.keys().all(|k| allowed.contains(&k.as_str())))
}

const KYC_ATTRIBUTES: &[&str] = &[
    "phoneNumber",
    "idDocument",
    "idDocumentType",
    "idDocumentExpiryDate",
    "name",
    "givenName",
    "familyName",
    "nameKanaHankaku",
    "nameKanaZenkaku",
    "middleNames",
    "familyNameAtBirth",
    "address",
    "streetName",
    "streetNumber",
    "postalCode",
    "region",
    "locality",
    "country",
    "houseNumberExtension",
    "birthdate",
    "email",
    "gender",
    "cityOfBirth",
    "countryOfBirth",
    "nationality",
];

/// Attributes with a `<attr>MatchScore`.
const SCORED: &[&str] = &[
    "name",
    "givenName",
    "familyName",
    "nameKanaHankaku",
    "nameKanaZenkaku",
    "middleNames",
    "familyNameAtBirth",
    "address",
    "streetName",
    "streetNumber",
    "region",
    "locality",
    "email",
    "cityOfBirth",
];

/// The operator's subscriber records.
fn record(phone: &str) -> Option<Value> {
    let birthdate = match phone {
        "+12015550100" => "1990-04-01",
        "+12015550110" => "2010-06-01",
        _ => return None,
    };
    Some(json!({
        "phoneNumber": phone,
        "idDocument": "123456789",
        "idDocumentType": "social_security_id",
        "idDocumentExpiryDate": "2030-01-01",
        "name": "Avery Quinn",
        "givenName": "Avery",
        "familyName": "Quinn",
        "address": "100 Main Street",
        "streetName": "Main Street",
        "streetNumber": "100",
        "houseNumberExtension": "4B",
        "postalCode": "62701",
        "region": "IL",
        "locality": "Springfield",
        "country": "US",
        "birthdate": birthdate,
        "email": "avery.quinn@example.com",
        "gender": "OTHER",
        "nationality": "US",
    }))
}

/// Known lines (others: `404 IDENTIFIER_NOT_FOUND`, or `422` for reachability).
fn known(phone: &str) -> bool {
    phone
        .strip_prefix("+12015550")
        .and_then(|d| d.parse::<u32>().ok())
        .is_some_and(|d| (100..=110).contains(&d))
}

fn api(
    op: &mut Operator,
    method: &Method,
    path: &str,
    bearer: Option<&str>,
    headers: &HeaderMap,
    body: &Value,
) -> (u16, Option<Value>) {
    let Some(rest) = path.strip_prefix(API_ROOT) else {
        return error_info(404, "NOT_FOUND", "The specified resource is not found.");
    };
    let (scopes, three_legged): (&[&str], bool) = match (method.as_str(), rest) {
        ("POST", "/sim-swap/v2/check") => (&["sim-swap:check", "sim-swap"], false),
        ("POST", "/sim-swap/v2/retrieve-date") => (&["sim-swap:retrieve-date", "sim-swap"], false),
        ("POST", "/number-verification/v2/verify") => (&["number-verification:verify"], true),
        ("POST", "/kyc-match/v0.4/match") => (&["kyc-match:match"], false),
        ("POST", "/kyc-fill-in/v0.4/fill-in") => (&["kyc-fill-in:set-all"], false),
        ("POST", "/kyc-age-verification/v0.2/verify") => (&["kyc-age-verification:verify"], false),
        ("POST", "/device-reachability-status/v1/retrieve") => {
            (&["device-reachability-status:read"], false)
        }
        ("POST", "/sim-swap-subscriptions/v0.3/subscriptions") => (
            &["sim-swap-subscriptions:org.camaraproject.sim-swap-subscriptions.v0.swapped:create"],
            false,
        ),
        ("DELETE", p) if p.starts_with("/sim-swap-subscriptions/v0.3/subscriptions/") => {
            (&["sim-swap-subscriptions:delete"], false)
        }
        _ => return error_info(404, "NOT_FOUND", "The specified resource is not found."),
    };
    // Security: a bearer the operator issued, with one of the operation's scopes.
    let grant = match bearer.and_then(|b| op.grants.get(b)) {
        Some(g) if !op.reject_all_tokens => g.clone(),
        _ => {
            return error_info(
                401,
                "UNAUTHENTICATED",
                "Request not authenticated due to missing, invalid, or expired credentials.",
            )
        }
    };
    if !grant.scopes.iter().any(|s| scopes.contains(&s.as_str()))
        || three_legged != grant.device.is_some()
    {
        return error_info(
            403,
            "PERMISSION_DENIED",
            "Client does not have sufficient permissions to perform this action.",
        );
    }
    if method == Method::DELETE {
        let id = rest.trim_start_matches("/sim-swap-subscriptions/v0.3/subscriptions/");
        return match op.subscriptions.remove(id) {
            Some(_) => (204, None),
            None => error_info(404, "NOT_FOUND", "The specified resource is not found."),
        };
    }
    // Request bodies: JSON objects.
    if header(headers, "content-type").as_deref() != Some("application/json") || !body.is_object() {
        return error_info(
            400,
            "INVALID_ARGUMENT",
            "Client specified an invalid argument, request body or query param.",
        );
    }
    let invalid = || {
        error_info(
            400,
            "INVALID_ARGUMENT",
            "Client specified an invalid argument, request body or query param.",
        )
    };
    let not_found = || error_info(404, "IDENTIFIER_NOT_FOUND", "Device identifier not found.");
    // Two-legged tokens carry no subject: the identifier MUST be in the body.
    let subject = |phone: Option<&Value>| -> Result<String, (u16, Option<Value>)> {
        match phone {
            None => Err(error_info(
                422,
                "MISSING_IDENTIFIER",
                "The device cannot be identified.",
            )),
            Some(p) if is_phone(p) => Ok(p.as_str().unwrap_or_default().to_string()),
            Some(_) => Err(invalid()),
        }
    };
    match rest {
        "/sim-swap/v2/check" | "/sim-swap/v2/retrieve-date" => {
            let check = rest.ends_with("check");
            if !only(
                body,
                if check {
                    &["phoneNumber", "maxAge"]
                } else {
                    &["phoneNumber"]
                },
            ) {
                return invalid();
            }
            let phone = match subject(body.get("phoneNumber")) {
                Ok(p) => p,
                Err(e) => return e,
            };
            if !known(&phone) {
                return not_found();
            }
            // +12015550102 swapped 3 hours ago; +12015550103 on 3 July 2023.
            if check {
                let max_age = match body.get("maxAge") {
                    None => 240,
                    Some(v) => match v.as_i64() {
                        Some(h) if (1..=2400).contains(&h) => h,
                        Some(_) => {
                            return error_info(
                                400,
                                "OUT_OF_RANGE",
                                "Client specified an invalid range.",
                            )
                        }
                        None => return invalid(),
                    },
                };
                (
                    200,
                    Some(json!({ "swapped": phone == "+12015550102" && max_age >= 3 })),
                )
            } else {
                (
                    200,
                    Some(match phone.as_str() {
                        "+12015550102" => {
                            json!({ "latestSimChange": "2024-09-18T07:37:53.471829447Z" })
                        }
                        "+12015550103" => {
                            json!({ "latestSimChange": "2023-07-03T14:27:08.312+02:00", "monitoredPeriod": 120 })
                        }
                        _ => json!({ "latestSimChange": null, "monitoredPeriod": 120 }),
                    }),
                )
            }
        }
        "/number-verification/v2/verify" => {
            // Exactly one of phoneNumber and hashedPhoneNumber.
            let o = body.as_object().map(|o| o.len()).unwrap_or(0);
            if o != 1 || !only(body, &["phoneNumber", "hashedPhoneNumber"]) {
                return invalid();
            }
            let Some((device, over_network)) = grant.device else {
                return invalid();
            };
            if !over_network {
                return error_info(
                    403,
                    "NUMBER_VERIFICATION.USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK",
                    "Client must authenticate via the mobile network to use this service",
                );
            }
            let verified = match (body.get("phoneNumber"), body.get("hashedPhoneNumber")) {
                (Some(p), None) if is_phone(p) => p.as_str() == Some(device.as_str()),
                (None, Some(h)) => {
                    h.as_str().map(str::to_ascii_lowercase)
                        == Some(hex::encode(Sha256::digest(device.as_bytes())))
                }
                _ => return invalid(),
            };
            (200, Some(json!({ "devicePhoneNumberVerified": verified })))
        }
        "/kyc-match/v0.4/match" => {
            if !only(body, KYC_ATTRIBUTES) {
                return invalid();
            }
            let phone = match subject(body.get("phoneNumber")) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let claims: Vec<(&String, &Value)> = body
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| *k != "phoneNumber")
                .collect();
            if claims.is_empty() {
                return error_info(
                    400,
                    "KNOW_YOUR_CUSTOMER.INVALID_PARAM_COMBINATION",
                    "Only the phone number was provided.",
                );
            }
            let Some(record) = record(&phone) else {
                return not_found();
            };
            let mut out = serde_json::Map::new();
            for (key, claim) in claims {
                let claim = claim.as_str().unwrap_or_default();
                let result = match record.get(key).and_then(Value::as_str) {
                    None => "not_available",
                    Some(truth) if truth.eq_ignore_ascii_case(claim) => "true",
                    Some(truth) => {
                        if SCORED.contains(&key.as_str()) {
                            let common = truth
                                .chars()
                                .zip(claim.chars())
                                .take_while(|(a, b)| a == b)
                                .count();
                            let longest = truth.chars().count().max(claim.chars().count()).max(1);
                            out.insert(format!("{key}MatchScore"), json!(common * 99 / longest));
                        }
                        "false"
                    }
                };
                out.insert(format!("{key}Match"), json!(result));
            }
            (200, Some(Value::Object(out)))
        }
        "/kyc-fill-in/v0.4/fill-in" => {
            if !only(body, &["phoneNumber"]) {
                return invalid();
            }
            let phone = match subject(body.get("phoneNumber")) {
                Ok(p) => p,
                Err(e) => return e,
            };
            match record(&phone) {
                Some(r) => (200, Some(r)),
                None => not_found(),
            }
        }
        "/kyc-age-verification/v0.2/verify" => {
            let allowed = [
                "ageThreshold",
                "phoneNumber",
                "idDocument",
                "name",
                "givenName",
                "familyName",
                "middleNames",
                "familyNameAtBirth",
                "birthdate",
                "email",
                "includeContentLock",
                "includeParentalControl",
            ];
            if !only(body, &allowed) {
                return invalid();
            }
            let threshold = match body.get("ageThreshold").map(Value::as_i64) {
                Some(Some(t)) if (0..=120).contains(&t) => t,
                Some(Some(_)) => {
                    return error_info(400, "OUT_OF_RANGE", "Client specified an invalid range.")
                }
                _ => return invalid(),
            };
            let phone = match subject(body.get("phoneNumber")) {
                Ok(p) => p,
                Err(e) => return e,
            };
            let age = match phone.as_str() {
                "+12015550100" => 35,
                "+12015550110" => 15,
                _ => return not_found(),
            };
            let check = if age >= threshold { "true" } else { "false" };
            (
                200,
                Some(
                    json!({ "ageCheck": check, "verifiedStatus": true, "identityMatchScore": 90 }),
                ),
            )
        }
        "/device-reachability-status/v1/retrieve" => {
            if !only(body, &["device"]) {
                return invalid();
            }
            let device = body.get("device");
            let device_ok = device.is_some_and(|d| {
                only(
                    d,
                    &[
                        "phoneNumber",
                        "networkAccessIdentifier",
                        "ipv4Address",
                        "ipv6Address",
                    ],
                ) && d.as_object().is_some_and(|o| !o.is_empty())
            });
            if !device_ok {
                return invalid();
            }
            let phone = match subject(device.and_then(|d| d.get("phoneNumber"))) {
                Ok(p) => p,
                Err(_) => {
                    return error_info(
                        422,
                        "UNSUPPORTED_IDENTIFIER",
                        "The identifier provided is not supported.",
                    )
                }
            };
            if !known(&phone) {
                return error_info(
                    422,
                    "SERVICE_NOT_APPLICABLE",
                    "The service is not available for the provided identifier.",
                );
            }
            let time = "2024-02-20T10:41:38.657Z";
            (
                200,
                Some(match phone.as_str() {
                    "+12015550104" => json!({ "lastStatusTime": time, "reachable": false }),
                    "+12015550106" => {
                        json!({ "device": { "phoneNumber": phone }, "lastStatusTime": time, "reachable": true, "connectivity": ["SMS"] })
                    }
                    _ => {
                        json!({ "device": { "phoneNumber": phone }, "lastStatusTime": "2024-02-20T12:41:38.657+02:00", "reachable": true, "connectivity": ["DATA", "SMS"] })
                    }
                }),
            )
        }
        "/sim-swap-subscriptions/v0.3/subscriptions" => {
            if !only(
                body,
                &["protocol", "sink", "sinkCredential", "types", "config"],
            ) {
                return invalid();
            }
            if body.get("protocol").and_then(Value::as_str) != Some("HTTP") {
                return error_info(400, "INVALID_PROTOCOL", "Only HTTP is supported");
            }
            let sink = body.get("sink").and_then(Value::as_str).unwrap_or_default();
            if !sink.starts_with("https://") || sink.len() <= "https://".len() {
                return error_info(
                    400,
                    "INVALID_SINK",
                    "sink not valid for the specified protocol",
                );
            }
            let credential = body.get("sinkCredential").cloned().unwrap_or(Value::Null);
            let credential_ok = credential.get("credentialType").and_then(Value::as_str)
                == Some("ACCESSTOKEN")
                && credential
                    .get("accessToken")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty())
                && credential.get("accessTokenType").and_then(Value::as_str) == Some("bearer")
                && credential
                    .get("accessTokenExpiresUtc")
                    .and_then(Value::as_str)
                    .is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok());
            if !credential_ok {
                return error_info(400, "INVALID_CREDENTIAL", "Only Access token is supported");
            }
            if body.get("types") != Some(&json!([SWAPPED])) {
                return invalid();
            }
            let config = body.get("config").cloned().unwrap_or(Value::Null);
            let detail = config.get("subscriptionDetail");
            if !detail.is_some_and(|d| only(d, &["phoneNumber"]))
                || !only(
                    &config,
                    &[
                        "subscriptionDetail",
                        "subscriptionExpireTime",
                        "subscriptionMaxEvents",
                    ],
                )
            {
                return invalid();
            }
            let phone = match subject(detail.and_then(|d| d.get("phoneNumber"))) {
                Ok(p) => p,
                Err(e) => return e,
            };
            if !known(&phone) {
                return not_found();
            }
            let id = format!("sub-{}", op.subscriptions.len() + 1);
            let mut subscription = json!({
                "protocol": "HTTP",
                "sink": sink,
                "types": [SWAPPED],
                "config": config,
                "id": id,
                "startsAt": "2024-06-07T16:10:15.302Z",
                "status": "ACTIVATION_REQUESTED",
            });
            if let Some(expires) = config.get("subscriptionExpireTime") {
                subscription["expiresAt"] = expires.clone();
            }
            op.subscriptions.insert(id, subscription.clone());
            (201, Some(subscription))
        }
        _ => error_info(404, "NOT_FOUND", "The specified resource is not found."),
    }
}

// ---------------------------------------------------------------------------------
// Happy paths.

#[tokio::test]
async fn sim_swap_check_and_date() {
    let s = spawn().await;
    let c = s.client();
    assert_eq!(c.name(), "camara");

    assert!(c
        .sim_swap_check(&n("+12015550102"), 24)
        .await
        .expect("check"));
    let call = s.last_call();
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, "/camara/sim-swap/v2/check");
    assert_eq!(
        call.body,
        json!({ "phoneNumber": "+12015550102", "maxAge": 24 })
    );
    assert_eq!(call.content_type.as_deref(), Some("application/json"));
    let bearer = call.bearer.expect("bearer");
    assert_eq!(s.scopes_of(&bearer), ["sim-swap:check"]);
    assert!(!c
        .sim_swap_check(&n("+12015550100"), 2400)
        .await
        .expect("check"));
    assert!(!c
        .sim_swap_check(&n("+12015550102"), 2)
        .await
        .expect("check"));

    // Out of range: refused before any request.
    let before = s.calls().len();
    for bad in [0, 2401] {
        assert!(matches!(
            c.sim_swap_check(&n("+12015550102"), bad).await,
            Err(TelcoError::Invalid(_))
        ));
    }
    assert_eq!(s.calls().len(), before);

    let date = c.sim_swap_date(&n("+12015550102")).await.expect("date");
    let call = s.last_call();
    assert_eq!(call.path, "/camara/sim-swap/v2/retrieve-date");
    assert_eq!(call.body, json!({ "phoneNumber": "+12015550102" }));
    assert_eq!(
        s.scopes_of(call.bearer.as_deref().expect("bearer")),
        ["sim-swap:retrieve-date"]
    );
    assert_eq!(
        date.latest_sim_change.map(|t| t.to_rfc3339()),
        Some("2024-09-18T07:37:53.471829447+00:00".to_string())
    );
    assert_eq!(date.monitored_period_days, None);

    let date = c.sim_swap_date(&n("+12015550103")).await.expect("date");
    assert_eq!(
        date.latest_sim_change.map(|t| t.to_rfc3339()),
        Some("2023-07-03T12:27:08.312+00:00".to_string())
    );
    assert_eq!(date.monitored_period_days, Some(120));

    let date = c.sim_swap_date(&n("+12015550100")).await.expect("date");
    assert_eq!(
        date,
        SimSwapDate {
            latest_sim_change: None,
            monitored_period_days: Some(120)
        }
    );
}

#[tokio::test]
async fn number_verification_with_network_authentication() {
    let s = spawn().await;
    let c = s.client();
    let phone = n("+12015550108");

    let redirect = c
        .network_auth_redirect(&phone, "st&te 1", REDIRECT)
        .expect("redirect");
    assert_eq!(
        redirect.url,
        "https://login.operator.example/authorize?response_type=code&client_id=vouch-client\
         &redirect_uri=https://vouch.example.com/v1/phone/network-callback\
         &scope=openid%20number-verification:verify&state=st%26te%201&prompt=none\
         &login_hint=tel:%2B12015550108"
    );
    let parsed = url::Url::parse(&redirect.url).expect("url");
    let query: HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(query["login_hint"], "tel:+12015550108");
    assert_eq!(query["scope"], "openid number-verification:verify");
    assert_eq!(query["state"], "st&te 1");
    assert_eq!(query["redirect_uri"], REDIRECT);

    let proof = c
        .exchange_network_code("net:+12015550108", REDIRECT)
        .await
        .expect("exchange");
    assert_eq!(
        s.token_calls(),
        [TokenCall {
            grant_type: "authorization_code".into(),
            scope: None,
            code: Some("net:+12015550108".into()),
            redirect_uri: Some(REDIRECT.into()),
        }]
    );
    let DeviceProof::AccessToken(user_token) = &proof else {
        panic!("no token: {proof:?}");
    };

    assert_eq!(
        c.verify_number(&phone, &proof).await.expect("verify"),
        NumberCheck::Verified
    );
    let call = s.last_call();
    assert_eq!(call.path, "/camara/number-verification/v2/verify");
    assert_eq!(call.body, json!({ "phoneNumber": "+12015550108" }));
    // The device's three-legged token, not a client-credentials one.
    assert_eq!(call.bearer.as_deref(), Some(user_token.as_str()));
    assert_eq!(s.token_calls().len(), 1);

    assert_eq!(
        c.verify_number(&n("+12015550109"), &proof)
            .await
            .expect("verify"),
        NumberCheck::NotVerified
    );

    // Authenticated some other way: the API answers 403 USER_NOT_AUTHENTICATED_BY_MOBILE_NETWORK.
    let otp = c
        .exchange_network_code("otp:+12015550108", REDIRECT)
        .await
        .expect("exchange");
    assert_eq!(
        c.verify_number(&phone, &otp).await.expect("verify"),
        NumberCheck::Unavailable
    );

    // No proof: no request.
    let before = s.calls().len();
    assert_eq!(
        c.verify_number(&phone, &DeviceProof::None)
            .await
            .expect("verify"),
        NumberCheck::Unavailable
    );
    assert_eq!(s.calls().len(), before);

    // A plain 403 is a refusal; a stale user token is a refusal without any refetch.
    s.push(Canned::Json(
        403,
        json!({ "status": 403, "code": "PERMISSION_DENIED", "message": "no" }),
    ));
    let err = c.verify_number(&phone, &proof).await.expect_err("refused");
    assert!(
        matches!(&err, TelcoError::Refused(m) if m.contains("PERMISSION_DENIED")),
        "{err:?}"
    );
    let tokens = s.token_calls().len();
    let err = c
        .verify_number(&phone, &DeviceProof::AccessToken("expired".into()))
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, TelcoError::Refused(m) if m.contains("UNAUTHENTICATED")),
        "{err:?}"
    );
    assert_eq!(s.token_calls().len(), tokens);

    // A bad code is refused by the token endpoint.
    let err = c
        .exchange_network_code("bogus", REDIRECT)
        .await
        .expect_err("bad code");
    assert!(
        matches!(&err, TelcoError::Refused(m) if m.contains("invalid_grant")),
        "{err:?}"
    );
}

#[tokio::test]
async fn network_authentication_needs_an_authorize_url() {
    let s = spawn().await;
    let c = CamaraClient::new(CamaraConfig {
        authorize_url: None,
        ..s.config()
    })
    .expect("client");
    assert_eq!(
        c.network_auth_redirect(&n("+12015550108"), "s", REDIRECT),
        None
    );
    assert!(matches!(
        c.exchange_network_code("net:+12015550108", REDIRECT).await,
        Err(TelcoError::NotApplicable(_))
    ));
    assert!(s.token_calls().is_empty());

    // An authorize URL with its own query keeps it.
    let c = CamaraClient::new(CamaraConfig {
        authorize_url: Some("https://login.operator.example/authorize?acr=mobile".into()),
        ..s.config()
    })
    .expect("client");
    let url = c
        .network_auth_redirect(&n("+12015550108"), "s", REDIRECT)
        .expect("redirect")
        .url;
    assert!(
        url.starts_with("https://login.operator.example/authorize?acr=mobile&response_type=code&"),
        "{url}"
    );
}

#[tokio::test]
async fn kyc_match_maps_results_and_scores() {
    let s = spawn().await;
    let c = s.client();
    let claims = KycAttributes {
        given_name: Some("Avery".into()),
        family_name: Some("Quin".into()),
        birthdate: Some("1990-04-02".into()),
        id_document: Some("123456789".into()),
        email: Some("avery@example.com".into()),
        ..Default::default()
    };
    let m = c
        .kyc_match(&n("+12015550100"), &claims)
        .await
        .expect("match");
    let call = s.last_call();
    assert_eq!(call.path, "/camara/kyc-match/v0.4/match");
    assert_eq!(
        call.body,
        json!({
            "phoneNumber": "+12015550100",
            "givenName": "Avery",
            "familyName": "Quin",
            "birthdate": "1990-04-02",
            "idDocument": "123456789",
            "email": "avery@example.com",
        })
    );
    assert_eq!(
        s.scopes_of(call.bearer.as_deref().expect("bearer")),
        ["kyc-match:match"]
    );
    let expected: KycMatch = [
        ("givenName", Tri::True, None),
        ("familyName", Tri::False, Some(79)),
        ("birthdate", Tri::False, None),
        ("idDocument", Tri::True, None),
        ("email", Tri::False, Some(21)),
    ]
    .into_iter()
    .map(|(k, matched, score)| (k.to_string(), FieldMatch { matched, score }))
    .collect();
    assert_eq!(m, expected);

    // The example answer of the YAML file, booleans from other operators, junk skipped.
    s.push(Canned::Json(
        200,
        json!({
            "nameMatch": "true",
            "givenNameMatch": "not_available",
            "familyNameAtBirthMatch": "false",
            "familyNameAtBirthMatchScore": 90,
            "emailMatch": "false",
            "emailMatchScore": 870,
            "countryMatch": true,
            "genderMatch": 7,
            "orphanMatchScore": 5,
        }),
    ));
    let m = c
        .kyc_match(&n("+12015550100"), &claims)
        .await
        .expect("match");
    let got: Vec<(&str, Tri, Option<u8>)> = m
        .iter()
        .map(|(k, f)| (k.as_str(), f.matched, f.score))
        .collect();
    assert_eq!(
        got,
        [
            ("country", Tri::True, None),
            ("email", Tri::False, None),
            ("familyNameAtBirth", Tri::False, Some(90)),
            ("givenName", Tri::NotAvailable, None),
            ("name", Tri::True, None),
        ]
    );

    // Nothing to compare: no request.
    let before = s.calls().len();
    let empty = c
        .kyc_match(&n("+12015550100"), &KycAttributes::default())
        .await
        .expect("match");
    assert!(empty.is_empty());
    assert_eq!(s.calls().len(), before);

    // No record.
    let err = c
        .kyc_match(&n("+12015550199"), &claims)
        .await
        .expect_err("no record");
    assert!(
        matches!(&err, TelcoError::NotApplicable(m) if m.contains("IDENTIFIER_NOT_FOUND")),
        "{err:?}"
    );
}

#[tokio::test]
async fn kyc_fill_in_returns_the_record() {
    let s = spawn().await;
    let c = s.client();
    let got = c.kyc_fill_in(&n("+12015550100")).await.expect("fill-in");
    let call = s.last_call();
    assert_eq!(call.path, "/camara/kyc-fill-in/v0.4/fill-in");
    assert_eq!(call.body, json!({ "phoneNumber": "+12015550100" }));
    assert_eq!(
        s.scopes_of(call.bearer.as_deref().expect("bearer")),
        ["kyc-fill-in:set-all"]
    );
    assert_eq!(
        got,
        KycAttributes {
            id_document: Some("123456789".into()),
            id_document_type: Some("social_security_id".into()),
            name: Some("Avery Quinn".into()),
            given_name: Some("Avery".into()),
            family_name: Some("Quinn".into()),
            middle_names: None,
            address: Some("100 Main Street".into()),
            street_name: Some("Main Street".into()),
            street_number: Some("100".into()),
            postal_code: Some("62701".into()),
            region: Some("IL".into()),
            locality: Some("Springfield".into()),
            country: Some("US".into()),
            birthdate: Some("1990-04-01".into()),
            email: Some("avery.quinn@example.com".into()),
            gender: Some("OTHER".into()),
        }
    );

    // Numbers as text, nulls and odd types dropped.
    s.push(Canned::Json(
        200,
        json!({ "givenName": "Avery", "streetNumber": 100, "postalCode": null, "email": ["x"] }),
    ));
    let got = c.kyc_fill_in(&n("+12015550100")).await.expect("fill-in");
    assert_eq!(
        got,
        KycAttributes {
            given_name: Some("Avery".into()),
            street_number: Some("100".into()),
            ..Default::default()
        }
    );

    let err = c
        .kyc_fill_in(&n("+12015550199"))
        .await
        .expect_err("no record");
    assert!(
        matches!(&err, TelcoError::NotApplicable(m) if m.contains("IDENTIFIER_NOT_FOUND")),
        "{err:?}"
    );
}

#[tokio::test]
async fn age_verification() {
    let s = spawn().await;
    let c = s.client();
    let got = c.age_verify(&n("+12015550100"), 18).await.expect("age");
    let call = s.last_call();
    assert_eq!(call.path, "/camara/kyc-age-verification/v0.2/verify");
    assert_eq!(
        call.body,
        json!({ "ageThreshold": 18, "phoneNumber": "+12015550100" })
    );
    assert_eq!(
        s.scopes_of(call.bearer.as_deref().expect("bearer")),
        ["kyc-age-verification:verify"]
    );
    assert_eq!(
        got,
        AgeCheck {
            age_check: Tri::True,
            verified_status: Some(true),
            identity_match_score: Some(90)
        }
    );
    assert_eq!(
        c.age_verify(&n("+12015550110"), 18)
            .await
            .expect("age")
            .age_check,
        Tri::False
    );
    assert_eq!(
        c.age_verify(&n("+12015550110"), 0)
            .await
            .expect("age")
            .age_check,
        Tri::True
    );

    let before = s.calls().len();
    assert!(matches!(
        c.age_verify(&n("+12015550100"), 121).await,
        Err(TelcoError::Invalid(_))
    ));
    assert_eq!(s.calls().len(), before);

    s.push(Canned::Json(200, json!({ "ageCheck": "not_available" })));
    assert_eq!(
        c.age_verify(&n("+12015550100"), 18).await.expect("age"),
        AgeCheck {
            age_check: Tri::NotAvailable,
            verified_status: None,
            identity_match_score: None
        }
    );
    s.push(Canned::Json(200, json!({ "ageCheck": "maybe" })));
    assert!(matches!(
        c.age_verify(&n("+12015550100"), 18).await,
        Err(TelcoError::Unavailable(_))
    ));
}

#[tokio::test]
async fn device_reachability() {
    let s = spawn().await;
    let c = s.client();
    let got = c
        .reachability(&n("+12015550100"))
        .await
        .expect("reachability");
    let call = s.last_call();
    assert_eq!(call.path, "/camara/device-reachability-status/v1/retrieve");
    assert_eq!(
        call.body,
        json!({ "device": { "phoneNumber": "+12015550100" } })
    );
    assert_eq!(
        s.scopes_of(call.bearer.as_deref().expect("bearer")),
        ["device-reachability-status:read"]
    );
    assert!(got.reachable);
    assert_eq!(got.connectivity, ["DATA", "SMS"]);
    assert_eq!(
        got.last_status_time.map(|t| t.to_rfc3339()),
        Some("2024-02-20T10:41:38.657+00:00".to_string())
    );

    let sms = c
        .reachability(&n("+12015550106"))
        .await
        .expect("reachability");
    assert_eq!(sms.connectivity, ["SMS"]);
    let down = c
        .reachability(&n("+12015550104"))
        .await
        .expect("reachability");
    assert!(!down.reachable);
    assert!(down.connectivity.is_empty());

    let err = c
        .reachability(&n("+12015550199"))
        .await
        .expect_err("not served");
    assert!(
        matches!(&err, TelcoError::NotApplicable(m) if m.contains("SERVICE_NOT_APPLICABLE")),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------
// Tokens and correlators.

#[tokio::test]
async fn tokens_are_cached_per_scope() {
    let s = spawn().await;
    let c = s.client();
    c.sim_swap_check(&n("+12015550100"), 24)
        .await
        .expect("check");
    c.sim_swap_check(&n("+12015550102"), 24)
        .await
        .expect("check");
    c.sim_swap_date(&n("+12015550100")).await.expect("date");
    c.sim_swap_date(&n("+12015550100")).await.expect("date");
    c.reachability(&n("+12015550100"))
        .await
        .expect("reachability");
    let tokens = s.token_calls();
    let scopes: Vec<Option<&str>> = tokens.iter().map(|t| t.scope.as_deref()).collect();
    assert_eq!(
        scopes,
        [
            Some("sim-swap:check"),
            Some("sim-swap:retrieve-date"),
            Some("device-reachability-status:read")
        ]
    );
    assert!(tokens.iter().all(|t| t.grant_type == "client_credentials"));
    let calls = s.calls();
    assert_eq!(calls[0].bearer, calls[1].bearer);
    assert_eq!(calls[2].bearer, calls[3].bearer);
    assert_ne!(calls[0].bearer, calls[2].bearer);
}

#[tokio::test]
async fn tokens_are_refetched_before_they_expire() {
    let s = spawn().await;
    s.op().expires_in = 1;
    let c = s.client();
    c.sim_swap_check(&n("+12015550100"), 24)
        .await
        .expect("check");
    tokio::time::sleep(Duration::from_millis(700)).await;
    c.sim_swap_check(&n("+12015550100"), 24)
        .await
        .expect("check");
    assert_eq!(s.token_calls().len(), 2);
    let calls = s.calls();
    assert_ne!(calls[0].bearer, calls[1].bearer);
}

#[tokio::test]
async fn a_refused_token_is_dropped_and_refetched_once() {
    let s = spawn().await;
    let c = s.client();
    c.kyc_fill_in(&n("+12015550100")).await.expect("fill-in");
    s.revoke_all();
    c.kyc_fill_in(&n("+12015550100"))
        .await
        .expect("fill-in after refresh");
    assert_eq!(s.token_calls().len(), 2);
    let calls = s.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(
        calls[0].bearer, calls[1].bearer,
        "the stale token was tried first"
    );
    assert_ne!(calls[1].bearer, calls[2].bearer);
    assert_eq!(
        calls[1].correlator, calls[2].correlator,
        "one correlator per operation"
    );
    // The fresh token stays cached.
    c.kyc_fill_in(&n("+12015550100")).await.expect("fill-in");
    assert_eq!(s.token_calls().len(), 2);

    // Refused again after the refetch: give up.
    s.op().reject_all_tokens = true;
    let err = c
        .kyc_fill_in(&n("+12015550100"))
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, TelcoError::Refused(m) if m.contains("UNAUTHENTICATED")),
        "{err:?}"
    );
    assert_eq!(s.calls().len(), 6);
    assert_eq!(s.token_calls().len(), 3);
}

#[tokio::test]
async fn every_call_sends_a_fresh_correlator() {
    let s = spawn().await;
    let c = s.client();
    c.sim_swap_check(&n("+12015550100"), 24)
        .await
        .expect("check");
    c.sim_swap_date(&n("+12015550100")).await.expect("date");
    c.kyc_fill_in(&n("+12015550100")).await.expect("fill-in");
    c.age_verify(&n("+12015550100"), 18).await.expect("age");
    c.reachability(&n("+12015550100"))
        .await
        .expect("reachability");
    let proof = c
        .exchange_network_code("net:+12015550108", REDIRECT)
        .await
        .expect("exchange");
    c.verify_number(&n("+12015550108"), &proof)
        .await
        .expect("verify");
    let correlators: Vec<String> = s
        .calls()
        .into_iter()
        .map(|c| c.correlator.expect("x-correlator"))
        .collect();
    assert_eq!(correlators.len(), 6);
    for c in &correlators {
        assert_eq!(c.len(), 36, "{c}");
        assert!(c.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-'), "{c}");
    }
    let distinct: std::collections::HashSet<_> = correlators.iter().collect();
    assert_eq!(distinct.len(), correlators.len());
}

// ---------------------------------------------------------------------------------
// Errors.

fn camara_error(status: u16, code: &str) -> Canned {
    Canned::Json(
        status,
        json!({ "status": status, "code": code, "message": format!("{code} happened") }),
    )
}

fn variant_of(e: &TelcoError) -> &'static str {
    match e {
        TelcoError::NotApplicable(_) => "NotApplicable",
        TelcoError::Refused(_) => "Refused",
        TelcoError::Invalid(_) => "Invalid",
        TelcoError::Unavailable(_) => "Unavailable",
    }
}

#[tokio::test]
async fn errors_map_to_telco_errors() {
    let s = spawn().await;
    let c = s.client();
    let phone = n("+12015550100");
    let cases: Vec<(Canned, &str, &str)> = vec![
        (
            camara_error(404, "IDENTIFIER_NOT_FOUND"),
            "NotApplicable",
            "IDENTIFIER_NOT_FOUND",
        ),
        (
            camara_error(422, "SERVICE_NOT_APPLICABLE"),
            "NotApplicable",
            "SERVICE_NOT_APPLICABLE",
        ),
        (
            camara_error(403, "PERMISSION_DENIED"),
            "Refused",
            "PERMISSION_DENIED",
        ),
        (camara_error(400, "OUT_OF_RANGE"), "Invalid", "OUT_OF_RANGE"),
        (
            camara_error(409, "ALREADY_EXISTS"),
            "Invalid",
            "ALREADY_EXISTS",
        ),
        (
            camara_error(429, "TOO_MANY_REQUESTS"),
            "Unavailable",
            "TOO_MANY_REQUESTS",
        ),
        (
            camara_error(503, "UNAVAILABLE"),
            "Unavailable",
            "UNAVAILABLE",
        ),
        (
            Canned::Raw(500, "<html>oops</html>"),
            "Unavailable",
            "HTTP_500",
        ),
        (Canned::Raw(502, ""), "Unavailable", "no error body"),
        (
            Canned::Raw(200, "{\"swapped\": tru"),
            "Unavailable",
            "unreadable",
        ),
        (Canned::Raw(200, "null"), "Unavailable", "unreadable"),
        (
            Canned::Json(200, json!({ "swapped": "yes" })),
            "Unavailable",
            "unreadable",
        ),
        (Canned::Json(200, json!({})), "Unavailable", "unreadable"),
    ];
    for (canned, variant, code) in cases {
        s.push(canned);
        let err = c.sim_swap_check(&phone, 24).await.expect_err(code);
        assert_eq!(variant_of(&err), variant, "{code}: {err:?}");
        assert!(err.to_string().contains(code), "{code}: {err}");
    }

    // The other operations too.
    s.push(Canned::Raw(200, "[]"));
    assert!(matches!(
        c.sim_swap_date(&phone).await,
        Err(TelcoError::Unavailable(_))
    ));
    s.push(Canned::Json(200, json!({ "latestSimChange": "yesterday" })));
    assert!(matches!(
        c.sim_swap_date(&phone).await,
        Err(TelcoError::Unavailable(_))
    ));
    s.push(Canned::Raw(200, "garbage"));
    assert!(matches!(
        c.kyc_fill_in(&phone).await,
        Err(TelcoError::Unavailable(_))
    ));
    s.push(Canned::Json(200, json!({ "reachable": "yes" })));
    assert!(matches!(
        c.reachability(&phone).await,
        Err(TelcoError::Unavailable(_))
    ));
    s.push(camara_error(422, "MISSING_IDENTIFIER"));
    assert!(matches!(
        c.kyc_match(&phone, &KycAttributes { given_name: Some("A".into()), ..Default::default() }).await,
        Err(TelcoError::NotApplicable(m)) if m.contains("MISSING_IDENTIFIER")
    ));
    // A huge error message is cut short.
    let long = "x".repeat(100_000);
    s.push(Canned::Json(
        404,
        json!({ "status": 404, "code": "NOT_FOUND", "message": long }),
    ));
    let err = c.age_verify(&phone, 18).await.expect_err("not found");
    assert!(err.to_string().len() < 1000, "{}", err.to_string().len());
}

#[tokio::test]
async fn timeouts_are_unavailable() {
    let s = spawn().await;
    let c = CamaraClient::new(CamaraConfig {
        timeout: Duration::from_millis(300),
        ..s.config()
    })
    .expect("client");
    // Fetch the token first so that only the API call is slow.
    c.reachability(&n("+12015550100"))
        .await
        .expect("reachability");
    s.push(Canned::Delay(Duration::from_secs(2)));
    let err = c
        .reachability(&n("+12015550100"))
        .await
        .expect_err("timeout");
    assert!(
        matches!(&err, TelcoError::Unavailable(m) if m.contains("TIMEOUT")),
        "{err:?}"
    );
}

#[tokio::test]
async fn token_endpoint_errors() {
    let s = spawn().await;
    let wrong = CamaraClient::new(CamaraConfig {
        client_secret: "nope".into(),
        ..s.config()
    })
    .expect("client");
    let err = wrong
        .sim_swap_check(&n("+12015550100"), 24)
        .await
        .expect_err("bad secret");
    assert!(
        matches!(&err, TelcoError::Refused(m) if m.contains("invalid_client")),
        "{err:?}"
    );
    assert!(s.calls().is_empty());

    let c = s.client();
    s.op().token_canned.push_back((503, "<html>down</html>"));
    let err = c
        .sim_swap_check(&n("+12015550100"), 24)
        .await
        .expect_err("down");
    assert!(
        matches!(&err, TelcoError::Unavailable(m) if m.contains("HTTP_503")),
        "{err:?}"
    );
    s.op()
        .token_canned
        .push_back((200, "{\"token_type\":\"Bearer\"}"));
    assert!(matches!(
        c.sim_swap_check(&n("+12015550100"), 24).await,
        Err(TelcoError::Unavailable(_))
    ));
    s.op()
        .token_canned
        .push_back((200, "{\"access_token\":\"t\",\"token_type\":\"DPoP\"}"));
    assert!(matches!(
        c.sim_swap_check(&n("+12015550100"), 24).await,
        Err(TelcoError::Refused(_))
    ));
    s.op()
        .token_canned
        .push_back((400, "{\"error\":\"invalid_scope\"}"));
    assert!(matches!(
        c.sim_swap_check(&n("+12015550100"), 24).await,
        Err(TelcoError::Refused(m)) if m.contains("invalid_scope")
    ));
    // None of these reached the API, and a good answer still works afterwards.
    assert!(s.calls().is_empty());
    assert!(!c
        .sim_swap_check(&n("+12015550100"), 24)
        .await
        .expect("check"));
}

#[tokio::test]
async fn configuration_is_checked() {
    let base = CamaraConfig {
        base_url: "https://api.operator.example/camara".into(),
        token_url: "https://auth.operator.example/token".into(),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        authorize_url: None,
        timeout: Duration::from_secs(5),
    };
    assert!(CamaraClient::new(base.clone()).is_ok());
    for bad in [
        CamaraConfig {
            base_url: "http://api.operator.example".into(),
            ..base.clone()
        },
        CamaraConfig {
            token_url: "not a url".into(),
            ..base.clone()
        },
        CamaraConfig {
            authorize_url: Some("http://login.example/authorize".into()),
            ..base.clone()
        },
        CamaraConfig {
            client_id: String::new(),
            ..base.clone()
        },
        CamaraConfig {
            timeout: Duration::ZERO,
            ..base.clone()
        },
    ] {
        assert!(matches!(
            CamaraClient::new(bad),
            Err(TelcoError::Invalid(_))
        ));
    }
    let shown = format!("{:?}", CamaraClient::new(base).expect("client"));
    assert!(!shown.contains(CLIENT_SECRET), "{shown}");
    assert!(shown.contains("redacted"), "{shown}");
}

// ---------------------------------------------------------------------------------
// SIM swap subscriptions.

#[tokio::test]
async fn sim_swap_subscriptions() {
    let s = spawn().await;
    let c = s.client();
    let sink = "https://vouch.example.com/v1/hooks/sim-swap";
    let id = c
        .subscribe_sim_swap(&n("+12015550100"), sink, "sink-secret")
        .await
        .expect("subscribe");
    assert_eq!(id, "sub-1");
    let call = s.last_call();
    assert_eq!(call.method, "POST");
    assert_eq!(
        call.path,
        "/camara/sim-swap-subscriptions/v0.3/subscriptions"
    );
    assert_eq!(
        s.scopes_of(call.bearer.as_deref().expect("bearer")),
        ["sim-swap-subscriptions:org.camaraproject.sim-swap-subscriptions.v0.swapped:create"]
    );
    let expires = call.body["config"]["subscriptionExpireTime"]
        .as_str()
        .expect("expiry")
        .to_string();
    let at = chrono::DateTime::parse_from_rfc3339(&expires).expect("rfc 3339");
    let days = (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!((29..=30).contains(&days), "{days}");
    assert_eq!(
        call.body,
        json!({
            "protocol": "HTTP",
            "sink": sink,
            "sinkCredential": {
                "credentialType": "ACCESSTOKEN",
                "accessToken": "sink-secret",
                "accessTokenExpiresUtc": expires,
                "accessTokenType": "bearer",
            },
            "types": [SWAPPED],
            "config": {
                "subscriptionDetail": { "phoneNumber": "+12015550100" },
                "subscriptionExpireTime": expires,
            },
        })
    );

    // Asynchronous creation answers 202 with only the id.
    s.push(Canned::Json(202, json!({ "id": "async-7" })));
    let id = c
        .subscribe_sim_swap(&n("+12015550102"), sink, "sink-secret")
        .await
        .expect("subscribe");
    assert_eq!(id, "async-7");

    // Checked before sending.
    let before = s.calls().len();
    for (sink, token) in [
        ("http://vouch.example.com/hook", "t"),
        ("not a url", "t"),
        (sink, ""),
    ] {
        assert!(matches!(
            c.subscribe_sim_swap(&n("+12015550100"), sink, token).await,
            Err(TelcoError::Invalid(_))
        ));
    }
    assert_eq!(s.calls().len(), before);

    let err = c
        .subscribe_sim_swap(&n("+12015550199"), sink, "t")
        .await
        .expect_err("unknown");
    assert!(matches!(err, TelcoError::NotApplicable(_)));
    s.push(camara_error(409, "ALREADY_EXISTS"));
    assert!(matches!(
        c.subscribe_sim_swap(&n("+12015550100"), sink, "t").await,
        Err(TelcoError::Invalid(m)) if m.contains("ALREADY_EXISTS")
    ));

    c.unsubscribe_sim_swap("sub-1").await.expect("unsubscribe");
    let call = s.last_call();
    assert_eq!(call.method, "DELETE");
    assert_eq!(
        call.path,
        "/camara/sim-swap-subscriptions/v0.3/subscriptions/sub-1"
    );
    assert_eq!(
        s.scopes_of(call.bearer.as_deref().expect("bearer")),
        ["sim-swap-subscriptions:delete"]
    );
    assert!(matches!(
        c.unsubscribe_sim_swap("sub-1").await,
        Err(TelcoError::NotApplicable(_))
    ));
    c.unsubscribe_sim_swap("a/b").await.expect_err("unknown");
    assert_eq!(
        s.last_call().path,
        "/camara/sim-swap-subscriptions/v0.3/subscriptions/a%2Fb"
    );
}

#[test]
fn sim_swap_cloud_events() {
    // The SWAPPED example of the YAML file.
    let swapped = json!({
        "id": "123655",
        "source": "supertelco.notificationSendServer12",
        "type": "org.camaraproject.sim-swap-subscriptions.v0.swapped",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "data": { "phoneNumber": "+123456788", "subscriptionId": "2ghy-55gg-7iup-yuo9" },
        "time": "2023-01-18T13:18:23.682Z",
    });
    let notice = parse_sim_swap_event(swapped.to_string().as_bytes()).expect("event");
    assert_eq!(
        notice,
        SimSwapNotice {
            subscription_id: "2ghy-55gg-7iup-yuo9".into(),
            phone_number: Some("+123456788".into()),
            event_id: "123655".into(),
            time: chrono::DateTime::parse_from_rfc3339("2023-01-18T13:18:23.682Z")
                .expect("time")
                .with_timezone(&chrono::Utc),
        }
    );
    let mut no_phone = swapped.clone();
    no_phone["data"] = json!({ "subscriptionId": "s" });
    assert_eq!(
        parse_sim_swap_event(no_phone.to_string().as_bytes())
            .expect("event")
            .phone_number,
        None
    );

    // The SUBSCRIPTION_ENDS example: a lifecycle event, not a swap.
    let ends = json!({
        "id": "123658",
        "source": "supertelco.notificationSendServer12",
        "type": "org.camaraproject.sim-swap-subscriptions.v0.subscription-ended",
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "data": {
            "phoneNumber": "+123456789",
            "terminationReason": "SUBSCRIPTION_EXPIRED",
            "subscriptionId": "2ghy-55gg-7iup-yuo9",
            "terminationDescription": "subscription expire time reached",
        },
        "time": "2023-01-19T13:18:23.682Z",
    });
    assert!(matches!(
        parse_sim_swap_event(ends.to_string().as_bytes()),
        Err(TelcoError::NotApplicable(m)) if m.contains("subscription-ended")
    ));

    let broken = |edit: fn(&mut Value)| {
        let mut v = swapped.clone();
        edit(&mut v);
        parse_sim_swap_event(v.to_string().as_bytes())
    };
    for edit in [
        (|v: &mut Value| v["specversion"] = json!("0.3")) as fn(&mut Value),
        |v| v["time"] = json!("yesterday"),
        |v| v["data"] = json!({ "phoneNumber": "+123456788" }),
        |v| v["data"] = json!(null),
        |v| v["data"]["subscriptionId"] = json!(7),
        |v| {
            v.as_object_mut().expect("object").remove("id");
        },
        |v| v["id"] = json!(""),
    ] {
        assert!(matches!(broken(edit), Err(TelcoError::Invalid(_))));
    }
    for body in [&b""[..], b"{", b"[]", b"null", b"\xff\xfe"] {
        assert!(matches!(
            parse_sim_swap_event(body),
            Err(TelcoError::Invalid(_))
        ));
    }
}

#[test]
fn sink_bearer_is_checked() {
    assert!(sink_authorized(Some("Bearer sink-secret"), "sink-secret"));
    assert!(sink_authorized(Some("bearer sink-secret"), "sink-secret"));
    assert!(!sink_authorized(Some("Bearer sink-secreT"), "sink-secret"));
    assert!(!sink_authorized(Some("Basic sink-secret"), "sink-secret"));
    assert!(!sink_authorized(Some("sink-secret"), "sink-secret"));
    assert!(!sink_authorized(None, "sink-secret"));
    assert!(!sink_authorized(Some("Bearer "), ""));
}

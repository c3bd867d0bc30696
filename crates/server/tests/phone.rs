//! The phone identity API (v3) over real HTTP on loopback: OAuth bearer tokens, the
//! Pre-Fill walk, the line signals of the sandbox numbers, possession through the client
//! SDK (OTP from the dev inbox, Instant Link, the event stream), Verified Users, Unify,
//! the Identity Manager, change events delivered to a webhook with a signed JWT, the
//! bad-input table and the absence of an enrolment oracle. The Pre-Fill walk and the
//! Identity Manager run on SQLite and (when `VOUCH_TEST_PG_URL` is set) PostgreSQL.
//!
//! Not covered: OTP expiry (2 minutes, no clock to move from outside the server).
//!
//! Size (over 800 lines): the phone API's end-to-end suite, one test per behaviour of the
//! v3 dialect, sharing one set of HTTP and inbox helpers.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::time::Duration;
use vouch_core::ids::OrgId;
use vouch_core::model::{Actor, AuditRecord, KeySettings};
use vouch_testkit::{test_config, TestDb, TestServer, WebhookSink};

const WAIT: Duration = Duration::from_secs(15);

// ---- helpers -----------------------------------------------------------------------

async fn call(
    s: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut r = s.http.request(method, s.at(path));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn post(s: &TestServer, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
    call(s, Method::POST, path, Some(token), Some(body)).await
}

async fn get(s: &TestServer, token: &str, path: &str) -> (StatusCode, Value) {
    call(s, Method::GET, path, Some(token), None).await
}

/// A raw body with a JSON content type (malformed or oversized bodies).
async fn post_raw(s: &TestServer, token: &str, path: &str, body: String) -> (StatusCode, Value) {
    let resp = s
        .http
        .post(s.at(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// An error of the phone API: the status, `{"code": <integer>, "message"}` and nothing
/// else.
#[track_caller]
fn assert_prove(status: StatusCode, v: &Value, want: u16, code: u64) {
    assert_eq!(status.as_u16(), want, "{v}");
    assert_eq!(v["code"].as_u64(), Some(code), "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
    assert_eq!(
        v.as_object().unwrap().len(),
        2,
        "only code and message: {v}"
    );
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

/// An OAuth client of `org` and a bearer token for it from `POST /token`.
async fn oauth_token(s: &TestServer, org: &OrgId) -> String {
    let (client, secret) = s
        .store
        .create_oauth_client(
            org,
            "phone",
            AuditRecord::new(Some(org), Actor::Cli, "oauth_client.created"),
        )
        .await
        .unwrap();
    let resp = s
        .http
        .post(s.at("/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client.id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer", "{v}");
    v["access_token"].as_str().unwrap().to_string()
}

/// A server with two organisations and a bearer token for each.
async fn server(db: TestDb) -> (TestServer, String, String) {
    let s = TestServer::start(db, test_config()).await;
    let a = s.org("Acme").await;
    let b = s.org("Globex").await;
    let ta = oauth_token(&s, &a).await;
    let tb = oauth_token(&s, &b).await;
    (s, ta, tb)
}

/// The dev inbox, newest first; only messages to `to` when given.
async fn inbox(s: &TestServer, to: Option<&str>) -> Vec<Value> {
    let mut r = s.http.get(s.at("/dev/sms")).query(&[("limit", "1000")]);
    if let Some(to) = to {
        r = r.query(&[("to", to)]);
    }
    let resp = r.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    v["messages"].as_array().unwrap().clone()
}

/// The code in the newest text to `to`.
async fn latest_code(s: &TestServer, to: &str) -> String {
    let messages = inbox(s, Some(to)).await;
    let body = messages[0]["body"].as_str().unwrap();
    let code: String = body
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() >= 4)
        .unwrap_or_else(|| panic!("no code in {body:?}"))
        .to_string();
    assert_eq!(code.len(), 6, "{body}");
    code
}

/// The Instant Link token in the newest text to `to`.
async fn latest_link(s: &TestServer, to: &str) -> String {
    let messages = inbox(s, Some(to)).await;
    let body = messages[0]["body"].as_str().unwrap();
    let (_, rest) = body
        .split_once("/l/")
        .unwrap_or_else(|| panic!("no link in {body:?}"));
    rest.split(|c: char| c.is_whitespace() || c == ')')
        .next()
        .unwrap()
        .to_string()
}

/// Another code of the same length (every digit changed).
fn wrong(code: &str) -> String {
    code.chars()
        .map(|c| char::from(b'0' + (c as u8 - b'0' + 1) % 10))
        .collect()
}

/// A call of the client SDK, authenticated by a flow's `authToken`.
async fn sdk(s: &TestServer, auth: &str, path: &str, body: Value) -> (StatusCode, Value) {
    post(s, auth, path, body).await
}

/// Opens an Instant Link the way a phone would, without following the redirect.
async fn open_link(s: &TestServer, token: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(s.at(&format!("/l/{token}")))
        .send()
        .await
        .unwrap()
}

/// Sends an OTP to `to` for the flow and enters it.
async fn pass_otp(s: &TestServer, auth: &str, to: &str) {
    let (st, v) = sdk(s, auth, "/v3/sdk/otp/start", json!({})).await;
    assert_eq!(st, 200, "{v}");
    let code = latest_code(s, to).await;
    let (st, v) = sdk(s, auth, "/v3/sdk/otp/finish", json!({"otp": code})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "success", "{v}");
}

/// Sends an Instant Link to `to` for the flow and opens it.
async fn pass_link(s: &TestServer, auth: &str, to: &str) {
    let (st, v) = sdk(s, auth, "/v3/sdk/instant-link/start", json!({})).await;
    assert_eq!(st, 200, "{v}");
    let token = latest_link(s, to).await;
    assert_eq!(open_link(s, &token).await.status(), 303);
}

/// Starts a Pre-Fill flow; returns (correlationId, authToken).
async fn start(s: &TestServer, token: &str, body: Value) -> (String, String) {
    let (st, v) = post(s, token, "/v3/start", body).await;
    assert_eq!(st, 200, "{v}");
    (
        v["correlationId"].as_str().unwrap().to_string(),
        v["authToken"].as_str().unwrap().to_string(),
    )
}

async fn validate(s: &TestServer, token: &str, id: &str) -> Value {
    let (st, v) = post(s, token, "/v3/validate", json!({"correlationId": id})).await;
    assert_eq!(st, 200, "{v}");
    v
}

/// Every identity of the organisation (inactive included), through the paged list.
async fn all_identities(s: &TestServer, token: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let mut path = "/v3/identity?limit=100&showInactive=true".to_string();
        if let Some(k) = &start {
            path.push_str(&format!("&startKey={k}"));
        }
        let (st, v) = get(s, token, &path).await;
        assert_eq!(st, 200, "{v}");
        for r in v["results"].as_array().unwrap() {
            out.push(r["identityId"].as_str().unwrap().to_string());
        }
        match v["lastKey"].as_str() {
            Some(k) => start = Some(k.to_string()),
            None => return out,
        }
    }
}

/// HMAC-SHA256 (RFC 2104), written here so that the webhook JWT is checked
/// independently of the server's own signing code.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(msg);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// Checks an `X-Prove-Authorization` value: `Bearer`, an HS256 JWT whose signature is
/// right under `secret` and whose `body_sha256` is the body's. Returns the claims.
fn verify_prove_jwt(header: &str, secret: &str, body: &[u8]) -> Result<Value, String> {
    let jwt = header.strip_prefix("Bearer ").ok_or("not a Bearer value")?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h, c, sig] = parts[..] else {
        return Err(format!("{} parts", parts.len()));
    };
    let head: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    if head["alg"] != "HS256" {
        return Err(format!("alg {}", head["alg"]));
    }
    let expected = hmac_sha256(secret.as_bytes(), format!("{h}.{c}").as_bytes());
    if URL_SAFE_NO_PAD.decode(sig).map_err(|e| e.to_string())? != expected {
        return Err("bad signature".into());
    }
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    if claims["body_sha256"] != hex::encode(Sha256::digest(body)) {
        return Err("body_sha256 does not match the body".into());
    }
    Ok(claims)
}

// ---- authentication ----------------------------------------------------------------

#[tokio::test]
async fn the_v3_api_needs_a_bearer_token_from_the_token_endpoint_or_an_api_key() {
    let (s, ta, _) = server(TestDb::sqlite()).await;
    let body = json!({"flowType": "mobile", "phoneNumber": "2001001695"});
    let (st, v) = call(&s, Method::POST, "/v3/start", None, Some(body.clone())).await;
    assert_prove(st, &v, 401, 8002);
    for bad in ["vk_wrong", "not-a-token", &format!("{ta}x")] {
        let (st, v) = call(&s, Method::POST, "/v3/start", Some(bad), Some(body.clone())).await;
        assert_prove(st, &v, 401, 8002);
    }
    let (st, v) = call(&s, Method::GET, "/v3/identity", None, None).await;
    assert_prove(st, &v, 401, 8002);
    let (st, v) = call(&s, Method::GET, "/v3/identity", Some("vk_wrong"), None).await;
    assert_prove(st, &v, 401, 8002);

    // The token works.
    let (st, v) = post(&s, &ta, "/v3/start", body.clone()).await;
    assert_eq!(st, 200, "{v}");
    let auth = v["authToken"].as_str().unwrap().to_string();
    // The flow's SDK token is no credential for the server API, and the server
    // credential is no SDK token.
    let (st, v) = post(&s, &auth, "/v3/start", body.clone()).await;
    assert_prove(st, &v, 401, 8002);
    let (st, _) = get(&s, &ta, "/v3/sdk/session").await;
    assert_eq!(st, 401);
    let (st, v) = get(&s, &auth, "/v3/sdk/session").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["possession"], "success", "a sandbox auto number: {v}");

    // An API key of the organisation is accepted too.
    let org = s.org("Initech").await;
    let (_, key, _) = s.key(&org, KeySettings::default()).await;
    let (st, v) = post(
        &s,
        &key,
        "/v3/identity",
        json!({"phoneNumber": "2015550100"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], true);
    // Over its rate limit, the answer is the phone API's too.
    let (_, slow, _) = s
        .key(
            &org,
            KeySettings {
                rate_limit: 2,
                ..Default::default()
            },
        )
        .await;
    for _ in 0..2 {
        let (st, v) = get(&s, &slow, "/v3/identity").await;
        assert_eq!(st, 200, "{v}");
    }
    let (st, v) = get(&s, &slow, "/v3/identity").await;
    assert_prove(st, &v, 429, 8029);
    s.stop().await;
}

// ---- Pre-Fill ----------------------------------------------------------------------

#[tokio::test]
async fn prefill_walks_start_validate_challenge_complete_in_order() {
    for db in TestDb::all().await {
        let kind = db.kind;
        let (s, ta, tb) = server(db).await;
        let (st, v) = post(
            &s,
            &ta,
            "/v3/start",
            json!({"flowType": "mobile", "phoneNumber": "2001001695"}),
        )
        .await;
        assert_eq!(st, 200, "{kind}: {v}");
        assert!(v["authToken"].as_str().is_some_and(|t| t.len() > 20), "{v}");
        assert_eq!(v["next"], json!({"v3-validate": "/v3/validate"}), "{v}");
        let id = v["correlationId"].as_str().unwrap().to_string();
        let flow = json!({"correlationId": id});

        // Out of order: challenge and complete before validate.
        let (st, v) = post(
            &s,
            &ta,
            "/v3/challenge",
            json!({"correlationId": id, "dob": "1981-07-14"}),
        )
        .await;
        assert_prove(st, &v, 403, 8003);
        let (st, v) = post(
            &s,
            &ta,
            "/v3/complete",
            json!({"correlationId": id, "individual": {"firstName": "Milo", "lastName": "Pinson"}}),
        )
        .await;
        assert_prove(st, &v, 403, 8003);
        // Unknown flows, another organisation's flow, no flow at all.
        for path in ["/v3/validate", "/v3/challenge", "/v3/complete"] {
            let (st, v) = post(
                &s,
                &ta,
                path,
                json!({"correlationId": uuid::Uuid::new_v4().to_string()}),
            )
            .await;
            assert_prove(st, &v, 400, 8008);
            let (st, v) = post(&s, &tb, path, flow.clone()).await;
            assert_prove(st, &v, 400, 8008);
        }
        let (st, v) = post(&s, &ta, "/v3/validate", json!({})).await;
        assert_prove(st, &v, 400, 8001);
        assert!(
            v["message"].as_str().unwrap().contains("correlationId"),
            "{v}"
        );

        // Validate: possession completed by itself for this sandbox number.
        let v = validate(&s, &ta, &id).await;
        assert_eq!(v["success"], true, "{kind}: {v}");
        assert_eq!(v["challengeMissing"], true, "{v}");
        assert_eq!(v["phoneNumber"], "2001001695", "{v}");
        assert_eq!(v["next"]["v3-challenge"], "/v3/challenge", "{v}");
        assert_eq!(v["next"]["v3-complete"], "/v3/complete", "{v}");
        let (st, v) = post(&s, &ta, "/v3/validate", flow.clone()).await;
        assert_prove(st, &v, 403, 8003);
        // Challenge: the date of birth opens the subscriber record.
        let (st, v) = post(&s, &ta, "/v3/challenge", json!({"correlationId": id})).await;
        assert_prove(st, &v, 400, 8001);
        let (st, v) = post(
            &s,
            &ta,
            "/v3/challenge",
            json!({"correlationId": id, "dob": "1981-07-14"}),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["success"], true, "{v}");
        let ind = &v["individual"];
        assert_eq!(ind["firstName"], "Milo", "{v}");
        assert_eq!(ind["lastName"], "Pinson", "{v}");
        assert_eq!(ind["dob"], "1981-07-14", "{v}");
        assert_eq!(ind["addresses"][0]["city"], "San Antonio", "{v}");
        assert_eq!(v["next"], json!({"v3-complete": "/v3/complete"}), "{v}");
        let (st, v) = post(
            &s,
            &ta,
            "/v3/challenge",
            json!({"correlationId": id, "dob": "1981-07-14"}),
        )
        .await;
        assert_prove(st, &v, 403, 8003);
        // Complete: the person as the customer confirmed them.
        let (st, v) = post(
            &s,
            &ta,
            "/v3/complete",
            json!({"correlationId": id, "individual": {
                "firstName": "Milo", "lastName": "Pinson", "dob": "1981-07-14", "ssn": "565228370",
                "addresses": [{"address": "39 South Trail", "city": "San Antonio", "region": "TX", "postalCode": "78285"}]
            }}),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["success"], true, "{v}");
        assert_eq!(v["next"], json!({"done": "done"}), "{v}");
        let src = &v["idv"]["dataSource1"];
        assert_eq!(
            src["name"],
            json!({"firstName": 100, "lastName": 100, "nameScore": 100}),
            "{v}"
        );
        assert_eq!(src["identifiers"]["dob"], true, "{v}");
        assert_eq!(src["identifiers"]["ssn"], true, "{v}");
        assert_eq!(src["address"]["addressScore"], 100, "{v}");
        assert_eq!(src["cipConfidence"], "high", "{v}");
        assert_eq!(src["reasonCodes"], json!([]), "{v}");
        // The AML block is present and says no list was screened (none is, yet).
        assert_eq!(
            v["kyc"],
            json!({"amlTypeLists": [], "totalHits": 0, "screened": false}),
            "{v}"
        );
        let (st, v) = post(
            &s,
            &ta,
            "/v3/complete",
            json!({"correlationId": id, "individual": {"firstName": "Milo", "lastName": "Pinson"}}),
        )
        .await;
        assert_prove(st, &v, 403, 8003);

        // Another flow: the date of birth given at start (no challenge needed), then a
        // different person at complete.
        let (id2, _) = start(
            &s,
            &ta,
            json!({"flowType": "mobile", "phoneNumber": "+12001001695", "dob": "1981-07-14"}),
        )
        .await;
        let v = validate(&s, &ta, &id2).await;
        assert_eq!(v["success"], true, "{v}");
        assert_eq!(v["challengeMissing"], false, "{v}");
        assert_eq!(v["phoneNumber"], "+12001001695", "{v}");
        let (st, v) = post(
            &s,
            &ta,
            "/v3/complete",
            json!({"correlationId": id2, "individual": {"firstName": "John", "lastName": "Smith"}}),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["success"], false, "{v}");
        assert!(
            v["idv"]["dataSource1"]["reasonCodes"]
                .as_array()
                .unwrap()
                .contains(&json!("NA")),
            "{v}"
        );
        s.stop().await;
    }
}

/// Regression: `/v3/complete` once passed names on the mean of the given-name and
/// family-name scores, while the other phone flows needed each part to match; a relative
/// (same family name, a close given name: 74 and 100, mean 87) passed. One rule now.
/// Flow errors carry the statuses the vendor's SDKs type (400, 401, 403, 500, and 429):
/// an expired flow was 410, an outage 503, which typed clients read as unknown errors.
#[tokio::test]
async fn flow_errors_use_the_statuses_the_vendor_sdks_type() {
    let (s, ta, _) = server(TestDb::sqlite()).await;
    let (id, _) = start(
        &s,
        &ta,
        json!({"flowType": "mobile", "phoneNumber": "2001001695"}),
    )
    .await;
    s.db.execute("UPDATE phone_flows SET expires_at = 1").await;
    let (st, v) = post(&s, &ta, "/v3/validate", json!({"correlationId": id})).await;
    assert_prove(st, &v, 400, 8008);
    assert!(v["message"].as_str().unwrap().contains("expired"), "{v}");
    s.db.execute("ALTER TABLE phone_flows RENAME TO phone_flows_broken")
        .await;
    let (st, v) = post(
        &s,
        &ta,
        "/v3/start",
        json!({"flowType": "mobile", "phoneNumber": "2001001695"}),
    )
    .await;
    assert_prove(st, &v, 500, 8000);
    s.db.execute("ALTER TABLE phone_flows_broken RENAME TO phone_flows")
        .await;
    s.stop().await;
}

/// The vendor browser SDK's device API (`/v1/client/*`, driven by the real SDK in
/// `phone_browser.rs`): the SDK's envelope on every answer, CORS for any origin, 401
/// without the flow's token, and the rules of vouch's own SDK (no code in a desktop
/// flow, the number fixed by the customer's server).
#[tokio::test]
async fn the_vendor_sdk_device_api_answers_in_its_envelope() {
    let (s, ta, _) = server(TestDb::sqlite()).await;
    let (_, auth) = start(
        &s,
        &ta,
        json!({"flowType": "mobile", "phoneNumber": "+12015550100"}),
    )
    .await;
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(auth.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["auth"]["next"], "mobile/otp", "{claims}");
    assert_eq!(claims["auth"]["endp"], s.url.trim_end_matches('/'));
    assert!(
        !auth.split('.').nth(1).unwrap().contains(['-', '_']),
        "the SDK reads the payload with atob"
    );
    let client = |path: &str, token: Option<&str>, body: Value| {
        let mut req = s
            .http
            .post(s.at(path))
            .header("origin", "https://shop.example")
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status().as_u16();
            let cors = r
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_string());
            (status, cors, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // Preflight from any origin, with the SDK's headers.
    let pre = s
        .http
        .request(Method::OPTIONS, s.at("/v1/client/mobile/otp/start"))
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,pa-version",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), 204);
    let allowed = pre.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap();
    assert!(allowed.contains("authorization") && allowed.contains("pa-version"));
    // No token: 401; another number than the customer's server gave: asked again.
    let (st, cors, _) = client("/v1/client/mobile/otp/start", None, json!({})).await;
    assert_eq!((st, cors.as_deref()), (401, Some("*")));
    let (st, _, v) = client(
        "/v1/client/mobile/otp/start",
        Some(&auth),
        json!({"mobileNumber": "+12015550101"}),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(v["data"]["code"], 10002, "{v}");
    assert!(inbox(&s, Some("+12015550101")).await.is_empty());
    // Sent: `{}` (no `data`, which the SDK would read as a refusal).
    let (st, _, v) = client("/v1/client/mobile/otp/start", Some(&auth), json!({})).await;
    assert_eq!((st, v.clone()), (200, json!({})), "{v}");
    let (_, _, v) = client("/v1/client/mobile/otp/finish", Some(&auth), json!({})).await;
    assert_eq!(v["data"]["code"], 10002, "no code: asked again: {v}");
    let code = latest_code(&s, "+12015550100").await;
    let (_, _, v) = client(
        "/v1/client/mobile/otp/finish",
        Some(&auth),
        json!({"otp": code}),
    )
    .await;
    assert_eq!(v, json!({"next": "done"}));
    let (_, _, v) = client("/v1/client/mobile/otp/start", Some(&auth), json!({})).await;
    assert_eq!(v["error"]["code"], 10003, "possession is decided: {v}");
    assert_eq!(v["next"], "");
    // Mobile Auth falls back to the code; a failed step is logged and ends quietly.
    let (_, _, v) = client("/v1/client/mobile/instant/start", Some(&auth), json!({})).await;
    assert_eq!(v["next"], "mobile/otp", "{v}");
    let (st, _, v) = client(
        "/v1/client/mobile/otp/error",
        Some(&auth),
        json!({"code": 10002, "message": "page failed"}),
    )
    .await;
    assert_eq!((st, v), (200, json!({"next": ""})));
    let (st, _, _) = client("/v1/client/nope/step/error", Some(&auth), json!({})).await;
    assert_eq!(st, 404);
    // The status socket without a WebSocket handshake: a JSON 400, not axum's text.
    let r = s
        .http
        .get(s.at(&format!("/v1/client/status?token={auth}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["error"]
        .as_str()
        .unwrap()
        .contains("WebSocket"));
    // A desktop flow proves possession with a link, never a code.
    let (_, desk) = start(
        &s,
        &ta,
        json!({"flowType": "desktop", "phoneNumber": "+12015550100", "finalTargetUrl": "https://shop.example/done"}),
    )
    .await;
    let (_, _, v) = client("/v1/client/mobile/otp/start", Some(&desk), json!({})).await;
    assert_eq!(v["error"]["code"], 10003, "{v}");
    let (_, _, v) = client(
        "/v1/client/mobile/instantlink/start",
        Some(&desk),
        json!({"isMobile": false}),
    )
    .await;
    assert_eq!(
        v,
        json!({"data": {}}),
        "the desktop waits on the status socket"
    );
    s.stop().await;
}

#[tokio::test]
async fn complete_refuses_a_relative_whose_family_name_alone_matches() {
    let (s, ta, _) = server(TestDb::sqlite()).await;
    let (id, _) = start(
        &s,
        &ta,
        json!({"flowType": "mobile", "phoneNumber": "+12001001695", "dob": "1981-07-14"}),
    )
    .await;
    assert_eq!(validate(&s, &ta, &id).await["success"], true);
    let (st, v) = post(
        &s,
        &ta,
        "/v3/complete",
        json!({"correlationId": id, "individual": {"firstName": "Mila", "lastName": "Pinson", "dob": "1981-07-14"}}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let name = &v["idv"]["dataSource1"]["name"];
    assert_eq!(name["lastName"], 100, "{v}");
    assert!(
        name["firstName"]
            .as_i64()
            .is_some_and(|f| (60..80).contains(&f)),
        "{v}"
    );
    assert!(
        name["nameScore"].as_i64().is_some_and(|m| m >= 80),
        "the mean alone would pass: {v}"
    );
    assert_eq!(v["success"], false, "{v}");
    assert_eq!(v["idv"]["dataSource1"]["reasonCodes"], json!(["NA"]), "{v}");
    assert_eq!(v["idv"]["multiCIPConfidence"], "low", "{v}");
    s.stop().await;
}

#[tokio::test]
async fn risky_lines_fail_validate_and_a_missing_record_fails_the_challenge() {
    let (s, ta, _) = server(TestDb::sqlite()).await;
    // SIM swapped 3 hours ago, disconnected, low trust (recent SIM change, SMS only).
    for number in ["+12015550102", "+12015550104", "+12015550106"] {
        let (id, _) = start(
            &s,
            &ta,
            json!({"flowType": "mobile", "phoneNumber": number}),
        )
        .await;
        let v = validate(&s, &ta, &id).await;
        assert_eq!(v["success"], false, "{number}: {v}");
        assert_eq!(v["next"], json!({"done": "done"}), "{number}: {v}");
        let (st, v) = post(
            &s,
            &ta,
            "/v3/challenge",
            json!({"correlationId": id, "dob": "1990-04-01"}),
        )
        .await;
        assert_prove(st, &v, 403, 8003);
    }
    // The healthy twin passes, and its record answers the challenge.
    let (id, _) = start(
        &s,
        &ta,
        json!({"flowType": "mobile", "phoneNumber": "+12015550101"}),
    )
    .await;
    assert_eq!(validate(&s, &ta, &id).await["success"], true);
    let (st, v) = post(
        &s,
        &ta,
        "/v3/challenge",
        json!({"correlationId": id, "dob": "1990-04-01"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], true, "{v}");
    assert_eq!(v["individual"]["firstName"], "Avery", "{v}");
    // No subscriber record: the line is fine, the challenge is not.
    let (id, _) = start(
        &s,
        &ta,
        json!({"flowType": "mobile", "phoneNumber": "+12015550105"}),
    )
    .await;
    assert_eq!(validate(&s, &ta, &id).await["success"], true);
    let (st, v) = post(
        &s,
        &ta,
        "/v3/challenge",
        json!({"correlationId": id, "dob": "1990-04-01"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], false, "{v}");
    assert!(v.get("individual").is_none(), "{v}");
    assert_eq!(v["next"], json!({"done": "done"}), "{v}");
    let (st, v) = post(
        &s,
        &ta,
        "/v3/complete",
        json!({"correlationId": id, "individual": {"firstName": "Avery", "lastName": "Quinn"}}),
    )
    .await;
    assert_prove(st, &v, 403, 8003);
    // A wrong date of birth fails the challenge for a known subscriber.
    let (id, _) = start(
        &s,
        &ta,
        json!({"flowType": "mobile", "phoneNumber": "2001001695"}),
    )
    .await;
    assert_eq!(validate(&s, &ta, &id).await["success"], true);
    let (st, v) = post(
        &s,
        &ta,
        "/v3/challenge",
        json!({"correlationId": id, "dob": "1981-07-15"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], false, "{v}");
    assert!(v.get("individual").is_none(), "{v}");
    s.stop().await;
}

#[tokio::test]
async fn the_challenge_accepts_a_partial_birth_date_or_the_last_four_of_the_ssn() {
    let (s, ta, _) = server(TestDb::sqlite()).await;
    for (answer, success) in [
        (json!({"dob": "1981-07"}), true),
        (json!({"dob": "07-14"}), true),
        (json!({"dob": "1981-08"}), false),
        (json!({"ssn": "8370"}), true),
        (json!({"ssn": "8371"}), false),
        (json!({"ssn": "565-22-8370"}), true),
    ] {
        let (id, _) = start(
            &s,
            &ta,
            json!({"flowType": "mobile", "phoneNumber": "2001001695"}),
        )
        .await;
        assert_eq!(validate(&s, &ta, &id).await["success"], true);
        let mut body = answer.clone();
        body["correlationId"] = json!(id);
        let (st, v) = post(&s, &ta, "/v3/challenge", body).await;
        assert_eq!(st, 200, "{answer}: {v}");
        assert_eq!(v["success"], success, "{answer}: {v}");
        assert_eq!(v.get("individual").is_some(), success, "{answer}: {v}");
        if success {
            assert_eq!(v["individual"]["lastName"], "Pinson", "{answer}: {v}");
        }
    }
    s.stop().await;
}

// ---- possession through the client SDK ----------------------------------------------

#[tokio::test]
async fn an_otp_from_the_inbox_proves_possession_once() {
    let (s, ta, _) = server(TestDb::sqlite()).await;
    let (id, auth) = start(
        &s,
        &ta,
        json!({"flowType": "mobile", "phoneNumber": "2015550100", "allowOTPRetry": true}),
    )
    .await;
    let (st, v) = get(&s, &auth, "/v3/sdk/session").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["correlationId"], id.as_str());
    assert_eq!(v["possession"], "pending", "{v}");
    assert_eq!(v["sendsLeft"], 3, "{v}");
    // allowOTPRetry: the first entry and three re-entries.
    assert_eq!(v["attemptsLeft"], 4, "{v}");
    assert_eq!(v["allowOtpRetry"], true, "{v}");
    assert!(
        v["methods"].as_array().unwrap().contains(&json!("otp")),
        "{v}"
    );
    assert!(v["maskedNumber"].as_str().unwrap().ends_with("0100"), "{v}");
    // No code yet.
    let (st, _) = sdk(&s, &auth, "/v3/sdk/otp/finish", json!({"otp": "123456"})).await;
    assert_eq!(st, 400);
    assert!(inbox(&s, None).await.is_empty());

    let (st, v) = sdk(&s, &auth, "/v3/sdk/otp/start", json!({})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["sent"], true, "{v}");
    assert_eq!(v["sendsLeft"], 2, "{v}");
    assert_eq!(v["expiresIn"], 120, "{v}");
    let messages = inbox(&s, Some("2015550100")).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["to"], "+12015550100");
    let code = latest_code(&s, "2015550100").await;

    let (st, v) = sdk(
        &s,
        &auth,
        "/v3/sdk/otp/finish",
        json!({"otp": wrong(&code)}),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["code"], "otp_invalid", "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("3 attempts left"),
        "{v}"
    );
    let (st, v) = sdk(&s, &auth, "/v3/sdk/otp/finish", json!({"otp": code})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["status"], "success");
    // Single use: the flow's possession is decided.
    let (st, v) = sdk(&s, &auth, "/v3/sdk/otp/finish", json!({"otp": code})).await;
    assert_eq!(st, 409, "{v}");
    let (st, _) = sdk(&s, &auth, "/v3/sdk/otp/start", json!({})).await;
    assert_eq!(st, 409);
    assert_eq!(inbox(&s, None).await.len(), 1, "no text after the 409");
    let (_, v) = get(&s, &auth, "/v3/sdk/session").await;
    assert_eq!(v["possession"], "success", "{v}");

    let v = validate(&s, &ta, &id).await;
    assert_eq!(v["success"], true, "{v}");
    s.stop().await;
}

#[tokio::test]
async fn otp_limits_sends_attempts_resends_and_flows() {
    let (s, ta, _) = server(TestDb::sqlite()).await;
    let mobile = |n: &str| json!({"flowType": "mobile", "phoneNumber": n, "allowOTPRetry": true});

    // At most three texts per flow.
    let (_, auth) = start(&s, &ta, mobile("2015550100")).await;
    for left in [2, 1, 0] {
        let (st, v) = sdk(&s, &auth, "/v3/sdk/otp/start", json!({})).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["sendsLeft"], left, "{v}");
    }
    let (st, v) = sdk(&s, &auth, "/v3/sdk/otp/start", json!({})).await;
    assert_eq!(st, 429, "{v}");
    assert_eq!(v["code"], "too_many_sends", "{v}");
    assert_eq!(inbox(&s, Some("2015550100")).await.len(), 3);
    // The last code still works.
    let code = latest_code(&s, "2015550100").await;
    let (st, v) = sdk(&s, &auth, "/v3/sdk/otp/finish", json!({"otp": code})).await;
    assert_eq!(st, 200, "{v}");

    // Without allowOTPRetry (the vendor's default) one wrong code fails possession.
    let (id1, auth1) = start(
        &s,
        &ta,
        json!({"flowType": "mobile", "phoneNumber": "2015550100"}),
    )
    .await;
    sdk(&s, &auth1, "/v3/sdk/otp/start", json!({})).await;
    let code1 = latest_code(&s, "2015550100").await;
    let (st, v) = sdk(
        &s,
        &auth1,
        "/v3/sdk/otp/finish",
        json!({"otp": wrong(&code1)}),
    )
    .await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(v["code"], "possession_failed", "{v}");
    let (st, _) = sdk(&s, &auth1, "/v3/sdk/otp/finish", json!({"otp": code1})).await;
    assert_eq!(st, 403);
    assert_eq!(validate(&s, &ta, &id1).await["success"], false);

    // With allowOTPRetry: three re-entries; the fourth wrong code fails the flow and the
    // right one no longer helps.
    let (id, auth) = start(&s, &ta, mobile("2015550100")).await;
    let (st, _) = sdk(&s, &auth, "/v3/sdk/otp/start", json!({})).await;
    assert_eq!(st, 200);
    let code = latest_code(&s, "2015550100").await;
    for left in [3, 2, 1] {
        let (st, v) = sdk(
            &s,
            &auth,
            "/v3/sdk/otp/finish",
            json!({"otp": wrong(&code)}),
        )
        .await;
        assert_eq!(st, 400, "{v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains(&format!("{left} attempts left")),
            "{v}"
        );
    }
    let (st, v) = sdk(
        &s,
        &auth,
        "/v3/sdk/otp/finish",
        json!({"otp": wrong(&code)}),
    )
    .await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(v["code"], "possession_failed", "{v}");
    let (st, v) = sdk(&s, &auth, "/v3/sdk/otp/finish", json!({"otp": code})).await;
    assert_eq!(st, 403, "the right code after the flow failed: {v}");
    let (_, v) = get(&s, &auth, "/v3/sdk/session").await;
    assert_eq!(v["possession"], "failed", "{v}");
    assert_eq!(v["attemptsLeft"], 0, "{v}");
    let (st, _) = sdk(&s, &auth, "/v3/sdk/otp/start", json!({})).await;
    assert_eq!(st, 409, "no new code for a failed flow");
    let v = validate(&s, &ta, &id).await;
    assert_eq!(v["success"], false, "{v}");

    // A resend replaces the code and keeps the count of wrong ones.
    let (id, auth) = start(&s, &ta, mobile("2015550100")).await;
    sdk(&s, &auth, "/v3/sdk/otp/start", json!({})).await;
    let first = latest_code(&s, "2015550100").await;
    for _ in 0..2 {
        let (st, _) = sdk(
            &s,
            &auth,
            "/v3/sdk/otp/finish",
            json!({"otp": wrong(&first)}),
        )
        .await;
        assert_eq!(st, 400);
    }
    let (st, _) = sdk(&s, &auth, "/v3/sdk/otp/start", json!({})).await;
    assert_eq!(st, 200);
    let second = latest_code(&s, "2015550100").await;
    let (_, v) = get(&s, &auth, "/v3/sdk/session").await;
    assert_eq!(
        v["attemptsLeft"], 2,
        "a resend does not reset attempts: {v}"
    );
    // The replaced code no longer works (if the new code happens to be the same, a
    // wrong one stands in for it).
    let stale = if first != second {
        first.clone()
    } else {
        wrong(&second)
    };
    let (st, v) = sdk(&s, &auth, "/v3/sdk/otp/finish", json!({"otp": stale})).await;
    assert_eq!(st, 400, "the replaced code: {v}");
    assert!(
        v["error"].as_str().unwrap().contains("1 attempts left"),
        "{v}"
    );
    let (st, v) = sdk(&s, &auth, "/v3/sdk/otp/finish", json!({"otp": second})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(validate(&s, &ta, &id).await["success"], true);

    // A code is bound to its flow.
    let (id_p, auth_p) = start(&s, &ta, mobile("2015550100")).await;
    let (id_q, auth_q) = start(&s, &ta, mobile("2015550107")).await;
    sdk(&s, &auth_p, "/v3/sdk/otp/start", json!({})).await;
    sdk(&s, &auth_q, "/v3/sdk/otp/start", json!({})).await;
    let code_p = latest_code(&s, "2015550100").await;
    let code_q = latest_code(&s, "2015550107").await;
    if code_p != code_q {
        let (st, v) = sdk(&s, &auth_q, "/v3/sdk/otp/finish", json!({"otp": code_p})).await;
        assert_eq!(st, 400, "{v}");
        assert_eq!(v["code"], "otp_invalid", "{v}");
        let (st, v) = sdk(&s, &auth_p, "/v3/sdk/otp/finish", json!({"otp": code_q})).await;
        assert_eq!(st, 400, "{v}");
    }
    let (st, _) = sdk(&s, &auth_p, "/v3/sdk/otp/finish", json!({"otp": code_p})).await;
    assert_eq!(st, 200);
    let (st, _) = sdk(&s, &auth_q, "/v3/sdk/otp/finish", json!({"otp": code_q})).await;
    assert_eq!(st, 200);
    assert_eq!(validate(&s, &ta, &id_p).await["success"], true);
    assert_eq!(validate(&s, &ta, &id_q).await["success"], true);
    s.stop().await;
}

#[tokio::test]
async fn an_instant_link_opens_once_lands_on_the_target_and_wakes_the_event_stream() {
    let (s, ta, _) = server(TestDb::sqlite()).await;
    let target = "https://shop.example/after?step=2";
    let (id, auth) = start(
        &s,
        &ta,
        json!({"flowType": "desktop", "phoneNumber": "2015550100", "finalTargetUrl": target}),
    )
    .await;
    let (st, _) = sdk(&s, &auth, "/v3/sdk/otp/start", json!({})).await;
    assert_eq!(st, 400, "a desktop flow has no OTP");
    let (st, v) = sdk(&s, &auth, "/v3/sdk/instant-link/start", json!({})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["expiresIn"], 180, "{v}");
    let replaced = latest_link(&s, "2015550100").await;
    assert_eq!(replaced.len(), 43, "{replaced}");
    let (st, _) = sdk(&s, &auth, "/v3/sdk/instant-link/start", json!({})).await;
    assert_eq!(st, 200);
    let link = latest_link(&s, "2015550100").await;
    assert_ne!(link, replaced);

    // The browser waits on the event stream.
    let (st, _) = call(&s, Method::GET, "/v3/sdk/events?token=nope", None, None).await;
    assert_eq!(st, 401);
    let mut stream = s
        .http
        .get(s.at("/v3/sdk/events"))
        .query(&[("token", auth.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(
        tokio::time::timeout(Duration::from_millis(400), stream.chunk())
            .await
            .is_err(),
        "no event while possession is pending"
    );

    // The replaced link is dead; the current one lands on the target.
    assert_eq!(open_link(&s, &replaced).await.status(), 410);
    let resp = open_link(&s, &link).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], target);
    let text = tokio::time::timeout(WAIT, stream.text())
        .await
        .expect("the stream ends after its event")
        .unwrap();
    let mut lines = text.lines().skip_while(|l| *l != "event: possession");
    assert_eq!(lines.next(), Some("event: possession"), "{text:?}");
    let data: Value =
        serde_json::from_str(lines.next().unwrap().strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(data["possession"], "success", "{text:?}");
    // Single use.
    assert_eq!(open_link(&s, &link).await.status(), 410);
    assert_eq!(open_link(&s, "short").await.status(), 404);
    let (st, _) = sdk(&s, &auth, "/v3/sdk/instant-link/start", json!({})).await;
    assert_eq!(st, 409);
    // A stream opened after the decision answers at once.
    let text = tokio::time::timeout(
        WAIT,
        s.http
            .get(s.at("/v3/sdk/events"))
            .query(&[("token", auth.as_str())])
            .send()
            .await
            .unwrap()
            .text(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(text.contains("event: possession"), "{text:?}");

    let v = validate(&s, &ta, &id).await;
    assert_eq!(v["success"], true, "{v}");
    // A mobile flow has no Instant Link.
    let (_, auth) = start(
        &s,
        &ta,
        json!({"flowType": "mobile", "phoneNumber": "2015550100"}),
    )
    .await;
    let (st, _) = sdk(&s, &auth, "/v3/sdk/instant-link/start", json!({})).await;
    assert_eq!(st, 400);
    s.stop().await;
}

#[tokio::test]
async fn network_authentication_and_cancel_decide_possession() {
    let (s, ta, _) = server(TestDb::sqlite()).await;
    // The network verifies the device, finds another number, or cannot tell.
    for (number, status, success) in [
        ("2015550108", "success", Some(true)),
        ("2015550109", "failed", Some(false)),
        ("2015550107", "fallback", None),
    ] {
        let (id, auth) = start(
            &s,
            &ta,
            json!({"flowType": "mobile", "phoneNumber": number}),
        )
        .await;
        let (st, v) = sdk(&s, &auth, "/v3/sdk/mobile-auth", json!({})).await;
        assert_eq!(st, 200, "{number}: {v}");
        assert_eq!(v["status"], status, "{number}: {v}");
        match success {
            Some(ok) => assert_eq!(validate(&s, &ta, &id).await["success"], ok, "{number}"),
            None => {
                // The OTP still works after the fallback.
                pass_otp(&s, &auth, number).await;
                assert_eq!(validate(&s, &ta, &id).await["success"], true, "{number}");
            }
        }
    }
    // A desktop flow has no network authentication.
    let (_, auth) = start(
        &s,
        &ta,
        json!({"flowType": "desktop", "phoneNumber": "2015550108", "finalTargetUrl": "https://shop.example/x"}),
    )
    .await;
    let (st, _) = sdk(&s, &auth, "/v3/sdk/mobile-auth", json!({})).await;
    assert_eq!(st, 400);
    // The person closes the dialog: possession fails and no code is sent after.
    let (id, auth) = start(
        &s,
        &ta,
        json!({"flowType": "mobile", "phoneNumber": "2015550100"}),
    )
    .await;
    let (st, v) = sdk(&s, &auth, "/v3/sdk/cancel", json!({})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["possession"], "failed", "{v}");
    let (st, _) = sdk(&s, &auth, "/v3/sdk/otp/start", json!({})).await;
    assert_eq!(st, 409);
    assert!(inbox(&s, None)
        .await
        .iter()
        .all(|m| m["to"] != "+12015550100"));
    assert_eq!(validate(&s, &ta, &id).await["success"], false);
    s.stop().await;
}

// ---- Verified Users ----------------------------------------------------------------

#[tokio::test]
async fn verified_users_answer_with_and_without_possession() {
    let (s, ta, tb) = server(TestDb::sqlite()).await;
    let person = |ptype: &str, number: &str, first: &str, last: &str| {
        json!({"firstName": first, "lastName": last, "phoneNumber": number, "possessionType": ptype,
               "finalTargetUrl": "https://shop.example/done"})
    };
    // No possession: the data match is the answer.
    let (st, v) = post(
        &s,
        &ta,
        "/v3/verify",
        person("none", "2001004011", "Sheilakathryn", "Butrimovich"),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], "true", "{v}");
    assert_eq!(v["possessionResult"], "not_applicable", "{v}");
    assert_eq!(v["verifyResult"], "success", "{v}");
    assert!(v.get("authToken").is_none(), "{v}");
    let enrolled = v["identityId"].as_str().unwrap().to_string();
    let (st, v) = get(&s, &ta, &format!("/v3/identity/{enrolled}")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["phoneNumber"], "12001004011", "{v}");
    let (st, v) = post(
        &s,
        &ta,
        "/v3/verify",
        person("none", "2001004011", "John", "Smith"),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], "false", "{v}");
    assert_eq!(v["verifyResult"], "failed", "{v}");
    assert!(v.get("identityId").is_none(), "{v}");

    // Desktop, a number whose possession completes by itself.
    let (st, v) = post(
        &s,
        &ta,
        "/v3/verify",
        person("desktop", "2001004011", "Sheilakathryn", "Butrimovich"),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], "pending", "{v}");
    assert_eq!(v["possessionResult"], "pending", "{v}");
    assert_eq!(v["verifyResult"], "pending", "{v}");
    assert!(v["authToken"].as_str().is_some(), "{v}");
    let id = v["correlationId"].as_str().unwrap().to_string();
    let (st, v) = post(&s, &tb, "/v3/verify-status", json!({"correlationId": id})).await;
    assert_prove(st, &v, 400, 8008);
    let (st, v) = post(&s, &ta, "/v3/verify-status", json!({"correlationId": id})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], "true", "{v}");
    assert_eq!(v["possessionResult"], "success", "{v}");
    assert_eq!(v["verifyResult"], "success", "{v}");
    let identity = v["identityId"].as_str().unwrap().to_string();
    let (_, again) = post(&s, &ta, "/v3/verify-status", json!({"correlationId": id})).await;
    assert_eq!(again, v, "repeated status calls agree");

    // A number that needs the SDK: pending until the OTP is entered.
    let mut body = person("mobile", "2015550100", "Avery", "Quinn");
    body["clientRequestId"] = json!("req-7");
    let (st, v) = post(&s, &ta, "/v3/verify", body).await;
    assert_eq!(st, 200, "{v}");
    let id = v["correlationId"].as_str().unwrap().to_string();
    let auth = v["authToken"].as_str().unwrap().to_string();
    let (_, v) = post(&s, &ta, "/v3/verify-status", json!({"correlationId": id})).await;
    assert_eq!(v["success"], "pending", "{v}");
    assert_eq!(v["possessionResult"], "pending", "{v}");
    assert!(v.get("identityId").is_none(), "{v}");
    pass_otp(&s, &auth, "2015550100").await;
    let (st, v) = post(
        &s,
        &ta,
        "/v3/verify-status",
        json!({"clientRequestId": "req-7"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], "true", "{v}");
    assert_eq!(v["possessionResult"], "success", "{v}");
    assert_eq!(v["verifyResult"], "success", "{v}");
    let otp_identity = v["identityId"].as_str().unwrap().to_string();
    assert_ne!(otp_identity, identity);
    let (st, v) = get(&s, &ta, &format!("/v3/identity/{otp_identity}")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["phoneNumber"], "12015550100", "{v}");

    // verify-status only follows verify; unknown flows are 400 (8008), as the vendor's
    // SDKs type them.
    let (pid, _) = start(
        &s,
        &ta,
        json!({"flowType": "mobile", "phoneNumber": "2001001695"}),
    )
    .await;
    let (st, v) = post(&s, &ta, "/v3/verify-status", json!({"correlationId": pid})).await;
    assert_prove(st, &v, 403, 8003);
    let (st, v) = post(
        &s,
        &ta,
        "/v3/verify-status",
        json!({"correlationId": "00000000-0000-0000-0000-000000000000"}),
    )
    .await;
    assert_prove(st, &v, 400, 8008);

    // The newer synchronous shape.
    let (st, v) = post(
        &s,
        &ta,
        "/v3/verify",
        json!({"verificationType": "verifiedUser", "phoneNumber": "2001004011",
               "firstName": "Sheilakathryn", "lastName": "Butrimovich", "clientCustomerId": "c-11"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], "true", "{v}");
    assert_eq!(v["isEnrolled"], true, "{v}");
    assert_eq!(v["identity"]["assuranceLevel"], "3", "{v}");
    assert_eq!(v["clientCustomerId"], "c-11", "{v}");
    let prove_id = v["proveId"].as_str().unwrap().to_string();
    let (st, v) = get(&s, &ta, &format!("/v3/identity/{prove_id}")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["clientCustomerId"], "c-11", "{v}");
    // The Identity Manager names the network and a line type (the numbering plan cannot
    // tell a US mobile from a fixed line; the network reports it reachable).
    assert_eq!(v["carrier"], "vouch Sandbox Mobile", "{v}");
    assert_eq!(v["lineType"], "mobile", "{v}");
    // prefillForBiz (and prefill) answer the record with the newer Address shape.
    for vtype in ["prefillForBiz", "prefill"] {
        let (st, v) = post(
            &s,
            &ta,
            "/v3/verify",
            json!({"verificationType": vtype, "phoneNumber": "2001001695"}),
        )
        .await;
        assert_eq!(st, 200, "{vtype}: {v}");
        let address = &v["identity"]["addresses"][0];
        assert!(address["zipCode"].is_string(), "{vtype}: {v}");
        assert!(address.get("postalCode").is_none(), "{vtype}: {v}");
        assert!(v["identity"]["firstName"].is_string(), "{vtype}: {v}");
    }
    let (st, v) = post(
        &s,
        &ta,
        "/v3/verify",
        json!({"verificationType": "verifiedUser", "phoneNumber": "2015550104"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], "false", "a disconnected line: {v}");
    assert!(v.get("proveId").is_none(), "{v}");
    let (st, v) = post(
        &s,
        &ta,
        "/v3/verify",
        json!({"verificationType": "superUser", "phoneNumber": "2001004011"}),
    )
    .await;
    assert_prove(st, &v, 400, 8001);
    assert!(
        v["message"].as_str().unwrap().contains("verificationType"),
        "{v}"
    );
    s.stop().await;
}

// ---- Unify -------------------------------------------------------------------------

#[tokio::test]
async fn unify_binds_a_number_after_possession_and_recognises_it_after() {
    let (s, ta, tb) = server(TestDb::sqlite()).await;
    let (st, v) = post(
        &s,
        &ta,
        "/v3/unify",
        json!({"possessionType": "desktop", "phoneNumber": "2001004014",
               "finalTargetUrl": "https://shop.example/bound", "clientCustomerId": "cust-14"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], "pending", "{v}");
    let id = v["correlationId"].as_str().unwrap().to_string();
    let auth = v["authToken"].as_str().unwrap().to_string();
    let status = json!({"correlationId": id});
    let (_, v) = post(&s, &ta, "/v3/unify-status", status.clone()).await;
    assert_eq!(v["success"], "pending", "{v}");
    assert!(v.get("proveId").is_none(), "{v}");
    let (st, v) = post(&s, &ta, "/v3/unify-bind", status.clone()).await;
    assert_prove(st, &v, 403, 8003);
    let (st, v) = post(&s, &tb, "/v3/unify-status", status.clone()).await;
    assert_prove(st, &v, 400, 8008);

    pass_link(&s, &auth, "2001004014").await;
    let (st, v) = post(&s, &ta, "/v3/unify-status", status.clone()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], "true", "{v}");
    assert_eq!(v["phoneNumber"], "2001004014", "{v}");
    let prove_id = v["proveId"].as_str().unwrap().to_string();
    let (_, v) = post(&s, &ta, "/v3/unify-status", status.clone()).await;
    assert_eq!(v["proveId"], prove_id.as_str(), "{v}");
    let (st, v) = get(&s, &ta, &format!("/v3/identity/{prove_id}")).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["clientCustomerId"], "cust-14", "{v}");

    // Without possession: a bound number is recognised with the same proveId.
    let (st, v) = post(
        &s,
        &ta,
        "/v3/unify",
        json!({"possessionType": "none", "phoneNumber": "2001004014"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert!(v.get("authToken").is_none(), "{v}");
    let (_, v) = post(
        &s,
        &ta,
        "/v3/unify-status",
        json!({"correlationId": v["correlationId"]}),
    )
    .await;
    assert_eq!(v["success"], "true", "{v}");
    assert_eq!(v["proveId"], prove_id.as_str(), "{v}");
    // ... but not in another organisation.
    let (_, v) = post(
        &s,
        &tb,
        "/v3/unify",
        json!({"possessionType": "none", "phoneNumber": "2001004014"}),
    )
    .await;
    let (_, v) = post(
        &s,
        &tb,
        "/v3/unify-status",
        json!({"correlationId": v["correlationId"]}),
    )
    .await;
    assert_eq!(v["success"], "possession_required", "{v}");

    // An unbound number needs possession, or the customer's own check and a bind.
    let (_, v) = post(
        &s,
        &ta,
        "/v3/unify",
        json!({"possessionType": "none", "phoneNumber": "2001004015"}),
    )
    .await;
    let unbound = json!({"correlationId": v["correlationId"]});
    let (_, v) = post(&s, &ta, "/v3/unify-status", unbound.clone()).await;
    assert_eq!(v["success"], "possession_required", "{v}");
    assert!(v.get("proveId").is_none(), "{v}");
    let mut other = unbound.clone();
    other["phoneNumber"] = json!("2001004014");
    let (st, v) = post(&s, &ta, "/v3/unify-bind", other).await;
    assert_prove(st, &v, 400, 8001);
    let (st, v) = post(&s, &ta, "/v3/unify-bind", unbound.clone()).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], "true", "{v}");
    let bound = v["proveId"].as_str().unwrap().to_string();
    assert_ne!(bound, prove_id);
    let (_, v) = post(&s, &ta, "/v3/unify-status", unbound).await;
    assert_eq!(v["success"], "true", "{v}");
    assert_eq!(v["proveId"], bound.as_str(), "{v}");
    let (_, v) = get(&s, &ta, "/v3/identity/2001004015/lookup").await;
    assert_eq!(v["items"][0]["identityId"], bound.as_str(), "{v}");

    // unify-status follows unify only.
    let (pid, _) = start(
        &s,
        &ta,
        json!({"flowType": "mobile", "phoneNumber": "2001001695"}),
    )
    .await;
    let (st, v) = post(&s, &ta, "/v3/unify-status", json!({"correlationId": pid})).await;
    assert_prove(st, &v, 403, 8003);
    s.stop().await;
}

// ---- Identity Manager --------------------------------------------------------------

#[tokio::test]
async fn the_identity_manager_enrols_pages_deactivates_and_deletes() {
    for db in TestDb::all().await {
        let kind = db.kind;
        let (s, ta, tb) = server(db).await;
        let (st, v) = post(
            &s,
            &ta,
            "/v3/identity",
            json!({"phoneNumber": "+1 (201) 555-0100", "clientCustomerId": "cust-1", "clientHumanId": "h-1"}),
        )
        .await;
        assert_eq!(st, 200, "{kind}: {v}");
        assert_eq!(v["success"], true, "{v}");
        let id = v["identityId"].as_str().unwrap().to_string();
        assert_eq!(v["proveId"], id.as_str(), "{v}");
        let before = vouch_core::now_millis() / 1000;
        let (st, v) = get(&s, &ta, &format!("/v3/identity/{id}")).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["identityId"], id.as_str());
        assert_eq!(v["proveId"], id.as_str());
        assert_eq!(v["phoneNumber"], "12015550100", "{v}");
        assert_eq!(v["active"], true, "{v}");
        assert_eq!(v["clientCustomerId"], "cust-1", "{v}");
        assert_eq!(v["clientHumanId"], "h-1", "{v}");
        assert_eq!(v["countryCode"], "US", "{v}");
        assert!(v["lineType"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
        let created = v["createdAt"].as_i64().unwrap();
        assert!((created - before).abs() < 60, "createdAt in seconds: {v}");
        let when =
            chrono::DateTime::parse_from_rfc3339(v["creationString"].as_str().unwrap()).unwrap();
        assert_eq!(when.timestamp(), created, "{v}");
        // The same number and customer: the same identity; another customer: another.
        let (_, v) = post(
            &s,
            &ta,
            "/v3/identity",
            json!({"phoneNumber": "2015550100", "clientCustomerId": "cust-1"}),
        )
        .await;
        assert_eq!(v["identityId"], id.as_str(), "{v}");
        let (_, v) = post(
            &s,
            &ta,
            "/v3/identity",
            json!({"phoneNumber": "2015550100", "clientCustomerId": "cust-2"}),
        )
        .await;
        let id2 = v["identityId"].as_str().unwrap().to_string();
        assert_ne!(id2, id);
        let (st, v) = get(&s, &ta, "/v3/identity/+12015550100/lookup").await;
        assert_eq!(st, 200, "{v}");
        let found: BTreeSet<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["identityId"].as_str().unwrap())
            .collect();
        assert_eq!(found, BTreeSet::from([id.as_str(), id2.as_str()]), "{v}");
        let (_, v) = get(&s, &ta, "/v3/identity/2015550107/lookup").await;
        assert_eq!(v["items"], json!([]), "{v}");

        // Another organisation sees none of it.
        let (st, v) = get(&s, &tb, &format!("/v3/identity/{id}")).await;
        assert_prove(st, &v, 400, 8008);
        for path in [
            format!("/v3/identity/{id}/deactivate"),
            format!("/v3/identity/{id}/activate"),
        ] {
            let (st, v) = post(&s, &tb, &path, json!({})).await;
            assert_prove(st, &v, 400, 8008);
        }
        let (st, v) = call(
            &s,
            Method::DELETE,
            &format!("/v3/identity/{id}"),
            Some(&tb),
            None,
        )
        .await;
        assert_prove(st, &v, 400, 8008);
        let (_, v) = get(&s, &tb, "/v3/identity/2015550100/lookup").await;
        assert_eq!(v["items"], json!([]), "{v}");
        assert!(all_identities(&s, &tb).await.is_empty());
        let (st, v) = get(&s, &ta, &format!("/v3/identity/{id}")).await;
        assert_eq!(st, 200, "untouched by the other organisation: {v}");
        assert_eq!(v["active"], true, "{v}");
        let (st, v) = get(&s, &ta, "/v3/identity/not_an_id!").await;
        assert_prove(st, &v, 400, 8001);

        // Paging: five more, two at a time.
        let mut ids = BTreeSet::from([id.clone(), id2.clone()]);
        for n in 1..=5 {
            let (st, v) = post(
                &s,
                &ta,
                "/v3/identity",
                json!({"phoneNumber": format!("20155501{n:02}")}),
            )
            .await;
            assert_eq!(st, 200, "{v}");
            ids.insert(v["identityId"].as_str().unwrap().to_string());
        }
        let mut seen = Vec::new();
        let mut path = "/v3/identity?limit=2".to_string();
        let mut pages = 0;
        loop {
            let (st, v) = get(&s, &ta, &path).await;
            assert_eq!(st, 200, "{v}");
            pages += 1;
            let page: Vec<String> = v["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["identityId"].as_str().unwrap().to_string())
                .collect();
            assert!(page.len() <= 2, "{v}");
            for r in v["results"].as_array().unwrap() {
                assert_eq!(r["identityId"], r["proveId"], "{v}");
            }
            seen.extend(page.iter().cloned());
            match v["lastKey"].as_str() {
                Some(k) => {
                    assert_eq!(page.last().map(String::as_str), Some(k), "{v}");
                    path = format!("/v3/identity?limit=2&startKey={k}");
                }
                None => break,
            }
        }
        assert_eq!(pages, 4, "7 identities, 2 a page");
        assert_eq!(seen.len(), 7, "{seen:?}");
        assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), ids);
        for bad in [
            "/v3/identity?limit=0",
            "/v3/identity?limit=101",
            "/v3/identity?limit=x",
        ] {
            let (st, v) = get(&s, &ta, bad).await;
            assert_prove(st, &v, 400, 8001);
        }

        // Deactivate hides it from the list unless asked; activate brings it back.
        let (st, v) = post(&s, &ta, &format!("/v3/identity/{id}/deactivate"), json!({})).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["success"], true);
        let listed = |v: &Value| -> BTreeSet<String> {
            v["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["identityId"].as_str().unwrap().to_string())
                .collect()
        };
        let (_, v) = get(&s, &ta, "/v3/identity?limit=100").await;
        assert!(!listed(&v).contains(&id), "{v}");
        assert_eq!(listed(&v).len(), 6, "{v}");
        let (_, v) = get(&s, &ta, "/v3/identity?limit=100&showInactive=true").await;
        assert!(listed(&v).contains(&id), "{v}");
        let (_, v) = get(&s, &ta, &format!("/v3/identity/{id}")).await;
        assert_eq!(v["active"], false, "{v}");
        let (st, _) = post(&s, &ta, &format!("/v3/identity/{id}/activate"), json!({})).await;
        assert_eq!(st, 200);
        let (_, v) = get(&s, &ta, "/v3/identity?limit=100").await;
        assert!(listed(&v).contains(&id), "{v}");
        let (_, v) = get(&s, &ta, &format!("/v3/identity/{id}")).await;
        assert_eq!(v["active"], true, "{v}");

        // Delete.
        let (st, v) = call(
            &s,
            Method::DELETE,
            &format!("/v3/identity/{id}"),
            Some(&ta),
            None,
        )
        .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["success"], true);
        let (st, v) = get(&s, &ta, &format!("/v3/identity/{id}")).await;
        assert_prove(st, &v, 400, 8008);
        let (st, v) = call(
            &s,
            Method::DELETE,
            &format!("/v3/identity/{id}"),
            Some(&ta),
            None,
        )
        .await;
        assert_prove(st, &v, 400, 8008);
        let (st, v) = post(&s, &ta, &format!("/v3/identity/{id}/activate"), json!({})).await;
        assert_prove(st, &v, 400, 8008);
        let (_, v) = get(&s, &ta, "/v3/identity/2015550100/lookup").await;
        assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
        assert_eq!(all_identities(&s, &ta).await.len(), 6);

        // Batches: each item on its own; more than 100 is refused whole.
        let (st, v) = post(
            &s,
            &ta,
            "/v3/identity/batch",
            json!({"items": [
                {"phoneNumber": "2015550120", "clientCustomerId": "b-1"},
                {"phoneNumber": "12ab"},
                {"phoneNumber": "2015550121", "clientCustomerId": "b-3"},
            ]}),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        let results = v["results"].as_array().unwrap();
        assert_eq!(results.len(), 3, "{v}");
        assert_eq!(results[0]["success"], true, "{v}");
        assert_eq!(results[1]["success"], false, "{v}");
        assert!(
            results[1]["error"]
                .as_str()
                .unwrap()
                .contains("phoneNumber"),
            "{v}"
        );
        assert!(results[1].get("identityId").is_none(), "{v}");
        assert_eq!(results[2]["success"], true, "{v}");
        for r in [&results[0], &results[2]] {
            let (st, v) = get(
                &s,
                &ta,
                &format!("/v3/identity/{}", r["identityId"].as_str().unwrap()),
            )
            .await;
            assert_eq!(st, 200, "{v}");
        }
        assert_eq!(all_identities(&s, &ta).await.len(), 8);
        let many: Vec<Value> = (0..101)
            .map(|n| json!({"phoneNumber": format!("201555{:04}", 2000 + n)}))
            .collect();
        let (st, v) = post(&s, &ta, "/v3/identity/batch", json!({"items": many})).await;
        assert_prove(st, &v, 400, 8001);
        let (st, v) = post(&s, &ta, "/v3/identity/batch", json!({"items": []})).await;
        assert_prove(st, &v, 400, 8001);
        assert_eq!(
            all_identities(&s, &ta).await.len(),
            8,
            "a refused batch enrols nothing"
        );
        s.stop().await;
    }
}

// ---- change events -----------------------------------------------------------------

#[tokio::test]
async fn a_change_event_reaches_the_webhook_with_a_signed_jwt_once() {
    // The verifier itself, on RFC 4231's second test case.
    assert_eq!(
        hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let sink = WebhookSink::start().await;
    let other_sink = WebhookSink::start().await;
    let org = s.org("Acme").await;
    let other = s.org("Globex").await;
    let (_, key, secret) = s.key_with_webhook(&org, &sink.url).await;
    let (_, other_key, _) = s.key_with_webhook(&other, &other_sink.url).await;
    // The other organisation knows the number too, but no longer follows it.
    let (_, v) = post(
        &s,
        &other_key,
        "/v3/identity",
        json!({"phoneNumber": "2015550100"}),
    )
    .await;
    let other_id = v["identityId"].as_str().unwrap().to_string();
    let (st, _) = post(
        &s,
        &other_key,
        &format!("/v3/identity/{other_id}/deactivate"),
        json!({}),
    )
    .await;
    assert_eq!(st, 200);

    let (st, v) = post(
        &s,
        &key,
        "/v3/identity",
        json!({"phoneNumber": "2015550100", "clientCustomerId": "cust-42"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let id = v["identityId"].as_str().unwrap().to_string();
    let (_, v) = get(&s, &key, &format!("/v3/identity/{id}")).await;
    assert_eq!(v["monitored"], true, "{v}");

    let event = json!({"phoneNumber": "+12015550100", "eventType": "DISCONNECT"});
    let (st, v) = call(
        &s,
        Method::POST,
        "/dev/phone-events",
        None,
        Some(event.clone()),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["notified"], 1, "{v}");
    let got = sink.wait_for(1, WAIT).await;
    let r = &got[0];
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    let notes = body["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{body}");
    let n = &notes[0];
    assert_eq!(n["eventType"], "DISCONNECT", "{body}");
    assert_eq!(n["identityId"], id.as_str(), "{body}");
    assert_eq!(n["clientCustomerId"], "cust-42", "{body}");
    assert!(
        n["eventId"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert!(n["event"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    chrono::DateTime::parse_from_rfc3339(n["eventTimestamp"].as_str().unwrap()).unwrap();

    let auth = r.header("x-prove-authorization");
    let claims =
        verify_prove_jwt(&auth, &secret, &r.body).unwrap_or_else(|e| panic!("{e}: {auth}"));
    assert_eq!(claims["iss"], "Prove Identity", "{claims}");
    assert_eq!(claims["jti"], r.header("webhook-id").as_str(), "{claims}");
    let iat = claims["iat"].as_i64().unwrap();
    assert!(
        (iat - vouch_core::now_millis() / 1000).abs() < 120,
        "{claims}"
    );
    assert!(claims["exp"].as_i64().unwrap() > iat, "{claims}");
    // The check is not vacuous: another secret, another body or a forged claim fail.
    assert!(verify_prove_jwt(&auth, "whsec_other", &r.body).is_err());
    assert!(verify_prove_jwt(&auth, &secret, b"{\"notifications\":[]}").is_err());
    let mut parts: Vec<String> = auth.split('.').map(str::to_string).collect();
    let mut forged = claims.clone();
    forged["body_sha256"] = json!(hex::encode(Sha256::digest(b"other")));
    parts[1] = URL_SAFE_NO_PAD.encode(forged.to_string());
    assert!(verify_prove_jwt(&parts.join("."), &secret, b"other").is_err());

    // Monitoring ended: a second event for the number notifies nobody.
    let (_, v) = get(&s, &key, &format!("/v3/identity/{id}")).await;
    assert_eq!(v["monitored"], false, "{v}");
    let (st, v) = call(&s, Method::POST, "/dev/phone-events", None, Some(event)).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["notified"], 0, "{v}");
    let (st, _) = call(
        &s,
        Method::POST,
        "/dev/phone-events",
        None,
        Some(json!({"phoneNumber": "+12015550100", "eventType": "EXPLODED"})),
    )
    .await;
    assert_eq!(st, 400);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.received().len(), 1, "one delivery");
    assert!(
        other_sink.received().is_empty(),
        "a deactivated identity is not notified"
    );
    assert!(
        !r.header("x-correlation-id").is_empty(),
        "a correlation id per attempt"
    );

    // Enrolling the number again resumes monitoring on the same identity.
    let (st, v) = post(
        &s,
        &key,
        "/v3/identity",
        json!({"phoneNumber": "2015550100", "clientCustomerId": "cust-42"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["identityId"], id.as_str(), "{v}");
    let (_, v) = get(&s, &key, &format!("/v3/identity/{id}")).await;
    assert_eq!(v["monitored"], true, "{v}");
    let (_, v) = call(
        &s,
        Method::POST,
        "/dev/phone-events",
        None,
        Some(json!({"phoneNumber": "+12015550100", "eventType": "PORT"})),
    )
    .await;
    assert_eq!(v["notified"], 1, "{v}");
    sink.wait_for(2, WAIT).await;
    s.stop().await;
}

#[tokio::test]
async fn the_browser_cannot_swap_the_number_and_risky_lines_are_not_bound() {
    let (s, token, _) = server(TestDb::sqlite()).await;
    // A flow whose number the customer's server chose: the SDK may repeat it, not
    // replace it, and nothing is sent to the other number.
    let (_, auth) = start(
        &s,
        &token,
        json!({"flowType": "mobile", "phoneNumber": "2015550100"}),
    )
    .await;
    let (st, v) = sdk(
        &s,
        &auth,
        "/v3/sdk/otp/start",
        json!({"phoneNumber": "2015550199"}),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    assert!(inbox(&s, Some("+12015550199")).await.is_empty());
    let (st, v) = sdk(
        &s,
        &auth,
        "/v3/sdk/otp/start",
        json!({"phoneNumber": "(201) 555-0100"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    // A flow started without a number takes the one the person types.
    let (_, auth) = start(&s, &token, json!({"flowType": "mobile"})).await;
    let (st, v) = sdk(
        &s,
        &auth,
        "/v3/sdk/otp/start",
        json!({"phoneNumber": "2015550199"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(inbox(&s, Some("+12015550199")).await.len(), 1);

    // unify-bind applies the line checks of unify-status: a swapped SIM is not bound.
    let (st, v) = post(
        &s,
        &token,
        "/v3/unify",
        json!({"possessionType": "none", "phoneNumber": "2015550102"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let id = v["correlationId"].as_str().unwrap().to_string();
    let (st, v) = post(&s, &token, "/v3/unify-bind", json!({"correlationId": id})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], "false", "{v}");
    assert!(v.get("proveId").is_none(), "{v}");
    assert!(all_identities(&s, &token).await.is_empty());
    s.stop().await;
}

// ---- bad input ---------------------------------------------------------------------

#[tokio::test]
async fn bad_input_is_refused_with_the_field_named_and_changes_nothing() {
    let (s, ta, _) = server(TestDb::sqlite()).await;
    let ok = json!({"flowType": "mobile", "phoneNumber": "2015550100"});
    let with = |field: &str, value: Value| {
        let mut b = ok.clone();
        b[field] = value;
        b
    };
    let desktop = json!({"flowType": "desktop", "phoneNumber": "2015550100", "finalTargetUrl": "https://shop.example/x"});
    let desktop_with = |field: &str, value: Value| {
        let mut b = desktop.clone();
        b[field] = value;
        b
    };
    let mut cases: Vec<(&str, Value, &str)> = vec![
        (
            "/v3/start",
            json!({"phoneNumber": "2015550100"}),
            "flowType",
        ),
        ("/v3/start", with("flowType", json!("tablet")), "flowType"),
        (
            "/v3/start",
            with("phoneNumber", json!("12ab")),
            "phoneNumber",
        ),
        (
            "/v3/start",
            with("phoneNumber", json!("123")),
            "phoneNumber",
        ),
        (
            "/v3/start",
            with("phoneNumber", json!("2001234567")),
            "phoneNumber",
        ),
        (
            "/v3/start",
            json!({"flowType": "desktop", "phoneNumber": "2015550100"}),
            "finalTargetUrl",
        ),
        (
            "/v3/start",
            desktop_with("finalTargetUrl", json!("javascript:alert(1)")),
            "finalTargetUrl",
        ),
        ("/v3/start", with("dob", json!("1990-13-40")), "dob"),
        ("/v3/start", with("ssn", json!("12")), "ssn"),
        (
            "/v3/start",
            with("emailAddress", json!("x@")),
            "emailAddress",
        ),
        (
            "/v3/start",
            with("smsMessage", json!("Your code is here")),
            "smsMessage",
        ),
        (
            "/v3/start",
            with("smsMessage", json!("Code #### at https://evil.example")),
            "smsMessage",
        ),
        (
            "/v3/start",
            desktop_with("smsMessage", json!("Verify at www.evil.example {link}")),
            "smsMessage",
        ),
        (
            "/v3/start",
            with("ipAddress", json!("300.1.1.1")),
            "ipAddress",
        ),
        // The calls that enrol when they succeed.
        (
            "/v3/verify",
            json!({"firstName": "Sheilakathryn", "lastName": "Butrimovich", "phoneNumber": "2001004011"}),
            "possessionType",
        ),
        (
            "/v3/verify",
            json!({"lastName": "Butrimovich", "phoneNumber": "2001004011", "possessionType": "none"}),
            "firstName",
        ),
        (
            "/v3/verify",
            json!({"firstName": "Sheilakathryn", "lastName": "Butrimovich", "phoneNumber": "2001004011",
                   "possessionType": "none", "emailAddress": "x@"}),
            "emailAddress",
        ),
        (
            "/v3/verify",
            json!({"verificationType": "verifiedUser", "phoneNumber": "12ab"}),
            "phoneNumber",
        ),
        (
            "/v3/unify",
            json!({"possessionType": "none"}),
            "phoneNumber",
        ),
        (
            "/v3/unify",
            json!({"possessionType": "none", "phoneNumber": "2001234567"}),
            "phoneNumber",
        ),
        (
            "/v3/identity",
            json!({"clientCustomerId": "c"}),
            "phoneNumber",
        ),
        ("/v3/identity", json!({"phoneNumber": "123"}), "phoneNumber"),
    ];
    cases.push((
        "/v3/identity",
        json!({"phoneNumber": "2015550100", "clientCustomerId": "x".repeat(129)}),
        "clientCustomerId",
    ));
    for (path, body, field) in cases {
        let (st, v) = post(&s, &ta, path, body.clone()).await;
        assert_eq!(st, 400, "{path} {body}: {v}");
        assert_prove(st, &v, 400, 8001);
        assert!(
            v["message"].as_str().unwrap().contains(field),
            "{path} {body}: the message names {field}: {v}"
        );
    }
    // Over 4 KB, malformed JSON, no JSON at all.
    let big = json!({"flowType": "mobile", "phoneNumber": "2015550100", "pad": "x".repeat(5000)})
        .to_string();
    for path in ["/v3/start", "/v3/identity", "/v3/verify"] {
        let (st, v) = post_raw(&s, &ta, path, big.clone()).await;
        assert_prove(st, &v, 400, 8001);
        let (st, v) = post_raw(&s, &ta, path, "{\"flowType\": ".to_string()).await;
        assert_prove(st, &v, 400, 8001);
    }
    let resp = s
        .http
        .post(s.at("/v3/start"))
        .bearer_auth(&ta)
        .body(ok.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "the vendor's SDKs type 400, not 415");
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], 8001);

    // Nothing was enrolled, texted or started.
    assert!(all_identities(&s, &ta).await.is_empty());
    let (_, v) = get(&s, &ta, "/v3/identity/2001004011/lookup").await;
    assert_eq!(v["items"], json!([]), "{v}");
    let (_, v) = get(&s, &ta, "/v3/identity/2015550100/lookup").await;
    assert_eq!(v["items"], json!([]), "{v}");
    assert!(inbox(&s, None).await.is_empty());
    let flows = s.store.purge_phone_flows(-3_600_000).await.unwrap();
    assert_eq!(flows, 0, "no flow was created by bad input");
    // The count above does see flows: one good start is one flow.
    start(&s, &ta, ok).await;
    assert_eq!(s.store.purge_phone_flows(-3_600_000).await.unwrap(), 1);
    s.stop().await;
}

// ---- no enrolment oracle -----------------------------------------------------------

/// Starts a desktop flow of `path` (start, verify or unify) for `number`.
async fn begin(s: &TestServer, token: &str, path: &str, number: &str) -> (StatusCode, Value) {
    let target = "https://shop.example/x";
    let body = match path {
        "/v3/start" => {
            json!({"flowType": "desktop", "phoneNumber": number, "finalTargetUrl": target})
        }
        "/v3/verify" => json!({"firstName": "Avery", "lastName": "Quinn", "phoneNumber": number,
                               "possessionType": "desktop", "finalTargetUrl": target}),
        _ => json!({"possessionType": "desktop", "phoneNumber": number, "finalTargetUrl": target}),
    };
    post(s, token, path, body).await
}

#[tokio::test]
async fn starting_a_flow_does_not_tell_an_enrolled_number_from_a_new_one() {
    let (s, ta, _) = server(TestDb::sqlite()).await;
    let (st, _) = post(
        &s,
        &ta,
        "/v3/identity",
        json!({"phoneNumber": "2015550100"}),
    )
    .await;
    assert_eq!(st, 200);
    let (_, v) = post(
        &s,
        &ta,
        "/v3/unify",
        json!({"possessionType": "none", "phoneNumber": "2015550100"}),
    )
    .await;
    post(
        &s,
        &ta,
        "/v3/unify-bind",
        json!({"correlationId": v["correlationId"]}),
    )
    .await;
    let (_, v) = get(&s, &ta, "/v3/identity/2015550100/lookup").await;
    assert!(!v["items"].as_array().unwrap().is_empty(), "{v}");

    for path in ["/v3/start", "/v3/verify", "/v3/unify"] {
        let (st_known, known) = begin(&s, &ta, path, "2015550100").await;
        let (st_new, new) = begin(&s, &ta, path, "2015550199").await;
        assert_eq!(st_known, 200, "{known}");
        assert_eq!(st_known, st_new, "{path}: {known} vs {new}");
        assert_eq!(keys(&known), keys(&new), "{path}: {known} vs {new}");
        for (k, v) in known.as_object().unwrap() {
            if !matches!(k.as_str(), "correlationId" | "authToken") {
                assert_eq!(v, &new[k], "{path}: {k}");
            }
        }
        // What the browser sees of the two flows has the same shape and values.
        let (_, a) = get(&s, known["authToken"].as_str().unwrap(), "/v3/sdk/session").await;
        let (_, b) = get(&s, new["authToken"].as_str().unwrap(), "/v3/sdk/session").await;
        assert_eq!(keys(&a), keys(&b));
        for k in [
            "possession",
            "methods",
            "sendsLeft",
            "attemptsLeft",
            "phoneNumberNeeded",
        ] {
            assert_eq!(a[k], b[k], "{path}: {k}");
        }
    }
    s.stop().await;
}

//! Human Presence Tokens over real HTTP with the real engines: an agent's session, the
//! person's live scan (synthetic webcam footage of an eval face that blinks), the signed
//! token verified offline against the JWKS and by the API (nonce, e-mail, single use).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};
use std::sync::Arc;
use vouch_core::model::{Actor, AuditRecord, KeySettings};
use vouch_docsynth::camera::{frames, Eyes, Footage};
use vouch_server::analysis::Engines;
use vouch_testkit::{test_config, TestDb, TestServer};

fn engines() -> Arc<Engines> {
    vouch_testkit::shared_engines()
}

fn photo(name: &str) -> Vec<u8> {
    std::fs::read(vouch_testkit::eval_path("faces").join(name)).unwrap()
}

/// Eight webcam frames 200 ms apart (every third at 15 fps), as the page sends them.
fn capture(name: &str, script: Footage) -> Vec<String> {
    let bytes = photo(name);
    let engine = &engines().face;
    let l = engine.analyze(&engine.decode(&bytes).unwrap()).unwrap()[0]
        .face
        .landmarks;
    let eyes = Eyes {
        left: (l[0][0], l[0][1]),
        right: (l[1][0], l[1][1]),
    };
    let src = image::load_from_memory(&bytes).unwrap().to_rgb8();
    frames(&src, eyes, &script)
        .iter()
        .step_by(3)
        .take(8)
        .map(|f| {
            let mut out = std::io::Cursor::new(Vec::new());
            f.write_to(&mut out, image::ImageFormat::Png).unwrap();
            STANDARD.encode(out.into_inner())
        })
        .collect()
}

struct Agent {
    s: TestServer,
    org: String,
    token: String,
}

impl Agent {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .s
            .http
            .request(method, self.s.at(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn open(&self, body: Value) -> (String, String) {
        let (status, v) = self
            .call(reqwest::Method::POST, "/api/presence/sessions", Some(body))
            .await;
        assert_eq!(status, 201, "{v}");
        (
            v["sessionId"].as_str().unwrap().into(),
            v["verifyUrl"].as_str().unwrap().into(),
        )
    }

    async fn scan(&self, url: &str, frames: &[String]) -> (u16, Value) {
        let r = self
            .s
            .http
            .post(format!("{url}/selfie"))
            .json(&json!({"frames": frames}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }
}

async fn agent() -> Agent {
    agent_with(test_config()).await
}

async fn agent_with(config: vouch_server::ServerConfig) -> Agent {
    let s = TestServer::start_with_engines(TestDb::sqlite(), config, Some(engines())).await;
    let org = s.org("Acme").await;
    let (_, key, _) = s.key(&org, KeySettings::default()).await;
    for (file, email) in [
        ("img1.jpg", "alice@example.com"),
        ("img8.jpg", "bob@example.com"),
    ] {
        let r = s
            .http
            .post(s.at("/api/enroll"))
            .header("x-api-key", &key)
            .json(&json!({"image": STANDARD.encode(photo(file)), "email": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let (_, token) = s
        .store
        .create_service_token(
            &org,
            "agent",
            "presence",
            AuditRecord::new(Some(&org), Actor::Cli, "t"),
        )
        .await
        .unwrap();
    Agent {
        org: org.to_string(),
        s,
        token,
    }
}

#[tokio::test]
async fn a_live_scan_yields_a_token_verifiable_offline_and_redeemable_once() {
    let a = agent().await;
    let (id, url) = a
        .open(
            json!({"orgId": a.org, "purpose": "Deploy to production", "email": "alice@example.com",
                     "nonce": "n-123", "ttlSeconds": 300}),
        )
        .await;
    assert!(url.contains("/verify-presence/vpt_"), "{url}");
    let (_, v) = a
        .call(
            reqwest::Method::GET,
            &format!("/api/presence/sessions/{id}"),
            None,
        )
        .await;
    assert_eq!(v["status"], "PENDING");
    let (status, _) = a
        .call(
            reqwest::Method::GET,
            &format!("/api/presence/sessions/{id}/token"),
            None,
        )
        .await;
    assert_eq!(status, 409, "no token before the person is verified");
    // The page shows the purpose.
    let page =
        a.s.http
            .get(&url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(page.contains("Deploy to production"), "{page}");

    // img2 is alice (enrolled from img1), blinking live.
    let (status, v) = a
        .scan(&url, &capture("img2.jpg", Footage::blinking()))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "VERIFIED");
    let (_, v) = a
        .call(
            reqwest::Method::GET,
            &format!("/api/presence/sessions/{id}"),
            None,
        )
        .await;
    assert_eq!(v["status"], "VERIFIED", "{v}");
    assert_eq!(v["verifiedEmail"], "alice@example.com");

    let (status, t) = a
        .call(
            reqwest::Method::GET,
            &format!("/api/presence/sessions/{id}/token"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{t}");
    let token = t["token"].as_str().unwrap().to_string();
    // Offline: the signature checks out against the published key.
    let jwks: Value =
        a.s.http
            .get(a.s.at("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap();
    // Verified as a relying party would: the JWK from the JWKS document, ES256 only.
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).expect("a JWK");
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("an EC key");
    let mut rules = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    rules.validate_aud = false;
    let verify = |t: &str| jsonwebtoken::decode::<Value>(t, &key, &rules).map(|d| d.claims);
    let claims = verify(&token).expect("valid ES256 signature");
    assert_eq!(claims["sub"], "alice@example.com");
    assert_eq!(claims["nonce"], "n-123");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    // A byte changed in the claims breaks it.
    let mut forged = parts.clone();
    let tampered = URL_SAFE_NO_PAD.encode(
        String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap())
            .unwrap()
            .replace("alice", "mallo"),
    );
    forged[1] = &tampered;
    assert!(verify(&forged.join(".")).is_err());

    // The API: claims when everything matches; invalid otherwise; once when redeemed.
    let check = |body: Value| {
        a.call(
            reqwest::Method::POST,
            "/api/presence/verify-token",
            Some(body),
        )
    };
    let good = json!({"token": token, "expectedOrgId": a.org, "expectedEmail": "alice@example.com", "expectedNonce": "n-123"});
    let (status, v) = check(good.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["sub"], "alice@example.com");
    assert_eq!(v["sessionId"], id.as_str());
    assert_eq!(v["purpose"], "Deploy to production");
    for (field, value) in [
        ("expectedNonce", "other"),
        ("expectedEmail", "bob@example.com"),
        ("expectedOrgId", "org_x"),
    ] {
        let mut bad = good.clone();
        bad[field] = json!(value);
        let (_, v) = check(bad).await;
        assert_eq!(v["valid"], false, "{field}: {v}");
    }
    let (_, v) = check(json!({"token": forged.join("."), "expectedOrgId": a.org})).await;
    assert_eq!(v["valid"], false);
    // The spec's SDK example sends the token alone: checked against the caller's org.
    let (status, v) = check(json!({"token": token})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(v["orgId"], json!(a.org), "{v}");
    let (_, v) = check(json!({"token": forged.join(".")})).await;
    assert_eq!(v["valid"], false, "{v}");
    let mut redeem = good.clone();
    redeem["redeem"] = json!(true);
    assert_eq!(check(redeem.clone()).await.1["valid"], true);
    let (_, v) = check(redeem).await;
    assert_eq!(v["valid"], false);
    assert_eq!(v["error"], "token already redeemed");

    // The page is done.
    let (status, _) = a
        .scan(&url, &capture("img2.jpg", Footage::blinking()))
        .await;
    assert_eq!(status, 409);
    a.s.stop().await;
}

#[tokio::test]
async fn a_still_photo_another_person_and_a_wrong_org_are_refused() {
    let a = agent().await;
    let (_, url) = a
        .open(json!({"orgId": a.org, "purpose": "Sign the release"}))
        .await;
    let (status, v) = a
        .scan(&url, &capture("img2.jpg", Footage::still_photo()))
        .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["code"], "liveness_failed");

    // Locked to bob; alice shows up.
    let (id, url) = a
        .open(json!({"orgId": a.org, "purpose": "Approve payment", "email": "bob@example.com"}))
        .await;
    let (status, v) = a
        .scan(&url, &capture("img2.jpg", Footage::blinking()))
        .await;
    assert_eq!(status, 403, "{v}");
    let (_, v) = a
        .call(
            reqwest::Method::GET,
            &format!("/api/presence/sessions/{id}"),
            None,
        )
        .await;
    assert_eq!(v["status"], "PENDING");

    // Someone nobody enrolled.
    let (_, url) = a.open(json!({"orgId": a.org, "purpose": "x"})).await;
    let (status, v) = a
        .scan(&url, &capture("img24.jpg", Footage::blinking()))
        .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["code"], "not_recognised");

    for bad in [
        json!({"orgId": "org_other", "purpose": "x"}),
        json!({"orgId": a.org, "purpose": ""}),
        json!({"orgId": a.org, "purpose": "x", "ttlSeconds": 3601}),
        json!({"orgId": a.org, "purpose": "x", "email": "nope"}),
    ] {
        let (status, v) = a
            .call(
                reqwest::Method::POST,
                "/api/presence/sessions",
                Some(bad.clone()),
            )
            .await;
        assert!(status == 400 || status == 403, "{bad} → {status} {v}");
    }
    a.s.stop().await;
}

#[tokio::test]
async fn hs256_tokens_are_verified_by_the_server_only() {
    let mut config = test_config();
    config.presence_tokens_hs256 = true;
    let a = agent_with(config).await;
    let (id, url) = a
        .open(json!({"orgId": a.org, "purpose": "Sign", "nonce": "n"}))
        .await;
    let (status, v) = a
        .scan(&url, &capture("img2.jpg", Footage::blinking()))
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, t) = a
        .call(
            reqwest::Method::GET,
            &format!("/api/presence/sessions/{id}/token"),
            None,
        )
        .await;
    let token = t["token"].as_str().unwrap().to_string();
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
    let check = |body: Value| {
        a.call(
            reqwest::Method::POST,
            "/api/presence/verify-token",
            Some(body),
        )
    };
    let (_, v) = check(json!({"token": token, "expectedOrgId": a.org, "expectedNonce": "n"})).await;
    assert_eq!(v["valid"], true, "{v}");
    // A changed signature fails; the JWKS publishes no HS256 secret.
    // A signature character in the middle changed (not the last, whose low bits pad).
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let forged: String = chars.into_iter().collect();
    let (_, v) = check(json!({"token": forged, "expectedOrgId": a.org})).await;
    assert_eq!(v["valid"], false, "{v}");
    let jwks: Value =
        a.s.http
            .get(a.s.at("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["alg"] == "ES256"),
        "{jwks}"
    );
    a.s.stop().await;
}

/// The JWKS publishes the signing key from the first start, before any token exists
/// (a relying party caches it at deploy time), and later tokens are signed with it.
#[tokio::test]
async fn the_jwks_has_a_key_before_the_first_token() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let fetch = || async {
        s.http
            .get(s.at("/.well-known/jwks.json"))
            .send()
            .await
            .expect("jwks")
            .json::<Value>()
            .await
            .expect("json")
    };
    let first = fetch().await;
    let keys = first["keys"].as_array().cloned().unwrap_or_default();
    assert_eq!(keys.len(), 1, "{first}");
    assert_eq!(keys[0]["alg"], "ES256");
    assert_eq!(keys[0]["crv"], "P-256");
    assert_eq!(
        fetch().await,
        first,
        "the same key, not a new one per request"
    );
    let (kid, _) = s.store.es256_signing_key().await.expect("key");
    assert_eq!(keys[0]["kid"], kid.as_str());
    s.stop().await;
}

//! Admin authentication over real HTTP: the one-time setup link, password login (same
//! answer for an unknown account and a wrong password, throttling), the 2FA enrolment
//! deadline, passkeys with a software authenticator (real attestation and assertions
//! verified by webauthn-rs), CSRF on cookie sessions, and face 2FA with the real
//! engines (synthetic webcam footage of the eval faces, blinking).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vouch_core::ids::OrgId;
use vouch_docsynth::camera::{frames, Eyes, Footage};
use vouch_server::analysis::Engines;
use vouch_store::admin::token_digest;
use vouch_testkit::{test_config, TestDb, TestServer};
use webauthn_authenticator_rs::prelude::{
    CreationChallengeResponse, RequestChallengeResponse, Url,
};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;

const ORIGIN: &str = "http://localhost:8443";
const PASSWORD: &str = "correct horse battery staple";

struct Console {
    s: TestServer,
    org: OrgId,
}

struct Reply {
    status: u16,
    body: Value,
    headers: reqwest::header::HeaderMap,
}

impl Console {
    async fn start(engines: Option<Arc<Engines>>) -> Console {
        let mut config = test_config();
        config.rp_id = Some("localhost".into());
        config.rp_origin = Some(ORIGIN.into());
        let s = TestServer::start_with_engines(TestDb::sqlite(), config, engines).await;
        let org = s.org("Acme").await;
        Console { s, org }
    }

    /// An admin with a password (as `vouch admin create --password-stdin` makes one).
    async fn admin(&self, email: &str) -> String {
        let hash = vouch_server::admin::hash_password(PASSWORD).unwrap();
        self.s
            .store
            .create_admin(&self.org, email, Some(&hash), None)
            .await
            .unwrap()
            .id
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut r = self.s.http.request(method, self.s.at(path));
        if let Some(t) = bearer {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.json().await.unwrap_or(Value::Null);
        Reply {
            status,
            body,
            headers,
        }
    }

    async fn login(&self, email: &str, password: &str) -> Reply {
        self.call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    /// Logs in without 2FA enrolled (before the deadline): the session token.
    async fn session(&self, email: &str) -> String {
        let r = self.login(email, PASSWORD).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["token"].as_str().unwrap().to_string()
    }

    /// Logs in with 2FA enrolled: the pending sessionToken.
    async fn pending(&self, email: &str) -> String {
        let r = self.login(email, PASSWORD).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["requires_2fa"], true, "{}", r.body);
        r.body["sessionToken"].as_str().unwrap().to_string()
    }
}

#[tokio::test]
async fn a_setup_link_sets_the_password_once_and_the_session_works_with_csrf() {
    let c = Console::start(None).await;
    let token = vouch_server::admin::new_token("vsu_");
    c.s.store
        .create_admin(&c.org, "Ops@Example.com", None, Some(&token_digest(&token)))
        .await
        .unwrap();
    // No password yet: login fails like any wrong password.
    let r = c.login("ops@example.com", PASSWORD).await;
    assert_eq!(r.status, 401);
    let setup = |password: &str| {
        c.call(
            Method::POST,
            "/api/auth/setup",
            None,
            Some(json!({"token": token, "password": password})),
        )
    };
    let r = setup("too short").await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = setup(PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["success"], true);
    let r = setup("another long password").await;
    assert_eq!(r.status, 400, "a setup link works once: {}", r.body);
    assert_eq!(r.body["code"], "invalid_setup_token");

    // No 2FA yet, inside the enrolment window: signed in, told to enrol.
    let r = c.login("ops@example.com", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["enrollmentRequired"], true);
    assert!(r.body["enrollBy"].as_str().is_some());
    assert_eq!(r.body["admin"]["email"], "ops@example.com");
    assert_eq!(r.body["admin"]["orgId"], c.org.as_str());
    let token = r.body["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("vas_"));
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.starts_with(&format!("vouch_admin={token};")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));

    let me = c
        .call(Method::GET, "/api/auth/me", Some(&token), None)
        .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["admin"]["email"], "ops@example.com");
    assert_eq!(me.body["methods"], json!({"passkey": false, "face": false}));
    let csrf = me.body["csrfToken"].as_str().unwrap().to_string();

    // The cookie: a POST without the CSRF header is refused, with it accepted.
    let post = |csrf: Option<&str>| {
        let mut r =
            c.s.http
                .post(c.s.at("/api/auth/2fa/passkey/register-options"))
                .header("cookie", format!("vouch_admin={token}"))
                .json(&json!({}));
        if let Some(v) = csrf {
            r = r.header("x-csrf-token", v);
        }
        r.send()
    };
    assert_eq!(post(None).await.unwrap().status(), 403);
    assert_eq!(post(Some("wrong")).await.unwrap().status(), 403);
    assert_eq!(post(Some(&csrf)).await.unwrap().status(), 200);

    let r = c
        .call(Method::POST, "/api/auth/logout", Some(&token), None)
        .await;
    assert_eq!(r.status, 200);
    assert!(r.headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let me = c
        .call(Method::GET, "/api/auth/me", Some(&token), None)
        .await;
    assert_eq!(me.status, 401);

    // Audited, without the e-mail or password.
    let audit = c.s.store.list_audit(&c.org, 50).await.unwrap();
    let text = format!("{audit:?}");
    assert!(text.contains("admin.password_set") && text.contains("admin.login"));
    assert!(!text.contains("ops@example.com") && !text.contains(PASSWORD));
}

#[tokio::test]
async fn an_unknown_account_and_a_wrong_password_get_the_same_answer() {
    let c = Console::start(None).await;
    c.admin("ops@example.com").await;
    let t = Instant::now();
    let unknown = c.login("nobody@example.com", PASSWORD).await;
    let unknown_time = t.elapsed();
    let t = Instant::now();
    let wrong = c.login("ops@example.com", "wrong password!!").await;
    let wrong_time = t.elapsed();
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.body, wrong.body);
    assert_eq!(unknown.body["error"], "Invalid email or password");
    // Both ran argon2 (a hash check takes milliseconds; a lookup alone does not).
    assert!(unknown_time > Duration::from_millis(5), "{unknown_time:?}");
    assert!(wrong_time > Duration::from_millis(5), "{wrong_time:?}");
}

#[tokio::test]
async fn logins_are_throttled_per_account_and_per_address() {
    // The counters are per clock minute: start early in one so all hits share it.
    let into = vouch_core::now_millis().rem_euclid(60_000);
    if into > 30_000 {
        tokio::time::sleep(Duration::from_millis((60_100 - into) as u64)).await;
    }
    let c = Console::start(None).await;
    c.admin("ops@example.com").await;
    for _ in 0..10 {
        assert_eq!(
            c.login("ops@example.com", "wrong password!!").await.status,
            401
        );
    }
    let r = c.login("ops@example.com", PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.headers.contains_key("retry-after"));
    // The address: 30 a minute whatever the account (11 used above).
    let mut limited = false;
    for i in 0..20 {
        let r = c.login(&format!("user{i}@example.com"), PASSWORD).await;
        if r.status == 429 {
            limited = true;
            assert!(i >= 19, "limited after {i}");
            break;
        }
        assert_eq!(r.status, 401);
    }
    assert!(limited, "the 31st login from one address is throttled");
}

#[tokio::test]
async fn without_2fa_after_the_deadline_login_is_refused() {
    let c = Console::start(None).await;
    let id = c.admin("ops@example.com").await;
    c.s.store
        .set_admin_enroll_by(&id, vouch_core::now_millis() - 1000)
        .await
        .unwrap();
    let r = c.login("ops@example.com", PASSWORD).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["error"], "2FA enrollment required");
    assert_eq!(r.body["code"], "enrollment_required");
    assert!(r.headers.get("set-cookie").is_none());
}

async fn register_passkey(c: &Console, token: &str, key: &mut SoftPasskey, name: &str) -> Value {
    let r = c
        .call(
            Method::POST,
            "/api/auth/2fa/passkey/register-options",
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let options = &r.body["options"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(
        options["authenticatorSelection"]["residentKey"],
        "preferred"
    );
    assert_eq!(
        options["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert!(options["challenge"].as_str().is_some());
    let ccr: CreationChallengeResponse =
        serde_json::from_value(json!({ "publicKey": options })).unwrap();
    let credential = key
        .do_registration(Url::parse(ORIGIN).unwrap(), ccr)
        .unwrap();
    let r = c
        .call(
            Method::POST,
            "/api/auth/2fa/passkey/register",
            Some(token),
            Some(json!({"credential": credential, "name": name})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

async fn passkey_login(c: &Console, email: &str, key: &mut SoftPasskey) -> Reply {
    let pending = c.pending(email).await;
    let r = c
        .call(
            Method::POST,
            "/api/auth/2fa/passkey/authenticate-options",
            None,
            Some(json!({"sessionToken": pending})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let options = &r.body["options"];
    assert_eq!(options["rpId"], "localhost");
    assert_eq!(options["userVerification"], "required");
    assert!(!options["allowCredentials"].as_array().unwrap().is_empty());
    let rcr: RequestChallengeResponse =
        serde_json::from_value(json!({ "publicKey": options })).unwrap();
    let assertion = key
        .do_authentication(Url::parse(ORIGIN).unwrap(), rcr)
        .unwrap();
    c.call(
        Method::POST,
        "/api/auth/2fa/passkey/authenticate",
        None,
        Some(json!({"sessionToken": pending, "credential": assertion})),
    )
    .await
}

#[tokio::test]
async fn a_passkey_is_registered_and_signs_in_and_the_last_one_stays() {
    let c = Console::start(None).await;
    let id = c.admin("ops@example.com").await;
    let token = c.session("ops@example.com").await;
    let mut key = SoftPasskey::new(true);
    let reg = register_passkey(&c, &token, &mut key, "Test key").await;
    assert_eq!(reg["success"], true);
    assert_eq!(reg["name"], "Test key");
    let cred = reg["credentialId"].as_str().unwrap().to_string();
    assert!(cred.starts_with("cred_"));
    let list = c
        .call(
            Method::GET,
            "/api/auth/2fa/passkey/credentials",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(list.body["credentials"][0]["credentialId"], cred.as_str());
    assert_eq!(list.body["credentials"][0]["lastUsedAt"], Value::Null);

    // The only second factor cannot be removed.
    let del = c
        .call(
            Method::DELETE,
            &format!("/api/auth/2fa/passkey/credentials/{cred}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(del.status, 409, "{}", del.body);

    // Past the deadline does not matter once enrolled.
    c.s.store
        .set_admin_enroll_by(&id, vouch_core::now_millis() - 1000)
        .await
        .unwrap();
    let r = c.login("ops@example.com", PASSWORD).await;
    assert_eq!(r.body["methods"], json!({"passkey": true, "face": false}));
    assert_eq!(r.body["message"], "Two-factor authentication required");
    let pending = r.body["sessionToken"].as_str().unwrap().to_string();
    assert!(pending.starts_with("tmp_sess_"));
    assert!(r.headers.get("set-cookie").is_none());
    // A pending session is no console session.
    let me = c
        .call(Method::GET, "/api/auth/me", Some(&pending), None)
        .await;
    assert_eq!(me.status, 401);

    let before = c.s.store.admin_passkeys(&id).await.unwrap()[0]
        .passkey
        .clone();
    let done = passkey_login(&c, "ops@example.com", &mut key).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["success"], true);
    assert_eq!(done.body["admin"]["id"], id.as_str());
    let full = done.body["token"].as_str().unwrap().to_string();
    assert!(done.headers["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("vouch_admin=vas_"));
    let me = c.call(Method::GET, "/api/auth/me", Some(&full), None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    let list = c
        .call(
            Method::GET,
            "/api/auth/2fa/passkey/credentials",
            Some(&full),
            None,
        )
        .await;
    assert!(list.body["credentials"][0]["lastUsedAt"].is_string());
    let after = c.s.store.admin_passkeys(&id).await.unwrap()[0]
        .passkey
        .clone();
    assert_ne!(before, after, "the signature counter is stored back");
    // A second login: the counter moved on and was stored.
    let again = passkey_login(&c, "ops@example.com", &mut key).await;
    assert_eq!(again.status, 200, "{}", again.body);

    // A forged assertion (signature altered) is refused, and the ceremony is spent.
    let pending = c.pending("ops@example.com").await;
    let r = c
        .call(
            Method::POST,
            "/api/auth/2fa/passkey/authenticate-options",
            None,
            Some(json!({"sessionToken": pending})),
        )
        .await;
    let rcr: RequestChallengeResponse =
        serde_json::from_value(json!({ "publicKey": r.body["options"] })).unwrap();
    let mut other = SoftPasskey::new(true);
    assert!(other
        .do_authentication(Url::parse(ORIGIN).unwrap(), rcr.clone())
        .is_err());
    let mut assertion = serde_json::to_value(
        key.do_authentication(Url::parse(ORIGIN).unwrap(), rcr)
            .unwrap(),
    )
    .unwrap();
    let mut sig = URL_SAFE_NO_PAD
        .decode(assertion["response"]["signature"].as_str().unwrap())
        .unwrap();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    assertion["response"]["signature"] = json!(URL_SAFE_NO_PAD.encode(sig));
    let authenticate = |credential: Value| {
        c.call(
            Method::POST,
            "/api/auth/2fa/passkey/authenticate",
            None,
            Some(json!({"sessionToken": pending, "credential": credential})),
        )
    };
    let r = authenticate(assertion).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body["token"].is_null());

    // With a second passkey, the first can go.
    let mut key2 = SoftPasskey::new(true);
    register_passkey(&c, &full, &mut key2, "Spare").await;
    let del = c
        .call(
            Method::DELETE,
            &format!("/api/auth/2fa/passkey/credentials/{cred}"),
            Some(&full),
            None,
        )
        .await;
    assert_eq!(del.status, 200, "{}", del.body);
    assert_eq!(del.body["message"], "Passkey removed");
}

fn engines() -> Arc<Engines> {
    vouch_testkit::shared_engines()
}

fn photo(name: &str) -> Vec<u8> {
    vouch_testkit::eval_bytes(&format!("faces/{name}"))
}

/// Eight webcam frames 200 ms apart (every third at 15 fps), encoded as the page sends them.
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

#[tokio::test]
async fn face_2fa_enrols_with_consent_and_signs_in_only_the_same_live_person() {
    let c = Console::start(Some(engines())).await;
    let id = c.admin("ops@example.com").await;
    let token = c.session("ops@example.com").await;
    let enroll = |body: Value| {
        c.call(
            Method::POST,
            "/api/auth/2fa/face/enroll",
            Some(&token),
            Some(body),
        )
    };
    let live = capture("img2.jpg", Footage::blinking());
    let r = enroll(json!({"frames": live})).await;
    assert_eq!(r.status, 400, "consent is required: {}", r.body);
    let r = enroll(json!({"consent": false, "frames": live})).await;
    assert_eq!(r.status, 400);
    // A still photo does not blink.
    let r = enroll(json!({"consent": true, "frames": capture("img2.jpg", Footage::still_photo())}))
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = enroll(json!({"consent": true, "frames": live})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let admin = c.s.store.admin(&id).await.unwrap();
    assert!(admin.face_template.is_some() && admin.face_consent_at.is_some());
    let audit = format!("{:?}", c.s.store.list_audit(&c.org, 50).await.unwrap());
    assert!(audit.contains("admin.face_enrolled") && audit.contains("consentAt"));

    // The only second factor cannot be removed.
    let r = c
        .call(Method::DELETE, "/api/auth/2fa/face", Some(&token), None)
        .await;
    assert_eq!(r.status, 409, "{}", r.body);

    let r = c.login("ops@example.com", PASSWORD).await;
    assert_eq!(r.body["methods"], json!({"passkey": false, "face": true}));
    let pending = r.body["sessionToken"].as_str().unwrap().to_string();
    let face = |frames: Vec<String>| {
        c.call(
            Method::POST,
            "/api/auth/2fa/face",
            None,
            Some(json!({"sessionToken": pending, "frames": frames})),
        )
    };
    // Another person, live: refused.
    let r = face(capture("img8.jpg", Footage::blinking())).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.body["code"], "face_mismatch");
    // The admin, from another photo, live: signed in.
    let r = face(capture("img1.jpg", Footage::blinking())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["admin"]["email"], "ops@example.com");
    let full = r.body["token"].as_str().unwrap().to_string();
    let me = c.call(Method::GET, "/api/auth/me", Some(&full), None).await;
    assert_eq!(me.body["methods"]["face"], true);
    // The pending session is gone.
    let r = face(capture("img1.jpg", Footage::blinking())).await;
    assert_eq!(r.status, 401, "{}", r.body);
}

#[tokio::test]
async fn face_2fa_without_models_is_unavailable() {
    let c = Console::start(None).await;
    c.admin("ops@example.com").await;
    let token = c.session("ops@example.com").await;
    let r = c
        .call(
            Method::POST,
            "/api/auth/2fa/face/enroll",
            Some(&token),
            Some(json!({"consent": true, "frames": ["AAAA", "AAAA"]})),
        )
        .await;
    assert_eq!(r.status, 503, "{}", r.body);
}

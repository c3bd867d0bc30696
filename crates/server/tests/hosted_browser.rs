//! The hosted verification page end to end in a real browser: Debian's Chromium, driven by
//! playwright-core (`tests/e2e/drive.mjs`), with a fake camera that plays footage made from
//! the eval face photos (vouch-docsynth's `camera`: a person who blinks, or a still photo
//! held up to the camera) and an upload of a synthetic passport whose portrait is an eval
//! photo. The server runs here with the real engines; results are checked through the API
//! and the signed webhook. Screenshots of every step land in `artifacts/e2e/<scenario>/`
//! (or `$VOUCH_E2E_SCREENSHOTS/<scenario>/`).
//!
//! Needs `/usr/bin/chromium` (or `$VOUCH_CHROMIUM`) and `tests/e2e/node_modules`, both
//! installed by `scripts/install-deps.sh`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use vouch_core::check::{Check, Thresholds};
use vouch_core::model::{Branding, KeySettings};
use vouch_docsynth::camera::Footage;
use vouch_server::analysis::Engines;
use vouch_testkit::camera::{footage, passport};
use vouch_testkit::{test_config, TestDb, TestServer, WebhookSink};

const WAIT: Duration = Duration::from_secs(20);

fn repo() -> PathBuf {
    vouch_testkit::repo_root()
}

fn face_path(name: &str) -> PathBuf {
    vouch_testkit::eval_path("faces").join(name)
}

fn engines() -> Arc<Engines> {
    vouch_testkit::shared_engines()
}

fn screenshots(scenario: &str) -> PathBuf {
    std::env::var_os("VOUCH_E2E_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("artifacts/e2e"))
        .join(scenario)
}

/// Runs the browser driver; returns what it saw.
async fn drive(scenario: &str, cfg: Value) -> Value {
    let driver = repo().join("tests/e2e/drive.mjs");
    assert!(
        repo()
            .join("tests/e2e/node_modules/playwright-core")
            .exists(),
        "tests/e2e/node_modules missing: run scripts/install-deps.sh"
    );
    let chromium = std::env::var("VOUCH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} missing: run scripts/install-deps.sh (Debian's chromium)"
    );
    let dir = screenshots(scenario);
    let _ = std::fs::remove_dir_all(&dir);
    let mut cfg = cfg;
    cfg["screenshots"] = json!(dir);
    let out = tokio::time::timeout(
        Duration::from_secs(240),
        tokio::process::Command::new("node")
            .arg(&driver)
            .arg(cfg.to_string())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("browser driver timed out")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout.lines().last().unwrap_or("");
    let v: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("driver output {e}: {stdout}\nstderr: {stderr}"));
    assert!(
        v.get("failure").is_none(),
        "{scenario}: {}\nstderr: {stderr}",
        v["failure"]
    );
    v
}

struct Setup {
    server: TestServer,
    sink: WebhookSink,
    key: String,
    secret: String,
    dir: tempfile::TempDir,
}

async fn setup(checks: &[Check]) -> Setup {
    let server =
        TestServer::start_with_engines(TestDb::sqlite(), test_config(), Some(engines())).await;
    let sink = WebhookSink::start().await;
    let org = server.org("Acme Bank").await;
    let settings = KeySettings {
        checks: checks.to_vec(),
        webhook_url: Some(sink.url.clone()),
        thresholds: Thresholds::default(),
        branding: Branding {
            display_name: Some("Acme Bank".into()),
            logo_url: None,
            accent_color: Some("#0a7d4f".into()),
        },
        ..Default::default()
    };
    let (_, key, secret) = server.key(&org, settings).await;
    Setup {
        server,
        sink,
        key,
        secret,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Setup {
    /// Creates a session; returns (id, verificationUrl).
    async fn session(&self, body: Value) -> (String, String) {
        let v: Value = reqwest::Client::new()
            .post(self.server.at("/api/v1/verify"))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            v["sessionId"].as_str().unwrap().to_string(),
            v["verificationUrl"].as_str().unwrap().to_string(),
        )
    }

    async fn get(&self, id: &str) -> Value {
        self.get_as(&self.key, &format!("/api/v1/verify/{id}"))
            .await
    }

    /// GETs `path` with a bearer credential; the body as JSON.
    async fn get_as(&self, bearer: &str, path: &str) -> Value {
        reqwest::Client::new()
            .get(self.server.at(path))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The signed `verification.completed` payload of a session.
    async fn webhook(&self, id: &str) -> Value {
        let all = self.sink.wait_for(1, WAIT).await;
        let hook = all
            .iter()
            .map(|r| r.kyc_json(&self.secret))
            .find(|p| p["sessionId"] == id)
            .unwrap_or_else(|| panic!("no webhook for {id}"));
        assert_eq!(hook["event"], "verification.completed");
        hook
    }
}

const REDIRECT: &str = "https://client.example/done";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_genuine_user_blinks_shows_their_passport_and_is_approved() {
    let s = setup(&[Check::Liveness, Check::DocVerify, Check::FaceMatch]).await;
    let (id, url) = s
        .session(json!({"externalRef": "user-1", "redirectUrl": REDIRECT}))
        .await;
    // img1 and img2 are the same person (pairs.txt): the passport shows img1.
    let out = drive(
        "genuine",
        json!({
            "url": url,
            "y4m": footage(s.dir.path(), "img2.jpg", &Footage::blinking()),
            "document": passport(s.dir.path(), "img1.jpg"),
            "redirectPrefix": "https://client.example/",
        }),
    )
    .await;
    let got = s.get(&id).await;
    assert_eq!(out["result"], "APPROVED", "{out}\n{got}");
    assert_eq!(got["status"], "COMPLETED", "{got}");
    assert_eq!(got["overallResult"], "APPROVED", "{got}");
    assert_eq!(got["checks"]["liveness"]["result"], "PASS", "{got}");
    assert_eq!(got["checks"]["liveness"]["blink"], true, "{got}");
    assert_eq!(
        got["checks"]["documentVerification"]["result"], "PASS",
        "{got}"
    );
    assert_eq!(got["checks"]["faceMatch"]["result"], "PASS", "{got}");
    let redirected = out["redirectedTo"].as_str().unwrap();
    assert_eq!(
        redirected,
        format!("{REDIRECT}?session_id={id}&result=APPROVED"),
        "{out}"
    );
    let hook = s.webhook(&id).await;
    assert_eq!(hook["overallResult"], "APPROVED");
    assert_eq!(hook["externalRef"], "user-1");
    s.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_still_photo_held_to_the_camera_is_rejected() {
    let s = setup(&[Check::Liveness]).await;
    let (id, url) = s.session(json!({})).await;
    let out = drive(
        "still-photo",
        json!({"url": url, "y4m": footage(s.dir.path(), "img2.jpg", &Footage::still_photo())}),
    )
    .await;
    assert_eq!(out["result"], "REJECTED", "{out}");
    let got = s.get(&id).await;
    let l = &got["checks"]["liveness"];
    assert_eq!(l["result"], "FAIL", "{got}");
    assert_eq!(l["blink"], false, "{got}");
    assert_eq!(l["turn"], false, "{got}");
    assert_eq!(s.webhook(&id).await["overallResult"], "REJECTED");
    s.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_else_than_the_document_holder_is_rejected() {
    let s = setup(&[Check::Liveness, Check::FaceMatch]).await;
    let (id, url) = s.session(json!({"redirectUrl": REDIRECT})).await;
    // img24 blinks live, but the passport shows img1, another person.
    let out = drive(
        "other-person",
        json!({
            "url": url,
            "y4m": footage(s.dir.path(), "img24.jpg", &Footage::blinking()),
            "document": passport(s.dir.path(), "img1.jpg"),
            "redirectPrefix": "https://client.example/",
        }),
    )
    .await;
    assert_eq!(out["result"], "REJECTED", "{out}");
    assert_eq!(
        out["redirectedTo"].as_str().unwrap(),
        format!("{REDIRECT}?session_id={id}&result=REJECTED")
    );
    let got = s.get(&id).await;
    assert_eq!(got["checks"]["liveness"]["result"], "PASS", "{got}");
    assert_eq!(got["checks"]["faceMatch"]["result"], "FAIL", "{got}");
    assert_eq!(got["checks"]["faceMatch"]["isMatch"], false, "{got}");
    assert_eq!(s.webhook(&id).await["overallResult"], "REJECTED");
    s.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_genuine_flow_inside_an_iframe_posts_the_result_to_the_parent() {
    let s = setup(&[Check::Liveness, Check::DocVerify, Check::FaceMatch]).await;
    let (id, url) = s.session(json!({"redirectUrl": REDIRECT})).await;
    let out = drive(
        "genuine-iframe",
        json!({
            "url": url,
            "iframe": true,
            "y4m": footage(s.dir.path(), "img2.jpg", &Footage::blinking()),
            "document": passport(s.dir.path(), "img1.jpg"),
        }),
    )
    .await;
    assert_eq!(out["result"], "APPROVED", "{out}");
    // Embedded: the parent got the spec's message, and the frame did not navigate away.
    assert_eq!(
        out["postMessage"],
        json!({"type": "provefy:complete", "data": {"sessionId": id, "overallResult": "APPROVED"}}),
        "{out}"
    );
    assert_eq!(s.get(&id).await["overallResult"], "APPROVED");
    assert_eq!(s.webhook(&id).await["overallResult"], "APPROVED");
    s.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portuguese_page_renders_and_a_denied_camera_says_why() {
    let s = setup(&[Check::Liveness]).await;
    let (id, url) = s.session(json!({})).await;
    let out = drive(
        "portuguese",
        json!({"url": url, "locale": "pt-BR", "onlyRender": true, "mobile": true}),
    )
    .await;
    assert_eq!(out["lang"], "pt", "{out}");
    let texts = out["texts"].as_str().unwrap();
    assert!(texts.contains("Antes de começar"), "{texts}");
    assert!(texts.contains("Acme Bank"), "{texts}");
    // ?lang= wins over the browser's language.
    let out = drive(
        "english-by-query",
        json!({"url": format!("{url}?lang=en"), "locale": "pt-BR", "onlyRender": true}),
    )
    .await;
    assert_eq!(out["lang"], "en", "{out}");
    // No permission to use the camera: a translated message and a retry, nothing recorded.
    let out = drive(
        "camera-denied",
        json!({"url": url, "locale": "pt-BR", "grantCamera": false}),
    )
    .await;
    assert_eq!(out["error"], "camera_denied", "{out}");
    assert!(
        out["errorText"]
            .as_str()
            .unwrap()
            .contains("Precisamos da sua câmera"),
        "{out}"
    );
    assert_eq!(s.get(&id).await["status"], "PENDING");
    s.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_approves_a_borderline_age_on_the_review_page() {
    let s = setup(&[Check::AgeEstimation]).await;
    // img2 is estimated at ~35: with a minimum age of 33 that is neither AGE_PASS_MARGIN
    // (7) years above nor 2 below, so the session waits for a person.
    let mut settings = KeySettings {
        checks: vec![Check::AgeEstimation],
        webhook_url: Some(s.sink.url.clone()),
        ..Default::default()
    };
    settings.thresholds.min_age = 33;
    let org = s.server.org("Reviewed Ltd").await;
    let (_, key, secret) = s.server.key(&org, settings).await;
    let http = reqwest::Client::new();
    let created: Value = http
        .post(s.server.at("/api/v1/verify"))
        .bearer_auth(&key)
        .json(&json!({"externalRef": "borderline"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["sessionId"].as_str().unwrap().to_string();
    let page = created["verificationUrl"].as_str().unwrap();
    let photo = std::fs::read(face_path("img2.jpg")).unwrap();
    use base64::Engine as _;
    let frame = base64::engine::general_purpose::STANDARD.encode(photo);
    let r = http
        .post(format!("{page}/selfie"))
        .json(&json!({"frames": [frame]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let done: Value = http
        .post(format!("{page}/complete"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(done["overallResult"], "REVIEW", "{done}");

    let out = drive(
        "review",
        json!({
            "url": s.server.at("/review"),
            "review": {"key": key, "sessionId": id, "decision": "APPROVED", "note": "ID checked by phone"},
        }),
    )
    .await;
    assert!(
        out["cardText"].as_str().unwrap().contains("borderline"),
        "{out}"
    );
    assert_eq!(out["outcome"], "Approved.", "{out}");
    let got = s.get_as(&key, &format!("/api/v1/verify/{id}")).await;
    assert_eq!(got["status"], "COMPLETED", "{got}");
    assert_eq!(got["overallResult"], "APPROVED", "{got}");
    // Two events, as the spec has it: completed with REVIEW, then the reviewer's decision.
    let hooks: Vec<Value> = s
        .sink
        .wait_for(2, WAIT)
        .await
        .iter()
        .map(|r| r.kyc_json(&secret))
        .filter(|p| p["sessionId"] == id.as_str())
        .collect();
    let events: Vec<(&str, &str)> = hooks
        .iter()
        .map(|p| {
            (
                p["event"].as_str().unwrap_or_default(),
                p["overallResult"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("verification.completed", "REVIEW"),
            ("verification.reviewed", "APPROVED")
        ],
        "{hooks:?}"
    );
    let audit = s.get_as(&key, "/api/v1/audit?limit=10").await;
    assert!(audit.to_string().contains("ID checked by phone"), "{audit}");
    // The kept selfie was deleted with the decision (retention 0).
    let images = s.get_as(&key, &format!("/api/v1/verify/{id}/images")).await;
    assert_eq!(images["images"], json!([]), "{images}");
    s.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_s_presence_request_is_answered_by_a_live_scan_in_the_browser() {
    let s = setup(&[Check::Liveness]).await;
    let org = s.server.org("Agents Inc").await;
    let (_, key, _) = s.server.key(&org, KeySettings::default()).await;
    use base64::Engine as _;
    let http = reqwest::Client::new();
    let r = http
        .post(s.server.at("/api/enroll"))
        .header("x-api-key", &key)
        .json(&json!({"image": base64::engine::general_purpose::STANDARD.encode(std::fs::read(face_path("img1.jpg")).unwrap()),
                      "email": "alice@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let audit = vouch_core::model::AuditRecord::new(Some(&org), vouch_core::model::Actor::Cli, "t");
    let (_, token) = s
        .server
        .store
        .create_service_token(&org, "agent", "presence", audit)
        .await
        .unwrap();
    let created: Value = http
        .post(s.server.at("/api/presence/sessions"))
        .bearer_auth(&token)
        .json(&json!({"orgId": org.as_str(), "purpose": "Approve the release", "email": "alice@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["sessionId"].as_str().unwrap();
    let out = drive(
        "presence",
        json!({
            "url": created["verifyUrl"],
            "y4m": footage(s.dir.path(), "img2.jpg", &Footage::blinking()),
            "mobile": true,
        }),
    )
    .await;
    assert_eq!(out["result"], "APPROVED", "{out}");
    assert!(out["steps"].to_string().contains("selfie-blink"), "{out}");
    let got = s
        .get_as(&token, &format!("/api/presence/sessions/{id}"))
        .await;
    assert_eq!(got["status"], "VERIFIED", "{got}");
    assert_eq!(got["verifiedEmail"], "alice@example.com");
    s.server.stop().await;
}

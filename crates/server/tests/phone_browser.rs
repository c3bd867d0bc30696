//! The phone possession flow end to end in a real browser: Debian's Chromium, driven by
//! playwright-core (`tests/e2e/phone.mjs`), runs the dev-mode example page
//! (`/dev/phone-demo`), which plays the customer's server (`POST /token`, `/v3/start`,
//! `/v3/validate` with an OAuth client) and page (the client SDK, `/sdk/vouch-auth.js`).
//! The driver reads the texts from the dev inbox as a person reads their phone; the
//! outcome is checked again here through the API. Screenshots of every step land in
//! `artifacts/e2e/phone-<scenario>/` (or `$VOUCH_E2E_SCREENSHOTS/phone-<scenario>/`).
//!
//! Needs `/usr/bin/chromium` (or `$VOUCH_CHROMIUM`; the tests are skipped without it) and
//! `tests/e2e/node_modules`, both installed by `scripts/install-deps.sh`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vouch_core::model::{Actor, AuditRecord};
use vouch_testkit::{test_config, TestDb, TestServer};

fn repo() -> PathBuf {
    vouch_testkit::repo_root()
}

/// The browser, or None (with a message) when it is not installed.
fn chromium() -> Option<String> {
    let path = std::env::var("VOUCH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if Path::new(&path).exists() {
        Some(path)
    } else {
        eprintln!(
            "skipped: {path} is missing (scripts/install-deps.sh installs Debian's chromium)"
        );
        None
    }
}

fn screenshots(scenario: &str) -> PathBuf {
    std::env::var_os("VOUCH_E2E_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("artifacts/e2e"))
        .join(format!("phone-{scenario}"))
}

/// A server with an organisation and an OAuth client for the example page.
struct Demo {
    server: TestServer,
    client_id: String,
    client_secret: String,
    chromium: String,
}

async fn setup() -> Option<Demo> {
    let chromium = chromium()?;
    assert!(
        repo()
            .join("tests/e2e/node_modules/playwright-core")
            .exists(),
        "tests/e2e/node_modules missing: run scripts/install-deps.sh"
    );
    let server = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = server.org("Acme Mobile").await;
    let (client, secret) = server
        .store
        .create_oauth_client(
            &org,
            "phone demo",
            AuditRecord::new(Some(&org), Actor::Cli, "oauth_client.created"),
        )
        .await
        .unwrap();
    Some(Demo {
        server,
        client_id: client.id.to_string(),
        client_secret: secret,
        chromium,
    })
}

impl Demo {
    /// Runs a browser driver of `tests/e2e` with `cfg` (plus the server, the OAuth
    /// client and the screenshot folder of `scenario`); returns what it saw.
    async fn run_driver(&self, script: &str, scenario: &str, cfg: Value) -> Value {
        let dir = screenshots(scenario);
        let _ = std::fs::remove_dir_all(&dir);
        let mut cfg = cfg;
        cfg["url"] = json!(self.server.url);
        cfg["clientId"] = json!(self.client_id);
        cfg["clientSecret"] = json!(self.client_secret);
        cfg["screenshots"] = json!(dir);
        let started = Instant::now();
        let out = tokio::time::timeout(
            Duration::from_secs(180),
            tokio::process::Command::new("node")
                .arg(repo().join("tests/e2e").join(script))
                .arg(cfg.to_string())
                .env("VOUCH_CHROMIUM", &self.chromium)
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
            "{scenario}: {}\nseen: {v}\nstderr: {stderr}",
            v["failure"]
        );
        eprintln!(
            "phone-{scenario}: browser run {:.1} s",
            started.elapsed().as_secs_f64()
        );
        v
    }

    /// Runs the vendor's own SDK (`tests/e2e/prove_auth.mjs`) in a customer's page.
    async fn drive_vendor(&self, scenario: &str) -> Value {
        let cfg = json!({"scenario": scenario, "phone": "+12015550100"});
        self.run_driver("prove_auth.mjs", &format!("vendor-sdk-{scenario}"), cfg)
            .await
    }

    /// Runs the browser driver on the example page; returns what it saw.
    async fn drive(&self, scenario: &str, cfg: Value) -> Value {
        let v = self.run_driver("phone.mjs", scenario, cfg).await;
        eprintln!("phone-{scenario}: states {}", v["states"]);
        v
    }

    /// An access token of the OAuth client (what the page's "server" used).
    async fn access_token(&self) -> String {
        let v: Value = self
            .server
            .http
            .post(self.server.at("/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["access_token"].as_str().unwrap().to_string()
    }

    /// `POST /v3/validate` again: (status, body).
    async fn validate(&self, correlation_id: &str) -> (u16, Value) {
        let r = self
            .server
            .http
            .post(self.server.at("/v3/validate"))
            .bearer_auth(self.access_token().await)
            .json(&json!({"correlationId": correlation_id}))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// The dev inbox for a number, newest first.
    async fn texts(&self, phone: &str) -> Vec<Value> {
        let v: Value = self
            .server
            .http
            .get(self.server.at("/dev/sms"))
            .query(&[("to", phone), ("limit", "1000")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["messages"].as_array().unwrap().clone()
    }
}

/// The page's own validate ran once: the flow is over, a second one is refused.
async fn assert_validated_once(demo: &Demo, out: &Value) {
    let id = out["correlationId"].as_str().unwrap();
    assert!(!id.is_empty(), "{out}");
    let (status, body) = demo.validate(id).await;
    assert_eq!(status, 403, "a second validate: {body}");
    assert!(
        body["message"].as_str().unwrap().contains("validate"),
        "{body}"
    );
}

fn states(out: &Value) -> Vec<&str> {
    out["states"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// Issue 19: the vendor's own browser SDK (npm `@prove-identity/prove-auth` 3.6.2,
/// unmodified, loaded from its release bundle by a page on another origin) proves
/// possession against vouch: the authToken's claims point it at vouch's `/v1/client/*`.
/// On a phone (an Android user agent) it runs the OTP step: a wrong code comes back to
/// the page as the SDK's OtpError and the right one finishes; without `allowOTPRetry`
/// one wrong code ends the flow. On a desktop it runs the Instant Link step and waits on
/// vouch's status socket until the link is opened on the phone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vendor_s_own_browser_sdk_proves_possession_by_code_and_by_instant_link() {
    let Some(demo) = setup().await else { return };
    assert!(
        repo()
            .join("tests/e2e/node_modules/@prove-identity/prove-auth")
            .exists(),
        "tests/e2e/node_modules/@prove-identity/prove-auth missing: run scripts/install-deps.sh"
    );
    let v = demo.drive_vendor("otp").await;
    assert_eq!(v["isMobileWeb"], true, "{v}");
    assert_eq!(v["authenticated"], true, "{v}");
    let claims = &v["authTokenClaims"]["auth"];
    assert_eq!(claims["endp"], demo.server.url.trim_end_matches('/'), "{v}");
    assert_eq!(claims["next"], "mobile/otp", "{v}");
    let log = v["log"].as_array().unwrap();
    let finishes: Vec<&Value> = log.iter().filter(|e| e[0] == "otp-finish").collect();
    assert_eq!(finishes.len(), 2, "{v}");
    assert!(
        finishes[1][1].as_str().unwrap().contains("not right"),
        "the wrong code came back as the SDK's OtpError: {v}"
    );
    assert_eq!(log.last().unwrap()[0], "finish", "{v}");
    assert_eq!(log.last().unwrap()[1], v["correlationId"], "authId: {v}");
    assert_eq!(v["validation"]["body"]["success"], true, "{v}");
    assert_eq!(v["texts"].as_array().unwrap().len(), 1, "{v}");

    let v = demo.drive_vendor("otp-no-retry").await;
    assert_eq!(v["authenticated"], false, "{v}");
    assert!(
        v["rejected"]
            .as_str()
            .unwrap()
            .contains("Too many wrong codes"),
        "{v}"
    );
    assert_eq!(v["validation"]["body"]["success"], false, "{v}");

    let v = demo.drive_vendor("link").await;
    assert_eq!(v["isMobileWeb"], false, "{v}");
    assert_eq!(v["authTokenClaims"]["auth"]["next"], "mobile/instantlink");
    assert_eq!(v["authenticated"], true, "{v}");
    assert!(
        v["linkLanding"]
            .as_str()
            .unwrap()
            .ends_with("/phone-verified"),
        "{v}"
    );
    assert_eq!(v["validation"]["body"]["success"], true, "{v}");
    demo.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sms_code_typed_after_a_wrong_one_proves_possession() {
    let Some(demo) = setup().await else { return };
    let phone = "+12015550100";
    let out = demo
        .drive(
            "otp",
            json!({"phone": phone, "flow": "mobile", "mobile": true, "wrongCodeFirst": true}),
        )
        .await;
    // A phone browser: the SDK suggests the mobile flow.
    assert_eq!(out["detectedFlow"], "mobile", "{out}");
    // The network cannot tell for this number: the SDK fell back to the code.
    let seen = states(&out);
    assert!(seen.contains(&"otp-start"), "{out}");
    assert!(seen.contains(&"otp-finish"), "{out}");
    assert!(
        out["otpErrorText"]
            .as_str()
            .unwrap()
            .contains("That code is not right; 3 attempts left"),
        "{out}"
    );
    assert_eq!(out["resultText"], "validated: true", "{out}");
    assert_eq!(out["validated"], true, "{out}");
    assert_eq!(out["validation"]["success"], true, "{out}");
    assert_eq!(out["validation"]["phoneNumber"], phone, "{out}");
    assert_eq!(out["errorText"], "", "{out}");
    // One text, the one the driver read the code from.
    assert_eq!(out["smsSent"], 1, "{out}");
    let texts = demo.texts(phone).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("Your verification code is "),
        "{texts:?}"
    );
    assert_validated_once(&demo, &out).await;
    demo.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instant_link_opened_on_the_phone_completes_the_waiting_desktop_page() {
    let Some(demo) = setup().await else { return };
    let phone = "+12015550100";
    let out = demo
        .drive("instant-link", json!({"phone": phone, "flow": "desktop"}))
        .await;
    assert_eq!(out["detectedFlow"], "desktop", "{out}");
    let seen = states(&out);
    assert!(seen.contains(&"link-wait"), "{out}");
    assert!(!seen.contains(&"otp-start"), "{out}");
    // The phone landed on the flow's finalTargetUrl (the driver's customer site); the
    // desktop page finished by itself, without a reload.
    assert_eq!(out["linkStatus"], 200, "{out}");
    assert_eq!(out["linkLanding"], out["finalTargetUrl"], "{out}");
    assert_eq!(
        out["linkLandingText"], "Customer site: continue on your computer",
        "{out}"
    );
    assert_eq!(out["sameDocument"], true, "{out}");
    assert_eq!(out["resultText"], "validated: true", "{out}");
    assert_eq!(out["validation"]["success"], true, "{out}");
    assert_eq!(out["smsSent"], 1, "{out}");
    let texts = demo.texts(phone).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    let body = texts[0]["body"].as_str().unwrap();
    assert!(
        body.starts_with("Tap to verify your phone number: "),
        "{body}"
    );
    // The link is single use: opening it again is refused.
    let link = body.split_whitespace().find(|w| w.contains("/l/")).unwrap();
    assert!(link.starts_with(&demo.server.url), "{link}");
    let again = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(link)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 410, "{link}");
    assert_validated_once(&demo, &out).await;
    demo.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mobile_auth_verifies_the_device_without_a_text() {
    let Some(demo) = setup().await else { return };
    let phone = "+12015550108";
    let out = demo
        .drive(
            "mobile-auth",
            json!({"phone": phone, "flow": "mobile", "mobile": true}),
        )
        .await;
    assert_eq!(out["detectedFlow"], "mobile", "{out}");
    let seen = states(&out);
    assert!(!seen.contains(&"otp-start"), "{out}");
    assert!(!seen.contains(&"otp-finish"), "{out}");
    assert_eq!(out["resultText"], "validated: true", "{out}");
    assert_eq!(out["validation"]["success"], true, "{out}");
    assert_eq!(out["smsSent"], 0, "{out}");
    assert!(demo.texts(phone).await.is_empty());
    assert_validated_once(&demo, &out).await;
    demo.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_code_then_a_cancel_fails_the_flow() {
    let Some(demo) = setup().await else { return };
    // The network cannot authenticate this number: the SDK falls back to the code.
    let phone = "+12015550107";
    let out = demo
        .drive(
            "otp-resend-cancel",
            json!({"phone": phone, "flow": "mobile", "mobile": true, "resend": true, "cancel": true}),
        )
        .await;
    let seen = states(&out);
    assert!(seen.contains(&"otp-start"), "{out}");
    // Two texts (the first and the resent code), then the person cancelled: the SDK
    // marked possession failed and the page's validate answered false.
    assert_eq!(out["smsSent"], 2, "{out}");
    let texts = demo.texts(phone).await;
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert_ne!(texts[0]["body"], texts[1]["body"], "a new code: {texts:?}");
    assert_eq!(out["resultText"], "validated: false", "{out}");
    assert_eq!(out["validated"], false, "{out}");
    assert_eq!(out["validation"]["success"], false, "{out}");
    assert!(
        out["errorText"]
            .as_str()
            .unwrap()
            .contains("The OTP finish step was cancelled: The person cancelled at the code"),
        "{out}"
    );
    assert_validated_once(&demo, &out).await;
    demo.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_and_the_example_page_are_served_as_the_browser_needs() {
    // No browser here: what the page and the npm package (sdk/auth) rely on.
    let server = TestServer::start(TestDb::sqlite(), test_config()).await;
    let r = server
        .http
        .get(server.at("/sdk/vouch-auth.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let kind = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("text/javascript"), "{kind}");
    let sdk = r.text().await.unwrap();
    assert_eq!(
        sdk,
        std::fs::read_to_string(repo().join("crates/server/assets/vouch-auth.js")).unwrap()
    );
    for export in [
        "export class AuthenticatorBuilder",
        "export const OtpFinishResultType",
        "export default",
    ] {
        assert!(sdk.contains(export), "{export}");
    }
    let r = server
        .http
        .get(server.at("/dev/phone-demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("connect-src 'self'"), "{csp}");
    let page = r.text().await.unwrap();
    assert!(page.contains("from '/sdk/vouch-auth.js'"), "{page}");
    server.stop().await;
}

//! The admin console end to end in a real browser: Debian's Chromium, driven by
//! playwright-core (`tests/e2e/console.mjs`), against a server whose public URL is
//! `http://localhost:PORT` (WebAuthn needs a domain; `localhost` is a secure origin
//! over http). Sign-in with a passkey of Chromium's virtual authenticator, face 2FA
//! enrolled and used with a fake camera playing footage of an eval face that blinks, a
//! review decided with a reason, and an API key created (shown once) then revoked. The
//! outcome is checked here through the store and the API. Screenshots of every step land
//! in `artifacts/e2e/console-<scenario>/` (or `$VOUCH_E2E_SCREENSHOTS/console-<scenario>/`).
//!
//! Needs `/usr/bin/chromium` (or `$VOUCH_CHROMIUM`; the tests are skipped without it)
//! and `tests/e2e/node_modules`, both installed by `scripts/install-deps.sh`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};
use vouch_core::ids::{OrgId, SessionId};
use vouch_core::model::{Actor, AuditEntry, AuditRecord, KeySettings};
use vouch_core::session::{Decision, SessionStatus};
use vouch_docsynth::camera::Footage;
use vouch_server::analysis::Engines;
use vouch_store::sessions::Decider;
use vouch_testkit::{test_config, TestDb, TestServer};

const PASSWORD: &str = "a long console password";
/// How long one step of the driver may take (a browser on a busy machine).
const STEP: Duration = Duration::from_secs(240);

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
        .join(format!("console-{scenario}"))
}

/// A server reachable at `http://localhost:PORT`, with an organisation.
struct Console {
    server: TestServer,
    /// `http://localhost:PORT`: the browser's origin and the WebAuthn origin.
    origin: String,
    org: OrgId,
    chromium: String,
}

/// A console server (with the face engines when `faces`), or None without a browser.
async fn start(faces: bool) -> Option<Console> {
    let chromium = chromium()?;
    let engines = faces.then(engines);
    assert!(
        repo()
            .join("tests/e2e/node_modules/playwright-core")
            .exists(),
        "tests/e2e/node_modules missing: run scripts/install-deps.sh"
    );
    // The public URL must name the port: take a free one, then let the server bind it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://localhost:{port}");
    let mut config = test_config();
    config.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    config.public_url = Some(origin.clone());
    assert_eq!(config.rp_id(), "localhost");
    assert_eq!(config.rp_origin(), origin);
    let server = TestServer::start_with_engines(TestDb::sqlite(), config, engines).await;
    assert_eq!(server.url, format!("http://127.0.0.1:{port}"));
    let org = server.org("Acme Console").await;
    Some(Console {
        server,
        origin,
        org,
        chromium,
    })
}

impl Console {
    /// An admin with a password and no second factor (inside the enrolment window), as
    /// `vouch admin create --password-stdin` makes one; returns the admin's id.
    async fn admin(&self, email: &str) -> String {
        let hash = vouch_server::admin::hash_password(PASSWORD).unwrap();
        self.server
            .store
            .create_admin(&self.org, email, Some(&hash), None)
            .await
            .unwrap()
            .id
    }

    /// Starts the driver for a scenario.
    fn drive(&self, scenario: &str, email: &str, extra: Value) -> Driver {
        let dir = screenshots(scenario);
        let _ = std::fs::remove_dir_all(&dir);
        let mut cfg = json!({
            "origin": self.origin,
            "scenario": scenario,
            "email": email,
            "password": PASSWORD,
            "screenshots": dir,
        });
        for (k, v) in extra.as_object().unwrap() {
            cfg[k] = v.clone();
        }
        let mut child = tokio::process::Command::new("node")
            .arg(repo().join("tests/e2e/console.mjs"))
            .arg(cfg.to_string())
            .env("VOUCH_CHROMIUM", &self.chromium)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut err = child.stderr.take().unwrap();
        let stderr = tokio::spawn(async move {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s).await;
            s
        });
        Driver {
            scenario: scenario.to_string(),
            child,
            stdin,
            lines,
            stderr,
            started: Instant::now(),
        }
    }

    async fn audit(&self) -> Vec<AuditEntry> {
        self.server.store.list_audit(&self.org, 200).await.unwrap()
    }

    async fn whoami(&self, key: &str) -> u16 {
        self.server
            .http
            .get(self.server.at("/api/v1/whoami"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// A running browser driver: JSON lines out (checkpoints, then the result), answers in.
struct Driver {
    scenario: String,
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    stderr: tokio::task::JoinHandle<String>,
    started: Instant,
}

impl Driver {
    /// The driver's next line: a checkpoint or the result. Panics on a failure.
    async fn next(&mut self) -> Value {
        let line = tokio::time::timeout(STEP, self.lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("console-{}: the browser driver timed out", self.scenario))
            .unwrap();
        let Some(line) = line else {
            let stderr = (&mut self.stderr).await.unwrap_or_default();
            panic!(
                "console-{}: the driver ended without a result\nstderr: {stderr}",
                self.scenario
            );
        };
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("console-{}: driver output {e}: {line}", self.scenario));
        if v.get("failure").is_some() {
            let stderr = tokio::time::timeout(Duration::from_secs(20), &mut self.stderr)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            panic!(
                "console-{}: {}\nseen: {v}\nstderr: {stderr}",
                self.scenario, v["failure"]
            );
        }
        v
    }

    /// Waits for the checkpoint `name`; returns what the driver sent with it.
    async fn checkpoint(&mut self, name: &str) -> Value {
        let v = self.next().await;
        assert_eq!(v["checkpoint"], name, "console-{}: {v}", self.scenario);
        v
    }

    /// Lets the driver go on after a checkpoint.
    async fn resume(&mut self, answer: Value) {
        let line = format!("{answer}\n");
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// The driver's result; checks what every run must show.
    async fn finish(mut self) -> Value {
        let v = self.next().await;
        assert_eq!(v["done"], true, "console-{}: {v}", self.scenario);
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
        eprintln!(
            "console-{}: browser run {:.1} s, steps {}, HTTP errors {}",
            self.scenario,
            self.started.elapsed().as_secs_f64(),
            v["steps"],
            v["httpErrors"]
        );
        // No script error and nothing the CSP blocked.
        assert_eq!(v["pageErrors"], json!([]), "console-{}: {v}", self.scenario);
        let blocked: Vec<&Value> = v["consoleErrors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                let e = e.as_str().unwrap_or("");
                e.contains("Content Security Policy") || e.contains("Refused to")
            })
            .collect();
        assert!(blocked.is_empty(), "console-{}: {blocked:?}", self.scenario);
        // Every request answered, but the browser's own favicon probe.
        let failed: Vec<&Value> = v["httpErrors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| *e != "404 GET /favicon.ico")
            .collect();
        assert!(failed.is_empty(), "console-{}: {failed:?}", self.scenario);
        v
    }
}

fn actions(audit: &[AuditEntry]) -> Vec<&str> {
    audit.iter().map(|e| e.action.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_a_passkey_and_signs_in_with_it() {
    let Some(c) = start(false).await else { return };
    let email = "ops@acme.test";
    let id = c.admin(email).await;
    let driver = c.drive(
        "passkey",
        email,
        json!({"passkeyName": "Chromium virtual key"}),
    );
    let out = driver.finish().await;
    // Without a second factor the password alone signed in, on the security page.
    assert_eq!(out["firstLanding"], "/admin/security", "{out}");
    assert!(
        out["passkeyRow"]
            .as_str()
            .unwrap()
            .contains("Chromium virtual key"),
        "{out}"
    );
    assert_eq!(out["credentials"], 1, "{out}");
    // The second sign-in asked for the passkey only, which opened the console.
    assert_eq!(
        out["secondFactor"],
        json!({"passkey": true, "face": false, "status": "Confirm it is you."}),
        "{out}"
    );
    assert_eq!(out["landedAt"], "/admin", "{out}");
    assert_eq!(out["landedTitle"], "Overview", "{out}");
    assert_eq!(out["banner"], false, "enrolled: no banner: {out}");
    assert_eq!(out["who"], email, "{out}");

    let passkeys = c.server.store.admin_passkeys(&id).await.unwrap();
    assert_eq!(passkeys.len(), 1, "{passkeys:?}");
    assert_eq!(passkeys[0].name, "Chromium virtual key");
    assert!(passkeys[0].last_used_at.is_some(), "{passkeys:?}");
    // The security page shows the use as well ("—" before).
    assert_ne!(out["passkeyRow"], out["passkeyRowAfter"], "{out}");

    let audit = c.audit().await;
    let seen = actions(&audit);
    for action in [
        "admin.passkey_added",
        "admin.logged_out",
        "admin.login_password_ok",
    ] {
        assert!(seen.contains(&action), "{action}: {seen:?}");
    }
    let login = audit
        .iter()
        .find(|e| e.action == "admin.login" && e.details["method"] == "passkey")
        .unwrap_or_else(|| panic!("no passkey login in {seen:?}"));
    assert_eq!(login.target.as_deref(), Some(id.as_str()));
    assert!(!seen.contains(&"admin.login_failed"), "{seen:?}");
    c.server.stop().await;
}

fn engines() -> Arc<Engines> {
    vouch_testkit::shared_engines()
}

/// Footage of an eval face blinking, as the fake camera plays it (y4m).
fn blinking(dir: &Path, face: &str) -> PathBuf {
    vouch_testkit::camera::footage(dir, face, &Footage::blinking())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_enrols_face_2fa_and_signs_in_with_a_live_scan() {
    let Some(c) = start(true).await else {
        return;
    };
    let email = "face@acme.test";
    let id = c.admin(email).await;
    let dir = tempfile::tempdir().unwrap();
    // Enrolled from one photo of the person (img2), signed in from another (img1, the
    // same person in the eval pairs).
    let enrol = c
        .drive(
            "face-enrol",
            email,
            json!({"y4m": blinking(dir.path(), "img2.jpg")}),
        )
        .finish()
        .await;
    assert_eq!(enrol["firstLanding"], "/admin/security", "{enrol}");
    assert_eq!(enrol["startDisabledBeforeConsent"], true, "{enrol}");
    assert!(
        enrol["faceStatus"]
            .as_str()
            .unwrap()
            .starts_with("Face 2FA is set up"),
        "{enrol}"
    );
    let admin = c.server.store.admin(&id).await.unwrap();
    assert!(admin.face_template.is_some() && admin.face_consent_at.is_some());

    let out = c
        .drive(
            "face-login",
            email,
            json!({"y4m": blinking(dir.path(), "img1.jpg")}),
        )
        .finish()
        .await;
    assert_eq!(
        out["secondFactor"],
        json!({"passkey": false, "face": true, "status": "Confirm it is you."}),
        "{out}"
    );
    assert_eq!(out["landedAt"], "/admin", "{out}");
    assert_eq!(out["landedTitle"], "Overview", "{out}");
    assert_eq!(out["who"], email, "{out}");

    let audit = c.audit().await;
    let seen = actions(&audit);
    let enrolled = audit
        .iter()
        .find(|e| e.action == "admin.face_enrolled")
        .unwrap_or_else(|| panic!("no enrolment in {seen:?}"));
    assert_eq!(enrolled.details["biometricConsent"], true);
    assert!(
        audit
            .iter()
            .any(|e| e.action == "admin.login" && e.details["method"] == "face"),
        "{seen:?}"
    );
    assert!(!seen.contains(&"admin.login_failed"), "{seen:?}");
    c.server.stop().await;
}

/// A session whose checks left it waiting for a person.
async fn review_session(c: &Console, key: &str) -> String {
    let r = c
        .server
        .http
        .post(c.server.at("/api/v1/verify"))
        .bearer_auth(key)
        .json(&json!({"externalRef": "customer-7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["sessionId"]
        .as_str()
        .unwrap()
        .to_string();
    c.server
        .store
        .decide_session(
            &c.org,
            &SessionId::from_string(id.clone()),
            Default::default(),
            Decision::Review,
            Decider::Flow,
            AuditRecord::new(Some(&c.org), Actor::System, "verification.decided"),
        )
        .await
        .unwrap();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_approves_a_queued_session_with_a_reason() {
    let Some(c) = start(false).await else { return };
    let email = "review@acme.test";
    c.admin(email).await;
    let (_, key, _) = c.server.key(&c.org, KeySettings::default()).await;
    let id = review_session(&c, &key).await;
    let reason = "Passport checked against the video call";
    let out = c
        .drive("review", email, json!({"sessionId": id, "reason": reason}))
        .finish()
        .await;
    assert!(
        out["queueCount"]
            .as_str()
            .unwrap()
            .starts_with("1 session(s)"),
        "{out}"
    );
    assert!(
        out["cardText"].as_str().unwrap().contains("customer-7"),
        "{out}"
    );
    assert_eq!(out["notice"], "The session was approved.", "{out}");
    assert_eq!(out["stillQueued"], false, "{out}");
    assert!(
        out["queueCountAfter"]
            .as_str()
            .unwrap()
            .starts_with("0 session(s)"),
        "{out}"
    );
    assert_eq!(out["decision"], "APPROVED", "{out}");
    assert_eq!(out["auditHasReason"], true, "{out}");

    let session = c
        .server
        .store
        .session(&c.org, &SessionId::from_string(id.clone()))
        .await
        .unwrap();
    assert_eq!(session.status, SessionStatus::Completed);
    assert_eq!(session.overall_result, Some(Decision::Approved));
    let audit = c.audit().await;
    let reviewed = audit
        .iter()
        .find(|e| e.action == "verification.reviewed")
        .unwrap_or_else(|| panic!("no review in {:?}", actions(&audit)));
    assert_eq!(reviewed.target.as_deref(), Some(id.as_str()));
    assert!(
        reviewed.actor.contains("adm_"),
        "the admin decided: {reviewed:?}"
    );
    assert!(
        reviewed.details.to_string().contains(reason),
        "{reviewed:?}"
    );
    c.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_created_in_the_console_works_until_it_is_revoked_there() {
    let Some(c) = start(false).await else { return };
    let email = "keys@acme.test";
    c.admin(email).await;
    let mut driver = c.drive("keys", email, json!({"keyName": "Checkout service"}));
    let created = driver.checkpoint("key-created").await;
    let secret = created["secret"].as_str().unwrap().to_string();
    let key_id = created["keyId"].as_str().unwrap().to_string();
    assert!(!secret.is_empty() && !secret.contains('…'), "{created}");
    let status = c.whoami(&secret).await;
    assert_eq!(status, 200, "the new key authenticates");
    let who: Value = c
        .server
        .http
        .get(c.server.at("/api/v1/whoami"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(who.to_string().contains(&key_id), "{who}");
    driver.resume(json!({"whoami": status})).await;
    let out = driver.finish().await;
    assert!(
        out["rowBefore"]
            .as_str()
            .unwrap()
            .contains("Checkout service"),
        "{out}"
    );
    assert!(
        out["rowBefore"].as_str().unwrap().contains("ACTIVE"),
        "{out}"
    );
    // The revoke form asked for confirmation (the driver accepted it).
    assert_eq!(
        out["dialogs"],
        json!(["Revoke this key? Requests with it will be refused."]),
        "{out}"
    );
    assert_eq!(out["notice"], "The key was revoked.", "{out}");
    assert!(
        out["rowAfter"].as_str().unwrap().contains("REVOKED"),
        "{out}"
    );
    assert_eq!(out["revokeButtonLeft"], false, "{out}");
    assert_eq!(c.whoami(&secret).await, 401, "a revoked key is refused");
    let audit = c.audit().await;
    let seen = actions(&audit);
    assert!(seen.contains(&"api_key.created"), "{seen:?}");
    assert!(
        audit
            .iter()
            .any(|e| e.action == "api_key.revoked" && e.target.as_deref() == Some(&key_id)),
        "{seen:?}"
    );
    c.server.stop().await;
}

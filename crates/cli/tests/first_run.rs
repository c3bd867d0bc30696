//! Issue 20: a newcomer's first run, end to end. `vouch serve` starts in an empty folder
//! (zero configuration: SQLite in `./vouch-data`), finds no admin and prints a one-time
//! setup link; Debian's Chromium, driven by playwright-core (`tests/e2e/first_run.mjs`),
//! opens it, names the organisation and the first admin, creates an API key in the
//! console and presses "Try a verification": the fake camera plays an eval face that
//! blinks, a passport with the same face is uploaded, and the session is APPROVED —
//! checked here through the API with the key the browser created. A restart offers no
//! link. Screenshots land in `artifacts/e2e/first-run/` (or
//! `$VOUCH_E2E_SCREENSHOTS/first-run/`).
//!
//! Needs `/usr/bin/chromium` (or `$VOUCH_CHROMIUM`; skipped without it) and
//! `tests/e2e/node_modules`, both installed by `scripts/install-deps.sh`.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vouch_docsynth::camera::Footage;

const PASSWORD: &str = "a long first-run password";
const LINK: &str = "/admin/bootstrap?token=";

/// `vouch serve` in `dir` on `port`, its stderr kept line by line.
struct Serve {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    fn start(dir: &Path, port: u16) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .current_dir(dir)
            .env_remove("VOUCH_DATA_DIR")
            .env_remove("VOUCH_DATABASE_URL")
            .env_remove("VOUCH_MASTER_KEY")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vouch serve");
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Serve { child, lines }
    }

    /// The first line containing `what`, waiting up to `limit`.
    fn wait_for(&self, what: &str, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(l) = self.lines.lock().unwrap().iter().find(|l| l.contains(what)) {
                return l.clone();
            }
            assert!(
                start.elapsed() < limit,
                "no {what:?} from vouch serve:\n{}",
                self.lines.lock().unwrap().join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn printed(&self, what: &str) -> bool {
        self.lines.lock().unwrap().iter().any(|l| l.contains(what))
    }

    fn terminate(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "vouch serve stops cleanly");
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn screenshots() -> PathBuf {
    std::env::var_os("VOUCH_E2E_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| vouch_testkit::repo_root().join("artifacts/e2e"))
        .join("first-run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_goes_from_an_empty_folder_to_an_approved_session_in_the_browser() {
    let chromium = std::env::var("VOUCH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        eprintln!(
            "skipped: {chromium} is missing (scripts/install-deps.sh installs Debian's chromium)"
        );
        return;
    }
    let repo = vouch_testkit::repo_root();
    assert!(
        repo.join("tests/e2e/node_modules/playwright-core").exists(),
        "tests/e2e/node_modules missing: run scripts/install-deps.sh"
    );
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut serve = Serve::start(dir.path(), port);
    let line = serve.wait_for(LINK, Duration::from_secs(300));
    let link = line.trim().to_string();
    let origin = format!("http://localhost:{port}");
    assert!(
        link.starts_with(&format!("{origin}{LINK}vsb_")),
        "the link names the console's origin: {link}"
    );
    assert!(dir.path().join("vouch-data").is_dir());
    let readyz: Value = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(readyz["checks"]["models"], "ok", "{readyz}");

    let media = tempfile::tempdir().unwrap();
    let y4m = vouch_testkit::camera::footage(media.path(), "img2.jpg", &Footage::blinking());
    let document = vouch_testkit::camera::passport(media.path(), "img1.jpg");
    let shots = screenshots();
    let _ = std::fs::remove_dir_all(&shots);
    let cfg = json!({
        "link": link,
        "y4m": y4m,
        "document": document,
        "screenshots": shots,
        "email": "founder@first-run.test",
        "password": PASSWORD,
    });
    let out = tokio::time::timeout(
        Duration::from_secs(420),
        tokio::process::Command::new("node")
            .arg(repo.join("tests/e2e/first_run.mjs"))
            .arg(cfg.to_string())
            .env("VOUCH_CHROMIUM", &chromium)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser driver timed out")
    .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("driver output {e}: {stdout}\nstderr: {stderr}"));
    assert!(
        v.get("failure").is_none(),
        "{}\nstderr: {stderr}\nserver:\n{}",
        v["failure"],
        serve.lines.lock().unwrap().join("\n")
    );
    assert!(
        v["welcome"]
            .as_str()
            .unwrap()
            .contains("organisation is ready"),
        "{v}"
    );
    assert_eq!(v["result"], "APPROVED", "{v}");
    assert!(
        v["sessionText"].as_str().unwrap().contains("APPROVED"),
        "{v}"
    );
    assert!(
        v["replayed"]
            .as_str()
            .unwrap()
            .contains("invalid, used or expired"),
        "{v}"
    );

    // The key the browser created reads the session the try-out made.
    let key = v["apiKey"].as_str().unwrap();
    let id = v["sessionId"].as_str().unwrap();
    let session: Value = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/api/v1/verify/{id}"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["status"], "COMPLETED", "{session}");
    assert_eq!(session["overallResult"], "APPROVED", "{session}");
    for check in ["liveness", "documentVerification", "faceMatch"] {
        assert_eq!(
            session["checks"][check]["result"], "PASS",
            "{check}: {session}"
        );
    }
    let token = link.split_once("?token=").unwrap().1;
    let again = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/api/auth/bootstrap"))
        .json(&json!({"token": token, "orgName": "Again", "email": "again@x.test", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400, "the link works once");
    serve.terminate();

    // A restart on the same folder: an admin exists, so no link is printed.
    let mut serve = Serve::start(dir.path(), port);
    serve.wait_for("listening on http://", Duration::from_secs(300));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let page = reqwest::get(format!("http://127.0.0.1:{port}{LINK}{token}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("bootstrap-form"));
    assert!(!serve.printed(LINK));
    serve.terminate();
}

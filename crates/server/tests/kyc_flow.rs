//! The hosted KYC flow over real HTTP with the real engines: selfie and document uploads,
//! the policy's decisions, the review queue, `verification.completed` webhooks, and the
//! errors of the capture endpoints. Photos come from `../shared/eval`, models from
//! `VOUCH_MODELS_DIR` or the repository's `models/` (`scripts/fetch-models.sh`).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use vouch_core::check::{Check, Thresholds};
use vouch_core::model::KeySettings;
use vouch_server::analysis::Engines;
use vouch_testkit::{test_config, TestDb, TestServer, WebhookSink};

const WAIT: Duration = Duration::from_secs(15);

fn eval(path: &str) -> String {
    let p = vouch_testkit::eval_dir().join(path);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared eval data sits beside the repository)",
            p.display()
        )
    });
    STANDARD.encode(bytes)
}

/// A plain grey picture: no face in it.
fn blank() -> String {
    let img = image::RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    STANDARD.encode(out.into_inner())
}

fn engines() -> Arc<Engines> {
    vouch_testkit::shared_engines()
}

async fn server(db: TestDb) -> TestServer {
    TestServer::start_with_engines(db, test_config(), Some(engines())).await
}

async fn post(s: &TestServer, key: Option<&str>, path: &str, body: Value) -> (u16, Value) {
    let mut req = s.http.post(s.at(path)).json(&body);
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn get(s: &TestServer, key: &str, path: &str) -> Value {
    let resp = s
        .http
        .get(s.at(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// Creates a session; returns (session id, hosted token).
async fn session(s: &TestServer, key: &str, body: Value) -> (String, String) {
    let (status, v) = post(s, Some(key), "/api/v1/verify", body).await;
    assert_eq!(status, 201, "{v}");
    let url = v["verificationUrl"].as_str().unwrap();
    let token = url.rsplit('/').next().unwrap().to_string();
    (v["sessionId"].as_str().unwrap().to_string(), token)
}

async fn selfie(s: &TestServer, token: &str, frames: &[String]) -> (u16, Value) {
    post(
        s,
        None,
        &format!("/verify/{token}/selfie"),
        json!({ "frames": frames }),
    )
    .await
}

/// `POST /verify/{token}/document` with the given body.
async fn document(s: &TestServer, token: &str, body: Value) -> (u16, Value) {
    post(s, None, &format!("/verify/{token}/document"), body).await
}

/// `POST /verify/{token}/complete`.
async fn complete(s: &TestServer, token: &str) -> (u16, Value) {
    post(s, None, &format!("/verify/{token}/complete"), json!({})).await
}

fn key_settings(checks: &[Check], webhook: Option<&str>, thresholds: Thresholds) -> KeySettings {
    KeySettings {
        checks: checks.to_vec(),
        webhook_url: webhook.map(str::to_string),
        thresholds,
        ..Default::default()
    }
}

#[tokio::test]
async fn a_document_is_read_and_an_expired_one_fails_doc_verify() {
    let s = server(TestDb::sqlite()).await;
    let org = s.org("Acme").await;
    let (_, key, _) = s
        .key(
            &org,
            key_settings(&[Check::DocVerify], None, Thresholds::default()),
        )
        .await;
    let (id, token) = session(&s, &key, json!({})).await;
    let (status, v) = document(
        &s,
        &token,
        json!({"front": eval("documents/passport-td3.jpg")}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "IN_PROGRESS");
    let got = get(&s, &key, &format!("/api/v1/verify/{id}")).await;
    assert_eq!(got["status"], "IN_PROGRESS");
    let doc = &got["checks"]["documentVerification"];
    assert_eq!(doc["documentType"], "PASSPORT", "{doc}");
    // The ICAO specimen expired in 2012.
    assert_eq!(doc["result"], "FAIL", "{doc}");
    assert!(doc["ocrConfidence"].as_f64().unwrap() > 0.0);
    s.stop().await;
}

#[tokio::test]
async fn a_selfie_of_someone_else_than_the_document_is_rejected_with_a_signed_webhook() {
    for db in TestDb::all().await {
        let s = server(db).await;
        let sink = WebhookSink::start().await;
        let org = s.org("Acme").await;
        let (_, key, secret) = s
            .key(
                &org,
                key_settings(&[Check::FaceMatch], Some(&sink.url), Thresholds::default()),
            )
            .await;
        let (id, token) = session(
            &s,
            &key,
            json!({"externalRef": "user_9", "redirectUrl": "https://app.example/done", "metadata": {"plan": "premium"}}),
        )
        .await;
        let (status, v) = selfie(&s, &token, &[eval("faces/img1.jpg")]).await;
        assert_eq!(status, 200, "{v}");
        let (status, v) = document(
            &s,
            &token,
            json!({"front": eval("documents/passport-td3.jpg")}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        let (status, v) = complete(&s, &token).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["overallResult"], "REJECTED");
        assert_eq!(
            v["redirectUrl"],
            format!("https://app.example/done?session_id={id}&result=REJECTED")
        );

        let got = get(&s, &key, &format!("/api/v1/verify/{id}")).await;
        assert_eq!(got["status"], "COMPLETED");
        let fm = &got["checks"]["faceMatch"];
        assert_eq!(fm["result"], "FAIL", "{fm}");
        assert_eq!(fm["isMatch"], false);
        assert!(fm["similarityScore"].as_f64().unwrap() < 0.57, "{fm}");
        // Templates are gone once decided.
        assert!(s
            .store
            .session_evidence(&org, &vouch_core::ids::SessionId::from_string(id.clone()))
            .await
            .unwrap()
            .is_empty());

        let hooks = sink.wait_for(1, WAIT).await;
        let r = &hooks[0];
        let p = r.kyc_json(&secret);
        assert_eq!(p["event"], "verification.completed");
        assert_eq!(p["sessionId"], id);
        assert_eq!(p["externalRef"], "user_9");
        assert_eq!(p["overallResult"], "REJECTED");
        assert_eq!(p["checks"]["faceMatch"]["result"], "FAIL");
        assert_eq!(p["metadata"], json!({"plan": "premium"}));
        assert!(p["completedAt"].as_str().unwrap().ends_with('Z'));

        // Completed: the capture endpoints answer 409.
        let (status, _) = selfie(&s, &token, &[eval("faces/img1.jpg")]).await;
        assert_eq!(status, 409);
        let (status, _) = complete(&s, &token).await;
        assert_eq!(status, 409);
        s.stop().await;
    }
}

#[tokio::test]
async fn a_still_photo_sent_as_every_frame_fails_liveness() {
    let s = server(TestDb::sqlite()).await;
    let org = s.org("Acme").await;
    let (_, key, _) = s
        .key(
            &org,
            key_settings(&[Check::Liveness], None, Thresholds::default()),
        )
        .await;
    let (id, token) = session(&s, &key, json!({})).await;
    let still = eval("faces/img1.jpg");
    let (status, v) = selfie(&s, &token, &[still.clone(), still.clone(), still]).await;
    assert_eq!(status, 200, "{v}");
    let got = get(&s, &key, &format!("/api/v1/verify/{id}")).await;
    let l = &got["checks"]["liveness"];
    assert_eq!(l["result"], "FAIL", "{l}");
    assert_eq!(l["consistent"], false, "{l}");
    assert_eq!(l["blink"], false, "{l}");
    assert_eq!(l["turn"], false, "{l}");
    assert!(l["livenessScore"].is_number());
    let (status, v) = complete(&s, &token).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["overallResult"], "REJECTED");
    assert!(v.get("redirectUrl").is_none());
    s.stop().await;
}

#[tokio::test]
async fn frames_without_a_face_or_with_several_faces_answer_422() {
    let s = server(TestDb::sqlite()).await;
    let org = s.org("Acme").await;
    let (_, key, _) = s.key(&org, KeySettings::default()).await;
    let (id, token) = session(&s, &key, json!({"checks": ["liveness"]})).await;
    let (status, v) = selfie(&s, &token, &[eval("faces/img1.jpg"), blank()]).await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("frame 2: no face"),
        "{v}"
    );
    let (status, v) = selfie(&s, &token, &[eval("faces/couple.jpg")]).await;
    assert_eq!(status, 422, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("several faces"),
        "{v}"
    );
    let (status, v) = selfie(&s, &token, &["not base64!".to_string()]).await;
    assert_eq!(status, 400, "{v}");
    let (status, _) = selfie(&s, &token, &vec![blank(); 13]).await;
    assert_eq!(status, 400);
    // Nothing was recorded, and completing without the selfie is refused.
    let got = get(&s, &key, &format!("/api/v1/verify/{id}")).await;
    assert_eq!(got["status"], "PENDING");
    let (status, v) = complete(&s, &token).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["code"], "incomplete");
    // An unknown token is 404.
    let (status, _) = selfie(&s, "vvt_nope", &[blank()]).await;
    assert_eq!(status, 404);
    s.stop().await;
}

#[tokio::test]
async fn a_cancelled_session_answers_410_on_the_capture_endpoints() {
    let s = server(TestDb::sqlite()).await;
    let org = s.org("Acme").await;
    let (_, key, _) = s.key(&org, KeySettings::default()).await;
    let (id, token) = session(&s, &key, json!({})).await;
    let (status, _) = post(
        &s,
        Some(&key),
        &format!("/api/v1/verify/{id}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, v) = selfie(&s, &token, &[eval("faces/img1.jpg")]).await;
    assert_eq!(status, 410, "{v}");
    let (status, _) = complete(&s, &token).await;
    assert_eq!(status, 410);
    s.stop().await;
}

#[tokio::test]
async fn a_borderline_age_waits_for_review_and_the_reviewer_completes_it() {
    for db in TestDb::all().await {
        let s = server(db).await;
        let sink = WebhookSink::start().await;
        let org = s.org("Acme").await;
        let photo = eval("faces/img3.jpg");

        // Learn the estimate, then set the minimum age right on it: borderline.
        let (_, probe_key, _) = s
            .key(
                &org,
                key_settings(&[Check::AgeEstimation], None, Thresholds::default()),
            )
            .await;
        let (probe, token) = session(&s, &probe_key, json!({})).await;
        let (status, v) = selfie(&s, &token, std::slice::from_ref(&photo)).await;
        assert_eq!(status, 200, "{v}");
        let got = get(&s, &probe_key, &format!("/api/v1/verify/{probe}")).await;
        let estimated = got["checks"]["ageEstimation"]["estimatedAge"]
            .as_f64()
            .unwrap();
        assert!((5.0..90.0).contains(&estimated), "{got}");

        let thresholds = Thresholds {
            min_age: estimated.round() as u32,
            ..Default::default()
        };
        let (_, key, secret) = s
            .key(
                &org,
                key_settings(&[Check::AgeEstimation], Some(&sink.url), thresholds),
            )
            .await;
        let (id, token) = session(&s, &key, json!({"externalRef": "kid?"})).await;
        let (status, _) = selfie(&s, &token, std::slice::from_ref(&photo)).await;
        assert_eq!(status, 200);
        let (status, v) = complete(&s, &token).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["overallResult"], "REVIEW");

        // As the spec has it: COMPLETED with REVIEW, the webhook fires with REVIEW, no
        // more captures; the review queue is the REVIEW sessions.
        let queue = get(
            &s,
            &key,
            "/api/v1/verify?status=COMPLETED&overallResult=REVIEW",
        )
        .await;
        assert_eq!(queue["total"], 1);
        assert_eq!(queue["data"][0]["overallResult"], "REVIEW");
        assert_eq!(
            queue["data"][0]["checks"]["ageEstimation"]["result"],
            "REVIEW"
        );
        let (status, v) = selfie(&s, &token, std::slice::from_ref(&photo)).await;
        assert_eq!(status, 409);
        assert_eq!(v["code"], "awaiting_review", "{v}");
        let first = sink.wait_for(1, WAIT).await;
        let p = first[0].kyc_json(&secret);
        assert_eq!(p["event"], "verification.completed");
        assert_eq!(p["overallResult"], "REVIEW");
        assert_eq!(p["status"], "COMPLETED");

        // A bad decision, another org's key, a probe session not in review: refused.
        let path = format!("/api/v1/verify/{id}/review");
        let (status, _) = post(&s, Some(&key), &path, json!({"decision": "REVIEW"})).await;
        assert_eq!(status, 400);
        let other = s.org("Other").await;
        let (_, other_key, _) = s.key(&other, KeySettings::default()).await;
        let (status, _) = post(&s, Some(&other_key), &path, json!({"decision": "APPROVED"})).await;
        assert_eq!(status, 404);
        let (status, _) = post(
            &s,
            Some(&probe_key),
            &format!("/api/v1/verify/{probe}/review"),
            json!({"decision": "APPROVED"}),
        )
        .await;
        assert_eq!(status, 409);

        let (status, v) = post(
            &s,
            Some(&key),
            &path,
            json!({"decision": "APPROVED", "note": "checked the ID by hand"}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["status"], "COMPLETED");
        assert_eq!(v["overallResult"], "APPROVED");
        let (status, _) = post(&s, Some(&key), &path, json!({"decision": "REJECTED"})).await;
        assert_eq!(status, 409);

        // The second event: the reviewer's decision.
        let hooks = sink.wait_for(2, WAIT).await;
        let p = hooks[1].kyc_json(&secret);
        assert_eq!(p["event"], "verification.reviewed");
        assert_eq!(p["overallResult"], "APPROVED");
        assert_eq!(p["externalRef"], "kid?");

        let audit = s.store.list_audit(&org, 100).await.unwrap();
        let entry = audit
            .iter()
            .find(|e| e.action == "verification.reviewed")
            .expect("review audited");
        assert_eq!(entry.target.as_deref(), Some(id.as_str()));
        assert!(entry.actor.contains("api_key"), "{}", entry.actor);
        assert_eq!(entry.details["note"], "checked the ID by hand");
        assert_eq!(entry.details["overallResult"], "APPROVED");
        s.stop().await;
    }
}

#[tokio::test]
async fn without_models_the_analysis_endpoints_answer_503() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = s.org("Acme").await;
    let (_, key, _) = s.key(&org, KeySettings::default()).await;
    let (_, token) = session(&s, &key, json!({})).await;
    let (status, v) = selfie(&s, &token, &[blank()]).await;
    assert_eq!(status, 503, "{v}");
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("models not installed (run scripts/fetch-models.sh)"));
    let (status, _) = document(&s, &token, json!({"front": blank()})).await;
    assert_eq!(status, 503);
    s.stop().await;
}

/// A synthetic passport (vouch-docsynth) whose portrait is `face` from the eval set.
fn passport_with(face: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        vouch_testkit::eval_path("faces").join(face),
        dir.path().join(face),
    )
    .unwrap();
    let spec = vouch_docsynth::DocSpec::new(vouch_docsynth::document::DocKind::Td3)
        .capture(vouch_docsynth::photo::CaptureSpec::clean());
    let doc = vouch_docsynth::render_one(&spec, dir.path(), 7).unwrap();
    STANDARD.encode(doc.jpeg)
}

#[tokio::test]
async fn a_selfie_of_the_document_holder_matches_and_is_approved() {
    let s = server(TestDb::sqlite()).await;
    let sink = WebhookSink::start().await;
    let org = s.org("Acme").await;
    let (_, key, _) = s
        .key(
            &org,
            // Face match alone: the document's own verdict on a synthetic page is the
            // document reader's business (its tests), not this one's.
            key_settings(&[Check::FaceMatch], Some(&sink.url), Thresholds::default()),
        )
        .await;
    let (id, token) = session(&s, &key, json!({})).await;
    // img1 and img2 are the same person (pairs.txt): the passport shows img1.
    let (status, v) = selfie(&s, &token, &[eval("faces/img2.jpg")]).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = document(&s, &token, json!({"front": passport_with("img1.jpg")})).await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = complete(&s, &token).await;
    assert_eq!(status, 200, "{v}");
    let got = get(&s, &key, &format!("/api/v1/verify/{id}")).await;
    let fm = &got["checks"]["faceMatch"];
    assert_eq!(fm["result"], "PASS", "{got}");
    assert_eq!(fm["isMatch"], true);
    assert!(fm["similarityScore"].as_f64().unwrap() >= 0.57, "{fm}");
    assert_eq!(v["overallResult"], "APPROVED", "{got}");
    assert_eq!(got["status"], "COMPLETED");
    let hooks = sink.wait_for(1, WAIT).await;
    let p: Value = serde_json::from_slice(&hooks[0].body).unwrap();
    assert_eq!(p["overallResult"], "APPROVED");
    s.stop().await;
}

fn encoded(img: &image::RgbImage) -> String {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    STANDARD.encode(out.into_inner())
}

#[tokio::test]
async fn dark_or_blurred_selfies_answer_422_with_a_code_the_page_translates() {
    let s = server(TestDb::sqlite()).await;
    let org = s.org("Acme").await;
    let (_, key, _) = s.key(&org, KeySettings::default()).await;
    let (id, token) = session(&s, &key, json!({"checks": ["liveness"]})).await;
    let path = vouch_testkit::eval_path("faces/img2.jpg");
    let face = image::open(&path).unwrap().to_rgb8();
    let mut dark = face.clone();
    dark.pixels_mut()
        .for_each(|p| p.0 = p.0.map(|c| (f32::from(c) * 0.2) as u8));
    let blurred = image::imageops::blur(&face, 12.0);
    for (img, code) in [(dark, "too_dark"), (blurred, "too_blurry")] {
        let (status, v) = selfie(&s, &token, &[encoded(&img)]).await;
        assert_eq!(status, 422, "{v}");
        assert_eq!(v["code"], code, "{v}");
    }
    let got = get(&s, &key, &format!("/api/v1/verify/{id}")).await;
    assert_eq!(got["status"], "PENDING");
    s.stop().await;
}

#[tokio::test]
async fn a_session_gets_ten_analysis_requests_a_minute() {
    let s = server(TestDb::sqlite()).await;
    let org = s.org("Acme").await;
    let (_, key, _) = s.key(&org, KeySettings::default()).await;
    let (_, token) = session(&s, &key, json!({"checks": ["liveness"]})).await;
    // The limit counts in fixed one-minute windows: start well inside one, or a window
    // boundary between the 10th and the 11th request lets the 11th through.
    let into_minute = vouch_core::now_millis().rem_euclid(60_000);
    if into_minute > 40_000 {
        tokio::time::sleep(std::time::Duration::from_millis(
            (60_500 - into_minute) as u64,
        ))
        .await;
    }
    for _ in 0..10 {
        let (status, _) = selfie(&s, &token, &["not base64!".to_string()]).await;
        assert_eq!(status, 400);
    }
    let (status, v) = selfie(&s, &token, &[eval("faces/img2.jpg")]).await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(v["code"], "rate_limited");
    // Another session is not affected.
    let (_, other) = session(&s, &key, json!({"checks": ["liveness"]})).await;
    let (status, _) = selfie(&s, &other, &["not base64!".to_string()]).await;
    assert_eq!(status, 400);
    s.stop().await;
}

/// GETs raw bytes with the key: (status, content type, body).
async fn get_raw(s: &TestServer, key: &str, path: &str) -> (u16, String, Vec<u8>) {
    let r = s
        .http
        .get(s.at(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ty = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ty, r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn capture_images_are_kept_sealed_until_the_decision_plus_the_key_retention() {
    for db in TestDb::all().await {
        let s = server(db).await;
        let org = s.org("Acme").await;
        let mut keep = key_settings(&[Check::Liveness], None, Thresholds::default());
        keep.image_retention_days = 3;
        let (_, keeping, _) = s.key(&org, keep).await;
        let (_, deleting, _) = s
            .key(
                &org,
                key_settings(&[Check::Liveness], None, Thresholds::default()),
            )
            .await;
        let frames = [
            eval("faces/img1.jpg"),
            eval("faces/img2.jpg"),
            eval("faces/img4.jpg"),
        ];
        for (key, days) in [(&keeping, 3), (&deleting, 0)] {
            let (id, token) = session(&s, key, json!({})).await;
            let (status, v) = selfie(&s, &token, &frames).await;
            assert_eq!(status, 200, "{v}");
            // Undecided: the middle frame is there, byte for byte, for a reviewer.
            let list = get(&s, key, &format!("/api/v1/verify/{id}/images")).await;
            assert_eq!(list["images"][0]["name"], "selfie", "{list}");
            assert!(list["images"][0]["deleteAfter"].is_null(), "{list}");
            let (status, ty, bytes) =
                get_raw(&s, key, &format!("/api/v1/verify/{id}/images/selfie")).await;
            assert_eq!((status, ty.as_str()), (200, "image/jpeg"));
            assert_eq!(STANDARD.encode(&bytes), frames[1]);
            let audit = get(&s, key, "/api/v1/audit?limit=5").await;
            assert!(
                audit.to_string().contains("verification.image_viewed"),
                "{audit}"
            );
            // Another organisation's key sees nothing.
            let other = s.org("Globex").await;
            let (_, other_key, _) = s.key(&other, KeySettings::default()).await;
            let (status, _, _) = get_raw(
                &s,
                &other_key,
                &format!("/api/v1/verify/{id}/images/selfie"),
            )
            .await;
            assert_eq!(status, 404);
            let (status, _, _) =
                get_raw(&s, key, &format!("/api/v1/verify/{id}/images/passport")).await;
            assert_eq!(status, 404);

            let (status, v) = complete(&s, &token).await;
            assert_eq!(status, 200, "{v}");
            let list = get(&s, key, &format!("/api/v1/verify/{id}/images")).await;
            let images = list["images"].as_array().unwrap();
            if days == 0 {
                assert!(images.is_empty(), "deleted with the decision: {list}");
            } else {
                let after = images[0]["deleteAfter"].as_i64().unwrap();
                let now = vouch_core::now_millis();
                let expect = now + 3 * 86_400_000;
                assert!((after - expect).abs() < 60_000, "{list}");
                // The sweep deletes it once due, not before.
                let store = s.store.clone();
                assert_eq!(store.purge_session_images(now).await.unwrap(), 0);
                assert_eq!(store.purge_session_images(after).await.unwrap(), 1);
                let (status, _, _) =
                    get_raw(&s, key, &format!("/api/v1/verify/{id}/images/selfie")).await;
                assert_eq!(status, 404);
            }
        }
        s.stop().await;
    }
}

/// Eight frames of `vouch-footage` footage of an eval face, as the hosted page samples
/// them, encoded as JPEG.
fn footage_frames(face: &str, script: vouch_docsynth::camera::Footage) -> Vec<String> {
    vouch_testkit::camera::selfie_frames(face, &script)
}

#[tokio::test]
async fn a_live_sequence_is_approved_and_the_same_face_replayed_still_is_rejected() {
    let s = server(TestDb::sqlite()).await;
    let org = s.org("Acme").await;
    let (_, key, _) = s
        .key(
            &org,
            key_settings(&[Check::Liveness], None, Thresholds::default()),
        )
        .await;
    let cases = [
        (
            vouch_docsynth::camera::Footage::blinking(),
            "APPROVED",
            "PASS",
        ),
        (
            vouch_docsynth::camera::Footage::still_photo(),
            "REJECTED",
            "FAIL",
        ),
    ];
    for (script, overall, result) in cases {
        let frames = footage_frames("img2.jpg", script);
        assert_eq!(frames.len(), 8);
        let (id, token) = session(&s, &key, json!({})).await;
        let (status, v) = selfie(&s, &token, &frames).await;
        assert_eq!(status, 200, "{v}");
        let (status, v) = complete(&s, &token).await;
        assert_eq!(status, 200, "{v}");
        let got = get(&s, &key, &format!("/api/v1/verify/{id}")).await;
        let l = &got["checks"]["liveness"];
        assert_eq!(v["overallResult"], overall, "{got}");
        assert_eq!(l["result"], result, "{l}");
        if overall == "APPROVED" {
            assert_eq!(l["blink"], true, "{l}");
            assert!(l["livenessScore"].as_f64().unwrap() >= 0.85, "{l}");
        }
    }
    s.stop().await;
}

//! Biometric identity over real HTTP with the real face engine: enrolment, 1:N verify with
//! the checks pipeline, verification profiles, and the errors of bad input. Photos from
//! `../shared/eval/faces` (pairs.txt: img1, img2, img4, img7 are one person; img8 and img9
//! another; img24 is enrolled by no one here).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use std::sync::Arc;
use vouch_core::model::KeySettings;
use vouch_server::analysis::Engines;
use vouch_testkit::{test_config, TestDb, TestServer};

fn face(name: &str) -> String {
    let bytes = std::fs::read(vouch_testkit::eval_path("faces").join(name)).unwrap();
    format!("data:image/jpeg;base64,{}", STANDARD.encode(bytes))
}

fn engines() -> Arc<Engines> {
    vouch_testkit::shared_engines()
}

async fn post(s: &TestServer, key: &str, path: &str, body: Value) -> (u16, Value) {
    let r = s
        .http
        .post(s.at(path))
        .header("x-api-key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn call(
    s: &TestServer,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = s.http.request(method, s.at(path)).header("x-api-key", key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn setup(db: TestDb) -> (TestServer, String) {
    let s = TestServer::start_with_engines(db, test_config(), Some(engines())).await;
    let org = s.org("Acme").await;
    let (_, key, _) = s.key(&org, KeySettings::default()).await;
    (s, key)
}

fn check<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["checkResults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no {name} in {v}"))
}

#[tokio::test]
async fn enrolled_people_are_recognised_and_strangers_are_not() {
    for db in TestDb::all().await {
        let (s, key) = setup(db).await;
        let (status, alice) = post(
            &s,
            &key,
            "/api/enroll",
            json!({"image": face("img1.jpg"), "email": "Alice@Example.com"}),
        )
        .await;
        assert_eq!(status, 200, "{alice}");
        assert_eq!(alice["enrolled"], true);
        let alice_id = alice["userId"].as_str().unwrap().to_string();
        // Enrolling the same e-mail again adds a template to the same person.
        let (_, again) = post(
            &s,
            &key,
            "/api/enroll",
            json!({"image": face("img4.jpg"), "email": "alice@example.com"}),
        )
        .await;
        assert_eq!(again["userId"], alice_id.as_str(), "{again}");
        let (_, bob) = post(
            &s,
            &key,
            "/api/enroll",
            json!({"image": face("img8.jpg"), "email": "bob@example.com"}),
        )
        .await;
        assert_ne!(bob["userId"], alice_id.as_str());

        let device = json!({"userAgent": "Mozilla/5.0 test", "cameraWidth": 1280, "cameraHeight": 720,
                            "screenWidth": 1920, "screenHeight": 1080});
        let (status, v) = post(
            &s,
            &key,
            "/api/verify",
            json!({"image": face("img2.jpg"), "deviceInfo": device}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["verified"], true);
        assert_eq!(v["userId"], alice_id.as_str());
        assert_eq!(v["email"], "alice@example.com");
        assert!(v["confidence"].as_f64().unwrap() > 0.3, "{v}");
        assert!(v["compositeScore"].as_f64().unwrap() >= 0.5, "{v}");
        for c in v["checkResults"].as_array().unwrap() {
            for field in ["check", "pass", "score", "weight"] {
                assert!(c.get(field).is_some(), "{c}");
            }
        }
        assert_eq!(
            check(&v, "deviceConsistency")["score"],
            0.5,
            "a new device: {v}"
        );
        // The same device again is known now.
        let (status, v) = post(
            &s,
            &key,
            "/api/verify",
            json!({"image": face("img7.jpg"), "deviceInfo": device}),
        )
        .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(check(&v, "deviceConsistency")["score"], 1.0, "{v}");

        let (status, v) = post(&s, &key, "/api/verify", json!({"image": face("img9.jpg")})).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["email"], "bob@example.com");

        let (status, v) = post(&s, &key, "/api/verify", json!({"image": face("img24.jpg")})).await;
        assert_eq!(status, 422, "{v}");
        assert_eq!(v["error"], "Identity not recognised");
        assert_eq!(v["verified"], false);

        // Another organisation's gallery is empty.
        let other = s.org("Globex").await;
        let (_, other_key, _) = s.key(&other, KeySettings::default()).await;
        let (status, _) = post(
            &s,
            &other_key,
            "/api/verify",
            json!({"image": face("img2.jpg")}),
        )
        .await;
        assert_eq!(status, 422);
        s.stop().await;
    }
}

#[tokio::test]
async fn travel_faster_than_a_plane_and_a_repeated_frame_fail_hard() {
    let (s, key) = setup(TestDb::sqlite()).await;
    post(
        &s,
        &key,
        "/api/enroll",
        json!({"image": face("img1.jpg"), "email": "alice@example.com"}),
    )
    .await;
    let lisbon = json!({"latitude": 38.72, "longitude": -9.14});
    let (status, v) = post(
        &s,
        &key,
        "/api/verify",
        json!({"image": face("img2.jpg"), "deviceInfo": lisbon}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let sao_paulo = json!({"latitude": -23.55, "longitude": -46.63});
    let (status, v) = post(
        &s,
        &key,
        "/api/verify",
        json!({"image": face("img7.jpg"), "deviceInfo": sao_paulo}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(check(&v, "impossibleTravel")["pass"], false, "{v}");
    assert!(v["error"].as_str().unwrap().contains("km/h"), "{v}");

    // Three copies of one photo are not a capture.
    let still = face("img2.jpg");
    let (status, v) = post(
        &s,
        &key,
        "/api/verify",
        json!({"images": [still, still, still]}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(check(&v, "frameConsistency")["pass"], false, "{v}");
    s.stop().await;
}

#[tokio::test]
async fn profiles_are_managed_by_api_and_applied_by_id_or_slug() {
    let (s, key) = setup(TestDb::sqlite()).await;
    post(
        &s,
        &key,
        "/api/enroll",
        json!({"image": face("img1.jpg"), "email": "alice@example.com"}),
    )
    .await;
    let body = json!({"name": "Brazil only", "slug": "br-only",
                      "checks": {"geoFence": {"hardFail": true}, "deviceConsistency": {"enabled": false}},
                      "allowedCountries": ["BR"], "minCompositeScore": 0.6});
    let (status, p) = post(&s, &key, "/api/profiles", body.clone()).await;
    assert_eq!(status, 201, "{p}");
    let id = p["id"].as_str().unwrap().to_string();
    let (status, v) = post(&s, &key, "/api/profiles", body).await;
    assert_eq!(status, 409, "{v}");

    let (status, v) = post(
        &s,
        &key,
        "/api/verify",
        json!({"image": face("img2.jpg"), "profile": "br-only", "deviceInfo": {"country": "PT"}}),
    )
    .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"], "Verification from PT is not allowed");
    let (status, v) = post(
        &s,
        &key,
        "/api/verify",
        json!({"image": face("img2.jpg"), "profile": id, "deviceInfo": {"country": "br"}}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert!(v["checkResults"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["check"] != "deviceConsistency"));

    let (status, list) = call(&s, &key, reqwest::Method::GET, "/api/profiles", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["profiles"][0]["slug"], "br-only");
    let (status, v) = call(
        &s,
        &key,
        reqwest::Method::PUT,
        "/api/profiles/br-only",
        Some(
            json!({"name": "Brazil and Portugal", "checks": {"geoFence": {"hardFail": true}},
                    "allowedCountries": ["BR", "PT"]}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = post(
        &s,
        &key,
        "/api/verify",
        json!({"image": face("img2.jpg"), "profile": "br-only", "deviceInfo": {"country": "PT"}}),
    )
    .await;
    assert_eq!(status, 200, "{v}");

    // Invalid profiles are refused and change nothing.
    for bad in [
        json!({"name": "x", "slug": "Bad Slug"}),
        json!({"name": "x", "slug": "x", "checks": {"retina": {}}}),
        json!({"name": "x", "slug": "x", "checks": {"timeRestriction": {}}}),
        json!({"name": "x", "slug": "x", "timeWindow": {"timeZone": "Nowhere/City", "startHour": 1, "endHour": 2}}),
        json!({"name": "", "slug": "x"}),
    ] {
        let (status, v) = post(&s, &key, "/api/profiles", bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {v}");
    }
    let (_, list) = call(&s, &key, reqwest::Method::GET, "/api/profiles", None).await;
    assert_eq!(list["profiles"].as_array().unwrap().len(), 1);

    // Another organisation does not see it.
    let other = s.org("Globex").await;
    let (_, other_key, _) = s.key(&other, KeySettings::default()).await;
    let (status, _) = call(
        &s,
        &other_key,
        reqwest::Method::GET,
        &format!("/api/profiles/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);

    let (status, _) = call(
        &s,
        &key,
        reqwest::Method::DELETE,
        "/api/profiles/br-only",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &s,
        &key,
        reqwest::Method::GET,
        "/api/profiles/br-only",
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, v) = post(
        &s,
        &key,
        "/api/verify",
        json!({"image": face("img2.jpg"), "profile": "br-only"}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    s.stop().await;
}

#[tokio::test]
async fn bad_images_and_bodies_answer_400_with_a_reason() {
    let (s, key) = setup(TestDb::sqlite()).await;
    let blank = {
        let img = image::RgbImage::from_pixel(320, 240, image::Rgb([128, 128, 128]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        format!(
            "data:image/png;base64,{}",
            STANDARD.encode(out.into_inner())
        )
    };
    let cases = [
        (
            "/api/enroll",
            json!({"image": blank, "email": "a@b.c"}),
            "no_face",
        ),
        (
            "/api/enroll",
            json!({"image": face("couple.jpg"), "email": "a@b.c"}),
            "several_faces",
        ),
        (
            "/api/enroll",
            json!({"image": face("img1.jpg"), "email": "not an email"}),
            "invalid_request",
        ),
        (
            "/api/enroll",
            json!({"image": "%%%", "email": "a@b.c"}),
            "invalid_request",
        ),
        (
            "/api/verify",
            json!({"image": face("img1.jpg"), "images": [face("img1.jpg")]}),
            "invalid_request",
        ),
        ("/api/verify", json!({}), "invalid_request"),
        ("/api/verify", json!({"images": []}), "invalid_request"),
        (
            "/api/verify",
            json!({"image": face("img1.jpg"), "deviceInfo": {"latitude": 200, "longitude": 0}}),
            "invalid_request",
        ),
    ];
    for (path, body, code) in cases {
        let (status, v) = post(&s, &key, path, body).await;
        assert_eq!(status, 400, "{path} {v}");
        assert_eq!(v["code"], code, "{v}");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // Nothing was enrolled by all that.
    let (status, _) = post(&s, &key, "/api/verify", json!({"image": face("img1.jpg")})).await;
    assert_eq!(status, 422);
    s.stop().await;
}

#[tokio::test]
async fn enrolments_and_verifications_fire_signed_webhooks() {
    let s = TestServer::start_with_engines(TestDb::sqlite(), test_config(), Some(engines())).await;
    let sink = vouch_testkit::WebhookSink::start().await;
    let org = s.org("Acme").await;
    let (_, key, secret) = s.key_with_webhook(&org, &sink.url).await;
    let (_, alice) = post(
        &s,
        &key,
        "/api/enroll",
        json!({"image": face("img1.jpg"), "email": "alice@example.com"}),
    )
    .await;
    let (status, _) = post(&s, &key, "/api/verify", json!({"image": face("img2.jpg")})).await;
    assert_eq!(status, 200);
    let (status, _) = post(&s, &key, "/api/verify", json!({"image": face("img24.jpg")})).await;
    assert_eq!(status, 422);
    let got = sink.wait_for(3, std::time::Duration::from_secs(15)).await;
    let mut events: Vec<Value> = got.iter().map(|r| r.proof_json(&secret)).collect();
    events.sort_by_key(|e| e["timestamp"].as_str().unwrap().to_string());
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "user.enrolled",
            "verification.success",
            "verification.failure"
        ],
        "{events:?}"
    );
    for e in &events {
        assert_eq!(e["orgId"], org.as_str());
        assert!(e["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(got[0].header("webhook-signature").starts_with("v1,"));
    }
    assert_eq!(events[0]["data"]["userId"], alice["userId"]);
    assert_eq!(events[1]["data"]["userId"], alice["userId"]);
    assert_eq!(events[2]["data"]["reason"], "Identity not recognised");
    s.stop().await;
}

#[tokio::test]
async fn repeated_failures_from_one_device_trigger_an_alert_once() {
    let s = TestServer::start_with_engines(TestDb::sqlite(), test_config(), Some(engines())).await;
    let sink = vouch_testkit::WebhookSink::start().await;
    let org = s.org("Acme").await;
    let (_, key, secret) = s.key_with_webhook(&org, &sink.url).await;
    let (status, rule) = post(
        &s,
        &key,
        "/api/alert-rules",
        json!({"name": "Brute force", "scope": "device", "threshold": 3, "windowMinutes": 10}),
    )
    .await;
    assert_eq!(status, 201, "{rule}");
    let (status, v) = post(
        &s,
        &key,
        "/api/alert-rules",
        json!({"name": "x", "scope": "planet", "threshold": 3, "windowMinutes": 10}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    let device = json!({"userAgent": "curl/8", "screenWidth": 1, "screenHeight": 1});
    // Nobody is enrolled: four failures from one device.
    for _ in 0..4 {
        let (status, _) = post(
            &s,
            &key,
            "/api/verify",
            json!({"image": face("img24.jpg"), "deviceInfo": device}),
        )
        .await;
        assert_eq!(status, 422);
    }
    let got = sink.wait_for(5, std::time::Duration::from_secs(15)).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let events: Vec<Value> = sink
        .received()
        .iter()
        .map(|r| r.proof_json(&secret))
        .collect();
    assert!(got.len() >= 5);
    let alerts: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "alert.triggered")
        .collect();
    assert_eq!(
        alerts.len(),
        1,
        "once, when the count reaches 3: {events:?}"
    );
    assert_eq!(alerts[0]["data"]["ruleId"], rule["id"]);
    assert_eq!(alerts[0]["data"]["failures"], 3);
    assert_eq!(
        events
            .iter()
            .filter(|e| e["event"] == "verification.failure")
            .count(),
        4
    );
    let (_, list) = call(&s, &key, reqwest::Method::GET, "/api/alert-rules", None).await;
    assert_eq!(list["rules"].as_array().unwrap().len(), 1);
    let id = rule["id"].as_str().unwrap();
    let (status, _) = call(
        &s,
        &key,
        reqwest::Method::DELETE,
        &format!("/api/alert-rules/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &s,
        &key,
        reqwest::Method::DELETE,
        &format!("/api/alert-rules/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    s.stop().await;
}

/// A portrait with somebody small far behind the subject, as a photo taken in a street
/// or an office has: `img1` with `img5` shrunk to a sixth of its size in a corner.
fn portrait_with_a_small_background_face() -> String {
    let dir = vouch_testkit::eval_path("faces");
    let subject = image::open(dir.join("img1.jpg")).unwrap().to_rgb8();
    let other = image::open(dir.join("img5.jpg")).unwrap().to_rgb8();
    let (w, h) = subject.dimensions();
    let mut canvas = image::RgbImage::from_pixel(w * 2, h, image::Rgb([90, 100, 110]));
    image::imageops::overlay(&mut canvas, &subject, 0, 0);
    let small = image::imageops::resize(
        &other,
        other.width() / 6,
        other.height() / 6,
        image::imageops::FilterType::Triangle,
    );
    image::imageops::overlay(&mut canvas, &small, i64::from(w + w / 2), i64::from(h / 8));
    let mut out = std::io::Cursor::new(Vec::new());
    canvas.write_to(&mut out, image::ImageFormat::Png).unwrap();
    format!(
        "data:image/png;base64,{}",
        STANDARD.encode(out.into_inner())
    )
}

#[tokio::test]
async fn a_small_face_in_the_background_does_not_refuse_an_enrolment_but_a_second_person_does() {
    // Regression: the server and `vouch face analyze` counted faces with two detector
    // settings, so enrolment refused single-face portraits as `several_faces`.
    let (s, key) = setup(TestDb::sqlite()).await;
    let img = portrait_with_a_small_background_face();
    let bytes = STANDARD
        .decode(img.trim_start_matches("data:image/png;base64,"))
        .unwrap();
    let engine = &engines().face;
    let decoded = engine.decode(&bytes).unwrap();
    let faces = engine.faces(&decoded).unwrap();
    assert_eq!(faces.len(), 2, "both faces are seen");
    assert_eq!(vouch_face::subject::other_people(&faces), 0);
    let (status, v) = post(
        &s,
        &key,
        "/api/enroll",
        json!({"image": img, "email": "street@example.com"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["enrolled"], true, "{v}");
    let (status, v) = post(
        &s,
        &key,
        "/api/enroll",
        json!({"image": face("couple.jpg"), "email": "couple@example.com"}),
    )
    .await;
    assert_eq!(status, 400, "{v}");
    assert_eq!(v["code"], "several_faces", "{v}");
    s.stop().await;
}

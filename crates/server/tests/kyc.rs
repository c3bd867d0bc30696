//! The KYC sessions API over real HTTP: create, read, list, cancel, expiry and their
//! webhooks; on SQLite and (when configured) PostgreSQL.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use serde_json::{json, Value};
use std::time::Duration;
use vouch_core::check::Check;
use vouch_core::model::KeySettings;
use vouch_core::webhook::verify_standard;
use vouch_testkit::{test_config, TestDb, TestServer, WebhookSink};

const WAIT: Duration = Duration::from_secs(15);

async fn post(s: &TestServer, key: &str, path: &str, body: Value) -> (u16, Value) {
    let resp = s
        .http
        .post(s.at(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn get(s: &TestServer, key: &str, path: &str) -> (u16, Value) {
    let resp = s
        .http
        .get(s.at(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn create(s: &TestServer, key: &str, body: Value) -> Value {
    let (status, v) = post(s, key, "/api/v1/verify", body).await;
    assert_eq!(status, 201, "{v}");
    v
}

fn sid(v: &Value) -> String {
    v["sessionId"].as_str().unwrap().to_string()
}

async fn total(s: &TestServer, key: &str) -> i64 {
    let (status, v) = get(s, key, "/api/v1/verify").await;
    assert_eq!(status, 200);
    v["total"].as_i64().unwrap()
}

fn short_lived() -> KeySettings {
    KeySettings {
        session_ttl_secs: 1,
        ..Default::default()
    }
}

#[tokio::test]
async fn create_uses_the_key_checks_by_default_and_explicit_checks_when_given() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let org = s.org("Acme").await;
        let settings = KeySettings {
            checks: vec![Check::Liveness, Check::FaceMatch],
            ..Default::default()
        };
        let (_, key, _) = s.key(&org, settings).await;

        let before = vouch_core::now_millis();
        let v = create(&s, &key, json!({"externalRef": "user_1"})).await;
        assert_eq!(v["requestedChecks"], json!(["liveness", "face_match"]));
        // The spec's sessionId is a UUID: a client may store it in a uuid column.
        let id = uuid::Uuid::parse_str(&sid(&v)).expect("sessionId is a UUID");
        assert_eq!(
            id.hyphenated().to_string(),
            sid(&v),
            "lower-case, hyphenated"
        );
        let url = v["verificationUrl"].as_str().unwrap();
        let prefix = format!("{}/verify/vvt_", s.url);
        assert!(url.starts_with(&prefix), "{url}");
        let expires = chrono::DateTime::parse_from_rfc3339(v["expiresAt"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
        let ttl = expires - before;
        assert!((29 * 60_000..=31 * 60_000).contains(&ttl), "ttl {ttl} ms");

        let v2 = create(&s, &key, json!({"checks": ["face_match", "face_match"]})).await;
        assert_eq!(v2["requestedChecks"], json!(["face_match"]));
        assert_ne!(v2["verificationUrl"], v["verificationUrl"]);

        // The hosted link resolves to its session; a forged one does not.
        let page = s.http.get(url).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(page.headers()["cache-control"], "no-store");
        let forged = s.http.get(format!("{prefix}AAAA")).send().await.unwrap();
        assert_eq!(forged.status(), 404);
        s.stop().await;
    }
}

#[tokio::test]
async fn get_returns_the_spec_fields_of_a_pending_session() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let org = s.org("Acme").await;
        let (_, key, _) = s.key(&org, KeySettings::default()).await;
        let v = create(
            &s,
            &key,
            json!({
                "externalRef": "user_12345",
                "checks": ["liveness", "doc_verify", "face_match", "age_estimation"],
                "redirectUrl": "https://yourapp.com/verification-done",
                "metadata": {"plan": "premium", "n": [1, 2]}
            }),
        )
        .await;
        let id = sid(&v);
        let (status, got) = get(&s, &key, &format!("/api/v1/verify/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(got["id"], id);
        assert_eq!(got["externalRef"], "user_12345");
        assert_eq!(got["status"], "PENDING");
        assert!(got["overallResult"].is_null());
        assert!(got.as_object().unwrap().contains_key("overallResult"));
        assert_eq!(got["metadata"], json!({"plan": "premium", "n": [1, 2]}));
        let checks = got["checks"].as_object().unwrap();
        let mut names: Vec<&str> = checks.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "ageEstimation",
                "documentVerification",
                "faceMatch",
                "liveness"
            ]
        );
        assert_eq!(checks["liveness"]["status"], "PENDING");
        assert!(checks["liveness"]["result"].is_null());

        // Only requested checks appear.
        let v = create(&s, &key, json!({"checks": ["liveness"]})).await;
        let (_, got) = get(&s, &key, &format!("/api/v1/verify/{}", sid(&v))).await;
        assert_eq!(
            got["checks"],
            json!({"liveness": {"status": "PENDING", "result": null}})
        );
        assert!(got["metadata"].is_null());
        assert!(got["externalRef"].is_null());

        let (status, err) = get(&s, &key, "/api/v1/verify/ses_nope").await;
        assert_eq!(status, 404);
        assert!(err["error"].is_string());
        s.stop().await;
    }
}

#[tokio::test]
async fn another_orgs_session_is_not_found() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let acme = s.org("Acme").await;
        let globex = s.org("Globex").await;
        let (_, key_a, _) = s.key(&acme, KeySettings::default()).await;
        let (_, key_b, _) = s.key(&globex, KeySettings::default()).await;
        let id = sid(&create(&s, &key_a, json!({"externalRef": "shared"})).await);

        let (status, err) = get(&s, &key_b, &format!("/api/v1/verify/{id}")).await;
        assert_eq!(status, 404);
        assert!(err["error"].is_string());
        let (status, _) = post(
            &s,
            &key_b,
            &format!("/api/v1/verify/{id}/cancel"),
            json!({}),
        )
        .await;
        assert_eq!(status, 404);
        let (_, list) = get(&s, &key_b, "/api/v1/verify?externalRef=shared").await;
        assert_eq!(list["total"], 0);
        assert_eq!(list["data"], json!([]));
        // The owner still sees it, untouched.
        let (status, got) = get(&s, &key_a, &format!("/api/v1/verify/{id}")).await;
        assert_eq!(status, 200);
        assert_eq!(got["status"], "PENDING");
        s.stop().await;
    }
}

#[tokio::test]
async fn invalid_requests_answer_400_and_store_nothing() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let org = s.org("Acme").await;
        let (_, key, _) = s.key(&org, KeySettings::default()).await;
        let bad = [
            json!({"checks": ["liveness", "selfie"]}),
            json!({"checks": []}),
            json!({"checks": "liveness"}),
            json!({"redirectUrl": "javascript:alert(1)"}),
            json!({"redirectUrl": "/relative"}),
            json!({"callbackUrl": "ftp://example.com/hook"}),
            json!({"externalRef": "x".repeat(256)}),
            json!({"metadata": ["not", "an", "object"]}),
            json!({"metadata": {"blob": "x".repeat(17 * 1024)}}),
        ];
        for body in bad {
            let (status, err) = post(&s, &key, "/api/v1/verify", body.clone()).await;
            assert_eq!(status, 400, "{body}: {err}");
            assert!(err["error"].is_string(), "{err}");
        }
        let (_, err) = post(&s, &key, "/api/v1/verify", json!({"checks": ["selfie"]})).await;
        assert!(err["error"].as_str().unwrap().contains("selfie"));
        assert_eq!(total(&s, &key).await, 0);

        // The limits themselves are accepted.
        create(&s, &key, json!({"externalRef": "x".repeat(255)})).await;
        assert_eq!(total(&s, &key).await, 1);
        s.stop().await;
    }
}

#[tokio::test]
async fn a_check_the_key_does_not_enable_answers_403() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let org = s.org("Acme").await;
        let settings = KeySettings {
            checks: vec![Check::Liveness],
            ..Default::default()
        };
        let (_, key, _) = s.key(&org, settings).await;
        let (status, err) = post(
            &s,
            &key,
            "/api/v1/verify",
            json!({"checks": ["liveness", "doc_verify"]}),
        )
        .await;
        assert_eq!(status, 403, "{err}");
        assert!(err["error"].as_str().unwrap().contains("doc_verify"));
        assert_eq!(total(&s, &key).await, 0);
        s.stop().await;
    }
}

#[tokio::test]
async fn list_filters_by_status_and_external_ref_and_pages() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let org = s.org("Acme").await;
        let (_, key, _) = s.key(&org, KeySettings::default()).await;
        let mut ids = Vec::new();
        for r in ["a", "a", "b", "b", "b"] {
            ids.push(sid(&create(&s, &key, json!({"externalRef": r})).await));
        }
        let (status, _) = post(
            &s,
            &key,
            &format!("/api/v1/verify/{}/cancel", ids[2]),
            json!({}),
        )
        .await;
        assert_eq!(status, 200);

        let (_, all) = get(&s, &key, "/api/v1/verify").await;
        assert_eq!(all["total"], 5);
        assert_eq!(all["page"], 1);
        assert_eq!(all["limit"], 20);
        let listed: Vec<&str> = all["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap())
            .collect();
        let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
        assert_eq!(listed, newest_first);

        let (_, b) = get(&s, &key, "/api/v1/verify?externalRef=b").await;
        assert_eq!(b["total"], 3);
        assert!(b["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["externalRef"] == "b"));
        let (_, cancelled) = get(&s, &key, "/api/v1/verify?status=CANCELLED").await;
        assert_eq!(cancelled["total"], 1);
        assert_eq!(cancelled["data"][0]["id"], ids[2]);
        let (_, pending_b) = get(&s, &key, "/api/v1/verify?status=PENDING&externalRef=b").await;
        assert_eq!(pending_b["total"], 2);

        let (_, p2) = get(&s, &key, "/api/v1/verify?limit=2&page=2").await;
        assert_eq!(p2["total"], 5);
        assert_eq!(p2["totalPages"], 3);
        let p2_ids: Vec<&str> = p2["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_str().unwrap())
            .collect();
        assert_eq!(p2_ids, [ids[2].as_str(), ids[1].as_str()]);
        let (_, p3) = get(&s, &key, "/api/v1/verify?limit=2&page=3").await;
        assert_eq!(p3["data"].as_array().unwrap().len(), 1);
        let (_, p9) = get(&s, &key, "/api/v1/verify?limit=2&page=9").await;
        assert_eq!(p9["data"], json!([]));

        for bad in ["limit=101", "limit=0", "page=0", "status=DONE", "page=x"] {
            let (status, err) = get(&s, &key, &format!("/api/v1/verify?{bad}")).await;
            assert_eq!(status, 400, "{bad}: {err}");
            assert!(err["error"].is_string());
        }
        s.stop().await;
    }
}

#[tokio::test]
async fn cancel_moves_to_cancelled_once_and_signs_the_webhook() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let sink = WebhookSink::start().await;
        let org = s.org("Acme").await;
        let (_, key, secret) = s.key_with_webhook(&org, &sink.url).await;
        let id = sid(
            &create(
                &s,
                &key,
                json!({"externalRef": "user_9", "checks": ["liveness"], "metadata": {"plan": "premium"}}),
            )
            .await,
        );
        let url = format!("/api/v1/verify/{id}/cancel");
        let (status, v) = post(&s, &key, &url, json!({})).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["status"], "CANCELLED");
        let (_, got) = get(&s, &key, &format!("/api/v1/verify/{id}")).await;
        assert_eq!(got["status"], "CANCELLED");
        let (status, err) = post(&s, &key, &url, json!({})).await;
        assert_eq!(status, 409);
        assert!(err["error"].as_str().unwrap().contains("CANCELLED"));

        let got = sink.wait_for(1, WAIT).await;
        let r = &got[0];
        let payload = r.kyc_json(&secret);
        let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
        assert!(verify_standard(
            &secret,
            &r.header("webhook-id"),
            ts,
            &r.body,
            &r.header("webhook-signature"),
            vouch_core::now_millis() / 1000,
            300
        ));
        assert_eq!(payload["event"], "verification.cancelled");
        assert_eq!(payload["sessionId"], id);
        assert_eq!(payload["externalRef"], "user_9");
        assert_eq!(payload["status"], "CANCELLED");
        assert!(payload["overallResult"].is_null());
        assert_eq!(payload["metadata"], json!({"plan": "premium"}));
        assert!(payload["cancelledAt"].is_string());
        assert!(payload["checks"]["liveness"].is_object());

        // The second cancel queued nothing.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.received().len(), 1);
        s.stop().await;
    }
}

#[tokio::test]
async fn callback_url_overrides_the_key_webhook() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let key_sink = WebhookSink::start().await;
        let session_sink = WebhookSink::start().await;
        let org = s.org("Acme").await;
        let (_, key, secret) = s.key_with_webhook(&org, &key_sink.url).await;
        let id = sid(&create(&s, &key, json!({"callbackUrl": session_sink.url})).await);
        let (status, _) = post(&s, &key, &format!("/api/v1/verify/{id}/cancel"), json!({})).await;
        assert_eq!(status, 200);
        let got = session_sink.wait_for(1, WAIT).await;
        got[0].kyc_json(&secret);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(key_sink.received().is_empty());
        s.stop().await;
    }
}

#[tokio::test]
async fn a_session_read_after_its_lifetime_is_expired_and_notified() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let sink = WebhookSink::start().await;
        let org = s.org("Acme").await;
        let settings = KeySettings {
            webhook_url: Some(sink.url.clone()),
            ..short_lived()
        };
        let (_, key, secret) = s.key(&org, settings).await;
        let v = create(&s, &key, json!({"externalRef": "late"})).await;
        let id = sid(&v);
        let link = v["verificationUrl"].as_str().unwrap().to_string();
        tokio::time::sleep(Duration::from_millis(1100)).await;

        let (_, got) = get(&s, &key, &format!("/api/v1/verify/{id}")).await;
        assert_eq!(got["status"], "EXPIRED");
        assert!(got["overallResult"].is_null());
        let (status, _) = post(&s, &key, &format!("/api/v1/verify/{id}/cancel"), json!({})).await;
        assert_eq!(status, 409);
        assert_eq!(s.http.get(&link).send().await.unwrap().status(), 410);

        let got = sink.wait_for(1, WAIT).await;
        let payload = got[0].kyc_json(&secret);
        assert_eq!(payload["event"], "verification.expired");
        assert_eq!(payload["sessionId"], id);
        assert_eq!(payload["externalRef"], "late");
        assert_eq!(payload["status"], "EXPIRED");
        assert!(payload["expiredAt"].is_string());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(sink.received().len(), 1, "expiry must be notified once");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_sweep_expires_due_sessions_once() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let sink = WebhookSink::start().await;
        let org = s.org("Acme").await;
        let settings = KeySettings {
            webhook_url: Some(sink.url.clone()),
            ..short_lived()
        };
        let (_, key, _) = s.key(&org, settings).await;
        let (_, long_key, _) = s.key(&org, KeySettings::default()).await;
        let id = sid(&create(&s, &key, json!({})).await);
        let alive = sid(&create(&s, &long_key, json!({})).await);
        let later = vouch_core::now_millis() + 2_000;
        assert_eq!(s.store.expire_due_sessions(None, later).await.unwrap(), 1);
        assert_eq!(s.store.expire_due_sessions(None, later).await.unwrap(), 0);

        let got = sink.wait_for(1, WAIT).await;
        let payload: Value = serde_json::from_slice(&got[0].body).unwrap();
        assert_eq!(payload["event"], "verification.expired");
        assert_eq!(payload["sessionId"], id);
        let (_, v) = get(&s, &key, "/api/v1/verify?status=EXPIRED").await;
        assert_eq!(v["total"], 1);
        let (_, v) = get(&s, &key, &format!("/api/v1/verify/{alive}")).await;
        assert_eq!(v["status"], "PENDING");
        s.stop().await;
    }
}

#[tokio::test]
async fn session_endpoints_need_an_api_key() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let resp = s
            .http
            .post(s.at("/api/v1/verify"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"].is_string());
        s.stop().await;
    }
}

#[tokio::test]
async fn the_hosted_page_is_branded_translated_and_framable() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = s.org("Acme").await;
    let settings = KeySettings {
        branding: vouch_core::model::Branding {
            display_name: Some("Banco <Zé> & Filhos".into()),
            logo_url: Some("https://cdn.example/logo.png?a=1&b=\"2\"".into()),
            accent_color: Some("#0a7d4f".into()),
        },
        ..KeySettings::default()
    };
    let (_, key, _) = s.key(&org, settings).await;
    let v = create(&s, &key, json!({"checks": ["liveness", "doc_verify"]})).await;
    let link = v["verificationUrl"].as_str().unwrap().to_string();

    let resp = s
        .http
        .get(&link)
        .header("accept-language", "pt-BR,pt;q=0.9,en;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors *") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(
        h.get("x-frame-options").is_none(),
        "the page must work in an iframe"
    );
    let html = resp.text().await.unwrap();
    assert!(html.contains("<html lang=\"pt\">"), "{html}");
    assert!(html.contains("Antes de começar"));
    // Branding, escaped.
    assert!(html.contains("Banco &lt;Zé&gt; &amp; Filhos"), "{html}");
    assert!(!html.contains("<Zé>"));
    assert!(html.contains("src=\"https://cdn.example/logo.png?a=1&amp;b=&quot;2&quot;\""));
    assert!(html.contains("data-accent=\"#0a7d4f\""));
    // Both capture steps, none done yet.
    assert!(
        html.contains("data-steps=\"selfie,document\" data-done=\"\""),
        "{html}"
    );

    // ?lang= wins over Accept-Language; English is the default.
    let en = s
        .http
        .get(format!("{link}?lang=en"))
        .header("accept-language", "pt")
        .send()
        .await
        .unwrap();
    assert!(en.text().await.unwrap().contains("<html lang=\"en\">"));
    let en = s
        .http
        .get(&link)
        .header("accept-language", "de-DE")
        .send()
        .await
        .unwrap();
    assert!(en.text().await.unwrap().contains("Before we start"));

    // The assets are served with their types.
    for (path, ty) in [
        ("/assets/verify.js", "text/javascript"),
        ("/assets/verify.css", "text/css"),
    ] {
        let r = s.http.get(s.at(path)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(ty));
        assert!(r.text().await.unwrap().len() > 1000);
    }

    // An unknown link: 404, in the visitor's language.
    let r = s
        .http
        .get(s.at("/verify/vvt_unknown"))
        .header("accept-language", "pt")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("Link não encontrado"));

    // Cancelled: 410 with its message.
    let id = sid(&v);
    let (status, _) = post(&s, &key, &format!("/api/v1/verify/{id}/cancel"), json!({})).await;
    assert_eq!(status, 200);
    let r = s.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 410);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("This verification was cancelled."));
    s.stop().await;
}

//! The foundation's HTTP behaviour, against a real server on loopback, on SQLite and
//! (when configured) PostgreSQL: authentication, org scoping, the bad-input table, rate
//! limits, errors, operations endpoints and the OpenAPI document.
//!
//! Size (over 800 lines): the foundation's HTTP suite (auth, limits, errors, OpenAPI),
//! sharing one server helper.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;
use vouch_core::model::KeySettings;
use vouch_testkit::{test_config, TestDb, TestServer};

async fn body(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, v)
}

fn assert_error(status: StatusCode, v: &Value, want: StatusCode, code: &str) {
    assert_eq!(status, want, "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert!(v["error"].as_str().is_some_and(|s| !s.is_empty()), "{v}");
}

#[tokio::test]
async fn keys_are_accepted_as_bearer_and_x_api_key() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let org = s.org("Acme").await;
        let (key_id, secret, _) = s
            .key(
                &org,
                KeySettings {
                    rate_limit: 250,
                    ..Default::default()
                },
            )
            .await;
        for req in [
            s.http.get(s.at("/api/v1/whoami")).bearer_auth(&secret),
            s.http
                .get(s.at("/api/v1/whoami"))
                .header("x-api-key", &secret),
        ] {
            let (st, v) = body(req.send().await.unwrap()).await;
            assert_eq!(st, 200, "{v}");
            assert_eq!(v["orgId"], org.as_str());
            assert_eq!(v["keyId"], key_id);
            assert_eq!(v["rateLimit"], 250);
            assert_eq!(
                v["checks"],
                json!(["liveness", "age_estimation", "doc_verify", "face_match"])
            );
        }
        s.stop().await;
    }
}

#[tokio::test]
async fn bad_credentials_get_clear_401s() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let org = s.org("Acme").await;
        let (key_id, secret, _) = s.key(&org, KeySettings::default()).await;
        let expired = KeySettings {
            expires_at: Some(vouch_core::now_millis() - 1),
            ..Default::default()
        };
        let (_, expired_secret, _) = s.key(&org, expired).await;
        let (_, revoked_secret, _) = s.key(&org, KeySettings::default()).await;
        let revoked_id = s.store.list_api_keys(&org).await.unwrap()[0].id.clone();
        s.store
            .revoke_api_key(
                &org,
                &revoked_id,
                vouch_core::model::AuditRecord::new(
                    None,
                    vouch_core::model::Actor::Cli,
                    "api_key.revoked",
                ),
            )
            .await
            .unwrap();
        let cases: Vec<(Option<String>, &str)> = vec![
            (None, "Missing API key"),
            (Some("Bearer ".into()), "Missing API key"),
            (Some("Basic abc".into()), "Missing API key"),
            (
                Some("Bearer vk_live_wrongwrongwrongwrongwrongwrongwrongwrongwro".into()),
                "Invalid API key",
            ),
            (
                Some(format!("Bearer {}", &secret[..secret.len() - 1])),
                "Invalid API key",
            ),
            (Some(format!("Bearer {expired_secret}")), "expired"),
            (Some(format!("Bearer {revoked_secret}")), "revoked"),
        ];
        for (auth, want) in cases {
            let mut req = s.http.get(s.at("/api/v1/whoami"));
            if let Some(a) = &auth {
                req = req.header("authorization", a);
            }
            let (st, v) = body(req.send().await.unwrap()).await;
            assert_error(st, &v, StatusCode::UNAUTHORIZED, "unauthorized");
            assert!(v["error"].as_str().unwrap().contains(want), "{auth:?}: {v}");
        }
        // A refused request changes nothing: the good key still has its full quota.
        let resp = s
            .http
            .get(s.at("/api/v1/whoami"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["x-ratelimit-remaining"], "99");
        assert!(!key_id.is_empty());
        s.stop().await;
    }
}

#[tokio::test]
async fn another_orgs_ids_answer_404_for_every_object_kind() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let sink = vouch_testkit::WebhookSink::start().await;
        let a = s.org("A").await;
        let b = s.org("B").await;
        let (_, key_a, _) = s.key_with_webhook(&a, &sink.url).await;
        let (_, key_b, _) = s.key(&b, KeySettings::default()).await;
        let (st, v) = body(
            s.http
                .post(s.at("/api/v1/webhooks/test"))
                .bearer_auth(&key_a)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 202, "{v}");
        let event_id = v["eventId"].as_str().unwrap().to_string();
        let (_, list) = body(
            s.http
                .get(s.at("/api/v1/webhooks/deliveries"))
                .bearer_auth(&key_a)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let delivery = list["data"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(list["data"][0]["eventId"], event_id.as_str());
        // Org B sees none of it.
        let (st, v) = body(
            s.http
                .get(s.at(&format!("/api/v1/webhooks/deliveries/{delivery}")))
                .bearer_auth(&key_b)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(st, &v, StatusCode::NOT_FOUND, "not_found");
        let (st, v) = body(
            s.http
                .post(s.at(&format!("/api/v1/webhooks/deliveries/{delivery}/retry")))
                .bearer_auth(&key_b)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_error(st, &v, StatusCode::NOT_FOUND, "not_found");
        let (_, list_b) = body(
            s.http
                .get(s.at("/api/v1/webhooks/deliveries"))
                .bearer_auth(&key_b)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(list_b["data"], json!([]));
        let (_, audit_b) = body(
            s.http
                .get(s.at("/api/v1/audit"))
                .bearer_auth(&key_b)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert!(
            audit_b["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["orgId"] == b.as_str()),
            "{audit_b}"
        );
        // Org A sees its own.
        let (st, _) = body(
            s.http
                .get(s.at(&format!("/api/v1/webhooks/deliveries/{delivery}")))
                .bearer_auth(&key_a)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 200);
        // Credentials and people of A, addressed with B's org, are not found either.
        let key_a_id = s.store.list_api_keys(&a).await.unwrap()[0].id.clone();
        assert!(matches!(
            s.store.api_key(&b, &key_a_id).await,
            Err(vouch_core::Error::NotFound(_))
        ));
        let person = s
            .store
            .create_person(&a, None, &Default::default())
            .await
            .unwrap();
        assert!(matches!(
            s.store.person(&b, &person.id).await,
            Err(vouch_core::Error::NotFound(_))
        ));
        s.stop().await;
    }
}

#[tokio::test]
async fn the_bad_input_table_gets_clear_errors_and_changes_nothing() {
    for db in TestDb::all().await {
        let mut cfg = test_config();
        cfg.body_limit = 4096;
        let s = TestServer::start(db, cfg).await;
        let org = s.org("Acme").await;
        let (_, key, _) = s
            .key(
                &org,
                KeySettings {
                    webhook_url: Some("https://example.com/hook".into()),
                    ..Default::default()
                },
            )
            .await;
        let put = || {
            s.http
                .put(s.at("/api/v1/webhooks/endpoint"))
                .bearer_auth(&key)
        };
        let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
            (
                put()
                    .header("content-type", "application/json")
                    .body("{\"url\": "),
                StatusCode::BAD_REQUEST,
                "malformed_json",
            ),
            (
                put()
                    .header("content-type", "application/json")
                    .body("[1,2]"),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                put()
                    .header("content-type", "application/json")
                    .body("{\"url\": 5}"),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                put()
                    .header("content-type", "text/plain")
                    .body("{\"url\": null}"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                put().body("{\"url\": null}"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            ),
            (
                put().json(&json!({"url": "ftp://example.com/x"})),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                put().json(&json!({"url": "javascript:alert(1)"})),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                put().json(&json!({"url": format!("https://example.com/{}", "a".repeat(3000))})),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                put().json(&json!({"url": format!("https://example.com/{}", "a".repeat(5000))})),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                put()
                    .header("content-type", "application/json")
                    .body(reqwest::Body::wrap_stream(futures_stream(vec![
                        b'a';
                        10_000
                    ]))),
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
            ),
            (
                s.http
                    .get(s.at("/api/v1/webhooks/deliveries?limit=0"))
                    .bearer_auth(&key),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                s.http
                    .get(s.at("/api/v1/webhooks/deliveries?limit=abc"))
                    .bearer_auth(&key),
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                s.http
                    .get(s.at("/api/v1/webhooks/deliveries/dlv_nope"))
                    .bearer_auth(&key),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                s.http.get(s.at("/api/v1/nope")).bearer_auth(&key),
                StatusCode::NOT_FOUND,
                "not_found",
            ),
            (
                s.http.delete(s.at("/api/v1/whoami")).bearer_auth(&key),
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
            ),
        ];
        let audit_before = s.store.list_audit(&org, 100).await.unwrap().len();
        for (i, (req, want, code)) in cases.into_iter().enumerate() {
            let resp = req.send().await.unwrap();
            assert_eq!(
                resp.headers()["content-type"],
                "application/json",
                "case {i}"
            );
            let (st, v) = body(resp).await;
            assert_error(st, &v, want, code);
            let key_now = s.store.list_api_keys(&org).await.unwrap().remove(0);
            assert_eq!(
                key_now.settings.webhook_url.as_deref(),
                Some("https://example.com/hook"),
                "case {i} changed state"
            );
        }
        assert_eq!(
            s.store.list_audit(&org, 100).await.unwrap().len(),
            audit_before
        );
        // The good request does change it, and is audited with its request id.
        let resp = put()
            .header("x-request-id", "req-test-42")
            .json(&json!({"url": "https://example.org/new"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["x-request-id"], "req-test-42");
        assert_eq!(resp.status(), 200);
        let audit = s.store.list_audit(&org, 1).await.unwrap().remove(0);
        assert_eq!(audit.action, "api_key.webhook_updated");
        assert_eq!(audit.request_id.as_deref(), Some("req-test-42"));
        assert!(audit.actor.starts_with("api_key:"));
        s.stop().await;
    }
}

fn futures_stream(
    data: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    // No Content-Length: the body is cut off by the extractor, not the header check.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        data.chunks(1000).map(|c| Ok(c.to_vec())).collect();
    tokio_stream::iter(chunks)
}

#[tokio::test]
async fn rate_limits_count_every_request_and_answer_429() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let org = s.org("Acme").await;
        let (_, key, _) = s
            .key(
                &org,
                KeySettings {
                    rate_limit: 5,
                    ..Default::default()
                },
            )
            .await;
        // Stay clear of a window boundary.
        let ms = vouch_core::now_millis().rem_euclid(60_000);
        if ms > 55_000 {
            tokio::time::sleep(Duration::from_millis((60_500 - ms) as u64)).await;
        }
        for i in 0..5 {
            let resp = s
                .http
                .get(s.at("/api/v1/whoami"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(resp.headers()["x-ratelimit-limit"], "5");
            assert_eq!(
                resp.headers()["x-ratelimit-remaining"],
                (4 - i).to_string().as_str()
            );
            let reset: i64 = resp.headers()["x-ratelimit-reset"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                reset > vouch_core::now_millis() / 1000
                    && reset <= vouch_core::now_millis() / 1000 + 60
            );
        }
        let resp = s
            .http
            .get(s.at("/api/v1/webhooks/deliveries"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        let retry_after: i64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry_after));
        assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
        let (st, v) = body(resp).await;
        assert_error(st, &v, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        // Another key of the same org has its own budget.
        let (_, other, _) = s
            .key(
                &org,
                KeySettings {
                    rate_limit: 5,
                    ..Default::default()
                },
            )
            .await;
        assert_eq!(
            s.http
                .get(s.at("/api/v1/whoami"))
                .bearer_auth(&other)
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        s.stop().await;
    }
}

#[tokio::test]
async fn oauth_client_credentials_issue_bearer_tokens() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let org = s.org("Acme").await;
        let audit = vouch_core::model::AuditRecord::new(
            None,
            vouch_core::model::Actor::Cli,
            "oauth_client.created",
        );
        let (client, secret) = s
            .store
            .create_oauth_client(&org, "phone", audit)
            .await
            .unwrap();
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client.id.as_str()),
            ("client_secret", secret.as_str()),
        ];
        let (st, v) = body(
            s.http
                .post(s.at("/token"))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(v["expires_in"], 3600);
        let token = v["access_token"].as_str().unwrap().to_string();
        let (st, who) = body(
            s.http
                .get(s.at("/api/v1/whoami"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 200);
        assert_eq!(who["kind"], "oauth_client");
        assert_eq!(who["orgId"], org.as_str());
        // HTTP Basic works too.
        let (st, _) = body(
            s.http
                .post(s.at("/token"))
                .basic_auth(client.id.as_str(), Some(&secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 200);
        // Wrong secret, unknown client, wrong grant, wrong content type.
        for (form, want, code) in [
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", client.id.as_str()),
                    ("client_secret", "vcs_wrong"),
                ],
                401,
                "invalid_client",
            ),
            (
                vec![
                    ("grant_type", "client_credentials"),
                    ("client_id", "cli_nope"),
                    ("client_secret", secret.as_str()),
                ],
                401,
                "invalid_client",
            ),
            (
                vec![
                    ("grant_type", "password"),
                    ("client_id", client.id.as_str()),
                    ("client_secret", secret.as_str()),
                ],
                400,
                "unsupported_grant_type",
            ),
            (
                vec![("client_id", client.id.as_str())],
                400,
                "invalid_request",
            ),
        ] {
            let (st, v) = body(
                s.http
                    .post(s.at("/token"))
                    .form(&form)
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(st.as_u16(), want, "{v}");
            assert_eq!(v["error"], code, "{v}");
            assert_eq!(v["code"], want, "{v}");
            assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
        let (st, _) = body(
            s.http
                .post(s.at("/token"))
                .json(&json!({"grant_type": "client_credentials"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 415);
        // Revoking the client kills its tokens.
        s.store
            .revoke_oauth_client(
                &org,
                &client.id,
                vouch_core::model::AuditRecord::new(
                    None,
                    vouch_core::model::Actor::Cli,
                    "oauth_client.revoked",
                ),
            )
            .await
            .unwrap();
        let (st, _) = body(
            s.http
                .get(s.at("/api/v1/whoami"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(st, 401);
        s.stop().await;
    }
}

#[tokio::test]
async fn service_tokens_authenticate_with_scope_presence() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = s.org("Acme").await;
    let audit = vouch_core::model::AuditRecord::new(
        None,
        vouch_core::model::Actor::Cli,
        "service_token.created",
    );
    let (token, secret) = s
        .store
        .create_service_token(&org, "agent", "presence", audit)
        .await
        .unwrap();
    assert_eq!(token.scope, "presence");
    let (st, who) = body(
        s.http
            .get(s.at("/api/v1/whoami"))
            .header("x-api-key", &secret)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(who["kind"], "service_token");
    assert_eq!(who["keyId"], token.id.as_str());
    // Key-only endpoints refuse other credential kinds.
    let (st, v) = body(
        s.http
            .post(s.at("/api/v1/webhooks/test"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(st, &v, StatusCode::FORBIDDEN, "forbidden");
    s.stop().await;
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let (st, v) = body(s.http.get(s.at("/healthz")).send().await.unwrap()).await;
    assert_eq!((st.as_u16(), v["status"].as_str()), (200, Some("ok")));
    let (st, v) = body(s.http.get(s.at("/readyz")).send().await.unwrap()).await;
    assert_eq!(
        (st.as_u16(), v["checks"]["database"].as_str()),
        (200, Some("ok"))
    );
    // This server has no models: ready for traffic, and it says which capability is down.
    assert_eq!(v["checks"]["models"], "missing", "{v}");
    assert_eq!(v["status"], "degraded", "{v}");
    let resp = s.http.get(s.at("/healthz")).send().await.unwrap();
    assert!(uuid_like(resp.headers()["x-request-id"].to_str().unwrap()));
    let _ = s.http.get(s.at("/nope")).send().await.unwrap();
    let metrics = s
        .http
        .get(s.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains(r#"vouch_http_requests_total{method="GET",route="/healthz",status="200"} 2"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="unmatched",status="404""#));
    assert!(metrics.contains("vouch_webhook_queue_depth 0"));
    assert!(metrics.contains("vouch_http_request_duration_seconds_bucket"));
    // Readiness follows the database.
    s.store.close().await;
    let (st, v) = body(s.http.get(s.at("/readyz")).send().await.unwrap()).await;
    assert_error(st, &v, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    s.stop().await;
}

/// `GET /` is a page for a person who just started the server: what it is, whether the
/// database and models are ready, and where the console, the API reference and the
/// health endpoints are.
#[tokio::test]
async fn the_front_page_says_what_this_is_and_where_to_go() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let resp = s.http.get(s.at("/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    let html = resp.text().await.unwrap();
    assert!(html.contains(&format!(
        "<span id=\"version\">{}</span>",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(
        html.contains("<td id=\"status-database\">ready</td>"),
        "{html}"
    );
    assert!(
        html.contains("<td id=\"status-models\">not installed</td>"),
        "{html}"
    );
    assert!(html.contains("id=\"models-help\""));
    for link in [
        "/admin",
        "/docs/",
        "/openapi.json",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(html.contains(&format!("href=\"{link}\"")), "{link}");
        let st = s.http.get(s.at(link)).send().await.unwrap().status();
        assert!(st.is_success() || st.is_redirection(), "{link}: {st}");
    }
    // Only GET: other methods get the JSON 405 of every route.
    let st = s.http.post(s.at("/")).send().await.unwrap().status();
    assert_eq!(st, 405);
    s.stop().await;
}

/// `/docs` is the API reference: Swagger UI over `/openapi.json`, served from the binary
/// with nothing loaded from another origin, and the document it reads has the dialects as
/// sections and their security schemes.
#[tokio::test]
async fn the_api_reference_is_served_from_the_binary() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let resp = s.http.get(s.at("/docs/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Every script and stylesheet is relative: the page works without the internet.
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let url = &html[i + attr.len()..];
            assert!(
                !url.starts_with("http") && !url.starts_with("//"),
                "{}",
                &url[..url.len().min(80)]
            );
        }
    }
    let js = s
        .http
        .get(s.at("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.bytes().await.unwrap().len() > 100_000);
    let init = s
        .http
        .get(s.at("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
    let (st, doc) = body(s.http.get(s.at("/openapi.json")).send().await.unwrap()).await;
    assert_eq!(st, 200);
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    for dialect in ["kyc", "identity", "presence", "phone", "ory"] {
        assert!(tags.contains(&dialect), "{tags:?}");
    }
    // A path outside the reference is still the JSON 404 of every route.
    let st = s
        .http
        .get(s.at("/docs/nope.js"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, 404);
    s.stop().await;
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn the_openapi_document_covers_every_route() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let doc: Value = s
        .http
        .get(s.at("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/token",
        "/api/v1/whoami",
        "/api/v1/webhooks/test",
        "/api/v1/webhooks/endpoint",
        "/api/v1/webhooks/deliveries",
        "/api/v1/webhooks/deliveries/{id}",
        "/api/v1/webhooks/deliveries/{id}/retry",
        "/api/v1/audit",
    ];
    for p in expected {
        assert!(paths.contains_key(p), "missing {p}");
    }
    // Every documented path and method is routed (no "No such route", no 405).
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let url = s.at(&path.replace("{id}", "x"));
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = s.http.request(m, url).send().await.unwrap();
            let st = resp.status();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            assert_ne!(st, 405, "{method} {path}");
            assert!(
                !(st == 404 && v["error"] == "No such route"),
                "{method} {path} is documented but not routed"
            );
        }
    }
    s.stop().await;
}

/// Regression: the query parameters of six listings were documented `in: path`, so
/// clients generated from the document (and schemathesis) never sent them; and the
/// shared errors (401, 400 of the extractors, 404 of ids) were missing from most
/// operations. Found by tests/apifuzz.
#[tokio::test]
async fn the_openapi_document_places_parameters_and_shared_errors_right() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let doc: Value = s
        .http
        .get(s.at("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let at = format!("{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap();
                let templated = path.contains(&format!("{{{name}}}"));
                assert_eq!(p["in"] == "path", templated, "{at}: parameter {name}");
                if templated {
                    assert!(responses.contains_key("404"), "{at}: 404 for {name}");
                }
            }
            let security = op["security"].as_array().into_iter().flatten();
            for requirement in security {
                for scheme in requirement.as_object().unwrap().keys() {
                    assert!(schemes.contains_key(scheme), "{at}: scheme {scheme}");
                }
                assert!(responses.contains_key("401"), "{at}: 401");
            }
            if op["requestBody"]["content"]
                .as_object()
                .is_some_and(|c| c.contains_key("application/json"))
            {
                // The Ory hooks read any body as the JSON Kratos sends: no 415. The
                // vendor browser SDK's device API answers refused input in its 200
                // envelope: only 413.
                let statuses: &[&str] =
                    if path.starts_with("/hooks/ory/") || path.starts_with("/prove/") {
                        &["400", "413"]
                    } else if path.starts_with("/v1/client/") {
                        &["413"]
                    } else {
                        &["400", "413", "415"]
                    };
                for status in statuses {
                    assert!(responses.contains_key(*status), "{at}: {status}");
                }
            }
        }
    }
    let list = &doc["paths"]["/api/v1/verify"]["get"]["parameters"];
    let names: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["name"])
        .collect();
    assert!(names.contains(&&json!("limit")) && names.contains(&&json!("status")));
    assert!(doc["paths"]["/api/v1/verify"]["get"]["responses"]["400"].is_object());
    // The shared errors carry the dialect's body: vouch's own, or the phone API's.
    let v3 = &doc["paths"]["/v3/start"]["post"]["responses"]["401"];
    assert_eq!(
        v3["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ProveErrorBody"
    );
    let kyc = &doc["paths"]["/api/v1/verify"]["post"]["responses"]["415"];
    assert_eq!(
        kyc["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    // A query parameter the document now advertises is honoured.
    let org = s.org("Acme").await;
    let (_, secret, _) = s.key(&org, KeySettings::default()).await;
    let (st, v) = body(
        s.http
            .get(s.at("/api/v1/verify?limit=1000"))
            .header("x-api-key", &secret)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(st, &v, StatusCode::BAD_REQUEST, "invalid_request");
    s.stop().await;
}

#[tokio::test]
async fn panics_become_500_json_and_shutdown_finishes_in_flight_requests() {
    use axum::routing::get;
    let store = std::sync::Arc::new(TestDb::sqlite().open().await);
    let state = vouch_server::AppState::new(store, test_config());
    let extra = axum::Router::new()
        .route(
            "/test/panic",
            get(|| async {
                if true {
                    panic!("boom")
                } else {
                    ""
                }
            }),
        )
        .route(
            "/test/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(700)).await;
                "done"
            }),
        );
    let app = vouch_server::app_with(state, extra);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|v| *v).await;
            })
            .await
    });
    let http = reqwest::Client::new();
    let (st, v) = body(
        http.get(format!("http://{addr}/test/panic"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_error(st, &v, StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    assert!(
        !v.to_string().contains("boom"),
        "panic detail must not leak"
    );
    let slow = tokio::spawn({
        let http = http.clone();
        async move {
            http.get(format!("http://{addr}/test/slow"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    tx.send(true).unwrap();
    assert_eq!(slow.await.unwrap(), "done");
    server.await.unwrap().unwrap();
    assert!(
        http.get(format!("http://{addr}/healthz"))
            .send()
            .await
            .is_err(),
        "closed after shutdown"
    );
}

//! The webhook outbox end to end: signatures, retries, 410, dead letters, timeouts,
//! SSRF refusal; on SQLite and (when configured) PostgreSQL.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use serde_json::{json, Value};
use std::time::Duration;
use vouch_core::webhook::verify_standard;
use vouch_testkit::{eventually, test_config, TestDb, TestServer, WebhookSink};

const WAIT: Duration = Duration::from_secs(15);

async fn send_test(s: &TestServer, key: &str) -> String {
    let resp = s
        .http
        .post(s.at("/api/v1/webhooks/test"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    resp.json::<Value>().await.unwrap()["eventId"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn delivery(s: &TestServer, key: &str) -> (Value, Vec<Value>) {
    let list: Value = s
        .http
        .get(s.at("/api/v1/webhooks/deliveries"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list["data"][0]["id"].as_str().unwrap().to_string();
    let v: Value = s
        .http
        .get(s.at(&format!("/api/v1/webhooks/deliveries/{id}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        v["delivery"].clone(),
        v["attempts"].as_array().unwrap().clone(),
    )
}

/// The attempts of the newest delivery whose URL satisfies `pred`, once it has any.
async fn attempts_where(
    s: &TestServer,
    key: &str,
    pred: impl Fn(&str) -> bool,
) -> Option<Vec<Value>> {
    let list: Value = s
        .http
        .get(s.at("/api/v1/webhooks/deliveries?limit=10"))
        .bearer_auth(key)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let d = list["data"]
        .as_array()?
        .iter()
        .find(|d| d["url"].as_str().is_some_and(&pred))?
        .clone();
    let id = d["id"].as_str()?;
    let v: Value = s
        .http
        .get(s.at(&format!("/api/v1/webhooks/deliveries/{id}")))
        .bearer_auth(key)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    let a = v["attempts"].as_array()?.clone();
    (!a.is_empty()).then_some(a)
}

async fn wait_status(s: &TestServer, key: &str, status: &str) -> (Value, Vec<Value>) {
    eventually(WAIT, status, || async {
        let (d, a) = delivery(s, key).await;
        (d["status"] == status).then_some((d, a))
    })
    .await
}

#[tokio::test]
async fn deliveries_carry_standard_webhooks_and_kyc_signatures() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let sink = WebhookSink::start().await;
        let org = s.org("Acme").await;
        let (_, key, secret) = s.key_with_webhook(&org, &sink.url).await;
        let event_id = send_test(&s, &key).await;
        let got = sink.wait_for(1, WAIT).await;
        let r = &got[0];
        assert_eq!(r.header("webhook-id"), event_id);
        assert_eq!(r.header("content-type"), "application/json");
        let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
        let now = vouch_core::now_millis() / 1000;
        assert!(verify_standard(
            &secret,
            &event_id,
            ts,
            &r.body,
            &r.header("webhook-signature"),
            now,
            300
        ));
        assert!(!verify_standard(
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            &event_id,
            ts,
            &r.body,
            &r.header("webhook-signature"),
            now,
            300
        ));
        let payload = r.kyc_json(&secret);
        assert_eq!(payload["event"], "webhook.test");
        let (d, attempts) = wait_status(&s, &key, "delivered").await;
        assert_eq!(d["attempts"], 1);
        assert_eq!(attempts[0]["statusCode"], 200);
        assert_eq!(attempts[0]["responseExcerpt"], "ok");
        assert!(attempts[0]["latencyMs"].as_i64().unwrap() >= 0);
        s.stop().await;
    }
}

#[tokio::test]
async fn failures_are_retried_with_the_same_webhook_id() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let sink = WebhookSink::start().await;
        sink.script(&[(500, Duration::ZERO), (503, Duration::ZERO)]);
        let org = s.org("Acme").await;
        let (_, key, _) = s.key_with_webhook(&org, &sink.url).await;
        let event_id = send_test(&s, &key).await;
        let (d, attempts) = wait_status(&s, &key, "delivered").await;
        let got = sink.received();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|r| r.header("webhook-id") == event_id));
        let statuses: Vec<i64> = attempts
            .iter()
            .map(|a| a["statusCode"].as_i64().unwrap())
            .collect();
        assert_eq!(statuses, vec![500, 503, 200]);
        assert_eq!(d["attempts"], 3);
        s.stop().await;
    }
}

#[tokio::test]
async fn a_410_disables_the_endpoint_until_it_is_set_again() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let sink = WebhookSink::start().await;
        sink.script(&[(410, Duration::ZERO)]);
        let org = s.org("Acme").await;
        let (_, key, _) = s.key_with_webhook(&org, &sink.url).await;
        send_test(&s, &key).await;
        let (_, attempts) = wait_status(&s, &key, "disabled").await;
        assert_eq!(attempts.len(), 1);
        let resp = s
            .http
            .post(s.at("/api/v1/webhooks/test"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 409);
        assert_eq!(
            resp.json::<Value>().await.unwrap()["code"],
            "webhook_disabled"
        );
        let ep: Value = s
            .http
            .get(s.at("/api/v1/webhooks/endpoint"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(ep["disabledAt"].is_string());
        let resp = s
            .http
            .put(s.at("/api/v1/webhooks/endpoint"))
            .bearer_auth(&key)
            .json(&json!({"url": sink.url}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        send_test(&s, &key).await;
        wait_status(&s, &key, "delivered").await;
        s.stop().await;
    }
}

#[tokio::test]
async fn undeliverable_events_are_dead_lettered_and_can_be_retried() {
    let mut cfg = test_config();
    cfg.retry.max_age_ms = 700;
    let s = TestServer::start(TestDb::sqlite(), cfg).await;
    let sink = WebhookSink::start().await;
    sink.script(&[(500, Duration::ZERO); 50]);
    let org = s.org("Acme").await;
    let (_, key, _) = s.key_with_webhook(&org, &sink.url).await;
    send_test(&s, &key).await;
    let (d, attempts) = wait_status(&s, &key, "dead").await;
    assert!(
        attempts.len() >= 2,
        "retried before giving up: {attempts:?}"
    );
    assert_eq!(attempts.len() as i64, d["attempts"].as_i64().unwrap());
    let before = sink.received().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sink.received().len(),
        before,
        "a dead delivery is not sent again"
    );
    sink.script(&[]);
    // Drain the scripted 500s so that the retry is answered 200.
    let id = d["id"].as_str().unwrap();
    while sink.received().len() < 50 {
        let _ = reqwest::Client::new()
            .post(&sink.url)
            .body("{}")
            .send()
            .await;
    }
    let resp = s
        .http
        .post(s.at(&format!("/api/v1/webhooks/deliveries/{id}/retry")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    wait_status(&s, &key, "delivered").await;
    let again = s
        .http
        .post(s.at(&format!("/api/v1/webhooks/deliveries/{id}/retry")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        409,
        "a delivered delivery cannot be retried"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_hanging_receiver_times_out_without_blocking_others() {
    let mut cfg = test_config();
    cfg.webhook_timeout = Duration::from_millis(600);
    let s = TestServer::start(TestDb::sqlite(), cfg).await;
    let slow = WebhookSink::start().await;
    slow.script(&[(200, Duration::from_secs(5))]);
    let fast = WebhookSink::start().await;
    let org = s.org("Acme").await;
    let (_, slow_key, _) = s.key_with_webhook(&org, &slow.url).await;
    let (_, fast_key, _) = s.key_with_webhook(&org, &fast.url).await;
    send_test(&s, &slow_key).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    send_test(&s, &fast_key).await;
    fast.wait_for(1, WAIT).await;
    assert!(
        started.elapsed() < Duration::from_millis(2000),
        "fast receiver waited {:?}",
        started.elapsed()
    );
    let attempts = eventually(WAIT, "timeout recorded", || {
        attempts_where(&s, &slow_key, |url| url == slow.url)
    })
    .await;
    assert!(
        attempts[0]["error"].as_str().unwrap().contains("timed out"),
        "{attempts:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let mut cfg = test_config();
    cfg.allow_private_webhooks = false;
    let s = TestServer::start(TestDb::sqlite(), cfg).await;
    let sink = WebhookSink::start().await;
    let org = s.org("Acme").await;
    let (_, key, _) = s.key_with_webhook(&org, &sink.url).await;
    send_test(&s, &key).await;
    let (_, attempts) = wait_status(&s, &key, "dead").await;
    assert!(
        attempts[0]["error"].as_str().unwrap().contains("private"),
        "{attempts:?}"
    );
    // A name that resolves to loopback is refused too (checked after DNS resolution).
    let port = sink
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let resp = s
        .http
        .put(s.at("/api/v1/webhooks/endpoint"))
        .bearer_auth(&key)
        .json(&json!({"url": format!("http://localhost:{port}/hook")}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    send_test(&s, &key).await;
    let attempts = eventually(WAIT, "second attempt", || {
        attempts_where(&s, &key, |url| url.contains("localhost"))
    })
    .await;
    assert!(
        attempts[0]["error"].as_str().unwrap().contains("private"),
        "{attempts:?}"
    );
    assert!(
        sink.received().is_empty(),
        "nothing may reach a private address"
    );
    s.stop().await;
}

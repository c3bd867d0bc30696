//! The Ory Kratos hooks over HTTP: authentication by the shared secret (which also picks
//! the organisation), Kratos's interrupt payload on every refusal, prefill on a good
//! line, enrolment idempotence, validation after a change event. The Kratos admin API
//! and the jsonnet templates are exercised end to end by tests/ory/run.sh.

use reqwest::StatusCode;
use serde_json::{json, Value};
use vouch_testkit::{test_config, TestDb, TestServer};

const SECRET: &str = "kratos-hook-secret-0123456789";
const KRATOS_ID: &str = "7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f";

async fn server() -> (TestServer, vouch_core::ids::OrgId) {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = s.org("Acme").await;
    // Kratos is not running: enrolment queues its patch, which is retried later.
    s.store
        .configure_ory(
            &org,
            SECRET,
            "http://127.0.0.1:9",
            Some("ory_pat_x"),
            false,
            false,
        )
        .await
        .expect("configure");
    (s, org)
}

async fn hook(
    s: &TestServer,
    path: &str,
    secret: Option<(&str, &str)>,
    body: Value,
) -> (StatusCode, Value) {
    let mut req = s.http.post(s.at(path)).json(&body);
    if let Some((name, value)) = secret {
        req = req.header(name, value);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Kratos decodes `{"messages": [{"instance_ptr", "messages": [{id, text, type, context}]}]}`.
fn interrupt_reason(v: &Value) -> String {
    let outer = &v["messages"][0];
    assert!(outer["instance_ptr"].is_string(), "{v}");
    let m = &outer["messages"][0];
    assert!(m["id"].as_u64().is_some_and(|id| id >= 4_100_000), "{v}");
    assert!(m["text"].as_str().is_some_and(|t| t.len() > 10), "{v}");
    assert_eq!(m["type"], "error", "{v}");
    m["context"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn header() -> Option<(&'static str, &'static str)> {
    Some(("x-webhook-secret", SECRET))
}

#[tokio::test]
async fn a_wrong_or_missing_secret_is_refused_and_changes_nothing() {
    let (s, org) = server().await;
    let body = json!({"identity_id": KRATOS_ID, "phone_number": "+12015550100"});
    for path in [
        "/hooks/ory/enroll",
        "/prove/enroll",
        "/hooks/ory/lookup",
        "/prove/validate",
    ] {
        let (st, _) = hook(&s, path, None, body.clone()).await;
        assert_eq!(st, 401, "{path}");
        let (st, _) = hook(
            &s,
            path,
            Some(("x-webhook-secret", "kratos-hook-secret-wrong")),
            body.clone(),
        )
        .await;
        assert_eq!(st, 401, "{path}");
    }
    assert!(s
        .store
        .phone_identities_by_customer(&org, KRATOS_ID)
        .await
        .expect("list")
        .is_empty());
    // Bearer works like X-Webhook-Secret, on the spec's paths too.
    let auth = format!("Bearer {SECRET}");
    let (st, v) = hook(&s, "/prove/enroll", Some(("authorization", &auth)), body).await;
    assert_eq!(st, 200, "{v}");
    s.stop().await;
}

#[tokio::test]
async fn lookup_prefills_a_good_line_and_interrupts_a_risky_one() {
    let (s, _) = server().await;
    let traits = json!({"email": "a@example.com", "phone": "+12015550100", "name": {"first": "", "last": ""}});
    let (st, v) = hook(
        &s,
        "/hooks/ory/lookup",
        header(),
        json!({"phone_number": "+12015550100", "traits": traits, "metadata_public": {"plan": "pro"}}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let id = &v["identity"];
    assert_eq!(id["traits"]["email"], "a@example.com", "{v}");
    assert_eq!(id["traits"]["phone"], "+12015550100", "{v}");
    assert_eq!(id["traits"]["name"]["first"], "Avery", "{v}");
    assert_eq!(id["traits"]["name"]["last"], "Quinn", "{v}");
    assert_eq!(id["metadata_public"]["plan"], "pro", "kept: {v}");
    assert_eq!(id["metadata_public"]["vouch"]["phoneChecked"], true, "{v}");
    // Keys the schema does not have are never added to the traits.
    let (_, v) = hook(
        &s,
        "/hooks/ory/lookup",
        header(),
        json!({"phone_number": "+12015550100", "traits": {"phone": "+12015550100"}}),
    )
    .await;
    assert_eq!(
        v["identity"]["traits"],
        json!({"phone": "+12015550100"}),
        "{v}"
    );

    for (number, reason) in [
        ("+12015550102", "sim_swap"),
        ("+12015550104", "disconnected"),
        ("+12015550106", "low_trust"),
    ] {
        let (st, v) = hook(
            &s,
            "/prove/lookup",
            header(),
            json!({"phone_number": number}),
        )
        .await;
        assert_eq!(st, 403, "{number}: {v}");
        assert_eq!(interrupt_reason(&v), reason, "{number}");
        assert_eq!(v["messages"][0]["instance_ptr"], "#/traits/phone");
    }
    s.stop().await;
}

#[tokio::test]
async fn bad_bodies_get_clear_interrupts() {
    let (s, org) = server().await;
    let (st, v) = hook(&s, "/hooks/ory/lookup", header(), json!({"traits": {}})).await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(interrupt_reason(&v), "phone_missing");
    let (st, v) = hook(
        &s,
        "/hooks/ory/lookup",
        header(),
        json!({"phone_number": "12ab"}),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(interrupt_reason(&v), "phone_missing");
    let resp = s
        .http
        .post(s.at("/hooks/ory/validate"))
        .header("x-webhook-secret", SECRET)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(interrupt_reason(&v), "malformed_body");
    for id in [Value::Null, json!("../../admin"), json!("not-a-uuid")] {
        let (st, v) = hook(
            &s,
            "/hooks/ory/enroll",
            header(),
            json!({"identity_id": id, "phone_number": "+12015550100"}),
        )
        .await;
        assert_eq!(st, 400, "{v}");
        assert_eq!(interrupt_reason(&v), "identity_missing");
    }
    assert!(s
        .store
        .phone_identities_by_number(&org, "+12015550100")
        .await
        .expect("list")
        .is_empty());
    s.stop().await;
}

#[tokio::test]
async fn enrolment_is_idempotent_and_validation_follows_the_number() {
    let (s, org) = server().await;
    let body = json!({"identity_id": KRATOS_ID, "phone_number": "+12015550100"});
    let (st, first) = hook(&s, "/hooks/ory/enroll", header(), body.clone()).await;
    assert_eq!(st, 200, "{first}");
    assert_eq!(first["identityId"], first["proveId"]);
    let (_, again) = hook(&s, "/hooks/ory/enroll", header(), body.clone()).await;
    assert_eq!(again["identityId"], first["identityId"], "never duplicated");
    assert_eq!(
        s.store
            .phone_identities_by_customer(&org, KRATOS_ID)
            .await
            .expect("list")
            .len(),
        1
    );

    let (st, _) = hook(&s, "/hooks/ory/validate", header(), body.clone()).await;
    assert_eq!(st, 204);
    // Another number on the account, or a person never enrolled: interrupted.
    let (st, v) = hook(
        &s,
        "/hooks/ory/validate",
        header(),
        json!({"identity_id": KRATOS_ID, "phone_number": "+12015550101"}),
    )
    .await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(interrupt_reason(&v), "number_changed");
    let (st, v) = hook(
        &s,
        "/hooks/ory/validate",
        header(),
        json!({"identity_id": "00000000-0000-4000-8000-000000000000", "phone_number": "+12015550100"}),
    )
    .await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(interrupt_reason(&v), "not_enrolled");
    // The network reports a change: sign-in stops.
    let resp = s
        .http
        .post(s.at("/dev/phone-events"))
        .json(&json!({"phoneNumber": "+12015550100", "eventType": "PHONE_NUMBER_CHANGE"}))
        .send()
        .await
        .expect("event");
    assert_eq!(resp.status(), 200);
    let (st, v) = hook(&s, "/hooks/ory/validate", header(), body).await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(interrupt_reason(&v), "number_changed");
    // Every answer is counted.
    let metrics = s
        .http
        .get(s.at("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains(
            "vouch_ory_hook_answers_total{hook=\"validate\",outcome=\"number_changed\"} 2"
        ),
        "{metrics}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_secret_belongs_to_one_organisation() {
    let (s, _) = server().await;
    let other = s.org("Globex").await;
    let err = s
        .store
        .configure_ory(&other, SECRET, "http://127.0.0.1:9", None, false, false)
        .await
        .expect_err("taken");
    assert!(err.to_string().contains("another organisation"), "{err}");
    let err = s
        .store
        .configure_ory(&other, "short", "http://127.0.0.1:9", None, false, false)
        .await
        .expect_err("short");
    assert!(err.to_string().contains("16"), "{err}");
    s.stop().await;
}

/// Regression: the enroll hook called the phone API's handler, so a store failure inside
/// a Kratos hook was answered in the phone API's `{"code": 8000}` shape, which Kratos
/// cannot show; it is a Kratos interrupt now (fail closed), and nothing is enrolled.
#[tokio::test]
async fn the_enroll_hook_answers_a_store_failure_with_a_kratos_interrupt() {
    let (s, org) = server().await;
    s.db.execute("ALTER TABLE phone_identities RENAME TO phone_identities_broken")
        .await;
    let body = json!({"identity_id": KRATOS_ID, "phone_number": "+12015550100"});
    let (st, v) = hook(&s, "/hooks/ory/enroll", header(), body).await;
    assert_eq!(st, 422, "{v}");
    assert!(v.get("code").is_none(), "not the phone API's shape: {v}");
    assert_eq!(interrupt_reason(&v), "verification_unavailable");
    s.db.execute("ALTER TABLE phone_identities_broken RENAME TO phone_identities")
        .await;
    assert!(s
        .store
        .phone_identities_by_customer(&org, KRATOS_ID)
        .await
        .expect("list")
        .is_empty());
    s.stop().await;
}

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
            "/hooks/ory/lookup",
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

/// The community Prove integration (`ory/integrates`, the hooks spec's own source) at the
/// spec's `/prove/*`: its bodies (`kratos_identity_id`, `phone_number`,
/// `prove_identity_id`) as its jsonnet templates render them, answered in its shapes.
/// Rendered through go-jsonnet against a Kratos admin double in tests/ory/run.sh.
#[tokio::test]
async fn the_community_integration_s_bodies_are_answered_in_its_shapes() {
    let (s, org) = server().await;
    // Lookup before anyone enrolled the number: not_found, registration goes on.
    let (st, v) = hook(
        &s,
        "/prove/lookup",
        header(),
        json!({"phone_number": "+12015550100"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["identity"]["metadata_public"]["prove_identity_status"],
        "not_found"
    );
    assert!(v["identity"]["metadata_public"]["prove_lookup_timestamp"].is_string());
    let (st, v) = hook(&s, "/prove/lookup", header(), json!({"phone_number": ""})).await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["error"], "phone_number is required");
    let (st, v) = hook(&s, "/prove/lookup", header(), json!({"phone_number": "12"})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["identity"]["metadata_public"]["prove_identity_status"],
        "lookup_error"
    );
    assert!(v["identity"]["metadata_admin"]["prove_error_message"].is_string());
    // A risky line is refused at registration (vouch is stricter than the integration).
    let (st, v) = hook(
        &s,
        "/prove/lookup",
        header(),
        json!({"phone_number": "+12015550102"}),
    )
    .await;
    assert_eq!(st, 403, "{v}");
    assert_eq!(v["messages"][0]["context"]["reason"], "sim_swap");
    assert_eq!(interrupt_reason(&v), "sim_swap");

    // Enrolment: {success, prove_identity_id}; the same person again gets the same id.
    let body = json!({"kratos_identity_id": KRATOS_ID, "phone_number": "+12015550100"});
    let (st, first) = hook(&s, "/prove/enroll", header(), body.clone()).await;
    assert_eq!(st, 200, "{first}");
    assert_eq!(first["success"], true, "{first}");
    let prove_id = first["prove_identity_id"].as_str().expect("id").to_string();
    let (_, again) = hook(&s, "/prove/enroll", header(), body).await;
    assert_eq!(again["prove_identity_id"], prove_id.as_str());
    let enrolled = s
        .store
        .phone_identities_by_customer(&org, KRATOS_ID)
        .await
        .expect("list");
    assert_eq!(enrolled.len(), 1);
    for bad in [
        json!({"phone_number": "+12015550100"}),
        json!({"kratos_identity_id": KRATOS_ID, "phone_number": ""}),
    ] {
        let (st, v) = hook(&s, "/prove/enroll", header(), bad).await;
        assert_eq!(st, 400, "{v}");
        assert_eq!(
            v["error"],
            "kratos_identity_id and phone_number are required"
        );
    }
    let (st, v) = hook(
        &s,
        "/prove/enroll",
        header(),
        json!({"kratos_identity_id": "8f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f", "phone_number": "12"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["success"], false, "{v}");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("phone")),
        "{v}"
    );

    // Lookup now finds the enrolled identity.
    let (st, v) = hook(
        &s,
        "/prove/lookup",
        header(),
        json!({"phone_number": "+12015550100"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let public = &v["identity"]["metadata_public"];
    assert_eq!(public["prove_identity_status"], "verified", "{v}");
    assert_eq!(public["prove_identity_id"], prove_id.as_str());
    assert_eq!(public["prove_phone_number"], "+12015550100");
    assert_eq!(public["prove_is_active"], true);
    assert_eq!(v["identity"]["traits"]["phone_number"], "+12015550100");
    assert_eq!(
        v["identity"]["metadata_admin"]["prove_client_customer_id"],
        KRATOS_ID
    );

    // Validate: not enrolled goes on; the same number is verified; another is refused.
    let validate = |phone: &str, id: Value| json!({"kratos_identity_id": KRATOS_ID, "phone_number": phone, "prove_identity_id": id});
    let (st, v) = hook(
        &s,
        "/prove/validate",
        header(),
        validate("+12015550100", Value::Null),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["identity"]["metadata_public"]["prove_validation_status"],
        "not_enrolled"
    );
    let (st, v) = hook(
        &s,
        "/prove/validate",
        header(),
        validate("+12015550100", json!(prove_id)),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let public = &v["identity"]["metadata_public"];
    assert_eq!(public["prove_validation_status"], "verified", "{v}");
    assert_eq!(public["prove_phone_verified"], "+12015550100");
    assert_eq!(public["prove_identity_id"], prove_id.as_str());
    assert!(v["identity"]["metadata_admin"]["prove_correlation_id"].is_string());
    let (st, v) = hook(
        &s,
        "/prove/validate",
        header(),
        validate("+12015550101", json!(prove_id)),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    let m = &v["messages"][0];
    assert_eq!(m["instance_ptr"], "#/");
    assert_eq!(m["type"], "error");
    assert!(m["message"].is_string());
    assert_eq!(m["context"]["reason"], "phone_number_mismatch");
    assert_eq!(m["context"]["prove_phone"], "+12015550100");
    assert_eq!(m["context"]["registered_phone"], "+12015550101");
    assert_eq!(
        interrupt_reason(&v),
        "phone_number_mismatch",
        "Kratos's own shape too"
    );
    // Another account's Prove id is not this account's.
    let (st, v) = hook(
        &s,
        "/prove/validate",
        header(),
        json!({"kratos_identity_id": "8f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f", "phone_number": "+12015550100", "prove_identity_id": prove_id}),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(interrupt_reason(&v), "identity_mismatch");
    // An unknown Prove id: retrieval_failed (the integration's answer), login goes on.
    let (st, v) = hook(
        &s,
        "/prove/validate",
        header(),
        validate(
            "+12015550100",
            json!("00000000-0000-4000-8000-000000000000"),
        ),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["identity"]["metadata_public"]["prove_validation_status"],
        "retrieval_failed"
    );
    let (st, v) = hook(
        &s,
        "/prove/validate",
        header(),
        json!({"phone_number": "+12015550100"}),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(v["error"], "kratos_identity_id required");
    // The network reports the number changed hands: vouch refuses (stricter than the
    // integration, which only compares numbers).
    let resp = s
        .http
        .post(s.at("/dev/phone-events"))
        .json(&json!({"phoneNumber": "+12015550100", "eventType": "PHONE_NUMBER_CHANGE"}))
        .send()
        .await
        .expect("event");
    assert_eq!(resp.status(), 200);
    let (st, v) = hook(
        &s,
        "/prove/validate",
        header(),
        validate("+12015550100", json!(prove_id)),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    assert_eq!(interrupt_reason(&v), "number_changed");
    // A wrong secret is refused at /prove too, and vouch's own bodies still get vouch's
    // answers there.
    let (st, _) = hook(
        &s,
        "/prove/lookup",
        Some(("x-webhook-secret", "wrong-secret-0123456789")),
        json!({"phone_number": "+12015550100"}),
    )
    .await;
    assert_eq!(st, 401);
    let (st, v) = hook(
        &s,
        "/prove/enroll",
        header(),
        json!({"identity_id": KRATOS_ID, "phone_number": "+12015550100"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert!(v["identityId"].is_string(), "{v}");
    s.stop().await;
}

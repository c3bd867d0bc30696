//! The admin console over real HTTP, without a browser: pages answer the signed-in
//! admin and send everyone else to the sign-in page, every response carries the
//! security headers, forms need the session's CSRF token, keys are shown once, reviews
//! decide sessions and land in the audit log, and other organisations stay invisible.
//!
//! Size (over 800 lines): one test per page or form of the console, sharing the signed-in
//! admin and form helpers.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use reqwest::redirect::Policy;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use vouch_core::ids::{KeyId, OrgId, SessionId};
use vouch_core::model::{Actor, AuditRecord, KeySettings};
use vouch_core::session::{Decision, SessionStatus};
use vouch_server::admin::{new_token, TOKEN_PREFIX};
use vouch_store::admin::token_digest;
use vouch_store::sessions::Decider;
use vouch_testkit::{eventually, test_config, TestDb, TestServer, WebhookSink};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A signed-in admin: the cookie to send and the session's CSRF token.
struct Admin {
    cookie: String,
    csrf: String,
}

/// Creates an admin of `org` and a full session for it (the login API is not needed
/// to test the pages).
async fn admin(s: &TestServer, org: &OrgId, email: &str) -> Admin {
    let a = s.store.create_admin(org, email, None, None).await.unwrap();
    let token = new_token(TOKEN_PREFIX);
    let csrf = new_token("");
    let expires = vouch_core::now_millis() + 3_600_000;
    s.store
        .create_admin_session(
            &a,
            &token_digest(&token),
            vouch_core::admin_login::LoginStage::SignedIn,
            &csrf,
            expires,
        )
        .await
        .unwrap();
    Admin {
        cookie: format!("vouch_admin={token}"),
        csrf,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

async fn get(http: &reqwest::Client, url: String, who: Option<&Admin>) -> reqwest::Response {
    let mut req = http.get(url);
    if let Some(a) = who {
        req = req.header("cookie", &a.cookie);
    }
    req.send().await.unwrap()
}

async fn page(s: &TestServer, who: &Admin, path: &str) -> (u16, String) {
    let resp = get(&client(), s.at(path), Some(who)).await;
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

async fn post_form(
    s: &TestServer,
    who: &Admin,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client()
        .post(s.at(path))
        .header("cookie", &who.cookie)
        .form(fields)
        .send()
        .await
        .unwrap()
}

fn location(resp: &reqwest::Response) -> String {
    resp.headers()["location"].to_str().unwrap().to_string()
}

/// The text of the element with this id (`<tag id="…">text</tag>`).
fn element_text(html: &str, id: &str) -> String {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let start = at + html[at..].find('>').unwrap() + 1;
    let end = start + html[start..].find('<').unwrap();
    html[start..end].to_string()
}

async fn create_session(s: &TestServer, key: &str) -> String {
    let resp = s
        .http
        .post(s.at("/api/v1/verify"))
        .bearer_auth(key)
        .json(&json!({"externalRef": "user_42"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    v["sessionId"].as_str().unwrap().to_string()
}

/// A session whose checks left it awaiting review.
async fn review_session(s: &TestServer, org: &OrgId, key: &str) -> String {
    let id = create_session(s, key).await;
    s.store
        .decide_session(
            org,
            &SessionId::from_string(id.clone()),
            Default::default(),
            Decision::Review,
            Decider::Flow,
            AuditRecord::new(Some(org), Actor::System, "verification.decided"),
        )
        .await
        .unwrap();
    id
}

async fn whoami(s: &TestServer, key: &str) -> u16 {
    s.http
        .get(s.at("/api/v1/whoami"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn every_page_answers_the_admin_and_redirects_everyone_else() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = s.org("Acme").await;
    let a = admin(&s, &org, "ops@acme.test").await;
    let (_, key, _) = s.key(&org, KeySettings::default()).await;
    let sid = create_session(&s, &key).await;
    let http = client();
    let pages = [
        "/admin".to_string(),
        "/admin/sessions".into(),
        "/admin/sessions?status=PENDING&decision=REVIEW&from=2020-01-01&to=2099-12-31".into(),
        format!("/admin/sessions/{sid}"),
        "/admin/review".into(),
        "/admin/keys".into(),
        "/admin/webhooks".into(),
        "/admin/profiles".into(),
        "/admin/alerts".into(),
        "/admin/security".into(),
        "/admin/trust".into(),
        "/admin/audit".into(),
        "/admin/sms".into(),
    ];
    for path in &pages {
        let resp = get(&http, s.at(path), Some(&a)).await;
        assert_eq!(resp.status(), 200, "{path}");
        let h = resp.headers();
        assert_eq!(h["content-security-policy"], CSP, "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("ops@acme.test"), "{path}");
        assert!(
            html.contains(&format!("data-csrf=\"{}\"", a.csrf)),
            "{path}"
        );
        assert!(!html.contains("<script>"), "{path}: no inline script");
        assert!(!html.contains("style=\""), "{path}: no inline style");

        let anon = get(&http, s.at(path), None).await;
        assert_eq!(anon.status(), 303, "{path}");
        assert_eq!(location(&anon), "/admin/login", "{path}");
        assert_eq!(anon.headers()["content-security-policy"], CSP);
    }
    // A cookie that is not a live session is no better than none.
    let forged = Admin {
        cookie: format!("vouch_admin={}", new_token(TOKEN_PREFIX)),
        csrf: String::new(),
    };
    let resp = get(&http, s.at("/admin/keys"), Some(&forged)).await;
    assert_eq!(resp.status(), 303);

    // Sign-in and setup are open, with stable ids for the scripts and browser tests.
    let login = get(&http, s.at("/admin/login"), None).await;
    assert_eq!(login.status(), 200);
    assert_eq!(login.headers()["content-security-policy"], CSP);
    let html = login.text().await.unwrap();
    for id in [
        "email",
        "password",
        "login",
        "use-passkey",
        "use-face",
        "error",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "login #{id}");
    }
    assert!(html.contains("/admin/assets/login.js"));
    // Signed in already: straight to the console.
    let again = get(&http, s.at("/admin/login"), Some(&a)).await;
    assert_eq!(again.status(), 303);
    assert_eq!(location(&again), "/admin");

    let setup = get(&http, s.at("/admin/setup?token=st_abc%22%3E"), None).await;
    assert_eq!(setup.status(), 200);
    let html = setup.text().await.unwrap();
    assert!(html.contains("data-token=\"st_abc&quot;&gt;\""), "escaped");
    assert!(html.contains("id=\"setup-form\""));

    for (asset, kind) in [
        ("console.css", "text/css"),
        ("console.js", "text/javascript"),
        ("login.js", "text/javascript"),
    ] {
        let resp = get(&http, s.at(&format!("/admin/assets/{asset}")), None).await;
        assert_eq!(resp.status(), 200, "{asset}");
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(kind));
    }
    s.stop().await;
}

#[tokio::test]
async fn forms_without_the_csrf_token_are_refused_and_change_nothing() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = s.org("Acme").await;
    let a = admin(&s, &org, "ops@acme.test").await;
    let (key_id, key, _) = s.key(&org, KeySettings::default()).await;
    let fields = [("name", "sneaky"), ("checks", "liveness")];
    let resp = post_form(&s, &a, "/admin/keys", &fields).await;
    assert_eq!(resp.status(), 403);
    let wrong = [
        ("_csrf", "not-the-token"),
        ("name", "sneaky"),
        ("checks", "liveness"),
    ];
    let resp = post_form(&s, &a, "/admin/keys", &wrong).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(s.store.list_api_keys(&org).await.unwrap().len(), 1);

    let resp = post_form(&s, &a, &format!("/admin/keys/{key_id}/revoke"), &[]).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(whoami(&s, &key).await, 200, "the key still works");

    // Sign-out needs the token too.
    let resp = post_form(&s, &a, "/admin/logout", &[]).await;
    assert_eq!(resp.status(), 403);
    let (status, _) = page(&s, &a, "/admin").await;
    assert_eq!(status, 200, "still signed in");

    // Without a session a form goes to the sign-in page.
    let anon = client()
        .post(s.at("/admin/keys"))
        .form(&[("_csrf", a.csrf.as_str()), ("name", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 303);
    assert_eq!(location(&anon), "/admin/login");
    s.stop().await;
}

#[tokio::test]
async fn keys_are_shown_once_then_rotated_and_revoked() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = s.org("Acme").await;
    let a = admin(&s, &org, "ops@acme.test").await;
    let resp = post_form(
        &s,
        &a,
        "/admin/keys",
        &[
            ("_csrf", &a.csrf),
            ("name", "Checkout <prod>"),
            ("checks", "liveness"),
            ("checks", "face_match"),
            ("liveness", "0.9"),
            ("face_match", "0.6"),
            ("min_age", "21"),
            ("rate_limit", "250"),
            ("session_ttl_minutes", "45"),
            ("image_retention_days", "3"),
            ("webhook_url", "https://example.com/hook"),
            ("display_name", "Acme"),
            ("accent_color", "#112233"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Checkout &lt;prod&gt;"), "names are escaped");
    let secret = element_text(&html, "new-key-secret");
    let whsec = element_text(&html, "new-webhook-secret");
    let key_id = element_text(&html, "new-key-id");
    assert!(secret.starts_with("vk_live_"), "{secret}");
    assert!(whsec.starts_with("whsec_"), "{whsec}");
    assert_eq!(whoami(&s, &secret).await, 200);

    let k = s
        .store
        .api_key(&org, &KeyId::from_string(key_id.clone()))
        .await
        .unwrap();
    assert_eq!(k.name, "Checkout <prod>");
    assert_eq!(k.settings.rate_limit, 250);
    assert_eq!(k.settings.session_ttl_secs, 45 * 60);
    assert_eq!(k.settings.thresholds.min_age, 21);
    assert_eq!(k.settings.image_retention_days, 3);
    assert_eq!(
        k.settings.webhook_url.as_deref(),
        Some("https://example.com/hook")
    );
    assert_eq!(k.settings.branding.accent_color.as_deref(), Some("#112233"));

    // The list shows the prefix only.
    let (status, html) = page(&s, &a, "/admin/keys").await;
    assert_eq!(status, 200);
    assert!(!html.contains(&secret));
    assert!(!html.contains(&whsec));
    assert!(html.contains(&k.prefix));

    // Invalid settings are refused with the reason.
    let resp = post_form(
        &s,
        &a,
        "/admin/keys",
        &[
            ("_csrf", &a.csrf),
            ("name", "bad"),
            ("checks", "liveness"),
            ("liveness", "7"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("between 0 and 1"));

    // Rotation: a new key with the same settings, the old one revoked.
    let resp = post_form(
        &s,
        &a,
        &format!("/admin/keys/{key_id}/rotate"),
        &[("_csrf", &a.csrf)],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    let rotated = element_text(&html, "new-key-secret");
    let rotated_id = element_text(&html, "new-key-id");
    assert_ne!(rotated, secret);
    assert_eq!(whoami(&s, &secret).await, 401, "the old key is revoked");
    assert_eq!(whoami(&s, &rotated).await, 200);
    let new = s
        .store
        .api_key(&org, &KeyId::from_string(rotated_id.clone()))
        .await
        .unwrap();
    assert_eq!(new.settings, k.settings);
    assert_eq!(new.name, k.name);

    // Revocation.
    let resp = post_form(
        &s,
        &a,
        &format!("/admin/keys/{rotated_id}/revoke"),
        &[("_csrf", &a.csrf)],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/admin/keys?done=revoked");
    assert_eq!(whoami(&s, &rotated).await, 401);
    let again = post_form(
        &s,
        &a,
        &format!("/admin/keys/{rotated_id}/revoke"),
        &[("_csrf", &a.csrf)],
    )
    .await;
    assert_eq!(again.status(), 409);

    let (_, audit) = page(&s, &a, "/admin/audit").await;
    assert!(audit.contains("api_key.created"));
    assert!(audit.contains("api_key.revoked"));
    assert!(audit.contains("ops@acme.test"));
    s.stop().await;
}

#[tokio::test]
async fn a_review_decides_the_session_and_is_in_the_audit_log() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = s.org("Acme").await;
    let a = admin(&s, &org, "ops@acme.test").await;
    let (_, key, _) = s.key(&org, KeySettings::default()).await;
    let id = review_session(&s, &org, &key).await;

    let jpeg = b"\xff\xd8\xff\xe0 not really a photo";
    s.store
        .put_session_image(
            &org,
            &SessionId::from_string(id.clone()),
            &vouch_store::images::NewImage {
                name: "selfie",
                content_type: "image/jpeg",
                bytes: jpeg,
                keep_days: 1,
            },
        )
        .await
        .unwrap();

    let (status, html) = page(&s, &a, "/admin/review").await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("data-session=\"{id}\"")));
    let src = format!("/admin/sessions/{id}/images/selfie");
    assert!(html.contains(&format!("src=\"{src}\"")));
    let img = get(&client(), s.at(&src), Some(&a)).await;
    assert_eq!(img.status(), 200);
    assert_eq!(img.headers()["content-type"], "image/jpeg");
    assert_eq!(img.headers()["cache-control"], "no-store");
    assert_eq!(img.bytes().await.unwrap().as_ref(), jpeg);
    let anon = get(&client(), s.at(&src), None).await;
    assert_eq!(anon.status(), 303);
    assert!(html.contains("user_42"));
    let (_, overview) = page(&s, &a, "/admin").await;
    assert!(overview.contains("id=\"stat-queue\"><div class=\"value\">1</div>"));

    // An unknown decision is refused.
    let resp = post_form(
        &s,
        &a,
        &format!("/admin/review/{id}"),
        &[("_csrf", &a.csrf), ("decision", "REVIEW")],
    )
    .await;
    assert_eq!(resp.status(), 400);

    let resp = post_form(
        &s,
        &a,
        &format!("/admin/review/{id}"),
        &[
            ("_csrf", &a.csrf),
            ("decision", "APPROVED"),
            ("reason", "Document checked by hand"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/admin/review?done=approved");
    let session = s
        .store
        .session(&org, &SessionId::from_string(id.clone()))
        .await
        .unwrap();
    assert_eq!(session.status, SessionStatus::Completed);
    assert_eq!(session.overall_result, Some(Decision::Approved));

    let (_, html) = page(&s, &a, "/admin/review").await;
    assert!(!html.contains(&format!("data-session=\"{id}\"")));
    let (_, html) = page(&s, &a, &format!("/admin/sessions/{id}")).await;
    assert!(html.contains("APPROVED"));
    let (_, audit) = page(&s, &a, "/admin/audit").await;
    assert!(audit.contains("verification.reviewed"));
    assert!(audit.contains(&id));
    assert!(audit.contains("Document checked by hand"));
    assert!(audit.contains("verification.image_viewed"));

    // Deciding twice is a conflict.
    let resp = post_form(
        &s,
        &a,
        &format!("/admin/review/{id}"),
        &[("_csrf", &a.csrf), ("decision", "REJECTED")],
    )
    .await;
    assert_eq!(resp.status(), 409);

    // Filters: the completed, approved session is listed; a pending filter hides it.
    let (_, html) = page(&s, &a, "/admin/sessions?status=COMPLETED&decision=APPROVED").await;
    assert!(html.contains(&id));
    let (_, html) = page(&s, &a, "/admin/sessions?status=PENDING").await;
    assert!(!html.contains(&id));
    let (status, _) = page(&s, &a, "/admin/sessions?status=NOPE").await;
    assert_eq!(status, 400);
    s.stop().await;
}

#[tokio::test]
async fn another_organisations_objects_are_not_found() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let acme = s.org("Acme").await;
    let other = s.org("Other").await;
    let a = admin(&s, &acme, "ops@acme.test").await;
    let (other_key_id, other_key, _) = s.key(&other, KeySettings::default()).await;
    let theirs = review_session(&s, &other, &other_key).await;

    let (status, _) = page(&s, &a, &format!("/admin/sessions/{theirs}")).await;
    assert_eq!(status, 404);
    let (status, _) = page(&s, &a, &format!("/admin/sessions/{theirs}/images/selfie")).await;
    assert_eq!(status, 404);
    let (_, html) = page(&s, &a, "/admin/review").await;
    assert!(!html.contains(&theirs));
    let (_, html) = page(&s, &a, "/admin/sessions").await;
    assert!(!html.contains(&theirs));

    let resp = post_form(
        &s,
        &a,
        &format!("/admin/review/{theirs}"),
        &[("_csrf", &a.csrf), ("decision", "APPROVED")],
    )
    .await;
    assert_eq!(resp.status(), 404);
    let session = s
        .store
        .session(&other, &SessionId::from_string(theirs))
        .await
        .unwrap();
    assert_eq!(session.overall_result, Some(Decision::Review), "unchanged");

    let resp = post_form(
        &s,
        &a,
        &format!("/admin/keys/{other_key_id}/revoke"),
        &[("_csrf", &a.csrf)],
    )
    .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(whoami(&s, &other_key).await, 200);
    s.stop().await;
}

#[tokio::test]
async fn profiles_and_alert_rules_are_created_and_deleted() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = s.org("Acme").await;
    let a = admin(&s, &org, "ops@acme.test").await;

    let resp = post_form(
        &s,
        &a,
        "/admin/profiles",
        &[
            ("_csrf", &a.csrf),
            ("name", "Strict"),
            ("slug", "strict"),
            ("min_composite_score", "0.8"),
            ("allowed_countries", "pt, es"),
            (
                "checks",
                r#"{"liveness": {"enabled": true, "weight": 2, "hardFail": true}}"#,
            ),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let profiles = s.store.list_profiles(&org).await.unwrap();
    assert_eq!(profiles.len(), 1);
    assert_eq!(profiles[0].config["allowedCountries"], json!(["PT", "ES"]));
    let (_, html) = page(&s, &a, "/admin/profiles").await;
    assert!(html.contains("strict"));
    let bad = post_form(
        &s,
        &a,
        "/admin/profiles",
        &[
            ("_csrf", &a.csrf),
            ("name", "Broken"),
            ("slug", "broken"),
            ("checks", "{nope"),
        ],
    )
    .await;
    assert_eq!(bad.status(), 400);
    let resp = post_form(
        &s,
        &a,
        &format!("/admin/profiles/{}/delete", profiles[0].id.as_str()),
        &[("_csrf", &a.csrf)],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert!(s.store.list_profiles(&org).await.unwrap().is_empty());

    let resp = post_form(
        &s,
        &a,
        "/admin/alerts",
        &[
            ("_csrf", &a.csrf),
            ("name", "Brute force"),
            ("scope", "device"),
            ("threshold", "5"),
            ("window_minutes", "60"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303);
    let rules = s.store.list_alert_rules(&org).await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].scope, "device");
    let (_, html) = page(&s, &a, "/admin/alerts").await;
    assert!(html.contains("Brute force"));
    let resp = post_form(
        &s,
        &a,
        &format!("/admin/alerts/{}/delete", rules[0].id.as_str()),
        &[("_csrf", &a.csrf)],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert!(s.store.list_alert_rules(&org).await.unwrap().is_empty());

    let (_, audit) = page(&s, &a, "/admin/audit").await;
    for action in [
        "profile.created",
        "profile.deleted",
        "alert_rule.created",
        "alert_rule.deleted",
    ] {
        assert!(audit.contains(action), "{action}");
    }
    s.stop().await;
}

/// A certificate made here: a CA (an IACA-like root) or a leaf, valid for `days`.
fn certificate(name: &str, ca: bool, days: i64) -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(vec![format!("{name}.example")]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    if ca {
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    }
    let now = std::time::SystemTime::now();
    params.not_before = (now - std::time::Duration::from_secs(3600)).into();
    params.not_after = (now + std::time::Duration::from_secs(days as u64 * 86_400)).into();
    params.self_signed(&key).unwrap().pem()
}

#[tokio::test]
async fn the_trust_list_page_adds_warns_and_removes_certificates() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = s.org("Acme").await;
    let a = admin(&s, &org, "ops@acme.test").await;
    let (_, html) = page(&s, &a, "/admin/trust").await;
    assert!(html.contains("No certificates yet"), "{html}");

    // Not a certificate, or a bundle with one bad member: refused, nothing added.
    let root = certificate("Test IACA", true, 365);
    for pem in [
        "hello".to_string(),
        format!("{root}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
    ] {
        let resp = post_form(
            &s,
            &a,
            "/admin/trust",
            &[("_csrf", &a.csrf), ("name", "bad"), ("pem", &pem)],
        )
        .await;
        assert_eq!(resp.status(), 400);
    }
    let resp = post_form(&s, &a, "/admin/trust", &[("name", "x"), ("pem", &root)]).await;
    assert_eq!(resp.status(), 403, "no CSRF token");
    assert!(s.store.list_trust_anchors(&org).await.unwrap().is_empty());

    // A root: added, back to the list.
    let resp = post_form(
        &s,
        &a,
        "/admin/trust",
        &[("_csrf", &a.csrf), ("name", "State DMV"), ("pem", &root)],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/admin/trust?done=created");
    // A pinned signer expiring in 10 days: added, with both warnings on the page.
    let soon = certificate("Short Signer", false, 10);
    let resp = post_form(
        &s,
        &a,
        "/admin/trust",
        &[("_csrf", &a.csrf), ("name", "pinned"), ("pem", &soon)],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("expires in"), "{html}");
    assert!(html.contains("pinned signer"), "{html}");
    let list = s.store.list_trust_anchors(&org).await.unwrap();
    assert_eq!(list.len(), 2);
    let (_, html) = page(&s, &a, "/admin/trust").await;
    assert!(
        html.contains("CN=Test IACA") || html.contains("Test IACA"),
        "{html}"
    );
    assert!(html.contains("State DMV"));
    // The same certificate twice: a conflict.
    let resp = post_form(
        &s,
        &a,
        "/admin/trust",
        &[("_csrf", &a.csrf), ("name", "again"), ("pem", &root)],
    )
    .await;
    assert_eq!(resp.status(), 409);

    // Another organisation's admin cannot remove it.
    let other = s.org("Globex").await;
    let b = admin(&s, &other, "ops@globex.test").await;
    let id = list[0].id.clone();
    let resp = post_form(
        &s,
        &b,
        &format!("/admin/trust/{id}/remove"),
        &[("_csrf", &b.csrf)],
    )
    .await;
    assert_eq!(resp.status(), 404);
    let resp = post_form(
        &s,
        &a,
        &format!("/admin/trust/{id}/remove"),
        &[("_csrf", &a.csrf)],
    )
    .await;
    assert_eq!(resp.status(), 303);
    assert_eq!(s.store.list_trust_anchors(&org).await.unwrap().len(), 1);
    let (_, audit) = page(&s, &a, "/admin/audit").await;
    assert!(audit.contains("trust_anchor.added"));
    assert!(audit.contains("trust_anchor.removed"));
    s.stop().await;
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = s.org("Acme").await;
    let a = admin(&s, &org, "ops@acme.test").await;
    let resp = post_form(&s, &a, "/admin/logout", &[("_csrf", &a.csrf)]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/admin/login");
    let cookie = resp.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("vouch_admin=;") && cookie.contains("Max-Age=0"));
    let anon = get(&client(), s.at("/admin"), Some(&a)).await;
    assert_eq!(anon.status(), 303);
    let entries = s.store.list_audit(&org, 10).await.unwrap();
    assert!(entries.iter().any(|e| e.action == "admin.logged_out"));
    s.stop().await;
}

#[tokio::test]
async fn the_sms_inbox_exists_only_in_dev_mode() {
    use vouch_phone::sandbox::Sandbox;
    use vouch_phone::sms::DevInbox;
    let db = TestDb::sqlite();
    let store = Arc::new(db.open().await);
    // A server whose texts would leave the machine: no dev inbox.
    let sandbox = Arc::new(Sandbox::default());
    let phone = vouch_server::phone::PhoneContext::new(
        sandbox.clone(),
        Some(sandbox),
        Arc::new(DevInbox::default()),
        None,
    );
    let state = vouch_server::AppState::new(store.clone(), test_config()).with_phone(phone);
    let running = vouch_server::start(state).await.unwrap();
    let base = format!("http://{}", running.addr);
    let org = store
        .create_org("Acme", AuditRecord::new(None, Actor::Cli, "org.created"))
        .await
        .unwrap()
        .id;
    let a = {
        let adm = store
            .create_admin(&org, "ops@acme.test", None, None)
            .await
            .unwrap();
        let token = new_token(TOKEN_PREFIX);
        let csrf = new_token("");
        store
            .create_admin_session(
                &adm,
                &token_digest(&token),
                vouch_core::admin_login::LoginStage::SignedIn,
                &csrf,
                vouch_core::now_millis() + 3_600_000,
            )
            .await
            .unwrap();
        Admin {
            cookie: format!("vouch_admin={token}"),
            csrf,
        }
    };
    let http = client();
    let resp = get(&http, format!("{base}/admin/sms"), Some(&a)).await;
    assert_eq!(resp.status(), 404);
    let resp = get(&http, format!("{base}/admin"), Some(&a)).await;
    assert_eq!(resp.status(), 200);
    assert!(!resp.text().await.unwrap().contains("/admin/sms"));
    let _ = running.shutdown().await;
}

#[tokio::test]
async fn a_failed_delivery_shows_and_can_be_retried() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = s.org("Acme").await;
    let a = admin(&s, &org, "ops@acme.test").await;
    let sink = WebhookSink::start().await;
    sink.script(&[(410, Duration::ZERO)]);
    let (_, key, _) = s.key_with_webhook(&org, &sink.url).await;
    let resp = s
        .http
        .post(s.at("/api/v1/webhooks/test"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let store = s.store.clone();
    let org2 = org.clone();
    let delivery = eventually(Duration::from_secs(15), "a disabled delivery", || {
        let store = store.clone();
        let org = org2.clone();
        async move {
            let list = store.list_deliveries(&org, 10).await.unwrap();
            list.into_iter().find(|d| d.status == "disabled")
        }
    })
    .await;
    let (_, overview) = page(&s, &a, "/admin").await;
    assert!(overview.contains("id=\"failures\""));
    assert!(overview.contains("HTTP 410"));
    let (_, html) = page(&s, &a, "/admin/webhooks").await;
    let retry = format!("/admin/webhooks/{}/retry", delivery.id);
    assert!(html.contains(&retry));

    let resp = post_form(&s, &a, &retry, &[]).await;
    assert_eq!(resp.status(), 403, "no CSRF token");
    let resp = post_form(&s, &a, &retry, &[("_csrf", &a.csrf)]).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), "/admin/webhooks?done=retried");
    sink.wait_for(2, Duration::from_secs(15)).await;
    let (_, audit) = page(&s, &a, "/admin/audit").await;
    assert!(audit.contains("webhook.retried"));
    s.stop().await;
}

#[tokio::test]
async fn the_last_second_factor_cannot_be_removed() {
    let s = TestServer::start(TestDb::sqlite(), test_config()).await;
    let org = s.org("Acme").await;
    let a = admin(&s, &org, "ops@acme.test").await;
    let (_, html) = page(&s, &a, "/admin/security").await;
    assert!(html.contains("id=\"enrol-deadline\""));
    assert!(html.contains("id=\"enrol-banner\""));
    for id in ["add-passkey", "face-consent", "face-start", "face-video"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "#{id}");
    }

    let me = s
        .store
        .admin_by_email("ops@acme.test")
        .await
        .unwrap()
        .unwrap();
    let first = s
        .store
        .add_admin_passkey(&me, "Y3JlZDE", b"{}", "Laptop <1>")
        .await
        .unwrap();
    let second = s
        .store
        .add_admin_passkey(&me, "Y3JlZDI", b"{}", "YubiKey")
        .await
        .unwrap();
    let (_, html) = page(&s, &a, "/admin/security").await;
    assert!(html.contains("Laptop &lt;1&gt;"));
    assert!(!html.contains("id=\"enrol-banner\""));

    let path = |id: &str| format!("/admin/security/passkeys/{id}/delete");
    let resp = post_form(&s, &a, &path(&first.id), &[]).await;
    assert_eq!(resp.status(), 403);
    let resp = post_form(&s, &a, &path(&first.id), &[("_csrf", &a.csrf)]).await;
    assert_eq!(resp.status(), 303);
    let resp = post_form(&s, &a, &path(&second.id), &[("_csrf", &a.csrf)]).await;
    assert_eq!(resp.status(), 409, "the last one stays");
    let left = s.store.admin_passkeys(&me.id).await.unwrap();
    assert_eq!(left.len(), 1);
    let resp = post_form(&s, &a, &path("cred_nope"), &[("_csrf", &a.csrf)]).await;
    assert_eq!(resp.status(), 404);
    let entries = s.store.list_audit(&org, 10).await.unwrap();
    assert!(entries.iter().any(|e| e.action == "admin.passkey_removed"));
    s.stop().await;
}

/// Issue 20: a fresh install's one-time link creates the first organisation and admin
/// (refused input changes nothing and leaves the link usable; it works once; no link is
/// offered once an admin exists), then "Try a verification" opens the hosted flow on the
/// organisation's try-out key and the page's redirect leads back to the session.
#[tokio::test]
async fn a_fresh_install_s_link_creates_the_first_admin_once_and_the_console_offers_a_try_out() {
    for db in TestDb::all().await {
        let s = TestServer::start(db, test_config()).await;
        let http = client();
        // No link on offer yet: the page says so.
        let resp = get(&http, s.at("/admin/bootstrap?token=vsb_x"), None).await;
        assert_eq!(resp.status(), 200);
        let html = resp.text().await.unwrap();
        assert!(!html.contains("bootstrap-form") && html.contains("invalid, used or expired"));

        let link = vouch_server::bootstrap::offer(&s.state)
            .await
            .unwrap()
            .expect("a fresh database is offered a link");
        let (prefix, token) = link.split_once("?token=").unwrap();
        assert_eq!(
            prefix,
            format!("{}/admin/bootstrap", s.state.config.browser_url())
        );
        assert!(token.starts_with("vsb_"));
        let path = format!("/admin/bootstrap?token={token}");
        let html = get(&http, s.at(&path), None).await.text().await.unwrap();
        assert!(html.contains("id=\"bootstrap-form\""));
        assert!(html.contains(&format!("data-token=\"{token}\"")));
        let front = get(&http, s.at("/"), None).await.text().await.unwrap();
        assert!(
            front.contains("id=\"setup-help\""),
            "the front page points at the link"
        );

        let call = |body: Value| s.http.post(s.at("/api/auth/bootstrap")).json(&body).send();
        let good = json!({"token": token, "orgName": " Acme First ", "email": "Founder@Acme.test",
                          "password": "a long first password"});
        let refused = [
            ("token", json!("vsb_wrong"), "invalid_setup_token"),
            ("token", json!(""), "invalid_setup_token"),
            ("password", json!("short"), "invalid_request"),
            ("orgName", json!("   "), "invalid_request"),
            ("orgName", json!("x".repeat(201)), "invalid_request"),
            ("email", json!("not-an-address"), "invalid_request"),
        ];
        for (field, value, code) in refused {
            let mut body = good.clone();
            body[field] = value;
            let resp = call(body).await.unwrap();
            assert_eq!(resp.status(), 400, "{field}");
            let v: Value = resp.json().await.unwrap();
            assert_eq!(v["code"], code, "{field}: {v}");
        }
        let resp = call(json!({"token": token})).await.unwrap();
        assert_eq!(resp.status(), 400, "missing fields");
        assert!(
            s.store.list_orgs().await.unwrap().is_empty(),
            "refusals change nothing"
        );
        assert!(!s.store.has_admins().await.unwrap());

        let resp = call(good.clone()).await.unwrap();
        assert_eq!(resp.status(), 200);
        let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["success"], true);
        assert_eq!(v["enrollmentRequired"], true);
        assert_eq!(v["admin"]["email"], "founder@acme.test");
        let org = OrgId::from_string(v["orgId"].as_str().unwrap().to_string());
        assert_eq!(v["admin"]["orgId"], org.as_str());
        let orgs = s.store.list_orgs().await.unwrap();
        assert_eq!(orgs.len(), 1);
        assert_eq!(orgs[0].name, "Acme First");
        let session_token = v["token"].as_str().unwrap();
        assert!(cookie.starts_with(&format!("vouch_admin={session_token};")));
        let actions: Vec<String> = s
            .store
            .list_audit(&org, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert!(actions.contains(&"org.created".to_string()), "{actions:?}");
        assert!(
            actions.contains(&"admin.bootstrapped".to_string()),
            "{actions:?}"
        );

        // Once only, and no new link while an admin exists.
        let resp = call(good).await.unwrap();
        assert_eq!(resp.status(), 400, "a bootstrap link works once");
        assert!(vouch_server::bootstrap::offer(&s.state)
            .await
            .unwrap()
            .is_none());
        let html = get(&http, s.at(&path), None).await.text().await.unwrap();
        assert!(!html.contains("bootstrap-form"));
        let front = get(&http, s.at("/"), None).await.text().await.unwrap();
        assert!(!front.contains("setup-help"));

        // The console: first steps, then a try-out on the organisation's try-out key.
        let a = Admin {
            cookie: format!("vouch_admin={session_token}"),
            csrf: v["csrfToken"].as_str().unwrap().to_string(),
        };
        let (status, html) = page(&s, &a, "/admin?done=welcome").await;
        assert_eq!(status, 200);
        for id in ["get-started", "start-key", "try-form", "notice"] {
            assert!(html.contains(&format!("id=\"{id}\"")), "#{id}");
        }
        assert!(html.contains("Your organisation is ready"));
        let resp = post_form(&s, &a, "/admin/try", &[("kind", "document")]).await;
        assert_eq!(resp.status(), 403, "no CSRF token");
        let resp = post_form(&s, &a, "/admin/try", &[("_csrf", &a.csrf), ("kind", "x")]).await;
        assert_eq!(resp.status(), 400, "unknown kind");
        assert!(
            s.store.list_api_keys(&org).await.unwrap().is_empty(),
            "nothing made"
        );

        let mut opened = Vec::new();
        for kind in ["document", "selfie"] {
            let resp = post_form(&s, &a, "/admin/try", &[("_csrf", &a.csrf), ("kind", kind)]).await;
            assert_eq!(resp.status(), 303, "{kind}");
            let to = location(&resp);
            assert!(to.starts_with("/verify/"), "{to}");
            let hosted = get(&http, s.at(&to), None).await;
            assert_eq!(hosted.status(), 200, "the hosted page opens");
            opened.push(to);
        }
        let keys = s.store.list_api_keys(&org).await.unwrap();
        assert_eq!(keys.len(), 1, "one try-out key, reused");
        assert_eq!(keys[0].name, "Console try-out");
        let sessions = s
            .store
            .list_sessions(&org, &Default::default(), 1, 10)
            .await
            .unwrap()
            .items;
        assert_eq!(sessions.len(), 2);
        let done = format!("{}/admin/try/done", s.state.config.browser_url());
        for session in &sessions {
            assert_eq!(session.redirect_url.as_deref(), Some(done.as_str()));
            assert_eq!(session.external_ref.as_deref(), Some("console try-out"));
        }
        let checks: Vec<Vec<&str>> = sessions
            .iter()
            .rev()
            .map(|x| x.checks.iter().map(|c| c.as_str()).collect())
            .collect();
        assert_eq!(
            checks,
            [
                vec!["liveness", "doc_verify", "face_match"],
                vec!["liveness", "age_estimation"]
            ]
        );
        let back = get(
            &http,
            s.at(&format!(
                "/admin/try/done?session_id={}&result=APPROVED",
                sessions[0].id
            )),
            Some(&a),
        )
        .await;
        assert_eq!(back.status(), 303);
        assert_eq!(
            location(&back),
            format!("/admin/sessions/{}?done=tried", sessions[0].id)
        );
        let back = get(&http, s.at("/admin/try/done?session_id=../../x"), Some(&a)).await;
        assert_eq!(location(&back), "/admin/sessions");
        s.stop().await;
    }
}

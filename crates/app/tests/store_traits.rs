//! The store conformance suite through the use cases' capability traits: each use case
//! runs over `vouch_store::Store` as its trait object (the way the server builds them),
//! on SQLite and, when `VOUCH_TEST_PG_URL` is set (always in CI), on PostgreSQL. The
//! unit tests beside each use case run it over in-memory fakes; this suite checks that
//! the real store keeps the same contract: organisation scoping, one-time rules, events.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::sync::Arc;
use tokio::sync::Notify;
use vouch_app::admin::{hash_password, AdminAuth, AdminError, Login};
use vouch_app::analysis::{CaptureError, SelfieAnalysis};
use vouch_app::identity::{Device, Identity, ProbeAnalyser, Verification};
use vouch_app::keys::Keys;
use vouch_app::phone::Phone;
use vouch_app::webhooks::{NoWebhook, Webhooks};
use vouch_core::ids::OrgId;
use vouch_core::model::{Actor, AuditRecord, KeySettings};
use vouch_core::policy::{FrameMeasures, LivenessEvidence};
use vouch_store::phone::PhoneIdentity;
use vouch_store::tenancy::{Principal, Refusal};
use vouch_store::Store;
use vouch_testkit::TestDb;

fn cli(action: &str) -> AuditRecord {
    AuditRecord::new(None, Actor::Cli, action)
}

async fn org(store: &Store, name: &str) -> OrgId {
    store.create_org(name, cli("org.created")).await.unwrap().id
}

/// Answers every probe with one embedding, live and consistent.
struct Probe(Vec<f32>);

impl ProbeAnalyser for Probe {
    fn analyse_probe(&self, frames: &[Vec<u8>]) -> Result<SelfieAnalysis, CaptureError> {
        let frame = FrameMeasures {
            passive: Some(0.95),
            eye_openness: f32::NAN,
            yaw: f32::NAN,
        };
        Ok(SelfieAnalysis {
            liveness: LivenessEvidence {
                frames: vec![frame; frames.len()],
                consistent: true,
            },
            estimated_age: f32::NAN,
            embedding: self.0.clone(),
        })
    }

    fn match_threshold(&self) -> f32 {
        0.54
    }
}

fn one_hot(i: usize) -> Vec<f32> {
    let mut v = vec![0.0; vouch_face::index::DIM];
    v[i] = 1.0;
    v
}

#[tokio::test]
async fn identity_enrols_matches_records_and_scopes_by_organisation() {
    for db in TestDb::all().await {
        let store = Arc::new(db.open().await);
        let (a, b) = (org(&store, "A").await, org(&store, "B").await);
        let keys = Keys::new(store.clone());
        let key_a = keys
            .create(&a, "a", KeySettings::default(), cli("api_key.created"))
            .await
            .unwrap()
            .key;
        let key_b = keys
            .create(&b, "b", KeySettings::default(), cli("api_key.created"))
            .await
            .unwrap()
            .key;
        let identity = Identity::new(store.clone(), Arc::new(Notify::new()));
        let ann = Arc::new(Probe(one_hot(3)));
        let enrolled = identity
            .enroll(
                ann.clone(),
                &a,
                &key_a.id,
                "Ann@Example.com",
                vec![0],
                cli("user.enrolled"),
            )
            .await
            .unwrap();
        assert!(enrolled.created, "{}", db.kind);
        let again = identity
            .enroll(
                ann.clone(),
                &a,
                &key_a.id,
                "ann@example.com",
                vec![0],
                cli("user.enrolled"),
            )
            .await
            .unwrap();
        assert_eq!(
            again.person, enrolled.person,
            "{}: one person by e-mail",
            db.kind
        );
        assert!(!again.created);
        let frames = vec![vec![0], vec![0]];
        match identity
            .verify(
                ann.clone(),
                &a,
                &key_a.id,
                frames.clone(),
                None,
                &Device::default(),
            )
            .await
            .unwrap()
        {
            Verification::Checked(c) => {
                assert!(c.verified, "{}: {c:?}", db.kind);
                assert_eq!(c.person, enrolled.person);
                let email = c.email.map(|e| e.to_lowercase());
                assert_eq!(email.as_deref(), Some("ann@example.com"), "{}", db.kind);
            }
            other => panic!("{}: {other:?}", db.kind),
        }
        // Another organisation's gallery does not hold Ann.
        let elsewhere = identity
            .verify(ann, &b, &key_b.id, frames, None, &Device::default())
            .await
            .unwrap();
        assert!(
            matches!(elsewhere, Verification::NotRecognised),
            "{}",
            db.kind
        );
        // Profiles are the organisation's own.
        let cfg = vouch_core::identity::ProfileConfig::default();
        identity
            .create_profile(&a, "strict", "Strict", &cfg, cli("profile.created"))
            .await
            .unwrap();
        assert_eq!(identity.profiles(&a).await.unwrap().len(), 1, "{}", db.kind);
        assert!(
            identity.profiles(&b).await.unwrap().is_empty(),
            "{}",
            db.kind
        );
        assert!(identity.profile(&b, "strict").await.is_err(), "{}", db.kind);
    }
}

#[tokio::test]
async fn keys_rotate_revoke_and_authenticate() {
    for db in TestDb::all().await {
        let store = Arc::new(db.open().await);
        let a = org(&store, "A").await;
        let keys = Keys::new(store.clone());
        let first = keys
            .create(&a, "main", KeySettings::default(), cli("api_key.created"))
            .await
            .unwrap();
        assert!(matches!(
            keys.authenticate(&first.secret).await.unwrap(),
            Ok(Principal::ApiKey(k)) if k.id == first.key.id
        ));
        let (old, new) = keys.rotate(&a, &first.key.id, cli).await.unwrap();
        assert_eq!(old.id, first.key.id);
        assert_eq!(new.key.name, "main", "{}", db.kind);
        assert!(matches!(
            keys.authenticate(&first.secret).await.unwrap(),
            Err(Refusal::Revoked)
        ));
        assert!(matches!(
            keys.authenticate(&new.secret).await.unwrap(),
            Ok(Principal::ApiKey(_))
        ));
        // A revoked key is not rotated; the try-out key is made once.
        assert!(keys.rotate(&a, &first.key.id, cli).await.is_err());
        let t1 = keys.try_out_key(&a, cli("api_key.created")).await.unwrap();
        let t2 = keys.try_out_key(&a, cli("api_key.created")).await.unwrap();
        assert_eq!(t1.id, t2.id, "{}", db.kind);
        assert!(keys.has_own_key(&a).await.unwrap());
        let b = org(&store, "B").await;
        keys.try_out_key(&b, cli("api_key.created")).await.unwrap();
        assert!(!keys.has_own_key(&b).await.unwrap(), "{}", db.kind);
        assert!(matches!(
            keys.authenticate("vk_not_a_key").await.unwrap(),
            Err(Refusal::Unknown)
        ));
    }
}

#[tokio::test]
async fn a_test_event_is_queued_listed_and_audited_for_its_organisation_only() {
    for db in TestDb::all().await {
        let store = Arc::new(db.open().await);
        let (a, b) = (org(&store, "A").await, org(&store, "B").await);
        let keys = Keys::new(store.clone());
        let plain = keys
            .create(&a, "plain", KeySettings::default(), cli("api_key.created"))
            .await
            .unwrap()
            .key;
        let settings = KeySettings {
            webhook_url: Some("https://hooks.example.com/vouch".into()),
            ..KeySettings::default()
        };
        let hooked = keys
            .create(&a, "hooked", settings, cli("api_key.created"))
            .await
            .unwrap()
            .key;
        let events = Arc::new(Notify::new());
        let webhooks = Webhooks::new(store.clone(), events.clone());
        assert!(matches!(
            webhooks
                .send_test(&plain, cli("webhook.test_sent"))
                .await
                .unwrap(),
            Err(NoWebhook::Missing)
        ));
        webhooks
            .send_test(&hooked, cli("webhook.test_sent").in_org(&a))
            .await
            .unwrap()
            .unwrap();
        let woken = tokio::time::timeout(std::time::Duration::from_millis(100), events.notified());
        assert!(woken.await.is_ok(), "{}: the worker is woken", db.kind);
        let listed = webhooks.deliveries(&a, 10).await.unwrap();
        assert_eq!(listed.len(), 1, "{}", db.kind);
        let id = vouch_core::ids::DeliveryId::from_string(listed[0].id.clone());
        let (delivery, attempts) = webhooks.delivery(&a, &id).await.unwrap();
        assert_eq!(delivery.id, listed[0].id);
        assert!(attempts.is_empty());
        assert!(
            webhooks.deliveries(&b, 10).await.unwrap().is_empty(),
            "{}",
            db.kind
        );
        assert!(webhooks.delivery(&b, &id).await.is_err(), "{}", db.kind);
        assert!(
            webhooks.deliveries(&a, 0).await.is_err(),
            "a limit of 0 is refused"
        );
        let audit = webhooks.audit_log(&a, 50).await.unwrap();
        assert!(
            audit.iter().any(|e| e.action == "webhook.test_sent"),
            "{}",
            db.kind
        );
    }
}

#[tokio::test]
async fn an_admin_signs_in_with_the_password_and_out_again() {
    for db in TestDb::all().await {
        let store = Arc::new(db.open().await);
        let a = org(&store, "A").await;
        let password = "a long enough password";
        let hash = hash_password(password).unwrap();
        store
            .create_admin(&a, "root@example.com", Some(&hash), None)
            .await
            .unwrap();
        let auth = AdminAuth::new(store.clone());
        let audit = |admin: Option<&vouch_store::admin::Admin>, action: &str| {
            AuditRecord::new(admin.map(|x| &x.org_id), Actor::System, action)
        };
        assert!(matches!(
            auth.login(None, "root@example.com", "wrong password!!", &audit)
                .await,
            Err(AdminError::InvalidLogin)
        ));
        let Login::SignedIn(admin, opened) = auth
            .login(Some("192.0.2.7"), "ROOT@example.com", password, &audit)
            .await
            .unwrap()
        else {
            panic!("{}: no second factor yet, before the deadline", db.kind)
        };
        let (session, found) = auth.signed_in(&opened.token).await.unwrap().expect("live");
        assert_eq!(found.id, admin.id, "{}", db.kind);
        assert_eq!(session.csrf, opened.csrf);
        assert!(
            auth.pending(&opened.token).await.is_err(),
            "not a pending token"
        );
        auth.logout(&session, audit(Some(&admin), "admin.logout"))
            .await
            .unwrap();
        assert!(
            auth.signed_in(&opened.token).await.unwrap().is_none(),
            "{}",
            db.kind
        );
        assert!(
            auth.offer_bootstrap().await.unwrap().is_none(),
            "an admin exists"
        );
    }
}

#[tokio::test]
async fn phone_identities_are_reused_per_customer_and_scoped_by_organisation() {
    for db in TestDb::all().await {
        let store = Arc::new(db.open().await);
        let (a, b) = (org(&store, "A").await, org(&store, "B").await);
        let phone = Phone::new(store.clone(), Arc::new(Notify::new()));
        let number = "+14155550123";
        let identity = PhoneIdentity {
            id: uuid::Uuid::new_v4().to_string(),
            org_id: a.clone(),
            phone: number.into(),
            client_customer_id: Some("cust-1".into()),
            client_human_id: None,
            device_id: None,
            active: true,
            monitored: true,
            carrier: None,
            line_type: Some("mobile".into()),
            country_code: Some("US".into()),
            created_at: vouch_core::now_millis(),
        };
        phone.create_identity(&identity).await.unwrap();
        let again = phone.reenrol(&a, number, Some("cust-1")).await.unwrap();
        assert_eq!(again.as_deref(), Some(identity.id.as_str()), "{}", db.kind);
        assert!(phone
            .reenrol(&a, number, Some("cust-2"))
            .await
            .unwrap()
            .is_none());
        assert!(phone
            .reenrol(&b, number, Some("cust-1"))
            .await
            .unwrap()
            .is_none());
        let active = phone.active_of_number(&a, number).await.unwrap();
        assert_eq!(active.map(|i| i.id), Some(identity.id.clone()));
        assert!(
            phone.active_of_number(&b, number).await.unwrap().is_none(),
            "{}",
            db.kind
        );
        assert!(
            phone.identity(&b, &identity.id).await.is_err(),
            "{}",
            db.kind
        );
        phone.set_active(&a, &identity.id, false).await.unwrap();
        assert!(phone
            .active_of_customer(&a, "cust-1")
            .await
            .unwrap()
            .is_none());
        assert_eq!(phone.monitored(None, Some(number)).await.unwrap().len(), 0);
        phone.delete(&a, &identity.id).await.unwrap();
        assert!(
            phone.identity(&a, &identity.id).await.is_err(),
            "{}",
            db.kind
        );
    }
}

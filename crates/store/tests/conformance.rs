//! The store conformance suite: every test runs on SQLite, and on PostgreSQL when
//! `VOUCH_TEST_PG_URL` is set (always in CI).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use sqlx::Row;
use std::sync::Arc;
use vouch_core::event::Dialect;
use vouch_core::ids::KeyId;
use vouch_core::model::{Actor, AuditRecord, KeySettings, PersonData};
use vouch_store::crypto::{MasterKeySource, SecretKey};
use vouch_store::outbox::Outbound;
use vouch_store::{Store, StoreOptions};
use vouch_testkit::TestDb;

fn cli(action: &str) -> AuditRecord {
    AuditRecord::new(None, Actor::Cli, action)
}

async fn raw_pool(db: &TestDb) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .expect("raw pool")
}

fn person() -> PersonData {
    PersonData {
        given_names: Some("Zebedee Quill".into()),
        surname: Some("Oyelaran-Fitzwilliam".into()),
        date_of_birth: Some("1987-03-14".into()),
        document_number: Some("X9QZ4471B".into()),
        email: Some("Zeb.Quill@example.org".into()),
        phone: Some("+447700900123".into()),
    }
}

const SECRETS: [&str; 6] = [
    "Zebedee Quill",
    "Oyelaran-Fitzwilliam",
    "1987-03-14",
    "X9QZ4471B",
    "Zeb.Quill@example.org",
    "+447700900123",
];

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn personal_data_is_never_stored_in_plaintext() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let org = store
            .create_org("Acme", cli("org.created"))
            .await
            .unwrap()
            .id;
        let created = store
            .create_person(&org, Some("user-1"), &person())
            .await
            .unwrap();
        let read = store.person(&org, &created.id).await.unwrap();
        assert_eq!(read.data, person(), "{}", db.kind);
        let found = store
            .find_people_by_email(&org, "zeb.quill@EXAMPLE.org")
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{}: blind index lookup", db.kind);
        match &db.sqlite_path {
            Some(path) => {
                store.close().await;
                let mut bytes = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    if let Ok(b) = std::fs::read(std::path::PathBuf::from(p)) {
                        bytes.extend(b);
                    }
                }
                assert!(bytes.len() > 10_000, "read the database files");
                assert!(
                    contains(&bytes, "user-1"),
                    "the check can see plaintext columns"
                );
                for s in SECRETS {
                    assert!(!contains(&bytes, s), "sqlite file contains {s}");
                }
            }
            None => {
                let pool = raw_pool(&db).await;
                let rows = sqlx::query("SELECT row_to_json(p)::text AS j FROM persons p")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                let mut text = String::new();
                for r in rows {
                    text.push_str(&r.try_get::<String, _>("j").unwrap());
                }
                assert!(
                    text.contains("user-1"),
                    "the check can see plaintext columns"
                );
                let raw = sqlx::query("SELECT given_names, surname, date_of_birth, document_number, email, phone FROM persons")
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                for r in raw {
                    for i in 0..6 {
                        let b: Vec<u8> = r.try_get(i).unwrap();
                        for s in SECRETS {
                            assert!(!contains(&b, s), "postgres column holds {s}");
                        }
                    }
                }
                for s in SECRETS {
                    assert!(!text.contains(s), "postgres row holds {s}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_sealed_value_moved_to_another_row_does_not_open() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let org = store
            .create_org("Acme", cli("org.created"))
            .await
            .unwrap()
            .id;
        let a = store.create_person(&org, None, &person()).await.unwrap();
        let b = store
            .create_person(
                &org,
                None,
                &PersonData {
                    surname: Some("Other".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let pool = raw_pool(&db).await;
        let sql = if db.kind == "sqlite" {
            "UPDATE persons SET surname = (SELECT surname FROM persons WHERE id = ?1) WHERE id = ?2"
        } else {
            "UPDATE persons SET surname = (SELECT surname FROM persons WHERE id = $1) WHERE id = $2"
        };
        sqlx::query(sql)
            .bind(a.id.as_str())
            .bind(b.id.as_str())
            .execute(&pool)
            .await
            .unwrap();
        assert!(
            store.person(&org, &b.id).await.is_err(),
            "{}: swapped ciphertext must fail",
            db.kind
        );
        assert!(store.person(&org, &a.id).await.is_ok());
    }
}

#[tokio::test]
async fn people_are_scoped_by_organisation() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let a = store.create_org("A", cli("org.created")).await.unwrap().id;
        let b = store.create_org("B", cli("org.created")).await.unwrap().id;
        let p = store.create_person(&a, None, &person()).await.unwrap();
        assert!(matches!(
            store.person(&b, &p.id).await,
            Err(vouch_core::Error::NotFound(_))
        ));
        assert!(store
            .find_people_by_email(&b, "zeb.quill@example.org")
            .await
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn the_audit_log_refuses_updates() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let org = store
            .create_org("Acme", cli("org.created"))
            .await
            .unwrap()
            .id;
        let entries = store.list_audit(&org, 10).await.unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].action, "org.created");
        let pool = raw_pool(&db).await;
        for sql in [
            "UPDATE audit_log SET action = 'tampered'",
            "DELETE FROM audit_log",
        ] {
            let refused = sqlx::query(sql).execute(&pool).await.is_err();
            assert!(refused, "{}: {sql} must be refused", db.kind);
        }
        assert_eq!(
            store.list_audit(&org, 10).await.unwrap()[0].action,
            "org.created"
        );
    }
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_migrations_are_idempotent() {
    for db in TestDb::all().await {
        let store = db.open().await;
        store.close().await;
        let again = db.open().await; // second open applies nothing and succeeds
        again.close().await;
        let pool = raw_pool(&db).await;
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        let opened = Store::open(StoreOptions::new(
            db.url.clone(),
            MasterKeySource::Given(db.master.clone()),
        ))
        .await;
        let err = opened
            .err()
            .expect("newer schema must be refused")
            .to_string();
        assert!(err.contains("newer"), "{}: {err}", db.kind);
    }
}

#[tokio::test]
async fn master_key_rotation_rewraps_and_keeps_data_readable() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let org = store
            .create_org("Acme", cli("org.created"))
            .await
            .unwrap()
            .id;
        let p = store.create_person(&org, None, &person()).await.unwrap();
        let new_master = SecretKey::generate();
        assert_eq!(store.rotate_master_key(&new_master).await.unwrap(), 2);
        store.close().await;
        let with_old = Store::open(StoreOptions::new(
            db.url.clone(),
            MasterKeySource::Given(db.master.clone()),
        ))
        .await;
        assert!(
            with_old.is_err(),
            "{}: the old master key must no longer open the keys",
            db.kind
        );
        let store = Store::open(StoreOptions::new(
            db.url.clone(),
            MasterKeySource::Given(new_master),
        ))
        .await
        .unwrap();
        assert_eq!(store.person(&org, &p.id).await.unwrap().data, person());
        let q = store.create_person(&org, None, &person()).await.unwrap();
        assert_eq!(store.person(&org, &q.id).await.unwrap().data, person());
        let pool = raw_pool(&db).await;
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM data_keys WHERE purpose = 'data'")
            .fetch_one(&pool)
            .await
            .unwrap()
            .try_get("n")
            .unwrap();
        assert_eq!(n, 2, "a new data key seals new values");
    }
}

#[tokio::test]
/// On PostgreSQL the count is in the database; on SQLite (one node) it is in the process,
/// shared by every handle on the database.
async fn two_nodes_share_one_rate_limit_count() {
    for db in TestDb::all().await {
        let a = Arc::new(db.open().await);
        let b = Arc::new(db.open().await);
        let now = vouch_core::now_millis();
        // Stay clear of a window boundary so that all hits land in one window.
        let now = now - now.rem_euclid(60_000) + 30_000;
        let mut tasks = Vec::new();
        for i in 0..40 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                s.hit_rate_limit("key_shared", 25, now)
                    .await
                    .unwrap()
                    .allowed
            }));
        }
        let mut allowed = 0;
        for t in tasks {
            if t.await.unwrap() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 25, "{}", db.kind);
    }
}

#[tokio::test]
async fn concurrent_workers_never_claim_the_same_delivery() {
    for db in TestDb::all().await {
        let a = Arc::new(db.open().await);
        let b = Arc::new(db.open().await);
        let org = a.create_org("Acme", cli("org.created")).await.unwrap().id;
        let key = a
            .create_api_key(&org, "k", KeySettings::default(), cli("api_key.created"))
            .await
            .unwrap()
            .key
            .id;
        for i in 0..30 {
            let out = Outbound {
                key_id: KeyId::from_string(key.as_str()),
                url: "http://127.0.0.1:9/hook".into(),
                dialect: Dialect::Standard,
                body: format!("{{\"n\":{i}}}").into_bytes(),
            };
            a.emit_event(&org, "test.event", &[out], None)
                .await
                .unwrap();
        }
        let now = vouch_core::now_millis() + 1;
        let (x, y) = tokio::join!(
            a.claim_due_deliveries(now, 60_000, 20),
            b.claim_due_deliveries(now, 60_000, 20)
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x.len() + y.len(), 30, "{}", db.kind);
        for d in &x {
            assert!(y.iter().all(|e| e.id != d.id), "{}: claimed twice", db.kind);
        }
        assert!(String::from_utf8(x[0].body.clone())
            .unwrap()
            .starts_with("{\"n\":"));
        // Leases held: nothing more to claim until they expire.
        assert!(a
            .claim_due_deliveries(now, 60_000, 50)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            a.claim_due_deliveries(now + 61_000, 60_000, 50)
                .await
                .unwrap()
                .len(),
            30
        );
    }
}

#[tokio::test]
async fn credentials_resolve_by_kind_and_refuse_revoked_ones() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let org = store
            .create_org("Acme", cli("org.created"))
            .await
            .unwrap()
            .id;
        let other = store
            .create_org("Other", cli("org.created"))
            .await
            .unwrap()
            .id;
        let k = store
            .create_api_key(&org, "k", KeySettings::default(), cli("api_key.created"))
            .await
            .unwrap();
        assert!(k.secret.len() >= 40);
        let listed = store.list_api_keys(&org).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert!(store.list_api_keys(&other).await.unwrap().is_empty());
        assert!(
            store
                .revoke_api_key(&other, &k.key.id, cli("x"))
                .await
                .is_err(),
            "another org cannot revoke"
        );
        assert!(store.authenticate(&k.secret).await.unwrap().is_ok());
        store
            .revoke_api_key(&org, &k.key.id, cli("api_key.revoked"))
            .await
            .unwrap();
        assert!(matches!(
            store.authenticate(&k.secret).await.unwrap(),
            Err(vouch_store::tenancy::Refusal::Revoked)
        ));
        assert!(matches!(
            store.revoke_api_key(&org, &k.key.id, cli("x")).await,
            Err(vouch_core::Error::Conflict(_))
        ));
        let (client, secret) = store
            .create_oauth_client(&org, "c", cli("oauth_client.created"))
            .await
            .unwrap();
        assert!(store
            .issue_access_token(client.id.as_str(), "wrong", 1000)
            .await
            .unwrap()
            .is_none());
        let (_, token, _) = store
            .issue_access_token(client.id.as_str(), &secret, 60_000)
            .await
            .unwrap()
            .unwrap();
        assert!(store.authenticate(&token).await.unwrap().is_ok());
        let (_, expired, _) = store
            .issue_access_token(client.id.as_str(), &secret, -1)
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(
            store.authenticate(&expired).await.unwrap(),
            Err(vouch_store::tenancy::Refusal::Expired)
        ));
        assert!(store
            .create_service_token(&org, "t", "admin", cli("x"))
            .await
            .is_err());
        let actions: Vec<String> = store
            .list_audit(&org, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert!(actions.contains(&"api_key.revoked".to_string()));
        assert!(actions.contains(&"oauth_client.created".to_string()));
    }
}

#[tokio::test]
async fn session_metadata_is_sealed_and_sessions_are_scoped_by_org() {
    use vouch_core::session::NewSession;
    for db in TestDb::all().await {
        let store = db.open().await;
        let acme = store
            .create_org("Acme", cli("org.created"))
            .await
            .unwrap()
            .id;
        let globex = store
            .create_org("Globex", cli("org.created"))
            .await
            .unwrap()
            .id;
        let key = store
            .create_api_key(&acme, "k", KeySettings::default(), cli("api_key.created"))
            .await
            .unwrap()
            .key;
        let metadata = serde_json::json!({"name": SECRETS[0]});
        let new = NewSession::validate(
            Some("ref-1".into()),
            None,
            None,
            None,
            Some(metadata.clone()),
            &key.settings.checks,
        )
        .unwrap();
        let expires = vouch_core::now_millis() + 60_000;
        let created = store
            .create_session(
                &acme,
                &key.id,
                &new,
                "digest",
                expires,
                cli("verification.created"),
            )
            .await
            .unwrap();
        let read = store.session(&acme, &created.id).await.unwrap();
        assert_eq!(read, created, "{}", db.kind);
        assert_eq!(read.metadata, Some(metadata));
        assert!(matches!(
            store.session(&globex, &created.id).await,
            Err(vouch_core::Error::NotFound(_))
        ));
        let by_token = store.session_by_token_hash("digest").await.unwrap();
        assert_eq!(by_token.id, created.id);
        let pool = raw_pool(&db).await;
        let row = sqlx::query("SELECT metadata, external_ref FROM verification_sessions")
            .fetch_one(&pool)
            .await
            .unwrap();
        let sealed: Vec<u8> = row.try_get(0).unwrap();
        assert!(
            !contains(&sealed, SECRETS[0]),
            "{}: metadata in plaintext",
            db.kind
        );
        assert_eq!(row.try_get::<String, _>(1).unwrap(), "ref-1");
    }
}

#[tokio::test]
async fn concurrent_session_creates_commit_in_groups_and_a_bad_row_fails_alone() {
    use vouch_core::session::NewSession;
    use vouch_store::sessions::SessionFilter;
    for db in TestDb::all().await {
        let store = Arc::new(db.open().await);
        let org = store
            .create_org("Acme", cli("org.created"))
            .await
            .unwrap()
            .id;
        let key = store
            .create_api_key(&org, "k", KeySettings::default(), cli("api_key.created"))
            .await
            .unwrap()
            .key;
        let expires = vouch_core::now_millis() + 60_000;
        let mut tasks = Vec::new();
        for i in 0..120 {
            let (store, org, key_id) = (store.clone(), org.clone(), key.id.clone());
            let checks = key.settings.checks.clone();
            tasks.push(tokio::spawn(async move {
                let new =
                    NewSession::validate(Some(format!("r{i}")), None, None, None, None, &checks)
                        .unwrap();
                // Five rows share one token digest: the unique index lets one in.
                let digest = if i % 24 == 0 {
                    "dup".to_string()
                } else {
                    format!("d{i}")
                };
                store
                    .create_session(
                        &org,
                        &key_id,
                        &new,
                        &digest,
                        expires,
                        cli("verification.created"),
                    )
                    .await
            }));
        }
        let mut ok = 0;
        let mut conflicts = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(s) => {
                    ok += 1;
                    // What the caller was told is what is stored.
                    assert_eq!(store.session(&org, &s.id).await.unwrap(), s);
                }
                Err(vouch_core::Error::Conflict(_)) => conflicts += 1,
                Err(e) => panic!("{}: {e}", db.kind),
            }
        }
        assert_eq!((ok, conflicts), (116, 4), "{}", db.kind);
        let page = store
            .list_sessions(&org, &SessionFilter::default(), 1, 100)
            .await
            .unwrap();
        assert_eq!(page.total, 116, "{}", db.kind);
        let audited = store
            .list_audit(&org, 1000)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.action == "verification.created")
            .count();
        assert_eq!(
            audited, 116,
            "one audit entry per stored session ({})",
            db.kind
        );
    }
}

#[tokio::test]
async fn session_images_are_sealed_scoped_and_swapped_ciphertext_fails() {
    use vouch_core::ids::SessionId;
    use vouch_store::images::NewImage;
    for db in TestDb::all().await {
        let store = db.open().await;
        let org = store
            .create_org("Acme", cli("org.created"))
            .await
            .unwrap()
            .id;
        let globex = store
            .create_org("Globex", cli("org.created"))
            .await
            .unwrap()
            .id;
        let id = SessionId::generate();
        let jpeg = b"\xFF\xD8\xFF\xE0 a face, as a reviewer sees it".to_vec();
        let image = |name, bytes| NewImage {
            name,
            content_type: "image/jpeg",
            bytes,
            keep_days: 0,
        };
        store
            .put_session_image(&org, &id, &image("selfie", &jpeg))
            .await
            .unwrap();
        store
            .put_session_image(&org, &id, &image("document_front", b"front"))
            .await
            .unwrap();
        let (ty, back) = store.session_image(&org, &id, "selfie").await.unwrap();
        assert_eq!((ty.as_str(), back), ("image/jpeg", jpeg.clone()));
        assert!(store.session_image(&globex, &id, "selfie").await.is_err());
        assert!(store.session_images(&globex, &id).await.unwrap().is_empty());
        let pool = raw_pool(&db).await;
        let rows = sqlx::query("SELECT name, sealed FROM session_images")
            .fetch_all(&pool)
            .await
            .unwrap();
        for r in &rows {
            let sealed: Vec<u8> = r.try_get("sealed").unwrap();
            assert!(
                !sealed.windows(6).any(|w| w == b"a face"),
                "plaintext image in the table ({})",
                db.kind
            );
        }
        // The selfie's ciphertext moved under another name does not open.
        let selfie: Vec<u8> = rows
            .iter()
            .find(|r| r.try_get::<String, _>("name").unwrap() == "selfie")
            .unwrap()
            .try_get("sealed")
            .unwrap();
        let q = if db.kind == "postgres" {
            "UPDATE session_images SET sealed = $1 WHERE name = 'document_front'"
        } else {
            "UPDATE session_images SET sealed = ?1 WHERE name = 'document_front'"
        };
        sqlx::query(q).bind(selfie).execute(&pool).await.unwrap();
        assert!(store
            .session_image(&org, &id, "document_front")
            .await
            .is_err());
    }
}

#[tokio::test]
async fn concurrent_first_opens_agree_on_the_data_keys() {
    // Several nodes starting at once on a fresh database: every open succeeds (none sees
    // the data key without the blind-index key) and they share the same keys. PostgreSQL
    // only: several nodes on one SQLite file is not a supported topology.
    for db in TestDb::all().await {
        if db.kind != "postgres" {
            continue;
        }
        let open = || {
            Store::open(StoreOptions::new(
                db.url.clone(),
                MasterKeySource::Given(db.master.clone()),
            ))
        };
        let (a, b, c, d, e, f) = tokio::join!(open(), open(), open(), open(), open(), open());
        let stores: Vec<Store> = [a, b, c, d, e, f]
            .into_iter()
            .map(|opened| opened.unwrap_or_else(|e| panic!("{}: {e}", db.kind)))
            .collect();
        let org = stores[0]
            .create_org("Acme", cli("org.created"))
            .await
            .unwrap()
            .id;
        let p = stores[1]
            .create_person(&org, None, &person())
            .await
            .unwrap();
        for s in &stores {
            assert_eq!(
                s.person(&org, &p.id).await.unwrap().data,
                person(),
                "{}",
                db.kind
            );
        }
        for s in stores {
            s.close().await;
        }
    }
}

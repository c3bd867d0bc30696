//! KYC session use cases: create, read, list and cancel sessions, their kept images (each
//! view audited), and the manual review of a session awaiting one, the single rule behind
//! `POST /api/v1/verify/{id}/review` and the console's review queue.

use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::Notify;
use vouch_core::ids::{KeyId, OrgId, SessionId};
use vouch_core::model::AuditRecord;
use vouch_core::session::{Decision, NewSession, VerificationSession};
use vouch_core::{Error, Millis, Result};
use vouch_store::images::ImageInfo;
use vouch_store::sessions::{SessionFilter, SessionPage};

/// The images a session may hold.
pub const IMAGE_NAMES: [&str; 3] = ["selfie", "document_front", "document_back"];

/// Storage of sessions and their images.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Creates a session (group-committed with others).
    async fn create(
        &self,
        org: &OrgId,
        key: &KeyId,
        new: &NewSession,
        token_hash: &str,
        expires_at: Millis,
        audit: AuditRecord,
    ) -> Result<VerificationSession>;
    /// One session of the org (`NotFound` otherwise).
    async fn get(&self, org: &OrgId, id: &SessionId) -> Result<VerificationSession>;
    /// A page of the org's sessions.
    async fn list(
        &self,
        org: &OrgId,
        filter: &SessionFilter,
        page: i64,
        limit: i64,
    ) -> Result<SessionPage>;
    /// Cancels an open session, with its event and audit record.
    async fn cancel(
        &self,
        org: &OrgId,
        id: &SessionId,
        audit: AuditRecord,
    ) -> Result<VerificationSession>;
    /// The images a session still holds.
    async fn images(&self, org: &OrgId, id: &SessionId) -> Result<Vec<ImageInfo>>;
    /// One image: content type and bytes.
    async fn image(&self, org: &OrgId, id: &SessionId, name: &str) -> Result<(String, Vec<u8>)>;
    /// Appends an audit record.
    async fn audit(&self, record: &AuditRecord) -> Result<()>;
    /// Decides a session awaiting review (completed with REVIEW) with a reviewer's
    /// decision, writes the audit record and the `verification.reviewed` event, in one
    /// transaction; `Conflict` for any other session, `NotFound` outside the org.
    async fn decide_reviewed(
        &self,
        org: &OrgId,
        id: &SessionId,
        decision: Decision,
        note: Option<&str>,
        audit: AuditRecord,
    ) -> Result<VerificationSession>;
}

#[async_trait]
impl SessionStore for vouch_store::Store {
    async fn create(
        &self,
        org: &OrgId,
        key: &KeyId,
        new: &NewSession,
        token_hash: &str,
        expires_at: Millis,
        audit: AuditRecord,
    ) -> Result<VerificationSession> {
        self.create_session(org, key, new, token_hash, expires_at, audit)
            .await
    }

    async fn get(&self, org: &OrgId, id: &SessionId) -> Result<VerificationSession> {
        self.session(org, id).await
    }

    async fn list(
        &self,
        org: &OrgId,
        filter: &SessionFilter,
        page: i64,
        limit: i64,
    ) -> Result<SessionPage> {
        self.list_sessions(org, filter, page, limit).await
    }

    async fn cancel(
        &self,
        org: &OrgId,
        id: &SessionId,
        audit: AuditRecord,
    ) -> Result<VerificationSession> {
        self.cancel_session(org, id, audit).await
    }

    async fn images(&self, org: &OrgId, id: &SessionId) -> Result<Vec<ImageInfo>> {
        self.session_images(org, id).await
    }

    async fn image(&self, org: &OrgId, id: &SessionId, name: &str) -> Result<(String, Vec<u8>)> {
        self.session_image(org, id, name).await
    }

    async fn audit(&self, record: &AuditRecord) -> Result<()> {
        self.append_audit(record).await
    }

    async fn decide_reviewed(
        &self,
        org: &OrgId,
        id: &SessionId,
        decision: Decision,
        note: Option<&str>,
        audit: AuditRecord,
    ) -> Result<VerificationSession> {
        self.decide_session(
            org,
            id,
            Default::default(),
            decision,
            vouch_store::sessions::Decider::Reviewer { note },
            audit,
        )
        .await
    }
}

/// The longest review note, in characters.
pub const MAX_REVIEW_NOTE_CHARS: usize = 1000;

/// A reviewer's decision as it arrives: the decision's name and an optional note.
#[derive(Debug, Clone, Copy)]
pub struct Review<'a> {
    /// `APPROVED` or `REJECTED`.
    pub decision: &'a str,
    /// Why, for the audit log (blank counts as none).
    pub note: Option<&'a str>,
}

/// KYC session use cases.
pub struct Kyc {
    sessions: Arc<dyn SessionStore>,
    events: Arc<Notify>,
}

impl Kyc {
    /// Over a store; `events` wakes the webhook worker.
    pub fn new(sessions: Arc<dyn SessionStore>, events: Arc<Notify>) -> Kyc {
        Kyc { sessions, events }
    }

    /// Creates a validated session. The write runs in a task of its own: a client that
    /// hangs up must not cancel a group commit that carries other clients' sessions.
    pub async fn create(
        &self,
        org: &OrgId,
        key: &KeyId,
        new: NewSession,
        token_hash: String,
        expires_at: Millis,
        audit: AuditRecord,
    ) -> Result<VerificationSession> {
        let (store, org, key) = (self.sessions.clone(), org.clone(), key.clone());
        tokio::spawn(async move {
            store
                .create(&org, &key, &new, &token_hash, expires_at, audit)
                .await
        })
        .await
        .map_err(|e| Error::Internal(format!("session create task: {e}")))?
    }

    /// One session of the org.
    pub async fn get(&self, org: &OrgId, id: &SessionId) -> Result<VerificationSession> {
        self.sessions.get(org, id).await
    }

    /// A page of the org's sessions.
    pub async fn list(
        &self,
        org: &OrgId,
        filter: &SessionFilter,
        page: i64,
        limit: i64,
    ) -> Result<SessionPage> {
        self.sessions.list(org, filter, page, limit).await
    }

    /// Cancels an open session (`verification.cancelled` fires); `Conflict` otherwise.
    pub async fn cancel(
        &self,
        org: &OrgId,
        id: &SessionId,
        audit: AuditRecord,
    ) -> Result<VerificationSession> {
        let session = self.sessions.cancel(org, id, audit).await?;
        self.events.notify_one();
        Ok(session)
    }

    /// The images a session of the org still holds (`NotFound` for another org's).
    pub async fn images(&self, org: &OrgId, id: &SessionId) -> Result<Vec<ImageInfo>> {
        self.sessions.get(org, id).await?;
        self.sessions.images(org, id).await
    }

    /// The images a session already read (so of its org) still holds.
    pub async fn images_of(&self, session: &VerificationSession) -> Result<Vec<ImageInfo>> {
        self.sessions.images(&session.org_id, &session.id).await
    }

    /// One image of a session, as received; every view is audited (`audit` names the
    /// viewer; the image's name is added to it).
    pub async fn image(
        &self,
        org: &OrgId,
        id: &SessionId,
        name: &str,
        audit: AuditRecord,
    ) -> Result<(String, Vec<u8>)> {
        if !IMAGE_NAMES.contains(&name) {
            return Err(Error::NotFound("image"));
        }
        let image = self.sessions.image(org, id, name).await?;
        self.sessions
            .audit(
                &audit
                    .in_org(org)
                    .target(id)
                    .details(serde_json::json!({ "image": name })),
            )
            .await?;
        Ok(image)
    }

    /// Decides a session awaiting review: APPROVED or REJECTED, a note of at most
    /// [`MAX_REVIEW_NOTE_CHARS`]; the session takes the decision and
    /// `verification.reviewed` fires. Bad input is `Invalid` and changes nothing.
    pub async fn review(
        &self,
        org: &OrgId,
        id: &SessionId,
        review: Review<'_>,
        audit: AuditRecord,
    ) -> Result<VerificationSession> {
        let decision = match Decision::parse(review.decision.trim()) {
            Some(d @ (Decision::Approved | Decision::Rejected)) => d,
            _ => {
                return Err(Error::Invalid(
                    "decision must be APPROVED or REJECTED".into(),
                ))
            }
        };
        let note = review.note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > MAX_REVIEW_NOTE_CHARS) {
            return Err(Error::Invalid(format!(
                "note must be at most {MAX_REVIEW_NOTE_CHARS} characters"
            )));
        }
        let session = self
            .sessions
            .decide_reviewed(org, id, decision, note, audit)
            .await?;
        self.events.notify_one();
        Ok(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use vouch_core::model::Actor;

    /// Records what reached storage: the decisions, one image, every audit record;
    /// answers `Conflict` to a review when told to.
    #[derive(Default)]
    struct Fake {
        calls: Mutex<Vec<(Decision, Option<String>)>>,
        conflict: bool,
        audits: Mutex<Vec<AuditRecord>>,
        image_reads: Mutex<usize>,
    }

    #[async_trait]
    impl SessionStore for Fake {
        async fn create(
            &self,
            _: &OrgId,
            _: &KeyId,
            _: &NewSession,
            _: &str,
            _: Millis,
            _: AuditRecord,
        ) -> Result<VerificationSession> {
            Err(Error::Unavailable("fake".into()))
        }
        async fn get(&self, _: &OrgId, _: &SessionId) -> Result<VerificationSession> {
            Err(Error::NotFound("session"))
        }
        async fn list(&self, _: &OrgId, _: &SessionFilter, _: i64, _: i64) -> Result<SessionPage> {
            Err(Error::Unavailable("fake".into()))
        }
        async fn cancel(
            &self,
            _: &OrgId,
            _: &SessionId,
            _: AuditRecord,
        ) -> Result<VerificationSession> {
            Err(Error::Conflict("not open".into()))
        }
        async fn images(&self, _: &OrgId, _: &SessionId) -> Result<Vec<ImageInfo>> {
            Ok(Vec::new())
        }
        async fn image(&self, _: &OrgId, _: &SessionId, _: &str) -> Result<(String, Vec<u8>)> {
            *self
                .image_reads
                .lock()
                .map_err(|_| Error::Internal("poisoned".into()))? += 1;
            Ok(("image/jpeg".into(), vec![0xff, 0xd8]))
        }
        async fn audit(&self, record: &AuditRecord) -> Result<()> {
            self.audits
                .lock()
                .map_err(|_| Error::Internal("poisoned".into()))?
                .push(record.clone());
            Ok(())
        }
        async fn decide_reviewed(
            &self,
            _: &OrgId,
            _: &SessionId,
            decision: Decision,
            note: Option<&str>,
            _: AuditRecord,
        ) -> Result<VerificationSession> {
            self.calls
                .lock()
                .map_err(|_| Error::Internal("poisoned".into()))?
                .push((decision, note.map(str::to_string)));
            if self.conflict {
                return Err(Error::Conflict("not awaiting review".into()));
            }
            Err(Error::NotFound("session (fake store keeps none)"))
        }
    }

    fn kyc(fake: Arc<Fake>) -> (Kyc, Arc<Notify>) {
        let events = Arc::new(Notify::new());
        (Kyc::new(fake, events.clone()), events)
    }

    #[tokio::test]
    async fn an_image_view_is_audited_and_only_known_names_reach_storage() {
        let sessions = Arc::new(Fake::default());
        let kyc = Kyc::new(sessions.clone(), Arc::new(Notify::new()));
        let (org, id) = (OrgId::from_string("o"), SessionId::from_string("s"));
        for name in ["../master.key", "selfie.jpg", ""] {
            let e = kyc.image(&org, &id, name, audit()).await;
            assert!(matches!(e, Err(Error::NotFound(_))), "{name}: {e:?}");
        }
        assert_eq!(sessions.image_reads.lock().map(|n| *n).unwrap_or(9), 0);
        let (kind, bytes) = kyc
            .image(&org, &id, "selfie", audit())
            .await
            .expect("the image");
        assert_eq!((kind.as_str(), bytes.len()), ("image/jpeg", 2));
        let audits = sessions
            .audits
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default();
        assert_eq!(audits.len(), 1);
        assert_eq!(audits[0].details["image"], "selfie");
        assert_eq!(audits[0].target.as_deref(), Some("s"));
        // Another org's session: NotFound before any image is listed.
        assert!(matches!(
            kyc.images(&org, &id).await,
            Err(Error::NotFound(_))
        ));
    }

    fn audit() -> AuditRecord {
        AuditRecord::new(None, Actor::System, "verification.reviewed")
    }

    #[tokio::test]
    async fn bad_reviews_are_refused_before_storage() {
        let fake = Arc::new(Fake::default());
        let (kyc, _) = kyc(fake.clone());
        let (org, id) = (OrgId::from_string("o"), SessionId::from_string("s"));
        for (decision, note) in [
            ("REVIEW", None),
            ("maybe", None),
            ("", None),
            ("APPROVED", Some("x".repeat(MAX_REVIEW_NOTE_CHARS + 1))),
        ] {
            let r = Review {
                decision,
                note: note.as_deref(),
            };
            let e = kyc.review(&org, &id, r, audit()).await;
            assert!(matches!(e, Err(Error::Invalid(_))), "{decision}: {e:?}");
        }
        assert!(fake.calls.lock().map(|c| c.is_empty()).unwrap_or(false));
    }

    #[tokio::test]
    async fn a_review_reaches_storage_with_its_note_trimmed_and_wakes_the_worker_only_on_success() {
        let fake = Arc::new(Fake {
            conflict: true,
            ..Default::default()
        });
        let (kyc, events) = kyc(fake.clone());
        let (org, id) = (OrgId::from_string("o"), SessionId::from_string("s"));
        let long = "é".repeat(MAX_REVIEW_NOTE_CHARS);
        for (decision, note, want) in [
            (" REJECTED ", Some("  "), (Decision::Rejected, None)),
            (
                "APPROVED",
                Some(long.as_str()),
                (Decision::Approved, Some(long.clone())),
            ),
        ] {
            let e = kyc
                .review(&org, &id, Review { decision, note }, audit())
                .await;
            assert!(matches!(e, Err(Error::Conflict(_))));
            let last = fake.calls.lock().ok().and_then(|c| c.last().cloned());
            assert_eq!(last, Some(want));
        }
        let woken = tokio::time::timeout(std::time::Duration::from_millis(20), events.notified());
        assert!(woken.await.is_err(), "a refused review wrote no event");
    }
}

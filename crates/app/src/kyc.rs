//! KYC session use cases: the manual review of a session awaiting one, the single rule
//! behind `POST /api/v1/verify/{id}/review` and the console's review queue.

use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::Notify;
use vouch_core::ids::{OrgId, SessionId};
use vouch_core::model::AuditRecord;
use vouch_core::session::{Decision, VerificationSession};
use vouch_core::{Error, Result};

/// The longest review note, in characters.
pub const MAX_REVIEW_NOTE_CHARS: usize = 1000;

/// Storage a review needs.
#[async_trait]
pub trait ReviewStore: Send + Sync {
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
impl ReviewStore for vouch_store::Store {
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
    store: Arc<dyn ReviewStore>,
    events: Arc<Notify>,
}

impl Kyc {
    /// Over a store; `events` wakes the webhook worker.
    pub fn new(store: Arc<dyn ReviewStore>, events: Arc<Notify>) -> Kyc {
        Kyc { store, events }
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
            .store
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

    /// Records what reached storage; answers `Conflict` when told to.
    #[derive(Default)]
    struct Fake {
        calls: Mutex<Vec<(Decision, Option<String>)>>,
        conflict: bool,
    }

    #[async_trait]
    impl ReviewStore for Fake {
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

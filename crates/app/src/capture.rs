//! The KYC capture steps of the hosted flow (spec: kyc-sessions-api.md): the session of
//! a page token, the selfie, the document and the completion, where face match and the
//! overall decision are judged by [`vouch_core::policy`]. The hosted page's endpoints
//! (`/verify/{token}/selfie`, `/document`, `/complete`) and the digital ID step call these.
//!
//! Images arrive base64-encoded (plain or as a data URL) and are decoded here, bounded,
//! after the session, the rate limit and the step's relevance are checked, so a request
//! that is wrong in several ways is refused for the first of them, in that order. Of each
//! step one image is kept, sealed, for a reviewer; the biometric templates a later step
//! needs are kept sealed with the session until it is decided, then deleted.
//!
//! Size (just over 800 lines): the three steps and their storage trait are about 580; the
//! rest is the unit tests' fake store.

use crate::analysis::{CaptureError, DocumentAnalysis, Engines};
use crate::scan::SelfieAnalyser;
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use tokio::sync::Notify;
use vouch_core::check::Check;
use vouch_core::credential::{hash_secret, SecretKind};
use vouch_core::ids::{KeyId, OrgId, SessionId};
use vouch_core::model::{Actor, AuditRecord, KeySettings};
use vouch_core::policy::{self, Outcome};
use vouch_core::session::{result_key, Decision, SessionStatus, VerificationSession};
use vouch_core::{now_millis, Error, Millis, Result};
use vouch_store::images::NewImage;
use vouch_store::ratelimit::RateDecision;
use vouch_store::sessions::Decider;

/// The largest image, decoded from base64, in bytes.
pub const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;
/// The most selfie frames one request may carry.
pub const MAX_FRAMES: usize = crate::scan::MAX_FRAMES;
/// Analysis requests (selfie, document) one session may make in a minute: a person
/// retrying after a blurred photo needs a few, a script probing the models many.
pub const CAPTURES_PER_MINUTE: u32 = 10;
/// The longest page token.
const MAX_TOKEN: usize = 128;

/// Storage the capture steps use.
#[async_trait]
pub trait CaptureStore: Send + Sync {
    /// The session of a page token's digest.
    async fn session_by_token_hash(&self, hash: &str) -> Result<VerificationSession>;
    /// The settings of the key a session was made with.
    async fn key_settings(&self, org: &OrgId, key: &KeyId) -> Result<KeySettings>;
    /// Counts one request in a fixed one-minute window of `bucket`.
    async fn hit_rate_limit(&self, bucket: &str, limit: u32, now: Millis) -> Result<RateDecision>;
    /// Records a step's results, evidence (sealed) and kept images; PENDING → IN_PROGRESS.
    async fn record_step(
        &self,
        org: &OrgId,
        id: &SessionId,
        results: Map<String, Value>,
        evidence: Map<String, Value>,
        images: &[NewImage<'_>],
    ) -> Result<VerificationSession>;
    /// The evidence the steps kept.
    async fn evidence(&self, org: &OrgId, id: &SessionId) -> Result<Map<String, Value>>;
    /// Decides the session from the flow (its event and audit record in one transaction),
    /// deleting its evidence.
    async fn decide(
        &self,
        org: &OrgId,
        id: &SessionId,
        results: Map<String, Value>,
        decision: Decision,
        audit: AuditRecord,
    ) -> Result<VerificationSession>;
}

#[async_trait]
impl CaptureStore for vouch_store::Store {
    async fn session_by_token_hash(&self, hash: &str) -> Result<VerificationSession> {
        vouch_store::Store::session_by_token_hash(self, hash).await
    }

    async fn key_settings(&self, org: &OrgId, key: &KeyId) -> Result<KeySettings> {
        Ok(self.api_key(org, key).await?.settings)
    }

    async fn hit_rate_limit(&self, bucket: &str, limit: u32, now: Millis) -> Result<RateDecision> {
        vouch_store::Store::hit_rate_limit(self, bucket, limit, now).await
    }

    async fn record_step(
        &self,
        org: &OrgId,
        id: &SessionId,
        results: Map<String, Value>,
        evidence: Map<String, Value>,
        images: &[NewImage<'_>],
    ) -> Result<VerificationSession> {
        self.record_session_step(org, id, results, evidence, images)
            .await
    }

    async fn evidence(&self, org: &OrgId, id: &SessionId) -> Result<Map<String, Value>> {
        self.session_evidence(org, id).await
    }

    async fn decide(
        &self,
        org: &OrgId,
        id: &SessionId,
        results: Map<String, Value>,
        decision: Decision,
        audit: AuditRecord,
    ) -> Result<VerificationSession> {
        self.decide_session(org, id, results, decision, Decider::Flow, audit)
            .await
    }
}

/// The document engine. Blocking.
pub trait DocumentAnalyser: Send + Sync {
    /// Reads a document's front (and a licence's back) as of `today`.
    fn analyse_document(
        &self,
        front: &[u8],
        back: Option<&[u8]>,
        today: chrono::NaiveDate,
    ) -> std::result::Result<DocumentAnalysis, CaptureError>;
}

impl DocumentAnalyser for Engines {
    fn analyse_document(
        &self,
        front: &[u8],
        back: Option<&[u8]>,
        today: chrono::NaiveDate,
    ) -> std::result::Result<DocumentAnalysis, CaptureError> {
        crate::analysis::analyse_document(self, front, back, today)
    }
}

/// Why a session takes no more captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// Its link expired.
    Expired,
    /// It was cancelled.
    Cancelled,
    /// It was decided REVIEW and waits for a reviewer.
    AwaitingReview,
    /// It was decided.
    Complete,
}

/// Why an image was refused before analysis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageError {
    /// Larger than [`MAX_IMAGE_BYTES`] (the message names the image).
    TooLarge(String),
    /// Not base64 (the message names the image).
    NotBase64(String),
}

/// Why a capture step was refused.
#[derive(Debug)]
pub enum StepError {
    /// The session takes no more captures.
    Closed(Closed),
    /// Too many analysis requests for this session: retry after so many seconds.
    RateLimited(i64),
    /// The session does not ask for this step (the message says so).
    NotAsked(&'static str),
    /// Bad frame count.
    Frames(String),
    /// An image could not be decoded.
    Image(ImageError),
    /// The capture could not be analysed (no face, several faces, too dark…), or the
    /// engine failed.
    Capture(CaptureError),
    /// Nothing on the document could be read: a photo to retake, not a verdict.
    Unreadable,
    /// A step this one needs was not done first (`selfie`, `document`, `digital ID`).
    Incomplete(&'static str),
    /// The session does not exist, the store.
    Core(Error),
}

impl From<Error> for StepError {
    fn from(e: Error) -> Self {
        StepError::Core(e)
    }
}

/// Decodes a base64 image (a data URL as a canvas gives it, or plain base64), at most
/// [`MAX_IMAGE_BYTES`].
pub fn decode_image(name: &str, b64: &str) -> std::result::Result<Vec<u8>, ImageError> {
    let data = match b64.split_once(";base64,") {
        Some((head, rest)) if head.starts_with("data:") => rest,
        _ => b64,
    };
    if data.len() > MAX_IMAGE_BYTES / 3 * 4 + 4 {
        return Err(ImageError::TooLarge(format!(
            "{name} is larger than {MAX_IMAGE_BYTES} bytes"
        )));
    }
    STANDARD
        .decode(data.trim())
        .map_err(|_| ImageError::NotBase64(format!("{name} is not valid base64")))
}

/// Decodes a capture's frames, each as [`decode_image`] does (named `frame 1`, …).
pub fn decode_frames(frames: &[String]) -> std::result::Result<Vec<Vec<u8>>, ImageError> {
    frames
        .iter()
        .enumerate()
        .map(|(i, f)| decode_image(&format!("frame {}", i + 1), f))
        .collect()
}

/// The media type of an image the decoder accepted, from its first bytes.
pub fn image_type(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        _ => "application/octet-stream",
    }
}

/// A capture image to keep with the step, for review.
fn kept<'a>(name: &'a str, bytes: &'a [u8], settings: &KeySettings) -> NewImage<'a> {
    NewImage {
        name,
        content_type: image_type(bytes),
        bytes,
        keep_days: settings.image_retention_days,
    }
}

fn round(v: f32, places: i32) -> f64 {
    let m = 10f64.powi(places);
    (f64::from(v) * m).round() / m
}

fn embedding(v: Option<&Value>) -> Option<Vec<f32>> {
    serde_json::from_value(v?.clone()).ok()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::result::Result<T, CaptureError> + Send + 'static,
) -> std::result::Result<T, StepError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StepError::Capture(CaptureError::Engine(e.to_string())))?
        .map_err(StepError::Capture)
}

/// A decided session.
#[derive(Debug, Clone)]
pub struct Completed {
    /// The session, COMPLETED.
    pub session: VerificationSession,
    /// The overall decision.
    pub decision: Decision,
    /// Where the page sends the person, with `session_id` and `result`, when the
    /// session has a redirect URL.
    pub redirect_url: Option<String>,
}

/// The capture use cases.
pub struct Capture {
    store: Arc<dyn CaptureStore>,
    events: Arc<Notify>,
}

impl Capture {
    /// Over a store; `events` wakes the webhook worker.
    pub fn new(store: Arc<dyn CaptureStore>, events: Arc<Notify>) -> Capture {
        Capture { store, events }
    }

    /// The session of a page token, whatever its state (`NotFound` for anything that is
    /// not a session's link).
    pub async fn session_of_token(&self, token: &str) -> Result<VerificationSession> {
        if !token.starts_with(SecretKind::SessionToken.prefix()) || token.len() > MAX_TOKEN {
            return Err(Error::NotFound("session"));
        }
        self.store.session_by_token_hash(&hash_secret(token)).await
    }

    /// The session of a page token, if it still takes captures (`NotFound` for anything
    /// that is not a live link).
    pub async fn open(&self, token: &str) -> std::result::Result<VerificationSession, StepError> {
        let s = self.session_of_token(token).await?;
        let closed = match s.status {
            SessionStatus::Expired => Closed::Expired,
            SessionStatus::Cancelled => Closed::Cancelled,
            _ if s.awaiting_review() => Closed::AwaitingReview,
            SessionStatus::Completed => Closed::Complete,
            // Decided REVIEW by an earlier version, which kept such sessions open.
            SessionStatus::Pending | SessionStatus::InProgress if s.overall_result.is_some() => {
                Closed::AwaitingReview
            }
            SessionStatus::Pending | SessionStatus::InProgress => return Ok(s),
        };
        Err(StepError::Closed(closed))
    }

    /// Counts one analysis request of a public capture page (`bucket`: one per session
    /// and step kind) against [`CAPTURES_PER_MINUTE`].
    pub async fn count_attempt(&self, bucket: &str) -> std::result::Result<(), StepError> {
        let now = now_millis();
        let d = self
            .store
            .hit_rate_limit(bucket, CAPTURES_PER_MINUTE, now)
            .await?;
        if d.allowed {
            return Ok(());
        }
        Err(StepError::RateLimited(d.retry_after_secs(now)))
    }

    /// The settings of the key the session was made with.
    pub async fn settings(&self, s: &VerificationSession) -> Result<KeySettings> {
        self.store.key_settings(&s.org_id, &s.key_id).await
    }

    /// The capture steps a session already has, so that a reloaded page resumes the flow:
    /// `digital_id`, `selfie`, `document`.
    pub async fn done_steps(&self, s: &VerificationSession) -> Vec<&'static str> {
        let evidence = if s.checks.contains(&Check::FaceMatch) {
            self.store
                .evidence(&s.org_id, &s.id)
                .await
                .unwrap_or_default()
        } else {
            Map::new()
        };
        let has = |c: Check| s.results.contains_key(result_key(c));
        let mut done = Vec::new();
        if has(Check::DigitalId) {
            done.push("digital_id");
        }
        if evidence.contains_key("selfie") || has(Check::Liveness) || has(Check::AgeEstimation) {
            done.push("selfie");
        }
        if evidence.contains_key("document") || has(Check::DocVerify) {
            done.push("document");
        }
        done
    }

    /// Records a step of an open session: results, evidence, kept images.
    pub async fn record(
        &self,
        s: &VerificationSession,
        results: Map<String, Value>,
        evidence: Map<String, Value>,
        images: &[NewImage<'_>],
    ) -> Result<VerificationSession> {
        self.store
            .record_step(&s.org_id, &s.id, results, evidence, images)
            .await
    }

    /// The selfie step: 1 to [`MAX_FRAMES`] frames, one face in each; liveness and age
    /// are judged, the face kept (sealed) for face match, the middle frame for review.
    pub async fn selfie(
        &self,
        analyser: Arc<dyn SelfieAnalyser>,
        session: &VerificationSession,
        frames: &[String],
    ) -> std::result::Result<VerificationSession, StepError> {
        self.count_attempt(&format!("capture:{}", session.id.as_str()))
            .await?;
        if !session
            .checks
            .iter()
            .any(|c| matches!(c, Check::Liveness | Check::AgeEstimation | Check::FaceMatch))
        {
            return Err(StepError::NotAsked(
                "This verification does not ask for a selfie",
            ));
        }
        if frames.is_empty() || frames.len() > MAX_FRAMES {
            return Err(StepError::Frames(format!(
                "frames must hold 1 to {MAX_FRAMES} images"
            )));
        }
        let frames = decode_frames(frames).map_err(StepError::Image)?;
        // The middle frame is kept (sealed) for a reviewer; the others are dropped here.
        let frame = frames[frames.len() / 2].clone();
        let analysis = blocking(move || analyser.analyse_selfie(&frames)).await?;
        let settings = self.settings(session).await?;
        let t = &settings.thresholds;
        let mut results = Map::new();
        if session.checks.contains(&Check::Liveness) {
            let l = policy::liveness(&analysis.liveness, t);
            results.insert(
                result_key(Check::Liveness).into(),
                json!({
                    "status": "COMPLETED",
                    "result": l.result,
                    "livenessScore": round(l.liveness_score, 4),
                    "blink": l.blink,
                    "turn": l.turn,
                    "consistent": l.consistent,
                    "frames": l.frames,
                }),
            );
        }
        if session.checks.contains(&Check::AgeEstimation) {
            let (result, meets) = policy::age(analysis.estimated_age, t);
            results.insert(
                result_key(Check::AgeEstimation).into(),
                json!({
                    "status": "COMPLETED",
                    "result": result,
                    "estimatedAge": round(analysis.estimated_age, 1),
                    "meetsMinAge": meets,
                }),
            );
        }
        let mut evidence = Map::new();
        if session.checks.contains(&Check::FaceMatch) {
            evidence.insert("selfie".into(), json!(analysis.embedding));
        }
        let images = [kept("selfie", &frame, &settings)];
        Ok(self.record(session, results, evidence, &images).await?)
    }

    /// The document step: the front (and a licence's back) is read and checked, its
    /// portrait kept (sealed) for face match, the sides for review. A document of which
    /// nothing could be read is [`StepError::Unreadable`] and not recorded.
    pub async fn document(
        &self,
        analyser: Arc<dyn DocumentAnalyser>,
        session: &VerificationSession,
        front: &str,
        back: Option<&str>,
    ) -> std::result::Result<VerificationSession, StepError> {
        self.count_attempt(&format!("capture:{}", session.id.as_str()))
            .await?;
        if !session.checks.contains(&Check::DocVerify)
            && !session.checks.contains(&Check::FaceMatch)
        {
            return Err(StepError::NotAsked(
                "This verification does not ask for a document",
            ));
        }
        let front = decode_image("front", front).map_err(StepError::Image)?;
        let back = back
            .map(|b| decode_image("back", b))
            .transpose()
            .map_err(StepError::Image)?;
        let (front_kept, back_kept) = (front.clone(), back.clone());
        let today = chrono::Utc::now().date_naive();
        let doc =
            blocking(move || analyser.analyse_document(&front, back.as_deref(), today)).await?;
        if session.checks.contains(&Check::DocVerify) && doc.read.reasons.contains(&"UNREADABLE") {
            return Err(StepError::Unreadable);
        }
        let mut results = Map::new();
        if session.checks.contains(&Check::DocVerify) {
            results.insert(
                result_key(Check::DocVerify).into(),
                json!({
                    "status": "COMPLETED",
                    "result": doc.read.result,
                    "documentType": doc.read.document_type,
                    "ocrConfidence": round(doc.read.ocr_confidence, 3),
                    "reasons": doc.read.reasons,
                }),
            );
        }
        let mut evidence = Map::new();
        if session.checks.contains(&Check::FaceMatch) {
            evidence.insert("document".into(), json!(true));
            evidence.insert("portrait".into(), json!(doc.portrait));
        }
        let settings = self.settings(session).await?;
        let mut images = vec![kept("document_front", &front_kept, &settings)];
        if let Some(back) = &back_kept {
            images.push(kept("document_back", back, &settings));
        }
        Ok(self.record(session, results, evidence, &images).await?)
    }

    /// Ends the capture: face match is judged (the selfie against the document's or the
    /// digital ID's portrait), then the overall decision ([`policy::overall`]); the
    /// session completes, `verification.completed` fires and the templates are deleted.
    pub async fn complete(
        &self,
        session: &VerificationSession,
    ) -> std::result::Result<Completed, StepError> {
        for c in &session.checks {
            let missing = !session.results.contains_key(result_key(*c));
            match c {
                Check::Liveness | Check::AgeEstimation if missing => {
                    return Err(StepError::Incomplete("selfie"))
                }
                Check::DocVerify if missing => return Err(StepError::Incomplete("document")),
                Check::DigitalId if missing => return Err(StepError::Incomplete("digital ID")),
                _ => {}
            }
        }
        let mut results = Map::new();
        if session.checks.contains(&Check::FaceMatch) {
            results.insert(
                result_key(Check::FaceMatch).into(),
                self.face_match(session).await?,
            );
        }
        let outcomes: Vec<Outcome> = session
            .checks
            .iter()
            .map(|c| {
                let key = result_key(*c);
                results
                    .get(key)
                    .or_else(|| session.results.get(key))
                    .and_then(|v| v["result"].as_str())
                    .and_then(Outcome::parse)
                    .unwrap_or(Outcome::Review)
            })
            .collect();
        let decision = policy::overall(&outcomes);
        let audit = AuditRecord::new(Some(&session.org_id), Actor::System, "verification.decided");
        let s = self
            .store
            .decide(&session.org_id, &session.id, results, decision, audit)
            .await?;
        self.events.notify_one();
        let redirect_url = redirect(&s, decision);
        Ok(Completed {
            session: s,
            decision,
            redirect_url,
        })
    }

    /// The face match result of a session whose selfie and reference face were captured.
    async fn face_match(
        &self,
        session: &VerificationSession,
    ) -> std::result::Result<Value, StepError> {
        let evidence = self.store.evidence(&session.org_id, &session.id).await?;
        let selfie = embedding(evidence.get("selfie")).ok_or(StepError::Incomplete("selfie"))?;
        // The reference face: the document's portrait, or the digital ID's.
        if !evidence.contains_key("document") && !evidence.contains_key("credential") {
            return Err(StepError::Incomplete(
                if session.checks.contains(&Check::DigitalId) {
                    "digital ID"
                } else {
                    "document"
                },
            ));
        }
        let t = self.settings(session).await?.thresholds;
        Ok(match embedding(evidence.get("portrait")) {
            Some(portrait) => {
                let similarity = vouch_face::cosine(&selfie, &portrait);
                let (result, is_match) = policy::face_match(similarity, &t);
                json!({
                    "status": "COMPLETED",
                    "result": result,
                    "similarityScore": round(similarity, 4),
                    "isMatch": is_match,
                })
            }
            // The detector may miss a worn or glared portrait: a person should look.
            None => json!({
                "status": "COMPLETED",
                "result": Outcome::Review,
                "similarityScore": null,
                "isMatch": false,
                "reason": "NO_PORTRAIT",
            }),
        })
    }
}

fn redirect(session: &VerificationSession, decision: Decision) -> Option<String> {
    let mut url = url::Url::parse(session.redirect_url.as_deref()?).ok()?;
    url.query_pairs_mut()
        .append_pair("session_id", session.id.as_str())
        .append_pair("result", decision.as_str());
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// One session's evidence; records what reached `record_step` and `decide`; a
    /// rate limit of `allowed` requests.
    #[derive(Default)]
    struct Fake {
        evidence: Map<String, Value>,
        allowed: u32,
        hits: Mutex<u32>,
        decided: Mutex<Vec<(Map<String, Value>, Decision)>>,
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[async_trait]
    impl CaptureStore for Fake {
        async fn session_by_token_hash(&self, _: &str) -> Result<VerificationSession> {
            Err(Error::NotFound("session"))
        }
        async fn key_settings(&self, _: &OrgId, _: &KeyId) -> Result<KeySettings> {
            Ok(KeySettings::default())
        }
        async fn hit_rate_limit(&self, _: &str, limit: u32, now: Millis) -> Result<RateDecision> {
            let mut hits = lock(&self.hits);
            *hits += 1;
            Ok(RateDecision {
                limit,
                remaining: self.allowed.saturating_sub(*hits),
                reset_at: now + 30_000,
                allowed: *hits <= self.allowed,
            })
        }
        async fn record_step(
            &self,
            _: &OrgId,
            _: &SessionId,
            _: Map<String, Value>,
            _: Map<String, Value>,
            _: &[NewImage<'_>],
        ) -> Result<VerificationSession> {
            Err(Error::Unavailable("fake".into()))
        }
        async fn evidence(&self, _: &OrgId, _: &SessionId) -> Result<Map<String, Value>> {
            Ok(self.evidence.clone())
        }
        async fn decide(
            &self,
            _: &OrgId,
            _: &SessionId,
            results: Map<String, Value>,
            decision: Decision,
            _: AuditRecord,
        ) -> Result<VerificationSession> {
            lock(&self.decided).push((results, decision));
            let mut s = session(&[]);
            s.status = SessionStatus::Completed;
            s.overall_result = Some(decision);
            s.redirect_url = Some("https://shop.example/done?x=1".into());
            Ok(s)
        }
    }

    fn session(checks: &[Check]) -> VerificationSession {
        VerificationSession {
            id: SessionId::from_string("ses_1"),
            org_id: OrgId::from_string("o"),
            key_id: KeyId::from_string("k"),
            external_ref: None,
            status: SessionStatus::InProgress,
            overall_result: None,
            checks: checks.to_vec(),
            results: Map::new(),
            redirect_url: None,
            callback_url: None,
            metadata: None,
            expires_at: now_millis() + 60_000,
            created_at: now_millis(),
            finished_at: None,
        }
    }

    fn passed(s: &mut VerificationSession, check: Check, result: &str) {
        s.results
            .insert(result_key(check).into(), json!({"result": result}));
    }

    fn capture(fake: Fake) -> (Capture, Arc<Fake>) {
        let fake = Arc::new(fake);
        (Capture::new(fake.clone(), Arc::new(Notify::new())), fake)
    }

    #[tokio::test]
    async fn completing_before_every_step_names_the_missing_step() {
        let (capture, fake) = capture(Fake::default());
        let s = session(&[Check::Liveness, Check::DocVerify]);
        assert!(matches!(
            capture.complete(&s).await,
            Err(StepError::Incomplete("selfie"))
        ));
        let mut s = s;
        passed(&mut s, Check::Liveness, "PASS");
        assert!(matches!(
            capture.complete(&s).await,
            Err(StepError::Incomplete("document"))
        ));
        // Face match needs the reference face, here the document's.
        let mut s = session(&[Check::FaceMatch]);
        s.checks.push(Check::Liveness);
        passed(&mut s, Check::Liveness, "PASS");
        assert!(matches!(
            capture.complete(&s).await,
            Err(StepError::Incomplete("selfie"))
        ));
        assert!(lock(&fake.decided).is_empty(), "nothing was decided");
    }

    #[tokio::test]
    async fn face_match_is_judged_at_completion_and_joins_the_overall_decision() {
        let same = vec![0.6f32, 0.8];
        let other = vec![0.8f32, -0.6];
        for (portrait, want, result) in [
            (Some(same.clone()), Decision::Approved, "PASS"),
            (Some(other), Decision::Rejected, "FAIL"),
            (None, Decision::Review, "REVIEW"),
        ] {
            let mut evidence = Map::new();
            evidence.insert("selfie".into(), json!(same));
            evidence.insert("document".into(), json!(true));
            evidence.insert("portrait".into(), json!(portrait));
            let (capture, fake) = capture(Fake {
                evidence,
                ..Fake::default()
            });
            let mut s = session(&[Check::Liveness, Check::FaceMatch]);
            passed(&mut s, Check::Liveness, "PASS");
            let done = capture.complete(&s).await.expect("decided");
            assert_eq!(done.decision, want);
            let decided = lock(&fake.decided);
            assert_eq!(decided.len(), 1);
            assert_eq!(decided[0].0[result_key(Check::FaceMatch)]["result"], result);
            let url = done.redirect_url.expect("a redirect");
            assert!(
                url.contains("session_id=ses_1") && url.contains(want.as_str()),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn a_capture_beyond_the_rate_limit_waits_and_a_step_not_asked_is_refused() {
        let (capture, _) = capture(Fake {
            allowed: 1,
            ..Fake::default()
        });
        let docs_only = session(&[Check::DocVerify]);
        let analyser: Arc<dyn SelfieAnalyser> = Arc::new(NoEngine);
        let first = capture
            .selfie(analyser.clone(), &docs_only, &["AAAA".to_string()])
            .await;
        assert!(matches!(first, Err(StepError::NotAsked(_))));
        let second = capture
            .selfie(analyser, &docs_only, &["AAAA".to_string()])
            .await;
        assert!(matches!(second, Err(StepError::RateLimited(s)) if (1..=30).contains(&s)));
    }

    #[tokio::test]
    async fn bad_frames_are_refused_before_analysis() {
        let (capture, _) = capture(Fake {
            allowed: 10,
            ..Fake::default()
        });
        let s = session(&[Check::Liveness]);
        let analyser: Arc<dyn SelfieAnalyser> = Arc::new(NoEngine);
        let too_many = vec!["AAAA".to_string(); MAX_FRAMES + 1];
        assert!(matches!(
            capture.selfie(analyser.clone(), &s, &too_many).await,
            Err(StepError::Frames(_))
        ));
        assert!(matches!(
            capture
                .selfie(analyser.clone(), &s, &["not base64!".into()])
                .await,
            Err(StepError::Image(ImageError::NotBase64(_)))
        ));
        let huge = "A".repeat(MAX_IMAGE_BYTES / 3 * 4 + 8);
        assert!(matches!(
            capture.selfie(analyser, &s, &[huge]).await,
            Err(StepError::Image(ImageError::TooLarge(_)))
        ));
    }

    #[test]
    fn data_urls_and_plain_base64_decode_alike() {
        let plain = decode_image("x", "/9j/").expect("base64");
        let url = decode_image("x", "data:image/jpeg;base64,/9j/").expect("data URL");
        assert_eq!(plain, url);
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), "image/jpeg");
    }

    /// An engine that must not be reached.
    struct NoEngine;

    impl SelfieAnalyser for NoEngine {
        fn analyse_selfie(
            &self,
            _: &[Vec<u8>],
        ) -> std::result::Result<crate::analysis::SelfieAnalysis, CaptureError> {
            Err(CaptureError::Engine("analysis was reached".into()))
        }

        fn match_threshold(&self) -> f32 {
            0.54
        }
    }
}

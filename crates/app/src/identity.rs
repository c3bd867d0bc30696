//! Biometric identity use cases (spec: biometric-identity-api.md): enrolment, 1:N verify
//! with the checks pipeline of the verification profile, the profiles themselves and the
//! alert rules. The API (`/api/enroll`, `/api/verify`, `/api/profiles`,
//! `/api/alert-rules`) and the console's profile and alert pages call these.
//!
//! Size (over 800 lines): the storage trait with its store implementation, the use cases
//! and the checks pipeline are about 600; the rest is the unit tests' in-memory fake
//! store and probe analyser, kept beside the code they test.

use crate::analysis::{CaptureError, Engines, SelfieAnalysis};
use crate::gallery::{Galleries, TemplateSource};
use async_trait::async_trait;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::Notify;
use vouch_core::identity::{self as rules, CheckResult, ProfileConfig};
use vouch_core::ids::{KeyId, OrgId, PersonId};
use vouch_core::model::AuditRecord;
use vouch_core::{Error, Millis, Result};
use vouch_store::biometrics::{AlertRule, IdentityCheckRecord, Profile, Template};

/// Past templates the history check compares with.
pub const HISTORY: i64 = 50;
/// The longest e-mail address.
const MAX_EMAIL: usize = 254;
/// Why an unmatched probe failed (the spec's wording).
pub const NOT_RECOGNISED: &str = "Identity not recognised";

/// Storage of enrolled people, their templates and checks, profiles and alert rules.
#[async_trait]
pub trait IdentityStore: TemplateSource {
    /// Adds a template to the person with this e-mail (created when new) → (person, created).
    async fn enroll_template(
        &self,
        org: &OrgId,
        key: Option<&KeyId>,
        email: &str,
        embedding: &[f32],
        audit: AuditRecord,
    ) -> Result<(PersonId, bool)>;
    /// A person's e-mail (`NotFound` outside the org).
    async fn person_email(&self, org: &OrgId, person: &PersonId) -> Result<Option<String>>;
    /// Records a verify (and its event; an accepted probe joins the person's history).
    async fn record_identity_check(&self, org: &OrgId, rec: &IdentityCheckRecord) -> Result<()>;
    /// Where and when the person last verified with a location.
    async fn last_verified_location(
        &self,
        org: &OrgId,
        person: &PersonId,
    ) -> Result<Option<((f64, f64), Millis)>>;
    /// The person's latest templates, newest first.
    async fn person_templates(
        &self,
        org: &OrgId,
        person: &PersonId,
        limit: i64,
    ) -> Result<Vec<Template>>;
    /// Whether the person has verified from this device before.
    async fn known_device(&self, org: &OrgId, person: &PersonId, fingerprint: &str)
        -> Result<bool>;
    /// Creates a profile (`Conflict` on a taken slug).
    async fn create_profile(
        &self,
        org: &OrgId,
        slug: &str,
        name: &str,
        config: &Value,
        audit: AuditRecord,
    ) -> Result<Profile>;
    /// One profile, by id or slug.
    async fn profile(&self, org: &OrgId, id_or_slug: &str) -> Result<Profile>;
    /// Every profile of the org, by slug.
    async fn profiles(&self, org: &OrgId) -> Result<Vec<Profile>>;
    /// Replaces a profile's name and configuration.
    async fn update_profile(
        &self,
        org: &OrgId,
        id_or_slug: &str,
        name: &str,
        config: &Value,
        audit: AuditRecord,
    ) -> Result<Profile>;
    /// Deletes a profile.
    async fn delete_profile(&self, org: &OrgId, id_or_slug: &str, audit: AuditRecord)
        -> Result<()>;
    /// Creates an alert rule (validated by the store).
    async fn create_alert_rule(
        &self,
        org: &OrgId,
        rule: &NewAlertRule,
        audit: AuditRecord,
    ) -> Result<AlertRule>;
    /// Every alert rule of the org.
    async fn alert_rules(&self, org: &OrgId) -> Result<Vec<AlertRule>>;
    /// Deletes an alert rule.
    async fn delete_alert_rule(&self, org: &OrgId, id: &str, audit: AuditRecord) -> Result<()>;
}

#[async_trait]
impl IdentityStore for vouch_store::Store {
    async fn enroll_template(
        &self,
        org: &OrgId,
        key: Option<&KeyId>,
        email: &str,
        embedding: &[f32],
        audit: AuditRecord,
    ) -> Result<(PersonId, bool)> {
        vouch_store::Store::enroll_template(self, org, key, email, embedding, audit).await
    }

    async fn person_email(&self, org: &OrgId, person: &PersonId) -> Result<Option<String>> {
        Ok(self.person(org, person).await?.data.email)
    }

    async fn record_identity_check(&self, org: &OrgId, rec: &IdentityCheckRecord) -> Result<()> {
        vouch_store::Store::record_identity_check(self, org, rec)
            .await
            .map(|_| ())
    }

    async fn last_verified_location(
        &self,
        org: &OrgId,
        person: &PersonId,
    ) -> Result<Option<((f64, f64), Millis)>> {
        vouch_store::Store::last_verified_location(self, org, person).await
    }

    async fn person_templates(
        &self,
        org: &OrgId,
        person: &PersonId,
        limit: i64,
    ) -> Result<Vec<Template>> {
        vouch_store::Store::person_templates(self, org, person, limit).await
    }

    async fn known_device(
        &self,
        org: &OrgId,
        person: &PersonId,
        fingerprint: &str,
    ) -> Result<bool> {
        vouch_store::Store::known_device(self, org, person, fingerprint).await
    }

    async fn create_profile(
        &self,
        org: &OrgId,
        slug: &str,
        name: &str,
        config: &Value,
        audit: AuditRecord,
    ) -> Result<Profile> {
        vouch_store::Store::create_profile(self, org, slug, name, config, audit).await
    }

    async fn profile(&self, org: &OrgId, id_or_slug: &str) -> Result<Profile> {
        vouch_store::Store::profile(self, org, id_or_slug).await
    }

    async fn profiles(&self, org: &OrgId) -> Result<Vec<Profile>> {
        self.list_profiles(org).await
    }

    async fn update_profile(
        &self,
        org: &OrgId,
        id_or_slug: &str,
        name: &str,
        config: &Value,
        audit: AuditRecord,
    ) -> Result<Profile> {
        vouch_store::Store::update_profile(self, org, id_or_slug, name, config, audit).await
    }

    async fn delete_profile(
        &self,
        org: &OrgId,
        id_or_slug: &str,
        audit: AuditRecord,
    ) -> Result<()> {
        vouch_store::Store::delete_profile(self, org, id_or_slug, audit).await
    }

    async fn create_alert_rule(
        &self,
        org: &OrgId,
        rule: &NewAlertRule,
        audit: AuditRecord,
    ) -> Result<AlertRule> {
        vouch_store::Store::create_alert_rule(
            self,
            org,
            &rule.name,
            &rule.scope,
            rule.threshold,
            rule.window_minutes,
            audit,
        )
        .await
    }

    async fn alert_rules(&self, org: &OrgId) -> Result<Vec<AlertRule>> {
        self.list_alert_rules(org).await
    }

    async fn delete_alert_rule(&self, org: &OrgId, id: &str, audit: AuditRecord) -> Result<()> {
        vouch_store::Store::delete_alert_rule(self, org, id, audit).await
    }
}

/// The engine a probe needs: the embedding and passive liveness of each frame, frame
/// consistency (no face mesh, no age: 1:N verify and enrolment judge neither). Blocking.
pub trait ProbeAnalyser: Send + Sync {
    /// Analyses encoded frames (exactly one face in each).
    fn analyse_probe(
        &self,
        frames: &[Vec<u8>],
    ) -> std::result::Result<SelfieAnalysis, CaptureError>;
    /// The similarity at which two embeddings are one person.
    fn match_threshold(&self) -> f32;
}

impl ProbeAnalyser for Engines {
    fn analyse_probe(
        &self,
        frames: &[Vec<u8>],
    ) -> std::result::Result<SelfieAnalysis, CaptureError> {
        crate::analysis::analyse_frames(&self.face, frames, false)
    }

    fn match_threshold(&self) -> f32 {
        self.face.config().match_threshold
    }
}

/// Why an identity operation failed.
#[derive(Debug)]
pub enum IdentityError {
    /// A frame could not be analysed (no face, several faces, too dark…), or the engine
    /// failed.
    Capture(CaptureError),
    /// Invalid input, a missing record, the store.
    Core(Error),
}

impl From<Error> for IdentityError {
    fn from(e: Error) -> Self {
        IdentityError::Core(e)
    }
}

async fn analyse(
    analyser: Arc<dyn ProbeAnalyser>,
    frames: Vec<Vec<u8>>,
) -> std::result::Result<SelfieAnalysis, IdentityError> {
    tokio::task::spawn_blocking(move || analyser.analyse_probe(&frames))
        .await
        .map_err(|e| IdentityError::Capture(CaptureError::Engine(e.to_string())))?
        .map_err(IdentityError::Capture)
}

/// What the client says about the device (all optional).
#[derive(Debug, Clone, Default)]
pub struct Device {
    /// The browser's user agent.
    pub user_agent: Option<String>,
    /// Camera resolution.
    pub camera_width: Option<u32>,
    /// Camera resolution.
    pub camera_height: Option<u32>,
    /// Screen size.
    pub screen_width: Option<u32>,
    /// Screen size.
    pub screen_height: Option<u32>,
    /// Latitude and longitude, degrees (for impossibleTravel).
    pub latitude: Option<f64>,
    /// Longitude, degrees.
    pub longitude: Option<f64>,
    /// ISO 3166 alpha-2 country (for geoFence), as the client determined it.
    pub country: Option<String>,
}

impl Device {
    /// A fingerprint of camera, screen and user agent; none when nothing was sent.
    pub fn fingerprint(&self) -> Option<String> {
        if self.user_agent.is_none() && self.camera_width.is_none() && self.screen_width.is_none() {
            return None;
        }
        // The stored fingerprints of known devices depend on this text: never change it.
        let text = format!(
            "{}|{}x{}|{}x{}",
            self.user_agent.as_deref().unwrap_or(""),
            self.camera_width.unwrap_or(0),
            self.camera_height.unwrap_or(0),
            self.screen_width.unwrap_or(0),
            self.screen_height.unwrap_or(0)
        );
        Some(hex::encode(&Sha256::digest(text.as_bytes())[..16]))
    }

    /// The location, checked: both coordinates or neither, in range.
    pub fn location(&self) -> Result<Option<(f64, f64)>> {
        match (self.latitude, self.longitude) {
            (Some(la), Some(lo))
                if (-90.0..=90.0).contains(&la) && (-180.0..=180.0).contains(&lo) =>
            {
                Ok(Some((la, lo)))
            }
            (None, None) => Ok(None),
            _ => Err(Error::Invalid(
                "deviceInfo latitude and longitude go together, in degrees".into(),
            )),
        }
    }
}

/// An enrolment.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// The person.
    pub person: PersonId,
    /// Whether this enrolment created them.
    pub created: bool,
}

/// A verify's outcome.
#[derive(Debug, Clone)]
pub enum Verification {
    /// No enrolled person is similar enough.
    NotRecognised,
    /// A person matched and the profile's checks ran.
    Checked(Checked),
}

/// A matched probe and its checks.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The person matched.
    pub person: PersonId,
    /// Their e-mail (read when verified only).
    pub email: Option<String>,
    /// Cosine similarity of the probe to the person.
    pub similarity: f32,
    /// The weighted composite of the checks.
    pub composite: f64,
    /// Every check's result.
    pub results: Vec<CheckResult>,
    /// Whether the person is verified: no hard failure, composite high enough.
    pub verified: bool,
    /// Why not, when not verified.
    pub reason: Option<String>,
}

/// An alert rule to create.
#[derive(Debug, Clone)]
pub struct NewAlertRule {
    /// Display name.
    pub name: String,
    /// `person` or `device`.
    pub scope: String,
    /// Failures that fire it.
    pub threshold: i64,
    /// The window, minutes.
    pub window_minutes: i64,
}

/// The identity use cases.
pub struct Identity {
    store: Arc<dyn IdentityStore>,
    galleries: Galleries,
    events: Arc<Notify>,
}

fn valid_email(email: &str) -> Result<&str> {
    let email = email.trim();
    if email.len() > MAX_EMAIL
        || !email.contains('@')
        || email.starts_with('@')
        || email.ends_with('@')
    {
        return Err(Error::Invalid("email must be an e-mail address".into()));
    }
    Ok(email)
}

fn valid_profile_name(name: &str) -> Result<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(Error::Invalid("name must be 1 to 100 characters".into()));
    }
    Ok(name)
}

fn config_json(config: &ProfileConfig) -> Result<Value> {
    serde_json::to_value(config).map_err(|e| Error::Internal(e.to_string()))
}

impl Identity {
    /// The use cases over a store; `events` wakes the webhook worker.
    pub fn new(store: Arc<dyn IdentityStore>, events: Arc<Notify>) -> Identity {
        Identity {
            store,
            galleries: Galleries::default(),
            events,
        }
    }

    /// The org's enrolled person most similar to an embedding, when at least
    /// `threshold` similar, with the similarity.
    async fn matched(
        &self,
        org: &OrgId,
        embedding: &[f32],
        threshold: f32,
    ) -> Result<Option<(PersonId, f32)>> {
        let source: &dyn TemplateSource = self.store.as_ref();
        let best = self.galleries.best_match(source, org, embedding).await?;
        Ok(best.filter(|(_, sim)| *sim >= threshold))
    }

    /// The enrolled person most similar to an embedding, when at least `threshold`
    /// similar, with the similarity and their e-mail (presence scans use this).
    pub async fn recognise(
        &self,
        org: &OrgId,
        embedding: &[f32],
        threshold: f32,
    ) -> Result<Option<(PersonId, f32, Option<String>)>> {
        match self.matched(org, embedding, threshold).await? {
            Some((person, sim)) => {
                let email = self.store.person_email(org, &person).await?;
                Ok(Some((person, sim, email)))
            }
            None => Ok(None),
        }
    }

    /// Enrols a face (one frame) for the person with this e-mail, created on first
    /// enrolment; a later enrolment adds a template to the same person.
    pub async fn enroll(
        &self,
        analyser: Arc<dyn ProbeAnalyser>,
        org: &OrgId,
        key: &KeyId,
        email: &str,
        frame: Vec<u8>,
        audit: AuditRecord,
    ) -> std::result::Result<Enrolled, IdentityError> {
        let email = valid_email(email)?;
        let analysis = analyse(analyser, vec![frame]).await?;
        let (person, created) = self
            .store
            .enroll_template(org, Some(key), email, &analysis.embedding, audit)
            .await?;
        self.events.notify_one();
        Ok(Enrolled { person, created })
    }

    /// Matches a probe (one or more frames of one capture) 1:N against the org's enrolled
    /// people and runs the checks of the profile (by id or slug; the defaults when none).
    /// Every outcome is recorded, with its event.
    pub async fn verify(
        &self,
        analyser: Arc<dyn ProbeAnalyser>,
        org: &OrgId,
        key: &KeyId,
        frames: Vec<Vec<u8>>,
        profile: Option<&str>,
        device: &Device,
    ) -> std::result::Result<Verification, IdentityError> {
        let (profile_id, cfg) = match profile {
            Some(p) => {
                let profile = self.store.profile(org, p).await.map_err(|e| match e {
                    Error::NotFound(_) => Error::Invalid(format!("unknown profile {p:?}")),
                    e => e,
                })?;
                (Some(profile.id), ProfileConfig::parse(&profile.config)?)
            }
            None => (None, ProfileConfig::default()),
        };
        let location = device.location()?;
        let n = frames.len();
        let threshold = analyser.match_threshold();
        let analysis = analyse(analyser, frames).await?;
        let matched = self.matched(org, &analysis.embedding, threshold).await?;
        let fingerprint = device.fingerprint();
        let Some((person, similarity)) = matched else {
            let record = IdentityCheckRecord {
                key_id: key.clone(),
                person_id: None,
                verified: false,
                composite: 0.0,
                results: Value::Array(Vec::new()),
                profile_id,
                device: fingerprint,
                location,
                reason: Some(NOT_RECOGNISED.into()),
                probe: None,
            };
            self.store.record_identity_check(org, &record).await?;
            self.events.notify_one();
            return Ok(Verification::NotRecognised);
        };
        let results = self
            .checks(org, &person, &cfg, &analysis, n, device, location)
            .await?;
        let composite = rules::composite(&results);
        let hard = rules::hard_failure(&results).cloned();
        let verified = hard.is_none() && composite >= cfg.min_composite_score;
        let reason = match &hard {
            Some(r) => r
                .message
                .clone()
                .unwrap_or_else(|| format!("{} check failed", r.check)),
            None => format!(
                "composite score {composite:.3} is below {:.3}",
                cfg.min_composite_score
            ),
        };
        let reason = (!verified).then_some(reason);
        let record = IdentityCheckRecord {
            key_id: key.clone(),
            person_id: Some(person.clone()),
            verified,
            composite,
            results: serde_json::to_value(&results).map_err(|e| Error::Internal(e.to_string()))?,
            profile_id,
            device: fingerprint,
            location,
            reason: reason.clone(),
            // An accepted probe joins the person's history (not the 1:N index).
            probe: verified.then(|| analysis.embedding.clone()),
        };
        self.store.record_identity_check(org, &record).await?;
        self.events.notify_one();
        let email = if verified {
            self.store.person_email(org, &person).await?
        } else {
            None
        };
        Ok(Verification::Checked(Checked {
            person,
            email,
            similarity,
            composite,
            results,
            verified,
            reason,
        }))
    }

    /// The checks pipeline of a profile over a matched probe, in the spec's order.
    #[allow(clippy::too_many_arguments)]
    async fn checks(
        &self,
        org: &OrgId,
        person: &PersonId,
        cfg: &ProfileConfig,
        analysis: &SelfieAnalysis,
        frames: usize,
        device: &Device,
        location: Option<(f64, f64)>,
    ) -> Result<Vec<CheckResult>> {
        let mut out = Vec::new();
        let on = |c: &str| cfg.settings(c).enabled;
        // The history the checks read, fetched side by side.
        let fp = device.fingerprint();
        let (last, past, known) = tokio::join!(
            async {
                if on("impossibleTravel") {
                    self.store.last_verified_location(org, person).await
                } else {
                    Ok(None)
                }
            },
            async {
                if on("embeddingHistory") {
                    self.store.person_templates(org, person, HISTORY).await
                } else {
                    Ok(Vec::new())
                }
            },
            async {
                match (&fp, on("deviceConsistency")) {
                    (Some(fp), true) => self.store.known_device(org, person, fp).await,
                    _ => Ok(false),
                }
            },
        );
        let (last, past, known) = (last?, past?, known?);
        if on("liveness") {
            let s = cfg.settings("liveness");
            let passive: Vec<f32> = analysis
                .liveness
                .frames
                .iter()
                .filter_map(|f| f.passive)
                .collect();
            let score = f64::from(vouch_core::policy::median(&passive));
            let pass = score >= s.threshold.unwrap_or(0.5);
            let r = CheckResult::new("liveness", &s, pass, score);
            out.push(if pass {
                r
            } else {
                r.because("Liveness check failed")
            });
        }
        if on("frameConsistency") && frames >= 2 {
            let s = cfg.settings("frameConsistency");
            let ok = analysis.liveness.consistent;
            let r = CheckResult::new("frameConsistency", &s, ok, if ok { 1.0 } else { 0.0 });
            out.push(if ok {
                r
            } else {
                r.because("The frames are not one natural capture of one face")
            });
        }
        if on("impossibleTravel") {
            let s = cfg.settings("impossibleTravel");
            let now = location.map(|l| (l, vouch_core::now_millis()));
            out.push(rules::travel(&s, last, now));
        }
        if on("embeddingHistory") {
            let s = cfg.settings("embeddingHistory");
            let past: Vec<Vec<f32>> = past.into_iter().map(|t| t.embedding).collect();
            out.push(rules::history(&s, &past, &analysis.embedding));
        }
        if on("deviceConsistency") {
            let s = cfg.settings("deviceConsistency");
            out.push(match &fp {
                Some(_) if known => CheckResult::new("deviceConsistency", &s, true, 1.0),
                Some(_) => CheckResult::new("deviceConsistency", &s, true, 0.5)
                    .because("a device this person has not verified from"),
                None => CheckResult::new("deviceConsistency", &s, true, 0.5)
                    .because("no deviceInfo sent"),
            });
        }
        if on("geoFence") {
            let s = cfg.settings("geoFence");
            let country = device.country.as_deref().map(str::to_ascii_uppercase);
            let ok = country
                .as_ref()
                .is_some_and(|c| cfg.allowed_countries.contains(c));
            let r = CheckResult::new("geoFence", &s, ok, if ok { 1.0 } else { 0.0 });
            out.push(if ok {
                r
            } else {
                r.because(match country {
                    Some(c) => format!("Verification from {c} is not allowed"),
                    None => "No country: deviceInfo.country is needed by this profile".into(),
                })
            });
        }
        if on("timeRestriction") {
            let s = cfg.settings("timeRestriction");
            let ok = cfg
                .time_window
                .as_ref()
                .is_some_and(|w| rules::in_window(w, chrono::Utc::now()));
            let r = CheckResult::new("timeRestriction", &s, ok, if ok { 1.0 } else { 0.0 });
            out.push(if ok {
                r
            } else {
                r.because("Verification is not allowed at this time")
            });
        }
        Ok(out)
    }

    /// Creates a verification profile (slug: a-z, 0-9, `-`, unique in the org).
    pub async fn create_profile(
        &self,
        org: &OrgId,
        slug: &str,
        name: &str,
        config: &ProfileConfig,
        audit: AuditRecord,
    ) -> Result<Profile> {
        let name = valid_profile_name(name)?;
        self.store
            .create_profile(org, slug, name, &config_json(config)?, audit)
            .await
    }

    /// One profile, by id or slug.
    pub async fn profile(&self, org: &OrgId, id_or_slug: &str) -> Result<Profile> {
        self.store.profile(org, id_or_slug).await
    }

    /// The org's profiles, by slug.
    pub async fn profiles(&self, org: &OrgId) -> Result<Vec<Profile>> {
        self.store.profiles(org).await
    }

    /// Replaces a profile's name and configuration.
    pub async fn update_profile(
        &self,
        org: &OrgId,
        id_or_slug: &str,
        name: &str,
        config: &ProfileConfig,
        audit: AuditRecord,
    ) -> Result<Profile> {
        let name = valid_profile_name(name)?;
        self.store
            .update_profile(org, id_or_slug, name, &config_json(config)?, audit)
            .await
    }

    /// Deletes a profile.
    pub async fn delete_profile(
        &self,
        org: &OrgId,
        id_or_slug: &str,
        audit: AuditRecord,
    ) -> Result<()> {
        self.store.delete_profile(org, id_or_slug, audit).await
    }

    /// Creates an alert rule: `threshold` failed verifications within the window fire
    /// `alert.triggered`, once when the count reaches it.
    pub async fn create_alert_rule(
        &self,
        org: &OrgId,
        rule: &NewAlertRule,
        audit: AuditRecord,
    ) -> Result<AlertRule> {
        self.store.create_alert_rule(org, rule, audit).await
    }

    /// The org's alert rules.
    pub async fn alert_rules(&self, org: &OrgId) -> Result<Vec<AlertRule>> {
        self.store.alert_rules(org).await
    }

    /// Deletes an alert rule.
    pub async fn delete_alert_rule(&self, org: &OrgId, id: &str, audit: AuditRecord) -> Result<()> {
        self.store.delete_alert_rule(org, id, audit).await
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use vouch_core::model::Actor;
    use vouch_core::policy::{FrameMeasures, LivenessEvidence};

    /// One enrolled person (`p1`, `ann@example.com`) with one template; records every
    /// identity check; knows no profile.
    pub(crate) struct Fake {
        template: Vec<f32>,
        checks: Mutex<Vec<IdentityCheckRecord>>,
    }

    impl Fake {
        pub(crate) fn new(template: Vec<f32>) -> Arc<Fake> {
            Arc::new(Fake {
                template,
                checks: Mutex::new(Vec::new()),
            })
        }

        fn checks(&self) -> Vec<IdentityCheckRecord> {
            self.checks.lock().map(|c| c.clone()).unwrap_or_default()
        }
    }

    #[async_trait]
    impl TemplateSource for Fake {
        async fn templates_since(&self, _: &OrgId, seq: i64, _: i64) -> Result<Vec<Template>> {
            Ok(if seq == 0 {
                vec![Template {
                    seq: 1,
                    person_id: PersonId::from_string("p1"),
                    embedding: self.template.clone(),
                }]
            } else {
                Vec::new()
            })
        }
    }

    #[async_trait]
    impl IdentityStore for Fake {
        async fn enroll_template(
            &self,
            _: &OrgId,
            _: Option<&KeyId>,
            _: &str,
            _: &[f32],
            _: AuditRecord,
        ) -> Result<(PersonId, bool)> {
            Ok((PersonId::from_string("p1"), false))
        }
        async fn person_email(&self, _: &OrgId, _: &PersonId) -> Result<Option<String>> {
            Ok(Some("ann@example.com".into()))
        }
        async fn record_identity_check(&self, _: &OrgId, rec: &IdentityCheckRecord) -> Result<()> {
            self.checks
                .lock()
                .map_err(|_| Error::Internal("poisoned".into()))?
                .push(rec.clone());
            Ok(())
        }
        async fn last_verified_location(
            &self,
            _: &OrgId,
            _: &PersonId,
        ) -> Result<Option<((f64, f64), Millis)>> {
            Ok(None)
        }
        async fn person_templates(&self, _: &OrgId, _: &PersonId, _: i64) -> Result<Vec<Template>> {
            Ok(Vec::new())
        }
        async fn known_device(&self, _: &OrgId, _: &PersonId, _: &str) -> Result<bool> {
            Ok(false)
        }
        async fn create_profile(
            &self,
            _: &OrgId,
            _: &str,
            _: &str,
            _: &Value,
            _: AuditRecord,
        ) -> Result<Profile> {
            Err(Error::Unavailable("fake".into()))
        }
        async fn profile(&self, _: &OrgId, _: &str) -> Result<Profile> {
            Err(Error::NotFound("profile"))
        }
        async fn profiles(&self, _: &OrgId) -> Result<Vec<Profile>> {
            Ok(Vec::new())
        }
        async fn update_profile(
            &self,
            _: &OrgId,
            _: &str,
            _: &str,
            _: &Value,
            _: AuditRecord,
        ) -> Result<Profile> {
            Err(Error::NotFound("profile"))
        }
        async fn delete_profile(&self, _: &OrgId, _: &str, _: AuditRecord) -> Result<()> {
            Err(Error::NotFound("profile"))
        }
        async fn create_alert_rule(
            &self,
            _: &OrgId,
            _: &NewAlertRule,
            _: AuditRecord,
        ) -> Result<AlertRule> {
            Err(Error::Unavailable("fake".into()))
        }
        async fn alert_rules(&self, _: &OrgId) -> Result<Vec<AlertRule>> {
            Ok(Vec::new())
        }
        async fn delete_alert_rule(&self, _: &OrgId, _: &str, _: AuditRecord) -> Result<()> {
            Err(Error::NotFound("alert rule"))
        }
    }

    /// Answers every probe with one embedding and passive score; counts its calls.
    struct Analyser {
        embedding: Vec<f32>,
        passive: f32,
        consistent: bool,
        calls: AtomicUsize,
    }

    impl ProbeAnalyser for Analyser {
        fn analyse_probe(
            &self,
            frames: &[Vec<u8>],
        ) -> std::result::Result<SelfieAnalysis, CaptureError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let frame = FrameMeasures {
                passive: Some(self.passive),
                eye_openness: f32::NAN,
                yaw: f32::NAN,
            };
            Ok(SelfieAnalysis {
                liveness: LivenessEvidence {
                    frames: vec![frame; frames.len()],
                    consistent: self.consistent,
                },
                estimated_age: f32::NAN,
                embedding: self.embedding.clone(),
            })
        }

        fn match_threshold(&self) -> f32 {
            0.54
        }
    }

    fn analyser(embedding: Vec<f32>, passive: f32) -> Arc<Analyser> {
        Arc::new(Analyser {
            embedding,
            passive,
            consistent: true,
            calls: AtomicUsize::new(0),
        })
    }

    /// A unit template of the engine's dimension.
    pub(crate) fn one_hot(i: usize) -> Vec<f32> {
        let mut v = vec![0.0; vouch_face::index::DIM];
        v[i] = 1.0;
        v
    }

    fn ids() -> (OrgId, KeyId) {
        (OrgId::from_string("o"), KeyId::from_string("k"))
    }

    fn audit() -> AuditRecord {
        AuditRecord::new(None, Actor::System, "user.enrolled")
    }

    #[tokio::test]
    async fn a_bad_email_an_unknown_profile_or_a_bad_location_is_refused_before_analysis() {
        let fake = Fake::new(one_hot(0));
        let identity = Identity::new(fake.clone(), Arc::new(Notify::new()));
        let probe = analyser(one_hot(0), 0.9);
        let (org, key) = ids();
        for email in [
            "",
            "ann",
            "@example.com",
            "ann@",
            &format!("{}@x.io", "a".repeat(250)),
        ] {
            let e = identity
                .enroll(probe.clone(), &org, &key, email, vec![0], audit())
                .await;
            assert!(
                matches!(e, Err(IdentityError::Core(Error::Invalid(_)))),
                "{email}: {e:?}"
            );
        }
        let e = identity
            .verify(
                probe.clone(),
                &org,
                &key,
                vec![vec![0]],
                Some("nope"),
                &Device::default(),
            )
            .await;
        assert!(
            matches!(&e, Err(IdentityError::Core(Error::Invalid(m))) if m.contains("unknown profile")),
            "{e:?}"
        );
        let half = Device {
            latitude: Some(10.0),
            ..Device::default()
        };
        let e = identity
            .verify(probe.clone(), &org, &key, vec![vec![0]], None, &half)
            .await;
        assert!(matches!(e, Err(IdentityError::Core(Error::Invalid(_)))));
        assert_eq!(probe.calls.load(Ordering::SeqCst), 0);
        assert!(fake.checks().is_empty(), "nothing was recorded");
    }

    #[tokio::test]
    async fn an_unmatched_probe_is_recorded_as_not_recognised() {
        let fake = Fake::new(one_hot(0));
        let identity = Identity::new(fake.clone(), Arc::new(Notify::new()));
        let (org, key) = ids();
        let stranger = analyser(one_hot(1), 0.9);
        let v = identity
            .verify(
                stranger,
                &org,
                &key,
                vec![vec![0]],
                None,
                &Device::default(),
            )
            .await
            .expect("a verdict");
        assert!(matches!(v, Verification::NotRecognised));
        let checks = fake.checks();
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].reason.as_deref(), Some(NOT_RECOGNISED));
        assert!(checks[0].person_id.is_none() && checks[0].probe.is_none());
    }

    #[tokio::test]
    async fn a_verified_probe_joins_the_history_and_a_refused_one_does_not() {
        let fake = Fake::new(one_hot(0));
        let identity = Identity::new(fake.clone(), Arc::new(Notify::new()));
        let (org, key) = ids();
        let live = analyser(one_hot(0), 0.95);
        let v = identity
            .verify(
                live,
                &org,
                &key,
                vec![vec![0], vec![0]],
                None,
                &Device::default(),
            )
            .await
            .expect("a verdict");
        let Verification::Checked(c) = v else {
            panic!("the enrolled person matches")
        };
        assert!(c.verified, "{c:?}");
        assert_eq!(c.email.as_deref(), Some("ann@example.com"));
        assert!(c.results.iter().any(|r| r.check == "frameConsistency"));
        // Frames that are not one capture: frameConsistency is a hard failure.
        let spliced = Arc::new(Analyser {
            consistent: false,
            ..Arc::into_inner(analyser(one_hot(0), 0.95)).expect("one owner")
        });
        let v = identity
            .verify(
                spliced,
                &org,
                &key,
                vec![vec![0], vec![0]],
                None,
                &Device::default(),
            )
            .await
            .expect("a verdict");
        let Verification::Checked(c) = v else {
            panic!("the enrolled person matches")
        };
        assert!(!c.verified && c.email.is_none());
        assert_eq!(
            c.reason.as_deref(),
            Some("The frames are not one natural capture of one face")
        );
        let checks = fake.checks();
        assert_eq!(checks.len(), 2);
        assert!(checks[0].verified && checks[0].probe.is_some());
        assert!(!checks[1].verified && checks[1].probe.is_none());
    }

    #[test]
    fn a_device_fingerprint_needs_something_sent_and_is_stable() {
        assert_eq!(Device::default().fingerprint(), None);
        let d = Device {
            user_agent: Some("UA".into()),
            camera_width: Some(1280),
            camera_height: Some(720),
            ..Device::default()
        };
        // sha256("UA|1280x720|0x0")[..16]: stored fingerprints must keep matching.
        let want = hex::encode(&Sha256::digest(b"UA|1280x720|0x0")[..16]);
        assert_eq!(d.fingerprint(), Some(want));
    }
}

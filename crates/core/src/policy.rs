//! The decision policy of a verification session: how measured evidence and a key's
//! [`Thresholds`] become per-check results (PASS, FAIL, REVIEW) and one overall decision.
//! Pure functions: the engines measure, this module judges.
//!
//! # Liveness
//!
//! Two kinds of evidence, measured on labelled data (docs/accuracy.md):
//!
//! - **Passive**: MiniFASNet's score, calibrated so that the key's default liveness
//!   threshold (0.85) is the operating point chosen on NUAA's calibration subjects (it
//!   holds on the held-out ones); the median over the sampled frames is judged.
//! - **Active**: the frames form one consistent live capture (the same person throughout,
//!   few frames repeated, landmarks moving), and a challenge was seen: a blink (eye openness
//!   dropping to at most [`BLINK_RATIO`] of the person's own widest opening) or a head
//!   turn (yaw range of at least [`TURN_DEGREES`]).
//!
//! The rule:
//!
//! 1. FAIL when the frames are not one consistent capture (fewer than
//!    [`MIN_LIVENESS_FRAMES`], another person in some frame, repeated frames, a still
//!    photo sent several times): no passive score makes up for a replayed still.
//! 2. FAIL when no challenge was seen: the person was asked to blink or turn, and a photo
//!    held to the camera sways but does neither.
//! 3. FAIL when the passive score is under the threshold by more than
//!    [`PASSIVE_REVIEW_BAND`]: a strong attack signal (a print or a screen).
//! 4. PASS when the passive score reaches the threshold; otherwise (just under it, with
//!    live active evidence) REVIEW.
//!
//! # Age
//!
//! Around the key's minimum age: an estimate [`AGE_PASS_MARGIN`] or more years above it
//! passes, 2 or more below fails, anything between is REVIEW. The spec's pass margin is
//! 3 years, for a model "accurate to ±3 years"; measured on UTKFace the estimate errs by
//! more (docs/accuracy.md), so the margin is widened, as "Challenge 25" policies do, until
//! no under-age person of the calibration half passes; the cost is adults near the
//! minimum age sent to REVIEW (a document check settles them).
//!
//! # Live scans
//!
//! A presence check and an admin's face factor decide at once, with no reviewer: a scan is
//! accepted only when the liveness rule above PASSes ([`live_scan`]); REVIEW counts as a
//! refusal. Both use this one rule (they once had two that disagreed on turns).
//!
//! # Names (phone KYC match)
//!
//! Every name part the caller claimed must be scored by the network at
//! [`NAME_MATCH_SCORE`] or more ([`names`]); a part the network has no data for cannot be
//! confirmed, so it fails. The reported name score is the mean of the parts' scores, but
//! a pass never rests on the mean: a relative with the same family name and a different
//! given name (100 and 79) is not the subscriber.
//!
//! # Documents
//!
//! The document reader measures: which of its checks failed (`readable`, `checkDigits`,
//! `expiry`, `structure`, `issuer`, `barcode`, `visualZone`) and how confident the OCR
//! was. [`document`] decides: an unreadable document, a failed check digit or an expired
//! document FAILs (each is proof, not doubt); a visual zone that disagrees with the MRZ,
//! an unknown issuer, an inconsistent MRZ, an incomplete barcode or an OCR confidence
//! under [`DOCUMENT_MIN_OCR_CONFIDENCE`] is REVIEW (a person should look).
//!
//! # Phone lines
//!
//! The network's answers about a number (SIM swap in the last 24 hours, the date of the
//! last SIM change, reachability) become a trust score ([`phone_line`]): a SIM swap in the
//! last 24 hours or a disconnected line sets it to 0; a SIM change in the last
//! [`RECENT_SIM_CHANGE_DAYS`] days costs 50, an SMS-only line 20, each unanswered question
//! 10; [`LINE_PASS_TRUST`] passes. The phone API's validate and unify steps and the Ory
//! hooks judge lines by this one score ([`line_risk`]: the reason a line is refused). A
//! completed KYC match reports `changeDetected` when the SIM changed within
//! [`SIM_CHANGE_DETECTED_DAYS`] days ([`sim_change_detected`]).
//!
//! # Overall
//!
//! REJECTED when any requested check FAILs, REVIEW when any is REVIEW, else APPROVED.

use crate::check::Thresholds;
use crate::session::Decision;
use serde::Serialize;

/// The result of one check, in the spec's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// The check passed.
    Pass,
    /// The check failed.
    Fail,
    /// A person should decide.
    Review,
}

impl Outcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Review => "REVIEW",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Outcome> {
        [Outcome::Pass, Outcome::Fail, Outcome::Review]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// Fewest frames a liveness capture needs (a blink or a turn needs at least two).
pub const MIN_LIVENESS_FRAMES: usize = 2;
/// A blink: eye openness at or below this share of the person's widest in the sequence.
/// The face mesh's lids never close fully: on synthetic footage (vouch-docsynth's
/// `camera`, 12 eval faces, lids painted shut) the narrowest frame measured 0.59–0.84 of
/// the widest, while a swaying still photo stayed at 0.89–0.95. 0.78 sits between them;
/// no footage of real blinks was available to calibrate it (see the face engine notes).
pub const BLINK_RATIO: f32 = 0.78;
/// A blink is only measured when the widest opening is at least this eye aspect ratio
/// (below it the mesh did not see open eyes at all).
pub const MIN_OPEN_EYE: f32 = 0.15;
/// A head turn: yaw range across the sequence, in degrees.
pub const TURN_DEGREES: f32 = 15.0;
/// How far under the key's liveness threshold a passive score still goes to REVIEW (when
/// the capture is live) rather than FAIL.
pub const PASSIVE_REVIEW_BAND: f32 = 0.25;

/// One frame's measurements for liveness.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameMeasures {
    /// Passive liveness, 0–1, where it was measured (on a few frames of a sequence).
    pub passive: Option<f32>,
    /// Mean eye aspect ratio of both eyes.
    pub eye_openness: f32,
    /// Head yaw in degrees.
    pub yaw: f32,
}

/// What the engines measured about a capture sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct LivenessEvidence {
    /// Per frame, in capture order.
    pub frames: Vec<FrameMeasures>,
    /// Same person in every frame, few repeated frames, some motion.
    pub consistent: bool,
}

/// The liveness verdict and what led to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LivenessResult {
    /// The outcome.
    pub result: Outcome,
    /// Median passive score.
    pub liveness_score: f32,
    /// A blink was seen.
    pub blink: bool,
    /// A head turn was seen.
    pub turn: bool,
    /// The frames form one consistent capture.
    pub consistent: bool,
    /// Frames judged.
    pub frames: usize,
}

/// The median of some values (0 when there are none).
pub fn median(values: &[f32]) -> f32 {
    let mut v: Vec<f32> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Judges liveness (rule in the module documentation).
pub fn liveness(e: &LivenessEvidence, t: &Thresholds) -> LivenessResult {
    let passive: Vec<f32> = e.frames.iter().filter_map(|f| f.passive).collect();
    let score = median(&passive);
    let widest = e
        .frames
        .iter()
        .map(|f| f.eye_openness)
        .fold(0.0f32, f32::max);
    let narrowest = e
        .frames
        .iter()
        .map(|f| f.eye_openness)
        .fold(f32::INFINITY, f32::min);
    let blink = widest >= MIN_OPEN_EYE && narrowest <= widest * BLINK_RATIO;
    let yaw_max = e.frames.iter().map(|f| f.yaw).fold(f32::MIN, f32::max);
    let yaw_min = e.frames.iter().map(|f| f.yaw).fold(f32::MAX, f32::min);
    let turn = e.frames.len() >= 2 && yaw_max - yaw_min >= TURN_DEGREES;
    let consistent = e.consistent && e.frames.len() >= MIN_LIVENESS_FRAMES;
    let threshold = t.liveness as f32;
    let challenge = blink || turn;
    let result = if !consistent || !challenge || score < threshold - PASSIVE_REVIEW_BAND {
        Outcome::Fail
    } else if score >= threshold {
        Outcome::Pass
    } else {
        Outcome::Review
    };
    LivenessResult {
        result,
        liveness_score: score,
        blink,
        turn,
        consistent,
        frames: e.frames.len(),
    }
}

/// Judges a live scan outside a KYC session (presence, an admin's face factor): the
/// liveness verdict, accepted (`Ok`) only on PASS.
pub fn live_scan(e: &LivenessEvidence, t: &Thresholds) -> Result<LivenessResult, LivenessResult> {
    let verdict = liveness(e, t);
    if verdict.result == Outcome::Pass {
        Ok(verdict)
    } else {
        Err(verdict)
    }
}

/// The score (0–100) each claimed name part must reach.
pub const NAME_MATCH_SCORE: i64 = 80;

/// The verdict on a name claimed against a subscriber record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameMatch {
    /// The mean of the scored parts (the wire's `nameScore`); None when none was scored.
    pub score: Option<i64>,
    /// Every claimed part reached [`NAME_MATCH_SCORE`].
    pub pass: bool,
}

/// Judges the network's scores of the name parts the caller claimed (given name, family
/// name, …; None where the network has no data for that part). Rule in the module
/// documentation.
pub fn names(claimed: &[Option<i64>]) -> NameMatch {
    let scored: Vec<i64> = claimed.iter().flatten().copied().collect();
    let score = (!scored.is_empty()).then(|| scored.iter().sum::<i64>() / scored.len() as i64);
    let pass = !claimed.is_empty()
        && claimed
            .iter()
            .all(|s| s.is_some_and(|s| s >= NAME_MATCH_SCORE));
    NameMatch { score, pass }
}

/// The OCR confidence (0–1) under which a read document goes to REVIEW.
pub const DOCUMENT_MIN_OCR_CONFIDENCE: f32 = 0.6;

/// Judges a document from the reader's evidence: the names of the checks that failed and,
/// when a format was read, the OCR confidence. Returns the outcome and a machine reason for
/// each problem (`UNREADABLE`, `CHECK_DIGIT_FAILED`, `DOCUMENT_EXPIRED`,
/// `VISUAL_ZONE_MISMATCH`, `UNKNOWN_ISSUER`, `MRZ_INCONSISTENT`, `BARCODE_INCOMPLETE`,
/// `LOW_CONFIDENCE`, `CHECK_FAILED`). Rule in the module documentation.
pub fn document(
    failed_checks: &[&str],
    ocr_confidence: Option<f32>,
    min_confidence: f32,
) -> (Outcome, Vec<&'static str>) {
    let mut reasons = Vec::new();
    let (mut fail, mut review) = (false, false);
    for name in failed_checks {
        let (reason, fails) = match *name {
            "readable" => ("UNREADABLE", true),
            "checkDigits" => ("CHECK_DIGIT_FAILED", true),
            "expiry" => ("DOCUMENT_EXPIRED", true),
            "barcode" => ("BARCODE_INCOMPLETE", false),
            "visualZone" => ("VISUAL_ZONE_MISMATCH", false),
            "issuer" => ("UNKNOWN_ISSUER", false),
            "structure" => ("MRZ_INCONSISTENT", false),
            _ => ("CHECK_FAILED", false),
        };
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
        fail |= fails;
        review |= !fails;
    }
    if ocr_confidence.is_some_and(|c| c < min_confidence) {
        reasons.push("LOW_CONFIDENCE");
        review = true;
    }
    let outcome = if fail {
        Outcome::Fail
    } else if review {
        Outcome::Review
    } else {
        Outcome::Pass
    };
    (outcome, reasons)
}

/// The trust (0–100) at which a line passes.
pub const LINE_PASS_TRUST: i64 = 60;
/// A SIM change within this many days lowers a line's trust.
pub const RECENT_SIM_CHANGE_DAYS: i64 = 7;
/// A SIM change within this many days is reported by a KYC match (`changeDetected`).
pub const SIM_CHANGE_DETECTED_DAYS: i64 = 30;

/// What the network answered about a line; `None` where it did not answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineEvidence {
    /// The SIM was swapped in the last 24 hours.
    pub swapped_24h: Option<bool>,
    /// Days since the last SIM change (`Some(None)`: never changed).
    pub days_since_sim_change: Option<Option<i64>>,
    /// Reachability: (reachable, has data connectivity).
    pub reachability: Option<(bool, bool)>,
}

/// A line's signals and trust.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineSignals {
    /// SIM changed in the last 24 hours.
    pub sim_swapped_24h: bool,
    /// Days since the last SIM change, when known.
    pub days_since_sim_change: Option<i64>,
    /// The network can reach the line.
    pub reachable: bool,
    /// Only SMS, no data.
    pub sms_only: bool,
    /// 0–100.
    pub trust: i64,
    /// Why trust was lowered (`sim_swap_24h`, `recent_sim_change`, `disconnected`,
    /// `sms_only_line`, `<question>_unavailable`).
    pub reasons: Vec<String>,
}

impl LineSignals {
    /// Whether the line is trustworthy enough to pass.
    pub fn pass(&self) -> bool {
        self.trust >= LINE_PASS_TRUST
    }

    /// Whether some question went unanswered (the score is then partly a guess).
    pub fn undecided(&self) -> bool {
        self.reasons.iter().any(|r| r.ends_with("_unavailable"))
    }
}

/// Scores a line from the network's answers (rule in the module documentation).
pub fn phone_line(e: &LineEvidence) -> LineSignals {
    let mut s = LineSignals {
        trust: 100,
        reachable: true,
        ..Default::default()
    };
    let unanswered = |s: &mut LineSignals, what: &str| {
        s.trust -= 10;
        s.reasons.push(format!("{what}_unavailable"));
    };
    match e.swapped_24h {
        Some(true) => {
            s.sim_swapped_24h = true;
            s.trust = 0;
            s.reasons.push("sim_swap_24h".into());
        }
        Some(false) => {}
        None => unanswered(&mut s, "sim_swap"),
    }
    match e.days_since_sim_change {
        Some(days) => {
            s.days_since_sim_change = days;
            if !s.sim_swapped_24h && days.is_some_and(|d| d < RECENT_SIM_CHANGE_DAYS) {
                s.trust -= 50;
                s.reasons.push("recent_sim_change".into());
            }
        }
        None => unanswered(&mut s, "sim_swap_date"),
    }
    match e.reachability {
        Some((reachable, data)) => {
            s.reachable = reachable;
            s.sms_only = reachable && !data;
            if !reachable {
                s.trust = 0;
                s.reasons.push("disconnected".into());
            } else if s.sms_only {
                s.trust -= 20;
                s.reasons.push("sms_only_line".into());
            }
        }
        None => unanswered(&mut s, "reachability"),
    }
    s.trust = s.trust.clamp(0, 100);
    s
}

/// Why a line is refused, most serious first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRisk {
    /// The SIM was swapped in the last 24 hours.
    SimSwap,
    /// The network cannot reach the line.
    Disconnected,
    /// Trust under [`LINE_PASS_TRUST`] for other reasons.
    LowTrust,
}

/// The reason a line is refused, or None when it passes.
pub fn line_risk(s: &LineSignals) -> Option<LineRisk> {
    if s.sim_swapped_24h {
        Some(LineRisk::SimSwap)
    } else if !s.reachable {
        Some(LineRisk::Disconnected)
    } else if !s.pass() {
        Some(LineRisk::LowTrust)
    } else {
        None
    }
}

/// Whether a KYC match reports a SIM change (`changeDetected`): days since the last
/// change, when the network knows one.
pub fn sim_change_detected(days_since_change: Option<i64>) -> bool {
    days_since_change.is_some_and(|d| d < SIM_CHANGE_DETECTED_DAYS)
}

/// Years above the minimum age an estimate must reach to PASS: 7, so 25 at a minimum age
/// of 18 ("Challenge 25"). The spec says 3; on UTKFace's calibration half the smallest
/// margin at which no under-18 passes is 7 (at 3, 6 of 113 pass; docs/accuracy.md).
pub const AGE_PASS_MARGIN: f32 = 7.0;

/// The age verdict: (outcome, meets the minimum age).
pub fn age(estimated: f32, t: &Thresholds) -> (Outcome, bool) {
    let min = t.min_age as f32;
    let outcome = if estimated >= min + AGE_PASS_MARGIN {
        Outcome::Pass
    } else if estimated <= min - 2.0 {
        Outcome::Fail
    } else {
        Outcome::Review
    };
    (outcome, estimated >= min)
}

/// The face match verdict: (outcome, is a match).
pub fn face_match(similarity: f32, t: &Thresholds) -> (Outcome, bool) {
    // Compared in f32, the scores' precision: 0.57 as f64 is not 0.57f32.
    let is_match = similarity >= t.face_match as f32;
    let outcome = if is_match {
        Outcome::Pass
    } else {
        Outcome::Fail
    };
    (outcome, is_match)
}

/// What the issuer's status list says of a credential (revocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialStatus {
    /// The credential names no status list.
    None,
    /// Its entry is valid.
    Valid,
    /// The issuer revoked it.
    Revoked,
    /// The issuer suspended it.
    Suspended,
    /// It names a list vouch may not fetch (the host is not one the operator allowed).
    NotChecked,
    /// The list could not be fetched or verified, or holds an unknown value.
    Unavailable,
}

/// The verdict on a verified digital ID presentation (a presentation that failed
/// verification is a FAIL with its reason before this): FAIL `under_age` when
/// `age_over_18` was asked and is false; FAIL `credential_revoked` or
/// `credential_suspended` when its issuer's status list says so; REVIEW `claims_missing`
/// when the holder withheld a claim that was asked for; REVIEW `status_not_checked` when
/// it names a status list on a host the operator did not allow, `status_unavailable` when
/// the list could not be read; else PASS. Returns (outcome, reason code).
pub fn digital_id(
    missing: &[&str],
    age_over_18: Option<bool>,
    status: CredentialStatus,
) -> (Outcome, Option<&'static str>) {
    if age_over_18 == Some(false) {
        (Outcome::Fail, Some("under_age"))
    } else if status == CredentialStatus::Revoked {
        (Outcome::Fail, Some("credential_revoked"))
    } else if status == CredentialStatus::Suspended {
        (Outcome::Fail, Some("credential_suspended"))
    } else if !missing.is_empty() {
        (Outcome::Review, Some("claims_missing"))
    } else if status == CredentialStatus::NotChecked {
        (Outcome::Review, Some("status_not_checked"))
    } else if status == CredentialStatus::Unavailable {
        (Outcome::Review, Some("status_unavailable"))
    } else {
        (Outcome::Pass, None)
    }
}

/// The overall decision from the requested checks' outcomes.
pub fn overall(outcomes: &[Outcome]) -> Decision {
    if outcomes.contains(&Outcome::Fail) {
        Decision::Rejected
    } else if outcomes.contains(&Outcome::Review) {
        Decision::Review
    } else {
        Decision::Approved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digital_id_passes_only_with_every_claim_an_adult_and_a_valid_status() {
        use CredentialStatus as S;
        assert_eq!(digital_id(&[], None, S::None), (Outcome::Pass, None));
        assert_eq!(digital_id(&[], Some(true), S::Valid), (Outcome::Pass, None));
        assert_eq!(digital_id(&[], Some(false), S::None).0, Outcome::Fail);
        assert_eq!(
            digital_id(&["birth_date"], None, S::None),
            (Outcome::Review, Some("claims_missing"))
        );
        assert_eq!(
            digital_id(&[], None, S::NotChecked),
            (Outcome::Review, Some("status_not_checked"))
        );
        assert_eq!(
            digital_id(&[], None, S::Unavailable),
            (Outcome::Review, Some("status_unavailable"))
        );
        assert_eq!(
            digital_id(&["birth_date"], None, S::Revoked),
            (Outcome::Fail, Some("credential_revoked")),
            "a revoked credential fails whatever else"
        );
        assert_eq!(
            digital_id(&[], None, S::Suspended),
            (Outcome::Fail, Some("credential_suspended"))
        );
    }

    #[test]
    fn a_line_is_scored_by_its_worst_signal_and_unanswered_questions_cost_trust() {
        let good = LineEvidence {
            swapped_24h: Some(false),
            days_since_sim_change: Some(None),
            reachability: Some((true, true)),
        };
        let s = phone_line(&good);
        assert_eq!((s.trust, s.pass(), s.undecided()), (100, true, false));
        assert_eq!(line_risk(&s), None);
        let swapped = phone_line(&LineEvidence {
            swapped_24h: Some(true),
            ..good.clone()
        });
        assert_eq!(
            (swapped.trust, line_risk(&swapped)),
            (0, Some(LineRisk::SimSwap))
        );
        let recent = phone_line(&LineEvidence {
            days_since_sim_change: Some(Some(3)),
            ..good.clone()
        });
        assert_eq!(recent.trust, 50);
        assert_eq!(line_risk(&recent), Some(LineRisk::LowTrust));
        let old_change = phone_line(&LineEvidence {
            days_since_sim_change: Some(Some(RECENT_SIM_CHANGE_DAYS)),
            ..good.clone()
        });
        assert!(old_change.pass());
        let dead = phone_line(&LineEvidence {
            reachability: Some((false, false)),
            ..good.clone()
        });
        assert_eq!(line_risk(&dead), Some(LineRisk::Disconnected));
        let sms = phone_line(&LineEvidence {
            reachability: Some((true, false)),
            ..good.clone()
        });
        assert_eq!((sms.trust, sms.sms_only, sms.pass()), (80, true, true));
        let silent = phone_line(&LineEvidence::default());
        assert_eq!(silent.trust, 70);
        assert!(silent.pass() && silent.undecided());
        assert_eq!(silent.reasons.len(), 3);
        assert!(sim_change_detected(Some(29)));
        assert!(!sim_change_detected(Some(30)));
        assert!(!sim_change_detected(None));
    }

    #[test]
    fn a_document_fails_on_proof_and_goes_to_review_on_doubt() {
        let m = DOCUMENT_MIN_OCR_CONFIDENCE;
        assert_eq!(document(&[], Some(0.9), m), (Outcome::Pass, vec![]));
        assert_eq!(
            document(&["expiry", "visualZone"], Some(0.9), m),
            (
                Outcome::Fail,
                vec!["DOCUMENT_EXPIRED", "VISUAL_ZONE_MISMATCH"]
            )
        );
        assert_eq!(
            document(&["issuer"], Some(0.5), m),
            (Outcome::Review, vec!["UNKNOWN_ISSUER", "LOW_CONFIDENCE"])
        );
        assert_eq!(
            document(&["readable"], None, m),
            (Outcome::Fail, vec!["UNREADABLE"])
        );
        // Confidence only counts when something was read.
        assert_eq!(document(&[], None, m).0, Outcome::Pass);
        assert_eq!(
            document(&["somethingNew"], Some(0.9), m),
            (Outcome::Review, vec!["CHECK_FAILED"])
        );
    }

    #[test]
    fn a_name_passes_only_when_every_claimed_part_matches() {
        assert_eq!(
            names(&[Some(100), Some(100)]),
            NameMatch {
                score: Some(100),
                pass: true
            }
        );
        // A relative: the family name matches, the given name is close. The mean (89)
        // would pass; the rule does not.
        let relative = names(&[Some(79), Some(100)]);
        assert_eq!(relative.score, Some(89));
        assert!(!relative.pass);
        // A part the network cannot confirm is not a match.
        assert!(!names(&[Some(100), None]).pass);
        assert_eq!(names(&[Some(100), None]).score, Some(100));
        assert!(names(&[Some(80)]).pass);
        assert_eq!(names(&[]).score, None);
        assert!(!names(&[]).pass);
        assert!(!names(&[None]).pass);
    }

    #[test]
    fn a_live_scan_is_accepted_on_pass_only_and_a_turn_counts_as_a_challenge() {
        let t = Thresholds::default();
        let turn = LivenessEvidence {
            frames: vec![frame(0.95, 0.3, -10.0), frame(0.95, 0.3, 10.0)],
            consistent: true,
        };
        let verdict = live_scan(&turn, &t).expect("accepted");
        assert!(verdict.turn && !verdict.blink);
        let borderline = LivenessEvidence {
            frames: vec![frame(0.8, 0.3, -10.0), frame(0.8, 0.3, 10.0)],
            consistent: true,
        };
        let refused =
            live_scan(&borderline, &t).expect_err("REVIEW is a refusal when nobody reviews");
        assert_eq!(refused.result, Outcome::Review);
        let still = LivenessEvidence {
            frames: vec![frame(0.95, 0.3, 0.0), frame(0.95, 0.3, 0.0)],
            consistent: true,
        };
        assert!(live_scan(&still, &t).is_err());
    }

    fn frame(passive: f32, eye: f32, yaw: f32) -> FrameMeasures {
        FrameMeasures {
            passive: Some(passive),
            eye_openness: eye,
            yaw,
        }
    }

    #[test]
    fn liveness_needs_a_consistent_capture_and_a_challenge_and_escalates_on_passive() {
        let t = Thresholds::default();
        let blink = vec![
            frame(0.9, 0.3, 0.0),
            frame(0.9, 0.1, 0.0),
            frame(0.9, 0.3, 1.0),
        ];
        let ok = LivenessEvidence {
            frames: blink.clone(),
            consistent: true,
        };
        let r = liveness(&ok, &t);
        assert_eq!(r.result, Outcome::Pass);
        assert!(r.blink && !r.turn);

        let still = LivenessEvidence {
            frames: vec![frame(0.9, 0.3, 0.0); 4],
            consistent: false,
        };
        assert_eq!(liveness(&still, &t).result, Outcome::Fail);

        let no_challenge = LivenessEvidence {
            frames: vec![frame(0.9, 0.3, 0.0), frame(0.9, 0.28, 3.0)],
            consistent: true,
        };
        assert_eq!(liveness(&no_challenge, &t).result, Outcome::Fail);

        let turn_borderline_passive = LivenessEvidence {
            frames: vec![frame(0.7, 0.3, -10.0), frame(0.7, 0.3, 10.0)],
            consistent: true,
        };
        let r = liveness(&turn_borderline_passive, &t);
        assert!(r.turn);
        assert_eq!(r.result, Outcome::Review);

        let turn_low_passive = LivenessEvidence {
            frames: vec![frame(0.3, 0.3, -10.0), frame(0.3, 0.3, 10.0)],
            consistent: true,
        };
        assert_eq!(liveness(&turn_low_passive, &t).result, Outcome::Fail);

        let attack = LivenessEvidence {
            frames: vec![frame(0.01, 0.3, -10.0), frame(0.01, 0.3, 10.0)],
            consistent: true,
        };
        assert_eq!(liveness(&attack, &t).result, Outcome::Fail);
    }

    #[test]
    fn age_passes_from_the_margin_and_fails_two_years_under() {
        let t = Thresholds::default();
        let pass = 18.0 + AGE_PASS_MARGIN;
        let margin = std::hint::black_box(AGE_PASS_MARGIN);
        assert!(margin >= 3.0, "never narrower than the spec's margin");
        assert_eq!(age(pass, &t), (Outcome::Pass, true));
        assert_eq!(age(pass - 0.1, &t), (Outcome::Review, true));
        assert_eq!(age(17.0, &t), (Outcome::Review, false));
        assert_eq!(age(16.0, &t), (Outcome::Fail, false));
    }

    #[test]
    fn overall_rejects_on_any_fail_and_reviews_on_any_review() {
        use Outcome::*;
        assert_eq!(overall(&[Pass, Review, Fail]), Decision::Rejected);
        assert_eq!(overall(&[Pass, Review]), Decision::Review);
        assert_eq!(overall(&[Pass, Pass]), Decision::Approved);
        let t = Thresholds::default();
        assert_eq!(face_match(0.57, &t), (Pass, true));
        assert_eq!(face_match(0.5, &t), (Fail, false));
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
    }
}

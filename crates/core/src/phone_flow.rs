//! The phone API's possession flows (a v3 `correlationId`) as typed states with explicit
//! transitions, in the manner of Kratos' self-service flow states. The database keeps the
//! stable wire strings of [`FlowKind::as_str`], [`Step::as_str`] and
//! [`Possession::as_str`].
//!
//! # Steps
//!
//! A prefill flow (`/v3/start` → `/v3/validate` → `/v3/challenge`? → `/v3/complete`):
//!
//! ```text
//!   Started ──validate ok──▶ Validated ──challenge ok──▶ Challenged
//!      │                      │    │                        │
//!      │                      │    └──────complete ok───────┼──▶ Completed
//!      │                      │                             │       ▲
//!      │                      │                             └───────┘ complete ok
//!      └──── any step that fails ─────────────────────────────────────▶ Failed
//! ```
//!
//! Verify and unify flows have one step: `Started ──finish──▶ Completed | Failed` (the
//! status call of a verify flow, the bind of a unify flow). Completed and Failed are final.
//!
//! # Possession
//!
//! ```text
//!   Pending ──OTP, Instant Link, network auth──▶ Success
//!      └────wrong OTPs, cancel, expiry─────────▶ Failed
//!   NotApplicable (flowType "none")      Success from the start (sandbox test numbers)
//! ```
//!
//! Only a pending possession can be decided; a decided one never changes.

use crate::{Error, Result};

/// What a flow was started for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowKind {
    /// Identity prefill: start, validate, challenge, complete.
    Prefill,
    /// Verified Users: verify, verify-status.
    Verify,
    /// Unify: unify, unify-status, unify-bind.
    Unify,
}

impl FlowKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowKind::Prefill => "prefill",
            FlowKind::Verify => "verify",
            FlowKind::Unify => "unify",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Result<FlowKind> {
        [FlowKind::Prefill, FlowKind::Verify, FlowKind::Unify]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::Internal(format!("unknown phone flow kind {s:?}")))
    }
}

/// Where a flow is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Started; nothing decided.
    Started,
    /// Prefill: possession and line signals passed.
    Validated,
    /// Prefill: the subscriber record was opened by a date of birth or SSN.
    Challenged,
    /// Final: the flow succeeded.
    Completed,
    /// Final: a step failed.
    Failed,
}

/// What moves a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// `/v3/validate` (prefill).
    Validate,
    /// `/v3/challenge` (prefill).
    Challenge,
    /// `/v3/complete` (prefill).
    Complete,
    /// The one step of a verify or unify flow.
    Finish,
}

impl Step {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Started => "started",
            Step::Validated => "validated",
            Step::Challenged => "challenged",
            Step::Completed => "completed",
            Step::Failed => "failed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Result<Step> {
        [
            Step::Started,
            Step::Validated,
            Step::Challenged,
            Step::Completed,
            Step::Failed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| Error::Internal(format!("unknown phone flow step {s:?}")))
    }

    /// Whether `t` may happen to a flow of `kind` in this step (the diagram above).
    pub fn allows(self, kind: FlowKind, t: Transition) -> bool {
        use {FlowKind::*, Step::*, Transition::*};
        matches!(
            (kind, self, t),
            (Prefill, Started, Validate)
                | (Prefill, Validated, Challenge)
                | (Prefill, Validated | Challenged, Complete)
                | (Verify | Unify, Started, Finish)
        )
    }

    /// The step after `t` with its outcome; `Conflict` when `t` is not allowed here.
    pub fn after(self, kind: FlowKind, t: Transition, ok: bool) -> Result<Step> {
        if !self.allows(kind, t) {
            return Err(Error::Conflict(format!(
                "step not allowed: {t:?} in a {} flow that is {}",
                kind.as_str(),
                self.as_str()
            )));
        }
        Ok(match (t, ok) {
            (_, false) => Step::Failed,
            (Transition::Validate, true) => Step::Validated,
            (Transition::Challenge, true) => Step::Challenged,
            (Transition::Complete | Transition::Finish, true) => Step::Completed,
        })
    }

    /// Completed or Failed.
    pub fn is_final(self) -> bool {
        matches!(self, Step::Completed | Step::Failed)
    }
}

/// Whether the person proved they hold the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Possession {
    /// Waiting for an OTP, an Instant Link or network authentication.
    Pending,
    /// Proved.
    Success,
    /// Not proved (wrong OTPs, cancelled, never finished).
    Failed,
    /// The flow asks for none (`flowType: "none"`).
    NotApplicable,
}

impl Possession {
    /// The stored (and wire) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Possession::Pending => "pending",
            Possession::Success => "success",
            Possession::Failed => "failed",
            Possession::NotApplicable => "not_applicable",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Result<Possession> {
        [
            Possession::Pending,
            Possession::Success,
            Possession::Failed,
            Possession::NotApplicable,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| Error::Internal(format!("unknown possession state {s:?}")))
    }

    /// The decided possession; `Conflict` unless it is still pending.
    pub fn decide(self, proved: bool) -> Result<Possession> {
        if self != Possession::Pending {
            return Err(Error::Conflict(
                "Possession is already decided for this flow".into(),
            ));
        }
        Ok(if proved {
            Possession::Success
        } else {
            Possession::Failed
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for k in [FlowKind::Prefill, FlowKind::Verify, FlowKind::Unify] {
            assert_eq!(FlowKind::parse(k.as_str()).ok(), Some(k));
        }
        for s in [
            Step::Started,
            Step::Validated,
            Step::Challenged,
            Step::Completed,
            Step::Failed,
        ] {
            assert_eq!(Step::parse(s.as_str()).ok(), Some(s));
        }
        for p in [
            Possession::Pending,
            Possession::Success,
            Possession::Failed,
            Possession::NotApplicable,
        ] {
            assert_eq!(Possession::parse(p.as_str()).ok(), Some(p));
        }
        assert!(Step::parse("Started").is_err());
        assert!(FlowKind::parse("").is_err());
    }

    #[test]
    fn a_prefill_flow_walks_the_diagram_and_nothing_else() {
        use Transition::*;
        let k = FlowKind::Prefill;
        let s = Step::Started;
        assert!(s.after(k, Challenge, true).is_err());
        assert!(s.after(k, Complete, true).is_err());
        assert!(s.after(k, Finish, true).is_err());
        let v = s.after(k, Validate, true).expect("validate");
        assert_eq!(v, Step::Validated);
        assert!(v.after(k, Validate, true).is_err(), "validate once");
        assert_eq!(v.after(k, Complete, true).ok(), Some(Step::Completed));
        let c = v.after(k, Challenge, true).expect("challenge");
        assert!(c.after(k, Challenge, true).is_err(), "challenge once");
        assert_eq!(c.after(k, Complete, false).ok(), Some(Step::Failed));
        for end in [Step::Completed, Step::Failed] {
            assert!(end.is_final());
            for t in [Validate, Challenge, Complete, Finish] {
                assert!(end.after(k, t, true).is_err());
                assert!(end.after(FlowKind::Verify, t, true).is_err());
            }
        }
        assert_eq!(s.after(k, Validate, false).ok(), Some(Step::Failed));
    }

    #[test]
    fn verify_and_unify_flows_finish_once() {
        for k in [FlowKind::Verify, FlowKind::Unify] {
            let s = Step::Started;
            for t in [
                Transition::Validate,
                Transition::Challenge,
                Transition::Complete,
            ] {
                assert!(!s.allows(k, t));
            }
            assert_eq!(
                s.after(k, Transition::Finish, true).ok(),
                Some(Step::Completed)
            );
            assert_eq!(
                s.after(k, Transition::Finish, false).ok(),
                Some(Step::Failed)
            );
        }
    }

    #[test]
    fn possession_is_decided_once() {
        assert_eq!(
            Possession::Pending.decide(true).ok(),
            Some(Possession::Success)
        );
        assert_eq!(
            Possession::Pending.decide(false).ok(),
            Some(Possession::Failed)
        );
        for done in [
            Possession::Success,
            Possession::Failed,
            Possession::NotApplicable,
        ] {
            assert!(done.decide(true).is_err());
        }
    }
}

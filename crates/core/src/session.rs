//! Verification sessions: a requested set of checks, the state they are in, and the
//! decision they end with. The KYC sessions dialect shows them on the wire.
//!
//! ```text
//!             user starts              all checks done: APPROVED | REJECTED | REVIEW
//!   PENDING ───────────────▶ IN_PROGRESS ─────────────────────────────────────▶ COMPLETED
//!      │                          │                                  (verification.completed)
//!      ├── cancel (API) ──────────┴──────────▶ CANCELLED           COMPLETED + REVIEW
//!      └── lifetime over ────────────────────▶ EXPIRED                  │ reviewer decides
//!                                                                        ▼
//!                                                  COMPLETED + APPROVED | REJECTED
//!                                                           (verification.reviewed)
//! ```
//!
//! COMPLETED, CANCELLED and EXPIRED are final states; the one change after COMPLETED is a
//! reviewer's decision on a session that completed with REVIEW, as the spec has it: the
//! session is COMPLETED with `overallResult: "REVIEW"`, `verification.completed` fires and
//! the redirect carries `result=REVIEW`; `POST /api/v1/verify/{id}/review` then sets
//! APPROVED or REJECTED and fires `verification.reviewed`. (Sessions queued by earlier
//! versions wait IN_PROGRESS with REVIEW; they are reviewed the same way.)

use crate::check::Check;
use crate::ids::{KeyId, OrgId, SessionId};
use crate::{rfc3339, Millis};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Where a session is in its life. Wire names are the spec's (`PENDING`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionStatus {
    /// Created; the user has not started.
    Pending,
    /// The user has started the hosted flow.
    InProgress,
    /// Every check finished and a decision was made.
    Completed,
    /// The session's lifetime ran out before it completed.
    Expired,
    /// Cancelled through the API.
    Cancelled,
}

impl SessionStatus {
    /// Every status.
    pub const ALL: [SessionStatus; 5] = [
        SessionStatus::Pending,
        SessionStatus::InProgress,
        SessionStatus::Completed,
        SessionStatus::Expired,
        SessionStatus::Cancelled,
    ];

    /// The wire (and storage) name.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Pending => "PENDING",
            SessionStatus::InProgress => "IN_PROGRESS",
            SessionStatus::Completed => "COMPLETED",
            SessionStatus::Expired => "EXPIRED",
            SessionStatus::Cancelled => "CANCELLED",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<SessionStatus> {
        SessionStatus::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether the session can still move (be started, completed, cancelled, expire).
    pub fn is_open(self) -> bool {
        matches!(self, SessionStatus::Pending | SessionStatus::InProgress)
    }
}

/// The decision a completed session ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// Every check passed.
    Approved,
    /// One or more checks failed.
    Rejected,
    /// Borderline results that need a person to look.
    Review,
}

impl Decision {
    /// The wire (and storage) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "APPROVED",
            Decision::Rejected => "REJECTED",
            Decision::Review => "REVIEW",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Decision> {
        [Decision::Approved, Decision::Rejected, Decision::Review]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// The longest `externalRef`, in characters.
pub const MAX_EXTERNAL_REF_CHARS: usize = 255;
/// The largest `metadata`, serialized, in bytes.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;

/// What a client asks for when it creates a session, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSession {
    /// The client's own reference.
    pub external_ref: Option<String>,
    /// The checks to run, without duplicates, in the order asked.
    pub checks: Vec<Check>,
    /// Where the hosted page sends the user afterwards.
    pub redirect_url: Option<String>,
    /// Where this session's webhooks go instead of the key's URL.
    pub callback_url: Option<String>,
    /// Arbitrary JSON object returned with the session and in webhooks.
    pub metadata: Option<Value>,
}

impl NewSession {
    /// Validates a request against the checks the key enables. Unknown check names, bad
    /// URLs, oversized fields answer [`crate::Error::Invalid`]; a known check the key does
    /// not enable answers [`crate::Error::Denied`]. No `checks` means the key's checks.
    pub fn validate(
        external_ref: Option<String>,
        checks: Option<Vec<String>>,
        redirect_url: Option<String>,
        callback_url: Option<String>,
        metadata: Option<Value>,
        enabled: &[Check],
    ) -> crate::Result<NewSession> {
        use crate::Error::{Denied, Invalid};
        if let Some(r) = &external_ref {
            if r.chars().count() > MAX_EXTERNAL_REF_CHARS {
                return Err(Invalid(format!(
                    "externalRef must be at most {MAX_EXTERNAL_REF_CHARS} characters"
                )));
            }
        }
        let checks = match checks {
            None => {
                if enabled.is_empty() {
                    return Err(Denied("No checks are enabled for this API key".into()));
                }
                enabled.to_vec()
            }
            Some(names) => {
                if names.is_empty() {
                    return Err(Invalid(
                        "checks must name at least one check, or be left out to use the key's checks"
                            .into(),
                    ));
                }
                let mut out = Vec::new();
                for name in &names {
                    let check = Check::parse(name).ok_or_else(|| {
                        Invalid(format!(
                            "Unknown check '{}' (known: liveness, age_estimation, doc_verify, face_match, digital_id)",
                            name.chars().take(64).collect::<String>()
                        ))
                    })?;
                    if !out.contains(&check) {
                        out.push(check);
                    }
                }
                if let Some(off) = out.iter().find(|c| !enabled.contains(c)) {
                    return Err(Denied(format!(
                        "Check '{}' is not enabled for this API key",
                        off.as_str()
                    )));
                }
                out
            }
        };
        if let Some(u) = &redirect_url {
            crate::model::validate_http_url("redirectUrl", u)?;
        }
        if let Some(u) = &callback_url {
            crate::model::validate_http_url("callbackUrl", u)?;
        }
        let metadata = match metadata {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => {
                if v.to_string().len() > MAX_METADATA_BYTES {
                    return Err(Invalid(format!(
                        "metadata must be at most {MAX_METADATA_BYTES} bytes as JSON"
                    )));
                }
                Some(v)
            }
            Some(_) => return Err(Invalid("metadata must be a JSON object".into())),
        };
        Ok(NewSession {
            external_ref,
            checks,
            redirect_url,
            callback_url,
            metadata,
        })
    }
}

/// A verification session as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct VerificationSession {
    /// Its id.
    pub id: SessionId,
    /// The organisation.
    pub org_id: OrgId,
    /// The API key that created it (its webhook URL and secret serve the session).
    pub key_id: KeyId,
    /// The client's own reference.
    pub external_ref: Option<String>,
    /// Where it is.
    pub status: SessionStatus,
    /// The decision, once completed.
    pub overall_result: Option<Decision>,
    /// The checks asked for.
    pub checks: Vec<Check>,
    /// Per-check results keyed by the check's wire name (filled by the hosted flow).
    pub results: Map<String, Value>,
    /// Where the hosted page sends the user afterwards.
    pub redirect_url: Option<String>,
    /// Where this session's webhooks go instead of the key's URL.
    pub callback_url: Option<String>,
    /// The client's metadata.
    pub metadata: Option<Value>,
    /// When it expires if still open.
    pub expires_at: Millis,
    /// When it was created.
    pub created_at: Millis,
    /// When it reached a final status.
    pub finished_at: Option<Millis>,
}

/// The name a check's results have in the `checks` object of the KYC dialect.
pub fn result_key(check: Check) -> &'static str {
    match check {
        Check::Liveness => "liveness",
        Check::AgeEstimation => "ageEstimation",
        Check::DocVerify => "documentVerification",
        Check::FaceMatch => "faceMatch",
        Check::DigitalId => "digitalId",
    }
}

impl VerificationSession {
    /// The `checks` object: one entry per requested check, `PENDING` with a null result
    /// until the hosted flow records one.
    pub fn checks_json(&self) -> Value {
        let mut out = Map::new();
        for c in &self.checks {
            let key = result_key(*c);
            let v = self
                .results
                .get(key)
                .cloned()
                .unwrap_or_else(|| json!({"status": "PENDING", "result": null}));
            out.insert(key.to_string(), v);
        }
        Value::Object(out)
    }

    /// Whether a reviewer may decide it: overall REVIEW, completed (or IN_PROGRESS, as
    /// earlier versions queued it).
    pub fn awaiting_review(&self) -> bool {
        self.overall_result == Some(Decision::Review)
            && matches!(
                self.status,
                SessionStatus::Completed | SessionStatus::InProgress
            )
    }

    /// The session as `GET /api/v1/verify/:id` shows it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "externalRef": self.external_ref,
            "status": self.status,
            "overallResult": self.overall_result,
            "checks": self.checks_json(),
            "metadata": self.metadata,
            "requestedChecks": self.checks,
            "createdAt": rfc3339(self.created_at),
            "expiresAt": rfc3339(self.expires_at),
            "finishedAt": self.finished_at.map(rfc3339),
        })
    }

    /// The webhook body of `event` (`verification.cancelled`, …) at `at`, in the shape of
    /// the spec's `verification.completed` payload.
    pub fn webhook_body(&self, event: &str, at: Millis) -> Value {
        let mut body = json!({
            "event": event,
            "sessionId": self.id,
            "externalRef": self.external_ref,
            "status": self.status,
            "overallResult": self.overall_result,
            "checks": self.checks_json(),
            "metadata": self.metadata,
        });
        let stamp = match self.status {
            SessionStatus::Cancelled => "cancelledAt",
            SessionStatus::Expired => "expiredAt",
            _ => "completedAt",
        };
        body[stamp] = json!(rfc3339(at));
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;

    fn names(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn statuses_round_trip_and_only_pending_and_in_progress_are_open() {
        for s in SessionStatus::ALL {
            assert_eq!(SessionStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
        let open: Vec<_> = SessionStatus::ALL
            .into_iter()
            .filter(|s| s.is_open())
            .collect();
        assert_eq!(open, [SessionStatus::Pending, SessionStatus::InProgress]);
        assert_eq!(Decision::parse("REVIEW"), Some(Decision::Review));
    }

    #[test]
    fn new_session_defaults_to_the_key_checks_and_refuses_unknown_or_disabled_ones() {
        let enabled = [Check::Liveness, Check::FaceMatch];
        let s = NewSession::validate(None, None, None, None, None, &enabled).unwrap();
        assert_eq!(s.checks, enabled);
        let s = NewSession::validate(
            None,
            names(&["face_match", "face_match"]),
            None,
            None,
            None,
            &enabled,
        )
        .unwrap();
        assert_eq!(s.checks, [Check::FaceMatch]);
        assert!(matches!(
            NewSession::validate(None, names(&["selfie"]), None, None, None, &enabled),
            Err(Error::Invalid(_))
        ));
        assert!(matches!(
            NewSession::validate(None, names(&["doc_verify"]), None, None, None, &enabled),
            Err(Error::Denied(_))
        ));
    }

    #[test]
    fn new_session_limits_urls_refs_and_metadata() {
        let all = Check::ALL;
        let bad_url = NewSession::validate(
            None,
            None,
            Some("javascript:alert(1)".into()),
            None,
            None,
            &all,
        );
        assert!(matches!(bad_url, Err(Error::Invalid(_))));
        let bad_cb = NewSession::validate(None, None, None, Some("ftp://x".into()), None, &all);
        assert!(matches!(bad_cb, Err(Error::Invalid(_))));
        let long_ref = NewSession::validate(Some("x".repeat(256)), None, None, None, None, &all);
        assert!(matches!(long_ref, Err(Error::Invalid(_))));
        let big = json!({"blob": "x".repeat(MAX_METADATA_BYTES)});
        assert!(NewSession::validate(None, None, None, None, Some(big), &all).is_err());
        assert!(NewSession::validate(None, None, None, None, Some(json!([1])), &all).is_err());
        assert!(NewSession::validate(
            None,
            None,
            None,
            None,
            Some(json!({"plan": "premium"})),
            &all
        )
        .is_ok());
    }
}

//! Events: every state change worth telling. The webhook outbox and the audit log read
//! them; a dialect decides how an event's body and signature header look on the wire.

use serde::{Deserialize, Serialize};

/// How a webhook body is signed beyond the Standard Webhooks headers, which every
/// delivery carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// Standard Webhooks headers only.
    Standard,
    /// The KYC sessions dialect: adds `X-KYC-Signature` (hex HMAC-SHA256 of the body).
    Kyc,
    /// The biometric identity dialect: adds `x-proof-signature` (hex HMAC-SHA256 of the body).
    Proof,
    /// The phone identity dialect: adds `X-Prove-Authorization: Bearer <JWT>`, an HS256
    /// JWT signed with the key's webhook secret whose `body_sha256` claim binds the body.
    Phone,
    /// Not a webhook: a JSON Patch of a Kratos identity's `metadata_admin` through the
    /// Kratos admin API, queued in the outbox so that it is retried while Kratos is down.
    Kratos,
}

impl Dialect {
    /// Stable storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Standard => "standard",
            Dialect::Kyc => "kyc",
            Dialect::Proof => "proof",
            Dialect::Phone => "phone",
            Dialect::Kratos => "kratos",
        }
    }

    /// Parses a storage name; unknown names fall back to [`Dialect::Standard`].
    pub fn parse(s: &str) -> Dialect {
        match s {
            "kyc" => Dialect::Kyc,
            "proof" => Dialect::Proof,
            "phone" => Dialect::Phone,
            "kratos" => Dialect::Kratos,
            _ => Dialect::Standard,
        }
    }

    /// The dialect's own signature header, if it has one.
    pub fn signature_header(self) -> Option<&'static str> {
        match self {
            Dialect::Standard => None,
            Dialect::Kyc => Some("x-kyc-signature"),
            Dialect::Proof => Some("x-proof-signature"),
            Dialect::Phone => Some("x-prove-authorization"),
            Dialect::Kratos => None,
        }
    }
}

/// Event type sent by `POST /api/v1/webhooks/test`.
pub const WEBHOOK_TEST: &str = "webhook.test";

/// A KYC verification session finished with a decision: APPROVED, REJECTED, or REVIEW
/// when a check was borderline (a person decides later).
pub const VERIFICATION_COMPLETED: &str = "verification.completed";
/// A reviewer decided a session that completed with REVIEW: the same body as
/// `verification.completed`, with the final `overallResult` (APPROVED or REJECTED).
pub const VERIFICATION_REVIEWED: &str = "verification.reviewed";
/// A KYC verification session was cancelled through the API.
pub const VERIFICATION_CANCELLED: &str = "verification.cancelled";
/// A KYC verification session ran out of time before it finished.
pub const VERIFICATION_EXPIRED: &str = "verification.expired";

/// Change events about an enrolled phone identity (`PHONE_NUMBER_CHANGE`, …).
pub const PHONE_IDENTITY_CHANGE: &str = "phone.identity_change";

/// vouch's phone identity id written into a Kratos identity's `metadata_admin`.
pub const KRATOS_METADATA_PATCH: &str = "ory.metadata_patch";

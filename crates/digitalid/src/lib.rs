//! Digital identity credentials for vouch's `digital_id` check: an OpenID4VP 1.0
//! verifier ([`openid4vp`]) of SD-JWT VC presentations ([`sdjwt`]) whose issuers chain to
//! the operator's trust lists ([`x509`]), over the JOSE primitives it needs ([`jose`]).
//!
//! Pure functions over bytes and times: no database, no network. The server keeps the
//! request state (nonce, state, the response key) and the trust lists, and turns a
//! [`Failure`]'s [`Reason`] into the check's reason code.

pub mod jose;
pub mod mdoc;
pub mod openid4vp;
pub mod sdjwt;
pub mod status;
pub mod x509;

/// Why a presentation is not evidence; each is a reason code of the check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not parseable as what it claims to be.
    Malformed,
    /// A format or algorithm vouch does not accept.
    UnsupportedFormat,
    /// The encrypted response does not open with this request's key.
    ResponseDecryptFailed,
    /// The response answers another request.
    StateMismatch,
    /// The wallet answered with an error (the person declined, no credential).
    WalletError,
    /// The issuer certificate is invalid or outside its validity period.
    IssuerCertificateInvalid,
    /// The issuer does not chain to the trust list.
    IssuerUntrusted,
    /// The issuer signature does not verify.
    IssuerSignatureInvalid,
    /// `iss` is not a name of the signing certificate.
    IssuerMismatch,
    /// The credential type is not accepted.
    CredentialTypeNotAccepted,
    /// Past `exp`.
    CredentialExpired,
    /// Before `nbf`.
    CredentialNotYetValid,
    /// A disclosure matches no digest of the signed credential.
    DisclosureDigestMismatch,
    /// A disclosure is presented twice.
    DisclosureDuplicate,
    /// No key-binding JWT.
    KeyBindingMissing,
    /// The key-binding JWT is not signed by the holder key.
    KeyBindingInvalid,
    /// The key-binding JWT's nonce is not this request's.
    NonceMismatch,
    /// The key-binding JWT's audience is not this verifier.
    AudienceMismatch,
    /// The key-binding JWT was not made just now.
    KeyBindingStale,
    /// The key-binding JWT signs other disclosures.
    SdHashMismatch,
    /// A status list token that is not readable, not signed by a trusted issuer, for
    /// another list, or expired.
    StatusListInvalid,
}

impl Reason {
    /// The reason code in results.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::UnsupportedFormat => "unsupported_format",
            Reason::ResponseDecryptFailed => "response_decrypt_failed",
            Reason::StateMismatch => "state_mismatch",
            Reason::WalletError => "wallet_error",
            Reason::IssuerCertificateInvalid => "issuer_certificate_invalid",
            Reason::IssuerUntrusted => "issuer_untrusted",
            Reason::IssuerSignatureInvalid => "issuer_signature_invalid",
            Reason::IssuerMismatch => "issuer_mismatch",
            Reason::CredentialTypeNotAccepted => "credential_type_not_accepted",
            Reason::CredentialExpired => "credential_expired",
            Reason::CredentialNotYetValid => "credential_not_yet_valid",
            Reason::DisclosureDigestMismatch => "disclosure_digest_mismatch",
            Reason::DisclosureDuplicate => "disclosure_duplicate",
            Reason::KeyBindingMissing => "key_binding_missing",
            Reason::KeyBindingInvalid => "key_binding_invalid",
            Reason::NonceMismatch => "nonce_mismatch",
            Reason::AudienceMismatch => "audience_mismatch",
            Reason::KeyBindingStale => "key_binding_stale",
            Reason::SdHashMismatch => "sd_hash_mismatch",
            Reason::StatusListInvalid => "status_list_invalid",
        }
    }
}

/// A presentation that is not evidence, with why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", reason.as_str())]
pub struct Failure {
    /// The reason code.
    pub reason: Reason,
    /// What exactly, for the log and the result.
    pub detail: String,
}

/// A result with a [`Failure`].
pub type Result<T, E = Failure> = std::result::Result<T, E>;

pub(crate) fn fail(reason: Reason, detail: impl Into<String>) -> Failure {
    Failure {
        reason,
        detail: detail.into(),
    }
}

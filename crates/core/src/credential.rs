//! Secrets that vouch issues: API keys, service tokens, OAuth client secrets and access
//! tokens, webhook secrets. Each carries at least 32 random bytes; only a SHA-256 digest
//! of a bearer secret is stored, with a short visible prefix so people can tell keys apart.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The kinds of bearer secret, each with its own recognisable prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// An API key (`vk_live_…`).
    ApiKey,
    /// A service token (`vst_…`).
    ServiceToken,
    /// An OAuth client secret (`vcs_…`).
    ClientSecret,
    /// An OAuth access token (`vat_…`).
    AccessToken,
    /// The token of a hosted verification page URL (`vvt_…`).
    SessionToken,
    /// The token of a presence page URL (`vpt_…`).
    PresenceToken,
}

impl SecretKind {
    /// The text every secret of this kind starts with.
    pub fn prefix(self) -> &'static str {
        match self {
            SecretKind::ApiKey => "vk_live_",
            SecretKind::ServiceToken => "vst_",
            SecretKind::ClientSecret => "vcs_",
            SecretKind::AccessToken => "vat_",
            SecretKind::SessionToken => "vvt_",
            SecretKind::PresenceToken => "vpt_",
        }
    }
}

/// A freshly generated secret: the full value (shown once), its digest (stored) and its
/// visible prefix (stored and shown in listings).
pub struct Issued {
    /// The secret itself; give it to the user once and forget it.
    pub secret: String,
    /// SHA-256 of the secret, hex.
    pub hash: String,
    /// The first characters of the secret, safe to display.
    pub display_prefix: String,
}

/// Number of random bytes in every issued secret.
pub const SECRET_BYTES: usize = 32;

/// Generates a new secret of `kind`.
pub fn issue(kind: SecretKind) -> Issued {
    let mut raw = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let secret = format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(raw));
    let display_prefix = secret[..kind.prefix().len() + 6].to_string();
    Issued {
        hash: hash_secret(&secret),
        secret,
        display_prefix,
    }
}

/// The stored form of a bearer secret. A plain SHA-256 suffices: the input carries 256
/// bits of entropy, so there is nothing for a slow hash to protect.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A new Standard Webhooks secret: `whsec_` + base64 of 32 random bytes.
pub fn webhook_secret() -> String {
    let mut raw = [0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    format!("whsec_{}", STANDARD.encode(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_secrets_are_long_unique_and_hashed() {
        let a = issue(SecretKind::ApiKey);
        let b = issue(SecretKind::ApiKey);
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("vk_live_"));
        assert_eq!(a.secret.len(), "vk_live_".len() + 43);
        assert_eq!(a.hash, hash_secret(&a.secret));
        assert!(a.secret.starts_with(&a.display_prefix));
        assert!(!a.hash.contains(&a.secret));
    }

    #[test]
    fn webhook_secret_has_32_bytes() {
        let s = webhook_secret();
        let raw = STANDARD.decode(s.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(raw.len(), 32);
    }
}

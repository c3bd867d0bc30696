//! One-time codes and link tokens. Codes come from the OS CSPRNG, are stored only as an
//! HMAC-SHA256 digest keyed by a server secret and bound to their flow, and are
//! compared in constant time.

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Digits of a code unless the SMS template asks for 4 or 5.
pub const DEFAULT_DIGITS: usize = 6;

/// A new numeric code of `digits` digits (4 to 8), uniformly drawn.
pub fn generate(digits: usize) -> String {
    let digits = digits.clamp(4, 8);
    let mut rng = OsRng;
    (0..digits)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// The stored digest of `code` for the flow `binding`: HMAC-SHA256 under `key` of the
/// binding and the code, so a digest is useless for any other flow.
pub fn digest(key: &[u8], binding: &str, code: &str) -> [u8; 32] {
    // HMAC accepts keys of any length; the error case cannot happen.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    mac.update(binding.as_bytes());
    mac.update(&[0]);
    mac.update(code.as_bytes());
    mac.finalize().into_bytes().into()
}

/// Whether `code` is the one whose digest is `stored`, in constant time. The code is
/// normalised (spaces and dashes dropped) but its length is part of the digest.
pub fn verify(key: &[u8], binding: &str, code: &str, stored: &[u8]) -> bool {
    let code: String = code.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let candidate = digest(key, binding, &code);
    candidate.ct_eq(stored).into()
}

/// A single-use link token: 32 random bytes, base64url.
pub fn link_token() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of a link token (SHA-256 hex; the token has 256 bits of entropy, so
/// no key is needed).
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_asked_length_and_are_digits() {
        for d in [4, 5, 6, 8] {
            let c = generate(d);
            assert_eq!(c.len(), d);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(generate(2).len(), 4);
    }

    #[test]
    fn codes_are_spread_over_all_digits() {
        let mut seen = [0u32; 10];
        for _ in 0..2000 {
            for b in generate(6).bytes() {
                seen[(b - b'0') as usize] += 1;
            }
        }
        // 12000 digits: each should appear ~1200 times.
        assert!(seen.iter().all(|&n| n > 900 && n < 1500), "{seen:?}");
    }

    #[test]
    fn verify_binds_code_to_flow_and_key() {
        let key = b"server-secret";
        let stored = digest(key, "flow-1", "123456");
        assert!(verify(key, "flow-1", "123456", &stored));
        assert!(verify(key, "flow-1", "123 456", &stored));
        assert!(!verify(key, "flow-2", "123456", &stored));
        assert!(!verify(b"other", "flow-1", "123456", &stored));
        assert!(!verify(key, "flow-1", "123457", &stored));
        assert!(!verify(key, "flow-1", "", &stored));
    }

    #[test]
    fn link_tokens_are_unique_and_digested() {
        let a = link_token();
        let b = link_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_digest(&a).len(), 64);
        assert_ne!(token_digest(&a), token_digest(&b));
    }
}

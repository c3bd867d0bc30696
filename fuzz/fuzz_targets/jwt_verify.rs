//! Fuzzes every JWT verification of vouch: Human Presence Tokens (ES256, `verify_jwt`)
//! and the HS256 tokens only vouch verifies (`verify_hs256`: the phone SDK's authToken,
//! presence tokens in HS256 mode). Any text gives claims or a clean error, never a
//! panic; claims signed by `sign_es256` / `sign_hs256` verify to the same claims, and
//! the token with one byte changed does not verify.
//! Input: the token as text; also read as JSON claims (or a string claim) to sign.
//! Run: `scripts/fuzz.sh jwt_verify [seconds]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::sync::OnceLock;
use vouch_store::presence::{sign_es256, sign_hs256, verify_hs256, verify_jwt, PublicKey};

const KID: &str = "hpt-fuzz";
const HS_KID: &str = "hs-fuzz";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn keys() -> &'static (EcdsaKeyPair, Vec<PublicKey>) {
    static KEYS: OnceLock<(EcdsaKeyPair, Vec<PublicKey>)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rng = SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("a key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .expect("a key");
        let public = vec![PublicKey {
            kid: KID.into(),
            point: pair.public_key().as_ref().to_vec(),
        }];
        (pair, public)
    })
}

/// The token with the byte at `at` (modulo its length) changed to another base64url
/// character.
fn tampered(token: &str, at: usize) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = at % bytes.len();
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ASCII")
}

/// Equal JSON, but for the last bit of a float: serde_json (without `float_roundtrip`)
/// may read a long float written by itself one unit in the last place away, as in the
/// regression seed `fuzz/seeds/jwt_verify/float-last-bit`. Not a verification matter.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap_or(0.0), y.as_f64().unwrap_or(0.0));
            x == y || (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    let (pair, public) = keys();
    let text = String::from_utf8_lossy(data);

    // Arbitrary tokens (the seeds include valid ones): claims or an error, no panic.
    let _ = verify_jwt(&text, public);
    let _ = verify_hs256(&text, HS_KID, SECRET);

    // Round trip: any claims signed verify to the same claims.
    let claims: Value = serde_json::from_slice(data).unwrap_or_else(|_| json!({"sub": text}));
    let token = sign_es256(pair, KID, &claims).expect("signing");
    let back = verify_jwt(&token, public).expect("a signed token verifies");
    assert!(same(&back, &claims), "{back} is not {claims}");
    assert!(
        verify_hs256(&token, KID, SECRET).is_err(),
        "ES256 is not HS256"
    );
    let bad = tampered(&token, data.len());
    assert!(verify_jwt(&bad, public).is_err(), "tampered {bad}");

    let token = sign_hs256(SECRET, HS_KID, &claims);
    let back = verify_hs256(&token, HS_KID, SECRET).expect("a signed token verifies");
    assert!(same(&back, &claims), "{back} is not {claims}");
    assert!(verify_jwt(&token, public).is_err(), "HS256 is not ES256");
    assert!(verify_hs256(&token, HS_KID, b"another secret").is_err());
    let bad = tampered(&token, data.len());
    assert!(
        verify_hs256(&bad, HS_KID, SECRET).is_err(),
        "tampered {bad}"
    );
});

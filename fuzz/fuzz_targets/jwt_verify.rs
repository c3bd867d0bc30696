//! Fuzzes every JWT verification of vouch through the one place that does it,
//! `vouch_app::tokens::Tokens` (jsonwebtoken with the ES256/HS256 allow-list): Human
//! Presence Tokens (ES256) and the HS256 tokens only vouch verifies (the phone SDK's
//! authToken, presence tokens in HS256 mode). Any text gives claims or a clean refusal,
//! never a panic; claims signed by `Tokens::sign` verify to the same claims in both
//! algorithms, and the token with one byte changed does not verify.
//! Input: the token as text; also read as JSON claims (or a string claim) to sign.
//! Run: `scripts/fuzz.sh jwt_verify [seconds]`.
#![no_main]

use async_trait::async_trait;
use libfuzzer_sys::fuzz_target;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use std::sync::{Arc, OnceLock};
use vouch_app::tokens::Algorithm;
use vouch_app::tokens::{Expect, SigningKeys, Tokens};
use vouch_store::presence::PublicKey;

/// Keys made once, in memory.
struct Keys {
    pkcs8: Vec<u8>,
    public: Vec<PublicKey>,
}

#[async_trait]
impl SigningKeys for Keys {
    async fn es256_private(&self) -> vouch_core::Result<(String, Vec<u8>)> {
        Ok(("hpt-fuzz".into(), self.pkcs8.clone()))
    }
    async fn es256_public(&self) -> vouch_core::Result<Vec<PublicKey>> {
        Ok(self.public.clone())
    }
    async fn hs256_secret(&self) -> vouch_core::Result<(String, Vec<u8>)> {
        Ok((
            "hs-fuzz".into(),
            b"0123456789abcdef0123456789abcdef".to_vec(),
        ))
    }
}

fn setup() -> &'static (tokio::runtime::Runtime, Tokens) {
    static SETUP: OnceLock<(tokio::runtime::Runtime, Tokens)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("a key")
            .as_ref()
            .to_vec();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .expect("a key");
        let public = vec![PublicKey {
            kid: "hpt-fuzz".into(),
            point: pair.public_key().as_ref().to_vec(),
        }];
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        (rt, Tokens::new(Arc::new(Keys { pkcs8, public })))
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
    let (rt, tokens) = setup();
    let text = String::from_utf8_lossy(data);
    rt.block_on(async {
        // Arbitrary tokens (the seeds include valid ones): claims or a refusal, no panic.
        let _ = tokens.verify(&text, Expect::default()).await.expect("keys");

        // Round trip: any claims, with an expiry in the future, verify to themselves.
        let mut claims = match serde_json::from_slice::<Value>(data) {
            Ok(Value::Object(m)) => Value::Object(m),
            Ok(other) => json!({"sub": other}),
            Err(_) => json!({"sub": text}),
        };
        claims["exp"] = json!(vouch_core::now_millis() / 1000 + 3600);
        // Registered claims the validation reads have their RFC 7519 types (a `sub` that
        // is an object is refused, rightly): the round trip gives them as strings.
        for k in ["sub", "iss", "aud", "jti"] {
            if let Some(v) = claims.get(k).filter(|v| !v.is_string()).cloned() {
                claims[k] = Value::String(v.to_string());
            }
        }
        if let Some(m) = claims.as_object_mut() {
            m.remove("nbf");
        }
        for alg in [Algorithm::ES256, Algorithm::HS256] {
            let token = tokens.sign(alg, &claims).await.expect("signing");
            let back = tokens
                .verify(&token, Expect::default())
                .await
                .expect("keys")
                .expect("a signed token verifies");
            assert!(same(&back, &claims), "{back} is not {claims}");
            let bad = tampered(&token, data.len());
            assert!(
                tokens
                    .verify(&bad, Expect::default())
                    .await
                    .expect("keys")
                    .is_err(),
                "tampered {bad}"
            );
        }
    });
});

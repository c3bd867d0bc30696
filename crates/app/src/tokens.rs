//! Signed tokens (JWS compact JWTs) vouch issues and checks: Human Presence Tokens (ES256,
//! published in the JWKS; HS256 when an operator asks for the spec's style) and the phone
//! client SDK's auth tokens (HS256). Signing and verification go through `jsonwebtoken`
//! with an explicit algorithm allow-list (ES256, HS256: never `none`, never an algorithm
//! the header picks outside the list) and `exp`, `nbf`, `aud` and `iss` validated with no
//! leeway. The store only keeps the key material, sealed ([`SigningKeys`]).

use async_trait::async_trait;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};

/// The JWS algorithms (re-exported so callers need not name jsonwebtoken).
pub use jsonwebtoken::Algorithm;
use serde_json::Value;
use std::sync::Arc;
use vouch_core::{Error, Result};
use vouch_store::presence::PublicKey;

/// The algorithms vouch signs with and accepts.
pub const ALLOWED: [Algorithm; 2] = [Algorithm::ES256, Algorithm::HS256];

/// Key material for tokens, created (sealed) on first use.
#[async_trait]
pub trait SigningKeys: Send + Sync {
    /// The current ES256 key: kid and PKCS#8 DER.
    async fn es256_private(&self) -> Result<(String, Vec<u8>)>;
    /// Every ES256 public key (the JWKS).
    async fn es256_public(&self) -> Result<Vec<PublicKey>>;
    /// The HS256 secret: kid and bytes.
    async fn hs256_secret(&self) -> Result<(String, Vec<u8>)>;
}

#[async_trait]
impl SigningKeys for vouch_store::Store {
    async fn es256_private(&self) -> Result<(String, Vec<u8>)> {
        self.es256_signing_key().await
    }

    async fn es256_public(&self) -> Result<Vec<PublicKey>> {
        self.public_keys().await
    }

    async fn hs256_secret(&self) -> Result<(String, Vec<u8>)> {
        vouch_store::Store::hs256_secret(self).await
    }
}

/// What a token must say besides a good signature and a future `exp`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect<'a> {
    /// The `aud` it must carry.
    pub audience: Option<&'a str>,
    /// The `iss` it must carry.
    pub issuer: Option<&'a str>,
}

/// Why a token was refused, in the words the presence API answers with.
pub type Refusal = &'static str;

/// Signs and verifies vouch's tokens.
pub struct Tokens {
    keys: Arc<dyn SigningKeys>,
}

impl Tokens {
    /// Over the key store.
    pub fn new(keys: Arc<dyn SigningKeys>) -> Tokens {
        Tokens { keys }
    }

    /// Signs claims with `alg` (ES256 or HS256) under the current key's `kid`.
    pub async fn sign(&self, alg: Algorithm, claims: &Value) -> Result<String> {
        let (kid, key) = match alg {
            Algorithm::ES256 => {
                let (kid, pkcs8) = self.keys.es256_private().await?;
                (kid, EncodingKey::from_ec_der(&pkcs8))
            }
            Algorithm::HS256 => {
                let (kid, secret) = self.keys.hs256_secret().await?;
                (kid, EncodingKey::from_secret(&secret))
            }
            other => return Err(Error::Internal(format!("vouch does not sign {other:?}"))),
        };
        let mut header = Header::new(alg);
        header.kid = Some(kid);
        jsonwebtoken::encode(&header, claims, &key)
            .map_err(|e| Error::Internal(format!("signing a token: {e}")))
    }

    /// The ES256 public keys for the JWKS document; the first key is made on the first
    /// call, so relying parties can fetch it before any token exists.
    pub async fn public_keys(&self) -> Result<Vec<PublicKey>> {
        let keys = self.keys.es256_public().await?;
        if !keys.is_empty() {
            return Ok(keys);
        }
        self.keys.es256_private().await?;
        self.keys.es256_public().await
    }

    /// Verifies a token vouch issued: the algorithm on the allow-list, the key by `kid`,
    /// the signature, `exp` (required), `nbf`, and `expect`. The outer error is a store
    /// failure; the inner one says why the token is refused.
    pub async fn verify(
        &self,
        token: &str,
        expect: Expect<'_>,
    ) -> Result<std::result::Result<Value, Refusal>> {
        let Ok(header) = jsonwebtoken::decode_header(token) else {
            return Ok(Err("not a compact JWS"));
        };
        if !ALLOWED.contains(&header.alg) {
            return Ok(Err("unsupported alg"));
        }
        let kid = header.kid.unwrap_or_default();
        let key = match header.alg {
            Algorithm::HS256 => {
                let (current, secret) = self.keys.hs256_secret().await?;
                if kid != current {
                    return Ok(Err("unknown kid"));
                }
                DecodingKey::from_secret(&secret)
            }
            _ => {
                let keys = self.keys.es256_public().await?;
                let Some(k) = keys.iter().find(|k| k.kid == kid) else {
                    return Ok(Err("unknown kid"));
                };
                match decoding_key(k) {
                    Some(d) => d,
                    None => return Ok(Err("unknown kid")),
                }
            }
        };
        let mut v = Validation::new(header.alg);
        v.algorithms = vec![header.alg];
        v.leeway = 0;
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp"]);
        match expect.audience {
            Some(a) => v.set_audience(&[a]),
            None => v.validate_aud = false,
        }
        if let Some(i) = expect.issuer {
            v.set_issuer(&[i]);
        }
        Ok(
            match jsonwebtoken::decode::<Value>(token, &key, &v).map(|d| d.claims) {
                Ok(claims) => Ok(claims),
                Err(e) => Err(match e.kind() {
                    ErrorKind::ExpiredSignature => "token expired",
                    ErrorKind::ImmatureSignature => "token not yet valid",
                    ErrorKind::InvalidAudience => "wrong audience",
                    ErrorKind::InvalidIssuer => "wrong issuer",
                    ErrorKind::InvalidSignature => "bad signature",
                    ErrorKind::MissingRequiredClaim(_) => "token has no expiry",
                    ErrorKind::InvalidAlgorithm => "unsupported alg",
                    _ => "not a compact JWS",
                }),
            },
        )
    }
}

/// The public key as a decoding key (from its x and y coordinates).
fn decoding_key(k: &PublicKey) -> Option<DecodingKey> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    if k.point.len() != 65 || k.point[0] != 4 {
        return None;
    }
    let (x, y) = k.point[1..].split_at(32);
    DecodingKey::from_ec_components(&URL_SAFE_NO_PAD.encode(x), &URL_SAFE_NO_PAD.encode(y)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use serde_json::json;

    /// In-memory keys.
    struct Keys {
        pkcs8: Vec<u8>,
        point: Vec<u8>,
        secret: Vec<u8>,
    }

    #[async_trait]
    impl SigningKeys for Keys {
        async fn es256_private(&self) -> Result<(String, Vec<u8>)> {
            Ok(("hpt-1".into(), self.pkcs8.clone()))
        }
        async fn es256_public(&self) -> Result<Vec<PublicKey>> {
            Ok(vec![PublicKey {
                kid: "hpt-1".into(),
                point: self.point.clone(),
            }])
        }
        async fn hs256_secret(&self) -> Result<(String, Vec<u8>)> {
            Ok(("hs-1".into(), self.secret.clone()))
        }
    }

    fn tokens() -> Tokens {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .expect("keygen")
            .as_ref()
            .to_vec();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .expect("key pair");
        Tokens::new(Arc::new(Keys {
            point: pair.public_key().as_ref().to_vec(),
            pkcs8,
            secret: b"0123456789abcdef0123456789abcdef".to_vec(),
        }))
    }

    fn now() -> i64 {
        vouch_core::now_millis() / 1000
    }

    fn b64(v: &Value) -> String {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[tokio::test]
    async fn both_algorithms_verify_as_signed_and_nothing_else_does() {
        let t = tokens();
        let claims = json!({"sub": "alice", "aud": "sdk", "iss": "https://v", "exp": now() + 60});
        for alg in [Algorithm::ES256, Algorithm::HS256] {
            let token = t.sign(alg, &claims).await.expect("sign");
            let ok = t.verify(&token, Expect::default()).await.expect("store");
            assert_eq!(ok, Ok(claims.clone()), "{alg:?}");
            let strict = Expect {
                audience: Some("sdk"),
                issuer: Some("https://v"),
            };
            assert_eq!(
                t.verify(&token, strict).await.ok(),
                Some(Ok(claims.clone()))
            );
            let other_aud = Expect {
                audience: Some("other"),
                ..strict
            };
            assert_eq!(
                t.verify(&token, other_aud).await.ok(),
                Some(Err("wrong audience"))
            );
            let other_iss = Expect {
                issuer: Some("https://evil"),
                ..strict
            };
            assert_eq!(
                t.verify(&token, other_iss).await.ok(),
                Some(Err("wrong issuer"))
            );
            // A claim changed after signing.
            let parts: Vec<&str> = token.split('.').collect();
            let forged = format!(
                "{}.{}.{}",
                parts[0],
                b64(&json!({"sub": "mallory", "aud": "sdk", "exp": now() + 60})),
                parts[2]
            );
            assert_eq!(
                t.verify(&forged, Expect::default()).await.ok(),
                Some(Err("bad signature"))
            );
            assert!(matches!(
                t.verify(&format!("{token}.x"), Expect::default()).await,
                Ok(Err(_))
            ));
        }
    }

    #[tokio::test]
    async fn expiry_is_required_and_enforced_without_leeway() {
        let t = tokens();
        let expired = t
            .sign(Algorithm::ES256, &json!({"sub": "a", "exp": now() - 1}))
            .await
            .expect("sign");
        assert_eq!(
            t.verify(&expired, Expect::default()).await.ok(),
            Some(Err("token expired"))
        );
        let forever = t
            .sign(Algorithm::HS256, &json!({"sub": "a"}))
            .await
            .expect("sign");
        assert_eq!(
            t.verify(&forever, Expect::default()).await.ok(),
            Some(Err("token has no expiry"))
        );
        let early = t
            .sign(
                Algorithm::HS256,
                &json!({"sub": "a", "exp": now() + 60, "nbf": now() + 30}),
            )
            .await
            .expect("sign");
        assert_eq!(
            t.verify(&early, Expect::default()).await.ok(),
            Some(Err("token not yet valid"))
        );
    }

    #[tokio::test]
    async fn algorithms_off_the_list_and_unknown_keys_are_refused() {
        let t = tokens();
        let claims = json!({"sub": "a", "exp": now() + 60});
        // alg "none", unsigned.
        let none = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&claims)
        );
        assert!(matches!(
            t.verify(&none, Expect::default()).await,
            Ok(Err(_))
        ));
        // HS384 over the real secret: a valid MAC, an algorithm vouch does not accept.
        let hs384 = jsonwebtoken::encode(
            &Header {
                kid: Some("hs-1".into()),
                ..Header::new(Algorithm::HS384)
            },
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .expect("sign");
        assert_eq!(
            t.verify(&hs384, Expect::default()).await.ok(),
            Some(Err("unsupported alg"))
        );
        // HS256 under a kid vouch does not hold; HS256 made with the ES256 public key as
        // the secret (the classic confusion) cannot pass either.
        let stranger = jsonwebtoken::encode(
            &Header {
                kid: Some("hs-9".into()),
                ..Header::new(Algorithm::HS256)
            },
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .expect("sign");
        assert_eq!(
            t.verify(&stranger, Expect::default()).await.ok(),
            Some(Err("unknown kid"))
        );
        let public = t.keys.es256_public().await.expect("keys")[0].point.clone();
        let confused = jsonwebtoken::encode(
            &Header {
                kid: Some("hs-1".into()),
                ..Header::new(Algorithm::HS256)
            },
            &claims,
            &EncodingKey::from_secret(&public),
        )
        .expect("sign");
        assert_eq!(
            t.verify(&confused, Expect::default()).await.ok(),
            Some(Err("bad signature"))
        );
    }
}

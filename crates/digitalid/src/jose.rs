//! The JOSE pieces OpenID4VP and SD-JWT need, and no more: compact JWS with ES256 and
//! ES384 (RFC 7515/7518), EC public keys as JWKs (RFC 7517), and compact JWE with direct
//! ECDH-ES key agreement on P-256 and AES-GCM content encryption (RFC 7516/7518 §4.6),
//! which is what a wallet uses to encrypt a `direct_post.jwt` response.

use crate::{fail, Failure, Reason, Result};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// base64url without padding.
pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Decodes base64url without padding (padding is refused, as JOSE requires).
pub fn unb64(s: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| fail(Reason::Malformed, "invalid base64url"))
}

/// base64url of SHA-256.
pub fn sha256_b64(data: &[u8]) -> String {
    b64(&Sha256::digest(data))
}

fn json_part(s: &str, what: &str) -> Result<Value> {
    let bytes = unb64(s)?;
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|_| fail(Reason::Malformed, format!("{what} is not JSON")))?;
    if !v.is_object() {
        return Err(fail(
            Reason::Malformed,
            format!("{what} is not a JSON object"),
        ));
    }
    Ok(v)
}

/// A compact JWS, parsed but not yet verified.
#[derive(Debug, Clone)]
pub struct Jws {
    /// The protected header.
    pub header: Value,
    /// The payload (a JSON object).
    pub payload: Value,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jws {
    /// Parses `header.payload.signature`.
    pub fn parse(compact: &str) -> Result<Jws> {
        let mut parts = compact.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(fail(Reason::Malformed, "a JWS has three parts"));
        };
        Ok(Jws {
            header: json_part(h, "the JWS header")?,
            payload: json_part(p, "the JWS payload")?,
            signing_input: format!("{h}.{p}"),
            signature: unb64(s)?,
        })
    }

    /// The header's `alg`.
    pub fn alg(&self) -> &str {
        self.header["alg"].as_str().unwrap_or("")
    }

    /// The header's `typ`.
    pub fn typ(&self) -> &str {
        self.header["typ"].as_str().unwrap_or("")
    }

    /// Whether the signature verifies with `key` under the header's `alg` (ES256 with a
    /// P-256 key, ES384 with a P-384 key; anything else is false).
    pub fn verifies_with(&self, key: &EcKey) -> bool {
        key.verify_jose(self.alg(), self.signing_input.as_bytes(), &self.signature)
    }
}

/// An EC public key of a supported curve.
#[derive(Debug, Clone)]
pub enum EcKey {
    /// NIST P-256 (ES256).
    P256(p256::ecdsa::VerifyingKey),
    /// NIST P-384 (ES384).
    P384(p384::ecdsa::VerifyingKey),
}

impl EcKey {
    /// From an uncompressed or compressed SEC1 point and the curve's name.
    pub fn from_sec1(curve: &str, bytes: &[u8]) -> Result<EcKey> {
        let bad = || fail(Reason::Malformed, format!("invalid {curve} public key"));
        match curve {
            "P-256" => p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .map(EcKey::P256)
                .map_err(|_| bad()),
            "P-384" => p384::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
                .map(EcKey::P384)
                .map_err(|_| bad()),
            _ => Err(fail(
                Reason::Malformed,
                format!("unsupported curve {curve}"),
            )),
        }
    }

    /// From a JWK `{"kty": "EC", "crv", "x", "y"}`.
    pub fn from_jwk(jwk: &Value) -> Result<EcKey> {
        if jwk["kty"] != "EC" {
            return Err(fail(Reason::Malformed, "the JWK is not an EC key"));
        }
        let crv = jwk["crv"].as_str().unwrap_or("");
        let x = unb64(jwk["x"].as_str().unwrap_or(""))?;
        let y = unb64(jwk["y"].as_str().unwrap_or(""))?;
        let mut point = Vec::with_capacity(1 + x.len() + y.len());
        point.push(4);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        EcKey::from_sec1(crv, &point)
    }

    /// Verifies a JOSE signature (r‖s of fixed length) over `msg`.
    pub fn verify_jose(&self, alg: &str, msg: &[u8], sig: &[u8]) -> bool {
        match (self, alg) {
            (EcKey::P256(k), "ES256") => {
                p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
            (EcKey::P384(k), "ES384") => {
                p384::ecdsa::Signature::from_slice(sig).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
            _ => false,
        }
    }

    /// Verifies an ASN.1 DER ECDSA signature over `msg` with the curve's hash or `hash`
    /// (`sha256` or `sha384`), as X.509 signatures are.
    pub fn verify_der(&self, hash: &str, msg: &[u8], sig: &[u8]) -> bool {
        use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
        let digest: Vec<u8> = match hash {
            "sha256" => Sha256::digest(msg).to_vec(),
            "sha384" => sha2::Sha384::digest(msg).to_vec(),
            _ => return false,
        };
        match self {
            EcKey::P256(k) => p256::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
            EcKey::P384(k) => p384::ecdsa::Signature::from_der(sig)
                .is_ok_and(|s| k.verify_prehash(&digest, &s).is_ok()),
        }
    }
}

/// Signs a compact JWS with ES256.
pub fn sign_es256(header: &Value, payload: &Value, key: &p256::ecdsa::SigningKey) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

/// The JWK of a P-256 public key.
pub fn p256_jwk(key: &p256::PublicKey) -> Value {
    let point = key.to_sec1_bytes();
    // Uncompressed: 0x04 ‖ x (32) ‖ y (32).
    let (x, y) = point[1..].split_at(32);
    json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)})
}

/// Fresh random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    use rand::RngCore as _;
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// A fresh P-256 secret key.
pub fn new_p256_secret() -> p256::SecretKey {
    loop {
        // A random 32-byte string is a valid scalar except with negligible probability.
        if let Ok(k) = p256::SecretKey::from_slice(&random_bytes::<32>()) {
            return k;
        }
    }
}

/// The response encryption key of one presentation request: the verifier's ephemeral
/// P-256 key for ECDH-ES, stored (sealed) with the request.
pub struct EncryptionKey(p256::SecretKey);

impl EncryptionKey {
    /// A fresh key.
    pub fn generate() -> EncryptionKey {
        EncryptionKey(new_p256_secret())
    }

    /// From the 32 bytes of [`Self::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<EncryptionKey> {
        p256::SecretKey::from_slice(bytes)
            .map(EncryptionKey)
            .map_err(|_| fail(Reason::Malformed, "invalid encryption key"))
    }

    /// The secret scalar, to store sealed.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.to_bytes().to_vec()
    }

    /// The public JWK a wallet encrypts to.
    pub fn public_jwk(&self, kid: &str) -> Value {
        let mut jwk = p256_jwk(&self.0.public_key());
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("enc");
        jwk["alg"] = json!("ECDH-ES");
        jwk
    }

    /// Decrypts a compact JWE made with `alg: ECDH-ES` (direct key agreement) and
    /// `enc: A128GCM` or `A256GCM`; returns the plaintext. Anything that does not open
    /// with this key is [`Reason::ResponseDecryptFailed`].
    pub fn decrypt(&self, compact: &str) -> Result<Vec<u8>> {
        self.open(compact).map_err(|e| Failure {
            reason: Reason::ResponseDecryptFailed,
            detail: e.detail,
        })
    }

    fn open(&self, compact: &str) -> Result<Vec<u8>> {
        let bad = |why: &str| fail(Reason::ResponseDecryptFailed, why.to_string());
        let parts: Vec<&str> = compact.split('.').collect();
        let [protected, encrypted_key, iv, ciphertext, tag] = parts[..] else {
            return Err(bad("a compact JWE has five parts"));
        };
        let header = json_part(protected, "the JWE header")?;
        if header["alg"] != "ECDH-ES" {
            return Err(bad("the response must use alg ECDH-ES"));
        }
        if !encrypted_key.is_empty() {
            return Err(bad("direct ECDH-ES has no encrypted key"));
        }
        let enc = header["enc"].as_str().unwrap_or("");
        let key_len = match enc {
            "A128GCM" => 16,
            "A256GCM" => 32,
            _ => return Err(bad("the response must use enc A128GCM or A256GCM")),
        };
        let epk = match EcKey::from_jwk(&header["epk"]) {
            Ok(EcKey::P256(k)) => p256::PublicKey::from(k),
            _ => return Err(bad("the JWE header's epk is not a P-256 key")),
        };
        let shared = p256::ecdh::diffie_hellman(self.0.to_nonzero_scalar(), epk.as_affine());
        let apu = unb64(header["apu"].as_str().unwrap_or(""))?;
        let apv = unb64(header["apv"].as_str().unwrap_or(""))?;
        let cek = concat_kdf(
            shared.raw_secret_bytes(),
            enc.as_bytes(),
            &apu,
            &apv,
            key_len,
        );
        let iv = unb64(iv)?;
        if iv.len() != 12 {
            return Err(bad("the JWE IV must be 96 bits"));
        }
        let mut sealed = unb64(ciphertext)?;
        sealed.extend_from_slice(&unb64(tag)?);
        let payload = Payload {
            msg: &sealed,
            aad: protected.as_bytes(),
        };
        let nonce = aes_gcm::Nonce::from_slice(&iv);
        let plain = if key_len == 16 {
            aes_gcm::Aes128Gcm::new_from_slice(&cek).map(|c| c.decrypt(nonce, payload))
        } else {
            aes_gcm::Aes256Gcm::new_from_slice(&cek).map(|c| c.decrypt(nonce, payload))
        };
        match plain {
            Ok(Ok(p)) => Ok(p),
            _ => Err(bad("the response does not decrypt with this request's key")),
        }
    }
}

/// The Concat KDF of NIST SP 800-56A as JWA §4.6.2 uses it, with SHA-256.
fn concat_kdf(z: &[u8], alg: &[u8], apu: &[u8], apv: &[u8], key_len: usize) -> Vec<u8> {
    let field = |d: &[u8]| {
        let mut v = (d.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(d);
        v
    };
    let mut out = Vec::with_capacity(key_len + 32);
    let mut counter: u32 = 1;
    while out.len() < key_len {
        let mut h = Sha256::new();
        h.update(counter.to_be_bytes());
        h.update(z);
        h.update(field(alg));
        h.update(field(apu));
        h.update(field(apv));
        h.update(((key_len * 8) as u32).to_be_bytes());
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(key_len);
    out
}

/// Encrypts `plain` to `jwk` as a wallet does (ECDH-ES, `enc`): for tests and the
/// sandbox wallet of the documentation.
pub fn encrypt_for_tests(plain: &[u8], jwk: &Value, enc: &str) -> Result<String> {
    let key_len = if enc == "A256GCM" { 32 } else { 16 };
    let recipient = match EcKey::from_jwk(jwk)? {
        EcKey::P256(k) => p256::PublicKey::from(k),
        EcKey::P384(_) => return Err(fail(Reason::Malformed, "P-256 only")),
    };
    let eph = new_p256_secret();
    let header = json!({"alg": "ECDH-ES", "enc": enc, "kid": jwk["kid"],
                        "epk": p256_jwk(&eph.public_key())});
    let protected = b64(header.to_string().as_bytes());
    let shared = p256::ecdh::diffie_hellman(eph.to_nonzero_scalar(), recipient.as_affine());
    let cek = concat_kdf(shared.raw_secret_bytes(), enc.as_bytes(), &[], &[], key_len);
    let iv = random_bytes::<12>();
    let payload = Payload {
        msg: plain,
        aad: protected.as_bytes(),
    };
    let nonce = aes_gcm::Nonce::from_slice(&iv);
    let sealed = if key_len == 16 {
        aes_gcm::Aes128Gcm::new_from_slice(&cek).map(|c| c.encrypt(nonce, payload))
    } else {
        aes_gcm::Aes256Gcm::new_from_slice(&cek).map(|c| c.encrypt(nonce, payload))
    };
    let Ok(Ok(sealed)) = sealed else {
        return Err(fail(Reason::Malformed, "encryption failed"));
    };
    let (ct, tag) = sealed.split_at(sealed.len() - 16);
    Ok(format!(
        "{protected}..{}.{}.{}",
        b64(&iv),
        b64(ct),
        b64(tag)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_es256_jws_verifies_with_its_key_only() {
        let sk = p256::ecdsa::SigningKey::from(new_p256_secret());
        let other = p256::ecdsa::SigningKey::from(new_p256_secret());
        let jws = sign_es256(&json!({"alg": "ES256"}), &json!({"a": 1}), &sk);
        let parsed = Jws::parse(&jws).unwrap_or_else(|e| panic!("{e}"));
        assert!(parsed.verifies_with(&EcKey::P256(*sk.verifying_key())));
        assert!(!parsed.verifies_with(&EcKey::P256(*other.verifying_key())));
        let mut bad = jws.clone();
        bad.replace_range(bad.len() - 4.., "AAAA");
        let parsed = Jws::parse(&bad).unwrap_or_else(|e| panic!("{e}"));
        assert!(!parsed.verifies_with(&EcKey::P256(*sk.verifying_key())));
        assert!(Jws::parse("a.b").is_err());
    }

    #[test]
    fn a_jwe_round_trips_and_a_changed_byte_fails() {
        let key = EncryptionKey::generate();
        let jwk = key.public_jwk("k1");
        for enc in ["A128GCM", "A256GCM"] {
            let jwe = encrypt_for_tests(b"{\"vp_token\":{}}", &jwk, enc)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                key.decrypt(&jwe).unwrap_or_else(|e| panic!("{e}")),
                b"{\"vp_token\":{}}"
            );
            let mut parts: Vec<String> = jwe.split('.').map(str::to_string).collect();
            parts[3] = b64(b"something else!");
            assert!(key.decrypt(&parts.join(".")).is_err());
        }
        let other = EncryptionKey::generate();
        let jwe = encrypt_for_tests(b"x", &jwk, "A128GCM").unwrap_or_else(|e| panic!("{e}"));
        let err = other.decrypt(&jwe).err().map(|e| e.reason);
        assert_eq!(err, Some(Reason::ResponseDecryptFailed));
    }

    /// RFC 7518 Appendix C: the Concat KDF example (ECDH-ES, A128GCM, "Alice", "Bob").
    #[test]
    fn the_concat_kdf_matches_rfc_7518_appendix_c() {
        let z: [u8; 32] = [
            158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49,
            110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196,
        ];
        let cek = concat_kdf(&z, b"A128GCM", b"Alice", b"Bob", 16);
        assert_eq!(b64(&cek), "VqqN6vgjbSBcIijNcacQGg");
    }
}

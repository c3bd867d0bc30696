//! Fuzzes every parser of a digital ID presentation (`vouch-digitalid`): compact JWS,
//! the encrypted `direct_post.jwt` response (JWE), SD-JWT VC presentations, mdoc
//! `DeviceResponse` CBOR, X.509 certificates (DER and PEM bundles) and EC JWKs. Any
//! input is verified or refused with a reason, never a panic; and a presentation that
//! verifies with the fuzzer's bytes is impossible without the test issuer's key, so every
//! result must be a refusal.
//! Input: any bytes, read as text, as base64url and as DER.
//! Run: `scripts/fuzz.sh digital_id [seconds]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use vouch_digitalid::jose::{EcKey, EncryptionKey, Jws};
use vouch_digitalid::x509::Cert;
use vouch_digitalid::{mdoc, sdjwt};

fn anchors() -> &'static [Cert] {
    static A: OnceLock<Vec<Cert>> = OnceLock::new();
    A.get_or_init(|| {
        vouch_digitalid::x509::self_signed_verifier("issuer.example")
            .map(|(c, _)| vec![c])
            .unwrap_or_default()
    })
}

fn key() -> &'static EncryptionKey {
    static K: OnceLock<EncryptionKey> = OnceLock::new();
    K.get_or_init(EncryptionKey::generate)
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let now = 1_800_000_000_000;
    let _ = Jws::parse(&text);
    let _ = key().decrypt(&text);
    let _ = vouch_digitalid::openid4vp::open_response(&text, key(), "state");
    let expect = sdjwt::Expect {
        anchors: anchors(),
        nonce: "n",
        audience: "x509_san_dns:v.example",
        vct_values: &[],
        now,
    };
    assert!(sdjwt::verify(&text, &expect).is_err(), "a forged SD-JWT verified");
    let transcript = mdoc::session_transcript("x509_san_dns:v.example", "n", None, "https://v.example/r");
    let mexpect = mdoc::Expect {
        anchors: anchors(),
        session_transcript: &transcript,
        doc_type: mdoc::MDL_DOCTYPE,
        now,
    };
    assert!(mdoc::verify(&text, &mexpect).is_err(), "a forged mdoc verified");
    let b64 = vouch_digitalid::jose::b64(data);
    assert!(mdoc::verify(&b64, &mexpect).is_err(), "a forged mdoc verified");
    if let Ok(c) = Cert::from_der(data) {
        let _ = (c.subject(), c.alt_names(), c.is_ca(), c.public_key(), c.not_after());
        let _ = vouch_digitalid::x509::path_to_anchor(&[c], anchors(), now);
    }
    let _ = Cert::from_pem_bundle(&text);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = EcKey::from_jwk(&v);
        let _ = mdoc::jwk_thumbprint(&v);
    }
});

//! Token Status List (IETF OAuth Status List): how an issuer revokes or suspends a
//! credential it issued. The credential names an entry, `status.status_list: {idx, uri}`;
//! the list at `uri` is a JWT (`typ: statuslist+jwt`) signed by the issuer, whose
//! `status_list` holds `bits` per credential (1, 2, 4 or 8) in a zlib-compressed byte
//! string `lst`, entry `idx` at bit `idx * bits` counted from the least significant bit
//! of the first byte. 0 is valid, 1 revoked, 2 suspended.
//!
//! This module reads and checks the list; fetching it is the caller's (and only from
//! hosts the operator allows).

use crate::jose::{unb64, Jws};
use crate::x509::{path_to_anchor, Cert};
use crate::{fail, Reason, Result};
use serde_json::Value;
use std::io::Read as _;

/// The credential is valid.
pub const VALID: u8 = 0;
/// The issuer revoked it.
pub const INVALID: u8 = 1;
/// The issuer suspended it.
pub const SUSPENDED: u8 = 2;

/// The largest decompressed list read (64 Mi entries of one bit).
const MAX_LIST_BYTES: u64 = 8 * 1024 * 1024;

/// A credential's entry in a status list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusRef {
    /// Where the list is published.
    pub uri: String,
    /// The credential's index in it.
    pub idx: u64,
}

/// The entry named by a credential's `status` claim, if it names one.
pub fn reference(status: &Value) -> Option<StatusRef> {
    let list = status.get("status_list")?;
    let uri = list.get("uri")?.as_str()?;
    let idx = list.get("idx")?.as_u64()?;
    (uri.starts_with("https://") || uri.starts_with("http://")).then(|| StatusRef {
        uri: uri.to_string(),
        idx,
    })
}

/// A checked status list.
#[derive(Debug, Clone)]
pub struct StatusList {
    bits: u8,
    bytes: Vec<u8>,
    /// When the list stops being usable (`exp`), seconds.
    pub expires_at: Option<i64>,
    /// How long it may be cached (`ttl`), seconds.
    pub ttl: Option<i64>,
    /// The subject of the certificate that signed it.
    pub signer: String,
}

impl StatusList {
    /// The status of entry `idx`; None past the end of the list.
    pub fn get(&self, idx: u64) -> Option<u8> {
        let bits = u64::from(self.bits);
        let at = idx.checked_mul(bits)?;
        let byte = *self.bytes.get(usize::try_from(at / 8).ok()?)?;
        let mask = (1u16 << bits) - 1;
        Some(((u16::from(byte) >> (at % 8)) & mask) as u8)
    }
}

/// Reads a status list token fetched from `uri`: signed by a certificate chained to
/// `anchors` (its `x5c`), for this `uri` (`sub`), not expired at `now` (milliseconds).
pub fn verify(token: &str, uri: &str, anchors: &[Cert], now: i64) -> Result<StatusList> {
    let bad = |why: &str| fail(Reason::StatusListInvalid, format!("status list: {why}"));
    let jws = Jws::parse(token.trim())?;
    if jws.typ() != "statuslist+jwt" {
        return Err(bad("typ is not statuslist+jwt"));
    }
    let x5c = jws.header["x5c"]
        .as_array()
        .ok_or_else(|| bad("no x5c: its signer must chain to the trust list"))?;
    let chain = crate::sdjwt::x5c_chain(x5c)?;
    path_to_anchor(&chain, anchors, now).map_err(|e| bad(&e.to_string()))?;
    if !jws.verifies_with(&chain[0].public_key()?) {
        return Err(bad("the signature does not verify"));
    }
    let p = &jws.payload;
    if p["sub"].as_str() != Some(uri) {
        return Err(bad("it is another list (sub)"));
    }
    let now_s = now / 1000;
    let expires_at = p["exp"].as_i64();
    if expires_at.is_some_and(|e| e < now_s) {
        return Err(bad("it has expired"));
    }
    let list = &p["status_list"];
    let bits = match list["bits"].as_u64() {
        Some(b @ (1 | 2 | 4 | 8)) => b as u8,
        _ => return Err(bad("bits must be 1, 2, 4 or 8")),
    };
    let compressed = unb64(list["lst"].as_str().ok_or_else(|| bad("no lst"))?)?;
    let mut bytes = Vec::new();
    flate2::read::ZlibDecoder::new(compressed.as_slice())
        .take(MAX_LIST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| bad("lst is not zlib data"))?;
    if bytes.len() as u64 > MAX_LIST_BYTES {
        return Err(bad("the list is too large"));
    }
    Ok(StatusList {
        bits,
        bytes,
        expires_at,
        ttl: p["ttl"].as_i64(),
        signer: chain[0].subject(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{b64, sign_es256};
    use base64::Engine as _;
    use serde_json::json;
    use std::io::Write as _;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap_or_else(|e| panic!("{e}"));
        e.finish().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn entries_are_read_from_the_least_significant_bit() {
        // The draft's example: 1 bit per entry, bytes b10111001, b11101111 ... (0xB9, 0xA3).
        let l = StatusList {
            bits: 1,
            bytes: vec![0xB9, 0xA3],
            expires_at: None,
            ttl: None,
            signer: String::new(),
        };
        let got: Vec<u8> = (0..16).map(|i| l.get(i).unwrap_or(9)).collect();
        assert_eq!(got, [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]);
        assert_eq!(l.get(16), None);
        let two = StatusList {
            bits: 2,
            bytes: vec![0xC9],
            ..l
        };
        let got: Vec<u8> = (0..4).map(|i| two.get(i).unwrap_or(9)).collect();
        assert_eq!(got, [1, 2, 0, 3]);
    }

    #[test]
    fn a_list_must_be_signed_by_a_trusted_issuer_for_its_own_uri() {
        let (cert, key) =
            crate::x509::self_signed_verifier("issuer.example").unwrap_or_else(|e| panic!("{e}"));
        let (rogue, rogue_key) =
            crate::x509::self_signed_verifier("rogue.example").unwrap_or_else(|e| panic!("{e}"));
        let uri = "https://issuer.example/lists/1";
        let now = cert.not_before() + 60_000;
        let token = |c: &Cert, k: &p256::ecdsa::SigningKey, sub: &str, typ: &str| {
            let x5c = base64::engine::general_purpose::STANDARD.encode(c.der());
            sign_es256(
                &json!({"alg": "ES256", "typ": typ, "x5c": [x5c]}),
                &json!({"sub": sub, "iat": now / 1000, "exp": now / 1000 + 3600,
                        "status_list": {"bits": 1, "lst": b64(&zlib(&[0b0000_0100]))}}),
                k,
            )
        };
        let anchors = [cert.clone()];
        let l = verify(
            &token(&cert, &key, uri, "statuslist+jwt"),
            uri,
            &anchors,
            now,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((l.get(2), l.get(3)), (Some(INVALID), Some(VALID)));
        for (t, why) in [
            (
                token(&rogue, &rogue_key, uri, "statuslist+jwt"),
                "untrusted",
            ),
            (
                token(
                    &cert,
                    &key,
                    "https://issuer.example/lists/2",
                    "statuslist+jwt",
                ),
                "sub",
            ),
            (token(&cert, &key, uri, "JWT"), "typ"),
        ] {
            let e = verify(&t, uri, &anchors, now).expect_err(why);
            assert_eq!(e.reason, Reason::StatusListInvalid, "{why}: {e}");
        }
        let late = now + 7200 * 1000;
        assert!(verify(
            &token(&cert, &key, uri, "statuslist+jwt"),
            uri,
            &anchors,
            late
        )
        .is_err());
    }

    #[test]
    fn a_credential_names_its_entry() {
        let r = reference(&json!({"status_list": {"idx": 7, "uri": "https://i.example/l"}}));
        assert_eq!(
            r,
            Some(StatusRef {
                uri: "https://i.example/l".into(),
                idx: 7
            })
        );
        assert_eq!(
            reference(&json!({"status_list": {"idx": -1, "uri": "https://x"}})),
            None
        );
        assert_eq!(
            reference(&json!({"status_list": {"idx": 1, "uri": "file:///etc"}})),
            None
        );
    }
}

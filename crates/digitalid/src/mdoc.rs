//! ISO/IEC 18013-5 mdoc presentations (`mso_mdoc`) as OpenID4VP 1.0 carries them: a
//! base64url `DeviceResponse` whose document is signed by its issuer (the `issuerAuth`
//! COSE_Sign1 over the Mobile Security Object, with the document signer certificate in
//! `x5chain`) and by the holder's device (the `deviceSignature` COSE_Sign1 over the
//! session transcript, which binds the answer to this request's client id, nonce,
//! response URI and encryption key: OpenID4VP Appendix B.2.6.1).
//!
//! Checked, each failure with its [`Reason`]: the document type; the document signer
//! chained to the trust list (an IACA root) and its signature over the MSO; the MSO's
//! validity window; the digest of every disclosed element against the MSO's value
//! digests; the device signature with the MSO's device key.

use crate::jose::{sha256_b64, unb64, EcKey};
use crate::x509::{path_to_anchor, Cert};
use crate::{fail, Reason, Result};
use ciborium::Value as Cbor;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The mobile driving licence's document type and namespace.
pub const MDL_DOCTYPE: &str = "org.iso.18013.5.1.mDL";
/// The mDL's data element namespace.
pub const MDL_NAMESPACE: &str = "org.iso.18013.5.1";
/// The doctype of an EU PID in ISO mdoc form (PID rulebook); its namespace has the same
/// name.
pub const PID_DOCTYPE: &str = "eu.europa.ec.eudi.pid.1";

/// What a presentation is checked against.
pub struct Expect<'a> {
    /// Trusted IACA roots (or pinned document signers).
    pub anchors: &'a [Cert],
    /// The CBOR bytes of this request's session transcript ([`session_transcript`]).
    pub session_transcript: &'a [u8],
    /// The expected document type.
    pub doc_type: &'a str,
    /// Now, milliseconds since the epoch.
    pub now: i64,
}

/// A verified mdoc.
#[derive(Debug, Clone)]
pub struct Verified {
    /// Its document type.
    pub doc_type: String,
    /// The document signer certificate's subject.
    pub signer: String,
    /// The trust-list certificate it chains to.
    pub anchor: String,
    /// The disclosed elements of the document type's namespace, as JSON (byte strings
    /// such as the portrait as base64, full-dates as `YYYY-MM-DD`).
    pub claims: Map<String, Value>,
    /// The MSO's `validUntil`, milliseconds.
    pub valid_until: i64,
}

fn bad(what: &str) -> crate::Failure {
    fail(Reason::Malformed, format!("mdoc: {what}"))
}

fn encode(v: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = ciborium::into_writer(v, &mut out);
    out
}

fn decode(bytes: &[u8]) -> Result<Cbor> {
    ciborium::from_reader(bytes).map_err(|_| bad("not CBOR"))
}

fn text(s: &str) -> Cbor {
    Cbor::Text(s.to_string())
}

/// The value of a text key of a CBOR map.
fn get<'a>(m: &'a Cbor, key: &str) -> Option<&'a Cbor> {
    m.as_map()?
        .iter()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
}

/// The value of an integer key (a COSE label).
fn label(m: &Cbor, key: i64) -> Option<&Cbor> {
    m.as_map()?
        .iter()
        .find(|(k, _)| k.as_integer().and_then(|i| i64::try_from(i).ok()) == Some(key))
        .map(|(_, v)| v)
}

/// The bytes inside `#6.24(bstr)`.
fn tagged_bytes(v: &Cbor) -> Option<&[u8]> {
    match v {
        Cbor::Tag(24, inner) => inner.as_bytes().map(Vec::as_slice),
        _ => None,
    }
}

/// The SHA-256 JWK thumbprint (RFC 7638) of an EC public key.
pub fn jwk_thumbprint(jwk: &Value) -> [u8; 32] {
    let canonical = format!(
        r#"{{"crv":{},"kty":{},"x":{},"y":{}}}"#,
        jwk["crv"], jwk["kty"], jwk["x"], jwk["y"]
    );
    Sha256::digest(canonical.as_bytes()).into()
}

/// The CBOR bytes of the session transcript of an OpenID4VP request answered by
/// `direct_post(.jwt)`: `[null, null, ["OpenID4VPHandover", SHA-256(cbor([client_id,
/// nonce, jwk_thumbprint, response_uri]))]]`.
pub fn session_transcript(
    client_id: &str,
    nonce: &str,
    jwk_thumbprint: Option<[u8; 32]>,
    response_uri: &str,
) -> Vec<u8> {
    let info = Cbor::Array(vec![
        text(client_id),
        text(nonce),
        jwk_thumbprint.map_or(Cbor::Null, |t| Cbor::Bytes(t.to_vec())),
        text(response_uri),
    ]);
    let handover = Cbor::Array(vec![
        text("OpenID4VPHandover"),
        Cbor::Bytes(Sha256::digest(encode(&info)).to_vec()),
    ]);
    encode(&Cbor::Array(vec![Cbor::Null, Cbor::Null, handover]))
}

/// The session transcript of a presentation through the browser's Digital Credentials
/// API (OpenID4VP 1.0 B.2.6.2): `[null, null, ["OpenID4VPDCAPIHandover",
/// SHA-256(cbor([origin, nonce, JWK thumbprint of the response key or null]))]]`, the
/// origin being the page's that called the API.
pub fn dc_api_session_transcript(
    origin: &str,
    nonce: &str,
    jwk_thumbprint: Option<[u8; 32]>,
) -> Vec<u8> {
    let info = Cbor::Array(vec![
        text(origin),
        text(nonce),
        jwk_thumbprint.map_or(Cbor::Null, |t| Cbor::Bytes(t.to_vec())),
    ]);
    let handover = Cbor::Array(vec![
        text("OpenID4VPDCAPIHandover"),
        Cbor::Bytes(Sha256::digest(encode(&info)).to_vec()),
    ]);
    encode(&Cbor::Array(vec![Cbor::Null, Cbor::Null, handover]))
}

/// A COSE_Sign1: (protected header bytes, protected map, unprotected map, payload,
/// signature).
struct Sign1 {
    protected: Vec<u8>,
    headers: Cbor,
    unprotected: Cbor,
    payload: Option<Vec<u8>>,
    signature: Vec<u8>,
}

fn sign1(v: &Cbor) -> Result<Sign1> {
    let v = match v {
        Cbor::Tag(18, inner) => inner.as_ref(),
        other => other,
    };
    let parts = v
        .as_array()
        .ok_or_else(|| bad("COSE_Sign1 is not an array"))?;
    let [p, u, payload, sig] = parts.as_slice() else {
        return Err(bad("COSE_Sign1 has four parts"));
    };
    let protected = p
        .as_bytes()
        .cloned()
        .ok_or_else(|| bad("protected header"))?;
    let headers = if protected.is_empty() {
        Cbor::Map(Vec::new())
    } else {
        decode(&protected)?
    };
    Ok(Sign1 {
        protected,
        headers,
        unprotected: u.clone(),
        payload: payload.as_bytes().cloned(),
        signature: sig.as_bytes().cloned().ok_or_else(|| bad("signature"))?,
    })
}

impl Sign1 {
    /// Whether the signature verifies with `key` over `payload` (attached or detached).
    fn verifies(&self, key: &EcKey, payload: &[u8]) -> bool {
        let alg = match label(&self.headers, 1)
            .and_then(Cbor::as_integer)
            .and_then(|i| i64::try_from(i).ok())
        {
            Some(-7) => "ES256",
            Some(-35) => "ES384",
            _ => return false,
        };
        let to_sign = encode(&Cbor::Array(vec![
            text("Signature1"),
            Cbor::Bytes(self.protected.clone()),
            Cbor::Bytes(Vec::new()),
            Cbor::Bytes(payload.to_vec()),
        ]));
        key.verify_jose(alg, &to_sign, &self.signature)
    }

    /// The `x5chain` header (label 33), protected or not: one certificate or several.
    fn x5chain(&self) -> Result<Vec<Cert>> {
        let v = label(&self.headers, 33)
            .or_else(|| label(&self.unprotected, 33))
            .ok_or_else(|| fail(Reason::IssuerUntrusted, "mdoc: no x5chain in issuerAuth"))?;
        match v {
            Cbor::Bytes(der) => Ok(vec![Cert::from_der(der)?]),
            Cbor::Array(items) => items
                .iter()
                .map(|i| Cert::from_der(i.as_bytes().ok_or_else(|| bad("x5chain entry"))?))
                .collect(),
            _ => Err(bad("x5chain")),
        }
    }
}

/// An EC2 COSE_Key (P-256 or P-384) as a verifying key.
fn cose_key(k: &Cbor) -> Result<EcKey> {
    let crv = match label(k, -1)
        .and_then(Cbor::as_integer)
        .and_then(|i| i64::try_from(i).ok())
    {
        Some(1) => "P-256",
        Some(2) => "P-384",
        _ => {
            return Err(fail(
                Reason::KeyBindingInvalid,
                "mdoc: the device key is not EC P-256/P-384",
            ))
        }
    };
    let x = label(k, -2)
        .and_then(Cbor::as_bytes)
        .ok_or_else(|| bad("device key x"))?;
    let y = label(k, -3)
        .and_then(Cbor::as_bytes)
        .ok_or_else(|| bad("device key y"))?;
    let mut point = vec![4u8];
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    EcKey::from_sec1(crv, &point)
}

/// An RFC 3339 date-time (a `tdate`, tag 0) as milliseconds.
fn tdate(v: Option<&Cbor>) -> Result<i64> {
    let s = match v {
        Some(Cbor::Tag(0, inner)) => inner.as_text(),
        Some(Cbor::Text(s)) => Some(s.as_str()),
        _ => None,
    }
    .ok_or_else(|| bad("validity dates"))?;
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| bad("validity date is not RFC 3339"))?;
    Ok(i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
}

/// A CBOR data element value as JSON.
fn to_json(v: &Cbor) -> Value {
    match v {
        Cbor::Integer(i) => i64::try_from(*i).map_or(Value::Null, Value::from),
        Cbor::Bytes(b) => Value::from(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            b,
        )),
        Cbor::Float(f) => Value::from(*f),
        Cbor::Text(s) => Value::from(s.clone()),
        Cbor::Bool(b) => Value::from(*b),
        Cbor::Null => Value::Null,
        // full-date (1004), tdate (0) and others: the tagged value itself.
        Cbor::Tag(_, inner) => to_json(inner),
        Cbor::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Cbor::Map(entries) => Value::Object(
            entries
                .iter()
                .filter_map(|(k, v)| Some((k.as_text()?.to_string(), to_json(v))))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// Verifies a base64url `DeviceResponse` holding one document of `expect.doc_type`.
pub fn verify(device_response: &str, expect: &Expect<'_>) -> Result<Verified> {
    let response = decode(&unb64(device_response)?)?;
    let documents = get(&response, "documents")
        .and_then(Cbor::as_array)
        .ok_or_else(|| bad("no documents"))?;
    let doc = documents
        .iter()
        .find(|d| get(d, "docType").and_then(Cbor::as_text) == Some(expect.doc_type))
        .ok_or_else(|| {
            fail(
                Reason::CredentialTypeNotAccepted,
                format!("no {} document in the response", expect.doc_type),
            )
        })?;
    let issuer_signed = get(doc, "issuerSigned").ok_or_else(|| bad("no issuerSigned"))?;

    // The issuer: its certificate chain and its signature over the MSO.
    let auth = sign1(get(issuer_signed, "issuerAuth").ok_or_else(|| bad("no issuerAuth"))?)?;
    let chain = auth.x5chain()?;
    let anchor = path_to_anchor(&chain, expect.anchors, expect.now)?;
    let signer = &chain[0];
    let payload = auth
        .payload
        .clone()
        .ok_or_else(|| bad("issuerAuth has no payload"))?;
    if !auth.verifies(&signer.public_key()?, &payload) {
        return Err(fail(
            Reason::IssuerSignatureInvalid,
            "the issuer signature over the MSO does not verify",
        ));
    }
    let mso = decode(tagged_bytes(&decode(&payload)?).ok_or_else(|| bad("MSO is not #6.24"))?)?;
    if get(&mso, "docType").and_then(Cbor::as_text) != Some(expect.doc_type) {
        return Err(fail(
            Reason::CredentialTypeNotAccepted,
            "the MSO is for another document type",
        ));
    }
    if get(&mso, "digestAlgorithm").and_then(Cbor::as_text) != Some("SHA-256") {
        return Err(fail(
            Reason::UnsupportedFormat,
            "mdoc digests must be SHA-256",
        ));
    }
    let validity = get(&mso, "validityInfo").ok_or_else(|| bad("no validityInfo"))?;
    let (from, until) = (
        tdate(get(validity, "validFrom"))?,
        tdate(get(validity, "validUntil"))?,
    );
    if expect.now > until {
        return Err(fail(
            Reason::CredentialExpired,
            "the mdoc has expired (validUntil)",
        ));
    }
    if expect.now < from {
        return Err(fail(
            Reason::CredentialNotYetValid,
            "the mdoc is not valid yet (validFrom)",
        ));
    }

    // Every disclosed element against its digest.
    let digests = get(&mso, "valueDigests").ok_or_else(|| bad("no valueDigests"))?;
    let mut claims = Map::new();
    if let Some(namespaces) = get(issuer_signed, "nameSpaces").and_then(Cbor::as_map) {
        for (ns, items) in namespaces {
            let ns = ns.as_text().ok_or_else(|| bad("namespace"))?;
            let ns_digests = get(digests, ns);
            for item in items.as_array().ok_or_else(|| bad("namespace items"))? {
                let bytes = tagged_bytes(item).ok_or_else(|| bad("item is not #6.24"))?;
                let decoded = decode(bytes)?;
                let id = get(&decoded, "digestID")
                    .and_then(Cbor::as_integer)
                    .ok_or_else(|| bad("digestID"))?;
                let expected = ns_digests.and_then(|m| {
                    m.as_map()?
                        .iter()
                        .find(|(k, _)| k.as_integer() == Some(id))
                        .and_then(|(_, v)| v.as_bytes())
                });
                let actual = Sha256::digest(encode(item));
                if expected.map(Vec::as_slice) != Some(actual.as_slice()) {
                    return Err(fail(
                        Reason::DisclosureDigestMismatch,
                        "a disclosed element does not match its digest in the MSO",
                    ));
                }
                let name = get(&decoded, "elementIdentifier")
                    .and_then(Cbor::as_text)
                    .ok_or_else(|| bad("elementIdentifier"))?;
                if ns == MDL_NAMESPACE || ns == expect.doc_type {
                    let value = get(&decoded, "elementValue").ok_or_else(|| bad("elementValue"))?;
                    claims.insert(name.to_string(), to_json(value));
                }
            }
        }
    }

    // The device: its signature over this request's session transcript.
    let device_key = cose_key(
        get(&mso, "deviceKeyInfo")
            .and_then(|d| get(d, "deviceKey"))
            .ok_or_else(|| bad("no deviceKey"))?,
    )?;
    let device_signed = get(doc, "deviceSigned").ok_or_else(|| {
        fail(
            Reason::KeyBindingMissing,
            "mdoc: no deviceSigned: the holder did not sign",
        )
    })?;
    let device_namespaces =
        get(device_signed, "nameSpaces").ok_or_else(|| bad("deviceSigned nameSpaces"))?;
    let device_sig = get(device_signed, "deviceAuth")
        .and_then(|a| get(a, "deviceSignature"))
        .ok_or_else(|| {
            fail(
                Reason::KeyBindingMissing,
                "mdoc: no deviceSignature (deviceMac needs a reader key OpenID4VP does not have)",
            )
        })?;
    let device_sig = sign1(device_sig)?;
    let transcript = decode(expect.session_transcript)?;
    let authentication = Cbor::Array(vec![
        text("DeviceAuthentication"),
        transcript,
        text(expect.doc_type),
        device_namespaces.clone(),
    ]);
    let authentication_bytes = encode(&Cbor::Tag(
        24,
        Box::new(Cbor::Bytes(encode(&authentication))),
    ));
    if !device_sig.verifies(&device_key, &authentication_bytes) {
        return Err(fail(
            Reason::KeyBindingInvalid,
            "the device signature does not verify over this request's session transcript",
        ));
    }
    Ok(Verified {
        doc_type: expect.doc_type.to_string(),
        signer: signer.subject(),
        anchor: anchor.subject(),
        claims,
        valid_until: until,
    })
}

/// A short fingerprint of a response for logs (never its content).
pub fn fingerprint(device_response: &str) -> String {
    sha256_b64(device_response.as_bytes())[..12].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_transcript_is_the_handover_of_appendix_b() {
        let jwk = serde_json::json!({"kty": "EC", "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", "kid": "k", "use": "enc"});
        // RFC 7638's own example is an RSA key; for EC the members are crv, kty, x, y.
        let t = jwk_thumbprint(&jwk);
        let again = jwk_thumbprint(
            &serde_json::json!({"y": jwk["y"], "x": jwk["x"], "kty": "EC", "crv": "P-256"}),
        );
        assert_eq!(t, again, "member order and extra members do not matter");
        let st = session_transcript(
            "x509_san_dns:v.example",
            "n",
            Some(t),
            "https://v.example/r",
        );
        let decoded = decode(&st).unwrap_or(Cbor::Null);
        let parts = decoded.as_array().cloned().unwrap_or_default();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], Cbor::Null);
        let handover = parts[2].as_array().cloned().unwrap_or_default();
        assert_eq!(handover[0], text("OpenID4VPHandover"));
        assert_eq!(handover[1].as_bytes().map(Vec::len), Some(32));
        assert_ne!(
            st,
            session_transcript(
                "x509_san_dns:v.example",
                "other",
                Some(t),
                "https://v.example/r"
            )
        );
    }
}

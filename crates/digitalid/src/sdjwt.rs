//! SD-JWT VC presentations (IETF SD-JWT, RFC 9901, and SD-JWT VC): the issuer's signed
//! JWT, the disclosures the holder chose, and the key-binding JWT that proves the holder
//! made this presentation for this verifier and this request.
//!
//! Checked, in this order, each failure with its [`Reason`]: the issuer JWT (`typ`
//! `dc+sd-jwt`, ES256/ES384) and its `x5c` chain to the operator's trust list; the
//! issuer signature; `iss` named by the signer certificate; the credential type; the
//! validity window (`nbf`, `exp`); every disclosure's digest referenced exactly once by
//! the signed payload; the key-binding JWT (`typ` `kb+jwt`) signed by the `cnf.jwk` the
//! issuer bound, with the request's nonce and audience, issued within the last five
//! minutes, and whose `sd_hash` covers exactly the issuer JWT and these disclosures.

use crate::jose::{sha256_b64, unb64, EcKey, Jws};
use crate::x509::{path_to_anchor, Cert};
use crate::{fail, Reason, Result};
use base64::Engine as _;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// How old a key-binding JWT may be, and how far in the future (clock skew), seconds.
const KB_MAX_AGE_SECS: i64 = 300;
const KB_MAX_SKEW_SECS: i64 = 60;

/// What a presentation is checked against.
pub struct Expect<'a> {
    /// Trusted issuer certificates (roots or pinned signers).
    pub anchors: &'a [Cert],
    /// The request's nonce.
    pub nonce: &'a str,
    /// The verifier's client id, as the key-binding JWT's `aud`.
    pub audience: &'a str,
    /// Accepted `vct` values (empty: any).
    pub vct_values: &'a [&'a str],
    /// Now, milliseconds since the epoch.
    pub now: i64,
}

/// A verified presentation.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The credential type.
    pub vct: String,
    /// The issuer (`iss`).
    pub issuer: String,
    /// The signer certificate's subject.
    pub signer: String,
    /// The trust-list certificate it chains to.
    pub anchor: String,
    /// The disclosed claims (and the always-visible ones), registered claims removed.
    pub claims: Map<String, Value>,
    /// `exp`, milliseconds.
    pub expires_at: Option<i64>,
    /// The credential's status list entry (revocation), when it has one; `has_status`
    /// without a readable reference.
    pub status: Option<crate::status::StatusRef>,
    /// Whether the credential carries a `status` claim at all.
    pub has_status: bool,
}

fn secs(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

/// Verifies a compact SD-JWT VC presentation `issuer-jwt~d1~…~dn~kb-jwt`.
pub fn verify(presentation: &str, expect: &Expect<'_>) -> Result<Verified> {
    let parts: Vec<&str> = presentation.split('~').collect();
    if parts.len() < 2 {
        return Err(fail(Reason::Malformed, "not an SD-JWT (no ~)"));
    }
    let kb = parts[parts.len() - 1];
    let disclosures = &parts[1..parts.len() - 1];
    let issuer_jwt = Jws::parse(parts[0])?;
    if !matches!(issuer_jwt.typ(), "dc+sd-jwt" | "vc+sd-jwt") {
        return Err(fail(
            Reason::UnsupportedFormat,
            format!("typ {:?} is not dc+sd-jwt", issuer_jwt.typ()),
        ));
    }

    // The issuer: its certificate chain, its signature, its name.
    let x5c = issuer_jwt.header["x5c"].as_array().ok_or_else(|| {
        fail(
            Reason::IssuerUntrusted,
            "no x5c: issuer keys are only taken from certificates chained to the trust list",
        )
    })?;
    let chain = x5c_chain(x5c)?;
    let anchor = path_to_anchor(&chain, expect.anchors, expect.now)?;
    let signer = &chain[0];
    if !issuer_jwt.verifies_with(&signer.public_key()?) {
        return Err(fail(
            Reason::IssuerSignatureInvalid,
            "the issuer signature does not verify",
        ));
    }
    let payload = &issuer_jwt.payload;
    let iss = payload["iss"].as_str().unwrap_or("").to_string();
    if !issuer_named_by(&iss, &signer.alt_names()) {
        return Err(fail(
            Reason::IssuerMismatch,
            format!("iss {iss:?} is not a name of the signer certificate"),
        ));
    }

    // The credential: type and validity.
    let vct = payload["vct"].as_str().unwrap_or("").to_string();
    if !expect.vct_values.is_empty() && !expect.vct_values.contains(&vct.as_str()) {
        return Err(fail(
            Reason::CredentialTypeNotAccepted,
            format!("vct {vct:?} is not accepted"),
        ));
    }
    let now_s = expect.now / 1000;
    let expires = secs(&payload["exp"]);
    if expires.is_some_and(|e| e < now_s) {
        return Err(fail(
            Reason::CredentialExpired,
            "the credential has expired",
        ));
    }
    if secs(&payload["nbf"]).is_some_and(|n| n > now_s + KB_MAX_SKEW_SECS) {
        return Err(fail(
            Reason::CredentialNotYetValid,
            "the credential is not valid yet",
        ));
    }
    match payload["_sd_alg"].as_str() {
        None | Some("sha-256") => {}
        Some(other) => {
            return Err(fail(
                Reason::UnsupportedFormat,
                format!("_sd_alg {other} is not supported"),
            ))
        }
    }

    // The disclosures: each digest referenced once by the signed payload.
    let mut by_digest: HashMap<String, Value> = HashMap::new();
    for d in disclosures {
        let decoded: Value = serde_json::from_slice(&unb64(d)?)
            .map_err(|_| fail(Reason::Malformed, "a disclosure is not JSON"))?;
        if !matches!(decoded.as_array().map(Vec::len), Some(2 | 3)) {
            return Err(fail(
                Reason::Malformed,
                "a disclosure is not [salt, (name,) value]",
            ));
        }
        if by_digest
            .insert(sha256_b64(d.as_bytes()), decoded)
            .is_some()
        {
            return Err(fail(
                Reason::DisclosureDuplicate,
                "a disclosure is presented twice",
            ));
        }
    }
    let mut used = 0usize;
    let claims = match resolve(payload, &mut by_digest, &mut used)? {
        Value::Object(m) => m,
        _ => return Err(fail(Reason::Malformed, "the payload is not an object")),
    };
    if !by_digest.is_empty() {
        return Err(fail(
            Reason::DisclosureDigestMismatch,
            format!(
                "{} disclosure(s) match no digest of the signed credential",
                by_digest.len()
            ),
        ));
    }

    // The key binding.
    if kb.is_empty() {
        return Err(fail(
            Reason::KeyBindingMissing,
            "no key-binding JWT: the holder did not sign this presentation",
        ));
    }
    let kb_jwt = Jws::parse(kb)?;
    let holder = EcKey::from_jwk(&payload["cnf"]["jwk"]).map_err(|_| {
        fail(
            Reason::KeyBindingInvalid,
            "the credential binds no holder key (cnf.jwk)",
        )
    })?;
    if kb_jwt.typ() != "kb+jwt" || !kb_jwt.verifies_with(&holder) {
        return Err(fail(
            Reason::KeyBindingInvalid,
            "the key-binding JWT is not signed by the holder key",
        ));
    }
    let kbp = &kb_jwt.payload;
    if kbp["nonce"].as_str() != Some(expect.nonce) {
        return Err(fail(
            Reason::NonceMismatch,
            "the key-binding JWT answers another request (nonce)",
        ));
    }
    if kbp["aud"].as_str() != Some(expect.audience) {
        return Err(fail(
            Reason::AudienceMismatch,
            "the key-binding JWT is for another verifier (aud)",
        ));
    }
    match secs(&kbp["iat"]) {
        Some(iat) if iat >= now_s - KB_MAX_AGE_SECS && iat <= now_s + KB_MAX_SKEW_SECS => {}
        _ => {
            return Err(fail(
                Reason::KeyBindingStale,
                "the key-binding JWT was not made just now (iat)",
            ))
        }
    }
    let presented = &presentation[..presentation.len() - kb.len()];
    if kbp["sd_hash"].as_str() != Some(sha256_b64(presented.as_bytes()).as_str()) {
        return Err(fail(
            Reason::SdHashMismatch,
            "the key-binding JWT signs other disclosures (sd_hash)",
        ));
    }

    let has_status = claims.contains_key("status");
    let status = claims.get("status").and_then(crate::status::reference);
    let mut claims = claims;
    for registered in [
        "iss",
        "sub",
        "iat",
        "nbf",
        "exp",
        "cnf",
        "vct",
        "vct#integrity",
        "status",
        "_sd_alg",
    ] {
        claims.remove(registered);
    }
    Ok(Verified {
        vct,
        issuer: iss,
        signer: signer.subject(),
        anchor: anchor.subject(),
        claims,
        expires_at: expires.map(|e| e * 1000),
        status,
        has_status,
    })
}

/// The certificates of an `x5c` header (standard base64 DER, the signer first).
pub(crate) fn x5c_chain(x5c: &[Value]) -> Result<Vec<Cert>> {
    x5c.iter()
        .map(|c| {
            let der = base64::engine::general_purpose::STANDARD
                .decode(c.as_str().unwrap_or(""))
                .map_err(|_| fail(Reason::Malformed, "x5c is not base64"))?;
            Cert::from_der(&der)
        })
        .collect()
}

/// Whether `iss` is one of the signer certificate's names: an https URL whose host is a
/// dNSName, or a URI entry itself.
fn issuer_named_by(iss: &str, names: &[String]) -> bool {
    if names.iter().any(|n| n == iss) {
        return true;
    }
    let host = iss
        .strip_prefix("https://")
        .map(|rest| rest.split(['/', ':', '?', '#']).next().unwrap_or(""));
    host.is_some_and(|h| !h.is_empty() && names.iter().any(|n| n.eq_ignore_ascii_case(h)))
}

/// The payload with every referenced disclosure put in place of its digest (`_sd`
/// entries of objects, `{"...": digest}` elements of arrays), recursively; a digest
/// with no disclosure is a claim the holder did not disclose.
fn resolve(v: &Value, by_digest: &mut HashMap<String, Value>, used: &mut usize) -> Result<Value> {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                if k != "_sd" {
                    out.insert(k.clone(), resolve(x, by_digest, used)?);
                }
            }
            if let Some(digests) = m.get("_sd") {
                let digests = digests
                    .as_array()
                    .ok_or_else(|| fail(Reason::Malformed, "_sd is not an array"))?;
                for d in digests {
                    let Some(disclosure) = d.as_str().and_then(|d| by_digest.remove(d)) else {
                        continue;
                    };
                    let (Some(name), Some(value)) = (
                        disclosure[1].as_str(),
                        disclosure.as_array().and_then(|a| a.get(2)),
                    ) else {
                        return Err(fail(
                            Reason::Malformed,
                            "an object disclosure has no claim name",
                        ));
                    };
                    if name == "_sd" || name == "..." || out.contains_key(name) {
                        return Err(fail(
                            Reason::Malformed,
                            format!("disclosure {name:?} overwrites a claim"),
                        ));
                    }
                    *used += 1;
                    let value = resolve(value, by_digest, used)?;
                    out.insert(name.to_string(), value);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                match item
                    .as_object()
                    .and_then(|o| (o.len() == 1).then(|| o.get("...")).flatten())
                {
                    Some(d) => {
                        if let Some(disclosure) = d.as_str().and_then(|d| by_digest.remove(d)) {
                            let value = disclosure
                                .as_array()
                                .filter(|a| a.len() == 2)
                                .map(|a| a[1].clone())
                                .ok_or_else(|| {
                                    fail(Reason::Malformed, "an array disclosure has a name")
                                })?;
                            *used += 1;
                            out.push(resolve(&value, by_digest, used)?);
                        }
                    }
                    None => out.push(resolve(item, by_digest, used)?),
                }
            }
            Ok(Value::Array(out))
        }
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{b64, p256_jwk, sign_es256};
    use crate::x509::tests::ca_and_leaf;
    use serde_json::json;

    struct Issued {
        anchors: Vec<Cert>,
        jwt: String,
        disclosures: Vec<(String, String)>,
        holder: p256::ecdsa::SigningKey,
    }

    fn now_ms() -> i64 {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0),
        )
        .unwrap_or(0)
    }

    fn issue(exp_offset: i64) -> Issued {
        let (ca, leaf, key) = ca_and_leaf("Test IACA", "issuer.example", (-1, 365));
        let holder = p256::ecdsa::SigningKey::from(crate::jose::new_p256_secret());
        let mut sd = Vec::new();
        let mut disclosures = Vec::new();
        for (name, value) in [
            ("given_name", json!("Erika")),
            ("family_name", json!("Mustermann")),
            ("age_equal_or_over", json!({"18": true})),
        ] {
            let d = b64(json!(["salt-".to_string() + name, name, value])
                .to_string()
                .as_bytes());
            sd.push(json!(sha256_b64(d.as_bytes())));
            disclosures.push((name.to_string(), d));
        }
        let now = now_ms() / 1000;
        let payload = json!({"iss": "https://issuer.example", "vct": "urn:eudi:pid:1",
            "iat": now, "exp": now + exp_offset, "_sd": sd, "_sd_alg": "sha-256",
            "cnf": {"jwk": p256_jwk(&p256::PublicKey::from(holder.verifying_key()))}});
        let x5c = base64::engine::general_purpose::STANDARD.encode(leaf.der());
        let jwt = sign_es256(
            &json!({"alg": "ES256", "typ": "dc+sd-jwt", "x5c": [x5c]}),
            &payload,
            &key,
        );
        Issued {
            anchors: vec![ca],
            jwt,
            disclosures,
            holder,
        }
    }

    fn present(i: &Issued, names: &[&str], nonce: &str, aud: &str) -> String {
        let mut s = format!("{}~", i.jwt);
        for (n, d) in &i.disclosures {
            if names.contains(&n.as_str()) {
                s.push_str(d);
                s.push('~');
            }
        }
        let kb = sign_es256(
            &json!({"alg": "ES256", "typ": "kb+jwt"}),
            &json!({"nonce": nonce, "aud": aud, "iat": now_ms() / 1000,
                    "sd_hash": sha256_b64(s.as_bytes())}),
            &i.holder,
        );
        s + &kb
    }

    fn expect<'a>(anchors: &'a [Cert]) -> Expect<'a> {
        Expect {
            anchors,
            nonce: "n-1",
            audience: "x509_san_dns:verify.example",
            vct_values: &["urn:eudi:pid:1"],
            now: now_ms(),
        }
    }

    #[test]
    fn a_presentation_discloses_only_what_the_holder_chose() {
        let i = issue(3600);
        let p = present(
            &i,
            &["given_name", "age_equal_or_over"],
            "n-1",
            "x509_san_dns:verify.example",
        );
        let v = verify(&p, &expect(&i.anchors)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.claims.get("given_name"), Some(&json!("Erika")));
        assert_eq!(v.claims["age_equal_or_over"]["18"], true);
        assert!(!v.claims.contains_key("family_name"));
        assert!(!v.claims.contains_key("cnf"));
        assert_eq!(v.vct, "urn:eudi:pid:1");
        assert_eq!(v.issuer, "https://issuer.example");
    }

    #[test]
    fn every_broken_presentation_fails_with_its_reason() {
        let i = issue(3600);
        let aud = "x509_san_dns:verify.example";
        let reason =
            |p: &str, anchors: &[Cert]| verify(p, &expect(anchors)).err().map(|e| e.reason);

        let wrong_nonce = present(&i, &["given_name"], "other", aud);
        assert_eq!(
            reason(&wrong_nonce, &i.anchors),
            Some(Reason::NonceMismatch)
        );
        let wrong_aud = present(&i, &["given_name"], "n-1", "x509_san_dns:evil.example");
        assert_eq!(
            reason(&wrong_aud, &i.anchors),
            Some(Reason::AudienceMismatch)
        );

        let good = present(&i, &["given_name"], "n-1", aud);
        let (rogue, _, _) = ca_and_leaf("Rogue", "issuer.example", (-1, 365));
        assert_eq!(reason(&good, &[rogue]), Some(Reason::IssuerUntrusted));

        // A forged disclosure (same salt and name, another value).
        let forged = b64(json!(["salt-given_name", "given_name", "Mallory"])
            .to_string()
            .as_bytes());
        let tampered = good.replacen(&i.disclosures[0].1, &forged, 1);
        assert_eq!(
            reason(&tampered, &i.anchors),
            Some(Reason::DisclosureDigestMismatch)
        );

        // A disclosure added after the key binding was signed.
        let kb_at = good.rfind('~').unwrap_or(0) + 1;
        let added = format!(
            "{}{}~{}",
            &good[..kb_at],
            i.disclosures[1].1,
            &good[kb_at..]
        );
        assert_eq!(reason(&added, &i.anchors), Some(Reason::SdHashMismatch));

        let no_kb = &good[..kb_at];
        assert_eq!(reason(no_kb, &i.anchors), Some(Reason::KeyBindingMissing));

        // The issuer signature over another payload.
        let mut parts: Vec<&str> = good.splitn(2, '~').collect();
        let jwt: Vec<&str> = parts[0].split('.').collect();
        let other_payload = b64(b"{\"iss\":\"https://issuer.example\",\"vct\":\"urn:eudi:pid:1\"}");
        let resigned = format!("{}.{}.{}", jwt[0], other_payload, jwt[2]);
        parts[0] = &resigned;
        assert_eq!(
            reason(&parts.join("~"), &i.anchors),
            Some(Reason::IssuerSignatureInvalid)
        );

        let expired = issue(-60);
        let p = present(&expired, &["given_name"], "n-1", aud);
        assert_eq!(
            reason(&p, &expired.anchors),
            Some(Reason::CredentialExpired)
        );
    }
}

//! The verifier's side of OpenID for Verifiable Presentations 1.0: the request object a
//! wallet fetches by reference (`request_uri`), with a DCQL query for the claims the
//! relying party configured, and the `direct_post.jwt` response it posts back, encrypted
//! to a key made for this one request.
//!
//! Client identifier prefixes: `x509_san_dns:<host>` (the request object is a JWS signed
//! with the verifier certificate in `x5c`, whose dNSName is the host) and
//! `redirect_uri:<response_uri>` (unsigned request object, `alg: none`, as §5.9.3
//! requires for that prefix).

use crate::jose::{b64, sign_es256, EncryptionKey};
use crate::x509::Cert;
use crate::{fail, Reason, Result};
use base64::Engine as _;
use serde_json::{json, Value};

/// The credential types (`vct`) of a person identification credential accepted in SD-JWT
/// VC form: the EU Digital Identity Wallet's PID.
pub const PID_VCT: [&str; 2] = ["urn:eudi:pid:1", "urn:eu.europa.ec.eudi:pid:1"];

/// The DCQL id of the SD-JWT VC query.
pub const SD_JWT_QUERY_ID: &str = "pid";
/// The DCQL id of the mdoc (mDL) query.
pub const MDOC_QUERY_ID: &str = "mdl";
/// The DCQL id of the query for a PID in ISO mdoc form.
pub const PID_MDOC_QUERY_ID: &str = "pid-mdoc";

/// A claim a relying party may ask for: vouch's name for it and where it sits in an SD-JWT
/// VC PID (EUDI PID rulebook, SD-JWT VC encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimSpec {
    /// vouch's name (the key setting and the session result use it).
    pub name: &'static str,
    /// The claim path in the SD-JWT VC.
    pub sd_jwt_path: &'static [&'static str],
}

/// Every claim vouch can ask a wallet for.
pub const CLAIMS: [ClaimSpec; 8] = [
    ClaimSpec {
        name: "given_name",
        sd_jwt_path: &["given_name"],
    },
    ClaimSpec {
        name: "family_name",
        sd_jwt_path: &["family_name"],
    },
    ClaimSpec {
        name: "birth_date",
        sd_jwt_path: &["birthdate"],
    },
    ClaimSpec {
        name: "age_over_18",
        sd_jwt_path: &["age_equal_or_over", "18"],
    },
    ClaimSpec {
        name: "document_number",
        sd_jwt_path: &["document_number"],
    },
    ClaimSpec {
        name: "issuing_country",
        sd_jwt_path: &["issuing_country"],
    },
    ClaimSpec {
        name: "nationality",
        sd_jwt_path: &["nationalities"],
    },
    ClaimSpec {
        name: "portrait",
        sd_jwt_path: &["picture"],
    },
];

/// The claim of this name.
pub fn claim(name: &str) -> Option<&'static ClaimSpec> {
    CLAIMS.iter().find(|c| c.name == name)
}

/// The DCQL query for `claims`: a PID as SD-JWT VC, a PID as ISO mdoc, or a mobile
/// driving licence as mdoc (any one satisfies it: `credential_sets`), only those claims.
/// The mdoc elements carry vouch's names, which are the element identifiers of both the
/// mDL (`org.iso.18013.5.1`) and the PID rulebook's mdoc encoding
/// (`eu.europa.ec.eudi.pid.1`).
pub fn dcql_query(claims: &[&ClaimSpec]) -> Value {
    let sd_jwt: Vec<Value> = claims
        .iter()
        .map(|c| json!({"id": c.name, "path": c.sd_jwt_path}))
        .collect();
    let mdoc = |namespace: &str| -> Vec<Value> {
        claims
            .iter()
            .map(|c| json!({"id": c.name, "path": [namespace, c.name], "intent_to_retain": false}))
            .collect()
    };
    json!({
        "credentials": [
            {"id": SD_JWT_QUERY_ID, "format": "dc+sd-jwt", "meta": {"vct_values": PID_VCT}, "claims": sd_jwt},
            {"id": PID_MDOC_QUERY_ID, "format": "mso_mdoc", "meta": {"doctype_value": crate::mdoc::PID_DOCTYPE}, "claims": mdoc(crate::mdoc::PID_DOCTYPE)},
            {"id": MDOC_QUERY_ID, "format": "mso_mdoc", "meta": {"doctype_value": crate::mdoc::MDL_DOCTYPE}, "claims": mdoc(crate::mdoc::MDL_NAMESPACE)},
        ],
        "credential_sets": [{"options": [[SD_JWT_QUERY_ID], [PID_MDOC_QUERY_ID], [MDOC_QUERY_ID]]}],
    })
}

/// The value at `path` of a credential's disclosed claims.
pub fn claim_value<'a>(
    claims: &'a serde_json::Map<String, Value>,
    spec: &ClaimSpec,
) -> Option<&'a Value> {
    let (first, rest) = spec.sd_jwt_path.split_first()?;
    let mut v = claims.get(*first)?;
    for key in rest {
        v = v.get(*key)?;
    }
    (!v.is_null()).then_some(v)
}

/// How the verifier identifies itself to wallets.
pub enum ClientId {
    /// `x509_san_dns:<host>`: request objects signed with this certificate and key.
    X509SanDns {
        /// The certificate whose dNSName is the host.
        cert: Box<Cert>,
        /// Its key.
        key: p256::ecdsa::SigningKey,
        /// The host.
        host: String,
    },
    /// `redirect_uri:<response_uri>`: unsigned request objects.
    RedirectUri,
}

/// One presentation request.
pub struct Request<'a> {
    /// The client identifier with its prefix (also the key-binding audience).
    pub client_id: String,
    /// Where the wallet posts the response.
    pub response_uri: &'a str,
    /// Fresh per request.
    pub nonce: &'a str,
    /// Fresh per request; echoed in the response.
    pub state: &'a str,
    /// The claims asked for.
    pub claims: &'a [&'static ClaimSpec],
    /// The response encryption key's public JWK.
    pub encryption_jwk: Value,
    /// Issued at and expiry of the request object, seconds.
    pub iat: i64,
    /// Seconds the request object is valid.
    pub ttl_secs: i64,
    /// For the browser's Digital Credentials API: the origins the page may be on (the
    /// response comes back through the API, `dc_api.jwt`, instead of to
    /// `response_uri`); empty for a wallet that fetches the request by reference.
    pub dc_api_origins: &'a [String],
}

impl ClientId {
    /// The client identifier for a response URI.
    pub fn client_id(&self, response_uri: &str) -> String {
        match self {
            ClientId::X509SanDns { host, .. } => format!("x509_san_dns:{host}"),
            ClientId::RedirectUri => format!("redirect_uri:{response_uri}"),
        }
    }

    /// The request object (a compact JWT) for `req`.
    pub fn request_object(&self, req: &Request<'_>) -> String {
        let mut claims = json!({
            "client_id": req.client_id,
            "response_type": "vp_token",
            "response_mode": "direct_post.jwt",
            "response_uri": req.response_uri,
            "nonce": req.nonce,
            "state": req.state,
            "aud": "https://self-issued.me/v2",
            "iat": req.iat,
            "exp": req.iat + req.ttl_secs,
            "dcql_query": dcql_query(req.claims),
            "client_metadata": {
                "jwks": {"keys": [req.encryption_jwk]},
                "encrypted_response_enc_values_supported": ["A128GCM", "A256GCM"],
                "vp_formats_supported": {
                    "dc+sd-jwt": {"sd-jwt_alg_values": ["ES256", "ES384"], "kb-jwt_alg_values": ["ES256", "ES384"]},
                    "mso_mdoc": {"issuerauth_alg_values": [-7, -35], "deviceauth_alg_values": [-7, -35]},
                },
            },
        });
        if !req.dc_api_origins.is_empty() {
            // OpenID4VP 1.0 Appendix A: no response_uri; the answer returns to the page.
            if let Some(m) = claims.as_object_mut() {
                m.remove("response_uri");
                m.remove("aud");
            }
            claims["response_mode"] = json!("dc_api.jwt");
            claims["expected_origins"] = json!(req.dc_api_origins);
        }
        match self {
            ClientId::X509SanDns { cert, key, .. } => {
                let x5c = base64::engine::general_purpose::STANDARD.encode(cert.der());
                let header = json!({"alg": "ES256", "typ": "oauth-authz-req+jwt", "x5c": [x5c]});
                sign_es256(&header, &claims, key)
            }
            ClientId::RedirectUri => {
                let header = json!({"alg": "none", "typ": "oauth-authz-req+jwt"});
                format!(
                    "{}.{}.",
                    b64(header.to_string().as_bytes()),
                    b64(claims.to_string().as_bytes())
                )
            }
        }
    }
}

/// The link a wallet opens (as a QR code on another device, or on this one):
/// `openid4vp://?client_id=…&request_uri=…`.
pub fn wallet_link(client_id: &str, request_uri: &str) -> String {
    let q: String = url_encode(&[("client_id", client_id), ("request_uri", request_uri)]);
    format!("openid4vp://?{q}")
}

fn url_encode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A presentation in a response: which query it answers and the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presentation {
    /// An SD-JWT VC (`issuer-jwt~disclosures~kb-jwt`).
    SdJwt(String),
    /// An mdoc `DeviceResponse`, base64url, answering the query for this doctype.
    Mdoc(String, &'static str),
}

/// Decrypts a `direct_post.jwt` response and checks its `state`; returns the
/// presentation answering the SD-JWT VC or the mdoc query.
pub fn open_response(jwe: &str, key: &EncryptionKey, state: &str) -> Result<Presentation> {
    let plain = key.decrypt(jwe)?;
    let body: Value = serde_json::from_slice(&plain)
        .map_err(|_| fail(Reason::Malformed, "the response is not JSON"))?;
    if body["state"].as_str() != Some(state) {
        return Err(fail(
            Reason::StateMismatch,
            "the response answers another request (state)",
        ));
    }
    if let Some(err) = body["error"].as_str() {
        return Err(fail(
            Reason::WalletError,
            format!("the wallet answered {err}"),
        ));
    }
    let first = |id: &str| -> Option<String> {
        match &body["vp_token"][id] {
            Value::Array(items) => items.first().and_then(Value::as_str).map(str::to_string),
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    };
    first(SD_JWT_QUERY_ID)
        .map(Presentation::SdJwt)
        .or_else(|| {
            first(PID_MDOC_QUERY_ID).map(|p| Presentation::Mdoc(p, crate::mdoc::PID_DOCTYPE))
        })
        .or_else(|| first(MDOC_QUERY_ID).map(|p| Presentation::Mdoc(p, crate::mdoc::MDL_DOCTYPE)))
        .ok_or_else(|| {
            fail(
                Reason::Malformed,
                "the response answers none of the PID and mDL queries",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{encrypt_for_tests, EcKey, Jws};

    #[test]
    fn the_request_object_asks_only_for_the_configured_claims_and_is_signed() {
        let (cert, key) =
            crate::x509::self_signed_verifier("verify.example").unwrap_or_else(|e| panic!("{e}"));
        let client = ClientId::X509SanDns {
            cert: Box::new(cert),
            key,
            host: "verify.example".into(),
        };
        let enc = EncryptionKey::generate();
        let claims = [claim("age_over_18").unwrap_or(&CLAIMS[0])];
        let uri = "https://verify.example/openid4vp/response/r1";
        let req = Request {
            client_id: client.client_id(uri),
            response_uri: uri,
            nonce: "n",
            state: "s",
            claims: &claims,
            encryption_jwk: enc.public_jwk("k"),
            iat: 1,
            ttl_secs: 600,
            dc_api_origins: &[],
        };
        let jws = Jws::parse(&client.request_object(&req)).unwrap_or_else(|e| panic!("{e}"));
        let ClientId::X509SanDns { cert, .. } = &client else {
            unreachable!()
        };
        assert!(jws.verifies_with(&cert.public_key().unwrap_or_else(|e| panic!("{e}"))));
        assert_eq!(jws.payload["client_id"], "x509_san_dns:verify.example");
        let asked = &jws.payload["dcql_query"]["credentials"][0]["claims"];
        assert_eq!(
            asked,
            &json!([{"id": "age_over_18", "path": ["age_equal_or_over", "18"]}])
        );
        assert!(matches!(
            EcKey::from_jwk(&jws.payload["client_metadata"]["jwks"]["keys"][0]),
            Ok(EcKey::P256(_))
        ));

        let origins = ["https://verify.example".to_string()];
        let dc = client.request_object(&Request {
            dc_api_origins: &origins,
            encryption_jwk: req.encryption_jwk.clone(),
            client_id: req.client_id.clone(),
            ..req
        });
        let unsigned = ClientId::RedirectUri.request_object(&Request {
            client_id: ClientId::RedirectUri.client_id(uri),
            ..req
        });
        assert!(unsigned.ends_with('.'));
        let dc = Jws::parse(&dc).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dc.payload["response_mode"], "dc_api.jwt");
        assert_eq!(
            dc.payload["expected_origins"],
            json!(["https://verify.example"])
        );
        assert!(dc.payload.get("response_uri").is_none());
        let link = wallet_link("x509_san_dns:verify.example", "https://v.example/r?a=1");
        assert_eq!(link, "openid4vp://?client_id=x509_san_dns%3Averify.example&request_uri=https%3A%2F%2Fv.example%2Fr%3Fa%3D1");
    }

    #[test]
    fn a_response_opens_with_its_key_and_state_only() {
        let enc = EncryptionKey::generate();
        let jwk = enc.public_jwk("k");
        let body = json!({"vp_token": {"pid": ["a~b~c"]}, "state": "s1"}).to_string();
        let jwe =
            encrypt_for_tests(body.as_bytes(), &jwk, "A128GCM").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            open_response(&jwe, &enc, "s1").ok(),
            Some(Presentation::SdJwt("a~b~c".into()))
        );
        assert_eq!(
            open_response(&jwe, &enc, "s2").err().map(|e| e.reason),
            Some(Reason::StateMismatch)
        );
        let other = EncryptionKey::generate();
        assert_eq!(
            open_response(&jwe, &other, "s1").err().map(|e| e.reason),
            Some(Reason::ResponseDecryptFailed)
        );
    }
}

//! X.509 for credential issuers: certificates from PEM bundles (the operator's trust
//! list: IACA roots of mDL issuers, PID and other credential issuers' CAs) and the path
//! from an `x5c` chain to one of them (RFC 5280 §6 in the subset issuers use: ECDSA
//! P-256/P-384 signatures, names chained issuer to subject, validity at the time of
//! verification, basicConstraints `cA` on every certificate that signs another). The
//! verifier's own certificate for `x509_san_dns` request objects is made here too.

use crate::jose::EcKey;
use crate::{fail, Reason, Result};
use der::{Decode as _, Encode as _};
use sha2::{Digest, Sha256};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, SubjectAltName};
use x509_cert::spki::ObjectIdentifier;
use x509_cert::Certificate;

const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");

/// Longest chain walked from a leaf to an anchor.
const MAX_DEPTH: usize = 5;

/// A parsed certificate with its DER.
#[derive(Clone, Debug)]
pub struct Cert {
    der: Vec<u8>,
    cert: Certificate,
}

impl Cert {
    /// From DER.
    pub fn from_der(der: &[u8]) -> Result<Cert> {
        let cert = Certificate::from_der(der).map_err(|e| {
            fail(
                Reason::IssuerCertificateInvalid,
                format!("bad certificate: {e}"),
            )
        })?;
        Ok(Cert {
            der: der.to_vec(),
            cert,
        })
    }

    /// Every certificate of a PEM bundle (at least one).
    pub fn from_pem_bundle(pem: &str) -> Result<Vec<Cert>> {
        let certs = Certificate::load_pem_chain(pem.as_bytes()).map_err(|e| {
            fail(
                Reason::Malformed,
                format!("not a PEM certificate bundle: {e}"),
            )
        })?;
        if certs.is_empty() {
            return Err(fail(Reason::Malformed, "no certificate in the PEM bundle"));
        }
        certs
            .into_iter()
            .map(|cert| {
                let der = cert
                    .to_der()
                    .map_err(|e| fail(Reason::Malformed, e.to_string()))?;
                Ok(Cert { der, cert })
            })
            .collect()
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as PEM.
    pub fn to_pem(&self) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&self.der);
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    /// SHA-256 of the DER, hex.
    pub fn fingerprint(&self) -> String {
        Sha256::digest(&self.der)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The subject as an RFC 4514 string.
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }

    /// The issuer as an RFC 4514 string.
    pub fn issuer(&self) -> String {
        self.cert.tbs_certificate().issuer().to_string()
    }

    /// notBefore, milliseconds since the epoch.
    pub fn not_before(&self) -> i64 {
        millis(self.cert.tbs_certificate().validity().not_before)
    }

    /// notAfter, milliseconds since the epoch.
    pub fn not_after(&self) -> i64 {
        millis(self.cert.tbs_certificate().validity().not_after)
    }

    /// Whether `now` is inside the validity period.
    pub fn valid_at(&self, now: i64) -> bool {
        self.not_before() <= now && now <= self.not_after()
    }

    /// Whether basicConstraints says this is a CA.
    pub fn is_ca(&self) -> bool {
        matches!(
            self.cert
                .tbs_certificate()
                .get_extension::<BasicConstraints>(),
            Ok(Some((_, BasicConstraints { ca: true, .. })))
        )
    }

    /// The subjectAltName dNSName and URI entries.
    pub fn alt_names(&self) -> Vec<String> {
        let Ok(Some((_, san))) = self
            .cert
            .tbs_certificate()
            .get_extension::<SubjectAltName>()
        else {
            return Vec::new();
        };
        san.0
            .iter()
            .filter_map(|n| match n {
                GeneralName::DnsName(s) | GeneralName::UniformResourceIdentifier(s) => {
                    Some(s.to_string())
                }
                _ => None,
            })
            .collect()
    }

    /// The subject public key (EC P-256 or P-384).
    pub fn public_key(&self) -> Result<EcKey> {
        let spki = self.cert.tbs_certificate().subject_public_key_info();
        let bad = || {
            fail(
                Reason::IssuerCertificateInvalid,
                "the certificate's key is not EC P-256 or P-384",
            )
        };
        if spki.algorithm.oid != EC_PUBLIC_KEY {
            return Err(bad());
        }
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
            .ok_or_else(bad)?;
        let name = match curve {
            c if c == P256 => "P-256",
            c if c == P384 => "P-384",
            _ => return Err(bad()),
        };
        EcKey::from_sec1(name, spki.subject_public_key.raw_bytes())
    }

    /// Whether `issuer` signed this certificate (names chain and the ECDSA signature
    /// verifies with the issuer's key).
    pub fn signed_by(&self, issuer: &Cert) -> bool {
        let tbs = self.cert.tbs_certificate();
        if tbs.issuer() != issuer.cert.tbs_certificate().subject() {
            return false;
        }
        let hash = match self.cert.signature_algorithm().oid {
            o if o == ECDSA_SHA256 => "sha256",
            o if o == ECDSA_SHA384 => "sha384",
            _ => return false,
        };
        let Ok(tbs_der) = tbs.to_der() else {
            return false;
        };
        let Some(sig) = self.cert.signature().as_bytes() else {
            return false;
        };
        issuer
            .public_key()
            .is_ok_and(|k| k.verify_der(hash, &tbs_der, sig))
    }
}

fn millis(t: x509_cert::time::Time) -> i64 {
    i64::try_from(t.to_unix_duration().as_millis()).unwrap_or(i64::MAX)
}

/// Finds the path from `chain[0]` (the signer) through the other certificates of
/// `chain` to one of `anchors`, every certificate valid at `now`; returns the anchor.
/// A signer that is itself an anchor is trusted as such (a pinned issuer key).
pub fn path_to_anchor<'a>(chain: &[Cert], anchors: &'a [Cert], now: i64) -> Result<&'a Cert> {
    let leaf = chain
        .first()
        .ok_or_else(|| fail(Reason::IssuerUntrusted, "no certificate (x5c) to chain"))?;
    if let Some(a) = anchors.iter().find(|a| a.der == leaf.der) {
        return if a.valid_at(now) {
            Ok(a)
        } else {
            Err(fail(
                Reason::IssuerCertificateInvalid,
                "the issuer certificate is outside its validity period",
            ))
        };
    }
    let mut current = leaf;
    for _ in 0..MAX_DEPTH {
        if !current.valid_at(now) {
            return Err(fail(
                Reason::IssuerCertificateInvalid,
                format!("{} is outside its validity period", current.subject()),
            ));
        }
        if let Some(anchor) = anchors.iter().find(|a| a.is_ca() && current.signed_by(a)) {
            return if anchor.valid_at(now) {
                Ok(anchor)
            } else {
                Err(fail(
                    Reason::IssuerCertificateInvalid,
                    format!("the trusted root {} has expired", anchor.subject()),
                ))
            };
        }
        match chain[1..]
            .iter()
            .find(|c| c.is_ca() && c.der != current.der && current.signed_by(c))
        {
            Some(next) => current = next,
            None => break,
        }
    }
    Err(fail(
        Reason::IssuerUntrusted,
        format!(
            "{} does not chain to a certificate of the trust list",
            leaf.subject()
        ),
    ))
}

/// The verifier's configured certificate (the first of a PEM bundle) and its P-256
/// private key (PKCS#8 PEM).
pub fn load_signer(cert_pem: &str, key_pem: &str) -> Result<(Cert, p256::ecdsa::SigningKey)> {
    use p256::pkcs8::DecodePrivateKey as _;
    let cert = Cert::from_pem_bundle(cert_pem)?
        .into_iter()
        .next()
        .ok_or_else(|| fail(Reason::Malformed, "no certificate"))?;
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(key_pem).map_err(|e| {
        fail(
            Reason::Malformed,
            format!("the key is not a P-256 PKCS#8 PEM: {e}"),
        )
    })?;
    match cert.public_key()? {
        EcKey::P256(k) if &k == key.verifying_key() => Ok((cert, key)),
        _ => Err(fail(
            Reason::Malformed,
            "the key does not belong to the certificate",
        )),
    }
}

/// The verifier's signing certificate and key for request objects: a self-signed P-256
/// certificate whose subjectAltName is `host` (the `x509_san_dns` client id), valid a year.
pub fn self_signed_verifier(host: &str) -> Result<(Cert, p256::ecdsa::SigningKey)> {
    use p256::pkcs8::DecodePrivateKey as _;
    let err = |e: rcgen::Error| fail(Reason::Malformed, format!("cannot make a certificate: {e}"));
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(err)?;
    let mut params = rcgen::CertificateParams::new(vec![host.to_string()]).map_err(err)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, format!("vouch verifier {host}"));
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(365);
    let cert = params.self_signed(&key).map_err(err)?;
    let signing = p256::ecdsa::SigningKey::from_pkcs8_der(&key.serialize_der())
        .map_err(|e| fail(Reason::Malformed, format!("verifier key: {e}")))?;
    Ok((Cert::from_der(cert.der())?, signing))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A CA and a leaf it signed, made with rcgen: (ca, leaf, leaf key).
    pub(crate) fn ca_and_leaf(
        ca_name: &str,
        leaf_dns: &str,
        leaf_days: (i64, i64),
    ) -> (Cert, Cert, p256::ecdsa::SigningKey) {
        use p256::pkcs8::DecodePrivateKey as _;
        let day = |d: i64| time::OffsetDateTime::now_utc() + time::Duration::days(d);
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut ca =
            rcgen::CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| panic!("{e}"));
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.not_before = day(-1);
        ca.not_after = day(3650);
        let ca_cert = ca.self_signed(&ca_key).unwrap_or_else(|e| panic!("{e}"));
        let leaf_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut leaf = rcgen::CertificateParams::new(vec![leaf_dns.to_string()])
            .unwrap_or_else(|e| panic!("{e}"));
        leaf.distinguished_name
            .push(rcgen::DnType::CommonName, format!("{ca_name} signer"));
        leaf.not_before = day(leaf_days.0);
        leaf.not_after = day(leaf_days.1);
        let leaf_cert = leaf
            .signed_by(&leaf_key, &ca_cert, &ca_key)
            .unwrap_or_else(|e| panic!("{e}"));
        let sk = p256::ecdsa::SigningKey::from_pkcs8_der(&leaf_key.serialize_der())
            .unwrap_or_else(|e| panic!("{e}"));
        (
            Cert::from_der(ca_cert.der()).unwrap_or_else(|e| panic!("{e}")),
            Cert::from_der(leaf_cert.der()).unwrap_or_else(|e| panic!("{e}")),
            sk,
        )
    }

    fn now() -> i64 {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0),
        )
        .unwrap_or(0)
    }

    #[test]
    fn a_leaf_chains_to_its_ca_and_not_to_another() {
        let (ca, leaf, _) = ca_and_leaf("Test IACA", "issuer.example", (-1, 365));
        let (rogue, _, _) = ca_and_leaf("Rogue IACA", "issuer.example", (-1, 365));
        assert!(ca.is_ca() && !leaf.is_ca());
        assert_eq!(leaf.alt_names(), ["issuer.example"]);
        let anchors = [ca.clone()];
        let found = path_to_anchor(std::slice::from_ref(&leaf), &anchors, now())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.fingerprint(), ca.fingerprint());
        let err = path_to_anchor(std::slice::from_ref(&leaf), &[rogue], now()).err();
        assert_eq!(err.map(|e| e.reason), Some(Reason::IssuerUntrusted));
        let pem = format!("{}{}", ca.to_pem(), leaf.to_pem());
        let bundle = Cert::from_pem_bundle(&pem).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bundle.len(), 2);
        assert_eq!(bundle[1].der(), leaf.der());
    }

    #[test]
    fn an_expired_signer_is_refused() {
        let (ca, leaf, _) = ca_and_leaf("Test IACA", "issuer.example", (-30, -1));
        let err = path_to_anchor(&[leaf], &[ca], now()).err();
        assert_eq!(
            err.map(|e| e.reason),
            Some(Reason::IssuerCertificateInvalid)
        );
    }

    #[test]
    fn the_verifier_certificate_names_its_host() {
        let (cert, key) = self_signed_verifier("verify.example").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cert.alt_names(), ["verify.example"]);
        match cert.public_key() {
            Ok(EcKey::P256(k)) => assert_eq!(&k, key.verifying_key()),
            _ => panic!("a P-256 key"),
        }
    }
}

//! An organisation's trust list of digital ID issuers (IACA roots of mobile driving
//! licences, PID providers' CAs, or a pinned signer certificate): add from PEM, list with
//! expiry warnings, remove. One use case for `vouch trust` and the console's trust-list
//! page. Nothing is fetched: the operator brings the certificates.

use async_trait::async_trait;
use std::sync::Arc;
use vouch_core::ids::OrgId;
use vouch_core::model::AuditRecord;
use vouch_core::{Error, Millis, Result};
use vouch_digitalid::x509::Cert;
use vouch_store::digital_id::{NewTrustAnchor, TrustAnchor};

/// A certificate expiring within this many days is warned about.
pub const EXPIRY_WARNING_DAYS: i64 = 30;
const DAY_MS: i64 = 24 * 3600 * 1000;
/// The most PEM text one add takes (a bundle of many certificates).
pub const MAX_BUNDLE_BYTES: usize = 512 * 1024;

/// Where trust anchors are kept.
#[async_trait]
pub trait TrustStore: Send + Sync {
    /// Adds one (a duplicate fingerprint is a conflict).
    async fn add_anchor(
        &self,
        org: &OrgId,
        new: &NewTrustAnchor<'_>,
        audit: AuditRecord,
    ) -> Result<TrustAnchor>;
    /// The organisation's list, oldest first.
    async fn anchors(&self, org: &OrgId) -> Result<Vec<TrustAnchor>>;
    /// Removes one of the organisation's.
    async fn remove_anchor(&self, org: &OrgId, id: &str, audit: AuditRecord) -> Result<()>;
}

#[async_trait]
impl TrustStore for vouch_store::Store {
    async fn add_anchor(
        &self,
        org: &OrgId,
        new: &NewTrustAnchor<'_>,
        audit: AuditRecord,
    ) -> Result<TrustAnchor> {
        self.add_trust_anchor(org, new, audit).await
    }

    async fn anchors(&self, org: &OrgId) -> Result<Vec<TrustAnchor>> {
        self.list_trust_anchors(org).await
    }

    async fn remove_anchor(&self, org: &OrgId, id: &str, audit: AuditRecord) -> Result<()> {
        self.remove_trust_anchor(org, id, audit).await
    }
}

/// A trust-list entry with what an operator should know about it.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The entry.
    pub anchor: TrustAnchor,
    /// Whole days until it expires (negative once expired).
    pub expires_in_days: i64,
    /// Expired or expiring soon.
    pub warning: Option<String>,
}

/// A certificate just added.
#[derive(Debug, Clone)]
pub struct Added {
    /// The entry.
    pub anchor: TrustAnchor,
    /// A CA certificate (otherwise it is trusted as a pinned signer).
    pub ca: bool,
    /// Expired or expiring soon.
    pub warning: Option<String>,
}

/// A warning for a certificate expired or expiring soon, if it is.
pub fn expiry_warning(subject: &str, not_after: Millis, now: Millis) -> Option<String> {
    let days = (not_after - now).div_euclid(DAY_MS);
    if not_after < now {
        Some(format!(
            "{subject} has expired: presentations it signed are refused"
        ))
    } else if days < EXPIRY_WARNING_DAYS {
        Some(format!(
            "{subject} expires in {days} days: add its successor"
        ))
    } else {
        None
    }
}

/// The trust-list use case.
#[derive(Clone)]
pub struct TrustList {
    store: Arc<dyn TrustStore>,
}

impl TrustList {
    /// Over a store.
    pub fn new(store: Arc<dyn TrustStore>) -> TrustList {
        TrustList { store }
    }

    /// Adds every certificate of a PEM text (one certificate or a bundle) under `label`.
    /// Every certificate is read and checked first: one that is not a certificate or
    /// whose key vouch cannot verify with refuses the whole text, and nothing is added.
    /// `audit` is the record each addition writes (`trust_anchor.added`).
    pub async fn add_pem(
        &self,
        org: &OrgId,
        label: &str,
        pem: &str,
        audit: impl Fn() -> AuditRecord,
        now: Millis,
    ) -> Result<Vec<Added>> {
        if pem.len() > MAX_BUNDLE_BYTES {
            return Err(Error::Invalid(format!(
                "the PEM text is over {} KiB",
                MAX_BUNDLE_BYTES / 1024
            )));
        }
        let certs = Cert::from_pem_bundle(pem).map_err(|e| Error::Invalid(e.to_string()))?;
        for cert in &certs {
            cert.public_key()
                .map_err(|e| Error::Invalid(format!("{}: {e}", cert.subject())))?;
        }
        let mut added = Vec::with_capacity(certs.len());
        for cert in certs {
            let anchor = self
                .store
                .add_anchor(
                    org,
                    &NewTrustAnchor {
                        name: label,
                        subject: &cert.subject(),
                        fingerprint: &cert.fingerprint(),
                        pem: &cert.to_pem(),
                        not_after: cert.not_after(),
                    },
                    audit(),
                )
                .await?;
            added.push(Added {
                warning: expiry_warning(&anchor.subject, anchor.not_after, now),
                ca: cert.is_ca(),
                anchor,
            });
        }
        Ok(added)
    }

    /// The organisation's trust list, with each entry's expiry.
    pub async fn list(&self, org: &OrgId, now: Millis) -> Result<Vec<Listed>> {
        Ok(self
            .store
            .anchors(org)
            .await?
            .into_iter()
            .map(|anchor| Listed {
                expires_in_days: (anchor.not_after - now).div_euclid(DAY_MS),
                warning: expiry_warning(&anchor.subject, anchor.not_after, now),
                anchor,
            })
            .collect())
    }

    /// The organisation's trust list as certificates, to verify a presentation with,
    /// and the entries that could not be read (id, why): each was checked when added,
    /// so one that fails now is worth a warning, not a refusal.
    pub async fn certificates(&self, org: &OrgId) -> Result<(Vec<Cert>, Vec<(String, String)>)> {
        let mut certs = Vec::new();
        let mut unreadable = Vec::new();
        for anchor in self.store.anchors(org).await? {
            match Cert::from_pem_bundle(&anchor.pem) {
                Ok(c) => certs.extend(c),
                Err(e) => unreadable.push((anchor.id, e.to_string())),
            }
        }
        Ok((certs, unreadable))
    }

    /// Removes an entry of the organisation's list (another organisation's is not found).
    pub async fn remove(&self, org: &OrgId, id: &str, audit: AuditRecord) -> Result<()> {
        if id.is_empty() || id.len() > 64 {
            return Err(Error::NotFound("trust anchor"));
        }
        self.store.remove_anchor(org, id, audit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use vouch_core::model::Actor;

    #[derive(Default)]
    struct Fake(Mutex<Vec<TrustAnchor>>);

    #[async_trait]
    impl TrustStore for Fake {
        async fn add_anchor(
            &self,
            org: &OrgId,
            new: &NewTrustAnchor<'_>,
            _audit: AuditRecord,
        ) -> Result<TrustAnchor> {
            let mut list = self.0.lock().map_err(|_| Error::Internal("lock".into()))?;
            if list
                .iter()
                .any(|a| &a.org_id == org && a.fingerprint == new.fingerprint)
            {
                return Err(Error::Conflict("already there".into()));
            }
            let a = TrustAnchor {
                id: format!("ta_{}", list.len()),
                org_id: org.clone(),
                name: new.name.into(),
                subject: new.subject.into(),
                fingerprint: new.fingerprint.into(),
                pem: new.pem.into(),
                not_after: new.not_after,
                created_at: 0,
            };
            list.push(a.clone());
            Ok(a)
        }

        async fn anchors(&self, org: &OrgId) -> Result<Vec<TrustAnchor>> {
            let list = self.0.lock().map_err(|_| Error::Internal("lock".into()))?;
            Ok(list.iter().filter(|a| &a.org_id == org).cloned().collect())
        }

        async fn remove_anchor(&self, org: &OrgId, id: &str, _audit: AuditRecord) -> Result<()> {
            let mut list = self.0.lock().map_err(|_| Error::Internal("lock".into()))?;
            let before = list.len();
            list.retain(|a| !(&a.org_id == org && a.id == id));
            if list.len() == before {
                return Err(Error::NotFound("trust anchor"));
            }
            Ok(())
        }
    }

    fn audit() -> AuditRecord {
        AuditRecord::new(None, Actor::System, "trust_anchor.added")
    }

    #[test]
    fn expiry_warnings_start_thirty_days_ahead() {
        let now = 1_000 * DAY_MS;
        assert!(expiry_warning("CN=a", now + 31 * DAY_MS, now).is_none());
        assert!(expiry_warning("CN=a", now + 29 * DAY_MS, now)
            .is_some_and(|w| w.contains("expires in 29 days")));
        assert!(expiry_warning("CN=a", now - 1, now).is_some_and(|w| w.contains("expired")));
    }

    #[tokio::test]
    async fn a_bundle_is_added_whole_or_not_at_all_and_lists_are_per_organisation() {
        let store = Arc::new(Fake::default());
        let trust = TrustList::new(store.clone());
        let (a, _) = vouch_digitalid::x509::self_signed_verifier("a.example").expect("cert");
        let (b, _) = vouch_digitalid::x509::self_signed_verifier("b.example").expect("cert");
        let org = OrgId::from_string("org_a".to_string());
        let other = OrgId::from_string("org_b".to_string());
        let now = a.not_before();
        // Garbage after a good certificate: nothing is added.
        let bad = format!(
            "{}\n-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
            a.to_pem()
        );
        assert!(trust.add_pem(&org, "bad", &bad, audit, now).await.is_err());
        assert!(trust.list(&org, now).await.expect("list").is_empty());
        assert!(trust
            .add_pem(&org, "empty", "no certificate here", audit, now)
            .await
            .is_err());

        let bundle = format!("{}{}", a.to_pem(), b.to_pem());
        let added = trust
            .add_pem(&org, "issuers", &bundle, audit, now)
            .await
            .expect("added");
        assert_eq!(added.len(), 2);
        assert!(added.iter().all(|x| x.anchor.name == "issuers"));
        let again = trust.add_pem(&org, "again", &a.to_pem(), audit, now).await;
        assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
        assert!(trust.list(&other, now).await.expect("list").is_empty());
        let listed = trust.list(&org, now).await.expect("list");
        assert_eq!(listed.len(), 2);
        assert!(listed.iter().all(|l| l.expires_in_days >= 0));

        let id = listed[0].anchor.id.clone();
        let removed = trust.remove(&other, &id, audit()).await;
        assert!(
            matches!(removed, Err(Error::NotFound(_))),
            "another organisation's"
        );
        trust.remove(&org, &id, audit()).await.expect("removed");
        assert_eq!(trust.list(&org, now).await.expect("list").len(), 1);
    }
}

//! Phone identity use cases: the flows' lookups (by correlation id, client request id,
//! Instant Link, or the SDK's state), the identity manager (list, read, find by number or
//! customer, activate, delete) and its change monitoring (SIM swaps and number changes
//! reported by the network), for the phone API, its SDKs and the Ory hooks.
//!
//! The flow's steps themselves (start, validate, challenge, complete, the possession
//! checks and the KYC match) are still in `vouch-server`'s `phone.rs`, over the same
//! store; `docs/architecture.md` says where the move stands.

use async_trait::async_trait;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::Notify;
use vouch_core::ids::OrgId;
use vouch_core::model::AuditRecord;
use vouch_core::Result;
use vouch_store::ory::OryConfig;
use vouch_store::phone::{PhoneFlow, PhoneIdentity};

/// Storage of phone flows, identities and the Ory integration.
#[async_trait]
pub trait PhoneStore: Send + Sync {
    /// The keyed digest a number is found by (no number in an index).
    fn phone_index(&self, e164: &str) -> String;
    /// A keyed digest of `value` for `purpose` (the deployment's index key).
    fn blind_index(&self, purpose: &str, value: &str) -> String;
    /// Creates a flow (group-committed with others).
    async fn create_phone_flow(&self, flow: &PhoneFlow) -> Result<()>;
    /// Saves a flow, compare-and-set on its version (`Conflict` when it changed
    /// meanwhile); the version is advanced.
    async fn save_phone_flow(&self, flow: &mut PhoneFlow) -> Result<()>;
    /// Creates an identity.
    async fn create_phone_identity(&self, identity: &PhoneIdentity) -> Result<()>;
    /// Monitors an identity again (a re-enrolment after a change).
    async fn resume_phone_monitoring(&self, org: &OrgId, id: &str) -> Result<()>;
    /// Records the network's change subscription of an identity.
    async fn set_phone_subscription(&self, org: &OrgId, id: &str, subscription: &str)
        -> Result<()>;
    /// A flow of the org.
    async fn phone_flow(&self, org: &OrgId, id: &str) -> Result<PhoneFlow>;
    /// The org's latest flow with a client request id.
    async fn phone_flow_by_request(&self, org: &OrgId, request_id: &str) -> Result<PhoneFlow>;
    /// A flow by id in any org (the SDK's state names it; the token is checked after).
    async fn phone_flow_any_org(&self, id: &str) -> Result<PhoneFlow>;
    /// The flow of an Instant Link's digest.
    async fn phone_flow_by_link(&self, link_hash: &str) -> Result<PhoneFlow>;
    /// An identity of the org.
    async fn phone_identity(&self, org: &OrgId, id: &str) -> Result<PhoneIdentity>;
    /// The org's identities of a number.
    async fn phone_identities_by_number(
        &self,
        org: &OrgId,
        e164: &str,
    ) -> Result<Vec<PhoneIdentity>>;
    /// The org's identities of a customer id, newest first.
    async fn phone_identities_by_customer(
        &self,
        org: &OrgId,
        customer: &str,
    ) -> Result<Vec<PhoneIdentity>>;
    /// A page of the org's identities after `start_key`.
    async fn list_phone_identities(
        &self,
        org: &OrgId,
        start_key: Option<&str>,
        show_inactive: bool,
        limit: i64,
    ) -> Result<Vec<PhoneIdentity>>;
    /// Activates or deactivates an identity.
    async fn set_phone_identity_active(&self, org: &OrgId, id: &str, active: bool) -> Result<()>;
    /// Deletes an identity.
    async fn delete_phone_identity(&self, org: &OrgId, id: &str) -> Result<()>;
    /// Active, monitored identities of a number (every org: the network reports numbers).
    async fn monitored_identities(&self, e164: &str) -> Result<Vec<PhoneIdentity>>;
    /// Active, monitored identities of a network subscription.
    async fn identities_by_subscription(&self, subscription: &str) -> Result<Vec<PhoneIdentity>>;
    /// Records a change notice for a monitored identity (its webhook event with it) and
    /// stops monitoring it; false when it was no longer monitored.
    async fn record_phone_change(
        &self,
        org: &OrgId,
        identity: &str,
        body: &Value,
        audit: AuditRecord,
    ) -> Result<bool>;
    /// The Ory integration a webhook secret belongs to.
    async fn ory_config_by_secret(&self, secret: &str) -> Result<Option<OryConfig>>;
    /// Queues a PATCH of a Kratos identity (delivered with retries by the worker).
    async fn enqueue_kratos_patch(
        &self,
        config: &OryConfig,
        kratos_identity: &str,
        body: &Value,
        audit: AuditRecord,
    ) -> Result<()>;
}

#[async_trait]
impl PhoneStore for vouch_store::Store {
    fn phone_index(&self, e164: &str) -> String {
        vouch_store::Store::phone_index(self, e164)
    }

    fn blind_index(&self, purpose: &str, value: &str) -> String {
        vouch_store::Store::blind_index(self, purpose, value)
    }

    async fn create_phone_flow(&self, flow: &PhoneFlow) -> Result<()> {
        vouch_store::Store::create_phone_flow(self, flow).await
    }

    async fn save_phone_flow(&self, flow: &mut PhoneFlow) -> Result<()> {
        vouch_store::Store::save_phone_flow(self, flow).await
    }

    async fn create_phone_identity(&self, identity: &PhoneIdentity) -> Result<()> {
        vouch_store::Store::create_phone_identity(self, identity).await
    }

    async fn resume_phone_monitoring(&self, org: &OrgId, id: &str) -> Result<()> {
        vouch_store::Store::resume_phone_monitoring(self, org, id).await
    }

    async fn set_phone_subscription(
        &self,
        org: &OrgId,
        id: &str,
        subscription: &str,
    ) -> Result<()> {
        vouch_store::Store::set_phone_subscription(self, org, id, subscription).await
    }

    async fn phone_flow(&self, org: &OrgId, id: &str) -> Result<PhoneFlow> {
        vouch_store::Store::phone_flow(self, org, id).await
    }

    async fn phone_flow_by_request(&self, org: &OrgId, request_id: &str) -> Result<PhoneFlow> {
        vouch_store::Store::phone_flow_by_request(self, org, request_id).await
    }

    async fn phone_flow_any_org(&self, id: &str) -> Result<PhoneFlow> {
        vouch_store::Store::phone_flow_any_org(self, id).await
    }

    async fn phone_flow_by_link(&self, link_hash: &str) -> Result<PhoneFlow> {
        vouch_store::Store::phone_flow_by_link(self, link_hash).await
    }

    async fn phone_identity(&self, org: &OrgId, id: &str) -> Result<PhoneIdentity> {
        vouch_store::Store::phone_identity(self, org, id).await
    }

    async fn phone_identities_by_number(
        &self,
        org: &OrgId,
        e164: &str,
    ) -> Result<Vec<PhoneIdentity>> {
        vouch_store::Store::phone_identities_by_number(self, org, e164).await
    }

    async fn phone_identities_by_customer(
        &self,
        org: &OrgId,
        customer: &str,
    ) -> Result<Vec<PhoneIdentity>> {
        vouch_store::Store::phone_identities_by_customer(self, org, customer).await
    }

    async fn list_phone_identities(
        &self,
        org: &OrgId,
        start_key: Option<&str>,
        show_inactive: bool,
        limit: i64,
    ) -> Result<Vec<PhoneIdentity>> {
        vouch_store::Store::list_phone_identities(self, org, start_key, show_inactive, limit).await
    }

    async fn set_phone_identity_active(&self, org: &OrgId, id: &str, active: bool) -> Result<()> {
        vouch_store::Store::set_phone_identity_active(self, org, id, active).await
    }

    async fn delete_phone_identity(&self, org: &OrgId, id: &str) -> Result<()> {
        vouch_store::Store::delete_phone_identity(self, org, id).await
    }

    async fn monitored_identities(&self, e164: &str) -> Result<Vec<PhoneIdentity>> {
        vouch_store::Store::monitored_identities(self, e164).await
    }

    async fn identities_by_subscription(&self, subscription: &str) -> Result<Vec<PhoneIdentity>> {
        vouch_store::Store::identities_by_subscription(self, subscription).await
    }

    async fn record_phone_change(
        &self,
        org: &OrgId,
        identity: &str,
        body: &Value,
        audit: AuditRecord,
    ) -> Result<bool> {
        vouch_store::Store::record_phone_change(self, org, identity, body, audit).await
    }

    async fn ory_config_by_secret(&self, secret: &str) -> Result<Option<OryConfig>> {
        vouch_store::Store::ory_config_by_secret(self, secret).await
    }

    async fn enqueue_kratos_patch(
        &self,
        config: &OryConfig,
        kratos_identity: &str,
        body: &Value,
        audit: AuditRecord,
    ) -> Result<()> {
        vouch_store::Store::enqueue_kratos_patch(self, config, kratos_identity, body, audit).await
    }
}

/// The phone use cases.
pub struct Phone {
    store: Arc<dyn PhoneStore>,
    events: Arc<Notify>,
}

impl Phone {
    /// Over a store; `events` wakes the webhook worker.
    pub fn new(store: Arc<dyn PhoneStore>, events: Arc<Notify>) -> Phone {
        Phone { store, events }
    }

    /// The keyed digest a number is stored and found by.
    pub fn number_index(&self, e164: &str) -> String {
        self.store.phone_index(e164)
    }

    /// The key of one-time codes' digests (derived from the deployment's index key, so a
    /// database dump alone cannot brute-force codes).
    pub fn otp_key(&self) -> Vec<u8> {
        self.store.blind_index("phone.otp-key", "v1").into_bytes()
    }

    /// The bearer token the network presents when it posts change events (derived,
    /// stable across restarts and nodes, never stored).
    pub fn sink_token(&self) -> String {
        self.store.blind_index("phone.sink-token", "v1")
    }

    /// Creates a flow. The store writes flows by group commit, whose leader must not be
    /// cancelled half-way (a client hanging up cancels its handler), so the write runs
    /// in a task of its own.
    pub async fn create_flow(&self, flow: &PhoneFlow) -> Result<()> {
        let (store, flow) = (self.store.clone(), flow.clone());
        tokio::spawn(async move { store.create_phone_flow(&flow).await })
            .await
            .map_err(|e| vouch_core::Error::Internal(format!("flow create task: {e}")))?
    }

    /// Saves a flow (compare-and-set on its version; `Conflict` when it changed
    /// meanwhile), in a task of its own like [`Phone::create_flow`].
    pub async fn save_flow(&self, flow: &mut PhoneFlow) -> Result<()> {
        let (store, mut copy) = (self.store.clone(), flow.clone());
        let saved =
            tokio::spawn(async move { store.save_phone_flow(&mut copy).await.map(|_| copy) })
                .await
                .map_err(|e| vouch_core::Error::Internal(format!("flow save task: {e}")))??;
        *flow = saved;
        Ok(())
    }

    /// The active identity of a number for a customer id, monitored again if a change
    /// had ended its monitoring (as the vendor's identity manager does); None when the
    /// number has none for that customer.
    pub async fn reenrol(
        &self,
        org: &OrgId,
        e164: &str,
        customer: Option<&str>,
    ) -> Result<Option<String>> {
        let found = self
            .identities_of_number(org, e164)
            .await?
            .into_iter()
            .find(|i| i.active && i.client_customer_id.as_deref() == customer);
        let Some(i) = found else {
            return Ok(None);
        };
        if !i.monitored {
            self.store.resume_phone_monitoring(org, &i.id).await?;
        }
        Ok(Some(i.id))
    }

    /// Stores a new identity.
    pub async fn create_identity(&self, identity: &PhoneIdentity) -> Result<()> {
        self.store.create_phone_identity(identity).await
    }

    /// Records the network's change subscription of an identity.
    pub async fn set_subscription(&self, org: &OrgId, id: &str, subscription: &str) -> Result<()> {
        self.store
            .set_phone_subscription(org, id, subscription)
            .await
    }

    /// A flow of the org by its correlation id.
    pub async fn flow(&self, org: &OrgId, id: &str) -> Result<PhoneFlow> {
        self.store.phone_flow(org, id).await
    }

    /// The org's latest flow with this client request id.
    pub async fn flow_by_request(&self, org: &OrgId, request_id: &str) -> Result<PhoneFlow> {
        self.store.phone_flow_by_request(org, request_id).await
    }

    /// The flow the SDK's state names, whatever its org (the caller checks the state's
    /// token against it).
    pub async fn flow_of_state(&self, id: &str) -> Result<PhoneFlow> {
        self.store.phone_flow_any_org(id).await
    }

    /// The flow of an Instant Link token's digest.
    pub async fn flow_by_link(&self, link_hash: &str) -> Result<PhoneFlow> {
        self.store.phone_flow_by_link(link_hash).await
    }

    /// An identity of the org.
    pub async fn identity(&self, org: &OrgId, id: &str) -> Result<PhoneIdentity> {
        self.store.phone_identity(org, id).await
    }

    /// Every identity of a number in the org.
    pub async fn identities_of_number(
        &self,
        org: &OrgId,
        e164: &str,
    ) -> Result<Vec<PhoneIdentity>> {
        self.store.phone_identities_by_number(org, e164).await
    }

    /// The active identity of a number in the org, if any.
    pub async fn active_of_number(&self, org: &OrgId, e164: &str) -> Result<Option<PhoneIdentity>> {
        Ok(self
            .identities_of_number(org, e164)
            .await?
            .into_iter()
            .find(|i| i.active))
    }

    /// The newest active identity of a customer id in the org, if any.
    pub async fn active_of_customer(
        &self,
        org: &OrgId,
        customer: &str,
    ) -> Result<Option<PhoneIdentity>> {
        Ok(self
            .store
            .phone_identities_by_customer(org, customer)
            .await?
            .into_iter()
            .find(|i| i.active))
    }

    /// A page of the org's identities, in id order after `start_key`.
    pub async fn identities(
        &self,
        org: &OrgId,
        start_key: Option<&str>,
        show_inactive: bool,
        limit: i64,
    ) -> Result<Vec<PhoneIdentity>> {
        self.store
            .list_phone_identities(org, start_key, show_inactive, limit)
            .await
    }

    /// Activates or deactivates an identity.
    pub async fn set_active(&self, org: &OrgId, id: &str, active: bool) -> Result<()> {
        self.store.set_phone_identity_active(org, id, active).await
    }

    /// Deletes an identity.
    pub async fn delete(&self, org: &OrgId, id: &str) -> Result<()> {
        self.store.delete_phone_identity(org, id).await
    }

    /// The monitored identities a network notice is about: by its subscription, else by
    /// its number.
    pub async fn monitored(
        &self,
        subscription: Option<&str>,
        e164: Option<&str>,
    ) -> Result<Vec<PhoneIdentity>> {
        let by_subscription = match subscription {
            Some(s) => self.store.identities_by_subscription(s).await?,
            None => Vec::new(),
        };
        match e164 {
            Some(n) if by_subscription.is_empty() => self.store.monitored_identities(n).await,
            _ => Ok(by_subscription),
        }
    }

    /// Records a change notice for a monitored identity and stops monitoring it (the
    /// change fires the identity's webhook); false when it was no longer monitored.
    pub async fn record_change(
        &self,
        identity: &PhoneIdentity,
        body: &Value,
        audit: AuditRecord,
    ) -> Result<bool> {
        let recorded = self
            .store
            .record_phone_change(&identity.org_id, &identity.id, body, audit)
            .await?;
        if recorded {
            self.events.notify_one();
        }
        Ok(recorded)
    }

    /// The Ory integration of a webhook secret.
    pub async fn ory_config(&self, secret: &str) -> Result<Option<OryConfig>> {
        self.store.ory_config_by_secret(secret).await
    }

    /// Queues a PATCH of a Kratos identity's metadata, delivered by the webhook worker.
    pub async fn patch_kratos(
        &self,
        config: &OryConfig,
        kratos_identity: &str,
        body: &Value,
        audit: AuditRecord,
    ) -> Result<()> {
        self.store
            .enqueue_kratos_patch(config, kratos_identity, body, audit)
            .await?;
        self.events.notify_one();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use vouch_core::model::Actor;
    use vouch_core::Error;

    /// Identities as listed; a subscription known or not; remembers recorded changes.
    #[derive(Default)]
    struct Fake {
        identities: Vec<PhoneIdentity>,
        subscription: Option<String>,
        changes: Mutex<Vec<String>>,
    }

    fn unavailable<T>() -> Result<T> {
        Err(Error::Unavailable("not in this fake".into()))
    }

    #[async_trait]
    impl PhoneStore for Fake {
        fn phone_index(&self, e164: &str) -> String {
            format!("idx:{e164}")
        }
        fn blind_index(&self, purpose: &str, value: &str) -> String {
            format!("{purpose}:{value}")
        }
        async fn create_phone_flow(&self, _: &PhoneFlow) -> Result<()> {
            unavailable()
        }
        async fn save_phone_flow(&self, _: &mut PhoneFlow) -> Result<()> {
            unavailable()
        }
        async fn create_phone_identity(&self, _: &PhoneIdentity) -> Result<()> {
            unavailable()
        }
        async fn resume_phone_monitoring(&self, _: &OrgId, id: &str) -> Result<()> {
            self.changes
                .lock()
                .map_err(|_| Error::Internal("poisoned".into()))?
                .push(format!("resumed:{id}"));
            Ok(())
        }
        async fn set_phone_subscription(&self, _: &OrgId, _: &str, _: &str) -> Result<()> {
            unavailable()
        }
        async fn phone_flow(&self, _: &OrgId, _: &str) -> Result<PhoneFlow> {
            unavailable()
        }
        async fn phone_flow_by_request(&self, _: &OrgId, _: &str) -> Result<PhoneFlow> {
            unavailable()
        }
        async fn phone_flow_any_org(&self, _: &str) -> Result<PhoneFlow> {
            unavailable()
        }
        async fn phone_flow_by_link(&self, _: &str) -> Result<PhoneFlow> {
            unavailable()
        }
        async fn phone_identity(&self, _: &OrgId, _: &str) -> Result<PhoneIdentity> {
            unavailable()
        }
        async fn phone_identities_by_number(
            &self,
            org: &OrgId,
            e164: &str,
        ) -> Result<Vec<PhoneIdentity>> {
            Ok(self
                .identities
                .iter()
                .filter(|i| &i.org_id == org && i.phone == e164)
                .cloned()
                .collect())
        }
        async fn phone_identities_by_customer(
            &self,
            org: &OrgId,
            customer: &str,
        ) -> Result<Vec<PhoneIdentity>> {
            Ok(self
                .identities
                .iter()
                .filter(|i| &i.org_id == org && i.client_customer_id.as_deref() == Some(customer))
                .cloned()
                .collect())
        }
        async fn list_phone_identities(
            &self,
            _: &OrgId,
            _: Option<&str>,
            _: bool,
            _: i64,
        ) -> Result<Vec<PhoneIdentity>> {
            unavailable()
        }
        async fn set_phone_identity_active(&self, _: &OrgId, _: &str, _: bool) -> Result<()> {
            unavailable()
        }
        async fn delete_phone_identity(&self, _: &OrgId, _: &str) -> Result<()> {
            unavailable()
        }
        async fn monitored_identities(&self, e164: &str) -> Result<Vec<PhoneIdentity>> {
            Ok(self
                .identities
                .iter()
                .filter(|i| i.phone == e164 && i.monitored && i.active)
                .cloned()
                .collect())
        }
        async fn identities_by_subscription(&self, s: &str) -> Result<Vec<PhoneIdentity>> {
            Ok(if self.subscription.as_deref() == Some(s) {
                self.identities.iter().take(1).cloned().collect()
            } else {
                Vec::new()
            })
        }
        async fn record_phone_change(
            &self,
            _: &OrgId,
            identity: &str,
            _: &Value,
            _: AuditRecord,
        ) -> Result<bool> {
            let mut changes = self
                .changes
                .lock()
                .map_err(|_| Error::Internal("poisoned".into()))?;
            if changes.iter().any(|c| c == identity) {
                return Ok(false);
            }
            changes.push(identity.to_string());
            Ok(true)
        }
        async fn ory_config_by_secret(&self, _: &str) -> Result<Option<OryConfig>> {
            Ok(None)
        }
        async fn enqueue_kratos_patch(
            &self,
            _: &OryConfig,
            _: &str,
            _: &Value,
            _: AuditRecord,
        ) -> Result<()> {
            unavailable()
        }
    }

    fn identity(id: &str, org: &str, phone: &str, active: bool) -> PhoneIdentity {
        PhoneIdentity {
            id: id.into(),
            org_id: OrgId::from_string(org),
            phone: phone.into(),
            client_customer_id: Some(format!("cust-{id}")),
            client_human_id: None,
            device_id: None,
            active,
            monitored: true,
            carrier: None,
            line_type: None,
            country_code: None,
            created_at: 0,
        }
    }

    fn phone(fake: Fake) -> (Phone, Arc<Notify>) {
        let events = Arc::new(Notify::new());
        (Phone::new(Arc::new(fake), events.clone()), events)
    }

    #[tokio::test]
    async fn only_an_active_identity_of_the_org_answers_for_a_number_or_customer() {
        let (phone, _) = phone(Fake {
            identities: vec![
                identity("i1", "o", "+15550001", false),
                identity("i2", "o", "+15550001", true),
                identity("i3", "o2", "+15550002", true),
            ],
            ..Fake::default()
        });
        let o = OrgId::from_string("o");
        let found = phone.active_of_number(&o, "+15550001").await.expect("read");
        assert_eq!(found.map(|i| i.id), Some("i2".to_string()));
        assert!(phone
            .active_of_number(&o, "+15550002")
            .await
            .expect("read")
            .is_none());
        assert!(phone
            .active_of_customer(&o, "cust-i1")
            .await
            .expect("read")
            .is_none());
        assert!(phone
            .active_of_customer(&o, "cust-i3")
            .await
            .expect("read")
            .is_none());
    }

    #[tokio::test]
    async fn a_re_enrolment_reuses_the_customer_s_active_identity_and_resumes_monitoring() {
        let mut unmonitored = identity("i2", "o", "+15550001", true);
        unmonitored.monitored = false;
        let fake = Fake {
            identities: vec![identity("i1", "o", "+15550001", false), unmonitored],
            ..Fake::default()
        };
        let (phone, _) = phone(fake);
        let o = OrgId::from_string("o");
        let again = phone
            .reenrol(&o, "+15550001", Some("cust-i2"))
            .await
            .expect("read");
        assert_eq!(again.as_deref(), Some("i2"));
        assert!(phone
            .reenrol(&o, "+15550001", Some("cust-i1"))
            .await
            .expect("read")
            .is_none());
        assert!(phone
            .reenrol(&o, "+15550001", None)
            .await
            .expect("read")
            .is_none());
    }

    #[tokio::test]
    async fn a_change_notice_finds_its_identities_by_subscription_then_number_and_counts_once() {
        let (phone, events) = phone(Fake {
            identities: vec![
                identity("i1", "o", "+15550001", true),
                identity("i2", "o2", "+15550001", true),
            ],
            subscription: Some("sub-1".into()),
            ..Fake::default()
        });
        let by_sub = phone
            .monitored(Some("sub-1"), Some("+15550001"))
            .await
            .expect("read");
        assert_eq!(by_sub.len(), 1, "the subscription names one identity");
        let by_number = phone
            .monitored(Some("sub-x"), Some("+15550001"))
            .await
            .expect("read");
        assert_eq!(
            by_number.len(),
            2,
            "an unknown subscription falls back to the number"
        );
        assert!(phone
            .monitored(Some("sub-x"), None)
            .await
            .expect("read")
            .is_empty());
        let audit = || AuditRecord::new(None, Actor::System, "phone.identity_change");
        let body = serde_json::json!({});
        assert!(phone
            .record_change(&by_number[0], &body, audit())
            .await
            .expect("recorded"));
        let woken = tokio::time::timeout(std::time::Duration::from_millis(50), events.notified());
        assert!(woken.await.is_ok(), "the webhook worker is woken");
        assert!(!phone
            .record_change(&by_number[0], &body, audit())
            .await
            .expect("read"));
    }
}

//! Webhook and audit use cases: the test event, the deliveries with their attempts, the
//! retry of a dead or disabled delivery, and the audit log; for the API
//! (`/api/v1/webhooks/*`, `/api/v1/audit`) and the console's webhook and audit pages.

use async_trait::async_trait;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::Notify;
use vouch_core::event::{Dialect, WEBHOOK_TEST};
use vouch_core::ids::{DeliveryId, EventId, OrgId};
use vouch_core::model::{ApiKey, AuditEntry, AuditRecord};
use vouch_core::{Error, Result};
use vouch_store::outbox::{Attempt, Delivery, Outbound};

/// The most rows one listing returns.
pub const MAX_LIST: i64 = 1000;

/// Storage of the outbox and the audit log.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Writes an event with its deliveries (and an audit record) in one transaction.
    async fn emit_event(
        &self,
        org: &OrgId,
        event_type: &str,
        outbound: &[Outbound],
        audit: Option<AuditRecord>,
    ) -> Result<EventId>;
    /// The org's newest deliveries.
    async fn deliveries(&self, org: &OrgId, limit: i64) -> Result<Vec<Delivery>>;
    /// One delivery of the org.
    async fn delivery(&self, org: &OrgId, id: &DeliveryId) -> Result<Delivery>;
    /// A delivery's attempts, oldest first.
    async fn delivery_attempts(&self, org: &OrgId, id: &DeliveryId) -> Result<Vec<Attempt>>;
    /// Queues a dead or disabled delivery again (`Conflict` for any other).
    async fn retry_delivery(&self, org: &OrgId, id: &DeliveryId, audit: AuditRecord) -> Result<()>;
    /// The org's newest audit entries.
    async fn audit_entries(&self, org: &OrgId, limit: i64) -> Result<Vec<AuditEntry>>;
    /// The org's admins: id → e-mail.
    async fn admin_emails(&self, org: &OrgId) -> Result<HashMap<String, String>>;
}

#[async_trait]
impl OutboxStore for vouch_store::Store {
    async fn emit_event(
        &self,
        org: &OrgId,
        event_type: &str,
        outbound: &[Outbound],
        audit: Option<AuditRecord>,
    ) -> Result<EventId> {
        vouch_store::Store::emit_event(self, org, event_type, outbound, audit).await
    }

    async fn deliveries(&self, org: &OrgId, limit: i64) -> Result<Vec<Delivery>> {
        self.list_deliveries(org, limit).await
    }

    async fn delivery(&self, org: &OrgId, id: &DeliveryId) -> Result<Delivery> {
        vouch_store::Store::delivery(self, org, id).await
    }

    async fn delivery_attempts(&self, org: &OrgId, id: &DeliveryId) -> Result<Vec<Attempt>> {
        vouch_store::Store::delivery_attempts(self, org, id).await
    }

    async fn retry_delivery(&self, org: &OrgId, id: &DeliveryId, audit: AuditRecord) -> Result<()> {
        vouch_store::Store::retry_delivery(self, org, id, audit).await
    }

    async fn audit_entries(&self, org: &OrgId, limit: i64) -> Result<Vec<AuditEntry>> {
        self.list_audit(org, limit).await
    }

    async fn admin_emails(&self, org: &OrgId) -> Result<HashMap<String, String>> {
        Ok(self
            .list_admins(org)
            .await?
            .into_iter()
            .map(|a| (a.id, a.email))
            .collect())
    }
}

/// Why a key cannot be sent a test event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoWebhook {
    /// The key has no webhook URL.
    Missing,
    /// The endpoint was disabled after it answered 410 Gone.
    Disabled,
}

/// The webhook and audit use cases.
pub struct Webhooks {
    store: Arc<dyn OutboxStore>,
    events: Arc<Notify>,
}

fn checked(limit: i64) -> Result<i64> {
    if (1..=MAX_LIST).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::Invalid(format!(
            "limit must be between 1 and {MAX_LIST}"
        )))
    }
}

impl Webhooks {
    /// Over a store; `events` wakes the webhook worker.
    pub fn new(store: Arc<dyn OutboxStore>, events: Arc<Notify>) -> Webhooks {
        Webhooks { store, events }
    }

    /// Queues a `webhook.test` event to the key's webhook URL.
    pub async fn send_test(
        &self,
        key: &ApiKey,
        audit: AuditRecord,
    ) -> Result<std::result::Result<EventId, NoWebhook>> {
        let Some(url) = key.settings.webhook_url.clone() else {
            return Ok(Err(NoWebhook::Missing));
        };
        if key.webhook_disabled_at.is_some() {
            return Ok(Err(NoWebhook::Disabled));
        }
        let body = json!({
            "event": WEBHOOK_TEST,
            "keyId": key.id,
            "timestamp": vouch_core::rfc3339(vouch_core::now_millis()),
        });
        let outbound = Outbound {
            key_id: key.id.clone(),
            url,
            dialect: Dialect::Kyc,
            body: vouch_core::webhook::wire_json(&body).into_bytes(),
        };
        let id = self
            .store
            .emit_event(&key.org_id, WEBHOOK_TEST, &[outbound], Some(audit))
            .await?;
        self.events.notify_one();
        Ok(Ok(id))
    }

    /// The org's newest deliveries, 1 to [`MAX_LIST`].
    pub async fn deliveries(&self, org: &OrgId, limit: i64) -> Result<Vec<Delivery>> {
        self.store.deliveries(org, checked(limit)?).await
    }

    /// One delivery with its attempts.
    pub async fn delivery(&self, org: &OrgId, id: &DeliveryId) -> Result<(Delivery, Vec<Attempt>)> {
        let delivery = self.store.delivery(org, id).await?;
        let attempts = self.store.delivery_attempts(org, id).await?;
        Ok((delivery, attempts))
    }

    /// Queues a dead or disabled delivery again.
    pub async fn retry(&self, org: &OrgId, id: &DeliveryId, audit: AuditRecord) -> Result<()> {
        self.store.retry_delivery(org, id, audit).await?;
        self.events.notify_one();
        Ok(())
    }

    /// The org's newest audit entries, 1 to [`MAX_LIST`].
    pub async fn audit_log(&self, org: &OrgId, limit: i64) -> Result<Vec<AuditEntry>> {
        self.store.audit_entries(org, checked(limit)?).await
    }

    /// The org's newest audit entries with the e-mail of each admin actor (keyed
    /// `admin:<id>`, as entries name them).
    pub async fn audit_log_named(
        &self,
        org: &OrgId,
        limit: i64,
    ) -> Result<(Vec<AuditEntry>, HashMap<String, String>)> {
        let entries = self.audit_log(org, limit).await?;
        let admins = self
            .store
            .admin_emails(org)
            .await?
            .into_iter()
            .map(|(id, email)| (format!("admin:{id}"), email))
            .collect();
        Ok((entries, admins))
    }
}

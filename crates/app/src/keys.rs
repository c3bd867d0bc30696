//! Credential use cases: API keys (the console's key pages: list, create, rotate, revoke;
//! the API's own webhook endpoint, `PUT /api/v1/webhooks/endpoint`) and the OAuth
//! client-credentials grant (`POST /token`). A key's secret and webhook secret are shown
//! once, when it is made; the store keeps their digests.

use async_trait::async_trait;
use serde_json::json;
use std::sync::Arc;
use vouch_core::check::Check;
use vouch_core::ids::{KeyId, OrgId};
use vouch_core::model::{ApiKey, AuditRecord, KeySettings};
use vouch_core::{now_millis, Error, Millis, Result};

/// The longest client id or secret looked up.
const MAX_CLIENT_CREDENTIAL: usize = 200;

/// The name of the key the console's try-out makes for itself.
pub const TRY_KEY_NAME: &str = "Console try-out";
use vouch_store::ratelimit::RateDecision;
use vouch_store::tenancy::{NewApiKey, Principal, Refusal};

/// Storage of API keys.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Every key of the org, revoked ones too.
    async fn api_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>>;
    /// One key of the org.
    async fn api_key(&self, org: &OrgId, id: &KeyId) -> Result<ApiKey>;
    /// Creates a key (name and settings validated) → the key and its secrets, once.
    async fn create_api_key(
        &self,
        org: &OrgId,
        name: &str,
        settings: KeySettings,
        audit: AuditRecord,
    ) -> Result<NewApiKey>;
    /// Replaces a key's settings (validated).
    async fn update_api_key_settings(
        &self,
        org: &OrgId,
        id: &KeyId,
        settings: KeySettings,
        audit: AuditRecord,
    ) -> Result<ApiKey>;
    /// Revokes a key.
    async fn revoke_api_key(&self, org: &OrgId, id: &KeyId, audit: AuditRecord) -> Result<ApiKey>;
    /// The principal of a presented secret (API key, service token, OAuth access
    /// token), or why it is refused.
    async fn authenticate(&self, secret: &str) -> Result<std::result::Result<Principal, Refusal>>;
    /// Counts one request in a fixed one-minute window of `bucket`.
    async fn hit_rate_limit(&self, bucket: &str, limit: u32, now: Millis) -> Result<RateDecision>;
    /// Checks an OAuth client's credentials (constant time on the secret's digest) and
    /// issues an access token for `ttl_ms`; none for an unknown, wrong or revoked client.
    async fn issue_access_token(
        &self,
        client_id: &str,
        client_secret: &str,
        ttl_ms: Millis,
    ) -> Result<Option<String>>;
}

#[async_trait]
impl KeyStore for vouch_store::Store {
    async fn api_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>> {
        self.list_api_keys(org).await
    }

    async fn api_key(&self, org: &OrgId, id: &KeyId) -> Result<ApiKey> {
        vouch_store::Store::api_key(self, org, id).await
    }

    async fn create_api_key(
        &self,
        org: &OrgId,
        name: &str,
        settings: KeySettings,
        audit: AuditRecord,
    ) -> Result<NewApiKey> {
        vouch_store::Store::create_api_key(self, org, name, settings, audit).await
    }

    async fn update_api_key_settings(
        &self,
        org: &OrgId,
        id: &KeyId,
        settings: KeySettings,
        audit: AuditRecord,
    ) -> Result<ApiKey> {
        vouch_store::Store::update_api_key_settings(self, org, id, settings, audit).await
    }

    async fn revoke_api_key(&self, org: &OrgId, id: &KeyId, audit: AuditRecord) -> Result<ApiKey> {
        vouch_store::Store::revoke_api_key(self, org, id, audit).await
    }

    async fn authenticate(&self, secret: &str) -> Result<std::result::Result<Principal, Refusal>> {
        vouch_store::Store::authenticate(self, secret).await
    }

    async fn hit_rate_limit(&self, bucket: &str, limit: u32, now: Millis) -> Result<RateDecision> {
        vouch_store::Store::hit_rate_limit(self, bucket, limit, now).await
    }

    async fn issue_access_token(
        &self,
        client_id: &str,
        client_secret: &str,
        ttl_ms: Millis,
    ) -> Result<Option<String>> {
        Ok(
            vouch_store::Store::issue_access_token(self, client_id, client_secret, ttl_ms)
                .await?
                .map(|(_, token, _)| token),
        )
    }
}

/// The API key use cases.
pub struct Keys {
    store: Arc<dyn KeyStore>,
}

impl Keys {
    /// Over a store.
    pub fn new(store: Arc<dyn KeyStore>) -> Keys {
        Keys { store }
    }

    /// Every key of the org.
    pub async fn list(&self, org: &OrgId) -> Result<Vec<ApiKey>> {
        self.store.api_keys(org).await
    }

    /// Creates a key; its secrets are in the answer only.
    pub async fn create(
        &self,
        org: &OrgId,
        name: &str,
        settings: KeySettings,
        audit: AuditRecord,
    ) -> Result<NewApiKey> {
        self.store.create_api_key(org, name, settings, audit).await
    }

    /// Rotates a key: a replacement with the same name and settings, then the old one
    /// revoked (each audited, naming the other). A revoked key is not rotated.
    /// `audit` makes the record for an action (`api_key.created`, `api_key.revoked`).
    pub async fn rotate(
        &self,
        org: &OrgId,
        id: &KeyId,
        audit: impl Fn(&str) -> AuditRecord,
    ) -> Result<(ApiKey, NewApiKey)> {
        let old = self.store.api_key(org, id).await?;
        if old.revoked_at.is_some() {
            return Err(Error::Conflict("A revoked key cannot be rotated".into()));
        }
        let created = self
            .store
            .create_api_key(
                org,
                &old.name,
                old.settings.clone(),
                audit("api_key.created").details(json!({ "rotates": old.id })),
            )
            .await?;
        self.store
            .revoke_api_key(
                org,
                &old.id,
                audit("api_key.revoked").details(json!({ "rotatedTo": created.key.id })),
            )
            .await?;
        Ok((old, created))
    }

    /// Revokes a key.
    pub async fn revoke(&self, org: &OrgId, id: &KeyId, audit: AuditRecord) -> Result<ApiKey> {
        self.store.revoke_api_key(org, id, audit).await
    }

    /// The org's active try-out key with every check, made when there is none (all
    /// checks, no webhook, images kept one day).
    pub async fn try_out_key(&self, org: &OrgId, audit: AuditRecord) -> Result<ApiKey> {
        let now = now_millis();
        let existing = self.store.api_keys(org).await?.into_iter().find(|k| {
            k.name == TRY_KEY_NAME
                && k.is_active(now)
                && Check::ALL.iter().all(|c| k.settings.checks.contains(c))
        });
        if let Some(k) = existing {
            return Ok(k);
        }
        let settings = KeySettings {
            image_retention_days: 1,
            ..KeySettings::default()
        };
        let audit = audit.details(json!({ "tryOut": true }));
        let created = self
            .store
            .create_api_key(org, TRY_KEY_NAME, settings, audit)
            .await?;
        Ok(created.key)
    }

    /// Whether the org has a key of its own (not only the console's try-out key).
    pub async fn has_own_key(&self, org: &OrgId) -> Result<bool> {
        Ok(self
            .store
            .api_keys(org)
            .await?
            .iter()
            .any(|k| k.name != TRY_KEY_NAME))
    }

    /// The caller of a presented secret (constant-time on its digest), or why it is
    /// refused (unknown, revoked, expired).
    pub async fn authenticate(
        &self,
        secret: &str,
    ) -> Result<std::result::Result<Principal, Refusal>> {
        self.store.authenticate(secret).await
    }

    /// Counts one request of a credential against its limit a minute.
    pub async fn count_request(&self, bucket: &str, limit: u32) -> Result<RateDecision> {
        self.store.hit_rate_limit(bucket, limit, now_millis()).await
    }

    /// An access token for an OAuth client's credentials, valid `ttl_ms`; none when the
    /// credentials are refused (unknown, wrong, revoked, or too long to be one).
    pub async fn access_token(
        &self,
        client_id: &str,
        client_secret: &str,
        ttl_ms: Millis,
    ) -> Result<Option<String>> {
        if client_id.len() > MAX_CLIENT_CREDENTIAL || client_secret.len() > MAX_CLIENT_CREDENTIAL {
            return Ok(None);
        }
        self.store
            .issue_access_token(client_id, client_secret, ttl_ms)
            .await
    }

    /// Sets (or with `None` removes) a key's webhook URL, which also enables a webhook
    /// that was disabled after a 410 Gone.
    pub async fn set_webhook(
        &self,
        key: &ApiKey,
        url: Option<String>,
        audit: AuditRecord,
    ) -> Result<ApiKey> {
        let mut settings = key.settings.clone();
        settings.webhook_url = url;
        let audit = audit.details(json!({"url": settings.webhook_url}));
        self.store
            .update_api_key_settings(&key.org_id, &key.id, settings, audit)
            .await
    }
}

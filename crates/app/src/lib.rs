//! vouch's use cases: the layer between the dialects (KYC sessions, biometric identity,
//! phone, Ory hooks, the admin console, MCP) and the store and engines.
//!
//! A route handler extracts and authorises a request, calls one use case here and maps
//! the result to its dialect's wire shape; the rules live here and in
//! [`vouch_core::policy`], once. Use cases take their capabilities as traits (storage,
//! engines), so they are unit-tested with in-memory fakes; `vouch-store` and the engines
//! implement them. `docs/architecture.md` draws the layers and says which operations have
//! moved here so far.

pub mod admin;
pub mod analysis;
pub mod capture;
pub mod gallery;
pub mod health;
pub mod identity;
pub mod keys;
pub mod kyc;
pub mod orgs;
pub mod phone;
pub mod presence;
pub mod presentations;
pub mod scan;
pub mod tokens;
pub mod trust;
pub mod webhooks;

use std::sync::Arc;
use tokio::sync::Notify;

/// Every use case, built once at start and held by the server's state.
pub struct App {
    /// Admin sign-in: bootstrap and setup links, password login, sessions, second
    /// factors.
    pub admin: admin::AdminAuth,
    /// KYC sessions: create, read, list, cancel, images, manual review.
    pub kyc: kyc::Kyc,
    /// The hosted flow's capture steps: selfie, document, completion.
    pub capture: capture::Capture,
    /// The digital ID step's presentation requests.
    pub presentations: presentations::Presentations,
    /// Biometric identity: enrolment, 1:N verify, profiles, alert rules.
    pub identity: Arc<identity::Identity>,
    /// Human presence sessions and their tokens.
    pub presence: presence::Presence,
    /// Signed tokens: presence tokens, the phone SDK's auth tokens.
    pub tokens: Arc<tokens::Tokens>,
    /// Database and queue health, for the probes and metrics.
    pub health: health::Health,
    /// API keys.
    pub keys: keys::Keys,
    /// Webhook deliveries and the audit log.
    pub webhooks: webhooks::Webhooks,
    /// Phone flows' lookups, the identity manager and its monitoring, the Ory hooks'
    /// storage.
    pub phone: phone::Phone,
    /// Organisations' names for the pages.
    pub orgs: orgs::Orgs,
    /// Digital ID trust lists.
    pub trust: trust::TrustList,
}

impl App {
    /// The use cases over the store. `events` wakes the webhook worker when a use case
    /// writes an event.
    pub fn new(store: Arc<vouch_store::Store>, events: Arc<Notify>) -> App {
        let identity = Arc::new(identity::Identity::new(store.clone(), events.clone()));
        let tokens = Arc::new(tokens::Tokens::new(store.clone()));
        App {
            admin: admin::AdminAuth::new(store.clone()),
            kyc: kyc::Kyc::new(store.clone(), events.clone()),
            capture: capture::Capture::new(store.clone(), events.clone()),
            presentations: presentations::Presentations::new(store.clone()),
            health: health::Health::new(store.clone()),
            keys: keys::Keys::new(store.clone()),
            webhooks: webhooks::Webhooks::new(store.clone(), events.clone()),
            presence: presence::Presence::new(store.clone(), identity.clone(), tokens.clone()),
            identity,
            tokens,
            orgs: orgs::Orgs::new(store.clone()),
            phone: phone::Phone::new(store.clone(), events),
            trust: trust::TrustList::new(store),
        }
    }
}

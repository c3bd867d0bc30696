//! vouch's use cases: the layer between the dialects (KYC sessions, biometric identity,
//! phone, Ory hooks, the admin console, MCP) and the store and engines.
//!
//! A route handler extracts and authorises a request, calls one use case here and maps
//! the result to its dialect's wire shape; the rules live here and in
//! [`vouch_core::policy`], once. Use cases take their capabilities as traits (storage,
//! engines), so they are unit-tested with in-memory fakes; `vouch-store` and the engines
//! implement them. `docs/architecture.md` draws the layers and says which operations have
//! moved here so far.

pub mod analysis;
pub mod kyc;
pub mod scan;
pub mod tokens;
pub mod trust;

use std::sync::Arc;
use tokio::sync::Notify;

/// Every use case, built once at start and held by the server's state.
pub struct App {
    /// KYC sessions: manual review.
    pub kyc: kyc::Kyc,
    /// Signed tokens: presence tokens, the phone SDK's auth tokens.
    pub tokens: tokens::Tokens,
    /// Digital ID trust lists.
    pub trust: trust::TrustList,
}

impl App {
    /// The use cases over the store. `events` wakes the webhook worker when a use case
    /// writes an event.
    pub fn new(store: Arc<vouch_store::Store>, events: Arc<Notify>) -> App {
        App {
            kyc: kyc::Kyc::new(store.clone(), events),
            tokens: tokens::Tokens::new(store.clone()),
            trust: trust::TrustList::new(store),
        }
    }
}

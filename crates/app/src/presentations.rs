//! OpenID4VP presentation requests of the digital ID step: made when the page starts the
//! step, fetched by the wallet (and polled by the page) by their unguessable id, answered
//! exactly once before they expire.

use async_trait::async_trait;
use std::sync::Arc;
use vouch_core::{Millis, Result};
use vouch_store::digital_id::PresentationRequest;

/// Storage of presentation requests.
#[async_trait]
pub trait PresentationStore: Send + Sync {
    /// Stores a new request (its encryption key sealed).
    async fn create_presentation_request(&self, r: &PresentationRequest) -> Result<()>;
    /// A request by its id (any organisation: the id is a bearer value).
    async fn presentation_request(&self, id: &str) -> Result<Option<PresentationRequest>>;
    /// Marks a request answered; false when it already was or has expired.
    async fn answer_presentation_request(&self, id: &str, now: Millis) -> Result<bool>;
}

#[async_trait]
impl PresentationStore for vouch_store::Store {
    async fn create_presentation_request(&self, r: &PresentationRequest) -> Result<()> {
        vouch_store::Store::create_presentation_request(self, r).await
    }

    async fn presentation_request(&self, id: &str) -> Result<Option<PresentationRequest>> {
        vouch_store::Store::presentation_request(self, id).await
    }

    async fn answer_presentation_request(&self, id: &str, now: Millis) -> Result<bool> {
        vouch_store::Store::answer_presentation_request(self, id, now).await
    }
}

/// The presentation request use cases.
pub struct Presentations {
    store: Arc<dyn PresentationStore>,
}

impl Presentations {
    /// Over a store.
    pub fn new(store: Arc<dyn PresentationStore>) -> Presentations {
        Presentations { store }
    }

    /// Stores a request made for a session's digital ID step.
    pub async fn create(&self, r: &PresentationRequest) -> Result<()> {
        self.store.create_presentation_request(r).await
    }

    /// A request by its id.
    pub async fn get(&self, id: &str) -> Result<Option<PresentationRequest>> {
        self.store.presentation_request(id).await
    }

    /// Takes the one answer a request accepts: true for the first, unexpired answer only
    /// (a replayed response gets false).
    pub async fn answer(&self, id: &str, now: Millis) -> Result<bool> {
        self.store.answer_presentation_request(id, now).await
    }
}

//! What the probes and the metrics ask: does the database answer, how many webhook
//! deliveries wait (`/readyz`, `/metrics`, the home page).

use async_trait::async_trait;
use std::sync::Arc;
use vouch_core::Result;

/// What health reads from storage.
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// A round trip to the database.
    async fn ping(&self) -> Result<()>;
    /// Webhook deliveries waiting to be sent, across organisations.
    async fn pending_deliveries(&self) -> Result<i64>;
}

#[async_trait]
impl HealthStore for vouch_store::Store {
    async fn ping(&self) -> Result<()> {
        vouch_store::Store::ping(self).await
    }

    async fn pending_deliveries(&self) -> Result<i64> {
        vouch_store::Store::pending_deliveries(self).await
    }
}

/// The health use cases.
pub struct Health {
    store: Arc<dyn HealthStore>,
}

impl Health {
    /// Over a store.
    pub fn new(store: Arc<dyn HealthStore>) -> Health {
        Health { store }
    }

    /// Whether the database answers (`Unavailable` when not).
    pub async fn database(&self) -> Result<()> {
        self.store.ping().await
    }

    /// Webhook deliveries waiting to be sent.
    pub async fn webhook_queue(&self) -> Result<i64> {
        self.store.pending_deliveries().await
    }
}

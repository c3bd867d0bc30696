//! Organisations as the pages show them: the name on the hosted page and in the console.

use async_trait::async_trait;
use std::sync::Arc;
use vouch_core::ids::OrgId;
use vouch_core::model::Org;
use vouch_core::Result;

/// Storage of organisations.
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// One organisation.
    async fn org(&self, id: &OrgId) -> Result<Org>;
}

#[async_trait]
impl OrgStore for vouch_store::Store {
    async fn org(&self, id: &OrgId) -> Result<Org> {
        vouch_store::Store::org(self, id).await
    }
}

/// The organisation use cases.
pub struct Orgs {
    store: Arc<dyn OrgStore>,
}

impl Orgs {
    /// Over a store.
    pub fn new(store: Arc<dyn OrgStore>) -> Orgs {
        Orgs { store }
    }

    /// One organisation.
    pub async fn get(&self, id: &OrgId) -> Result<Org> {
        self.store.org(id).await
    }

    /// Its display name; empty when it cannot be read (a page still renders).
    pub async fn name(&self, id: &OrgId) -> String {
        self.store.org(id).await.map(|o| o.name).unwrap_or_default()
    }
}

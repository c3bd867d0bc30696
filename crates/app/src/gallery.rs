//! The in-memory 1:N indexes, one per organisation, over the enrolled face templates.
//!
//! The store is the truth; an index is a cache of it. Before each search the index loads
//! the templates added since the last one it holds (the store orders them by `seq`), so an
//! enrolment on another node behind the same PostgreSQL is searchable here on the next
//! verify, without messaging between nodes. Search is exact (every template is compared,
//! in parallel, with loops the compiler vectorises: `vouch_face::index`).

use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use vouch_core::ids::{OrgId, PersonId};
use vouch_core::Result;
use vouch_face::index::{ExactIndex, Precision};
use vouch_store::biometrics::Template;

/// Templates loaded a query at a time.
const LOAD_PAGE: i64 = 5_000;

/// Where the enrolled templates come from.
#[async_trait]
pub trait TemplateSource: Send + Sync {
    /// The organisation's enrolled templates after `seq`, in `seq` order, at most `limit`.
    async fn templates_since(&self, org: &OrgId, seq: i64, limit: i64) -> Result<Vec<Template>>;
}

#[async_trait]
impl TemplateSource for vouch_store::Store {
    async fn templates_since(&self, org: &OrgId, seq: i64, limit: i64) -> Result<Vec<Template>> {
        vouch_store::Store::templates_since(self, org, seq, limit).await
    }
}

/// One organisation's index.
struct OrgGallery {
    index: ExactIndex,
    /// The person of each slot.
    people: Vec<PersonId>,
    /// The last template loaded.
    seq: i64,
}

/// Every organisation's index, loaded on first use.
#[derive(Default)]
pub struct Galleries {
    orgs: Mutex<HashMap<OrgId, Arc<tokio::sync::Mutex<OrgGallery>>>>,
}

impl Galleries {
    fn of(&self, org: &OrgId) -> Arc<tokio::sync::Mutex<OrgGallery>> {
        let mut orgs = self.orgs.lock().unwrap_or_else(|e| e.into_inner());
        orgs.entry(org.clone())
            .or_insert_with(|| {
                Arc::new(tokio::sync::Mutex::new(OrgGallery {
                    index: ExactIndex::new(Precision::F32),
                    people: Vec::new(),
                    seq: 0,
                }))
            })
            .clone()
    }

    /// The enrolled person most similar to `probe`, with the cosine similarity.
    pub async fn best_match(
        &self,
        source: &dyn TemplateSource,
        org: &OrgId,
        probe: &[f32],
    ) -> Result<Option<(PersonId, f32)>> {
        let gallery = self.of(org);
        let mut g = gallery.lock().await;
        // In pages, so that a first load of a large gallery holds one page of rows at once.
        loop {
            let page = source.templates_since(org, g.seq, LOAD_PAGE).await?;
            let full = page.len() as i64 == LOAD_PAGE;
            for t in page {
                if let Some(slot) = g.index.add(&t.embedding) {
                    debug_assert_eq!(slot, g.people.len());
                    g.people.push(t.person_id);
                }
                g.seq = t.seq;
            }
            if !full {
                break;
            }
        }
        if g.index.is_empty() {
            return Ok(None);
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let hit = g.index.search(probe, 1, threads).into_iter().next();
        Ok(hit.and_then(|h| g.people.get(h.slot).map(|p| (p.clone(), h.score))))
    }
}

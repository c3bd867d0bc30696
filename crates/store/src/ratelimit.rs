//! Fixed-window request counters.
//!
//! On PostgreSQL they are kept in the database (one upsert per request), so that every
//! node behind a load balancer counts against the same number. On SQLite, the single-node
//! database, they are kept in the process, shared by every store handle on the same
//! database URL: a counter in the file would cost a second fsync'd commit on every
//! authenticated request (SQLite commits one writer at a time), halving the throughput of
//! writes such as session create. The price: a restart forgets the current minute's
//! counts, and two processes serving one SQLite file would count apart (not a supported
//! topology: use PostgreSQL for several nodes).

use crate::db::{db_err, Store};
use sqlx::{Executor as _, Row};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use vouch_core::{Millis, Result};

/// In-process counters of one SQLite database: bucket → (window start, count).
#[derive(Default)]
pub struct LocalCounts {
    counts: Mutex<HashMap<String, (Millis, u32)>>,
}

/// Buckets kept before the stale ones are swept.
const LOCAL_SWEEP_AT: usize = 10_000;

impl LocalCounts {
    /// The counters of the database at `url`, shared by every handle in this process.
    pub(crate) fn for_database(url: &str) -> Arc<LocalCounts> {
        static ALL: OnceLock<Mutex<HashMap<String, Arc<LocalCounts>>>> = OnceLock::new();
        let mut all = ALL
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        all.entry(url.to_string()).or_default().clone()
    }

    fn hit(&self, bucket: &str, window_start: Millis) -> u32 {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() >= LOCAL_SWEEP_AT {
            counts.retain(|_, (w, _)| *w >= window_start);
        }
        let entry = counts
            .entry(bucket.to_string())
            .or_insert((window_start, 0));
        if entry.0 != window_start {
            *entry = (window_start, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1
    }

    fn purge(&self, before: Millis) -> u64 {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = counts.len();
        counts.retain(|_, (w, _)| *w >= before - WINDOW_MS);
        (n - counts.len()) as u64
    }
}

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// The limit of the window.
    pub limit: u32,
    /// Requests left in the window after this one.
    pub remaining: u32,
    /// When the window ends (epoch ms).
    pub reset_at: Millis,
    /// Whether this request is within the limit.
    pub allowed: bool,
}

/// The window length.
pub const WINDOW_MS: Millis = 60_000;

impl RateDecision {
    /// Whole seconds until the window ends, at least 1: the `Retry-After` of a refusal.
    pub fn retry_after_secs(&self, now: Millis) -> i64 {
        ((self.reset_at - now) / 1000).max(1)
    }
}

impl Store {
    /// Counts one request for `bucket` (a credential id) in the current one-minute window.
    pub async fn hit_rate_limit(
        &self,
        bucket: &str,
        limit: u32,
        now: Millis,
    ) -> Result<RateDecision> {
        let window_start = now - now.rem_euclid(WINDOW_MS);
        let limit64 = i64::from(limit);
        if let Some(local) = &self.local_rates {
            let count = i64::from(local.hit(bucket, window_start));
            return Ok(RateDecision {
                limit,
                remaining: u32::try_from((limit64 - count).max(0)).unwrap_or(0),
                reset_at: window_start + WINDOW_MS,
                allowed: count <= limit64,
            });
        }
        // PostgreSQL: a counter is not worth a durable commit. Without waiting for the WAL
        // flush, a crash may forget the last counts of a window (the next window starts
        // from zero anyway); waiting would make every authenticated request, reads
        // included, wait for an fsync (`bench/load`: ~1,350 session reads a second with
        // it, ~3,700 without).
        let sql = self.sql(
            "INSERT INTO rate_counters (bucket, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_counters.count + 1 \
             RETURNING count",
        );
        let mut conn = self.conn().await?;
        let counted = async {
            conn.execute("BEGIN").await?;
            conn.execute("SET LOCAL synchronous_commit = off").await?;
            let row = sqlx::query(&sql)
                .bind(bucket)
                .bind(window_start)
                .fetch_one(&mut *conn)
                .await?;
            conn.execute("COMMIT").await?;
            Ok::<_, sqlx::Error>(row)
        }
        .await;
        if counted.is_err() {
            // The transaction's state is unknown: the connection is not reused.
            conn.close_on_drop();
        }
        let count: i64 = counted.map_err(db_err)?.try_get("count").map_err(db_err)?;
        Ok(RateDecision {
            limit,
            remaining: u32::try_from((limit64 - count).max(0)).unwrap_or(0),
            reset_at: window_start + WINDOW_MS,
            allowed: count <= limit64,
        })
    }

    /// Deletes counters of windows that ended before `before`.
    pub async fn purge_rate_counters(&self, before: Millis) -> Result<u64> {
        if let Some(local) = &self.local_rates {
            return Ok(local.purge(before));
        }
        let done = sqlx::query(&self.sql("DELETE FROM rate_counters WHERE window_start < $1"))
            .bind(before - WINDOW_MS)
            .execute(&mut *self.conn().await?)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_says_the_whole_seconds_left_in_the_window_and_never_zero() {
        let d = RateDecision {
            limit: 10,
            remaining: 0,
            reset_at: 60_000,
            allowed: false,
        };
        assert_eq!(d.retry_after_secs(30_000), 30);
        assert_eq!(
            d.retry_after_secs(59_500),
            1,
            "under a second rounds up to 1"
        );
        assert_eq!(
            d.retry_after_secs(70_000),
            1,
            "a window already over still says 1"
        );
    }

    #[test]
    fn local_counts_reset_with_the_window_and_are_shared_per_database() {
        let a = LocalCounts::for_database("sqlite://unit-test-a");
        let b = LocalCounts::for_database("sqlite://unit-test-a");
        let other = LocalCounts::for_database("sqlite://unit-test-b");
        assert_eq!(a.hit("k", 0), 1);
        assert_eq!(b.hit("k", 0), 2);
        assert_eq!(other.hit("k", 0), 1);
        assert_eq!(a.hit("j", 0), 1);
        assert_eq!(a.hit("k", WINDOW_MS), 1, "a new window starts at 1");
        assert_eq!(a.purge(3 * WINDOW_MS), 2);
        assert_eq!(a.hit("k", 3 * WINDOW_MS), 1);
    }
}

//! Fixed-window request counters kept in the database, so that every node behind a load
//! balancer counts against the same number.

use crate::db::{db_err, Store};
use sqlx::Row;
use vouch_core::{Millis, Result};

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

impl Store {
    /// Counts one request for `bucket` (a credential id) in the current one-minute window.
    pub async fn hit_rate_limit(
        &self,
        bucket: &str,
        limit: u32,
        now: Millis,
    ) -> Result<RateDecision> {
        let window_start = now - now.rem_euclid(WINDOW_MS);
        let row = sqlx::query(&self.sql(
            "INSERT INTO rate_counters (bucket, window_start, count) VALUES ($1, $2, 1) \
             ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_counters.count + 1 \
             RETURNING count",
        ))
        .bind(bucket)
        .bind(window_start)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let count: i64 = row.try_get("count").map_err(db_err)?;
        let limit64 = i64::from(limit);
        Ok(RateDecision {
            limit,
            remaining: u32::try_from((limit64 - count).max(0)).unwrap_or(0),
            reset_at: window_start + WINDOW_MS,
            allowed: count <= limit64,
        })
    }

    /// Deletes counters of windows that ended before `before`.
    pub async fn purge_rate_counters(&self, before: Millis) -> Result<u64> {
        let done = sqlx::query(&self.sql("DELETE FROM rate_counters WHERE window_start < $1"))
            .bind(before - WINDOW_MS)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}

//! vouch-core: the domain of vouch — typed ids, credentials, checks, events and webhook
//! signing. No I/O lives here: the store, the engines and the server build on these types.

pub mod admin_login;
pub mod check;
pub mod credential;
pub mod error;
pub mod event;
pub mod identity;
pub mod ids;
pub mod model;
pub mod phone_flow;
pub mod policy;
pub mod presence;
pub mod session;
pub mod webhook;

pub use error::{Error, Result};

/// Milliseconds since the Unix epoch, the one time representation used across vouch's
/// storage (portable across SQLite and PostgreSQL, sortable, no time-zone surprises).
pub type Millis = i64;

/// The current wall-clock time in epoch milliseconds.
pub fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// Formats epoch milliseconds as RFC 3339 with millisecond precision and a `Z` suffix,
/// the spelling the specs use (`2025-03-07T12:30:00.000Z`).
pub fn rfc3339(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

//! The console templates' filters (`{{ value|when }}`): how dates, check lists and
//! webhook answers read on the pages. Each template module imports this module as
//! `filters`, where askama looks for them.

use askama::Values;
use vouch_core::check::Check;
use vouch_core::Millis;
use vouch_store::outbox::Delivery;

/// A time as `2025-03-07 14:05:09 UTC`.
pub(super) fn when_ms(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

/// `{{ ms|when }}`: a time (epoch milliseconds) as `2025-03-07 14:05:09 UTC`.
#[askama::filter_fn]
pub(super) fn when(ms: &Millis, _: &dyn Values) -> askama::Result<String> {
    Ok(when_ms(*ms))
}

/// `{{ ms|when_opt }}`: an optional time, or a dash.
#[askama::filter_fn]
pub(super) fn when_opt(ms: &Option<Millis>, _: &dyn Values) -> askama::Result<String> {
    Ok(ms.map_or_else(|| "—".to_string(), when_ms))
}

/// `{{ checks|check_names }}`: the checks' names, comma-separated.
#[askama::filter_fn]
pub(super) fn check_names(checks: &[Check], _: &dyn Values) -> askama::Result<String> {
    Ok(checks
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", "))
}

/// `{{ delivery|last_error }}`: the last answer of a delivery (`HTTP 410: error`,
/// `HTTP 500`, the error) or a dash.
#[askama::filter_fn]
pub(super) fn last_error(d: &Delivery, _: &dyn Values) -> askama::Result<String> {
    Ok(match (d.last_status, d.last_error.as_deref()) {
        (Some(code), Some(e)) => format!("HTTP {code}: {e}"),
        (Some(code), None) => format!("HTTP {code}"),
        (None, Some(e)) => e.to_string(),
        (None, None) => "—".into(),
    })
}

//! The session list with its filters, one session's page, and its kept capture images.
//! The check results, images and decision form of a session are shared with the review
//! queue (`case.html`, [`check_rows`]).

use super::{
    bad, filters, page, query, ConsoleError, Nav, PageResult, Shell, Signed, DAY_MS, PAGE_ROWS,
    SCAN_PAGES,
};
use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use serde_json::Value;
use vouch_core::ids::SessionId;
use vouch_core::session::{Decision, SessionStatus, VerificationSession};
use vouch_core::Millis;
use vouch_store::images::ImageInfo;
use vouch_store::sessions::SessionFilter;

/// The longest review reason, in characters (as the review API).
pub(super) const MAX_REASON_CHARS: usize = vouch_app::kyc::MAX_REVIEW_NOTE_CHARS;

/// `sessions.html`.
#[derive(Template)]
#[template(path = "console/sessions.html")]
struct SessionsPage {
    shell: Shell,
    selects: [Select; 2],
    from: String,
    to: String,
    total: i64,
    /// The date filter stopped scanning before the start date.
    partial: bool,
    items: Vec<VerificationSession>,
    pager: Option<Pager>,
}

/// A drop-down filter of the session list.
struct Select {
    name: &'static str,
    label: &'static str,
    choices: Vec<Choice>,
}

struct Choice {
    value: &'static str,
    selected: bool,
}

impl Select {
    fn new(
        name: &'static str,
        label: &'static str,
        values: &[&'static str],
        current: Option<&str>,
    ) -> Self {
        let choices = values
            .iter()
            .map(|&value| Choice {
                value,
                selected: current == Some(value),
            })
            .collect();
        Select {
            name,
            label,
            choices,
        }
    }
}

/// The links to the neighbouring pages of a list longer than a page.
struct Pager {
    page: i64,
    pages: i64,
    newer: Option<String>,
    older: Option<String>,
}

/// `session.html`.
#[derive(Template)]
#[template(path = "console/session.html")]
struct SessionPage {
    shell: Shell,
    s: VerificationSession,
    checks: Vec<CheckRow>,
    /// The metadata as indented JSON.
    metadata: Option<String>,
    images: Vec<ImageInfo>,
    /// It awaits review: the decision form is shown.
    decide: bool,
    max_reason: usize,
}

/// A row of a session's check results (`case.html`).
pub(super) struct CheckRow {
    pub(super) name: String,
    pub(super) result: String,
    /// The result's other fields, `key: value` joined by ` · `.
    pub(super) details: String,
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(json_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// A session's check results, as rows.
pub(super) fn check_rows(s: &VerificationSession) -> Vec<CheckRow> {
    let Value::Object(checks) = s.checks_json() else {
        return Vec::new();
    };
    checks
        .iter()
        .map(|(name, v)| {
            let result = v
                .get("result")
                .and_then(Value::as_str)
                .or_else(|| v.get("status").and_then(Value::as_str))
                .unwrap_or("—");
            let details = v.as_object().map_or(String::new(), |o| {
                o.iter()
                    .filter(|(k, v)| *k != "result" && *k != "status" && !v.is_null())
                    .map(|(k, v)| format!("{k}: {}", json_text(v)))
                    .collect::<Vec<_>>()
                    .join(" · ")
            });
            CheckRow {
                name: name.clone(),
                result: result.to_string(),
                details,
            }
        })
        .collect()
}

pub(super) fn awaiting_review(s: &VerificationSession) -> bool {
    s.awaiting_review()
}

fn parse_day(s: &str, what: &str) -> Result<Millis, ConsoleError> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
        .ok_or_else(|| bad(format!("{what} must be a date (YYYY-MM-DD)")))
}

/// The session list with filters (status, decision, creation dates) in the query.
pub(super) async fn sessions(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let org = &caller.admin.org_id;
    let q = query(raw.as_deref());
    let status = match q.get("status") {
        None => None,
        Some(s) => Some(SessionStatus::parse(s).ok_or_else(|| bad("Unknown status"))?),
    };
    let decision = match q.get("decision") {
        None => None,
        Some(d) => Some(Decision::parse(d).ok_or_else(|| bad("Unknown decision"))?),
    };
    let from = q.get("from").map(|s| parse_day(s, "From")).transpose()?;
    let until = q
        .get("to")
        .map(|s| parse_day(s, "To").map(|t| t + DAY_MS))
        .transpose()?;
    let page_no = q
        .get("page")
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let filter = SessionFilter {
        status,
        external_ref: None,
        overall_result: decision,
    };
    let mut partial = false;
    let (items, total) = if from.is_none() && until.is_none() {
        let found = state.app.kyc.list(org, &filter, page_no, PAGE_ROWS).await?;
        (found.items, found.total)
    } else {
        // The store pages newest first without a date filter: walk back to `from`.
        let mut matched = Vec::new();
        let mut p = 1;
        'scan: loop {
            let found = state.app.kyc.list(org, &filter, p, 100).await?;
            let n = found.items.len();
            for s in found.items {
                if until.is_some_and(|u| s.created_at >= u) {
                    continue;
                }
                if from.is_some_and(|f| s.created_at < f) {
                    break 'scan;
                }
                matched.push(s);
            }
            if n < 100 {
                break;
            }
            if p >= SCAN_PAGES {
                partial = true;
                break;
            }
            p += 1;
        }
        let total = matched.len() as i64;
        let skip = usize::try_from((page_no - 1).saturating_mul(PAGE_ROWS)).unwrap_or(usize::MAX);
        let items = matched
            .into_iter()
            .skip(skip)
            .take(PAGE_ROWS as usize)
            .collect();
        (items, total)
    };
    let statuses: Vec<&'static str> = SessionStatus::ALL.iter().map(|s| s.as_str()).collect();
    let pages = ((total + PAGE_ROWS - 1) / PAGE_ROWS).max(1);
    let link = |p: i64| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for k in ["status", "decision", "from", "to"] {
            if let Some(v) = q.get(k) {
                ser.append_pair(k, v);
            }
        }
        ser.append_pair("page", &p.to_string());
        format!("/admin/sessions?{}", ser.finish())
    };
    let pager = (pages > 1).then(|| Pager {
        page: page_no,
        pages,
        newer: (page_no > 1).then(|| link(page_no - 1)),
        older: (page_no < pages).then(|| link(page_no + 1)),
    });
    let current = |k: &str| q.get(k).map(String::as_str);
    page(&SessionsPage {
        selects: [
            Select::new("status", "Status", &statuses, current("status")),
            Select::new(
                "decision",
                "Decision",
                &["APPROVED", "REJECTED", "REVIEW"],
                current("decision"),
            ),
        ],
        from: current("from").unwrap_or_default().to_string(),
        to: current("to").unwrap_or_default().to_string(),
        total,
        partial,
        items,
        pager,
        shell: Shell::new(&state, &caller, Nav::Sessions, "Sessions").await?,
    })
}

/// One session: its results, decision and kept images (404 for another organisation's).
pub(super) async fn session_detail(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let s = state
        .app
        .kyc
        .get(&caller.admin.org_id, &SessionId::from_string(id))
        .await?;
    let images = state.app.kyc.images_of(&s).await?;
    let shell = Shell::new(&state, &caller, Nav::Sessions, "Session")
        .await?
        .with_notice(raw.as_deref());
    page(&SessionPage {
        shell,
        checks: check_rows(&s),
        metadata: s
            .metadata
            .as_ref()
            .map(|m| serde_json::to_string_pretty(m).unwrap_or_default()),
        images,
        decide: awaiting_review(&s),
        max_reason: MAX_REASON_CHARS,
        s,
    })
}

/// A kept capture image of a session; every view is in the audit log.
pub(super) async fn session_image(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path((id, name)): Path<(String, String)>,
) -> PageResult {
    if !["selfie", "document_front", "document_back"].contains(&name.as_str()) {
        return Err(ConsoleError(ApiError::not_found("No such image")));
    }
    let org = &caller.admin.org_id;
    let id = SessionId::from_string(id);
    let (content_type, bytes) = state
        .app
        .kyc
        .image(org, &id, &name, caller.audit("verification.image_viewed"))
        .await?;
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_to_midnight_utc() {
        assert!(matches!(
            parse_day("2025-03-07", "From"),
            Ok(1_741_305_600_000)
        ));
        assert!(parse_day("07/03/2025", "From").is_err());
    }
}

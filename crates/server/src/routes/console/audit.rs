//! The audit log and, in dev mode, the SMS inbox: read-only lists.

use super::{filters, page, ConsoleError, Nav, PageResult, Shell, Signed};
use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use axum::extract::State;
use vouch_core::model::AuditEntry;
use vouch_phone::sms::DevMessage;

/// `audit.html`.
#[derive(Template)]
#[template(path = "console/audit.html")]
struct AuditPage {
    shell: Shell,
    rows: Vec<AuditRow>,
}

/// An audit entry as listed.
struct AuditRow {
    entry: AuditEntry,
    /// The e-mail of the admin who acted, when an admin of the organisation did.
    admin_email: Option<String>,
    /// The details as JSON (empty when none).
    details: String,
}

/// `sms.html`.
#[derive(Template)]
#[template(path = "console/sms.html")]
struct SmsPage {
    shell: Shell,
    messages: Vec<DevMessage>,
}

/// The organisation's newest audit entries, admins shown by e-mail.
pub(super) async fn audit(State(state): State<AppState>, Signed(caller): Signed) -> PageResult {
    let (entries, admins) = state
        .app
        .webhooks
        .audit_log_named(&caller.admin.org_id, 200)
        .await?;
    let rows = entries
        .into_iter()
        .map(|entry| AuditRow {
            admin_email: admins.get(&entry.actor).cloned(),
            details: if entry.details.is_null() {
                String::new()
            } else {
                entry.details.to_string()
            },
            entry,
        })
        .collect();
    page(&AuditPage {
        shell: Shell::new(&state, &caller, Nav::Audit, "Audit log").await?,
        rows,
    })
}

/// Dev mode only: the texts vouch "sent" (404 with a real SMS provider).
pub(super) async fn sms(State(state): State<AppState>, Signed(caller): Signed) -> PageResult {
    let inbox = state
        .phone
        .dev_inbox
        .clone()
        .ok_or_else(|| ConsoleError(ApiError::not_found("Not found (dev mode only)")))?;
    page(&SmsPage {
        messages: inbox.list(None, 200),
        shell: Shell::new(&state, &caller, Nav::Sms, "SMS inbox").await?,
    })
}

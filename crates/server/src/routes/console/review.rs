//! The review queue (`/admin/review`) and the decision on a session awaiting review,
//! taken through the KYC use case (`vouch_app::kyc`), as the review API does.

use super::sessions::{check_rows, CheckRow, MAX_REASON_CHARS};
use super::{filters, page, see_other, FormData, Nav, PageResult, Shell, Signed, PAGE_ROWS};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use vouch_core::ids::SessionId;
use vouch_core::session::{Decision, VerificationSession};
use vouch_store::images::ImageInfo;
use vouch_store::sessions::SessionFilter;

/// `review.html`.
#[derive(Template)]
#[template(path = "console/review.html")]
struct ReviewPage {
    shell: Shell,
    /// Sessions awaiting review (more than shown when over a page).
    total: i64,
    cases: Vec<Case>,
    max_reason: usize,
}

/// A session of the queue with its results and kept images.
struct Case {
    session: VerificationSession,
    checks: Vec<CheckRow>,
    images: Vec<ImageInfo>,
}

/// The sessions awaiting review, each with its results, images and a decision form.
pub(super) async fn review_queue(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    // Completed with REVIEW (and IN_PROGRESS with REVIEW, as earlier versions queued).
    let filter = SessionFilter {
        overall_result: Some(Decision::Review),
        ..Default::default()
    };
    let found = state
        .app
        .kyc
        .list(&caller.admin.org_id, &filter, 1, PAGE_ROWS)
        .await?;
    let mut cases = Vec::with_capacity(found.items.len());
    for session in found.items {
        let images = state.app.kyc.images_of(&session).await?;
        cases.push(Case {
            checks: check_rows(&session),
            images,
            session,
        });
    }
    let shell = Shell::new(&state, &caller, Nav::Review, "Review queue")
        .await?
        .with_notice(raw.as_deref());
    page(&ReviewPage {
        shell,
        total: found.total,
        cases,
        max_reason: MAX_REASON_CHARS,
    })
}

/// Approves or rejects a session awaiting review (the KYC use case's review).
pub(super) async fn review_decide(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let review = vouch_app::kyc::Review {
        decision: form.raw("decision").unwrap_or_default(),
        note: form.raw("reason"),
    };
    let id = SessionId::from_string(id);
    let session = state
        .app
        .kyc
        .review(
            &caller.admin.org_id,
            &id,
            review,
            caller.audit("verification.reviewed"),
        )
        .await?;
    let done = if session.overall_result == Some(Decision::Approved) {
        "approved"
    } else {
        "rejected"
    };
    Ok(if form.raw("back") == Some("session") {
        see_other(&format!("/admin/sessions/{}?done={done}", id.as_str()))
    } else {
        see_other(&format!("/admin/review?done={done}"))
    })
}

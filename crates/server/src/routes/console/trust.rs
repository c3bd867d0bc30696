//! The digital ID trust list: the organisation's IACA and issuer certificates with their
//! expiry, the form that adds a PEM certificate or bundle, and removal. The same use case
//! as `vouch trust` ([`vouch_app::trust`]).

use super::{filters, page, see_other, FormData, Nav, PageResult, Shell, Signed};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use vouch_app::trust::Listed;
use vouch_core::now_millis;

/// `trust.html`.
#[derive(Template)]
#[template(path = "console/trust.html")]
struct TrustPage {
    shell: Shell,
    rows: Vec<Listed>,
    /// Warnings of what was just added (expired, expiring, not a CA).
    added: Vec<String>,
}

/// The trust list, with the add form.
pub(super) async fn trust(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let rows = state
        .app
        .trust
        .list(&caller.admin.org_id, now_millis())
        .await?;
    let shell = Shell::new(&state, &caller, Nav::Trust, "Digital ID trust list")
        .await?
        .with_notice(raw.as_deref());
    page(&TrustPage {
        shell,
        rows,
        added: Vec::new(),
    })
}

/// Adds every certificate of the pasted PEM (nothing when one of them is refused).
pub(super) async fn add(
    State(state): State<AppState>,
    Signed(caller): Signed,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let label = form
        .text("name")
        .unwrap_or_else(|| "added in the console".into());
    let pem = form.text("pem").unwrap_or_default();
    let now = now_millis();
    let added = state
        .app
        .trust
        .add_pem(
            &caller.admin.org_id,
            &label,
            &pem,
            || caller.audit("trust_anchor.added"),
            now,
        )
        .await?;
    let notes: Vec<String> = added
        .iter()
        .flat_map(|a| {
            let pinned = (!a.ca).then(|| {
                format!(
                    "{} is not a CA certificate: it is trusted as a pinned signer",
                    a.anchor.subject
                )
            });
            a.warning.clone().into_iter().chain(pinned)
        })
        .collect();
    if notes.is_empty() {
        return Ok(see_other("/admin/trust?done=created"));
    }
    // Warnings are shown once, with the list.
    let rows = state.app.trust.list(&caller.admin.org_id, now).await?;
    let shell = Shell::new(&state, &caller, Nav::Trust, "Digital ID trust list").await?;
    page(&TrustPage {
        shell,
        rows,
        added: notes,
    })
}

/// Removes a certificate.
pub(super) async fn remove(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    state
        .app
        .trust
        .remove(
            &caller.admin.org_id,
            &id,
            caller.audit("trust_anchor.removed"),
        )
        .await?;
    Ok(see_other("/admin/trust?done=deleted"))
}

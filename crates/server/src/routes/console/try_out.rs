//! "Try a verification": the signed-in admin goes through the hosted flow themself. The
//! console creates a session of their organisation on its try-out key (made on first
//! use, named [`vouch_app::keys::TRY_KEY_NAME`], all checks, no webhook, images kept one day for the
//! session page; its secret is never shown: only the console uses it), opens the hosted
//! page on the console's own origin, and the page's redirect brings them back to the
//! session's page with its result.

use super::{bad, see_other, FormData, PageResult, Signed};
use crate::AppState;
use axum::extract::{RawQuery, State};
use serde_json::json;
use vouch_core::check::Check;
use vouch_core::credential::{issue, SecretKind};
use vouch_core::now_millis;
use vouch_core::session::NewSession;

/// What a try-out checks: `document` (the default: liveness, the document and the
/// selfie matched to its portrait) or `selfie` (liveness and age).
fn checks(kind: Option<&str>) -> Option<&'static [Check]> {
    match kind {
        None | Some("document") => Some(&[Check::Liveness, Check::DocVerify, Check::FaceMatch]),
        Some("selfie") => Some(&[Check::Liveness, Check::AgeEstimation]),
        Some(_) => None,
    }
}

/// Creates the session and opens its hosted page.
pub(super) async fn try_verification(
    State(state): State<AppState>,
    Signed(caller): Signed,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let checks = checks(form.raw("kind")).ok_or_else(|| bad("Unknown kind of try-out"))?;
    let key = state
        .app
        .keys
        .try_out_key(&caller.admin.org_id, caller.audit("api_key.created"))
        .await?;
    let new = NewSession::validate(
        Some("console try-out".into()),
        Some(checks.iter().map(|c| c.as_str().to_string()).collect()),
        Some(format!("{}/admin/try/done", state.config.browser_url())),
        None,
        None,
        &key.settings.checks,
    )?;
    let token = issue(SecretKind::SessionToken);
    let expires_at = now_millis() + i64::from(key.settings.session_ttl_secs) * 1000;
    let session = state
        .app
        .kyc
        .create(
            &key.org_id,
            &key.id,
            new,
            token.hash.clone(),
            expires_at,
            caller
                .audit("verification.created")
                .details(json!({ "tryOut": true })),
        )
        .await?;
    tracing::info!(session = %session.id, "console try-out session created");
    Ok(see_other(&format!("/verify/{}", token.secret)))
}

/// Where the hosted page sends a try-out back: the session's page (`?session_id=`).
pub(super) async fn try_done(Signed(_caller): Signed, RawQuery(raw): RawQuery) -> PageResult {
    let q = super::query(raw.as_deref());
    match q.get("session_id") {
        Some(id)
            if id.len() <= 64
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Ok(see_other(&format!("/admin/sessions/{id}?done=tried")))
        }
        _ => Ok(see_other("/admin/sessions")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_try_out_checks_a_document_unless_asked_for_a_selfie_only() {
        assert_eq!(checks(None), checks(Some("document")));
        assert!(checks(None).is_some_and(|c| c.contains(&Check::FaceMatch)));
        assert_eq!(
            checks(Some("selfie")),
            Some(&[Check::Liveness, Check::AgeEstimation][..])
        );
        assert_eq!(checks(Some("<script>")), None);
    }
}

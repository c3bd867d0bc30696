//! The security page: the admin's passkeys and face 2FA, and the removal of either
//! (never of the last second factor).

use super::{filters, page, see_other, ConsoleError, FormData, Nav, PageResult, Shell, Signed};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use vouch_core::Millis;
use vouch_store::admin::AdminPasskey;

/// `security.html`.
#[derive(Template)]
#[template(path = "console/security.html")]
struct SecurityPage {
    shell: Shell,
    /// A second factor is set up.
    enrolled: bool,
    /// The enrolment deadline, and as RFC 3339 for console.js.
    enroll_by: Millis,
    enroll_by_rfc3339: String,
    passkeys: Vec<AdminPasskey>,
    /// Only one second factor is left: it cannot be removed.
    last_method: bool,
    /// Face 2FA is set up: when consent was given.
    face_consent_at: Option<Millis>,
}

/// The admin's second factors: passkeys (add, remove) and face 2FA (enrol with consent).
pub(super) async fn security(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let admin = &caller.admin;
    let passkeys = state.app.admin.passkeys(admin).await?;
    let face = admin.face_template.is_some();
    let shell = Shell::new(&state, &caller, Nav::Security, "Security")
        .await?
        .with_notice(raw.as_deref());
    page(&SecurityPage {
        shell,
        enrolled: !passkeys.is_empty() || face,
        enroll_by: admin.enroll_by,
        enroll_by_rfc3339: vouch_core::rfc3339(admin.enroll_by),
        last_method: passkeys.len() + usize::from(face) <= 1,
        passkeys,
        face_consent_at: admin.face_consent_at.filter(|_| face),
    })
}

/// Removes one of the admin's passkeys, unless it is their last second factor.
pub(super) async fn delete_passkey(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let audit = caller.audit("admin.passkey_removed").target(&id);
    crate::routes::admin_auth::remove_factor(&state, &caller, Some(&id), audit)
        .await
        .map_err(ConsoleError)?;
    Ok(see_other("/admin/security?done=passkey_deleted"))
}

/// Removes face 2FA (consent and template), unless it is the last second factor.
pub(super) async fn remove_face(
    State(state): State<AppState>,
    Signed(caller): Signed,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let admin = &caller.admin;
    if admin.face_template.is_none() {
        return Ok(see_other("/admin/security"));
    }
    let audit = caller.audit("admin.face_removed").target(&admin.id);
    crate::routes::admin_auth::remove_factor(&state, &caller, None, audit)
        .await
        .map_err(ConsoleError)?;
    Ok(see_other("/admin/security?done=face_removed"))
}

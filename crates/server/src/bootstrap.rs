//! The first administrator of a fresh install. When the database has no admin at all,
//! `vouch serve` asks [`offer`] for a one-time link (`/admin/bootstrap?token=vsb_…`) and
//! prints it; whoever opens it names the organisation and the first admin, sets a
//! password and is signed in to the console (`POST /api/auth/bootstrap`).
//!
//! The link is a bearer secret held only in this process's memory, as the SHA-256 of
//! its token ([`vouch_app::admin::Bootstrap`]): it works once, for [`BOOTSTRAP_TTL_MS`],
//! and only while no admin exists (checked again when it is redeemed). A restart prints
//! a new link and forgets the old one; once an admin exists no link is offered
//! (`vouch admin create` makes more).

use crate::AppState;

pub use vouch_app::admin::{Bootstrap, BOOTSTRAP_PREFIX as TOKEN_PREFIX, BOOTSTRAP_TTL_MS};

/// The one-time link that creates the first organisation and admin, when the database
/// has no admin yet; None when it has one.
pub async fn offer(state: &AppState) -> vouch_core::Result<Option<String>> {
    Ok(state.app.admin.offer_bootstrap().await?.map(|token| {
        format!(
            "{}/admin/bootstrap?token={token}",
            state.config.browser_url()
        )
    }))
}

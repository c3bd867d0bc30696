//! The first administrator of a fresh install. When the database has no admin at all,
//! `vouch serve` asks [`offer`] for a one-time link (`/admin/bootstrap?token=vsb_…`) and
//! prints it; whoever opens it names the organisation and the first admin, sets a
//! password and is signed in to the console (`POST /api/auth/bootstrap`).
//!
//! The link is a bearer secret held only in this process's memory, as the SHA-256 of
//! its token: it works once, for [`BOOTSTRAP_TTL_MS`], and only while no admin exists
//! (checked again when it is redeemed). A restart prints a new link and forgets the
//! old one; once an admin exists no link is offered (`vouch admin create` makes more).

use crate::admin::new_token;
use crate::AppState;
use std::sync::Mutex;
use vouch_core::credential::constant_time_eq;
use vouch_core::{now_millis, Millis};
use vouch_store::admin::token_digest;

/// How long a bootstrap link works: one hour.
pub const BOOTSTRAP_TTL_MS: Millis = 3600 * 1000;
/// Prefix of a bootstrap token.
pub const TOKEN_PREFIX: &str = "vsb_";

/// The link on offer, if any.
#[derive(Default)]
pub struct Bootstrap(Mutex<Option<Offer>>);

#[derive(Clone)]
struct Offer {
    digest: String,
    expires_at: Millis,
}

/// A redeemed offer: put it back with [`Bootstrap::restore`] when creating the admin
/// failed for a reason that is not the caller's.
pub struct Redeemed(Offer);

impl Bootstrap {
    /// A new token, replacing any earlier one.
    fn issue(&self) -> String {
        let token = new_token(TOKEN_PREFIX);
        let offer = Offer {
            digest: token_digest(&token),
            expires_at: now_millis() + BOOTSTRAP_TTL_MS,
        };
        *self.lock() = Some(offer);
        token
    }

    /// Takes the offer when `token` is its token and it has not expired; None otherwise
    /// (an unknown, used or expired link).
    pub fn redeem(&self, token: &str) -> Option<Redeemed> {
        let digest = token_digest(token);
        let mut slot = self.lock();
        let offer = slot.as_ref()?;
        if !constant_time_eq(offer.digest.as_bytes(), digest.as_bytes())
            || now_millis() >= offer.expires_at
        {
            return None;
        }
        slot.take().map(Redeemed)
    }

    /// Offers a redeemed link again (its expiry unchanged).
    pub fn restore(&self, redeemed: Redeemed) {
        let mut slot = self.lock();
        if slot.is_none() {
            *slot = Some(redeemed.0);
        }
    }

    /// Whether a link is on offer and unexpired.
    pub fn is_open(&self) -> bool {
        self.lock()
            .as_ref()
            .is_some_and(|o| now_millis() < o.expires_at)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Offer>> {
        // A poisoned lock only means a panic elsewhere while holding it; the slot is
        // still a valid Option.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The one-time link that creates the first organisation and admin, when the database
/// has no admin yet; None when it has one.
pub async fn offer(state: &AppState) -> vouch_core::Result<Option<String>> {
    if state.store.has_admins().await? {
        return Ok(None);
    }
    let token = state.bootstrap.issue();
    Ok(Some(format!(
        "{}/admin/bootstrap?token={token}",
        state.config.browser_url()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_works_once_and_only_with_its_token() {
        let b = Bootstrap::default();
        assert!(b.redeem("vsb_anything").is_none());
        let token = b.issue();
        assert!(b.is_open());
        assert!(b.redeem("vsb_wrong").is_none());
        let redeemed = b.redeem(&token).expect("the right token");
        assert!(b.redeem(&token).is_none(), "used once");
        b.restore(redeemed);
        assert!(b.redeem(&token).is_some(), "restored after a failure");
        let newer = b.issue();
        assert!(b.redeem(&token).is_none(), "a new link replaces the old");
        assert!(b.redeem(&newer).is_some());
    }

    #[test]
    fn an_expired_link_is_refused() {
        let b = Bootstrap::default();
        let token = b.issue();
        if let Some(o) = b.lock().as_mut() {
            o.expires_at = now_millis() - 1;
        }
        assert!(!b.is_open());
        assert!(b.redeem(&token).is_none());
    }
}

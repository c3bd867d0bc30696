//! Sign-in, the first password of a setup link, and sign-out. The two pages are static
//! apart from the setup token: login.js drives the admin authentication API from them.

use super::{bad, page, query, see_other, ConsoleError, FormData, PageResult, Signed, LOGIN};
use crate::admin::{clear_cookie, presented};
use crate::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use vouch_core::admin_login::LoginStage;

/// `login.html`.
#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage;

/// `setup.html`: the token of the link, or None when the link lost it.
#[derive(Template)]
#[template(path = "console/setup.html")]
struct SetupPage {
    token: Option<String>,
}

/// `bootstrap.html`: the token of the link while one is on offer.
#[derive(Template)]
#[template(path = "console/bootstrap.html")]
struct BootstrapPage {
    token: Option<String>,
}

async fn signed_in(state: &AppState, headers: &HeaderMap) -> bool {
    match presented(headers) {
        Some((token, _)) => matches!(
            state.app.admin.session(token, LoginStage::SignedIn).await,
            Ok(Some(_))
        ),
        None => false,
    }
}

/// The sign-in page (the script calls `/api/auth/login` and the 2FA step).
pub(super) async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> PageResult {
    if signed_in(&state, &headers).await {
        return Ok(see_other("/admin"));
    }
    page(&LoginPage)
}

/// A sign-in or setup form posted without its script (the script posts JSON to the API).
pub(super) async fn login_without_script() -> ConsoleError {
    bad("Signing in needs JavaScript: enable it and reload the page")
}

/// The first-password page of a setup link (`?token=`).
pub(super) async fn setup_page(RawQuery(raw): RawQuery) -> PageResult {
    let token = query(raw.as_deref()).remove("token");
    page(&SetupPage { token })
}

/// The first-run page of a fresh install's one-time link (`?token=`); without a link on
/// offer it says so (the token itself is checked when the form is posted).
pub(super) async fn bootstrap_page(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let token = query(raw.as_deref())
        .remove("token")
        .filter(|_| state.app.admin.bootstrap_link().is_open());
    page(&BootstrapPage { token })
}

/// Ends the session and clears the cookie.
pub(super) async fn logout(
    State(state): State<AppState>,
    Signed(caller): Signed,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    state
        .app
        .admin
        .logout(&caller.session, caller.audit("admin.logged_out"))
        .await?;
    let mut resp = see_other(LOGIN);
    resp.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    Ok(resp)
}

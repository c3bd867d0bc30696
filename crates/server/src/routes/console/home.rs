//! The server's front page, `GET /`: what this server is, its version, whether the
//! database and the models are ready, and links to the console, the API reference and
//! the health endpoints. Public (it says nothing an unauthenticated caller could not learn
//! from `/readyz`); served with the console's headers.

use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};

/// `home.html`.
#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    version: &'static str,
    database: &'static str,
    models: &'static str,
    models_ready: bool,
    /// A first-admin link is on offer (a fresh install).
    setup_pending: bool,
}

/// `GET /`.
pub(super) async fn home(State(state): State<AppState>) -> Response {
    let models_ready = state.engines.is_some();
    let page = HomePage {
        version: env!("CARGO_PKG_VERSION"),
        database: if state.app.health.database().await.is_ok() {
            "ready"
        } else {
            "unavailable"
        },
        models: if models_ready {
            "loaded"
        } else {
            "not installed"
        },
        models_ready,
        setup_pending: state.app.admin.bootstrap_link().is_open(),
    };
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => crate::error::ApiError::internal(e).into_response(),
    }
}

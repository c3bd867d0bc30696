//! The admin console: server-rendered pages under `/admin` for a signed-in
//! administrator ([`AdminCaller`]), over the same store calls as the JSON API, always
//! scoped to the admin's organisation. Sign-in and the first password are pages whose
//! script (`login.js`) drives the admin authentication API; the security page's script
//! (`console.js`) registers passkeys and enrols face 2FA through the same API.
//!
//! Where each page lives: its handlers in a file of this folder, its HTML in
//! `crates/server/templates/console/`.
//!
//! | Pages | Routes | File | Templates |
//! | --- | --- | --- | --- |
//! | sign-in, first password, first admin, sign-out | `/admin/login`, `/admin/setup`, `/admin/bootstrap`, `/admin/logout` | `auth.rs` | `login.html`, `setup.html`, `bootstrap.html` |
//! | overview, with the first steps | `/admin` | `overview.rs` | `overview.html` |
//! | try a verification on yourself | `/admin/try…` | `try_out.rs` | (the hosted page) |
//! | sessions, one session, its kept images | `/admin/sessions…` | `sessions.rs` | `sessions.html`, `session.html`, `case.html` |
//! | review queue and decisions | `/admin/review…` | `review.rs` | `review.html`, `case.html` |
//! | API keys, a new key's secrets | `/admin/keys…` | `keys.rs` | `keys.html`, `new_key.html` |
//! | webhook deliveries, retries | `/admin/webhooks…` | `webhooks.rs` | `webhooks.html` |
//! | verification profiles, alert rules | `/admin/profiles…`, `/admin/alerts…` | `profiles.rs` | `profiles.html`, `alerts.html` |
//! | security: passkeys, face 2FA | `/admin/security…` | `security.rs` | `security.html` |
//! | audit log, dev SMS inbox | `/admin/audit`, `/admin/sms` | `audit.rs` | `audit.html`, `sms.html` |
//! | the server's front page (public) | `/` | `home.rs` | `../home.html` |
//!
//! This file holds what they share: the router, the security headers, the extractors
//! ([`Signed`], [`FormData`]), the error page ([`ConsoleError`], `error.html`), the page
//! frame (`Shell`, `layout.html` over `base.html`) and the escaper; `filters.rs` has the
//! template filters (dates, check names).
//!
//! The HTML is askama templates, checked at compile time. Every value is escaped on
//! output by [`HtmlEntities`] (set for `.html` templates in `crates/server/askama.toml`);
//! no template marks a value safe. Shared fragments (badges, the CSRF field, a session's
//! checks, images and decision form) are macros in `ui.html` and `case.html`.
//!
//! Every state-changing form is a POST carrying the session's CSRF token (`_csrf`) and
//! writes an audit record. Every response carries `no-store`, `no-referrer`, `DENY`
//! and a CSP without inline script or style (data for scripts rides in `data-`
//! attributes). Without a session a page answers 303 to `/admin/login`.
//!
//! The pages are HTML for people, not API: they are routed outside the OpenAPI document.

mod audit;
mod auth;
mod filters;
mod home;
mod keys;
mod overview;
mod profiles;
mod review;
mod security;
mod sessions;
mod trust;
mod try_out;
mod webhooks;

use crate::admin::AdminCaller;
use crate::error::{ApiError, ApiForm};
use crate::AppState;
use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::fmt;
use utoipa_axum::router::OpenApiRouter;
use vouch_core::{now_millis, Millis};

const STYLE: &str = include_str!("../../../assets/console.css");
const SCRIPT: &str = include_str!("../../../assets/console.js");
const LOGIN_SCRIPT: &str = include_str!("../../../assets/login.js");

/// The policy of every console response: own script, style and connections only;
/// camera frames and kept images as `blob:`/`data:`; never framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; connect-src 'self'; media-src 'self' blob:; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const LOGIN: &str = "/admin/login";
/// Rows a listing page shows.
const PAGE_ROWS: i64 = 50;
/// Store pages of 100 sessions read at most for the overview and date filters.
const SCAN_PAGES: i64 = 50;
const DAY_MS: Millis = 24 * 3600 * 1000;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/admin", get(overview::overview))
        .route(
            "/admin/login",
            get(auth::login_page).post(auth::login_without_script),
        )
        .route(
            "/admin/setup",
            get(auth::setup_page).post(auth::login_without_script),
        )
        .route(
            "/admin/bootstrap",
            get(auth::bootstrap_page).post(auth::login_without_script),
        )
        .route("/admin/logout", post(auth::logout))
        .route("/admin/sessions", get(sessions::sessions))
        .route("/admin/sessions/{id}", get(sessions::session_detail))
        .route(
            "/admin/sessions/{id}/images/{name}",
            get(sessions::session_image),
        )
        .route("/admin/try", post(try_out::try_verification))
        .route("/admin/try/done", get(try_out::try_done))
        .route("/admin/review", get(review::review_queue))
        .route("/admin/review/{id}", post(review::review_decide))
        .route("/admin/keys", get(keys::keys).post(keys::create_key))
        .route("/admin/keys/{id}/rotate", post(keys::rotate_key))
        .route("/admin/keys/{id}/revoke", post(keys::revoke_key))
        .route("/admin/webhooks", get(webhooks::webhooks))
        .route("/admin/webhooks/{id}/retry", post(webhooks::retry_delivery))
        .route(
            "/admin/profiles",
            get(profiles::profiles).post(profiles::create_profile),
        )
        .route(
            "/admin/profiles/{id}/delete",
            post(profiles::delete_profile),
        )
        .route(
            "/admin/alerts",
            get(profiles::alerts).post(profiles::create_alert),
        )
        .route("/admin/alerts/{id}/delete", post(profiles::delete_alert))
        .route("/admin/security", get(security::security))
        .route(
            "/admin/security/passkeys/{id}/delete",
            post(security::delete_passkey),
        )
        .route("/admin/security/face/delete", post(security::remove_face))
        .route("/admin/trust", get(trust::trust).post(trust::add))
        .route("/admin/trust/{id}/remove", post(trust::remove))
        .route("/admin/audit", get(audit::audit))
        .route("/admin/sms", get(audit::sms))
        .route("/", get(home::home))
        .route("/admin/assets/console.css", get(style))
        .route("/admin/assets/console.js", get(script))
        .route("/admin/assets/login.js", get(login_script))
        .layer(axum::middleware::map_response(secure_headers))
}

async fn secure_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

// ---- escaping and rendering ----------------------------------------------------------

/// The escaper of the console's templates (`askama.toml` sets it for `.html`): the
/// entities of [`crate::routes::page::esc`], so the HTML is the same as the server's other
/// pages (askama's own escaper writes `&#34;` and `&#60;` where this one writes `&quot;`
/// and `&lt;`).
#[derive(Debug, Clone, Copy, Default)]
pub struct HtmlEntities;

impl askama::filters::Escaper for HtmlEntities {
    fn write_escaped_str<W: fmt::Write>(&self, mut dest: W, s: &str) -> fmt::Result {
        let mut done = 0;
        for (i, b) in s.bytes().enumerate() {
            let entity = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            // The bytes escaped are ASCII: `i` is a character boundary.
            dest.write_str(&s[done..i])?;
            dest.write_str(entity)?;
            done = i + 1;
        }
        dest.write_str(&s[done..])
    }
}

/// A template as a 200 page.
fn page(template: &impl Template) -> PageResult {
    let html = template
        .render()
        .map_err(|e| ConsoleError(ApiError::internal(e)))?;
    Ok((StatusCode::OK, Html(html)).into_response())
}

// ---- errors, extractors, forms -------------------------------------------------------

/// An error answered as an HTML page with the error's status.
#[derive(Debug)]
pub struct ConsoleError(ApiError);

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError(e)
    }
}

impl From<vouch_core::Error> for ConsoleError {
    fn from(e: vouch_core::Error) -> Self {
        ConsoleError(e.into())
    }
}

/// The error page (`error.html`).
#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        let title = status.canonical_reason().unwrap_or("Error");
        let page = ErrorPage {
            title,
            code: self.0.code,
            message: &self.0.message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            // Not reached (the template only writes strings); the status still goes out.
            Err(_) => (status, self.0.message).into_response(),
        }
    }
}

type PageResult = Result<Response, ConsoleError>;

fn bad(message: impl Into<String>) -> ConsoleError {
    ConsoleError(ApiError::bad_request(message))
}

/// A signed-in admin for a page; without a live session, a 303 to the sign-in page.
pub struct Signed(pub AdminCaller);

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match AdminCaller::from_request_parts(parts, state).await {
            Ok(caller) => Ok(Signed(caller)),
            Err(e) if e.status == StatusCode::UNAUTHORIZED => {
                Err(Redirect::to(LOGIN).into_response())
            }
            Err(e) => Err(ConsoleError(e).into_response()),
        }
    }
}

/// A submitted form (`application/x-www-form-urlencoded`), its fields in order.
pub struct FormData(Vec<(String, String)>);

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ConsoleError> {
        let ApiForm(fields) = ApiForm::<Vec<(String, String)>>::from_request(req, state).await?;
        Ok(FormData(fields))
    }
}

impl FormData {
    fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A field, trimmed; None when missing or blank.
    fn text(&self, name: &str) -> Option<String> {
        self.raw(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A number field, or `default` when blank.
    fn number<T: std::str::FromStr>(
        &self,
        name: &str,
        label: &str,
        default: T,
    ) -> Result<T, ConsoleError> {
        match self.text(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| bad(format!("{label} must be a number"))),
        }
    }

    /// The form's CSRF token must be the session's (before anything else is read).
    fn check(&self, caller: &AdminCaller) -> Result<(), ConsoleError> {
        caller.check_csrf(self.raw("_csrf")).map_err(ConsoleError)
    }
}

fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

fn query(raw: Option<&str>) -> HashMap<String, String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.trim().to_string()))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// The message of a `?done=` code after an action (fixed texts only).
fn notice(q: &HashMap<String, String>) -> Option<&'static str> {
    Some(match q.get("done").map(String::as_str)? {
        "approved" => "The session was approved.",
        "rejected" => "The session was rejected.",
        "revoked" => "The key was revoked.",
        "retried" => "The delivery is queued again.",
        "created" => "Created.",
        "deleted" => "Deleted.",
        "passkey_deleted" => "The passkey was removed.",
        "face_removed" => "Face 2FA was removed.",
        "welcome" => "Your organisation is ready. Create an API key for your application, or try a verification on yourself first.",
        "tried" => "Your try-out is complete: its result is below.",
        _ => return None,
    })
}

// ---- the page frame ------------------------------------------------------------------

/// The console's navigation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nav {
    Overview,
    Sessions,
    Review,
    Keys,
    Webhooks,
    Profiles,
    Alerts,
    Security,
    Trust,
    Audit,
    Sms,
}

const NAV: [(Nav, &str, &str); 11] = [
    (Nav::Overview, "/admin", "Overview"),
    (Nav::Sessions, "/admin/sessions", "Sessions"),
    (Nav::Review, "/admin/review", "Review queue"),
    (Nav::Keys, "/admin/keys", "API keys"),
    (Nav::Webhooks, "/admin/webhooks", "Webhooks"),
    (Nav::Profiles, "/admin/profiles", "Profiles"),
    (Nav::Alerts, "/admin/alerts", "Alert rules"),
    (Nav::Security, "/admin/security", "Security"),
    (Nav::Trust, "/admin/trust", "Trust list"),
    (Nav::Audit, "/admin/audit", "Audit log"),
    (Nav::Sms, "/admin/sms", "SMS inbox (dev)"),
];

/// A link of the navigation.
struct NavLink {
    href: &'static str,
    label: &'static str,
    active: bool,
}

/// What `layout.html` shows around a page: the navigation, the organisation, the admin
/// and their CSRF token, the second-factor banner, the title and the `?done=` notice.
struct Shell {
    title: &'static str,
    csrf: String,
    org: String,
    email: String,
    nav: Vec<NavLink>,
    /// Without a second factor, before the deadline: the deadline (the banner asks).
    enrol_by: Option<String>,
    /// Without a second factor, after the deadline (the banner insists).
    enrol_late: bool,
    notice: Option<&'static str>,
}

impl Shell {
    /// The frame of a page of `nav` titled `title`.
    async fn new(
        state: &AppState,
        caller: &AdminCaller,
        nav: Nav,
        title: &'static str,
    ) -> Result<Self, ConsoleError> {
        let org = state.app.orgs.get(&caller.admin.org_id).await?;
        let dev = state.phone.dev_inbox.is_some();
        let nav = NAV
            .iter()
            .filter(|(n, _, _)| *n != Nav::Sms || dev)
            .map(|&(n, href, label)| NavLink {
                href,
                label,
                active: n == nav,
            })
            .collect();
        let unenrolled = !has_second_factor(state, caller).await?;
        let before_deadline = caller.admin.enroll_by > now_millis();
        Ok(Shell {
            title,
            csrf: caller.session.csrf.clone(),
            org: org.name,
            email: caller.admin.email.clone(),
            nav,
            enrol_by: (unenrolled && before_deadline)
                .then(|| filters::when_ms(caller.admin.enroll_by)),
            enrol_late: unenrolled && !before_deadline,
            notice: None,
        })
    }

    /// With the notice of the query's `done=` code, if any.
    fn with_notice(mut self, raw_query: Option<&str>) -> Self {
        self.notice = notice(&query(raw_query));
        self
    }
}

/// Whether the admin has a second factor; none means the enrolment deadline applies.
async fn has_second_factor(state: &AppState, caller: &AdminCaller) -> Result<bool, ConsoleError> {
    let (passkey, face) = state.app.admin.methods(&caller.admin).await?;
    Ok(passkey || face)
}

// ---- assets ------------------------------------------------------------------------

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

async fn login_script() -> Response {
    asset("text/javascript; charset=utf-8", LOGIN_SCRIPT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_fixed_texts() {
        let mut q = HashMap::new();
        q.insert("done".to_string(), "<script>".to_string());
        assert_eq!(notice(&q), None);
        q.insert("done".to_string(), "revoked".to_string());
        assert_eq!(notice(&q), Some("The key was revoked."));
    }

    #[test]
    fn the_escaper_writes_the_entities_of_the_other_pages() {
        use askama::filters::Escaper;
        for s in ["", "plain", "<a href=\"x\">'&'</a>", "é<ü>ß\"", "&&"] {
            let mut out = String::new();
            assert!(HtmlEntities.write_escaped_str(&mut out, s).is_ok());
            assert_eq!(out, crate::routes::page::esc(s), "{s}");
        }
    }

    #[test]
    fn the_error_page_escapes_the_message() {
        let resp = ConsoleError(ApiError::bad_request("<b>\"no\"</b>")).into_response();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let page = ErrorPage {
            title: "Bad Request",
            code: "bad_request",
            message: "<b>\"no\"</b>",
        };
        let html = page.render().expect("renders");
        assert!(html.contains("<p id=\"error\">&lt;b&gt;&quot;no&quot;&lt;/b&gt;</p>"));
        assert!(html.contains("data-code=\"bad_request\""));
    }
}

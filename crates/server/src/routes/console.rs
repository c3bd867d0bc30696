//! The admin console: server-rendered pages under `/admin` for a signed-in
//! administrator ([`AdminCaller`]), over the same store calls as the JSON API, always
//! scoped to the admin's organisation. Sign-in and the first password are pages whose
//! script (`login.js`) drives the admin authentication API; the security page's script
//! (`console.js`) registers passkeys and enrols face 2FA through the same API.
//!
//! Every state-changing form is a POST carrying the session's CSRF token (`_csrf`) and
//! writes an audit record. Every response carries `no-store`, `no-referrer`, `DENY`
//! and a CSP without inline script or style (data for scripts rides in `data-`
//! attributes). Without a session a page answers 303 to `/admin/login`.
//!
//! The pages are HTML for people, not API: they are routed outside the OpenAPI document.

use crate::admin::{clear_cookie, live_session, presented, AdminCaller};
use crate::error::{ApiError, ApiForm};
use crate::routes::identity::ProfileBody;
use crate::routes::page::esc;
use crate::AppState;
use axum::extract::{FromRequest, FromRequestParts, Path, RawQuery, Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{json, Value};
use std::collections::HashMap;
use utoipa_axum::router::OpenApiRouter;
use vouch_core::check::{Check, Thresholds};
use vouch_core::ids::{DeliveryId, KeyId, SessionId};
use vouch_core::model::{ApiKey, Branding, KeySettings};
use vouch_core::session::{Decision, SessionStatus, VerificationSession};
use vouch_core::{now_millis, Millis};
use vouch_store::sessions::SessionFilter;
use vouch_store::tenancy::NewApiKey;

const STYLE: &str = include_str!("../../assets/console.css");
const SCRIPT: &str = include_str!("../../assets/console.js");
const LOGIN_SCRIPT: &str = include_str!("../../assets/login.js");

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
/// The longest review reason, in characters (as the review API).
const MAX_REASON_CHARS: usize = vouch_app::kyc::MAX_REVIEW_NOTE_CHARS;

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/admin", get(overview))
        .route("/admin/login", get(login_page).post(login_without_script))
        .route("/admin/setup", get(setup_page).post(login_without_script))
        .route("/admin/logout", post(logout))
        .route("/admin/sessions", get(sessions))
        .route("/admin/sessions/{id}", get(session_detail))
        .route("/admin/sessions/{id}/images/{name}", get(session_image))
        .route("/admin/review", get(review_queue))
        .route("/admin/review/{id}", post(review_decide))
        .route("/admin/keys", get(keys).post(create_key))
        .route("/admin/keys/{id}/rotate", post(rotate_key))
        .route("/admin/keys/{id}/revoke", post(revoke_key))
        .route("/admin/webhooks", get(webhooks))
        .route("/admin/webhooks/{id}/retry", post(retry_delivery))
        .route("/admin/profiles", get(profiles).post(create_profile))
        .route("/admin/profiles/{id}/delete", post(delete_profile))
        .route("/admin/alerts", get(alerts).post(create_alert))
        .route("/admin/alerts/{id}/delete", post(delete_alert))
        .route("/admin/security", get(security))
        .route("/admin/security/passkeys/{id}/delete", post(delete_passkey))
        .route("/admin/security/face/delete", post(remove_face))
        .route("/admin/audit", get(audit))
        .route("/admin/sms", get(sms))
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

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let status = self.0.status;
        let title = status.canonical_reason().unwrap_or("Error");
        let body = format!(
            "<main class=\"auth\" id=\"problem\" data-code=\"{code}\"><h1>{title}</h1>\
             <p id=\"error\">{message}</p><p><a href=\"/admin\">Back to the console</a></p></main>",
            code = esc(self.0.code),
            title = esc(title),
            message = esc(&self.0.message),
        );
        (status, Html(plain_document(title, &body, false))).into_response()
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

// ---- rendering helpers -------------------------------------------------------------

fn when(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn when_opt(ms: Option<Millis>) -> String {
    ms.map_or_else(|| "—".to_string(), when)
}

fn badge(text: &str) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        esc(&text.to_ascii_lowercase()),
        esc(text)
    )
}

fn csrf_field(caller: &AdminCaller) -> String {
    format!(
        "<input type=\"hidden\" name=\"_csrf\" value=\"{}\">",
        esc(&caller.session.csrf)
    )
}

/// A one-button POST form (revoke, delete, retry…), confirmed by console.js.
fn action_form(
    caller: &AdminCaller,
    action: &str,
    label: &str,
    class: &str,
    confirm: Option<&str>,
) -> String {
    let confirm = confirm.map_or(String::new(), |c| format!(" data-confirm=\"{}\"", esc(c)));
    format!(
        "<form method=\"post\" action=\"{}\"{confirm}>{}<button type=\"submit\" class=\"{}\">{}</button></form>",
        esc(action),
        csrf_field(caller),
        esc(class),
        esc(label),
    )
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(json_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

fn check_names(checks: &[Check]) -> String {
    checks
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The message of a `?done=` code after an action (fixed texts only).
fn notice(q: &HashMap<String, String>) -> String {
    let text = match q.get("done").map(String::as_str) {
        Some("approved") => "The session was approved.",
        Some("rejected") => "The session was rejected.",
        Some("revoked") => "The key was revoked.",
        Some("retried") => "The delivery is queued again.",
        Some("created") => "Created.",
        Some("deleted") => "Deleted.",
        Some("passkey_deleted") => "The passkey was removed.",
        Some("face_removed") => "Face 2FA was removed.",
        _ => return String::new(),
    };
    format!("<p class=\"notice\" id=\"notice\">{text}</p>")
}

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
    Audit,
    Sms,
}

const NAV: [(Nav, &str, &str); 10] = [
    (Nav::Overview, "/admin", "Overview"),
    (Nav::Sessions, "/admin/sessions", "Sessions"),
    (Nav::Review, "/admin/review", "Review queue"),
    (Nav::Keys, "/admin/keys", "API keys"),
    (Nav::Webhooks, "/admin/webhooks", "Webhooks"),
    (Nav::Profiles, "/admin/profiles", "Profiles"),
    (Nav::Alerts, "/admin/alerts", "Alert rules"),
    (Nav::Security, "/admin/security", "Security"),
    (Nav::Audit, "/admin/audit", "Audit log"),
    (Nav::Sms, "/admin/sms", "SMS inbox (dev)"),
];

fn plain_document(title: &str, body: &str, login_script: bool) -> String {
    let scripts = if login_script {
        "<script src=\"/admin/assets/console.js\" defer></script>\
         <script src=\"/admin/assets/login.js\" defer></script>"
    } else {
        ""
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{} · vouch console</title>\
         <link rel=\"stylesheet\" href=\"/admin/assets/console.css\"></head>\
         <body>{body}{scripts}</body></html>",
        esc(title)
    )
}

/// Whether the admin has a second factor; none means the enrolment deadline applies.
async fn has_second_factor(state: &AppState, caller: &AdminCaller) -> Result<bool, ConsoleError> {
    Ok(caller.admin.face_template.is_some()
        || !state
            .store
            .admin_passkeys(&caller.admin.id)
            .await?
            .is_empty())
}

/// A console page: the navigation, the enrolment banner and `body` under `title`.
async fn render(
    state: &AppState,
    caller: &AdminCaller,
    nav: Nav,
    title: &str,
    body: &str,
) -> PageResult {
    let org = state.store.org(&caller.admin.org_id).await?;
    let dev = state.phone.dev_inbox.is_some();
    let links: String = NAV
        .iter()
        .filter(|(n, _, _)| *n != Nav::Sms || dev)
        .map(|(n, href, label)| {
            let class = if *n == nav { " class=\"active\"" } else { "" };
            format!("<li><a href=\"{href}\"{class}>{label}</a></li>")
        })
        .collect();
    let banner = if has_second_factor(state, caller).await? {
        String::new()
    } else if caller.admin.enroll_by > now_millis() {
        format!(
            "<p class=\"banner\" id=\"enrol-banner\">Set up a second factor (a passkey or face 2FA) \
             by {}: after that, sign-in is blocked until you do. <a href=\"/admin/security\">Security</a></p>",
            esc(&when(caller.admin.enroll_by))
        )
    } else {
        "<p class=\"banner late\" id=\"enrol-banner\">The deadline to set up a second factor has \
         passed: <a href=\"/admin/security\">set one up now</a>.</p>"
            .to_string()
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title} · vouch console</title>\
         <link rel=\"stylesheet\" href=\"/admin/assets/console.css\"></head>\
         <body data-csrf=\"{csrf}\"><div class=\"shell\">\
         <nav class=\"side\" aria-label=\"Console\"><div class=\"brand\">vouch</div>\
         <div class=\"org\">{org}</div><ul>{links}</ul>\
         <form method=\"post\" action=\"/admin/logout\" class=\"logout\">{csrf_field}\
         <span class=\"who\">{email}</span><button type=\"submit\" id=\"logout\">Sign out</button></form></nav>\
         <main class=\"content\">{banner}<h1>{title}</h1>{body}</main></div>\
         <script src=\"/admin/assets/console.js\" defer></script></body></html>",
        title = esc(title),
        csrf = esc(&caller.session.csrf),
        org = esc(&org.name),
        csrf_field = csrf_field(caller),
        email = esc(&caller.admin.email),
    );
    Ok((StatusCode::OK, Html(html)).into_response())
}

// ---- sign-in, setup, sign-out -------------------------------------------------------

async fn signed_in(state: &AppState, headers: &HeaderMap) -> bool {
    match presented(headers) {
        Some((token, _)) => matches!(live_session(state, token, "full").await, Ok(Some(_))),
        None => false,
    }
}

/// The sign-in page (the script calls `/api/auth/login` and the 2FA step).
async fn login_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if signed_in(&state, &headers).await {
        return see_other("/admin");
    }
    let body = "<main class=\"auth\"><h1>vouch console</h1>\
        <form id=\"login-form\" method=\"post\" action=\"/admin/login\">\
        <label for=\"email\">E-mail</label>\
        <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required autofocus>\
        <label for=\"password\">Password</label>\
        <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
        <button id=\"login\" type=\"submit\">Sign in</button></form>\
        <section id=\"second-factor\" hidden><h2>Two-factor authentication</h2>\
        <button id=\"use-passkey\" type=\"button\" hidden>Use a passkey</button>\
        <button id=\"use-face\" type=\"button\" class=\"secondary\" hidden>Scan my face</button>\
        <div id=\"face-step\" hidden><video id=\"face-video\" class=\"camera\" playsinline muted autoplay hidden></video>\
        <p id=\"face-prompt\" class=\"prompt\" aria-live=\"assertive\"></p></div></section>\
        <p id=\"error\" role=\"alert\"></p><p id=\"status\" class=\"muted\" aria-live=\"polite\"></p></main>";
    (StatusCode::OK, Html(plain_document("Sign in", body, true))).into_response()
}

/// A sign-in or setup form posted without its script (the script posts JSON to the API).
async fn login_without_script() -> ConsoleError {
    bad("Signing in needs JavaScript: enable it and reload the page")
}

/// The first-password page of a setup link (`?token=`).
async fn setup_page(RawQuery(raw): RawQuery) -> Response {
    let q = query(raw.as_deref());
    let body = match q.get("token") {
        Some(token) => format!(
            "<main class=\"auth\"><h1>Set your password</h1>\
             <form id=\"setup-form\" method=\"post\" action=\"/admin/setup\" data-token=\"{}\">\
             <label for=\"password\">New password</label>\
             <input id=\"password\" type=\"password\" autocomplete=\"new-password\" minlength=\"12\" required autofocus>\
             <label for=\"password-confirm\">Repeat it</label>\
             <input id=\"password-confirm\" type=\"password\" autocomplete=\"new-password\" minlength=\"12\" required>\
             <button id=\"setup\" type=\"submit\">Set password</button></form>\
             <p id=\"error\" role=\"alert\"></p><p id=\"status\" class=\"muted\" aria-live=\"polite\"></p>\
             <p id=\"to-login\" hidden><a href=\"/admin/login\">Sign in</a></p></main>",
            esc(token)
        ),
        None => "<main class=\"auth\"><h1>Set your password</h1>\
             <p id=\"error\" role=\"alert\">This setup link is incomplete: open the whole link \
             from your invitation.</p></main>"
            .to_string(),
    };
    (
        StatusCode::OK,
        Html(plain_document("Set your password", &body, true)),
    )
        .into_response()
}

/// Ends the session and clears the cookie.
async fn logout(
    State(state): State<AppState>,
    Signed(caller): Signed,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    state.store.delete_admin_session(&caller.session.id).await?;
    state
        .store
        .append_audit(&caller.audit("admin.logged_out"))
        .await?;
    let mut resp = see_other(LOGIN);
    resp.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    Ok(resp)
}

// ---- overview ----------------------------------------------------------------------

/// Sessions counted by status and decision.
#[derive(Default)]
struct Tally {
    total: i64,
    by_status: [i64; 5],
    approved: i64,
    rejected: i64,
    review: i64,
}

impl Tally {
    fn add(&mut self, s: &VerificationSession) {
        self.total += 1;
        if let Some(i) = SessionStatus::ALL.iter().position(|st| *st == s.status) {
            self.by_status[i] += 1;
        }
        match s.overall_result {
            Some(Decision::Approved) => self.approved += 1,
            Some(Decision::Rejected) => self.rejected += 1,
            Some(Decision::Review) => self.review += 1,
            None => {}
        }
    }

    fn decided(&self) -> i64 {
        self.approved + self.rejected + self.review
    }
}

fn rate(n: i64, of: i64) -> String {
    if of == 0 {
        "—".into()
    } else {
        format!("{:.1} %", n as f64 * 100.0 / of as f64)
    }
}

fn is_failure(d: &vouch_store::outbox::Delivery) -> bool {
    matches!(d.status.as_str(), "dead" | "disabled") || (d.status == "pending" && d.attempts > 0)
}

/// The overview: sessions of the last 24 hours and 7 days, rates, webhook failures.
async fn overview(State(state): State<AppState>, Signed(caller): Signed) -> PageResult {
    let org = &caller.admin.org_id;
    let now = now_millis();
    let (day, week) = (now - DAY_MS, now - 7 * DAY_MS);
    let (mut last_day, mut last_week) = (Tally::default(), Tally::default());
    let mut partial = false;
    let mut page = 1;
    'pages: loop {
        let found = state
            .store
            .list_sessions(org, &SessionFilter::default(), page, 100)
            .await?;
        for s in &found.items {
            if s.created_at < week {
                break 'pages;
            }
            last_week.add(s);
            if s.created_at >= day {
                last_day.add(s);
            }
        }
        if found.items.len() < 100 {
            break;
        }
        if page >= SCAN_PAGES {
            partial = true;
            break;
        }
        page += 1;
    }
    let queue = state
        .store
        .list_sessions(
            org,
            &SessionFilter {
                status: Some(SessionStatus::InProgress),
                overall_result: Some(Decision::Review),
                ..Default::default()
            },
            1,
            1,
        )
        .await?
        .total;
    let stat = |id: &str, value: String, label: &str| {
        format!(
            "<div class=\"stat\" id=\"{id}\"><div class=\"value\">{}</div><div class=\"label\">{}</div></div>",
            esc(&value),
            esc(label)
        )
    };
    let mut body = String::from("<div class=\"stats\">");
    body.push_str(&stat(
        "stat-24h",
        last_day.total.to_string(),
        "sessions, last 24 h",
    ));
    body.push_str(&stat(
        "stat-7d",
        last_week.total.to_string(),
        "sessions, last 7 days",
    ));
    body.push_str(&stat(
        "stat-pass",
        rate(last_week.approved, last_week.decided()),
        "pass rate, 7 days",
    ));
    body.push_str(&stat(
        "stat-review",
        rate(last_week.review, last_week.decided()),
        "awaiting review, of decided, 7 days",
    ));
    body.push_str(&stat(
        "stat-queue",
        queue.to_string(),
        "in the review queue",
    ));
    body.push_str("</div>");
    body.push_str(
        "<h2>Sessions by status and decision</h2><table id=\"session-stats\"><thead><tr><th></th>\
         <th class=\"num\">Last 24 h</th><th class=\"num\">Last 7 days</th></tr></thead><tbody>",
    );
    let row = |label: &str, a: String, b: String| {
        format!(
            "<tr><th>{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(label),
            esc(&a),
            esc(&b)
        )
    };
    body.push_str(&row(
        "All sessions",
        last_day.total.to_string(),
        last_week.total.to_string(),
    ));
    for (i, st) in SessionStatus::ALL.iter().enumerate() {
        body.push_str(&row(
            st.as_str(),
            last_day.by_status[i].to_string(),
            last_week.by_status[i].to_string(),
        ));
    }
    for (label, a, b) in [
        ("Approved", last_day.approved, last_week.approved),
        ("Rejected", last_day.rejected, last_week.rejected),
        ("Awaiting review", last_day.review, last_week.review),
    ] {
        body.push_str(&row(label, a.to_string(), b.to_string()));
    }
    body.push_str(&row(
        "Pass rate (approved of decided)",
        rate(last_day.approved, last_day.decided()),
        rate(last_week.approved, last_week.decided()),
    ));
    body.push_str(&row(
        "Review rate (awaiting review of decided)",
        rate(last_day.review, last_day.decided()),
        rate(last_week.review, last_week.decided()),
    ));
    body.push_str("</tbody></table>");
    if partial {
        body.push_str(&format!(
            "<p class=\"muted\">Counted over the newest {} sessions only.</p>",
            SCAN_PAGES * 100
        ));
    }
    let failures: Vec<_> = state
        .store
        .list_deliveries(org, 200)
        .await?
        .into_iter()
        .filter(is_failure)
        .take(10)
        .collect();
    body.push_str("<h2>Last webhook failures</h2>");
    if failures.is_empty() {
        body.push_str("<p class=\"muted\" id=\"no-failures\">No failed deliveries.</p>");
    } else {
        body.push_str(
            "<table id=\"failures\"><thead><tr><th>Created</th><th>Event</th><th>URL</th><th>Status</th>\
             <th class=\"num\">Attempts</th><th>Last error</th></tr></thead><tbody>",
        );
        for d in &failures {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&when(d.created_at)),
                esc(&d.event_type),
                esc(&d.url),
                badge(&d.status),
                d.attempts,
                esc(&last_error(d)),
            ));
        }
        body.push_str("</tbody></table><p><a href=\"/admin/webhooks\">All deliveries</a></p>");
    }
    render(&state, &caller, Nav::Overview, "Overview", &body).await
}

fn last_error(d: &vouch_store::outbox::Delivery) -> String {
    match (d.last_status, d.last_error.as_deref()) {
        (Some(code), Some(e)) => format!("HTTP {code}: {e}"),
        (Some(code), None) => format!("HTTP {code}"),
        (None, Some(e)) => e.to_string(),
        (None, None) => "—".into(),
    }
}

// ---- sessions ----------------------------------------------------------------------

fn parse_day(s: &str, what: &str) -> Result<Millis, ConsoleError> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc().timestamp_millis())
        .ok_or_else(|| bad(format!("{what} must be a date (YYYY-MM-DD)")))
}

fn select(name: &str, label: &str, options: &[&str], current: Option<&str>) -> String {
    let mut out = format!(
        "<label>{}<br><select name=\"{name}\" id=\"filter-{name}\"><option value=\"\">Any</option>",
        esc(label)
    );
    for o in options {
        let sel = if current == Some(*o) { " selected" } else { "" };
        out.push_str(&format!(
            "<option value=\"{o}\"{sel}>{o}</option>",
            o = esc(o)
        ));
    }
    out.push_str("</select></label>");
    out
}

fn session_rows(items: &[VerificationSession]) -> String {
    let mut out = String::from(
        "<table id=\"sessions\"><thead><tr><th>Session</th><th>Reference</th><th>Status</th><th>Decision</th>\
         <th>Checks</th><th>Created</th><th>Finished</th></tr></thead><tbody>",
    );
    for s in items {
        out.push_str(&format!(
            "<tr><td><a class=\"mono\" href=\"/admin/sessions/{id}\">{id}</a></td><td>{r}</td><td>{st}</td>\
             <td>{d}</td><td>{c}</td><td>{cr}</td><td>{f}</td></tr>",
            id = esc(s.id.as_str()),
            r = esc(s.external_ref.as_deref().unwrap_or("—")),
            st = badge(s.status.as_str()),
            d = s.overall_result.map_or("—".to_string(), |d| badge(d.as_str())),
            c = esc(&check_names(&s.checks)),
            cr = esc(&when(s.created_at)),
            f = esc(&when_opt(s.finished_at)),
        ));
    }
    if items.is_empty() {
        out.push_str("<tr><td colspan=\"7\" class=\"muted\">No sessions.</td></tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// The session list with filters (status, decision, creation dates) in the query.
async fn sessions(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let org = &caller.admin.org_id;
    let q = query(raw.as_deref());
    let status = match q.get("status") {
        None => None,
        Some(s) => Some(SessionStatus::parse(s).ok_or_else(|| bad("Unknown status"))?),
    };
    let decision = match q.get("decision") {
        None => None,
        Some(d) => Some(Decision::parse(d).ok_or_else(|| bad("Unknown decision"))?),
    };
    let from = q.get("from").map(|s| parse_day(s, "From")).transpose()?;
    let until = q
        .get("to")
        .map(|s| parse_day(s, "To").map(|t| t + DAY_MS))
        .transpose()?;
    let page = q
        .get("page")
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let filter = SessionFilter {
        status,
        external_ref: None,
        overall_result: decision,
    };
    let mut partial = false;
    let (items, total) = if from.is_none() && until.is_none() {
        let found = state
            .store
            .list_sessions(org, &filter, page, PAGE_ROWS)
            .await?;
        (found.items, found.total)
    } else {
        // The store pages newest first without a date filter: walk back to `from`.
        let mut matched = Vec::new();
        let mut p = 1;
        'scan: loop {
            let found = state.store.list_sessions(org, &filter, p, 100).await?;
            let n = found.items.len();
            for s in found.items {
                if until.is_some_and(|u| s.created_at >= u) {
                    continue;
                }
                if from.is_some_and(|f| s.created_at < f) {
                    break 'scan;
                }
                matched.push(s);
            }
            if n < 100 {
                break;
            }
            if p >= SCAN_PAGES {
                partial = true;
                break;
            }
            p += 1;
        }
        let total = matched.len() as i64;
        let skip = usize::try_from((page - 1).saturating_mul(PAGE_ROWS)).unwrap_or(usize::MAX);
        let items = matched
            .into_iter()
            .skip(skip)
            .take(PAGE_ROWS as usize)
            .collect();
        (items, total)
    };
    let statuses: Vec<&str> = SessionStatus::ALL.iter().map(|s| s.as_str()).collect();
    let mut body = format!(
        "<form method=\"get\" action=\"/admin/sessions\" class=\"filters\" id=\"session-filters\">{}{}\
         <label>Created from<br><input type=\"date\" name=\"from\" value=\"{}\"></label>\
         <label>to<br><input type=\"date\" name=\"to\" value=\"{}\"></label>\
         <button type=\"submit\">Filter</button> <a href=\"/admin/sessions\">Clear</a></form>",
        select(
            "status",
            "Status",
            &statuses,
            q.get("status").map(String::as_str)
        ),
        select(
            "decision",
            "Decision",
            &["APPROVED", "REJECTED", "REVIEW"],
            q.get("decision").map(String::as_str)
        ),
        esc(q.get("from").map_or("", String::as_str)),
        esc(q.get("to").map_or("", String::as_str)),
    );
    body.push_str(&format!(
        "<p class=\"muted\" id=\"session-count\">{total} session(s){}</p>",
        if partial {
            " among the newest scanned"
        } else {
            ""
        }
    ));
    body.push_str(&session_rows(&items));
    let pages = ((total + PAGE_ROWS - 1) / PAGE_ROWS).max(1);
    if pages > 1 {
        let link = |p: i64| {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            for k in ["status", "decision", "from", "to"] {
                if let Some(v) = q.get(k) {
                    ser.append_pair(k, v);
                }
            }
            ser.append_pair("page", &p.to_string());
            format!("/admin/sessions?{}", ser.finish())
        };
        body.push_str("<p class=\"pager\">");
        if page > 1 {
            body.push_str(&format!(
                "<a href=\"{}\" rel=\"prev\">← Newer</a>",
                esc(&link(page - 1))
            ));
        }
        body.push_str(&format!("<span>Page {page} of {pages}</span>"));
        if page < pages {
            body.push_str(&format!(
                "<a href=\"{}\" rel=\"next\">Older →</a>",
                esc(&link(page + 1))
            ));
        }
        body.push_str("</p>");
    }
    render(&state, &caller, Nav::Sessions, "Sessions", &body).await
}

/// A session's check results as a table.
fn checks_table(s: &VerificationSession) -> String {
    let Value::Object(checks) = s.checks_json() else {
        return String::new();
    };
    let mut out = String::from(
        "<table class=\"checks\"><thead><tr><th>Check</th><th>Result</th><th>Details</th></tr></thead><tbody>",
    );
    for (name, v) in &checks {
        let result = v
            .get("result")
            .and_then(Value::as_str)
            .or_else(|| v.get("status").and_then(Value::as_str))
            .unwrap_or("—");
        let details = v.as_object().map_or(String::new(), |o| {
            o.iter()
                .filter(|(k, v)| *k != "result" && *k != "status" && !v.is_null())
                .map(|(k, v)| format!("{k}: {}", json_text(v)))
                .collect::<Vec<_>>()
                .join(" · ")
        });
        out.push_str(&format!(
            "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
            esc(name),
            badge(result),
            esc(&details)
        ));
    }
    out.push_str("</tbody></table>");
    out
}

/// The kept capture images of a session, served by [`session_image`].
async fn images_html(state: &AppState, s: &VerificationSession) -> Result<String, ConsoleError> {
    let images = state.store.session_images(&s.org_id, &s.id).await?;
    if images.is_empty() {
        return Ok("<p class=\"muted\">No images are kept for this session.</p>".into());
    }
    let mut out = String::from("<div class=\"images\">");
    for im in &images {
        out.push_str(&format!(
            "<figure><img src=\"/admin/sessions/{id}/images/{name}\" alt=\"{name}\">\
             <figcaption>{name} · {kept}</figcaption></figure>",
            id = esc(s.id.as_str()),
            name = esc(&im.name),
            kept = esc(&im
                .delete_after
                .map_or("kept while undecided".to_string(), |t| format!(
                    "kept until {}",
                    when(t)
                ))),
        ));
    }
    out.push_str("</div>");
    Ok(out)
}

fn awaiting_review(s: &VerificationSession) -> bool {
    s.status == SessionStatus::InProgress && s.overall_result == Some(Decision::Review)
}

fn review_form(caller: &AdminCaller, s: &VerificationSession, back: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/admin/review/{id}\" class=\"review-form\">{csrf}\
         <input type=\"hidden\" name=\"back\" value=\"{back}\">\
         <label>Reason (kept in the audit log)<br>\
         <textarea name=\"reason\" rows=\"2\" maxlength=\"{MAX_REASON_CHARS}\"></textarea></label>\
         <div class=\"actions\"><button type=\"submit\" class=\"approve\" name=\"decision\" value=\"APPROVED\">Approve</button>\
         <button type=\"submit\" class=\"reject\" name=\"decision\" value=\"REJECTED\">Reject</button></div></form>",
        id = esc(s.id.as_str()),
        csrf = csrf_field(caller),
        back = esc(back),
    )
}

/// One session: its results, decision and kept images (404 for another organisation's).
async fn session_detail(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let s = state
        .store
        .session(&caller.admin.org_id, &SessionId::from_string(id))
        .await?;
    let q = query(raw.as_deref());
    let mut body = notice(&q);
    body.push_str(&format!(
        "<table id=\"session\"><tbody>\
         <tr><th>Session</th><td class=\"mono\">{id}</td></tr>\
         <tr><th>Reference</th><td>{r}</td></tr>\
         <tr><th>Status</th><td id=\"session-status\">{st}</td></tr>\
         <tr><th>Decision</th><td id=\"session-decision\">{d}</td></tr>\
         <tr><th>API key</th><td class=\"mono\">{k}</td></tr>\
         <tr><th>Checks</th><td>{c}</td></tr>\
         <tr><th>Created</th><td>{cr}</td></tr>\
         <tr><th>Expires</th><td>{ex}</td></tr>\
         <tr><th>Finished</th><td>{f}</td></tr></tbody></table>",
        id = esc(s.id.as_str()),
        r = esc(s.external_ref.as_deref().unwrap_or("—")),
        st = badge(s.status.as_str()),
        d = s
            .overall_result
            .map_or("—".to_string(), |d| badge(d.as_str())),
        k = esc(s.key_id.as_str()),
        c = esc(&check_names(&s.checks)),
        cr = esc(&when(s.created_at)),
        ex = esc(&when(s.expires_at)),
        f = esc(&when_opt(s.finished_at)),
    ));
    body.push_str("<h2>Check results</h2>");
    body.push_str(&checks_table(&s));
    if let Some(m) = &s.metadata {
        body.push_str(&format!(
            "<h2>Metadata</h2><pre class=\"panel\">{}</pre>",
            esc(&serde_json::to_string_pretty(m).unwrap_or_default())
        ));
    }
    body.push_str("<h2>Images</h2>");
    body.push_str(&images_html(&state, &s).await?);
    if awaiting_review(&s) {
        body.push_str("<h2>Decide</h2>");
        body.push_str(&review_form(&caller, &s, "session"));
    }
    render(&state, &caller, Nav::Sessions, "Session", &body).await
}

/// A kept capture image of a session; every view is in the audit log.
async fn session_image(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path((id, name)): Path<(String, String)>,
) -> PageResult {
    if !["selfie", "document_front", "document_back"].contains(&name.as_str()) {
        return Err(ConsoleError(ApiError::not_found("No such image")));
    }
    let org = &caller.admin.org_id;
    let id = SessionId::from_string(id);
    let (content_type, bytes) = state.store.session_image(org, &id, &name).await?;
    state
        .store
        .append_audit(
            &caller
                .audit("verification.image_viewed")
                .target(&id)
                .details(json!({ "image": name })),
        )
        .await?;
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

// ---- review ------------------------------------------------------------------------

/// The sessions awaiting review, each with its results, images and a decision form.
async fn review_queue(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let filter = SessionFilter {
        status: Some(SessionStatus::InProgress),
        overall_result: Some(Decision::Review),
        ..Default::default()
    };
    let found = state
        .store
        .list_sessions(&caller.admin.org_id, &filter, 1, PAGE_ROWS)
        .await?;
    let q = query(raw.as_deref());
    let mut body = notice(&q);
    body.push_str(&format!(
        "<p class=\"muted\" id=\"queue-count\">{} session(s) await review. A decision completes the \
         session, fires its webhook and is recorded in the audit log with your reason.</p>",
        found.total
    ));
    for s in &found.items {
        body.push_str(&format!(
            "<article class=\"case\" data-session=\"{id}\"><h2><a class=\"mono\" href=\"/admin/sessions/{id}\">{id}</a></h2>\
             <p class=\"muted\">Reference: {r} · created {cr} · checks: {c}</p>",
            id = esc(s.id.as_str()),
            r = esc(s.external_ref.as_deref().unwrap_or("—")),
            cr = esc(&when(s.created_at)),
            c = esc(&check_names(&s.checks)),
        ));
        body.push_str(&checks_table(s));
        body.push_str(&images_html(&state, s).await?);
        body.push_str(&review_form(&caller, s, "review"));
        body.push_str("</article>");
    }
    render(&state, &caller, Nav::Review, "Review queue", &body).await
}

/// Approves or rejects a session awaiting review (the review API's store call).
async fn review_decide(
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

// ---- API keys ----------------------------------------------------------------------

fn key_status(k: &ApiKey, now: Millis) -> &'static str {
    if k.revoked_at.is_some() {
        "REVOKED"
    } else if k.is_active(now) {
        "ACTIVE"
    } else {
        "EXPIRED"
    }
}

fn key_form(caller: &AdminCaller) -> String {
    let d = KeySettings::default();
    let checks: String = Check::ALL
        .iter()
        .map(|c| {
            format!(
                "<label class=\"inline\"><input type=\"checkbox\" name=\"checks\" value=\"{c}\" checked> {c}</label>",
                c = c.as_str()
            )
        })
        .collect();
    format!(
        "<form method=\"post\" action=\"/admin/keys\" class=\"panel\" id=\"create-key\">{csrf}\
         <label>Name<br><input type=\"text\" name=\"name\" id=\"key-name\" required maxlength=\"100\"></label>\
         <fieldset><legend>Checks</legend>{checks}</fieldset>\
         <fieldset><legend>Thresholds and limits</legend><div class=\"grid\">\
         <label>Liveness (0–1)<br><input type=\"number\" name=\"liveness\" step=\"0.01\" min=\"0\" max=\"1\" value=\"{lv}\"></label>\
         <label>Face match (0–1)<br><input type=\"number\" name=\"face_match\" step=\"0.01\" min=\"0\" max=\"1\" value=\"{fm}\"></label>\
         <label>Minimum age<br><input type=\"number\" name=\"min_age\" min=\"0\" max=\"120\" value=\"{age}\"></label>\
         <label>Requests a minute<br><input type=\"number\" name=\"rate_limit\" min=\"1\" value=\"{rl}\"></label>\
         <label>Session lifetime (minutes)<br><input type=\"number\" name=\"session_ttl_minutes\" min=\"1\" value=\"{ttl}\"></label>\
         <label>Keep images (days)<br><input type=\"number\" name=\"image_retention_days\" min=\"0\" max=\"90\" value=\"{keep}\"></label>\
         </div></fieldset>\
         <fieldset><legend>Webhook and branding</legend>\
         <label>Webhook URL<br><input type=\"url\" name=\"webhook_url\" placeholder=\"https://example.com/webhooks/vouch\"></label>\
         <label>Display name<br><input type=\"text\" name=\"display_name\" maxlength=\"100\"></label>\
         <label>Logo URL<br><input type=\"url\" name=\"logo_url\"></label>\
         <label>Accent colour<br><input type=\"text\" name=\"accent_color\" placeholder=\"#2952cc\" maxlength=\"7\"></label>\
         </fieldset><button type=\"submit\" id=\"create-key-submit\">Create key</button></form>",
        csrf = csrf_field(caller),
        lv = d.thresholds.liveness,
        fm = d.thresholds.face_match,
        age = d.thresholds.min_age,
        rl = d.rate_limit,
        ttl = d.session_ttl_secs / 60,
        keep = d.image_retention_days,
    )
}

/// The organisation's API keys, with the create form.
async fn keys(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let list = state.store.list_api_keys(&caller.admin.org_id).await?;
    let now = now_millis();
    let mut body = notice(&query(raw.as_deref()));
    body.push_str(
        "<table id=\"keys\"><thead><tr><th>Name</th><th>Key</th><th>Checks</th><th class=\"num\">Requests/min</th>\
         <th>Webhook</th><th>Created</th><th>Status</th><th>Actions</th></tr></thead><tbody>",
    );
    for k in &list {
        let status = key_status(k, now);
        let webhook = match (&k.settings.webhook_url, k.webhook_disabled_at) {
            (None, _) => "—".to_string(),
            (Some(u), None) => format!("<span class=\"mono\">{}</span>", esc(u)),
            (Some(u), Some(_)) => {
                format!(
                    "<span class=\"mono\">{}</span> {}",
                    esc(u),
                    badge("DISABLED")
                )
            }
        };
        let actions = if k.revoked_at.is_none() {
            format!(
                "{} {}",
                action_form(
                    &caller,
                    &format!("/admin/keys/{}/rotate", k.id.as_str()),
                    "Rotate",
                    "secondary",
                    Some("Create a replacement key with the same settings and revoke this one?"),
                ),
                action_form(
                    &caller,
                    &format!("/admin/keys/{}/revoke", k.id.as_str()),
                    "Revoke",
                    "danger",
                    Some("Revoke this key? Requests with it will be refused."),
                )
            )
        } else {
            String::new()
        };
        body.push_str(&format!(
            "<tr data-key=\"{id}\"><td>{name}</td><td><code>{prefix}…</code></td><td>{checks}</td>\
             <td class=\"num\">{rl}</td><td>{webhook}</td><td>{created}</td><td>{status}</td><td>{actions}</td></tr>",
            id = esc(k.id.as_str()),
            name = esc(&k.name),
            prefix = esc(&k.prefix),
            checks = esc(&check_names(&k.settings.checks)),
            rl = k.settings.rate_limit,
            created = esc(&when(k.created_at)),
            status = badge(status),
        ));
    }
    if list.is_empty() {
        body.push_str("<tr><td colspan=\"8\" class=\"muted\">No keys yet.</td></tr>");
    }
    body.push_str("</tbody></table><h2>Create a key</h2>");
    body.push_str(&key_form(&caller));
    render(&state, &caller, Nav::Keys, "API keys", &body).await
}

fn key_settings(form: &FormData) -> Result<KeySettings, ConsoleError> {
    let d = KeySettings::default();
    let mut checks = Vec::new();
    for name in form.all("checks") {
        let c = Check::parse(name).ok_or_else(|| bad(format!("Unknown check {name:?}")))?;
        if !checks.contains(&c) {
            checks.push(c);
        }
    }
    if checks.is_empty() {
        return Err(bad("Choose at least one check"));
    }
    let ttl_minutes: u32 = form.number(
        "session_ttl_minutes",
        "Session lifetime",
        d.session_ttl_secs / 60,
    )?;
    let settings = KeySettings {
        checks,
        thresholds: Thresholds {
            liveness: form.number("liveness", "Liveness threshold", d.thresholds.liveness)?,
            face_match: form.number(
                "face_match",
                "Face match threshold",
                d.thresholds.face_match,
            )?,
            min_age: form.number("min_age", "Minimum age", d.thresholds.min_age)?,
        },
        rate_limit: form.number("rate_limit", "Requests a minute", d.rate_limit)?,
        webhook_url: form.text("webhook_url"),
        branding: Branding {
            display_name: form.text("display_name"),
            logo_url: form.text("logo_url"),
            accent_color: form.text("accent_color"),
        },
        expires_at: None,
        session_ttl_secs: ttl_minutes.saturating_mul(60),
        image_retention_days: form.number(
            "image_retention_days",
            "Image retention",
            d.image_retention_days,
        )?,
    };
    settings.validate()?;
    Ok(settings)
}

/// The page that shows a new key's secrets, once.
async fn new_key_page(
    state: &AppState,
    caller: &AdminCaller,
    created: &NewApiKey,
    replaced: Option<&KeyId>,
) -> PageResult {
    let replaced = replaced.map_or(String::new(), |old| {
        format!(
            "<p id=\"replaced\">It replaces key <code>{}</code>, which is now revoked.</p>",
            esc(old.as_str())
        )
    });
    let body = format!(
        "<p class=\"banner\">Copy the key now: it is shown only once. vouch keeps only its digest.</p>{replaced}\
         <table><tbody><tr><th>Name</th><td>{name}</td></tr><tr><th>Key id</th><td class=\"mono\" id=\"new-key-id\">{id}</td></tr></tbody></table>\
         <h2>API key</h2><code class=\"secret\" id=\"new-key-secret\">{secret}</code>\
         <button type=\"button\" class=\"secondary\" data-copy=\"new-key-secret\">Copy</button>\
         <h2>Webhook signing secret</h2><code class=\"secret\" id=\"new-webhook-secret\">{whsec}</code>\
         <button type=\"button\" class=\"secondary\" data-copy=\"new-webhook-secret\">Copy</button>\
         <p><a href=\"/admin/keys\">Back to the keys</a></p>",
        name = esc(&created.key.name),
        id = esc(created.key.id.as_str()),
        secret = esc(&created.secret),
        whsec = esc(&created.webhook_secret),
    );
    render(state, caller, Nav::Keys, "New API key", &body).await
}

/// Creates a key and shows its secret once.
async fn create_key(
    State(state): State<AppState>,
    Signed(caller): Signed,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let name = form.text("name").ok_or_else(|| bad("A name is required"))?;
    let settings = key_settings(&form)?;
    let created = state
        .store
        .create_api_key(
            &caller.admin.org_id,
            &name,
            settings,
            caller.audit("api_key.created"),
        )
        .await?;
    new_key_page(&state, &caller, &created, None).await
}

/// Rotates a key: a replacement with the same name and settings, then the old revoked.
async fn rotate_key(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let org = &caller.admin.org_id;
    let old = state.store.api_key(org, &KeyId::from_string(id)).await?;
    if old.revoked_at.is_some() {
        return Err(ConsoleError(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "A revoked key cannot be rotated",
        )));
    }
    let created = state
        .store
        .create_api_key(
            org,
            &old.name,
            old.settings.clone(),
            caller
                .audit("api_key.created")
                .details(json!({ "rotates": old.id })),
        )
        .await?;
    state
        .store
        .revoke_api_key(
            org,
            &old.id,
            caller
                .audit("api_key.revoked")
                .details(json!({ "rotatedTo": created.key.id })),
        )
        .await?;
    new_key_page(&state, &caller, &created, Some(&old.id)).await
}

/// Revokes a key.
async fn revoke_key(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    state
        .store
        .revoke_api_key(
            &caller.admin.org_id,
            &KeyId::from_string(id),
            caller.audit("api_key.revoked"),
        )
        .await?;
    Ok(see_other("/admin/keys?done=revoked"))
}

// ---- webhooks ----------------------------------------------------------------------

/// The newest webhook deliveries, with a retry button for dead or disabled ones.
async fn webhooks(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let list = state
        .store
        .list_deliveries(&caller.admin.org_id, 100)
        .await?;
    let mut body = notice(&query(raw.as_deref()));
    body.push_str(
        "<table id=\"deliveries\"><thead><tr><th>Created</th><th>Event</th><th>API key</th><th>URL</th><th>Status</th>\
         <th class=\"num\">Attempts</th><th>Last answer</th><th>Finished</th><th></th></tr></thead><tbody>",
    );
    for d in &list {
        let retry = if matches!(d.status.as_str(), "dead" | "disabled") {
            action_form(
                &caller,
                &format!("/admin/webhooks/{}/retry", d.id),
                "Retry",
                "secondary",
                None,
            )
        } else {
            String::new()
        };
        body.push_str(&format!(
            "<tr data-delivery=\"{id}\"><td>{cr}</td><td>{ev}</td><td class=\"mono\">{key}</td><td class=\"mono\">{url}</td>\
             <td>{st}</td><td class=\"num\">{n}</td><td>{last}</td><td>{fin}</td><td>{retry}</td></tr>",
            id = esc(&d.id),
            cr = esc(&when(d.created_at)),
            ev = esc(&d.event_type),
            key = esc(&d.key_id),
            url = esc(&d.url),
            st = badge(&d.status),
            n = d.attempts,
            last = esc(&last_error(d)),
            fin = esc(&when_opt(d.finished_at)),
        ));
    }
    if list.is_empty() {
        body.push_str("<tr><td colspan=\"9\" class=\"muted\">No deliveries yet.</td></tr>");
    }
    body.push_str("</tbody></table>");
    render(&state, &caller, Nav::Webhooks, "Webhook deliveries", &body).await
}

/// Queues a dead or disabled delivery again.
async fn retry_delivery(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    state
        .store
        .retry_delivery(
            &caller.admin.org_id,
            &DeliveryId::from_string(id),
            caller.audit("webhook.retried"),
        )
        .await?;
    state.outbox_notify.notify_one();
    Ok(see_other("/admin/webhooks?done=retried"))
}

// ---- profiles and alert rules ------------------------------------------------------------

/// The verification profiles, with the create form.
async fn profiles(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let list = state.store.list_profiles(&caller.admin.org_id).await?;
    let mut body = notice(&query(raw.as_deref()));
    body.push_str(
        "<table id=\"profiles\"><thead><tr><th>Slug</th><th>Name</th><th>Configuration</th><th>Updated</th><th></th>\
         </tr></thead><tbody>",
    );
    for p in &list {
        body.push_str(&format!(
            "<tr data-profile=\"{id}\"><td class=\"mono\">{slug}</td><td>{name}</td><td><pre>{cfg}</pre></td><td>{up}</td><td>{del}</td></tr>",
            id = esc(p.id.as_str()),
            slug = esc(&p.slug),
            name = esc(&p.name),
            cfg = esc(&serde_json::to_string_pretty(&p.config).unwrap_or_default()),
            up = esc(&when(p.updated_at)),
            del = action_form(
                &caller,
                &format!("/admin/profiles/{}/delete", p.id.as_str()),
                "Delete",
                "danger",
                Some("Delete this profile? Calls that name it will be refused."),
            ),
        ));
    }
    if list.is_empty() {
        body.push_str("<tr><td colspan=\"5\" class=\"muted\">No profiles yet.</td></tr>");
    }
    body.push_str(&format!(
        "</tbody></table><h2>Create a profile</h2>\
         <form method=\"post\" action=\"/admin/profiles\" class=\"panel\" id=\"create-profile\">{csrf}\
         <label>Name<br><input type=\"text\" name=\"name\" required maxlength=\"100\"></label>\
         <label>Slug (a-z, 0-9, -)<br><input type=\"text\" name=\"slug\" required maxlength=\"64\"></label>\
         <label>Minimum composite score (0–1)<br><input type=\"number\" name=\"min_composite_score\" step=\"0.01\" min=\"0\" max=\"1\" value=\"0.5\"></label>\
         <label>Allowed countries for geoFence (ISO codes, comma-separated)<br><input type=\"text\" name=\"allowed_countries\" placeholder=\"PT, ES\"></label>\
         <label>Checks (JSON object, optional)<br><textarea name=\"checks\" rows=\"4\" \
         placeholder='{{\"liveness\": {{\"enabled\": true, \"weight\": 2, \"hardFail\": true}}}}'></textarea></label>\
         <label>Time window for timeRestriction (JSON, optional)<br><textarea name=\"time_window\" rows=\"2\" \
         placeholder='{{\"timeZone\": \"Europe/Lisbon\", \"startHour\": 8, \"endHour\": 20}}'></textarea></label>\
         <button type=\"submit\">Create profile</button></form>",
        csrf = csrf_field(&caller),
    ));
    render(
        &state,
        &caller,
        Nav::Profiles,
        "Verification profiles",
        &body,
    )
    .await
}

fn json_field(form: &FormData, name: &str, label: &str) -> Result<Option<Value>, ConsoleError> {
    form.text(name)
        .map(|t| serde_json::from_str(&t).map_err(|e| bad(format!("{label}: invalid JSON ({e})"))))
        .transpose()
}

/// Creates a profile (validated as the identity API does).
async fn create_profile(
    State(state): State<AppState>,
    Signed(caller): Signed,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let slug = form.text("slug").ok_or_else(|| bad("A slug is required"))?;
    let countries = form.text("allowed_countries").map(|c| {
        c.split(',')
            .map(|s| s.trim().to_ascii_uppercase())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    });
    let body = ProfileBody {
        name: form.text("name").unwrap_or_default(),
        slug: Some(slug.clone()),
        checks: json_field(&form, "checks", "Checks")?.unwrap_or(Value::Null),
        min_composite_score: form
            .text("min_composite_score")
            .map(|v| {
                v.parse::<f64>()
                    .map_err(|_| bad("The minimum composite score must be a number"))
            })
            .transpose()?,
        allowed_countries: countries,
        time_window: json_field(&form, "time_window", "Time window")?,
    };
    let config = body.config()?;
    state
        .store
        .create_profile(
            &caller.admin.org_id,
            &slug,
            body.name.trim(),
            &config,
            caller.audit("profile.created"),
        )
        .await?;
    Ok(see_other("/admin/profiles?done=created"))
}

/// Deletes a profile.
async fn delete_profile(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    state
        .store
        .delete_profile(&caller.admin.org_id, &id, caller.audit("profile.deleted"))
        .await?;
    Ok(see_other("/admin/profiles?done=deleted"))
}

/// The alert rules, with the create form.
async fn alerts(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let list = state.store.list_alert_rules(&caller.admin.org_id).await?;
    let mut body = notice(&query(raw.as_deref()));
    body.push_str(
        "<p class=\"muted\">A rule fires <code>alert.triggered</code> to the key's webhook when this many \
         verifications fail within the window, for one person or one device.</p>\
         <table id=\"alerts\"><thead><tr><th>Name</th><th>Scope</th><th class=\"num\">Failures</th>\
         <th class=\"num\">Window (min)</th><th>Created</th><th></th></tr></thead><tbody>",
    );
    for r in &list {
        body.push_str(&format!(
            "<tr data-rule=\"{id}\"><td>{name}</td><td>{scope}</td><td class=\"num\">{t}</td><td class=\"num\">{w}</td>\
             <td>{cr}</td><td>{del}</td></tr>",
            id = esc(r.id.as_str()),
            name = esc(&r.name),
            scope = esc(&r.scope),
            t = r.threshold,
            w = r.window_minutes,
            cr = esc(&when(r.created_at)),
            del = action_form(
                &caller,
                &format!("/admin/alerts/{}/delete", r.id.as_str()),
                "Delete",
                "danger",
                Some("Delete this alert rule?"),
            ),
        ));
    }
    if list.is_empty() {
        body.push_str("<tr><td colspan=\"6\" class=\"muted\">No alert rules yet.</td></tr>");
    }
    body.push_str(&format!(
        "</tbody></table><h2>Create a rule</h2>\
         <form method=\"post\" action=\"/admin/alerts\" class=\"panel\" id=\"create-alert\">{csrf}\
         <label>Name<br><input type=\"text\" name=\"name\" required maxlength=\"100\"></label>\
         <label>Scope<br><select name=\"scope\"><option value=\"person\">person</option>\
         <option value=\"device\">device</option></select></label>\
         <label>Failures (1–1000)<br><input type=\"number\" name=\"threshold\" min=\"1\" max=\"1000\" value=\"5\"></label>\
         <label>Window in minutes (1–10080)<br><input type=\"number\" name=\"window_minutes\" min=\"1\" max=\"10080\" value=\"60\"></label>\
         <button type=\"submit\">Create rule</button></form>",
        csrf = csrf_field(&caller),
    ));
    render(&state, &caller, Nav::Alerts, "Alert rules", &body).await
}

/// Creates an alert rule.
async fn create_alert(
    State(state): State<AppState>,
    Signed(caller): Signed,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let name = form.text("name").unwrap_or_default();
    let scope = form.text("scope").unwrap_or_default();
    let threshold: i64 = form.number("threshold", "Failures", 0)?;
    let window: i64 = form.number("window_minutes", "Window", 0)?;
    state
        .store
        .create_alert_rule(
            &caller.admin.org_id,
            &name,
            &scope,
            threshold,
            window,
            caller.audit("alert_rule.created"),
        )
        .await?;
    Ok(see_other("/admin/alerts?done=created"))
}

/// Deletes an alert rule.
async fn delete_alert(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    state
        .store
        .delete_alert_rule(
            &caller.admin.org_id,
            &id,
            caller.audit("alert_rule.deleted"),
        )
        .await?;
    Ok(see_other("/admin/alerts?done=deleted"))
}

// ---- security ----------------------------------------------------------------------

/// The admin's second factors: passkeys (add, remove) and face 2FA (enrol with consent).
async fn security(
    State(state): State<AppState>,
    Signed(caller): Signed,
    RawQuery(raw): RawQuery,
) -> PageResult {
    let admin = &caller.admin;
    let passkeys = state.store.admin_passkeys(&admin.id).await?;
    let enrolled = !passkeys.is_empty() || admin.face_template.is_some();
    let mut body = notice(&query(raw.as_deref()));
    body.push_str(&format!(
        "<p id=\"enrol-deadline\" data-enroll-by=\"{by}\">{text}</p>",
        by = esc(&vouch_core::rfc3339(admin.enroll_by)),
        text = if enrolled {
            "A second factor is set up. Keep at least one: you cannot remove the last.".to_string()
        } else {
            format!(
                "Second factor required by <strong>{}</strong>: after that date, sign-in is blocked until one is set up.",
                esc(&when(admin.enroll_by))
            )
        },
    ));
    let last_method = passkeys.len() + usize::from(admin.face_template.is_some()) <= 1;
    body.push_str(
        "<h2>Passkeys</h2><table id=\"passkeys\"><thead><tr><th>Name</th><th>Added</th><th>Last used</th><th></th>\
         </tr></thead><tbody>",
    );
    for p in &passkeys {
        let remove = if last_method {
            "<span class=\"muted\">last second factor</span>".to_string()
        } else {
            action_form(
                &caller,
                &format!("/admin/security/passkeys/{}/delete", p.id),
                "Remove",
                "danger",
                Some("Remove this passkey?"),
            )
        };
        body.push_str(&format!(
            "<tr data-passkey=\"{id}\"><td>{name}</td><td>{cr}</td><td>{used}</td><td>{remove}</td></tr>",
            id = esc(&p.id),
            name = esc(&p.name),
            cr = esc(&when(p.created_at)),
            used = esc(&when_opt(p.last_used_at)),
        ));
    }
    if passkeys.is_empty() {
        body.push_str("<tr><td colspan=\"4\" class=\"muted\">No passkeys yet.</td></tr>");
    }
    body.push_str(
        "</tbody></table><div class=\"panel\"><label>Name of the new passkey<br>\
         <input type=\"text\" id=\"passkey-name\" maxlength=\"100\" placeholder=\"MacBook Touch ID\"></label>\
         <button type=\"button\" id=\"add-passkey\">Add a passkey</button>\
         <p id=\"passkey-status\" class=\"muted\" aria-live=\"polite\"></p></div>",
    );
    body.push_str("<h2>Face 2FA</h2>");
    match admin.face_consent_at {
        Some(at) if admin.face_template.is_some() => {
            body.push_str(&format!(
                "<p id=\"face-status\">Face 2FA is set up (consent given {}).</p>",
                esc(&when(at))
            ));
            if !last_method {
                body.push_str(&action_form(
                    &caller,
                    "/admin/security/face/delete",
                    "Remove face 2FA and delete the template",
                    "danger",
                    Some("Remove face 2FA? Your face template will be deleted."),
                ));
            }
        }
        _ => body.push_str("<p id=\"face-status\">Face 2FA is not set up.</p>"),
    }
    body.push_str(
        "<div class=\"panel\" id=\"face-enrol\"><p>Face 2FA compares a live scan of your face, with a blink, \
         against a template kept sealed on this server for your account only. You can remove it at any time \
         here; removing it deletes the template.</p>\
         <label class=\"inline\"><input type=\"checkbox\" id=\"face-consent\"> I consent to vouch processing \
         my face scan and keeping a biometric template of it for signing in to this console.</label>\
         <div><video id=\"face-video\" class=\"camera\" playsinline muted autoplay hidden></video></div>\
         <p id=\"face-prompt\" class=\"prompt\" aria-live=\"assertive\"></p>\
         <button type=\"button\" id=\"face-start\" disabled>Scan my face</button></div>",
    );
    render(&state, &caller, Nav::Security, "Security", &body).await
}

/// Removes one of the admin's passkeys, unless it is their last second factor.
async fn delete_passkey(
    State(state): State<AppState>,
    Signed(caller): Signed,
    Path(id): Path<String>,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    super::admin_auth::remove_factor(&state, &caller, Some(&id))
        .await
        .map_err(ConsoleError)?;
    state
        .store
        .append_audit(&caller.audit("admin.passkey_removed").target(&id))
        .await?;
    Ok(see_other("/admin/security?done=passkey_deleted"))
}

/// Removes face 2FA (consent and template), unless it is the last second factor.
async fn remove_face(
    State(state): State<AppState>,
    Signed(caller): Signed,
    form: FormData,
) -> PageResult {
    form.check(&caller)?;
    let admin = &caller.admin;
    if admin.face_template.is_none() {
        return Ok(see_other("/admin/security"));
    }
    super::admin_auth::remove_factor(&state, &caller, None)
        .await
        .map_err(ConsoleError)?;
    state
        .store
        .append_audit(&caller.audit("admin.face_removed").target(&admin.id))
        .await?;
    Ok(see_other("/admin/security?done=face_removed"))
}

// ---- audit log and dev SMS inbox -----------------------------------------------------------

/// The organisation's newest audit entries, admins shown by e-mail.
async fn audit(State(state): State<AppState>, Signed(caller): Signed) -> PageResult {
    let org = &caller.admin.org_id;
    let entries = state.store.list_audit(org, 200).await?;
    let admins: HashMap<String, String> = state
        .store
        .list_admins(org)
        .await?
        .into_iter()
        .map(|a| (format!("admin:{}", a.id), a.email))
        .collect();
    let mut body = String::from(
        "<table id=\"audit\"><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Target</th><th>Details</th>\
         </tr></thead><tbody>",
    );
    for e in &entries {
        let who = admins.get(&e.actor).map_or_else(
            || esc(&e.actor),
            |email| format!("{} <span class=\"muted\">(admin)</span>", esc(email)),
        );
        let details = if e.details.is_null() {
            String::new()
        } else {
            e.details.to_string()
        };
        body.push_str(&format!(
            "<tr><td>{}</td><td>{who}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td><pre>{}</pre></td></tr>",
            esc(&when(e.created_at)),
            esc(&e.action),
            esc(e.target.as_deref().unwrap_or("")),
            esc(&details),
        ));
    }
    if entries.is_empty() {
        body.push_str("<tr><td colspan=\"5\" class=\"muted\">Nothing recorded yet.</td></tr>");
    }
    body.push_str("</tbody></table>");
    render(&state, &caller, Nav::Audit, "Audit log", &body).await
}

/// Dev mode only: the texts vouch "sent" (404 with a real SMS provider).
async fn sms(State(state): State<AppState>, Signed(caller): Signed) -> PageResult {
    let inbox = state
        .phone
        .dev_inbox
        .clone()
        .ok_or_else(|| ConsoleError(ApiError::not_found("Not found (dev mode only)")))?;
    let messages = inbox.list(None, 200);
    let mut body = String::from(
        "<p class=\"muted\">Dev mode: texts stay on this machine. Newest first.</p>\
         <table id=\"sms\"><thead><tr><th>Sent</th><th>To</th><th>Text</th></tr></thead><tbody>",
    );
    for m in &messages {
        body.push_str(&format!(
            "<tr><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
            esc(&m.sent_at),
            esc(&m.to),
            esc(&m.body),
        ));
    }
    if messages.is_empty() {
        body.push_str("<tr><td colspan=\"3\" class=\"muted\">No texts yet.</td></tr>");
    }
    body.push_str("</tbody></table>");
    render(&state, &caller, Nav::Sms, "SMS inbox", &body).await
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
    fn rates_show_a_dash_without_decisions() {
        assert_eq!(rate(0, 0), "—");
        assert_eq!(rate(1, 4), "25.0 %");
    }

    #[test]
    fn notices_are_fixed_texts() {
        let mut q = HashMap::new();
        q.insert("done".to_string(), "<script>".to_string());
        assert_eq!(notice(&q), "");
        q.insert("done".to_string(), "revoked".to_string());
        assert!(notice(&q).contains("The key was revoked."));
    }

    #[test]
    fn days_parse_to_midnight_utc() {
        assert!(matches!(
            parse_day("2025-03-07", "From"),
            Ok(1_741_305_600_000)
        ));
        assert!(parse_day("07/03/2025", "From").is_err());
    }
}

//! The hosted verification page at a session's `verificationUrl`: server-rendered HTML in
//! the visitor's language, branded with the key's name, logo and colour, plus its script
//! and style sheet (embedded in the binary; no build step). The script drives the capture
//! against the endpoints of [`super::hosted`].
//!
//! The page works inside an `<iframe allow="camera">` (no `X-Frame-Options`; CSP
//! `frame-ancestors *`), where it posts `{type: 'provefy:complete', data: {sessionId,
//! overallResult}}` to the parent window; outside one it sends the user to the session's
//! `redirectUrl` with `session_id` and `result`.

use crate::i18n::{self, Lang};
use crate::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use vouch_core::check::Check;
use vouch_core::session::{SessionStatus, VerificationSession};

const SCRIPT: &str = include_str!("../../assets/verify.js");
const STYLE: &str = include_str!("../../assets/verify.css");
const REVIEW_SCRIPT: &str = include_str!("../../assets/review.js");

/// The review page's policy: as the hosted page's, but never framed.
const REVIEW_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The page's Content-Security-Policy: its own script and style only, images from the
/// key's logo (https) and the camera, requests to this server; any site may frame it.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob: https:; media-src 'self' blob: mediastream:; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors *";

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the page shows of the key's branding.
struct Brand {
    name: String,
    logo: Option<String>,
    accent: String,
}

fn respond(status: StatusCode, html: String) -> Response {
    let mut resp = (status, Html(html)).into_response();
    let h = resp.headers_mut();
    // The token in the URL is a credential: keep it out of caches and referrers.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
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

fn document(lang: Lang, brand: &Brand, body: &str) -> String {
    let logo = brand.logo.as_deref().map_or(String::new(), |url| {
        format!("<img class=\"logo\" src=\"{}\" alt=\"\">", esc(url))
    });
    format!(
        "<!doctype html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title} · {name}</title>\
         <link rel=\"stylesheet\" href=\"/assets/verify.css\"></head>\
         <body data-accent=\"{accent}\"><header class=\"brand\">{logo}<span class=\"brand-name\">{name}</span></header>\
         {body}</body></html>",
        lang = lang.tag(),
        title = esc(i18n::text(lang, "title")),
        name = esc(&brand.name),
        accent = esc(&brand.accent),
    )
}

/// A page with a title and one message (expired, cancelled, complete, unknown link).
fn message_page(
    status: StatusCode,
    lang: Lang,
    brand: &Brand,
    title: &str,
    text: &str,
) -> Response {
    let body = format!(
        "<main class=\"card\" id=\"message\"><h1>{}</h1><p>{}</p></main>\
         <script src=\"/assets/verify.js\" defer></script>",
        esc(i18n::text(lang, title)),
        esc(i18n::text(lang, text)),
    );
    respond(status, document(lang, brand, &body))
}

fn needs_selfie(checks: &[Check]) -> bool {
    checks
        .iter()
        .any(|c| matches!(c, Check::Liveness | Check::AgeEstimation | Check::FaceMatch))
}

/// A document is read for doc_verify, and photographed for face match unless a digital
/// ID gives the reference portrait.
fn needs_document(checks: &[Check]) -> bool {
    checks.contains(&Check::DocVerify)
        || (checks.contains(&Check::FaceMatch) && !checks.contains(&Check::DigitalId))
}

fn section(id: &str, hidden: bool, inner: &str) -> String {
    format!(
        "<section id=\"{id}\"{}>{inner}</section>",
        if hidden { " hidden" } else { "" }
    )
}

fn flow_page(lang: Lang, brand: &Brand, s: &VerificationSession, done: &[&str]) -> Response {
    flow_page_for(
        lang,
        brand,
        Steps {
            digital_id: s.checks.contains(&Check::DigitalId),
            selfie: needs_selfie(&s.checks),
            document: needs_document(&s.checks),
        },
        done,
        None,
    )
}

/// The capture steps a page runs, in this order.
struct Steps {
    digital_id: bool,
    selfie: bool,
    document: bool,
}

fn flow_page_for(
    lang: Lang,
    brand: &Brand,
    which: Steps,
    done: &[&str],
    purpose: Option<&str>,
) -> Response {
    let Steps {
        digital_id,
        selfie,
        document: with_document,
    } = which;
    let t = |k: &str| esc(i18n::text(lang, k));
    let mut steps = Vec::new();
    if digital_id {
        steps.push("digital_id");
    }
    if selfie {
        steps.push("selfie");
    }
    if with_document {
        steps.push("document");
    }
    let mut consent_items = String::new();
    if digital_id {
        consent_items.push_str(&format!("<li>{}</li>", t("consentDigitalId")));
    }
    if let Some(p) = purpose {
        consent_items.push_str(&format!(
            "<li>{} <strong>{}</strong></li>",
            t("presencePurpose"),
            esc(p)
        ));
    }
    if selfie {
        consent_items.push_str(&format!(
            "<li>{}</li>",
            t(if purpose.is_some() {
                "consentPresence"
            } else {
                "consentSelfie"
            })
        ));
    }
    if with_document {
        consent_items.push_str(&format!("<li>{}</li>", t("consentDocument")));
    }
    let consent = section(
        "step-consent",
        false,
        &format!(
            "<h1>{}</h1><p>{}</p><ul>{consent_items}</ul><p class=\"muted\">{}</p>\
             <label class=\"check\"><input type=\"checkbox\" id=\"consent\"> <span>{}</span></label>\
             <button id=\"consent-continue\" class=\"primary\" disabled>{}</button>",
            t("consentTitle"),
            t("consentIntro"),
            t("consentPrivacy"),
            t("consentAgree"),
            t("continue"),
        ),
    );
    let digital_id_step = section(
        "step-digital-id",
        true,
        &format!(
            "<h1>{}</h1><p>{}</p>\
             <button id=\"digital-id-start\" class=\"primary\">{}</button>\
             <div id=\"digital-id-offer\" hidden><p>{} <strong id=\"digital-id-claims\"></strong></p>\
             <p>{}</p><img id=\"digital-id-qr\" class=\"qr\" alt=\"QR code\">\
             <p><a id=\"digital-id-link\" class=\"button secondary\">{}</a></p>\
             <button id=\"digital-id-dcapi\" class=\"secondary\" hidden>{}</button>\
             <p id=\"digital-id-waiting\" class=\"muted\" aria-live=\"polite\">{}</p></div>",
            t("digitalIdTitle"),
            t("digitalIdIntro"),
            t("digitalIdStart"),
            t("digitalIdAsked"),
            t("digitalIdScan"),
            t("digitalIdOpen"),
            t("digitalIdThisDevice"),
            t("digitalIdWaiting"),
        ),
    );
    let selfie = section(
        "step-selfie",
        true,
        &format!(
            "<h1>{}</h1><p id=\"selfie-intro\">{}</p>\
             <div class=\"camera\"><video id=\"selfie-video\" playsinline muted autoplay></video>\
             <div class=\"oval\"></div></div>\
             <p id=\"selfie-prompt\" class=\"prompt\" aria-live=\"assertive\"></p>\
             <button id=\"selfie-start\" class=\"primary\">{}</button>",
            t("selfieTitle"),
            t("selfieIntro"),
            t("startCamera"),
        ),
    );
    let document_step = section(
        "step-document",
        true,
        &format!(
            "<h1>{}</h1><div id=\"doc-choose\"><p>{}</p><div class=\"choices\">\
             <button class=\"choice\" data-doc=\"passport\">{}</button>\
             <button class=\"choice\" data-doc=\"id_card\">{}</button>\
             <button class=\"choice\" data-doc=\"licence\" data-back=\"1\">{}</button></div></div>\
             <div id=\"doc-capture\" hidden><p id=\"doc-side\" class=\"prompt\"></p>\
             <div class=\"camera document\"><video id=\"doc-video\" playsinline muted autoplay></video>\
             <img id=\"doc-preview\" alt=\"\" hidden></div>\
             <button id=\"doc-shoot\" class=\"primary\">{}</button>\
             <button id=\"doc-use\" class=\"primary\" hidden>{}</button>\
             <button id=\"doc-retake\" class=\"secondary\" hidden>{}</button>\
             <label class=\"upload secondary\">{}<input type=\"file\" id=\"doc-file\" accept=\"image/jpeg,image/png,image/webp\"></label></div>",
            t("documentTitle"),
            t("documentChoose"),
            t("docPassport"),
            t("docIdCard"),
            t("docLicence"),
            t("takePhoto"),
            t("usePhoto"),
            t("retake"),
            t("uploadInstead"),
        ),
    );
    let working = section(
        "step-working",
        true,
        &format!(
            "<div class=\"spinner\" aria-hidden=\"true\"></div><p id=\"working-text\" aria-live=\"polite\">{}</p>",
            t("checking")
        ),
    );
    let error = section(
        "step-error",
        true,
        &format!(
            "<h1 id=\"error-title\">{}</h1><p id=\"error-text\" role=\"alert\"></p>\
             <button id=\"error-retry\" class=\"primary\">{}</button>",
            t("errorTitle"),
            t("tryAgain"),
        ),
    );
    let finished = section(
        "step-done",
        true,
        &format!(
            "<h1>{}</h1><p id=\"done-text\"></p><p id=\"done-redirect\" class=\"muted\" hidden>{}</p>",
            t("doneTitle"),
            t("redirecting"),
        ),
    );
    let strings = i18n::table(lang).to_string().replace('<', "\\u003c");
    let body = format!(
        "<main class=\"card\" id=\"app\" data-steps=\"{steps}\" data-done=\"{done}\">\
         <div class=\"progress\" aria-hidden=\"true\"><div class=\"bar\" id=\"progress-bar\"></div></div>\
         <p class=\"muted\" id=\"progress-text\"></p>\
         {consent}{digital_id_step}{selfie}{document_step}{working}{error}{finished}</main>\
         <script type=\"application/json\" id=\"vouch-i18n\">{strings}</script>\
         <script src=\"/assets/verify.js\" defer></script>",
        steps = steps.join(","),
        done = done.join(","),
    );
    respond(StatusCode::OK, document(lang, brand, &body))
}

async fn brand(state: &AppState, s: &VerificationSession) -> Brand {
    let settings = state.app.capture.settings(s).await.ok();
    let branding = settings.map(|k| k.branding).unwrap_or_default();
    let name = match branding.display_name {
        Some(n) => n,
        None => state.app.orgs.name(&s.org_id).await,
    };
    Brand {
        name,
        logo: branding.logo_url,
        accent: branding.accent_color.unwrap_or_else(|| "#2952cc".into()),
    }
}

fn lang_of(query: Option<&str>, headers: &HeaderMap) -> Lang {
    let from_query = query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "lang")
            .map(|(_, v)| v.into_owned())
    });
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::negotiate(from_query.as_deref(), accept)
}

/// The hosted verification page of a session: the capture flow while it is open, a
/// message once it is complete, awaiting review (200), expired or cancelled (410), or
/// unknown (404). English or Portuguese by `?lang=` or `Accept-Language`.
#[utoipa::path(get, path = "/verify/{token}", tag = "kyc",
    params(("token" = String, Path, description = "The token of the session's verificationUrl"),
           ("lang" = Option<String>, Query, description = "en or pt; default from Accept-Language")),
    responses((status = 200, description = "Hosted page (HTML)"), (status = 404, description = "Unknown link"),
              (status = 410, description = "Session expired or cancelled")))]
pub async fn hosted_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(query.as_deref(), &headers);
    let found = state.app.capture.session_of_token(&token).await;
    let plain = Brand {
        name: String::new(),
        logo: None,
        accent: "#2952cc".into(),
    };
    let s = match found {
        Ok(s) => s,
        Err(vouch_core::Error::NotFound(_)) => {
            return message_page(
                StatusCode::NOT_FOUND,
                lang,
                &plain,
                "notFoundTitle",
                "err.not_found",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "hosted page lookup failed");
            return message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                lang,
                &plain,
                "errorTitle",
                "err.generic",
            );
        }
    };
    let brand = brand(&state, &s).await;
    match s.status {
        SessionStatus::Expired => message_page(
            StatusCode::GONE,
            lang,
            &brand,
            "expiredTitle",
            "err.session_expired",
        ),
        SessionStatus::Cancelled => message_page(
            StatusCode::GONE,
            lang,
            &brand,
            "cancelledTitle",
            "err.session_cancelled",
        ),
        _ if s.awaiting_review() => message_page(
            StatusCode::OK,
            lang,
            &brand,
            "reviewTitle",
            "err.awaiting_review",
        ),
        SessionStatus::Completed => message_page(
            StatusCode::OK,
            lang,
            &brand,
            "completeTitle",
            "err.already_complete",
        ),
        _ if s.overall_result.is_some() => message_page(
            StatusCode::OK,
            lang,
            &brand,
            "reviewTitle",
            "err.awaiting_review",
        ),
        SessionStatus::Pending | SessionStatus::InProgress => {
            let done = state.app.capture.done_steps(&s).await;
            flow_page(lang, &brand, &s, &done)
        }
    }
}

/// The presence page at a presence session's `verifyUrl`: the hosted flow's selfie step
/// (a live capture with a blink or turn), with the agent's purpose shown.
#[utoipa::path(get, path = "/verify-presence/{token}", tag = "presence",
    params(("token" = String, Path, description = "The token of the session's verifyUrl")),
    responses((status = 200, description = "Presence page (HTML)"), (status = 404, description = "Unknown link"),
              (status = 410, description = "Expired")))]
pub async fn presence_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    use vouch_store::presence::PresenceStatus;
    let lang = lang_of(query.as_deref(), &headers);
    let plain = Brand {
        name: String::new(),
        logo: None,
        accent: "#2952cc".into(),
    };
    let found = state.app.presence.by_page(&token).await;
    let s = match found {
        Ok(s) => s,
        Err(vouch_core::Error::NotFound(_)) => {
            return message_page(
                StatusCode::NOT_FOUND,
                lang,
                &plain,
                "notFoundTitle",
                "err.not_found",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "presence page lookup failed");
            return message_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                lang,
                &plain,
                "errorTitle",
                "err.generic",
            );
        }
    };
    let brand = Brand {
        name: state.app.orgs.name(&s.org_id).await,
        ..plain
    };
    match s.status {
        PresenceStatus::Pending => flow_page_for(
            lang,
            &brand,
            Steps {
                digital_id: false,
                selfie: true,
                document: false,
            },
            &[],
            Some(&s.purpose),
        ),
        PresenceStatus::Verified => message_page(
            StatusCode::OK,
            lang,
            &brand,
            "completeTitle",
            "err.already_complete",
        ),
        _ => message_page(
            StatusCode::GONE,
            lang,
            &brand,
            "expiredTitle",
            "err.session_expired",
        ),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// The review queue: a plain page that lists the sessions awaiting review with their
/// results and kept images, and approves or rejects them with a note, through the API
/// with the API key typed into it (until the admin console exists).
#[utoipa::path(get, path = "/review", tag = "kyc",
    responses((status = 200, description = "Review page (HTML)")))]
pub async fn review_page() -> Response {
    let body = "<main class=\"card review\"><h1>Review queue</h1>\
        <p class=\"muted\">Sessions whose checks need a person. Decisions complete the session, \
        fire its webhook and are recorded in the audit log with your key and reason.</p>\
        <div class=\"key\"><input id=\"api-key\" type=\"password\" autocomplete=\"off\" \
        placeholder=\"API key (vk_live_…)\" aria-label=\"API key\">\
        <button id=\"load\" class=\"primary\">Load</button></div>\
        <p id=\"queue-status\" class=\"muted\" aria-live=\"polite\"></p><div id=\"queue\"></div></main>\
        <script src=\"/assets/review.js\" defer></script>";
    let brand = Brand {
        name: "vouch".into(),
        logo: None,
        accent: "#2952cc".into(),
    };
    let mut resp = respond(StatusCode::OK, document(Lang::En, &brand, body));
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(REVIEW_CSP),
    );
    resp.headers_mut()
        .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// The review page's script.
#[utoipa::path(get, path = "/assets/review.js", tag = "kyc",
    responses((status = 200, description = "JavaScript")))]
pub async fn review_script() -> Response {
    asset("text/javascript; charset=utf-8", REVIEW_SCRIPT)
}

/// The hosted page's script.
#[utoipa::path(get, path = "/assets/verify.js", tag = "kyc",
    responses((status = 200, description = "JavaScript")))]
pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// The hosted page's style sheet.
#[utoipa::path(get, path = "/assets/verify.css", tag = "kyc",
    responses((status = 200, description = "CSS")))]
pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">O'Neil & co</a>"),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;"
        );
    }

    #[test]
    fn steps_follow_the_checks() {
        assert!(needs_selfie(&[Check::Liveness]));
        assert!(!needs_document(&[Check::Liveness, Check::AgeEstimation]));
        assert!(needs_selfie(&[Check::FaceMatch]) && needs_document(&[Check::FaceMatch]));
        assert!(!needs_selfie(&[Check::DocVerify]));
        assert!(!needs_document(&[Check::DigitalId, Check::FaceMatch]));
        assert!(needs_document(&[Check::DigitalId, Check::DocVerify]));
    }
}

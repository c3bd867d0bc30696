//! The `digital_id` check: the hosted page asks for a presentation request
//! (`POST /verify/{token}/digital-id`), shows its QR code and wallet link, and waits
//! (`GET /verify/{token}/digital-id/{id}`); the wallet fetches the signed request object
//! (`GET /openid4vp/request/{id}`) and posts its encrypted response
//! (`POST /openid4vp/response/{id}`, `direct_post.jwt`). A browser with the Digital
//! Credentials API hands the response to the page instead, which posts it to
//! `POST /verify/{token}/digital-id/{id}/dc-api`. Either way the response is verified by
//! `vouch-digitalid` against the organisation's trust list and recorded as the check's
//! result once: a request is answered once, and its nonce, state and encryption key
//! exist for it alone.
//!
//! Only the claims the key lists are asked for, and only those are kept (sealed with the
//! session's results). The portrait, when asked for and the session also matches faces,
//! becomes the face-match reference and is not kept as a claim.

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use vouch_core::check::Check;
use vouch_core::policy::{self, Outcome};
use vouch_core::session::{result_key, VerificationSession};
use vouch_core::{now_millis, rfc3339};
use vouch_digitalid::jose::{b64, random_bytes, EncryptionKey};
use vouch_digitalid::openid4vp::{self, ClaimSpec, ClientId, Presentation, Request};
use vouch_digitalid::x509::Cert;
use vouch_digitalid::{mdoc, sdjwt, Failure, Reason};
use vouch_store::digital_id::PresentationRequest;

/// How long a presentation request can be fetched and answered: ten minutes.
pub const REQUEST_TTL_MS: i64 = 10 * 60 * 1000;
/// The largest response a wallet may post (a PID with a portrait fits many times).
pub const MAX_RESPONSE_BYTES: usize = 2 * 1024 * 1024;

/// The verifier's identity towards wallets, made once per process.
#[derive(Default)]
pub struct Verifier(std::sync::OnceLock<Result<Arc<ClientId>, String>>);

impl Verifier {
    fn get(&self, state: &AppState) -> ApiResult<Arc<ClientId>> {
        let made = self.0.get_or_init(|| make_client(state).map(Arc::new));
        made.clone().map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "digital_id_unavailable",
                format!("The digital ID verifier is not configured: {e}"),
            )
        })
    }
}

fn make_client(state: &AppState) -> Result<ClientId, String> {
    let cfg = &state.config;
    if cfg.digital_id_redirect_uri {
        return Ok(ClientId::RedirectUri);
    }
    let base = url::Url::parse(&cfg.browser_url()).map_err(|e| e.to_string())?;
    let host = base
        .host_str()
        .ok_or("the public URL has no host")?
        .to_string();
    let (cert, key) = match &cfg.digital_id_signer {
        Some((cert, key)) => vouch_digitalid::x509::load_signer(cert, key),
        None => vouch_digitalid::x509::self_signed_verifier(&host),
    }
    .map_err(|e| e.to_string())?;
    if !cert
        .alt_names()
        .iter()
        .any(|n| n.eq_ignore_ascii_case(&host))
    {
        return Err(format!(
            "the verifier certificate does not name {host} (subjectAltName dNSName)"
        ));
    }
    Ok(ClientId::X509SanDns {
        cert: Box::new(cert),
        key,
        host,
    })
}

fn url_of(state: &AppState, path: &str) -> String {
    format!("{}{path}", state.config.browser_url())
}

fn claims_of(names: &[String]) -> Vec<&'static ClaimSpec> {
    names.iter().filter_map(|n| openid4vp::claim(n)).collect()
}

/// The request object of a stored request; with `dc_api`, the variant the browser's
/// Digital Credentials API carries (answered through the page, for this origin).
fn request_object(
    client: &ClientId,
    state: &AppState,
    r: &PresentationRequest,
    dc_api: bool,
) -> ApiResult<String> {
    let key = EncryptionKey::from_bytes(&r.enc_key).map_err(|e| ApiError::internal(e.detail))?;
    let claims = claims_of(&r.claims);
    let response_uri = url_of(state, &format!("/openid4vp/response/{}", r.id));
    // The hosted page is opened at the verificationUrl (the public URL) or, from the
    // console, at the browser URL.
    let mut origins = vec![state.config.base_url()];
    if dc_api && !origins.contains(&state.config.browser_url()) {
        origins.push(state.config.browser_url());
    }
    Ok(client.request_object(&Request {
        client_id: r.client_id.clone(),
        response_uri: &response_uri,
        nonce: &r.nonce,
        state: &r.id,
        claims: &claims,
        encryption_jwk: key.public_jwk(&r.id),
        iat: r.created_at / 1000,
        ttl_secs: REQUEST_TTL_MS / 1000,
        dc_api_origins: if dc_api { &origins } else { &[] },
    }))
}

fn qr_data_url(text: &str) -> ApiResult<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
        .map_err(|e| ApiError::internal(format!("QR code: {e}")))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .build();
    Ok(format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(svg)
    ))
}

/// Starts a presentation request for a session: its wallet link, QR code and request URI.
#[utoipa::path(post, path = "/verify/{token}/digital-id", tag = "kyc",
    params(("token" = String, Path, description = "The token of the session's verificationUrl")),
    responses((status = 200, description = "requestId, walletLink, requestUri, clientId, qrCode, claims, expiresAt, dcApi"),
              (status = 400, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 410, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> ApiResult<Json<Value>> {
    let session = super::hosted::open_session(&state, &token).await?;
    if !session.checks.contains(&Check::DigitalId) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "digital_id_unavailable",
            "This verification does not ask for a digital ID",
        ));
    }
    super::hosted::count_attempt(&state, &format!("digital-id:{}", session.id.as_str())).await?;
    let client = state.digital_id.get(&state)?;
    let settings = state.app.capture.settings(&session).await?;
    let id = b64(&random_bytes::<24>());
    let response_uri = url_of(&state, &format!("/openid4vp/response/{id}"));
    let key = EncryptionKey::generate();
    let now = now_millis();
    let request = PresentationRequest {
        id: id.clone(),
        org_id: session.org_id.clone(),
        session_id: session.id.clone(),
        nonce: b64(&random_bytes::<24>()),
        client_id: client.client_id(&response_uri),
        claims: settings.digital_id_claims.clone(),
        enc_key: key.to_bytes(),
        created_at: now,
        expires_at: now + REQUEST_TTL_MS,
        answered_at: None,
    };
    state.app.presentations.create(&request).await?;
    let request_uri = url_of(&state, &format!("/openid4vp/request/{id}"));
    let link = openid4vp::wallet_link(&request.client_id, &request_uri);
    let mut out = json!({
        "requestId": id,
        "walletLink": link,
        "requestUri": request_uri,
        "clientId": request.client_id,
        "qrCode": qr_data_url(&link)?,
        "claims": request.claims,
        "expiresAt": rfc3339(request.expires_at),
    });
    if matches!(*client, ClientId::X509SanDns { .. }) {
        // The same signed request for a wallet on this device through the browser's
        // Digital Credentials API (feature-detected by the page).
        out["dcApi"] = json!({
            "protocol": "openid4vp-v1-signed",
            "request": request_object(&client, &state, &request, true)?,
        });
    }
    Ok(Json(out))
}

/// Whether the wallet has answered a request (the page polls this).
#[utoipa::path(get, path = "/verify/{token}/digital-id/{requestId}", tag = "kyc",
    params(("token" = String, Path, description = "The token of the session's verificationUrl"),
           ("requestId" = String, Path, description = "The presentation request")),
    responses((status = 200, description = "status: waiting, received or expired"),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
              (status = 410, body = crate::error::ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    Path((token, id)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let not_found = || ApiError::not_found("Presentation request not found");
    let r = state
        .app
        .presentations
        .get(&id)
        .await?
        .ok_or_else(not_found)?;
    // The token must be the request's own session's, whatever that session's state.
    let owner = state.app.capture.session_of_token(&token).await.ok();
    if !owner.is_some_and(|s| s.id == r.session_id && s.org_id == r.org_id) {
        return Err(not_found());
    }
    // Answered: the session moved on (even to a decision).
    if r.answered_at.is_some() {
        return Ok(Json(json!({"status": "received"})));
    }
    super::hosted::open_session(&state, &token).await?;
    if r.expires_at <= now_millis() {
        return Ok(Json(json!({"status": "expired"})));
    }
    Ok(Json(json!({"status": "waiting"})))
}

/// An OpenID4VP error answer to a wallet (§8.5).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct WalletErrorBody {
    /// `invalid_request`.
    pub error: String,
    /// Why, starting with the reason code (`nonce_mismatch: …`, `replayed: …`).
    pub error_description: String,
}

/// An OpenID4VP error answer to the wallet (§8.5: `error`, `error_description`).
fn wallet_error(status: StatusCode, code: &str, description: String) -> Response {
    (
        status,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response()
}

/// The request object of a presentation request, for the wallet (`request_uri`).
#[utoipa::path(get, path = "/openid4vp/request/{requestId}", tag = "kyc",
    params(("requestId" = String, Path, description = "The presentation request")),
    responses((status = 200, description = "the request object (a JWT)", body = String, content_type = "application/oauth-authz-req+jwt"),
              (status = 400, description = "expired or answered", body = WalletErrorBody),
              (status = 404, description = "unknown request", body = WalletErrorBody),
              (status = 503, body = crate::error::ErrorBody)))]
pub async fn request_uri(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let found = match state.app.presentations.get(&id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return wallet_error(
                StatusCode::NOT_FOUND,
                "invalid_request",
                "unknown request".into(),
            )
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    if found.answered_at.is_some() || found.expires_at <= now_millis() {
        return wallet_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "this request has expired or was answered".into(),
        );
    }
    let made = state
        .digital_id
        .get(&state)
        .and_then(|client| request_object(&client, &state, &found, false));
    match made {
        Ok(jwt) => {
            let mut resp = jwt.into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/oauth-authz-req+jwt"),
            );
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            resp
        }
        Err(e) => e.into_response(),
    }
}

/// The body of a `direct_post.jwt` response.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct DirectPost {
    /// The encrypted response (compact JWE).
    pub response: String,
}

/// The wallet's encrypted response (`direct_post.jwt`): verified and recorded once.
#[utoipa::path(post, path = "/openid4vp/response/{requestId}", tag = "kyc",
    params(("requestId" = String, Path, description = "The presentation request")),
    request_body(content = DirectPost, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "accepted: {}"),
              (status = 400, description = "refused, with the reason (a verified-but-invalid presentation is recorded as FAIL)", body = WalletErrorBody),
              (status = 404, description = "unknown request", body = WalletErrorBody)))]
pub async fn response(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    // Parsed here, not by an extractor: every refusal is an OpenID4VP error body.
    let jwe = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "response")
        .map(|(_, v)| v.into_owned());
    match jwe {
        Some(jwe) => receive(&state, &id, &jwe, None).await,
        None => wallet_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be a form with response=<the encrypted response>".into(),
        ),
    }
}

/// The body of `POST /verify/{token}/digital-id/{requestId}/dc-api`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct DcApiBody {
    /// The encrypted response the Digital Credentials API returned (compact JWE).
    pub response: String,
}

/// A response the browser's Digital Credentials API gave the page: as `direct_post.jwt`.
#[utoipa::path(post, path = "/verify/{token}/digital-id/{requestId}/dc-api", tag = "kyc",
    params(("token" = String, Path, description = "The token of the session's verificationUrl"),
           ("requestId" = String, Path, description = "The presentation request")),
    request_body = DcApiBody,
    responses((status = 200, description = "accepted"),
              (status = 400, description = "refused, with the reason", body = WalletErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
              (status = 410, body = crate::error::ErrorBody)))]
pub async fn dc_api(
    State(state): State<AppState>,
    Path((token, id)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let session = match super::hosted::open_session(&state, &token).await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    // The page's endpoint answers the page's error shape for an unknown request.
    match state.app.presentations.get(&id).await {
        Ok(Some(r)) if r.session_id == session.id && r.org_id == session.org_id => {}
        Ok(_) => return ApiError::not_found("Presentation request not found").into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    }
    let Ok(body) = serde_json::from_slice::<DcApiBody>(&body) else {
        return wallet_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be {\"response\": \"<the encrypted response>\"}".into(),
        );
    };
    // The page's origin, which a wallet binds into an mdoc's session transcript: one of
    // the request's expected origins (else the public URL's, and an mdoc fails).
    let origin = headers
        .get(axum::http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|o| [state.config.base_url(), state.config.browser_url()].contains(o))
        .unwrap_or_else(|| state.config.base_url());
    receive(
        &state,
        &id,
        &body.response,
        Some((&session, origin.as_str())),
    )
    .await
}

/// Verifies a response to request `id` and records the check's result. `from_page`: it
/// came through the browser's Digital Credentials API, to this session's page at this
/// origin.
async fn receive(
    state: &AppState,
    id: &str,
    jwe: &str,
    from_page: Option<(&VerificationSession, &str)>,
) -> Response {
    let bad = |d: String| wallet_error(StatusCode::BAD_REQUEST, "invalid_request", d);
    if jwe.len() > MAX_RESPONSE_BYTES {
        return bad("the response is too large".into());
    }
    let request = match state.app.presentations.get(id).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return wallet_error(
                StatusCode::NOT_FOUND,
                "invalid_request",
                "unknown request".into(),
            )
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Some((s, _)) = from_page {
        if s.id != request.session_id || s.org_id != request.org_id {
            return wallet_error(
                StatusCode::NOT_FOUND,
                "invalid_request",
                "unknown request".into(),
            );
        }
    }
    if request.expires_at <= now_millis() {
        return bad("this request has expired".into());
    }
    let trusted = match anchors(state, &request.org_id).await {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let response_uri = url_of(state, &format!("/openid4vp/response/{id}"));
    let handover = match from_page {
        Some((_, origin)) => Handover::DcApi(origin),
        None => Handover::Redirect(&response_uri),
    };
    let verified = match verify(&request, jwe, &trusted, handover) {
        // Not encrypted to this request's key: not an answer to it; nothing is recorded.
        Err(f) if f.reason == Reason::ResponseDecryptFailed => {
            return bad(format!("{}: {}", f.reason.as_str(), f.detail))
        }
        other => other,
    };
    // One answer per request: a replayed response changes nothing.
    match state.app.presentations.answer(id, now_millis()).await {
        Ok(true) => {}
        Ok(false) => {
            return bad("replayed: this request has already been answered or has expired".into())
        }
        Err(e) => return ApiError::from(e).into_response(),
    }
    match record(state, &request, verified, &trusted).await {
        Ok(None) => (StatusCode::OK, Json(json!({}))).into_response(),
        Ok(Some(f)) => bad(format!("{}: {}", f.reason.as_str(), f.detail)),
        Err(e) => e.into_response(),
    }
}

/// A verified credential, whatever its format: the asked claims by vouch's names.
struct Presented {
    format: &'static str,
    credential_type: String,
    issuer: Option<String>,
    signer: String,
    anchor: String,
    values: Map<String, Value>,
    expires_at: Option<i64>,
    /// The status list entry it names, if any; `has_status` when it has a `status` claim.
    status: Option<vouch_digitalid::status::StatusRef>,
    has_status: bool,
}

/// How the response came back, which an mdoc's session transcript binds.
#[derive(Clone, Copy)]
enum Handover<'a> {
    /// Posted by the wallet to the request's `response_uri` (cross-device).
    Redirect(&'a str),
    /// Through the browser's Digital Credentials API, to the page at this origin.
    DcApi(&'a str),
}

/// Opens and verifies a response against a request and the trust list.
fn verify(
    request: &PresentationRequest,
    jwe: &str,
    trusted: &[Cert],
    handover: Handover<'_>,
) -> Result<Presented, Failure> {
    let key = EncryptionKey::from_bytes(&request.enc_key)?;
    let specs = claims_of(&request.claims);
    let now = now_millis();
    match openid4vp::open_response(jwe, &key, &request.id)? {
        Presentation::SdJwt(p) => {
            let v = sdjwt::verify(
                &p,
                &sdjwt::Expect {
                    anchors: trusted,
                    nonce: &request.nonce,
                    audience: &request.client_id,
                    vct_values: &openid4vp::PID_VCT,
                    now,
                },
            )?;
            let values = specs
                .iter()
                .filter_map(|s| {
                    Some((
                        s.name.to_string(),
                        openid4vp::claim_value(&v.claims, s)?.clone(),
                    ))
                })
                .collect();
            Ok(Presented {
                format: "dc+sd-jwt",
                credential_type: v.vct,
                issuer: Some(v.issuer),
                signer: v.signer,
                anchor: v.anchor,
                values,
                expires_at: v.expires_at,
                status: v.status,
                has_status: v.has_status,
            })
        }
        Presentation::Mdoc(p, doc_type) => {
            let thumbprint = Some(mdoc::jwk_thumbprint(&key.public_jwk(&request.id)));
            let transcript = match handover {
                Handover::Redirect(response_uri) => mdoc::session_transcript(
                    &request.client_id,
                    &request.nonce,
                    thumbprint,
                    response_uri,
                ),
                Handover::DcApi(origin) => {
                    mdoc::dc_api_session_transcript(origin, &request.nonce, thumbprint)
                }
            };
            let v = mdoc::verify(
                &p,
                &mdoc::Expect {
                    anchors: trusted,
                    session_transcript: &transcript,
                    doc_type,
                    now,
                },
            )?;
            let values = specs
                .iter()
                .filter_map(|s| Some((s.name.to_string(), v.claims.get(s.name)?.clone())))
                .filter(|(_, v)| !v.is_null())
                .collect();
            Ok(Presented {
                format: "mso_mdoc",
                credential_type: v.doc_type,
                issuer: None,
                signer: v.signer,
                anchor: v.anchor,
                values,
                expires_at: Some(v.valid_until),
                status: None,
                has_status: false,
            })
        }
    }
}

/// The status list's verdict on a credential: fetched only from a host the operator
/// allowed (`VOUCH_DIGITAL_ID_STATUS_HOSTS`), at each presentation, within 5 seconds and
/// 1 MiB, and only believed when signed by a certificate of the organisation's trust
/// list (`trusted`, read once for the whole response).
async fn credential_status(
    state: &AppState,
    trusted: &[Cert],
    v: &Presented,
) -> policy::CredentialStatus {
    use policy::CredentialStatus as S;
    use vouch_digitalid::status;
    let Some(r) = &v.status else {
        return if v.has_status { S::NotChecked } else { S::None };
    };
    let allowed = url::Url::parse(&r.uri).ok().is_some_and(|u| {
        let host = u.host_str().unwrap_or_default();
        let with_port = u
            .port()
            .map(|p| format!("{host}:{p}"))
            .unwrap_or_else(|| host.to_string());
        state
            .config
            .digital_id_status_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host) || h.eq_ignore_ascii_case(&with_port))
    });
    if !allowed {
        tracing::info!(uri = %r.uri, "status list on a host not allowed: not fetched");
        return S::NotChecked;
    }
    let token = match fetch_status_list(&r.uri).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(uri = %r.uri, error = %e, "status list unavailable");
            return S::Unavailable;
        }
    };
    match status::verify(&token, &r.uri, trusted, now_millis()) {
        Ok(list) => match list.get(r.idx) {
            Some(status::VALID) => S::Valid,
            Some(status::INVALID) => S::Revoked,
            Some(status::SUSPENDED) => S::Suspended,
            other => {
                tracing::warn!(uri = %r.uri, idx = r.idx, value = ?other, "status list entry unknown");
                S::Unavailable
            }
        },
        Err(e) => {
            tracing::warn!(uri = %r.uri, error = %e, "status list refused");
            S::Unavailable
        }
    }
}

/// GETs a status list token (`application/statuslist+jwt`), at most 1 MiB, 5 seconds,
/// no redirects.
async fn fetch_status_list(uri: &str) -> Result<String, String> {
    const MAX: usize = 1024 * 1024;
    // One client for every fetch (its connection pool and TLS set-up are reused); the
    // hosts it may reach are the operator's allow-list, checked before it is called.
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new())
    });
    let mut resp = client
        .get(uri)
        .header("accept", "application/statuslist+jwt")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX {
            return Err("larger than 1 MiB".into());
        }
    }
    String::from_utf8(body).map_err(|_| "not text".to_string())
}

/// The trust list of an organisation as certificates (an unreadable entry is skipped
/// with a warning: it was checked when added).
async fn anchors(state: &AppState, org: &vouch_core::ids::OrgId) -> ApiResult<Vec<Cert>> {
    let (certs, unreadable) = state.app.trust.certificates(org).await?;
    for (id, e) in unreadable {
        tracing::warn!(anchor = %id, "unreadable trust anchor: {e}");
    }
    Ok(certs)
}

/// Records the check's result; the failure that made it FAIL, if one did.
async fn record(
    state: &AppState,
    request: &PresentationRequest,
    verified: Result<Presented, Failure>,
    trusted: &[Cert],
) -> ApiResult<Option<Failure>> {
    let session = state
        .app
        .kyc
        .get(&request.org_id, &request.session_id)
        .await?;
    let mut evidence = Map::new();
    let (entry, failure) = match verified {
        Ok(v) => {
            let mut claims = Map::new();
            let mut missing = Vec::new();
            let mut portrait = None;
            for spec in claims_of(&request.claims) {
                match v.values.get(spec.name) {
                    Some(value) if spec.name == "portrait" => portrait = Some(value.clone()),
                    Some(value) => {
                        claims.insert(spec.name.to_string(), value.clone());
                    }
                    None => missing.push(spec.name),
                }
            }
            if session.checks.contains(&Check::FaceMatch) {
                if let Some(embedding) = portrait_embedding(state, portrait.as_ref()).await {
                    evidence.insert("portrait".into(), json!(embedding));
                }
            } else if let Some(p) = portrait {
                claims.insert("portrait".into(), p);
            }
            let age = claims.get("age_over_18").and_then(Value::as_bool);
            let status = credential_status(state, trusted, &v).await;
            let (result, reason) = policy::digital_id(&missing, age, status);
            (
                json!({
                    "status": "COMPLETED",
                    "result": result,
                    "format": v.format,
                    "credentialType": v.credential_type,
                    "issuer": v.issuer,
                    "issuerCertificate": v.signer,
                    "trustAnchor": v.anchor,
                    "claims": claims,
                    "missingClaims": missing,
                    "expiresAt": v.expires_at.map(rfc3339),
                    "reasonCode": reason,
                }),
                None,
            )
        }
        Err(f) => {
            tracing::info!(session = %session.id, reason = f.reason.as_str(), "digital ID presentation refused: {}", f.detail);
            (
                json!({
                    "status": "COMPLETED",
                    "result": Outcome::Fail,
                    "reasonCode": f.reason.as_str(),
                    "reason": f.detail,
                }),
                Some(f),
            )
        }
    };
    if session.checks.contains(&Check::FaceMatch) {
        // The digital ID step is done, passed or not: face match then has its reference
        // (or none: REVIEW NO_PORTRAIT) and the session can be completed.
        evidence.insert("credential".into(), json!(true));
    }
    let mut results = Map::new();
    results.insert(result_key(Check::DigitalId).into(), entry);
    state
        .app
        .capture
        .record(&session, results, evidence, &[])
        .await?;
    Ok(failure)
}

/// The face embedding of a credential's portrait (base64 or a data URL of a JPEG or
/// PNG), when the engines are loaded and a face is found.
async fn portrait_embedding(state: &AppState, portrait: Option<&Value>) -> Option<Vec<f32>> {
    let text = portrait?.as_str()?;
    let b64 = text.split_once(";base64,").map_or(text, |(_, b)| b);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64.trim()))
        .ok()?;
    let engines = state.engines.clone()?;
    tokio::task::spawn_blocking(move || {
        let face = &engines.face;
        let img = face.decode(&bytes).ok()?;
        let found = face.faces(&img).ok()?;
        face.embed(&img, found.first()?).ok()
    })
    .await
    .ok()
    .flatten()
}

//! Admin authentication (spec: "Admin Authentication & 2FA", "Passkey API (WebAuthn)"):
//! the one-time setup link, password login (argon2id, throttled per account and per
//! client address), the second factor (passkeys with webauthn-rs, or a live face scan
//! with a blink matched against the admin's template), the 2FA enrolment deadline,
//! logout and the signed-in admin's view of themselves.
//!
//! A login with the right password and a second factor enrolled opens a `password`
//! stage session whose token (`tmp_sess_…`) only the 2FA endpoints accept; passing the
//! second factor deletes it and opens a `full` session (`vas_…`, also set as the
//! `vouch_admin` cookie).
//!
//! Size (over 800 lines): one endpoint per step of each factor (password, passkey, face)
//! with its request type and OpenAPI annotation, and the WebAuthn ceremonies (protocol
//! work at the edge); sessions, throttles, the rules and the storage are
//! `vouch_app::admin`'s.

use crate::admin::{clear_cookie, session_cookie, AdminCaller};
use crate::error::{ApiError, ApiJson, ApiResult};
use crate::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Path, State};
use axum::http::{header, request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vouch_app::admin::{AdminError, FirstAdmin, Login, Opened};
use vouch_core::model::{Actor, AuditRecord};
use vouch_core::rfc3339;
use vouch_store::admin::{Admin, AdminSession};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

pub use vouch_app::admin::{
    LOGIN_PER_ACCOUNT, LOGIN_PER_ADDRESS, PENDING_PREFIX, SECOND_FACTOR_PER_MINUTE,
};

/// Longest passkey name, in characters.
pub const MAX_PASSKEY_NAME: usize = 64;

const INVALID_LOGIN: &str = "Invalid email or password";

/// A refused sign-in step in the admin API's shape.
fn admin_error(e: AdminError) -> ApiError {
    match e {
        AdminError::Throttled(wait) => ApiError::too_many_attempts(wait),
        AdminError::InvalidLogin => ApiError::unauthorized(INVALID_LOGIN),
        AdminError::EnrollmentOverdue => ApiError::new(
            StatusCode::FORBIDDEN,
            "enrollment_required",
            "2FA enrollment required",
        ),
        AdminError::InvalidLink => ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_setup_token",
            "This setup link is invalid, used or expired",
        ),
        AdminError::PendingExpired => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "session_expired",
            "The login session is unknown or expired: sign in again",
        ),
        AdminError::Core(e) => e.into(),
    }
}

/// The audit records of a request: the admin acting (or the system) and its request id.
fn auditor(headers: &HeaderMap) -> impl Fn(Option<&Admin>, &str) -> AuditRecord + Send + Sync {
    let request_id = crate::auth::request_id(headers);
    move |admin, action| {
        let actor = match admin {
            Some(a) => Actor::Admin(a.id.clone()),
            None => Actor::System,
        };
        AuditRecord::new(admin.map(|a| &a.org_id), actor, action).request_id(request_id.clone())
    }
}

/// The routes of this module.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(setup))
        .routes(routes!(bootstrap))
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(passkey_register_options))
        .routes(routes!(passkey_register))
        .routes(routes!(passkey_authenticate_options))
        .routes(routes!(passkey_authenticate))
        .routes(routes!(list_passkeys))
        .routes(routes!(delete_passkey))
        .routes(routes!(face_enroll))
        .routes(routes!(face_remove, face_login))
}

/// The client's address as the connection gives it (forwarding headers are not
/// trusted); None when the server runs without connection info (in-process tests).
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

fn admin_json(a: &Admin) -> Value {
    json!({"id": a.id, "email": a.email, "orgId": a.org_id})
}

/// Counts one hit of `bucket` against `limit` a minute; 429 with `Retry-After` beyond.
async fn throttle(state: &AppState, bucket: &str, limit: u32) -> ApiResult<()> {
    state
        .app
        .admin
        .throttle(bucket, limit)
        .await
        .map_err(admin_error)
}

/// The JSON answer of a finished login with its session cookie.
fn signed_in(state: &AppState, admin: &Admin, opened: &Opened, mut body: Value) -> Response {
    body["success"] = json!(true);
    body["token"] = json!(opened.token);
    body["admin"] = admin_json(admin);
    body["csrfToken"] = json!(opened.csrf);
    let mut resp = Json(body).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(state, &opened.token));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

/// The session waiting for a second factor, from its `sessionToken`.
async fn pending(state: &AppState, token: &str) -> ApiResult<(AdminSession, Admin)> {
    state.app.admin.pending(token).await.map_err(admin_error)
}

/// Replaces a pending session by a full one after the second factor passed.
async fn finish_second_factor(
    state: &AppState,
    session: &AdminSession,
    admin: &Admin,
    method: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let opened = state
        .app
        .admin
        .finish_second_factor(session, admin, method, &auditor(headers))
        .await?;
    Ok(signed_in(state, admin, &opened, json!({})))
}

async fn second_factor_failed(
    state: &AppState,
    admin: &Admin,
    method: &str,
    reason: &str,
    headers: &HeaderMap,
) -> ApiResult<()> {
    Ok(state
        .app
        .admin
        .second_factor_failed(admin, method, reason, &auditor(headers))
        .await?)
}

// ---------------------------------------------------------------- setup and login

/// The body of `POST /api/auth/setup`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SetupBody {
    /// The token of the one-time setup link.
    pub token: String,
    /// The new password, 12 to 256 characters.
    pub password: String,
}

/// Redeems a one-time setup link: sets the admin's password (once).
#[utoipa::path(post, path = "/api/auth/setup", tag = "admin", request_body = SetupBody,
    responses((status = 200, description = "success"), (status = 400, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn setup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SetupBody>,
) -> ApiResult<Json<Value>> {
    let ip = ip.map(|i| i.to_string());
    state
        .app
        .admin
        .setup(
            ip.as_deref(),
            &body.token,
            &body.password,
            &auditor(&headers),
        )
        .await
        .map_err(admin_error)?;
    Ok(Json(json!({"success": true})))
}

/// The body of `POST /api/auth/bootstrap`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapBody {
    /// The token of the one-time link `vouch serve` printed.
    pub token: String,
    /// The organisation's name, 1 to 200 characters.
    pub org_name: String,
    /// The first admin's e-mail.
    pub email: String,
    /// Their password, 12 to 256 characters.
    pub password: String,
}

/// The first organisation and admin of a fresh install, from the one-time link that
/// `vouch serve` prints while no admin exists (valid one hour, once). Answers like a
/// finished login: the admin is signed in (token and cookie), with the usual window to
/// enrol a second factor. A refused field leaves the link usable.
#[utoipa::path(post, path = "/api/auth/bootstrap", tag = "admin", request_body = BootstrapBody,
    responses((status = 200, description = "success, token, admin, orgId, csrfToken, enrollmentRequired, enrollBy"),
              (status = 400, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn bootstrap(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<BootstrapBody>,
) -> ApiResult<Response> {
    let ip = ip.map(|i| i.to_string());
    let first = FirstAdmin {
        token: &body.token,
        org_name: &body.org_name,
        email: &body.email,
        password: &body.password,
    };
    let (org, admin, opened) = state
        .app
        .admin
        .bootstrap(ip.as_deref(), first, &auditor(&headers))
        .await
        .map_err(|e| match e {
            AdminError::InvalidLink => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_setup_token",
                "This setup link is invalid, used or expired: restart `vouch serve` on a database without admins for a new one, or use `vouch admin create`",
            ),
            e => admin_error(e),
        })?;
    tracing::info!(org = %org.id, admin = %admin.id, "first organisation and admin created from the setup link");
    let body = json!({
        "orgId": org.id,
        "enrollmentRequired": true,
        "enrollBy": rfc3339(admin.enroll_by),
    });
    Ok(signed_in(&state, &admin, &opened, body))
}

/// The body of `POST /api/auth/login`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    /// The admin's e-mail.
    pub email: String,
    /// The password.
    pub password: String,
}

/// Password login. With a second factor enrolled: `requires_2fa` and a `sessionToken`
/// for the 2FA endpoints; without, before the enrolment deadline: a session (token and
/// cookie) with `enrollmentRequired`; after it: 403.
#[utoipa::path(post, path = "/api/auth/login", tag = "admin", request_body = LoginBody,
    responses((status = 200, description = "requires_2fa, methods, sessionToken — or success, token, admin, enrollmentRequired, enrollBy"),
              (status = 401, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> ApiResult<Response> {
    let ip = ip.map(|i| i.to_string());
    let login = state
        .app
        .admin
        .login(
            ip.as_deref(),
            &body.email,
            &body.password,
            &auditor(&headers),
        )
        .await
        .map_err(admin_error)?;
    Ok(match login {
        Login::SecondFactor {
            token,
            passkey,
            face,
        } => Json(json!({
            "requires_2fa": true,
            "methods": {"passkey": passkey, "face": face},
            "sessionToken": token,
            "message": "Two-factor authentication required",
        }))
        .into_response(),
        Login::SignedIn(admin, opened) => {
            let body = json!({"enrollmentRequired": true, "enrollBy": rfc3339(admin.enroll_by)});
            signed_in(&state, &admin, &opened, body)
        }
    })
}

/// Ends the session and removes the cookie.
#[utoipa::path(post, path = "/api/auth/logout", tag = "admin",
    security(("admin_session" = [])),
    responses((status = 200, description = "success"), (status = 401, body = crate::error::ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    caller: AdminCaller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let audit = caller
        .audit("admin.logout")
        .request_id(crate::auth::request_id(&headers));
    state.app.admin.logout(&caller.session, audit).await?;
    let mut resp = Json(json!({"success": true})).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    Ok(resp)
}

/// The signed-in admin, the session's CSRF token and the enrolled second factors.
#[utoipa::path(get, path = "/api/auth/me", tag = "admin",
    security(("admin_session" = [])),
    responses((status = 200, description = "admin, csrfToken, methods, enrollBy"),
              (status = 401, body = crate::error::ErrorBody)))]
pub async fn me(State(state): State<AppState>, caller: AdminCaller) -> ApiResult<Json<Value>> {
    let (passkey, face) = state.app.admin.methods(&caller.admin).await?;
    Ok(Json(json!({
        "admin": admin_json(&caller.admin),
        "csrfToken": caller.session.csrf,
        "methods": {"passkey": passkey, "face": face},
        "enrollBy": rfc3339(caller.admin.enroll_by),
    })))
}

// ---------------------------------------------------------------- passkeys

/// A WebAuthn ceremony in progress, kept in the session's `challenge`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", content = "state", rename_all = "lowercase")]
enum Ceremony {
    Register(PasskeyRegistration),
    Authenticate(PasskeyAuthentication),
}

fn webauthn(state: &AppState) -> ApiResult<Webauthn> {
    let unavailable = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "passkeys_unavailable",
            "Passkeys need the server's domain name: set VOUCH_PUBLIC_URL (or VOUCH_RP_ID and VOUCH_RP_ORIGIN)",
        )
    };
    let rp_id = state.config.rp_id();
    let origin = Url::parse(&state.config.rp_origin()).map_err(|_| unavailable())?;
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name("vouch").build())
        .map_err(|_| unavailable())
}

/// A stable WebAuthn user handle for an admin (not their e-mail).
fn user_handle(admin: &Admin) -> Uuid {
    let digest = Sha256::digest(admin.id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

async fn take_ceremony(state: &AppState, session: &AdminSession) -> ApiResult<Option<Ceremony>> {
    // Single use: a ceremony's state is cleared once read.
    let raw = state.app.admin.take_ceremony(session).await?;
    Ok(raw.and_then(|r| serde_json::from_slice(&r).ok()))
}

async fn put_ceremony(state: &AppState, session: &AdminSession, c: &Ceremony) -> ApiResult<()> {
    let raw = serde_json::to_vec(c).map_err(ApiError::internal)?;
    Ok(state.app.admin.put_ceremony(session, &raw).await?)
}

fn stored_passkeys(list: &[vouch_store::admin::AdminPasskey]) -> ApiResult<Vec<(String, Passkey)>> {
    list.iter()
        .map(|p| {
            serde_json::from_slice::<Passkey>(&p.passkey)
                .map(|k| (p.id.clone(), k))
                .map_err(ApiError::internal)
        })
        .collect()
}

fn public_key_options(v: Value) -> Value {
    match v {
        Value::Object(mut m) => m.remove("publicKey").unwrap_or(Value::Null),
        other => other,
    }
}

/// WebAuthn registration options for a new passkey of the signed-in admin.
#[utoipa::path(post, path = "/api/auth/2fa/passkey/register-options", tag = "admin",
    security(("admin_session" = [])),
    responses((status = 200, description = "options: PublicKeyCredentialCreationOptions (binary fields base64url)"),
              (status = 401, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn passkey_register_options(
    State(state): State<AppState>,
    caller: AdminCaller,
) -> ApiResult<Json<Value>> {
    let w = webauthn(&state)?;
    let existing = stored_passkeys(&state.app.admin.passkeys(&caller.admin).await?)?;
    let exclude: Vec<_> = existing.iter().map(|(_, k)| k.cred_id().clone()).collect();
    let (ccr, reg) = w
        .start_passkey_registration(
            user_handle(&caller.admin),
            &caller.admin.email,
            &caller.admin.email,
            Some(exclude).filter(|e| !e.is_empty()),
        )
        .map_err(ApiError::internal)?;
    put_ceremony(&state, &caller.session, &Ceremony::Register(reg)).await?;
    let mut options = public_key_options(serde_json::to_value(&ccr).map_err(ApiError::internal)?);
    if let Some(sel) = options.get_mut("authenticatorSelection") {
        sel["residentKey"] = json!("preferred");
        sel["userVerification"] = json!("required");
    }
    Ok(Json(json!({ "options": options })))
}

/// The body of `POST /api/auth/2fa/passkey/register`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegisterBody {
    /// The PublicKeyCredential JSON of `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    pub credential: Value,
    /// A friendly name (default "Passkey").
    pub name: Option<String>,
}

/// Finishes a passkey registration.
#[utoipa::path(post, path = "/api/auth/2fa/passkey/register", tag = "admin", request_body = RegisterBody,
    security(("admin_session" = [])),
    responses((status = 200, description = "success, credentialId, name, createdAt"),
              (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)))]
pub async fn passkey_register(
    State(state): State<AppState>,
    caller: AdminCaller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterBody>,
) -> ApiResult<Json<Value>> {
    let name = body
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("Passkey")
        .to_string();
    if name.chars().count() > MAX_PASSKEY_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "name must be at most {MAX_PASSKEY_NAME} printable characters"
        )));
    }
    let w = webauthn(&state)?;
    let Some(Ceremony::Register(reg)) = take_ceremony(&state, &caller.session).await? else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "no_ceremony",
            "Ask for registration options first",
        ));
    };
    let credential: RegisterPublicKeyCredential = serde_json::from_value(body.credential)
        .map_err(|e| ApiError::bad_request(format!("credential: {e}")))?;
    let passkey = w
        .finish_passkey_registration(&credential, &reg)
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "passkey_rejected",
                format!("The passkey could not be registered: {e}"),
            )
        })?;
    let cred_id = URL_SAFE_NO_PAD.encode(AsRef::<[u8]>::as_ref(passkey.cred_id()));
    let raw = serde_json::to_vec(&passkey).map_err(ApiError::internal)?;
    let audit = caller
        .audit("admin.passkey_added")
        .request_id(crate::auth::request_id(&headers));
    let stored = state
        .app
        .admin
        .add_passkey(&caller.admin, &cred_id, &raw, &name, audit)
        .await?;
    Ok(Json(json!({
        "success": true,
        "credentialId": stored.id,
        "name": stored.name,
        "createdAt": rfc3339(stored.created_at),
    })))
}

/// The body of `POST /api/auth/2fa/passkey/authenticate-options`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionTokenBody {
    /// The `sessionToken` of the login response.
    pub session_token: String,
}

/// WebAuthn authentication options for the second factor of a login.
#[utoipa::path(post, path = "/api/auth/2fa/passkey/authenticate-options", tag = "admin",
    request_body = SessionTokenBody,
    responses((status = 200, description = "options: PublicKeyCredentialRequestOptions (binary fields base64url)"),
              (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)))]
pub async fn passkey_authenticate_options(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SessionTokenBody>,
) -> ApiResult<Json<Value>> {
    let (session, admin) = pending(&state, &body.session_token).await?;
    let w = webauthn(&state)?;
    let passkeys: Vec<Passkey> = stored_passkeys(&state.app.admin.passkeys(&admin).await?)?
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    if passkeys.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "no_passkey",
            "No passkey is registered for this account",
        ));
    }
    let (rcr, auth) = w
        .start_passkey_authentication(&passkeys)
        .map_err(ApiError::internal)?;
    put_ceremony(&state, &session, &Ceremony::Authenticate(auth)).await?;
    let options = public_key_options(serde_json::to_value(&rcr).map_err(ApiError::internal)?);
    Ok(Json(json!({ "options": options })))
}

/// The body of `POST /api/auth/2fa/passkey/authenticate`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticateBody {
    /// The `sessionToken` of the login response.
    pub session_token: String,
    /// The PublicKeyCredential JSON of `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    pub credential: Value,
}

/// Finishes a login with a passkey: a full session (token and cookie).
#[utoipa::path(post, path = "/api/auth/2fa/passkey/authenticate", tag = "admin",
    request_body = AuthenticateBody,
    responses((status = 200, description = "success, token, admin"),
              (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub async fn passkey_authenticate(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<AuthenticateBody>,
) -> ApiResult<Response> {
    let (session, admin) = pending(&state, &body.session_token).await?;
    throttle(
        &state,
        &format!("admin_2fa:{}", admin.id),
        SECOND_FACTOR_PER_MINUTE,
    )
    .await?;
    let w = webauthn(&state)?;
    let Some(Ceremony::Authenticate(auth)) = take_ceremony(&state, &session).await? else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "no_ceremony",
            "Ask for authentication options first",
        ));
    };
    let credential: PublicKeyCredential = serde_json::from_value(body.credential)
        .map_err(|e| ApiError::bad_request(format!("credential: {e}")))?;
    let result = match w.finish_passkey_authentication(&credential, &auth) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(error = %e, "passkey assertion rejected");
            second_factor_failed(&state, &admin, "passkey", "assertion_rejected", &headers).await?;
            return Err(ApiError::unauthorized("The passkey was not accepted"));
        }
    };
    let stored = state.app.admin.passkeys(&admin).await?;
    let mut used = None;
    for (id, mut key) in stored_passkeys(&stored)? {
        if key.update_credential(&result).is_some() {
            used = Some((id, key));
            break;
        }
    }
    let Some((id, key)) = used else {
        second_factor_failed(&state, &admin, "passkey", "unknown_credential", &headers).await?;
        return Err(ApiError::unauthorized("The passkey was not accepted"));
    };
    let raw = serde_json::to_vec(&key).map_err(ApiError::internal)?;
    state.app.admin.update_passkey(&id, &raw).await?;
    finish_second_factor(&state, &session, &admin, "passkey", &headers).await
}

/// The signed-in admin's passkeys.
#[utoipa::path(get, path = "/api/auth/2fa/passkey/credentials", tag = "admin",
    security(("admin_session" = [])),
    responses((status = 200, description = "credentials: [{credentialId, name, createdAt, lastUsedAt}]"),
              (status = 401, body = crate::error::ErrorBody)))]
pub async fn list_passkeys(
    State(state): State<AppState>,
    caller: AdminCaller,
) -> ApiResult<Json<Value>> {
    let list: Vec<Value> = state
        .app
        .admin
        .passkeys(&caller.admin)
        .await?
        .iter()
        .map(|p| {
            json!({
                "credentialId": p.id,
                "name": p.name,
                "createdAt": rfc3339(p.created_at),
                "lastUsedAt": p.last_used_at.map(rfc3339),
            })
        })
        .collect();
    Ok(Json(json!({ "credentials": list })))
}

/// Removes a passkey (`Some(id)`) or face 2FA (`None`) of the caller, never the last
/// second factor (the store checks and deletes atomically). 404 for a factor the admin
/// does not have, 409 `last_2fa_method` for the last one. The console uses it too.
pub(crate) async fn remove_factor(
    state: &AppState,
    caller: &AdminCaller,
    passkey: Option<&str>,
    audit: AuditRecord,
) -> ApiResult<()> {
    match state
        .app
        .admin
        .remove_factor(&caller.admin, passkey, audit)
        .await
    {
        Ok(()) => Ok(()),
        Err(vouch_core::Error::NotFound(_)) => Err(ApiError::not_found(if passkey.is_some() {
            "Passkey not found"
        } else {
            "Face 2FA is not enrolled"
        })),
        Err(vouch_core::Error::Conflict(_)) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "last_2fa_method",
            "At least one 2FA method (passkey or face) must remain active",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Removes one of the signed-in admin's passkeys (not the last second factor).
#[utoipa::path(delete, path = "/api/auth/2fa/passkey/credentials/{id}", tag = "admin",
    params(("id" = String, Path, description = "The passkey's credentialId (cred_…)")),
    security(("admin_session" = [])),
    responses((status = 200, description = "success, message"), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn delete_passkey(
    State(state): State<AppState>,
    caller: AdminCaller,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let audit = caller
        .audit("admin.passkey_removed")
        .target(&id)
        .request_id(crate::auth::request_id(&headers));
    remove_factor(&state, &caller, Some(&id), audit).await?;
    Ok(Json(json!({"success": true, "message": "Passkey removed"})))
}

// ---------------------------------------------------------------- face

/// A live scan by the one rule presence also applies (`vouch_app::scan`).
/// Returns the embedding (L2-normalised) and the engine's match threshold.
async fn live_face(state: &AppState, frames: &[String]) -> ApiResult<(Vec<f32>, f32)> {
    let scan = super::hosted::live_scan(state, frames).await?;
    Ok((scan.embedding, scan.match_threshold))
}

/// The body of `POST /api/auth/2fa/face/enroll`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct FaceEnrollBody {
    /// Explicit biometric consent: must be true.
    pub consent: Option<bool>,
    /// 2 to 12 frames of a live capture with a blink (base64 or data URLs).
    pub frames: Vec<String>,
}

/// Enrols the signed-in admin's face as a second factor (explicit consent, live scan
/// with a blink).
#[utoipa::path(post, path = "/api/auth/2fa/face/enroll", tag = "admin", request_body = FaceEnrollBody,
    security(("admin_session" = [])),
    responses((status = 200, description = "success, enrolledAt"), (status = 400, body = crate::error::ErrorBody),
              (status = 422, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody),
              (status = 503, body = crate::error::ErrorBody)))]
pub async fn face_enroll(
    State(state): State<AppState>,
    caller: AdminCaller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FaceEnrollBody>,
) -> ApiResult<Json<Value>> {
    if body.consent != Some(true) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "consent_required",
            "Face 2FA needs explicit biometric consent (consent: true)",
        ));
    }
    throttle(
        &state,
        &format!("admin_face_enroll:{}", caller.admin.id),
        SECOND_FACTOR_PER_MINUTE,
    )
    .await?;
    let (embedding, _) = live_face(&state, &body.frames).await?;
    let audit = caller
        .audit("admin.face_enrolled")
        .request_id(crate::auth::request_id(&headers));
    let now = state
        .app
        .admin
        .set_face(&caller.admin, &embedding, audit)
        .await?;
    Ok(Json(json!({"success": true, "enrolledAt": rfc3339(now)})))
}

/// Removes the signed-in admin's face template (not the last second factor).
#[utoipa::path(delete, path = "/api/auth/2fa/face", tag = "admin",
    security(("admin_session" = [])),
    responses((status = 200, description = "success, message"), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub async fn face_remove(
    State(state): State<AppState>,
    caller: AdminCaller,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let audit = caller
        .audit("admin.face_removed")
        .target(&caller.admin.id)
        .request_id(crate::auth::request_id(&headers));
    remove_factor(&state, &caller, None, audit).await?;
    Ok(Json(
        json!({"success": true, "message": "Face 2FA removed"}),
    ))
}

/// The body of `POST /api/auth/2fa/face`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaceLoginBody {
    /// The `sessionToken` of the login response.
    pub session_token: String,
    /// 2 to 12 frames of a live capture with a blink (base64 or data URLs).
    pub frames: Vec<String>,
}

/// Finishes a login with a live face scan matched against the admin's template.
#[utoipa::path(post, path = "/api/auth/2fa/face", tag = "admin", request_body = FaceLoginBody,
    responses((status = 200, description = "success, token, admin"), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody), (status = 503, body = crate::error::ErrorBody)))]
pub async fn face_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FaceLoginBody>,
) -> ApiResult<Response> {
    let (session, admin) = pending(&state, &body.session_token).await?;
    let Some(template) = admin.face_template.clone() else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "face_not_enrolled",
            "Face 2FA is not enrolled for this account",
        ));
    };
    throttle(
        &state,
        &format!("admin_2fa:{}", admin.id),
        SECOND_FACTOR_PER_MINUTE,
    )
    .await?;
    let (embedding, threshold) = match live_face(&state, &body.frames).await {
        Ok(v) => v,
        Err(e) => {
            if e.status == StatusCode::UNPROCESSABLE_ENTITY {
                second_factor_failed(&state, &admin, "face", "liveness_or_capture", &headers)
                    .await?;
            }
            return Err(e);
        }
    };
    let similarity: f32 = if template.len() == embedding.len() {
        template.iter().zip(&embedding).map(|(a, b)| a * b).sum()
    } else {
        -1.0
    };
    if similarity < threshold {
        second_factor_failed(&state, &admin, "face", "face_mismatch", &headers).await?;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "face_mismatch",
            "Face not recognised",
        ));
    }
    finish_second_factor(&state, &session, &admin, "face", &headers).await
}

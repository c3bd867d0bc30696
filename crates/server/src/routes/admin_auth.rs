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
//! Size (over 800 lines): one ceremony per factor (password, passkey, face), sharing the
//! pending-session and throttling helpers; moving them to `vouch-app` is the next step
//! (docs/architecture.md).

use crate::admin::{
    check_new_password, clear_cookie, dummy_hash, hash_password, live_session, new_token,
    session_cookie, verify_password, AdminCaller, ABSOLUTE_MS, PENDING_MS, TOKEN_PREFIX,
};
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
use vouch_core::admin_login::LoginStage;
use vouch_core::model::{Actor, AuditRecord};

use vouch_core::{now_millis, rfc3339};
use vouch_store::admin::{token_digest, Admin, AdminSession};
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

/// Login attempts a minute for one account.
pub const LOGIN_PER_ACCOUNT: u32 = 10;
/// Login attempts a minute from one client address.
pub const LOGIN_PER_ADDRESS: u32 = 30;
/// Second-factor attempts a minute for one admin.
pub const SECOND_FACTOR_PER_MINUTE: u32 = 10;
/// Prefix of the token of a session waiting for its second factor.
pub const PENDING_PREFIX: &str = "tmp_sess_";
/// Longest passkey name, in characters.
pub const MAX_PASSKEY_NAME: usize = 64;

const INVALID_LOGIN: &str = "Invalid email or password";

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

fn audit(admin: Option<&Admin>, action: &str, headers: &HeaderMap) -> AuditRecord {
    let actor = match admin {
        Some(a) => Actor::Admin(a.id.clone()),
        None => Actor::System,
    };
    AuditRecord::new(admin.map(|a| &a.org_id), actor, action)
        .request_id(crate::auth::request_id(headers))
}

fn admin_json(a: &Admin) -> Value {
    json!({"id": a.id, "email": a.email, "orgId": a.org_id})
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)
}

/// Counts one hit of `bucket` against `limit` a minute; 429 with `Retry-After` beyond.
async fn throttle(state: &AppState, bucket: &str, limit: u32) -> ApiResult<()> {
    let now = now_millis();
    let d = state.store.hit_rate_limit(bucket, limit, now).await?;
    if d.allowed {
        return Ok(());
    }
    let wait = ((d.reset_at - now) / 1000).max(1);
    Err(ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("Too many attempts; try again in {wait} s"),
    )
    .with_header("retry-after", wait.to_string()))
}

/// The admin's enrolled second factors: (passkey, face).
async fn methods(state: &AppState, admin: &Admin) -> ApiResult<(bool, bool)> {
    let passkeys = state.store.admin_passkeys(&admin.id).await?;
    Ok((!passkeys.is_empty(), admin.face_template.is_some()))
}

/// Opens a `full` session: the JSON answer of a finished login with its cookie.
async fn sign_in(state: &AppState, admin: &Admin, mut body: Value) -> ApiResult<Response> {
    let token = new_token(TOKEN_PREFIX);
    let csrf = new_token("");
    state
        .store
        .create_admin_session(
            admin,
            &token_digest(&token),
            LoginStage::SignedIn,
            &csrf,
            now_millis() + ABSOLUTE_MS,
        )
        .await?;
    body["success"] = json!(true);
    body["token"] = json!(token);
    body["admin"] = admin_json(admin);
    body["csrfToken"] = json!(csrf);
    let mut resp = Json(body).into_response();
    resp.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(state, &token));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

/// The session waiting for a second factor, from its `sessionToken`.
async fn pending(state: &AppState, token: &str) -> ApiResult<(AdminSession, Admin)> {
    let expired = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "session_expired",
            "The login session is unknown or expired: sign in again",
        )
    };
    if !token.starts_with(PENDING_PREFIX) {
        return Err(expired());
    }
    let session = live_session(state, token, LoginStage::SecondFactor)
        .await?
        .ok_or_else(expired)?;
    let admin = state.store.admin(&session.admin_id).await?;
    Ok((session, admin))
}

/// Replaces a pending session by a full one after the second factor passed.
async fn finish_second_factor(
    state: &AppState,
    session: &AdminSession,
    admin: &Admin,
    method: &str,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    state.store.delete_admin_session(&session.id).await?;
    state
        .store
        .append_audit(
            &audit(Some(admin), "admin.login", headers)
                .target(&admin.id)
                .details(json!({"method": method})),
        )
        .await?;
    sign_in(state, admin, json!({})).await
}

async fn second_factor_failed(
    state: &AppState,
    admin: &Admin,
    method: &str,
    reason: &str,
    headers: &HeaderMap,
) -> ApiResult<()> {
    state
        .store
        .append_audit(
            &audit(Some(admin), "admin.login_failed", headers)
                .target(&admin.id)
                .details(json!({"method": method, "reason": reason})),
        )
        .await?;
    Ok(())
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
    if let Some(ip) = ip {
        throttle(&state, &format!("admin_setup:{ip}"), LOGIN_PER_ADDRESS).await?;
    }
    check_new_password(&body.password)?;
    let invalid = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_setup_token",
            "This setup link is invalid, used or expired",
        )
    };
    if body.token.is_empty() || body.token.len() > 128 {
        return Err(invalid());
    }
    let password = body.password;
    let hash = blocking(move || hash_password(&password))
        .await?
        .map_err(ApiError::internal)?;
    let admin = state
        .store
        .complete_admin_setup(&token_digest(&body.token), &hash)
        .await?
        .ok_or_else(invalid)?;
    state
        .store
        .append_audit(&audit(Some(&admin), "admin.password_set", &headers).target(&admin.id))
        .await?;
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
    if let Some(ip) = ip {
        throttle(&state, &format!("admin_setup:{ip}"), LOGIN_PER_ADDRESS).await?;
    }
    let invalid = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_setup_token",
            "This setup link is invalid, used or expired: restart `vouch serve` on a database without admins for a new one, or use `vouch admin create`",
        )
    };
    if body.token.is_empty() || body.token.len() > 128 {
        return Err(invalid());
    }
    let org_name = body.org_name.trim().to_string();
    if org_name.is_empty() || org_name.chars().count() > 200 {
        return Err(ApiError::bad_request("orgName must be 1 to 200 characters"));
    }
    let email = body.email.trim().to_string();
    if email.len() > 254 || !email.contains('@') {
        return Err(ApiError::bad_request("email must be an e-mail address"));
    }
    check_new_password(&body.password)?;
    let password = body.password;
    let hash = blocking(move || hash_password(&password))
        .await?
        .map_err(ApiError::internal)?;
    let redeemed = state.bootstrap.redeem(&body.token).ok_or_else(invalid)?;
    let created = async {
        if state.store.has_admins().await? {
            return Ok(None);
        }
        let org = state
            .store
            .create_org(&org_name, audit(None, "org.created", &headers))
            .await?;
        let admin = state
            .store
            .create_admin(&org.id, &email, Some(&hash), None)
            .await?;
        state
            .store
            .append_audit(&audit(Some(&admin), "admin.bootstrapped", &headers).target(&admin.id))
            .await?;
        Ok::<_, vouch_core::Error>(Some((org, admin)))
    }
    .await;
    let (org, admin) = match created {
        Ok(Some(created)) => created,
        // An admin appeared meanwhile (another node, the CLI): this link is spent.
        Ok(None) => return Err(invalid()),
        Err(e) => {
            state.bootstrap.restore(redeemed);
            return Err(e.into());
        }
    };
    tracing::info!(org = %org.id, admin = %admin.id, "first organisation and admin created from the setup link");
    sign_in(
        &state,
        &admin,
        json!({
            "orgId": org.id,
            "enrollmentRequired": true,
            "enrollBy": rfc3339(admin.enroll_by),
        }),
    )
    .await
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
    if let Some(ip) = ip {
        throttle(&state, &format!("admin_login_ip:{ip}"), LOGIN_PER_ADDRESS).await?;
    }
    let email = body.email.trim().to_lowercase();
    if email.is_empty() || email.len() > 254 || body.password.chars().count() > 1024 {
        return Err(ApiError::unauthorized(INVALID_LOGIN));
    }
    // Per account, by a keyed digest of the address (no e-mail in the counter table).
    let account = state.store.blind_index("admin_login", &email);
    throttle(
        &state,
        &format!("admin_login_account:{account}"),
        LOGIN_PER_ACCOUNT,
    )
    .await?;
    let admin = state.store.admin_by_email(&email).await?;
    // Unknown accounts and accounts without a password check the dummy hash: the same
    // work, the same answer.
    let phc = admin
        .as_ref()
        .and_then(|a| a.password_hash.clone())
        .unwrap_or_else(|| dummy_hash().to_string());
    let known = admin.as_ref().is_some_and(|a| a.password_hash.is_some());
    let password = body.password;
    let ok = blocking(move || verify_password(&phc, &password)).await? && known;
    let Some(admin) = admin.filter(|_| ok) else {
        state
            .store
            .append_audit(
                &audit(None, "admin.login_failed", &headers).details(json!({"method": "password"})),
            )
            .await?;
        return Err(ApiError::unauthorized(INVALID_LOGIN));
    };
    let (passkey, face) = methods(&state, &admin).await?;
    if passkey || face {
        let token = new_token(PENDING_PREFIX);
        state
            .store
            .create_admin_session(
                &admin,
                &token_digest(&token),
                LoginStage::SecondFactor,
                &new_token(""),
                now_millis() + PENDING_MS,
            )
            .await?;
        state
            .store
            .append_audit(
                &audit(Some(&admin), "admin.login_password_ok", &headers)
                    .target(&admin.id)
                    .details(json!({"requires2fa": true})),
            )
            .await?;
        return Ok(Json(json!({
            "requires_2fa": true,
            "methods": {"passkey": passkey, "face": face},
            "sessionToken": token,
            "message": "Two-factor authentication required",
        }))
        .into_response());
    }
    if now_millis() >= admin.enroll_by {
        state
            .store
            .append_audit(
                &audit(Some(&admin), "admin.login_blocked", &headers)
                    .target(&admin.id)
                    .details(json!({"reason": "2fa_enrollment_overdue"})),
            )
            .await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "enrollment_required",
            "2FA enrollment required",
        ));
    }
    state
        .store
        .append_audit(
            &audit(Some(&admin), "admin.login", &headers)
                .target(&admin.id)
                .details(json!({"method": "password", "enrollmentRequired": true})),
        )
        .await?;
    sign_in(
        &state,
        &admin,
        json!({"enrollmentRequired": true, "enrollBy": rfc3339(admin.enroll_by)}),
    )
    .await
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
    state.store.delete_admin_session(&caller.session.id).await?;
    state
        .store
        .append_audit(
            &caller
                .audit("admin.logout")
                .request_id(crate::auth::request_id(&headers)),
        )
        .await?;
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
    let (passkey, face) = methods(&state, &caller.admin).await?;
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
    let Some(raw) = &session.challenge else {
        return Ok(None);
    };
    // Single use: a ceremony's state is cleared once read.
    state.store.set_admin_challenge(&session.id, None).await?;
    Ok(serde_json::from_slice(raw).ok())
}

async fn put_ceremony(state: &AppState, session: &AdminSession, c: &Ceremony) -> ApiResult<()> {
    let raw = serde_json::to_vec(c).map_err(ApiError::internal)?;
    state
        .store
        .set_admin_challenge(&session.id, Some(&raw))
        .await?;
    Ok(())
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
    let existing = stored_passkeys(&state.store.admin_passkeys(&caller.admin.id).await?)?;
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
    let stored = state
        .store
        .add_admin_passkey(&caller.admin, &cred_id, &raw, &name)
        .await?;
    state
        .store
        .append_audit(
            &caller
                .audit("admin.passkey_added")
                .target(&stored.id)
                .request_id(crate::auth::request_id(&headers)),
        )
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
    let passkeys: Vec<Passkey> = stored_passkeys(&state.store.admin_passkeys(&admin.id).await?)?
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
    let stored = state.store.admin_passkeys(&admin.id).await?;
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
    state.store.update_admin_passkey(&id, &raw).await?;
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
        .store
        .admin_passkeys(&caller.admin.id)
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
) -> ApiResult<()> {
    match state
        .store
        .remove_admin_factor(&caller.admin.id, passkey)
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
    remove_factor(&state, &caller, Some(&id)).await?;
    state
        .store
        .append_audit(
            &caller
                .audit("admin.passkey_removed")
                .target(&id)
                .request_id(crate::auth::request_id(&headers)),
        )
        .await?;
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
    state
        .store
        .set_admin_face(&caller.admin.id, Some(&embedding))
        .await?;
    let now = now_millis();
    state
        .store
        .append_audit(
            &caller
                .audit("admin.face_enrolled")
                .target(&caller.admin.id)
                .request_id(crate::auth::request_id(&headers))
                .details(json!({"biometricConsent": true, "consentAt": rfc3339(now)})),
        )
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
    remove_factor(&state, &caller, None).await?;
    state
        .store
        .append_audit(
            &caller
                .audit("admin.face_removed")
                .target(&caller.admin.id)
                .request_id(crate::auth::request_id(&headers)),
        )
        .await?;
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

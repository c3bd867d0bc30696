//! Admin sign-in use cases (spec: "Admin Authentication & 2FA"): the first admin from the
//! one-time bootstrap link, the setup link, password login (argon2id, throttled per
//! account and per client address, the same work for unknown accounts), the pending
//! session a second factor finishes, the signed-in session, logout, and the storage of
//! the second factors (passkeys, the face template). The states of a sign-in are
//! [`LoginStage`]'s (`core/src/admin_login.rs`).
//!
//! The WebAuthn ceremonies themselves (webauthn-rs) and the live face scan
//! ([`crate::scan`]) run at the edge; what they read and write goes through here.
//!
//! Size (over 800 lines): the bootstrap link, the password helpers, the storage trait with
//! its store implementation and the sign-in use cases are about 730; the rest is the unit
//! tests' in-memory fake store.

use async_trait::async_trait;
use rand::RngCore;
use serde_json::json;
use std::sync::{Arc, Mutex};
use vouch_core::admin_login::LoginStage;
use vouch_core::credential::constant_time_eq;
use vouch_core::ids::OrgId;
use vouch_core::model::{AuditRecord, Org};
use vouch_core::{now_millis, Error, Millis, Result};
use vouch_store::admin::{token_digest, Admin, AdminPasskey, AdminSession};
use vouch_store::ratelimit::RateDecision;

/// Login attempts a minute for one account.
pub const LOGIN_PER_ACCOUNT: u32 = 10;
/// Login attempts a minute from one client address.
pub const LOGIN_PER_ADDRESS: u32 = 30;
/// Second-factor attempts a minute for one admin.
pub const SECOND_FACTOR_PER_MINUTE: u32 = 10;
/// Prefix of a signed-in session's token.
pub const TOKEN_PREFIX: &str = "vas_";
/// Prefix of the token of a session waiting for its second factor.
pub const PENDING_PREFIX: &str = "tmp_sess_";
/// A session ends after this long without a request.
pub const IDLE_MS: Millis = 30 * 60 * 1000;
/// A signed-in session ends this long after login, whatever its use.
pub const ABSOLUTE_MS: Millis = 12 * 3600 * 1000;
/// A session waiting for its second factor ends this long after the password.
pub const PENDING_MS: Millis = 5 * 60 * 1000;
/// Shortest password.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// How long a bootstrap link works: one hour.
pub const BOOTSTRAP_TTL_MS: Millis = 3600 * 1000;
/// Prefix of a bootstrap token.
pub const BOOTSTRAP_PREFIX: &str = "vsb_";
/// The longest token looked up.
const MAX_TOKEN: usize = 128;

/// A random token: `prefix` and 32 random bytes, base64url.
pub fn new_token(prefix: &str) -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A new password's length rule.
pub fn check_new_password(password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(Error::Invalid(format!(
            "password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

/// An argon2id PHC string of a password. Costly: call from the blocking pool.
pub fn hash_password(password: &str) -> std::result::Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a password against a PHC string (false for a malformed one). Costly: call
/// from the blocking pool.
pub fn verify_password(phc: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    argon2::Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A fixed argon2id hash of a random secret, checked when a login names no account (or
/// one without a password), so that the answer takes as long as for a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&new_token("dummy_")).unwrap_or_default())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.to_string()))
}

/// The one link on offer that creates the first organisation and admin of a fresh
/// install: a bearer secret held only in this process's memory, as the SHA-256 of its
/// token. It works once, for [`BOOTSTRAP_TTL_MS`], and only while no admin exists
/// (checked again when it is redeemed). A restart offers a new link and forgets the old.
#[derive(Default)]
pub struct Bootstrap(Mutex<Option<Offer>>);

#[derive(Clone)]
struct Offer {
    digest: String,
    expires_at: Millis,
}

/// A redeemed offer, given back by [`Bootstrap::restore`] when creating the admin
/// failed for a reason that is not the caller's.
pub struct Redeemed(Offer);

impl Bootstrap {
    /// A new token, replacing any earlier one.
    pub fn issue(&self) -> String {
        let token = new_token(BOOTSTRAP_PREFIX);
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

/// Storage of admins, their sessions and second factors.
#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Counts one request in a fixed one-minute window of `bucket`.
    async fn hit_rate_limit(&self, bucket: &str, limit: u32, now: Millis) -> Result<RateDecision>;
    /// A keyed digest (no e-mail in the rate-limit table).
    fn blind_index(&self, purpose: &str, value: &str) -> String;
    /// Whether any admin exists.
    async fn has_admins(&self) -> Result<bool>;
    /// An admin by id.
    async fn admin(&self, id: &str) -> Result<Admin>;
    /// An admin by e-mail (lower case).
    async fn admin_by_email(&self, email: &str) -> Result<Option<Admin>>;
    /// Creates an organisation.
    async fn create_org(&self, name: &str, audit: AuditRecord) -> Result<Org>;
    /// Creates an admin with a password hash.
    async fn create_admin(&self, org: &OrgId, email: &str, password_hash: &str) -> Result<Admin>;
    /// Sets the password of the admin whose setup link this is (once) → the admin.
    async fn complete_admin_setup(
        &self,
        setup_digest: &str,
        password_hash: &str,
    ) -> Result<Option<Admin>>;
    /// Opens a session.
    async fn create_admin_session(
        &self,
        admin: &Admin,
        token_digest: &str,
        stage: LoginStage,
        csrf: &str,
        expires_at: Millis,
    ) -> Result<AdminSession>;
    /// An unexpired session by its token's digest.
    async fn admin_session(&self, token_digest: &str) -> Result<Option<AdminSession>>;
    /// Refreshes a session's idle clock.
    async fn touch_admin_session(&self, id: &str) -> Result<()>;
    /// Ends a session.
    async fn delete_admin_session(&self, id: &str) -> Result<()>;
    /// Keeps (or clears) a WebAuthn ceremony's state with a session.
    async fn set_admin_challenge(&self, session: &str, state: Option<&[u8]>) -> Result<()>;
    /// The admin's passkeys.
    async fn admin_passkeys(&self, admin: &str) -> Result<Vec<AdminPasskey>>;
    /// Adds a passkey.
    async fn add_admin_passkey(
        &self,
        admin: &Admin,
        credential_id: &str,
        passkey: &[u8],
        name: &str,
    ) -> Result<AdminPasskey>;
    /// Replaces a passkey's state after a use (its counter).
    async fn update_admin_passkey(&self, id: &str, passkey: &[u8]) -> Result<()>;
    /// Removes a passkey (`Some`) or the face (`None`), never the last second factor
    /// (`Conflict`); `NotFound` for a factor the admin does not have.
    async fn remove_admin_factor(&self, admin: &str, passkey: Option<&str>) -> Result<()>;
    /// Sets or clears the admin's face template.
    async fn set_admin_face(&self, admin: &str, template: Option<&[f32]>) -> Result<()>;
    /// Appends an audit record.
    async fn append_audit(&self, record: &AuditRecord) -> Result<()>;
}

#[async_trait]
impl AdminStore for vouch_store::Store {
    async fn hit_rate_limit(&self, bucket: &str, limit: u32, now: Millis) -> Result<RateDecision> {
        vouch_store::Store::hit_rate_limit(self, bucket, limit, now).await
    }
    fn blind_index(&self, purpose: &str, value: &str) -> String {
        vouch_store::Store::blind_index(self, purpose, value)
    }
    async fn has_admins(&self) -> Result<bool> {
        vouch_store::Store::has_admins(self).await
    }
    async fn admin(&self, id: &str) -> Result<Admin> {
        vouch_store::Store::admin(self, id).await
    }
    async fn admin_by_email(&self, email: &str) -> Result<Option<Admin>> {
        vouch_store::Store::admin_by_email(self, email).await
    }
    async fn create_org(&self, name: &str, audit: AuditRecord) -> Result<Org> {
        vouch_store::Store::create_org(self, name, audit).await
    }
    async fn create_admin(&self, org: &OrgId, email: &str, password_hash: &str) -> Result<Admin> {
        vouch_store::Store::create_admin(self, org, email, Some(password_hash), None).await
    }
    async fn complete_admin_setup(
        &self,
        setup_digest: &str,
        password_hash: &str,
    ) -> Result<Option<Admin>> {
        vouch_store::Store::complete_admin_setup(self, setup_digest, password_hash).await
    }
    async fn create_admin_session(
        &self,
        admin: &Admin,
        token_digest: &str,
        stage: LoginStage,
        csrf: &str,
        expires_at: Millis,
    ) -> Result<AdminSession> {
        vouch_store::Store::create_admin_session(self, admin, token_digest, stage, csrf, expires_at)
            .await
    }
    async fn admin_session(&self, token_digest: &str) -> Result<Option<AdminSession>> {
        vouch_store::Store::admin_session(self, token_digest).await
    }
    async fn touch_admin_session(&self, id: &str) -> Result<()> {
        vouch_store::Store::touch_admin_session(self, id).await
    }
    async fn delete_admin_session(&self, id: &str) -> Result<()> {
        vouch_store::Store::delete_admin_session(self, id).await
    }
    async fn set_admin_challenge(&self, session: &str, state: Option<&[u8]>) -> Result<()> {
        vouch_store::Store::set_admin_challenge(self, session, state).await
    }
    async fn admin_passkeys(&self, admin: &str) -> Result<Vec<AdminPasskey>> {
        vouch_store::Store::admin_passkeys(self, admin).await
    }
    async fn add_admin_passkey(
        &self,
        admin: &Admin,
        credential_id: &str,
        passkey: &[u8],
        name: &str,
    ) -> Result<AdminPasskey> {
        vouch_store::Store::add_admin_passkey(self, admin, credential_id, passkey, name).await
    }
    async fn update_admin_passkey(&self, id: &str, passkey: &[u8]) -> Result<()> {
        vouch_store::Store::update_admin_passkey(self, id, passkey).await
    }
    async fn remove_admin_factor(&self, admin: &str, passkey: Option<&str>) -> Result<()> {
        vouch_store::Store::remove_admin_factor(self, admin, passkey).await
    }
    async fn set_admin_face(&self, admin: &str, template: Option<&[f32]>) -> Result<()> {
        vouch_store::Store::set_admin_face(self, admin, template).await
    }
    async fn append_audit(&self, record: &AuditRecord) -> Result<()> {
        vouch_store::Store::append_audit(self, record).await
    }
}

/// Why a sign-in step was refused.
#[derive(Debug)]
pub enum AdminError {
    /// Too many attempts: retry after so many seconds.
    Throttled(i64),
    /// Wrong e-mail or password (one answer for both).
    InvalidLogin,
    /// The password was right but the 2FA enrolment deadline has passed.
    EnrollmentOverdue,
    /// The setup or bootstrap link is unknown, used or expired.
    InvalidLink,
    /// The pending session of a second factor is unknown or expired.
    PendingExpired,
    /// Bad input, a missing record, the store.
    Core(Error),
}

impl From<Error> for AdminError {
    fn from(e: Error) -> Self {
        AdminError::Core(e)
    }
}

/// A session just opened: its token (shown once) and CSRF token.
#[derive(Debug, Clone)]
pub struct Opened {
    /// The bearer token (`vas_…`, or `tmp_sess_…` for a pending session).
    pub token: String,
    /// The CSRF token the console's forms and JSON calls carry.
    pub csrf: String,
}

/// Where a password login leads.
#[derive(Debug)]
pub enum Login {
    /// A second factor is enrolled: finish with it using the pending session's token.
    SecondFactor {
        /// The pending session's token.
        token: String,
        /// A passkey is enrolled.
        passkey: bool,
        /// The face is enrolled.
        face: bool,
    },
    /// No second factor yet, before the enrolment deadline: signed in.
    SignedIn(Box<Admin>, Opened),
}

/// Makes the audit record of an action, for an admin or none (the route adds the
/// request id).
pub type Auditor<'a> = &'a (dyn Fn(Option<&Admin>, &str) -> AuditRecord + Send + Sync);

/// A bootstrap request.
#[derive(Debug, Clone)]
pub struct FirstAdmin<'a> {
    /// The one-time link's token.
    pub token: &'a str,
    /// The organisation's name.
    pub org_name: &'a str,
    /// The admin's e-mail.
    pub email: &'a str,
    /// The admin's password.
    pub password: &'a str,
}

/// The admin sign-in use cases.
pub struct AdminAuth {
    store: Arc<dyn AdminStore>,
    bootstrap: Bootstrap,
}

impl AdminAuth {
    /// Over a store.
    pub fn new(store: Arc<dyn AdminStore>) -> AdminAuth {
        AdminAuth {
            store,
            bootstrap: Bootstrap::default(),
        }
    }

    /// The bootstrap link holder.
    pub fn bootstrap_link(&self) -> &Bootstrap {
        &self.bootstrap
    }

    /// A new one-time bootstrap token when the database has no admin; None otherwise.
    pub async fn offer_bootstrap(&self) -> Result<Option<String>> {
        if self.store.has_admins().await? {
            return Ok(None);
        }
        Ok(Some(self.bootstrap.issue()))
    }

    /// Counts one attempt of `bucket` against `limit` a minute.
    pub async fn throttle(&self, bucket: &str, limit: u32) -> std::result::Result<(), AdminError> {
        let now = now_millis();
        let d = self.store.hit_rate_limit(bucket, limit, now).await?;
        if d.allowed {
            return Ok(());
        }
        Err(AdminError::Throttled(d.retry_after_secs(now)))
    }

    /// A live session of `stage` by its token: unknown, expired, idle or of another
    /// stage is None (an idle one is deleted); the idle clock is refreshed at most once
    /// a minute.
    pub async fn session(&self, token: &str, stage: LoginStage) -> Result<Option<AdminSession>> {
        if token.len() > MAX_TOKEN {
            return Ok(None);
        }
        let Some(s) = self.store.admin_session(&token_digest(token)).await? else {
            return Ok(None);
        };
        let now = now_millis();
        let idle = s.last_seen_at + IDLE_MS <= now;
        if idle {
            self.store.delete_admin_session(&s.id).await?;
        }
        if idle || s.stage != stage {
            return Ok(None);
        }
        if now - s.last_seen_at > 60_000 {
            self.store.touch_admin_session(&s.id).await?;
        }
        Ok(Some(s))
    }

    /// The signed-in session of a token with its admin.
    pub async fn signed_in(&self, token: &str) -> Result<Option<(AdminSession, Admin)>> {
        let Some(session) = self.session(token, LoginStage::SignedIn).await? else {
            return Ok(None);
        };
        let admin = self.store.admin(&session.admin_id).await?;
        Ok(Some((session, admin)))
    }

    /// The session waiting for a second factor, from the login's `sessionToken`.
    pub async fn pending(
        &self,
        token: &str,
    ) -> std::result::Result<(AdminSession, Admin), AdminError> {
        if !token.starts_with(PENDING_PREFIX) {
            return Err(AdminError::PendingExpired);
        }
        let session = self
            .session(token, LoginStage::SecondFactor)
            .await?
            .ok_or(AdminError::PendingExpired)?;
        let admin = self.store.admin(&session.admin_id).await?;
        Ok((session, admin))
    }

    /// The admin's enrolled second factors: (passkey, face).
    pub async fn methods(&self, admin: &Admin) -> Result<(bool, bool)> {
        let passkeys = self.store.admin_passkeys(&admin.id).await?;
        Ok((!passkeys.is_empty(), admin.face_template.is_some()))
    }

    /// Opens a signed-in session (its token shown once).
    pub async fn open(&self, admin: &Admin) -> Result<Opened> {
        let token = new_token(TOKEN_PREFIX);
        let csrf = new_token("");
        self.store
            .create_admin_session(
                admin,
                &token_digest(&token),
                LoginStage::SignedIn,
                &csrf,
                now_millis() + ABSOLUTE_MS,
            )
            .await?;
        Ok(Opened { token, csrf })
    }

    /// Password login from a client address (when known).
    pub async fn login(
        &self,
        address: Option<&str>,
        email: &str,
        password: &str,
        audit: Auditor<'_>,
    ) -> std::result::Result<Login, AdminError> {
        if let Some(ip) = address {
            self.throttle(&format!("admin_login_ip:{ip}"), LOGIN_PER_ADDRESS)
                .await?;
        }
        let email = email.trim().to_lowercase();
        if email.is_empty() || email.len() > 254 || password.chars().count() > 1024 {
            return Err(AdminError::InvalidLogin);
        }
        // Per account, by a keyed digest of the address (no e-mail in the counter table).
        let account = self.store.blind_index("admin_login", &email);
        self.throttle(&format!("admin_login_account:{account}"), LOGIN_PER_ACCOUNT)
            .await?;
        let admin = self.store.admin_by_email(&email).await?;
        // Unknown accounts and accounts without a password check the dummy hash: the
        // same work, the same answer.
        let phc = admin
            .as_ref()
            .and_then(|a| a.password_hash.clone())
            .unwrap_or_else(|| dummy_hash().to_string());
        let known = admin.as_ref().is_some_and(|a| a.password_hash.is_some());
        let password = password.to_string();
        let ok = blocking(move || verify_password(&phc, &password)).await? && known;
        let Some(admin) = admin.filter(|_| ok) else {
            self.store
                .append_audit(
                    &audit(None, "admin.login_failed").details(json!({"method": "password"})),
                )
                .await?;
            return Err(AdminError::InvalidLogin);
        };
        let (passkey, face) = self.methods(&admin).await?;
        if passkey || face {
            let token = new_token(PENDING_PREFIX);
            self.store
                .create_admin_session(
                    &admin,
                    &token_digest(&token),
                    LoginStage::SecondFactor,
                    &new_token(""),
                    now_millis() + PENDING_MS,
                )
                .await?;
            self.store
                .append_audit(
                    &audit(Some(&admin), "admin.login_password_ok")
                        .target(&admin.id)
                        .details(json!({"requires2fa": true})),
                )
                .await?;
            return Ok(Login::SecondFactor {
                token,
                passkey,
                face,
            });
        }
        if now_millis() >= admin.enroll_by {
            self.store
                .append_audit(
                    &audit(Some(&admin), "admin.login_blocked")
                        .target(&admin.id)
                        .details(json!({"reason": "2fa_enrollment_overdue"})),
                )
                .await?;
            return Err(AdminError::EnrollmentOverdue);
        }
        self.store
            .append_audit(
                &audit(Some(&admin), "admin.login")
                    .target(&admin.id)
                    .details(json!({"method": "password", "enrollmentRequired": true})),
            )
            .await?;
        let opened = self.open(&admin).await?;
        Ok(Login::SignedIn(Box::new(admin), opened))
    }

    /// Replaces a pending session by a signed-in one after the second factor passed.
    pub async fn finish_second_factor(
        &self,
        pending: &AdminSession,
        admin: &Admin,
        method: &str,
        audit: Auditor<'_>,
    ) -> Result<Opened> {
        self.store.delete_admin_session(&pending.id).await?;
        self.store
            .append_audit(
                &audit(Some(admin), "admin.login")
                    .target(&admin.id)
                    .details(json!({ "method": method })),
            )
            .await?;
        self.open(admin).await
    }

    /// Records a refused second factor.
    pub async fn second_factor_failed(
        &self,
        admin: &Admin,
        method: &str,
        reason: &str,
        audit: Auditor<'_>,
    ) -> Result<()> {
        self.store
            .append_audit(
                &audit(Some(admin), "admin.login_failed")
                    .target(&admin.id)
                    .details(json!({"method": method, "reason": reason})),
            )
            .await
    }

    /// Redeems a setup link: sets the admin's password (once).
    pub async fn setup(
        &self,
        address: Option<&str>,
        token: &str,
        password: &str,
        audit: Auditor<'_>,
    ) -> std::result::Result<(), AdminError> {
        if let Some(ip) = address {
            self.throttle(&format!("admin_setup:{ip}"), LOGIN_PER_ADDRESS)
                .await?;
        }
        check_new_password(password)?;
        if token.is_empty() || token.len() > MAX_TOKEN {
            return Err(AdminError::InvalidLink);
        }
        let password = password.to_string();
        let hash = blocking(move || hash_password(&password))
            .await?
            .map_err(Error::Internal)?;
        let admin = self
            .store
            .complete_admin_setup(&token_digest(token), &hash)
            .await?
            .ok_or(AdminError::InvalidLink)?;
        self.store
            .append_audit(&audit(Some(&admin), "admin.password_set").target(&admin.id))
            .await?;
        Ok(())
    }

    /// The first organisation and admin of a fresh install, from the bootstrap link;
    /// signed in at once. A refused field leaves the link usable; a store failure puts
    /// it back.
    pub async fn bootstrap(
        &self,
        address: Option<&str>,
        first: FirstAdmin<'_>,
        audit: Auditor<'_>,
    ) -> std::result::Result<(Org, Admin, Opened), AdminError> {
        if let Some(ip) = address {
            self.throttle(&format!("admin_setup:{ip}"), LOGIN_PER_ADDRESS)
                .await?;
        }
        if first.token.is_empty() || first.token.len() > MAX_TOKEN {
            return Err(AdminError::InvalidLink);
        }
        let org_name = first.org_name.trim();
        if org_name.is_empty() || org_name.chars().count() > 200 {
            return Err(Error::Invalid("orgName must be 1 to 200 characters".into()).into());
        }
        let email = first.email.trim();
        if email.len() > 254 || !email.contains('@') {
            return Err(Error::Invalid("email must be an e-mail address".into()).into());
        }
        check_new_password(first.password)?;
        let password = first.password.to_string();
        let hash = blocking(move || hash_password(&password))
            .await?
            .map_err(Error::Internal)?;
        let redeemed = self
            .bootstrap
            .redeem(first.token)
            .ok_or(AdminError::InvalidLink)?;
        let created = async {
            if self.store.has_admins().await? {
                return Ok(None);
            }
            let org = self
                .store
                .create_org(org_name, audit(None, "org.created"))
                .await?;
            let admin = self.store.create_admin(&org.id, email, &hash).await?;
            self.store
                .append_audit(&audit(Some(&admin), "admin.bootstrapped").target(&admin.id))
                .await?;
            Ok::<_, Error>(Some((org, admin)))
        }
        .await;
        let (org, admin) = match created {
            Ok(Some(created)) => created,
            // An admin appeared meanwhile (another node, the CLI): this link is spent.
            Ok(None) => return Err(AdminError::InvalidLink),
            Err(e) => {
                self.bootstrap.restore(redeemed);
                return Err(e.into());
            }
        };
        let opened = self.open(&admin).await?;
        Ok((org, admin, opened))
    }

    /// Ends a session.
    pub async fn logout(&self, session: &AdminSession, audit: AuditRecord) -> Result<()> {
        self.store.delete_admin_session(&session.id).await?;
        self.store.append_audit(&audit).await
    }

    /// The admin's passkeys.
    pub async fn passkeys(&self, admin: &Admin) -> Result<Vec<AdminPasskey>> {
        self.store.admin_passkeys(&admin.id).await
    }

    /// Takes the WebAuthn ceremony kept with a session: single use, cleared once read.
    pub async fn take_ceremony(&self, session: &AdminSession) -> Result<Option<Vec<u8>>> {
        let Some(raw) = &session.challenge else {
            return Ok(None);
        };
        self.store.set_admin_challenge(&session.id, None).await?;
        Ok(Some(raw.clone()))
    }

    /// Keeps a WebAuthn ceremony's state with a session.
    pub async fn put_ceremony(&self, session: &AdminSession, state: &[u8]) -> Result<()> {
        self.store
            .set_admin_challenge(&session.id, Some(state))
            .await
    }

    /// Adds a registered passkey, audited.
    pub async fn add_passkey(
        &self,
        admin: &Admin,
        credential_id: &str,
        passkey: &[u8],
        name: &str,
        audit: AuditRecord,
    ) -> Result<AdminPasskey> {
        let stored = self
            .store
            .add_admin_passkey(admin, credential_id, passkey, name)
            .await?;
        self.store.append_audit(&audit.target(&stored.id)).await?;
        Ok(stored)
    }

    /// Keeps a passkey's state after a use.
    pub async fn update_passkey(&self, id: &str, passkey: &[u8]) -> Result<()> {
        self.store.update_admin_passkey(id, passkey).await
    }

    /// Removes a passkey (`Some(id)`) or the face (`None`), never the last second
    /// factor (`Conflict`), audited.
    pub async fn remove_factor(
        &self,
        admin: &Admin,
        passkey: Option<&str>,
        audit: AuditRecord,
    ) -> Result<()> {
        self.store.remove_admin_factor(&admin.id, passkey).await?;
        self.store.append_audit(&audit).await
    }

    /// Enrols the admin's face (a live scan's embedding), audited with the consent.
    pub async fn set_face(
        &self,
        admin: &Admin,
        template: &[f32],
        audit: AuditRecord,
    ) -> Result<Millis> {
        self.store.set_admin_face(&admin.id, Some(template)).await?;
        let now = now_millis();
        self.store
            .append_audit(
                &audit.target(&admin.id).details(
                    json!({"biometricConsent": true, "consentAt": vouch_core::rfc3339(now)}),
                ),
            )
            .await?;
        Ok(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bootstrap_link_works_once_and_only_with_its_token() {
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
    fn an_expired_bootstrap_link_is_refused() {
        let b = Bootstrap::default();
        let token = b.issue();
        if let Some(o) = b.lock().as_mut() {
            o.expires_at = now_millis() - 1;
        }
        assert!(!b.is_open());
        assert!(b.redeem(&token).is_none());
    }

    /// One admin (`ann@example.com`, password `PASSWORD`, no second factor, enrolment
    /// deadline as given); counts rate-limit hits; records audits and sessions.
    struct Fake {
        admin: Admin,
        allowed: u32,
        hits: Mutex<u32>,
        audits: Mutex<Vec<String>>,
        sessions: Mutex<Vec<LoginStage>>,
    }

    const PASSWORD: &str = "a long enough password";

    fn fake(enroll_by: Millis, allowed: u32) -> Arc<Fake> {
        Arc::new(Fake {
            admin: Admin {
                id: "adm_1".into(),
                org_id: OrgId::from_string("o"),
                email: "ann@example.com".into(),
                password_hash: hash_password(PASSWORD).ok(),
                face_template: None,
                face_consent_at: None,
                enroll_by,
                created_at: 0,
            },
            allowed,
            hits: Mutex::new(0),
            audits: Mutex::new(Vec::new()),
            sessions: Mutex::new(Vec::new()),
        })
    }

    fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn unavailable<T>() -> Result<T> {
        Err(Error::Unavailable("not in this fake".into()))
    }

    #[async_trait]
    impl AdminStore for Fake {
        async fn hit_rate_limit(&self, _: &str, limit: u32, now: Millis) -> Result<RateDecision> {
            let mut hits = lock(&self.hits);
            *hits += 1;
            Ok(RateDecision {
                limit,
                remaining: 0,
                reset_at: now + 20_000,
                allowed: *hits <= self.allowed,
            })
        }
        fn blind_index(&self, purpose: &str, value: &str) -> String {
            format!("{purpose}:{}", value.len())
        }
        async fn has_admins(&self) -> Result<bool> {
            Ok(true)
        }
        async fn admin(&self, _: &str) -> Result<Admin> {
            Ok(self.admin.clone())
        }
        async fn admin_by_email(&self, email: &str) -> Result<Option<Admin>> {
            Ok((email == self.admin.email).then(|| self.admin.clone()))
        }
        async fn create_org(&self, _: &str, _: AuditRecord) -> Result<Org> {
            unavailable()
        }
        async fn create_admin(&self, _: &OrgId, _: &str, _: &str) -> Result<Admin> {
            unavailable()
        }
        async fn complete_admin_setup(&self, _: &str, _: &str) -> Result<Option<Admin>> {
            Ok(None)
        }
        async fn create_admin_session(
            &self,
            _: &Admin,
            _: &str,
            stage: LoginStage,
            _: &str,
            _: Millis,
        ) -> Result<AdminSession> {
            lock(&self.sessions).push(stage);
            Ok(AdminSession {
                id: "as_1".into(),
                admin_id: self.admin.id.clone(),
                org_id: self.admin.org_id.clone(),
                stage,
                csrf: String::new(),
                challenge: None,
                created_at: 0,
                last_seen_at: 0,
                expires_at: 0,
            })
        }
        async fn admin_session(&self, _: &str) -> Result<Option<AdminSession>> {
            Ok(None)
        }
        async fn touch_admin_session(&self, _: &str) -> Result<()> {
            Ok(())
        }
        async fn delete_admin_session(&self, _: &str) -> Result<()> {
            Ok(())
        }
        async fn set_admin_challenge(&self, _: &str, _: Option<&[u8]>) -> Result<()> {
            Ok(())
        }
        async fn admin_passkeys(&self, _: &str) -> Result<Vec<AdminPasskey>> {
            Ok(Vec::new())
        }
        async fn add_admin_passkey(
            &self,
            _: &Admin,
            _: &str,
            _: &[u8],
            _: &str,
        ) -> Result<AdminPasskey> {
            unavailable()
        }
        async fn update_admin_passkey(&self, _: &str, _: &[u8]) -> Result<()> {
            unavailable()
        }
        async fn remove_admin_factor(&self, _: &str, _: Option<&str>) -> Result<()> {
            unavailable()
        }
        async fn set_admin_face(&self, _: &str, _: Option<&[f32]>) -> Result<()> {
            unavailable()
        }
        async fn append_audit(&self, record: &AuditRecord) -> Result<()> {
            lock(&self.audits).push(record.action.clone());
            Ok(())
        }
    }

    fn audit(admin: Option<&Admin>, action: &str) -> AuditRecord {
        let actor = match admin {
            Some(a) => vouch_core::model::Actor::Admin(a.id.clone()),
            None => vouch_core::model::Actor::System,
        };
        AuditRecord::new(None, actor, action)
    }

    #[tokio::test]
    async fn a_wrong_password_and_an_unknown_account_get_one_answer_and_are_audited() {
        let store = fake(now_millis() + 60_000, 100);
        let auth = AdminAuth::new(store.clone());
        for (email, password) in [
            ("ann@example.com", "wrong password!"),
            ("nobody@example.com", PASSWORD),
            ("", PASSWORD),
        ] {
            let e = auth.login(None, email, password, &audit).await;
            assert!(matches!(e, Err(AdminError::InvalidLogin)), "{email}: {e:?}");
        }
        assert_eq!(
            lock(&store.audits).len(),
            2,
            "the empty e-mail is refused first"
        );
        assert!(lock(&store.sessions).is_empty());
        // The right password, in another case and with spaces, signs in.
        let ok = auth
            .login(Some("192.0.2.1"), " ANN@example.com ", PASSWORD, &audit)
            .await;
        assert!(matches!(ok, Ok(Login::SignedIn(..))), "{ok:?}");
        assert_eq!(*lock(&store.sessions), vec![LoginStage::SignedIn]);
    }

    #[tokio::test]
    async fn past_the_enrolment_deadline_a_password_alone_does_not_sign_in() {
        let store = fake(now_millis() - 1, 100);
        let auth = AdminAuth::new(store.clone());
        let e = auth.login(None, "ann@example.com", PASSWORD, &audit).await;
        assert!(matches!(e, Err(AdminError::EnrollmentOverdue)), "{e:?}");
        assert!(lock(&store.sessions).is_empty());
        assert_eq!(
            lock(&store.audits).last().map(String::as_str),
            Some("admin.login_blocked")
        );
    }

    #[tokio::test]
    async fn logins_beyond_the_limit_wait_and_a_pending_token_must_look_like_one() {
        let store = fake(now_millis() + 60_000, 1);
        let auth = AdminAuth::new(store.clone());
        let e = auth
            .login(Some("192.0.2.1"), "ann@example.com", PASSWORD, &audit)
            .await;
        assert!(
            matches!(e, Err(AdminError::Throttled(s)) if (1..=20).contains(&s)),
            "{e:?}"
        );
        assert!(matches!(
            auth.pending("vas_not_pending").await,
            Err(AdminError::PendingExpired)
        ));
        assert!(matches!(
            auth.pending("tmp_sess_unknown").await,
            Err(AdminError::PendingExpired)
        ));
    }

    #[test]
    fn passwords_have_a_length_rule_and_verify_only_themselves() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
        assert!(check_new_password("twelve chars").is_ok());
        let phc = hash_password("correct horse battery").expect("hash");
        assert!(verify_password(&phc, "correct horse battery"));
        assert!(!verify_password(&phc, "correct horse batterY"));
        assert!(!verify_password("not a phc", "x"));
        assert!(!verify_password(dummy_hash(), ""));
    }
}
